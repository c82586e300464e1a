//! A small typed client of the MLflow tracking REST API 2.0 (`/api/2.0/mlflow/...`):
//! the calls rarecall makes, with the request and response types they need. No
//! maintained Rust client exists. Unknown JSON fields are ignored (MLflow 3.x adds
//! some), and every failure names the endpoint and the status or the reason nothing
//! came back; a bearer token, when there is one, goes only into the `Authorization`
//! header and never into a message.
//!
//! Blocking: each call runs on the client's own single-threaded tokio runtime. The
//! token is asked of the provider before each request (outside that runtime), so a
//! token refreshed during a long run is the one sent.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::batch::{self, Batch, KeyValue};
use crate::auth::TokenProvider;
use crate::error::{Error, Result};

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take (an artifact upload included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Statuses worth one more try after a pause: throttled, or a proxy in front of a
/// restarting server.
const RETRIED: [u16; 4] = [429, 502, 503, 504];

/// A client of one tracking server.
pub(crate) struct Client {
    /// `http(s)://host[:port][/prefix]`, no trailing slash.
    base: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    auth: Option<Arc<TokenProvider>>,
}

/// A run as `runs/create` and `runs/get` return it (the fields rarecall reads).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RunInfo {
    pub(crate) run_id: String,
    pub(crate) experiment_id: String,
    #[serde(default)]
    pub(crate) artifact_uri: String,
}

#[derive(Deserialize)]
struct RunEnvelope {
    run: RunBody,
}

#[derive(Deserialize)]
struct RunBody {
    info: RunInfo,
}

#[derive(Deserialize)]
struct ExperimentEnvelope {
    experiment: ExperimentBody,
}

#[derive(Deserialize)]
struct ExperimentBody {
    experiment_id: String,
}

#[derive(Deserialize)]
struct CreatedExperiment {
    experiment_id: String,
}

/// The error body of the REST API: `{"error_code": "...", "message": "..."}`.
#[derive(Deserialize, Default)]
struct ApiError {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    message: String,
}

/// A failed call: the HTTP status and the API's error code, when a response came.
struct Failure {
    status: Option<u16>,
    code: String,
    text: String,
}

/// A status of the tracking server a caller may act on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome<T> {
    Ok(T),
    /// `RESOURCE_DOES_NOT_EXIST` (404).
    NotFound,
    /// `RESOURCE_ALREADY_EXISTS`.
    AlreadyExists,
}

impl Client {
    pub(crate) fn new(base: &str, auth: Option<Arc<TokenProvider>>) -> Result<Client> {
        let err = |problem: String| Error::Tracking {
            endpoint: base.to_string(),
            status: problem,
            fix: "report this as a bug".into(),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A redirect would resend the token somewhere we did not choose.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rarecall/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| err(format!("no HTTP client ({e})")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(format!("no async runtime ({e})")))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            http,
            runtime,
            auth,
        })
    }

    /// The server's base URL, as messages name it.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request to `path` (below the base URL) and returns the status and
    /// body; retries a throttled or unavailable server twice.
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> std::result::Result<Vec<u8>, Failure> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut attempt = 0u32;
        loop {
            // Asked before every request: a provider refreshes a token about to expire.
            let auth = match &self.auth {
                Some(p) => Some(p.bearer().map_err(|e| Failure {
                    status: None,
                    code: String::new(),
                    text: e.to_string(),
                })?),
                None => None,
            };
            let mut req = self
                .http
                .request(method.clone(), &url)
                .query(query)
                .header(CONTENT_TYPE, content_type);
            if let Some(token) = &auth {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| Failure {
                        status: None,
                        code: String::new(),
                        text: "the token has characters an HTTP header cannot carry".into(),
                    })?;
                v.set_sensitive(true);
                req = req.header(AUTHORIZATION, v);
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let got = self.runtime.block_on(async {
                let resp = req.send().await?;
                let status = resp.status().as_u16();
                let bytes = resp.bytes().await?;
                Ok::<_, reqwest::Error>((status, bytes.to_vec()))
            });
            match got {
                Ok((status, bytes)) if (200..300).contains(&status) => return Ok(bytes),
                Ok((status, _)) if RETRIED.contains(&status) && attempt < 2 => {}
                Ok((status, bytes)) => {
                    let e: ApiError = serde_json::from_slice(&bytes).unwrap_or_default();
                    let text = if e.message.is_empty() {
                        String::from_utf8_lossy(&bytes).chars().take(300).collect()
                    } else {
                        e.message
                    };
                    return Err(Failure {
                        status: Some(status),
                        code: e.error_code,
                        text,
                    });
                }
                Err(e) => {
                    return Err(Failure {
                        status: None,
                        code: String::new(),
                        text: reqwest_reason(&e),
                    });
                }
            }
            std::thread::sleep(Duration::from_millis(500 << attempt));
            attempt += 1;
        }
    }

    /// A JSON call of the tracking API: `path` is below `/api/2.0/mlflow/`.
    fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<Outcome<T>> {
        let endpoint = format!("api/2.0/mlflow/{path}");
        let body = body.map(|b| b.to_string().into_bytes());
        match self.send(method, &endpoint, query, body, "application/json") {
            Ok(bytes) => {
                let bytes = if bytes.is_empty() {
                    b"{}".to_vec()
                } else {
                    bytes
                };
                serde_json::from_slice(&bytes)
                    .map(Outcome::Ok)
                    .map_err(|e| Error::Tracking {
                        endpoint: self.endpoint(&endpoint),
                        status: format!("the answer is not the JSON expected ({e})"),
                        fix: "check that tracking_uri points at an MLflow tracking server".into(),
                    })
            }
            Err(f) if f.code == "RESOURCE_DOES_NOT_EXIST" => Ok(Outcome::NotFound),
            Err(f) if f.code == "RESOURCE_ALREADY_EXISTS" => Ok(Outcome::AlreadyExists),
            Err(f) => Err(self.failure(&endpoint, f)),
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// The library error of a failed call, with a fix that fits its status.
    fn failure(&self, path: &str, f: Failure) -> Error {
        let status = match f.status {
            Some(s) if f.code.is_empty() => format!("HTTP {s}: {}", one_line(&f.text)),
            Some(s) => format!("HTTP {s} {}: {}", f.code, one_line(&f.text)),
            None => format!("no answer ({})", one_line(&f.text)),
        };
        let fix = match f.status {
            None => {
                "check that the tracking server runs and tracking_uri (--mlflow-uri, MLFLOW_TRACKING_URI) points at it"
            }
            Some(401) | Some(403) => {
                "check the credentials: the Databricks token or service principal, or MLFLOW_TRACKING_TOKEN"
            }
            Some(404) => {
                "check tracking_uri: the server has no such endpoint (is it an MLflow server?)"
            }
            Some(s) if s >= 500 => {
                "the server failed; see its log, then log these outputs later with `rarecall mlflow log --run-dir`"
            }
            Some(_) => "see the server's message; report it as a bug if the request was rarecall's",
        };
        Error::Tracking {
            endpoint: self.endpoint(path),
            status: crate::remote::redact(&status),
            fix: fix.into(),
        }
    }

    /// The id of the experiment named `name`, created when it does not exist. When
    /// another process creates it between our look-up and our create, the server
    /// answers `RESOURCE_ALREADY_EXISTS` and we look it up again.
    pub(crate) fn experiment_id(&self, name: &str) -> Result<String> {
        let get = || -> Result<Outcome<ExperimentEnvelope>> {
            self.call(
                reqwest::Method::GET,
                "experiments/get-by-name",
                &[("experiment_name", name)],
                None,
            )
        };
        if let Outcome::Ok(e) = get()? {
            return Ok(e.experiment.experiment_id);
        }
        let created: Outcome<CreatedExperiment> = self.call(
            reqwest::Method::POST,
            "experiments/create",
            &[],
            Some(json!({ "name": name })),
        )?;
        match created {
            Outcome::Ok(c) => Ok(c.experiment_id),
            _ => match get()? {
                Outcome::Ok(e) => Ok(e.experiment.experiment_id),
                _ => Err(Error::Tracking {
                    endpoint: self.endpoint("api/2.0/mlflow/experiments/get-by-name"),
                    status: format!("experiment {name:?} exists by one answer and not by the next"),
                    fix: "check the experiment in the MLflow UI (a deleted experiment keeps its name until it is purged)".into(),
                }),
            },
        }
    }

    /// Creates a run in an experiment with its tags.
    pub(crate) fn create_run(
        &self,
        experiment_id: &str,
        run_name: Option<&str>,
        start_ms: i64,
        tags: &[KeyValue],
    ) -> Result<RunInfo> {
        let mut body = json!({
            "experiment_id": experiment_id,
            "start_time": start_ms,
            "tags": tags,
        });
        if let Some(n) = run_name {
            body["run_name"] = json!(n);
        }
        match self.call::<RunEnvelope>(reqwest::Method::POST, "runs/create", &[], Some(body))? {
            Outcome::Ok(r) => Ok(r.run.info),
            _ => Err(self.unexpected("runs/create")),
        }
    }

    fn unexpected(&self, path: &str) -> Error {
        Error::Tracking {
            endpoint: self.endpoint(&format!("api/2.0/mlflow/{path}")),
            status: "the server answered with an unexpected error code".into(),
            fix: "see the server's log".into(),
        }
    }

    /// Logs metrics, params and tags in as many `runs/log-batch` requests as the
    /// server's limits need (see `batch`).
    pub(crate) fn log_batch(&self, run_id: &str, all: Batch) -> Result<usize> {
        let parts = batch::chunks(batch::checked(all)?);
        let n = parts.len();
        for part in parts {
            let mut body = serde_json::to_value(&part).map_err(|e| Error::Tracking {
                endpoint: "runs/log-batch".into(),
                status: format!("cannot encode the batch ({e})"),
                fix: "report this as a bug".into(),
            })?;
            body["run_id"] = json!(run_id);
            match self.call::<serde_json::Value>(
                reqwest::Method::POST,
                "runs/log-batch",
                &[],
                Some(body),
            )? {
                Outcome::Ok(_) => {}
                _ => return Err(self.unexpected("runs/log-batch")),
            }
        }
        Ok(n)
    }

    /// Ends a run: `FINISHED` or `FAILED`.
    pub(crate) fn end_run(&self, run_id: &str, status: &str, end_ms: i64) -> Result<()> {
        let body = json!({ "run_id": run_id, "status": status, "end_time": end_ms });
        match self.call::<serde_json::Value>(
            reqwest::Method::POST,
            "runs/update",
            &[],
            Some(body),
        )? {
            Outcome::Ok(_) => Ok(()),
            _ => Err(self.unexpected("runs/update")),
        }
    }

    /// A JSON call by the caller's own path below `/api/2.0/mlflow/` (the model
    /// registry calls, which answer with the ids the caller reads).
    pub(crate) fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<Outcome<serde_json::Value>> {
        self.call(reqwest::Method::POST, path, &[], Some(body))
    }

    /// Uploads bytes with `PUT` to `path` below the base URL (the artifact proxy, or
    /// the Databricks Files API with `overwrite=true`).
    pub(crate) fn put(&self, path: &str, query: &[(&str, &str)], bytes: Vec<u8>) -> Result<()> {
        self.send(
            reqwest::Method::PUT,
            path,
            query,
            Some(bytes),
            "application/octet-stream",
        )
        .map(|_| ())
        .map_err(|f| self.failure(path, f))
    }
}

/// Why a request got no answer, in a few words (timeout, refused, DNS, ...).
fn reqwest_reason(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(l) = last {
        text.push_str(": ");
        text.push_str(&l);
    }
    text
}

fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}
