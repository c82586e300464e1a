//! Standardization of numeric features with training statistics (scikit-learn's
//! `StandardScaler`), and the fixed transforms applied to raw counts and day gaps
//! before scaling.
//!
//! Why the log transforms: call counts and day gaps are heavy-tailed (most members
//! call a few times, a few call daily; gaps run from 0 to years). `ln(1 + x)` keeps 0
//! at 0, orders values the same way, and stops a handful of extreme members from
//! dominating the mean and variance the scaler learns.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::{ParamGuard, Valid, checked};

/// `ln(1 + x)` of a count (calls in the last N days, earlier escalations, events).
///
/// Counts are never negative; a negative input is clamped to 0 rather than producing
/// NaN, and NaN stays NaN (a NaN count is a bug upstream that the scaler refuses).
pub(crate) fn log1p_count(count: f64) -> f64 {
    if count < 0.0 { 0.0 } else { count.ln_1p() }
}

/// `ln(1 + days)` of a day gap (days since the previous interaction, since the last
/// escalation, since the first interaction).
///
/// A gap is absent when there is no earlier event (a member's first interaction, no
/// earlier escalation). `missing_days` stands in for it: the caller passes a value
/// meaning "longer ago than anything in the history window" (for example the window
/// length in days), so that "never" ranks beyond every observed gap instead of next
/// to "yesterday". A NaN gap counts as absent; a negative gap (clock skew between
/// sources) is clamped to 0.
pub(crate) fn log1p_days(days: Option<f64>, missing_days: f64) -> f64 {
    match days {
        Some(d) if !d.is_nan() => log1p_count(d),
        _ => log1p_count(missing_days),
    }
}

/// Parameters of [`FittedStandardScaler`]. There are none today (centring and
/// scaling are always on); the type keeps the `Params -> Fitted` lifecycle uniform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct StandardScalerParams {}

/// Per-column mean and scale learned on the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FittedStandardScaler {
    pub(crate) mean: Vec<f64>,
    /// Population standard deviation (ddof = 0), or 1 for a (near) constant column.
    pub(crate) scale: Vec<f64>,
}

/// Mean and scale of one column, as scikit-learn 1.9 computes them for dense data
/// without weights.
///
/// Source: `sklearn/utils/extmath.py::_incremental_mean_and_var` (first call) and
/// `StandardScaler.partial_fit`: `mean = sum(x) / n`; the corrected two-pass variance
/// `var = (sum((x - mean)^2) - sum(x - mean)^2 / n) / n` (Chan, Golub & LeVeque);
/// the column is constant when `var <= n*eps*var + (n*mean*eps)^2`
/// (`_is_constant_feature`), and then its scale is 1, else `sqrt(var)`.
/// Sums run in row order, as NumPy reduces along axis 0 of a C-ordered array.
/// The reference for [`mean_scale_row_major`], which computes the same thing for
/// every column at once.
#[cfg(test)]
fn column_mean_scale(column: impl Iterator<Item = f64> + Clone, n: usize) -> (f64, f64) {
    let nf = n as f64;
    let mean = column.clone().fold(0.0, |s, x| s + x) / nf;
    let (correction, squares) = column.fold((0.0, 0.0), |(c, q), x| {
        let d = x - mean;
        (c + d, q + d * d)
    });
    let var = (squares - correction * correction / nf) / nf;
    let eps = f64::EPSILON;
    let constant = var <= nf * eps * var + (nf * mean * eps).powi(2);
    (mean, if constant { 1.0 } else { var.sqrt() })
}

/// [`column_mean_scale`] of every column of a row-major matrix in two sequential
/// passes (rather than one strided pass per column, which reads the whole matrix
/// once per column). Each column's sums still run in row order, so the results are
/// the same to the bit.
fn mean_scale_row_major(data: &[f64], n_cols: usize, n: usize) -> FittedStandardScaler {
    let nf = n as f64;
    let mut sum = vec![0.0; n_cols];
    for row in data.chunks_exact(n_cols) {
        for (s, &x) in sum.iter_mut().zip(row) {
            *s += x;
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / nf).collect();
    let mut correction = vec![0.0; n_cols];
    let mut squares = vec![0.0; n_cols];
    for row in data.chunks_exact(n_cols) {
        for (((c, q), &x), &m) in correction.iter_mut().zip(&mut squares).zip(row).zip(&mean) {
            let d = x - m;
            *c += d;
            *q += d * d;
        }
    }
    let eps = f64::EPSILON;
    let scale = mean
        .iter()
        .zip(correction.iter().zip(&squares))
        .map(|(&m, (&c, &q))| {
            let var = (q - c * c / nf) / nf;
            let constant = var <= nf * eps * var + (nf * m * eps).powi(2);
            if constant { 1.0 } else { var.sqrt() }
        })
        .collect();
    FittedStandardScaler { mean, scale }
}

/// Checked [`StandardScalerParams`].
type StandardScalerValidParams = Valid<StandardScalerParams>;

impl ParamGuard for StandardScalerParams {
    type Checked = StandardScalerValidParams;

    /// Nothing to check yet; kept for the uniform lifecycle.
    fn check_ref(&self) -> Result<()> {
        Ok(())
    }

    fn check(self) -> Result<StandardScalerValidParams> {
        checked(self)
    }
}

impl StandardScalerValidParams {
    /// Fits on a row-major matrix of `n_cols` columns.
    ///
    /// Errors: `n_cols == 0` or a length that is not a multiple of it
    /// ([`Error::Params`]); no rows, or a non-finite value ([`Error::Data`]).
    pub(crate) fn fit(&self, data: &[f64], n_cols: usize) -> Result<FittedStandardScaler> {
        let n = check_shape(data, n_cols)?;
        if n == 0 {
            return Err(Error::data(
                "the scaler has no training rows",
                "choose a training window that contains interactions",
            ));
        }
        if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                format!(
                    "numeric feature column {} has a non-finite value ({}) at training row {}",
                    pos % n_cols,
                    data[pos],
                    pos / n_cols
                ),
                "fill missing numeric features before scaling",
            ));
        }
        Ok(mean_scale_row_major(data, n_cols, n))
    }

    /// Fits on rows of equal length (see [`StandardScalerValidParams::fit`]).
    #[cfg(test)]
    pub(crate) fn fit_rows(&self, rows: &[Vec<f64>]) -> Result<FittedStandardScaler> {
        let n_cols = rows.first().map_or(0, Vec::len);
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != n_cols) {
            return Err(Error::params(
                "rows",
                format!("rows of {n_cols} values"),
                format!("{} values in row {i}", r.len()),
            ));
        }
        self.fit(&rows.concat(), n_cols)
    }
}

/// Checks that `data` is whole rows of `n_cols`; returns the number of rows.
fn check_shape(data: &[f64], n_cols: usize) -> Result<usize> {
    if n_cols == 0 || !data.len().is_multiple_of(n_cols) {
        return Err(Error::params(
            "n_cols",
            format!("a positive divisor of the data length {}", data.len()),
            n_cols,
        ));
    }
    Ok(data.len() / n_cols)
}

impl FittedStandardScaler {
    /// Number of columns the scaler was fitted on.
    pub(crate) fn n_cols(&self) -> usize {
        self.mean.len()
    }

    /// `x <- (x - mean) / scale` on one row, in place (scikit-learn's `transform`:
    /// subtract, then divide).
    pub(crate) fn transform_row(&self, row: &mut [f64]) -> Result<()> {
        if row.len() != self.n_cols() {
            return Err(Error::params(
                "row",
                format!("{} numeric features", self.n_cols()),
                row.len(),
            ));
        }
        for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
            *x = (*x - m) / s;
        }
        Ok(())
    }

    /// Scales one value of column `j`: the arithmetic of [`Self::transform_row`], so
    /// the same value scales to the same bits. `None` past the fitted columns.
    pub(crate) fn transform_value(&self, j: usize, x: f64) -> Option<f64> {
        Some((x - self.mean.get(j)?) / self.scale.get(j)?)
    }

    /// Scales a row-major matrix in place; `n_cols` must match the fitted columns.
    pub(crate) fn transform(&self, data: &mut [f64], n_cols: usize) -> Result<()> {
        check_shape(data, n_cols)?;
        if n_cols != self.n_cols() {
            return Err(Error::params(
                "n_cols",
                format!("{} numeric features", self.n_cols()),
                n_cols,
            ));
        }
        data.chunks_exact_mut(n_cols)
            .try_for_each(|row| self.transform_row(row))
    }

    /// Scales rows in place.
    #[cfg(test)]
    fn transform_rows(&self, rows: &mut [Vec<f64>]) -> Result<()> {
        rows.iter_mut().try_for_each(|row| self.transform_row(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn row_major_pass_matches_the_column_reference_to_the_bit() {
        let (n, n_cols) = (1001, 7);
        let mut state = 12345_u64;
        let data: Vec<f64> = (0..n * n_cols)
            .map(|k| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                // Column 3 is constant; the others have different offsets and spreads.
                if k % n_cols == 3 {
                    2.5
                } else {
                    1e3 * (k % n_cols) as f64 + u * u
                }
            })
            .collect();
        let fitted = mean_scale_row_major(&data, n_cols, n);
        for j in 0..n_cols {
            let (m, s) = column_mean_scale(data.iter().skip(j).step_by(n_cols).copied(), n);
            assert_eq!(fitted.mean[j].to_bits(), m.to_bits(), "mean of column {j}");
            assert_eq!(
                fitted.scale[j].to_bits(),
                s.to_bits(),
                "scale of column {j}"
            );
        }
        assert_eq!(fitted.scale[3], 1.0);
    }

    fn floats(v: &Value, key: &str) -> Vec<f64> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn sklearn_fixture_agrees() {
        let fx: Value = serde_json::from_str(include_str!(
            "../../tests/data/sklearn/standard_scaler.json"
        ))
        .unwrap();
        let n_cols = fx["n_cols"].as_u64().unwrap() as usize;
        let mut data = floats(&fx, "data");
        let fitted = StandardScalerParams::default()
            .check()
            .unwrap()
            .fit(&data, n_cols)
            .unwrap();
        let (mean, scale) = (floats(&fx, "mean"), floats(&fx, "scale"));
        let mut max_err = 0.0_f64;
        for j in 0..n_cols {
            max_err = max_err.max((fitted.mean[j] - mean[j]).abs() / mean[j].abs().max(1.0));
            max_err = max_err.max((fitted.scale[j] - scale[j]).abs() / scale[j]);
        }
        // The constant 0.1 column has a rounding-level variance: scale must be 1.
        assert_eq!(fitted.scale[2], 1.0);
        fitted.transform(&mut data, n_cols).unwrap();
        let want = floats(&fx, "transformed");
        for (a, b) in data.iter().zip(&want) {
            max_err = max_err.max((a - b).abs() / b.abs().max(1.0));
        }
        println!("max relative error vs sklearn StandardScaler: {max_err:e}");
        assert!(max_err <= 1e-12, "{max_err}");
    }

    #[test]
    fn population_std_and_constant_columns() {
        let rows = vec![vec![1.0, 5.0], vec![3.0, 5.0]];
        let f = StandardScalerParams::default()
            .check()
            .unwrap()
            .fit_rows(&rows)
            .unwrap();
        assert_eq!(f.mean, vec![2.0, 5.0]);
        assert_eq!(f.scale, vec![1.0, 1.0]); // std of {1, 3} is 1 (ddof 0); constant -> 1
        let mut r = rows.clone();
        f.transform_rows(&mut r).unwrap();
        assert_eq!(r, vec![vec![-1.0, 0.0], vec![1.0, 0.0]]);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            serde_json::from_str::<FittedStandardScaler>(&json).unwrap(),
            f
        );
    }

    #[test]
    fn bad_shapes_and_values_are_refused() {
        let p = StandardScalerParams::default().check().unwrap();
        assert!(matches!(
            p.fit(&[1.0, 2.0, 3.0], 2),
            Err(Error::Params { .. })
        ));
        assert!(matches!(p.fit(&[1.0], 0), Err(Error::Params { .. })));
        assert!(matches!(p.fit(&[], 2), Err(Error::Data { .. })));
        assert!(matches!(
            p.fit(&[1.0, f64::NAN], 1),
            Err(Error::Data { .. })
        ));
        assert!(p.fit_rows(&[vec![1.0], vec![1.0, 2.0]]).is_err());
        let f = p.fit(&[1.0, 2.0, 3.0, 4.0], 2).unwrap();
        assert!(f.transform(&mut [1.0, 2.0, 3.0], 3).is_err());
        assert!(f.transform_row(&mut [1.0]).is_err());
    }

    #[test]
    fn log_transforms() {
        assert_eq!(log1p_count(0.0), 0.0);
        assert_eq!(log1p_count(-2.0), 0.0);
        assert!((log1p_count(std::f64::consts::E - 1.0) - 1.0).abs() < 1e-15);
        assert_eq!(log1p_days(Some(3.0), 365.0), 4.0_f64.ln());
        assert_eq!(log1p_days(None, 365.0), 366.0_f64.ln());
        assert_eq!(log1p_days(Some(f64::NAN), 365.0), 366.0_f64.ln());
        assert_eq!(log1p_days(Some(-1.0), 365.0), 0.0);
    }
}
