//! From configured values to params, and from a params error back to the TOML key.
//!
//! The ranges live with the params types (`params::ParamGuard::check`); config builds
//! the params from the merged pipeline ([`TrainParams`], [`ViewParams`],
//! [`SuggestParams`]), checks them once, and rewrites a refused parameter
//! ([`Error::Params`], named by its path) into [`Error::Config`] with the TOML key,
//! the flag that overrides it, and how to fix it. Parameters that config sets to fixed
//! or clamped values (`tol`, `max_iter`, the calibration, `min_support` at least 1, a
//! cap of 0 meaning none) cannot be refused and have no row.

use super::Settings;
use crate::cli::SuggestArgs;
use crate::encode::cross::CrossParams;
use crate::encode::tokens::TokenParams;
use crate::encode::{FeatureEncoderParams, MultiHotParams, TargetEncoderParams};
use crate::error::{Error, Result};
use crate::model::{GridSearchParams, PlattParams};
use crate::params::{ParamGuard, ViewParams};
use crate::suggest::{SuggestParams, SuggestValidParams};
use crate::threshold::{ConfidenceParams, ThresholdRule};
use crate::train::{TrainParams, TrainValidParams, ValidationParams};

/// Where one parameter is set.
pub(super) struct ParamKey {
    /// The name [`Error::Params`] gives it (its path in the params type).
    pub(super) param: &'static str,
    /// The TOML key, or the flag for a parameter that only a flag sets.
    pub(super) key: &'static str,
    /// The flag that overrides the TOML key, if any.
    pub(super) flag: Option<&'static str>,
    pub(super) fix: &'static str,
}

const fn key(
    param: &'static str,
    key: &'static str,
    flag: Option<&'static str>,
    fix: &'static str,
) -> ParamKey {
    ParamKey {
        param,
        key,
        flag,
        fix,
    }
}

/// [`ViewParams`]: the values bound into the SQL views.
pub(super) const VIEW_KEYS: &[ParamKey] = &[
    key(
        "neg_pos_ratio",
        "model.target_neg_pos_member_ratio",
        Some("--target-neg-pos-member-ratio"),
        "set the ratio of negative to positive members to keep, e.g. 10",
    ),
    key(
        "burn_in_days",
        "features.burn_in_days",
        None,
        "set how many first days of data serve as history only, e.g. 90",
    ),
    key(
        "history_days",
        "features.history_days",
        None,
        "set the look-back of the history features, e.g. 365",
    ),
];

/// [`TrainParams`], by path.
pub(super) const TRAIN_KEYS: &[ParamKey] = &[
    key(
        "encoder.multi_hot.top_n",
        "features.top_n_descriptions",
        None,
        "keep at least one description flag",
    ),
    key(
        "grid.c_grid",
        "model.c_grid",
        Some("--c-grid"),
        "list inverse regularization strengths such as [0.01, 0.1, 1, 10]",
    ),
    key(
        "grid.n_folds",
        "model.cv_folds",
        Some("--cv-folds"),
        "use 5 unless you have a reason",
    ),
    key(
        "class_weight.positive",
        "model.class_weight",
        Some("--class-weight"),
        "use class_weight = \"balanced\" unless you have a reason",
    ),
    key(
        "class_weight.negative",
        "model.class_weight",
        None,
        "use class_weight = \"balanced\" unless you have a reason",
    ),
    key(
        "rule.target_precision",
        "threshold.target_precision",
        Some("--target-precision"),
        "set the precision floor as a fraction, e.g. 0.40",
    ),
    key(
        "confidence.level",
        "threshold.confidence",
        None,
        "set the confidence of the precision bound, e.g. 0.9",
    ),
    key(
        "confidence.rounds",
        "threshold.bootstrap_rounds",
        None,
        "use 400 unless you have a reason",
    ),
    key(
        "validation.validation_days",
        "model.validation_days",
        None,
        "set the length of the forward validation slice, e.g. 60",
    ),
    key(
        "validation.embargo_days",
        "model.embargo_days",
        None,
        "set the gap before the validation slice, e.g. 7",
    ),
    key(
        "challenger.learning_rate",
        "gbdt.learning_rate",
        None,
        "set the trees' learning rate in (0, 1], e.g. 0.05",
    ),
    key(
        "challenger.max_depth",
        "gbdt.max_depth",
        None,
        "set the depth of each tree from 1 to 16, e.g. 2",
    ),
    key(
        "challenger.n_rounds",
        "gbdt.n_rounds",
        None,
        "set the most boosting rounds, e.g. 800",
    ),
    key(
        "challenger.early_stopping_rounds",
        "gbdt.early_stopping_rounds",
        None,
        "set the rounds without improvement before stopping, e.g. 50",
    ),
    key(
        "challenger.min_leaf_rows",
        "gbdt.min_leaf_rows",
        None,
        "set the least leaf size, in rows of average weight, from 0 to 1e6, e.g. 80",
    ),
    key(
        "challenger.threads",
        "gbdt.threads",
        None,
        "set the trees' threads from 0 (one per core) to 1024",
    ),
];

/// [`SuggestParams`]: flags of `rules suggest`.
pub(super) const SUGGEST_KEYS: &[ParamKey] = &[key(
    "min_similarity",
    "--min-similarity",
    None,
    "pass for example --min-similarity 0.3",
)];

/// A params error as the config error of its key (other errors unchanged).
fn rekey(keys: &'static [ParamKey]) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Params {
            name,
            expected,
            found,
        } => match keys.iter().find(|k| k.param == name) {
            Some(k) => Error::Config {
                key: k.key.into(),
                expected,
                found,
                fix: match k.flag {
                    Some(flag) => format!("{} ({} or {flag})", k.fix, k.key),
                    None => k.fix.into(),
                },
            },
            None => Error::Params {
                name,
                expected,
                found,
            },
        },
        other => other,
    }
}

/// The training parameters of a configured pipeline (unchecked).
impl From<&Settings> for TrainParams {
    fn from(p: &Settings) -> Self {
        TrainParams {
            encoder: FeatureEncoderParams {
                multi_hot: MultiHotParams {
                    top_n: p.features.top_n_descriptions,
                    min_support: p.features.min_support.max(1),
                },
                tokens: TokenParams {
                    top_n: p.features.top_n_tokens,
                    min_support: p.features.min_support.max(1),
                },
                crosses: CrossParams {
                    top_n: p.features.cross_descriptions,
                },
                target: TargetEncoderParams {
                    scale: p.features.target_encoding,
                    ..Default::default()
                },
                missing_days: f64::from(p.features.history_days),
            },
            grid: GridSearchParams {
                c_grid: p.model.c_grid.clone(),
                n_folds: p.model.cv_folds,
                tol: 1e-6,
                max_iter: 1000,
            },
            class_weights: p.model.class_weights.clone(),
            rule: ThresholdRule {
                target_precision: p.threshold.target_precision,
                cap: p.threshold.threshold_cap,
            },
            confidence: ConfidenceParams {
                level: p.threshold.confidence,
                rounds: p.threshold.bootstrap_rounds,
            },
            validation: ValidationParams {
                split_us: p.split_boundary_micros(),
                validation_days: p.model.validation_days,
                embargo_days: p.model.embargo_days,
            },
            calibration: PlattParams::default(),
            seed: p.seed,
            challenger: p.model.challenger,
            primary: p.model.primary,
        }
    }
}

/// The SQL view values of a configured pipeline (unchecked).
impl From<&Settings> for ViewParams {
    fn from(p: &Settings) -> Self {
        ViewParams {
            history_days: p.features.history_days,
            burn_in_days: p.features.burn_in_days,
            neg_pos_ratio: p.neg_pos_ratio,
        }
    }
}

/// Checks every parameter of the pipeline once (the SQL view values, then training),
/// a refused one named by its TOML key; returns the checked training parameters.
pub(super) fn check_params(p: &Settings) -> Result<TrainValidParams> {
    ViewParams::from(p).check().map_err(rekey(VIEW_KEYS))?;
    TrainParams::from(p).check().map_err(rekey(TRAIN_KEYS))
}

/// The checked parameters of `rules suggest`, from its flags.
pub(crate) fn suggest_params(args: &SuggestArgs) -> Result<SuggestValidParams> {
    SuggestParams {
        min_similarity: args.min_similarity,
        ..Default::default()
    }
    .check()
    .map_err(rekey(SUGGEST_KEYS))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::{merged_from_toml, settings_from_toml};
    use crate::params::param_name;

    /// Each snippet breaks one parameter: the params check names it by its path, and
    /// the config error by the key of its row.
    #[test]
    fn every_row_maps_a_refused_parameter_to_its_toml_key() {
        let cases = [
            ("[model]\ntarget_neg_pos_member_ratio = 0", "neg_pos_ratio"),
            (
                "[model]\ntarget_neg_pos_member_ratio = 2e6",
                "neg_pos_ratio",
            ),
            ("[features]\nburn_in_days = 40000", "burn_in_days"),
            ("[features]\nhistory_days = 0", "history_days"),
            (
                "[features]\ntop_n_descriptions = 0",
                "encoder.multi_hot.top_n",
            ),
            ("[model]\nc_grid = [1.0, -2.0]", "grid.c_grid"),
            ("[model]\nc_grid = []", "grid.c_grid"),
            ("[model]\ncv_folds = 1", "grid.n_folds"),
            ("[model]\ncv_folds = 51", "grid.n_folds"),
            (
                "[model]\nclass_weight = { positive = -1.0 }",
                "class_weight.positive",
            ),
            (
                "[model]\nclass_weight = { positive = 2.0, negative = 0.0 }",
                "class_weight.negative",
            ),
            (
                "[threshold]\ntarget_precision = 1.5",
                "rule.target_precision",
            ),
            ("[threshold]\ntarget_precision = 0", "rule.target_precision"),
            ("[threshold]\nconfidence = 1.0", "confidence.level"),
            ("[threshold]\nbootstrap_rounds = 3", "confidence.rounds"),
            (
                "[threshold]\nbootstrap_rounds = 100001",
                "confidence.rounds",
            ),
            ("[model]\nvalidation_days = 0", "validation.validation_days"),
            ("[model]\nembargo_days = 4000", "validation.embargo_days"),
            (
                "[model]\nchallenger = \"gbdt\"\n[gbdt]\nlearning_rate = 0",
                "challenger.learning_rate",
            ),
            (
                "[model]\nchallenger = \"gbdt\"\n[gbdt]\nmax_depth = 17",
                "challenger.max_depth",
            ),
            (
                "[model]\nchallenger = \"gbdt\"\n[gbdt]\nn_rounds = 0",
                "challenger.n_rounds",
            ),
            (
                "[model]\nchallenger = \"gbdt\"\n[gbdt]\nearly_stopping_rounds = 0",
                "challenger.early_stopping_rounds",
            ),
            (
                "[model]\nprimary = \"gbdt\"\n[gbdt]\nthreads = 2000",
                "challenger.threads",
            ),
            (
                "[model]\nchallenger = \"gbdt\"\n[gbdt]\nmin_leaf_rows = -1",
                "challenger.min_leaf_rows",
            ),
        ];
        let mut seen = BTreeSet::new();
        for (snippet, param) in cases {
            let text = format!("[source]\npath = \"/e\"\n{snippet}\n");
            let p = merged_from_toml(&text).unwrap();
            let refused = ViewParams::from(&p)
                .check()
                .err()
                .or_else(|| TrainParams::from(&p).check().err())
                .unwrap_or_else(|| panic!("{snippet}: accepted"));
            assert_eq!(param_name(&refused), Some(param), "{snippet}: {refused}");
            let row = VIEW_KEYS
                .iter()
                .chain(TRAIN_KEYS)
                .find(|k| k.param == param)
                .unwrap_or_else(|| panic!("no row for {param}"));
            let e = settings_from_toml(&text).unwrap_err();
            let Error::Config { key, .. } = &e else {
                panic!("{snippet}: {e}");
            };
            assert_eq!(key, row.key, "{snippet}");
            let msg = e.to_string();
            for part in ["expected", "found", "fix:", row.fix] {
                assert!(msg.contains(part), "{snippet}: no {part:?} in {msg}");
            }
            if let Some(flag) = row.flag {
                assert!(msg.contains(flag), "{snippet}: no {flag} in {msg}");
            }
            seen.insert(param);
        }
        let rows: BTreeSet<&str> = VIEW_KEYS
            .iter()
            .chain(TRAIN_KEYS)
            .map(|k| k.param)
            .collect();
        assert_eq!(seen, rows, "every row has a case");
    }

    #[test]
    fn flags_are_checked_by_the_same_params() {
        let text = "[source]\npath = \"/e\"\n";
        let raw = super::super::raw::parse_raw(text, std::path::Path::new("<inline>")).unwrap();
        let common = crate::cli::CommonArgs::default();
        let run = crate::cli::RunArgs {
            common: common.clone(),
            split_boundary: None,
            target_neg_pos_member_ratio: Some(-3.0),
            c_grid: None,
            class_weight: Some("-2".into()),
            cv_folds: None,
            seed: None,
            target_precision: None,
            threshold_cap: None,
            top_k: None,
            primary: None,
        };
        let p = super::super::merge::merge(&raw, &common, Some(&run)).unwrap();
        let e = check_params(&p).unwrap_err().to_string();
        assert!(
            e.contains("model.target_neg_pos_member_ratio")
                && e.contains("found -3")
                && e.contains("--target-neg-pos-member-ratio"),
            "{e}"
        );
        let run = crate::cli::RunArgs {
            target_neg_pos_member_ratio: None,
            ..run
        };
        let p = super::super::merge::merge(&raw, &common, Some(&run)).unwrap();
        let e = check_params(&p).unwrap_err().to_string();
        assert!(
            e.contains("model.class_weight") && e.contains("found -2"),
            "{e}"
        );
    }

    #[test]
    fn suggest_flags_map_to_the_flag() {
        let args = |min_similarity| SuggestArgs {
            common: crate::cli::CommonArgs::default(),
            min_similarity,
        };
        assert_eq!(suggest_params(&args(0.3)).unwrap().min_similarity, 0.3);
        let e = suggest_params(&args(1.5)).unwrap_err();
        assert!(
            matches!(&e, Error::Config { key, .. } if key == "--min-similarity"),
            "{e}"
        );
        let msg = e.to_string();
        assert!(msg.contains("found 1.5") && msg.contains("fix:"), "{msg}");
    }
}
