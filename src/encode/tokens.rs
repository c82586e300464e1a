//! Word tokens of a description, the same in Rust and in Spark SQL: the part of a
//! description that survives a spelling the rules file does not know ("PWD RESET",
//! "claim denied - inbound", "Rx Question").
//!
//! A token is a run of ASCII letters and digits of the lower-cased text; stop words
//! are dropped; a standard service-desk abbreviation is spelled out ([`ABBREVIATIONS`]);
//! any other token loses a plural `s` ([`strip_plural`]). [`tokens_sql`] is the same
//! function as a Spark SQL expression, so `score --in-spark` computes the same flags
//! (checked against Spark by the score-parity tests).

use std::collections::BTreeSet;

/// Words that carry no topic.
pub const STOP_WORDS: &[&str] = &[
    "a", "about", "an", "and", "for", "in", "is", "my", "of", "on", "the", "to", "with",
];

/// Abbreviations common in call-centre category lists, and inflections of one word,
/// mapped to one spelling. Only general usage belongs here: a data set's own typos
/// are for `rules suggest` and the rules file.
pub const ABBREVIATIONS: &[(&str, &str)] = &[
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
pub fn strip_plural(w: &str) -> &str {
    let b = w.as_bytes();
    if b.len() >= 4 && b[b.len() - 1] == b's' && !matches!(b[b.len() - 2], b's' | b'u' | b'i') {
        &w[..w.len() - 1]
    } else {
        w
    }
}

/// One raw token, normalized: its abbreviation's spelling, or without a plural `s`.
pub fn normalize_token(w: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_are_sorted_for_the_binary_search() {
        assert!(ABBREVIATIONS.windows(2).all(|p| p[0].0 < p[1].0));
        // No abbreviation maps to another abbreviation (one step is enough).
        for (_, v) in ABBREVIATIONS {
            assert!(ABBREVIATIONS.binary_search_by(|(k, _)| k.cmp(v)).is_err(), "{v}");
        }
    }

    #[test]
    fn known_answers() {
        let t = |s: &str| tokenize(s).into_iter().collect::<Vec<_>>();
        assert_eq!(t("PWD RESET"), ["password", "reset"]);
        assert_eq!(t("Claims  Status - inbound"), ["claim", "inbound", "status"]);
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
}
