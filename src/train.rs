//! Training, pure: member-grouped folds, encoders fitted on the training rows, the
//! C grid by cross-validation, the refit, the prior correction, and the operating
//! threshold chosen on out-of-fold predictions of the training window — never on
//! the test window whose metrics are reported.
//!
//! Weights, and why:
//! - the loss is weighted by class weight only: the downsampled training sample is
//!   what makes positives visible, and its inverse-sampling weights would undo it;
//! - every population-level estimate (CV average precision, the precision of a
//!   cutoff, the population positive rate) weights each row by the inverse of its
//!   sampling rate, so sampled-out negatives count as if they were there.

use serde::{Deserialize, Serialize};

use crate::encode::{FeatureEncoderParams, FittedFeatureEncoder};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::model::{
    ClassWeight, CvScore, FittedLogisticRegression, GridSearchParams, effective_positive_fraction,
    prior_correction_shift, sigmoid,
};
use crate::table::{FeatureTable, Split};
use crate::threshold::{
    PrCurve, ThresholdChoice, ThresholdRule, average_precision_of, precision_recall_curve,
};

/// Everything training needs, checked before any work.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    pub encoder: FeatureEncoderParams,
    pub grid: GridSearchParams,
    pub class_weight: ClassWeight,
    pub rule: ThresholdRule,
    pub seed: i64,
}

impl TrainParams {
    pub fn check(&self) -> Result<()> {
        self.encoder.check()?;
        self.grid.check()?;
        self.class_weight.check()?;
        self.rule.check()
    }
}

/// The fitted model: what `model.json` holds besides run metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedModel {
    pub encoder: FittedFeatureEncoder,
    /// The refit on all training rows with the best C (intercept before correction).
    pub model: FittedLogisticRegression,
    /// `(negative, positive)` class weights of the loss.
    pub class_weights: (f64, f64),
    /// Positive share the loss saw (class-weighted).
    pub sample_positive_fraction: f64,
    /// Positive share of the training population (inverse-sampling weighted).
    pub population_positive_fraction: f64,
    /// King & Zeng intercept shift, added to the intercept when scoring.
    pub prior_shift: f64,
    /// The operating threshold on calibrated scores (or why there is none).
    pub threshold: ThresholdChoice,
}

impl TrainedModel {
    /// Calibrated score of one standardized row: `sigmoid(x . beta + b + shift)`.
    pub fn score_row(&self, row: &[f64]) -> f64 {
        sigmoid(self.model.decision_function(row) + self.prior_shift)
    }

    /// Calibrated scores of every row of `x`.
    pub fn score(&self, x: &Matrix) -> Vec<f64> {
        x.rows().map(|r| self.score_row(r)).collect()
    }

    /// The `k` features that pushed this row's score up most: the largest positive
    /// `beta_j * x_j` (standardized units, so relative to an average interaction).
    pub fn reasons(&self, row: &[f64], k: usize) -> Vec<(String, f64)> {
        let mut c: Vec<(usize, f64)> = self
            .model
            .coef
            .iter()
            .zip(row)
            .map(|(b, x)| b * x)
            .enumerate()
            .filter(|(_, v)| *v > 0.0)
            .collect();
        c.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        c.into_iter()
            .take(k)
            .map(|(j, v)| (self.encoder.feature_names[j].clone(), v))
            .collect()
    }
}

/// What training measured, for the summary and the logs.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub cv: Vec<CvScore>,
    pub best_c: f64,
    pub train_rows: usize,
    pub train_positives: usize,
    /// PR curve of calibrated out-of-fold scores, inverse-sampling weighted.
    pub oof_curve: PrCurve,
    pub oof_average_precision: f64,
}

/// 64-bit FNV-1a: a stable hash for fold assignment (std's hasher may change).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Fold of each row, grouped by member and stratified by member label: members with
/// a positive row and the others are each ordered by a seeded hash and dealt round
/// robin, so every fold gets positives when there are at least `n_folds` positive
/// members, and a member's rows never straddle two folds.
pub fn member_folds(members: &[&str], y: &[f64], n_folds: usize, seed: i64) -> Vec<usize> {
    use std::collections::BTreeMap;
    let mut positive: BTreeMap<&str, bool> = BTreeMap::new();
    for (m, &l) in members.iter().zip(y) {
        *positive.entry(m).or_default() |= l == 1.0;
    }
    let mut fold_of: BTreeMap<&str, usize> = BTreeMap::new();
    for class in [true, false] {
        let mut ms: Vec<(u64, &str)> = positive
            .iter()
            .filter(|(_, p)| **p == class)
            .map(|(m, _)| {
                let mut key = seed.to_le_bytes().to_vec();
                key.extend_from_slice(m.as_bytes());
                (fnv1a(&key), *m)
            })
            .collect();
        ms.sort();
        for (r, (_, m)) in ms.into_iter().enumerate() {
            fold_of.insert(m, r % n_folds);
        }
    }
    members.iter().map(|m| fold_of[m]).collect()
}

/// Trains on the training rows of `t`.
pub fn train(t: &FeatureTable, p: &TrainParams) -> Result<(TrainedModel, TrainReport)> {
    p.check()?;
    let rows = t.rows_of(Split::Train);
    let y: Vec<f64> = rows.iter().map(|&i| f64::from(t.label[i])).collect();
    let sampling: Vec<f64> = rows.iter().map(|&i| t.sample_weight[i]).collect();
    let train_positives = y.iter().filter(|&&v| v == 1.0).count();
    let members: Vec<&str> = rows.iter().map(|&i| t.member_id[i].as_str()).collect();
    let positive_members = {
        let mut s: Vec<&str> = members
            .iter()
            .zip(&y)
            .filter(|(_, l)| **l == 1.0)
            .map(|(m, _)| *m)
            .collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    if positive_members < p.grid.n_folds {
        return Err(Error::data(
            format!(
                "the training window has {positive_members} members with a positive interaction, fewer than cv_folds = {}",
                p.grid.n_folds
            ),
            "lower model.cv_folds or move model.split_boundary later",
        ));
    }
    let folds = member_folds(&members, &y, p.grid.n_folds, p.seed);
    let (encoder, x) = p
        .encoder
        .fit_transform(t, &rows, &y, &folds, p.grid.n_folds)?;
    let class_weights = p.class_weight.class_weights(&y, None)?;
    let w: Vec<f64> = y
        .iter()
        .map(|&v| {
            if v == 1.0 {
                class_weights.1
            } else {
                class_weights.0
            }
        })
        .collect();
    let grid = p.grid.grid_search(&x, &y, &w, &sampling, &folds)?;
    let sample_positive_fraction = effective_positive_fraction(&y, &w)?;
    let population_positive_fraction = effective_positive_fraction(&y, &sampling)?;
    let prior_shift =
        prior_correction_shift(sample_positive_fraction, population_positive_fraction)?;
    // Out-of-fold probabilities, moved to the population scale by the same shift.
    let oof: Vec<f64> = grid
        .oof_scores
        .iter()
        .map(|&q| sigmoid((q / (1.0 - q)).ln() + prior_shift))
        .collect();
    let oof_curve = precision_recall_curve(&y, &oof, Some(&sampling))?;
    let threshold = p.rule.select(&oof_curve)?;
    let report = TrainReport {
        cv: grid.scores.clone(),
        best_c: grid.best_c,
        train_rows: rows.len(),
        train_positives,
        oof_average_precision: average_precision_of(&oof_curve),
        oof_curve,
    };
    Ok((
        TrainedModel {
            encoder,
            model: grid.model,
            class_weights,
            sample_positive_fraction,
            population_positive_fraction,
            prior_shift,
            threshold,
        },
        report,
    ))
}

/// Scores and metrics of the test window.
#[derive(Debug, Clone)]
pub struct TestReport {
    /// Test rows (indices into the feature table), in table order.
    pub rows: Vec<usize>,
    pub scores: Vec<f64>,
    pub x: Matrix,
    /// `None` when the test window has no positive (no curve can be drawn).
    pub curve: Option<PrCurve>,
    pub average_precision: Option<f64>,
    pub positives: usize,
}

/// Applies the model to the test rows of `t`.
pub fn evaluate(m: &TrainedModel, t: &FeatureTable) -> Result<TestReport> {
    let rows = t.rows_of(Split::Test);
    let x = m.encoder.transform(t, &rows)?;
    let scores = m.score(&x);
    let y: Vec<f64> = rows.iter().map(|&i| f64::from(t.label[i])).collect();
    let positives = y.iter().filter(|&&v| v == 1.0).count();
    let curve = if positives > 0 {
        Some(precision_recall_curve(&y, &scores, None)?)
    } else {
        None
    };
    Ok(TestReport {
        average_precision: curve.as_ref().map(average_precision_of),
        curve,
        rows,
        scores,
        x,
        positives,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_group_members_and_spread_positive_members() {
        let members = ["a", "a", "b", "c", "c", "d", "e", "f", "g", "h"];
        let y = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        let f = member_folds(&members, &y, 2, 42);
        assert_eq!(f[0], f[1]);
        assert_eq!(f[3], f[4]);
        // 4 positive members (a, b, d, f) dealt over 2 folds: 2 each.
        let pos_folds: Vec<usize> = [0usize, 2, 5, 7].iter().map(|&i| f[i]).collect();
        assert_eq!(pos_folds.iter().filter(|&&x| x == 0).count(), 2);
        assert_eq!(f, member_folds(&members, &y, 2, 42), "deterministic");
    }

    #[test]
    fn fnv1a_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
