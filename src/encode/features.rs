//! The whole design matrix: numeric transforms, description flags, target-encoded
//! categoricals, then standardization — fitted on the training rows only and applied
//! unchanged to any other rows.
//!
//! Column order: the numeric block ([`numeric_columns`]), the description flags
//! (`pydesc_*`, then `pydesc_other`), the token flags (`tok_*`), the crosses
//! (`x_*`), one `te_<categorical>` per categorical.

use serde::{Deserialize, Serialize};

use crate::encode::cross::{CrossParams, CrossValidParams, CrossWith, FittedCrosses};
use crate::encode::tokens::{FittedTokens, TokenParams, TokenValidParams};
use crate::encode::{
    FittedMultiHot, FittedStandardScaler, FittedTargetEncoder, MultiHotParams, MultiHotValidParams,
    StandardScalerParams, TargetEncoderParams, TargetEncoderValidParams, log1p_count, log1p_days,
};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::params::ParamGuard;
use crate::table::{FeatureTable, NUMERIC_FEATURES, NumericRows};

/// How a numeric model column is derived from the feature table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NumericTransform {
    /// `ln(1 + count)`: call counts are heavy-tailed; the log keeps a burst of 30
    /// calls from dominating the fit.
    Log1pCount,
    /// `ln(1 + days)`, with "no earlier event" standing for `missing_days`.
    Log1pDays { missing_days: f64 },
    /// 1 when the source feature is null (no earlier interaction / escalation).
    IsMissing,
    /// [`bin_flag`]: 1 when `lo <= v < hi` (`hi` unset: no upper end).
    Bin { lo: f64, hi: Option<f64> },
    /// [`cyclic`]: the sine (or cosine) of the position of `v` in its period.
    Cyclic { period: f64, cosine: bool },
    /// [`shrunk_logit_rate`] of the source over `denominator`.
    ShrunkLogitRate {
        denominator: String,
        prior: f64,
        strength: f64,
    },
}

/// One numeric model column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericColumn {
    pub(crate) name: String,
    /// Name of the feature-table column it reads (one of `NUMERIC_FEATURES`).
    pub source: String,
    pub transform: NumericTransform,
}

/// `1` when `lo <= v < hi` (no upper end when `hi` is `None`), else `0`; null is 0
/// (its own `IsMissing` column says it is null). Bins let a gap act as a step — a
/// call the day after the last one is a different thing from a call a week later —
/// which the log of the gap forces onto one slope.
pub(super) fn bin_flag(v: f64, lo: f64, hi: Option<f64>) -> f64 {
    f64::from(u8::from(v >= lo && hi.is_none_or(|h| v < h)))
}

/// `sin(2 pi v / period)` or `cos(2 pi v / period)`; null is 0. The pair places hour
/// 23 next to hour 0, which a single linear term cannot.
pub(super) fn cyclic(v: f64, period: f64, cosine: bool) -> f64 {
    if v.is_nan() {
        return 0.0;
    }
    let angle = v * (std::f64::consts::TAU / period);
    if cosine { angle.cos() } else { angle.sin() }
}

/// A member's escalation rate shrunk towards the population rate, on the logit
/// scale: `logit((k + s p) / (n + s))` for `k` escalations in `n` earlier
/// interactions, prior rate `p` and strength `s` pseudo-interactions (the beta-binomial
/// posterior mean with a Beta(s p, s (1 - p)) prior; Efron & Morris 1975). Nulls count
/// as 0, and the rate is clamped to `[1e-6, 1 - 1e-6]` (escalations dated in the
/// window whose interaction started before it can outnumber `n`).
pub(super) fn shrunk_logit_rate(k: f64, n: f64, prior: f64, strength: f64) -> f64 {
    let k = if k.is_nan() { 0.0 } else { k };
    let n = if n.is_nan() { 0.0 } else { n };
    crate::encode::target::logit_clamped((k + strength * prior) / (n + strength))
}

/// Pseudo-interactions behind the shrunk escalation rate: a member needs about this
/// many earlier interactions before their own rate outweighs the population's.
pub(super) const RATE_STRENGTH: f64 = 10.0;

/// The numeric block: (model column, source feature, transform). A gap with no
/// earlier event counts as `missing_days` (the history window) and gets its own
/// indicator; `prior` is the weighted training base rate, the shrunk rate's prior.
pub(super) fn numeric_columns(missing_days: f64, prior: f64) -> Vec<NumericColumn> {
    use NumericTransform as T;
    let days = T::Log1pDays { missing_days };
    let mut spec: Vec<(String, &str, T)> = [
        ("log_n_events", "n_events", T::Log1pCount),
        ("log_days_since_prev", "days_since_prev", days.clone()),
        ("no_prev_interaction", "days_since_prev", T::IsMissing),
        ("log_calls_prev_7d", "calls_prev_7d", T::Log1pCount),
        ("log_calls_prev_30d", "calls_prev_30d", T::Log1pCount),
        ("log_calls_prev_90d", "calls_prev_90d", T::Log1pCount),
        ("log_prior_escalations", "prior_escalations", T::Log1pCount),
        (
            "log_days_since_last_escalation",
            "days_since_last_escalation",
            days,
        ),
        (
            "no_prior_escalation",
            "days_since_last_escalation",
            T::IsMissing,
        ),
        (
            "log_tenure_days",
            "tenure_days",
            T::Log1pDays { missing_days: 0.0 },
        ),
        ("log_calls_decay_7d", "calls_decay_7d", T::Log1pCount),
        ("log_calls_decay_30d", "calls_decay_30d", T::Log1pCount),
        (
            "log_escalations_decay_30d",
            "escalations_decay_30d",
            T::Log1pCount,
        ),
        (
            "log_escalations_decay_180d",
            "escalations_decay_180d",
            T::Log1pCount,
        ),
        (
            "escalation_rate_logit",
            "prior_escalations",
            T::ShrunkLogitRate {
                denominator: "prior_interactions".into(),
                prior,
                strength: RATE_STRENGTH,
            },
        ),
        (
            "hour_sin",
            "hour_of_day",
            T::Cyclic {
                period: 24.0,
                cosine: false,
            },
        ),
        (
            "hour_cos",
            "hour_of_day",
            T::Cyclic {
                period: 24.0,
                cosine: true,
            },
        ),
        (
            "weekday_sin",
            "day_of_week",
            T::Cyclic {
                period: 7.0,
                cosine: false,
            },
        ),
        (
            "weekday_cos",
            "day_of_week",
            T::Cyclic {
                period: 7.0,
                cosine: true,
            },
        ),
        ("weekend", "day_of_week", T::Bin { lo: 5.0, hi: None }),
    ]
    .into_iter()
    .map(|(n, s, t)| (n.to_string(), s, t))
    .collect();
    // Day gaps as steps: edges in days; the last bin runs to infinity.
    let bins: [(&str, &[f64]); 3] = [
        ("days_since_prev", &[0.0, 1.0, 2.0, 7.0, 30.0, 90.0]),
        ("days_since_last_escalation", &[0.0, 7.0, 30.0, 90.0, 180.0]),
        ("tenure_days", &[0.0, 30.0, 90.0, 180.0]),
    ];
    // The open-ended last bin is the reference and has no column: with it, the bins
    // and the missing indicator would add up to the intercept exactly, a flat
    // direction that only the (tiny, at large C) penalty holds, and L-BFGS crawls.
    for (source, edges) in bins {
        for pair in edges.windows(2) {
            let (lo, hi) = (pair[0], pair[1]);
            spec.push((
                format!("{source}_{lo}_{hi}"),
                source,
                T::Bin { lo, hi: Some(hi) },
            ));
        }
    }
    spec.into_iter()
        .map(|(n, s, t)| NumericColumn {
            name: n,
            source: s.to_string(),
            transform: t,
        })
        .collect()
}

/// Parameters of the whole encoder (unchecked; [`ParamGuard::check`] gives the
/// [`FeatureEncoderValidParams`] that fit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureEncoderParams {
    pub multi_hot: MultiHotParams,
    pub tokens: TokenParams,
    pub crosses: CrossParams,
    pub target: TargetEncoderParams,
    /// Day gap that stands for "no earlier event", finite and >= 0.
    pub missing_days: f64,
}

/// Checked [`FeatureEncoderParams`]: each part checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureEncoderValidParams {
    multi_hot: MultiHotValidParams,
    tokens: TokenValidParams,
    crosses: CrossValidParams,
    target: TargetEncoderValidParams,
    missing_days: f64,
}

impl ParamGuard for FeatureEncoderParams {
    type Checked = FeatureEncoderValidParams;

    fn check_ref(&self) -> Result<()> {
        self.clone().check().map(drop)
    }

    /// Checks each part (a part's parameter is named `part.name`, as
    /// `multi_hot.top_n`) and `missing_days`.
    fn check(self) -> Result<FeatureEncoderValidParams> {
        let multi_hot = self.multi_hot.check().map_err(|e| e.within("multi_hot"))?;
        let tokens = self.tokens.check().map_err(|e| e.within("tokens"))?;
        let crosses = self.crosses.check().map_err(|e| e.within("crosses"))?;
        let target = self.target.check().map_err(|e| e.within("target"))?;
        if !(self.missing_days.is_finite() && self.missing_days >= 0.0) {
            return Err(Error::params(
                "missing_days",
                "a finite number >= 0",
                self.missing_days,
            ));
        }
        Ok(FeatureEncoderValidParams {
            multi_hot,
            tokens,
            crosses,
            target,
            missing_days: self.missing_days,
        })
    }
}

impl FeatureEncoderValidParams {
    pub fn multi_hot(&self) -> &MultiHotValidParams {
        &self.multi_hot
    }
    pub fn missing_days(&self) -> f64 {
        self.missing_days
    }
}

/// Everything needed to turn feature-table rows into model rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedFeatureEncoder {
    pub numeric: Vec<NumericColumn>,
    pub multi_hot: FittedMultiHot,
    pub(crate) tokens: FittedTokens,
    pub(crate) crosses: FittedCrosses,
    /// (feature-table categorical, fitted encoder), in model column order.
    pub(crate) target: Vec<(String, FittedTargetEncoder)>,
    pub(crate) scaler: FittedStandardScaler,
    pub feature_names: Vec<String>,
}

fn numeric_index(name: &str) -> Result<usize> {
    NUMERIC_FEATURES
        .iter()
        .position(|n| *n == name)
        .ok_or_else(|| {
            Error::params(
                "numeric source",
                format!("one of {NUMERIC_FEATURES:?}"),
                name,
            )
        })
}

/// A numeric column resolved against the feature table: source indices.
struct NumericPlan<'a> {
    source: usize,
    denominator: Option<usize>,
    transform: &'a NumericTransform,
}

fn numeric_plan(cols: &[NumericColumn]) -> Result<Vec<NumericPlan<'_>>> {
    cols.iter()
        .map(|c| {
            let denominator = match &c.transform {
                NumericTransform::ShrunkLogitRate { denominator, .. } => {
                    Some(numeric_index(denominator)?)
                }
                _ => None,
            };
            Ok(NumericPlan {
                source: numeric_index(&c.source)?,
                denominator,
                transform: &c.transform,
            })
        })
        .collect()
}

/// Fills the numeric block of a row from its feature-table numbers `raw`.
fn fill_numeric(plan: &[NumericPlan], raw: &[f64], out: &mut [f64]) {
    for (o, p) in out.iter_mut().zip(plan) {
        let v = raw[p.source];
        *o = match p.transform {
            NumericTransform::Log1pCount => log1p_count(if v.is_nan() { 0.0 } else { v }),
            NumericTransform::Log1pDays { missing_days } => {
                log1p_days((!v.is_nan()).then_some(v), *missing_days)
            }
            NumericTransform::IsMissing => f64::from(u8::from(v.is_nan())),
            NumericTransform::Bin { lo, hi } => bin_flag(v, *lo, *hi),
            NumericTransform::Cyclic { period, cosine } => cyclic(v, *period, *cosine),
            NumericTransform::ShrunkLogitRate {
                prior, strength, ..
            } => {
                let n = p.denominator.map_or(f64::NAN, |d| raw[d]);
                shrunk_logit_rate(v, n, *prior, *strength)
            }
        };
    }
}

/// A cross column resolved: its description flag's column in the multi-hot block
/// and the feature-table column of its condition.
struct CrossPlan {
    flag: usize,
    source: usize,
    with: CrossWith,
}

fn cross_plan(crosses: &FittedCrosses, multi_hot: &FittedMultiHot) -> Result<Vec<CrossPlan>> {
    crosses
        .columns
        .iter()
        .map(|c| {
            let flag = multi_hot
                .columns()
                .iter()
                .position(|d| d.canonical == c.description)
                .ok_or_else(|| {
                    Error::data(
                        format!(
                            "model.json crosses description {:?}, which has no flag",
                            c.description
                        ),
                        "retrain the model (rarecall run); do not edit model.json by hand",
                    )
                })?;
            Ok(CrossPlan {
                flag,
                source: numeric_index(c.with.source())?,
                with: c.with,
            })
        })
        .collect()
}

/// The lookups of one feature table: description flag and token columns per
/// description dictionary entry.
struct Lookups {
    multi_hot: Vec<usize>,
    tokens: Vec<Vec<usize>>,
}

/// The training row positions (0-based within `rows`, ascending) of every
/// description flag column and every token column.
fn column_rows(
    t: &FeatureTable,
    rows: &[usize],
    mh: (&[usize], usize),
    tok: (&[Vec<usize>], usize),
) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let mut mh_rows = vec![Vec::new(); mh.1];
    let mut tok_rows = vec![Vec::new(); tok.1];
    for (k, &i) in rows.iter().enumerate() {
        let k = k as u32;
        for &id in description_ids(t, i) {
            let c = mh.0[id as usize];
            if c != crate::encode::multi_hot::SKIP && mh_rows[c].last() != Some(&k) {
                mh_rows[c].push(k);
            }
            for &c in &tok.0[id as usize] {
                if tok_rows[c].last() != Some(&k) {
                    tok_rows[c].push(k);
                }
            }
        }
    }
    (mh_rows, tok_rows)
}

/// Fills the description, token and cross blocks of row `i` (`out` starts at the
/// description flags); `raw` is the row's numbers (the crosses' conditions).
fn fill_descriptions(
    enc: (&FittedMultiHot, &FittedTokens, &[CrossPlan]),
    lookups: &Lookups,
    (t, i, raw): (&FeatureTable, usize, &[f64]),
    out: &mut [f64],
) {
    let (multi_hot, tokens, crosses) = enc;
    let ids = description_ids(t, i);
    let n_mh = multi_hot.n_features();
    let n_tok = tokens.n_features();
    let (mh, rest) = out.split_at_mut(n_mh);
    multi_hot.transform_ids(ids, &lookups.multi_hot, mh);
    let (tok, cross) = rest.split_at_mut(n_tok);
    tokens.transform_ids(ids, &lookups.tokens, tok);
    for (o, c) in cross.iter_mut().zip(crosses) {
        *o = mh[c.flag] * f64::from(u8::from(c.with.holds(raw[c.source])));
    }
}

/// Row `i`'s description ids.
fn description_ids(t: &FeatureTable, i: usize) -> &[u32] {
    let d = &t.descriptions;
    &d.ids[d.offsets[i]..d.offsets[i + 1]]
}

fn categorical_index(t: &FeatureTable, name: &str) -> Result<usize> {
    t.categoricals
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| Error::Arrow {
            stage: "encode".into(),
            expected: format!("categorical column {name}"),
            found: format!(
                "{:?}",
                t.categoricals
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
            ),
        })
}

impl FeatureEncoderValidParams {
    /// Fits every encoder on `rows` of `t` (the training rows, with labels `y` and
    /// sampling weights `w`) and returns the standardized training matrix. Target
    /// encodings of the training rows are out-of-fold (`folds[k]` is the fold of
    /// `rows[k]`), so a row never sees its own label through its category's mean.
    pub fn fit_transform(
        &self,
        t: &FeatureTable,
        rows: &[usize],
        y: &[f64],
        w: &[f64],
        folds: &[u8],
        n_folds: usize,
    ) -> Result<(FittedFeatureEncoder, Matrix)> {
        self.fit_transform_numbers(t, (rows, None), y, w, (folds, n_folds))
    }

    /// [`Self::fit_transform`] of rows whose numbers are handed over apart, by value:
    /// `numbers.row(k)` is row `rows[k]`'s (the table's own numbers are not read).
    /// Their buffer grows in place into the matrix ([`Matrix::grow_rows`]), so the
    /// numbers and the matrix are never held side by side (issue 17).
    pub(crate) fn fit_transform_owning_numbers(
        &self,
        t: &FeatureTable,
        (rows, numbers): (&[usize], NumericRows),
        y: &[f64],
        w: &[f64],
        folds: (&[u8], usize),
    ) -> Result<(FittedFeatureEncoder, Matrix)> {
        if numbers.len() != rows.len() {
            return Err(Error::params(
                "numbers",
                format!("one row of numbers per row ({})", rows.len()),
                numbers.len(),
            ));
        }
        self.fit_transform_numbers(t, (rows, Some(numbers)), y, w, folds)
    }

    fn fit_transform_numbers(
        &self,
        t: &FeatureTable,
        (rows, numbers): (&[usize], Option<NumericRows>),
        y: &[f64],
        w: &[f64],
        (folds, n_folds): (&[u8], usize),
    ) -> Result<(FittedFeatureEncoder, Matrix)> {
        if w.len() != rows.len() || y.len() != rows.len() {
            return Err(Error::params(
                "y, w",
                format!("one label and weight per row ({})", rows.len()),
                format!("{} labels, {} weights", y.len(), w.len()),
            ));
        }
        let total_w: f64 = w.iter().sum();
        let prior = if total_w > 0.0 {
            y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / total_w
        } else {
            0.0
        };
        let numeric = numeric_columns(self.missing_days, prior);
        let num_plan = numeric_plan(&numeric)?;
        // Descriptions and categoricals stay dictionary ids throughout: no string
        // per row is built, hashed or compared.
        let multi_hot = self.multi_hot.fit_sets(&t.descriptions, rows)?;
        let mh_lookup = multi_hot.lookup(&t.descriptions.dictionary);
        let tokens = {
            let fitted = self.tokens.fit_sets(&t.descriptions, rows)?;
            let tok_lookup = fitted.lookup(&t.descriptions.dictionary);
            let (mh_rows, tok_rows) = column_rows(
                t,
                rows,
                (&mh_lookup, multi_hot.n_features()),
                (&tok_lookup, fitted.n_features()),
            );
            let names = multi_hot.feature_names();
            let existing: Vec<(String, Vec<u32>)> = names.into_iter().zip(mh_rows).collect();
            fitted.without_duplicates(&existing, |k| tok_rows[k].clone())
        };
        let lookups = Lookups {
            multi_hot: mh_lookup,
            tokens: tokens.lookup(&t.descriptions.dictionary),
        };
        // Weighted positives per kept description flag pick the crossed ones.
        let n_kept = multi_hot.columns().len();
        let mut positive_weight = vec![0.0; n_kept];
        for (k, &i) in rows.iter().enumerate() {
            if y[k] == 1.0 {
                for &id in description_ids(t, i) {
                    let c = lookups.multi_hot[id as usize];
                    if c < n_kept {
                        positive_weight[c] += w[k];
                    }
                }
            }
        }
        let flags: Vec<(String, String)> = multi_hot
            .columns()
            .iter()
            .map(|c| (c.canonical.clone(), c.name.clone()))
            .collect();
        let crosses = self.crosses.fit(&flags, &positive_weight)?;
        let crosses_plan = cross_plan(&crosses, &multi_hot)?;
        let n_num = numeric.len();
        let n_desc = multi_hot.n_features() + tokens.n_features() + crosses.n_features();
        let n_cols = n_num + n_desc + t.categoricals.len();
        // The target encodings' columns are written after the matrix is built, one
        // categorical at a time: their out-of-fold values are never all held beside
        // the matrix (issue 17).
        let fill = |k: usize, raw: &[f64], out: &mut [f64]| -> Result<()> {
            fill_numeric(&num_plan, raw, &mut out[..n_num]);
            fill_descriptions(
                (&multi_hot, &tokens, &crosses_plan),
                &lookups,
                (t, rows[k], raw),
                &mut out[n_num..n_num + n_desc],
            );
            Ok(())
        };
        let shape = (rows.len(), n_cols);
        // The description encoders' fitting freed its per-column row lists on the
        // heap; the matrix is a mapping of its own that would not reuse them, so they
        // go back to the system first (issue 17: some 50 MiB at 1M members).
        crate::memory::release_free_memory();
        let mut x = match numbers {
            Some(numbers) if n_cols >= numbers.width() => {
                let width = numbers.width();
                Matrix::grow_rows(numbers.into_data(), width, shape, fill)?
            }
            numbers => {
                let mut x = Matrix::new(rows.len(), n_cols);
                for (k, &i) in rows.iter().enumerate() {
                    let raw = match &numbers {
                        Some(numbers) => numbers.row(k),
                        None => t.numeric.row(i),
                    };
                    fill(k, raw, x.row_mut(k))?;
                }
                x
            }
        };
        crate::memory::trace_point("training matrix filled, before its target encodings");
        // All rows in table order (the run's training table): the table's codes are
        // the rows' codes, read in place.
        let every_row = rows.iter().enumerate().all(|(k, &i)| k == i);
        let mut target = Vec::with_capacity(t.categoricals.len());
        for (c, cat) in t.categoricals.iter().enumerate() {
            let copied: Vec<u32>;
            let codes = if every_row && cat.codes.len() == rows.len() {
                cat.codes.as_slice()
            } else {
                copied = rows.iter().map(|&i| cat.codes[i]).collect();
                copied.as_slice()
            };
            let (fitted, oof) = self.target.fit_transform_dictionary(
                &cat.dictionary,
                codes,
                y,
                Some(w),
                folds,
                n_folds,
            )?;
            target.push((cat.name.clone(), fitted));
            let j = n_num + n_desc + c;
            for (k, v) in oof.into_iter().enumerate() {
                x.row_mut(k)[j] = v;
            }
        }
        // Scaled in place: no second copy of the matrix.
        let scaler = StandardScalerParams::default()
            .check()?
            .fit(x.data(), n_cols)?;
        scaler.transform(x.data_mut(), n_cols)?;
        let feature_names = numeric
            .iter()
            .map(|c| c.name.clone())
            .chain(multi_hot.feature_names())
            .chain(tokens.feature_names())
            .chain(crosses.columns.iter().map(|c| c.name.clone()))
            .chain(
                target
                    .iter()
                    .map(|(n, _)| format!("te_{}", n.trim_start_matches("cat_"))),
            )
            .collect();
        Ok((
            FittedFeatureEncoder {
                numeric,
                multi_hot,
                tokens,
                crosses,
                target,
                scaler,
                feature_names,
            },
            x,
        ))
    }
}

impl FittedFeatureEncoder {
    pub(crate) fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// The standardized model rows of `rows` of `t` (full-train target maps).
    pub fn transform(&self, t: &FeatureTable, rows: &[usize]) -> Result<Matrix> {
        let num_plan = numeric_plan(&self.numeric)?;
        let crosses_plan = cross_plan(&self.crosses, &self.multi_hot)?;
        let cat_idx: Vec<usize> = self
            .target
            .iter()
            .map(|(n, _)| categorical_index(t, n))
            .collect::<Result<_>>()?;
        let n_num = self.numeric.len();
        let n_desc =
            self.multi_hot.n_features() + self.tokens.n_features() + self.crosses.n_features();
        let n_cols = self.n_features();
        let lookups = Lookups {
            multi_hot: self.multi_hot.lookup(&t.descriptions.dictionary),
            tokens: self.tokens.lookup(&t.descriptions.dictionary),
        };
        // Each categorical's encoding per dictionary code, looked up once.
        let encoded: Vec<Vec<f64>> = self
            .target
            .iter()
            .zip(&cat_idx)
            .map(|((_, enc), &j)| {
                t.categoricals[j]
                    .dictionary
                    .iter()
                    .map(|v| enc.transform(v))
                    .collect()
            })
            .collect();
        let mut x = Matrix::new(rows.len(), n_cols);
        for (k, &i) in rows.iter().enumerate() {
            let out = x.row_mut(k);
            let raw = t.numeric.row(i);
            fill_numeric(&num_plan, raw, &mut out[..n_num]);
            fill_descriptions(
                (&self.multi_hot, &self.tokens, &crosses_plan),
                &lookups,
                (t, i, raw),
                &mut out[n_num..n_num + n_desc],
            );
            for (c, values) in encoded.iter().enumerate() {
                out[n_num + n_desc + c] = values[t.categoricals[cat_idx[c]].codes[i] as usize];
            }
            self.scaler.transform_row(out)?;
        }
        Ok(x)
    }
}

impl FittedFeatureEncoder {
    /// The rows [`Self::transform`] gives for the training rows `block` (indices into
    /// `x`), from the matrix `fit_transform` returned for them. Its `te_` columns hold
    /// out-of-fold encodings: each is replaced by the full-training map's value of the
    /// row's category (`codes[c][k]` into `dictionaries[c]`, for the `c`-th `te_`
    /// column), scaled as `transform` scales it. The other columns are the same fill
    /// and the same per-element scaling, so the rows are bit for bit `transform`'s
    /// (tested), without the feature table's rows (issue 17: they go before the fit).
    pub(crate) fn transform_from_training(
        &self,
        x: &Matrix,
        block: &[usize],
        codes: &[&[u32]],
        dictionaries: &[&[String]],
    ) -> Result<Matrix> {
        let n_cols = self.n_features();
        let n_te = self.target.len();
        if x.n_cols() != n_cols || codes.len() != n_te || dictionaries.len() != n_te {
            return Err(Error::params(
                "training matrix",
                format!("{n_cols} columns, {n_te} code lists and {n_te} dictionaries"),
                format!(
                    "{} columns, {} code lists and {} dictionaries",
                    x.n_cols(),
                    codes.len(),
                    dictionaries.len()
                ),
            ));
        }
        let first_te = n_cols - self.target.len();
        // Each categorical's scaled encoding per dictionary code, looked up once.
        let scaled: Vec<Vec<f64>> = self
            .target
            .iter()
            .zip(dictionaries)
            .enumerate()
            .map(|(c, ((_, enc), dict))| {
                dict.iter()
                    .map(|v| self.scaler.transform_value(first_te + c, enc.transform(v)))
                    .collect::<Option<Vec<f64>>>()
            })
            .collect::<Option<_>>()
            .ok_or_else(|| Error::params("scaler", format!("{n_cols} columns"), "fewer"))?;
        let mut out = Matrix::new(block.len(), n_cols);
        for (k, &i) in block.iter().enumerate() {
            let row = out.row_mut(k);
            row.copy_from_slice(x.row(i));
            for (c, values) in scaled.iter().enumerate() {
                let code = codes[c].get(i).copied().unwrap_or(u32::MAX) as usize;
                row[first_te + c] = *values.get(code).ok_or_else(|| {
                    Error::params(
                        "codes",
                        format!("a code per training row below {}", values.len()),
                        code,
                    )
                })?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_transforms_known_answers() {
        assert_eq!(bin_flag(1.0, 1.0, Some(2.0)), 1.0);
        assert_eq!(bin_flag(2.0, 1.0, Some(2.0)), 0.0);
        assert_eq!(bin_flag(500.0, 90.0, None), 1.0);
        assert_eq!(bin_flag(f64::NAN, 0.0, None), 0.0);
        assert!((cyclic(6.0, 24.0, false) - 1.0).abs() < 1e-15);
        assert!((cyclic(12.0, 24.0, true) + 1.0).abs() < 1e-15);
        assert_eq!(cyclic(f64::NAN, 24.0, true), 0.0);
        // 2 escalations in 3 interactions, prior 0.02, strength 10:
        // (2 + 0.2) / 13 -> logit.
        let r: f64 = 2.2 / 13.0;
        assert!((shrunk_logit_rate(2.0, 3.0, 0.02, 10.0) - (r / (1.0 - r)).ln()).abs() < 1e-12);
        // No history: the prior itself.
        let p: f64 = 0.02;
        assert!(
            (shrunk_logit_rate(f64::NAN, f64::NAN, p, 10.0) - (p / (1.0 - p)).ln()).abs() < 1e-12
        );
        let names: Vec<String> = numeric_columns(365.0, 0.01)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert!(names.contains(&"days_since_prev_0_1".to_string()));
        assert!(names.contains(&"days_since_prev_30_90".to_string()));
        assert!(
            !names.iter().any(|n| n.ends_with("_plus")),
            "no reference bin column"
        );
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
