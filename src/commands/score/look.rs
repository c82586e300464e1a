//! `score`'s shorter report (`score_report.html`) and its drift (`score_drift.csv`):
//! the scored window against the test window of the run that trained the model,
//! through the reference bins stored in `model.json`. Chooses what goes on the page;
//! `report` draws it, `drift` does the sums.

use crate::artifact::ModelFile;
use crate::commands::common;
use crate::drift::{self, DriftRow, Window};
use crate::error::Result;
use crate::report::{self, Block, Page, Section, num, plots};
use crate::score::ScoringWindow;
use crate::table::FeatureTable;
use crate::tables::OutreachRow;

/// File names (beside `run`'s, in the same folder, so not `report.html`).
pub(super) const SCORE_REPORT_FILE: &str = "score_report.html";
pub(super) const SCORE_DRIFT_FILE: &str = "score_drift.csv";

/// The window's drift against the model's test window, with the warning line; none
/// without scores in Rust (`--in-spark` brings back only the selected rows) or
/// without bins in the model. `Err` holds why there is none.
pub(super) fn drift(
    m: &ModelFile,
    scored: Option<(&FeatureTable, &[f64])>,
    psi_warn: f64,
) -> Result<std::result::Result<Vec<DriftRow>, String>> {
    let Some(reference) = &m.drift_reference else {
        return Ok(Err(
            "the model file has no reference bins (an older rarecall wrote it)".into(),
        ));
    };
    let Some((f, scores)) = scored else {
        return Ok(Err("--in-spark brings back only the selected rows".into()));
    };
    let rows: Vec<usize> = (0..f.len()).collect();
    let weights = vec![1.0; rows.len()];
    let w = Window {
        table: f,
        rows: &rows,
        weights: &weights,
        scores,
    };
    let out = drift::compare("model_test_vs_window", reference, &w, psi_warn)?;
    common::warn_drift(&out, psi_warn);
    Ok(Ok(out))
}

/// What the page shows.
pub(super) struct Inputs<'a> {
    pub(super) run_id: &'a str,
    pub(super) model: &'a ModelFile,
    pub(super) window: &'a ScoringWindow,
    pub(super) scores: Option<&'a [f64]>,
    pub(super) selected: &'a [OutreachRow],
    pub(super) drift: &'a std::result::Result<Vec<DriftRow>, String>,
    pub(super) psi_warn: f64,
    pub(super) timings: &'a [(String, f64)],
}

/// `score_report.html` and, when there is drift to show, `score_drift.csv`.
pub(super) fn files(i: &Inputs<'_>) -> Result<Vec<(String, Vec<u8>)>> {
    let threshold = i.model.trained.threshold.threshold();
    let mut warnings: Vec<String> = Vec::new();
    let mut sections = vec![Section {
        title: "Summary".into(),
        blocks: vec![Block::Facts(vec![
            ("model (run)".into(), i.model.run_id.clone()),
            (
                "window".into(),
                format!("{} to {} (end excluded)", i.window.start, i.window.end),
            ),
            ("operating point (threshold)".into(), num(threshold, 6)),
            (
                "interactions scored".into(),
                i.scores
                    .map_or_else(|| "- (scored in Spark)".into(), |s| s.len().to_string()),
            ),
            ("rows selected".into(), i.selected.len().to_string()),
        ])],
    }];
    if let Some(scores) = i.scores {
        sections.push(Section {
            title: "Scores".into(),
            blocks: vec![Block::Svg(plots::score_histograms(
                "Scores of the window",
                &[("window".into(), scores)],
                threshold,
            )?)],
        });
    }
    sections.push(Section {
        title: "Selected rows".into(),
        blocks: vec![report::outreach_table(i.selected, 25)],
    });
    let mut files = Vec::new();
    match i.drift {
        Ok(rows) => {
            warnings.extend(drift::flagged(rows).iter().take(6).map(|d| {
                format!(
                    "Drift: {} has PSI {:.3} against the model's test window, above {}.",
                    d.column, d.psi, i.psi_warn
                )
            }));
            sections.push(report::drift_section(rows, i.psi_warn, None));
            files.push((
                SCORE_DRIFT_FILE.to_string(),
                crate::csv_rows::table(rows.iter().cloned())?,
            ));
        }
        Err(why) => sections.push(Section {
            title: "Drift".into(),
            blocks: vec![Block::Text(format!("No drift comparison: {why}."))],
        }),
    }
    sections.push(Section {
        title: "Stage timings".into(),
        blocks: vec![Block::Table {
            header: ["stage", "seconds"].map(String::from).to_vec(),
            rows: i
                .timings
                .iter()
                .map(|(s, t)| vec![s.clone(), format!("{t:.2}")])
                .collect(),
        }],
    });
    let page = Page {
        title: format!("rarecall score {}", i.run_id),
        subtitle: format!("model of run {}", i.model.run_id),
        warnings,
        sections,
    };
    files.push((SCORE_REPORT_FILE.to_string(), report::html::render(&page)));
    Ok(files)
}
