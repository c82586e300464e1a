//! The subcommands, one file and one public function each (`main` parses the flags
//! and calls one of these): `run` trains and writes the outputs, `score` scores a
//! window with a saved model, `check` validates the connection and the source,
//! `demo_data` writes synthetic events, `rules_suggest` proposes description rules,
//! `mlflow_log` records a written run in MLflow (and holds the tracking step of `run`
//! and `score`).
//! What several of them share (file names, run ids, the connection) is in `common`.

mod check;
pub mod common;
mod demo_data;
// SIGINT/SIGTERM: stop the Spark work, remove the scratch folder, exit 130.
mod interrupt;
mod mlflow_log;
// `output.table`: the outreach list also written to a Spark table, after the files.
mod outreach_table;
mod rules_suggest;
mod run;
mod score;

pub use check::check;
pub use demo_data::demo_data;
pub use mlflow_log::mlflow_log;
pub use rules_suggest::rules_suggest;
pub use run::run;
pub use score::score;
