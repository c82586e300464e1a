//! The challenger (`model.challenger = "gbdt"`): gradient-boosted trees trained on the
//! logistic model's own encoded training set, and the side-by-side comparison of the
//! two on the same test rows (`model_comparison.csv`). Pure. With `model.primary =
//! "logistic"` (the default) the challenger changes no other output; with
//! `model.primary = "gbdt"` the trees (`model::PrimaryTrees`, carried by `model.json`)
//! score the test window, set the threshold and the outreach list, and the logistic
//! model is the other row of the comparison.
//!
//! Training mirrors `train::train` step by step:
//! - the same matrix, labels and loss weights (the chosen class weight x the inverse
//!   sampling rate) and the same member folds;
//! - early stopping: the members of fold 0 are held out, the trees fitted on the other
//!   folds until the held-out weighted log loss stops improving for
//!   `early_stopping_rounds`; that number of rounds is kept for the refit and the
//!   forward model;
//! - calibration: Platt on the held-out fold's margins, weighted back to the
//!   population by the inverse sampling rates (as the logistic model's is on its
//!   out-of-fold scores);
//! - the operating point: a forward model (the same rounds) fitted on the rows before
//!   `split - validation_days - embargo_days` scores the validation slice, the same
//!   rule picks the cutoff there (`train::operating_point`), carried by rank to the
//!   refit on every training row.

use std::time::Instant;

use serde::Serialize;

use crate::error::Result;
use crate::matrix::Matrix;
use crate::model::{FittedGbdt, FittedPlatt, GbdtValidParams, Primary, PrimaryTrees};
use crate::table::FeatureTable;
use crate::threshold::{
    self, ConfidenceValidParams, Interval, ThresholdChoice, average_precision, group_ids,
};
use crate::train::{
    self, TestReport, TrainValidParams, TrainedModel, TrainingSet, operating_point,
};

/// The fitted challenger.
#[derive(Debug)]
pub(crate) struct TrainedChallenger {
    /// The refit on every training row, with the early-stopped number of rounds.
    pub(crate) model: FittedGbdt,
    pub(crate) calibration: FittedPlatt,
    pub(crate) threshold: ThresholdChoice,
    /// Rounds kept by early stopping.
    pub(crate) rounds: usize,
    /// Average precision of the forward model on the validation slice.
    pub(crate) validation_average_precision: f64,
    /// Seconds for the three fits (early stopping, forward, refit) and the rest.
    pub(crate) fit_seconds: f64,
}

impl TrainedChallenger {
    /// Calibrated scores of every row of `x`.
    pub(crate) fn score(&self, x: &Matrix) -> Vec<f64> {
        self.model.calibrated_scores(&self.calibration, x)
    }

    /// Size of the model: forust's JSON of the trees and the two Platt numbers.
    pub(crate) fn size_bytes(&self) -> usize {
        self.model.size_bytes() + 2 * std::mem::size_of::<f64>()
    }
}

/// Trains the trees on `set` (the logistic model's training set).
pub(crate) fn train_gbdt(
    set: &TrainingSet,
    p: &TrainValidParams,
    g: &GbdtValidParams,
) -> Result<TrainedChallenger> {
    let started = Instant::now();
    let n = set.y.len();
    // Early stopping on the members of fold 0.
    let held: Vec<usize> = (0..n).filter(|&k| set.folds[k] == 0).collect();
    let fit: Vec<usize> = (0..n).filter(|&k| set.folds[k] != 0).collect();
    let stopped = g.fit_early_stopping(&set.x, &set.y, &set.w, &fit, &held)?;
    let rounds = stopped.rounds();
    let held_margin = stopped.decision_function(&set.x, &held);
    let pick = |v: &[f64]| held.iter().map(|&k| v[k]).collect::<Vec<_>>();
    let calibration = p
        .calibration()
        .fit(&held_margin, &pick(&set.y), &pick(&set.sampling))?;
    tracing::debug!(
        rounds,
        held_rows = held.len(),
        "gbdt: early stopping kept {rounds} rounds on {} held-out rows",
        held.len()
    );
    // The refit and the forward model, with those rounds.
    let model = g.fit_rounds(&set.x, &set.y, &set.w, rounds)?;
    let fit_w = train::forward_fit_weights(&set.forward, &set.w);
    let forward = g.fit_rounds(&set.x, &set.y, &fit_w, rounds)?;
    let val = train::validation_rows(&set.forward);
    let cal = |z: Vec<f64>| -> Vec<f64> { z.into_iter().map(|z| calibration.apply(z)).collect() };
    let val_scores = cal(forward.decision_function(&set.x, &val));
    let refit_val = cal(model.decision_function(&set.x, &val));
    let val_y: Vec<f64> = val.iter().map(|&k| set.y[k]).collect();
    let val_w: Vec<f64> = val.iter().map(|&k| set.sampling[k]).collect();
    let (groups, n_groups) = (&set.val_groups.0, set.val_groups.1);
    let (threshold, _) = operating_point(
        p,
        &val_y,
        &val_scores,
        &val_w,
        (groups, n_groups),
        &refit_val,
    )?;
    let validation_average_precision = average_precision(&val_y, &val_scores, Some(&val_w))?;
    Ok(TrainedChallenger {
        model,
        calibration,
        threshold,
        rounds,
        validation_average_precision,
        fit_seconds: started.elapsed().as_secs_f64(),
    })
}

/// One model's line of `model_comparison.csv`, measured on the test rows.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Comparison {
    pub(crate) model: &'static str,
    /// "primary" (the model whose scores are published) or "challenger".
    pub(crate) role: &'static str,
    pub(crate) average_precision: Option<f64>,
    /// The model's own operating threshold (None when no cutoff met the floor).
    pub(crate) threshold: Option<f64>,
    pub(crate) selected: usize,
    pub(crate) precision: Option<f64>,
    pub(crate) precision_interval: Option<Interval>,
    pub(crate) recall: Option<f64>,
    pub(crate) recall_interval: Option<Interval>,
    /// Mean calibrated score over the observed positive rate (1 = calibrated in the
    /// large).
    pub(crate) mean_predicted_over_base_rate: Option<f64>,
    pub(crate) brier: f64,
    pub(crate) fit_seconds: f64,
    pub(crate) model_size_bytes: usize,
    /// Average precision on the forward validation slice (population weighted).
    pub(crate) validation_average_precision: f64,
    /// Boosting rounds kept by early stopping (trees only).
    pub(crate) rounds: Option<usize>,
}

/// What every model is compared on: the test rows' labels, member groups and the
/// threshold rule's cap.
pub(crate) struct TestRows<'a> {
    pub(crate) y: &'a [f64],
    pub(crate) keys: &'a [&'a str],
    pub(crate) groups: &'a [usize],
    pub(crate) n_groups: usize,
    pub(crate) cap: Option<usize>,
    pub(crate) confidence: &'a ConfidenceValidParams,
    pub(crate) seed: u64,
}

impl TestRows<'_> {
    /// Measures one model's calibrated test `scores` at its own `threshold`.
    pub(crate) fn compare(
        &self,
        model: &'static str,
        scores: &[f64],
        threshold: &ThresholdChoice,
        fit_seconds: f64,
        model_size_bytes: usize,
    ) -> Result<Comparison> {
        let y = self.y;
        let positives = y.iter().filter(|&&v| v == 1.0).count();
        let selected = match threshold.threshold() {
            Some(t) => threshold::apply_cap(scores, self.keys, t, self.cap)?.selected,
            None => Vec::new(),
        };
        let mut chosen = vec![false; y.len()];
        for &k in &selected {
            chosen[k] = true;
        }
        let hits = selected.iter().filter(|&&k| y[k] == 1.0).count();
        let (pi, ri) = threshold::bootstrap_precision_recall(
            y,
            &chosen,
            &vec![1.0; y.len()],
            self.groups,
            self.n_groups,
            self.confidence,
            self.seed,
        )?;
        let has_cut = threshold.threshold().is_some();
        let n = y.len().max(1) as f64;
        let mean_score = scores.iter().sum::<f64>() / n;
        let base_rate = positives as f64 / n;
        Ok(Comparison {
            model,
            role: "challenger",
            average_precision: if positives > 0 {
                Some(average_precision(y, scores, None)?)
            } else {
                None
            },
            threshold: threshold.threshold(),
            selected: selected.len(),
            precision: (!selected.is_empty()).then(|| hits as f64 / selected.len() as f64),
            precision_interval: pi,
            recall: (positives > 0 && has_cut).then(|| hits as f64 / positives as f64),
            recall_interval: if has_cut { ri } else { None },
            mean_predicted_over_base_rate: (positives > 0).then(|| mean_score / base_rate),
            brier: scores
                .iter()
                .zip(y)
                .map(|(s, v)| (s - v).powi(2))
                .sum::<f64>()
                / n,
            fit_seconds,
            model_size_bytes,
            validation_average_precision: f64::NAN,
            rounds: None,
        })
    }
}

/// The models settled after the challenger is trained: the comparison on the test
/// rows, then, with `model.primary = "gbdt"`, the trees put in the logistic model's
/// place (`trained` carries them and their threshold, and the test report is made
/// from the trees' scores of the comparison). Returns the primary model, its test
/// report and the comparison.
pub(crate) fn settle(
    t: &FeatureTable,
    trained: TrainedModel,
    test: TestReport,
    logistic_fit: (f64, f64),
    challenger: TrainedChallenger,
    p: &TrainValidParams,
) -> Result<(TrainedModel, TestReport, Vec<Comparison>)> {
    // The trees score the test window once, for the comparison and, as the primary,
    // for its test report.
    let gbdt_scores =
        train::score_in_blocks(&trained.encoder, t, &test.rows, |x| challenger.score(x))?;
    let mut rows = comparisons(
        t,
        &trained,
        logistic_fit,
        &test,
        (&challenger, &gbdt_scores),
        p,
    )?;
    if p.primary() == Primary::Logistic {
        return Ok((trained, test, rows));
    }
    rows.reverse();
    let primary = TrainedModel {
        threshold: challenger.threshold,
        trees: Some(PrimaryTrees {
            model: challenger.model,
            calibration: challenger.calibration,
            rounds: challenger.rounds,
        }),
        ..trained
    };
    let test = train::test_report(t, test.rows, gbdt_scores)?;
    Ok((primary, test, rows))
}

/// The comparison of the logistic model (`trained`, fitted in `fit_seconds`, with its
/// average precision on the validation slice) and the
/// challenger (with its scores of the test rows) on the test rows of `t` (`test`),
/// each at its own threshold.
pub(crate) fn comparisons(
    t: &FeatureTable,
    trained: &TrainedModel,
    (fit_seconds, validation_average_precision): (f64, f64),
    test: &TestReport,
    (challenger, gbdt_scores): (&TrainedChallenger, &[f64]),
    p: &TrainValidParams,
) -> Result<Vec<Comparison>> {
    let y: Vec<f64> = test.rows.iter().map(|&i| f64::from(t.label[i])).collect();
    let keys: Vec<&str> = test.rows.iter().map(|&i| &t.interaction_id[i]).collect();
    let members: Vec<&str> = test.rows.iter().map(|&i| &t.member_id[i]).collect();
    let (groups, n_groups) = group_ids(&members);
    let rows = TestRows {
        y: &y,
        keys: &keys,
        groups: &groups,
        n_groups,
        cap: p.rule().cap,
        confidence: p.confidence(),
        seed: p.seed() as u64,
    };
    // The logistic model's size: its coefficients, intercept and Platt map as JSON.
    let logistic_size =
        serde_json::to_vec(&(&trained.model, &trained.calibration)).map_or(0, |v| v.len());
    let mut logistic = rows.compare(
        "logistic",
        &test.scores,
        &trained.threshold,
        fit_seconds,
        logistic_size,
    )?;
    logistic.validation_average_precision = validation_average_precision;
    let mut gbdt = rows.compare(
        "gbdt",
        gbdt_scores,
        &challenger.threshold,
        challenger.fit_seconds,
        challenger.size_bytes(),
    )?;
    gbdt.validation_average_precision = challenger.validation_average_precision;
    gbdt.rounds = Some(challenger.rounds);
    let gbdt_primary = p.primary() == Primary::Gbdt;
    logistic.role = if gbdt_primary {
        "challenger"
    } else {
        "primary"
    };
    gbdt.role = if gbdt_primary {
        "primary"
    } else {
        "challenger"
    };
    Ok(vec![logistic, gbdt])
}
