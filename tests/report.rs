//! What people look at: the report of a demo run in headless Chromium (and a broken
//! page that must fail the same checks), drift between runs (a shifted channel mix
//! warns, an unshifted run does not), `score`'s shorter report, and no progress
//! output when stderr is not a terminal.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::chromium::{self, Browser};
use crate::common::{remote_url, temp_dir};

fn demo(dir: &Path, name: &str, members: usize, seed: u64, channel_shift: f64) -> PathBuf {
    let path = dir.join(name);
    let spec = rarecall::demo::DemoSpec {
        channel_shift,
        ..Default::default()
    };
    rarecall::demo::write_demo_with(&path, members, seed, &spec).unwrap();
    path
}

/// A small, quick run configuration over `src` writing to `dir/out`.
fn config(dir: &Path, src: &Path, extra: &str) -> PathBuf {
    let cfg = dir.join(format!(
        "job-{}.toml",
        src.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\ntimeout_secs = 300\n[source]\npath = {:?}\n[columns]\ncategoricals = [\"channel\", \"region\", \"plan_type\"]\n[model]\nc_grid = [0.1, 1.0]\ncv_folds = 3\n[features]\nmin_support = 5\n[threshold]\ntarget_precision = 0.2\n[output]\ndir = {:?}\n{extra}\n",
            remote_url(),
            src.display().to_string(),
            dir.join("out").display().to_string()
        ),
    )
    .unwrap();
    cfg
}

/// Runs the binary with stderr and stdout piped (so neither is a terminal).
fn rarecall(args: &[&str]) -> Output {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rarecall"))
        .args(args)
        .env_remove("SPARK_REMOTE")
        .env_remove("RUST_LOG")
        .env_remove("RARECALL_LOG_FORMAT")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "rarecall {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn run(cfg: &Path) -> (String, serde_json::Value) {
    let o = rarecall(&["run", "--config", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let out = cfg.parent().unwrap().join("out");
    let summary =
        serde_json::from_slice(&std::fs::read(out.join("run_summary.json")).unwrap()).unwrap();
    (stderr, summary)
}

/// Not a terminal: log lines only, no spinner frames, carriage returns or escapes.
fn assert_no_progress(stderr: &str) {
    assert!(
        !stderr.contains('\r') && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );
    for line in stderr.lines() {
        assert!(line.starts_with("rarecall: "), "not a log line: {line:?}");
    }
    assert!(stderr.contains("done in"), "{stderr}");
}

#[test]
fn a_demo_report_shows_cleanly_in_chromium_and_a_broken_page_does_not() {
    let dir = temp_dir("report-chromium");
    let src = demo(&dir, "events.parquet", 1500, 7, 0.0);
    let cfg = config(&dir, &src, "");
    let (stderr, summary) = run(&cfg);
    assert_no_progress(&stderr);
    let out = dir.join("out");
    for f in [
        "report.html",
        "pr_curve.svg",
        "pr_curve.png",
        "pr_curve_points_sampled.csv",
        "drift.csv",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    // The PNG is the SVG rendered: same aspect, twice the size.
    let png =
        resvg::tiny_skia::Pixmap::decode_png(&std::fs::read(out.join("pr_curve.png")).unwrap())
            .unwrap();
    let svg = std::fs::read_to_string(out.join("pr_curve.svg")).unwrap();
    assert!(
        svg.contains(&format!("width=\"{}\"", png.width() / 2)),
        "{}",
        &svg[..200]
    );
    // The sampled curve: at most 1,000 rows, each one a row of the exact curve.
    let exact = std::fs::read_to_string(out.join("pr_curve_points.csv")).unwrap();
    let sampled = std::fs::read_to_string(out.join("pr_curve_points_sampled.csv")).unwrap();
    assert!(sampled.lines().count() <= 1001);
    assert_eq!(sampled.lines().next(), exact.lines().next());
    let exact_rows: std::collections::HashSet<&str> = exact.lines().collect();
    assert!(sampled.lines().all(|l| exact_rows.contains(l)));

    let mut browser = Browser::launch(&dir.join("chromium-profile"));
    let page = browser.check(&out.join("report.html"));
    assert!(page.problems.is_empty(), "{:#?}", page.problems);
    // The operating point and the feature names are in the text.
    let threshold = summary["threshold"]["threshold"].as_f64();
    match threshold {
        Some(t) => assert!(page.body_text.contains(&format!("{t:.6}")), "{t}"),
        None => assert!(page.body_text.contains("outreach list is empty")),
    }
    let coefficients = std::fs::read_to_string(out.join("coefficients.csv")).unwrap();
    let top = coefficients
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut c = l.split(',');
            Some((c.next()?.to_string(), c.next()?.parse::<f64>().ok()?))
        })
        .filter(|(n, _)| !n.contains("intercept"))
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap()
        .0;
    assert!(page.body_text.contains(&top), "top feature {top} not shown");
    assert!(page.body_text.contains("channel"));
    // Every chart's text has a width: it was laid out in a real font.
    assert!(
        page.svg_text_widths.len() >= 6,
        "{}",
        page.svg_text_widths.len()
    );
    for (k, widths) in page.svg_text_widths.iter().enumerate() {
        assert!(!widths.is_empty(), "chart {k} has no text");
        assert!(widths.iter().all(|&w| w > 0.0), "chart {k}: {widths:?}");
    }
    let (share, colours) = chromium::ink(&page.screenshot_png);
    assert!(
        share > 0.02 && colours > 50,
        "blank screenshot? {share} {colours}"
    );
    std::fs::write(dir.join("report-screenshot.png"), &page.screenshot_png).unwrap();
    if let Some(to) = std::env::var_os("RARECALL_REPORT_SCREENSHOT") {
        std::fs::write(to, &page.screenshot_png).unwrap();
    }

    // The negative control: a console error, an image the policy blocks, and a chart
    // whose text is not rendered. The same checks must catch each.
    let bad = dir.join("broken.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'unsafe-inline'\">\
         </head><body><p>nothing to see</p>\
         <script>console.error('the negative control fails');</script>\
         <img src=\"https://example.com/pixel.png\" alt=\"\">\
         <svg width=\"200\" height=\"40\"><text x=\"5\" y=\"20\" style=\"display:none\">hidden</text></svg>\
         </body></html>",
    )
    .unwrap();
    let page = browser.check(&bad);
    let all = page.problems.join("\n");
    assert!(all.contains("console \"error\""), "{all}");
    assert!(
        all.contains("failed load") || all.contains("Content Security Policy"),
        "{all}"
    );
    assert!(!page.body_text.contains(&top));
    assert!(page.svg_text_widths.iter().flatten().any(|&w| w == 0.0));
}

#[test]
fn a_shifted_channel_mix_warns_and_an_unshifted_run_does_not() {
    let dir = temp_dir("report-drift");
    let a = demo(&dir, "a.parquet", 1500, 31, 0.0);
    let b = demo(&dir, "b.parquet", 1500, 32, 0.0);
    let shifted = demo(&dir, "shifted.parquet", 1500, 33, 0.5);
    // The first run has no previous run; the second (other members, same process)
    // must not warn; the third (half the interactions moved to email) must.
    let (first, s1) = run(&config(&dir, &a, ""));
    assert_eq!(s1["drift"]["previous_run"], serde_json::Value::Null);
    assert!(!first.contains("drift:"), "{first}");
    let (second, s2) = run(&config(&dir, &b, ""));
    assert_no_progress(&second);
    assert_eq!(s2["drift"]["previous_run"], s1["run_id"]);
    assert!(
        !second.contains("drift:"),
        "an unshifted run warned:\n{second}"
    );
    assert_eq!(s2["drift"]["warning"], false, "{}", s2["drift"]);
    let (third, s3) = run(&config(&dir, &shifted, ""));
    assert_no_progress(&third);
    let warning = third
        .lines()
        .find(|l| l.starts_with("rarecall: warning: drift:"))
        .unwrap_or_else(|| panic!("no drift warning:\n{third}"));
    assert!(warning.contains("channel"), "{warning}");
    assert_eq!(s3["drift"]["warning"], true);
    let flagged = s3["drift"]["flagged"].as_array().unwrap();
    assert!(
        flagged
            .iter()
            .any(|f| f["comparison"] == "previous_run_test_vs_test"
                && f["column"].as_str().unwrap().contains("channel")),
        "{flagged:?}"
    );
    let out = dir.join("out");
    let drift = std::fs::read_to_string(out.join("drift.csv")).unwrap();
    assert!(drift.starts_with(
        "comparison,reference,column,psi,bins,top_bin,top_bin_reference_share,top_bin_current_share,above_warn,note\n"
    ));
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("class=\"warn\">Drift:"), "no warning box");
    // `score` on a shifted day compares it with the model's test window (the bins
    // in model.json) and writes its shorter report.
    let model = out.join(format!(
        "runs/{}/model.json",
        s2["run_id"].as_str().unwrap()
    ));
    let o = rarecall(&[
        "score",
        "--config",
        config(&dir, &shifted, "").to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--from",
        "2024-11-01",
        "--to",
        "2024-12-01",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("rarecall: warning: drift:"), "{stderr}");
    let page = std::fs::read_to_string(out.join("score_report.html")).unwrap();
    assert!(page.contains("Drift") && page.contains("model_test_vs_window"));
    assert!(
        page.len() < report.len(),
        "the score report is the shorter one"
    );
    let score_drift = std::fs::read_to_string(out.join("score_drift.csv")).unwrap();
    assert!(score_drift.lines().count() > 10);
}

#[test]
fn bad_psi_thresholds_are_refused_with_the_key_and_the_fix() {
    let dir = temp_dir("report-bad-psi");
    let src = dir.join("missing.parquet");
    for extra in [
        "[drift]\npsi_warn = -1",
        "[drift]\npsi_warn = 0",
        "[drift]\npsi_warm = 0.2",
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_rarecall"))
            .args([
                "check",
                "--config",
                config(&dir, &src, extra).to_str().unwrap(),
            ])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("psi_warn"), "{extra}: {err}");
    }
    assert!(!dir.join("out").exists(), "no partial outputs");
}
