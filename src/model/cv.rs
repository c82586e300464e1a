//! Cross-validation over `C`: [`GridSearchParams`] -> check ->
//! [`GridSearchValidParams`] -> `grid_search` -> [`GridSearchResult`]. Grouped folds given by the caller, each held-out fold
//! scored by weighted average precision ([`CvScore`]); the held-out fold is masked
//! with zero weights instead of copying the training rows; the best `C` is refitted
//! on all rows, and the out-of-fold scores are kept for the calibration.

use serde::{Deserialize, Serialize};

use super::estimator::{
    FittedLogisticRegression, LogisticRegressionParams, LogisticRegressionValidParams,
    check_training_data, check_weights, valid_c,
};
use super::objective::sigmoid;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::params::ParamGuard;

/// Cross-validation over `C`: grouped folds given by the caller, scored by average
/// precision (unchecked; [`ParamGuard::check`] gives [`GridSearchValidParams`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSearchParams {
    /// Candidate `C` values, at least one, each finite and > 0 (searched in ascending
    /// order; duplicates are searched once).
    pub c_grid: Vec<f64>,
    /// Number of folds, 2 to 50; fold ids run over `0..n_folds`.
    pub n_folds: usize,
    /// `tol` of every fit.
    pub tol: f64,
    /// `max_iter` of every fit.
    pub max_iter: usize,
}

/// Cross-validated average precision of one `C`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvScore {
    pub(crate) c: f64,
    /// Mean of `fold_ap`.
    pub(crate) mean_ap: f64,
    /// Population standard deviation of `fold_ap` (as scikit-learn's
    /// `std_test_score`).
    pub(crate) std_ap: f64,
    /// Held-out average precision of each fold, by fold id.
    fold_ap: Vec<f64>,
    /// Whether every fold's fit met its stopping rule.
    all_converged: bool,
}

/// What [`GridSearchValidParams::grid_search`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSearchResult {
    /// One entry per distinct `C`, ascending.
    pub scores: Vec<CvScore>,
    /// Index into `scores` of the chosen `C`.
    pub(crate) best_index: usize,
    /// The chosen `C`: highest mean AP, the smaller `C` on ties.
    pub best_c: f64,
    /// Out-of-fold linear score `x . beta + b` of every training row under the
    /// chosen `C` (each row scored once, by the fit that did not see its fold): what
    /// a calibration is fitted on. Not serialized.
    #[serde(skip)]
    pub(crate) oof_decision: Vec<f64>,
    /// The refit on all rows with the chosen `C`.
    pub model: FittedLogisticRegression,
}

/// Checked [`GridSearchParams`] (read through `Deref`), with the checked fit
/// parameters of each distinct `C`.
#[derive(Debug, Clone, PartialEq)]
pub struct GridSearchValidParams {
    params: GridSearchParams,
    /// One per distinct `C`, ascending (the order of [`GridSearchResult::scores`]).
    fits: Vec<LogisticRegressionValidParams>,
}

impl std::ops::Deref for GridSearchValidParams {
    type Target = GridSearchParams;
    fn deref(&self) -> &GridSearchParams {
        &self.params
    }
}

impl ParamGuard for GridSearchParams {
    type Checked = GridSearchValidParams;

    fn check_ref(&self) -> Result<()> {
        self.clone().check().map(drop)
    }

    /// Refuses an empty grid, a `C` that is not finite and > 0, folds outside 2 to
    /// 50, and a `tol` / `max_iter` that [`LogisticRegressionParams`] refuses.
    fn check(self) -> Result<GridSearchValidParams> {
        if self.c_grid.is_empty() || !self.c_grid.iter().all(|&c| valid_c(c)) {
            return Err(Error::params(
                "c_grid",
                "a non-empty list of positive numbers",
                format!("{:?}", self.c_grid),
            ));
        }
        if !(2..=50).contains(&self.n_folds) {
            return Err(Error::params(
                "n_folds",
                "a whole number from 2 to 50",
                self.n_folds,
            ));
        }
        let mut grid = self.c_grid.clone();
        grid.sort_by(f64::total_cmp);
        grid.dedup();
        let fits = grid
            .into_iter()
            .map(|c| {
                LogisticRegressionParams {
                    c,
                    tol: self.tol,
                    max_iter: self.max_iter,
                    fit_intercept: true,
                }
                .check()
            })
            .collect::<Result<_>>()?;
        Ok(GridSearchValidParams { params: self, fits })
    }
}

impl GridSearchValidParams {
    /// The checked fit parameters of each distinct `C`, ascending: `fit_params()[i]`
    /// is the fit scored in [`GridSearchResult::scores`]`[i]`.
    pub fn fit_params(&self) -> &[LogisticRegressionValidParams] {
        &self.fits
    }

    /// For each `C` (ascending), fits on all folds but one (warm-started from the
    /// previous `C`'s fit of the same fold), scores the held-out fold by weighted
    /// average precision, and averages over folds; picks the best `C` and refits
    /// on all rows.
    ///
    /// `class_weight_w` weights the training loss (class times sampling weights);
    /// `eval_weight` weights the held-out rows in the average precision (for
    /// example the inverse of each row's sampling rate); `folds[i]` is the fold id
    /// of row `i`, assigned by member so that a member's rows share a fold.
    pub fn grid_search(
        &self,
        x: &Matrix,
        y: &[f64],
        class_weight_w: &[f64],
        eval_weight: &[f64],
        folds: &[u8],
    ) -> Result<GridSearchResult> {
        check_training_data(x, y, class_weight_w)?;
        let n = x.n_rows();
        check_weights("eval_weight", eval_weight, n)?;
        if folds.len() != n {
            return Err(Error::params(
                "folds",
                format!("{n} fold ids (one per row)"),
                format!("{} ids", folds.len()),
            ));
        }
        let k = self.n_folds;
        if let Some((i, &f)) = folds
            .iter()
            .enumerate()
            .find(|(_, f)| usize::from(**f) >= k)
        {
            return Err(Error::params(
                "folds",
                format!("fold ids in 0..{k}"),
                format!("id {f} at row {i}"),
            ));
        }
        // A fold's held-out rows are found by scanning `folds` each time they are
        // read: a per-fold list of row indices weighs 8 bytes a row beside the
        // matrix (issue 17), and the scan is nothing next to a fit.
        let held_rows = |fold: usize| (0..n).filter(move |&i| usize::from(folds[i]) == fold);
        for fold in 0..k {
            let (tw_neg, tw_pos) =
                (0..n)
                    .filter(|&i| usize::from(folds[i]) != fold)
                    .fold((0.0, 0.0), |(a, b), i| {
                        if y[i] == 1.0 {
                            (a, b + class_weight_w[i])
                        } else {
                            (a + class_weight_w[i], b)
                        }
                    });
            let held_pos: f64 = held_rows(fold)
                .filter(|&i| y[i] == 1.0)
                .map(|i| eval_weight[i])
                .sum();
            let held = held_rows(fold).count();
            if held == 0 || held_pos <= 0.0 || tw_pos <= 0.0 || tw_neg <= 0.0 {
                return Err(Error::data(
                    format!(
                        "cross-validation fold {fold} holds {held} rows and {} positive rows (weighted {held_pos}); every fold needs a positive row and the other folds both classes",
                        held_rows(fold).filter(|&i| y[i] == 1.0).count()
                    ),
                    "lower model.cv_folds or widen the training window",
                ));
            }
        }

        let mut prev: Vec<Option<FittedLogisticRegression>> = vec![None; k];
        let mut scores = Vec::with_capacity(self.fits.len());
        // The chosen C's fold models, not its out-of-fold scores: those are computed
        // once, at the end, from these models (the same bits), so no vector the
        // length of the training rows is kept per C (issue 17).
        let mut best_folds: Vec<FittedLogisticRegression> = Vec::new();
        let mut best_index = 0;
        let mut fold_w = vec![0.0; n];
        for (ci, params) in self.fits.iter().enumerate() {
            let c = params.c;
            let mut fold_ap = Vec::with_capacity(k);
            let mut all_converged = true;
            for (fold, prev) in prev.iter_mut().enumerate() {
                // The held-out rows get weight 0: the objective skips them, so this
                // is the fit on the other folds' rows without copying them.
                for ((fw, &w), &f) in fold_w.iter_mut().zip(class_weight_w).zip(folds) {
                    *fw = if usize::from(f) == fold { 0.0 } else { w };
                }
                let fit = params.fit_checked(x, y, &fold_w, prev.as_ref())?;
                all_converged &= fit.converged;
                let held = held_rows(fold).count();
                let mut yh = Vec::with_capacity(held);
                let mut sh = Vec::with_capacity(held);
                let mut wh = Vec::with_capacity(held);
                for i in held_rows(fold) {
                    yh.push(y[i]);
                    sh.push(sigmoid(fit.decision_function(x.row(i))));
                    wh.push(eval_weight[i]);
                }
                fold_ap.push(average_precision(&yh, &sh, &wh)?);
                *prev = Some(fit);
            }
            let mean_ap = fold_ap.iter().sum::<f64>() / k as f64;
            let var = fold_ap.iter().map(|a| (a - mean_ap).powi(2)).sum::<f64>() / k as f64;
            if ci == 0 || mean_ap > scores_mean(&scores, best_index) {
                best_index = ci;
                best_folds = prev.iter().flatten().cloned().collect();
            }
            tracing::debug!(
                c,
                mean_ap,
                std_ap = var.sqrt(),
                all_converged,
                "grid: C {c}: mean average precision {mean_ap:.4} (sd {:.4}) over {k} folds{}",
                var.sqrt(),
                if all_converged {
                    ""
                } else {
                    ", some fits stopped at max_iter"
                }
            );
            scores.push(CvScore {
                c,
                mean_ap,
                std_ap: var.sqrt(),
                fold_ap,
                all_converged,
            });
        }
        drop(fold_w);
        let best_c = self.fits[best_index].c;
        tracing::debug!(best_c, "grid: best C {best_c}");
        let model = self.fits[best_index].fit(x, y, class_weight_w, None)?;
        // Each row scored by the chosen C's model of its fold, the one that did not
        // see it.
        let oof_decision = folds
            .iter()
            .enumerate()
            .map(|(i, &f)| best_folds[usize::from(f)].decision_function(x.row(i)))
            .collect();
        Ok(GridSearchResult {
            scores,
            best_index,
            best_c,
            oof_decision,
            model,
        })
    }
}

impl GridSearchResult {
    /// Out-of-fold probability of every training row: the sigmoid of its
    /// out-of-fold linear score.
    pub fn oof_scores(&self) -> Vec<f64> {
        self.oof_decision.iter().map(|&z| sigmoid(z)).collect()
    }
}

fn scores_mean(scores: &[CvScore], i: usize) -> f64 {
    scores.get(i).map_or(f64::NEG_INFINITY, |s| s.mean_ap)
}

/// Weighted average precision of one held-out fold: scikit-learn's
/// `average_precision_score`, owned by `threshold`.
fn average_precision(y: &[f64], score: &[f64], weight: &[f64]) -> Result<f64> {
    crate::threshold::average_precision(y, score, Some(weight))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClassWeight;
    use crate::model::test_support::{FIXTURES, Fixture, METRICS, Metrics, norm_rel};

    #[test]
    fn average_precision_matches_scikit_learn() {
        let m: Metrics = serde_json::from_str(METRICS).unwrap();
        assert!(m.average_precision.len() >= 4);
        for case in &m.average_precision {
            let w = case
                .weight
                .clone()
                .unwrap_or_else(|| vec![1.0; case.y.len()]);
            let ap = average_precision(&case.y, &case.score, &w).unwrap();
            assert!(
                (ap - case.average_precision).abs() < 1e-12,
                "{ap} vs {}",
                case.average_precision
            );
        }
        // Hand-checked: ranking 1, 0, 1 gives (1/2)(1) + (1/2)(2/3).
        let ap = average_precision(&[1.0, 0.0, 1.0], &[0.9, 0.8, 0.7], &[1.0; 3]).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15);
        // All tied: AP is the (weighted) prevalence.
        let ap = average_precision(&[1.0, 0.0, 0.0, 0.0], &[0.5; 4], &[1.0; 4]).unwrap();
        assert!((ap - 0.25).abs() < 1e-15);
    }

    #[test]
    fn grid_search_params_check_names_the_parameter_out_of_range() {
        let grid = GridSearchParams {
            c_grid: vec![1.0, 0.1, 1.0],
            n_folds: 3,
            tol: 1e-6,
            max_iter: 100,
        };
        let valid = grid.clone().check().unwrap();
        let cs: Vec<f64> = valid.fit_params().iter().map(|p| p.c).collect();
        assert_eq!(cs, [0.1, 1.0], "distinct C values, ascending");
        for (bad, name) in [
            (
                GridSearchParams {
                    c_grid: vec![],
                    ..grid.clone()
                },
                "c_grid",
            ),
            (
                GridSearchParams {
                    c_grid: vec![1.0, 0.0],
                    ..grid.clone()
                },
                "c_grid",
            ),
            (
                GridSearchParams {
                    c_grid: vec![f64::NAN],
                    ..grid.clone()
                },
                "c_grid",
            ),
            (
                GridSearchParams {
                    n_folds: 1,
                    ..grid.clone()
                },
                "n_folds",
            ),
            (
                GridSearchParams {
                    n_folds: 51,
                    ..grid.clone()
                },
                "n_folds",
            ),
            (
                GridSearchParams {
                    tol: 0.0,
                    ..grid.clone()
                },
                "tol",
            ),
            (
                GridSearchParams {
                    max_iter: 0,
                    ..grid.clone()
                },
                "max_iter",
            ),
        ] {
            let e = bad.clone().check().unwrap_err();
            assert_eq!(crate::params::param_name(&e), Some(name), "{bad:?}: {e}");
        }
    }

    #[test]
    fn grid_search_picks_a_sensible_c_and_scores_every_row_once() {
        let fx: Fixture = serde_json::from_str(FIXTURES[2].1).unwrap();
        let x = Matrix::from_rows(&fx.x).unwrap();
        let y = &fx.y;
        let n = y.len();
        // Members of 4 consecutive rows; fold = member id mod 5 (grouped).
        let folds: Vec<u8> = (0..n).map(|i| ((i / 4) % 5) as u8).collect();
        let cw = ClassWeight::Balanced
            .check()
            .unwrap()
            .sample_weights(y)
            .unwrap();
        let eval = vec![1.0; n];
        let params = GridSearchParams {
            c_grid: vec![100.0, 1e-5, 1.0, 0.01, 1.0],
            n_folds: 5,
            tol: 1e-8,
            max_iter: 1000,
        }
        .check()
        .unwrap();
        let res = params.grid_search(&x, y, &cw, &eval, &folds).unwrap();
        let cs: Vec<f64> = res.scores.iter().map(|s| s.c).collect();
        assert_eq!(cs, vec![1e-5, 0.01, 1.0, 100.0]);
        let best = &res.scores[res.best_index];
        assert_eq!(best.c, res.best_c);
        assert!(res.scores.iter().all(|s| s.mean_ap <= best.mean_ap));
        assert!(
            res.scores
                .iter()
                .all(|s| s.fold_ap.len() == 5 && s.all_converged)
        );
        let prevalence = y.iter().sum::<f64>() / n as f64;
        assert!(best.mean_ap > 2.0 * prevalence, "{:?}", res.scores);
        eprintln!("grid: {:?} best C {}", res.scores, res.best_c);

        // Out-of-fold scores: one per row, each from the fit that did not see it.
        let oof_scores = res.oof_scores();
        assert_eq!(oof_scores.len(), n);
        assert!(oof_scores.iter().all(|p| *p > 0.0 && *p < 1.0));
        let lr = LogisticRegressionParams {
            c: res.best_c,
            tol: 1e-8,
            max_iter: 1000,
            fit_intercept: true,
        }
        .check()
        .unwrap();
        for fold in 0..5 {
            let train: Vec<usize> = (0..n).filter(|&i| usize::from(folds[i]) != fold).collect();
            let yt: Vec<f64> = train.iter().map(|&i| y[i]).collect();
            let wt: Vec<f64> = train.iter().map(|&i| cw[i]).collect();
            let fit = lr.fit(&x.select_rows(&train), &yt, &wt, None).unwrap();
            let held: Vec<usize> = (0..n).filter(|&i| usize::from(folds[i]) == fold).collect();
            let (mut yh, mut sh) = (Vec::new(), Vec::new());
            for &i in &held {
                let p = sigmoid(fit.decision_function(x.row(i)));
                assert!((p - oof_scores[i]).abs() < 1e-6, "row {i}");
                yh.push(y[i]);
                sh.push(oof_scores[i]);
            }
            let ap = average_precision(&yh, &sh, &vec![1.0; yh.len()]).unwrap();
            assert!((ap - best.fold_ap[fold]).abs() < 1e-12);
        }
        // The refit uses every row.
        let full = lr.fit(&x, y, &cw, None).unwrap();
        assert!(norm_rel(&res.model.coef, &full.coef) < 1e-6);
    }

    #[test]
    fn grid_search_ties_go_to_the_smaller_c() {
        // No features: every C gives constant scores, so every AP is the prevalence.
        let n = 40;
        let x = Matrix::new(n, 0);
        let y: Vec<f64> = (0..n).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        let folds: Vec<u8> = (0..n).map(|i| ((i / 4) % 2) as u8).collect();
        let w = vec![1.0; n];
        let params = GridSearchParams {
            c_grid: vec![10.0, 0.1, 1.0],
            n_folds: 2,
            tol: 1e-8,
            max_iter: 100,
        }
        .check()
        .unwrap();
        let res = params.grid_search(&x, &y, &w, &w, &folds).unwrap();
        assert_eq!(res.best_c, 0.1);
        assert_eq!(res.best_index, 0);
        assert!(res.scores.iter().all(|s| (s.mean_ap - 0.25).abs() < 1e-12));
    }

    #[test]
    fn grid_search_refuses_bad_folds() {
        let n = 20;
        let x = Matrix::new(n, 1);
        let y: Vec<f64> = (0..n).map(|i| if i < 4 { 1.0 } else { 0.0 }).collect();
        let w = vec![1.0; n];
        let params = GridSearchParams {
            c_grid: vec![1.0],
            n_folds: 2,
            tol: 1e-6,
            max_iter: 100,
        }
        .check()
        .unwrap();
        // Fold 1 has no positive row.
        let folds: Vec<u8> = (0..n).map(|i| u8::from(i >= 10)).collect();
        assert!(matches!(
            params.grid_search(&x, &y, &w, &w, &folds),
            Err(Error::Data { .. })
        ));
        // Fold id out of range, wrong length.
        let folds: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
        assert!(params.grid_search(&x, &y, &w, &w, &folds).is_err());
        assert!(params.grid_search(&x, &y, &w, &w, &[0, 1]).is_err());
        // An empty fold.
        let folds = vec![0u8; n];
        assert!(params.grid_search(&x, &y, &w, &w, &folds).is_err());
    }
}
