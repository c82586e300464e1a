//! What several commands share: the names of the files they write, run ids, the
//! Spark connection from a `Config`, the duplicate-events warning, appending a log
//! row, and the peak memory `run` reports.

use serde::Serialize;

use crate::config::{self, Config};
use crate::csv_rows;
use crate::error::Result;
use crate::outputs::Outputs;
use crate::spark::Spark;
use crate::table;
use crate::train;

/// Name of the normalization audit file.
pub(crate) const AUDIT_FILE: &str = "pydescription_normalization_audit.csv";
/// Name of the run summary file.
pub(crate) const SUMMARY_FILE: &str = "run_summary.json";
/// Name of the appended runs log.
pub(crate) const RUNS_LOG_FILE: &str = "outreach_runs_log.csv";
/// Name of the appended scoring log.
pub(crate) const SCORING_LOG_FILE: &str = "outreach_scoring_log.csv";
/// Name of the proposals file of `rules suggest`.
pub(crate) const SUGGESTIONS_FILE: &str = "rules_suggestions.csv";
/// Name of the ready-to-edit rules file of `rules suggest`.
pub(crate) const SUGGESTED_RULES_FILE: &str = "rules_suggested.csv";

/// Output files by relative name, with their bytes (what a run writes and MLflow
/// records as artifacts).
pub(crate) type NamedFiles = Vec<(String, Vec<u8>)>;

/// A new run id: UTC time to the second and a salt from the clock and the process id
/// (the folder name of a run's outputs and the key of its log row).
pub(crate) fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let salt = train::fnv1a(
        format!(
            "{}{}",
            now.timestamp_nanos_opt().unwrap_or(0),
            std::process::id()
        )
        .as_bytes(),
    );
    format!("{}-{:06x}", now.format("%Y%m%dT%H%M%SZ"), salt & 0xff_ffff)
}

/// Connects to the configured Spark Connect server (deadlines and reconnect grace
/// from the configuration; tokens from the Databricks sign-in, asked on every call),
/// then applies the session-level settings of `[spark.conf]`, once.
pub(crate) fn connect(cfg: &Config) -> Result<Spark> {
    let spark = Spark::connect_signed_in(
        &cfg.remote,
        cfg.signin.clone(),
        cfg.timeout_secs,
        cfg.reconnect_grace_secs,
    )?
    .with_pull_part_rows(cfg.pull_part_rows);
    spark.apply_session_conf(&cfg.spark_conf)?;
    Ok(spark)
}

/// Opens the output destination. A Unity Catalog Volume without a personal access
/// token gets its tokens from the Databricks sign-in (OAuth M2M, CLI login), asked
/// before every request, so the writes at the end of a long run do not send an
/// expired one.
pub(crate) fn open_outputs(cfg: &Config) -> Result<Outputs> {
    let creds = match (&cfg.databricks, &cfg.signin) {
        (None, Some(p)) if volumes_store::parse_volume_path(&cfg.output_dir).is_some() => {
            let source = std::sync::Arc::clone(p);
            Some(crate::remote::DatabricksCredentials {
                host: p.host().to_string(),
                token: p.bearer()?,
                refresh: Some(volumes_store::TokenSource(std::sync::Arc::new(move || {
                    source.bearer().ok()
                }))),
            })
        }
        (c, _) => c.clone(),
    };
    Outputs::open(&cfg.output_dir, creds.as_ref())
}

/// Opens the run's scratch folder (`spark.scratch_dir`), or says why the views will be
/// recomputed by each query when there is none.
pub(crate) fn open_scratch(
    cfg: &Config,
    spark: &Spark,
) -> Result<Option<super::interrupt::GuardedScratch>> {
    match &cfg.scratch_dir {
        Some(dir) => {
            let scratch = crate::pipeline::Scratch::open(dir, cfg.databricks.as_ref())?;
            // Removed on SIGINT/SIGTERM too, not only at the end of the run.
            Ok(Some(super::interrupt::GuardedScratch::new(scratch, spark)))
        }
        None => {
            tracing::info!(
                "no spark.scratch_dir for a remote server: intermediate views are recomputed by each query that reads them (set spark.scratch_dir, for example a Volume path, to compute them once)"
            );
            Ok(None)
        }
    }
}

/// A warning event when the source has exact duplicate events that the policy
/// let through or dropped (the `error` policy has refused them before this).
pub(crate) fn warn_duplicates(c: &table::EventChecks, policy: config::DuplicatePolicy) {
    if c.duplicate_events > 0 {
        let what = match policy {
            config::DuplicatePolicy::Drop => "dropped",
            config::DuplicatePolicy::Keep | config::DuplicatePolicy::Error => "kept",
        };
        tracing::warn!(
            duplicate_events = c.duplicate_events,
            n_events = c.n_events,
            "{} of {} events are exact duplicates of another event; {what} (data.duplicate_events)",
            c.duplicate_events,
            c.n_events
        );
    }
}

/// Appends `row` to the CSV log `log_name` (`Outputs::append_log`), its header from
/// the row type `R`.
pub(crate) fn append_log<R: Serialize + Default>(
    outputs: &Outputs,
    log_name: &str,
    run_id: &str,
    row: &R,
) -> Result<()> {
    let columns = csv_rows::columns::<R>()?;
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    outputs.append_log(log_name, &columns, run_id, &csv_rows::cells(row)?)
}

/// One warning line naming the columns above the threshold (nothing when none is).
pub(crate) fn warn_drift(rows: &[crate::drift::DriftRow], warn: f64) {
    let flagged = crate::drift::flagged(rows);
    if flagged.is_empty() {
        return;
    }
    let list: Vec<String> = flagged
        .iter()
        .take(8)
        .map(|r| format!("{} {:.3} ({})", r.column, r.psi, r.comparison))
        .collect();
    tracing::warn!(
        drift_warning = true,
        psi_warn = warn,
        flagged = flagged.len(),
        "drift: population stability index above {warn} for {} column(s): {}; see drift.csv and report.html (threshold: drift.psi_warn / --drift-psi-warn)",
        flagged.len(),
        list.join(", ")
    );
}

// Where the stage log reads it; the run summary and the runs log report it too.
pub use crate::pipeline::peak_rss_bytes;
