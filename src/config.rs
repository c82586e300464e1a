//! Configuration in two phases: the raw TOML file and flags become a checked
//! [`Config`] with nothing left to unwrap.
//!
//! Precedence: CLI flag > TOML key > built-in default; for the connection, the
//! environment also counts (see `remote`). Relative paths are taken from the current
//! directory, as the shell that runs rarecall sees them, and made absolute before they
//! reach Spark (a local Spark server has its own working directory).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::cli::{CommonArgs, RunArgs};
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::model::ClassWeight;
use crate::remote::{self, Env, Remote, RemoteInputs};
use crate::rules::Rules;

// ---- raw: what the TOML file may say ---------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    spark: RawSpark,
    #[serde(default)]
    source: RawSource,
    #[serde(default)]
    columns: RawColumns,
    #[serde(default)]
    normalization: RawNormalization,
    #[serde(default)]
    features: RawFeatures,
    #[serde(default)]
    model: RawModel,
    #[serde(default)]
    threshold: RawThreshold,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    data: RawData,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    duplicate_events: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpark {
    remote: Option<String>,
    profile: Option<String>,
    timeout_secs: Option<u64>,
    reconnect_grace_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    path: Option<String>,
    table: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumns {
    member_id: Option<String>,
    interaction_id: Option<String>,
    event_ts: Option<String>,
    description: Option<String>,
    label: Option<String>,
    categoricals: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNormalization {
    rules: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeatures {
    top_n_descriptions: Option<usize>,
    min_support: Option<usize>,
    history_days: Option<u32>,
    burn_in_days: Option<u32>,
    top_n_tokens: Option<usize>,
    cross_descriptions: Option<usize>,
    target_encoding: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    split_boundary: Option<String>,
    target_neg_pos_member_ratio: Option<f64>,
    c_grid: Option<Vec<f64>>,
    class_weight: Option<RawClassWeight>,
    cv_folds: Option<usize>,
    seed: Option<i64>,
    validation_days: Option<u32>,
    embargo_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawClassWeight {
    Named(String),
    Explicit {
        positive: f64,
        #[serde(default)]
        negative: Option<f64>,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThreshold {
    target_precision: Option<f64>,
    threshold_cap: Option<usize>,
    top_k: Option<usize>,
    confidence: Option<f64>,
    bootstrap_rounds: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    dir: Option<String>,
}

/// What happens to exact duplicate event rows (same member, interaction, time,
/// description, label and categoricals): real exports carry a few.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// Keep one row of each set, count the dropped ones and warn (the default).
    Drop,
    /// Keep every row, count and warn.
    Keep,
    /// Refuse the source.
    Error,
}

/// The C grid searched when `model.c_grid` is not set: wide enough on both sides
/// that the demo's best C is inside it.
pub const DEFAULT_C_GRID: [f64; 8] = [1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0];

// ---- checked -----------------------------------------------------------------------

/// Where the raw events come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A path (local, `/Volumes/...`, or a URL the Spark server can read) and format.
    Path { path: String, format: SourceFormat },
    /// A table name, `catalog.schema.table` (each part back-quoted when rendered).
    Table { parts: Vec<Ident> },
}

impl Source {
    /// A human name for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Path { path, format } => format!("{} ({})", path, format.as_str()),
            Source::Table { parts } => parts.iter().map(|p| p.raw()).collect::<Vec<_>>().join("."),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Parquet,
    Csv,
    Json,
    Delta,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Parquet => "parquet",
            SourceFormat::Csv => "csv",
            SourceFormat::Json => "json",
            SourceFormat::Delta => "delta",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "parquet" => Ok(SourceFormat::Parquet),
            "csv" => Ok(SourceFormat::Csv),
            "json" => Ok(SourceFormat::Json),
            "delta" => Ok(SourceFormat::Delta),
            _ => Err(Error::config(
                "source.format",
                "one of parquet, csv, json, delta",
                format!("{s:?}"),
                "set source.format (or --format) to one of those",
            )),
        }
    }
}

/// Source column names for each role, validated as identifiers.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMap {
    pub member_id: Ident,
    pub interaction_id: Ident,
    pub event_ts: Ident,
    pub description: Ident,
    pub label: Ident,
    /// Source column and the standard name it gets (`cat_<snake_case>`).
    pub categoricals: Vec<(Ident, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    pub c_grid: Vec<f64>,
    /// The class weights searched with the C grid: one when `model.class_weight` is
    /// set, else `balanced` and `none`.
    pub class_weights: Vec<ClassWeight>,
    pub cv_folds: usize,
    /// Length of the forward validation slice at the end of the training window, on
    /// which the operating threshold is chosen (days).
    pub validation_days: u32,
    /// Gap between the rows the validation model is fitted on and the validation
    /// slice (days), so that the slice is scored by a model as stale as production's.
    pub embargo_days: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdSettings {
    pub target_precision: f64,
    /// `None` = no cap.
    pub threshold_cap: Option<usize>,
    pub top_k: usize,
    /// Confidence of the lower bound of precision that must meet the floor.
    pub confidence: f64,
    /// Member-level bootstrap replicates behind that bound and the test intervals.
    pub bootstrap_rounds: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSettings {
    pub top_n_descriptions: usize,
    pub min_support: usize,
    /// How far back the history features look (days); also the gap that stands for
    /// "no earlier event".
    pub history_days: u32,
    /// The first days of the data are history only: their interactions are not
    /// training rows, since their rolling counts and history are truncated.
    pub burn_in_days: u32,
    /// Token flags: the most frequent description words (0: none).
    pub top_n_tokens: usize,
    /// Descriptions crossed with each history condition (0: no crosses).
    pub cross_descriptions: usize,
    /// The scale of the categorical target encodings.
    pub target_encoding: crate::encode::TargetScale,
}

/// Everything the Spark SQL pipeline and the Rust stages need, without the connection.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub source: Source,
    pub columns: ColumnMap,
    pub rules: Rules,
    pub split_boundary: NaiveDate,
    pub neg_pos_ratio: f64,
    pub seed: i64,
    /// What to do with exact duplicate event rows.
    pub duplicate_events: DuplicatePolicy,
    pub features: FeatureSettings,
    pub model: ModelSettings,
    pub threshold: ThresholdSettings,
}

impl Pipeline {
    /// The split boundary as microseconds since the epoch (midnight UTC).
    pub fn split_boundary_micros(&self) -> i64 {
        self.split_boundary
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or_default()
    }
}

/// The checked configuration of `run` and `check`.
#[derive(Debug, Clone)]
pub struct Config {
    pub remote: Remote,
    /// How long a lost server may stay unreachable before the running stage fails.
    pub reconnect_grace_secs: u64,
    /// Workspace credentials for Volume destinations, when there is a workspace.
    pub databricks: Option<remote::DatabricksCredentials>,
    pub timeout_secs: u64,
    pub pipeline: Pipeline,
    pub output_dir: String,
}

/// Parses the TOML file, refusing unknown keys.
fn read_raw(path: &Path) -> Result<RawConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigFile {
        path: path.to_path_buf(),
        problem: e.to_string(),
        fix: "pass an existing TOML file with --config (see examples/demo.toml)".into(),
    })?;
    parse_raw(&text, path)
}

fn parse_raw(text: &str, path: &Path) -> Result<RawConfig> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().replace('\n', " ");
        let line = e
            .span()
            .map(|s| {
                format!(
                    " (line {})",
                    text[..s.start.min(text.len())].lines().count().max(1)
                )
            })
            .unwrap_or_default();
        let fix = match closest_known_key(&message) {
            Some((unknown, known)) => {
                format!("`{unknown}` is not a key here; did you mean `{known}`?")
            }
            None => "correct the TOML (keys and types are listed in examples/demo.toml)".into(),
        };
        Error::ConfigFile {
            path: path.to_path_buf(),
            problem: format!("{message}{line}"),
            fix,
        }
    })
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`"),
/// the known key closest to `x` by edit distance.
fn closest_known_key(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, rest) = rest.split_once('`')?;
    let known: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let best = known
        .iter()
        .min_by_key(|k| edit_distance(&unknown.to_ascii_lowercase(), &k.to_ascii_lowercase()))?;
    Some((unknown.to_string(), best.to_string()))
}

/// Levenshtein distance (insertions, deletions, substitutions each cost 1).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Builds the pipeline part only: what `check --dry-run` needs, no connection.
pub fn load_pipeline(common: &CommonArgs, run: Option<&RunArgs>) -> Result<Pipeline> {
    let raw = read_raw(&common.config)?;
    pipeline_from(&raw, common, run)
}

/// Builds the full configuration, resolving the Spark Connect remote.
pub fn load(common: &CommonArgs, run: Option<&RunArgs>, env: &Env) -> Result<Config> {
    let raw = read_raw(&common.config)?;
    let pipeline = pipeline_from(&raw, common, run)?;
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
    Ok(Config {
        reconnect_grace_secs,
        databricks: remote::databricks_credentials(&remote, env),
        remote,
        timeout_secs,
        pipeline,
        output_dir,
    })
}

fn pipeline_from(raw: &RawConfig, common: &CommonArgs, run: Option<&RunArgs>) -> Result<Pipeline> {
    let source = source_from(&raw.source, common)?;
    let columns = columns_from(&raw.columns)?;
    let rules = match &raw.normalization.rules {
        Some(p) => Rules::load(Path::new(p))?,
        None => Rules::default_rules()?,
    };

    let split_text = run
        .and_then(|r| r.split_boundary.clone())
        .or(raw.model.split_boundary.clone())
        .unwrap_or_else(|| "2024-10-01".to_string());
    let split_boundary = NaiveDate::parse_from_str(&split_text, "%Y-%m-%d").map_err(|_| {
        Error::config(
            "model.split_boundary",
            "a date YYYY-MM-DD",
            format!("{split_text:?}"),
            "write the boundary as for example \"2024-10-01\"",
        )
    })?;

    let neg_pos_ratio = run
        .and_then(|r| r.target_neg_pos_member_ratio)
        .or(raw.model.target_neg_pos_member_ratio)
        .unwrap_or(10.0);
    if !(neg_pos_ratio.is_finite() && neg_pos_ratio > 0.0 && neg_pos_ratio <= 1e6) {
        return Err(Error::config(
            "model.target_neg_pos_member_ratio",
            "a number in (0, 1e6]",
            neg_pos_ratio,
            "set the ratio of negative to positive members to keep, e.g. 10",
        ));
    }
    let seed = run.and_then(|r| r.seed).or(raw.model.seed).unwrap_or(42);

    let features = FeatureSettings {
        top_n_descriptions: raw.features.top_n_descriptions.unwrap_or(40),
        min_support: raw.features.min_support.unwrap_or(20),
        history_days: raw.features.history_days.unwrap_or(365),
        burn_in_days: raw.features.burn_in_days.unwrap_or(90),
        top_n_tokens: raw.features.top_n_tokens.unwrap_or(60),
        cross_descriptions: raw.features.cross_descriptions.unwrap_or(5),
        target_encoding: match raw.features.target_encoding.as_deref() {
            None | Some("logit") => crate::encode::TargetScale::Logit,
            Some("mean") => crate::encode::TargetScale::Mean,
            Some(other) => {
                return Err(Error::config(
                    "features.target_encoding",
                    "\"logit\" or \"mean\"",
                    format!("{other:?}"),
                    "use \"logit\" (log-odds, the default) or \"mean\" (scikit-learn's smoothed mean)",
                ));
            }
        },
    };
    if features.burn_in_days > 36_500 {
        return Err(Error::config(
            "features.burn_in_days",
            "a whole number of days from 0 to 36500",
            features.burn_in_days,
            "set how many first days of data serve as history only, e.g. 90",
        ));
    }
    if !(1..=36_500).contains(&features.history_days) {
        return Err(Error::config(
            "features.history_days",
            "a whole number of days from 1 to 36500",
            features.history_days,
            "set the look-back of the history features, e.g. 365",
        ));
    }
    if features.top_n_descriptions == 0 {
        return Err(Error::config(
            "features.top_n_descriptions",
            "at least 1",
            0,
            "keep at least one description flag",
        ));
    }

    let c_grid = run
        .and_then(|r| r.c_grid.clone())
        .or(raw.model.c_grid.clone())
        .unwrap_or_else(|| DEFAULT_C_GRID.to_vec());
    if c_grid.is_empty() || c_grid.iter().any(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(Error::config(
            "model.c_grid",
            "a non-empty list of positive numbers",
            format!("{c_grid:?}"),
            "list inverse regularization strengths such as [0.01, 0.1, 1, 10]",
        ));
    }
    let class_weights = match (
        run.and_then(|r| r.class_weight.clone()),
        &raw.model.class_weight,
    ) {
        (None, None) => vec![ClassWeight::Balanced, ClassWeight::None],
        (flag, raw_cw) => vec![class_weight_from(flag, raw_cw.as_ref())?],
    };
    let validation_days = raw.model.validation_days.unwrap_or(60);
    if !(1..=3_650).contains(&validation_days) {
        return Err(Error::config(
            "model.validation_days",
            "a whole number of days from 1 to 3650",
            validation_days,
            "set the length of the forward validation slice, e.g. 60",
        ));
    }
    let embargo_days = raw.model.embargo_days.unwrap_or(7);
    if embargo_days > 3_650 {
        return Err(Error::config(
            "model.embargo_days",
            "a whole number of days from 0 to 3650",
            embargo_days,
            "set the gap before the validation slice, e.g. 7",
        ));
    }
    let cv_folds = run
        .and_then(|r| r.cv_folds)
        .or(raw.model.cv_folds)
        .unwrap_or(5);
    if !(2..=50).contains(&cv_folds) {
        return Err(Error::config(
            "model.cv_folds",
            "a whole number from 2 to 50",
            cv_folds,
            "use 5 unless you have a reason",
        ));
    }

    let target_precision = run
        .and_then(|r| r.target_precision)
        .or(raw.threshold.target_precision)
        .unwrap_or(0.40);
    if !(target_precision.is_finite() && target_precision > 0.0 && target_precision <= 1.0) {
        return Err(Error::config(
            "threshold.target_precision",
            "a number in (0, 1]",
            target_precision,
            "set the precision floor as a fraction, e.g. 0.40",
        ));
    }
    let cap = run
        .and_then(|r| r.threshold_cap)
        .or(raw.threshold.threshold_cap)
        .unwrap_or(0);
    let top_k = run
        .and_then(|r| r.top_k)
        .or(raw.threshold.top_k)
        .unwrap_or(500);

    let confidence = raw.threshold.confidence.unwrap_or(0.9);
    if !(confidence.is_finite() && (0.5..1.0).contains(&confidence)) {
        return Err(Error::config(
            "threshold.confidence",
            "a number in [0.5, 1)",
            confidence,
            "set the confidence of the precision bound, e.g. 0.9",
        ));
    }
    let bootstrap_rounds = raw.threshold.bootstrap_rounds.unwrap_or(400);
    if !(50..=100_000).contains(&bootstrap_rounds) {
        return Err(Error::config(
            "threshold.bootstrap_rounds",
            "a whole number from 50 to 100000",
            bootstrap_rounds,
            "use 400 unless you have a reason",
        ));
    }

    let duplicate_events = match raw.data.duplicate_events.as_deref() {
        None | Some("drop") => DuplicatePolicy::Drop,
        Some("keep") => DuplicatePolicy::Keep,
        Some("error") => DuplicatePolicy::Error,
        Some(other) => {
            return Err(Error::config(
                "data.duplicate_events",
                "\"drop\", \"keep\" or \"error\"",
                format!("{other:?}"),
                "use \"drop\" unless duplicates must stop the run",
            ));
        }
    };

    Ok(Pipeline {
        source,
        columns,
        rules,
        split_boundary,
        neg_pos_ratio,
        seed,
        duplicate_events,
        features,
        model: ModelSettings {
            c_grid,
            class_weights,
            cv_folds,
            validation_days,
            embargo_days,
        },
        threshold: ThresholdSettings {
            target_precision,
            threshold_cap: (cap > 0).then_some(cap),
            top_k,
            confidence,
            bootstrap_rounds,
        },
    })
}

fn source_from(raw: &RawSource, common: &CommonArgs) -> Result<Source> {
    let format = common
        .format
        .clone()
        .or(raw.format.clone())
        .map(|f| SourceFormat::parse(&f))
        .transpose()?;
    if let Some(path) = common.source.clone() {
        return Ok(Source::Path {
            path: absolutize(&path),
            format: format.unwrap_or(SourceFormat::Parquet),
        });
    }
    match (&raw.path, &raw.table) {
        (Some(_), Some(_)) => Err(Error::config(
            "source",
            "either source.path or source.table",
            "both",
            "keep only one of source.path and source.table",
        )),
        (None, None) => Err(Error::config(
            "source",
            "source.path or source.table",
            "neither",
            "set source.path = \"...\" (with source.format) or source.table = \"catalog.schema.table\"",
        )),
        (Some(path), None) => {
            if path.trim().is_empty() {
                return Err(Error::config(
                    "source.path",
                    "a non-empty path",
                    "\"\"",
                    "point source.path at the events",
                ));
            }
            Ok(Source::Path {
                path: absolutize(path),
                format: format.unwrap_or(SourceFormat::Parquet),
            })
        }
        (None, Some(table)) => {
            let parts = table
                .split('.')
                .map(|p| Ident::new("source.table", p))
                .collect::<Result<Vec<_>>>()?;
            if parts.len() > 3 {
                return Err(Error::config(
                    "source.table",
                    "table, schema.table or catalog.schema.table",
                    format!("{table:?}"),
                    "name the table with at most three dot-separated parts",
                ));
            }
            Ok(Source::Table { parts })
        }
    }
}

fn columns_from(raw: &RawColumns) -> Result<ColumnMap> {
    let get = |key: &str, v: &Option<String>, default: &str| -> Result<Ident> {
        Ident::new(&format!("columns.{key}"), v.as_deref().unwrap_or(default))
    };
    let map = ColumnMap {
        member_id: get("member_id", &raw.member_id, "member_id")?,
        interaction_id: get("interaction_id", &raw.interaction_id, "interaction_id")?,
        event_ts: get("event_ts", &raw.event_ts, "event_ts")?,
        description: get("description", &raw.description, "pydescription")?,
        label: get("label", &raw.label, "escalated")?,
        categoricals: Vec::new(),
    };
    let cats = raw
        .categoricals
        .clone()
        .unwrap_or_else(|| vec!["channel".to_string()]);
    let mut seen = BTreeSet::new();
    let mut categoricals = Vec::new();
    for c in cats {
        let ident = Ident::new("columns.categoricals", &c)?;
        let std = format!("cat_{}", snake_case(&c));
        if std == "cat_" || !seen.insert(std.clone()) {
            return Err(Error::config(
                "columns.categoricals",
                "distinct column names with at least one letter or digit",
                format!("{c:?}"),
                "list each categorical column once",
            ));
        }
        categoricals.push((ident, std));
    }
    let roles = [
        &map.member_id,
        &map.interaction_id,
        &map.event_ts,
        &map.description,
        &map.label,
    ];
    let mut role_names = BTreeSet::new();
    for r in roles {
        if !role_names.insert(r.raw().to_ascii_lowercase()) {
            return Err(Error::config(
                "columns",
                "a different source column for each role",
                format!("{:?} used twice", r.raw()),
                "map member_id, interaction_id, event_ts, description and label to distinct columns",
            ));
        }
    }
    Ok(ColumnMap {
        categoricals,
        ..map
    })
}

fn class_weight_from(flag: Option<String>, raw: Option<&RawClassWeight>) -> Result<ClassWeight> {
    let bad = |found: String| {
        Error::config(
            "model.class_weight",
            "\"balanced\", \"none\" or { positive = <w> } with w > 0",
            found,
            "use class_weight = \"balanced\" unless you have a reason",
        )
    };
    if let Some(f) = flag {
        return match f.as_str() {
            "balanced" => Ok(ClassWeight::Balanced),
            "none" => Ok(ClassWeight::None),
            other => match other.parse::<f64>() {
                Ok(w) if w.is_finite() && w > 0.0 => Ok(ClassWeight::Explicit {
                    positive: w,
                    negative: 1.0,
                }),
                _ => Err(bad(format!("{other:?}"))),
            },
        };
    }
    match raw {
        None => Ok(ClassWeight::Balanced),
        Some(RawClassWeight::Named(s)) if s == "balanced" => Ok(ClassWeight::Balanced),
        Some(RawClassWeight::Named(s)) if s == "none" => Ok(ClassWeight::None),
        Some(RawClassWeight::Named(s)) => Err(bad(format!("{s:?}"))),
        Some(RawClassWeight::Explicit { positive, negative }) => {
            let negative = negative.unwrap_or(1.0);
            if positive.is_finite() && *positive > 0.0 && negative.is_finite() && negative > 0.0 {
                Ok(ClassWeight::Explicit {
                    positive: *positive,
                    negative,
                })
            } else {
                Err(bad(format!(
                    "{{ positive = {positive}, negative = {negative} }}"
                )))
            }
        }
    }
}

/// ASCII snake case: letters and digits kept (lower-cased), everything else one `_`.
pub fn snake_case(s: &str) -> String {
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
pub fn absolutize(p: &str) -> String {
    if p.contains("://") || p.starts_with("dbfs:") || Path::new(p).is_absolute() {
        return p.to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(p).to_string_lossy().into_owned(),
        Err(_) => p.to_string(),
    }
}

/// For tests: parse a TOML text into a pipeline with default flags.
pub fn pipeline_from_toml(text: &str) -> Result<Pipeline> {
    let raw = parse_raw(text, Path::new("<inline>"))?;
    pipeline_from(
        &raw,
        &CommonArgs {
            config: PathBuf::from("<inline>"),
            ..Default::default()
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_a_minimal_file() {
        let p = pipeline_from_toml("[source]\npath = \"/data/e.parquet\"\n").unwrap();
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

    #[test]
    fn unknown_key_is_refused() {
        let e = pipeline_from_toml("[model]\nsplit_bondary = \"2024-01-01\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("`split_bondary` is not a key here; did you mean `split_boundary`?"),
            "{msg}"
        );
        let e = pipeline_from_toml("[treshold]\ntarget_precision = 0.3\n").unwrap_err();
        assert!(e.to_string().contains("did you mean `threshold`?"), "{e}");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        for (toml, key) in [
            (
                "[threshold]\ntarget_precision = 1.5",
                "threshold.target_precision",
            ),
            (
                "[model]\ntarget_neg_pos_member_ratio = 0",
                "model.target_neg_pos_member_ratio",
            ),
            ("[model]\nc_grid = [1.0, -2.0]", "model.c_grid"),
            (
                "[model]\nsplit_boundary = \"01/10/2024\"",
                "model.split_boundary",
            ),
            ("[model]\nclass_weight = \"heavy\"", "model.class_weight"),
            ("[threshold]\nconfidence = 1.0", "threshold.confidence"),
            (
                "[threshold]\nbootstrap_rounds = 3",
                "threshold.bootstrap_rounds",
            ),
            ("[model]\nvalidation_days = 0", "model.validation_days"),
            (
                "[data]\nduplicate_events = \"fix\"",
                "data.duplicate_events",
            ),
            ("[model]\ncv_folds = 1", "model.cv_folds"),
        ] {
            let text = format!("[source]\npath = \"/e\"\n{toml}\n");
            let e = pipeline_from_toml(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
    }

    #[test]
    fn upper_case_mapping_and_extra_categoricals() {
        let p = pipeline_from_toml(
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
        let e = pipeline_from_toml(
            "[source]\npath = \"/e\"\n[columns]\nmember_id = \"x\"\ninteraction_id = \"X\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("distinct"), "{e}");
    }

    #[test]
    fn explicit_class_weight() {
        let p = pipeline_from_toml(
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
