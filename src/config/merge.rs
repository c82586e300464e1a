//! Flag > TOML key > built-in default, for the pipeline: each value is taken from the
//! first place that sets it, and text is parsed into its type (dates, formats,
//! policies, class weights, identifiers). Ranges are not checked here: the params
//! types own them, and `keys` maps their errors to TOML keys.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;

use super::raw::{RawClassWeight, RawColumns, RawConfig, RawSource};
use super::{
    ColumnMap, DEFAULT_C_GRID, DuplicatePolicy, FeatureSettings, ModelSettings, Settings, Source,
    SourceFormat, ThresholdSettings, absolutize, snake_case,
};
use crate::cli::{CommonArgs, RunArgs};
use crate::encode::TargetScale;
use crate::error::{Error, Result};
use crate::ident::Ident;
use crate::model::Primary;
use crate::model::{ClassWeight, GbdtParams};
use crate::rules::Rules;

/// The pipeline the flags and the TOML file describe, values not yet range-checked.
pub(super) fn merge(
    raw: &RawConfig,
    common: &CommonArgs,
    run: Option<&RunArgs>,
) -> Result<Settings> {
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
    let seed = run.and_then(|r| r.seed).or(raw.model.seed).unwrap_or(42);

    let f = &raw.features;
    let features = FeatureSettings {
        top_n_descriptions: f.top_n_descriptions.unwrap_or(40),
        min_support: f.min_support.unwrap_or(20),
        history_days: f.history_days.unwrap_or(365),
        burn_in_days: f.burn_in_days.unwrap_or(90),
        top_n_tokens: f.top_n_tokens.unwrap_or(60),
        cross_descriptions: f.cross_descriptions.unwrap_or(5),
        target_encoding: match f.target_encoding.as_deref() {
            None | Some("logit") => TargetScale::Logit,
            Some("mean") => TargetScale::Mean,
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

    let m = &raw.model;
    let primary = match run
        .and_then(|r| r.primary.as_deref())
        .or(m.primary.as_deref())
    {
        None | Some("logistic") => Primary::Logistic,
        Some("gbdt") => Primary::Gbdt,
        Some(other) => {
            return Err(Error::config(
                "model.primary",
                "\"logistic\" or \"gbdt\"",
                format!("{other:?}"),
                "use \"logistic\" (the default) or \"gbdt\" to publish the trees' scores",
            ));
        }
    };
    let class_weights = match (run.and_then(|r| r.class_weight.clone()), &m.class_weight) {
        (None, None) => vec![ClassWeight::Balanced, ClassWeight::None],
        (flag, raw_cw) => vec![class_weight_from(flag, raw_cw.as_ref())?],
    };
    let model = ModelSettings {
        c_grid: run
            .and_then(|r| r.c_grid.clone())
            .or(m.c_grid.clone())
            .unwrap_or_else(|| DEFAULT_C_GRID.to_vec()),
        class_weights,
        cv_folds: run.and_then(|r| r.cv_folds).or(m.cv_folds).unwrap_or(5),
        validation_days: m.validation_days.unwrap_or(60),
        embargo_days: m.embargo_days.unwrap_or(7),
        challenger: match (m.challenger.as_deref(), primary) {
            // The trees are trained whenever they are primary.
            (None | Some("none"), Primary::Logistic) => None,
            (None | Some("none") | Some("gbdt"), Primary::Gbdt) | (Some("gbdt"), _) => {
                let g = &raw.gbdt;
                let d = GbdtParams::default();
                Some(GbdtParams {
                    learning_rate: g.learning_rate.unwrap_or(d.learning_rate),
                    max_depth: g.max_depth.unwrap_or(d.max_depth),
                    n_rounds: g.n_rounds.unwrap_or(d.n_rounds),
                    early_stopping_rounds: g
                        .early_stopping_rounds
                        .unwrap_or(d.early_stopping_rounds),
                    min_leaf_rows: g.min_leaf_rows.unwrap_or(d.min_leaf_rows),
                    // The model's seed unless [gbdt] sets its own.
                    seed: g.seed.unwrap_or(seed as u64),
                    threads: g.threads.unwrap_or(d.threads),
                })
            }
            (Some(other), _) => {
                return Err(Error::config(
                    "model.challenger",
                    "\"gbdt\" or \"none\"",
                    format!("{other:?}"),
                    "use \"gbdt\" to train gradient-boosted trees beside the logistic model, or leave it out",
                ));
            }
        },
        primary,
    };

    let t = &raw.threshold;
    let cap = run
        .and_then(|r| r.threshold_cap)
        .or(t.threshold_cap)
        .unwrap_or(0);
    let threshold = ThresholdSettings {
        target_precision: run
            .and_then(|r| r.target_precision)
            .or(t.target_precision)
            .unwrap_or(0.40),
        threshold_cap: (cap > 0).then_some(cap),
        top_k: run.and_then(|r| r.top_k).or(t.top_k).unwrap_or(500),
        confidence: t.confidence.unwrap_or(0.9),
        bootstrap_rounds: t.bootstrap_rounds.unwrap_or(400),
    };

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

    let psi_warn = common
        .drift_psi_warn
        .or(raw.drift.psi_warn)
        .unwrap_or(crate::drift::DEFAULT_PSI_WARN);
    // A PSI is >= 0; 0 would flag every column, a non-number none.
    if !(psi_warn.is_finite() && psi_warn > 0.0) {
        return Err(Error::config(
            "drift.psi_warn (--drift-psi-warn)",
            "a positive number",
            psi_warn,
            "use 0.2 (the usual cut: 0.1-0.25 is a moderate shift) or leave it out",
        ));
    }
    Ok(Settings {
        psi_warn,
        source,
        columns,
        rules,
        split_boundary,
        neg_pos_ratio,
        seed,
        duplicate_events,
        features,
        model,
        threshold,
    })
}

fn source_format(s: &str) -> Result<SourceFormat> {
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

fn source_from(raw: &RawSource, common: &CommonArgs) -> Result<Source> {
    let format = common
        .format
        .clone()
        .or(raw.format.clone())
        .map(|f| source_format(&f))
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

/// The class weight the flag or the TOML key names; its range (explicit weights
/// finite and > 0) is `ClassWeight`'s to check.
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
                Ok(w) => Ok(ClassWeight::Explicit {
                    positive: w,
                    negative: 1.0,
                }),
                Err(_) => Err(bad(format!("{other:?}"))),
            },
        };
    }
    match raw {
        None => Ok(ClassWeight::Balanced),
        Some(RawClassWeight::Named(s)) if s == "balanced" => Ok(ClassWeight::Balanced),
        Some(RawClassWeight::Named(s)) if s == "none" => Ok(ClassWeight::None),
        Some(RawClassWeight::Named(s)) => Err(bad(format!("{s:?}"))),
        Some(RawClassWeight::Explicit { positive, negative }) => Ok(ClassWeight::Explicit {
            positive: *positive,
            negative: negative.unwrap_or(1.0),
        }),
    }
}
