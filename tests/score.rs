//! `score` with the model from `run`: the same features over a bounded read, scored in
//! Rust (to 1e-12) and compiled into Spark SQL (to 1e-9); a model that does not fit
//! the configured data is refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::*;

fn rarecall(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rarecall"))
        .args(args)
        .env_remove("SPARK_REMOTE")
        .output()
        .unwrap()
}

fn scores(path: &Path) -> BTreeMap<String, (f64, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), (f[4].parse().unwrap(), f[3].to_string()))
        })
        .collect()
}

fn write_config(dir: &Path, src: &Path, categoricals: &str) -> std::path::PathBuf {
    let cfg = dir.join(format!("job-{}.toml", categoricals.len()));
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\n[source]\npath = {:?}\n[columns]\ncategoricals = {categoricals}\n[model]\nc_grid = [0.1]\ncv_folds = 3\n[features]\nmin_support = 5\nhistory_days = 120\n[threshold]\ntarget_precision = 0.2\n",
            remote_url(),
            src.display().to_string(),
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn score_reproduces_run_test_scores_in_rust_and_in_spark() {
    let dir = temp_dir("score");
    let src = dir.join("events.parquet");
    rarecall::demo::write_demo(&src, 1200, 5).unwrap();
    let cfg = write_config(&dir, &src, "[\"channel\", \"plan_type\"]");
    let run_out = dir.join("run");
    let o = rarecall(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run_out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let model = run_out.join("model.json");
    let expected = scores(&run_out.join("test_scores.csv"));
    assert!(expected.len() > 500);

    // The test window of `run` is [2024-10-01, end of data): score exactly that.
    let window = ["--from", "2024-10-01", "--to", "2026-01-01"];
    for (mode, tol) in [("rust", 1e-12), ("in-spark", 1e-9)] {
        let out = dir.join(mode);
        let mut args = vec![
            "score",
            "--config",
            cfg.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--all-scores",
        ];
        args.extend(window);
        if mode == "in-spark" {
            // Every row back, ordered by score: the whole window compared.
            args.extend(["--in-spark", "--top", "1000000"]);
        }
        let o = rarecall(&args);
        assert!(
            o.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got = scores(&out.join("window_scores.csv"));
        assert_eq!(got.len(), expected.len(), "{mode}: same interactions");
        let mut worst = 0.0f64;
        for (id, (s, label)) in &expected {
            let (g, l) = &got[id];
            assert_eq!(label, l, "{mode} {id}");
            worst = worst.max((s - g).abs());
        }
        assert!(worst <= tol, "{mode}: max |diff| {worst:e} > {tol:e}");
        let log = std::fs::read_to_string(out.join("outreach_scoring_log.csv")).unwrap();
        assert_eq!(log.lines().count(), 2, "{log}");
    }
}

#[test]
fn a_model_for_other_features_is_refused() {
    let dir = temp_dir("score-mismatch");
    let src = dir.join("events.parquet");
    rarecall::demo::write_demo(&src, 600, 6).unwrap();
    let cfg = write_config(&dir, &src, "[\"channel\"]");
    let run_out = dir.join("run");
    let o = rarecall(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run_out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let other = write_config(&dir, &src, "[\"channel\", \"region\"]");
    let out = dir.join("scored");
    let o = rarecall(&[
        "score",
        "--config",
        other.to_str().unwrap(),
        "--model",
        run_out.join("model.json").to_str().unwrap(),
        "--date",
        "2024-11-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("trained on categoricals [\"cat_channel\"]"),
        "{stderr}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

/// The token expression compiled into `score --in-spark` splits, drops, spells out
/// and de-pluralizes exactly as the Rust tokenizer the model was fitted with.
#[test]
fn spark_tokenizes_descriptions_as_rust_does() {
    use arrow::array::{Array, AsArray};
    use rarecall::encode::tokens::{tokenize, tokens_sql};
    let texts = [
        "claims status - inbound",
        "PWD RESET",
        "claim denied (transfer",
        "rx question / callback",
        "status of the address analysis",
        "glasses gas bus",
        "e.o.b.",
        "réclamation ÉTÉ",
        "  --  ",
        "xfer to mgmt; 2 appts",
        "a b c q",
    ];
    let spark = spark();
    let select = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "select {i} as k, array_sort(array_distinct({})) as tokens",
                tokens_sql(&rarecall::score::sql_string(t))
            )
        })
        .collect::<Vec<_>>()
        .join(" union all ");
    let batches = spark
        .query(
            "tokens",
            &format!("{select} order by k"),
            &Default::default(),
        )
        .unwrap();
    let mut got = Vec::new();
    for b in &batches {
        let lists = b.column(1).as_list::<i32>();
        for r in 0..b.num_rows() {
            let v = lists.value(r);
            let s = v.as_string::<i32>();
            got.push(
                (0..s.len())
                    .map(|j| s.value(j).to_string())
                    .collect::<Vec<_>>(),
            );
        }
    }
    let want: Vec<Vec<String>> = texts
        .iter()
        .map(|t| tokenize(t).into_iter().collect())
        .collect();
    assert_eq!(got, want);
}

/// `model.primary = "gbdt"`: the trees publish the scores, model.json (format 4)
/// carries them, and `score` reproduces the test scores of `run` in Rust to 1e-12
/// after the reload, with reasons from the trees' contributions; `--in-spark` is
/// refused before any work (trees score in Rust only); a file of an unreadable format
/// version is refused with the versions this rarecall reads, and a format 3 file
/// (the logistic model, no trees) still scores.
#[test]
fn a_saved_gbdt_model_scores_as_run_did_and_refuses_in_spark() {
    let dir = temp_dir("score-gbdt");
    let src = dir.join("events.parquet");
    rarecall::demo::write_demo(&src, 1200, 5).unwrap();
    let cfg = dir.join("gbdt.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\n[source]\npath = {:?}\n[columns]\ncategoricals = [\"channel\", \"plan_type\"]\n[model]\nc_grid = [0.1]\ncv_folds = 3\nprimary = \"gbdt\"\n[gbdt]\nn_rounds = 80\nmax_depth = 3\nthreads = 2\n[features]\nmin_support = 5\nhistory_days = 120\n[threshold]\ntarget_precision = 0.2\n",
            remote_url(),
            src.display().to_string(),
        ),
    )
    .unwrap();
    let run_out = dir.join("run");
    let o = rarecall(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run_out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let model = run_out.join("model.json");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 4);
    let trees = &saved["trained"]["trees"];
    assert!(trees["model"].as_str().unwrap().contains("\"nodes\""));
    assert!(trees["rounds"].as_u64().unwrap() >= 1);
    // The comparison: the trees first, as primary; the logistic model the challenger.
    let table = std::fs::read_to_string(run_out.join("model_comparison.csv")).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].ends_with(",role"), "{table}");
    assert!(lines[1].starts_with("gbdt,") && lines[1].ends_with(",primary"));
    assert!(lines[2].starts_with("logistic,") && lines[2].ends_with(",challenger"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_out.join("run_summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["model_comparison"][0]["average_precision"], summary["test"]["average_precision"],
        "the published test AP is the trees'"
    );
    assert_eq!(summary["parameters"]["primary"], "gbdt");
    let expected = scores(&run_out.join("test_scores.csv"));
    assert!(expected.len() > 500);

    let window = ["--from", "2024-10-01", "--to", "2026-01-01"];
    let score_with = |model: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "score",
            "--config",
            cfg.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(window);
        args.extend(extra);
        rarecall(&args)
    };
    let out = dir.join("rust");
    let o = score_with(&model, &out, &["--all-scores", "--top", "40"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = scores(&out.join("window_scores.csv"));
    assert_eq!(got.len(), expected.len(), "same interactions");
    let mut worst = 0.0f64;
    for (id, (s, label)) in &expected {
        let (g, l) = &got[id];
        assert_eq!(label, l, "{id}");
        worst = worst.max((s - g).abs());
    }
    assert!(worst <= 1e-12, "max |diff| {worst:e} > 1e-12");
    // Reasons of tree rows: the encoder's feature names, from the contributions.
    let names: Vec<&str> = saved["trained"]["encoder"]["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let top =
        std::fs::read_to_string(out.join("outreach_top40_2024-10-01_2026-01-01.csv")).unwrap();
    let header: Vec<&str> = top.lines().next().unwrap().split(',').collect();
    let r1 = header.iter().position(|h| *h == "reason_1").unwrap();
    let with_reason = top
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert!(f[r1].is_empty() || names.contains(&f[r1]), "{l}");
            !f[r1].is_empty()
        })
        .count();
    assert!(
        with_reason >= 30,
        "{with_reason} of 40 top rows have a reason:\n{top}"
    );

    // In Spark: refused before any work, with the fix.
    let spark_out = dir.join("in-spark");
    let o = score_with(&model, &spark_out, &["--in-spark"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("trees score in Rust only") && stderr.contains("drop --in-spark"),
        "{stderr}"
    );
    assert!(!spark_out.exists() || std::fs::read_dir(&spark_out).unwrap().next().is_none());

    // Format versions: 2 is refused with the readable range; 3 (no trees) scores.
    let mut old = saved.clone();
    old["format_version"] = 2.into();
    let v2 = dir.join("model-v2.json");
    std::fs::write(&v2, serde_json::to_vec(&old).unwrap()).unwrap();
    let o = score_with(&v2, &dir.join("v2"), &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("model format version 2, this rarecall reads 3 to 4"),
        "{stderr}"
    );
    old["format_version"] = 3.into();
    old["trained"].as_object_mut().unwrap().remove("trees");
    let v3 = dir.join("model-v3.json");
    std::fs::write(&v3, serde_json::to_vec(&old).unwrap()).unwrap();
    let v3_out = dir.join("v3");
    let o = score_with(&v3, &v3_out, &["--all-scores"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let logistic = scores(&v3_out.join("window_scores.csv"));
    assert_eq!(logistic.len(), expected.len());
    let differ = logistic
        .iter()
        .filter(|(id, (s, _))| (s - expected[*id].0).abs() > 1e-6)
        .count();
    assert!(
        differ > expected.len() / 2,
        "the format 3 file scored with the trees?"
    );
}
