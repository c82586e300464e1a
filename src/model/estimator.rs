//! The estimator: [`LogisticRegressionParams`] (checked) -> `fit` ->
//! [`FittedLogisticRegression`] (decision function, probabilities), and the input
//! checks the whole module shares (hyper-parameters, labels, weights, training
//! data).
//!
//! `fit` minimizes [`objective_and_gradient`] scaled by `1 / (C * sum w)` with the
//! L-BFGS of [`super::lbfgs`], so `tol` means what it means in scikit-learn,
//! preconditioned by the objective's Hessian at the start point (refreshed while
//! the fit runs long) when the matrix is narrow enough for that to pay.

use serde::{Deserialize, Serialize};

use super::lbfgs::{LbfgsOptions, Preconditioner, minimize_lbfgs};
#[cfg(test)]
use super::objective::sigmoid;
use super::objective::{hessian, objective_and_gradient};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::numeric::dot;
use crate::params::{ParamGuard, Valid, checked};

/// Hyper-parameters of one logistic regression fit (unchecked; [`ParamGuard::check`]
/// gives [`LogisticRegressionValidParams`], which fits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegressionParams {
    /// Inverse regularization strength (scikit-learn's `C`), finite and > 0.
    pub c: f64,
    /// Stop when the largest gradient component of the objective divided by
    /// `C * sum(w)` is at most `tol` (scikit-learn passes `tol` as scipy's `gtol`
    /// on that scaled objective). Finite and > 0.
    pub(crate) tol: f64,
    /// Largest number of L-BFGS iterations, >= 1.
    pub(crate) max_iter: usize,
    /// Fit an unpenalized intercept.
    pub(crate) fit_intercept: bool,
}

impl Default for LogisticRegressionParams {
    /// `C = 1`, `tol = 1e-6`, `max_iter = 1000`, with intercept (tighter than
    /// scikit-learn's `tol = 1e-4, max_iter = 100`).
    fn default() -> Self {
        LogisticRegressionParams {
            c: 1.0,
            tol: 1e-6,
            max_iter: 1000,
            fit_intercept: true,
        }
    }
}

/// Most coefficients (intercept included) a fit preconditions with the Hessian at
/// its start point. The Hessian's pass grows with `q^2`, an evaluation with `q`:
/// at 39 coefficients it costs 2.7 evaluations (`cargo bench --bench hot --
/// objective`), so about 18 at 257, against the hundred and more iterations it saves
/// on correlated columns. An estimate, measured at 39 and 73 coefficients only.
const MAX_PRECONDITIONED_PARAMS: usize = 257;

/// Checked [`LogisticRegressionParams`].
pub(crate) type LogisticRegressionValidParams = Valid<LogisticRegressionParams>;

impl ParamGuard for LogisticRegressionParams {
    type Checked = LogisticRegressionValidParams;

    /// Refuses `c` or `tol` that are not finite and > 0, and `max_iter == 0`.
    fn check_ref(&self) -> Result<()> {
        if !valid_c(self.c) {
            return Err(Error::params("c", "a finite number > 0", self.c));
        }
        check_tol(self.tol)?;
        check_max_iter(self.max_iter)
    }

    fn check(self) -> Result<LogisticRegressionValidParams> {
        checked(self)
    }
}

impl LogisticRegressionValidParams {
    /// Minimizes [`objective_and_gradient`] for `x`, labels `y` (0/1) and
    /// per-row weights `sample_weight` (class weights times sampling weights; >= 0).
    /// `warm_start` gives the starting coefficients (the minimizer does not depend
    /// on it, only the number of iterations does). Not reaching `tol` within
    /// `max_iter` is not an error: the result says `converged: false`.
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        sample_weight: &[f64],
        warm_start: Option<&FittedLogisticRegression>,
    ) -> Result<FittedLogisticRegression> {
        check_training_data(x, y, sample_weight)?;
        self.fit_checked(x, y, sample_weight, warm_start)
    }

    /// [`Self::fit`] on data already checked by [`check_training_data`] (the grid
    /// search checks once, not once per fit).
    pub(super) fn fit_checked(
        &self,
        x: &Matrix,
        y: &[f64],
        sample_weight: &[f64],
        warm_start: Option<&FittedLogisticRegression>,
    ) -> Result<FittedLogisticRegression> {
        let p = x.n_cols();
        let mut x0 = vec![0.0; p + usize::from(self.fit_intercept)];
        if let Some(start) = warm_start {
            if start.coef.len() != p || start.coef.iter().any(|v| !v.is_finite()) {
                return Err(Error::params(
                    "warm_start",
                    format!("{p} finite coefficients"),
                    format!("{} coefficients", start.coef.len()),
                ));
            }
            x0[..p].copy_from_slice(&start.coef);
            if self.fit_intercept && start.intercept.is_finite() {
                x0[p] = start.intercept;
            }
        }
        // Minimize f / (C * sum w): the same minimizer, gradients of order one, and
        // `tol` means what it means in scikit-learn.
        let scale = self.c * sample_weight.iter().sum::<f64>();
        let c = self.c;
        let out = minimize_lbfgs(
            |params, grad| {
                let f = objective_and_gradient(x, y, sample_weight, c, params, grad);
                grad.iter_mut().for_each(|g| *g /= scale);
                f / scale
            },
            x0,
            &LbfgsOptions {
                memory: 10,
                max_iter: self.max_iter,
                gtol: self.tol,
                ftol: 64.0 * f64::EPSILON,
                max_line_search: 50,
            },
            // The Hessian at the start point (and at the refreshes) preconditions
            // the fit; wider matrices run plain (`MAX_PRECONDITIONED_PARAMS`).
            |start: &[f64]| {
                (start.len() <= MAX_PRECONDITIONED_PARAMS).then(|| {
                    let mut h = hessian(x, sample_weight, c, start);
                    h.iter_mut().for_each(|v| *v /= scale);
                    Preconditioner::from_hessian(h, start.len())
                })?
            },
        );
        if !out.f.is_finite() || out.x.iter().any(|v| !v.is_finite()) {
            return Err(Error::data(
                "logistic regression diverged to non-finite coefficients",
                "check the feature matrix for extreme values, or lower C",
            ));
        }
        tracing::trace!(
            c = self.c,
            n_iter = out.n_iter,
            converged = out.converged,
            objective = out.f * scale,
            "logistic regression C {}: {} L-BFGS iterations, {}",
            self.c,
            out.n_iter,
            if out.converged {
                "converged"
            } else {
                "stopped at max_iter"
            }
        );
        let mut coef = out.x;
        let intercept = if self.fit_intercept {
            coef.pop().unwrap_or(0.0)
        } else {
            0.0
        };
        Ok(FittedLogisticRegression {
            coef,
            intercept,
            c: self.c,
            n_iter: out.n_iter,
            objective: out.f * scale,
            converged: out.converged,
        })
    }
}

/// A fitted model: `P(y = 1 | x) = sigmoid(x . coef + intercept)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedLogisticRegression {
    /// One coefficient per column of the training matrix.
    pub coef: Vec<f64>,
    /// Intercept (0 when fitted without one; the calibration maps it with the slope).
    pub intercept: f64,
    /// The `C` it was fitted with.
    pub(crate) c: f64,
    /// L-BFGS iterations used.
    pub n_iter: usize,
    /// Objective at the solution, `C * sum w l + ||beta||^2 / 2`.
    pub objective: f64,
    /// Whether a stopping rule (gradient or relative objective change) was met.
    pub converged: bool,
}

impl FittedLogisticRegression {
    /// Linear score `row . coef + intercept`; `row` must have `coef.len()` values
    /// ([`Self::predict_proba`] checks this for a whole matrix).
    pub(crate) fn decision_function(&self, row: &[f64]) -> f64 {
        debug_assert_eq!(row.len(), self.coef.len());
        dot(row, &self.coef) + self.intercept
    }

    /// `sigmoid(decision_function(row))` for every row; refuses a matrix whose
    /// column count differs from the model's.
    #[cfg(test)]
    fn predict_proba(&self, x: &Matrix) -> Result<Vec<f64>> {
        if x.n_cols() != self.coef.len() {
            return Err(Error::data(
                format!(
                    "feature matrix has {} columns but the model has {} coefficients",
                    x.n_cols(),
                    self.coef.len()
                ),
                "score with the same feature spec the model was trained with",
            ));
        }
        Ok(x.rows()
            .map(|row| sigmoid(self.decision_function(row)))
            .collect())
    }
}

// ---- input checks (shared by the module) ------------------------------------------

/// The range of `C` (and of an explicit class weight): finite and > 0.
pub(super) fn valid_c(c: f64) -> bool {
    c.is_finite() && c > 0.0
}

pub(super) fn check_tol(tol: f64) -> Result<()> {
    if tol.is_finite() && tol > 0.0 {
        Ok(())
    } else {
        Err(Error::params("tol", "a finite number > 0", tol))
    }
}

pub(super) fn check_max_iter(max_iter: usize) -> Result<()> {
    if max_iter >= 1 {
        Ok(())
    } else {
        Err(Error::params("max_iter", "an integer >= 1", max_iter))
    }
}

/// Labels in {0, 1}.
pub(super) fn check_labels(y: &[f64]) -> Result<()> {
    match y.iter().position(|&v| v != 0.0 && v != 1.0) {
        None => Ok(()),
        Some(i) => Err(Error::data(
            format!("label of row {i} is {}, not 0 or 1", y[i]),
            "map the label column to 0/1 before fitting",
        )),
    }
}

/// Weights finite and >= 0, one per row.
pub(super) fn check_weights(name: &str, w: &[f64], n: usize) -> Result<()> {
    if w.len() != n {
        return Err(Error::params(
            name,
            format!("{n} values (one per row)"),
            format!("{} values", w.len()),
        ));
    }
    match w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        None => Ok(()),
        Some(i) => Err(Error::data(
            format!("{name} of row {i} is {}, not a finite number >= 0", w[i]),
            "check the class weights and sampling weights",
        )),
    }
}

/// Everything `fit` needs from its inputs: shapes agree, labels 0/1, weights >= 0,
/// finite features, and both classes with positive total weight.
pub(super) fn check_training_data(x: &Matrix, y: &[f64], w: &[f64]) -> Result<()> {
    let n = x.n_rows();
    if n == 0 {
        return Err(Error::data("no training rows", "widen the training window"));
    }
    if y.len() != n {
        return Err(Error::params(
            "y",
            format!("{n} labels (one per row)"),
            format!("{} labels", y.len()),
        ));
    }
    check_labels(y)?;
    check_weights("sample_weight", w, n)?;
    if let Some(k) = x.data().iter().position(|v| !v.is_finite()) {
        let p = x.n_cols().max(1);
        return Err(Error::data(
            format!(
                "feature matrix row {} column {} is {}",
                k / p,
                k % p,
                x.data()[k]
            ),
            "impute or drop non-finite features before fitting",
        ));
    }
    let (w_neg, w_pos) = class_totals(y, w);
    if w_pos <= 0.0 || w_neg <= 0.0 {
        let absent = if w_pos <= 0.0 { "positive" } else { "negative" };
        return Err(Error::data(
            format!(
                "training rows have no {absent} row with weight > 0; logistic regression needs both classes"
            ),
            "widen the training window or check the label column",
        ));
    }
    Ok(())
}

/// Total weight of the negative and positive rows.
pub(super) fn class_totals(y: &[f64], w: &[f64]) -> (f64, f64) {
    y.iter().zip(w).fold((0.0, 0.0), |(neg, pos), (&yi, &wi)| {
        if yi == 1.0 {
            (neg, pos + wi)
        } else {
            (neg + wi, pos)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{FIXTURES, Fixture, case_weights, norm_rel, tight};

    #[test]
    fn matches_scikit_learn_fixtures() {
        let mut worst_exact = 0.0_f64;
        let mut worst_lbfgs = 0.0_f64;
        let mut worst_elem = 0.0_f64;
        let mut n_cases = 0;
        for (name, text) in FIXTURES {
            let fx: Fixture = serde_json::from_str(text).unwrap();
            let x = Matrix::from_rows(&fx.x).unwrap();
            for case in &fx.cases {
                let w = case_weights(&fx, case);
                let fit = tight(case.c, case.fit_intercept)
                    .fit(&x, &fx.y, &w, None)
                    .unwrap();
                let mut ours = fit.coef.clone();
                ours.push(fit.intercept);
                let mut exact = case.coef.clone();
                exact.push(case.intercept);
                let mut lbfgs = case.coef_lbfgs.clone();
                lbfgs.push(case.intercept_lbfgs);
                let e_exact = norm_rel(&ours, &exact);
                let e_lbfgs = norm_rel(&ours, &lbfgs);
                // Elementwise relative error, with coefficients below 1e-2 measured
                // against 1e-2 (relative error of a near-zero number is noise).
                let e_elem = ours.iter().zip(&exact).fold(0.0_f64, |m, (a, b)| {
                    m.max((a - b).abs() / b.abs().max(1e-2))
                });
                let e_obj = (fit.objective - case.objective).abs() / case.objective.abs();
                eprintln!(
                    "{name:9} C={:<6} cw={:?} sw={} fi={}: iters {:3} conv {} rel err vs newton {e_exact:.1e}, vs lbfgs {e_lbfgs:.1e}, elementwise {e_elem:.1e}, objective {e_obj:.1e}",
                    case.c,
                    case.class_weight,
                    case.sample_weight,
                    case.fit_intercept,
                    fit.n_iter,
                    fit.converged
                );
                assert!(fit.converged, "{name} C={} did not converge", case.c);
                assert!(e_exact < 1e-6, "{name} C={}: {e_exact}", case.c);
                assert!(e_lbfgs < 1e-6, "{name} C={}: {e_lbfgs}", case.c);
                assert!(e_elem < 1e-6, "{name} C={}: {e_elem}", case.c);
                assert!(e_obj < 1e-10, "{name} C={}: objective {e_obj}", case.c);
                worst_exact = worst_exact.max(e_exact);
                worst_lbfgs = worst_lbfgs.max(e_lbfgs);
                worst_elem = worst_elem.max(e_elem);
                n_cases += 1;
            }
        }
        eprintln!(
            "{n_cases} cases; max rel err vs newton-cholesky {worst_exact:.2e}, vs lbfgs {worst_lbfgs:.2e}, elementwise {worst_elem:.2e}"
        );
        assert!(n_cases >= 16);
    }

    #[test]
    fn warm_start_reaches_the_same_minimizer() {
        let fx: Fixture = serde_json::from_str(FIXTURES[2].1).unwrap();
        let x = Matrix::from_rows(&fx.x).unwrap();
        let w = vec![1.0; fx.y.len()];
        let from = tight(0.01, true).fit(&x, &fx.y, &w, None).unwrap();
        let cold = tight(1.0, true).fit(&x, &fx.y, &w, None).unwrap();
        let warm = tight(1.0, true).fit(&x, &fx.y, &w, Some(&from)).unwrap();
        let mut a = cold.coef.clone();
        a.push(cold.intercept);
        let mut b = warm.coef.clone();
        b.push(warm.intercept);
        // Both stop by the same rules (gradient or 64 eps relative objective
        // change), which pin the minimizer to about 1e-7, not to the last digit.
        assert!(norm_rel(&b, &a) < 1e-6, "{cold:?} vs {warm:?}");
        let bad = FittedLogisticRegression {
            coef: vec![0.0; 3],
            ..from
        };
        assert!(tight(1.0, true).fit(&x, &fx.y, &w, Some(&bad)).is_err());
    }

    #[test]
    fn predict_proba_is_sigmoid_of_decision_function() {
        let m = FittedLogisticRegression {
            coef: vec![1.0, -2.0],
            intercept: 0.5,
            c: 1.0,
            n_iter: 0,
            objective: 0.0,
            converged: true,
        };
        let x = Matrix::from_rows(&[vec![0.0, 0.0], vec![1.0, 1.0]]).unwrap();
        let p = m.predict_proba(&x).unwrap();
        assert!((p[0] - sigmoid(0.5)).abs() < 1e-15);
        assert!((p[1] - sigmoid(-0.5)).abs() < 1e-15);
        assert!(m.predict_proba(&Matrix::new(2, 3)).is_err());
        let json = serde_json::to_string(&m).unwrap();
        let back: FittedLogisticRegression = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn params_check_names_the_parameter_out_of_range() {
        let ok = LogisticRegressionParams::default();
        assert_eq!(ok.clone().check().unwrap().c, 1.0);
        let mut cases = Vec::new();
        for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            cases.push((LogisticRegressionParams { c, ..ok.clone() }, "c"));
        }
        for tol in [0.0, -1e-4, f64::NAN] {
            cases.push((LogisticRegressionParams { tol, ..ok.clone() }, "tol"));
        }
        cases.push((
            LogisticRegressionParams {
                max_iter: 0,
                ..ok.clone()
            },
            "max_iter",
        ));
        for (p, name) in cases {
            let err = p.check().unwrap_err();
            assert_eq!(crate::params::param_name(&err), Some(name), "{err}");
        }
    }

    #[test]
    fn fit_refuses_bad_data() {
        let p = LogisticRegressionParams::default().check().unwrap();
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0]]).unwrap();
        let y = [0.0, 1.0, 0.0];
        let w = [1.0; 3];
        assert!(p.fit(&x, &y, &w, None).is_ok());
        assert!(p.fit(&x, &[0.0, 1.0], &w, None).is_err()); // length
        assert!(p.fit(&x, &y, &[1.0; 2], None).is_err()); // length
        assert!(p.fit(&x, &[0.0, 2.0, 0.0], &w, None).is_err()); // label
        assert!(p.fit(&x, &y, &[1.0, -1.0, 1.0], None).is_err()); // weight
        assert!(p.fit(&x, &y, &[1.0, f64::NAN, 1.0], None).is_err()); // weight
        assert!(p.fit(&x, &[0.0; 3], &w, None).is_err()); // one class
        assert!(p.fit(&x, &y, &[1.0, 0.0, 1.0], None).is_err()); // positive weight 0
        assert!(p.fit(&Matrix::new(0, 1), &[], &[], None).is_err()); // no rows
        let nan = Matrix::from_rows(&[vec![0.0], vec![f64::NAN], vec![2.0]]).unwrap();
        assert!(p.fit(&nan, &y, &w, None).is_err());
    }
}
