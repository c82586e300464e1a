//! Calibration: Platt scaling ([`PlattParams`] -> check -> [`PlattValidParams`] ->
//! `fit` -> [`FittedPlatt`]), which
//! training uses to map linear scores to population probabilities, and the King &
//! Zeng prior correction ([`prior_correction_shift`], with
//! [`effective_positive_fraction`]), kept as a tested formula.

use serde::{Deserialize, Serialize};

use super::estimator::{check_labels, check_max_iter, check_tol, check_weights, class_totals};
use super::objective::{logistic_loss, sigmoid};
use crate::error::{Error, Result};
use crate::params::{ParamGuard, Valid, checked};

// ---- prior correction ---------------------------------------------------------------

/// Weighted positive fraction `ybar = sum_i w_i y_i / sum_i w_i`: the positive
/// share the model effectively saw (pass the product of class and sampling weights).
pub(crate) fn effective_positive_fraction(y: &[f64], w: &[f64]) -> Result<f64> {
    check_labels(y)?;
    check_weights("sample_weight", w, y.len())?;
    let (neg, pos) = class_totals(y, w);
    if neg + pos <= 0.0 {
        return Err(Error::data(
            "the training weights sum to zero",
            "check the class weights and sampling weights",
        ));
    }
    Ok(pos / (neg + pos))
}

/// Intercept shift of the prior correction (King & Zeng 2001, "Logistic
/// Regression in Rare Events Data", *Political Analysis* 9(2), eq. 7):
///
/// `shift = -ln[((1 - tau) / tau) * (ybar / (1 - ybar))]`
///
/// where `ybar` (`sample_positive_fraction`) is the effective positive fraction the
/// model was trained on (see [`effective_positive_fraction`]) and `tau`
/// (`population_positive_fraction`) the positive fraction of the population to be
/// scored. Add it to the fitted intercept so that `sigmoid(x . beta + b + shift)`
/// estimates population probabilities; it is 0 when `ybar == tau`. Both fractions
/// must lie strictly between 0 and 1.
#[cfg(test)]
fn prior_correction_shift(
    sample_positive_fraction: f64,
    population_positive_fraction: f64,
) -> Result<f64> {
    for (name, v) in [
        ("sample_positive_fraction", sample_positive_fraction),
        ("population_positive_fraction", population_positive_fraction),
    ] {
        if !(v > 0.0 && v < 1.0) {
            return Err(Error::params(
                name,
                "a fraction strictly between 0 and 1",
                v,
            ));
        }
    }
    let (ybar, tau) = (sample_positive_fraction, population_positive_fraction);
    Ok(-(((1.0 - tau) / tau) * (ybar / (1.0 - ybar))).ln())
}

// ---- Platt scaling ------------------------------------------------------------------

/// Platt scaling: `p = sigmoid(a + b z)` maps a linear score `z` to a probability.
///
/// Fitted by [`PlattValidParams::fit`] on out-of-fold linear scores weighted back to the
/// population, so that it undoes what class weights and downsampling did to the
/// scale of `z`, for the fold models and the refit alike (they share one scale).
/// One affine map and a sigmoid: it compiles to one SQL expression.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct FittedPlatt {
    /// Intercept of the map.
    pub(crate) a: f64,
    /// Slope of the map (positive when the scores rank the right way).
    pub(crate) b: f64,
}

impl FittedPlatt {
    /// `sigmoid(a + b z)`.
    pub(crate) fn apply(&self, z: f64) -> f64 {
        sigmoid(self.a + self.b * z)
    }
}

/// Stopping rule of the Newton iterations of [`PlattValidParams::fit`] (unchecked;
/// [`ParamGuard::check`] gives [`PlattValidParams`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PlattParams {
    /// Largest number of Newton steps, >= 1.
    pub(crate) max_iter: usize,
    /// Stop when the largest gradient component, divided by the total weight, is at
    /// most this. Finite and > 0.
    pub(crate) tol: f64,
}

impl Default for PlattParams {
    fn default() -> Self {
        PlattParams {
            max_iter: 100,
            tol: 1e-12,
        }
    }
}

/// Platt's smoothed targets (Platt 1999, "Probabilistic Outputs for Support Vector
/// Machines", sec. 2.2; scikit-learn's `_sigmoid_calibration`): a positive row aims at
/// `(N+ + 1) / (N+ + 2)`, a negative one at `1 / (N- + 2)`, with `N+`, `N-` the
/// weighted counts of each class (as scikit-learn counts them when given sample
/// weights). They keep `a` and `b` finite on separable scores.
fn platt_targets(y: &[f64], w: &[f64]) -> (f64, f64) {
    let (neg, pos) = class_totals(y, w);
    ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0))
}

/// Checked [`PlattParams`].
pub(crate) type PlattValidParams = Valid<PlattParams>;

impl ParamGuard for PlattParams {
    type Checked = PlattValidParams;

    /// Refuses `max_iter == 0` and a `tol` that is not finite and > 0.
    fn check_ref(&self) -> Result<()> {
        check_tol(self.tol)?;
        check_max_iter(self.max_iter)
    }

    fn check(self) -> Result<PlattValidParams> {
        checked(self)
    }
}

impl PlattValidParams {
    /// Minimizes the weighted cross-entropy of the smoothed targets `t_i`
    /// ([`platt_targets`]) against `sigmoid(a + b z_i)`:
    ///
    /// `L(a, b) = sum_i w_i [ -t_i log p_i - (1 - t_i) log(1 - p_i) ]`,
    /// gradient `sum_i w_i (p_i - t_i) (1, z_i)`, Hessian
    /// `sum_i w_i p_i (1 - p_i) (1, z_i)(1, z_i)^T`,
    ///
    /// by Newton's method with step halving (the objective is convex). This is
    /// scikit-learn's `CalibratedClassifierCV(method="sigmoid")` objective; its
    /// `(A, B)` with `p = 1 / (1 + exp(A f + B))` are `(-b, -a)` here.
    pub(crate) fn fit(&self, z: &[f64], y: &[f64], w: &[f64]) -> Result<FittedPlatt> {
        check_labels(y)?;
        check_weights("sample_weight", w, y.len())?;
        if z.len() != y.len() {
            return Err(Error::params(
                "scores",
                format!("one score per label ({})", y.len()),
                z.len(),
            ));
        }
        if let Some(v) = z.iter().find(|v| !v.is_finite()) {
            return Err(Error::data(
                format!("a linear score to calibrate is not finite ({v})"),
                "check the features fed to the model for NaN or infinite values",
            ));
        }
        let (neg_w, pos_w) = class_totals(y, w);
        if pos_w <= 0.0 || neg_w <= 0.0 {
            return Err(Error::data(
                "the calibration needs positive and negative rows with weight",
                "widen the training window",
            ));
        }
        let (t_pos, t_neg) = platt_targets(y, w);
        let total = pos_w + neg_w;
        let loss = |a: f64, b: f64| -> f64 {
            z.iter()
                .zip(y)
                .zip(w)
                .map(|((&zi, &yi), &wi)| {
                    let t = if yi == 1.0 { t_pos } else { t_neg };
                    wi * logistic_loss(t, a + b * zi)
                })
                .sum::<f64>()
        };
        // Start where the base rate is right and the scores are taken as they are.
        let rate = (pos_w / total).clamp(1e-12, 1.0 - 1e-12);
        let (mut a, mut b) = ((rate / (1.0 - rate)).ln(), 1.0);
        let mut f = loss(a, b);
        for _ in 0..self.max_iter {
            let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for ((&zi, &yi), &wi) in z.iter().zip(y).zip(w) {
                let t = if yi == 1.0 { t_pos } else { t_neg };
                let p = sigmoid(a + b * zi);
                let r = wi * (p - t);
                let h = wi * p * (1.0 - p);
                g0 += r;
                g1 += r * zi;
                h00 += h;
                h01 += h * zi;
                h11 += h * zi * zi;
            }
            if g0.abs().max(g1.abs()) / total <= self.tol {
                break;
            }
            let det = h00 * h11 - h01 * h01;
            let (da, db) = if det > 0.0 && det.is_finite() {
                ((h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det)
            } else {
                // A flat direction (all scores equal): move the intercept only.
                (g0 / h00.max(f64::MIN_POSITIVE), 0.0)
            };
            let mut step = 1.0;
            let mut improved = false;
            for _ in 0..60 {
                let (na, nb) = (a - step * da, b - step * db);
                let nf = loss(na, nb);
                if nf <= f {
                    improved = nf < f;
                    a = na;
                    b = nb;
                    f = nf;
                    break;
                }
                step *= 0.5;
            }
            if !improved {
                break;
            }
        }
        if !(a.is_finite() && b.is_finite()) {
            return Err(Error::data(
                "the calibration of the scores diverged",
                "check that the training window has both classes",
            ));
        }
        Ok(FittedPlatt { a, b })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{Rng, simulate, tight};
    use crate::model::{ClassWeight, GridSearchParams};

    #[test]
    fn prior_correction_formula() {
        assert_eq!(prior_correction_shift(0.2, 0.2).unwrap(), 0.0);
        // 50/50 sample of a 1% population: odds ratio 99.
        let s = prior_correction_shift(0.5, 0.01).unwrap();
        assert!((s + 99f64.ln()).abs() < 1e-12);
        for (a, b) in [
            (0.0, 0.1),
            (1.0, 0.1),
            (0.5, 0.0),
            (0.5, 1.0),
            (f64::NAN, 0.5),
        ] {
            assert!(prior_correction_shift(a, b).is_err());
        }
        let f = effective_positive_fraction(&[1.0, 0.0, 0.0], &[2.0, 1.0, 1.0]).unwrap();
        assert!((f - 0.5).abs() < 1e-15);
        assert!(effective_positive_fraction(&[1.0, 0.0], &[0.0, 0.0]).is_err());
    }

    #[test]
    fn prior_correction_recovers_population_intercept() {
        // Population: intercept -4, ~2.5% positives. Keep every positive and an
        // equal number of negatives (a 50/50 case-control sample), fit almost
        // unpenalized, then shift the intercept back to the population.
        let true_b = -4.0;
        let beta = [1.0, -0.5];
        let mut rng = Rng(2001);
        let (x, y) = simulate(&mut rng, 200_000, true_b, &beta);
        let n_pos = y.iter().filter(|&&v| v == 1.0).count();
        let tau = n_pos as f64 / y.len() as f64;
        let mut keep = Vec::new();
        let mut negs = 0;
        for (i, &v) in y.iter().enumerate() {
            if v == 1.0 {
                keep.push(i);
            } else if negs < n_pos {
                keep.push(i);
                negs += 1;
            }
        }
        let xs = x.select_rows(&keep);
        let ys: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
        let ws = vec![1.0; ys.len()];
        let fit = tight(1e4, true).fit(&xs, &ys, &ws, None).unwrap();
        let ybar = effective_positive_fraction(&ys, &ws).unwrap();
        assert!((ybar - 0.5).abs() < 1e-12);
        let corrected = fit.intercept + prior_correction_shift(ybar, tau).unwrap();
        assert!(
            (fit.intercept - true_b).abs() > 2.0,
            "the uncorrected intercept {} should be far off",
            fit.intercept
        );
        assert!(
            (corrected - true_b).abs() < 0.15,
            "corrected {corrected} vs {true_b}"
        );
        assert!((fit.coef[0] - beta[0]).abs() < 0.15 && (fit.coef[1] - beta[1]).abs() < 0.15);

        // Balanced class weights make ybar 1/2 as well, on the full population.
        let wb = ClassWeight::Balanced
            .check()
            .unwrap()
            .sample_weights(&y)
            .unwrap();
        let ybar = effective_positive_fraction(&y, &wb).unwrap();
        assert!((ybar - 0.5).abs() < 1e-12);
        let fit = tight(1e4, true).fit(&x, &y, &wb, None).unwrap();
        let corrected = fit.intercept + prior_correction_shift(ybar, tau).unwrap();
        assert!((corrected - true_b).abs() < 0.15, "corrected {corrected}");
    }

    #[test]
    fn platt_is_the_identity_on_calibrated_scores_and_undoes_a_distortion() {
        // Labels drawn from sigmoid(z): Platt recovers a = 0, b = 1 within noise;
        // from sigmoid(0.5 + 2 z) it recovers (0.5, 2).
        let mut rng = Rng(77);
        for (a0, b0) in [(0.0, 1.0), (0.5, 2.0)] {
            let n = 200_000;
            let z: Vec<f64> = (0..n).map(|_| -3.0 + 2.0 * rng.normal()).collect();
            let y: Vec<f64> = z
                .iter()
                .map(|&v| f64::from(rng.uniform() < sigmoid(a0 + b0 * v)))
                .collect();
            let w = vec![1.0; n];
            let f = PlattParams::default()
                .check()
                .unwrap()
                .fit(&z, &y, &w)
                .unwrap();
            assert!((f.a - a0).abs() < 0.08 && (f.b - b0).abs() < 0.05, "{f:?}");
        }
        assert!(
            PlattParams::default()
                .check()
                .unwrap()
                .fit(&[0.1], &[1.0], &[1.0])
                .is_err()
        );
        assert!(
            PlattParams::default()
                .check()
                .unwrap()
                .fit(&[0.1, f64::NAN], &[1.0, 0.0], &[1.0, 1.0])
                .is_err()
        );
    }

    #[test]
    fn weighted_fit_and_platt_calibrate_a_downsampled_population() {
        // A known logistic population (intercept -4.5, about 2 % positives); keep
        // every positive and 10 % of negatives, weighted 10, with balanced class
        // weights on top (the loss sees a 50/50 problem); calibrate on out-of-fold
        // scores weighted back to the population; on fresh held-out rows of the same
        // population, the mean predicted probability is within 5 % of the observed rate.
        let beta = [1.0, -0.7, 0.4];
        let mut rng = Rng(4242);
        let (x, y) = simulate(&mut rng, 300_000, -4.5, &beta);
        let mut keep = Vec::new();
        let mut sampling = Vec::new();
        for (i, &v) in y.iter().enumerate() {
            if v == 1.0 {
                keep.push(i);
                sampling.push(1.0);
            } else if rng.uniform() < 0.1 {
                keep.push(i);
                sampling.push(10.0);
            }
        }
        let xs = x.select_rows(&keep);
        let ys: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
        let (neg, pos) = ClassWeight::Balanced
            .check()
            .unwrap()
            .class_weights(&ys, Some(&sampling))
            .unwrap();
        let w: Vec<f64> = ys
            .iter()
            .zip(&sampling)
            .map(|(&v, &s)| s * if v == 1.0 { pos } else { neg })
            .collect();
        let folds: Vec<u8> = (0..ys.len()).map(|i| (i % 3) as u8).collect();
        let grid = GridSearchParams {
            c_grid: vec![1.0],
            n_folds: 3,
            tol: 1e-8,
            max_iter: 500,
        }
        .check()
        .unwrap()
        .grid_search(&xs, &ys, &w, &sampling, &folds)
        .unwrap();
        let cal = PlattParams::default()
            .check()
            .unwrap()
            .fit(&grid.oof_decision, &ys, &sampling)
            .unwrap();
        let (xh, yh) = simulate(&mut rng, 300_000, -4.5, &beta);
        let mean_p = xh
            .rows()
            .map(|r| cal.apply(grid.model.decision_function(r)))
            .sum::<f64>()
            / yh.len() as f64;
        let rate = yh.iter().sum::<f64>() / yh.len() as f64;
        assert!(
            (mean_p / rate - 1.0).abs() < 0.05,
            "mean predicted {mean_p} vs observed {rate}"
        );
        // Without the calibration the balanced fit is far off (about 25x too high).
        let raw = xh
            .rows()
            .map(|r| sigmoid(grid.model.decision_function(r)))
            .sum::<f64>()
            / yh.len() as f64;
        assert!(raw / rate > 5.0, "uncalibrated {raw} vs {rate}");
    }

    #[test]
    fn platt_matches_scikit_learn() {
        // tests/data/sklearn/platt.json from scripts/fixtures/sklearn_platt.py:
        // scikit-learn's _sigmoid_calibration (L-BFGS, gtol 1e-6) against Newton here;
        // they agree to about 1e-9.
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/sklearn/platt.json"
        ))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let floats = |x: &serde_json::Value| -> Vec<f64> {
            x.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().parse().unwrap())
                .collect()
        };
        for case in v["cases"].as_array().unwrap() {
            let (z, y) = (floats(&case["z"]), floats(&case["y"]));
            let w = if case["w"].is_null() {
                vec![1.0; y.len()]
            } else {
                floats(&case["w"])
            };
            let a_sk: f64 = case["A"].as_str().unwrap().parse().unwrap();
            let b_sk: f64 = case["B"].as_str().unwrap().parse().unwrap();
            let f = PlattParams::default()
                .check()
                .unwrap()
                .fit(&z, &y, &w)
                .unwrap();
            let name = case["name"].as_str().unwrap();
            assert!((f.a + b_sk).abs() < 1e-7, "{name}: a {} vs {}", f.a, -b_sk);
            assert!((f.b + a_sk).abs() < 1e-7, "{name}: b {} vs {}", f.b, -a_sk);
        }
    }

    #[test]
    fn platt_params_out_of_range_name_the_parameter() {
        for (bad, name) in [
            (
                PlattParams {
                    max_iter: 0,
                    ..PlattParams::default()
                },
                "max_iter",
            ),
            (
                PlattParams {
                    tol: f64::NAN,
                    ..PlattParams::default()
                },
                "tol",
            ),
        ] {
            let e = bad.check().unwrap_err();
            assert_eq!(crate::params::param_name(&e), Some(name), "{e}");
        }
    }
}
