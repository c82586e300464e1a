//! `rarecall check`: connect (with the `[spark.conf]` settings), print the Spark
//! version, validate the source schema against the mapping and the `output.table`
//! against the catalog; with `--dry-run`, print the rendered SQL without connecting.

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

/// Which Databricks sign-in source the connection uses (the first token was fetched
/// when it connected), and where tracking goes.
fn signin_lines(cfg: &Config) -> String {
    let env = Env::from_process();
    let signin = match &cfg.signin {
        Some(p) => format!("{} from {} for {}", p.source_name(), p.origin(), p.host()),
        None => "none (not a Databricks remote)".into(),
    };
    let tracking = match &cfg.mlflow {
        None => "off".to_string(),
        Some(s) => match config::tracking_endpoint(
            s,
            &env,
            cfg.profile.as_deref(),
            cfg.host_flag.as_deref(),
        ) {
            Ok((base, auth)) => format!(
                "{base}, experiment {}{}{}",
                s.experiment,
                auth.map(|a| format!(", signed in with {}", a.source_name()))
                    .unwrap_or_default(),
                if s.required { " (required)" } else { "" }
            ),
            Err(e) => format!("not usable: {e}"),
        },
    };
    format!("Databricks sign-in: {signin}\nMLflow tracking: {tracking}\n")
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
    for (key, value) in &cfg.spark_conf {
        out.push_str(&format!("session setting {key} = {value}\n"));
    }
    if let Some(t) = &cfg.output_table {
        super::outreach_table::check(&spark, cfg)?;
        out.push_str(&format!(
            "output table {} ({}): checked against the catalog (grants show at the first write)\n",
            t.name,
            t.mode.as_str()
        ));
    }
    out.push_str(&signin_lines(cfg));
    Ok(out)
}
