//! Training, pure: member-grouped folds, encoders fitted on the training rows, the
//! (class weight, C) grid by cross-validation, the refit, the Platt calibration on
//! out-of-fold scores, and the operating threshold chosen out of time on a forward
//! validation slice with a confidence bound — never on the test window whose
//! metrics are reported.
//!
//! Weights, and why:
//! - the loss weights each row by its class weight times the inverse of its
//!   sampling rate. Sampling is by member (every row of a member with an escalation
//!   is kept, other members at rate q), so the keep rate depends on the features
//!   (earlier escalations): a shift of the intercept cannot undo it, but
//!   Horvitz-Thompson weights make the weighted sample loss an unbiased estimate of
//!   the whole population's loss, so the fit estimates the same coefficients as a
//!   fit on every row (tests/model.rs checks ratio 5 against no sampling);
//! - `balanced` class weights count weighted rows, so they too are the population's;
//! - every population-level estimate (CV average precision, the calibration, the
//!   precision of a cutoff) weights each row by the inverse of its sampling rate.
//!
//! The operating point: a model with the chosen (class weight, C) is fitted on the
//! training rows before `split - validation_days - embargo_days`, scores the last
//! `validation_days` of the training window, and the cutoff is the highest-recall
//! one whose member-bootstrap lower confidence bound of precision meets the floor.
//! The refit on every training row then uses that cutoff: both are calibrated by
//! the same Platt map, fitted on out-of-fold scores, so they share one scale.

use serde::{Deserialize, Serialize};

use crate::encode::{FeatureEncoderParams, FeatureEncoderValidParams, FittedFeatureEncoder};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::model::{
    ClassWeight, CvScore, FittedLogisticRegression, FittedPlatt, GbdtParams, GbdtValidParams,
    GridSearchParams, GridSearchResult, GridSearchValidParams, PlattParams, PlattValidParams,
    Primary, PrimaryTrees, ValidClassWeight, effective_positive_fraction,
};
use crate::params::{ParamGuard, Valid, checked};
use crate::table::{FeatureTable, Split};
use crate::threshold::{
    ConfidenceParams, ConfidenceValidParams, PrCurve, ThresholdChoice, ThresholdRule,
    ValidThresholdRule, average_precision, average_precision_of, precision_recall_curve,
};
use crate::timefmt::fmt_us;

mod encoded;
pub(crate) use encoded::{EncodedTraining, encode_training, encode_training_rows, training_scores};

/// One day in microseconds.
const DAY_US: i64 = 86_400_000_000;

/// Where the forward validation slice lies in the training window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ValidationParams {
    /// The split boundary (end of the training window), microseconds since the epoch.
    pub(crate) split_us: i64,
    /// The slice is `[split - validation_days, split)`; 1 to 3650 days.
    pub(crate) validation_days: u32,
    /// The validation model is fitted on rows before `split - validation_days -
    /// embargo_days`; 0 to 3650 days.
    pub(crate) embargo_days: u32,
}

impl ValidationParams {
    /// First prediction time of the validation slice.
    #[allow(clippy::wrong_self_convention)] // "from" as in the slice's start, not a conversion
    pub(crate) fn from_us(&self) -> i64 {
        self.split_us - i64::from(self.validation_days) * DAY_US
    }
    /// Rows the validation model is fitted on come before this.
    pub(crate) fn fit_before_us(&self) -> i64 {
        self.from_us() - i64::from(self.embargo_days) * DAY_US
    }
}

/// Where a training row lies for the forward validation model, by its interaction
/// time: fitted on, in the embargo between (neither), or in the validation slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forward {
    /// Before `split - validation_days - embargo_days`: the validation model's rows.
    Fit,
    /// In the embargo: neither fitted on nor scored.
    Embargo,
    /// In `[split - validation_days, split)`: scored to choose the operating point.
    Validation,
}

impl ValidationParams {
    /// Where a row at `ts_us` lies (the slice starts no earlier than the fit ends).
    pub(crate) fn forward_of(&self, ts_us: i64) -> Forward {
        if ts_us < self.fit_before_us() {
            Forward::Fit
        } else if ts_us >= self.from_us() {
            Forward::Validation
        } else {
            Forward::Embargo
        }
    }
}

/// The forward validation model's loss weights: each row's `w` where it is fitted
/// on ([`Forward::Fit`]), 0 elsewhere (the objective skips rows of weight 0).
pub(crate) fn forward_fit_weights(forward: &[Forward], w: &[f64]) -> Vec<f64> {
    forward
        .iter()
        .zip(w)
        .map(|(f, &w)| if *f == Forward::Fit { w } else { 0.0 })
        .collect()
}

/// The rows of the validation slice ([`Forward::Validation`]), in order.
pub(crate) fn validation_rows(forward: &[Forward]) -> Vec<usize> {
    (0..forward.len())
        .filter(|&k| forward[k] == Forward::Validation)
        .collect()
}

impl ParamGuard for ValidationParams {
    type Checked = Valid<ValidationParams>;

    fn check_ref(&self) -> Result<()> {
        if !(1..=3_650).contains(&self.validation_days) {
            return Err(Error::params(
                "validation_days",
                "a whole number of days from 1 to 3650",
                self.validation_days,
            ));
        }
        if self.embargo_days > 3_650 {
            return Err(Error::params(
                "embargo_days",
                "a whole number of days from 0 to 3650",
                self.embargo_days,
            ));
        }
        Ok(())
    }

    fn check(self) -> Result<Valid<ValidationParams>> {
        checked(self)
    }
}

/// Everything training needs (unchecked; `config` builds it from a configured
/// pipeline, and [`ParamGuard::check`] gives the [`TrainValidParams`] that
/// [`train`] takes).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    pub(crate) encoder: FeatureEncoderParams,
    pub(crate) grid: GridSearchParams,
    /// Class weights searched with the C grid (at least one).
    pub(crate) class_weights: Vec<ClassWeight>,
    pub(crate) rule: ThresholdRule,
    pub(crate) confidence: ConfidenceParams,
    pub(crate) validation: ValidationParams,
    /// The Platt calibration's stopping rule.
    pub(crate) calibration: PlattParams,
    pub(crate) seed: i64,
    /// The challenger's parameters when one is configured (`model.challenger`).
    pub(crate) challenger: Option<GbdtParams>,
    /// Which model is published (`model.primary`); the trees need `challenger`.
    pub(crate) primary: Primary,
}

/// Checked [`TrainParams`]: each part checked, once, before any work.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainValidParams {
    encoder: FeatureEncoderValidParams,
    grid: GridSearchValidParams,
    class_weights: Vec<ValidClassWeight>,
    rule: ValidThresholdRule,
    confidence: ConfidenceValidParams,
    validation: Valid<ValidationParams>,
    calibration: PlattValidParams,
    seed: i64,
    challenger: Option<GbdtValidParams>,
    primary: Primary,
}

impl ParamGuard for TrainParams {
    type Checked = TrainValidParams;

    fn check_ref(&self) -> Result<()> {
        self.clone().check().map(drop)
    }

    /// Checks each part; a part's parameter is named by its path (`encoder.multi_hot.top_n`,
    /// `grid.c_grid`, `rule.target_precision`, ...), an explicit class weight as
    /// `class_weight.positive`.
    fn check(self) -> Result<TrainValidParams> {
        let encoder = self.encoder.check().map_err(|e| e.within("encoder"))?;
        let grid = self.grid.check().map_err(|e| e.within("grid"))?;
        if self.class_weights.is_empty() {
            return Err(Error::params(
                "class_weights",
                "at least one class weight to search",
                "none",
            ));
        }
        let class_weights = self
            .class_weights
            .into_iter()
            .map(ClassWeight::check)
            .collect::<Result<_>>()?;
        Ok(TrainValidParams {
            encoder,
            grid,
            class_weights,
            rule: self.rule.check().map_err(|e| e.within("rule"))?,
            confidence: self
                .confidence
                .check()
                .map_err(|e| e.within("confidence"))?,
            validation: self
                .validation
                .check()
                .map_err(|e| e.within("validation"))?,
            calibration: self
                .calibration
                .check()
                .map_err(|e| e.within("calibration"))?,
            seed: self.seed,
            challenger: self
                .challenger
                .map(GbdtParams::check)
                .transpose()
                .map_err(|e| e.within("challenger"))?,
            primary: match (self.primary, self.challenger) {
                (Primary::Gbdt, None) => {
                    return Err(Error::params(
                        "primary",
                        "\"logistic\", or trees' parameters with \"gbdt\"",
                        "\"gbdt\" without trees' parameters",
                    ));
                }
                (primary, _) => primary,
            },
        })
    }
}

impl TrainValidParams {
    pub fn encoder(&self) -> &FeatureEncoderValidParams {
        &self.encoder
    }
    pub fn grid(&self) -> &GridSearchValidParams {
        &self.grid
    }
    /// At least one.
    pub fn class_weights(&self) -> &[ValidClassWeight] {
        &self.class_weights
    }
    pub(crate) fn rule(&self) -> &ValidThresholdRule {
        &self.rule
    }
    pub(crate) fn confidence(&self) -> &ConfidenceValidParams {
        &self.confidence
    }
    pub(crate) fn validation(&self) -> &ValidationParams {
        &self.validation
    }
    pub(crate) fn calibration(&self) -> &PlattValidParams {
        &self.calibration
    }
    pub fn seed(&self) -> i64 {
        self.seed
    }
    /// The challenger's parameters, when one is configured.
    pub(crate) fn challenger(&self) -> Option<&GbdtValidParams> {
        self.challenger.as_ref()
    }
    /// The published model (the trees only with a challenger's parameters).
    pub(crate) fn primary(&self) -> Primary {
        self.primary
    }
}

/// The fitted model: what `model.json` holds besides run metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedModel {
    pub encoder: FittedFeatureEncoder,
    /// The refit on all training rows with the best (class weight, C).
    pub model: FittedLogisticRegression,
    /// The chosen class weight.
    pub(crate) class_weight: ClassWeight,
    /// `(negative, positive)` class weights of the loss (times the sampling weights).
    pub(crate) class_weights: (f64, f64),
    /// Positive share of the training population (inverse-sampling weighted).
    pub(crate) population_positive_fraction: f64,
    /// Platt map from linear score to probability, fitted on out-of-fold scores.
    pub(crate) calibration: FittedPlatt,
    /// The primary model's operating threshold on calibrated scores (or why there
    /// is none).
    pub threshold: ThresholdChoice,
    /// The trees, when they are the primary model (`model.primary = "gbdt"`): they
    /// then score and give the reasons, on the same encoder; absent from older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trees: Option<PrimaryTrees>,
}

impl TrainedModel {
    /// Calibrated score of one standardized row: `sigmoid(a + b (x . beta + c))`.
    fn score_row(&self, row: &[f64]) -> f64 {
        self.calibration.apply(self.model.decision_function(row))
    }

    /// Calibrated scores of every row of `x` (the trees' when they are primary).
    pub fn score(&self, x: &Matrix) -> Vec<f64> {
        match &self.trees {
            Some(trees) => trees.score(x),
            None => x.rows().map(|r| self.score_row(r)).collect(),
        }
    }

    /// The `k` features that pushed this row's score up most: the largest positive
    /// `beta_j * x_j` (standardized units, so relative to an average interaction);
    /// for the trees, the largest positive Shapley contributions.
    pub(crate) fn reasons(&self, row: &[f64], k: usize) -> Vec<(String, f64)> {
        if let Some(trees) = &self.trees {
            return trees.reasons(row, k, &self.encoder.feature_names);
        }
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

/// Cross-validated average precision of one (class weight, C).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CvEntry {
    pub(crate) class_weight: ClassWeight,
    #[serde(flatten)]
    pub(crate) score: CvScore,
}

/// What the forward validation slice said about the operating point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ValidationReport {
    /// First prediction time of the slice and end of the validation model's rows.
    pub(crate) from_us: i64,
    pub(crate) fit_before_us: i64,
    pub(crate) fit_rows: usize,
    pub(crate) rows: usize,
    pub(crate) positives: usize,
    /// Average precision of the validation model on the slice (population weighted).
    pub(crate) average_precision: f64,
    /// The validation model's cutoff (the refit's is carried over by rank).
    pub(crate) validation_threshold: Option<f64>,
}

/// What training measured, for the summary and the logs.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub(crate) cv: Vec<CvEntry>,
    pub(crate) best_c: f64,
    pub(crate) best_class_weight: ClassWeight,
    pub(crate) train_rows: usize,
    pub(crate) train_positives: usize,
    pub(crate) oof_average_precision: f64,
    pub(crate) validation: ValidationReport,
    /// Seconds from the encoded matrix to the calibrated refit and its threshold
    /// (the C grid, calibration, forward model): the logistic model's fit time.
    pub(crate) fit_seconds: f64,
}

/// 64-bit FNV-1a: a stable hash for fold assignment (std's hasher may change).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
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
/// A fold id is a byte: `n_folds` is at most 50 (`GridSearchParams::check`), and a
/// byte a row is what the folds weigh beside the training matrix (issue 17). An
/// `n_folds` outside 1..=256, which checked parameters never give, is taken as the
/// nearest end of that range, so every id fits in a byte.
pub fn member_folds(members: &[&str], y: &[f64], n_folds: usize, seed: i64) -> Vec<u8> {
    use std::collections::BTreeMap;
    let mut positive: BTreeMap<&str, bool> = BTreeMap::new();
    for (m, &l) in members.iter().zip(y) {
        *positive.entry(m).or_default() |= l == 1.0;
    }
    let n_folds = n_folds.clamp(1, usize::from(u8::MAX) + 1);
    let mut fold_of: BTreeMap<&str, u8> = BTreeMap::new();
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
            // Below n_folds <= 256: a byte.
            fold_of.insert(m, (r % n_folds) as u8);
        }
    }
    members.iter().map(|m| fold_of[m]).collect()
}

/// One class weight's grid search: the class weight, its `(negative, positive)`
/// weights, the loss weight of each row, and what the search found.
type GridChoice = (ClassWeight, (f64, f64), Vec<f64>, GridSearchResult);

/// The encoded training rows and what was fitted on them, kept for a challenger
/// model that must see the same matrix, weights and folds.
pub(crate) struct TrainingSet {
    /// The training rows' matrix, in table order (a table that keeps its rows gives
    /// their indices again: `rows_of(Split::Train)`).
    pub(crate) x: Matrix,
    pub(crate) y: Vec<f64>,
    /// Inverse sampling rate of each row.
    pub(crate) sampling: Vec<f64>,
    /// Loss weights of the chosen class weight (class weight x inverse sampling).
    pub(crate) w: Vec<f64>,
    pub(crate) folds: Vec<u8>,
    /// Where each row lies for the forward validation model.
    pub(crate) forward: Vec<Forward>,
    /// The validation slice's member groups ([`EncodedTraining::val_groups`]).
    pub(crate) val_groups: (Vec<usize>, usize),
    /// Each categorical's codes of the rows ([`EncodedTraining::codes`]).
    pub(crate) codes: Vec<Vec<u32>>,
}

/// Trains on the training rows of `t`.
pub fn train(t: &FeatureTable, p: &TrainValidParams) -> Result<(TrainedModel, TrainReport)> {
    train_keeping_set(t, p).map(|(m, r, _)| (m, r))
}

/// [`train`], also returning the encoded training set: [`encode_training`] then
/// [`fit_encoded`].
pub(crate) fn train_keeping_set(
    t: &FeatureTable,
    p: &TrainValidParams,
) -> Result<(TrainedModel, TrainReport, TrainingSet)> {
    fit_encoded(encode_training(t, p)?, p)
}

/// Fits the encoded training rows: the (class weight, C) grid, the calibration, the
/// operating point out of time, the refit. Reads no feature table.
pub(crate) fn fit_encoded(
    e: EncodedTraining,
    p: &TrainValidParams,
) -> Result<(TrainedModel, TrainReport, TrainingSet)> {
    let EncodedTraining {
        encoder,
        x,
        y,
        sampling,
        folds,
        forward,
        val_groups,
        codes,
    } = e;
    let n = y.len();
    crate::memory::trace_point("fit start");
    let train_positives = y.iter().filter(|&&v| v == 1.0).count();
    let fit_started = std::time::Instant::now();

    // The (class weight, C) grid: one grouped CV per class weight, the best mean AP
    // over all of them (the first class weight listed on ties).
    let mut cv = Vec::new();
    let mut best: Option<GridChoice> = None;
    for cw in p.class_weights() {
        let class_weights = cw.class_weights(&y, Some(&sampling))?;
        let w = loss_weights(&y, &sampling, class_weights);
        let grid = p.grid().grid_search(&x, &y, &w, &sampling, &folds)?;
        cv.extend(grid.scores.iter().map(|s| CvEntry {
            class_weight: **cw,
            score: s.clone(),
        }));
        let mean = grid.scores[grid.best_index].mean_ap;
        tracing::debug!(
            class_weight = ?cw,
            best_c = grid.best_c,
            mean_ap = mean,
            "class weight {cw:?}: best C {} (mean average precision {mean:.4})",
            grid.best_c
        );
        if best
            .as_ref()
            .is_none_or(|b| mean > b.3.scores[b.3.best_index].mean_ap)
        {
            best = Some((**cw, class_weights, w, grid));
        }
    }
    let Some((class_weight, class_weights, w, mut grid)) = best else {
        // TrainParams::check refused an empty list of class weights.
        return Err(Error::params("class_weights", "at least one", "none"));
    };

    crate::memory::trace_point("fit: after the C grid");
    // Calibration on out-of-fold linear scores, weighted back to the population.
    let calibration = p.calibration().fit(&grid.oof_decision, &y, &sampling)?;
    // The out-of-fold scores are calibrated in place: nothing reads the linear ones
    // after the calibration, and a second vector of every training row would sit
    // beside the matrix (issue 17).
    let mut oof = std::mem::take(&mut grid.oof_decision);
    oof.iter_mut().for_each(|z| *z = calibration.apply(*z));
    let oof_average_precision = average_precision(&y, &oof, Some(&sampling))?;
    drop(oof);
    // What the grid and the calibration let go goes back to the system before the
    // next row-length vectors (the client's peak is in this stage, issue 17).
    crate::memory::trace_point("fit: after the calibration");
    crate::memory::release_free_memory();

    // The operating point, out of time: a model fitted on the rows before the
    // embargo scores the validation slice.
    let v = p.validation();
    let fit_w = forward_fit_weights(&forward, &w);
    let val = validation_rows(&forward);
    let fit_rows = fit_w.iter().filter(|&&x| x > 0.0).count();
    let val_y: Vec<f64> = val.iter().map(|&k| y[k]).collect();
    let val_positives = val_y.iter().filter(|&&v| v == 1.0).count();
    let fit_positives = (0..n).filter(|&k| fit_w[k] > 0.0 && y[k] == 1.0).count();
    if val_positives == 0 || fit_positives == 0 || fit_positives == fit_rows {
        return Err(Error::data(
            format!(
                "the forward validation slice needs escalations on both sides: the {} training rows before {} hold {fit_positives} positives, the {} rows from {} on hold {val_positives}",
                fit_rows,
                fmt_us(Some(v.fit_before_us())),
                val.len(),
                fmt_us(Some(v.from_us())),
            ),
            "change model.validation_days (or model.embargo_days), or move model.split_boundary later",
        ));
    }
    let forward_model =
        p.grid().fit_params()[grid.best_index].fit(&x, &y, &fit_w, Some(&grid.model))?;
    let val_scores: Vec<f64> = val
        .iter()
        .map(|&k| calibration.apply(forward_model.decision_function(x.row(k))))
        .collect();
    drop(fit_w);
    let val_w: Vec<f64> = val.iter().map(|&k| sampling[k]).collect();
    let refit_val: Vec<f64> = val
        .iter()
        .map(|&k| calibration.apply(grid.model.decision_function(x.row(k))))
        .collect();
    crate::memory::trace_point("fit: forward model's scores");
    let (threshold, validation_threshold) = operating_point(
        p,
        &val_y,
        &val_scores,
        &val_w,
        (&val_groups.0, val_groups.1),
        &refit_val,
    )?;
    let validation = ValidationReport {
        validation_threshold,
        from_us: v.from_us(),
        fit_before_us: v.fit_before_us(),
        fit_rows,
        rows: val.len(),
        positives: val_positives,
        average_precision: average_precision(&val_y, &val_scores, Some(&val_w))?,
    };

    let report = TrainReport {
        cv,
        best_c: grid.best_c,
        best_class_weight: class_weight,
        train_rows: n,
        train_positives,
        oof_average_precision,
        validation,
        fit_seconds: fit_started.elapsed().as_secs_f64(),
    };
    let population_positive_fraction = effective_positive_fraction(&y, &sampling)?;
    let set = TrainingSet {
        x,
        y,
        sampling,
        w,
        folds,
        forward,
        val_groups,
        codes,
    };
    Ok((
        TrainedModel {
            encoder,
            model: grid.model,
            class_weight,
            class_weights,
            population_positive_fraction,
            calibration,
            threshold,
            trees: None,
        },
        report,
        set,
    ))
}

/// The operating point: the cutoff the rule picks on the validation model's
/// calibrated scores `val_scores` of the slice (labels `val_y`, population weights
/// `val_w`, member groups), carried by rank to the refit's scores `refit_val` of the
/// same rows. Returns the refit's choice and the validation model's cutoff.
pub(crate) fn operating_point(
    p: &TrainValidParams,
    val_y: &[f64],
    val_scores: &[f64],
    val_w: &[f64],
    (val_groups, n_groups): (&[usize], usize),
    refit_val: &[f64],
) -> Result<(ThresholdChoice, Option<f64>)> {
    let chosen = p.rule().select_with_confidence(
        val_y,
        val_scores,
        val_w,
        val_groups,
        n_groups,
        p.confidence(),
        p.seed() as u64,
    )?;
    // Carry the cutoff to the refit by rank: the refit's cutoff contacts as much of
    // the validation slice as the validation model's did. Carrying the probability
    // itself fails when the two models' upper tails differ (the refit, on more
    // recent data, spreads further): on one demo seed it contacted 1.4x as many
    // interactions at precision 0.37 where the slice promised 0.46.
    Ok(match chosen {
        ThresholdChoice::Feasible {
            threshold: t,
            precision,
            recall,
            precision_lower,
        } => {
            let volume: f64 = val_scores
                .iter()
                .zip(val_w)
                .filter(|(s, _)| **s >= t)
                .map(|(_, w)| w)
                .sum();
            (
                ThresholdChoice::Feasible {
                    threshold: cutoff_for_volume(refit_val, val_w, volume),
                    precision,
                    recall,
                    precision_lower,
                },
                Some(t),
            )
        }
        infeasible => (infeasible, None),
    })
}

/// The highest cutoff on `score` whose rows (those scoring at least it) weigh at
/// least `volume`: rows sorted by score, descending, their weights summed until the
/// sum reaches `volume`; the cutoff is that row's score, so ties come along. With
/// `volume` at or below 0 the highest score; above the total, the lowest.
pub(crate) fn cutoff_for_volume(score: &[f64], weight: &[f64], volume: f64) -> f64 {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let mut sum = 0.0;
    for &i in &order {
        sum += weight[i];
        if sum >= volume {
            return score[i];
        }
    }
    order.last().map_or(f64::INFINITY, |&i| score[i])
}

/// Loss weight of each row: its class weight times its inverse sampling rate.
pub fn loss_weights(y: &[f64], sampling: &[f64], class_weights: (f64, f64)) -> Vec<f64> {
    y.iter()
        .zip(sampling)
        .map(|(&v, &s)| {
            s * if v == 1.0 {
                class_weights.1
            } else {
                class_weights.0
            }
        })
        .collect()
}

/// Scores and metrics of the test window.
#[derive(Debug, Clone)]
pub(crate) struct TestReport {
    /// Test rows (indices into the feature table), in table order.
    pub(crate) rows: Vec<usize>,
    pub(crate) scores: Vec<f64>,
    /// `None` when the test window has no positive (no curve can be drawn).
    pub(crate) curve: Option<PrCurve>,
    pub(crate) average_precision: Option<f64>,
    pub(crate) positives: usize,
    /// Mean score against observed rate by score decile.
    pub(crate) calibration: Vec<crate::threshold::CalibrationBin>,
}

/// Rows encoded and scored at a time by [`score_in_blocks`]: 65,536 rows of about
/// 70 features are some 37 MB.
const SCORING_BLOCK_ROWS: usize = 1 << 16;

/// Encodes `rows` of `t` a block at a time and scores each block with `score`. The
/// test window's matrix is never held whole: the client's memory is set by the
/// training matrix, not by the population scored (issue 17). The encoding is row by
/// row (fitted maps, no statistic of the rows being transformed), so the scores are
/// the ones of one whole matrix.
pub(crate) fn score_in_blocks(
    encoder: &FittedFeatureEncoder,
    t: &FeatureTable,
    rows: &[usize],
    score: impl Fn(&Matrix) -> Vec<f64>,
) -> Result<Vec<f64>> {
    score_in_blocks_of(SCORING_BLOCK_ROWS, encoder, t, rows, score)
}

fn score_in_blocks_of(
    block_rows: usize,
    encoder: &FittedFeatureEncoder,
    t: &FeatureTable,
    rows: &[usize],
    score: impl Fn(&Matrix) -> Vec<f64>,
) -> Result<Vec<f64>> {
    blocks_of(block_rows, rows, |block| {
        Ok(score(&encoder.transform(t, block)?))
    })
}

/// `score` of each block of [`SCORING_BLOCK_ROWS`] of `rows`, in order.
fn score_in_blocks_with(
    rows: &[usize],
    score: impl Fn(&[usize]) -> Result<Vec<f64>>,
) -> Result<Vec<f64>> {
    blocks_of(SCORING_BLOCK_ROWS, rows, score)
}

fn blocks_of(
    block_rows: usize,
    rows: &[usize],
    score: impl Fn(&[usize]) -> Result<Vec<f64>>,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(rows.len());
    for block in rows.chunks(block_rows.max(1)) {
        out.extend(score(block)?);
    }
    Ok(out)
}

/// Applies the model to the test rows of `t`.
pub(crate) fn evaluate(m: &TrainedModel, t: &FeatureTable) -> Result<TestReport> {
    let rows = t.rows_of(Split::Test);
    let scores = score_in_blocks(&m.encoder, t, &rows, |x| m.score(x))?;
    test_report(t, rows, scores)
}

/// The metrics of scores already computed for the test rows `rows` of `t` (the
/// challenger's, when it becomes the primary: its scores are not computed again).
pub(crate) fn test_report(
    t: &FeatureTable,
    rows: Vec<usize>,
    scores: Vec<f64>,
) -> Result<TestReport> {
    let y: Vec<f64> = rows.iter().map(|&i| f64::from(t.label[i])).collect();
    let positives = y.iter().filter(|&&v| v == 1.0).count();
    let curve = if positives > 0 {
        Some(precision_recall_curve(&y, &scores, None)?)
    } else {
        None
    };
    Ok(TestReport {
        calibration: crate::threshold::calibration_bins(&y, &scores, 10)?,
        average_precision: curve.as_ref().map(average_precision_of),
        curve,
        rows,
        scores,
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
        let pos_folds: Vec<u8> = [0usize, 2, 5, 7].iter().map(|&i| f[i]).collect();
        assert_eq!(pos_folds.iter().filter(|&&x| x == 0).count(), 2);
        assert_eq!(f, member_folds(&members, &y, 2, 42), "deterministic");
    }

    #[test]
    fn forward_slices_split_at_the_embargo_and_the_validation_start() {
        let day = DAY_US;
        let v = ValidationParams {
            split_us: 100 * day,
            validation_days: 10,
            embargo_days: 5,
        };
        let at = |d: i64| v.forward_of(d * day);
        assert_eq!(
            (at(0), at(84), at(85)),
            (Forward::Fit, Forward::Fit, Forward::Embargo)
        );
        assert_eq!(
            (at(89), at(90), at(99)),
            (Forward::Embargo, Forward::Validation, Forward::Validation)
        );
        assert_eq!(v.forward_of(85 * day - 1), Forward::Fit);
        // No embargo: every row is fitted on or scored.
        let v = ValidationParams {
            embargo_days: 0,
            ..v
        };
        assert_eq!(
            (v.forward_of(90 * day - 1), v.forward_of(90 * day)),
            (Forward::Fit, Forward::Validation)
        );
    }

    #[test]
    fn cutoff_for_volume_takes_the_same_share_by_rank() {
        let s = [0.9, 0.1, 0.5, 0.7, 0.5, 0.3];
        let w = [1.0; 6];
        assert_eq!(cutoff_for_volume(&s, &w, 1.0), 0.9);
        assert_eq!(cutoff_for_volume(&s, &w, 2.0), 0.7);
        // The third row ties with the fourth: the cutoff 0.5 takes both.
        assert_eq!(cutoff_for_volume(&s, &w, 3.0), 0.5);
        assert_eq!(cutoff_for_volume(&s, &w, 0.0), 0.9);
        assert_eq!(cutoff_for_volume(&s, &w, 99.0), 0.1);
        assert_eq!(
            cutoff_for_volume(&s, &[1.0, 1.0, 1.0, 5.0, 1.0, 1.0], 4.0),
            0.7
        );
    }

    /// Encoder parameters: (top n, least support) of the description flags and of the
    /// words, and the crossed descriptions.
    fn encoder_params(
        (flags, flag_support): (usize, usize),
        (words, word_support): (usize, usize),
        crosses: usize,
    ) -> FeatureEncoderParams {
        FeatureEncoderParams {
            multi_hot: crate::encode::MultiHotParams {
                top_n: flags,
                min_support: flag_support,
            },
            tokens: crate::encode::tokens::TokenParams {
                top_n: words,
                min_support: word_support,
            },
            crosses: crate::encode::cross::CrossParams { top_n: crosses },
            target: Default::default(),
            missing_days: 365.0,
        }
    }

    /// 60 rows: a numeric column that moves, two descriptions (40 and 30 rows), a
    /// categorical with three values; every 4th row positive; two rows per member.
    fn small_table() -> FeatureTable {
        use crate::table::{Categorical, DescriptionSets, NUMERIC_FEATURES};
        let n = 60;
        let mut numeric = vec![vec![1.0; n]; NUMERIC_FEATURES.len()];
        numeric[0] = (0..n).map(|i| (i % 13) as f64).collect();
        let mut offsets = vec![0];
        let mut ids = Vec::new();
        for i in 0..n {
            if i % 3 != 0 {
                ids.push(0);
            }
            if i % 2 == 0 {
                ids.push(1);
            }
            offsets.push(ids.len());
        }
        FeatureTable {
            interaction_id: (0..n).map(|i| format!("i{i}")).collect(),
            member_id: (0..n).map(|i| format!("m{}", i / 2)).collect(),
            interaction_ts_us: (0..n as i64).collect(),
            label: (0..n).map(|i| u8::from(i % 4 == 0)).collect(),
            split: vec![Split::Train; n],
            sample_weight: vec![1.0; n],
            numeric: crate::table::NumericRows::from_columns(&numeric).unwrap(),
            descriptions: DescriptionSets {
                dictionary: vec!["billing question".into(), "claim denied".into()],
                offsets,
                ids,
            },
            categoricals: vec![Categorical {
                name: "cat_channel".into(),
                dictionary: vec!["phone".into(), "chat".into(), "mail".into()],
                codes: (0..n as u32).map(|i| i % 3).collect(),
            }],
        }
    }

    #[test]
    fn scores_in_blocks_are_the_scores_of_the_whole_matrix() {
        use crate::table::NUMERIC_FEATURES;
        let t = small_table();
        let n = t.len();
        let rows: Vec<usize> = (0..n).collect();
        let y: Vec<f64> = t.label.iter().map(|&l| f64::from(l)).collect();
        let folds: Vec<u8> = (0..n).map(|i| ((i / 2) % 3) as u8).collect();
        let (enc, x) = encoder_params((5, 5), (5, 5), 1)
            .check()
            .unwrap()
            .fit_transform(&t, &rows, &y, &vec![1.0; n], &folds, 3)
            .unwrap();
        // A score that reads every column: a fixed weighted sum per row.
        let score = |m: &Matrix| -> Vec<f64> {
            m.rows()
                .map(|r| {
                    r.iter()
                        .enumerate()
                        .map(|(j, v)| (j as f64 + 0.5) * v)
                        .sum()
                })
                .collect()
        };
        let full = enc.transform(&t, &rows).unwrap();
        let whole = score(&full);
        let odd: Vec<usize> = (0..n).rev().step_by(2).collect();
        // The training matrix with its `te_` column replaced is `transform`'s, to the
        // bit, from the dictionaries alone (the table's rows taken out); the
        // out-of-fold column it replaces differs.
        let mut dictionaries_only = t.clone();
        assert_eq!(dictionaries_only.take_rows().len(), n);
        assert!(
            dictionaries_only.is_empty() && dictionaries_only.descriptions.dictionary.len() == 2
        );
        let dicts = [dictionaries_only.categoricals[0].dictionary.as_slice()];
        let codes = [t.categoricals[0].codes.as_slice()];
        let again = enc
            .transform_from_training(&x, &rows, &codes, &dicts)
            .unwrap();
        assert_eq!(again.data(), full.data());
        let te = x.n_cols() - 1;
        assert!((0..n).any(|i| x.get(i, te) != full.get(i, te)));
        let some = enc
            .transform_from_training(&x, &odd, &codes, &dicts)
            .unwrap();
        for (k, &i) in odd.iter().enumerate() {
            assert_eq!(some.row(k), full.row(i));
        }
        assert!(enc.transform_from_training(&x, &rows, &[], &[]).is_err());
        assert!(enc.transform_from_training(&x, &rows, &codes, &[]).is_err());
        for block in [1, 7, 60, 1000] {
            assert_eq!(
                score_in_blocks_of(block, &enc, &t, &rows, score).unwrap(),
                whole,
                "block {block}"
            );
            let picked: Vec<f64> = odd.iter().map(|&i| whole[i]).collect();
            assert_eq!(
                score_in_blocks_of(block, &enc, &t, &odd, score).unwrap(),
                picked
            );
        }
        assert!(
            x.n_cols() > NUMERIC_FEATURES.len(),
            "descriptions and the categorical encoded"
        );
    }

    #[test]
    fn an_owned_table_encodes_as_a_borrowed_one() {
        // The last 10 rows are the test window: neither path encodes them.
        let mut t = small_table();
        t.split[50..].fill(Split::Test);
        let p = TrainParams {
            encoder: encoder_params((5, 5), (5, 5), 1),
            grid: GridSearchParams {
                c_grid: vec![1.0],
                n_folds: 3,
                tol: 1e-6,
                max_iter: 100,
            },
            class_weights: vec![ClassWeight::Balanced],
            rule: ThresholdRule {
                target_precision: 0.4,
                cap: None,
            },
            confidence: ConfidenceParams {
                level: 0.9,
                rounds: 50,
            },
            validation: ValidationParams {
                split_us: 0,
                validation_days: 1,
                embargo_days: 0,
            },
            calibration: PlattParams::default(),
            seed: 42,
            challenger: None,
            primary: Primary::Logistic,
        }
        .check()
        .unwrap();
        let a = encode_training(&t, &p).unwrap();
        let b = encode_training_rows(t.clone(), &p).unwrap();
        assert_eq!(a.y.len(), 50);
        assert_eq!((&a.y, &a.sampling), (&b.y, &b.sampling));
        assert_eq!(
            (&a.folds, &a.forward, &a.val_groups),
            (&b.folds, &b.forward, &b.val_groups)
        );
        assert_eq!((&a.codes, &a.encoder), (&b.codes, &b.encoder));
        assert_eq!(a.x.data(), b.x.data());
        // Every row is in the slice (times 0..50 us, from a day before the split at 0).
        assert!(a.forward.iter().all(|f| *f == Forward::Validation));
        assert_eq!(
            (&a.val_groups.0[..4], a.val_groups.1),
            (&[0, 0, 1, 1][..], 25),
            "two rows per member, first seen first"
        );
        // Every row a training row (the run's case): the numbers grow into the
        // matrix and the codes are moved from the table, with the same result.
        let all = small_table();
        let a = encode_training(&all, &p).unwrap();
        let b = encode_training_rows(all.clone(), &p).unwrap();
        assert_eq!(a.y.len(), 60);
        assert_eq!((&a.y, &a.sampling, &a.folds), (&b.y, &b.sampling, &b.folds));
        assert_eq!((&a.forward, &a.val_groups), (&b.forward, &b.val_groups));
        assert_eq!((&a.codes, &a.encoder), (&b.codes, &b.encoder));
        assert_eq!(a.x.data(), b.x.data());
        assert_eq!(b.codes[0], all.categoricals[0].codes);
        // Too few positive members for the folds: the same refusal.
        t.label.fill(0);
        t.label[0] = 1;
        let e = encode_training_rows(t, &p).err().unwrap().to_string();
        assert!(e.contains("fewer than cv_folds = 3"), "{e}");
    }

    #[test]
    fn train_params_name_a_refused_part_by_its_path() {
        let ok = TrainParams {
            encoder: encoder_params((40, 20), (60, 20), 5),
            grid: GridSearchParams {
                c_grid: vec![0.1, 1.0],
                n_folds: 5,
                tol: 1e-6,
                max_iter: 1000,
            },
            class_weights: vec![ClassWeight::Balanced],
            rule: ThresholdRule {
                target_precision: 0.4,
                cap: None,
            },
            confidence: ConfidenceParams {
                level: 0.9,
                rounds: 400,
            },
            validation: ValidationParams {
                split_us: 0,
                validation_days: 60,
                embargo_days: 7,
            },
            calibration: PlattParams::default(),
            seed: 42,
            challenger: Some(crate::model::GbdtParams::default()),
            primary: Primary::Gbdt,
        };
        let valid = ok.clone().check().unwrap();
        assert_eq!(valid.grid().fit_params().len(), 2);
        assert_eq!(valid.validation().validation_days, 60);
        let mut cases: Vec<(TrainParams, &str)> = Vec::new();
        let mut p = ok.clone();
        p.encoder.multi_hot.top_n = 0;
        cases.push((p, "encoder.multi_hot.top_n"));
        let mut p = ok.clone();
        p.encoder.tokens.min_support = 0;
        cases.push((p, "encoder.tokens.min_support"));
        let mut p = ok.clone();
        p.encoder.missing_days = -1.0;
        cases.push((p, "encoder.missing_days"));
        let mut p = ok.clone();
        p.grid.n_folds = 1;
        cases.push((p, "grid.n_folds"));
        let mut p = ok.clone();
        p.class_weights.clear();
        cases.push((p, "class_weights"));
        let mut p = ok.clone();
        p.class_weights.push(ClassWeight::Explicit {
            positive: -1.0,
            negative: 1.0,
        });
        cases.push((p, "class_weight.positive"));
        let mut p = ok.clone();
        p.rule.cap = Some(0);
        cases.push((p, "rule.cap"));
        let mut p = ok.clone();
        p.confidence.rounds = 10;
        cases.push((p, "confidence.rounds"));
        let mut p = ok.clone();
        p.validation.validation_days = 0;
        cases.push((p, "validation.validation_days"));
        let mut p = ok.clone();
        p.validation.embargo_days = 3_651;
        cases.push((p, "validation.embargo_days"));
        let mut p = ok.clone();
        p.calibration.max_iter = 0;
        cases.push((p, "calibration.max_iter"));
        let mut p = ok.clone();
        p.challenger = Some(crate::model::GbdtParams {
            max_depth: 0,
            ..Default::default()
        });
        cases.push((p, "challenger.max_depth"));
        let mut p = ok.clone();
        p.challenger = None;
        cases.push((p, "primary"));
        for (p, name) in cases {
            let e = p.check().unwrap_err();
            assert_eq!(crate::params::param_name(&e), Some(name), "{e}");
        }
    }

    #[test]
    fn fnv1a_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
