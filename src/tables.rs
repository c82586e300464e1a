//! Output tables as bytes: CSV and JSON renderings of what the run produced. Pure.

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use arrow::record_batch::RecordBatch;
use serde::{Serialize, Serializer};

use crate::csv_rows::{self, display, opt_display};
use crate::error::{Error, Result};
use crate::suggest::AuditRow;

fn csv_err(e: impl std::fmt::Display) -> Error {
    Error::Output {
        location: "csv".into(),
        problem: e.to_string(),
        fix: "report this as a bug".into(),
    }
}

/// The rows of the `descriptions` view (`sql/02_descriptions.sql`), in their order.
pub(crate) fn audit_rows(batches: &[RecordBatch]) -> Result<Vec<AuditRow>> {
    let mut out = Vec::new();
    for b in batches {
        let text = |name: &str| -> Result<arrow::array::ArrayRef> {
            let col = b.column_by_name(name).ok_or_else(|| Error::Arrow {
                stage: "normalization audit".into(),
                expected: format!("column {name}"),
                found: "missing".into(),
            })?;
            cast(col, &DataType::Utf8).map_err(csv_err)
        };
        let raw = text("description_raw")?;
        let clean = text("description_clean")?;
        let canon = text("description_canonical")?;
        let rule = text("rule_name")?;
        let count = cast(
            b.column_by_name("event_count")
                .ok_or_else(|| csv_err("event_count missing"))?,
            &DataType::Int64,
        )
        .map_err(csv_err)?;
        let (raw, clean, canon, rule) = (
            raw.as_string::<i32>(),
            clean.as_string::<i32>(),
            canon.as_string::<i32>(),
            rule.as_string::<i32>(),
        );
        let count = count.as_primitive::<Int64Type>();
        let opt = |a: &arrow::array::StringArray, i: usize| {
            (!a.is_null(i)).then(|| a.value(i).to_string())
        };
        for i in 0..b.num_rows() {
            out.push(AuditRow {
                raw: opt(raw, i),
                clean: opt(clean, i),
                canonical: opt(canon, i).unwrap_or_default(),
                rule: opt(rule, i).unwrap_or_default(),
                events: count.value(i),
            });
        }
    }
    Ok(out)
}

/// `pydescription_normalization_audit.csv`: every distinct raw value, its cleaned and
/// canonical value, the rule that fired, its event count, and whether it is an
/// unmatched variant with enough events to deserve a rule
/// ([`crate::suggest::high_volume_unmatched`]; appended last so the earlier columns
/// keep their positions). A null raw value is an empty field with
/// `raw_is_null = true` (an empty string has `false`).
pub fn audit_csv(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let rows = audit_rows(batches)?;
    let high = crate::suggest::high_volume_unmatched(&rows);
    csv_rows::table(rows.iter().zip(high).map(|(r, high)| AuditCsvRow {
        description_raw: r.raw.as_deref(),
        raw_is_null: r.raw.is_none(),
        description_clean: r.clean.as_deref(),
        description_canonical: &r.canonical,
        rule: &r.rule,
        event_count: r.events,
        high_volume_unmatched: high,
    }))
}

/// One row of `pydescription_normalization_audit.csv`.
#[derive(Serialize, Default)]
struct AuditCsvRow<'a> {
    description_raw: Option<&'a str>,
    raw_is_null: bool,
    description_clean: Option<&'a str>,
    description_canonical: &'a str,
    rule: &'a str,
    event_count: i64,
    high_volume_unmatched: bool,
}

/// One CSV record (with its line end) as bytes.
pub(crate) fn csv_line<S: AsRef<str>>(fields: &[S]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields.iter().map(AsRef::as_ref))
        .map_err(csv_err)?;
    w.into_inner().map_err(csv_err)
}

/// A timestamp as ISO-8601 UTC with microseconds only when present.
fn iso_ts(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) if us % 1_000_000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => us.to_string(),
    }
}

/// A microsecond timestamp cell written as [`iso_ts`] (`serialize_with`).
fn iso_ts_cell<S: Serializer>(us: &i64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&iso_ts(*us))
}

/// The outreach file name, after the notebook's:
/// `outreach_threshold_precision40_nocap.csv`, `outreach_threshold_precision35_cap2000.csv`.
pub(crate) fn outreach_file_name(target_precision: f64, cap: Option<usize>) -> String {
    let pct = target_precision * 100.0;
    let pct = if (pct - pct.round()).abs() < 1e-9 {
        format!("{}", pct.round() as i64)
    } else {
        format!("{pct:.2}").trim_end_matches('0').replace('.', "p")
    };
    let cap = match cap {
        Some(n) => format!("cap{n}"),
        None => "nocap".into(),
    };
    format!("outreach_threshold_precision{pct}_{cap}.csv")
}

/// One row of the outreach and top-K files.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutreachRow {
    pub(crate) rank: usize,
    pub(crate) member_id: String,
    pub(crate) interaction_id: String,
    pub(crate) interaction_ts_us: i64,
    pub(crate) score: f64,
    /// The features that pushed the score up most, with their contribution.
    pub(crate) reasons: Vec<(String, f64)>,
}

/// Outreach / top-K CSV: rank, member, interaction, time, calibrated score, and up
/// to three reasons (empty when fewer features pushed the score up).
pub(crate) fn outreach_csv(rows: &[OutreachRow]) -> Result<Vec<u8>> {
    csv_rows::table(rows.iter().map(|r| {
        let reason = |k: usize| r.reasons.get(k).map(|(n, _)| n.as_str());
        OutreachCsvRow {
            rank: r.rank,
            member_id: &r.member_id,
            interaction_id: &r.interaction_id,
            interaction_ts: r.interaction_ts_us,
            score: r.score,
            reason_1: reason(0),
            reason_2: reason(1),
            reason_3: reason(2),
        }
    }))
}

/// One row of the outreach and top-K files.
#[derive(Serialize, Default)]
struct OutreachCsvRow<'a> {
    rank: usize,
    member_id: &'a str,
    interaction_id: &'a str,
    #[serde(serialize_with = "iso_ts_cell")]
    interaction_ts: i64,
    #[serde(serialize_with = "display")]
    score: f64,
    reason_1: Option<&'a str>,
    reason_2: Option<&'a str>,
    reason_3: Option<&'a str>,
}

/// `pr_curve_points.csv`: threshold, precision, recall; the closing point
/// (precision 1, recall 0) has no threshold, as in scikit-learn.
pub(crate) fn pr_curve_csv(curve: Option<&crate::threshold::PrCurve>) -> Result<Vec<u8>> {
    csv_rows::table(curve.into_iter().flat_map(|c| {
        (0..c.precision.len()).map(|i| PrCurveRow {
            threshold: c.thresholds.get(i).copied(),
            precision: c.precision[i],
            recall: c.recall[i],
        })
    }))
}

/// One row of `pr_curve_points.csv`.
#[derive(Serialize, Default)]
struct PrCurveRow {
    #[serde(serialize_with = "opt_display")]
    threshold: Option<f64>,
    #[serde(serialize_with = "display")]
    precision: f64,
    #[serde(serialize_with = "display")]
    recall: f64,
}

/// `pydesc_to_safe_col_map.csv`: canonical description -> flag column.
pub(crate) fn safe_col_map_csv(mapping: &[(String, String, usize)]) -> Result<Vec<u8>> {
    csv_rows::table(mapping.iter().map(|(c, n, k)| SafeColRow {
        canonical_description: c,
        safe_column: n,
        train_interactions: *k,
    }))
}

/// One row of `pydesc_to_safe_col_map.csv`.
#[derive(Serialize, Default)]
struct SafeColRow<'a> {
    canonical_description: &'a str,
    safe_column: &'a str,
    train_interactions: usize,
}

/// `coefficients.csv`: feature, coefficient (per standard deviation), odds ratio;
/// the intercept row carries the prior-corrected intercept.
pub(crate) fn coefficients_csv(
    names: &[String],
    coef: &[f64],
    corrected_intercept: f64,
) -> Result<Vec<u8>> {
    fn row(feature: &str, b: f64) -> CoefficientRow<'_> {
        CoefficientRow {
            feature,
            coefficient: b,
            odds_ratio: b.exp(),
        }
    }
    csv_rows::table(
        std::iter::once(row("(intercept)", corrected_intercept))
            .chain(names.iter().zip(coef).map(|(n, &b)| row(n, b))),
    )
}

/// One row of `coefficients.csv`.
#[derive(Serialize, Default)]
struct CoefficientRow<'a> {
    feature: &'a str,
    #[serde(serialize_with = "display")]
    coefficient: f64,
    #[serde(serialize_with = "display")]
    odds_ratio: f64,
}

/// `calibration.csv`: the test window's reliability table (score deciles).
pub(crate) fn calibration_csv(bins: &[crate::threshold::CalibrationBin]) -> Result<Vec<u8>> {
    csv_rows::table(bins.iter().map(|b| CalibrationRow {
        bin: b.bin,
        rows: b.rows,
        min_score: b.min_score,
        max_score: b.max_score,
        mean_score: b.mean_score,
        observed_rate: b.observed_rate,
    }))
}

/// `model_comparison.csv`: one row per model (the primary model, then the
/// challenger), measured on the same test rows, each at its own threshold.
pub(crate) fn model_comparison_csv(rows: &[crate::challenger::Comparison]) -> Result<Vec<u8>> {
    csv_rows::table(rows.iter().map(|c| ModelComparisonRow {
        model: c.model,
        test_average_precision: c.average_precision,
        threshold: c.threshold,
        selected: c.selected,
        precision: c.precision,
        precision_lower: c.precision_interval.map(|i| i.lower),
        precision_upper: c.precision_interval.map(|i| i.upper),
        recall: c.recall,
        recall_lower: c.recall_interval.map(|i| i.lower),
        recall_upper: c.recall_interval.map(|i| i.upper),
        interval_level: c.precision_interval.or(c.recall_interval).map(|i| i.level),
        mean_predicted_over_base_rate: c.mean_predicted_over_base_rate,
        brier: c.brier,
        fit_seconds: c.fit_seconds,
        model_size_bytes: c.model_size_bytes,
        validation_average_precision: c.validation_average_precision,
        rounds: c.rounds,
        role: c.role,
    }))
}

/// One row of `model_comparison.csv`.
#[derive(Serialize, Default)]
struct ModelComparisonRow {
    model: &'static str,
    #[serde(serialize_with = "opt_display")]
    test_average_precision: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    threshold: Option<f64>,
    selected: usize,
    #[serde(serialize_with = "opt_display")]
    precision: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    precision_lower: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    precision_upper: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    recall: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    recall_lower: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    recall_upper: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    interval_level: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    mean_predicted_over_base_rate: Option<f64>,
    #[serde(serialize_with = "display")]
    brier: f64,
    #[serde(serialize_with = "display")]
    fit_seconds: f64,
    model_size_bytes: usize,
    #[serde(serialize_with = "display")]
    validation_average_precision: f64,
    rounds: Option<usize>,
    /// primary (its scores are published) or challenger.
    role: &'static str,
}

/// One row of `calibration.csv`.
#[derive(Serialize, Default)]
struct CalibrationRow {
    bin: usize,
    rows: usize,
    #[serde(serialize_with = "display")]
    min_score: f64,
    #[serde(serialize_with = "display")]
    max_score: f64,
    #[serde(serialize_with = "display")]
    mean_score: f64,
    #[serde(serialize_with = "display")]
    observed_rate: f64,
}

/// One row of `test_scores.csv` (and of `score --all-scores`' `window_scores.csv`).
#[derive(Serialize, Default)]
pub(crate) struct ScoreRow<'a> {
    pub(crate) interaction_id: &'a str,
    pub(crate) member_id: &'a str,
    #[serde(rename = "interaction_ts", serialize_with = "iso_ts_cell")]
    pub(crate) interaction_ts_us: i64,
    pub(crate) label: u8,
    #[serde(serialize_with = "display")]
    pub(crate) score: f64,
}

/// `test_scores.csv`: interaction_id, member_id, interaction_ts, label, score.
pub(crate) fn test_scores_csv<'a>(rows: impl Iterator<Item = ScoreRow<'a>>) -> Result<Vec<u8>> {
    csv_rows::table(rows)
}

/// One row of `outreach_runs_log.csv`: its columns, in order. The log is appended
/// to across versions, so fields are only ever added at the end ([`pad_rows`] pads
/// the rows of older versions), never renamed or reordered (the unit test
/// `runs_log_columns_are_unchanged` holds the header).
#[derive(Serialize, Default)]
pub(crate) struct RunsLogRow {
    pub(crate) run_id: String,
    pub(crate) finished_at: String,
    pub(crate) status: &'static str,
    pub(crate) source: String,
    #[serde(serialize_with = "display")]
    pub(crate) split_boundary: chrono::NaiveDate,
    #[serde(serialize_with = "display")]
    pub(crate) target_neg_pos_member_ratio: f64,
    #[serde(serialize_with = "display")]
    pub(crate) target_precision: f64,
    pub(crate) threshold_cap: Option<usize>,
    pub(crate) seed: i64,
    pub(crate) first_event: String,
    pub(crate) last_event: String,
    pub(crate) train_rows: usize,
    pub(crate) train_positives: usize,
    pub(crate) test_rows: usize,
    pub(crate) test_positives: usize,
    #[serde(serialize_with = "display")]
    pub(crate) best_c: f64,
    #[serde(serialize_with = "opt_display")]
    pub(crate) cv_average_precision: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    pub(crate) threshold: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    pub(crate) effective_cutoff: Option<f64>,
    pub(crate) outreach_rows: usize,
    #[serde(serialize_with = "opt_display")]
    pub(crate) test_precision: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    pub(crate) test_recall: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    pub(crate) test_average_precision: Option<f64>,
    #[serde(serialize_with = "display")]
    pub(crate) mean_test_score: f64,
    pub(crate) note: String,
    pub(crate) class_weight: String,
    #[serde(serialize_with = "display")]
    pub(crate) confidence: f64,
    #[serde(serialize_with = "opt_display")]
    pub(crate) threshold_precision_lower: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    pub(crate) test_precision_lower: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    pub(crate) test_precision_upper: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    pub(crate) test_recall_lower: Option<f64>,
    #[serde(serialize_with = "opt_display")]
    pub(crate) test_recall_upper: Option<f64>,
    pub(crate) floor_held: Option<bool>,
    #[serde(serialize_with = "display")]
    pub(crate) calibration_error: f64,
    pub(crate) duplicate_events: i64,
    pub(crate) duplicate_policy: String,
}

/// Rows written by an older rarecall have fewer columns (new ones are only ever
/// appended at the end): pad each record with empty fields up to `n_columns`, so
/// the rebuilt log stays rectangular and no old row is lost. Ends with a newline.
pub(crate) fn pad_rows(bytes: &[u8], n_columns: usize) -> Result<Vec<u8>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::with_capacity(bytes.len() + 16);
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::Output {
            location: "runs log row".into(),
            problem: format!("a row of the log cannot be read ({e})"),
            fix: "remove the damaged file from the log's .rows folder".into(),
        })?;
        let mut fields: Vec<String> = rec.iter().map(str::to_string).collect();
        while fields.len() < n_columns {
            fields.push(String::new());
        }
        out.extend_from_slice(&csv_line(&fields)?);
    }
    Ok(out)
}

/// One row of `outreach_scoring_log.csv` (one per `score` run): its columns, in
/// order; like [`RunsLogRow`], only ever extended at the end.
#[derive(Serialize, Default)]
pub(crate) struct ScoringLogRow {
    pub(crate) run_id: String,
    pub(crate) finished_at: String,
    pub(crate) model_run_id: String,
    #[serde(serialize_with = "display")]
    pub(crate) window_start: chrono::NaiveDate,
    #[serde(serialize_with = "display")]
    pub(crate) window_end: chrono::NaiveDate,
    pub(crate) mode: &'static str,
    pub(crate) interactions_scored: Option<usize>,
    pub(crate) rows_selected: usize,
    #[serde(serialize_with = "opt_display")]
    pub(crate) threshold: Option<f64>,
    pub(crate) top: Option<usize>,
    pub(crate) outreach_file: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outreach_names_follow_floor_and_cap() {
        assert_eq!(
            outreach_file_name(0.40, None),
            "outreach_threshold_precision40_nocap.csv"
        );
        assert_eq!(
            outreach_file_name(0.35, Some(2000)),
            "outreach_threshold_precision35_cap2000.csv"
        );
        assert_eq!(
            outreach_file_name(0.375, None),
            "outreach_threshold_precision37p5_nocap.csv"
        );
    }

    #[test]
    fn pr_curve_final_point_has_no_threshold() {
        let c = crate::threshold::PrCurve {
            precision: vec![0.5, 1.0],
            recall: vec![1.0, 0.0],
            thresholds: vec![0.3],
        };
        let s = String::from_utf8(pr_curve_csv(Some(&c)).unwrap()).unwrap();
        assert_eq!(s, "threshold,precision,recall\n0.3,0.5,1\n,1,0\n");
    }

    /// Bytes the writers produced before their rows were types (commit 9b0a755),
    /// for the inputs of `tricky_*` below: tests/data/csv_rows/.
    macro_rules! before {
        ($name:literal) => {
            include_str!(concat!("../tests/data/csv_rows/", $name))
        };
    }

    /// Floats whose `Display` differs from csv's own (ryu) cells, and non-finite ones.
    const F: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        0.30000000000000004,
        1e-7,
        1.5e-12,
        1e20,
        1.2345678901234568e21,
        2.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        123456.789,
    ];
    /// Text that needs quoting, or looks as if it might.
    const S: &[&str] = &[
        "plain",
        "a,b",
        "say \"hi\"",
        "line\nbreak",
        "",
        " lead",
        "ünï",
    ];
    /// Whole seconds, microseconds, before the epoch, out of chrono's range.
    const TS: &[i64] = &[
        0,
        1_700_000_000_123_456,
        1_700_000_000_000_000,
        -1,
        i64::MAX,
    ];

    fn text(bytes: Result<Vec<u8>>) -> String {
        String::from_utf8(bytes.unwrap()).unwrap()
    }

    #[test]
    fn audit_bytes_are_unchanged() {
        use arrow::array::{Int64Array, StringArray};
        use arrow::datatypes::{Field, Schema};
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![
            Field::new("description_raw", DataType::Utf8, true),
            Field::new("description_clean", DataType::Utf8, true),
            Field::new("description_canonical", DataType::Utf8, true),
            Field::new("rule_name", DataType::Utf8, true),
            Field::new("event_count", DataType::Int64, false),
        ]));
        let strings = |v: [Option<&str>; 5]| Arc::new(StringArray::from(v.to_vec()));
        let b = RecordBatch::try_new(
            schema,
            vec![
                strings([Some("A,b"), None, Some(""), Some("say \"hi\"\n"), Some("x")]),
                strings([Some("a,b"), None, None, Some("say \"hi\""), Some("x")]),
                strings([Some("ab"), Some("missing"), None, Some("say hi"), Some("x")]),
                strings([
                    Some("r1"),
                    Some("(missing)"),
                    Some("(missing)"),
                    Some("(unmatched)"),
                    None,
                ]),
                Arc::new(Int64Array::from(vec![3, 0, -1, 1_000_000, 7_000_000_000])),
            ],
        )
        .unwrap();
        assert_eq!(text(audit_csv(&[b])), before!("audit.csv"));
        assert_eq!(text(audit_csv(&[])), before!("audit_empty.csv"));
    }

    #[test]
    fn outreach_bytes_are_unchanged() {
        let rows: Vec<OutreachRow> = F
            .iter()
            .enumerate()
            .map(|(i, &f)| OutreachRow {
                rank: i + 1,
                member_id: S[i % S.len()].to_string(),
                interaction_id: S[(i + 3) % S.len()].to_string(),
                interaction_ts_us: TS[i % TS.len()],
                score: f,
                reasons: (0..(i % 5))
                    .map(|k| (S[(i + k) % S.len()].to_string(), f))
                    .collect(),
            })
            .collect();
        assert_eq!(text(outreach_csv(&rows)), before!("outreach.csv"));
        assert_eq!(text(outreach_csv(&[])), before!("outreach_empty.csv"));
    }

    #[test]
    fn pr_curve_bytes_are_unchanged() {
        let c = crate::threshold::PrCurve {
            precision: F.to_vec(),
            recall: F.iter().rev().copied().collect(),
            thresholds: F[..F.len() - 1].to_vec(),
        };
        assert_eq!(text(pr_curve_csv(Some(&c))), before!("pr.csv"));
        assert_eq!(text(pr_curve_csv(None)), before!("pr_none.csv"));
    }

    #[test]
    fn safe_col_map_bytes_are_unchanged() {
        let m: Vec<(String, String, usize)> = S
            .iter()
            .enumerate()
            .map(|(i, s)| (s.to_string(), format!("pydesc_{i}"), i * 1000))
            .collect();
        assert_eq!(text(safe_col_map_csv(&m)), before!("safe.csv"));
        assert_eq!(text(safe_col_map_csv(&[])), before!("safe_empty.csv"));
    }

    #[test]
    fn coefficients_bytes_are_unchanged() {
        let names: Vec<String> = (0..F.len()).map(|i| S[i % S.len()].to_string()).collect();
        assert_eq!(text(coefficients_csv(&names, F, 1e-7)), before!("coef.csv"));
        assert_eq!(
            text(coefficients_csv(&[], &[], f64::NAN)),
            before!("coef_nan.csv")
        );
    }

    #[test]
    fn calibration_bytes_are_unchanged() {
        let bins: Vec<crate::threshold::CalibrationBin> = (0..F.len())
            .map(|i| crate::threshold::CalibrationBin {
                bin: i + 1,
                rows: i * 7,
                min_score: F[i],
                max_score: F[(i + 1) % F.len()],
                mean_score: F[(i + 2) % F.len()],
                observed_rate: F[(i + 3) % F.len()],
            })
            .collect();
        assert_eq!(text(calibration_csv(&bins)), before!("calib.csv"));
        assert_eq!(text(calibration_csv(&[])), before!("calib_empty.csv"));
    }

    #[test]
    fn test_scores_bytes_are_unchanged() {
        let rows = F.iter().enumerate().map(|(i, &f)| ScoreRow {
            interaction_id: S[i % S.len()],
            member_id: S[(i + 1) % S.len()],
            interaction_ts_us: TS[i % TS.len()],
            label: if i == 4 { 255 } else { (i % 2) as u8 },
            score: f,
        });
        assert_eq!(text(test_scores_csv(rows)), before!("scores.csv"));
        assert_eq!(
            text(test_scores_csv(std::iter::empty())),
            before!("scores_empty.csv")
        );
    }

    /// The runs log is appended to across versions: its header may only grow at the end.
    #[test]
    fn runs_log_columns_are_unchanged() {
        let header = csv_line(&csv_rows::columns::<RunsLogRow>().unwrap()).unwrap();
        assert_eq!(text(Ok(header)), before!("runs_header.csv"));
        let header = csv_line(&csv_rows::columns::<ScoringLogRow>().unwrap()).unwrap();
        assert_eq!(text(Ok(header)), before!("scoring_header.csv"));
    }

    /// Each log cell as the row builders wrote it before: `to_string()` of the value,
    /// an empty cell for None.
    #[test]
    fn log_cells_are_to_string_of_their_values() {
        let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        for (i, &f) in F.iter().enumerate() {
            let g = F[(i + 1) % F.len()];
            let some = (i % 2 == 0).then_some(g);
            let date = chrono::NaiveDate::from_ymd_opt(2024, 10, 1).unwrap();
            let row = RunsLogRow {
                run_id: S[i % S.len()].into(),
                finished_at: "2024-10-02T03:04:05Z".into(),
                status: "no_threshold",
                source: S[(i + 1) % S.len()].into(),
                split_boundary: date,
                target_neg_pos_member_ratio: f,
                target_precision: g,
                threshold_cap: (i % 3 == 0).then_some(i * 100),
                seed: -(i as i64),
                first_event: "2024-01-01 00:00:00".into(),
                last_event: S[(i + 2) % S.len()].into(),
                train_rows: i,
                train_positives: i + 1,
                test_rows: i + 2,
                test_positives: i + 3,
                best_c: f,
                cv_average_precision: some,
                threshold: some,
                effective_cutoff: None,
                outreach_rows: 0,
                test_precision: Some(f),
                test_recall: some,
                test_average_precision: some,
                mean_test_score: g,
                note: S[(i + 3) % S.len()].into(),
                class_weight: "{\"positive\":5.0}".into(),
                confidence: f,
                threshold_precision_lower: some,
                test_precision_lower: Some(g),
                test_precision_upper: some,
                test_recall_lower: None,
                test_recall_upper: Some(f),
                floor_held: [None, Some(true), Some(false)][i % 3],
                calibration_error: f,
                duplicate_events: i as i64 * 1_000_000_007,
                duplicate_policy: "drop".into(),
            };
            let old = vec![
                row.run_id.clone(),
                row.finished_at.clone(),
                row.status.to_string(),
                row.source.clone(),
                date.to_string(),
                f.to_string(),
                g.to_string(),
                row.threshold_cap.map(|c| c.to_string()).unwrap_or_default(),
                row.seed.to_string(),
                row.first_event.clone(),
                row.last_event.clone(),
                i.to_string(),
                (i + 1).to_string(),
                (i + 2).to_string(),
                (i + 3).to_string(),
                f.to_string(),
                opt(some),
                opt(some),
                String::new(),
                "0".into(),
                f.to_string(),
                opt(some),
                opt(some),
                g.to_string(),
                row.note.clone(),
                row.class_weight.clone(),
                f.to_string(),
                opt(some),
                g.to_string(),
                opt(some),
                String::new(),
                f.to_string(),
                row.floor_held.map(|b| b.to_string()).unwrap_or_default(),
                f.to_string(),
                row.duplicate_events.to_string(),
                "drop".into(),
            ];
            assert_eq!(csv_rows::cells(&row).unwrap(), old);
            let bytes = csv_rows::table([row]).unwrap();
            let header = csv_line(&csv_rows::columns::<RunsLogRow>().unwrap()).unwrap();
            assert_eq!(bytes, [header, csv_line(&old).unwrap()].concat());

            let row = ScoringLogRow {
                run_id: S[i % S.len()].into(),
                finished_at: "2024-10-02T03:04:05Z".into(),
                model_run_id: S[(i + 1) % S.len()].into(),
                window_start: date,
                window_end: date.succ_opt().unwrap(),
                mode: ["rust", "in_spark"][i % 2],
                interactions_scored: (i % 2 == 0).then_some(i * 10),
                rows_selected: i,
                threshold: some,
                top: (i % 3 == 0).then_some(i),
                outreach_file: S[(i + 2) % S.len()].into(),
            };
            let old = vec![
                row.run_id.clone(),
                row.finished_at.clone(),
                row.model_run_id.clone(),
                "2024-10-01".into(),
                "2024-10-02".into(),
                row.mode.to_string(),
                row.interactions_scored
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                i.to_string(),
                opt(some),
                row.top.map(|n| n.to_string()).unwrap_or_default(),
                row.outreach_file.clone(),
            ];
            assert_eq!(csv_rows::cells(&row).unwrap(), old);
        }
    }
}
