//! MLflow tracking against a real local MLflow server (mlflow 3.17.2, started by
//! scripts/mlflow-server.sh; `RARECALL_TEST_MLFLOW_URI`): `rarecall run` on demo data
//! recorded and read back through the REST API (status, params, metrics with steps,
//! every output file as an artifact, byte for byte); a server that is down (a warning
//! and exit 0, or exit 2 with `mlflow.required`, the outputs complete either way) and
//! `rarecall mlflow log` recording that run later. The tests fail, never skip, when
//! no MLflow server answers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// The MLflow server of the tests (fails the test when none answers).
pub fn mlflow_uri() -> String {
    let uri = std::env::var("RARECALL_TEST_MLFLOW_URI").unwrap_or_else(|_| {
        panic!("RARECALL_TEST_MLFLOW_URI is not set: run the tests with scripts/test.sh (it starts scripts/mlflow-server.sh)")
    });
    let probe = format!("{uri}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default");
    let ok = Command::new("curl")
        .args(["-fsS", "-o", "/dev/null", &probe])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "no MLflow server answers at {uri}: start it with scripts/mlflow-server.sh start"
    );
    uri
}

pub fn rarecall(args: &[&str], home: &Path, envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rarecall"));
    c.args(args)
        .env("HOME", home)
        .env_remove("SPARK_REMOTE")
        .env_remove("DATABRICKS_HOST")
        .env_remove("DATABRICKS_TOKEN")
        .env_remove("DATABRICKS_CONFIG_PROFILE")
        .env_remove("DATABRICKS_CONFIG_FILE")
        .env_remove("DATABRICKS_CLIENT_ID")
        .env_remove("DATABRICKS_CLIENT_SECRET")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env_remove("RUST_LOG")
        .env_remove("RARECALL_LOG_FORMAT");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// One GET of the tracking API, as JSON.
pub fn get_json(uri: &str, path: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-fsS", &format!("{uri}/{path}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GET {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn get_bytes(uri: &str, path: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-fsS", &format!("{uri}/{path}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GET {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A small demo run's config with `extra` TOML appended.
fn job(dir: &Path, extra: &str) -> PathBuf {
    let src = dir.join("events.parquet");
    rarecall::demo::write_demo(&src, 400, 3).unwrap();
    let cfg = dir.join("job.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\ntimeout_secs = 300\n[source]\npath = {:?}\n[model]\nc_grid = [0.01, 0.1, 1.0]\nclass_weight = \"balanced\"\ncv_folds = 3\n[output]\ndir = {:?}\n{extra}\n",
            remote_url(),
            src.display().to_string(),
            dir.join("out").display().to_string()
        ),
    )
    .unwrap();
    cfg
}

/// The files of the run staged under out/runs/<id>/, relative names.
fn staged_files(out: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_summary.json")).unwrap()).unwrap();
    let id = summary["run_id"].as_str().unwrap().to_string();
    let dir = out.join("runs").join(&id);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    (id, files)
}

/// The MLflow run of the experiment whose tag `rarecall.run_id` is `id`.
fn find_run(uri: &str, experiment: &str, id: &str) -> serde_json::Value {
    let exp = get_json(
        uri,
        &format!("api/2.0/mlflow/experiments/get-by-name?experiment_name={experiment}"),
    );
    let exp_id = exp["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = Command::new("curl")
        .args([
            "-fsS",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            &serde_json::json!({
                "experiment_ids": [exp_id],
                "filter": format!("tags.`rarecall.run_id` = '{id}'"),
            })
            .to_string(),
            &format!("{uri}/api/2.0/mlflow/runs/search"),
        ])
        .output()
        .unwrap();
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = found["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 1, "one MLflow run tagged {id}: {found}");
    runs[0].clone()
}

/// Checks a recorded run: FINISHED, its params, test AP, the CV curve with steps, and
/// every staged file as an artifact, byte for byte.
fn assert_recorded(uri: &str, run: &serde_json::Value, files: &[(String, Vec<u8>)], out: &Path) {
    let info = &run["info"];
    assert_eq!(info["status"], "FINISHED", "{run}");
    let run_id = info["run_id"].as_str().unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_summary.json")).unwrap()).unwrap();
    let param = |k: &str| {
        run["data"]["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == k)
            .map(|p| p["value"].as_str().unwrap().to_string())
    };
    assert_eq!(param("seed").as_deref(), Some("42"));
    assert_eq!(param("c_grid").as_deref(), Some("[0.01,0.1,1.0]"));
    assert_eq!(
        param("target_precision"),
        Some(summary["parameters"]["target_precision"].to_string())
    );
    let metric = |k: &str| {
        get_json(
            uri,
            &format!("api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key={k}"),
        )["metrics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let ap = metric("test_average_precision");
    assert_eq!(ap.len(), 1, "{ap:?}");
    assert_eq!(
        ap[0]["value"].as_f64(),
        summary["test"]["average_precision"].as_f64()
    );
    // The CV curve: step i = the i-th C of the grid, ascending.
    let mut cs = metric("cv_c_balanced");
    cs.sort_by_key(|m| m["step"].as_i64());
    let steps: Vec<(i64, f64)> = cs
        .iter()
        .map(|m| (m["step"].as_i64().unwrap(), m["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(steps, [(0, 0.01), (1, 0.1), (2, 1.0)]);
    let mut aps = metric("cv_mean_ap_balanced");
    aps.sort_by_key(|m| m["step"].as_i64());
    for (i, e) in summary["model"]["cv"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(aps[i]["value"].as_f64(), e["mean_ap"].as_f64(), "step {i}");
    }
    // Every file: listed, and the same bytes.
    let listed = get_json(
        uri,
        &format!("api/2.0/mlflow/artifacts/list?run_id={run_id}"),
    );
    let mut names: Vec<String> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    let want: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, want);
    let root = info["artifact_uri"].as_str().unwrap();
    let root = root.strip_prefix("mlflow-artifacts:/").unwrap_or(root);
    for (name, bytes) in files {
        let got = get_bytes(
            uri,
            &format!("api/2.0/mlflow-artifacts/artifacts/{root}/{name}"),
        );
        assert!(
            &got == bytes,
            "artifact {name} differs from the output file"
        );
    }
}

#[test]
fn run_is_recorded_with_params_metrics_and_every_file() {
    let uri = mlflow_uri();
    let dir = temp_dir("mlflow-run");
    let experiment = format!("rarecall-test-{}", std::process::id());
    let cfg = job(
        &dir,
        &format!(
            "[mlflow]\ntracking_uri = {uri:?}\nexperiment = {experiment:?}\nrequired = true\nregister_as = {experiment:?}\n"
        ),
    );
    let out = rarecall(&["run", "--config", cfg.to_str().unwrap()], &dir, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("mlflow run "), "{stdout}");
    let (id, files) = staged_files(&dir.join("out"));
    let run = find_run(&uri, &experiment, &id);
    assert_recorded(&uri, &run, &files, &dir.join("out"));
    let tags = run["data"]["tags"].as_array().unwrap();
    let tag = |k: &str| {
        tags.iter()
            .find(|t| t["key"] == k)
            .map(|t| t["value"].clone())
    };
    assert_eq!(tag("rarecall.command"), Some("run".into()));
    assert!(tag("rarecall.spark_version").is_some(), "{tags:?}");
    // register_as: model.json is version 1 of the registered model, from this run.
    assert!(stdout.contains("model version 1"), "{stdout}");
    let v = get_json(
        &uri,
        &format!("api/2.0/mlflow/model-versions/get?name={experiment}&version=1"),
    );
    assert_eq!(v["model_version"]["run_id"], run["info"]["run_id"], "{v}");
    assert!(
        v["model_version"]["source"]
            .as_str()
            .unwrap()
            .ends_with("/model.json"),
        "{v}"
    );
}

#[test]
fn server_down_warns_or_fails_after_the_outputs_then_mlflow_log_records_them() {
    let uri = mlflow_uri();
    // A port nothing listens on: bind one and let it go.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    for required in [false, true] {
        let dir = temp_dir("mlflow-down");
        let cfg = job(
            &dir,
            &format!("[mlflow]\ntracking_uri = {down:?}\nrequired = {required}\n"),
        );
        let out = rarecall(&["run", "--config", cfg.to_str().unwrap()], &dir, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The outputs are complete either way.
        let (id, files) = staged_files(&dir.join("out"));
        assert!(files.iter().any(|(n, _)| n == "model.json"));
        assert!(dir.join("out/outreach_runs_log.csv").is_file());
        let endpoint = format!("{down}/api/2.0/mlflow/experiments/get-by-name");
        if required {
            assert_eq!(out.status.code(), Some(2), "{stderr}");
            assert!(
                stderr.contains("error:") && stderr.contains(&endpoint),
                "{stderr}"
            );
            assert!(stderr.contains("no answer"), "{stderr}");
            // Later, with the server up: `rarecall mlflow log` records that run.
            let experiment = format!("rarecall-later-{}", std::process::id());
            let run_dir = dir.join("out").join("runs").join(&id);
            let out = rarecall(
                &[
                    "mlflow",
                    "log",
                    "--run-dir",
                    dir.join("out").to_str().unwrap(),
                    "--mlflow-uri",
                    &uri,
                    "--experiment",
                    &experiment,
                ],
                &dir,
                &[],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let run = find_run(&uri, &experiment, &id);
            assert_recorded(&uri, &run, &files, &dir.join("out"));
            assert!(run_dir.is_dir());
        } else {
            assert!(out.status.success(), "{stderr}");
            let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("MLflow")).collect();
            assert_eq!(warnings.len(), 1, "one warning: {stderr}");
            assert!(
                warnings[0].contains(&endpoint) && warnings[0].contains("mlflow log --run-dir"),
                "{stderr}"
            );
        }
    }
}
