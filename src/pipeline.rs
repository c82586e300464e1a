//! The stages that run in Spark, in order: register the source and the rules, check
//! the schema and the events, create the views of `sql/`, pull the features back.
//!
//! Everything that grows with the data stays in Spark SQL; what comes back is one
//! row per sampled training interaction and per test interaction.

use std::time::Instant;

use arrow::record_batch::RecordBatch;

use crate::config::{ColumnMap, Settings, Source, SourceFormat};
// The scratch folder a run's intermediate Parquet goes to (opened by the caller, which
// knows the credentials; removed when dropped).
use crate::error::{Error, Result};
pub use crate::outputs::Scratch;
use crate::spark::Spark;
use crate::sql::{self, SourceTypes};
use crate::table::{self, EventChecks, FeatureTable};
// In the leaf `timefmt` (so that `train` need not import this module); re-exported here.
pub use crate::memory::peak_rss_bytes;
use crate::memory::release_free_memory;
pub(crate) use crate::timefmt::fmt_us;

/// Wall time of each stage, in run order.
#[derive(Debug, Clone, Default)]
pub struct Timings(pub Vec<(String, f64)>);

impl Timings {
    /// Runs one stage inside a `stage` span: an info event when it starts, one with
    /// `elapsed_s` when it is done (debug when it failed: the error says the rest).
    pub(crate) fn time<T>(&mut self, stage: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let span = tracing::info_span!("stage", stage);
        let _entered = span.enter();
        let start = Instant::now();
        tracing::info!("{stage} ...");
        // What the run let go between stages, and what the stage let go, goes back to
        // the system before the next large allocation.
        release_free_memory();
        let out = f();
        release_free_memory();
        let secs = start.elapsed().as_secs_f64();
        if out.is_ok() {
            // The peak so far, after each stage: which stage sets the client's peak
            // memory shows as the first line where it jumps (scale runs, issue 17).
            match peak_rss_bytes() {
                Some(b) => {
                    let mib = b as f64 / 1_048_576.0;
                    tracing::info!(
                        elapsed_s = secs,
                        peak_rss_mib = mib,
                        "{stage} done in {secs:.2} s (peak memory so far {mib:.0} MiB)"
                    );
                }
                None => tracing::info!(elapsed_s = secs, "{stage} done in {secs:.2} s"),
            }
        } else {
            tracing::debug!(elapsed_s = secs, "{stage} failed after {secs:.2} s");
        }
        self.0.push((stage.to_string(), secs));
        out
    }
}

/// What the Spark side produced.
pub struct SparkOutputs {
    pub(crate) spark_version: String,
    pub checks: EventChecks,
    pub features: FeatureTable,
    /// Rows of the `descriptions` view, sorted for the audit file.
    pub audit: Vec<RecordBatch>,
    pub(crate) sampled_negative_weight: f64,
}

/// Registers the source and checks its schema against the mapping.
pub(crate) fn register_and_check_source(spark: &Spark, p: &Settings) -> Result<SourceTypes> {
    let dtypes = spark.register_source(&p.source)?;
    check_source_schema(&p.columns, &dtypes)
}

fn base_type(t: &str) -> &str {
    t.split('(').next().unwrap_or(t).trim()
}

/// Checks the source columns against the mapping: every mapped column present (Spark
/// resolves names case-insensitively, so do we) with a usable type. Returns how the
/// time column must be read.
fn check_source_schema(cols: &ColumnMap, dtypes: &[(String, String)]) -> Result<SourceTypes> {
    let find = |name: &str| {
        dtypes
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| dtypes.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, t)| t.as_str())
    };
    let available = || {
        let names: Vec<_> = dtypes.iter().map(|(n, t)| format!("{n} {t}")).collect();
        names.join(", ")
    };
    const IDS: &[&str] = &[
        "string", "varchar", "char", "tinyint", "smallint", "int", "bigint", "decimal",
    ];
    const TS: &[&str] = &["timestamp", "timestamp_ntz", "date", "string"];
    const TEXT: &[&str] = &["string", "varchar", "char", "void"];
    const LABEL: &[&str] = &["boolean", "tinyint", "smallint", "int", "bigint"];
    const CAT: &[&str] = &[
        "string", "varchar", "char", "boolean", "tinyint", "smallint", "int", "bigint", "void",
    ];
    let mut checks: Vec<(&str, &str, &[&str], &str)> = vec![
        ("member_id", cols.member_id.raw(), IDS, "string or integer"),
        (
            "interaction_id",
            cols.interaction_id.raw(),
            IDS,
            "string or integer",
        ),
        (
            "event_ts",
            cols.event_ts.raw(),
            TS,
            "timestamp, date or ISO-8601 string",
        ),
        ("description", cols.description.raw(), TEXT, "string"),
        ("label", cols.label.raw(), LABEL, "0/1 integer or boolean"),
    ];
    for (src, _) in &cols.categoricals {
        checks.push(("categoricals", src.raw(), CAT, "string, integer or boolean"));
    }
    let mut types = SourceTypes::default();
    for (role, name, allowed, expected) in checks {
        let Some(t) = find(name) else {
            return Err(Error::Schema {
                role: role.into(),
                column: name.into(),
                expected: "a column of that name".into(),
                found: format!("no such column (source has: {})", available()),
                fix: format!("set columns.{role} to one of the source's column names"),
            });
        };
        let b = base_type(t);
        // A decimal id is only an integer when its scale is 0.
        let ok = allowed.contains(&b) && (b != "decimal" || t.ends_with(",0)"));
        if !ok {
            return Err(Error::Schema {
                role: role.into(),
                column: name.into(),
                expected: expected.into(),
                found: t.into(),
                fix: format!(
                    "map columns.{role} to a {expected} column, or cast it in a view of the source"
                ),
            });
        }
        if role == "event_ts" && b == "string" {
            types.event_ts_is_string = true;
        }
    }
    Ok(types)
}

/// Refuses events that would make every later number wrong.
fn validate_events(c: &EventChecks, p: &Settings) -> Result<()> {
    let src = p.source.describe();
    if c.n_events == 0 {
        return Err(Error::Source {
            source_name: src,
            problem: "has no rows".into(),
            fix: "point the source at the events (or check its filter); demo data: rarecall demo-data".into(),
        });
    }
    let col = |role: &str| match role {
        "member_id" => p.columns.member_id.raw().to_string(),
        "interaction_id" => p.columns.interaction_id.raw().to_string(),
        "event_ts" => p.columns.event_ts.raw().to_string(),
        _ => p.columns.label.raw().to_string(),
    };
    let problems = [
        (
            c.null_member,
            "member_id",
            "have a null member id",
            "drop or fill those rows in the source",
        ),
        (
            c.null_interaction,
            "interaction_id",
            "have a null interaction id",
            "drop or fill those rows in the source",
        ),
        (
            c.null_ts,
            "event_ts",
            "have a null or unparseable event time",
            "store times as timestamps or ISO-8601 strings (2024-03-01T10:15:00)",
        ),
        (
            c.bad_label,
            "label",
            "have a label that is null or not 0/1",
            "store the label as 0/1 or true/false",
        ),
    ];
    for (n, role, what, fix) in problems {
        if n > 0 {
            return Err(Error::Data {
                problem: format!(
                    "{n} of {} events in column `{}` {what}",
                    c.n_events,
                    col(role)
                ),
                fix: fix.into(),
            });
        }
    }
    if c.future_ts > 0 {
        return Err(Error::Data {
            problem: format!("{} events are dated in the future (latest {})", c.future_ts, fmt_us(c.max_ts_us)),
            fix: "check the time zone and the event time column; future events would leak into features".into(),
        });
    }
    if c.duplicate_events > 0 && p.duplicate_events == crate::config::DuplicatePolicy::Error {
        return Err(Error::Data {
            problem: format!(
                "{} of {} events are exact duplicates of another event (same member, interaction, time, description, label and categoricals)",
                c.duplicate_events, c.n_events
            ),
            fix: "deduplicate the source (duplicates inflate event counts and escalations), or set data.duplicate_events = \"drop\" (the default) to drop them".into(),
        });
    }
    if c.n_interaction_members != c.n_interactions {
        return Err(Error::Data {
            problem: format!(
                "{} interactions belong to more than one member",
                c.n_interaction_members - c.n_interactions
            ),
            fix: "each interaction id must belong to one member; check columns.interaction_id"
                .into(),
        });
    }
    Ok(())
}

/// Refuses a split boundary that leaves one side of the data empty.
fn check_split(c: &EventChecks, p: &Settings) -> Result<()> {
    let boundary = p.split_boundary_micros();
    match (c.min_ts_us, c.max_ts_us) {
        (Some(lo), Some(hi)) if boundary <= lo || boundary > hi => {
            let side = if boundary <= lo {
                format!(
                    "the training window (before {}) has no events",
                    p.split_boundary
                )
            } else {
                format!(
                    "the test window (on or after {}) has no events",
                    p.split_boundary
                )
            };
            Err(Error::Data {
                problem: format!(
                    "split boundary {} is outside the data ({} .. {}): {side}",
                    p.split_boundary,
                    fmt_us(Some(lo)),
                    fmt_us(Some(hi))
                ),
                fix: "set model.split_boundary (--split-boundary) to a date inside the data range"
                    .into(),
            })
        }
        _ => Ok(()),
    }
}

/// The stages `run` and `score` share: server version, source and schema check, the
/// rules and views of `sql/` (plus `extra_view`), the event checks and their verdict.
///
/// With a scratch folder, what later stages read more than once is computed once
/// (`Spark::materialize`): a CSV or JSON source is converted to Parquet, then the
/// `descriptions` and `member_history` views are written there and replaced by reads
/// of it, before the views that depend on them are created. `interactions` is not
/// written: `member_history` reads it in the same query, over the same partitioning by
/// member (one shuffle for both). The event checks are columns of `descriptions` and
/// counts over `member_history`, so they cost no pass of their own. Without one (a
/// remote server and no `spark.scratch_dir`), every query recomputes the views it
/// reads.
fn prepare(
    spark: &Spark,
    p: &Settings,
    read: sql::ReadWindow,
    extra_view: Option<&sql::RenderedView>,
    scratch: Option<&Scratch>,
    timings: &mut Timings,
) -> Result<(String, EventChecks)> {
    let spark_version = timings.time("server version", || spark.version())?;
    let types = timings.time("read source", || register_and_check_source(spark, p))?;
    let now_us = chrono::Utc::now().timestamp_micros();
    let views = sql::render_pipeline(p, types, read, now_us)?;
    timings.time("create views", || {
        spark.register_rules(&p.rules)?;
        // Text sources are parsed once, not at every scan.
        if let (Some(s), Source::Path { format, .. }) = (scratch, &p.source)
            && matches!(format, SourceFormat::Csv | SourceFormat::Json)
        {
            spark.materialize(crate::spark::SOURCE_VIEW, &s.path("source"))?;
        }
        for v in &views {
            spark.create_view(v)?;
            match (scratch, v.name.as_str()) {
                (Some(s), "descriptions") => {
                    spark.materialize("descriptions", &s.path("descriptions"))?
                }
                // The interaction aggregation and the history windows, one shuffle;
                // read by the event checks, `features` (twice: the split and the member
                // sample) and the test window.
                (Some(s), "member_history") => {
                    spark.materialize("member_history", &s.path("member_history"))?
                }
                _ => {}
            }
        }
        if let Some(v) = extra_view {
            spark.create_view(v)?;
        }
        Ok(())
    })?;
    let checks = timings.time("check events", || {
        let q = sql::render_event_checks()?;
        table::event_checks(&spark.query("event checks", &q.sql, &q.params)?)
    })?;
    validate_events(&checks, p)?;
    Ok((spark_version, checks))
}

impl crate::spark::BatchSink for table::FeatureTableBuilder {
    fn push(&mut self, batch: &RecordBatch) {
        table::FeatureTableBuilder::push(self, batch);
    }
    fn rows(&self) -> usize {
        self.len()
    }
    fn truncate(&mut self, rows: usize) {
        table::FeatureTableBuilder::truncate(self, rows);
    }
}

/// How many parts a pull of at most `rows` rows takes, `part_rows` a part (at least
/// one part).
fn pull_parts(rows: i64, part_rows: i64) -> i64 {
    let part_rows = part_rows.max(1);
    (rows.max(1) + part_rows - 1) / part_rows
}

/// Pulls a feature-shaped query back into a typed table, batch by batch as they
/// arrive (never held twice, as Arrow and as the table), in parts of members
/// (`pmod(xxhash64(member_id), parts)`), one per `spark.pull_part_rows` of
/// `upper_rows`, an upper bound of the rows (the interactions read): the driver
/// refuses a result over its `spark.driver.maxResultSize`. With a scratch folder and
/// more than one part, the rows are written once and each part reads them back;
/// without one, each part recomputes the query. The table is sorted at the end, so
/// the parts change nothing in it.
fn pull_features(
    spark: &Spark,
    p: &Settings,
    (stage, query, params): (
        &str,
        &str,
        &std::collections::BTreeMap<String, sql::SqlValue>,
    ),
    upper_rows: i64,
    scratch: Option<&Scratch>,
    timings: &mut Timings,
) -> Result<FeatureTable> {
    let cat_names: Vec<String> = p.columns.categoricals.iter().map(|c| c.1.clone()).collect();
    let parts = pull_parts(upper_rows, spark.pull_part_rows());
    timings.time(stage, || {
        let (from, params) = match scratch {
            Some(s) if parts > 1 => {
                // One view per pull: "pull test window" writes `pulled_test_window`.
                let view = stage.replacen("pull", "pulled", 1).replace(' ', "_");
                spark.create_view(&sql::RenderedView {
                    name: view.clone(),
                    sql: query.to_string(),
                    params: params.clone(),
                })?;
                spark.materialize(&view, &s.path(&view))?;
                (view, Default::default())
            }
            _ => (format!("({query})"), params.clone()),
        };
        let sink = std::sync::Arc::new(std::sync::Mutex::new(table::FeatureTableBuilder::new(
            &cat_names,
        )));
        for k in 0..parts {
            let q = if parts == 1 {
                format!("select * from {from}")
            } else {
                format!("select * from {from} where pmod(xxhash64(member_id), {parts}) = {k}")
            };
            spark.query_into(stage, &q, &params, &sink)?;
        }
        if parts > 1 {
            tracing::debug!(parts, "{stage}: pulled in {parts} parts of members");
        }
        let builder = std::mem::replace(
            &mut *sink
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            table::FeatureTableBuilder::new(&[]),
        );
        builder.finish()
    })
}

/// Runs every Spark stage and brings the feature table back, both windows: the
/// training rows, then the test window appended ([`run_spark_training`], then
/// [`pull_test_window`]).
pub fn run_spark(
    spark: &Spark,
    p: &Settings,
    scratch: Option<&Scratch>,
    timings: &mut Timings,
) -> Result<SparkOutputs> {
    let mut got = run_spark_training(spark, p, scratch, timings)?;
    pull_test_window(spark, p, &mut got, scratch, timings)?;
    Ok(got)
}

/// Runs every Spark stage and brings the training rows back; the test window stays
/// in Spark until [`pull_test_window`]. `run` pulls it once the model is trained and
/// its matrix dropped, so the client never holds the test window beside the training
/// matrix (issue 17: peak memory bounded by the training sample).
pub fn run_spark_training(
    spark: &Spark,
    p: &Settings,
    scratch: Option<&Scratch>,
    timings: &mut Timings,
) -> Result<SparkOutputs> {
    let (spark_version, checks) =
        prepare(spark, p, sql::ReadWindow::default(), None, scratch, timings)?;
    check_split(&checks, p)?;
    // The descriptions view counts every source row; only when exact duplicates were
    // found and are dropped does the audit count again without them.
    let recount =
        p.duplicate_events == crate::config::DuplicatePolicy::Drop && checks.duplicate_events > 0;
    let audit_query = sql::render_normalization_audit(recount)?;
    let audit = timings.time("normalization audit", || {
        spark.query("normalization audit", &audit_query.sql, &audit_query.params)
    })?;
    // Burn-in: the first days of the data are history only (their own rolling counts
    // and history are truncated by the start of the data), not training rows.
    let train_from_us = checks
        .min_ts_us
        .map(|t| t + i64::from(p.features.burn_in_days) * 86_400_000_000);
    let features = pull_features(
        spark,
        p,
        (
            "pull features",
            "select * from features where in_sample and split = 'train' and interaction_ts >= :train_from",
            &[(
                "train_from".to_string(),
                sql::SqlValue::Timestamp(train_from_us.unwrap_or(i64::MIN / 2)),
            )]
            .into(),
        ),
        checks.n_interactions,
        scratch,
        timings,
    )?;
    // The split check guaranteed events on both sides; the training sample is empty
    // only when no member has a positive interaction there.
    if features.is_empty() || features.positives_of(table::Split::Train) == 0 {
        return Err(Error::data(
            format!(
                "the training window (after the {}-day burn-in, before {}) has no positive interaction",
                p.features.burn_in_days, p.split_boundary
            ),
            "move model.split_boundary later, lower features.burn_in_days, or check columns.label",
        ));
    }
    let sampled_negative_weight = features.sample_weight.iter().copied().fold(1.0, f64::max);
    Ok(SparkOutputs {
        spark_version,
        checks,
        features,
        audit,
        sampled_negative_weight,
    })
}

/// Pulls the test window (never sampled) and appends it to `got.features` after the
/// training rows: the table one pull of both would have given (rows sort by time,
/// and every test row is later than every training row).
pub fn pull_test_window(
    spark: &Spark,
    p: &Settings,
    got: &mut SparkOutputs,
    scratch: Option<&Scratch>,
    timings: &mut Timings,
) -> Result<()> {
    // The test window is `features`' test rows: never sampled, so they are the
    // scoring window from the split boundary to the last event, read from
    // `member_history` without computing the member sample of the training rows.
    let end_us = got
        .checks
        .max_ts_us
        .map_or(p.split_boundary_micros(), |t| t + 1);
    let window = sql::render_scoring_window(p.split_boundary_micros(), end_us)?;
    spark.create_view(&window)?;
    let test = pull_features(
        spark,
        p,
        (
            "pull test window",
            "select * from scoring_window",
            &Default::default(),
        ),
        got.checks.n_interactions,
        scratch,
        timings,
    )?;
    crate::memory::trace_point("test window pulled, before it joins the table");
    if test.is_empty() {
        return Err(Error::data(
            format!(
                "the test window (on or after {}) has no interactions",
                p.split_boundary
            ),
            "move model.split_boundary earlier",
        ));
    }
    got.features.append(test)
}

/// What the Spark side of `score` produced.
pub(crate) struct ScoringOutputs {
    pub(crate) checks: EventChecks,
    /// Rust path: the window's feature table. In-Spark path: None.
    pub(crate) features: Option<FeatureTable>,
    /// In-Spark path: the rows that came back, with standardized features and score.
    pub(crate) scored: Vec<table::ScoredRow>,
}

/// The Spark stages of `score`: a bounded read (window plus history), the same views
/// as training, the scoring window, then either the features back to Rust or the
/// compiled model run on the cluster.
pub(crate) fn run_scoring_spark(
    spark: &Spark,
    p: &Settings,
    window: &crate::score::ScoringWindow,
    in_spark: Option<std::collections::BTreeMap<&'static str, String>>,
    scratch: Option<&Scratch>,
    timings: &mut Timings,
) -> Result<ScoringOutputs> {
    let read = sql::ReadWindow {
        from_us: Some(window.read_from_us(p.features.history_days)),
        to_us: Some(window.end_us()),
    };
    let scoring_view = sql::render_scoring_window(window.start_us(), window.end_us())?;
    let (_, checks) = prepare(spark, p, read, Some(&scoring_view), scratch, timings)?;
    match in_spark {
        None => {
            let features = pull_features(
                spark,
                p,
                (
                    "pull window features",
                    "select * from scoring_window",
                    &Default::default(),
                ),
                checks.n_interactions,
                scratch,
                timings,
            )?;
            Ok(ScoringOutputs {
                checks,
                features: Some(features),
                scored: Vec::new(),
            })
        }
        Some(frags) => {
            let q = sql::render_in_spark_scores(frags)?;
            let scored = timings.time("score in Spark", || {
                table::scored_rows(&spark.query("score in Spark", &q.sql, &q.params)?)
            })?;
            Ok(ScoringOutputs {
                checks,
                features: None,
                scored,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings_from_toml;

    #[test]
    fn a_pull_takes_one_part_per_part_rows_started() {
        assert_eq!(pull_parts(0, 2_000_000), 1);
        assert_eq!(pull_parts(1, 2_000_000), 1);
        assert_eq!(pull_parts(2_000_000, 2_000_000), 1);
        assert_eq!(pull_parts(2_000_001, 2_000_000), 2);
        // 3M members of demo data: about 13.3M interactions read, 7 parts.
        assert_eq!(pull_parts(13_300_000, 2_000_000), 7);
        assert_eq!(pull_parts(10, 3), 4);
        assert_eq!(pull_parts(10, 0), 10, "a part of at least one row");
    }

    fn dt(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn schema_check_accepts_the_contract_and_case_differences() {
        let p = settings_from_toml("[source]\npath = \"/e\"\n").unwrap();
        let t = check_source_schema(
            &p.columns,
            &dt(&[
                ("MEMBER_ID", "bigint"),
                ("interaction_id", "string"),
                ("event_ts", "string"),
                ("pydescription", "string"),
                ("escalated", "boolean"),
                ("channel", "string"),
            ]),
        )
        .unwrap();
        assert!(t.event_ts_is_string);
    }

    #[test]
    fn schema_check_names_missing_and_mistyped_columns() {
        let p = settings_from_toml("[source]\npath = \"/e\"\n").unwrap();
        let base = [
            ("member_id", "string"),
            ("interaction_id", "string"),
            ("event_ts", "timestamp"),
            ("pydescription", "string"),
            ("escalated", "int"),
            ("channel", "string"),
        ];
        let mut missing = dt(&base);
        missing.remove(4);
        let e = check_source_schema(&p.columns, &missing)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`escalated`")
                && e.contains("columns.label")
                && e.contains("no such column"),
            "{e}"
        );
        let mut wrong = dt(&base);
        wrong[4].1 = "double".into();
        let e = check_source_schema(&p.columns, &wrong)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("found double") && e.contains("0/1 integer or boolean"),
            "{e}"
        );
        let mut wrong = dt(&base);
        wrong[2].1 = "int".into();
        let e = check_source_schema(&p.columns, &wrong)
            .unwrap_err()
            .to_string();
        assert!(e.contains("columns.event_ts"), "{e}");
    }
}
