//! Training and threshold on features from the real Spark: no leakage from the test
//! window, and the whole `run` with every output file.

use std::path::Path;

use rarecall::demo::Event;
use rarecall::params::ParamGuard;
use rarecall::train::{TrainParams, TrainValidParams, train};

use crate::common::*;

/// The checked training parameters of a configured pipeline.
fn checked(p: &rarecall::config::Settings) -> TrainValidParams {
    TrainParams::from(p).check().unwrap()
}

/// Demo events of `members` members; with `scramble`, the test window's labels and
/// descriptions are replaced (deterministically) by other values.
fn demo_events(dir: &Path, members: usize, scramble: bool) -> std::path::PathBuf {
    let src = dir.join("demo.parquet");
    rarecall::demo::write_demo(&src, members, 11).unwrap();
    let batches = {
        let file = std::fs::File::open(&src).unwrap();
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    let boundary = ts("2024-10-01 00:00:00");
    let mut events: Vec<Event> = Vec::new();
    for b in &batches {
        use arrow::array::AsArray;
        let s = |i: usize| b.column(i).as_string::<i32>().clone();
        let (m, it, d, ch, rg, pl) = (s(0), s(1), s(3), s(5), s(6), s(7));
        let t = b
            .column(2)
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        let y = b.column(4).as_primitive::<arrow::datatypes::Int32Type>();
        use arrow::array::Array;
        for r in 0..b.num_rows() {
            let opt =
                |a: &arrow::array::StringArray| (!a.is_null(r)).then(|| a.value(r).to_string());
            let mut e = Event {
                member_id: m.value(r).into(),
                interaction_id: it.value(r).into(),
                event_ts_us: t.value(r),
                description: opt(&d),
                escalated: y.value(r),
                channel: opt(&ch),
                region: opt(&rg),
                plan_type: opt(&pl),
            };
            if scramble && e.event_ts_us >= boundary {
                e.escalated = i32::from(r % 7 == 0);
                e.description = Some(format!("scrambled {}", r % 13));
            }
            events.push(e);
        }
    }
    let out = dir.join(if scramble {
        "scrambled.parquet"
    } else {
        "events.parquet"
    });
    write_parquet(&out, &events, None);
    out
}

#[test]
fn scrambling_the_test_window_leaves_model_and_threshold_bit_identical() {
    let dir = temp_dir("leakage");
    let extra = "[model]\nsplit_boundary = \"2024-10-01\"\ntarget_neg_pos_member_ratio = 5\nc_grid = [0.01, 1.0]\ncv_folds = 3\n[features]\nmin_support = 5\n";
    let clean = pipeline(&demo_events(&dir, 1500, false), extra);
    let scrambled = pipeline(&demo_events(&dir, 1500, true), extra);
    let a = run(&clean).unwrap();
    let b = run(&scrambled).unwrap();
    // The test windows really differ...
    let labels = |o: &rarecall::pipeline::SparkOutputs| {
        o.features
            .rows_of(rarecall::table::Split::Test)
            .iter()
            .map(|&i| o.features.label[i])
            .collect::<Vec<_>>()
    };
    assert_ne!(labels(&a), labels(&b));
    // ...and the fitted model and threshold do not.
    let (ma, _) = train(&a.features, &checked(&clean)).unwrap();
    let (mb, _) = train(&b.features, &checked(&scrambled)).unwrap();
    assert_eq!(
        serde_json::to_string(&ma).unwrap(),
        serde_json::to_string(&mb).unwrap()
    );
    assert!(
        ma.threshold.threshold().is_some()
            || matches!(
                ma.threshold,
                rarecall::threshold::ThresholdChoice::Infeasible { .. }
            )
    );
}

#[test]
fn run_writes_every_output_and_appends_the_runs_log() {
    let dir = temp_dir("run-all");
    let src = demo_events(&dir, 1500, false);
    let out = dir.join("out");
    let cfg = dir.join("job.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\n[source]\npath = {:?}\n[columns]\ncategoricals = [\"channel\", \"region\", \"plan_type\"]\n[model]\nc_grid = [0.01, 1.0]\ncv_folds = 3\n[features]\nmin_support = 5\n[threshold]\ntarget_precision = 0.2\nthreshold_cap = 5\ntop_k = 50\n[output]\ndir = {:?}\n",
            remote_url(),
            src.display().to_string(),
            out.display().to_string()
        ),
    )
    .unwrap();
    // The second run with -q: nothing on stderr, the summary still on stdout.
    for flags in [&[][..], &["-q"][..]] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_rarecall"))
            .args(["run", "--config", cfg.to_str().unwrap()])
            .args(flags)
            .env_remove("SPARK_REMOTE")
            .env_remove("RUST_LOG")
            .env_remove("RARECALL_LOG_FORMAT")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        if !flags.is_empty() {
            assert_eq!(String::from_utf8_lossy(&o.stderr), "", "-q");
            let stdout = String::from_utf8_lossy(&o.stdout);
            assert!(
                stdout.starts_with("run ") && stdout.contains("outputs in"),
                "{stdout}"
            );
        }
    }
    for f in [
        "outreach_threshold_precision20_cap5.csv",
        "pydescription_normalization_audit.csv",
        "pydesc_to_safe_col_map.csv",
        "pr_curve_points.csv",
        "outreach_topK_50.csv",
        "outreach_runs_log.csv",
        "model.json",
        "coefficients.csv",
        "run_summary.json",
        "test_scores.csv",
        "report.html",
        "pr_curve.svg",
        "pr_curve.png",
        "pr_curve_points_sampled.csv",
        "drift.csv",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let log = std::fs::read_to_string(out.join("outreach_runs_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 3, "header + one row per run:\n{log}");
    let list =
        std::fs::read_to_string(out.join("outreach_threshold_precision20_cap5.csv")).unwrap();
    assert!(
        (1..=6).contains(&list.lines().count()),
        "the cap keeps at most 5 rows:\n{list}"
    );
    let top = std::fs::read_to_string(out.join("outreach_topK_50.csv")).unwrap();
    assert_eq!(top.lines().count(), 51);
    assert!(top.starts_with(
        "rank,member_id,interaction_id,interaction_ts,score,reason_1,reason_2,reason_3\n"
    ));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_summary.json")).unwrap()).unwrap();
    let mean = summary["test"]["mean_calibrated_score"].as_f64().unwrap();
    let base = summary["test"]["base_rate"].as_f64().unwrap();
    assert!(
        mean > base / 3.0 && mean < base * 3.0,
        "calibrated mean {mean} vs base rate {base}"
    );
    let model: rarecall::ModelFile =
        serde_json::from_slice(&std::fs::read(out.join("model.json")).unwrap()).unwrap();
    assert_eq!(
        model.trained.model.coef.len(),
        model.trained.encoder.feature_names.len()
    );
    // test_scores.csv holds the calibrated scores of the test window.
    let scores = std::fs::read_to_string(out.join("test_scores.csv")).unwrap();
    assert_eq!(
        scores.lines().count() - 1,
        summary["rows"]["test"].as_u64().unwrap() as usize
    );
}

#[test]
fn unreachable_precision_floor_gives_an_empty_list_not_an_error() {
    // 60 members with one identical interaction each in January (10 positive), one
    // in the validation slice (another 10 positive) and one in the test window: the
    // validation model sees January rows only, all alike, so it gives every
    // validation row the same score, and no cutoff reaches precision 0.99.
    let dir = temp_dir("infeasible");
    let mut events = Vec::new();
    for m in 0..60 {
        let member = format!("m{m:02}");
        events.push(ev(
            &member,
            &format!("{member}-a"),
            "2024-01-01 10:00:00",
            Some("claim status"),
            i32::from(m < 10),
            "phone",
        ));
        events.push(ev(
            &member,
            &format!("{member}-v"),
            "2024-09-01 10:00:00",
            Some("claim status"),
            i32::from(m >= 50),
            "phone",
        ));
        events.push(ev(
            &member,
            &format!("{member}-t"),
            "2024-11-01 10:00:00",
            Some("claim status"),
            i32::from(m % 6 == 0),
            "phone",
        ));
    }
    let src = dir.join("events.parquet");
    write_parquet(&src, &events, None);
    let out = dir.join("out");
    let cfg = dir.join("job.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\n[source]\npath = {:?}\n[model]\nc_grid = [0.01, 1.0]\ncv_folds = 3\n[features]\nburn_in_days = 0\n[threshold]\ntarget_precision = 0.99\n[output]\ndir = {:?}\n",
            remote_url(),
            src.display().to_string(),
            out.display().to_string()
        ),
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rarecall"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .env_remove("SPARK_REMOTE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("no cutoff reaches precision 0.99"),
        "{stderr}"
    );
    let list =
        std::fs::read_to_string(out.join("outreach_threshold_precision99_nocap.csv")).unwrap();
    assert_eq!(
        list,
        "rank,member_id,interaction_id,interaction_ts,score,reason_1,reason_2,reason_3\n"
    );
    let log = std::fs::read_to_string(out.join("outreach_runs_log.csv")).unwrap();
    assert!(
        log.lines().nth(1).unwrap().contains(",no_threshold,"),
        "{log}"
    );
}

#[test]
fn inverse_sampling_weights_recover_the_predictions_of_the_unsampled_fit() {
    // Member-level downsampling keeps every member with an escalation, so the keep
    // rate depends on the features (earlier escalations). Fitted with inverse-sampling
    // weights, ratio 5 must estimate what no sampling estimates: the mean over four
    // sampling seeds lies within noise (the spread between seeds) of the unsampled fit.
    // The control, the same samples fitted without those weights, must not.
    //
    // Compared on the fitted log-odds of the unsampled training rows, not on single
    // coefficients: the history block holds near-collinear columns (a count of earlier
    // escalations and its decayed versions), whose coefficients trade off along
    // directions the data barely determine, while their combined prediction is
    // determined. (On coefficients, the weighted fits scored 7.99 and the control
    // 14.45 on this data: the control still worse, the escalation block alone beyond 4.)
    let dir = temp_dir("invariance");
    let src = dir.join("demo.parquet");
    rarecall::demo::write_demo(&src, 4000, 13).unwrap();
    let cfg = |ratio: f64, seed: i64| {
        pipeline(
            &src,
            &format!(
                "[model]\nsplit_boundary = \"2024-10-01\"\ntarget_neg_pos_member_ratio = {ratio}\nseed = {seed}\nc_grid = [1.0]\nclass_weight = \"none\"\ncv_folds = 3\n[features]\nburn_in_days = 90\nmin_support = 5\n"
            ),
        )
    };
    let full_p = cfg(1e6, 1);
    let full_t = run(&full_p).unwrap().features;
    let train_rows = full_t.rows_of(rarecall::table::Split::Train);
    assert!(
        train_rows.iter().all(|&i| full_t.sample_weight[i] == 1.0),
        "ratio 1e6 keeps every member"
    );
    // Every 7th training row of the whole population: the rows all fits predict.
    let rows: Vec<usize> = train_rows.iter().copied().step_by(7).collect();
    let log_odds = |m: &rarecall::train::TrainedModel| -> Vec<f64> {
        let x = m.encoder.transform(&full_t, &rows).unwrap();
        m.score(&x).iter().map(|p| (p / (1.0 - p)).ln()).collect()
    };
    let (full, _) = train(&full_t, &checked(&full_p)).unwrap();
    let full = log_odds(&full);
    let mut weighted = Vec::new();
    let mut unweighted = Vec::new();
    for seed in 1..=4 {
        let p = cfg(5.0, seed);
        let mut t = run(&p).unwrap().features;
        let (m, _) = train(&t, &checked(&p)).unwrap();
        weighted.push(log_odds(&m));
        t.sample_weight.iter_mut().for_each(|w| *w = 1.0);
        let (m, _) = train(&t, &checked(&p)).unwrap();
        unweighted.push(log_odds(&m));
    }
    // Mean squared deviation from the unsampled fit, in units of the standard error
    // of the mean over seeds (plus 0.01 so that rows the seeds agree on exactly do not
    // divide by zero), over the rows.
    let score = |fits: &[Vec<f64>]| -> f64 {
        let k = fits.len() as f64;
        let mut total = 0.0;
        for (r, f) in full.iter().enumerate() {
            let v: Vec<f64> = fits.iter().map(|fit| fit[r]).collect();
            let mean = v.iter().sum::<f64>() / k;
            let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
            total += ((mean - f) / (sd / k.sqrt() + 0.01)).powi(2);
        }
        total / full.len() as f64
    };
    let (w, u) = (score(&weighted), score(&unweighted));
    eprintln!("invariance: weighted {w:.2}, unweighted {u:.2}");
    assert!(w < 4.0, "weighted fits deviate beyond noise: {w}");
    assert!(
        u > 2.0 * w,
        "the unweighted control should deviate more: {u} vs {w}"
    );
}

#[test]
fn exact_duplicate_events_are_dropped_by_default_and_counted() {
    // The same events with 40 rows repeated: the default run drops them, says how
    // many, and scores the test window exactly as the clean source does.
    let dir = temp_dir("duplicates");
    let clean = demo_events(&dir, 1500, false);
    let batches: Vec<arrow::record_batch::RecordBatch> = {
        let file = std::fs::File::open(&clean).unwrap();
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    let dup = dir.join("with_duplicates.parquet");
    {
        let file = std::fs::File::create(&dup).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, batches[0].schema(), None).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.write(&batches[0].slice(100, 40)).unwrap();
        w.close().unwrap();
    }
    let run_on = |src: &Path, name: &str| {
        let out = dir.join(name);
        let cfg = dir.join(format!("{name}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[spark]\nremote = {:?}\n[source]\npath = {:?}\n[model]\nc_grid = [0.1]\ncv_folds = 3\n[features]\nmin_support = 5\n[threshold]\ntarget_precision = 0.2\n[output]\ndir = {:?}\n",
                remote_url(),
                src.display().to_string(),
                out.display().to_string()
            ),
        )
        .unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_rarecall"))
            .args(["run", "--config", cfg.to_str().unwrap()])
            .env_remove("SPARK_REMOTE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{stderr}");
        (out, stderr)
    };
    let (a, _) = run_on(&clean, "clean");
    let (b, stderr) = run_on(&dup, "dup");
    assert!(
        stderr.contains("40 of")
            && stderr.contains("exact duplicates")
            && stderr.contains("dropped"),
        "{stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("run_summary.json")).unwrap()).unwrap();
    assert_eq!(summary["data"]["duplicate_events"], 40);
    assert_eq!(summary["data"]["duplicate_policy"], "drop");
    let log = std::fs::read_to_string(b.join("outreach_runs_log.csv")).unwrap();
    assert!(
        log.lines()
            .next()
            .unwrap()
            .ends_with("duplicate_events,duplicate_policy")
    );
    assert!(log.lines().nth(1).unwrap().ends_with(",40,drop"), "{log}");
    assert_eq!(
        std::fs::read(a.join("test_scores.csv")).unwrap(),
        std::fs::read(b.join("test_scores.csv")).unwrap(),
        "dropping the duplicates gives the clean source's scores"
    );
    // The audit counts the events the features are built from: the duplicates found,
    // its counts are taken again without them, so they are the clean source's.
    assert_eq!(
        std::fs::read_to_string(a.join("pydescription_normalization_audit.csv")).unwrap(),
        std::fs::read_to_string(b.join("pydescription_normalization_audit.csv")).unwrap(),
        "the audit of the source with duplicates dropped is the clean source's"
    );
}

/// `model.challenger = "gbdt"`: model_comparison.csv with the logistic model and the
/// trees on the same test rows, a section in run_summary.json; the logistic model
/// stays primary, so the outreach list and the test scores are byte-identical to a
/// run without the challenger, which writes no model_comparison.csv.
#[test]
fn a_challenger_run_writes_the_comparison_and_leaves_the_outreach_list_alone() {
    let dir = temp_dir("run-challenger");
    let src = demo_events(&dir, 1500, false);
    let run = |name: &str, extra: &str| -> std::path::PathBuf {
        let (out, stdout) = run_small(&dir, name, &src, &format!("c_grid = [0.01, 1.0]\n{extra}"));
        assert_eq!(
            stdout.contains("model comparison"),
            !extra.is_empty(),
            "{stdout}"
        );
        out
    };
    let plain = run("plain", "");
    let with = run(
        "with",
        "challenger = \"gbdt\"\n[gbdt]\nn_rounds = 100\nmax_depth = 3",
    );
    assert!(!plain.join("model_comparison.csv").exists());
    let table = std::fs::read_to_string(with.join("model_comparison.csv")).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "header + two models:\n{table}");
    assert!(
        lines[0].starts_with("model,test_average_precision,threshold,selected,precision,precision_lower,precision_upper,recall,recall_lower,recall_upper,"),
        "{table}"
    );
    assert!(lines[1].starts_with("logistic,") && lines[2].starts_with("gbdt,"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(with.join("run_summary.json")).unwrap()).unwrap();
    let rows = summary["model_comparison"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let trees_ap = rows[1]["average_precision"].as_f64().unwrap();
    assert!(trees_ap > 0.0 && trees_ap <= 1.0, "{trees_ap}");
    assert!(rows[1]["rounds"].as_u64().unwrap() >= 1);
    let logistic_ap = rows[0]["average_precision"].as_f64().unwrap();
    assert_eq!(
        Some(logistic_ap),
        summary["test"]["average_precision"].as_f64(),
        "the logistic row is the primary model's"
    );
    for f in [
        "outreach_threshold_precision20_nocap.csv",
        "test_scores.csv",
    ] {
        assert_eq!(
            std::fs::read(plain.join(f)).unwrap(),
            std::fs::read(with.join(f)).unwrap(),
            "{f} changed with a challenger"
        );
    }
}

/// `rarecall run` on `src` with a small grid (3 folds, floor 0.2, top 50) and the
/// `[model]` lines `model`, writing to `dir/name`; returns that folder and stdout.
fn run_small(dir: &Path, name: &str, src: &Path, model: &str) -> (std::path::PathBuf, String) {
    let out = dir.join(name);
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\n[source]\npath = {:?}\n[columns]\ncategoricals = [\"channel\", \"region\", \"plan_type\"]\n[model]\ncv_folds = 3\n{model}\n[features]\nmin_support = 5\n[threshold]\ntarget_precision = 0.2\ntop_k = 50\n[output]\ndir = {:?}\n",
            remote_url(),
            src.display().to_string(),
            out.display().to_string()
        ),
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rarecall"))
        .args(["run", "-q", "--config", cfg.to_str().unwrap()])
        .env_remove("SPARK_REMOTE")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (out, String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Test AP of the logistic model and of the trees (`model.challenger = "gbdt"`, the
/// `[gbdt]` defaults) on the same test rows of `src`, from model_comparison.csv.
fn logistic_and_tree_aps(dir: &Path, name: &str, src: &Path) -> (f64, f64) {
    let model = "c_grid = [0.01, 0.1, 1.0]\nchallenger = \"gbdt\"";
    let (out, _) = run_small(dir, name, src, model);
    let table = std::fs::read_to_string(out.join("model_comparison.csv")).unwrap();
    let ap = |model: &str| -> f64 {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{model},")))
            .unwrap_or_else(|| panic!("no {model} row:\n{table}"));
        row.split(',').nth(1).unwrap().parse().unwrap()
    };
    (ap("logistic"), ap("gbdt"))
}

/// Issue 14: on generated data whose risk rises and falls with the member's call count
/// over the previous 90 days (`demo-data --calls-peak 3`: +3 log-odds at 6 calls, sd
/// 1.5; the encoder has only `ln(1 + calls)` for it, one slope), the trees' test AP
/// beats the logistic model's; on the plain demo (every effect additive in log-odds,
/// with bins for the gaps: the logistic model's own form) it does not beat it by more
/// than noise. Same seed, members and settings for both; the trees at the `[gbdt]`
/// defaults.
///
/// Stated tolerances, from release-build runs of this setting on 5 seeds at 4,000
/// members and 3 at 20,000 (issue 14's note; bench/gbdt_signal.sh runs it): planted
/// risk, trees - logistic +0.051 to +0.111 (mean +0.083 at 4,000, 90 % t interval
/// +0.063 to +0.103), so the test asks for more than +0.03; plain demo, -0.013 to
/// +0.003, so it asks for at most +0.02. Seed 1 here: +0.085 and -0.007.
#[test]
fn trees_beat_the_logistic_model_on_a_rise_and_fall_risk_and_not_on_additive_data() {
    let dir = temp_dir("trees-signal");
    let demo = |name: &str, calls_peak: f64| {
        let src = dir.join(format!("{name}.parquet"));
        let spec = rarecall::demo::DemoSpec {
            calls_peak,
            ..Default::default()
        };
        rarecall::demo::write_demo_with(&src, 4000, 1, &spec).unwrap();
        src
    };
    let (lr, trees) = logistic_and_tree_aps(&dir, "peaked", &demo("peaked", 3.0));
    assert!(
        trees > lr + 0.03,
        "planted rise-and-fall risk: trees AP {trees:.4}, logistic AP {lr:.4}"
    );
    let (lr, trees) = logistic_and_tree_aps(&dir, "additive", &demo("additive", 0.0));
    assert!(
        trees <= lr + 0.02,
        "additive demo: trees AP {trees:.4}, logistic AP {lr:.4}"
    );
}
