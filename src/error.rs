//! The library's one error type, grouped by pipeline stage.
//!
//! Every message says what was expected, what was found and how to fix it, on one
//! line, so that a person reading a failed morning job knows what to change. Secrets
//! never reach a message: connection strings are redacted before they are embedded.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- configuration -------------------------------------------------------
    /// A configuration value (TOML key, flag or environment variable) is invalid.
    #[error("invalid config `{key}`: expected {expected}, found {found}; fix: {fix}")]
    Config {
        key: String,
        expected: String,
        found: String,
        fix: String,
    },

    /// The config file could not be read or parsed.
    #[error("cannot read config file {path}: {problem}; fix: {fix}")]
    ConfigFile {
        path: PathBuf,
        problem: String,
        fix: String,
    },

    // ---- connection ----------------------------------------------------------
    /// The Spark Connect endpoint could not be resolved or reached.
    #[error("Spark Connect {problem} (remote {remote}); fix: {fix}")]
    Connection {
        remote: String,
        problem: String,
        fix: String,
    },

    // ---- source data ---------------------------------------------------------
    /// The source (path or table) is missing, unreadable or empty.
    #[error("source {source_name}: {problem}; fix: {fix}")]
    Source {
        source_name: String,
        problem: String,
        fix: String,
    },

    /// A mapped column is missing or has a type the pipeline cannot use.
    #[error(
        "source column `{column}` (config key columns.{role}): expected {expected}, found {found}; fix: {fix}"
    )]
    Schema {
        role: String,
        column: String,
        expected: String,
        found: String,
        fix: String,
    },

    /// The data passed the schema check but cannot support the job (for example a
    /// training window without a positive interaction).
    #[error("data: {problem}; fix: {fix}")]
    Data { problem: String, fix: String },

    // ---- rules file ----------------------------------------------------------
    /// The PYDESCRIPTION rules file is malformed.
    #[error("rules file {path}: {problem}; fix: {fix}")]
    Rules {
        path: String,
        problem: String,
        fix: String,
    },

    // ---- spark execution -----------------------------------------------------
    /// A Spark SQL stage failed on the server.
    #[error("Spark stage `{stage}` failed: {message}")]
    Spark { stage: String, message: String },

    /// A Spark call did not answer within the configured time.
    #[error(
        "Spark stage `{stage}` did not finish within {secs} s; fix: check the server, or raise spark.timeout_secs"
    )]
    Timeout { stage: String, secs: u64 },

    /// Arrow data from Spark did not have the shape the Rust side expects.
    #[error("feature table from `{stage}`: expected {expected}, found {found}")]
    Arrow {
        stage: String,
        expected: String,
        found: String,
    },

    // ---- pure model code -----------------------------------------------------
    /// Parameters were checked before use and refused (see `params::ParamGuard`), or
    /// the inputs of a fit do not fit together. `config` rewrites a refused parameter
    /// into [`Error::Config`] with its TOML key.
    #[error("invalid parameter `{name}`: expected {expected}, found {found}")]
    Params {
        name: String,
        expected: String,
        found: String,
    },

    // ---- outputs -------------------------------------------------------------
    /// Writing or reading an output failed.
    #[error("output {location}: {problem}; fix: {fix}")]
    Output {
        location: String,
        problem: String,
        fix: String,
    },

    // ---- tracking and sign-in ------------------------------------------------
    /// An MLflow tracking call failed: the endpoint called, what came back (an HTTP
    /// status and MLflow error code, or why nothing came back) and what to do.
    #[error("MLflow {endpoint}: {status}; fix: {fix}")]
    Tracking {
        endpoint: String,
        status: String,
        fix: String,
    },

    /// Databricks sign-in failed: the source tried (PAT, OAuth M2M, CLI), for which
    /// profile or variables, what went wrong. Never the token or the secret.
    #[error("Databricks sign-in ({source_name} for {profile}): {problem}; fix: {fix}")]
    Auth {
        source_name: String,
        profile: String,
        problem: String,
        fix: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Params`].
    pub(crate) fn params(
        name: impl Into<String>,
        expected: impl Into<String>,
        found: impl std::fmt::Display,
    ) -> Self {
        Error::Params {
            name: name.into(),
            expected: expected.into(),
            found: found.to_string(),
        }
    }

    /// The same error with an [`Error::Params`] name prefixed by the part of composite
    /// parameters it belongs to (`top_n` in `multi_hot` -> `multi_hot.top_n`); other
    /// errors unchanged.
    pub(crate) fn within(self, part: &str) -> Self {
        match self {
            Error::Params {
                name,
                expected,
                found,
            } => Error::Params {
                name: format!("{part}.{name}"),
                expected,
                found,
            },
            other => other,
        }
    }

    /// Shorthand for [`Error::Config`].
    pub(crate) fn config(
        key: impl Into<String>,
        expected: impl Into<String>,
        found: impl std::fmt::Display,
        fix: impl Into<String>,
    ) -> Self {
        Error::Config {
            key: key.into(),
            expected: expected.into(),
            found: found.to_string(),
            fix: fix.into(),
        }
    }

    /// Shorthand for [`Error::Data`].
    pub(crate) fn data(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Data {
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}
