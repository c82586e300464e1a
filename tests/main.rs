//! The one integration test binary. Every module talks to a real Spark Connect server
//! (scripts/test.sh starts one; `RARECALL_TEST_REMOTE` overrides the address). A test
//! that needs Spark fails, never skips, when no server answers. Run with
//! `--features fault-injection` (scripts/test.sh does): the kill test in `destinations`
//! needs that hook and fails, never passes, without it.

// Shared helpers: hand-made events, configs, the Spark connection.
mod common;
// Feature SQL on hand-made events with known answers: mapping, aggregation,
// recency and rolling counts, split boundaries.
mod features;
// Member-level negative downsampling: ratio, weights, determinism.
mod sampling;
// Sources whose columns are named and typed differently, through the mapping alone.
mod mapping;
// The CLI end to end: demo data, `run`, `check`, and bad input with exit code 2.
mod cli;
// Training and threshold on real features: no leakage, every output of `run`.
mod model;
// `score` with a saved model: Rust and in-Spark scoring reproduce `run`.
mod score;
// Destinations (S3 via moto, Azure via azurite, local) and safe writes under faults.
mod destinations;
// Faults: a silent server (timeouts), a server killed mid-query.
mod faults;
// Secrets: canary tokens never printed or written.
mod secrets;
// MLflow tracking against a real local MLflow server (RARECALL_TEST_MLFLOW_URI).
mod tracking;
// Databricks OAuth M2M sign-in against a local token server in front of MLflow.
mod signin;
// Property tests of the user-text parsers: typed errors, never a panic.
mod fuzz;
// Headless Chromium over the DevTools protocol (a small websocket client).
mod chromium;
// What people look at: the report in Chromium, drift between runs, no progress
// output without a terminal.
mod report;
// `[spark.conf]`: session settings take effect and stay the session's after a run,
// bad keys exit 2 before anything is written.
mod session_conf;
// `output.table`: the outreach list written to a Spark table after the files, read
// back against the file; append by run, overwrite; bad tables exit 2.
mod output_table;
