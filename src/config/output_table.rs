//! `output.table` and `output.table_mode`: the optional Spark table the outreach list
//! of `run` and `score` is also written to (issue 17), checked into an
//! [`OutputTable`]. The files stay the record; the table is how Databricks teams
//! consume a daily list.

use super::raw::RawOutput;
use crate::error::{Error, Result};
use crate::ident::TableName;

/// How a run's rows go into the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableMode {
    /// Add this run's rows (the default): a daily table accumulates, one `run_id` per
    /// run; the table is created by the first run.
    Append,
    /// Replace the table's rows with this run's (the latest list only).
    Overwrite,
}

impl TableMode {
    /// Spark's save mode name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TableMode::Append => "append",
            TableMode::Overwrite => "overwrite",
        }
    }
}

/// Where the outreach list is also written, through Spark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutputTable {
    pub(crate) name: TableName,
    pub(crate) mode: TableMode,
}

/// The checked table, `None` without `output.table`.
pub(super) fn output_table(raw: &RawOutput) -> Result<Option<OutputTable>> {
    let Some(text) = raw.table.as_deref() else {
        if let Some(mode) = &raw.table_mode {
            return Err(Error::config(
                "output.table_mode",
                "output.table set beside it",
                format!("table_mode = {mode:?} without a table"),
                "set output.table = \"catalog.schema.name\", or remove output.table_mode",
            ));
        }
        return Ok(None);
    };
    let name = TableName::parse("output.table", text)?;
    let mode = match raw.table_mode.as_deref() {
        None | Some("append") => TableMode::Append,
        Some("overwrite") => TableMode::Overwrite,
        Some(other) => {
            return Err(Error::config(
                "output.table_mode",
                "\"append\" or \"overwrite\"",
                format!("{other:?}"),
                "use \"append\" (the default: each run adds its rows with its run_id) or \"overwrite\" (the table holds the latest list only)",
            ));
        }
    };
    Ok(Some(OutputTable { name, mode }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::parse_raw;
    use std::path::Path;

    fn table(body: &str) -> Result<Option<OutputTable>> {
        let raw = parse_raw(&format!("[output]\n{body}\n"), Path::new("<inline>"))?;
        output_table(&raw.output)
    }

    #[test]
    fn table_and_mode_default_to_append_and_are_checked() {
        assert_eq!(table("dir = \"out\"").unwrap(), None);
        let t = table("table = \"main.cx.outreach_daily\"")
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.name.quoted().as_str(), t.mode),
            ("`main`.`cx`.`outreach_daily`", TableMode::Append)
        );
        let t = table("table = \"outreach\"\ntable_mode = \"overwrite\"")
            .unwrap()
            .unwrap();
        assert_eq!(t.mode, TableMode::Overwrite);
        for (body, key, says) in [
            (
                "table = \"main.cx.out list\"",
                "output.table",
                "' ' outside back-quotes",
            ),
            ("table = \"a.b.c.d\"", "output.table", "4 parts"),
            (
                "table = \"t\"\ntable_mode = \"upsert\"",
                "output.table_mode",
                "\"upsert\"",
            ),
            (
                "table_mode = \"append\"",
                "output.table_mode",
                "without a table",
            ),
        ] {
            let e = table(body).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid config `{key}`")),
                "{body}: {e}"
            );
            assert!(e.contains(says) && e.contains("; fix: "), "{body}: {e}");
        }
    }
}
