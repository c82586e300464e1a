//! The only user of MLflow: every `run` and `score` recorded as an MLflow run (params,
//! metrics with steps, tags, every output file as an artifact), through the tracking
//! REST API 2.0 of an OSS server or a Databricks workspace.
//!
//! - `client`: the typed REST client (experiments, runs, log-batch, artifact PUTs);
//! - `batch`: the server's limits on one log-batch request, and the chunking (pure);
//! - `record`: what a run records, from the files it wrote (pure);
//! - `artifacts`: where a run's artifact root is and the uploads.
//!
//! Tracking starts after the outputs are written, so a tracking failure never costs
//! an output: [`settle`] turns it into one warning (or, with `mlflow.required = true`,
//! the command's error), and `rarecall mlflow log --run-dir` records the run later.

mod artifacts;
mod batch;
mod client;
pub(crate) mod record;

use std::sync::Arc;

use serde_json::json;

use crate::auth::TokenProvider;
use crate::error::{Error, Result};
use client::{Client, Outcome};
pub(crate) use record::RunRecord;

/// Where tracking goes (the checked `[mlflow]` section with `--mlflow-uri` and
/// `MLFLOW_TRACKING_URI`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrackingUri {
    /// An OSS tracking server, `http(s)://host[:port][/prefix]` (no user or password).
    Http(String),
    /// `databricks` or `databricks://<profile>`: the workspace of the Databricks
    /// sign-in (that profile's, else the one the connection uses).
    Databricks { profile: Option<String> },
}

/// The checked `[mlflow]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MlflowSettings {
    pub(crate) uri: TrackingUri,
    /// Experiment name (`/Shared/...` or `/Users/...` on Databricks).
    pub(crate) experiment: String,
    /// A tracking failure fails the command (after the outputs are written).
    pub(crate) required: bool,
    /// The MLflow run name; default `rarecall-<command>-<rarecall run id>`.
    pub(crate) run_name: Option<String>,
    /// Register `model.json` of a `run` as a new version of this registered model.
    pub(crate) register_as: Option<String>,
}

/// Where a tracked run is.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub(crate) experiment_id: String,
    pub(crate) run_id: String,
    /// The run's page in the MLflow UI.
    pub(crate) url: String,
    /// Artifacts uploaded.
    pub(crate) artifacts: usize,
    /// The registered model version, when `register_as` is set.
    pub(crate) model_version: Option<String>,
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Records one run: finds or creates the experiment, creates the run with its tags,
/// logs params and metrics, uploads every file, registers the model when asked, and
/// ends the run `FINISHED`. A failure after the run exists ends it `FAILED` (best
/// effort) and is returned.
pub(crate) fn track(
    s: &MlflowSettings,
    base_url: &str,
    auth: Option<Arc<TokenProvider>>,
    record: RunRecord,
) -> Result<Tracked> {
    let client = Client::new(base_url, auth)?;
    let experiment_id = client.experiment_id(&s.experiment)?;
    let name = s
        .run_name
        .clone()
        .unwrap_or_else(|| format!("rarecall-{}-{}", record.command, record.rarecall_run_id));
    let info = client.create_run(&experiment_id, Some(&name), now_ms(), &record.tags(&name))?;
    let logged = (|| -> Result<Tracked> {
        client.log_batch(&info.run_id, record.batch.clone())?;
        let root = artifacts::ArtifactRoot::parse(&info.artifact_uri)?;
        artifacts::upload(&client, &root, &record.files)?;
        let model_version = match (&s.register_as, record.command) {
            (Some(model), "run") => Some(register(&client, model, &info)?),
            _ => None,
        };
        Ok(Tracked {
            url: format!(
                "{}/#/experiments/{}/runs/{}",
                client.base(),
                info.experiment_id,
                info.run_id
            ),
            experiment_id: experiment_id.clone(),
            run_id: info.run_id.clone(),
            artifacts: record.files.len(),
            model_version,
        })
    })();
    match logged {
        Ok(t) => {
            client.end_run(&info.run_id, "FINISHED", now_ms())?;
            Ok(t)
        }
        Err(e) => {
            let _ = client.end_run(&info.run_id, "FAILED", now_ms());
            Err(e)
        }
    }
}

/// Registers the run's `model.json` as a new version of `model` (the registered model
/// is created when missing). Returns the version.
fn register(client: &Client, model: &str, info: &client::RunInfo) -> Result<String> {
    client.post("registered-models/create", json!({ "name": model }))?;
    let created = client.post(
        "model-versions/create",
        json!({
            "name": model,
            "source": format!("{}/model.json", info.artifact_uri.trim_end_matches('/')),
            "run_id": info.run_id,
        }),
    )?;
    match created {
        Outcome::Ok(v) => v["model_version"]["version"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| Error::Tracking {
                endpoint: format!("{}/api/2.0/mlflow/model-versions/create", client.base()),
                status: "the answer has no model_version.version".into(),
                fix: "check that the server has a model registry".into(),
            }),
        _ => Err(Error::Tracking {
            endpoint: format!("{}/api/2.0/mlflow/model-versions/create", client.base()),
            status: format!("registered model {model:?} could not be found or created"),
            fix: "check mlflow.register_as and your permissions on the registry".into(),
        }),
    }
}

/// The tracking failure policy: with `required`, the error; without, one warning that
/// names the endpoint and status, and `Ok(None)`. `run_dir` is the folder
/// `rarecall mlflow log --run-dir` records later (`None` for `score`, whose record
/// cannot be rebuilt from its files).
pub(crate) fn settle(
    result: Result<Tracked>,
    required: bool,
    run_dir: Option<&str>,
) -> Result<Option<Tracked>> {
    match result {
        Ok(t) => Ok(Some(t)),
        Err(e) if required => Err(e),
        Err(e) => {
            let later = match run_dir {
                Some(d) => format!("record them later with `rarecall mlflow log --run-dir {d}`"),
                None => "this scoring run is not in MLflow".to_string(),
            };
            tracing::warn!(
                "MLflow tracking failed: {e}. The outputs are complete; {later} (mlflow.required = true makes this an error)"
            );
            Ok(None)
        }
    }
}
