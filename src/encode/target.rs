//! Target encoding of one categorical column (channel, ...): each value is replaced
//! by a smoothed mean of the label, scikit-learn's
//! `TargetEncoder(target_type="binary")`.
//!
//! Training rows get out-of-fold values (each row encoded by a map fitted on the
//! other folds, so its own label never leaks into its feature); the fitted encoder
//! kept for test and scoring rows is the map over the whole training set. The folds
//! are the caller's (grouped by member), not scikit-learn's shuffled KFold; the
//! fixtures in `tests/data/sklearn/target_encoder_*.json` pass the same fold ids to
//! scikit-learn through `PredefinedSplit`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::numeric::numpy_sum;
use crate::params::{ParamGuard, Valid, checked};

/// How much a category's mean is pulled towards the overall mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Smooth {
    /// Empirical Bayes: the weight of the category mean grows with its size and
    /// shrinks with the spread of the label inside it (see [`auto_encoding`]).
    #[default]
    Auto,
    /// A fixed pseudo-count `m >= 0`: `(sum_c + m * mean) / (n_c + m)`.
    Fixed(f64),
}

/// The scale of the encoded value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TargetScale {
    /// The smoothed mean label, a probability (scikit-learn's encoding).
    #[default]
    Mean,
    /// Its log-odds, [`logit_clamped`]: the logistic model's own scale, where a
    /// category twice as risky is a fixed step whatever the base rate (on the mean
    /// scale every encoding of a rare label is squeezed near 0).
    Logit,
}

/// Parameters of the target encoder (unchecked; [`ParamGuard::check`] gives the
/// [`TargetEncoderValidParams`] that fit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetEncoderParams {
    pub(crate) smooth: Smooth,
    #[serde(default)]
    pub(crate) scale: TargetScale,
}

/// The full-training-set map, applied to test and scoring rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FittedTargetEncoder {
    smooth: Smooth,
    #[serde(default)]
    pub(crate) scale: TargetScale,
    /// The prior (the weighted mean label over the training rows) on the encoder's
    /// scale: the value of any category not seen in training.
    pub(crate) target_mean: f64,
    /// Encoded value per training category (sorted by category for a stable file).
    pub(crate) encodings: BTreeMap<String, f64>,
}

impl FittedTargetEncoder {
    /// The encoding of one value; the prior for a category unseen at fit time.
    pub(crate) fn transform(&self, category: &str) -> f64 {
        self.encodings
            .get(category)
            .copied()
            .unwrap_or(self.target_mean)
    }
}

/// Label statistics of one category within a training set.
#[derive(Debug, Clone, Copy, Default)]
struct CategoryStats {
    count: u64,
    sum: f64,
    sum_sq_diff: f64,
}

/// Encoding with `smooth = "auto"`, scikit-learn's `_fit_encoding_fast_auto_smooth`
/// (`sklearn/preprocessing/_target_encoder_fast.pyx`), after Micci-Barreca (2001),
/// eq. 5-6:
///
/// `lambda = var_y * n_c / (var_y * n_c + ssd_c / n_c)`,
/// `enc = lambda * mean_c + (1 - lambda) * mean_y`,
///
/// where `ssd_c` is the sum of squared deviations of y from the category mean and
/// `var_y` the population variance of y over the training set. When lambda is NaN
/// (an empty category, or both variances zero) the encoding is `mean_y`.
pub(super) fn auto_encoding(count: u64, mean_c: f64, ssd_c: f64, mean_y: f64, var_y: f64) -> f64 {
    let n = count as f64;
    let lambda = var_y * n / (var_y * n + ssd_c / n);
    if lambda.is_nan() {
        mean_y
    } else {
        lambda * mean_c + (1.0 - lambda) * mean_y
    }
}

/// Encoding with a fixed smoothing `m`, scikit-learn's `_fit_encoding_fast`
/// (`_target_encoder_fast.pyx`; Micci-Barreca 2001, eq. 7):
/// `(m * mean_y + sum_c) / (m + n_c)`, and `mean_y` when the denominator is 0 (`m = 0`
/// and an empty category).
///
/// The arguments are the running sums as sklearn keeps them: `smoothed_sum` starts
/// at `m * mean_y` and `smoothed_count` at `m`, and each row of the category adds its
/// label and 1 in turn (the order fixes the rounding).
pub(super) fn fixed_encoding(smoothed_sum: f64, smoothed_count: f64, mean_y: f64) -> f64 {
    if smoothed_count == 0.0 {
        mean_y
    } else {
        smoothed_sum / smoothed_count
    }
}

/// `ln(p / (1 - p))` with `p` clamped to `[1e-6, 1 - 1e-6]`, so that a category
/// without any positive (p = 0 once unsmoothed) stays finite.
pub(super) fn logit_clamped(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// Encodings with row weights `w` (the inverse inclusion probabilities of the
/// member-level sampling), so that a category's mean estimates its population rate,
/// not its rate among the sampled rows (Horvitz-Thompson ratio estimator).
///
/// Weighted means: `mean_c = sum_c w y / sum_c w`, `mean_y = sum w y / sum w`. The
/// amount of evidence stays the number of rows `n_c` (weights scale the population,
/// they do not add observations):
/// - `Smooth::Auto`: [`auto_encoding`] with weighted variances, `var_y =
///   sum w (y - mean_y)^2 / sum w` and `ssd_c / n_c = sum_c w (y - mean_c)^2 / sum_c w`;
/// - `Smooth::Fixed(m)`: `(n_c mean_c + m mean_y) / (n_c + m)`.
///
/// With every weight 1 these are the unweighted formulas of [`fit_encodings`].
///
/// `rows` are read twice with `Smooth::Auto` (an iterator, so that the other folds'
/// rows are never listed: 8 bytes a row beside the training matrix, issue 17).
fn fit_encodings_weighted(
    smooth: Smooth,
    codes: &[u32],
    y: &[f64],
    w: &[f64],
    rows: impl Iterator<Item = usize> + Clone,
    n_categories: usize,
) -> (Vec<f64>, f64) {
    let (mut sw, mut swy) = (0.0, 0.0);
    let mut cat_w = vec![0.0; n_categories];
    let mut cat_wy = vec![0.0; n_categories];
    let mut cat_n = vec![0u64; n_categories];
    for i in rows.clone() {
        let c = codes[i] as usize;
        sw += w[i];
        swy += w[i] * y[i];
        cat_w[c] += w[i];
        cat_wy[c] += w[i] * y[i];
        cat_n[c] += 1;
    }
    let mean_y = if sw > 0.0 { swy / sw } else { 0.0 };
    let means: Vec<f64> = cat_wy
        .iter()
        .zip(&cat_w)
        .map(|(a, b)| if *b > 0.0 { a / b } else { mean_y })
        .collect();
    let encodings = match smooth {
        Smooth::Fixed(m) => (0..n_categories)
            .map(|c| {
                let n = cat_n[c] as f64;
                if n + m == 0.0 {
                    mean_y
                } else {
                    (n * means[c] + m * mean_y) / (n + m)
                }
            })
            .collect(),
        Smooth::Auto => {
            let mut var_y = 0.0;
            let mut cat_ss = vec![0.0; n_categories];
            for i in rows {
                let c = codes[i] as usize;
                var_y += w[i] * (y[i] - mean_y) * (y[i] - mean_y);
                let d = y[i] - means[c];
                cat_ss[c] += w[i] * d * d;
            }
            let var_y = if sw > 0.0 { var_y / sw } else { 0.0 };
            (0..n_categories)
                .map(|c| {
                    let n = cat_n[c];
                    let within = if cat_w[c] > 0.0 {
                        cat_ss[c] / cat_w[c]
                    } else {
                        0.0
                    };
                    // auto_encoding divides ssd by n: pass ssd = n * within variance.
                    auto_encoding(n, means[c], n as f64 * within, mean_y, var_y)
                })
                .collect()
        }
    };
    (encodings, mean_y)
}

/// Fits encodings for `n_categories` categories on the rows `rows`.
///
/// Follows scikit-learn's arithmetic step by step so results agree to the bit:
/// `mean_y = np.mean(y)`, `var_y = np.var(y)` (pairwise sums, see
/// [`numpy_sum`]); per-category sums in row order.
fn fit_encodings(
    smooth: Smooth,
    codes: &[u32],
    y: &[f64],
    rows: impl Iterator<Item = usize> + Clone,
    n_categories: usize,
) -> (Vec<f64>, f64) {
    let y_rows: Vec<f64> = rows.clone().map(|i| y[i]).collect();
    let n = y_rows.len() as f64;
    let mean_y = numpy_sum(&y_rows) / n;

    let encodings = match smooth {
        Smooth::Fixed(m) => {
            let mut sums = vec![m * mean_y; n_categories];
            let mut counts = vec![m; n_categories];
            for i in rows {
                sums[codes[i] as usize] += y[i];
                counts[codes[i] as usize] += 1.0;
            }
            sums.iter()
                .zip(&counts)
                .map(|(&s, &c)| fixed_encoding(s, c, mean_y))
                .collect()
        }
        Smooth::Auto => {
            let squares: Vec<f64> = y_rows.iter().map(|v| (v - mean_y) * (v - mean_y)).collect();
            let var_y = numpy_sum(&squares) / n;
            let mut stats = vec![CategoryStats::default(); n_categories];
            for i in rows.clone() {
                let s = &mut stats[codes[i] as usize];
                s.count += 1;
                s.sum += y[i];
            }
            let means: Vec<f64> = stats.iter().map(|s| s.sum / s.count as f64).collect();
            for i in rows {
                let c = codes[i] as usize;
                let d = y[i] - means[c];
                stats[c].sum_sq_diff += d * d;
            }
            stats
                .iter()
                .zip(&means)
                .map(|(s, &m)| auto_encoding(s.count, m, s.sum_sq_diff, mean_y, var_y))
                .collect()
        }
    };
    (encodings, mean_y)
}

/// Checked [`TargetEncoderParams`].
pub(crate) type TargetEncoderValidParams = Valid<TargetEncoderParams>;

impl ParamGuard for TargetEncoderParams {
    type Checked = TargetEncoderValidParams;

    /// Refuses a fixed smoothing that is negative or not finite (as scikit-learn).
    fn check_ref(&self) -> Result<()> {
        if let Smooth::Fixed(m) = self.smooth
            && !(m.is_finite() && m >= 0.0)
        {
            return Err(Error::params(
                "smooth",
                "\"auto\" or a finite number >= 0",
                m,
            ));
        }
        Ok(())
    }

    fn check(self) -> Result<TargetEncoderValidParams> {
        checked(self)
    }
}

impl TargetEncoderValidParams {
    /// The checks of [`Self::fit_transform`] for `n` rows; returns the number of
    /// rows in each fold.
    fn check_fit_inputs(
        &self,
        n: usize,
        y: &[f64],
        folds: &[u8],
        n_folds: usize,
    ) -> Result<Vec<usize>> {
        if y.len() != n {
            return Err(Error::params(
                "y",
                format!("one label per row ({n})"),
                y.len(),
            ));
        }
        if folds.len() != n {
            return Err(Error::params(
                "folds",
                format!("one fold id per row ({n})"),
                folds.len(),
            ));
        }
        if let Some(v) = y.iter().find(|&&v| v != 0.0 && v != 1.0) {
            return Err(Error::params("y", "labels 0 or 1", v));
        }
        if n_folds < 2 {
            return Err(Error::params("n_folds", "at least 2", n_folds));
        }
        if let Some(&f) = folds.iter().find(|&&f| usize::from(f) >= n_folds) {
            return Err(Error::params(
                "folds",
                format!("fold ids in 0..{n_folds}"),
                f,
            ));
        }
        if n == 0 {
            return Err(Error::data(
                "the target encoder has no training rows",
                "choose a training window that contains interactions",
            ));
        }
        let mut fold_sizes = vec![0usize; n_folds];
        for &f in folds {
            fold_sizes[usize::from(f)] += 1;
        }
        if fold_sizes.iter().filter(|r| **r > 0).count() < 2 {
            return Err(Error::params(
                "folds",
                "rows spread over at least two folds",
                "every row in one fold",
            ));
        }

        Ok(fold_sizes)
    }

    /// Fits the full-train map and returns it with the out-of-fold values of the
    /// training rows.
    ///
    /// `folds[i]` in `0..n_folds` is row i's fold. For each fold present, the map is
    /// fitted on the rows of the other folds and applied to the fold's rows; a
    /// category absent from the other folds gets their mean label (scikit-learn
    /// treats it as a known category with no rows). Empty folds are allowed (no row
    /// to encode); at least two distinct folds must be present.
    ///
    /// `y` must be 0/1. Training data without any positive is accepted (every value
    /// encodes to 0); whether such a window is usable is decided upstream.
    #[cfg(test)]
    pub(crate) fn fit_transform(
        &self,
        categories: &[String],
        y: &[f64],
        folds: &[u8],
        n_folds: usize,
    ) -> Result<(FittedTargetEncoder, Vec<f64>)> {
        let fold_sizes = self.check_fit_inputs(categories.len(), y, folds, n_folds)?;
        // Category codes in sorted order (scikit-learn's categories_ order; only the
        // mapping matters for the values).
        let mut index: BTreeMap<&str, usize> = categories.iter().map(|c| (c.as_str(), 0)).collect();
        for (code, v) in index.values_mut().enumerate() {
            *v = code;
        }
        let codes: Vec<u32> = categories
            .iter()
            .map(|c| index[c.as_str()] as u32)
            .collect();
        self.fit_transform_coded(&index, &codes, y, None, &fold_sizes, folds)
    }

    /// [`Self::fit_transform`] for a column already held as dictionary codes (the
    /// feature table's layout): row `k` has the value `dictionary[codes[k]]`.
    /// Dictionary entries must be distinct; entries no row uses are ignored. Gives
    /// the same result as `fit_transform` on the decoded strings, without
    /// materializing them.
    ///
    /// `weights`, when given, are the rows' sampling weights (see
    /// [`fit_encodings_weighted`]); without them the arithmetic is scikit-learn's.
    pub(crate) fn fit_transform_dictionary(
        &self,
        dictionary: &[String],
        codes: &[u32],
        y: &[f64],
        weights: Option<&[f64]>,
        folds: &[u8],
        n_folds: usize,
    ) -> Result<(FittedTargetEncoder, Vec<f64>)> {
        if let Some(w) = weights
            && (w.len() != codes.len() || w.iter().any(|v| !(v.is_finite() && *v > 0.0)))
        {
            return Err(Error::params(
                "weights",
                format!("{} finite weights > 0", codes.len()),
                format!("{} weights, or one not finite or <= 0", w.len()),
            ));
        }
        if let Some(&c) = codes.iter().find(|&&c| c as usize >= dictionary.len()) {
            return Err(Error::params(
                "codes",
                format!("codes below the dictionary size {}", dictionary.len()),
                c,
            ));
        }
        let mut used = vec![false; dictionary.len()];
        for &c in codes {
            used[c as usize] = true;
        }
        let mut index: BTreeMap<&str, usize> = dictionary
            .iter()
            .zip(&used)
            .filter(|(_, u)| **u)
            .map(|(d, _)| (d.as_str(), 0))
            .collect();
        if index.len() != used.iter().filter(|u| **u).count() {
            return Err(Error::params(
                "dictionary",
                "distinct values",
                "a value listed twice",
            ));
        }
        for (code, v) in index.values_mut().enumerate() {
            *v = code;
        }
        // Dense codes in a u32 (below the dictionary's length, itself from u32
        // codes): 4 bytes a row beside the training matrix, not 8.
        let remap: Vec<u32> = dictionary
            .iter()
            .map(|d| index.get(d.as_str()).map_or(0, |&c| c as u32))
            .collect();
        let dense: Vec<u32> = codes.iter().map(|&c| remap[c as usize]).collect();
        // The checks of `fit_transform`, on the rows' codes.
        let n = codes.len();
        let fold_sizes = self.check_fit_inputs(n, y, folds, n_folds)?;
        self.fit_transform_coded(&index, &dense, y, weights, &fold_sizes, folds)
    }

    fn fit_transform_coded(
        &self,
        index: &BTreeMap<&str, usize>,
        codes: &[u32],
        y: &[f64],
        weights: Option<&[f64]>,
        fold_sizes: &[usize],
        folds: &[u8],
    ) -> Result<(FittedTargetEncoder, Vec<f64>)> {
        let n = codes.len();
        let n_categories = index.len();
        // The rows a map is fitted on, as a test of the row index.
        let fit = |rows: &dyn Fn(usize) -> bool| {
            let rows = (0..n).filter(move |&i| rows(i));
            match weights {
                Some(w) => fit_encodings_weighted(self.smooth, codes, y, w, rows, n_categories),
                None => fit_encodings(self.smooth, codes, y, rows, n_categories),
            }
        };
        let scaled = |v: f64| match self.scale {
            TargetScale::Mean => v,
            TargetScale::Logit => logit_clamped(v),
        };
        let mut oof = vec![0.0; n];
        for (k, &held_out) in fold_sizes.iter().enumerate() {
            if held_out == 0 {
                continue;
            }
            let (enc, _) = fit(&|i| usize::from(folds[i]) != k);
            for (i, v) in oof.iter_mut().enumerate() {
                if usize::from(folds[i]) == k {
                    *v = scaled(enc[codes[i] as usize]);
                }
            }
        }

        let (enc, target_mean) = fit(&|_| true);
        let encodings = index
            .iter()
            .map(|(&c, &code)| (c.to_owned(), scaled(enc[code])))
            .collect();
        Ok((
            FittedTargetEncoder {
                smooth: self.smooth,
                scale: self.scale,
                target_mean: scaled(target_mean),
                encodings,
            },
            oof,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn floats(v: &Value, key: &str) -> Vec<f64> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse().unwrap())
            .collect()
    }

    fn strings(v: &Value, key: &str) -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    }

    /// Returns the largest absolute difference to sklearn.
    fn check_fixture(text: &str) -> f64 {
        let fx: Value = serde_json::from_str(text).unwrap();
        let smooth = match &fx["smooth"] {
            Value::String(s) if s == "auto" => Smooth::Auto,
            Value::String(s) => Smooth::Fixed(s.parse().unwrap()),
            other => panic!("smooth {other}"),
        };
        let cats = strings(&fx, "categories");
        let y: Vec<f64> = fx["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let folds: Vec<u8> = fx["folds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let n_folds = fx["n_folds"].as_u64().unwrap() as usize;
        let (fitted, oof) = TargetEncoderParams {
            smooth,
            scale: TargetScale::Mean,
        }
        .check()
        .unwrap()
        .fit_transform(&cats, &y, &folds, n_folds)
        .unwrap();

        let mut max_err = 0.0_f64;
        for (a, b) in oof.iter().zip(floats(&fx, "oof")) {
            max_err = max_err.max((a - b).abs());
        }
        let target_mean: f64 = fx["target_mean"].as_str().unwrap().parse().unwrap();
        max_err = max_err.max((fitted.target_mean - target_mean).abs());
        let names = strings(&fx, "encoding_categories");
        assert_eq!(fitted.encodings.keys().cloned().collect::<Vec<_>>(), names);
        for (c, want) in names.iter().zip(floats(&fx, "encodings")) {
            max_err = max_err.max((fitted.transform(c) - want).abs());
        }
        let unseen: f64 = fx["unseen_value"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            fitted.transform(fx["unseen_category"].as_str().unwrap()),
            unseen
        );
        max_err
    }

    #[test]
    fn dictionary_codes_give_the_same_encoder_as_strings() {
        // An unused dictionary entry, unsorted dictionary order.
        let dictionary: Vec<String> = ["web", "phone", "unused", "chat"]
            .iter()
            .map(|v| v.to_string())
            .collect();
        let codes: Vec<u32> = vec![1, 0, 3, 1, 1, 0, 3, 0, 1, 3];
        let y = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
        let folds = [0u8, 1, 2, 0, 1, 2, 0, 1, 2, 0];
        let strings: Vec<String> = codes
            .iter()
            .map(|&c| dictionary[c as usize].clone())
            .collect();
        for smooth in [Smooth::Auto, Smooth::Fixed(2.0)] {
            let p = TargetEncoderParams {
                smooth,
                ..Default::default()
            }
            .check()
            .unwrap();
            let a = p
                .fit_transform_dictionary(&dictionary, &codes, &y, None, &folds, 3)
                .unwrap();
            let b = p.fit_transform(&strings, &y, &folds, 3).unwrap();
            assert_eq!(a, b);
            // Unit weights: the weighted arithmetic, same values to rounding.
            let ones = vec![1.0; codes.len()];
            let c = p
                .fit_transform_dictionary(&dictionary, &codes, &y, Some(&ones), &folds, 3)
                .unwrap();
            for (u, v) in a.1.iter().zip(&c.1) {
                assert!((u - v).abs() < 1e-12, "{u} vs {v}");
            }
        }
        let p = TargetEncoderParams::default().check().unwrap();
        assert!(
            p.fit_transform_dictionary(&dictionary, &[7], &[1.0], None, &[0], 2)
                .is_err()
        );
        assert!(
            p.fit_transform_dictionary(
                &dictionary,
                &[0, 1],
                &[1.0, 0.0],
                Some(&[1.0, 0.0]),
                &[0, 1],
                2
            )
            .is_err()
        );
    }

    #[test]
    fn sklearn_fixtures_agree() {
        let mut max_err = 0.0_f64;
        for text in [
            include_str!("../../tests/data/sklearn/target_encoder_auto.json"),
            include_str!("../../tests/data/sklearn/target_encoder_fixed10.json"),
            include_str!("../../tests/data/sklearn/target_encoder_fixed0.json"),
            include_str!("../../tests/data/sklearn/target_encoder_zero_var_fold.json"),
        ] {
            let err = check_fixture(text);
            assert!(err <= 1e-12, "{err}");
            max_err = max_err.max(err);
        }
        println!("max |target encoding - sklearn| = {max_err:e}");
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn hand_computed_auto() {
        // Full train: y = [1,0,1,0], mean 0.5, var 0.25. Category "a" = {1, 0}:
        // mean 0.5, ssd 0.5, lambda = 0.5 / (0.5 + 0.25) = 2/3 -> 0.5.
        // Category "b" = {1, 0}: the same. Unseen -> 0.5.
        let (f, _) = TargetEncoderParams::default()
            .check()
            .unwrap()
            .fit_transform(
                &s(&["a", "a", "b", "b"]),
                &[1.0, 0.0, 1.0, 0.0],
                &[0, 1, 0, 1],
                2,
            )
            .unwrap();
        assert!((f.transform("a") - 0.5).abs() < 1e-15);
        assert_eq!(f.transform("zzz"), 0.5);
        // A pure category with no spread gets lambda = 1: its own mean.
        let (f, oof) = TargetEncoderParams::default()
            .check()
            .unwrap()
            .fit_transform(
                &s(&["a", "a", "b", "b", "b"]),
                &[1.0, 1.0, 0.0, 0.0, 1.0],
                &[0, 1, 0, 1, 1],
                2,
            )
            .unwrap();
        assert_eq!(f.transform("a"), 1.0);
        // Row 0 (fold 0) is encoded from fold 1 = {a:1, b:0, b:1}: var 2/9,
        // a: n 1, ssd 0 -> lambda 1 -> 1.
        assert_eq!(oof[0], 1.0);
    }

    #[test]
    fn fixed_smoothing_formula() {
        // m = 2, overall mean 0.25 (1 of 4): "a" = {1, 0} -> (2*0.25 + 1) / (2 + 2).
        let (f, _) = TargetEncoderParams {
            smooth: Smooth::Fixed(2.0),
            ..Default::default()
        }
        .check()
        .unwrap()
        .fit_transform(
            &s(&["a", "a", "b", "b"]),
            &[1.0, 0.0, 0.0, 0.0],
            &[0, 1, 0, 1],
            2,
        )
        .unwrap();
        assert_eq!(f.transform("a"), 1.5 / 4.0);
        assert_eq!(f.transform("b"), 0.5 / 4.0);
    }

    #[test]
    fn weighted_logit_encoding_known_answer() {
        // Sampled negatives weigh 3 (a third of the negative members kept). Category
        // "a": rows y = [1, 0] with w = [1, 3]; "b": y = [0, 0, 1] with w = [3, 3, 1].
        // Population mean: (1 + 1) / (1 + 3 + 3 + 3 + 1) = 2/11. Fixed m = 2:
        // a: mean_a = 1/4, n = 2 -> (2 * 1/4 + 2 * 2/11) / 4; the unweighted mean
        // would say 1/2, the rate among the sampled rows.
        let dictionary = s(&["a", "b"]);
        let codes = [0, 0, 1, 1, 1];
        let y = [1.0, 0.0, 0.0, 0.0, 1.0];
        let w = [1.0, 3.0, 3.0, 3.0, 1.0];
        let p = TargetEncoderParams {
            smooth: Smooth::Fixed(2.0),
            scale: TargetScale::Logit,
        }
        .check()
        .unwrap();
        let (f, _) = p
            .fit_transform_dictionary(&dictionary, &codes, &y, Some(&w), &[0, 1, 0, 1, 1], 2)
            .unwrap();
        let prior = 2.0 / 11.0;
        let logit = |p: f64| (p / (1.0 - p)).ln();
        let a = (2.0 * 0.25 + 2.0 * prior) / 4.0;
        let b = (3.0 * (1.0 / 7.0) + 2.0 * prior) / 5.0;
        assert!((f.transform("a") - logit(a)).abs() < 1e-12);
        assert!((f.transform("b") - logit(b)).abs() < 1e-12);
        assert!((f.transform("unseen") - logit(prior)).abs() < 1e-12);
        assert_eq!(f.scale, TargetScale::Logit);
        // A category with no positive stays finite on the logit scale.
        assert_eq!(logit_clamped(0.0), (1e-6_f64 / (1.0 - 1e-6)).ln());
    }

    #[test]
    fn bad_inputs_are_refused() {
        let p = TargetEncoderParams::default().check().unwrap();
        let c = s(&["a", "b"]);
        assert!(p.fit_transform(&c, &[1.0], &[0, 1], 2).is_err());
        assert!(p.fit_transform(&c, &[1.0, 0.0], &[0], 2).is_err());
        assert!(p.fit_transform(&c, &[1.0, 0.5], &[0, 1], 2).is_err());
        assert!(p.fit_transform(&c, &[1.0, 0.0], &[0, 2], 2).is_err());
        assert!(p.fit_transform(&c, &[1.0, 0.0], &[0, 0], 1).is_err());
        assert!(p.fit_transform(&c, &[1.0, 0.0], &[1, 1], 2).is_err());
        assert!(matches!(
            p.fit_transform(&[], &[], &[], 2),
            Err(Error::Data { .. })
        ));
        let neg = TargetEncoderParams {
            smooth: Smooth::Fixed(-1.0),
            ..Default::default()
        };
        let e = neg.check().unwrap_err();
        assert_eq!(crate::params::param_name(&e), Some("smooth"), "{e}");
        // Empty folds are fine as long as two folds hold rows.
        assert!(p.fit_transform(&c, &[1.0, 0.0], &[0, 3], 5).is_ok());
    }

    #[test]
    fn fitted_round_trips_through_json() {
        let (f, _) = TargetEncoderParams {
            smooth: Smooth::Fixed(1.5),
            ..Default::default()
        }
        .check()
        .unwrap()
        .fit_transform(&s(&["x", "y", "x"]), &[1.0, 0.0, 0.0], &[0, 1, 1], 2)
        .unwrap();
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            serde_json::from_str::<FittedTargetEncoder>(&json).unwrap(),
            f
        );
        let auto = serde_json::to_string(&Smooth::Auto).unwrap();
        assert_eq!(auto, "\"auto\"");
    }
}
