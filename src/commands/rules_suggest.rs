//! `rarecall rules suggest`: the normalization audit of the source under the
//! configured rules (Spark), then a proposed canonical value for every cleaned
//! description no rule matches (pure, in `crate::suggest`); writes
//! `rules_suggestions.csv` and `rules_suggested.csv`.

use anyhow::Context;

use super::common::{self, SUGGESTED_RULES_FILE, SUGGESTIONS_FILE, new_run_id};
use crate::cli::SuggestArgs;
use crate::config::{self, Config};
use crate::error::{self, Result};
use crate::pipeline;
use crate::remote::Env;
use crate::sql;
use crate::suggest;
use crate::tables;

/// What `rules suggest` did.
#[derive(Debug, Clone)]
pub(super) struct SuggestReport {
    pub(crate) run_id: String,
    pub(crate) output_dir: String,
    pub(crate) total_events: i64,
    /// Distinct cleaned values no rule matched, and their events.
    pub(crate) unmatched_variants: usize,
    pub(crate) unmatched_events: i64,
    /// Variants with a proposed canonical, and their events.
    proposals: usize,
    proposed_events: i64,
}

/// `rarecall rules suggest`: the configuration, the proposals, and a summary of them
/// on stdout.
pub fn rules_suggest(args: &SuggestArgs) -> anyhow::Result<()> {
    let cfg = config::load(&args.common, None, &Env::from_process()).context("configuration")?;
    let params = config::suggest_params(args)?;
    let r = propose(&cfg, &params)?;
    let pct = |part: i64| 100.0 * part as f64 / r.total_events.max(1) as f64;
    println!("rules suggest {}", r.run_id);
    println!(
        "  {} unmatched description variants, {} events ({:.1} % of {} events)",
        r.unmatched_variants,
        r.unmatched_events,
        pct(r.unmatched_events),
        r.total_events
    );
    println!(
        "  {} proposals covering {} events ({:.1} %); {} variants without a similar canonical",
        r.proposals,
        r.proposed_events,
        pct(r.proposed_events),
        r.unmatched_variants - r.proposals
    );
    println!(
        "outputs in {} ({}, {}): review the proposals, then point normalization.rules at the edited file",
        r.output_dir, SUGGESTIONS_FILE, SUGGESTED_RULES_FILE
    );
    Ok(())
}

/// `rules suggest`: the normalization audit of the source under the configured rules
/// (Spark, as `check` connects and `run` builds the `descriptions` view), then for
/// every cleaned value no rule matches the nearest canonical value (pure, in
/// `suggest`); writes `rules_suggestions.csv` and `rules_suggested.csv`.
fn propose(cfg: &Config, params: &suggest::SuggestValidParams) -> Result<SuggestReport> {
    let p = &cfg.settings;
    let run_id = new_run_id();
    // Opened first, as `run` does: a destination that cannot be written fails before
    // any Spark work.
    let outputs = common::open_outputs(cfg)?;
    let spark = common::connect(cfg)?;
    let types = pipeline::register_and_check_source(&spark, p)?;
    spark.register_rules(&p.rules)?;
    // Only the views the audit needs: the later ones (interactions, features) would
    // check nothing the suggestions depend on.
    for v in sql::render_pipeline(
        p,
        types,
        sql::ReadWindow::default(),
        chrono::Utc::now().timestamp_micros(),
    )? {
        spark.create_view(&v)?;
        if v.name == "descriptions" {
            break;
        }
    }
    // No event checks here: under the drop policy the counts are always taken again
    // without exact duplicates.
    let audit_query = sql::render_normalization_audit(
        p.duplicate_events == crate::config::DuplicatePolicy::Drop,
    )?;
    let audit = tables::audit_rows(&spark.query(
        "normalization audit",
        &audit_query.sql,
        &audit_query.params,
    )?)?;
    if audit.iter().map(|r| r.events).sum::<i64>() == 0 {
        return Err(error::Error::Source {
            source_name: p.source.describe(),
            problem: "has no rows".into(),
            fix: "point the source at the events (or check its filter); demo data: rarecall demo-data".into(),
        });
    }
    let s = suggest::suggest(&audit, &p.rules, params)?;
    let files = vec![
        (
            SUGGESTIONS_FILE.to_string(),
            suggest::suggestions_csv(&p.rules, &s)?,
        ),
        (
            SUGGESTED_RULES_FILE.to_string(),
            suggest::suggested_rules_csv(&p.rules, &s)?,
        ),
    ];
    outputs.publish(&run_id, files)?;
    let (proposals, proposed_events) = s.proposed();
    Ok(SuggestReport {
        run_id,
        output_dir: outputs.location().to_string(),
        total_events: s.total_events,
        unmatched_variants: s.rows.len(),
        unmatched_events: s.unmatched_events,
        proposals,
        proposed_events,
    })
}
