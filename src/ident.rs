//! Identifiers from config: column and table names, validated once and back-quoted
//! whenever they enter Spark SQL.
//!
//! A leaf: imports only `error`, so that `config` (which checks the names) and `sql`
//! (which renders them) can both use it without importing each other. Still
//! re-exported as `sql::Ident`.

use crate::error::{Error, Result};

/// A column or table name from config: any text without control characters, rendered
/// back-quoted with embedded backticks doubled, so it can never end the identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident(String);

impl Ident {
    pub fn new(key: &str, raw: &str) -> Result<Self> {
        if raw.is_empty() || raw.trim().is_empty() {
            return Err(Error::config(
                key,
                "a non-empty column or table name",
                format!("{raw:?}"),
                "name the column as it appears in the source",
            ));
        }
        if raw.chars().any(|c| c.is_control()) || raw.len() > 255 {
            return Err(Error::config(
                key,
                "a name of at most 255 characters without control characters",
                format!("{:?}", raw.chars().take(40).collect::<String>()),
                "name the column as it appears in the source",
            ));
        }
        Ok(Ident(raw.to_string()))
    }

    pub(crate) fn raw(&self) -> &str {
        &self.0
    }

    /// `` `name` `` with backticks doubled: Spark's quoted-identifier syntax.
    pub fn quoted(&self) -> String {
        format!("`{}`", self.0.replace('`', "``"))
    }
}

/// A table name from config, `name`, `schema.name` or `catalog.schema.name`: each
/// part a plain word (letters, digits, `_`) or back-quoted (`` `my-catalog` ``, a
/// backtick inside doubled), rendered back-quoted part by part so nothing in it can
/// leave the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName(Vec<Ident>);

impl TableName {
    /// Parses `text` as 1 to 3 dot-separated parts; `key` names the setting in errors.
    pub(crate) fn parse(key: &str, text: &str) -> Result<Self> {
        let bad = |found: String| {
            Error::config(
                key,
                "name, schema.name or catalog.schema.name (parts of letters, digits and _, or back-quoted: `my-catalog`.cx.outreach)",
                found,
                format!(
                    "set {key} to an existing catalog and schema and the table to write, for example \"main.cx.outreach_daily\""
                ),
            )
        };
        let quoted_text = format!("{text:?}");
        let mut parts = Vec::new();
        let mut chars = text.trim().chars().peekable();
        loop {
            let mut part = String::new();
            if chars.peek() == Some(&'`') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('`') if chars.peek() == Some(&'`') => {
                            chars.next();
                            part.push('`');
                        }
                        Some('`') => break,
                        Some(c) => part.push(c),
                        None => {
                            return Err(bad(format!("{quoted_text} (a back-quote is not closed)")));
                        }
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    if !(c.is_ascii_alphanumeric() || c == '_') {
                        return Err(bad(format!("{quoted_text} ({c:?} outside back-quotes)")));
                    }
                    part.push(c);
                    chars.next();
                }
            }
            if part.trim().is_empty() {
                return Err(bad(format!("{quoted_text} (an empty part)")));
            }
            parts.push(Ident::new(key, &part).map_err(|_| bad(quoted_text.clone()))?);
            match chars.next() {
                None => break,
                Some('.') => {}
                Some(c) => {
                    return Err(bad(format!(
                        "{quoted_text} ({c:?} after a back-quoted part)"
                    )));
                }
            }
        }
        if parts.len() > 3 {
            return Err(bad(format!("{quoted_text} ({} parts)", parts.len())));
        }
        Ok(TableName(parts))
    }

    /// The name as Spark SQL reads it: each part back-quoted, joined by dots.
    pub(crate) fn quoted(&self) -> String {
        self.0
            .iter()
            .map(Ident::quoted)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The parts before the table (schema, or catalog and schema), quoted; `None`
    /// for a bare name (the session's current schema).
    pub(crate) fn namespace_quoted(&self) -> Option<String> {
        let (_, ns) = self.0.split_last()?;
        (!ns.is_empty()).then(|| ns.iter().map(Ident::quoted).collect::<Vec<_>>().join("."))
    }
}

impl std::fmt::Display for TableName {
    /// The quoted form: unambiguous in messages, and what a user pastes into SQL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.quoted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_of_one_to_three_parts_are_back_quoted_safely() {
        let t = |s: &str| TableName::parse("output.table", s).map(|n| n.quoted());
        assert_eq!(t("outreach").unwrap(), "`outreach`");
        assert_eq!(t("cx.outreach_daily").unwrap(), "`cx`.`outreach_daily`");
        assert_eq!(t(" main.cx.Outreach2 ").unwrap(), "`main`.`cx`.`Outreach2`");
        assert_eq!(
            t("`my-cat`.cx.`out list`").unwrap(),
            "`my-cat`.`cx`.`out list`"
        );
        assert_eq!(t("`a.b`.c").unwrap(), "`a.b`.`c`");
        // A back-quote inside a quoted part is doubled, so it cannot end the part.
        assert_eq!(
            t("`x``; drop table y; --`").unwrap(),
            "`x``; drop table y; --`"
        );
        let n = TableName::parse("output.table", "main.cx.t").unwrap();
        assert_eq!(n.namespace_quoted().as_deref(), Some("`main`.`cx`"));
        assert_eq!(TableName::parse("k", "t").unwrap().namespace_quoted(), None);
        for (bad, why) in [
            ("", "an empty part"),
            ("main..t", "an empty part"),
            ("main.cx.", "an empty part"),
            ("a.b.c.d", "4 parts"),
            ("main.cx.out-list", "'-' outside back-quotes"),
            ("main.cx.t; drop table x", "';' outside back-quotes"),
            ("`unclosed.t", "not closed"),
            ("`a`b.t", "'b' after a back-quoted part"),
            ("``.t", "an empty part"),
            ("`a\nb`", "control"),
        ] {
            let e = TableName::parse("output.table", bad)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("invalid config `output.table`: expected name, schema.name or catalog.schema.name"), "{bad}: {e}");
            assert!(e.contains("; fix: set output.table to"), "{bad}: {e}");
            if why != "control" {
                assert!(e.contains(why), "{bad}: {e}");
            }
        }
    }

    proptest::proptest! {
        /// Any text gives a name or a config error, never a panic; a name's quoted
        /// form reads back as the same name (what Spark parses is what was checked).
        #[test]
        fn table_name_quoting_reads_back(text in "[a-z_`. ;-]{0,24}|\\PC{0,24}") {
            if let Ok(n) = TableName::parse("output.table", &text) {
                let again = TableName::parse("output.table", &n.quoted());
                proptest::prop_assert_eq!(again.ok(), Some(n));
            }
        }
    }

    #[test]
    fn ident_quoting_cannot_escape() {
        let i = Ident::new("k", "a`; drop table x; --").unwrap();
        assert_eq!(i.quoted(), "`a``; drop table x; --`");
        assert!(Ident::new("k", "").is_err());
        assert!(Ident::new("k", "a\nb").is_err());
    }
}
