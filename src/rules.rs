//! The PYDESCRIPTION canonical mapping rules: parsing and checking the rules file.
//!
//! Format: CSV with the header `rule,match,pattern,canonical`; one rule a line, tried
//! in file order, first match wins (in Spark, `sql/02_descriptions.sql`). `match` is
//! `exact` (the cleaned value equals `pattern`) or `regex` (the cleaned value matches
//! `pattern`, Java regex semantics in Spark). Patterns are checked here with the
//! `regex` crate, so a rule must stay within the syntax both engines share (no
//! look-around or back-references); that refuses a bad pattern before any Spark work.
//! Values travel to Spark as a DataFrame, never as SQL text.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The rules file that ships with rarecall (used when `normalization.rules` is unset).
pub(crate) const DEFAULT_RULES: &str = include_str!("../rules/pydescription_rules.csv");
const DEFAULT_RULES_NAME: &str = "rules/pydescription_rules.csv (built in)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    Exact,
    Regex,
}

impl MatchKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Regex => "regex",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// 1-based position: lower fires first.
    pub(crate) order: i32,
    pub name: String,
    pub kind: MatchKind,
    pub pattern: String,
    pub canonical: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub(crate) source: String,
    pub rules: Vec<Rule>,
}

/// The cleaning Spark applies before matching (`sql/02_descriptions.sql`), mirrored
/// for exact patterns and canonical values: lower-case, collapse whitespace, strip
/// ASCII punctuation and whitespace at both ends (Java's `\p{Punct}`).
pub(crate) fn clean_text(s: &str) -> String {
    let collapsed = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    collapsed
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .to_string()
}

impl Rules {
    pub fn default_rules() -> Result<Self> {
        Self::parse(DEFAULT_RULES, DEFAULT_RULES_NAME)
    }

    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Rules {
            path: path.display().to_string(),
            problem: format!("cannot be read ({e})"),
            fix: "point normalization.rules at an existing CSV file, or remove the key to use the built-in rules".into(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let err = |problem: String, fix: &str| Error::Rules {
            path: source.to_string(),
            problem,
            fix: fix.to_string(),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| err(format!("is not valid CSV ({e})"), "save it as UTF-8 CSV"))?
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect::<Vec<_>>();
        if headers != ["rule", "match", "pattern", "canonical"] {
            return Err(err(
                format!("header is {headers:?}"),
                "start the file with the header line rule,match,pattern,canonical",
            ));
        }
        let mut rules = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, rec) in reader.records().enumerate() {
            let line = i + 2;
            let rec = rec.map_err(|e| {
                err(
                    format!("line {line} is not valid CSV ({e})"),
                    "give every line 4 fields; quote a pattern that contains a comma",
                )
            })?;
            if rec.len() != 4 {
                return Err(err(
                    format!("line {line} has {} fields, expected 4", rec.len()),
                    "write rule,match,pattern,canonical on every line",
                ));
            }
            let name = if rec[0].is_empty() {
                format!("rule_{line}")
            } else {
                rec[0].to_string()
            };
            if !names.insert(name.clone()) {
                return Err(err(
                    format!("line {line} repeats the rule name {name:?}"),
                    "give each rule its own name",
                ));
            }
            let kind = match rec[1].to_ascii_lowercase().as_str() {
                "exact" => MatchKind::Exact,
                "regex" => MatchKind::Regex,
                other => {
                    return Err(err(
                        format!("line {line}: match is {other:?}, expected exact or regex"),
                        "set the match column to exact or regex",
                    ));
                }
            };
            let pattern = match kind {
                MatchKind::Exact => clean_text(&rec[2]),
                MatchKind::Regex => rec[2].to_string(),
            };
            if pattern.is_empty() {
                return Err(err(
                    format!("line {line} has an empty pattern"),
                    "write the value (exact) or expression (regex) to match",
                ));
            }
            if kind == MatchKind::Regex
                && let Err(e) = regex::Regex::new(&pattern)
            {
                {
                    let first = e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    return Err(err(
                        format!("line {line}: regex {pattern:?} does not compile ({first})"),
                        "fix the expression; look-around and back-references are not supported",
                    ));
                }
            }
            let canonical = clean_text(&rec[3]);
            if canonical.is_empty() {
                return Err(err(
                    format!("line {line} has an empty canonical value"),
                    "write the canonical description the rule maps to",
                ));
            }
            rules.push(Rule {
                order: (rules.len() + 1) as i32,
                name,
                kind,
                pattern,
                canonical,
            });
        }
        if rules.is_empty() {
            return Err(err(
                "has no rules".into(),
                "add at least one rule line, or remove normalization.rules to use the built-in rules",
            ));
        }
        Ok(Rules {
            source: source.to_string(),
            rules,
        })
    }

    /// Applies the rules to a cleaned value as Spark does (first match wins); the
    /// Rust mirror used by tests and by `score` on single values.
    #[cfg(test)]
    pub(crate) fn canonical_of(&self, cleaned: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| match r.kind {
            MatchKind::Exact => r.pattern == cleaned,
            MatchKind::Regex => regex::Regex::new(&r.pattern)
                .map(|re| re.is_match(cleaned))
                .unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_parse_and_map_variants() {
        let r = Rules::default_rules().unwrap();
        assert!(r.rules.len() > 20);
        for (v, c) in [
            ("prior auth (transfer", "prior authorization"),
            ("claims status - inbound", "claim status"),
            ("eob", "explanation of benefits"),
            ("e.o.b", "explanation of benefits"),
            ("denied claim", "coverage denial"),
            ("general question", "general inquiry"),
        ] {
            assert_eq!(
                r.canonical_of(v).map(|x| x.canonical.as_str()),
                Some(c),
                "{v}"
            );
        }
        assert!(r.canonical_of("something else").is_none());
    }

    #[test]
    fn malformed_files_are_refused_with_the_line() {
        let cases = [
            ("", "header"),
            ("rule,match,pattern,canonical\n", "no rules"),
            ("a,b\n", "header"),
            (
                "rule,match,pattern,canonical\nx,fuzzy,a,b\n",
                "line 2: match",
            ),
            (
                "rule,match,pattern,canonical\nx,regex,(unclosed,b\n",
                "does not compile",
            ),
            (
                "rule,match,pattern,canonical\nx,regex,a,\n",
                "empty canonical",
            ),
            (
                "rule,match,pattern,canonical\nx,exact,a,b\nx,exact,c,d\n",
                "repeats",
            ),
            ("rule,match,pattern,canonical\nx,exact,a\n", "line 2"),
        ];
        for (text, want) in cases {
            let e = Rules::parse(text, "r.csv").unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.contains("fix:"), "{e}");
        }
    }

    #[test]
    fn injection_text_is_just_data() {
        let r = Rules::parse(
            "rule,match,pattern,canonical\nx,exact,\"a'; drop table t; --\",\"b`) --\"\n",
            "r.csv",
        )
        .unwrap();
        // Exact patterns are cleaned like the data (edge punctuation stripped).
        assert_eq!(r.rules[0].pattern, "a'; drop table t");
    }
}
