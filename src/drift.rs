//! Drift: the population stability index (PSI) of each raw feature and of the score
//! between a reference window and a current one. Owns the bins (cut on the reference,
//! stored in `model.json` as [`DriftReference`] so `score` can compare its day with
//! the training run's test window), the PSI itself, and the rows of `drift.csv`.
//! Pure and synchronous: callers hand in the rows, weights and scores.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::table::{FeatureTable, NUMERIC_FEATURES};

/// Bins per numeric feature (deciles of the reference), the usual choice for PSI.
pub(crate) const NUMERIC_BINS: usize = 10;

/// The share an empty bin counts as, so that `ln(a / e)` stays finite. 1e-4 is the
/// floor Evidently's PSI applies (`np.clip(p, 0.0001, None)`); it caps one empty
/// bin's term at about `s * ln(s / 1e-4)`.
pub(crate) const SHARE_FLOOR: f64 = 1e-4;

/// The PSI above which drift is flagged unless `drift.psi_warn` says otherwise:
/// 0.1-0.25 "some shift", above 0.25 "major shift" in Siddiqi's rule of thumb; 0.2
/// is the common single cut (Yurdakul 2018).
pub(crate) const DEFAULT_PSI_WARN: f64 = 0.2;

/// Features that grow with the calendar by construction (a member's tenure, the
/// interactions seen so far): the training window is earlier than the test window,
/// so they always differ there (on unshifted demo data: PSI 1.8 and 0.3). Their
/// train-vs-test PSI is shown but not warned about; between like windows (a
/// previous run's test window, the model's) it counts like any other.
pub(crate) const CALENDAR_FEATURES: &[&str] = &["tenure_days", "prior_interactions"];

/// The comparison of this run's training rows with its test window.
pub(crate) const TRAIN_VS_TEST: &str = "train_vs_test";

/// Name of the score in the drift rows (next to the feature names).
pub(crate) const SCORE: &str = "score";

/// How one column is cut into bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Cut {
    /// Bins `(-inf, e0], (e0, e1], ..., (e_last, inf)`, then one for missing (NaN).
    Numeric { edges: Vec<f64> },
    /// One bin per level, one for any level the reference did not have.
    Categorical { levels: Vec<String> },
}

impl Cut {
    /// Number of bins, the missing / unseen bin included.
    fn len(&self) -> usize {
        match self {
            Cut::Numeric { edges } => edges.len() + 2,
            Cut::Categorical { levels } => levels.len() + 1,
        }
    }
}

/// One column's cut and its reference shares (summing to 1, or all 0 when the
/// reference had no rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ColumnBins {
    pub(crate) name: String,
    pub(crate) cut: Cut,
    pub(crate) shares: Vec<f64>,
}

/// The reference distribution of a window: what later windows are compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DriftReference {
    /// Which window the bins were cut on, e.g. `test window of run <id>`.
    pub(crate) window: String,
    pub(crate) columns: Vec<ColumnBins>,
}

/// One row of `drift.csv`: a column's PSI in one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub(crate) struct DriftRow {
    /// `previous_run_test_vs_test`, `train_vs_test` or `model_test_vs_window`.
    pub(crate) comparison: String,
    pub(crate) reference: String,
    pub(crate) column: String,
    #[serde(serialize_with = "crate::csv_rows::display")]
    pub(crate) psi: f64,
    pub(crate) bins: usize,
    /// The bin whose term adds most to the PSI, and its reference and current shares.
    pub(crate) top_bin: String,
    #[serde(serialize_with = "crate::csv_rows::display")]
    pub(crate) top_bin_reference_share: f64,
    #[serde(serialize_with = "crate::csv_rows::display")]
    pub(crate) top_bin_current_share: f64,
    /// Whether the PSI counts toward the warning: above the threshold, and not a
    /// calendar feature compared across time (see [`CALENDAR_FEATURES`]).
    pub(crate) above_warn: bool,
    /// Why a PSI above the threshold does not count, when it does not.
    pub(crate) note: String,
}

/// Population stability index of `actual` against `expected` shares:
///
/// `PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`, each share floored at
/// [`SHARE_FLOOR`].
///
/// Source: N. Siddiqi, *Credit Risk Scorecards* (Wiley 2006), ch. 8; B. Yurdakul,
/// "Statistical properties of population stability index" (2018). It is the
/// symmetrised Kullback-Leibler divergence `KL(a||e) + KL(e||a)` of the binned shares.
pub(crate) fn psi(expected: &[f64], actual: &[f64]) -> Result<f64> {
    if expected.len() != actual.len() {
        return Err(Error::params(
            "drift.bins",
            format!("{} shares (the reference's bins)", expected.len()),
            actual.len(),
        ));
    }
    Ok(psi_terms(expected, actual).iter().sum())
}

/// The per-bin terms `(a_i - e_i) ln(a_i / e_i)` of [`psi`] (same floor).
fn psi_terms(expected: &[f64], actual: &[f64]) -> Vec<f64> {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(SHARE_FLOOR), a.max(SHARE_FLOOR));
            (a - e) * (a / e).ln()
        })
        .collect()
}

/// Interior cut points at the weighted quantiles `j / bins` (j = 1..bins-1) of the
/// non-NaN values: the smallest value whose cumulative weight share reaches `j /
/// bins` (the inverse of the empirical distribution function, type 1 of Hyndman &
/// Fan 1996). Ties collapse: a column with few distinct values has fewer bins.
pub(crate) fn quantile_edges(values: &[f64], weights: &[f64], bins: usize) -> Vec<f64> {
    let mut v: Vec<(f64, f64)> = values
        .iter()
        .zip(weights)
        .filter(|(x, w)| !x.is_nan() && **w > 0.0)
        .map(|(&x, &w)| (x, w))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|p| p.1).sum();
    let mut edges: Vec<f64> = Vec::new();
    if total <= 0.0 {
        return edges;
    }
    let (mut cum, mut k) = (0.0, 0);
    for j in 1..bins {
        let target = total * j as f64 / bins as f64;
        while k < v.len() && cum + v[k].1 < target * (1.0 - 1e-12) {
            cum += v[k].1;
            k += 1;
        }
        let Some(&(x, _)) = v.get(k) else { break };
        // The top value as an edge would leave the last bin empty by construction.
        if edges.last() != Some(&x) && x < v[v.len() - 1].0 {
            edges.push(x);
        }
    }
    edges
}

/// Weighted shares of `values` in the bins of `edges` (see [`Cut::Numeric`]); NaN
/// goes to the last (missing) bin. All zero when there is no weight.
pub(crate) fn numeric_shares(edges: &[f64], values: &[f64], weights: &[f64]) -> Vec<f64> {
    let mut s = vec![0.0; edges.len() + 2];
    for (&x, &w) in values.iter().zip(weights) {
        let b = if x.is_nan() {
            edges.len() + 1
        } else {
            edges.partition_point(|&e| e < x)
        };
        s[b] += w;
    }
    normalize(s)
}

/// Weighted shares of a categorical over `levels`, the last bin for any other level:
/// `codes[i]` is row `i`'s code into `dictionary`. Each code's bin is looked up once,
/// then the weights are summed in row order (no string per row).
pub(crate) fn categorical_shares(
    levels: &[String],
    dictionary: &[String],
    codes: &[u32],
    weights: &[f64],
) -> Vec<f64> {
    let bin: Vec<usize> = dictionary
        .iter()
        .map(|d| levels.iter().position(|l| l == d).unwrap_or(levels.len()))
        .collect();
    let mut s = vec![0.0; levels.len() + 1];
    for (&c, &w) in codes.iter().zip(weights) {
        s[bin[c as usize]] += w;
    }
    normalize(s)
}

/// The levels of a categorical seen in `codes`, most weight first (then by name).
fn categorical_levels(dictionary: &[String], codes: &[u32], weights: &[f64]) -> Vec<String> {
    let mut weight = vec![0.0; dictionary.len()];
    let mut seen = vec![false; dictionary.len()];
    for (&c, &w) in codes.iter().zip(weights) {
        weight[c as usize] += w;
        seen[c as usize] = true;
    }
    let mut levels: Vec<(&String, f64)> = dictionary
        .iter()
        .zip(weight)
        .zip(seen)
        .filter(|(_, s)| *s)
        .map(|(l, _)| l)
        .collect();
    levels.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    levels.into_iter().map(|(l, _)| l.clone()).collect()
}

fn normalize(mut s: Vec<f64>) -> Vec<f64> {
    let total: f64 = s.iter().sum();
    if total > 0.0 {
        s.iter_mut().for_each(|x| *x /= total);
    }
    s
}

/// The rows of one window: which rows of the table, their weights (the inverse
/// sampling rate for the downsampled training rows, 1 elsewhere) and their scores.
pub(crate) struct Window<'a> {
    pub(crate) table: &'a FeatureTable,
    pub(crate) rows: &'a [usize],
    pub(crate) weights: &'a [f64],
    pub(crate) scores: &'a [f64],
}

impl<'a> Window<'a> {
    /// Every column's name: the numeric features, the categoricals, the score.
    fn names(&self) -> Vec<String> {
        NUMERIC_FEATURES
            .iter()
            .map(|n| n.to_string())
            .chain(self.table.categoricals.iter().map(|c| c.name.clone()))
            .chain([SCORE.to_string()])
            .collect()
    }

    /// Column `k` of [`Self::names`], built when asked: one at a time, since the
    /// training window's columns together weigh as much as its feature table.
    fn column(&self, k: usize) -> Column<'a> {
        let n_num = NUMERIC_FEATURES.len();
        let n_cat = self.table.categoricals.len();
        if k < n_num {
            let col = &self.table.numeric;
            Column::Numeric(self.rows.iter().map(|&i| col.get(i, k)).collect())
        } else if k < n_num + n_cat {
            let c = &self.table.categoricals[k - n_num];
            Column::Categorical {
                dictionary: &c.dictionary,
                codes: self.rows.iter().map(|&i| c.codes[i]).collect(),
            }
        } else {
            Column::Numeric(self.scores.to_vec())
        }
    }
}

enum Column<'a> {
    Numeric(Vec<f64>),
    /// The rows' codes into the column's dictionary.
    Categorical {
        dictionary: &'a [String],
        codes: Vec<u32>,
    },
}

/// Cuts the bins of every column on `w` (deciles for numbers, the levels seen for
/// categoricals, most frequent first) and keeps `w`'s shares as the reference.
pub(crate) fn reference(window: &str, w: &Window<'_>) -> DriftReference {
    let mut r = features_reference(window, w);
    r.columns.push(bins_of(
        SCORE.into(),
        w.column(w.names().len() - 1),
        w.weights,
    ));
    r
}

/// [`reference`] without the score's column: the features of a window whose scores
/// come later (the training rows, whose table goes before the model is fitted).
/// [`with_score`] adds it.
pub(crate) fn features_reference(window: &str, w: &Window<'_>) -> DriftReference {
    let names = w.names();
    let columns = names[..names.len() - 1]
        .iter()
        .enumerate()
        .map(|(k, name)| bins_of(name.clone(), w.column(k), w.weights))
        .collect();
    DriftReference {
        window: window.into(),
        columns,
    }
}

/// `r` with the score's column cut on `scores` (weights `weights`), as [`reference`]
/// cuts it.
pub(crate) fn with_score(mut r: DriftReference, scores: &[f64], weights: &[f64]) -> DriftReference {
    r.columns.retain(|c| c.name != SCORE);
    r.columns.push(bins_of(
        SCORE.into(),
        Column::Numeric(scores.to_vec()),
        weights,
    ));
    r
}

fn bins_of(name: String, col: Column<'_>, weights: &[f64]) -> ColumnBins {
    match col {
        Column::Numeric(v) => {
            let edges = quantile_edges(&v, weights, NUMERIC_BINS);
            let shares = numeric_shares(&edges, &v, weights);
            ColumnBins {
                name,
                cut: Cut::Numeric { edges },
                shares,
            }
        }
        Column::Categorical { dictionary, codes } => {
            let levels = categorical_levels(dictionary, &codes, weights);
            let shares = categorical_shares(&levels, dictionary, &codes, weights);
            ColumnBins {
                name,
                cut: Cut::Categorical { levels },
                shares,
            }
        }
    }
}

/// PSI of every column of `w` against `r` (columns `w` lacks are left out), one
/// [`DriftRow`] each, flagged above `warn`.
pub(crate) fn compare(
    comparison: &str,
    r: &DriftReference,
    w: &Window<'_>,
    warn: f64,
) -> Result<Vec<DriftRow>> {
    let names = w.names();
    let mut out = Vec::new();
    for bins in &r.columns {
        let Some(k) = names.iter().position(|n| *n == bins.name) else {
            continue;
        };
        let shares = match (&bins.cut, w.column(k)) {
            (Cut::Numeric { edges }, Column::Numeric(v)) => numeric_shares(edges, &v, w.weights),
            (Cut::Categorical { levels }, Column::Categorical { dictionary, codes }) => {
                categorical_shares(levels, dictionary, &codes, w.weights)
            }
            _ => continue,
        };
        // An empty window (or reference) has no distribution to compare.
        if shares.iter().sum::<f64>() == 0.0 || bins.shares.iter().sum::<f64>() == 0.0 {
            continue;
        }
        let value = psi(&bins.shares, &shares)?;
        let terms = psi_terms(&bins.shares, &shares);
        let top = (0..terms.len())
            .max_by(|&a, &b| terms[a].total_cmp(&terms[b]))
            .unwrap_or(0);
        let across_time =
            comparison == TRAIN_VS_TEST && CALENDAR_FEATURES.contains(&bins.name.as_str());
        out.push(DriftRow {
            note: if across_time && value > warn {
                "grows with the calendar: train and test windows differ by construction".into()
            } else {
                String::new()
            },
            comparison: comparison.into(),
            reference: r.window.clone(),
            column: bins.name.clone(),
            psi: value,
            bins: bins.cut.len(),
            top_bin: bin_label(&bins.cut, top),
            top_bin_reference_share: bins.shares[top],
            top_bin_current_share: shares[top],
            above_warn: value > warn && !across_time,
        });
    }
    Ok(out)
}

/// A readable name for bin `b` of a cut: `(1.5, 3]`, `missing`, `chat`, `other`.
fn bin_label(cut: &Cut, b: usize) -> String {
    match cut {
        Cut::Numeric { edges } => {
            if b == edges.len() + 1 {
                "missing".into()
            } else if edges.is_empty() {
                "all".into()
            } else if b == 0 {
                format!("<= {}", edges[0])
            } else if b == edges.len() {
                format!("> {}", edges[b - 1])
            } else {
                format!("({}, {}]", edges[b - 1], edges[b])
            }
        }
        Cut::Categorical { levels } => levels.get(b).cloned().unwrap_or_else(|| "other".into()),
    }
}

/// Keeps `column`'s rows in the table but out of the warning, saying why (when it
/// was above the threshold).
pub(crate) fn set_aside(rows: &mut [DriftRow], column: &str, why: &str) {
    for r in rows
        .iter_mut()
        .filter(|r| r.column == column && r.above_warn)
    {
        r.above_warn = false;
        r.note = why.into();
    }
}

/// The rows above the threshold, highest PSI first.
pub(crate) fn flagged(rows: &[DriftRow]) -> Vec<&DriftRow> {
    let mut v: Vec<&DriftRow> = rows.iter().filter(|r| r.above_warn).collect();
    v.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_matches_hand_computed_values() {
        // (0.3-0.5) ln(0.3/0.5) + 0 + (0.4-0.2) ln(0.4/0.2)
        // = 0.2 * 0.510826 + 0.2 * 0.693147 = 0.2407946
        let v = psi(&[0.5, 0.3, 0.2], &[0.3, 0.3, 0.4]).unwrap();
        assert!((v - 0.240_794_560_865_187_2).abs() < 1e-12, "{v}");
        assert_eq!(psi(&[0.2, 0.8], &[0.2, 0.8]).unwrap(), 0.0);
        // Symmetric, non-negative.
        let w = psi(&[0.3, 0.3, 0.4], &[0.5, 0.3, 0.2]).unwrap();
        assert!((v - w).abs() < 1e-15);
        assert!(psi(&[0.5], &[0.5, 0.5]).is_err());
    }

    #[test]
    fn binned_fixture_matches_a_hand_computation() {
        // Reference 1..8 in quartiles: edges 2, 4, 6; each bin 2/8; nothing missing.
        let reference: Vec<f64> = (1..=8).map(f64::from).collect();
        let ones = vec![1.0; 8];
        let edges = quantile_edges(&reference, &ones, 4);
        assert_eq!(edges, vec![2.0, 4.0, 6.0]);
        let e = numeric_shares(&edges, &reference, &ones);
        assert_eq!(e, vec![0.25, 0.25, 0.25, 0.25, 0.0]);
        // Current [1,1,1,3,5,7,7,NaN]: shares 3/8, 1/8, 1/8, 2/8 and 1/8 missing.
        let current = [1.0, 1.0, 1.0, 3.0, 5.0, 7.0, 7.0, f64::NAN];
        let a = numeric_shares(&edges, &current, &ones);
        assert_eq!(a, vec![0.375, 0.125, 0.125, 0.25, 0.125]);
        // By hand (the empty missing bin floored at 1e-4):
        //   (0.375-0.25) ln(1.5)       = 0.0506831
        //   (0.125-0.25) ln(0.5)  x 2  = 0.0866434 x 2
        //   (0.25-0.25)                = 0
        //   (0.125-0.0001) ln(1250)    = 0.8906493
        // sum = 1.1146192
        let v = psi(&e, &a).unwrap();
        assert!((v - 1.114_619_197_557_520_6).abs() < 1e-12, "{v}");
    }

    #[test]
    fn weights_and_ties_shape_the_bins() {
        // A weight of 3 counts as three rows.
        let edges = quantile_edges(&[1.0, 2.0, 3.0, 4.0], &[3.0, 1.0, 1.0, 1.0], 2);
        assert_eq!(edges, vec![1.0]);
        // Ties collapse; a constant column has one bin plus missing.
        assert!(quantile_edges(&[5.0; 10], &[1.0; 10], 10).is_empty());
        assert_eq!(
            quantile_edges(&[0.0, 0.0, 0.0, 1.0, 2.0], &[1.0; 5], 4),
            vec![0.0, 1.0]
        );
        assert!(quantile_edges(&[f64::NAN], &[1.0], 4).is_empty());
        let levels = vec!["phone".to_string(), "chat".to_string()];
        let dictionary = ["fax", "phone", "chat"].map(String::from);
        let s = categorical_shares(&levels, &dictionary, &[1, 2, 0, 1], &[1.0; 4]);
        assert_eq!(s, vec![0.5, 0.25, 0.25]);
        // Levels: most weight first, ties by name; unseen codes are not levels.
        let weights = [1.0, 2.0, 1.0, 2.0, 1.0];
        let got = categorical_levels(&dictionary, &[1, 0, 2, 0, 2], &weights);
        assert_eq!(got, ["fax", "chat", "phone"]);
        let dictionary = ["unused", "b", "a"].map(String::from);
        assert_eq!(
            categorical_levels(&dictionary, &[1, 2], &[1.0, 1.0]),
            ["a", "b"]
        );
    }

    #[test]
    fn calendar_features_are_not_warned_on_across_time() {
        use crate::table::Categorical;
        // Rows 0-3 the reference, 4-7 the current window; tenure_days and the score
        // move completely, the channel does not.
        let n = NUMERIC_FEATURES.len();
        let mut numeric = vec![vec![1.0; 8]; n];
        let tenure = NUMERIC_FEATURES
            .iter()
            .position(|f| *f == "tenure_days")
            .unwrap();
        numeric[tenure] = vec![10.0, 20.0, 30.0, 40.0, 500.0, 510.0, 520.0, 530.0];
        let table = FeatureTable {
            numeric: crate::table::NumericRows::from_columns(&numeric).unwrap(),
            categoricals: vec![Categorical {
                name: "cat_channel".into(),
                dictionary: vec!["phone".into()],
                codes: vec![0; 8],
            }],
            ..FeatureTable::default()
        };
        let (ra, rb): (Vec<usize>, Vec<usize>) = ((0..4).collect(), (4..8).collect());
        let ones = vec![1.0; 4];
        let (sa, sb) = (vec![0.1, 0.2, 0.3, 0.4], vec![0.6, 0.7, 0.8, 0.9]);
        let a = Window {
            table: &table,
            rows: &ra,
            weights: &ones,
            scores: &sa,
        };
        let b = Window {
            table: &table,
            rows: &rb,
            weights: &ones,
            scores: &sb,
        };
        let r = reference("a", &a);
        for comparison in [TRAIN_VS_TEST, "previous_run_test_vs_test"] {
            let rows = compare(comparison, &r, &b, 0.2).unwrap();
            let get = |c: &str| rows.iter().find(|x| x.column == c).unwrap();
            assert!(get("tenure_days").psi > 0.2 && get(SCORE).above_warn);
            assert_eq!(get("tenure_days").above_warn, comparison != TRAIN_VS_TEST);
            assert_eq!(
                get("tenure_days").note.is_empty(),
                comparison != TRAIN_VS_TEST
            );
            assert!(!get("cat_channel").above_warn && get("cat_channel").psi == 0.0);
        }
    }

    #[test]
    fn bin_labels_read_as_intervals() {
        let c = Cut::Numeric {
            edges: vec![1.0, 3.0],
        };
        let labels: Vec<String> = (0..4).map(|b| bin_label(&c, b)).collect();
        assert_eq!(labels, ["<= 1", "(1, 3]", "> 3", "missing"]);
        let c = Cut::Categorical {
            levels: vec!["chat".into()],
        };
        assert_eq!(bin_label(&c, 1), "other");
    }
}
