//! The outreach list as a Spark table (`output.table`): the columns and their types,
//! a check of the table before any work, and the write, as one Arrow batch in a
//! `LocalRelation` saved with `saveAsTable`.
//!
//! The types are declared, not inferred, so the table reads the same on every cluster:
//! a daily table that accumulates must not change type because one day's list happened
//! to be empty or to hold only small ranks.

use chrono::NaiveDate;
use spark_connect::row::{Row, Value};
use spark_connect::types::DataType;

use super::Spark;
use crate::config::{OutputTable, TableMode};
use crate::error::{Error, Result};
use crate::tables::OutreachRow;

/// The table's columns in order, as Spark DDL: the run that wrote the rows, then the
/// outreach file's columns (`interaction_ts` as a timestamp, reasons as three names).
pub(crate) const OUTREACH_TABLE_DDL: &str = "run_id string, command string, model_run_id string, scored_at timestamp, window_start date, window_end date, rank int, member_id string, interaction_id string, interaction_ts timestamp, score double, reason_1 string, reason_2 string, reason_3 string";

/// Who wrote a list and for which window: the columns that tell one run's rows from
/// another's in an appended table.
#[derive(Debug, Clone)]
pub(crate) struct ListOrigin {
    /// The run id of this `run` or `score` (its folder under `runs/`).
    pub(crate) run_id: String,
    /// `run` or `score`.
    pub(crate) command: &'static str,
    /// The run that trained the model (for `run`, itself).
    pub(crate) model_run_id: String,
    /// When the list was made (UTC, microseconds).
    pub(crate) scored_at_us: i64,
    /// The scored window, start inclusive and end exclusive (`run`: the test window).
    pub(crate) window_start: NaiveDate,
    pub(crate) window_end: NaiveDate,
}

fn schema() -> Result<DataType> {
    DataType::from_ddl(OUTREACH_TABLE_DDL).map_err(|e| Error::Spark {
        stage: "outreach table schema".into(),
        message: e.message(),
    })
}

fn field_names() -> Vec<String> {
    OUTREACH_TABLE_DDL
        .split(", ")
        .filter_map(|c| c.split(' ').next())
        .map(String::from)
        .collect()
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

/// The rows of the table, one per listed interaction, in rank order.
pub(crate) fn table_rows(origin: &ListOrigin, rows: &[OutreachRow]) -> Vec<Row> {
    let names = field_names();
    let text = |s: &str| Value::String(s.to_string());
    rows.iter()
        .map(|r| {
            let reason = |k: usize| r.reasons.get(k).map_or(Value::Null, |(name, _)| text(name));
            Row::new(
                names.clone(),
                vec![
                    text(&origin.run_id),
                    text(origin.command),
                    text(&origin.model_run_id),
                    Value::Timestamp(origin.scored_at_us),
                    Value::Date(days(origin.window_start)),
                    Value::Date(days(origin.window_end)),
                    Value::Integer(i32::try_from(r.rank).unwrap_or(i32::MAX)),
                    text(&r.member_id),
                    text(&r.interaction_id),
                    Value::Timestamp(r.interaction_ts_us),
                    Value::Double(r.score),
                    reason(0),
                    reason(1),
                    reason(2),
                ],
            )
        })
        .collect()
}

impl Spark {
    /// Before any work: the table must be writable in its mode as far as the catalog
    /// can tell. An existing table must have these columns with these types in append
    /// mode (overwrite replaces it); a missing one needs an existing schema, since
    /// rarecall creates tables, never catalogs or schemas. Grants show only at the write.
    pub(crate) fn check_output_table(&self, t: &OutputTable) -> Result<()> {
        let name = t.name.quoted();
        let found = self.call("check output table", move |s| {
            s.table(&name).and_then(|df| df.schema())
        });
        match found {
            Ok(DataType::Struct { fields }) => {
                let want = match schema()? {
                    DataType::Struct { fields } => fields,
                    _ => Vec::new(),
                };
                let same = fields.len() == want.len()
                    && want.iter().all(|w| {
                        fields.iter().any(|f| {
                            f.name.eq_ignore_ascii_case(&w.name) && f.data_type == w.data_type
                        })
                    });
                if !same && t.mode == TableMode::Append {
                    let cols: Vec<String> = fields
                        .iter()
                        .map(|f| format!("{} {}", f.name, f.data_type))
                        .collect();
                    return Err(Error::config(
                        "output.table",
                        format!(
                            "a new table, or one with rarecall's outreach columns ({OUTREACH_TABLE_DDL})"
                        ),
                        format!("{} with columns ({})", t.name, cols.join(", ")),
                        "name a new table (the first run creates it), or set output.table_mode = \"overwrite\" to replace this one",
                    ));
                }
                tracing::info!(
                    table = %t.name,
                    mode = t.mode.as_str(),
                    "output table {} exists; the outreach list will be written to it ({})",
                    t.name,
                    t.mode.as_str()
                );
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(Error::Spark { message, .. }) if message.contains("TABLE_OR_VIEW_NOT_FOUND") => {
                if let Some(ns) = t.name.namespace_quoted() {
                    let sql = format!("describe namespace {ns}");
                    self.call("check output schema", move |s| s.sql(&sql)?.collect())
                        .map_err(|e| match e {
                            Error::Spark { message, .. } => Error::config(
                                "output.table",
                                "a table in an existing catalog and schema",
                                format!("{} (the schema {ns}: {message})", t.name),
                                format!("create the schema first (CREATE SCHEMA {ns}) or name one this user can use"),
                            ),
                            other => other,
                        })?;
                }
                tracing::info!(
                    table = %t.name,
                    "output table {} does not exist yet: the first write creates it",
                    t.name
                );
                Ok(())
            }
            Err(Error::Spark { message, .. }) => Err(Error::config(
                "output.table",
                "a table name Spark can resolve",
                format!("{} ({message})", t.name),
                "check the name and this user's grants on the catalog and schema",
            )),
            Err(other) => Err(other),
        }
    }

    /// Writes the list to the table in its mode and returns the rows written. Never
    /// retried: an append that reached the server but whose answer was lost would
    /// otherwise add the list twice.
    pub(crate) fn write_outreach_table(
        &self,
        t: &OutputTable,
        origin: &ListOrigin,
        rows: &[OutreachRow],
    ) -> Result<usize> {
        let schema = schema()?;
        let data = table_rows(origin, rows);
        let n = data.len();
        let (name, mode) = (t.name.quoted(), t.mode);
        self.call_once("write output table", move |s| {
            let mut w = s
                .create_dataframe(data, schema)?
                .write()
                .mode(mode.as_str());
            if mode == TableMode::Overwrite {
                // Delta keeps the old schema on overwrite unless told; other formats
                // ignore the option.
                w = w.option("overwriteSchema", "true");
            }
            w.save_as_table(&name)
        })?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_the_run_and_the_list_with_declared_types() {
        let origin = ListOrigin {
            run_id: "20260101T000000Z-abc".into(),
            command: "score",
            model_run_id: "20251201T000000Z-def".into(),
            scored_at_us: 1_767_225_600_000_000,
            window_start: NaiveDate::from_ymd_opt(2024, 11, 5).unwrap(),
            window_end: NaiveDate::from_ymd_opt(2024, 11, 6).unwrap(),
        };
        let list = [OutreachRow {
            rank: 1,
            member_id: "m1".into(),
            interaction_id: "i1".into(),
            interaction_ts_us: 1_730_800_000_000_000,
            score: 0.123_456_789_012_345_6,
            reasons: vec![("calls_7d".into(), 0.5), ("tenure".into(), 0.1)],
        }];
        let rows = table_rows(&origin, &list);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.fields(), field_names().as_slice());
        assert_eq!(field_names().len(), 14);
        assert_eq!(
            r.get(4),
            Some(&Value::Date(20032)),
            "2024-11-05 is day 20032"
        );
        assert_eq!(r.get(6), Some(&Value::Integer(1)));
        assert_eq!(r.get(10), Some(&Value::Double(0.123_456_789_012_345_6)));
        assert_eq!(r.get(12), Some(&Value::String("tenure".into())));
        assert_eq!(r.get(13), Some(&Value::Null), "fewer than three reasons");
        match schema().unwrap() {
            DataType::Struct { fields } => {
                let types: Vec<String> = fields.iter().map(|f| f.data_type.to_string()).collect();
                assert_eq!(fields[3].data_type, DataType::Timestamp);
                assert_eq!(fields[6].data_type, DataType::Integer);
                assert_eq!(fields[10].data_type, DataType::Double);
                assert_eq!(types.len(), 14);
            }
            other => panic!("{other:?}"),
        }
    }
}
