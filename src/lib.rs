//! rarecall: predict rare escalation-positive service interactions and pick whom to
//! contact. Heavy work runs as Spark SQL over Spark Connect; encoding, training and
//! threshold selection run here; outputs go through `object_store`.
//!
//! Data flows one way: config -> spark (sql/ views) -> Arrow -> table -> outputs.
//!
//! Where things live: `commands` has one file per subcommand (what `main` calls);
//! `artifact` is the model file format (`model.json`) that `run` writes and `score`
//! reads; `logs` is how `main` shows the `tracing` events the library emits; the
//! other modules are the stages and the maths the commands put together.

#![warn(unreachable_pub)]
// Most items are `pub(crate)` and their docs link to each other: read them with
// `cargo doc --document-private-items`.
#![allow(rustdoc::private_intra_doc_links)]

mod artifact;
pub mod auth;
mod challenger;
pub mod cli;
pub mod commands;
pub mod config;
mod csv_rows;
mod curve_sample;
pub mod demo;
mod demo_shift;
mod drift;
pub mod encode;
pub mod error;
mod ident;
pub mod logs;
pub mod matrix;
mod memory;
mod mlflow;
pub mod model;
mod numeric;
mod outputs;
pub mod params;
pub mod pipeline;
mod progress;
pub mod remote;
mod report;
pub mod rules;
pub mod score;
pub mod spark;
pub mod sql;
mod suggest;
pub mod table;
pub mod tables;
pub mod threshold;
mod timefmt;
pub mod train;

// `score` (the module) and the tests name the model file at the crate root.
pub(crate) use artifact::MODEL_FORMAT_VERSION;
pub use artifact::ModelFile;
