//! `[spark.conf]`: the session-level settings a job asks for (what a `SET key = value`
//! would do), checked into `(key, value)` pairs that `spark` applies once per session
//! right after it connects.
//!
//! rarecall otherwise leaves the cluster's settings alone (issue 17), so this table is
//! the one place a team tunes a Databricks job (`"spark.sql.shuffle.partitions" =
//! "64"`). Here only the text is checked: the shape of the key, the value, and the
//! keys rarecall refuses. Whether the server knows the key and accepts the value is
//! the server's to say, when it is applied (`Spark::apply_session_conf`).

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Keys rarecall sets on its own session, with why a job may not change them.
const MANAGED: &[(&str, &str)] = &[(
    "spark.sql.session.timeZone",
    "rarecall sets it to UTC: day gaps, the split boundary and scoring windows are defined in UTC, and another zone would move interactions across them",
)];

/// Parts of a key that name a secret: a secret in the config file would sit in version
/// control and in the info line that lists the applied settings.
const SECRET_PARTS: &[&str] = &["secret", "password", "token", "credential", "sas"];

/// The checked settings, in key order (a TOML table has no other order).
pub(super) fn session_conf(
    raw: Option<&BTreeMap<String, toml::Value>>,
) -> Result<Vec<(String, String)>> {
    let Some(table) = raw else {
        return Ok(Vec::new());
    };
    table
        .iter()
        .map(|(key, value)| {
            // The value first: a table here means an unquoted key, whose first word
            // alone would fail the key check with a less useful message.
            let value = value_text(key, value)?;
            Ok((check_key(key)?.to_string(), value))
        })
        .collect()
}

/// The TOML key path of one setting in messages: `spark.conf."spark.sql.x"`.
pub(crate) fn key_path(key: &str) -> String {
    format!("spark.conf.{key:?}")
}

/// A Spark configuration key: `spark.` then dot-separated parts of ASCII letters,
/// digits, `_` and `-`; not one rarecall manages; not a secret.
fn check_key(key: &str) -> Result<&str> {
    let well_formed = key.len() <= 200
        && key.starts_with("spark.")
        && key.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if !well_formed {
        return Err(Error::config(
            key_path(key),
            "a Spark configuration key: `spark.` and dot-separated words, such as \"spark.sql.shuffle.partitions\"",
            format!("{key:?}"),
            "write the key as Spark names it, quoted, in [spark.conf]: \"spark.sql.shuffle.partitions\" = \"64\"",
        ));
    }
    if let Some((managed, why)) = MANAGED.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
        return Err(Error::config(
            key_path(key),
            "a setting rarecall does not manage itself",
            format!("{managed:?} ({why})"),
            "remove it from [spark.conf]",
        ));
    }
    let lower = key.to_ascii_lowercase();
    let secret = lower.split('.').any(|p| {
        SECRET_PARTS.iter().any(|s| p.contains(s))
            || p == "key"
            || p.ends_with("key")
            || p.ends_with("keys")
    });
    if secret {
        return Err(Error::config(
            key_path(key),
            "a setting that is not a secret",
            format!("{key:?}, which looks like a credential"),
            "keep secrets out of the config file (it is versioned and its settings are logged): give the cluster the credential (an instance profile, a service principal, Databricks secrets in the cluster configuration)",
        ));
    }
    Ok(key)
}

/// The value as Spark's `SET` takes it: a string as written; an integer, float or
/// boolean as its TOML text. Tables, arrays and dates are refused (a table is almost
/// always an unquoted dotted key, `spark.sql.x = 1` inside `[spark.conf]`).
fn value_text(key: &str, value: &toml::Value) -> Result<String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Table(_) => {
            return Err(Error::config(
                key_path(key),
                "a value (the key quoted, since it has dots)",
                "a table: an unquoted dotted key makes TOML nest tables",
                format!(
                    "quote the whole key: \"{key}.<rest of the key>\" = \"<value>\" (for example \"spark.sql.shuffle.partitions\" = \"64\")"
                ),
            ));
        }
        other => {
            return Err(Error::config(
                key_path(key),
                "a string, number or boolean",
                format!("a {}", other.type_str()),
                "write the value as Spark takes it, in quotes: \"64\", \"true\", \"10MB\"",
            ));
        }
    };
    if text.trim().is_empty() || text.chars().any(char::is_control) || text.len() > 4096 {
        return Err(Error::config(
            key_path(key),
            "a non-empty value of at most 4096 characters without control characters",
            format!("{:?}", text.chars().take(40).collect::<String>()),
            "give the value, or remove the key to keep the cluster's",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::parse_raw;
    use std::path::Path;

    fn conf(body: &str) -> Result<Vec<(String, String)>> {
        let raw = parse_raw(&format!("[spark.conf]\n{body}\n"), Path::new("<inline>"))?;
        session_conf(raw.spark.conf.as_ref())
    }

    #[test]
    fn strings_numbers_and_booleans_become_set_values() {
        let got = conf(
            "\"spark.sql.shuffle.partitions\" = \"64\"\n\"spark.sql.adaptive.enabled\" = true\n\"spark.sql.autoBroadcastJoinThreshold\" = 10485760\n\"spark.databricks.delta.optimizeWrite.enabled\" = \"true\"\n",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                ("spark.databricks.delta.optimizeWrite.enabled", "true"),
                ("spark.sql.adaptive.enabled", "true"),
                ("spark.sql.autoBroadcastJoinThreshold", "10485760"),
                ("spark.sql.shuffle.partitions", "64"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        // No table: no settings; rarecall's own scoped key is the user's to set.
        assert!(conf("").unwrap().is_empty());
        let raw = parse_raw("[spark]\n", Path::new("<inline>")).unwrap();
        assert!(session_conf(raw.spark.conf.as_ref()).unwrap().is_empty());
        assert_eq!(
            conf("\"spark.sql.execution.bypassPartialAggregation\" = \"false\"").unwrap()[0].1,
            "false"
        );
    }

    #[test]
    fn bad_keys_and_values_name_the_key_and_the_fix() {
        for (body, key, says) in [
            (
                "\"sql.shuffle.partitions\" = \"8\"",
                "sql.shuffle.partitions",
                "`spark.` and dot-separated",
            ),
            ("\"spark..x\" = \"8\"", "spark..x", "dot-separated"),
            (
                "\"spark.sql.x y\" = \"8\"",
                "spark.sql.x y",
                "dot-separated",
            ),
            (
                "\"spark.sql.session.timeZone\" = \"Europe/Paris\"",
                "spark.sql.session.timeZone",
                "defined in UTC",
            ),
            (
                "\"spark.sql.session.timezone\" = \"UTC\"",
                "spark.sql.session.timezone",
                "rarecall sets it to UTC",
            ),
            (
                "\"spark.hadoop.fs.azure.account.key.acct.blob.core.windows.net\" = \"abc\"",
                "account.key",
                "credential",
            ),
            (
                "\"spark.hadoop.fs.s3a.secret.key\" = \"abc\"",
                "secret.key",
                "keep secrets out",
            ),
            (
                "\"spark.databricks.token\" = \"dapi\"",
                "spark.databricks.token",
                "credential",
            ),
            (
                "\"spark.sql.shuffle.partitions\" = \"\"",
                "spark.sql.shuffle.partitions",
                "non-empty value",
            ),
            (
                "\"spark.sql.shuffle.partitions\" = [1, 2]",
                "spark.sql.shuffle.partitions",
                "a string, number or boolean",
            ),
            // The usual slip: the key unquoted, so TOML nests tables under `spark`.
            (
                "spark.sql.shuffle.partitions = \"8\"",
                "spark.conf.\"spark\"",
                "quote the whole key",
            ),
        ] {
            let e = conf(body).unwrap_err().to_string();
            assert!(e.starts_with("invalid config `spark.conf."), "{body}: {e}");
            assert!(e.contains(key), "{body}: {e}");
            assert!(e.contains(says), "{body}: {e}");
            assert!(e.contains("; fix: "), "{body}: {e}");
        }
    }
}
