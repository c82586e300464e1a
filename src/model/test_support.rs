//! Test helpers shared by the unit tests of the `model` submodules: a small
//! deterministic generator, simulated logistic data, tight fit parameters, and the
//! committed scikit-learn fixtures (`tests/data/sklearn/logistic_*.json`, from the
//! scripts in `scripts/fixtures/`).

use super::estimator::LogisticRegressionValidParams;
use super::objective::sigmoid;
use super::{ClassWeight, LogisticRegressionParams};
use crate::matrix::Matrix;
use crate::numeric::{dot, inf_norm};
use crate::params::ParamGuard;

/// splitmix64: a small deterministic generator for test data.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(super) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(super) fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Rows from a logistic model with the given intercept and coefficients.
pub(super) fn simulate(
    rng: &mut Rng,
    n: usize,
    intercept: f64,
    beta: &[f64],
) -> (Matrix, Vec<f64>) {
    let mut x = Matrix::new(n, beta.len());
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let row = x.row_mut(i);
        row.iter_mut().for_each(|v| *v = rng.normal());
        let p = sigmoid(dot(row, beta) + intercept);
        y.push(if rng.uniform() < p { 1.0 } else { 0.0 });
    }
    (x, y)
}

/// `max|a - b| / max|b|`.
pub(super) fn norm_rel(a: &[f64], b: &[f64]) -> f64 {
    let num = a
        .iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
    num / inf_norm(b).max(1e-300)
}

pub(super) fn tight(c: f64, fit_intercept: bool) -> LogisticRegressionValidParams {
    LogisticRegressionParams {
        c,
        tol: 1e-10,
        max_iter: 10_000,
        fit_intercept,
    }
    .check()
    .unwrap()
}

// ---- scikit-learn fixtures --------------------------------------------------------

#[derive(serde::Deserialize)]
pub(super) struct Fixture {
    pub(super) x: Vec<Vec<f64>>,
    pub(super) y: Vec<f64>,
    pub(super) sample_weight: Vec<f64>,
    pub(super) cases: Vec<FixtureCase>,
}

#[derive(serde::Deserialize)]
pub(super) struct FixtureCase {
    pub(super) c: f64,
    pub(super) class_weight: Option<String>,
    pub(super) sample_weight: bool,
    pub(super) fit_intercept: bool,
    pub(super) coef: Vec<f64>,
    pub(super) intercept: f64,
    pub(super) coef_lbfgs: Vec<f64>,
    pub(super) intercept_lbfgs: f64,
    pub(super) objective: f64,
}

pub(super) const FIXTURES: [(&str, &str); 3] = [
    (
        "small",
        include_str!("../../tests/data/sklearn/logistic_small.json"),
    ),
    (
        "separable",
        include_str!("../../tests/data/sklearn/logistic_separable.json"),
    ),
    (
        "rare",
        include_str!("../../tests/data/sklearn/logistic_rare.json"),
    ),
];

pub(super) fn case_weights(fx: &Fixture, case: &FixtureCase) -> Vec<f64> {
    let base = if case.sample_weight {
        fx.sample_weight.clone()
    } else {
        vec![1.0; fx.y.len()]
    };
    match case.class_weight.as_deref() {
        Some("balanced") if case.sample_weight => ClassWeight::Balanced
            .check()
            .unwrap()
            .sample_weights_with(&fx.y, &base)
            .unwrap(),
        Some("balanced") => ClassWeight::Balanced
            .check()
            .unwrap()
            .sample_weights(&fx.y)
            .unwrap(),
        None => base,
        Some(other) => panic!("fixture class_weight {other}"),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Metrics {
    pub(super) class_weight_balanced_rare: Vec<f64>,
    pub(super) class_weight_balanced_rare_weighted: Vec<f64>,
    pub(super) average_precision: Vec<ApCase>,
}

#[derive(serde::Deserialize)]
pub(super) struct ApCase {
    pub(super) y: Vec<f64>,
    pub(super) score: Vec<f64>,
    pub(super) weight: Option<Vec<f64>>,
    pub(super) average_precision: f64,
}

pub(super) const METRICS: &str = include_str!("../../tests/data/sklearn/logistic_metrics.json");
