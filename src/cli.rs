//! Command-line surface: raw flags as clap parses them, nothing validated yet.
//!
//! `config` turns these (with the TOML file and the environment) into a checked
//! `Config`; nothing here decides defaults that the TOML file can also set.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rarecall",
    version,
    about = "Predict rare escalation-positive service interactions and pick whom to contact"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: Spark SQL features, Arrow into Rust, audit outputs.
    Run(RunArgs),
    /// Connect, print the Spark version, validate the source schema against the mapping.
    Check(CheckArgs),
    /// Score a window of interactions with a saved model (no retraining).
    Score(ScoreArgs),
    /// Write deterministic synthetic raw events (Parquet) that follow the input contract.
    DemoData(DemoArgs),
    /// Help with the description rules file.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// MLflow tracking of runs already written.
    #[command(subcommand)]
    Mlflow(MlflowCommand),
}

#[derive(Debug, Subcommand)]
pub enum MlflowCommand {
    /// Record a finished run's outputs as an MLflow run (params, metrics, every file
    /// as an artifact), for a run whose tracking failed or was off.
    Log(MlflowLogArgs),
}

#[derive(Debug, Args)]
pub struct MlflowLogArgs {
    /// The output folder of the run (holding run_summary.json), or its runs/<run_id>/.
    #[arg(long)]
    pub(crate) run_dir: PathBuf,
    /// TOML config file whose [mlflow] section to use (optional).
    #[arg(long, short = 'c')]
    pub(crate) config: Option<PathBuf>,
    /// MLflow tracking server, http(s)://host:port or databricks (mlflow.tracking_uri).
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub(crate) mlflow_uri: Option<String>,
    /// Experiment name (mlflow.experiment).
    #[arg(long)]
    pub(crate) experiment: Option<String>,
    /// Databricks configuration profile in ~/.databrickscfg.
    #[arg(long)]
    pub(crate) profile: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Propose a canonical value for each cleaned description no rule matches, and a
    /// rules file with those proposals as exact rules (rules_suggestions.csv,
    /// rules_suggested.csv in the output folder).
    Suggest(SuggestArgs),
}

/// Flags shared by every command that talks to Spark.
#[derive(Debug, Args, Clone, Default)]
pub struct CommonArgs {
    /// TOML config file (see examples/demo.toml).
    #[arg(long, short = 'c')]
    pub(crate) config: PathBuf,
    /// Spark Connect URL (sc://host:port/;params); overrides every other connection setting.
    #[arg(long)]
    pub(crate) remote: Option<String>,
    /// Databricks configuration profile in ~/.databrickscfg.
    #[arg(long)]
    pub(crate) profile: Option<String>,
    /// Databricks workspace host (token comes from DATABRICKS_TOKEN or the profile).
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// Databricks cluster id.
    #[arg(long)]
    pub(crate) cluster_id: Option<String>,
    /// Use Databricks serverless compute instead of a cluster.
    #[arg(long)]
    pub(crate) serverless: bool,
    /// Source path (overrides source.path / source.table).
    #[arg(long)]
    pub(crate) source: Option<String>,
    /// Source format: parquet, csv, json, delta.
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Seconds any single Spark call may take (spark.timeout_secs).
    #[arg(long)]
    pub(crate) timeout_secs: Option<u64>,
    /// Output folder (output.dir).
    #[arg(long)]
    pub(crate) out: Option<String>,
    /// PSI above which drift is warned about (drift.psi_warn, default 0.2).
    #[arg(long)]
    pub(crate) drift_psi_warn: Option<f64>,
    /// MLflow tracking server, http(s)://host:port or databricks (mlflow.tracking_uri).
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub(crate) mlflow_uri: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Train/test split date, YYYY-MM-DD (model.split_boundary).
    #[arg(long)]
    pub(crate) split_boundary: Option<String>,
    /// Negative members kept per positive member (model.target_neg_pos_member_ratio).
    #[arg(long)]
    pub(crate) target_neg_pos_member_ratio: Option<f64>,
    /// Comma-separated C values (model.c_grid).
    #[arg(long, value_delimiter = ',')]
    pub(crate) c_grid: Option<Vec<f64>>,
    /// balanced | none | a positive-class weight such as 5.0 (model.class_weight).
    #[arg(long)]
    pub(crate) class_weight: Option<String>,
    /// Cross-validation folds (model.cv_folds).
    #[arg(long)]
    pub(crate) cv_folds: Option<usize>,
    /// Seed for sampling and folds (model.seed).
    #[arg(long)]
    pub(crate) seed: Option<i64>,
    /// Precision floor (threshold.target_precision).
    #[arg(long)]
    pub(crate) target_precision: Option<f64>,
    /// Outreach cap, 0 = none (threshold.threshold_cap).
    #[arg(long)]
    pub(crate) threshold_cap: Option<usize>,
    /// Size of the top-K file (threshold.top_k).
    #[arg(long)]
    pub(crate) top_k: Option<usize>,
    /// The published model: logistic or gbdt (model.primary).
    #[arg(long)]
    pub(crate) primary: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    /// The model.json written by `rarecall run`.
    #[arg(long)]
    pub(crate) model: std::path::PathBuf,
    /// Score the interactions of one day, YYYY-MM-DD.
    #[arg(long)]
    pub(crate) date: Option<String>,
    /// First day of the window to score (with --to for a range).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// End of the window, exclusive (default: the day after --from).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Compile the model into Spark SQL and score on the cluster; only the rows to
    /// contact come back.
    #[arg(long)]
    pub(crate) in_spark: bool,
    /// Return the N highest scores instead of the rows above the threshold.
    #[arg(long)]
    pub(crate) top: Option<usize>,
    /// Cap the outreach list at N rows (default: threshold.threshold_cap).
    #[arg(long)]
    pub(crate) threshold_cap: Option<usize>,
    /// Also write window_scores.csv with every scored row.
    #[arg(long)]
    pub(crate) all_scores: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    /// Print the rendered SQL without running it (no connection needed).
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of members.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) members: usize,
    /// Output Parquet file.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Generator seed: same seed, same bytes.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Log-odds added to every interaction (base rate: -0.9 about halves it).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub(crate) base_shift: f64,
    /// Drift in log-odds by the end of the year (base rate, channel mix, chat effect).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub(crate) drift: f64,
    /// Share of events spelled in ways the shipped rules do not cover (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) unmapped: f64,
    /// Share of interactions moved to email from the first day: a shifted channel
    /// mix, for drift checks (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) channel_shift: f64,
    /// Log-odds of a risk that peaks at a 12-day gap since the member's previous
    /// interaction (sd 1.5 days; 0 = none): a nonlinear signal for the trees.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub(crate) gap_peak: f64,
    /// Log-odds of a risk that peaks at 6 interactions in the previous 90 days (sd 1.5
    /// calls; 0 = none): a rise-and-fall no linear term in the call count can follow.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub(crate) calls_peak: f64,
    /// Also write the rules file that covers every generated spelling here.
    #[arg(long)]
    pub(crate) complete_rules: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SuggestArgs {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    /// The least similarity (0 to 1) for a proposal; below it a variant gets none.
    #[arg(long, default_value_t = 0.3)]
    pub(crate) min_similarity: f64,
}

/// How much is logged on stderr, and in which form (every subcommand takes these).
/// `RUST_LOG`, when set, replaces the level that `-v` / `-q` choose.
#[derive(Debug, Args, Clone, Default)]
pub struct LogArgs {
    /// More detail on stderr: -v debug, -vv trace (repeatable).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub(crate) verbose: u8,
    /// Errors only on stderr (the summary still goes to stdout).
    #[arg(long, short = 'q', global = true)]
    pub(crate) quiet: bool,
    /// Stderr as text lines, or one JSON object a line (for schedulers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "RARECALL_LOG_FORMAT")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `rarecall: ...` lines, `error: ...` for the error that ends a run.
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, message, fields, target, span.
    Json,
}
