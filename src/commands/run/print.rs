//! What `rarecall run` prints on stdout: the run's numbers, the model comparison
//! when a challenger ran, each stage's time and the peak memory.

use super::RunReport;
use crate::challenger;
use crate::commands::common::peak_rss_bytes;
use crate::threshold;

/// What `rarecall run` prints on stdout.
pub(super) fn print_report(r: &RunReport) {
    let pct = |v: Option<f64>| {
        v.map(|x| format!("{:.1} %", 100.0 * x))
            .unwrap_or_else(|| "-".into())
    };
    println!("run {}", r.run_id);
    println!(
        "  train (sampled) {} interactions, {} positive | test {} interactions, {} positive | {} events, {} members",
        r.train_rows, r.train_positives, r.test_rows, r.test_positives, r.events, r.members
    );
    match r.threshold.threshold() {
        Some(t) => println!(
            "  C = {} | threshold {t:.6} (chosen on the forward validation slice)",
            r.best_c
        ),
        None => println!(
            "  C = {} | no threshold reaches the precision floor: empty outreach list",
            r.best_c
        ),
    }
    println!(
        "  test: precision {} recall {} AP {} | outreach {} rows | mean score {:.4} vs base rate {:.4}",
        pct(r.test_precision),
        pct(r.test_recall),
        r.test_average_precision
            .map(|v| format!("{v:.4}"))
            .unwrap_or_else(|| "-".into()),
        r.outreach_rows,
        r.mean_test_score,
        r.test_base_rate
    );
    print_comparison(&r.comparison);
    for (stage, secs) in &r.timings {
        println!("  {stage:<30} {secs:>8.2} s");
    }
    if let Some(rss) = peak_rss_bytes() {
        println!(
            "  {:<30} {:>8.1} MiB",
            "peak memory (RSS)",
            rss as f64 / 1048576.0
        );
    }
    println!("outputs in {} ({})", r.output_dir, r.outreach_file);
}

/// The model comparison section of the summary (nothing without a challenger).
fn print_comparison(rows: &[challenger::Comparison]) {
    if rows.is_empty() {
        return;
    }
    let num = |v: Option<f64>| v.map_or_else(|| "-".into(), |x| format!("{x:.4}"));
    let pct = |v: Option<f64>, i: Option<threshold::Interval>| match (v, i) {
        (Some(v), Some(i)) => format!(
            "{:.1} % [{:.1}, {:.1}]",
            100.0 * v,
            100.0 * i.lower,
            100.0 * i.upper
        ),
        (Some(v), None) => format!("{:.1} %", 100.0 * v),
        _ => "-".into(),
    };
    println!(
        "  model comparison (same test rows, each at its own threshold; model_comparison.csv):"
    );
    println!(
        "    {:<9} {:>7} {:>10} {:>6} {:>24} {:>24} {:>9} {:>7} {:>8} {:>10}",
        "model",
        "AP",
        "threshold",
        "rows",
        "precision",
        "recall",
        "mean/base",
        "Brier",
        "fit s",
        "bytes"
    );
    for c in rows {
        println!(
            "    {:<9} {:>7} {:>10} {:>6} {:>24} {:>24} {:>9} {:>7.5} {:>8.2} {:>10}",
            c.model,
            num(c.average_precision),
            num(c.threshold),
            c.selected,
            pct(c.precision, c.precision_interval),
            pct(c.recall, c.recall_interval),
            c.mean_predicted_over_base_rate
                .map_or_else(|| "-".into(), |x| format!("{x:.3}")),
            c.brier,
            c.fit_seconds,
            c.model_size_bytes
        );
    }
}
