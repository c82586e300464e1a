//! Output tables as bytes: CSV and JSON renderings of what the run produced. Pure.

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::suggest::AuditRow;

fn csv_err(e: impl std::fmt::Display) -> Error {
    Error::Output {
        location: "csv".into(),
        problem: e.to_string(),
        fix: "report this as a bug".into(),
    }
}

/// The rows of the `descriptions` view (`sql/03_descriptions.sql`), in their order.
pub fn audit_rows(batches: &[RecordBatch]) -> Result<Vec<AuditRow>> {
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
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "description_raw",
        "raw_is_null",
        "description_clean",
        "description_canonical",
        "rule",
        "event_count",
        "high_volume_unmatched",
    ])
    .map_err(csv_err)?;
    for (r, high) in rows.iter().zip(high) {
        w.write_record([
            r.raw.clone().unwrap_or_default(),
            r.raw.is_none().to_string(),
            r.clean.clone().unwrap_or_default(),
            r.canonical.clone(),
            r.rule.clone(),
            r.events.to_string(),
            high.to_string(),
        ])
        .map_err(csv_err)?;
    }
    w.into_inner().map_err(csv_err)
}

fn to_bytes(rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).map_err(csv_err)?;
    }
    w.into_inner().map_err(csv_err)
}

/// One CSV record (with its line end) as bytes.
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> Result<Vec<u8>> {
    to_bytes(vec![
        fields.iter().map(|f| f.as_ref().to_string()).collect(),
    ])
}

/// A timestamp as ISO-8601 UTC with microseconds only when present.
pub fn iso_ts(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) if us % 1_000_000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => us.to_string(),
    }
}

/// The outreach file name, after the notebook's:
/// `outreach_threshold_precision40_nocap.csv`, `outreach_threshold_precision35_cap2000.csv`.
pub fn outreach_file_name(target_precision: f64, cap: Option<usize>) -> String {
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
pub struct OutreachRow {
    pub rank: usize,
    pub member_id: String,
    pub interaction_id: String,
    pub interaction_ts_us: i64,
    pub score: f64,
    /// The features that pushed the score up most, with their contribution.
    pub reasons: Vec<(String, f64)>,
}

/// Outreach / top-K CSV: rank, member, interaction, time, calibrated score, and up
/// to three reasons (empty when fewer features pushed the score up).
pub fn outreach_csv(rows: &[OutreachRow]) -> Result<Vec<u8>> {
    let mut out = vec![
        [
            "rank",
            "member_id",
            "interaction_id",
            "interaction_ts",
            "score",
            "reason_1",
            "reason_2",
            "reason_3",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows {
        let mut rec = vec![
            r.rank.to_string(),
            r.member_id.clone(),
            r.interaction_id.clone(),
            iso_ts(r.interaction_ts_us),
            r.score.to_string(),
        ];
        for k in 0..3 {
            rec.push(r.reasons.get(k).map(|(n, _)| n.clone()).unwrap_or_default());
        }
        out.push(rec);
    }
    to_bytes(out)
}

/// `pr_curve_points.csv`: threshold, precision, recall; the closing point
/// (precision 1, recall 0) has no threshold, as in scikit-learn.
pub fn pr_curve_csv(curve: Option<&crate::threshold::PrCurve>) -> Result<Vec<u8>> {
    let mut out = vec![vec![
        "threshold".into(),
        "precision".into(),
        "recall".into(),
    ]];
    if let Some(c) = curve {
        for i in 0..c.precision.len() {
            out.push(vec![
                c.thresholds
                    .get(i)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                c.precision[i].to_string(),
                c.recall[i].to_string(),
            ]);
        }
    }
    to_bytes(out)
}

/// `pydesc_to_safe_col_map.csv`: canonical description -> flag column.
pub fn safe_col_map_csv(mapping: &[(String, String, usize)]) -> Result<Vec<u8>> {
    let mut out = vec![
        ["canonical_description", "safe_column", "train_interactions"]
            .map(String::from)
            .to_vec(),
    ];
    for (c, n, k) in mapping {
        out.push(vec![c.clone(), n.clone(), k.to_string()]);
    }
    to_bytes(out)
}

/// `coefficients.csv`: feature, coefficient (per standard deviation), odds ratio;
/// the intercept row carries the prior-corrected intercept.
pub fn coefficients_csv(
    names: &[String],
    coef: &[f64],
    corrected_intercept: f64,
) -> Result<Vec<u8>> {
    let mut out = vec![
        ["feature", "coefficient", "odds_ratio"]
            .map(String::from)
            .to_vec(),
    ];
    out.push(vec![
        "(intercept)".into(),
        corrected_intercept.to_string(),
        corrected_intercept.exp().to_string(),
    ]);
    for (n, b) in names.iter().zip(coef) {
        out.push(vec![n.clone(), b.to_string(), b.exp().to_string()]);
    }
    to_bytes(out)
}

/// `calibration.csv`: the test window's reliability table (score deciles).
pub fn calibration_csv(bins: &[crate::threshold::CalibrationBin]) -> Result<Vec<u8>> {
    let mut out = vec![
        [
            "bin",
            "rows",
            "min_score",
            "max_score",
            "mean_score",
            "observed_rate",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for b in bins {
        out.push(vec![
            b.bin.to_string(),
            b.rows.to_string(),
            b.min_score.to_string(),
            b.max_score.to_string(),
            b.mean_score.to_string(),
            b.observed_rate.to_string(),
        ]);
    }
    to_bytes(out)
}

/// One row of `test_scores.csv`.
pub struct ScoreRow<'a> {
    pub interaction_id: &'a str,
    pub member_id: &'a str,
    pub interaction_ts_us: i64,
    pub label: u8,
    pub score: f64,
}

/// `test_scores.csv`: interaction_id, member_id, interaction_ts, label, score.
pub fn test_scores_csv<'a>(rows: impl Iterator<Item = ScoreRow<'a>>) -> Result<Vec<u8>> {
    let mut out = vec![
        [
            "interaction_id",
            "member_id",
            "interaction_ts",
            "label",
            "score",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows {
        out.push(vec![
            r.interaction_id.to_string(),
            r.member_id.to_string(),
            iso_ts(r.interaction_ts_us),
            r.label.to_string(),
            r.score.to_string(),
        ]);
    }
    to_bytes(out)
}

/// Columns of `outreach_runs_log.csv`, one row per run.
pub const RUNS_LOG_COLUMNS: &[&str] = &[
    "run_id",
    "finished_at",
    "status",
    "source",
    "split_boundary",
    "target_neg_pos_member_ratio",
    "target_precision",
    "threshold_cap",
    "seed",
    "first_event",
    "last_event",
    "train_rows",
    "train_positives",
    "test_rows",
    "test_positives",
    "best_c",
    "cv_average_precision",
    "threshold",
    "effective_cutoff",
    "outreach_rows",
    "test_precision",
    "test_recall",
    "test_average_precision",
    "mean_test_score",
    "note",
    "class_weight",
    "confidence",
    "threshold_precision_lower",
    "test_precision_lower",
    "test_precision_upper",
    "test_recall_lower",
    "test_recall_upper",
    "floor_held",
    "calibration_error",
    "duplicate_events",
    "duplicate_policy",
];

/// Rows written by an older rarecall have fewer columns (new ones are only ever
/// appended at the end): pad each record with empty fields up to `n_columns`, so
/// the rebuilt log stays rectangular and no old row is lost. Ends with a newline.
pub fn pad_rows(bytes: &[u8], n_columns: usize) -> Result<Vec<u8>> {
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

/// Columns of `outreach_scoring_log.csv`, one row per `score` run.
pub const SCORING_LOG_COLUMNS: &[&str] = &[
    "run_id",
    "finished_at",
    "model_run_id",
    "window_start",
    "window_end",
    "mode",
    "interactions_scored",
    "rows_selected",
    "threshold",
    "top",
    "outreach_file",
];

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
}
