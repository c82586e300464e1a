//! Word tokens of a description, the same in Rust and in Spark SQL: the part of a
//! description that survives a spelling the rules file does not know ("PWD RESET",
//! "claim denied - inbound", "Rx Question").
//!
//! A token is a run of ASCII letters and digits of the lower-cased text; stop words
//! are dropped; a standard service-desk abbreviation is spelled out ([`ABBREVIATIONS`]);
//! any other token loses a plural `s` ([`strip_plural`]). [`tokens_sql`] is the same
//! function as a Spark SQL expression, so `score --in-spark` computes the same flags
//! (checked against Spark by the score-parity tests).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::{ParamGuard, Valid, checked};
use crate::table::DescriptionSets;

/// Prefix of every token flag column.
pub(crate) const PREFIX: &str = "tok_";

/// Words that carry no topic.
const STOP_WORDS: &[&str] = &[
    "a", "about", "an", "and", "for", "in", "is", "my", "of", "on", "the", "to", "with",
];

/// Abbreviations common in call-centre category lists, and inflections of one word,
/// mapped to one spelling. Only general usage belongs here: a data set's own typos
/// are for `rules suggest` and the rules file.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("acct", "account"),
    ("addr", "address"),
    ("appt", "appointment"),
    ("auth", "authorization"),
    ("authorisation", "authorization"),
    ("chg", "change"),
    ("clm", "claim"),
    ("denial", "deny"),
    ("denied", "deny"),
    ("dr", "doctor"),
    ("elig", "eligibility"),
    ("enroll", "enrollment"),
    ("enrolment", "enrollment"),
    ("expl", "explanation"),
    ("gen", "general"),
    ("info", "information"),
    ("inq", "inquiry"),
    ("mbr", "member"),
    ("mgmt", "management"),
    ("mgr", "manager"),
    ("pharm", "pharmacy"),
    ("pmt", "payment"),
    ("preauth", "authorization"),
    ("pw", "password"),
    ("pwd", "password"),
    ("pymt", "payment"),
    ("q", "question"),
    ("req", "request"),
    ("rx", "pharmacy"),
    ("stat", "status"),
    ("xfer", "transfer"),
    ("xfr", "transfer"),
];

/// `claims` -> `claim`: a final `s` goes when at least three characters stay and the
/// one before it is not `s`, `u` or `i` (so `status`, `address`, `analysis` stay).
fn strip_plural(w: &str) -> &str {
    let b = w.as_bytes();
    if b.len() >= 4 && b[b.len() - 1] == b's' && !matches!(b[b.len() - 2], b's' | b'u' | b'i') {
        &w[..w.len() - 1]
    } else {
        w
    }
}

/// One raw token, normalized: its abbreviation's spelling, or without a plural `s`.
fn normalize_token(w: &str) -> String {
    match ABBREVIATIONS.binary_search_by(|(k, _)| k.cmp(&w)) {
        Ok(i) => ABBREVIATIONS[i].1.to_string(),
        Err(_) => strip_plural(w).to_string(),
    }
}

/// The distinct normalized tokens of a description, sorted.
pub fn tokenize(text: &str) -> BTreeSet<String> {
    text.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(w))
        .map(normalize_token)
        .collect()
}

/// [`tokenize`] of the SQL string expression `text` as a Spark SQL `array<string>`
/// expression (duplicates kept; only membership is asked of it). `lower` folds ASCII
/// as Rust does; a non-ASCII letter is a separator in both.
pub fn tokens_sql(text: &str) -> String {
    let stop = STOP_WORDS
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut case = String::from("case w");
    for (k, v) in ABBREVIATIONS {
        case.push_str(&format!(" when '{k}' then '{v}'"));
    }
    case.push_str(" else regexp_replace(w, '^([a-z0-9]{2,}[a-rt-z0-9&&[^ui]])s$', '$1') end");
    format!(
        "transform(filter(split(lower({text}), '[^a-z0-9]+'), w -> w != '' and not array_contains(array({stop}), w)), w -> {case})"
    )
}

/// Parameters of the token flags: one 0/1 column per frequent token (unchecked;
/// [`ParamGuard::check`] gives the [`TokenValidParams`] that fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenParams {
    /// Keep at most this many tokens (0: no token flags).
    pub top_n: usize,
    /// A token needs at least this many training interactions (>= 1).
    pub min_support: usize,
}

/// One token flag column: 1 when any description of the interaction has the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenColumn {
    pub(crate) token: String,
    pub(crate) name: String,
    /// Training interactions with the token.
    pub(crate) train_count: usize,
}

/// A frequent token left without a column because its training column equals an
/// earlier one (a description flag, or another token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TokenDuplicate {
    pub(crate) token: String,
    /// The column it duplicates.
    same_as: String,
}

/// The fitted token flags, in column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FittedTokens {
    pub(crate) columns: Vec<TokenColumn>,
    #[serde(default)]
    duplicates: Vec<TokenDuplicate>,
}

/// Checked [`TokenParams`].
pub(crate) type TokenValidParams = Valid<TokenParams>;

impl ParamGuard for TokenParams {
    type Checked = TokenValidParams;

    /// `min_support` must be at least 1 (any `top_n`; 0 is no token flags).
    fn check_ref(&self) -> Result<()> {
        if self.min_support == 0 {
            return Err(Error::params("min_support", "at least 1", 0));
        }
        Ok(())
    }

    fn check(self) -> Result<TokenValidParams> {
        checked(self)
    }
}

impl TokenValidParams {
    /// Counts, over `rows` of `sets`, the interactions whose descriptions hold each
    /// token, and keeps the `top_n` most frequent with at least `min_support` (ties
    /// by token).
    pub(crate) fn fit_sets(&self, sets: &DescriptionSets, rows: &[usize]) -> Result<FittedTokens> {
        let per_entry: Vec<Vec<String>> = sets
            .dictionary
            .iter()
            .map(|d| tokenize(d).into_iter().collect())
            .collect();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let mut row_tokens: BTreeSet<&str> = BTreeSet::new();
        for &i in rows {
            row_tokens.clear();
            for &id in &sets.ids[sets.offsets[i]..sets.offsets[i + 1]] {
                row_tokens.extend(per_entry[id as usize].iter().map(String::as_str));
            }
            for t in &row_tokens {
                *counts.entry(t).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> = counts
            .into_iter()
            .filter(|(_, c)| *c >= self.min_support)
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        ranked.truncate(self.top_n);
        Ok(FittedTokens {
            duplicates: Vec::new(),
            columns: ranked
                .into_iter()
                .map(|(t, c)| TokenColumn {
                    token: t.to_string(),
                    // Tokens are [a-z0-9]+, already safe in a column name.
                    name: format!("{PREFIX}{t}"),
                    train_count: c,
                })
                .collect(),
        })
    }
}

impl FittedTokens {
    /// Drops every token whose column over the training rows is identical to an
    /// earlier column: one of `existing` (name, sorted training row positions — the
    /// description flags), or a token kept before it. With the rules complete, a
    /// one-word description's token ("complaint") is its description flag again;
    /// an exact copy adds nothing to the fit but a flat direction (beta_a - beta_b)
    /// that only the penalty holds, and at large C the solver crawls along it.
    /// `rows_of(k)` gives token column k's sorted training row positions.
    pub(crate) fn without_duplicates(
        mut self,
        existing: &[(String, Vec<u32>)],
        rows_of: impl Fn(usize) -> Vec<u32>,
    ) -> FittedTokens {
        let mut seen: std::collections::HashMap<Vec<u32>, String> = existing
            .iter()
            .rev() // the first of equal description columns names the duplicate
            .map(|(n, r)| (r.clone(), n.clone()))
            .collect();
        let mut kept = Vec::new();
        for (k, c) in std::mem::take(&mut self.columns).into_iter().enumerate() {
            let rows = rows_of(k);
            match seen.get(&rows) {
                Some(same_as) => self.duplicates.push(TokenDuplicate {
                    token: c.token,
                    same_as: same_as.clone(),
                }),
                None => {
                    seen.insert(rows, c.name.clone());
                    kept.push(c);
                }
            }
        }
        self.columns = kept;
        self
    }

    pub(crate) fn n_features(&self) -> usize {
        self.columns.len()
    }

    pub(crate) fn feature_names(&self) -> impl Iterator<Item = String> + '_ {
        self.columns.iter().map(|c| c.name.clone())
    }

    /// The token columns of each dictionary entry, for [`Self::transform_ids`].
    pub(crate) fn lookup(&self, dictionary: &[String]) -> Vec<Vec<usize>> {
        let index: BTreeMap<&str, usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(k, c)| (c.token.as_str(), k))
            .collect();
        dictionary
            .iter()
            .map(|d| {
                tokenize(d)
                    .iter()
                    .filter_map(|t| index.get(t.as_str()).copied())
                    .collect()
            })
            .collect()
    }

    /// One row's flags from its description ids; `out` has [`Self::n_features`] slots.
    pub(crate) fn transform_ids(&self, ids: &[u32], lookup: &[Vec<usize>], out: &mut [f64]) {
        out.fill(0.0);
        for &id in ids {
            for &c in &lookup[id as usize] {
                out[c] = 1.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_flags_count_interactions_and_survive_unseen_spellings() {
        let sets = DescriptionSets {
            dictionary: vec![
                "password reset".into(),
                "pwd reset".into(),
                "claim status".into(),
                "claims status - inbound".into(),
            ],
            // rows: {0}, {1, 0}, {2}, {3}, {2, 3}
            offsets: vec![0, 1, 3, 4, 5, 7],
            ids: vec![0, 1, 0, 2, 3, 2, 3],
        };
        let fitted = TokenParams {
            top_n: 3,
            min_support: 2,
        }
        .check()
        .unwrap()
        .fit_sets(&sets, &[0, 1, 2, 3, 4])
        .unwrap();
        let got: Vec<(&str, usize)> = fitted
            .columns
            .iter()
            .map(|c| (c.token.as_str(), c.train_count))
            .collect();
        // claim and status: rows 2, 3, 4; password, reset: rows 0, 1 (once each);
        // inbound: rows 3, 4. Top 3 by count, ties by token.
        assert_eq!(got, [("claim", 3), ("status", 3), ("inbound", 2)]);
        let unseen = vec!["clm stat".to_string(), "reset".to_string()];
        let lookup = fitted.lookup(&unseen);
        let mut out = vec![0.0; 3];
        fitted.transform_ids(&[0], &lookup, &mut out);
        assert_eq!(
            out,
            [1.0, 1.0, 0.0],
            "an unseen abbreviation still sets claim and status"
        );
        fitted.transform_ids(&[1], &lookup, &mut out);
        assert_eq!(out, [0.0; 3]);

        // claim and status are set on the same rows (2, 3, 4): status goes; inbound
        // equals a description column given as existing.
        let rows = [vec![2, 3, 4], vec![2, 3, 4], vec![3, 4]];
        let deduped =
            fitted.without_duplicates(&[("pydesc_x".into(), vec![3, 4])], |k| rows[k].clone());
        let kept: Vec<&str> = deduped.columns.iter().map(|c| c.token.as_str()).collect();
        assert_eq!(kept, ["claim"]);
        assert_eq!(
            deduped.duplicates,
            [
                TokenDuplicate {
                    token: "status".into(),
                    same_as: "tok_claim".into()
                },
                TokenDuplicate {
                    token: "inbound".into(),
                    same_as: "pydesc_x".into()
                }
            ]
        );
    }

    #[test]
    fn abbreviations_are_sorted_for_the_binary_search() {
        assert!(ABBREVIATIONS.windows(2).all(|p| p[0].0 < p[1].0));
        // No abbreviation maps to another abbreviation (one step is enough).
        for (_, v) in ABBREVIATIONS {
            assert!(
                ABBREVIATIONS.binary_search_by(|(k, _)| k.cmp(v)).is_err(),
                "{v}"
            );
        }
    }

    #[test]
    fn known_answers() {
        let t = |s: &str| tokenize(s).into_iter().collect::<Vec<_>>();
        assert_eq!(t("PWD RESET"), ["password", "reset"]);
        assert_eq!(
            t("Claims  Status - inbound"),
            ["claim", "inbound", "status"]
        );
        assert_eq!(t("claim denied (transfer"), ["claim", "deny", "transfer"]);
        assert_eq!(t("Rx Question"), ["pharmacy", "question"]);
        assert_eq!(t("XFER"), ["transfer"]);
        assert_eq!(t("change of address"), ["address", "change"]);
        assert_eq!(t("e.o.b."), ["b", "e", "o"]);
        assert_eq!(t("réclamation"), ["clamation", "r"]);
        assert!(t("  -- ").is_empty());
        assert_eq!(strip_plural("benefits"), "benefit");
        for w in ["status", "address", "analysis", "gas", "bus"] {
            assert_eq!(strip_plural(w), w);
        }
    }

    #[test]
    fn min_support_out_of_range_is_named() {
        let e = TokenParams {
            top_n: 3,
            min_support: 0,
        }
        .check()
        .unwrap_err();
        assert_eq!(crate::params::param_name(&e), Some("min_support"), "{e}");
    }
}
