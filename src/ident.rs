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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ident_quoting_cannot_escape() {
        let i = Ident::new("k", "a`; drop table x; --").unwrap();
        assert_eq!(i.quoted(), "`a``; drop table x; --`");
        assert!(Ident::new("k", "").is_err());
        assert!(Ident::new("k", "a\nb").is_err());
    }
}
