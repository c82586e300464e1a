//! `rarecall check`: connect, print the Spark version, validate the source schema
//! against the mapping; with `--dry-run`, print the rendered SQL without connecting.

use crate::cli::CheckArgs;
use crate::config::{self, Config};
use crate::error::Result;
use crate::pipeline;
use crate::remote::Env;
use crate::sql;

use super::common;

/// `rarecall check` (and `check --dry-run`): what it found, on stdout.
pub fn check(args: &CheckArgs) -> anyhow::Result<()> {
    if args.dry_run {
        let pipeline = config::load_settings(&args.common, None)?;
        let views = sql::render_pipeline(
            &pipeline,
            Default::default(),
            Default::default(),
            chrono::Utc::now().timestamp_micros(),
        )?;
        print!("{}", sql::dry_run_text(&views));
    } else {
        let cfg = config::load(&args.common, None, &Env::from_process())?;
        print!("{}", check_source(&cfg)?);
    }
    Ok(())
}

/// `check`: connect, print the Spark version, validate the source schema.
fn check_source(cfg: &Config) -> Result<String> {
    let spark = common::connect(cfg)?;
    let version = spark.version()?;
    let types = pipeline::register_and_check_source(&spark, &cfg.settings)?;
    let c = &cfg.settings.columns;
    let mut out = format!(
        "Spark {version} at {}\nsource {}: schema matches the mapping\n",
        cfg.remote,
        cfg.settings.source.describe()
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
