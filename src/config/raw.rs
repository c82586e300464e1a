//! What the TOML file may say: the `Raw*` structs (every key optional, unknown keys
//! refused), and the reading of the file, where an unknown key gets the closest known
//! one as a suggestion.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) spark: RawSpark,
    #[serde(default)]
    pub(super) source: RawSource,
    #[serde(default)]
    pub(super) columns: RawColumns,
    #[serde(default)]
    pub(super) normalization: RawNormalization,
    #[serde(default)]
    pub(super) features: RawFeatures,
    #[serde(default)]
    pub(super) model: RawModel,
    #[serde(default)]
    pub(super) threshold: RawThreshold,
    #[serde(default)]
    pub(super) output: RawOutput,
    #[serde(default)]
    pub(super) data: RawData,
    #[serde(default)]
    pub(super) gbdt: RawGbdt,
    #[serde(default)]
    pub(super) drift: RawDrift,
    #[serde(default)]
    pub(super) mlflow: RawMlflow,
}

/// Drift warnings (`[drift]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrift {
    pub(super) psi_warn: Option<f64>,
}

/// MLflow tracking (issue 13); off unless a tracking URI is set here, by
/// `--mlflow-uri` or by `MLFLOW_TRACKING_URI`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMlflow {
    pub(super) tracking_uri: Option<String>,
    pub(super) experiment: Option<String>,
    pub(super) required: Option<bool>,
    pub(super) run_name: Option<String>,
    pub(super) register_as: Option<String>,
}

/// The trees (used when `model.challenger` or `model.primary` is "gbdt").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGbdt {
    pub(super) learning_rate: Option<f64>,
    pub(super) max_depth: Option<usize>,
    pub(super) n_rounds: Option<usize>,
    pub(super) early_stopping_rounds: Option<usize>,
    pub(super) min_leaf_rows: Option<f64>,
    pub(super) seed: Option<u64>,
    pub(super) threads: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawData {
    pub(super) duplicate_events: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpark {
    pub(super) remote: Option<String>,
    pub(super) profile: Option<String>,
    pub(super) timeout_secs: Option<u64>,
    pub(super) reconnect_grace_secs: Option<u64>,
    pub(super) scratch_dir: Option<String>,
    pub(super) pull_part_rows: Option<i64>,
    /// `[spark.conf]`: session-level settings (`config::session`).
    pub(super) conf: Option<std::collections::BTreeMap<String, toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) path: Option<String>,
    pub(super) table: Option<String>,
    pub(super) format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawColumns {
    pub(super) member_id: Option<String>,
    pub(super) interaction_id: Option<String>,
    pub(super) event_ts: Option<String>,
    pub(super) description: Option<String>,
    pub(super) label: Option<String>,
    pub(super) categoricals: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNormalization {
    pub(super) rules: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeatures {
    pub(super) top_n_descriptions: Option<usize>,
    pub(super) min_support: Option<usize>,
    pub(super) history_days: Option<u32>,
    pub(super) burn_in_days: Option<u32>,
    pub(super) top_n_tokens: Option<usize>,
    pub(super) cross_descriptions: Option<usize>,
    pub(super) target_encoding: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    pub(super) split_boundary: Option<String>,
    pub(super) target_neg_pos_member_ratio: Option<f64>,
    pub(super) c_grid: Option<Vec<f64>>,
    pub(super) class_weight: Option<RawClassWeight>,
    pub(super) cv_folds: Option<usize>,
    pub(super) seed: Option<i64>,
    pub(super) validation_days: Option<u32>,
    pub(super) embargo_days: Option<u32>,
    pub(super) challenger: Option<String>,
    pub(super) primary: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawClassWeight {
    Named(String),
    Explicit {
        positive: f64,
        #[serde(default)]
        negative: Option<f64>,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawThreshold {
    pub(super) target_precision: Option<f64>,
    pub(super) threshold_cap: Option<usize>,
    pub(super) top_k: Option<usize>,
    pub(super) confidence: Option<f64>,
    pub(super) bootstrap_rounds: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) dir: Option<String>,
    /// The Spark table the outreach list also goes to (`config::output_table`).
    pub(super) table: Option<String>,
    pub(super) table_mode: Option<String>,
}

/// Parses the TOML file, refusing unknown keys.
pub(super) fn read_raw(path: &Path) -> Result<RawConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigFile {
        path: path.to_path_buf(),
        problem: e.to_string(),
        fix: "pass an existing TOML file with --config (see examples/demo.toml)".into(),
    })?;
    parse_raw(&text, path)
}

pub(super) fn parse_raw(text: &str, path: &Path) -> Result<RawConfig> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings_from_toml;

    #[test]
    fn unknown_key_is_refused() {
        let e = settings_from_toml("[model]\nsplit_bondary = \"2024-01-01\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("`split_bondary` is not a key here; did you mean `split_boundary`?"),
            "{msg}"
        );
        let e = settings_from_toml("[treshold]\ntarget_precision = 0.3\n").unwrap_err();
        assert!(e.to_string().contains("did you mean `threshold`?"), "{e}");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
