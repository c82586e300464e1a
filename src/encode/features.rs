//! The whole design matrix: numeric transforms, description flags, target-encoded
//! categoricals, then standardization — fitted on the training rows only and applied
//! unchanged to any other rows.
//!
//! Column order: the numeric block (`NUMERIC_COLUMNS`), the description flags
//! (`pydesc_*`, then `pydesc_other`), one `te_<categorical>` per categorical.

use serde::{Deserialize, Serialize};

use crate::encode::{
    FittedMultiHot, FittedStandardScaler, FittedTargetEncoder, MultiHotParams,
    StandardScalerParams, TargetEncoderParams, log1p_count, log1p_days,
};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::table::{FeatureTable, NUMERIC_FEATURES};

/// How a numeric model column is derived from the feature table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum NumericTransform {
    /// `ln(1 + count)`: call counts are heavy-tailed; the log keeps a burst of 30
    /// calls from dominating the fit.
    Log1pCount,
    /// `ln(1 + days)`, with "no earlier event" standing for `missing_days`.
    Log1pDays { missing_days: f64 },
    /// 1 when the source feature is null (no earlier interaction / escalation).
    IsMissing,
}

/// One numeric model column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericColumn {
    pub name: String,
    /// Name of the feature-table column it reads (one of `NUMERIC_FEATURES`).
    pub source: String,
    pub transform: NumericTransform,
}

/// The numeric block: (model column, source feature, transform). A gap with no
/// earlier event counts as a year (the demo history) and gets its own indicator.
pub fn numeric_columns(missing_days: f64) -> Vec<NumericColumn> {
    let days = NumericTransform::Log1pDays { missing_days };
    let spec: [(&str, &str, NumericTransform); 10] = [
        ("log_n_events", "n_events", NumericTransform::Log1pCount),
        ("log_days_since_prev", "days_since_prev", days),
        (
            "no_prev_interaction",
            "days_since_prev",
            NumericTransform::IsMissing,
        ),
        (
            "log_calls_prev_7d",
            "calls_prev_7d",
            NumericTransform::Log1pCount,
        ),
        (
            "log_calls_prev_30d",
            "calls_prev_30d",
            NumericTransform::Log1pCount,
        ),
        (
            "log_calls_prev_90d",
            "calls_prev_90d",
            NumericTransform::Log1pCount,
        ),
        (
            "log_prior_escalations",
            "prior_escalations",
            NumericTransform::Log1pCount,
        ),
        (
            "log_days_since_last_escalation",
            "days_since_last_escalation",
            days,
        ),
        (
            "no_prior_escalation",
            "days_since_last_escalation",
            NumericTransform::IsMissing,
        ),
        (
            "log_tenure_days",
            "tenure_days",
            NumericTransform::Log1pDays { missing_days: 0.0 },
        ),
    ];
    spec.iter()
        .map(|(n, s, t)| NumericColumn {
            name: n.to_string(),
            source: s.to_string(),
            transform: *t,
        })
        .collect()
}

/// Parameters of the whole encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureEncoderParams {
    pub multi_hot: MultiHotParams,
    pub target: TargetEncoderParams,
    /// Day gap that stands for "no earlier event".
    pub missing_days: f64,
}

impl FeatureEncoderParams {
    pub fn check(&self) -> Result<()> {
        self.multi_hot.check()?;
        self.target.check()?;
        if !(self.missing_days.is_finite() && self.missing_days >= 0.0) {
            return Err(Error::params(
                "missing_days",
                "a finite number >= 0",
                self.missing_days,
            ));
        }
        Ok(())
    }
}

/// Everything needed to turn feature-table rows into model rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedFeatureEncoder {
    pub numeric: Vec<NumericColumn>,
    pub multi_hot: FittedMultiHot,
    /// (feature-table categorical, fitted encoder), in model column order.
    pub target: Vec<(String, FittedTargetEncoder)>,
    pub scaler: FittedStandardScaler,
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

fn fill_numeric(cols: &[(usize, NumericTransform)], t: &FeatureTable, i: usize, out: &mut [f64]) {
    for (o, (j, tr)) in out.iter_mut().zip(cols) {
        let v = t.numeric[*j][i];
        *o = match tr {
            NumericTransform::Log1pCount => log1p_count(if v.is_nan() { 0.0 } else { v }),
            NumericTransform::Log1pDays { missing_days } => {
                log1p_days((!v.is_nan()).then_some(v), *missing_days)
            }
            NumericTransform::IsMissing => f64::from(u8::from(v.is_nan())),
        };
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

impl FeatureEncoderParams {
    /// Fits every encoder on `rows` of `t` (the training rows) and returns the
    /// standardized training matrix. Target encodings of the training rows are
    /// out-of-fold (`folds[k]` is the fold of `rows[k]`), so a row never sees its
    /// own label through its category's mean.
    pub fn fit_transform(
        &self,
        t: &FeatureTable,
        rows: &[usize],
        y: &[f64],
        folds: &[usize],
        n_folds: usize,
    ) -> Result<(FittedFeatureEncoder, Matrix)> {
        self.check()?;
        let numeric = numeric_columns(self.missing_days);
        let num_src: Vec<(usize, NumericTransform)> = numeric
            .iter()
            .map(|c| Ok((numeric_index(&c.source)?, c.transform)))
            .collect::<Result<_>>()?;
        // Descriptions and categoricals stay dictionary ids throughout: no string
        // per row is built, hashed or compared.
        let multi_hot = self.multi_hot.fit_sets(&t.descriptions, rows)?;
        let lookup = multi_hot.lookup(&t.descriptions.dictionary);
        let mut target = Vec::new();
        let mut oof_cols = Vec::new();
        for c in &t.categoricals {
            let codes: Vec<u32> = rows.iter().map(|&i| c.codes[i]).collect();
            let (fitted, oof) =
                self.target
                    .fit_transform_dictionary(&c.dictionary, &codes, y, folds, n_folds)?;
            target.push((c.name.clone(), fitted));
            oof_cols.push(oof);
        }
        let n_num = numeric.len();
        let n_mh = multi_hot.n_features();
        let n_cols = n_num + n_mh + target.len();
        let mut x = Matrix::new(rows.len(), n_cols);
        for (k, &i) in rows.iter().enumerate() {
            let out = x.row_mut(k);
            fill_numeric(&num_src, t, i, &mut out[..n_num]);
            multi_hot.transform_ids(
                description_ids(t, i),
                &lookup,
                &mut out[n_num..n_num + n_mh],
            );
            for (c, col) in oof_cols.iter().enumerate() {
                out[n_num + n_mh + c] = col[k];
            }
        }
        drop(oof_cols);
        // Scaled in place: no second copy of the matrix.
        let scaler = StandardScalerParams::default().fit(x.data(), n_cols)?;
        scaler.transform(x.data_mut(), n_cols)?;
        let feature_names = numeric
            .iter()
            .map(|c| c.name.clone())
            .chain(multi_hot.feature_names())
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
                target,
                scaler,
                feature_names,
            },
            x,
        ))
    }
}

impl FittedFeatureEncoder {
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// The standardized model rows of `rows` of `t` (full-train target maps).
    pub fn transform(&self, t: &FeatureTable, rows: &[usize]) -> Result<Matrix> {
        let num_src: Vec<(usize, NumericTransform)> = self
            .numeric
            .iter()
            .map(|c| Ok((numeric_index(&c.source)?, c.transform)))
            .collect::<Result<_>>()?;
        let cat_idx: Vec<usize> = self
            .target
            .iter()
            .map(|(n, _)| categorical_index(t, n))
            .collect::<Result<_>>()?;
        let n_num = self.numeric.len();
        let n_mh = self.multi_hot.n_features();
        let n_cols = self.n_features();
        let lookup = self.multi_hot.lookup(&t.descriptions.dictionary);
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
            fill_numeric(&num_src, t, i, &mut out[..n_num]);
            self.multi_hot.transform_ids(
                description_ids(t, i),
                &lookup,
                &mut out[n_num..n_num + n_mh],
            );
            for (c, values) in encoded.iter().enumerate() {
                out[n_num + n_mh + c] = values[t.categoricals[cat_idx[c]].codes[i] as usize];
            }
            self.scaler.transform_row(out)?;
        }
        Ok(x)
    }
}
