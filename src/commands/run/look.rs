//! The part of `run` that people look at: drift (this test window against the
//! previous run's and against training; `drift.csv`, a warning, the reference bins
//! for `model.json`), `report.html`, `pr_curve.svg` / `.png` and
//! `pr_curve_points_sampled.csv`. It chooses what goes on the page; `report` draws
//! it, `drift` does the sums.

use serde_json::json;

use super::{RunReport, TestOutreach};
use crate::commands::common::{self, RUNS_LOG_FILE};
use crate::config::Settings;
use crate::curve_sample::{MAX_SAMPLED_POINTS, thin_by_arc_length};
use crate::drift::{self, DriftReference, DriftRow, Window};
use crate::error::Result;
use crate::outputs::Outputs;
use crate::pipeline;
use crate::report::{self, Block, Page, Section, num, pct, plots};
use crate::table::{FeatureTable, Split};
use crate::tables;
use crate::threshold::{self, ConfidenceValidParams, PrCurve};
use crate::train::{self, TrainedModel};

/// File names.
pub(super) const DRIFT_FILE: &str = "drift.csv";
const SAMPLED_CURVE_FILE: &str = "pr_curve_points_sampled.csv";

/// Drift of this run: the rows of `drift.csv` and this test window's bins.
pub(super) struct Drift {
    pub(super) rows: Vec<DriftRow>,
    /// This run's test window, for `model.json` (what the next run and `score`
    /// compare with).
    pub(super) reference: DriftReference,
    pub(super) previous_run: Option<String>,
    /// Why there is no comparison with a previous run, when there is none.
    pub(super) previous_note: Option<String>,
    pub(super) psi_warn: f64,
}

impl Drift {
    /// The `drift` section of `run_summary.json`.
    pub(super) fn summary(&self) -> serde_json::Value {
        let flagged: Vec<_> = drift::flagged(&self.rows)
            .iter()
            .map(|r| json!({"comparison": r.comparison, "column": r.column, "psi": r.psi}))
            .collect();
        json!({
            "psi_warn": self.psi_warn,
            "warning": !flagged.is_empty(),
            "flagged": flagged,
            "previous_run": self.previous_run,
            "previous_run_note": self.previous_note,
            "max_psi": self.rows.iter().map(|r| r.psi).fold(0.0, f64::max),
        })
    }
}

/// The run id of the last row of the runs log, if any.
fn last_logged_run(outputs: &Outputs) -> Result<Option<String>> {
    let Some(bytes) = outputs.get(RUNS_LOG_FILE)? else {
        return Ok(None);
    };
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let Ok(header) = r.headers().cloned() else {
        return Ok(None);
    };
    let Some(col) = header.iter().position(|h| h == "run_id") else {
        return Ok(None);
    };
    Ok(r.records()
        .filter_map(|rec| rec.ok())
        .filter_map(|rec| rec.get(col).map(String::from))
        .filter(|id| !id.is_empty())
        .last())
}

/// The previous run's test-window bins (from its `model.json`), or why there are none.
fn previous_reference(
    outputs: &Outputs,
) -> Result<(Option<String>, std::result::Result<DriftReference, String>)> {
    let Some(id) = last_logged_run(outputs)? else {
        return Ok((None, Err("no earlier run in the runs log".into())));
    };
    let path = format!("runs/{id}/model.json");
    let reference = match outputs.get(&path)? {
        None => Err(format!("{path} is missing")),
        Some(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("drift_reference").cloned())
            .and_then(|v| serde_json::from_value::<DriftReference>(v).ok())
            .ok_or_else(|| format!("{path} has no drift reference (written by an older rarecall)")),
    };
    Ok((Some(id), reference))
}

/// The training rows' drift reference before their scores: every feature's bins,
/// rows weighted back to the population. Taken from the table before its training
/// rows go ([`drift::with_score`] adds the score's bins once the model is fitted).
pub(super) fn training_features(f: &FeatureTable) -> DriftReference {
    let rows = f.rows_of(Split::Train);
    let weights: Vec<f64> = rows.iter().map(|&i| f.sample_weight[i]).collect();
    drift::features_reference(
        "training window (sampled rows weighted back)",
        &Window {
            table: f,
            rows: &rows,
            weights: &weights,
            scores: &[],
        },
    )
}

/// Drift of this run's test window against the previous run's test window and
/// against this run's training rows (weighted back to the population: `train_ref`,
/// from [`training_features`]), with one
/// warning line when a PSI exceeds `psi_warn`.
pub(super) fn drift(
    outputs: &Outputs,
    p: &Settings,
    run_id: &str,
    f: &FeatureTable,
    train_ref: &DriftReference,
    test: &train::TestReport,
) -> Result<Drift> {
    let warn = p.psi_warn;
    let test_w: Vec<f64> = test.rows.iter().map(|&i| f.sample_weight[i]).collect();
    let test_window = Window {
        table: f,
        rows: &test.rows,
        weights: &test_w,
        scores: &test.scores,
    };
    let reference = drift::reference(&format!("test window of run {run_id}"), &test_window);
    let mut rows = Vec::new();
    let (previous_run, previous) = previous_reference(outputs)?;
    let previous_note = match previous {
        Ok(r) => {
            let mut against = drift::compare("previous_run_test_vs_test", &r, &test_window, warn)?;
            // Another model scored the previous window: its scores differ by model
            // as well as by population (on two unshifted demo runs: PSI 2.8).
            drift::set_aside(
                &mut against,
                drift::SCORE,
                "scored by the previous run's model: the scores differ by model too",
            );
            rows.extend(against);
            None
        }
        Err(note) => Some(note),
    };
    rows.extend(drift::compare(
        "train_vs_test",
        train_ref,
        &test_window,
        warn,
    )?);
    common::warn_drift(&rows, warn);
    Ok(Drift {
        rows,
        reference,
        previous_run,
        previous_note,
        psi_warn: warn,
    })
}

/// `pr_curve_points.csv` thinned to at most [`MAX_SAMPLED_POINTS`] rows by
/// distance along the curve; the closing point (no threshold) is always kept.
/// Cutoffs the precision band is measured at, spread evenly over the sampled curve.
const BAND_POINTS: usize = 40;

/// The confidence band of the PR curve: at up to [`BAND_POINTS`] cutoffs of the
/// sampled curve, `(recall, lower, upper)` with the bounds of precision on the test
/// window from the member-level Poisson bootstrap that gives the operating point its
/// interval (`threshold::bootstrap_precision_recall`, same level, rounds and seed), so
/// the band and the point's box are the same measurement.
fn precision_band(i: &Inputs<'_>, curve: &PrCurve) -> Result<Vec<(f64, f64, f64)>> {
    let f = &i.got.features;
    let rows = &i.test.rows;
    let y: Vec<f64> = rows.iter().map(|&k| f64::from(f.label[k])).collect();
    let members: Vec<&str> = rows.iter().map(|&k| &f.member_id[k]).collect();
    let (groups, n_groups) = threshold::group_ids(&members);
    let weight = vec![1.0; y.len()];
    let n = curve.thresholds.len();
    let step = n.div_ceil(BAND_POINTS).max(1);
    let (cutoffs, recalls): (Vec<f64>, Vec<f64>) = curve
        .thresholds
        .iter()
        .zip(&curve.recall)
        .step_by(step)
        .map(|(t, r)| (*t, *r))
        .unzip();
    let precision = threshold::bootstrap_precision_at_cutoffs(
        &y,
        &i.test.scores,
        &weight,
        &cutoffs,
        &groups,
        n_groups,
        i.confidence,
        i.p.seed as u64,
    )?;
    Ok(recalls
        .into_iter()
        .zip(precision)
        .filter_map(|(r, p)| p.map(|p| (r, p.lower, p.upper)))
        .collect())
}

fn sampled_curve(c: &PrCurve) -> PrCurve {
    let kept = thin_by_arc_length(&c.recall, &c.precision, MAX_SAMPLED_POINTS);
    let last = c.precision.len().saturating_sub(1);
    PrCurve {
        precision: kept.iter().map(|&i| c.precision[i]).collect(),
        recall: kept.iter().map(|&i| c.recall[i]).collect(),
        thresholds: kept
            .iter()
            .filter(|&&i| i != last)
            .map(|&i| c.thresholds[i])
            .collect(),
    }
}

/// What the look files need from the run.
pub(super) struct Inputs<'a> {
    pub(super) p: &'a Settings,
    pub(super) run_id: &'a str,
    pub(super) got: &'a pipeline::SparkOutputs,
    pub(super) trained: &'a TrainedModel,
    pub(super) tr: &'a train::TrainReport,
    pub(super) test: &'a train::TestReport,
    pub(super) listed: &'a TestOutreach,
    pub(super) r: &'a RunReport,
    pub(super) timings: &'a [(String, f64)],
    pub(super) drift: &'a Drift,
    /// Calibrated coefficients (the population's logit scale).
    pub(super) coef: &'a [f64],
    /// The bootstrap behind the operating point's intervals, reused for the band.
    pub(super) confidence: &'a ConfidenceValidParams,
}

/// `report.html`, `pr_curve.svg`, `pr_curve.png`, `pr_curve_points_sampled.csv`,
/// `drift.csv`.
pub(super) fn files(i: &Inputs<'_>) -> Result<Vec<(String, Vec<u8>)>> {
    let sampled = i.test.curve.as_ref().map(sampled_curve);
    let op =
        i.r.test_recall
            .zip(i.r.test_precision)
            .map(|(recall, precision)| plots::OperatingPoint {
                recall,
                precision,
                recall_interval: i.r.test_recall_interval.map(|v| (v.lower, v.upper)),
                precision_interval: i.r.test_precision_interval.map(|v| (v.lower, v.upper)),
            });
    let (rec, prec) = sampled
        .as_ref()
        .map(|c| (c.recall.clone(), c.precision.clone()))
        .unwrap_or_default();
    let band = match sampled.as_ref() {
        Some(c) => precision_band(i, c)?,
        None => Vec::new(),
    };
    let pr_svg = plots::pr_curve(&rec, &prec, &band, op, i.p.threshold.target_precision)?;
    let pr_png = report::png::render(&pr_svg)?;
    let page = page(i, &pr_svg)?;
    Ok(vec![
        (report::REPORT_FILE.into(), report::html::render(&page)),
        ("pr_curve.svg".into(), pr_svg.into_bytes()),
        ("pr_curve.png".into(), pr_png),
        (
            SAMPLED_CURVE_FILE.into(),
            tables::pr_curve_csv(sampled.as_ref())?,
        ),
        (
            DRIFT_FILE.into(),
            crate::csv_rows::table(i.drift.rows.iter().cloned())?,
        ),
    ])
}

fn page(i: &Inputs<'_>, pr_svg: &str) -> Result<Page> {
    let (p, r, test, f) = (i.p, i.r, i.test, &i.got.features);
    let mut warnings: Vec<String> = drift::flagged(&i.drift.rows)
        .iter()
        .take(6)
        .map(|d| {
            format!(
                "Drift: {} has PSI {:.3} ({}), above {}.",
                d.column, d.psi, d.comparison, i.drift.psi_warn
            )
        })
        .collect();
    if r.threshold.threshold().is_none() {
        warnings.push(format!(
            "No cutoff reaches precision {} with {:.0} % confidence: the outreach list is empty.",
            p.threshold.target_precision,
            100.0 * p.threshold.confidence
        ));
    }
    let summary = Section {
        title: "Summary".into(),
        blocks: vec![Block::Facts(vec![
            (
                "operating point (threshold)".into(),
                num(r.threshold.threshold(), 6),
            ),
            (
                "precision floor".into(),
                format!("{}", p.threshold.target_precision),
            ),
            (
                format!(
                    "test precision [{:.0} % interval]",
                    100.0 * p.threshold.confidence
                ),
                pct(
                    r.test_precision,
                    r.test_precision_interval.map(|v| (v.lower, v.upper)),
                ),
            ),
            (
                format!(
                    "test recall [{:.0} % interval]",
                    100.0 * p.threshold.confidence
                ),
                pct(
                    r.test_recall,
                    r.test_recall_interval.map(|v| (v.lower, v.upper)),
                ),
            ),
            (
                "outreach list".into(),
                format!("{} rows ({})", r.outreach_rows, r.outreach_file),
            ),
            (
                "test average precision".into(),
                num(r.test_average_precision, 4),
            ),
            (
                "test window".into(),
                format!(
                    "{} interactions, {} positive",
                    r.test_rows, r.test_positives
                ),
            ),
            (
                "training (sampled)".into(),
                format!(
                    "{} interactions, {} positive",
                    r.train_rows, r.train_positives
                ),
            ),
            ("best C".into(), format!("{}", r.best_c)),
        ])],
    };
    let y_test: Vec<u8> = test.rows.iter().map(|&k| f.label[k]).collect();
    let (mut neg, mut pos) = (Vec::new(), Vec::new());
    for (s, y) in test.scores.iter().zip(&y_test) {
        if *y == 1 { pos.push(*s) } else { neg.push(*s) }
    }
    let cal = &test.calibration;
    let mut coefs: Vec<(String, f64)> = i
        .trained
        .encoder
        .feature_names
        .iter()
        .cloned()
        .zip(i.coef.iter().copied())
        .collect();
    coefs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    coefs.truncate(20);
    let mut series: Vec<plots::CvSeries> = Vec::new();
    for e in &i.tr.cv {
        let name = serde_json::to_value(e.class_weight)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .unwrap_or_default();
        let point = (e.score.c, e.score.mean_ap, e.score.std_ap);
        match series.iter_mut().find(|s| s.0 == name) {
            Some(s) => s.1.push(point),
            None => series.push((name, vec![point])),
        }
    }
    let mut sections = vec![
        summary,
        Section {
            title: "Precision and recall".into(),
            blocks: vec![
                Block::Svg(pr_svg.to_string()),
                Block::Text("The curve of the test window (thinned by distance along it, pr_curve_points_sampled.csv); the red point is the outreach list, its box the precision and recall intervals (member-level bootstrap).".into()),
            ],
        },
        Section {
            title: "Calibration".into(),
            blocks: vec![Block::Svg(plots::reliability(
                &cal.iter().map(|b| b.mean_score).collect::<Vec<_>>(),
                &cal.iter().map(|b| b.observed_rate).collect::<Vec<_>>(),
            )?), Block::Text(format!("Expected calibration error {:.4}; mean score {:.4} against a base rate of {:.4}.", r.calibration_error, r.mean_test_score, r.test_base_rate))],
        },
        Section {
            title: "Scores by label".into(),
            blocks: vec![Block::Svg(plots::score_histograms(
                "Test scores by label",
                &[("label 0".into(), &neg[..]), ("label 1".into(), &pos[..])],
                r.threshold.threshold(),
            )?)],
        },
        outreach_section(i.listed),
        Section {
            title: "Coefficients".into(),
            blocks: vec![
                Block::Svg(plots::bars("Largest coefficients (log-odds, calibrated)", "coefficient (odds ratio = exp)", &coefs)?),
                Block::Table {
                    header: ["feature", "coefficient", "odds ratio"].map(String::from).to_vec(),
                    rows: coefs.iter().map(|(n, c)| vec![n.clone(), format!("{c:.4}"), format!("{:.3}", c.exp())]).collect(),
                },
            ],
        },
        audit_section(&i.got.audit)?,
        Section {
            title: "Cross-validation by C".into(),
            blocks: vec![Block::Svg(plots::cv_by_c(&series)?)],
        },
        report::drift_section(&i.drift.rows, i.drift.psi_warn, i.drift.previous_note.as_deref()),
        Section {
            title: "Stage timings".into(),
            blocks: vec![Block::Svg(plots::bars(
                "Wall time by stage",
                "seconds",
                i.timings,
            )?)],
        },
    ];
    if !r.comparison.is_empty() {
        sections.push(Section {
            title: "Challenger comparison".into(),
            blocks: vec![Block::Table {
                header: [
                    "model",
                    "AP",
                    "threshold",
                    "rows",
                    "precision",
                    "recall",
                    "Brier",
                    "fit s",
                ]
                .map(String::from)
                .to_vec(),
                rows: r
                    .comparison
                    .iter()
                    .map(|c| {
                        vec![
                            c.model.to_string(),
                            num(c.average_precision, 4),
                            num(c.threshold, 6),
                            c.selected.to_string(),
                            pct(
                                c.precision,
                                c.precision_interval.map(|v| (v.lower, v.upper)),
                            ),
                            pct(c.recall, c.recall_interval.map(|v| (v.lower, v.upper))),
                            format!("{:.5}", c.brier),
                            format!("{:.2}", c.fit_seconds),
                        ]
                    })
                    .collect(),
            }],
        });
    }
    Ok(Page {
        title: format!("rarecall run {}", i.run_id),
        subtitle: format!(
            "source {} | split {} | events {} to {}",
            p.source.describe(),
            p.split_boundary,
            pipeline::fmt_us(i.got.checks.min_ts_us),
            pipeline::fmt_us(i.got.checks.max_ts_us)
        ),
        warnings,
        sections,
    })
}

/// Who is on the list and why: the first 25 rows with their reasons.
fn outreach_section(l: &TestOutreach) -> Section {
    Section {
        title: "Outreach list (test window)".into(),
        blocks: vec![
            Block::Text(format!(
                "{} rows; the first 25, with the features that pushed each score up most.",
                l.outreach.len()
            )),
            report::outreach_table(&l.outreach, 25),
        ],
    }
}

/// The description variants no rule matched, by event volume.
fn audit_section(audit: &[arrow::record_batch::RecordBatch]) -> Result<Section> {
    let mut rows = tables::audit_rows(audit)?;
    rows.retain(|a| a.is_unmatched());
    rows.sort_by_key(|a| std::cmp::Reverse(a.events));
    let total: i64 = rows.iter().map(|a| a.events).sum();
    Ok(Section {
        title: "Audit: unmatched descriptions".into(),
        blocks: vec![
            Block::Text(format!(
                "{} cleaned variants no rule matched, {total} events in all; the 20 largest (rarecall rules suggest proposes rules).",
                rows.len()
            )),
            Block::Table {
                header: ["description (cleaned)", "events"]
                    .map(String::from)
                    .to_vec(),
                rows: rows
                    .iter()
                    .take(20)
                    .map(|a| vec![a.clean.clone().unwrap_or_default(), a.events.to_string()])
                    .collect(),
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sampled_curve_keeps_its_shape_and_closing_point() {
        let n = 5_000;
        let thresholds: Vec<f64> = (0..n).map(|k| k as f64 / n as f64).collect();
        let recall: Vec<f64> = (0..=n).map(|k| 1.0 - k as f64 / n as f64).collect();
        let precision: Vec<f64> = (0..=n)
            .map(|k| 0.1 + 0.9 * (k as f64 / n as f64).powi(3))
            .collect();
        let c = PrCurve {
            precision,
            recall,
            thresholds,
        };
        let s = sampled_curve(&c);
        assert!(s.precision.len() <= MAX_SAMPLED_POINTS);
        assert_eq!(s.thresholds.len() + 1, s.precision.len());
        assert_eq!(*s.precision.last().unwrap(), 1.0);
        assert_eq!(s.thresholds[0], 0.0);
        // Each kept row is a row of the exact curve.
        for (k, t) in s.thresholds.iter().enumerate() {
            let j = c.thresholds.iter().position(|x| x == t).unwrap();
            assert_eq!((c.precision[j], c.recall[j]), (s.precision[k], s.recall[k]));
        }
    }
}
