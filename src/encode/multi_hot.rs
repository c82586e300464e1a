//! Multi-hot description flags: one 0/1 column per canonical description among the
//! most frequent in the training window, and one `pydesc_other` column for every
//! other description (rare at fit time, or never seen).
//!
//! Column names are safe identifiers (`pydesc_` + ASCII snake case, at most 60
//! characters, unique) because they end up as Spark/CSV column names and in
//! `coefficients.csv`; the map canonical description -> column is written to
//! `pydesc_to_safe_col_map.csv` by the caller from [`FittedMultiHot::mapping`].

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::{ParamGuard, Valid, checked};
use crate::table::DescriptionSets;

/// Prefix of every description flag column.
pub(super) const PREFIX: &str = "pydesc_";
/// The flag for descriptions that have no column of their own.
const OTHER_COLUMN: &str = "pydesc_other";
/// Longest column name, suffix included (short enough for any SQL engine and for a
/// readable CSV header).
pub(super) const MAX_NAME_LEN: usize = 60;
/// [`FittedMultiHot::lookup`] value of a blank description (it sets no flag).
pub(super) const SKIP: usize = usize::MAX;
/// Name body used when a description has no ASCII letter or digit at all.
const BLANK_BODY: &str = "blank";

/// Parameters of the description flags (unchecked; [`ParamGuard::check`] gives the
/// [`MultiHotValidParams`] that fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiHotParams {
    /// Keep at most this many descriptions as their own column (>= 1).
    pub top_n: usize,
    /// A description needs at least this many training interactions (>= 1) to get
    /// its own column; below it a coefficient would be noise.
    pub min_support: usize,
}

/// One description flag column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DescriptionColumn {
    /// The canonical description.
    pub(crate) canonical: String,
    /// The safe column name.
    pub(crate) name: String,
    /// Number of training interactions whose descriptions include it.
    pub(crate) train_count: usize,
}

/// A description seen at fit time without its own column (it sets `pydesc_other`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FoldedDescription {
    pub(crate) canonical: String,
    pub(crate) train_count: usize,
}

/// Fitted flags: the kept columns in column order, then `pydesc_other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "MultiHotRepr", into = "MultiHotRepr")]
pub struct FittedMultiHot {
    columns: Vec<DescriptionColumn>,
    folded: Vec<FoldedDescription>,
    /// canonical -> column position; rebuilt on deserialization.
    index: HashMap<String, usize>,
}

/// What goes into `model.json` (the lookup index is derived).
#[derive(Serialize, Deserialize)]
struct MultiHotRepr {
    columns: Vec<DescriptionColumn>,
    other_column: String,
    folded_into_other: Vec<FoldedDescription>,
}

impl From<MultiHotRepr> for FittedMultiHot {
    fn from(r: MultiHotRepr) -> Self {
        FittedMultiHot::new(r.columns, r.folded_into_other)
    }
}

impl From<FittedMultiHot> for MultiHotRepr {
    fn from(f: FittedMultiHot) -> Self {
        MultiHotRepr {
            columns: f.columns,
            other_column: OTHER_COLUMN.to_owned(),
            folded_into_other: f.folded,
        }
    }
}

/// ASCII for the common accented Latin letters, so that "réclamation" reads
/// `reclamation` rather than `r_clamation`; any other non-ASCII character becomes a
/// separator.
fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        _ => return None,
    })
}

/// Cuts an ASCII name to `max` bytes and drops the underscores the cut may leave at
/// the end.
fn truncate_name(name: &str, max: usize) -> &str {
    name[..name.len().min(max)].trim_end_matches('_')
}

/// The safe column name of a description, before uniqueness is enforced:
/// `pydesc_` + lower-case ASCII letters and digits, every run of other characters
/// one `_`, no leading or trailing `_`, cut to [`MAX_NAME_LEN`]; `pydesc_blank` when
/// nothing is left. Accented Latin letters lose their accent; other non-ASCII
/// characters act as separators.
fn safe_column_name(description: &str) -> String {
    let mut body = String::with_capacity(description.len());
    let mut pending_sep = false;
    for c in description.chars() {
        let mut buf = [0_u8; 4];
        let piece: &str = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase().encode_utf8(&mut buf)
        } else if let Some(s) = fold_latin(c) {
            s
        } else {
            pending_sep = true;
            continue;
        };
        // One `_` per run of separators, none before the first word.
        if pending_sep && !body.is_empty() {
            body.push('_');
        }
        pending_sep = false;
        body.push_str(piece);
    }
    if body.is_empty() {
        body.push_str(BLANK_BODY);
    }
    let name = format!("{PREFIX}{body}");
    truncate_name(&name, MAX_NAME_LEN).to_owned()
}

/// Makes `base` unique among `taken` with `_2`, `_3`, ... (cutting the base so the
/// name stays within [`MAX_NAME_LEN`]), and records it.
fn unique_name(base: String, taken: &mut HashSet<String>) -> String {
    let name = if taken.contains(&base) {
        (2_usize..)
            .map(|k| {
                let suffix = format!("_{k}");
                format!(
                    "{}{suffix}",
                    truncate_name(&base, MAX_NAME_LEN - suffix.len())
                )
            })
            .find(|candidate| !taken.contains(candidate))
            .unwrap_or(base) // (2..) is unbounded, so a free name is always found
    } else {
        base
    };
    taken.insert(name.clone());
    name
}

/// The distinct, non-empty descriptions of one row. Empty (or all-blank) strings
/// stand for a missing description and are ignored.
#[cfg(test)]
fn distinct(row: &[String]) -> impl Iterator<Item = &str> {
    let mut seen = HashSet::new();
    row.iter()
        .map(String::as_str)
        .filter(move |d| !d.trim().is_empty() && seen.insert(*d))
}

/// Checked [`MultiHotParams`].
pub(crate) type MultiHotValidParams = Valid<MultiHotParams>;

impl ParamGuard for MultiHotParams {
    type Checked = MultiHotValidParams;

    /// Both bounds must be at least 1.
    fn check_ref(&self) -> Result<()> {
        if self.top_n == 0 {
            return Err(Error::params("top_n", "at least 1", 0));
        }
        if self.min_support == 0 {
            return Err(Error::params("min_support", "at least 1", 0));
        }
        Ok(())
    }

    fn check(self) -> Result<MultiHotValidParams> {
        checked(self)
    }
}

impl MultiHotValidParams {
    /// Learns the columns from the training rows (each row: the set of canonical
    /// descriptions of one interaction).
    ///
    /// A description's count is the number of rows that contain it (a row counts
    /// once however often it repeats the description). Descriptions are ranked by
    /// count, descending, ties by name ascending; those with at least `min_support`
    /// rows take the first `top_n` columns, in that order. Names are assigned in the
    /// same order, `pydesc_other` being reserved first, so collisions are resolved
    /// the same way on every run.
    #[cfg(test)]
    pub(crate) fn fit(&self, rows: &[Vec<String>]) -> Result<FittedMultiHot> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for row in rows {
            for d in distinct(row) {
                *counts.entry(d).or_default() += 1;
            }
        }
        Ok(self.fit_counts(counts.into_iter().collect()))
    }

    /// [`Self::fit`] on the rows `rows` of description sets held as dictionary ids
    /// (the feature table's layout), without building a string per row: the same
    /// columns as `fit` on the decoded rows. Dictionary entries must be distinct.
    pub(crate) fn fit_sets(
        &self,
        sets: &DescriptionSets,
        rows: &[usize],
    ) -> Result<FittedMultiHot> {
        let dict = &sets.dictionary;
        let mut counts = vec![0_usize; dict.len()];
        // `last_row[id]` is the last row (plus one) that counted `id`: a row counts
        // a description once however often it repeats it.
        let mut last_row = vec![0_usize; dict.len()];
        let blank: Vec<bool> = dict.iter().map(|d| d.trim().is_empty()).collect();
        for (k, &i) in rows.iter().enumerate() {
            for &id in &sets.ids[sets.offsets[i]..sets.offsets[i + 1]] {
                let id = id as usize;
                if !blank[id] && last_row[id] != k + 1 {
                    last_row[id] = k + 1;
                    counts[id] += 1;
                }
            }
        }
        Ok(self.fit_counts(
            dict.iter()
                .zip(counts)
                .filter(|(_, c)| *c > 0)
                .map(|(d, c)| (d.as_str(), c))
                .collect(),
        ))
    }

    /// Ranks `(description, row count)` pairs and assigns the columns.
    fn fit_counts(&self, mut ranked: Vec<(&str, usize)>) -> FittedMultiHot {
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));

        let mut taken = HashSet::from([OTHER_COLUMN.to_owned()]);
        let mut columns = Vec::new();
        let mut folded = Vec::new();
        for (canonical, train_count) in ranked {
            if columns.len() < self.top_n && train_count >= self.min_support {
                columns.push(DescriptionColumn {
                    canonical: canonical.to_owned(),
                    name: unique_name(safe_column_name(canonical), &mut taken),
                    train_count,
                });
            } else {
                folded.push(FoldedDescription {
                    canonical: canonical.to_owned(),
                    train_count,
                });
            }
        }
        FittedMultiHot::new(columns, folded)
    }
}

impl FittedMultiHot {
    fn new(columns: Vec<DescriptionColumn>, folded: Vec<FoldedDescription>) -> Self {
        let index = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.canonical.clone(), i))
            .collect();
        FittedMultiHot {
            columns,
            folded,
            index,
        }
    }

    /// Number of output columns: the kept descriptions plus `pydesc_other`.
    pub fn n_features(&self) -> usize {
        self.columns.len() + 1
    }

    /// Output column names, in output order (`pydesc_other` last).
    pub fn feature_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| c.name.clone())
            .chain(std::iter::once(OTHER_COLUMN.to_owned()))
            .collect()
    }

    /// The kept description columns, in output order.
    pub(crate) fn columns(&self) -> &[DescriptionColumn] {
        &self.columns
    }

    /// Rows of `pydesc_to_safe_col_map.csv`: `(canonical, column, train_count)` for
    /// every description seen at fit time, the kept ones first in column order, then
    /// those folded into `pydesc_other` (by count, descending, then name).
    pub(crate) fn mapping(&self) -> Vec<(String, String, usize)> {
        self.columns
            .iter()
            .map(|c| (c.canonical.clone(), c.name.clone(), c.train_count))
            .chain(
                self.folded
                    .iter()
                    .map(|f| (f.canonical.clone(), OTHER_COLUMN.to_owned(), f.train_count)),
            )
            .collect()
    }

    /// The output column of each dictionary entry, for [`Self::transform_ids`]:
    /// its own column, `pydesc_other`, or [`SKIP`] for a blank description.
    pub(crate) fn lookup(&self, dictionary: &[String]) -> Vec<usize> {
        let other = self.columns.len();
        dictionary
            .iter()
            .map(|d| {
                if d.trim().is_empty() {
                    SKIP
                } else {
                    self.index.get(d.as_str()).copied().unwrap_or(other)
                }
            })
            .collect()
    }

    /// [`Self::transform_row`] for a row of dictionary ids, with the column of each
    /// id from [`Self::lookup`]: no string is hashed or allocated. `out` must have
    /// [`Self::n_features`] slots (the caller sizes it; checked in debug builds).
    pub(crate) fn transform_ids(&self, ids: &[u32], lookup: &[usize], out: &mut [f64]) {
        debug_assert_eq!(out.len(), self.n_features());
        out.fill(0.0);
        for &id in ids {
            let c = lookup[id as usize];
            if c != SKIP {
                out[c] = 1.0;
            }
        }
    }

    /// Writes one row's flags into `out` (length [`FittedMultiHot::n_features`]):
    /// 1 for each kept description present, 1 in `pydesc_other` if any other
    /// description is present (rare at fit time or unseen), 0 elsewhere. A row
    /// without descriptions is all zeros.
    #[cfg(test)]
    pub(crate) fn transform_row(&self, row: &[String], out: &mut [f64]) -> Result<()> {
        if out.len() != self.n_features() {
            return Err(Error::params(
                "out",
                format!("{} description flag slots", self.n_features()),
                out.len(),
            ));
        }
        out.fill(0.0);
        let other = self.columns.len();
        for d in distinct(row) {
            out[self.index.get(d).copied().unwrap_or(other)] = 1.0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn fit_sets_and_transform_ids_match_the_string_path() {
        let dictionary = s(&["billing", "login", "  ", "card lost", "rare one"]);
        // Rows as ids (a repeat and a blank included), and the same rows as strings.
        let id_rows: Vec<Vec<u32>> = vec![
            vec![0, 1],
            vec![0, 0, 2],
            vec![3],
            vec![],
            vec![1, 4],
            vec![0, 3],
        ];
        let mut sets = DescriptionSets {
            dictionary: dictionary.clone(),
            offsets: vec![0],
            ids: Vec::new(),
        };
        for r in &id_rows {
            sets.ids.extend(r);
            sets.offsets.push(sets.ids.len());
        }
        let str_rows: Vec<Vec<String>> = id_rows
            .iter()
            .map(|r| r.iter().map(|&i| dictionary[i as usize].clone()).collect())
            .collect();
        let params = MultiHotParams {
            top_n: 2,
            min_support: 1,
        }
        .check()
        .unwrap();
        let rows: Vec<usize> = (0..id_rows.len()).collect();
        let by_ids = params.fit_sets(&sets, &rows).unwrap();
        assert_eq!(by_ids, params.fit(&str_rows).unwrap());
        let lookup = by_ids.lookup(&dictionary);
        for (ids, strs) in id_rows.iter().zip(&str_rows) {
            let mut a = vec![9.0; by_ids.n_features()];
            let mut b = vec![9.0; by_ids.n_features()];
            by_ids.transform_ids(ids, &lookup, &mut a);
            by_ids.transform_row(strs, &mut b).unwrap();
            assert_eq!(a, b, "{strs:?}");
        }
        // A subset of rows counts only those rows.
        let sub = params.fit_sets(&sets, &[2, 5]).unwrap();
        assert_eq!(
            sub,
            params
                .fit(&[str_rows[2].clone(), str_rows[5].clone()])
                .unwrap()
        );
    }

    #[test]
    fn safe_names() {
        assert_eq!(
            safe_column_name("Billing Dispute!!"),
            "pydesc_billing_dispute"
        );
        assert_eq!(
            safe_column_name("  card -- lost/stolen "),
            "pydesc_card_lost_stolen"
        );
        assert_eq!(
            safe_column_name("réclamation façade"),
            "pydesc_reclamation_facade"
        );
        assert_eq!(safe_column_name("日本 login"), "pydesc_login");
        assert_eq!(safe_column_name("a__b"), "pydesc_a_b");
        assert_eq!(safe_column_name("???"), "pydesc_blank");
        assert_eq!(safe_column_name(""), "pydesc_blank");
        assert_eq!(safe_column_name("3rd party"), "pydesc_3rd_party");
        let long = safe_column_name(&"word ".repeat(30));
        assert!(long.len() <= MAX_NAME_LEN);
        assert!(!long.ends_with('_'));
        assert!(long.starts_with("pydesc_word_word"));
    }

    #[test]
    fn names_are_unique_including_other() {
        let rows = vec![
            s(&["a-b", "a b", "other", "A B"]),
            s(&["a-b", "a b", "other"]),
            s(&["a-b", "a b"]),
            s(&["a-b"]),
        ];
        let f = MultiHotParams {
            top_n: 10,
            min_support: 1,
        }
        .check()
        .unwrap()
        .fit(&rows)
        .unwrap();
        assert_eq!(
            f.feature_names(),
            vec![
                "pydesc_a_b",
                "pydesc_a_b_2",
                "pydesc_other_2",
                "pydesc_a_b_3",
                "pydesc_other"
            ]
        );
        // Long names that collide keep the 60-character limit with their suffix.
        let long = "x".repeat(80);
        let rows = vec![s(&[&format!("{long}1"), &format!("{long}2")])];
        let f = MultiHotParams {
            top_n: 5,
            min_support: 1,
        }
        .check()
        .unwrap()
        .fit(&rows)
        .unwrap();
        let names = f.feature_names();
        assert_eq!(names[0].len(), MAX_NAME_LEN);
        assert_eq!(names[1].len(), MAX_NAME_LEN);
        assert!(names[1].ends_with("_2"));
        assert_ne!(names[0], names[1]);
    }

    #[test]
    fn top_n_by_row_count_ties_by_name_and_min_support() {
        let rows = vec![
            s(&["b", "a", "a"]), // "a" counts once here
            s(&["b", "a"]),
            s(&["c", "d"]),
            s(&["c", "e"]),
            s(&[]),
        ];
        let p = MultiHotParams {
            top_n: 3,
            min_support: 2,
        }
        .check()
        .unwrap();
        let f = p.fit(&rows).unwrap();
        // a, b, c all have 2 rows: by name. d and e (1 row) are below min_support.
        assert_eq!(
            f.mapping(),
            vec![
                ("a".into(), "pydesc_a".into(), 2),
                ("b".into(), "pydesc_b".into(), 2),
                ("c".into(), "pydesc_c".into(), 2),
                ("d".into(), OTHER_COLUMN.into(), 1),
                ("e".into(), OTHER_COLUMN.into(), 1),
            ]
        );
        let f = MultiHotParams {
            top_n: 2,
            min_support: 1,
        }
        .check()
        .unwrap()
        .fit(&rows)
        .unwrap();
        assert_eq!(
            f.feature_names(),
            vec!["pydesc_a", "pydesc_b", OTHER_COLUMN]
        );
    }

    #[test]
    fn transform_flags_other_unseen_and_empty() {
        let rows = vec![s(&["a", "b"]), s(&["a"]), s(&["c"])];
        let f = MultiHotParams {
            top_n: 1,
            min_support: 1,
        }
        .check()
        .unwrap()
        .fit(&rows)
        .unwrap();
        let mut out = vec![9.0; f.n_features()];
        f.transform_row(&s(&["a"]), &mut out).unwrap();
        assert_eq!(out, vec![1.0, 0.0]);
        f.transform_row(&s(&["b", "a"]), &mut out).unwrap();
        assert_eq!(out, vec![1.0, 1.0]);
        f.transform_row(&s(&["never seen"]), &mut out).unwrap();
        assert_eq!(out, vec![0.0, 1.0]);
        f.transform_row(&s(&[]), &mut out).unwrap();
        assert_eq!(out, vec![0.0, 0.0]);
        f.transform_row(&s(&["", "  "]), &mut out).unwrap();
        assert_eq!(out, vec![0.0, 0.0]);
        assert!(f.transform_row(&s(&["a"]), &mut [0.0]).is_err());
    }

    #[test]
    fn params_out_of_range_name_the_parameter_and_fit_round_trips() {
        for (bad, name) in [
            (
                MultiHotParams {
                    top_n: 0,
                    min_support: 1,
                },
                "top_n",
            ),
            (
                MultiHotParams {
                    top_n: 3,
                    min_support: 0,
                },
                "min_support",
            ),
        ] {
            let e = bad.check().unwrap_err();
            assert_eq!(crate::params::param_name(&e), Some(name), "{e}");
        }

        let f = MultiHotParams {
            top_n: 1,
            min_support: 1,
        }
        .check()
        .unwrap()
        .fit(&[s(&["Fee query", "x"]), s(&["Fee query"])])
        .unwrap();
        let json = serde_json::to_string(&f).unwrap();
        let back: FittedMultiHot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        let mut out = vec![0.0; 2];
        back.transform_row(&s(&["Fee query"]), &mut out).unwrap();
        assert_eq!(out, vec![1.0, 0.0]);
        // No training rows: only the other flag.
        let empty = MultiHotParams {
            top_n: 5,
            min_support: 1,
        }
        .check()
        .unwrap()
        .fit(&[])
        .unwrap();
        assert_eq!(empty.feature_names(), vec![OTHER_COLUMN]);
    }
}
