//! Unity Catalog Volumes as an [`ObjectStore`], over the Databricks **Files API**.
//!
//! `object_store` has no backend for `/Volumes/<catalog>/<schema>/<volume>/...` (nor for
//! its `dbfs:/Volumes/...` spelling), yet a program running against Databricks from
//! outside a cluster may need to read and write files there. The Files API (REST 2.0,
//! `/api/2.0/fs/files` and `/api/2.0/fs/directories`) reads, writes, lists and deletes
//! Volume files with a workspace URL and a token, so this crate owns:
//!
//! - [`VolumesConfig`] (workspace URL, token, Volume folder, timeouts, [`RetryPolicy`])
//!   and [`BuildError`], why a [`FilesApiStore`] could not be built from one;
//! - the mapping of object keys (relative to a Volume folder, the store's root) to
//!   absolute Volume paths and percent-encoded request URLs ([`parse_volume_path`]
//!   tells a Volume path from anything else);
//! - the HTTP calls, the mapping of their status codes to [`object_store::Error`], and
//!   bounded retries of throttled (429) and failed (5xx, connection) requests;
//! - keeping the token secret: it is a [`SecretString`], is sent only as a sensitive
//!   `Authorization` header, redirects are not followed (so it is never replayed to
//!   another host), every error text that could carry it is scrubbed, `Debug` is
//!   written by hand, and nothing here logs.
//!
//! What the Files API cannot do shapes a few choices:
//!
//! - an upload is one `PUT` of the whole body, so multipart uploads are buffered in
//!   memory and sent on `complete` (fine for reports and models; a caller streaming
//!   gigabytes through this store pays that size in memory);
//! - downloads are read whole before they are returned, for the same reason;
//! - there are no ETags or versions: `PutMode::Update` is `NotImplemented`, `e_tag` is
//!   always `None`, and `copy` is a download followed by an upload (not atomic);
//! - `PutMode::Create` relies on the server's `overwrite=false` check; if a create is
//!   retried after a 5xx that had in fact written the file, the retry reports
//!   `AlreadyExists`.
//!
//! The `PUT` creates missing parent folders itself (the Databricks CLI relies on that
//! too), so no directory calls are made before writing. Deleting a missing file is
//! `Ok`, as with `object_store`'s in-memory and S3 stores.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::{Path, PathPart};
use object_store::{
    Attributes, CopyMode, CopyOptions, Error, GetOptions, GetResult, GetResultPayload, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, Result, UploadPart,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderMap, HeaderValue,
    LAST_MODIFIED, RANGE, RETRY_AFTER,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::ExposeSecret;
pub use secrecy::SecretString;
use serde::Deserialize;

/// The name `object_store` errors carry as their `store`.
const STORE: &str = "FilesApiStore";

/// Default per-attempt limits: a Files API call that takes longer than this is treated
/// as failed (and retried while the retry budget lasts).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// How much of a non-JSON error body is quoted in an error message.
const MAX_QUOTED_BODY: usize = 300;

/// Everything but RFC 3986 unreserved characters is escaped inside one path segment;
/// the `/` between segments is written as is.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How throttled (429) and failed (5xx, connection, timeout) requests are retried:
/// exponential backoff from `initial_backoff`, doubling up to `max_backoff`, with a
/// `Retry-After: <seconds>` header taking the place of the computed delay. No retry
/// starts once `max_retries` are spent or when its delay would end past `max_elapsed`
/// after the first attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// What a [`FilesApiStore`] is built from. [`VolumesConfig::new`] fills in the defaults
/// (15 s to connect, 120 s per attempt, [`RetryPolicy::default`], proxies from the
/// environment); the fields are public to change them.
#[derive(Debug, Clone)]
pub struct VolumesConfig {
    /// The workspace URL, `https://<host>[:port]`; a bare host gets `https://`.
    pub host: String,
    /// A Databricks token, sent only as `Authorization: Bearer <token>`.
    pub token: SecretString,
    /// The Volume folder the object keys are relative to: `/Volumes/c/s/v[/...]` or
    /// `dbfs:/Volumes/c/s/v[/...]`.
    pub root: String,
    /// How long a connection may take to open, per attempt.
    pub connect_timeout: Duration,
    /// How long one request may take, per attempt.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// The `User-Agent` of every request.
    pub user_agent: String,
    /// Take proxies from the usual environment variables (`HTTPS_PROXY`, ...).
    pub proxy_from_env: bool,
    /// Where fresh tokens come from when `token` can expire (OAuth, a CLI login):
    /// asked before every request; `token` is then only the first. `None`: `token`
    /// for ever.
    pub token_source: Option<TokenSource>,
}

/// A source of fresh tokens, asked before every request (it caches and refreshes
/// itself). `None` from it means "keep the last token".
#[derive(Clone)]
pub struct TokenSource(pub Arc<dyn Fn() -> Option<SecretString> + Send + Sync>);

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSource(..)")
    }
}

impl VolumesConfig {
    pub fn new(host: impl Into<String>, token: SecretString, root: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            token,
            root: root.into(),
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            user_agent: concat!("volumes-store/", env!("CARGO_PKG_VERSION")).to_string(),
            proxy_from_env: true,
            token_source: None,
        }
    }
}

/// Why a [`FilesApiStore`] cannot be built from a [`VolumesConfig`]. No message quotes
/// the token or the workspace URL (which could carry a password). Operations on a built
/// store fail with [`object_store::Error`], as the trait requires; a `BuildError`
/// converts into one (`Generic`, store `FilesApiStore`) for callers that handle both
/// alike.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Not `http(s)://host[:port]`; `problem` says what is wrong.
    #[error("the workspace URL {problem}")]
    WorkspaceUrl { problem: String },
    #[error(
        "{root:?} is not a Unity Catalog Volume path (/Volumes/<catalog>/<schema>/<volume>/...)"
    )]
    NotAVolumePath { root: String },
    #[error("the Databricks token is empty")]
    EmptyToken,
    #[error("the Databricks token has characters not allowed in an HTTP header")]
    TokenNotAHeaderValue,
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

impl From<BuildError> for Error {
    fn from(e: BuildError) -> Self {
        Error::Generic {
            store: STORE,
            source: Box::new(e),
        }
    }
}

/// `/Volumes/c/s/v/...` or `dbfs:/Volumes/c/s/v/...` -> `/Volumes/c/s/v/...` with no
/// trailing slash; `None` for anything that is not a Volume path with at least catalog,
/// schema and volume, or that has empty, `.`, `..` or control-character segments.
pub fn parse_volume_path(path: &str) -> Option<String> {
    let path = path.strip_prefix("dbfs:").unwrap_or(path);
    let rest = path.strip_prefix("/Volumes/")?;
    let rest = rest.trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.len() < 3 {
        return None;
    }
    let bad = |s: &&str| s.is_empty() || *s == "." || *s == ".." || s.chars().any(char::is_control);
    if segments.iter().any(bad) {
        return None;
    }
    Some(format!("/Volumes/{rest}"))
}

/// An [`ObjectStore`] whose keys are files below one Unity Catalog Volume folder,
/// reached through the Databricks Files API. Cloning shares the HTTP client.
#[derive(Clone)]
pub struct FilesApiStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    /// `scheme://host[:port]`, no trailing slash.
    base_url: String,
    /// `Bearer <token>`, marked sensitive so `reqwest`/`http` never print it.
    auth: HeaderValue,
    /// Kept only to scrub it out of any text that reaches an error.
    token: SecretString,
    /// Fresh tokens, and the last one it gave (scrubbed like `token`).
    token_source: Option<TokenSource>,
    last_fresh: std::sync::Mutex<Option<SecretString>>,
    /// Absolute Volume folder, as returned by [`parse_volume_path`].
    root: String,
    retry: RetryPolicy,
}

impl FilesApiStore {
    /// Checks the configuration (the workspace URL, the Volume folder, the token) and
    /// builds the HTTP client; no request is sent.
    pub fn new(config: VolumesConfig) -> std::result::Result<Self, BuildError> {
        let VolumesConfig {
            host,
            token,
            root,
            connect_timeout,
            request_timeout,
            retry,
            user_agent,
            proxy_from_env,
            token_source,
        } = config;
        let base_url = normalize_base_url(&host)?;
        let root = parse_volume_path(&root).ok_or(BuildError::NotAVolumePath { root })?;
        if token.expose_secret().trim().is_empty() {
            return Err(BuildError::EmptyToken);
        }
        // The one place the token is written out: the header it is sent in. The error
        // does not quote the value: it is the token.
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| BuildError::TokenNotAHeaderValue)?;
        auth.set_sensitive(true);

        let mut builder = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            // A redirect would resend the request, token included, somewhere we did not
            // choose; the Files API does not redirect, so one is reported as an error.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent);
        if !proxy_from_env {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| BuildError::HttpClient(error_chain(&e)))?;

        Ok(Self {
            inner: Arc::new(Inner {
                client,
                base_url,
                auth,
                token,
                token_source,
                last_fresh: std::sync::Mutex::new(None),
                root,
                retry,
            }),
        })
    }

    /// The absolute Volume folder the keys are relative to.
    pub fn root(&self) -> &str {
        &self.inner.root
    }
}

impl fmt::Debug for FilesApiStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilesApiStore")
            .field("base_url", &self.inner.base_url)
            .field("root", &self.inner.root)
            .field("token", &self.inner.token)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

impl fmt::Display for FilesApiStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FilesApiStore({}{})",
            self.inner.base_url, self.inner.root
        )
    }
}

fn generic(message: String) -> Error {
    Error::Generic {
        store: STORE,
        source: message.into(),
    }
}

fn not_implemented(operation: &str) -> Error {
    Error::NotImplemented {
        operation: operation.to_string(),
        implementer: STORE.to_string(),
    }
}

/// An error and its sources on one line (reqwest's top-level message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn normalize_base_url(base_url: &str) -> std::result::Result<String, BuildError> {
    let bad = |problem: &str| BuildError::WorkspaceUrl {
        problem: problem.to_string(),
    };
    let with_scheme = if base_url.contains("://") {
        base_url.to_string()
    } else {
        format!("https://{base_url}")
    };
    // Messages below do not quote the URL: it could carry user:password.
    let url = reqwest::Url::parse(&with_scheme).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(bad("must be http(s)"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry user information; pass the token separately",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(bad("must be scheme://host[:port] with no path or query"));
    }
    let host = url.host_str().ok_or_else(|| bad("has no host"))?;
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// `/Volumes/a b/ü` -> `/Volumes/a%20b/%C3%BC`.
fn encode_path(abs: &str) -> String {
    abs.split('/')
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The name of a file or folder on the Volume for one key segment. `object_store`
/// percent-encodes characters it reserves (`Path::from("a#b")` is `a%23b`); like its
/// local-filesystem store, the name on disk is the decoded text, and listing encodes it
/// back, so keys round-trip. A segment that decodes to a separator, `.`/`..` or a
/// control character is refused rather than allowed to move outside the root.
fn segment_name(part: &str, location: &Path) -> Result<String> {
    let name = percent_decode_str(part)
        .decode_utf8()
        .map_err(|_| generic(format!("key {location} is not UTF-8 once decoded")))?;
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.chars().any(char::is_control)
    {
        return Err(generic(format!(
            "key {location} has a segment that cannot be a Volume file name"
        )));
    }
    Ok(name.into_owned())
}

/// Only the fields this store reads; unknown fields are ignored.
#[derive(Debug, Deserialize)]
struct DirectoryPage {
    #[serde(default)]
    contents: Vec<DirectoryEntry>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DirectoryEntry {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    is_directory: bool,
    #[serde(default)]
    file_size: Option<u64>,
    /// Documented as int64 milliseconds since the epoch; text forms are accepted too.
    #[serde(default)]
    last_modified: Option<serde_json::Value>,
}

impl DirectoryEntry {
    /// The entry's own name: `name`, or the last segment of `path` when absent.
    fn file_name(&self) -> Option<&str> {
        let name = match &self.name {
            Some(n) if !n.is_empty() => n.as_str(),
            _ => self
                .path
                .as_deref()?
                .trim_end_matches('/')
                .rsplit('/')
                .next()?,
        };
        (!name.is_empty()).then_some(name)
    }
}

/// `{"error_code": "...", "message": "..."}`, the body of Databricks API errors.
#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

fn parse_timestamp(value: &serde_json::Value) -> Option<DateTime<Utc>> {
    match value {
        serde_json::Value::Number(n) => DateTime::from_timestamp_millis(n.as_i64()?),
        serde_json::Value::String(s) => parse_time_text(s),
        _ => None,
    }
}

/// Millisecond text, RFC 3339, or the HTTP date of `Last-Modified` (RFC 1123).
fn parse_time_text(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(millis) = text.parse::<i64>() {
        return DateTime::from_timestamp_millis(millis);
    }
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &reqwest::header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Retry-After` in seconds; the HTTP-date form falls back to the computed backoff.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_str(headers, &RETRY_AFTER)?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// `bytes <start>-<end>/<size|*>` -> (start..end+1, size).
fn parse_content_range(text: &str) -> Option<(std::ops::Range<u64>, Option<u64>)> {
    let rest = text.trim().strip_prefix("bytes ")?;
    let (span, size) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let size = match size.trim() {
        "*" => None,
        s => Some(s.parse().ok()?),
    };
    Some((start..end + 1, size))
}

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

impl Inner {
    /// The absolute Volume path of a key (decoded, as it appears on the Volume).
    fn abs_path(&self, location: &Path) -> Result<String> {
        let mut abs = self.root.clone();
        for part in location.parts() {
            abs.push('/');
            abs.push_str(&segment_name(part.as_ref(), location)?);
        }
        Ok(abs)
    }

    fn url(&self, endpoint: &str, abs: &str) -> String {
        format!(
            "{}/api/2.0/fs/{endpoint}{}",
            self.base_url,
            encode_path(abs)
        )
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.client
            .request(method, url)
            .header(AUTHORIZATION, self.current_auth())
    }

    /// The `Authorization` header of the next request: the token source's current
    /// token when there is one (a token it gives that cannot be a header value is
    /// not used), else the configured token.
    fn current_auth(&self) -> HeaderValue {
        let Some(fresh) = self.token_source.as_ref().and_then(|s| (s.0)()) else {
            return self.auth.clone();
        };
        match HeaderValue::from_str(&format!("Bearer {}", fresh.expose_secret())) {
            Ok(mut v) => {
                v.set_sensitive(true);
                *self.last_fresh.lock().unwrap_or_else(|p| p.into_inner()) = Some(fresh);
                v
            }
            Err(_) => self.auth.clone(),
        }
    }

    /// Removes the token from text that came from outside (server bodies, transport
    /// errors) before it can reach an error message. The server is not expected to echo
    /// it, but one that does must not leak it through us.
    fn redact(&self, text: String) -> String {
        // Exposed only to be searched for, never written anywhere.
        let fresh = self
            .last_fresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut text = text;
        for token in std::iter::once(&self.token).chain(fresh.as_ref()) {
            let token = token.expose_secret();
            if !token.is_empty() && text.contains(token) {
                text = text.replace(token, "[REDACTED]");
            }
        }
        text
    }

    /// `HTTP 400 Bad Request: INVALID_PARAMETER_VALUE: <message>`.
    fn describe_status(&self, status: StatusCode, body: &[u8]) -> String {
        let detail = match serde_json::from_slice::<ApiError>(body) {
            Ok(ApiError {
                error_code,
                message,
            }) if error_code.is_some() || message.is_some() => [error_code, message]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
            _ => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                match text.char_indices().nth(MAX_QUOTED_BODY) {
                    Some((cut, _)) => format!("{}...", &text[..cut]),
                    None => text.to_string(),
                }
            }
        };
        let status_text = format!("HTTP {status}");
        let text = if detail.is_empty() {
            status_text
        } else {
            format!("{status_text}: {detail}")
        };
        self.redact(text)
    }

    /// Maps a final, unsuccessful status to the `object_store` error it means.
    fn status_error(&self, op: &str, abs: &str, status: StatusCode, body: &[u8]) -> Error {
        let text = format!("{op} {abs}: {}", self.describe_status(status, body));
        let path = abs.to_string();
        let source = text.into();
        match status {
            StatusCode::NOT_FOUND => Error::NotFound { path, source },
            StatusCode::CONFLICT => Error::AlreadyExists { path, source },
            StatusCode::UNAUTHORIZED => Error::Unauthenticated { path, source },
            StatusCode::FORBIDDEN => Error::PermissionDenied { path, source },
            StatusCode::PRECONDITION_FAILED => Error::Precondition { path, source },
            StatusCode::NOT_MODIFIED => Error::NotModified { path, source },
            _ => Error::Generic {
                store: STORE,
                source,
            },
        }
    }

    /// Sends the request `make` builds, again while the answer is 429/5xx or the
    /// connection failed and the [`RetryPolicy`] allows. Returns the first response that
    /// is not retryable (successful or not) for the caller to interpret; a retryable
    /// failure that outlasts the policy becomes `Error::Generic`.
    async fn send(
        &self,
        op: &str,
        abs: &str,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response> {
        let policy = &self.retry;
        let started = Instant::now();
        let mut retries = 0u32;
        loop {
            let (failure, wait) = match make().send().await {
                Ok(response) if !is_retryable(response.status()) => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let wait = retry_after(response.headers());
                    let body = response.bytes().await.unwrap_or_default();
                    (self.describe_status(status, &body), wait)
                }
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                    (self.redact(error_chain(&e)), None)
                }
                Err(e) => {
                    return Err(generic(
                        self.redact(format!("{op} {abs}: {}", error_chain(&e))),
                    ));
                }
            };
            let wait = wait.unwrap_or_else(|| policy.backoff(retries));
            if retries >= policy.max_retries || started.elapsed() + wait > policy.max_elapsed {
                return Err(generic(format!(
                    "{op} {abs}: {failure} (gave up after {} attempts in {:.1} s)",
                    retries + 1,
                    started.elapsed().as_secs_f64()
                )));
            }
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// [`Self::send`], then any unsuccessful status as its error.
    async fn send_ok(
        &self,
        op: &str,
        abs: &str,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response> {
        let response = self.send(op, abs, make).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        Err(self.status_error(op, abs, status, &body))
    }

    async fn read_body(&self, op: &str, abs: &str, response: Response) -> Result<Bytes> {
        response.bytes().await.map_err(|e| {
            generic(self.redact(format!("{op} {abs}: reading the body: {}", error_chain(&e))))
        })
    }

    /// One `PUT` of the whole body, `overwrite` always explicit: the API's default is to
    /// overwrite, and a create must never rely on a default.
    async fn put(&self, location: &Path, body: Bytes, overwrite: bool) -> Result<PutResult> {
        let abs = self.abs_path(location)?;
        let url = format!("{}?overwrite={overwrite}", self.url("files", &abs));
        self.send_ok("PUT", &abs, || {
            self.request(Method::PUT, &url)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(body.clone())
        })
        .await?;
        Ok(PutResult {
            e_tag: None,
            version: None,
        })
    }

    async fn get(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.version.is_some() {
            return Err(not_implemented("get_opts with GetOptions::version"));
        }
        let abs = self.abs_path(location)?;
        let url = self.url("files", &abs);
        let range = options.range.clone();
        if let Some(r) = &range {
            r.is_valid()
                .map_err(|e| generic(format!("GET {abs}: {e}")))?;
        }
        let (op, method) = if options.head {
            ("HEAD", Method::HEAD)
        } else {
            ("GET", Method::GET)
        };
        let response = self
            .send_ok(op, &abs, || {
                let request = self.request(method.clone(), &url);
                match (&range, options.head) {
                    (Some(r), false) => request.header(RANGE, r.to_string()),
                    _ => request,
                }
            })
            .await?;

        let headers = response.headers().clone();
        let status = response.status();
        let last_modified = header_str(&headers, &LAST_MODIFIED)
            .and_then(parse_time_text)
            // Without the header the time is unknown; the epoch says so plainly.
            .unwrap_or(DateTime::UNIX_EPOCH);
        let declared_len =
            header_str(&headers, &CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());

        if options.head {
            let size = declared_len
                .ok_or_else(|| generic(format!("HEAD {abs}: the answer has no Content-Length")))?;
            let meta = ObjectMeta {
                location: location.clone(),
                last_modified,
                size,
                e_tag: None,
                version: None,
            };
            options.check_preconditions(&meta)?;
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                meta,
                range: 0..size,
                attributes: Attributes::default(),
            });
        }

        let body = self.read_body(op, &abs, response).await?;
        let (body, returned, size) = if status == StatusCode::PARTIAL_CONTENT {
            let (returned, size) = header_str(&headers, &CONTENT_RANGE)
                .and_then(parse_content_range)
                .ok_or_else(|| {
                    generic(format!(
                        "GET {abs}: a partial answer without a valid Content-Range"
                    ))
                })?;
            let size = size.unwrap_or(returned.end);
            (body, returned, size)
        } else {
            // A full answer: the server ignored the range (or none was asked); cut it here.
            let size = body.len() as u64;
            let returned = match &range {
                Some(r) => r
                    .as_range(size)
                    .map_err(|e| generic(format!("GET {abs}: {e}")))?,
                None => 0..size,
            };
            let cut = body.slice(returned.start as usize..returned.end as usize);
            (cut, returned, size)
        };
        if body.len() as u64 != returned.end - returned.start {
            return Err(generic(format!(
                "GET {abs}: expected {} bytes, received {}",
                returned.end - returned.start,
                body.len()
            )));
        }
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified,
            size,
            e_tag: None,
            version: None,
        };
        options.check_preconditions(&meta)?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(body) }).boxed()),
            meta,
            range: returned,
            attributes: Attributes::default(),
        })
    }

    async fn delete(&self, location: &Path) -> Result<()> {
        let abs = self.abs_path(location)?;
        let url = self.url("files", &abs);
        let response = self
            .send("DELETE", &abs, || self.request(Method::DELETE, &url))
            .await?;
        let status = response.status();
        // Deleting what is not there succeeds, as in object_store's memory and S3 stores.
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        let body = response.bytes().await.unwrap_or_default();
        Err(self.status_error("DELETE", &abs, status, &body))
    }

    /// One page of a folder; `None` when the folder does not exist (listing a missing
    /// prefix, or a file's path, is empty in object_store terms).
    async fn list_page(
        &self,
        dir: &Path,
        page_token: Option<&str>,
    ) -> Result<Option<DirectoryPage>> {
        let abs = self.abs_path(dir)?;
        let mut url = self.url("directories", &abs);
        if let Some(token) = page_token {
            url.push_str("?page_token=");
            url.extend(utf8_percent_encode(token, SEGMENT));
        }
        let response = self
            .send("LIST", &abs, || self.request(Method::GET, &url))
            .await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            return Err(self.status_error("LIST", &abs, status, &body));
        }
        let body = self.read_body("LIST", &abs, response).await?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| generic(format!("LIST {abs}: unexpected answer: {e}")))
    }

    /// Splits a page into files (as `ObjectMeta` under `dir`) and sub-folders.
    fn split_page(dir: &Path, page: DirectoryPage) -> (Vec<ObjectMeta>, Vec<Path>) {
        let mut objects = Vec::new();
        let mut folders = Vec::new();
        for entry in page.contents {
            let Some(name) = entry.file_name() else {
                continue;
            };
            let child = dir.clone().join(PathPart::from(name));
            if entry.is_directory {
                folders.push(child);
            } else {
                objects.push(ObjectMeta {
                    location: child,
                    last_modified: entry
                        .last_modified
                        .as_ref()
                        .and_then(parse_timestamp)
                        .unwrap_or(DateTime::UNIX_EPOCH),
                    size: entry.file_size.unwrap_or(0),
                    e_tag: None,
                    version: None,
                });
            }
        }
        (objects, folders)
    }
}

/// Where a recursive listing is: folders still to list, and the folder being paged.
struct Walk {
    inner: Arc<Inner>,
    pending: VecDeque<Path>,
    paging: Option<(Path, String)>,
}

#[async_trait]
impl ObjectStore for FilesApiStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if !opts.attributes.is_empty() {
            return Err(not_implemented("put_opts with attributes"));
        }
        let overwrite = match opts.mode {
            PutMode::Overwrite => true,
            PutMode::Create => false,
            // The Files API has no conditional write on a version or ETag.
            PutMode::Update(_) => return Err(not_implemented("put_opts with PutMode::Update")),
        };
        self.inner
            .put(location, Bytes::from(payload), overwrite)
            .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        if !opts.attributes.is_empty() {
            return Err(not_implemented("put_multipart_opts with attributes"));
        }
        // Checked now so a bad key fails before any part is buffered.
        self.inner.abs_path(location)?;
        Ok(Box::new(BufferedUpload {
            inner: Arc::clone(&self.inner),
            location: location.clone(),
            parts: Vec::new(),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = Arc::clone(&self.inner);
        locations
            .map(move |location| {
                let inner = Arc::clone(&inner);
                async move {
                    let location = location?;
                    inner.delete(&location).await?;
                    Ok(location)
                }
            })
            .buffered(8)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let walk = Walk {
            inner: Arc::clone(&self.inner),
            pending: VecDeque::from([prefix.cloned().unwrap_or_default()]),
            paging: None,
        };
        // One item per page of one folder; sub-folders are queued, breadth first.
        stream::try_unfold(walk, |mut walk| async move {
            let (dir, token) = match walk.paging.take() {
                Some((dir, token)) => (dir, Some(token)),
                None => match walk.pending.pop_front() {
                    Some(dir) => (dir, None),
                    None => return Ok::<_, Error>(None),
                },
            };
            let Some(mut page) = walk.inner.list_page(&dir, token.as_deref()).await? else {
                return Ok(Some((Vec::new(), walk)));
            };
            if let Some(next) = page.next_page_token.take().filter(|t| !t.is_empty()) {
                walk.paging = Some((dir.clone(), next));
            }
            let (objects, folders) = Inner::split_page(&dir, page);
            walk.pending.extend(folders);
            Ok(Some((objects, walk)))
        })
        .map_ok(|objects| stream::iter(objects.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let dir = prefix.cloned().unwrap_or_default();
        let mut result = ListResult {
            common_prefixes: Vec::new(),
            objects: Vec::new(),
        };
        let mut token: Option<String> = None;
        loop {
            let Some(mut page) = self.inner.list_page(&dir, token.as_deref()).await? else {
                return Ok(result);
            };
            token = page.next_page_token.take().filter(|t| !t.is_empty());
            let (objects, folders) = Inner::split_page(&dir, page);
            result.objects.extend(objects);
            result.common_prefixes.extend(folders);
            if token.is_none() {
                return Ok(result);
            }
        }
    }

    /// A download then an upload: the Files API has no server-side copy. With
    /// `CopyMode::Create` the upload uses `overwrite=false`, so an existing target is
    /// `AlreadyExists`.
    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let overwrite = match options.mode {
            CopyMode::Overwrite => true,
            CopyMode::Create => false,
        };
        // Validate the target key before transferring anything.
        self.inner.abs_path(to)?;
        let body = self
            .inner
            .get(from, GetOptions::default())
            .await?
            .bytes()
            .await?;
        self.inner.put(to, body, overwrite).await?;
        Ok(())
    }
}

/// Parts kept in memory until `complete`, then sent as one overwriting `PUT` (object_store
/// multipart uploads replace the target). Memory use is the whole object.
struct BufferedUpload {
    inner: Arc<Inner>,
    location: Path,
    parts: Vec<PutPayload>,
}

impl fmt::Debug for BufferedUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferedUpload")
            .field("root", &self.inner.root)
            .field("location", &self.location)
            .field("parts", &self.parts.len())
            .field(
                "buffered_bytes",
                &self
                    .parts
                    .iter()
                    .map(PutPayload::content_length)
                    .sum::<usize>(),
            )
            .finish()
    }
}

#[async_trait]
impl MultipartUpload for BufferedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.parts.push(data);
        Box::pin(futures::future::ready(Ok(())))
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let payload: PutPayload = std::mem::take(&mut self.parts)
            .into_iter()
            .flatten()
            .collect();
        self.inner
            .put(&self.location, Bytes::from(payload), true)
            .await
    }

    async fn abort(&mut self) -> Result<()> {
        // Nothing reached the server; dropping the buffer is the whole abort.
        self.parts.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
