//! Configuration in two phases: the raw TOML file and flags become a checked
//! [`Config`] with nothing left to unwrap.
//!
//! Precedence: CLI flag > TOML key > built-in default; for the connection, the
//! environment also counts (see `remote`). Relative paths are taken from the current
//! directory, as the shell that runs rarecall sees them, and made absolute before they
//! reach Spark (a local Spark server has its own working directory).
//!
//! - `raw`: what the TOML file may say (`Raw*`, unknown keys refused with the closest
//!   known key as a suggestion);
//! - `merge`: flag > TOML > default, text parsed into types ([`Settings`]);
//! - `keys`: the params built from the pipeline and checked once by their own
//!   `check` (the ranges live there, not here); a refused parameter becomes the config
//!   error of its TOML key and flag.

mod keys;
mod merge;
mod output_table;
mod raw;
mod session;
mod tracking;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::cli::{CommonArgs, RunArgs};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::model::ClassWeight;
use crate::remote::{self, Env, Remote, RemoteInputs};
use crate::rules::Rules;
use crate::train::TrainValidParams;

pub(crate) use keys::suggest_params;
pub(crate) use output_table::{OutputTable, TableMode};
use raw::{RawConfig, read_raw};
pub(crate) use session::key_path as session_conf_key;
pub(crate) use tracking::{load_mlflow, tracking_endpoint};

/// What happens to exact duplicate event rows (same member, interaction, time,
/// description, label and categoricals): real exports carry a few.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DuplicatePolicy {
    /// Keep one row of each set, count the dropped ones and warn (the default).
    Drop,
    /// Keep every row, count and warn.
    Keep,
    /// Refuse the source.
    Error,
}

/// The C grid searched when `model.c_grid` is not set: wide enough on both sides
/// that the demo's best C is inside it.
pub(crate) const DEFAULT_C_GRID: [f64; 8] = [1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0];

// ---- checked -----------------------------------------------------------------------

/// Where the raw events come from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// A path (local, `/Volumes/...`, or a URL the Spark server can read) and format.
    Path { path: String, format: SourceFormat },
    /// A table name, `catalog.schema.table` (each part back-quoted when rendered).
    Table { parts: Vec<Ident> },
}

impl Source {
    /// A human name for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::Path { path, format } => format!("{} ({})", path, format.as_str()),
            Source::Table { parts } => parts.iter().map(|p| p.raw()).collect::<Vec<_>>().join("."),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceFormat {
    Parquet,
    Csv,
    Json,
    Delta,
}

impl SourceFormat {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Parquet => "parquet",
            SourceFormat::Csv => "csv",
            SourceFormat::Json => "json",
            SourceFormat::Delta => "delta",
        }
    }
}

/// Source column names for each role, validated as identifiers.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMap {
    pub(crate) member_id: Ident,
    pub(crate) interaction_id: Ident,
    pub(crate) event_ts: Ident,
    pub(crate) description: Ident,
    pub(crate) label: Ident,
    /// Source column and the standard name it gets (`cat_<snake_case>`).
    pub categoricals: Vec<(Ident, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelSettings {
    pub(crate) c_grid: Vec<f64>,
    /// The class weights searched with the C grid: one when `model.class_weight` is
    /// set, else `balanced` and `none`.
    pub(crate) class_weights: Vec<ClassWeight>,
    pub(crate) cv_folds: usize,
    /// Length of the forward validation slice at the end of the training window, on
    /// which the operating threshold is chosen (days).
    pub(crate) validation_days: u32,
    /// Gap between the rows the validation model is fitted on and the validation
    /// slice (days), so that the slice is scored by a model as stale as production's.
    pub(crate) embargo_days: u32,
    /// The challenger trained beside the logistic model (`model.challenger = "gbdt"`,
    /// default none) with its `[gbdt]` parameters.
    pub(crate) challenger: Option<crate::model::GbdtParams>,
    /// The published model (`model.primary = "logistic" | "gbdt"`, default logistic);
    /// with "gbdt" the trees are trained (as `challenger`) and the logistic model is
    /// the other row of the comparison.
    pub(crate) primary: crate::model::Primary,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ThresholdSettings {
    pub(crate) target_precision: f64,
    /// `None` = no cap.
    pub(crate) threshold_cap: Option<usize>,
    pub(crate) top_k: usize,
    /// Confidence of the lower bound of precision that must meet the floor.
    pub(crate) confidence: f64,
    /// Member-level bootstrap replicates behind that bound and the test intervals.
    pub(crate) bootstrap_rounds: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeatureSettings {
    pub(crate) top_n_descriptions: usize,
    pub(crate) min_support: usize,
    /// How far back the history features look (days); also the gap that stands for
    /// "no earlier event".
    pub(crate) history_days: u32,
    /// The first days of the data are history only: their interactions are not
    /// training rows, since their rolling counts and history are truncated.
    pub(crate) burn_in_days: u32,
    /// Token flags: the most frequent description words (0: none).
    pub(crate) top_n_tokens: usize,
    /// Descriptions crossed with each history condition (0: no crosses).
    pub(crate) cross_descriptions: usize,
    /// The scale of the categorical target encodings.
    pub(crate) target_encoding: crate::encode::TargetScale,
}

/// Everything the Spark SQL pipeline and the Rust stages need, without the connection.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) source: Source,
    pub columns: ColumnMap,
    pub(crate) rules: Rules,
    pub(crate) split_boundary: NaiveDate,
    pub(crate) neg_pos_ratio: f64,
    pub(crate) seed: i64,
    /// What to do with exact duplicate event rows.
    pub(crate) duplicate_events: DuplicatePolicy,
    pub(crate) features: FeatureSettings,
    pub(crate) model: ModelSettings,
    pub(crate) threshold: ThresholdSettings,
    /// PSI above which drift is warned about (`drift.psi_warn`, `--drift-psi-warn`).
    pub(crate) psi_warn: f64,
}

impl Settings {
    /// The split boundary as microseconds since the epoch (midnight UTC).
    pub(crate) fn split_boundary_micros(&self) -> i64 {
        self.split_boundary
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or_default()
    }
}

/// Interactions per part of the feature pull (`spark.pull_part_rows`). Spark
/// collects a query's result in the driver and refuses one whose serialized rows
/// exceed `spark.driver.maxResultSize` (1 GiB by default): a 3M-member pull in one
/// query sent 1,096 MiB and failed. At about 110 bytes a row, 2M rows are some
/// 220 MB, well under it.
pub(crate) const DEFAULT_PULL_PART_ROWS: i64 = 2_000_000;

/// The checked configuration of `run` and `check`.
#[derive(Debug, Clone)]
pub struct Config {
    pub remote: Remote,
    /// How long a lost server may stay unreachable before the running stage fails.
    pub(crate) reconnect_grace_secs: u64,
    /// Where Spark writes a run's intermediate Parquet (`spark.scratch_dir`; by default
    /// the system temp folder when the server is on this machine), or None: then the
    /// views are recomputed by each query that reads them.
    pub(crate) scratch_dir: Option<String>,
    /// The feature pull takes one query per this many interactions read (parts of
    /// members), so no single result reaches the driver's `maxResultSize`.
    pub(crate) pull_part_rows: i64,
    /// Session-level settings from `[spark.conf]`, applied right after connecting
    /// (key order); the cluster's settings are otherwise left alone.
    pub(crate) spark_conf: Vec<(String, String)>,
    /// Workspace credentials for Volume destinations, when there is a workspace.
    pub(crate) databricks: Option<remote::DatabricksCredentials>,
    pub timeout_secs: u64,
    pub settings: Settings,
    /// The training parameters of `settings`, checked (what `train::train` takes).
    pub train: TrainValidParams,
    pub(crate) output_dir: String,
    /// The Spark table the outreach list is also written to (`output.table`), after
    /// the files.
    pub(crate) output_table: Option<OutputTable>,
    /// MLflow tracking (`[mlflow]`, `--mlflow-uri`, `MLFLOW_TRACKING_URI`); `None`: off.
    pub(crate) mlflow: Option<crate::mlflow::MlflowSettings>,
    /// The profile named by `--profile` or `spark.profile` (MLflow on Databricks
    /// signs in with it unless its URI names another).
    pub(crate) profile: Option<String>,
    pub(crate) host_flag: Option<String>,
    /// The Databricks sign-in of a Databricks remote (its PAT, OAuth M2M or CLI
    /// login): Spark Connect asks it for a token on every call.
    pub(crate) signin: Option<std::sync::Arc<crate::auth::TokenProvider>>,
}

/// Builds the settings only: what `check --dry-run` needs, no connection.
pub(crate) fn load_settings(common: &CommonArgs, run: Option<&RunArgs>) -> Result<Settings> {
    let raw = read_raw(&common.config)?;
    Ok(settings_from(&raw, common, run)?.0)
}

/// Builds the full configuration, resolving the Spark Connect remote.
pub fn load(common: &CommonArgs, run: Option<&RunArgs>, env: &Env) -> Result<Config> {
    let raw = read_raw(&common.config)?;
    let (settings, train) = settings_from(&raw, common, run)?;
    let remote = remote::resolve(
        &RemoteInputs {
            remote_flag: common.remote.clone(),
            profile_flag: common.profile.clone(),
            host_flag: common.host.clone(),
            cluster_id_flag: common.cluster_id.clone(),
            serverless_flag: common.serverless,
            remote_config: raw.spark.remote.clone(),
            profile_config: raw.spark.profile.clone(),
        },
        env,
    )?;
    let timeout_secs = common
        .timeout_secs
        .or(raw.spark.timeout_secs)
        .unwrap_or(900);
    if timeout_secs == 0 {
        return Err(Error::config(
            "spark.timeout_secs",
            "a number of seconds > 0",
            0,
            "set spark.timeout_secs (or --timeout-secs) to a positive number",
        ));
    }
    let output_dir = common
        .out
        .clone()
        .or(raw.output.dir.clone())
        .unwrap_or_else(|| "out".to_string());
    let output_dir = absolutize(&output_dir);
    let reconnect_grace_secs = raw.spark.reconnect_grace_secs.unwrap_or(30);
    let pull_part_rows = raw.spark.pull_part_rows.unwrap_or(DEFAULT_PULL_PART_ROWS);
    if pull_part_rows < 1 {
        return Err(Error::config(
            "spark.pull_part_rows",
            "a number of interactions >= 1",
            pull_part_rows,
            format!(
                "remove spark.pull_part_rows (default {DEFAULT_PULL_PART_ROWS}) or set a positive number; lower it when the cluster's spark.driver.maxResultSize is small"
            ),
        ));
    }
    let mlflow = tracking::mlflow_settings(&raw.mlflow, common.mlflow_uri.as_deref(), None)?;
    let scratch_dir = match raw.spark.scratch_dir.as_deref() {
        Some("") => None,
        Some(dir) => Some(absolutize(dir)),
        None if remote.is_loopback() => Some(
            std::env::temp_dir()
                .join("rarecall-scratch")
                .to_string_lossy()
                .into_owned(),
        ),
        None => None,
    };
    Ok(Config {
        spark_conf: session::session_conf(raw.spark.conf.as_ref())?,
        output_table: output_table::output_table(&raw.output)?,
        mlflow,
        signin: tracking::workspace_signin(&remote, env)?,
        profile: common.profile.clone().or(raw.spark.profile.clone()),
        host_flag: common.host.clone(),
        reconnect_grace_secs,
        scratch_dir,
        pull_part_rows,
        databricks: remote::databricks_credentials(&remote, env),
        remote,
        timeout_secs,
        settings,
        train,
        output_dir,
    })
}

/// The merged settings with every parameter checked, and its checked training
/// parameters.
fn settings_from(
    raw: &RawConfig,
    common: &CommonArgs,
    run: Option<&RunArgs>,
) -> Result<(Settings, TrainValidParams)> {
    let settings = merge::merge(raw, common, run)?;
    let train = keys::check_params(&settings)?;
    Ok((settings, train))
}

/// ASCII snake case: letters and digits kept (lower-cased), everything else one `_`.
pub(crate) fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// Makes a plain relative path absolute; URLs (`s3://`, `dbfs:/`), `/Volumes/...` and
/// absolute paths pass through unchanged.
pub(crate) fn absolutize(p: &str) -> String {
    if p.contains("://") || p.starts_with("dbfs:") || Path::new(p).is_absolute() {
        return p.to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(p).to_string_lossy().into_owned(),
        Err(_) => p.to_string(),
    }
}

fn inline_args() -> CommonArgs {
    CommonArgs {
        config: PathBuf::from("<inline>"),
        ..Default::default()
    }
}

/// For tests: parse a TOML text into a pipeline with default flags.
pub fn settings_from_toml(text: &str) -> Result<Settings> {
    let raw = raw::parse_raw(text, Path::new("<inline>"))?;
    Ok(settings_from(&raw, &inline_args(), None)?.0)
}

/// [`settings_from_toml`] before the parameters are checked.
#[cfg(test)]
fn merged_from_toml(text: &str) -> Result<Settings> {
    let raw = raw::parse_raw(text, Path::new("<inline>"))?;
    merge::merge(&raw, &inline_args(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_warn_is_flag_then_key_then_default_and_must_be_positive() {
        let file = "[source]\npath = \"/data/e.parquet\"\n";
        assert_eq!(settings_from_toml(file).unwrap().psi_warn, 0.2);
        let keyed = format!("{file}[drift]\npsi_warn = 0.35\n");
        assert_eq!(settings_from_toml(&keyed).unwrap().psi_warn, 0.35);
        let raw = raw::parse_raw(&keyed, Path::new("<inline>")).unwrap();
        let flags = CommonArgs {
            drift_psi_warn: Some(0.5),
            ..inline_args()
        };
        assert_eq!(merge::merge(&raw, &flags, None).unwrap().psi_warn, 0.5);
        for bad in ["0", "-0.1", "nan"] {
            let e = settings_from_toml(&format!("{file}[drift]\npsi_warn = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("drift.psi_warn") && e.contains("--drift-psi-warn"),
                "{e}"
            );
        }
    }

    #[test]
    fn defaults_fill_a_minimal_file() {
        let p = settings_from_toml("[source]\npath = \"/data/e.parquet\"\n").unwrap();
        assert_eq!(p.columns.description.raw(), "pydescription");
        assert_eq!(p.columns.categoricals[0].1, "cat_channel");
        assert_eq!(p.threshold.target_precision, 0.40);
        assert_eq!(p.threshold.threshold_cap, None);
        assert_eq!(
            p.model.class_weights,
            vec![ClassWeight::Balanced, ClassWeight::None]
        );
        assert_eq!(p.threshold.confidence, 0.9);
        assert_eq!(p.model.validation_days, 60);
        assert_eq!(p.features.burn_in_days, 90);
        assert_eq!(p.split_boundary_micros(), 1_727_740_800_000_000);
    }

    /// `model.primary = "gbdt"` trains the trees (with the [gbdt] values) even without
    /// `model.challenger`; the default publishes the logistic model and trains none.
    #[test]
    fn primary_gbdt_trains_the_trees() {
        use crate::model::Primary;
        let p = settings_from_toml("[source]\npath = \"/e\"\n").unwrap();
        assert_eq!(
            (p.model.primary, p.model.challenger),
            (Primary::Logistic, None)
        );
        let p = settings_from_toml(
            "[source]\npath = \"/e\"\n[model]\nprimary = \"gbdt\"\n[gbdt]\nmax_depth = 3\nthreads = 1\n",
        )
        .unwrap();
        assert_eq!(p.model.primary, Primary::Gbdt);
        let g = p.model.challenger.unwrap();
        assert_eq!((g.max_depth, g.threads), (3, 1));
    }

    #[test]
    fn unparseable_values_name_the_key() {
        // Ranges: `keys::tests`; here the text config parses into types.
        for (toml, key) in [
            (
                "[model]\nsplit_boundary = \"01/10/2024\"",
                "model.split_boundary",
            ),
            ("[model]\nclass_weight = \"heavy\"", "model.class_weight"),
            (
                "[data]\nduplicate_events = \"fix\"",
                "data.duplicate_events",
            ),
            (
                "[features]\ntarget_encoding = \"odds\"",
                "features.target_encoding",
            ),
            // Right after `path`, so still in [source].
            ("format = \"xlsx\"", "source.format"),
            ("[model]\nprimary = \"forest\"", "model.primary"),
            ("[model]\nchallenger = \"logistic\"", "model.challenger"),
        ] {
            let text = format!("[source]\npath = \"/e\"\n{toml}\n");
            let e = settings_from_toml(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
    }

    #[test]
    fn upper_case_mapping_and_extra_categoricals() {
        let p = settings_from_toml(
            "[source]\ntable = \"main.cx.events\"\n[columns]\nmember_id = \"MEMBER_ID\"\ninteraction_id = \"INTERACTION_ID\"\nevent_ts = \"EVENT_TS\"\ndescription = \"PYDESCRIPTION\"\nlabel = \"ESCALATED\"\ncategoricals = [\"CHANNEL\", \"REGION\", \"PLAN_TYPE\"]\n",
        )
        .unwrap();
        let names: Vec<_> = p
            .columns
            .categoricals
            .iter()
            .map(|c| c.1.as_str())
            .collect();
        assert_eq!(names, ["cat_channel", "cat_region", "cat_plan_type"]);
        assert_eq!(p.source.describe(), "main.cx.events");
    }

    #[test]
    fn duplicate_roles_are_refused() {
        let e = settings_from_toml(
            "[source]\npath = \"/e\"\n[columns]\nmember_id = \"x\"\ninteraction_id = \"X\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("distinct"), "{e}");
    }

    #[test]
    fn explicit_class_weight() {
        let p = settings_from_toml(
            "[source]\npath = \"/e\"\n[model]\nclass_weight = { positive = 5.0 }\n",
        )
        .unwrap();
        assert_eq!(
            p.model.class_weights,
            vec![ClassWeight::Explicit {
                positive: 5.0,
                negative: 1.0
            }]
        );
    }
}
