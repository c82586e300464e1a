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
