//! `rarecall mlflow log --run-dir <dir>`: records a run that is already written (its
//! tracking failed, or was off) as an MLflow run, from its files alone; and the
//! tracking step `run` and `score` take after their outputs are written.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::MlflowLogArgs;
use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::mlflow::{self, RunRecord};
use crate::remote::Env;

use super::common::{NamedFiles, SUMMARY_FILE};

/// `rarecall mlflow log`: the run folder's files and summary, recorded; any failure
/// is the command's error (this command exists to record).
pub fn mlflow_log(args: &MlflowLogArgs) -> anyhow::Result<()> {
    let env = Env::from_process();
    let s = config::load_mlflow(
        args.config.as_deref(),
        args.mlflow_uri.as_deref(),
        args.experiment.as_deref(),
    )
    .context("configuration")?;
    let (dir, files) = run_files(&args.run_dir)?;
    let summary = files
        .iter()
        .find(|(n, _)| n == SUMMARY_FILE)
        .map(|(_, b)| b.clone())
        .unwrap_or_default();
    let record = mlflow::record::for_run(
        &summary,
        files,
        &[],
        &dir.display().to_string(),
        mlflow::now_ms(),
    )?;
    let (base, auth) = config::tracking_endpoint(&s, &env, args.profile.as_deref(), None)?;
    let t = mlflow::track(&s, &base, auth, record)?;
    print_tracked(&t, &s.experiment);
    Ok(())
}

/// The tracking step of `run` and `score`, after their outputs are written: records
/// the run when `[mlflow]` is configured; a failure is a warning unless
/// `mlflow.required` (see `mlflow::settle`).
pub(super) fn track_written(
    cfg: &Config,
    record: impl FnOnce() -> Result<RunRecord>,
    run_dir: Option<&str>,
) -> Result<()> {
    let Some(s) = &cfg.mlflow else {
        return Ok(());
    };
    let result = record().and_then(|record| {
        let (base, auth) = config::tracking_endpoint(
            s,
            &Env::from_process(),
            cfg.profile.as_deref(),
            cfg.host_flag.as_deref(),
        )?;
        mlflow::track(s, &base, auth, record)
    });
    if let Some(t) = mlflow::settle(result, s.required, run_dir)? {
        print_tracked(&t, &s.experiment);
    }
    Ok(())
}

/// The tracking step of `run`: its record from the files it wrote (`run_summary.json`
/// among them) and its stage timings.
pub(super) fn track_run(
    cfg: &Config,
    run_id: &str,
    files: Vec<(String, Vec<u8>)>,
    timings: &[(String, f64)],
) -> Result<()> {
    let out = cfg.output_dir.trim_end_matches('/');
    let record = || {
        let summary = files
            .iter()
            .find(|(n, _)| n == SUMMARY_FILE)
            .map(|(_, b)| b.clone())
            .unwrap_or_default();
        mlflow::record::for_run(&summary, files, timings, out, mlflow::now_ms())
    };
    track_written(cfg, record, Some(&format!("{out}/runs/{run_id}")))
}

fn print_tracked(t: &mlflow::Tracked, experiment: &str) {
    println!(
        "mlflow run {} in experiment {experiment} (id {}): {} artifacts{}; {}",
        t.run_id,
        t.experiment_id,
        t.artifacts,
        t.model_version
            .as_ref()
            .map(|v| format!(", model version {v}"))
            .unwrap_or_default(),
        t.url
    );
}

/// The folder holding exactly one run's files, and those files (relative names with
/// `/`, sorted): `<dir>/runs/<run_id>/` when `dir` is an output folder whose
/// `run_summary.json` names a run staged there, else `dir` itself.
fn run_files(dir: &Path) -> Result<(PathBuf, NamedFiles)> {
    let missing = |problem: String| {
        Error::Tracking {
        endpoint: "(mlflow log)".into(),
        status: problem,
        fix: "pass --run-dir the output folder of a `rarecall run` (output.dir) or its runs/<run_id>/ folder".into(),
    }
    };
    let summary = std::fs::read(dir.join(SUMMARY_FILE)).map_err(|e| {
        missing(format!(
            "{} cannot be read ({e})",
            dir.join(SUMMARY_FILE).display()
        ))
    })?;
    let run_id = serde_json::from_slice::<serde_json::Value>(&summary)
        .ok()
        .and_then(|v| v["run_id"].as_str().map(String::from));
    let staged = run_id.map(|id| dir.join("runs").join(id));
    let root = match staged {
        Some(s) if s.join(SUMMARY_FILE).is_file() => s,
        _ => dir.to_path_buf(),
    };
    let mut files = Vec::new();
    collect(&root, "", &mut files).map_err(|e| missing(format!("{} ({e})", root.display())))?;
    files.sort();
    Ok((root, files))
}

/// Every regular file below `dir` (the appended logs' `.rows` folders and the staged
/// `runs/` of other runs are not part of one run).
fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if prefix.is_empty() && (name == "runs" || name.ends_with(".rows")) {
                continue;
            }
            collect(&entry.path(), &format!("{rel}/"), out)?;
        } else if kind.is_file() && !name.starts_with(".rarecall") {
            out.push((rel, std::fs::read(entry.path())?));
        }
    }
    Ok(())
}
