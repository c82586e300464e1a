//! Threshold selection: the precision-recall curve, average precision, and the rule
//! that turns a curve into an outreach list (a precision floor, then an optional cap
//! on the number of rows contacted).
//!
//! The curve and the average precision reproduce scikit-learn exactly
//! (`sklearn.metrics.precision_recall_curve` with `drop_intermediate=False`, and
//! `average_precision_score`, scikit-learn 1.9), so that numbers in the run log can be
//! checked against a notebook. The fixtures in `tests/data/sklearn/threshold_*.json`
//! come from `scripts/fixtures/sklearn_threshold_encode.py`.
//!
//! Pure and synchronous: no I/O, no randomness.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::{ParamGuard, Valid, checked};

mod confidence;
pub(crate) use confidence::{
    ConfidenceParams, ConfidenceValidParams, Interval, bootstrap_precision_at_cutoffs,
    bootstrap_precision_recall, group_ids,
};

/// A precision-recall curve in scikit-learn's layout.
///
/// `thresholds` are the distinct scores in increasing order; `precision[i]` and
/// `recall[i]` are measured when every row with `score >= thresholds[i]` is called
/// positive. The last point (`precision = 1`, `recall = 0`) closes the curve and has
/// no threshold, so `precision` and `recall` are one longer than `thresholds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrCurve {
    pub(crate) precision: Vec<f64>,
    pub(crate) recall: Vec<f64>,
    pub thresholds: Vec<f64>,
}

impl PrCurve {
    /// The points that have a threshold, as `(threshold, precision, recall)` in
    /// increasing threshold order (the rows of `pr_curve_points.csv`).
    fn points(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        self.thresholds
            .iter()
            .zip(&self.precision)
            .zip(&self.recall)
            .map(|((&t, &p), &r)| (t, p, r))
    }

    /// Refuses a curve whose lengths do not fit together (a curve read back from a
    /// file, or built by hand).
    fn check_shape(&self) -> Result<()> {
        let n = self.thresholds.len();
        if n == 0 || self.precision.len() != n + 1 || self.recall.len() != n + 1 {
            return Err(Error::params(
                "curve",
                "at least one threshold and precision/recall one longer than thresholds",
                format!(
                    "{} thresholds, {} precisions, {} recalls",
                    n,
                    self.precision.len(),
                    self.recall.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Checks labels, scores and weights; returns the number of rows.
///
/// Labels must be exactly 0 or 1; scores finite (scikit-learn refuses NaN and
/// infinity too); weights finite and non-negative (a negative weight would make
/// precision leave [0, 1]).
fn check_inputs(y: &[f64], score: &[f64], weight: Option<&[f64]>) -> Result<usize> {
    let n = y.len();
    if score.len() != n {
        return Err(Error::params(
            "score",
            format!("one score per label ({n})"),
            score.len(),
        ));
    }
    if let Some(w) = weight
        && w.len() != n
    {
        return Err(Error::params(
            "weight",
            format!("one weight per label ({n})"),
            w.len(),
        ));
    }
    if let Some(v) = y.iter().find(|&&v| v != 0.0 && v != 1.0) {
        return Err(Error::params("y", "labels 0 or 1", v));
    }
    if let Some(v) = score.iter().find(|v| !v.is_finite()) {
        return Err(Error::data(
            format!("a model score is not finite ({v})"),
            "check the features fed to the model for NaN or infinite values",
        ));
    }
    if let Some(v) = weight.and_then(|w| w.iter().find(|&&v| !(v.is_finite() && v >= 0.0))) {
        return Err(Error::params("weight", "finite, non-negative weights", v));
    }
    Ok(n)
}

/// Orders scores from high to low the way scikit-learn does: a stable sort, so rows
/// with equal scores keep their input order (this fixes the order of the cumulative
/// sums, hence their rounding). `-0.0` and `0.0` compare equal, as in NumPy.
fn descending(score: f64, other: f64) -> Ordering {
    other.partial_cmp(&score).unwrap_or(Ordering::Equal)
}

/// Precision-recall curve with scikit-learn's exact semantics.
///
/// Source: `sklearn/metrics/_ranking.py`, `confusion_matrix_at_thresholds` and
/// `precision_recall_curve(drop_intermediate=False)`:
/// rows with zero weight are dropped; the rest are sorted by score, descending
/// (stable); at the last row of each run of equal scores,
/// `tp = cumsum(y * w)`, `fp = cumsum((1 - y) * w)` (without weights
/// `fp = 1 + index - tp`, as scikit-learn computes it), `precision = tp / (tp + fp)`,
/// `recall = tp / tp_total`; the arrays are then reversed (increasing threshold) and
/// closed with `(precision 1, recall 0)`. Tied scores always move together.
///
/// Without any positive weight recall is 0/0. scikit-learn warns and reports recall 1
/// everywhere; here it is an [`Error::Data`], because a cutoff chosen on such a curve
/// would be meaningless.
pub fn precision_recall_curve(y: &[f64], score: &[f64], weight: Option<&[f64]>) -> Result<PrCurve> {
    let (tps, fps, mut thresholds) = counts_at_thresholds(y, score, weight, true)?;
    let n = tps.len();
    let total_tp = tps[n - 1];
    let mut precision = Vec::with_capacity(n + 1);
    let mut recall = Vec::with_capacity(n + 1);
    for k in (0..n).rev() {
        precision.push(curve_precision(tps[k], fps[k]));
        recall.push(tps[k] / total_tp);
    }
    precision.push(1.0);
    recall.push(0.0);
    thresholds.reverse();
    Ok(PrCurve {
        precision,
        recall,
        thresholds,
    })
}

/// A curve point's precision `tp / (tp + fp)`, 0 where nothing is selected
/// (scikit-learn's `precision_recall_curve` convention).
fn curve_precision(tp: f64, fp: f64) -> f64 {
    let ps = tp + fp;
    if ps != 0.0 { tp / ps } else { 0.0 }
}

/// The cumulative weighted true and false positives at the last row of each run of
/// equal scores, highest score first (`tps`, `fps`), with each run's score when
/// `with_thresholds`; the first half of [`precision_recall_curve`]. Refuses rows
/// without positive weight. The vectors hold one value per distinct score, counted
/// before they are allocated (no doubling slack: over every training row, as the
/// out-of-fold average precision reads them, they weigh beside the matrix).
fn counts_at_thresholds(
    y: &[f64],
    score: &[f64],
    weight: Option<&[f64]>,
    with_thresholds: bool,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    check_inputs(y, score, weight)?;
    let w = |i: usize| weight.map_or(1.0, |w| w[i]);

    // Zero-weight rows cannot affect the curve, and sklearn drops them before the
    // thresholds are taken, so a score held only by such rows is not a threshold.
    let mut order: Vec<usize> = (0..y.len()).filter(|&i| w(i) != 0.0).collect();
    order.sort_by(|&a, &b| descending(score[a], score[b]));
    let ends = |k: usize, i: usize| order.get(k + 1).is_none_or(|&j| score[j] != score[i]);
    let distinct = order
        .iter()
        .enumerate()
        .filter(|&(k, &i)| ends(k, i))
        .count();

    let mut tps = Vec::with_capacity(distinct);
    let mut fps = Vec::with_capacity(distinct);
    let mut thresholds = Vec::with_capacity(if with_thresholds { distinct } else { 0 });
    let (mut tp, mut fp) = (0.0_f64, 0.0_f64);
    for (k, &i) in order.iter().enumerate() {
        tp += y[i] * w(i);
        if weight.is_some() {
            fp += (1.0 - y[i]) * w(i);
        }
        if ends(k, i) {
            tps.push(tp);
            // Without weights sklearn derives fp from the index; same value, but kept
            // literally so the two code paths stay bit-identical to sklearn's.
            fps.push(if weight.is_some() {
                fp
            } else {
                1.0 + k as f64 - tp
            });
            if with_thresholds {
                thresholds.push(score[i]);
            }
        }
    }

    let total_tp = tps.last().copied().unwrap_or(0.0);
    if total_tp <= 0.0 {
        return Err(Error::data(
            format!(
                "the precision-recall curve needs at least one positive row with non-zero weight; found none among {} rows",
                y.len()
            ),
            "evaluate on a window (or fold) that contains escalations",
        ));
    }
    Ok((tps, fps, thresholds))
}

/// Average precision, as scikit-learn's `average_precision_score`:
/// `AP = sum_n (R_n - R_{n-1}) P_n`, computed on the curve above as
/// `max(0, -sum(diff(recall) * precision[:-1]))` (the step-function integral, not the
/// trapezoid; source `sklearn/metrics/_ranking.py`,
/// `_binary_uninterpolated_average_precision`). The sum uses NumPy's pairwise
/// summation ([`numpy_sum`]), so the result is scikit-learn's to the bit (checked by
/// the fixtures).
///
/// Errors as [`precision_recall_curve`] (no positive: [`Error::Data`]; scikit-learn
/// would warn and return 0).
///
/// The curve is not built: each term is computed from the counts and written over
/// them, so the memory is two values per distinct score, not five (the out-of-fold
/// average precision reads every training row, beside the matrix; issue 17). The
/// terms are the curve's, in its order, so the sum is [`average_precision_of`]'s.
pub(crate) fn average_precision(y: &[f64], score: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    let (tps, mut fps, _) = counts_at_thresholds(y, score, weight, false)?;
    let n = tps.len();
    let total_tp = tps[n - 1];
    // The curve's point j (increasing threshold) is count n - 1 - j; point n closes
    // it with recall 0. Term j = (recall[j + 1] - recall[j]) * precision[j] reads
    // counts n - 1 - j and n - 2 - j, and is written at n - 1 - j, which no later
    // term reads (j rises, so n - 2 - j falls below it).
    let recall = |k: usize| tps[k] / total_tp;
    for j in 0..n {
        let k = n - 1 - j;
        let precision = curve_precision(tps[k], fps[k]);
        let next = if j + 1 < n { recall(k - 1) } else { 0.0 };
        fps[k] = (next - recall(k)) * precision;
    }
    fps.reverse();
    let ap = -numpy_sum(&fps);
    // sklearn clips rounding noise such as -0.0 to 0.
    Ok(if ap > 0.0 { ap } else { 0.0 })
}

/// Average precision of an already computed curve (see [`average_precision`]).
pub fn average_precision_of(curve: &PrCurve) -> f64 {
    let terms: Vec<f64> = curve
        .recall
        .windows(2)
        .zip(&curve.precision)
        .map(|(r, &p)| (r[1] - r[0]) * p)
        .collect();
    let ap = -numpy_sum(&terms);
    // sklearn clips rounding noise such as -0.0 to 0.
    if ap > 0.0 { ap } else { 0.0 }
}

/// NumPy's pairwise summation; it lives in [`crate::numeric`] (re-exported here for
/// the callers that import it from `threshold`).
pub(crate) use crate::numeric::numpy_sum;

/// The cutoff rule: a precision floor and an optional cap on the outreach volume
/// (unchecked; [`ParamGuard::check`] gives the [`ValidThresholdRule`] that selects).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRule {
    /// Minimum precision a cutoff must reach, in (0, 1].
    pub target_precision: f64,
    /// At most this many rows are contacted (at least 1); `None` for no cap.
    pub cap: Option<usize>,
}

/// What the rule found on a curve.
///
/// Infeasible is a normal outcome, not an error: the run reports it and writes an
/// empty outreach list.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ThresholdChoice {
    /// The cutoff with the highest recall among those with precision >= the floor.
    Feasible {
        threshold: f64,
        precision: f64,
        recall: f64,
        /// The lower confidence bound of `precision` that met the floor (equal to
        /// `precision` when the rule was applied to point estimates).
        precision_lower: f64,
    },
    /// No cutoff reaches the floor; `best_precision` is the highest precision any
    /// cutoff reaches and `best_precision_lower` the highest lower bound, to tell
    /// how far off the floor is.
    Infeasible {
        best_precision: f64,
        best_precision_lower: f64,
    },
}

impl ThresholdChoice {
    /// The chosen cutoff, if any.
    pub fn threshold(&self) -> Option<f64> {
        match *self {
            ThresholdChoice::Feasible { threshold, .. } => Some(threshold),
            ThresholdChoice::Infeasible { .. } => None,
        }
    }
}

/// A checked [`ThresholdRule`].
pub(crate) type ValidThresholdRule = Valid<ThresholdRule>;

impl ParamGuard for ThresholdRule {
    type Checked = ValidThresholdRule;

    /// Refuses a floor outside (0, 1] (0 would accept every cutoff, above 1 none) and a
    /// cap of 0 (use no outreach run instead).
    fn check_ref(&self) -> Result<()> {
        let p = self.target_precision;
        if !(p.is_finite() && p > 0.0 && p <= 1.0) {
            return Err(Error::params("target_precision", "a number in (0, 1]", p));
        }
        check_cap(self.cap)
    }

    fn check(self) -> Result<ValidThresholdRule> {
        checked(self)
    }
}

impl ValidThresholdRule {
    /// Picks the cutoff on `curve`.
    ///
    /// Among the points that have a threshold and `precision >= target_precision`
    /// (compared exactly: a precision of 2/5 equals the floor 0.4, since IEEE division
    /// is correctly rounded), the one with the highest recall; on equal recall the
    /// higher precision, then the higher threshold (for the same recall, contact fewer
    /// people). The closing point (precision 1, recall 0) is not a cutoff.
    pub fn select(&self, curve: &PrCurve) -> Result<ThresholdChoice> {
        curve.check_shape()?;
        let best = curve
            .points()
            .filter(|&(_, p, _)| p >= self.target_precision)
            .max_by(|a, b| {
                a.2.total_cmp(&b.2)
                    .then(a.1.total_cmp(&b.1))
                    .then(a.0.total_cmp(&b.0))
            });
        Ok(match best {
            Some((threshold, precision, recall)) => ThresholdChoice::Feasible {
                threshold,
                precision,
                recall,
                precision_lower: precision,
            },
            None => {
                let best = curve
                    .points()
                    .map(|(_, p, _)| p)
                    .fold(f64::NEG_INFINITY, f64::max);
                ThresholdChoice::Infeasible {
                    best_precision: best,
                    best_precision_lower: best,
                }
            }
        })
    }
}

// ---- calibration report ----------------------------------------------------------

/// One score bin of a reliability table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CalibrationBin {
    /// 1 = lowest scores.
    pub(crate) bin: usize,
    pub(crate) rows: usize,
    pub(crate) min_score: f64,
    pub(crate) max_score: f64,
    pub(crate) mean_score: f64,
    pub(crate) observed_rate: f64,
}

/// Reliability table: rows ordered by score (ascending; ties by input order) and
/// cut into `bins` groups of as equal size as possible (quantile bins, as
/// scikit-learn's `calibration_curve(strategy="quantile")` intends, but never
/// splitting a count unevenly by more than one row); per bin the mean score and the
/// observed positive rate. Empty bins (fewer rows than bins) are left out.
pub(crate) fn calibration_bins(
    y: &[f64],
    score: &[f64],
    bins: usize,
) -> Result<Vec<CalibrationBin>> {
    check_inputs(y, score, None)?;
    if bins == 0 {
        return Err(Error::params("bins", "at least 1", 0));
    }
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let n = order.len();
    let mut out = Vec::with_capacity(bins);
    for b in 0..bins {
        let (lo, hi) = (b * n / bins, (b + 1) * n / bins);
        if hi <= lo {
            continue;
        }
        let part = &order[lo..hi];
        let k = part.len() as f64;
        out.push(CalibrationBin {
            bin: b + 1,
            rows: part.len(),
            min_score: score[part[0]],
            max_score: score[part[part.len() - 1]],
            mean_score: part.iter().map(|&i| score[i]).sum::<f64>() / k,
            observed_rate: part.iter().map(|&i| y[i]).sum::<f64>() / k,
        });
    }
    Ok(out)
}

/// Expected calibration error of a reliability table:
/// `sum_bins rows / N * |mean_score - observed_rate|` (Naeini, Cooper & Hauskrecht
/// 2015, "Obtaining Well Calibrated Probabilities Using Bayesian Binning").
pub(crate) fn expected_calibration_error(bins: &[CalibrationBin]) -> f64 {
    let n: usize = bins.iter().map(|b| b.rows).sum();
    bins.iter()
        .map(|b| b.rows as f64 / n.max(1) as f64 * (b.mean_score - b.observed_rate).abs())
        .sum()
}

fn check_cap(cap: Option<usize>) -> Result<()> {
    if cap == Some(0) {
        return Err(Error::params("cap", "at least 1 row, or no cap", 0));
    }
    Ok(())
}

/// The rows to contact after the cutoff and the cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CapResult {
    /// Row indices, by score descending, ties by key ascending (then by index).
    pub(crate) selected: Vec<usize>,
    /// The lowest kept score when the cap cut the list, else the threshold itself.
    pub(crate) effective_cutoff: f64,
    /// True when more rows passed the threshold than the cap allows.
    capped: bool,
}

/// The `n` highest-scoring rows in [`apply_cap`]'s order (score descending, key
/// ascending): a top-K list with no cutoff. Empty when `n` is 0 or there are no rows.
pub(crate) fn top_n<K: Ord>(scores: &[f64], keys: &[K], n: usize) -> Result<Vec<usize>> {
    if n == 0 || scores.is_empty() {
        return Ok(Vec::new());
    }
    let lowest = scores.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(apply_cap(scores, keys, lowest, Some(n))?.selected)
}

/// Applies a cutoff and an optional cap.
///
/// Rows with `score >= threshold` pass. When more than `cap` pass, the first `cap` in
/// the order (score descending, key ascending, row index ascending) are kept, so a cap
/// that falls inside a run of tied scores keeps exactly `cap` rows, chosen by key,
/// reproducibly across runs. `keys` are stable row identifiers (interaction ids).
pub(crate) fn apply_cap<K: Ord>(
    scores: &[f64],
    keys: &[K],
    threshold: f64,
    cap: Option<usize>,
) -> Result<CapResult> {
    if keys.len() != scores.len() {
        return Err(Error::params(
            "keys",
            format!("one key per score ({})", scores.len()),
            keys.len(),
        ));
    }
    if !threshold.is_finite() {
        return Err(Error::params("threshold", "a finite cutoff", threshold));
    }
    check_cap(cap)?;
    if let Some(v) = scores.iter().find(|v| !v.is_finite()) {
        return Err(Error::data(
            format!("a model score is not finite ({v})"),
            "check the features fed to the model for NaN or infinite values",
        ));
    }

    let mut selected: Vec<usize> = (0..scores.len())
        .filter(|&i| scores[i] >= threshold)
        .collect();
    selected.sort_by(|&a, &b| {
        descending(scores[a], scores[b])
            .then_with(|| keys[a].cmp(&keys[b]))
            .then(a.cmp(&b))
    });
    let capped = cap.is_some_and(|c| selected.len() > c);
    let mut effective_cutoff = threshold;
    if let (true, Some(c)) = (capped, cap) {
        selected.truncate(c);
        effective_cutoff = selected.last().map_or(threshold, |&i| scores[i]);
    }
    Ok(CapResult {
        selected,
        effective_cutoff,
        capped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Floats are stored as strings in the fixtures, parsed exactly by `str::parse`.
    fn floats(v: &Value, key: &str) -> Vec<f64> {
        v[key]
            .as_array()
            .unwrap_or_else(|| panic!("fixture key {key}"))
            .iter()
            .map(|s| s.as_str().unwrap().parse().unwrap())
            .collect()
    }

    fn check_fixture(text: &str) -> f64 {
        let fx: Value = serde_json::from_str(text).unwrap();
        let y: Vec<f64> = fx["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let score = floats(&fx, "score");
        let weight = (!fx["weight"].is_null()).then(|| floats(&fx, "weight"));
        let curve = precision_recall_curve(&y, &score, weight.as_deref()).unwrap();
        // Curve: bit-identical to sklearn.
        assert_eq!(curve.thresholds, floats(&fx, "thresholds"));
        assert_eq!(curve.precision, floats(&fx, "precision"));
        assert_eq!(curve.recall, floats(&fx, "recall"));
        let ap = average_precision(&y, &score, weight.as_deref()).unwrap();
        let want: f64 = fx["average_precision"].as_str().unwrap().parse().unwrap();
        // Same terms, same pairwise order: bit-identical too.
        assert_eq!(ap, want, "AP vs sklearn");
        (ap - want).abs()
    }

    #[test]
    fn sklearn_fixtures_agree() {
        let mut max_err = 0.0_f64;
        for text in [
            include_str!("../../tests/data/sklearn/threshold_ties.json"),
            include_str!("../../tests/data/sklearn/threshold_ties_weighted.json"),
            include_str!("../../tests/data/sklearn/threshold_rare_weighted.json"),
            include_str!("../../tests/data/sklearn/threshold_small.json"),
        ] {
            max_err = max_err.max(check_fixture(text));
        }
        println!("max |AP - sklearn| = {max_err:e}");
    }

    #[test]
    fn average_precision_without_the_curve_is_the_curves_to_the_bit() {
        // Scores on a coarse grid (ties), weights with zeros, one score for all.
        let mut state = 0x5EEDu64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for (n, levels) in [
            (1usize, 3.0),
            (7, 2.0),
            (500, 20.0),
            (5_000, 1e6),
            (50, 1.0),
        ] {
            let s: Vec<f64> = (0..n).map(|_| (next() * levels).floor() / levels).collect();
            let y: Vec<f64> = s
                .iter()
                .enumerate()
                .map(|(i, &v)| f64::from(i == 0 || next() < 0.2 + 0.5 * v))
                .collect();
            let w: Vec<f64> = (0..n)
                .map(|i| {
                    if i > 0 && next() < 0.1 {
                        0.0
                    } else {
                        1.0 + next() * 9.0
                    }
                })
                .collect();
            for weight in [None, Some(w.as_slice())] {
                let curve = precision_recall_curve(&y, &s, weight).unwrap();
                assert_eq!(
                    average_precision(&y, &s, weight).unwrap().to_bits(),
                    average_precision_of(&curve).to_bits(),
                    "{n} rows, {levels} levels, weighted {}",
                    weight.is_some()
                );
            }
        }
    }

    #[test]
    fn ties_move_together() {
        let y = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        let s = [0.9, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.1];
        let c = precision_recall_curve(&y, &s, None).unwrap();
        assert_eq!(c.thresholds, vec![0.1, 0.2, 0.4, 0.8, 0.9]);
        // At 0.4: rows >= 0.4 are six, three positive.
        assert_eq!(c.precision, vec![0.5, 4.0 / 7.0, 0.5, 2.0 / 3.0, 1.0, 1.0]);
        assert_eq!(c.recall, vec![1.0, 1.0, 0.75, 0.5, 0.25, 0.0]);
        // AP = 0.25*1 + 0.25*2/3 + 0.25*0.5 + 0.25*4/7.
        let ap = average_precision(&y, &s, None).unwrap();
        let want = 0.25 * (1.0 + 2.0 / 3.0 + 0.5 + 4.0 / 7.0);
        assert!((ap - want).abs() < 1e-15);
    }

    #[test]
    fn weights_scale_negatives_and_zero_weights_vanish() {
        // A negative with weight 3 counts as three negatives; the zero-weight row's
        // score 0.5 is not a threshold.
        let y = [1.0, 0.0, 0.0, 1.0];
        let s = [0.9, 0.7, 0.5, 0.3];
        let w = [1.0, 3.0, 0.0, 1.0];
        let c = precision_recall_curve(&y, &s, Some(&w)).unwrap();
        assert_eq!(c.thresholds, vec![0.3, 0.7, 0.9]);
        assert_eq!(c.precision, vec![0.4, 0.25, 1.0, 1.0]);
        assert_eq!(c.recall, vec![1.0, 0.5, 0.5, 0.0]);
    }

    #[test]
    fn all_negative_is_a_data_error() {
        let err = precision_recall_curve(&[0.0, 0.0], &[0.2, 0.3], None).unwrap_err();
        assert!(matches!(err, Error::Data { .. }), "{err}");
        assert!(average_precision(&[0.0, 0.0], &[0.2, 0.3], None).is_err());
        // A positive whose only weight is zero does not count either.
        let err = precision_recall_curve(&[1.0, 0.0], &[0.2, 0.3], Some(&[0.0, 1.0])).unwrap_err();
        assert!(matches!(err, Error::Data { .. }), "{err}");
        assert!(precision_recall_curve(&[], &[], None).is_err());
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert!(matches!(
            precision_recall_curve(&[1.0, 2.0], &[0.1, 0.2], None),
            Err(Error::Params { .. })
        ));
        assert!(matches!(
            precision_recall_curve(&[1.0], &[0.1, 0.2], None),
            Err(Error::Params { .. })
        ));
        assert!(matches!(
            precision_recall_curve(&[1.0, 0.0], &[0.1, f64::NAN], None),
            Err(Error::Data { .. })
        ));
        assert!(matches!(
            precision_recall_curve(&[1.0, 0.0], &[0.1, 0.2], Some(&[1.0, -1.0])),
            Err(Error::Params { .. })
        ));
    }

    pub(super) fn rule(p: f64) -> ValidThresholdRule {
        ThresholdRule {
            target_precision: p,
            cap: None,
        }
        .check()
        .unwrap()
    }

    #[test]
    fn floor_picks_highest_recall() {
        let y = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        let s = [0.9, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.1];
        let c = precision_recall_curve(&y, &s, None).unwrap();
        // Precision >= 0.5 at every threshold; recall 1 at 0.1 (p 0.5) and 0.2
        // (p 4/7): equal recall, so the higher precision, 0.2.
        assert_eq!(
            rule(0.5).select(&c).unwrap(),
            ThresholdChoice::Feasible {
                threshold: 0.2,
                precision: 4.0 / 7.0,
                recall: 1.0,
                precision_lower: 4.0 / 7.0,
            }
        );
        // Floor 0.6: only 0.8 (2/3) and 0.9 (1) qualify; 0.8 has the higher recall.
        assert_eq!(rule(0.6).select(&c).unwrap().threshold(), Some(0.8));
    }

    #[test]
    fn floor_met_only_at_the_top() {
        let y = [1.0, 0.0, 0.0, 1.0, 0.0];
        let s = [0.95, 0.9, 0.6, 0.5, 0.1];
        let c = precision_recall_curve(&y, &s, None).unwrap();
        assert_eq!(
            rule(1.0).select(&c).unwrap(),
            ThresholdChoice::Feasible {
                threshold: 0.95,
                precision: 1.0,
                recall: 0.5,
                precision_lower: 1.0,
            }
        );
    }

    #[test]
    fn floor_never_met_is_infeasible_not_an_error() {
        let y = [0.0, 1.0, 0.0, 0.0];
        let s = [0.9, 0.8, 0.7, 0.1];
        let c = precision_recall_curve(&y, &s, None).unwrap();
        assert_eq!(
            rule(0.6).select(&c).unwrap(),
            ThresholdChoice::Infeasible {
                best_precision: 0.5,
                best_precision_lower: 0.5,
            }
        );
        assert_eq!(rule(0.6).select(&c).unwrap().threshold(), None);
    }

    #[test]
    fn equal_recall_and_precision_prefers_higher_threshold() {
        let c = PrCurve {
            precision: vec![0.5, 0.5, 1.0],
            recall: vec![1.0, 1.0, 0.0],
            thresholds: vec![0.2, 0.3],
        };
        assert_eq!(rule(0.5).select(&c).unwrap().threshold(), Some(0.3));
    }

    #[test]
    fn rule_and_confidence_out_of_range_name_the_parameter() {
        let ok = ThresholdRule {
            target_precision: 0.4,
            cap: None,
        };
        let mut rules = Vec::new();
        for p in [0.0, -0.1, 1.01, f64::NAN] {
            let r = ThresholdRule {
                target_precision: p,
                ..ok
            };
            rules.push((r, "target_precision"));
        }
        rules.push((ThresholdRule { cap: Some(0), ..ok }, "cap"));
        for (r, name) in rules {
            let e = r.check().unwrap_err();
            assert_eq!(crate::params::param_name(&e), Some(name), "{r:?}: {e}");
        }
        let ok = ConfidenceParams {
            level: 0.9,
            rounds: 400,
        };
        for (c, name) in [
            (ConfidenceParams { level: 1.0, ..ok }, "level"),
            (ConfidenceParams { level: 0.4, ..ok }, "level"),
            (ConfidenceParams { rounds: 49, ..ok }, "rounds"),
            (
                ConfidenceParams {
                    rounds: 100_001,
                    ..ok
                },
                "rounds",
            ),
        ] {
            let e = c.check().unwrap_err();
            assert_eq!(crate::params::param_name(&e), Some(name), "{c:?}: {e}");
        }
    }

    #[test]
    fn select_refuses_a_malformed_curve() {
        let bad = PrCurve {
            precision: vec![1.0],
            recall: vec![0.0],
            thresholds: vec![],
        };
        assert!(rule(0.4).select(&bad).is_err());
    }

    #[test]
    fn cap_cuts_inside_a_tie_by_key() {
        let scores = [0.5, 0.9, 0.7, 0.7, 0.7, 0.2];
        let keys = [10_u64, 20, 33, 31, 32, 40];
        let r = apply_cap(&scores, &keys, 0.5, Some(3)).unwrap();
        // 0.9 first, then two of the three 0.7 rows: keys 31 and 32.
        assert_eq!(r.selected, vec![1, 3, 4]);
        assert_eq!(r.effective_cutoff, 0.7);
        assert!(r.capped);

        let r = apply_cap(&scores, &keys, 0.5, None).unwrap();
        assert_eq!(r.selected, vec![1, 3, 4, 2, 0]);
        assert_eq!(r.effective_cutoff, 0.5);
        assert!(!r.capped);

        // A cap that is not reached changes nothing.
        let r = apply_cap(&scores, &keys, 0.5, Some(5)).unwrap();
        assert_eq!(r.selected.len(), 5);
        assert!(!r.capped);
    }

    #[test]
    fn cap_with_string_keys_and_nothing_passing() {
        let scores = [0.3, 0.3];
        let keys = ["b", "a"];
        let r = apply_cap(&scores, &keys, 0.3, Some(1)).unwrap();
        assert_eq!(r.selected, vec![1]);
        let r = apply_cap(&scores, &keys, 0.8, Some(1)).unwrap();
        assert!(r.selected.is_empty());
        assert_eq!(r.effective_cutoff, 0.8);
        assert!(!r.capped);
        assert!(apply_cap(&scores, &keys[..1], 0.3, None).is_err());
        assert!(apply_cap(&scores, &keys, f64::NAN, None).is_err());
        assert!(apply_cap(&scores, &keys, 0.3, Some(0)).is_err());
    }

    #[test]
    fn choice_serializes_with_a_status_tag() {
        let c = ThresholdChoice::Infeasible {
            best_precision: 0.25,
            best_precision_lower: 0.125,
        };
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(
            s,
            r#"{"status":"infeasible","best_precision":0.25,"best_precision_lower":0.125}"#
        );
        let back: ThresholdChoice = serde_json::from_str(&s).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn calibration_bins_split_by_rank() {
        let y = [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let s = [0.1, 0.2, 0.9, 0.3, 0.8, 0.7, 0.05];
        let b = calibration_bins(&y, &s, 3).unwrap();
        // 7 rows in 3 bins: 2, 2, 3 rows (0..2, 2..4, 4..7 of the ranks).
        assert_eq!(b.iter().map(|b| b.rows).collect::<Vec<_>>(), vec![2, 2, 3]);
        assert_eq!(b[0].observed_rate, 0.0);
        assert!((b[0].mean_score - 0.075).abs() < 1e-15);
        assert_eq!(b[2].observed_rate, 1.0);
        assert!((b[2].mean_score - 0.8).abs() < 1e-12);
        let ece = expected_calibration_error(&b);
        let want = 2.0 / 7.0 * 0.075 + 2.0 / 7.0 * 0.25 + 3.0 / 7.0 * 0.2;
        assert!((ece - want).abs() < 1e-12, "{ece} {want}");
    }
}
