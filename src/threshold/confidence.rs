//! Confidence for the operating point: the member-level Poisson bootstrap behind the
//! lower precision bound that picks the cutoff (`select_with_confidence`) and the
//! intervals reported for precision and recall (`bootstrap_precision_recall`).
//!
//! Its own file because the bootstrap is a method of its own (resampling members, not
//! rows) with its own parameters; the curve and the rule it reads are in the parent.
//! Pure and synchronous; the replicates come from a seeded SplitMix64 stream.

use serde::{Deserialize, Serialize};

use super::{ThresholdChoice, ValidThresholdRule, check_inputs, descending};
use crate::error::{Error, Result};
use crate::params::{ParamGuard, Valid, checked};

// ---- confidence ----------------------------------------------------------------------

/// Widening of the bootstrap deviation that turns a confidence bound for the
/// validation slice's precision into a prediction bound for the precision the next
/// window realizes: that window has sampling noise of its own, about as large as the
/// slice's when it is about as long, so the difference between the two has twice the
/// variance (the prediction interval for a new sample's mean). Measured without it
/// on 9 demo seeds: the realized test precision fell below floor - 0.02 in 2.
const PREDICTION_WIDENING: f64 = std::f64::consts::SQRT_2;

/// Positive rows a cutoff must contact before its bootstrap bound can start the
/// search for the operating point: above the first few rows every replicate can be
/// all positive, and the bound says 1.0 on no evidence.
const MIN_SUPPORT: usize = 10;

/// How sure the operating point must be, and how the uncertainty is measured.
///
/// The uncertainty is a member-level Poisson bootstrap (Hanley & MacGibbon 2006,
/// "Creating non-parametric bootstrap samples using Poisson frequencies"; Owen &
/// Eckles 2012 for clustered data): every member gets a Poisson(1) multiplicity per
/// replicate and all its rows share it. Chosen over Wilson or Clopper-Pearson because
/// the rows are neither independent (a member's interactions move together) nor
/// equally weighted (sampled-out negatives carry their inverse sampling rate), and a
/// binomial interval on weighted counts has to guess an effective sample size; the
/// bootstrap resamples exactly what varies from one window of members to the next.
///
/// Unchecked; [`ParamGuard::check`] gives [`ConfidenceValidParams`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConfidenceParams {
    /// One-sided confidence of the lower bound of precision, in [0.5, 1); also the
    /// two-sided level of reported intervals.
    pub(crate) level: f64,
    /// Bootstrap replicates, 50 to 100000.
    pub(crate) rounds: usize,
}

/// Checked [`ConfidenceParams`].
pub(crate) type ConfidenceValidParams = Valid<ConfidenceParams>;

impl ParamGuard for ConfidenceParams {
    type Checked = ConfidenceValidParams;

    /// Refuses a level outside [0.5, 1) and replicates outside 50 to 100000.
    fn check_ref(&self) -> Result<()> {
        if !(self.level.is_finite() && (0.5..1.0).contains(&self.level)) {
            return Err(Error::params("level", "a number in [0.5, 1)", self.level));
        }
        if !(50..=100_000).contains(&self.rounds) {
            return Err(Error::params(
                "rounds",
                "a whole number from 50 to 100000",
                self.rounds,
            ));
        }
        Ok(())
    }

    fn check(self) -> Result<ConfidenceValidParams> {
        checked(self)
    }
}

/// A two-sided interval with its point estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Interval {
    estimate: f64,
    pub(crate) lower: f64,
    pub(crate) upper: f64,
    /// Two-sided coverage the bounds aim at.
    pub(crate) level: f64,
}

/// SplitMix64's increment of its state at each step.
const SPLITMIX_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64 step: a fixed, dependency-free stream for the bootstrap (Steele, Lea &
/// Flood 2014, "Fast splittable pseudorandom number generators"). A counter: the
/// state after `k` steps is `state_0 + k * SPLITMIX_GAMMA` (wrapping), which is what
/// lets [`Draws`] read the stream at any position.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(SPLITMIX_GAMMA);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A Poisson(1) draw by inversion of its CDF `sum_{j<=k} e^-1 / j!` from a uniform
/// `u` in [0, 1): the first `k` with `u < cdf(k)`. Capped at 20 (probability below
/// 1e-19). The CDF is summed once ([`poisson1_cdf`]), in the order a draw by draw sum
/// would take, so the draws are the same bits.
fn poisson1(u: f64) -> u8 {
    let cdf = poisson1_cdf();
    let mut k = 0u8;
    while usize::from(k) < cdf.len() && u >= cdf[usize::from(k)] {
        k += 1;
    }
    k
}

/// `cdf[k] = sum_{j<=k} e^-1 / j!` for `k` in 0..20, each term the last divided by `k`.
fn poisson1_cdf() -> &'static [f64; 20] {
    static CDF: std::sync::OnceLock<[f64; 20]> = std::sync::OnceLock::new();
    CDF.get_or_init(|| {
        let mut out = [0.0; 20];
        let mut p = (-1.0f64).exp();
        let mut cdf = p;
        for (k, o) in out.iter_mut().enumerate() {
            if k > 0 {
                p /= k as f64;
                cdf += p;
            }
            *o = cdf;
        }
        out
    })
}

/// A uniform in [0, 1) from the top 53 bits of a SplitMix64 output.
fn uniform(z: u64) -> f64 {
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The seeded stream's state before its first draw.
fn stream_start(seed: u64) -> u64 {
    seed ^ 0x005E_ED0F_B007
}

/// Bootstrap multiplicities: `rounds x n_groups` Poisson(1) draws, seeded, replicate
/// after replicate (the draws of [`Replicates`], held at once): what [`Draws`] reads
/// without holding it.
#[cfg(test)]
fn multiplicities(n_groups: usize, rounds: usize, seed: u64) -> Vec<u8> {
    let mut reps = Replicates::new(n_groups, seed);
    let mut out = Vec::with_capacity(n_groups * rounds);
    for _ in 0..rounds {
        out.extend_from_slice(reps.next_replicate());
    }
    out
}

/// The same draws as [`multiplicities`], one replicate at a time. Why: a test window
/// can hold a million members, and `rounds x n_groups` bytes at once (1 GB at 1,000
/// rounds) would outgrow the training matrix; one replicate is `n_groups` bytes.
struct Replicates {
    state: u64,
    buf: Vec<u8>,
}

impl Replicates {
    fn new(n_groups: usize, seed: u64) -> Self {
        Replicates {
            state: stream_start(seed),
            buf: vec![0; n_groups],
        }
    }

    /// The next replicate's multiplicity of every group.
    fn next_replicate(&mut self) -> &[u8] {
        for m in &mut self.buf {
            *m = poisson1(uniform(splitmix(&mut self.state)));
        }
        &self.buf
    }
}

/// The same draws as [`multiplicities`], read by position: replicate `r`'s
/// multiplicity of group `g` is the stream's draw number `r * n_groups + g`, whose
/// state is `start + (r * n_groups + g) * SPLITMIX_GAMMA` ([`splitmix`] is a
/// counter). Why: the operating point walks the rows by score and needs every
/// replicate's multiplicity of each row's member, and the table of them all weighed
/// 140 MiB at 1M members (400 rounds of a 370k-member validation slice), beside the
/// training matrix (issue 17). Each row's draws are computed when the row is reached
/// instead; a member with several rows draws them again, the same.
struct Draws {
    start: u64,
    n_groups: usize,
}

impl Draws {
    fn new(n_groups: usize, seed: u64) -> Self {
        Draws {
            start: stream_start(seed),
            n_groups,
        }
    }

    /// `out[r]` = replicate `r`'s multiplicity of group `g`, for `r` in `0..out.len()`.
    fn of_group(&self, g: usize, out: &mut [f64]) {
        let stride = (self.n_groups as u64).wrapping_mul(SPLITMIX_GAMMA);
        let mut state = self
            .start
            .wrapping_add((g as u64).wrapping_mul(SPLITMIX_GAMMA));
        for m in out {
            let mut s = state;
            *m = f64::from(poisson1(uniform(splitmix(&mut s))));
            state = state.wrapping_add(stride);
        }
    }
}

/// The `q`-quantile of `v` by the inverted empirical CDF (NumPy's
/// `method="inverted_cdf"`): the smallest value with at least `q` of the mass at or
/// below it. Reorders `v`.
fn quantile_inverted_cdf(v: &mut [f64], q: f64) -> f64 {
    let n = v.len();
    let k = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
    let (_, x, _) = v.select_nth_unstable_by(k, f64::total_cmp);
    *x
}

/// Dense group ids (0..n_groups) from any labels, in first-seen order.
pub(crate) fn group_ids<K: Ord + Clone>(keys: &[K]) -> (Vec<usize>, usize) {
    let mut map = std::collections::BTreeMap::new();
    let ids = keys
        .iter()
        .map(|k| {
            let next = map.len();
            *map.entry(k.clone()).or_insert(next)
        })
        .collect();
    (ids, map.len())
}

impl ValidThresholdRule {
    /// Picks the cutoff whose precision is met with confidence.
    ///
    /// For every distinct score (scikit-learn's curve points, rows weighted by
    /// `weight`), the precision of "contact every row scoring at least this" is
    /// computed on the data and on `conf.rounds` member-level Poisson bootstrap
    /// replicates (`groups[i]` is row `i`'s member, `0..n_groups`); its lower bound
    /// for the next window is `p - PREDICTION_WIDENING * (p - q)` with `q` the
    /// `1 - conf.level` quantile of the replicates (a replicate that selects no weight
    /// counts as precision 0; see [`PREDICTION_WIDENING`]). Starting at the first
    /// cutoff from the top that contacts at least [`MIN_SUPPORT`] positive rows and
    /// whose bound reaches `target_precision`, and going down the scores while the
    /// bound holds (the first crossing of the floor), the cutoff with
    /// the highest recall, then the higher precision, then the higher threshold, as
    /// [`Self::select`]. Deterministic for a given `seed`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn select_with_confidence(
        &self,
        y: &[f64],
        score: &[f64],
        weight: &[f64],
        groups: &[usize],
        n_groups: usize,
        conf: &ConfidenceValidParams,
        seed: u64,
    ) -> Result<ThresholdChoice> {
        check_inputs(y, score, Some(weight))?;
        check_groups(groups, n_groups, y.len())?;
        let rounds = conf.rounds;
        let draws = Draws::new(n_groups, seed);
        let mut mult = vec![0.0_f64; rounds];
        let mut order: Vec<usize> = (0..y.len()).filter(|&i| weight[i] != 0.0).collect();
        order.sort_by(|&a, &b| descending(score[a], score[b]));
        let total_tp: f64 = order.iter().map(|&i| y[i] * weight[i]).sum();
        if total_tp <= 0.0 {
            return Err(Error::data(
                format!(
                    "the threshold needs at least one positive row with non-zero weight; found none among {} rows",
                    y.len()
                ),
                "choose the threshold on a window that contains escalations (a longer model.validation_days)",
            ));
        }
        let (mut tp, mut fp) = (0.0_f64, 0.0_f64);
        let mut tp_r = vec![0.0_f64; rounds];
        let mut fp_r = vec![0.0_f64; rounds];
        let mut prec_r = vec![0.0_f64; rounds];
        // First crossing, not last: from the top, the first cutoff whose bound holds
        // (among those that contact at least MIN_SUPPORT positive rows, where a
        // bootstrap bound means something), then down the scores while it holds,
        // stopping where it first fails. A flat curve's noise can lift the bound above
        // the floor again further down, and choosing that last crossing is a
        // winner's curse (on 2 of 4 demo seeds it promised 0.40 and realized
        // 0.36-0.37, with the most recall).
        //
        // The cutoffs are walked once, highest first, without listing them (one per
        // distinct score: at 1M members the validation slice holds 870k rows, and a
        // list of them weighed 35 MiB beside the training matrix, issue 17); the walk
        // ends where the bound first fails after holding.
        let mut positives = 0usize;
        let (mut best_p, mut best_lower) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        // (threshold, precision, recall, lower bound) of the best cutoff of the run
        // where the bound holds, once that run has started.
        let mut best: Option<(f64, f64, f64, f64)> = None;
        for (k, &i) in order.iter().enumerate() {
            let (pos, neg) = (y[i] * weight[i], (1.0 - y[i]) * weight[i]);
            tp += pos;
            fp += neg;
            positives += usize::from(y[i] == 1.0);
            draws.of_group(groups[i], &mut mult);
            for ((m, tp), fp) in mult.iter().zip(&mut tp_r).zip(&mut fp_r) {
                *tp += m * pos;
                *fp += m * neg;
            }
            let group_ends = order.get(k + 1).is_none_or(|&j| score[j] != score[i]);
            if !group_ends {
                continue;
            }
            let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
            let recall = tp / total_tp;
            for r in 0..rounds {
                let d = tp_r[r] + fp_r[r];
                prec_r[r] = if d > 0.0 { tp_r[r] / d } else { 0.0 };
            }
            let q = quantile_inverted_cdf(&mut prec_r, 1.0 - conf.level);
            let lower = precision - PREDICTION_WIDENING * (precision - q);
            best_p = best_p.max(precision);
            best_lower = best_lower.max(lower);
            let pt = (score[i], precision, recall, lower);
            match best {
                None if positives >= MIN_SUPPORT && lower >= self.target_precision => {
                    best = Some(pt);
                }
                None => {}
                Some(_) if lower < self.target_precision => break,
                Some(b) => {
                    let better =
                        pt.2.total_cmp(&b.2)
                            .then(pt.1.total_cmp(&b.1))
                            .then(pt.0.total_cmp(&b.0))
                            .is_gt();
                    if better {
                        best = Some(pt);
                    }
                }
            }
        }
        Ok(match best {
            Some((threshold, precision, recall, precision_lower)) => ThresholdChoice::Feasible {
                threshold,
                precision,
                recall,
                precision_lower,
            },
            None => ThresholdChoice::Infeasible {
                best_precision: best_p,
                best_precision_lower: best_lower,
            },
        })
    }
}

fn check_groups(groups: &[usize], n_groups: usize, n: usize) -> Result<()> {
    if groups.len() != n {
        return Err(Error::params(
            "groups",
            format!("one group id per row ({n})"),
            groups.len(),
        ));
    }
    if let Some(g) = groups.iter().find(|&&g| g >= n_groups) {
        return Err(Error::params(
            "groups",
            format!("group ids in 0..{n_groups}"),
            g,
        ));
    }
    Ok(())
}

/// Precision and recall of a fixed selection with member-level bootstrap intervals.
///
/// `selected[i]` says whether row `i` is contacted; precision is
/// `sum(selected * y * w) / sum(selected * w)`, recall
/// `sum(selected * y * w) / sum(y * w)`. Each replicate re-weights every member by a
/// Poisson(1) multiplicity (see [`ConfidenceParams`]); the interval is the
/// `(1 - level) / 2` and `(1 + level) / 2` quantiles of the replicates (percentile
/// bootstrap). Replicates where a ratio is 0/0 are left out of that ratio. `None`
/// for precision when nothing is selected, for recall when there is no positive.
#[allow(clippy::too_many_arguments)]
pub(crate) fn bootstrap_precision_recall(
    y: &[f64],
    selected: &[bool],
    weight: &[f64],
    groups: &[usize],
    n_groups: usize,
    conf: &ConfidenceValidParams,
    seed: u64,
) -> Result<(Option<Interval>, Option<Interval>)> {
    let n = y.len();
    if selected.len() != n || weight.len() != n {
        return Err(Error::params(
            "selected",
            format!("one flag and one weight per row ({n})"),
            format!("{} flags, {} weights", selected.len(), weight.len()),
        ));
    }
    check_groups(groups, n_groups, n)?;
    // Per member: selected positives, selected weight, all positives.
    let mut per = vec![(0.0_f64, 0.0_f64, 0.0_f64); n_groups];
    for i in 0..n {
        let g = &mut per[groups[i]];
        let (yw, w) = (y[i] * weight[i], weight[i]);
        if selected[i] {
            g.0 += yw;
            g.1 += w;
        }
        g.2 += yw;
    }
    let sums = |m: &dyn Fn(usize) -> f64| {
        per.iter().enumerate().fold((0.0, 0.0, 0.0), |acc, (g, v)| {
            let k = m(g);
            (acc.0 + k * v.0, acc.1 + k * v.1, acc.2 + k * v.2)
        })
    };
    let (hits, sel, pos) = sums(&|_| 1.0);
    let mut reps = Replicates::new(n_groups, seed);
    let mut ps = Vec::with_capacity(conf.rounds);
    let mut rs = Vec::with_capacity(conf.rounds);
    for _ in 0..conf.rounds {
        let mult = reps.next_replicate();
        let (h, s, p) = sums(&|g| f64::from(mult[g]));
        if s > 0.0 {
            ps.push(h / s);
        }
        if p > 0.0 {
            rs.push(h / p);
        }
    }
    let precision = (sel > 0.0).then(|| percentile_interval(hits / sel, &mut ps, conf.level));
    let recall = (pos > 0.0).then(|| percentile_interval(hits / pos, &mut rs, conf.level));
    Ok((precision, recall))
}

/// The percentile bootstrap interval at `level` around `estimate`: the
/// `(1 - level) / 2` and `(1 + level) / 2` quantiles of the replicates `v` (inverted
/// CDF, as NumPy's `method="inverted_cdf"`); the estimate itself when `v` is empty.
/// Efron & Tibshirani 1993, "An Introduction to the Bootstrap", section 13.3.
fn percentile_interval(estimate: f64, v: &mut [f64], level: f64) -> Interval {
    let lo = (1.0 - level) / 2.0;
    let (lower, upper) = if v.is_empty() {
        (estimate, estimate)
    } else {
        (
            quantile_inverted_cdf(v, lo),
            quantile_inverted_cdf(v, 1.0 - lo),
        )
    };
    Interval {
        estimate,
        lower,
        upper,
        level,
    }
}

/// Precision of "contact every row scoring at least `cutoffs[j]`", for every cutoff
/// at once, with the member-level bootstrap interval of
/// [`bootstrap_precision_recall`] (the same replicates, so the same interval to
/// rounding): `None` where a cutoff selects no weight.
///
/// Why not call that function per cutoff: each call would draw every replicate again.
/// Here each replicate is drawn once ([`Replicates`]) and one pass over the rows adds
/// each row's weighted hits and weight to the first cutoff it passes; running sums
/// down the cutoffs (sorted high to low here) give every cutoff's counts.
#[allow(clippy::too_many_arguments)]
pub(crate) fn bootstrap_precision_at_cutoffs(
    y: &[f64],
    score: &[f64],
    weight: &[f64],
    cutoffs: &[f64],
    groups: &[usize],
    n_groups: usize,
    conf: &ConfidenceValidParams,
    seed: u64,
) -> Result<Vec<Option<Interval>>> {
    check_inputs(y, score, Some(weight))?;
    check_groups(groups, n_groups, y.len())?;
    let mut order: Vec<usize> = (0..cutoffs.len()).collect();
    order.sort_by(|&a, &b| cutoffs[b].total_cmp(&cutoffs[a]));
    let sorted: Vec<f64> = order.iter().map(|&j| cutoffs[j]).collect();
    // Row i's bucket: the first (highest) sorted cutoff it reaches; none below them all.
    let bucket: Vec<Option<usize>> = score
        .iter()
        .map(|s| {
            let k = sorted.partition_point(|c| *c > *s);
            (k < sorted.len()).then_some(k)
        })
        .collect();
    let k = sorted.len();
    let counts = |mult: &dyn Fn(usize) -> f64| -> Vec<(f64, f64)> {
        let mut by = vec![(0.0_f64, 0.0_f64); k];
        for (i, b) in bucket.iter().enumerate() {
            if let Some(b) = *b {
                let m = mult(groups[i]);
                by[b].0 += m * y[i] * weight[i];
                by[b].1 += m * weight[i];
            }
        }
        let mut run = (0.0, 0.0);
        for v in &mut by {
            run = (run.0 + v.0, run.1 + v.1);
            *v = run;
        }
        by
    };
    let observed = counts(&|_| 1.0);
    let mut reps = Replicates::new(n_groups, seed);
    let mut ps: Vec<Vec<f64>> = vec![Vec::with_capacity(conf.rounds); k];
    for _ in 0..conf.rounds {
        let mult = reps.next_replicate();
        for (j, (h, s)) in counts(&|g| f64::from(mult[g])).into_iter().enumerate() {
            if s > 0.0 {
                ps[j].push(h / s);
            }
        }
    }
    let mut out = vec![None; k];
    for (pos, &j) in order.iter().enumerate() {
        let (h, s) = observed[pos];
        out[j] = (s > 0.0).then(|| percentile_interval(h / s, &mut ps[pos], conf.level));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::precision_recall_curve;
    use crate::threshold::tests::rule;

    #[test]
    fn poisson1_is_the_draw_by_draw_inversion() {
        // The CDF summed at each draw, as the bootstrap first did.
        let by_draw = |u: f64| {
            let mut p = (-1.0f64).exp();
            let mut cdf = p;
            let mut k = 0u8;
            while u >= cdf && k < 20 {
                k += 1;
                p /= f64::from(k);
                cdf += p;
            }
            k
        };
        let mut state = stream_start(11);
        let steps = poisson1_cdf()
            .iter()
            .flat_map(|&c| [c, c.next_down(), c.next_up()]);
        for u in (0..100_000)
            .map(|_| uniform(splitmix(&mut state)))
            .chain(steps)
            .chain([0.0, 1.0 - f64::EPSILON])
        {
            assert_eq!(poisson1(u), by_draw(u), "u = {u}");
        }
    }

    #[test]
    fn poisson1_has_the_poisson_mass() {
        // Inversion at the CDF's steps: e^-1 = 0.3679, 2e^-1 = 0.7358, 2.5e^-1 = 0.9197.
        assert_eq!(poisson1(0.0), 0);
        assert_eq!(poisson1(0.36), 0);
        assert_eq!(poisson1(0.37), 1);
        assert_eq!(poisson1(0.73), 1);
        assert_eq!(poisson1(0.74), 2);
        assert_eq!(poisson1(0.92), 3);
        let m = multiplicities(1, 200_000, 3);
        let mean = m.iter().map(|&k| f64::from(k)).sum::<f64>() / m.len() as f64;
        let var = m
            .iter()
            .map(|&k| (f64::from(k) - mean).powi(2))
            .sum::<f64>()
            / m.len() as f64;
        assert!(
            (mean - 1.0).abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }

    /// The band's intervals at many cutoffs are those of one call per cutoff (the same
    /// replicates, summed in another order: to 1e-12), and one replicate at a time
    /// draws what the whole table holds.
    #[test]
    fn the_band_at_every_cutoff_is_the_single_cutoff_bootstrap() {
        let n = 3_000;
        let score: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 / 1000.0)
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from((i * 31) % 97 < (score[i] * 40.0) as usize)))
            .collect();
        let weight: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
        let members: Vec<usize> = (0..n).map(|i| i / 4).collect();
        let (groups, n_groups) = group_ids(&members);
        let conf = ConfidenceParams {
            level: 0.9,
            rounds: 200,
        }
        .check()
        .unwrap();
        let cutoffs = [0.5, 0.95, 0.1, 2.0, 0.0];
        let band = bootstrap_precision_at_cutoffs(
            &y, &score, &weight, &cutoffs, &groups, n_groups, &conf, 17,
        )
        .unwrap();
        for (t, got) in cutoffs.iter().zip(&band) {
            let chosen: Vec<bool> = score.iter().map(|s| s >= t).collect();
            let (want, _) =
                bootstrap_precision_recall(&y, &chosen, &weight, &groups, n_groups, &conf, 17)
                    .unwrap();
            match (got, want) {
                (None, None) => assert_eq!(*t, 2.0),
                (Some(g), Some(w)) => {
                    for (a, b) in [
                        (g.estimate, w.estimate),
                        (g.lower, w.lower),
                        (g.upper, w.upper),
                    ] {
                        assert!((a - b).abs() < 1e-12, "cutoff {t}: {g:?} vs {w:?}");
                    }
                }
                other => panic!("cutoff {t}: {other:?}"),
            }
        }
        let table = multiplicities(n_groups, 3, 5);
        let mut reps = Replicates::new(n_groups, 5);
        for r in 0..3 {
            assert_eq!(
                reps.next_replicate(),
                &table[r * n_groups..(r + 1) * n_groups]
            );
        }
        // The draws read by position are the table's, group by group.
        let draws = Draws::new(n_groups, 5);
        let mut by_group = vec![0.0; 3];
        for g in 0..n_groups {
            draws.of_group(g, &mut by_group);
            for (r, m) in by_group.iter().enumerate() {
                assert_eq!(
                    *m,
                    f64::from(table[r * n_groups + g]),
                    "replicate {r}, group {g}"
                );
            }
        }
    }

    #[test]
    fn inverted_cdf_quantile_matches_numpy() {
        // np.quantile([1..10], q, method="inverted_cdf")
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        for (q, want) in [
            (0.0, 1.0),
            (0.1, 1.0),
            (0.11, 2.0),
            (0.5, 5.0),
            (0.95, 10.0),
        ] {
            assert_eq!(quantile_inverted_cdf(&mut v.clone(), q), want, "q {q}");
        }
    }

    /// Rows of a known model: score u ~ U(0, 1), P(y = 1 | u) = u^3, rows dealt to
    /// members of 1 to 4 rows. Above a cutoff t the true precision is
    /// E[u^3 | u >= t] = (1 - t^4) / (4 (1 - t)).
    fn known_model(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<usize>, usize) {
        let mut st = seed;
        let mut u = || (splitmix(&mut st) >> 11) as f64 / (1u64 << 53) as f64;
        let (mut y, mut s, mut g) = (Vec::new(), Vec::new(), Vec::new());
        let mut member = 0;
        while y.len() < n {
            let rows = 1 + (u() * 4.0) as usize;
            for _ in 0..rows {
                let score = u();
                y.push(f64::from(u() < score.powi(3)));
                s.push(score);
                g.push(member);
            }
            member += 1;
        }
        (y, s, g, member)
    }

    #[test]
    fn bootstrap_interval_covers_the_true_precision() {
        let t = 0.7;
        let truth = (1.0 - t * t * t * t) / (4.0 * (1.0 - t));
        let conf = ConfidenceParams {
            level: 0.9,
            rounds: 400,
        }
        .check()
        .unwrap();
        let reps = 200;
        let mut covered = 0;
        let mut lower_below = 0;
        for rep in 0..reps {
            let (y, s, g, ng) = known_model(1500, 1000 + rep);
            let sel: Vec<bool> = s.iter().map(|&v| v >= t).collect();
            let w = vec![1.0; y.len()];
            let (p, _) = bootstrap_precision_recall(&y, &sel, &w, &g, ng, &conf, rep).unwrap();
            let p = p.unwrap();
            assert!(p.lower <= p.estimate && p.estimate <= p.upper);
            covered += usize::from(p.lower <= truth && truth <= p.upper);
            lower_below += usize::from(p.lower <= truth);
        }
        let coverage = covered as f64 / reps as f64;
        assert!(coverage >= 0.85, "two-sided 90 % coverage {coverage}");
        assert!(
            lower_below as f64 / reps as f64 >= 0.9,
            "lower bound {lower_below}"
        );
    }

    #[test]
    fn confident_cutoff_holds_its_floor_out_of_sample() {
        // Choose on one sample with a 90 % lower bound, measure the true precision of
        // the chosen cutoff: it meets the floor in most repetitions, where the point
        // estimate rule falls short about half the time.
        let floor = 0.5;
        let truth = |t: f64| (1.0 - t.powi(4)) / (4.0 * (1.0 - t));
        let conf = ConfidenceParams {
            level: 0.9,
            rounds: 200,
        }
        .check()
        .unwrap();
        let (mut held, mut held_point) = (0, 0);
        let reps = 60;
        for rep in 0..reps {
            let (y, s, g, ng) = known_model(1500, 77 + rep);
            let w = vec![1.0; y.len()];
            let r = rule(floor);
            let c = r
                .select_with_confidence(&y, &s, &w, &g, ng, &conf, rep)
                .unwrap();
            let ThresholdChoice::Feasible {
                threshold,
                precision,
                precision_lower,
                ..
            } = c
            else {
                panic!("a floor of 0.5 is reachable: {c:?}");
            };
            assert!(precision_lower >= floor && precision >= precision_lower);
            held += usize::from(truth(threshold) >= floor);
            let curve = precision_recall_curve(&y, &s, Some(&w)).unwrap();
            let point = r.select(&curve).unwrap().threshold().unwrap();
            held_point += usize::from(truth(point) >= floor);
        }
        assert!(held as f64 / reps as f64 >= 0.85, "confident {held}/{reps}");
        assert!(held_point < held, "point {held_point} vs confident {held}");
    }

    #[test]
    fn confident_rule_refuses_bad_groups_and_needs_a_positive() {
        let conf = ConfidenceParams {
            level: 0.9,
            rounds: 50,
        }
        .check()
        .unwrap();
        let r = rule(0.5);
        let err = r
            .select_with_confidence(&[1.0, 0.0], &[0.9, 0.1], &[1.0, 1.0], &[0, 2], 2, &conf, 1)
            .unwrap_err();
        assert!(err.to_string().contains("group ids"), "{err}");
        assert!(
            r.select_with_confidence(&[0.0, 0.0], &[0.9, 0.1], &[1.0, 1.0], &[0, 1], 2, &conf, 1)
                .is_err()
        );
    }
}
