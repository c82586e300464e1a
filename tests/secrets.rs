//! Secrets: a run configured with canary tokens (flag, environment, profile) must not
//! print or write any of them: not in stdout/stderr, errors, or any output file.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

const CANARY: &str = "CANARY";

fn rarecall(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rarecall"))
        .args(args)
        .env("HOME", home)
        .env_remove("SPARK_REMOTE")
        .env_remove("DATABRICKS_CONFIG_PROFILE")
        .env("DATABRICKS_HOST", "https://adb-canary.azuredatabricks.net")
        .env("DATABRICKS_TOKEN", "dapi-CANARY-env-0002")
        // Sign-in secrets of the other sources, and the MLflow server's bearer token.
        .env("DATABRICKS_CLIENT_ID", "sp-CANARY-id-0007")
        .env("DATABRICKS_CLIENT_SECRET", "CANARY-client-secret-0008")
        .env("MLFLOW_TRACKING_TOKEN", "CANARY-mlflow-token-0009")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap()
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text.contains(CANARY),
        "{what} leaks a token:\n{}",
        &text[..text.len().min(3000)]
    );
}

fn assert_tree_clean(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            assert_tree_clean(&p);
        } else if p.extension().is_some_and(|x| x != "parquet") {
            assert_clean(&p.display().to_string(), &std::fs::read(&p).unwrap());
        }
    }
}

#[test]
fn canary_tokens_never_appear_in_outputs_logs_or_errors() {
    let dir = temp_dir("secrets");
    std::fs::write(
        dir.join(".databrickscfg"),
        "[DEFAULT]\nhost = https://adb-1.azuredatabricks.net\ntoken = dapi-CANARY-profile-0003\ncluster_id = c-1\n[nocluster]\nhost = https://adb-2.azuredatabricks.net\ntoken = dapi-CANARY-profile-0004\n",
    )
    .unwrap();
    let src = dir.join("events.parquet");
    rarecall::demo::write_demo(&src, 500, 4).unwrap();
    let cfg = dir.join("job.toml");
    std::fs::write(
        &cfg,
        format!(
            "[source]\npath = {:?}\n[model]\nc_grid = [0.1]\ncv_folds = 3\n[output]\ndir = {:?}\n",
            src.display().to_string(),
            dir.join("out").display().to_string()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    // The local server takes the token (loopback) and ignores it.
    let remote = format!(
        "{}/;token=dapi-CANARY-flag-0001",
        remote_url().trim_end_matches('/')
    );
    // The run is tracked in the real MLflow server (MLFLOW_TRACKING_TOKEN as bearer):
    // nothing it records may hold a token either.
    let mlflow = crate::tracking::mlflow_uri();
    let runs: Vec<(&str, Vec<&str>, bool)> = vec![
        (
            "run",
            vec![
                "run",
                "--config",
                cfg,
                "--remote",
                &remote,
                "--mlflow-uri",
                &mlflow,
            ],
            true,
        ),
        (
            "check",
            vec!["check", "--config", cfg, "--remote", &remote],
            true,
        ),
        (
            "dry run",
            vec!["check", "--dry-run", "--config", cfg, "--remote", &remote],
            true,
        ),
        (
            "unreachable",
            vec![
                "run",
                "--config",
                cfg,
                "--remote",
                "sc://127.0.0.1:1/;token=dapi-CANARY-bad-0005",
            ],
            false,
        ),
        (
            "malformed",
            vec![
                "run",
                "--config",
                cfg,
                "--remote",
                "sc://127.0.0.1:99999/;token=dapi-CANARY-bad-0006",
            ],
            false,
        ),
        (
            "profile without cluster",
            vec!["run", "--config", cfg, "--profile", "nocluster"],
            false,
        ),
    ];
    for (what, args, succeeds) in runs {
        let o = rarecall(&args, &dir);
        assert_eq!(
            o.status.success(),
            succeeds,
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_clean(&format!("{what} stdout"), &o.stdout);
        assert_clean(&format!("{what} stderr"), &o.stderr);
    }
    let out = dir.join("out");
    assert!(out.join("model.json").is_file() && out.join("run_summary.json").is_file());
    let model = out.join("model.json");
    let o = rarecall(
        &[
            "score",
            "--config",
            cfg,
            "--remote",
            &remote,
            "--model",
            model.to_str().unwrap(),
            "--date",
            "2024-11-01",
            // A tracking server that is down: the warning must be clean too.
            "--mlflow-uri",
            "http://127.0.0.1:1",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_clean("score stdout", &o.stdout);
    assert_clean("score stderr", &o.stderr);
    assert_tree_clean(&out);
    let exp = crate::tracking::get_json(
        &mlflow,
        "api/2.0/mlflow/experiments/get-by-name?experiment_name=rarecall",
    );
    let exp_id = exp["experiment"]["experiment_id"].as_str().unwrap();
    let recorded = std::process::Command::new("curl")
        .args([
            "-fsS",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            &format!(r#"{{"experiment_ids": ["{exp_id}"], "max_results": 1000}}"#),
            &format!("{mlflow}/api/2.0/mlflow/runs/search"),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&recorded.stdout).contains("rarecall.run_id"));
    assert_clean("MLflow params and tags", &recorded.stdout);
    // The summary names the remote, redacted.
    let summary = std::fs::read_to_string(out.join("run_summary.json")).unwrap();
    assert!(summary.contains("token=***"), "{summary}");
}
