//! What people look at: `report.html` (one self-contained page: inline SVG charts,
//! no script, no network), `pr_curve.svg` and `pr_curve.png` (the PNG rendered from
//! that same SVG). `html` assembles the page, `plots` draws the charts, `png`
//! rasterises with a bundled font. The commands decide what goes on the page; this
//! module only draws it. Pure.

pub(crate) mod html;
pub(crate) mod plots;
pub(crate) mod png;

pub(crate) use html::{Block, Page, Section};

/// Name of the page in a run's outputs.
pub(crate) const REPORT_FILE: &str = "report.html";

/// A number with `digits` decimals, or `-`.
/// The first `limit` rows of an outreach list with the features that pushed each score
/// up most; `run`'s and `score`'s pages show the same table.
pub(crate) fn outreach_table(rows: &[crate::tables::OutreachRow], limit: usize) -> Block {
    let rows = rows
        .iter()
        .take(limit)
        .map(|o| {
            let reasons: Vec<&str> = o.reasons.iter().map(|(n, _)| n.as_str()).collect();
            vec![
                o.rank.to_string(),
                o.member_id.clone(),
                o.interaction_id.clone(),
                format!("{:.4}", o.score),
                reasons.join(", "),
            ]
        })
        .collect();
    Block::Table {
        header: ["rank", "member", "interaction", "score", "reasons"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

pub(crate) fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.digits$}"))
}

/// A share as a percentage with one decimal, with its interval when known:
/// `41.2 % [35.0, 47.1]`.
pub(crate) fn pct(v: Option<f64>, interval: Option<(f64, f64)>) -> String {
    match (v, interval) {
        (Some(v), Some((lo, hi))) => {
            format!("{:.1} % [{:.1}, {:.1}]", 100.0 * v, 100.0 * lo, 100.0 * hi)
        }
        (Some(v), None) => format!("{:.1} %", 100.0 * v),
        _ => "-".into(),
    }
}

/// The drift rows as a report section (the largest PSI first).
pub(crate) fn drift_section(
    rows: &[crate::drift::DriftRow],
    warn: f64,
    note: Option<&str>,
) -> Section {
    let mut sorted: Vec<&crate::drift::DriftRow> = rows.iter().collect();
    sorted.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    let mut blocks = vec![Block::Text(format!(
        "Population stability index, PSI = sum (a - e) ln(a / e) over bins cut on the reference (deciles for numbers, levels for categories; empty bins count as 0.0001). Flagged above {warn}."
    ))];
    if let Some(n) = note {
        blocks.push(Block::Text(format!(
            "No comparison with a previous run: {n}."
        )));
    }
    blocks.push(Block::Table {
        header: [
            "comparison",
            "column",
            "PSI",
            "largest change in",
            "ref share",
            "now",
            "flag",
        ]
        .map(String::from)
        .to_vec(),
        rows: sorted
            .iter()
            .take(30)
            .map(|r| {
                vec![
                    r.comparison.clone(),
                    r.column.clone(),
                    format!("{:.4}", r.psi),
                    r.top_bin.clone(),
                    format!("{:.3}", r.top_bin_reference_share),
                    format!("{:.3}", r.top_bin_current_share),
                    if r.above_warn {
                        "above".into()
                    } else {
                        r.note.clone()
                    },
                ]
            })
            .collect(),
    });
    Section {
        title: "Drift".into(),
        blocks,
    }
}
