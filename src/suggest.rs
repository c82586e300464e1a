//! `rules suggest`: for each cleaned description that no rule matches, the nearest
//! canonical value of the rules file, with its similarity and the runner-up, and a
//! ready-to-edit rules file that adds one `exact` rule per proposal. Also which
//! unmatched variants carry enough events to deserve a rule (the audit's
//! `high_volume_unmatched` column). Pure and synchronous: audit rows and rules in,
//! rows and CSV bytes out.
//!
//! How a variant is compared with a canonical value:
//! - **References.** A canonical value `c` is known by its own name, the patterns of
//!   its `exact` rules, and the cleaned text of every variant the rules mapped to it
//!   in the data (the audit's matched rows). Each reference is a token set
//!   ([`tokenize`]: words, standard abbreviations spelled out, plurals folded).
//! - **Token weights (IDF over canonical groups).** With `N` canonical values and
//!   `df(t)` the number of them whose references contain token `t`,
//!   `w(t) = ln((N + 1) / (df(t) + 0.5))`. A word found under nearly every canonical
//!   (suffixes such as "inbound", "transfer", "callback", "follow", "up") weighs
//!   about 0; a word of one canonical weighs `ln((N + 1) / 1.5)`; a word of none
//!   (a typo) the most, `ln(2 (N + 1))`, so an unexplained word costs the most.
//! - **Token similarity.** `s(a, b) = 1` for equal tokens. A variant token that no
//!   reference uses (a typo or a truncation: "grievence", "referal", "griev", "dntl")
//!   and a reference token, both of at least 3 characters, score their Jaro-Winkler
//!   similarity [`jaro_winkler`] when it is at least `fuzzy_threshold` (default 0.85).
//!   Else 0: a word some reference uses is a word of its own, not a misspelling of
//!   another ("transfer" is not "transportation", "bill" not "billing").
//! - **Variant to reference: soft weighted Dice.** For the variant's tokens `U` and a
//!   reference's tokens `R`,
//!   `sim(U, R) = (Σ_{a∈U} w(a) max_{b∈R} s(a, b) + Σ_{b∈R} w(b) max_{a∈U} s(a, b))
//!               / (Σ_{a∈U} w(a) + Σ_{b∈R} w(b))`, in [0, 1]: 1 when both carry the
//!   same words, and each word on either side that the other lacks costs its weight.
//! - **Variant to canonical:** the best `sim` over the canonical's references (its
//!   nearest known spelling). The best canonical is proposed when its similarity is at
//!   least `min_similarity` (default 0.3) and strictly above the runner-up's; below,
//!   or on a tie, nothing is proposed rather than a guess.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::csv_rows;
use crate::encode::tokens::tokenize;
use crate::error::{Error, Result};
use crate::params::{ParamGuard, Valid, checked};
use crate::rules::{MatchKind, Rules, clean_text};

/// The audit's rule name for a cleaned value that no rule matched.
const UNMATCHED_RULE: &str = "(unmatched)";
/// The audit's rule name for a null or empty description.
const MISSING_RULE: &str = "(missing)";

/// `high_volume_unmatched`: the unmatched variants that together hold this share of
/// the unmatched events, largest first...
const HIGH_VOLUME_COVER: f64 = 0.8;
/// ...and, each, at least this share of all events.
const HIGH_VOLUME_MIN_SHARE: f64 = 0.001;

/// One row of the normalization audit (the `descriptions` view of
/// `sql/02_descriptions.sql`): one distinct raw value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AuditRow {
    pub(crate) raw: Option<String>,
    /// None for a null or empty-after-cleaning value.
    pub(crate) clean: Option<String>,
    pub(crate) canonical: String,
    /// The rule that fired, [`UNMATCHED_RULE`] or [`MISSING_RULE`].
    pub(crate) rule: String,
    pub(crate) events: i64,
}

impl AuditRow {
    pub(crate) fn is_unmatched(&self) -> bool {
        self.rule == UNMATCHED_RULE
    }
    fn is_matched(&self) -> bool {
        self.rule != UNMATCHED_RULE && self.rule != MISSING_RULE
    }
}

/// How strict the proposals are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SuggestParams {
    /// The least similarity (see the module doc) for a proposal.
    pub(crate) min_similarity: f64,
    /// The least Jaro-Winkler similarity for two different tokens to count as the same
    /// word (scaled by that similarity).
    pub(crate) fuzzy_threshold: f64,
}

impl Default for SuggestParams {
    fn default() -> Self {
        SuggestParams {
            min_similarity: 0.3,
            fuzzy_threshold: 0.85,
        }
    }
}

/// Checked [`SuggestParams`] (what [`suggest`] takes).
pub(crate) type SuggestValidParams = Valid<SuggestParams>;

impl ParamGuard for SuggestParams {
    type Checked = SuggestValidParams;

    /// Refuses values outside [0, 1] (`config` names `min_similarity` by its flag,
    /// `--min-similarity`).
    fn check_ref(&self) -> Result<()> {
        for (name, v) in [
            ("min_similarity", self.min_similarity),
            ("fuzzy_threshold", self.fuzzy_threshold),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::params(name, "a similarity in [0, 1]", v));
            }
        }
        Ok(())
    }

    fn check(self) -> Result<SuggestValidParams> {
        checked(self)
    }
}

/// The proposal for one unmatched cleaned variant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Suggestion {
    pub(crate) description_clean: String,
    /// Events of every raw spelling that cleans to this value.
    pub(crate) event_count: i64,
    /// The raw spelling with the most events (ties: the smallest text).
    example_raw: String,
    /// The proposed canonical value and its similarity; None when nothing is similar
    /// enough or two canonicals tie.
    pub(crate) proposed: Option<(String, f64)>,
    /// The nearest canonical that is not proposed (the second nearest when there is a
    /// proposal, the nearest when there is none), if any has a similarity above 0.
    runner_up: Option<(String, f64)>,
    /// Why nothing is proposed; empty when something is.
    pub(crate) note: String,
}

/// Every unmatched variant's proposal, by events descending (then text), and totals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Suggestions {
    pub(crate) rows: Vec<Suggestion>,
    /// Events of the audit, missing and matched included.
    pub(crate) total_events: i64,
    pub(crate) unmatched_events: i64,
}

impl Suggestions {
    /// How many variants have a proposal, and their events.
    pub(crate) fn proposed(&self) -> (usize, i64) {
        self.rows
            .iter()
            .filter(|r| r.proposed.is_some())
            .fold((0, 0), |(n, e), r| (n + 1, e + r.event_count))
    }
}

/// Jaro similarity of two byte strings: with `m` characters that match within
/// `max(|a|, |b|) / 2 - 1` positions and `t` half the number of matched characters in
/// a different order, `(m/|a| + m/|b| + (m - t)/m) / 3` (0 when `m = 0`).
fn jaro(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    // Tokens are short: the match flags live on the stack unless they are not.
    let mut stack = [false; 128];
    let mut heap = Vec::new();
    let hits: &mut [bool] = if a.len() + b.len() <= stack.len() {
        &mut stack[..a.len() + b.len()]
    } else {
        heap.resize(a.len() + b.len(), false);
        &mut heap
    };
    let (a_hit, b_hit) = hits.split_at_mut(a.len());
    let mut m = 0usize;
    for (i, ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_hit[j] && b[j] == *ca {
                a_hit[i] = true;
                b_hit[j] = true;
                m += 1;
                break;
            }
        }
    }
    if m == 0 {
        return 0.0;
    }
    // The matched characters of a and of b, each in its own order, compared in pairs.
    let mut k = 0;
    let mut out_of_order = 0usize;
    for (i, ca) in a.iter().enumerate() {
        if a_hit[i] {
            while !b_hit[k] {
                k += 1;
            }
            out_of_order += usize::from(*ca != b[k]);
            k += 1;
        }
    }
    let (m, t) = (m as f64, out_of_order as f64 / 2.0);
    (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0
}

/// Jaro-Winkler similarity: `j + l * 0.1 * (1 - j)` with `j` the [`jaro`] similarity
/// and `l` the length of the common prefix, at most 4. In [0, 1]; it favours strings
/// that start alike, as truncations and typos of a word mostly do.
fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let j = jaro(a, b);
    let l = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count() as f64;
    j + l * 0.1 * (1.0 - j)
}

/// Token ids: the texts are interned once, so references are small integer sets.
#[derive(Default)]
struct Vocabulary {
    ids: HashMap<String, usize>,
    words: Vec<String>,
}

impl Vocabulary {
    fn intern(&mut self, text: &str) -> Vec<usize> {
        tokenize(text)
            .into_iter()
            .map(|t| match self.ids.get(&t) {
                Some(&i) => i,
                None => {
                    self.words.push(t.clone());
                    self.ids.insert(t, self.words.len() - 1);
                    self.words.len() - 1
                }
            })
            .collect()
    }
}

/// The canonical values with their references, and the token weights.
struct Index {
    vocab: Vocabulary,
    /// (canonical, distinct reference token sets), sorted by canonical.
    groups: Vec<(String, Vec<Vec<usize>>)>,
    weight: Vec<f64>,
    /// Tokens that occur in some reference have the ids below this bound (variant
    /// tokens interned later get higher ids).
    n_reference: usize,
    /// For each reference token, the (group, reference) pairs that contain it: only
    /// references that share a similar token with a variant can score above 0.
    postings: Vec<Vec<(usize, usize)>>,
}

impl Index {
    fn build(audit: &[AuditRow], rules: &Rules) -> Index {
        let mut texts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for r in &rules.rules {
            let refs = texts.entry(r.canonical.as_str()).or_default();
            refs.insert(r.canonical.as_str());
            if r.kind == MatchKind::Exact {
                refs.insert(r.pattern.as_str());
            }
        }
        for row in audit.iter().filter(|r| r.is_matched()) {
            if let Some(clean) = &row.clean {
                texts
                    .entry(row.canonical.as_str())
                    .or_default()
                    .insert(clean.as_str());
            }
        }
        let mut vocab = Vocabulary::default();
        let groups: Vec<(String, Vec<Vec<usize>>)> = texts
            .into_iter()
            .map(|(canonical, refs)| {
                let sets: BTreeSet<Vec<usize>> = refs
                    .into_iter()
                    .map(|t| {
                        let mut ids = vocab.intern(t);
                        ids.sort_unstable();
                        ids
                    })
                    .filter(|ids| !ids.is_empty())
                    .collect();
                (canonical.to_string(), sets.into_iter().collect())
            })
            .collect();
        let mut df = vec![0usize; vocab.words.len()];
        for (_, refs) in &groups {
            let seen: BTreeSet<usize> = refs.iter().flatten().copied().collect();
            for t in seen {
                df[t] += 1;
            }
        }
        let n_reference = vocab.words.len();
        let mut postings = vec![Vec::new(); n_reference];
        for (g, (_, refs)) in groups.iter().enumerate() {
            for (k, r) in refs.iter().enumerate() {
                for &t in r {
                    postings[t].push((g, k));
                }
            }
        }
        let n = groups.len() as f64;
        let weight = df
            .iter()
            .map(|&d| ((n + 1.0) / (d as f64 + 0.5)).ln())
            .collect();
        Index {
            vocab,
            groups,
            weight,
            n_reference,
            postings,
        }
    }

    /// `w(t)`; a token of no reference (interned after the build) weighs the most.
    fn w(&self, t: usize) -> f64 {
        self.weight.get(t).copied().unwrap_or_else(|| {
            let n = self.groups.len() as f64;
            ((n + 1.0) / 0.5).ln()
        })
    }
}

/// `s(a, b)` for the tokens of one variant against every reference token: the
/// non-zero similarities of each variant token, by reference token id.
fn token_similarities(
    index: &Index,
    variant: &[usize],
    params: &SuggestParams,
    cache: &mut HashMap<usize, Vec<(usize, f64)>>,
) -> HashMap<(usize, usize), f64> {
    let mut out = HashMap::new();
    for &a in variant {
        if a < index.n_reference {
            // A word the references use is a word of its own ("transfer" is not a
            // typo of "transportation"): exact matches only.
            out.insert((a, a), 1.0);
            continue;
        }
        let similar = cache
            .entry(a)
            .or_insert_with(|| fuzzy_matches(index, &index.vocab.words[a], params));
        out.extend(similar.iter().map(|&(b, s)| ((a, b), s)));
    }
    out
}

/// The reference tokens within `fuzzy_threshold` of a token no reference uses, with
/// their Jaro-Winkler similarity. Tokens shorter than 3 characters match nothing: a
/// one-letter change in a two-letter word is another word.
fn fuzzy_matches(index: &Index, word: &str, params: &SuggestParams) -> Vec<(usize, f64)> {
    if word.len() < 3 {
        return Vec::new();
    }
    (0..index.n_reference)
        .filter_map(|b| {
            let other = &index.vocab.words[b];
            if other.len() < 3
                || jaro_winkler_bound(word.len(), other.len()) < params.fuzzy_threshold
            {
                return None;
            }
            let jw = jaro_winkler(word, other);
            (jw >= params.fuzzy_threshold).then_some((b, jw))
        })
        .collect()
}

/// An upper bound of [`jaro_winkler`] from the lengths alone: at most `min` characters
/// match, and the common prefix is at most `min(4, min)`; skips most pairs unseen.
fn jaro_winkler_bound(la: usize, lb: usize) -> f64 {
    let short = la.min(lb) as f64;
    let j = (short / la as f64 + short / lb as f64 + 1.0) / 3.0;
    j + short.min(4.0) * 0.1 * (1.0 - j)
}

/// The soft weighted Dice similarity of the module doc.
fn soft_dice(index: &Index, u: &[usize], r: &[usize], s: &HashMap<(usize, usize), f64>) -> f64 {
    let sim = |a: usize, b: usize| s.get(&(a, b)).copied().unwrap_or(0.0);
    let from_u: f64 = u
        .iter()
        .map(|&a| index.w(a) * r.iter().map(|&b| sim(a, b)).fold(0.0, f64::max))
        .sum();
    let from_r: f64 = r
        .iter()
        .map(|&b| index.w(b) * u.iter().map(|&a| sim(a, b)).fold(0.0, f64::max))
        .sum();
    let total: f64 = u.iter().chain(r).map(|&t| index.w(t)).sum();
    if total > 0.0 {
        ((from_u + from_r) / total).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Similarities below this differ only by rounding: a tie.
const TIE: f64 = 1e-9;

/// The unmatched cleaned variants of the audit: (events, example raw) by text.
fn unmatched_variants(audit: &[AuditRow]) -> BTreeMap<&str, (i64, &str, i64)> {
    let mut out: BTreeMap<&str, (i64, &str, i64)> = BTreeMap::new();
    for row in audit.iter().filter(|r| r.is_unmatched()) {
        let Some(clean) = row.clean.as_deref() else {
            continue;
        };
        let raw = row.raw.as_deref().unwrap_or("");
        let e = out.entry(clean).or_insert((0, raw, i64::MIN));
        e.0 += row.events;
        if row.events > e.2 || (row.events == e.2 && raw < e.1) {
            e.1 = raw;
            e.2 = row.events;
        }
    }
    out
}

/// Proposes a canonical value for every unmatched cleaned variant of the audit (see
/// the module doc for the similarity).
pub(crate) fn suggest(
    audit: &[AuditRow],
    rules: &Rules,
    params: &SuggestValidParams,
) -> Result<Suggestions> {
    let mut index = Index::build(audit, rules);
    let variants = unmatched_variants(audit);
    let mut rows = Vec::with_capacity(variants.len());
    // Variants share tokens (one spelling with several suffixes): fuzzy matches once.
    let mut cache = HashMap::new();
    for (clean, (events, raw, _)) in variants {
        let u = index.vocab.intern(clean);
        let s = token_similarities(&index, &u, params, &mut cache);
        let candidates: BTreeSet<(usize, usize)> = s
            .keys()
            .flat_map(|&(_, b)| index.postings[b].iter().copied())
            .collect();
        let mut best = vec![0.0f64; index.groups.len()];
        for (g, k) in candidates {
            let sim = soft_dice(&index, &u, &index.groups[g].1[k], &s);
            best[g] = best[g].max(sim);
        }
        let mut scored: Vec<(f64, &str)> = best
            .iter()
            .zip(&index.groups)
            .filter(|(sim, _)| **sim > 0.0)
            .map(|(sim, (canonical, _))| (*sim, canonical.as_str()))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let named = |k: usize| scored.get(k).map(|(v, c)| (c.to_string(), *v));
        let (proposed, runner_up, note) = match (scored.first(), scored.get(1)) {
            _ if u.is_empty() => (None, None, "no word to compare".to_string()),
            (None, _) => (None, None, "no similar canonical".to_string()),
            (Some(&(best, c)), _) if best < params.min_similarity => (
                None,
                named(0),
                format!(
                    "no similar canonical (nearest {c:?} at {best:.3} < {})",
                    params.min_similarity
                ),
            ),
            (Some(&(best, c1)), Some(&(second, c2))) if best - second <= TIE => (
                None,
                named(0),
                format!("no proposal: {c1:?} and {c2:?} are equally similar ({best:.3})"),
            ),
            (Some(_), _) => (named(0), named(1), String::new()),
        };
        rows.push(Suggestion {
            description_clean: clean.to_string(),
            event_count: events,
            example_raw: raw.to_string(),
            proposed,
            runner_up,
            note,
        });
    }
    rows.sort_by(|a, b| {
        b.event_count
            .cmp(&a.event_count)
            .then_with(|| a.description_clean.cmp(&b.description_clean))
    });
    let total_events = audit.iter().map(|r| r.events).sum();
    let unmatched_events = rows.iter().map(|r| r.event_count).sum();
    Ok(Suggestions {
        rows,
        total_events,
        unmatched_events,
    })
}

/// For each audit row, whether it is an unmatched variant worth a rule: its cleaned
/// value is among the fewest unmatched cleaned values that, largest first (ties by
/// text), hold [`HIGH_VOLUME_COVER`] of the unmatched events, and it has at least
/// [`HIGH_VOLUME_MIN_SHARE`] of all events. Every raw spelling of a cleaned value
/// gets the cleaned value's answer.
pub(crate) fn high_volume_unmatched(audit: &[AuditRow]) -> Vec<bool> {
    let total: i64 = audit.iter().map(|r| r.events).sum();
    let mut variants: Vec<(&str, i64)> = unmatched_variants(audit)
        .into_iter()
        .map(|(clean, (events, _, _))| (clean, events))
        .collect();
    variants.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let unmatched: i64 = variants.iter().map(|v| v.1).sum();
    let mut high = BTreeSet::new();
    let mut covered = 0i64;
    for (clean, events) in variants {
        // Stop once the variants before this one already hold the cover.
        if covered as f64 >= HIGH_VOLUME_COVER * unmatched as f64 {
            break;
        }
        covered += events;
        if events as f64 >= HIGH_VOLUME_MIN_SHARE * total as f64 {
            high.insert(clean);
        }
    }
    audit
        .iter()
        .map(|r| r.is_unmatched() && r.clean.as_deref().is_some_and(|c| high.contains(c)))
        .collect()
}

/// The name of the suggested rule of each row that has one, in row order:
/// `suggested_<n>`, numbered from 1 and skipping names the rules already use (a file
/// written by an earlier round). A variant whose text an exact rule would change when
/// it is read back (not a fixed point of [`clean_text`]) gets none.
fn suggested_rule_names(rules: &Rules, s: &Suggestions) -> Vec<Option<String>> {
    let taken: BTreeSet<&str> = rules.rules.iter().map(|r| r.name.as_str()).collect();
    let mut n = 0usize;
    s.rows
        .iter()
        .map(|row| {
            row.proposed.as_ref()?;
            if clean_text(&row.description_clean) != row.description_clean {
                return None;
            }
            loop {
                n += 1;
                let name = format!("suggested_{n}");
                if !taken.contains(name.as_str()) {
                    return Some(name);
                }
            }
        })
        .collect()
}

/// `rules_suggestions.csv`: one row per unmatched cleaned variant, by events
/// descending: description_clean, event_count, event_share (of all events),
/// proposed_canonical, similarity, runner_up_canonical, runner_up_similarity,
/// example_raw, suggested_rule (its name in `rules_suggested.csv`), note.
pub(crate) fn suggestions_csv(rules: &Rules, s: &Suggestions) -> Result<Vec<u8>> {
    let names = suggested_rule_names(rules, s);
    let pair = |p: &Option<(String, f64)>| match p {
        Some((c, v)) => (c.clone(), format!("{v:.4}")),
        None => (String::new(), String::new()),
    };
    csv_rows::table(s.rows.iter().zip(names).map(|(row, name)| {
        let (proposed, sim) = pair(&row.proposed);
        let (runner, runner_sim) = pair(&row.runner_up);
        let share = row.event_count as f64 / s.total_events.max(1) as f64;
        SuggestionRow {
            description_clean: &row.description_clean,
            event_count: row.event_count,
            event_share: format!("{share:.6}"),
            proposed_canonical: proposed,
            similarity: sim,
            runner_up_canonical: runner,
            runner_up_similarity: runner_sim,
            example_raw: &row.example_raw,
            suggested_rule: name,
            note: &row.note,
        }
    }))
}

/// One row of `rules_suggestions.csv`. Shares and similarities are fixed-point text
/// (6 and 4 decimals), empty when there is no proposal or runner-up.
#[derive(Serialize, Default)]
struct SuggestionRow<'a> {
    description_clean: &'a str,
    event_count: i64,
    event_share: String,
    proposed_canonical: String,
    similarity: String,
    runner_up_canonical: String,
    runner_up_similarity: String,
    example_raw: &'a str,
    suggested_rule: Option<String>,
    note: &'a str,
}

/// `rules_suggested.csv`: the current rules in file order, then one `exact` rule per
/// proposal (largest variant first), in the rules file format ([`Rules::parse`] reads
/// it back). Exact rules go last: the variants matched no earlier rule, so the order
/// changes nothing else.
pub(crate) fn suggested_rules_csv(rules: &Rules, s: &Suggestions) -> Result<Vec<u8>> {
    let current = rules.rules.iter().map(|r| RuleRow {
        rule: &r.name,
        kind: r.kind.as_str(),
        pattern: &r.pattern,
        canonical: &r.canonical,
    });
    let names = suggested_rule_names(rules, s);
    let proposed = s.rows.iter().zip(names).filter_map(|(row, name)| {
        let (name, (canonical, _)) = (name?, row.proposed.as_ref()?);
        Some((name, &row.description_clean, canonical))
    });
    let proposed: Vec<_> = proposed.collect();
    csv_rows::table(
        current.chain(proposed.iter().map(|(name, pattern, canonical)| RuleRow {
            rule: name,
            kind: MatchKind::Exact.as_str(),
            pattern,
            canonical,
        })),
    )
}

/// One row of a rules file (`rules_suggested.csv`), as [`Rules::parse`] reads it.
#[derive(Serialize, Default)]
struct RuleRow<'a> {
    rule: &'a str,
    #[serde(rename = "match")]
    kind: &'a str,
    pattern: &'a str,
    canonical: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(raw: &str, canonical: &str, rule: &str, events: i64) -> AuditRow {
        let clean = clean_text(raw);
        AuditRow {
            raw: Some(raw.to_string()),
            canonical: if rule == UNMATCHED_RULE {
                clean.clone()
            } else {
                canonical.to_string()
            },
            clean: (!clean.is_empty()).then_some(clean),
            rule: rule.to_string(),
            events,
        }
    }

    fn unmatched(raw: &str, events: i64) -> AuditRow {
        row(raw, "", UNMATCHED_RULE, events)
    }

    #[test]
    fn jaro_winkler_known_answers() {
        // Winkler's examples (as in the record-linkage literature).
        let close = |a: &str, b: &str, want: f64| {
            let got = jaro_winkler(a, b);
            assert!((got - want).abs() < 5e-4, "{a} {b}: {got}");
            assert!((jaro_winkler(b, a) - got).abs() < 1e-12, "symmetric");
        };
        close("martha", "marhta", 0.9611);
        close("dwayne", "duane", 0.84);
        close("dixon", "dicksonx", 0.8133);
        // 8 matches, 3 out of order (t = 1.5), common prefix 4.
        close("grievence", "grievance", 0.9181);
        close("same", "same", 1.0);
        close("abc", "xyz", 0.0);
        // The length bound that skips pairs is a bound.
        let words = [
            "vis",
            "vision",
            "grievence",
            "grievance",
            "ref",
            "referral",
            "xfer",
        ];
        for a in words {
            for b in words {
                assert!(jaro_winkler_bound(a.len(), b.len()) >= jaro_winkler(a, b) - 1e-12);
            }
        }
        assert_eq!(jaro(b"", b""), 1.0);
        assert_eq!(jaro(b"a", b""), 0.0);
    }

    /// Every canonical of `rules` seen in the data with each call-centre suffix, as
    /// real exports have them.
    fn suffixed(rules: &Rules) -> Vec<AuditRow> {
        let suffixes = [" - inbound", " (transfer)", " / callback", " - follow up"];
        let mut audit = Vec::new();
        for r in &rules.rules {
            for s in suffixes {
                audit.push(row(
                    &format!("{}{s}", r.canonical),
                    &r.canonical,
                    &r.name,
                    1,
                ));
            }
        }
        audit
    }

    #[test]
    fn suffix_words_weigh_almost_nothing() {
        let rules = Rules::default_rules().unwrap();
        let audit = suffixed(&rules);
        let index = Index::build(&audit, &rules);
        let w = |t: &str| index.w(index.vocab.ids[t]);
        let n = index.groups.len() as f64;
        assert_eq!(n, 23.0);
        // In every group: ln(24 / 23.5).
        for t in ["inbound", "transfer", "callback", "follow", "up"] {
            assert!((w(t) - (24.0f64 / 23.5).ln()).abs() < 1e-12, "{t}");
        }
        // In one group (grievance), in four (benefit: pharmacy, dental, vision, eob).
        assert!((w("grievance") - (24.0f64 / 1.5).ln()).abs() < 1e-12);
        assert!((w("benefit") - (24.0f64 / 4.5).ln()).abs() < 1e-12);
    }

    #[test]
    fn soft_dice_known_answer() {
        // Two canonicals, no data: df(claim) = 2, df(status) = df(deny) = 1, N = 2.
        let rules = Rules::parse(
            "rule,match,pattern,canonical\na,regex,^x,claim status\nb,regex,^y,claim denial\n",
            "r.csv",
        )
        .unwrap();
        let mut index = Index::build(&[], &rules);
        let u = index.vocab.intern("claims stat");
        let r = index.vocab.intern("claim status");
        let s = token_similarities(&index, &u, &SuggestParams::default(), &mut HashMap::new());
        // Same words: 1.
        assert!((soft_dice(&index, &u, &r, &s) - 1.0).abs() < 1e-12);
        let u = index.vocab.intern("claim zzz");
        let s = token_similarities(&index, &u, &SuggestParams::default(), &mut HashMap::new());
        let (wc, ws, wz) = (
            (3.0f64 / 2.5).ln(),
            (3.0f64 / 1.5).ln(),
            (3.0f64 / 0.5).ln(),
        );
        let want = 2.0 * wc / (wc + wz + wc + ws);
        assert!((soft_dice(&index, &u, &r, &s) - want).abs() < 1e-12);
    }

    #[test]
    fn typos_find_their_canonical_and_suffixes_alone_find_nothing() {
        let rules = Rules::default_rules().unwrap();
        let mut audit = suffixed(&rules);
        audit.extend([
            row("Grievance - inbound", "grievance", "grievance", 40),
            row("referral request", "referral", "referral", 30),
            row(
                "claims status (transfer)",
                "claim status",
                "claim_status",
                50,
            ),
            row("appeal follow up", "appeal status", "appeal_status", 10),
            unmatched("grievence", 7),
            unmatched("GRIEVENCE  ", 2),
            unmatched("referal - inbound", 5),
            unmatched("clm stat (transfer", 9),
            unmatched("xfer - inbound", 20),
            unmatched("wants to cancel", 3),
            unmatched("請求", 1),
        ]);
        audit.push(row("", "unknown", MISSING_RULE, 4));
        let s = suggest(&audit, &rules, &SuggestParams::default().check().unwrap()).unwrap();
        let by: BTreeMap<&str, &Suggestion> = s
            .rows
            .iter()
            .map(|r| (r.description_clean.as_str(), r))
            .collect();
        let proposed = |v: &str| by[v].proposed.as_ref().map(|p| p.0.as_str());
        assert_eq!(proposed("grievence"), Some("grievance"));
        assert_eq!(by["grievence"].event_count, 9);
        assert_eq!(by["grievence"].example_raw, "grievence");
        assert_eq!(proposed("referal - inbound"), Some("referral"));
        assert_eq!(proposed("clm stat (transfer"), Some("claim status"));
        for v in ["xfer - inbound", "wants to cancel", "請求"] {
            assert_eq!(proposed(v), None, "{v}");
            assert!(by[v].note.contains("no "), "{v}: {}", by[v].note);
        }
        // The biggest first; totals include matched and missing events.
        assert_eq!(s.rows[0].description_clean, "xfer - inbound");
        assert_eq!(s.total_events, 181 + 23 * 4);
        assert_eq!(s.unmatched_events, 47);
        assert_eq!(s.proposed(), (3, 23));
        let (_, sim) = by["grievence"].proposed.clone().unwrap();
        let runner = by["grievence"]
            .runner_up
            .clone()
            .map(|r| r.1)
            .unwrap_or(0.0);
        assert!(sim > runner && sim > 0.9, "{sim} {runner}");
    }

    #[test]
    fn equally_similar_canonicals_are_a_tie_not_a_guess() {
        let rules = Rules::parse(
            "rule,match,pattern,canonical\na,exact,alpha one,alpha\nb,exact,beta one,beta\n",
            "r.csv",
        )
        .unwrap();
        let s = suggest(
            &[unmatched("one", 3)],
            &rules,
            &SuggestParams::default().check().unwrap(),
        )
        .unwrap();
        assert_eq!(s.rows[0].proposed, None);
        assert!(
            s.rows[0].note.contains("equally similar"),
            "{:?}",
            s.rows[0]
        );
        for (bad, name) in [
            (
                SuggestParams {
                    min_similarity: 1.5,
                    ..Default::default()
                },
                "min_similarity",
            ),
            (
                SuggestParams {
                    fuzzy_threshold: -0.1,
                    ..Default::default()
                },
                "fuzzy_threshold",
            ),
        ] {
            let e = bad.check().unwrap_err();
            assert_eq!(crate::params::param_name(&e), Some(name), "{e}");
        }
    }

    #[test]
    fn the_suggested_rules_file_parses_and_maps_each_proposal() {
        let mut rules = Rules::default_rules().unwrap();
        // A rules file from an earlier round already has suggested_1.
        rules.rules.push(crate::rules::Rule {
            order: rules.rules.len() as i32 + 1,
            name: "suggested_1".into(),
            kind: MatchKind::Exact,
            pattern: "pre auth".into(),
            canonical: "prior authorization".into(),
        });
        let audit = vec![
            row("claims status", "claim status", "claim_status", 50),
            unmatched("grievence, \"formal\"", 7),
            unmatched("clm stat - inbound", 9),
            unmatched("xfer", 20),
        ];
        let s = suggest(&audit, &rules, &SuggestParams::default().check().unwrap()).unwrap();
        let csv = String::from_utf8(suggested_rules_csv(&rules, &s).unwrap()).unwrap();
        let back = Rules::parse(&csv, "rules_suggested.csv").unwrap();
        assert_eq!(back.rules.len(), rules.rules.len() + 2, "{csv}");
        assert_eq!(&back.rules[..rules.rules.len()], &rules.rules[..]);
        let fired = |v: &str| {
            back.canonical_of(v)
                .map(|r| (r.name.clone(), r.canonical.clone()))
        };
        assert_eq!(
            fired("clm stat - inbound"),
            Some(("suggested_2".into(), "claim status".into()))
        );
        assert_eq!(
            fired("grievence, \"formal"),
            Some(("suggested_3".into(), "grievance".into()))
        );
        assert_eq!(fired("xfer"), None);
        let table = String::from_utf8(suggestions_csv(&rules, &s).unwrap()).unwrap();
        let mut rdr = csv::Reader::from_reader(table.as_bytes());
        let recs: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(&recs[0][0], "xfer");
        assert_eq!(&recs[0][3], "");
        assert_eq!(&recs[1][0], "clm stat - inbound");
        assert_eq!(&recs[1][3], "claim status");
        assert_eq!(&recs[1][8], "suggested_2");
    }

    #[test]
    fn high_volume_unmatched_known_answers() {
        // Unmatched: a 50 (as two raw spellings), b 30, c 15, d 5 of 1000 events.
        let audit = vec![
            row("claim status", "claim status", "claim_status", 900),
            unmatched("a", 40),
            unmatched("A ", 10),
            unmatched("b", 30),
            unmatched("c", 15),
            unmatched("d", 5),
        ];
        // a + b = 80 of 100: the cover stops there; both hold >= 0.1 % of events.
        assert_eq!(
            high_volume_unmatched(&audit),
            [false, true, true, true, false, false]
        );
        // With 100 000 events a 0.1 % floor is 100: nothing qualifies.
        let mut big = audit.clone();
        big[0].events = 99_900;
        assert!(high_volume_unmatched(&big).iter().all(|h| !h));
        assert!(high_volume_unmatched(&[]).is_empty());
    }

    /// [`Rules::canonical_of`] with each regex compiled once (it compiles them on
    /// every call, too slow for thousands of values in a debug build).
    struct Matcher<'a> {
        rules: &'a Rules,
        regexes: Vec<Option<regex::Regex>>,
    }

    impl<'a> Matcher<'a> {
        fn new(rules: &'a Rules) -> Self {
            let regexes = rules
                .rules
                .iter()
                .map(|r| {
                    (r.kind == MatchKind::Regex).then(|| regex::Regex::new(&r.pattern).unwrap())
                })
                .collect();
            Matcher { rules, regexes }
        }

        fn of(&self, cleaned: &str) -> Option<&'a crate::rules::Rule> {
            self.rules
                .rules
                .iter()
                .zip(&self.regexes)
                .find(|(r, re)| match re {
                    Some(re) => re.is_match(cleaned),
                    None => r.pattern == cleaned,
                })
                .map(|(r, _)| r)
        }
    }

    /// The audit of generated events in pure Rust: cleaned as `sql/02_descriptions.sql`
    /// cleans (trim, lower-case, collapse whitespace, strip edge punctuation), matched
    /// with the shipped rules, counted per raw value.
    fn audit_of(events: &[crate::demo::Event], rules: &Rules) -> Vec<AuditRow> {
        let matcher = Matcher::new(rules);
        let mut counts: BTreeMap<Option<&str>, i64> = BTreeMap::new();
        for e in events {
            *counts.entry(e.description.as_deref()).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(raw, events)| {
                let clean = raw.map(clean_text).filter(|c| !c.is_empty());
                let fired = clean.as_deref().and_then(|c| matcher.of(c));
                let (canonical, rule) = match (&clean, fired) {
                    (None, _) => ("unknown".to_string(), MISSING_RULE.to_string()),
                    (Some(_), Some(r)) => (r.canonical.clone(), r.name.clone()),
                    (Some(c), None) => (c.clone(), UNMATCHED_RULE.to_string()),
                };
                AuditRow {
                    raw: raw.map(String::from),
                    clean,
                    canonical,
                    rule,
                    events,
                }
            })
            .collect()
    }

    fn read_events(path: &std::path::Path) -> Vec<crate::demo::Event> {
        use arrow::array::{Array, AsArray};
        let file = std::fs::File::open(path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut out = Vec::new();
        for b in reader {
            let b = b.unwrap();
            let desc = b
                .column_by_name("pydescription")
                .unwrap()
                .as_string::<i32>();
            for i in 0..b.num_rows() {
                out.push(crate::demo::Event {
                    member_id: String::new(),
                    interaction_id: String::new(),
                    event_ts_us: 0,
                    description: (!desc.is_null(i)).then(|| desc.value(i).to_string()),
                    escalated: 0,
                    channel: None,
                    region: None,
                    plan_type: None,
                });
            }
        }
        out
    }

    /// Half the generated spellings are ones the shipped rules miss; the proposal must
    /// be the topic that generated the spelling for >= 80 % of the distinct unmatched
    /// cleaned variants. The generator's truth is its complete rules file
    /// (`demo::complete_rules_csv`: one rule per topic over exactly its
    /// `UNMAPPED_VARIANTS`, with any suffix), which demo.rs's own tests check maps every
    /// messy unmapped spelling to its topic.
    #[test]
    fn proposals_on_generated_events_name_the_generating_topic() {
        let dir = std::env::temp_dir().join(format!("rarecall-suggest-{}", std::process::id()));
        let path = dir.join("events.parquet");
        let spec = crate::demo::DemoSpec {
            unmapped: 0.5,
            ..Default::default()
        };
        crate::demo::write_demo_with(&path, 3000, 11, &spec).unwrap();
        let events = read_events(&path);
        let _ = std::fs::remove_dir_all(&dir);

        // Variant texts are unique across topics, so the truth is unambiguous.
        let mut seen = BTreeSet::new();
        for (_, variants) in crate::demo::UNMAPPED_VARIANTS {
            for v in *variants {
                assert!(seen.insert(*v), "{v} belongs to two topics");
            }
        }
        let shipped = Rules::default_rules().unwrap();
        let complete = Rules::parse(&crate::demo::complete_rules_csv(), "complete").unwrap();
        let complete = Matcher::new(&complete);
        let audit = audit_of(&events, &shipped);
        let s = suggest(&audit, &shipped, &SuggestParams::default().check().unwrap()).unwrap();
        assert!(s.rows.len() > 100, "{} unmatched variants", s.rows.len());

        let (mut right, mut right_events, mut none) = (0usize, 0i64, 0usize);
        let mut wrong: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        for r in &s.rows {
            let truth = complete
                .of(&r.description_clean)
                .filter(|rule| rule.name.ends_with("_variants"))
                .map(|rule| rule.canonical.clone())
                .unwrap_or_else(|| panic!("{:?} has no generating topic", r.description_clean));
            let got = r.proposed.as_ref().map(|p| p.0.clone());
            if got.as_deref() == Some(truth.as_str()) {
                right += 1;
                right_events += r.event_count;
            } else {
                none += usize::from(got.is_none());
                wrong.insert(r.description_clean.clone(), (truth, got));
            }
        }
        let share = right as f64 / s.rows.len() as f64;
        let share_events = right_events as f64 / s.unmatched_events as f64;
        println!(
            "rules suggest on generated events: {right} of {} unmatched variants right ({:.1} %), {:.1} % of their {} events; {none} without a proposal, {} wrong",
            s.rows.len(),
            100.0 * share,
            100.0 * share_events,
            s.unmatched_events,
            wrong.len() - none
        );
        for (v, (truth, got)) in &wrong {
            println!("  {v:?}: truth {truth:?}, proposed {got:?}");
        }
        assert!(share >= 0.8, "{share}");
        assert!(share_events >= 0.8, "{share_events}");
    }

    /// The bytes both files had before their rows were types (commit 9b0a755):
    /// tests/data/csv_rows/.
    #[test]
    fn suggestion_files_bytes_are_unchanged() {
        use crate::rules::Rule;
        let rules = Rules {
            source: "t".into(),
            rules: vec![
                Rule {
                    order: 1,
                    name: "suggested_1".into(),
                    kind: MatchKind::Regex,
                    pattern: "^a,b( .*)?$".into(),
                    canonical: "say \"hi\"".into(),
                },
                Rule {
                    order: 2,
                    name: "r2".into(),
                    kind: MatchKind::Exact,
                    pattern: "x y".into(),
                    canonical: "line\nbreak".into(),
                },
            ],
        };
        let sims = [0.0, 1.0, 0.123456789, 1e-7, 0.99995, 0.5];
        let texts = ["plain", "a,b", "say \"hi\"", "Not Clean ", "", "ünï"];
        let rows: Vec<Suggestion> = (0..6)
            .map(|i| Suggestion {
                description_clean: texts[i].to_string(),
                event_count: [0, 1, 7, 1_000_000, 3, 2][i],
                example_raw: format!("{} raw,\"q\"", texts[i]),
                proposed: (i % 3 != 2).then(|| (format!("canon {i}, \"c\""), sims[i])),
                runner_up: (i % 2 == 0).then(|| (format!("runner {i}"), sims[(i + 1) % 6])),
                note: if i % 3 == 2 {
                    "no similar canonical, \"tie\"".into()
                } else {
                    String::new()
                },
            })
            .collect();
        let s = Suggestions {
            rows,
            total_events: 1_000_013,
            unmatched_events: 5,
        };
        let text = |b: Result<Vec<u8>>| String::from_utf8(b.unwrap()).unwrap();
        macro_rules! before {
            ($name:literal) => {
                include_str!(concat!("../tests/data/csv_rows/", $name))
            };
        }
        assert_eq!(
            text(suggestions_csv(&rules, &s)),
            before!("suggestions.csv")
        );
        assert_eq!(
            text(suggested_rules_csv(&rules, &s)),
            before!("suggested_rules.csv")
        );
        let empty = Suggestions {
            rows: vec![],
            total_events: 0,
            unmatched_events: 0,
        };
        let none = Rules {
            source: "t".into(),
            rules: vec![],
        };
        assert_eq!(
            text(suggestions_csv(&none, &empty)),
            before!("suggestions_empty.csv")
        );
        assert_eq!(
            text(suggested_rules_csv(&none, &empty)),
            before!("suggested_rules_empty.csv")
        );
    }
}
