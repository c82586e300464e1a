//! rarecall: predict rare escalation-positive service interactions and pick whom to
//! contact. Heavy work runs as Spark SQL over Spark Connect; encoding, training and
//! threshold selection run here; outputs go through `object_store`.
//!
//! Data flows one way: config -> spark (sql/ views) -> Arrow -> table -> outputs.

pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod outputs;
pub mod pipeline;
pub mod remote;
pub mod report;
pub mod rules;
pub mod spark;
pub mod sql;
pub mod table;

use serde_json::json;

use crate::config::Config;
use crate::error::Result;
use crate::pipeline::Timings;
use crate::table::{NUMERIC_FEATURES, Split};

/// Name of the normalization audit file.
pub const AUDIT_FILE: &str = "pydescription_normalization_audit.csv";
/// Name of the run summary file.
pub const SUMMARY_FILE: &str = "run_summary.json";

/// What `run` reports back to the caller.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub output_dir: String,
    pub train_rows: usize,
    pub train_positives: usize,
    pub test_rows: usize,
    pub test_positives: usize,
    pub events: i64,
    pub members: i64,
    pub timings: Vec<(String, f64)>,
}

/// The main job: Spark SQL features, Arrow into Rust, audit and summary outputs.
pub fn run(cfg: &Config) -> Result<RunReport> {
    let mut timings = Timings::default();
    let outputs = outputs::Outputs::open(&cfg.output_dir)?;
    let spark = timings.time("connect", || spark::Spark::connect(&cfg.remote, cfg.timeout_secs))?;
    let got = pipeline::run_spark(&spark, &cfg.pipeline, &mut timings)?;
    let f = &got.features;
    let report = RunReport {
        output_dir: outputs.location().to_string(),
        train_rows: f.rows_of(Split::Train).len(),
        train_positives: f.positives_of(Split::Train),
        test_rows: f.rows_of(Split::Test).len(),
        test_positives: f.positives_of(Split::Test),
        events: got.checks.n_events,
        members: got.checks.n_members,
        timings: timings.0.clone(),
    };
    let audit = report::audit_csv(&got.audit)?;
    let p = &cfg.pipeline;
    let summary = json!({
        "rarecall_version": env!("CARGO_PKG_VERSION"),
        "spark_version": got.spark_version,
        "remote": cfg.remote.to_string(),
        "source": p.source.describe(),
        "parameters": {
            "split_boundary": p.split_boundary.to_string(),
            "target_neg_pos_member_ratio": p.neg_pos_ratio,
            "seed": p.seed,
            "target_precision": p.threshold.target_precision,
            "threshold_cap": p.threshold.threshold_cap,
            "rules": p.rules.source,
        },
        "data": {
            "events": got.checks.n_events,
            "interactions": got.checks.n_interactions,
            "members": got.checks.n_members,
            "first_event": pipeline::fmt_us(got.checks.min_ts_us),
            "last_event": pipeline::fmt_us(got.checks.max_ts_us),
        },
        "rows": {
            "train_sampled": report.train_rows,
            "train_positives": report.train_positives,
            "sampled_negative_weight": got.sampled_negative_weight,
            "test": report.test_rows,
            "test_positives": report.test_positives,
            "distinct_descriptions": f.descriptions.dictionary.len(),
            "numeric_features": NUMERIC_FEATURES,
        },
        "stage_seconds": timings.0.iter().map(|(k, v)| json!({"stage": k, "seconds": v})).collect::<Vec<_>>(),
    });
    let summary = serde_json::to_vec_pretty(&summary).map_err(|e| error::Error::Output {
        location: SUMMARY_FILE.into(),
        problem: e.to_string(),
        fix: "report this as a bug".into(),
    })?;
    // Both files are built before either is written: no half set of outputs.
    outputs.put(AUDIT_FILE, audit)?;
    outputs.put(SUMMARY_FILE, summary)?;
    Ok(report)
}

/// `check`: connect, print the Spark version, validate the source schema.
pub fn check(cfg: &Config) -> Result<String> {
    let spark = spark::Spark::connect(&cfg.remote, cfg.timeout_secs)?;
    let version = spark.version()?;
    let types = pipeline::register_and_check_source(&spark, &cfg.pipeline)?;
    let c = &cfg.pipeline.columns;
    let mut out = format!(
        "Spark {version} at {}\nsource {}: schema matches the mapping\n",
        cfg.remote,
        cfg.pipeline.source.describe()
    );
    for (role, col) in [
        ("member_id", &c.member_id),
        ("interaction_id", &c.interaction_id),
        ("event_ts", &c.event_ts),
        ("description", &c.description),
        ("label", &c.label),
    ] {
        out.push_str(&format!("  {role:<15} <- {}\n", col.raw()));
    }
    for (src, std) in &c.categoricals {
        out.push_str(&format!("  {std:<15} <- {}\n", src.raw()));
    }
    if types.event_ts_is_string {
        out.push_str("  (event_ts is text: parsed with try_to_timestamp)\n");
    }
    Ok(out)
}
