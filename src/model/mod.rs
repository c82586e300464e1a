//! Weighted L2 logistic regression: the objective, its minimizer, class weights,
//! grouped cross-validation over `C`, the Platt calibration, and the King & Zeng
//! prior correction (kept as a tested formula; training calibrates with Platt).
//!
//! This module owns everything between the encoded design matrix and a fitted,
//! population-calibrated linear score. It is pure and synchronous: no I/O,
//! `std` and `serde` only (scoped threads inside one objective evaluation). The
//! objective is scikit-learn's `LogisticRegression(penalty="l2")` objective, so a fit
//! here and a fit there with the same data, weights and `C` reach the same minimizer
//! (checked against committed scikit-learn fixtures in `tests/data/sklearn/`). The
//! minimizer is a self-contained L-BFGS with a More-Thuente line search, the same
//! algorithm family and stopping rules as scipy's `L-BFGS-B` that scikit-learn calls.
//!
//! Speed: the objective reads the design matrix once per evaluation and splits
//! large matrices over the cores the process may use, with a fixed block order
//! so results do not depend on the thread count; cross-validation masks the
//! held-out fold with zero weights instead of copying the training rows.
//!
//! Lifecycle (linfa's pattern, see `params`): [`LogisticRegressionParams`] -> check
//! -> [`LogisticRegressionValidParams`](estimator::LogisticRegressionValidParams)
//! -> `fit` -> [`FittedLogisticRegression`];
//! [`GridSearchParams`] -> [`GridSearchValidParams`] -> `grid_search` ->
//! [`GridSearchResult`], which holds the refitted model; [`PlattParams`] ->
//! [`PlattValidParams`] -> `fit` -> [`FittedPlatt`] on the out-of-fold scores;
//! [`ClassWeight`] -> [`ValidClassWeight`] -> the per-row weights.
//!
//! Submodules (private; what the rest of the crate uses is re-exported here, so
//! callers write `crate::model::X`):
//! - `objective`: the stable scalar functions and the penalized loss with its
//!   gradient (formulas and sources in the doc comments);
//! - `lbfgs`: the L-BFGS minimizer and its More-Thuente line search;
//! - `estimator`: the fit parameters and their ranges, `fit`, the fitted model and its
//!   decision function, and the input checks the other submodules share;
//! - `class_weight`: `"balanced"` / `"none"` / explicit class weights;
//! - `calibration`: Platt scaling and the prior-correction formula;
//! - `cv`: the grouped cross-validated grid search over `C`;
//! - `gbdt`: the challenger, gradient-boosted trees (`forust-ml`), with early stopping.
//!
//! Dependencies run one way: `objective` and `lbfgs` know nothing of the rest;
//! `estimator` uses both; `class_weight`, `calibration` and `cv` use `estimator`.
//! Vector helpers (`dot`, NumPy's pairwise sum) live in [`crate::numeric`].

mod calibration;
mod class_weight;
mod cv;
mod estimator;
mod gbdt;
mod lbfgs;
mod objective;
#[cfg(test)]
mod test_support;

pub(crate) use calibration::{
    FittedPlatt, PlattParams, PlattValidParams, effective_positive_fraction,
};
pub(crate) use class_weight::{ClassWeight, ValidClassWeight};
pub(crate) use cv::{CvScore, GridSearchResult};
pub use cv::{GridSearchParams, GridSearchValidParams};
pub(crate) use estimator::FittedLogisticRegression;
pub use estimator::LogisticRegressionParams;
pub(crate) use gbdt::{FittedGbdt, GbdtParams, GbdtValidParams, Primary, PrimaryTrees};
pub use objective::{hessian, objective_and_gradient};
