//! Where a run's artifacts go, from the `artifact_uri` the server gave the run, and
//! their upload (each file under the run's artifact root, same relative name).
//!
//! - `mlflow-artifacts:/<path>` (an OSS server started with `--serve-artifacts`, the
//!   default since MLflow 2.0): `PUT /api/2.0/mlflow-artifacts/artifacts/<path>/<rel>`
//!   on the tracking server itself (a `mlflow-artifacts://host:port/<path>` form names
//!   the same server; its path is used).
//! - `dbfs:/databricks/mlflow-tracking/<experiment>/<run>/artifacts` (Databricks):
//!   the Files API, `PUT /api/2.0/fs/files/WorkspaceInternal/Mlflow/Artifacts/
//!   <experiment>/Runs/<run>/artifacts/<rel>?overwrite=true`, as the Databricks SDKs
//!   upload MLflow artifacts; one whole-body PUT per file, parent folders created by
//!   the server.
//! - anything else (a local folder of the server, `s3://...` without the proxy) is
//!   refused with the fix: the server must proxy artifacts.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::client::Client;
use crate::error::{Error, Result};

/// The characters of a path segment that are percent-encoded (RFC 3986 `pchar` keeps
/// the rest).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// A run's artifact root as an upload target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArtifactRoot {
    /// Below `/api/2.0/mlflow-artifacts/artifacts/` of the tracking server.
    Proxy { path: String },
    /// Below `/api/2.0/fs/files/` of the Databricks workspace.
    DatabricksFiles { path: String },
}

impl ArtifactRoot {
    /// Reads the `artifact_uri` of a run.
    pub(crate) fn parse(uri: &str) -> Result<ArtifactRoot> {
        if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
            // `mlflow-artifacts://host:port/path` or `mlflow-artifacts:/path`.
            let path = match rest.strip_prefix("//") {
                Some(r) => r.split_once('/').map_or("", |(_, p)| p),
                None => rest,
            };
            return Ok(ArtifactRoot::Proxy {
                path: path.trim_matches('/').to_string(),
            });
        }
        if let Some(rest) = uri.strip_prefix("dbfs:/databricks/mlflow-tracking/") {
            let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
            if let [exp, run, "artifacts", more @ ..] = parts.as_slice() {
                let mut path =
                    format!("WorkspaceInternal/Mlflow/Artifacts/{exp}/Runs/{run}/artifacts");
                for m in more {
                    path.push('/');
                    path.push_str(m);
                }
                return Ok(ArtifactRoot::DatabricksFiles { path });
            }
        }
        Err(Error::Tracking {
            endpoint: "runs/create".into(),
            status: format!(
                "the server gave the run the artifact location {uri:?}, which rarecall cannot write (only the server's artifact proxy `mlflow-artifacts:/...` or Databricks' `dbfs:/databricks/mlflow-tracking/...`)"
            ),
            fix: "start the server with --serve-artifacts (and --artifacts-destination), or use an experiment whose artifact location is mlflow-artifacts:/".into(),
        })
    }

    /// The request path of one file (relative name, `/`-separated) below the root.
    pub(crate) fn request_path(&self, rel: &str) -> String {
        let rel: Vec<String> = rel
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect();
        let (prefix, root) = match self {
            ArtifactRoot::Proxy { path } => ("api/2.0/mlflow-artifacts/artifacts", path),
            ArtifactRoot::DatabricksFiles { path } => ("api/2.0/fs/files", path),
        };
        let root: Vec<String> = root
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect();
        format!("{prefix}/{}/{}", root.join("/"), rel.join("/"))
    }
}

/// Uploads every file, in order, stopping at the first failure.
pub(crate) fn upload(
    client: &Client,
    root: &ArtifactRoot,
    files: &[(String, Vec<u8>)],
) -> Result<()> {
    let query: &[(&str, &str)] = match root {
        ArtifactRoot::Proxy { .. } => &[],
        ArtifactRoot::DatabricksFiles { .. } => &[("overwrite", "true")],
    };
    for (rel, bytes) in files {
        client.put(&root.request_path(rel), query, bytes.clone())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_uris_map_to_request_paths() {
        let r = ArtifactRoot::parse("mlflow-artifacts:/3/abc123/artifacts").unwrap();
        assert_eq!(
            r.request_path("run_summary.json"),
            "api/2.0/mlflow-artifacts/artifacts/3/abc123/artifacts/run_summary.json"
        );
        let r = ArtifactRoot::parse("mlflow-artifacts://127.0.0.1:5000/3/abc/artifacts").unwrap();
        assert_eq!(
            r.request_path("a b/c#.csv"),
            "api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/a%20b/c%23.csv"
        );
        let r =
            ArtifactRoot::parse("dbfs:/databricks/mlflow-tracking/1234/9f8e/artifacts").unwrap();
        assert_eq!(
            r.request_path("model.json"),
            "api/2.0/fs/files/WorkspaceInternal/Mlflow/Artifacts/1234/Runs/9f8e/artifacts/model.json"
        );
        for bad in [
            "/tmp/mlruns/1/x/artifacts",
            "s3://b/1/x/artifacts",
            "dbfs:/other",
        ] {
            let e = ArtifactRoot::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--serve-artifacts"), "{bad}: {e}");
        }
    }
}
