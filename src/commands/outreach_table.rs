//! `output.table`: the outreach list of `run` and `score` also written to a Spark
//! table, after the files. The files and the logs are the record: a table that cannot
//! be written fails the command (exit 2) without touching them, and the error says
//! where the complete files are. The table is checked right after connecting, so a bad
//! name, a missing schema or a table of other columns fails before any work.

use chrono::NaiveDate;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::pipeline::Timings;
use crate::spark::{ListOrigin, Spark};
use crate::tables::OutreachRow;

/// Checks the configured table before any work (nothing without `output.table`).
pub(super) fn check(spark: &Spark, cfg: &Config) -> Result<()> {
    match &cfg.output_table {
        Some(t) => spark.check_output_table(t),
        None => Ok(()),
    }
}

/// The origin columns of `run`'s list: the model is the run's own; the window is the
/// test window, from the split boundary to the day after the last event.
pub(super) fn run_origin(cfg: &Config, run_id: &str, last_event_us: Option<i64>) -> ListOrigin {
    let start = cfg.settings.split_boundary;
    let end = last_event_us
        .and_then(chrono::DateTime::from_timestamp_micros)
        .map(|t| t.date_naive())
        .and_then(|d| d.succ_opt())
        .unwrap_or(start)
        .max(start);
    origin(run_id, "run", run_id, start, end)
}

/// The origin columns of a list made now.
pub(super) fn origin(
    run_id: &str,
    command: &'static str,
    model_run_id: &str,
    window_start: NaiveDate,
    window_end: NaiveDate,
) -> ListOrigin {
    ListOrigin {
        run_id: run_id.to_string(),
        command,
        model_run_id: model_run_id.to_string(),
        scored_at_us: chrono::Utc::now().timestamp_micros(),
        window_start,
        window_end,
    }
}

/// Writes the list to `output.table` (nothing without one), timed as its own stage,
/// after the files: `file` is the outreach file already written, named in the error.
pub(super) fn write(
    spark: &Spark,
    cfg: &Config,
    timings: &mut Timings,
    origin: &ListOrigin,
    rows: &[OutreachRow],
    file: &str,
) -> Result<()> {
    let Some(t) = &cfg.output_table else {
        return Ok(());
    };
    let n = timings
        .time("write output table", || {
            spark.write_outreach_table(t, origin, rows)
        })
        .map_err(|e| Error::Output {
            location: format!("table {}", t.name),
            problem: format!("the outreach list was not written to it ({e})"),
            fix: format!(
                "the files of run {} are complete in {} ({file}, the runs log included); fix the table's name, grants or schema and rerun, or load {file} into the table",
                origin.run_id, cfg.output_dir
            ),
        })?;
    tracing::info!(
        table = %t.name,
        rows = n as u64,
        mode = t.mode.as_str(),
        run_id = origin.run_id.as_str(),
        "output table {}: {n} rows of run {} written ({})",
        t.name,
        origin.run_id,
        t.mode.as_str()
    );
    Ok(())
}
