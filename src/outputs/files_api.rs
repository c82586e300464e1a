//! An [`ObjectStore`] over the Databricks **Files API** for Unity Catalog Volumes.
//!
//! `object_store` has no backend for `/Volumes/<catalog>/<schema>/<volume>/...` (nor for
//! its `dbfs:/Volumes/...` spelling), yet rarecall must be able to write its outputs
//! there when it runs against Databricks from outside a cluster. The Files API
//! (REST 2.0, `/api/2.0/fs/files` and `/api/2.0/fs/directories`) reads, writes, lists
//! and deletes Volume files with a workspace URL and a token, so this module owns:
//!
//! - the mapping of object keys (relative to a Volume folder, the store's root) to
//!   absolute Volume paths and percent-encoded request URLs;
//! - the HTTP calls, the mapping of their status codes to [`object_store::Error`], and
//!   bounded retries of throttled (429) and failed (5xx, connection) requests;
//! - keeping the token secret: it lives in a [`Secret`], is sent only as a sensitive
//!   `Authorization` header, redirects are not followed (so it is never replayed to
//!   another host), every error text that could carry it is scrubbed, `Debug` is
//!   written by hand, and nothing here logs.
//!
//! What the Files API cannot do shapes a few choices:
//!
//! - an upload is one `PUT` of the whole body, so multipart uploads are buffered in
//!   memory and sent on `complete` (rarecall's outputs are small CSV and JSON files;
//!   a caller streaming gigabytes through this store pays that size in memory);
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
use serde::Deserialize;

/// The name `object_store` errors carry as their `store`.
const STORE: &str = "FilesApiStore";

/// Per-attempt limits: a Files API call that takes longer than this is treated as failed
/// (and retried while the retry budget lasts).
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

/// A credential that never shows itself: its `Debug` prints a placeholder and it has no
/// `Display`, so it cannot end up in a log line or error message by formatting.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

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

#[derive(Clone)]
struct Inner {
    client: reqwest::Client,
    /// `scheme://host[:port]`, no trailing slash.
    base_url: String,
    /// `Bearer <token>`, marked sensitive so `reqwest`/`http` never print it.
    auth: HeaderValue,
    /// Kept only to scrub it out of any text that reaches an error.
    token: Secret,
    /// Absolute Volume folder, as returned by [`parse_volume_path`].
    root: String,
    retry: RetryPolicy,
}

impl FilesApiStore {
    /// `base_url` is the workspace URL (`https://<host>`; a bare host gets `https://`),
    /// `root` the Volume folder the object keys are relative to (`/Volumes/c/s/v/out` or
    /// `dbfs:/Volumes/c/s/v/out`). Proxies are taken from the usual environment variables.
    pub fn new(base_url: &str, token: Secret, root: &str) -> Result<Self> {
        Self::build(base_url, token, root, true)
    }

    /// Replaces the retry policy (the default allows 4 retries within 60 s).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        Arc::make_mut(&mut self.inner).retry = retry;
        self
    }

    /// The absolute Volume folder the keys are relative to.
    pub fn root(&self) -> &str {
        &self.inner.root
    }

    fn build(base_url: &str, token: Secret, root: &str, env_proxy: bool) -> Result<Self> {
        let base_url = normalize_base_url(base_url)?;
        let root = parse_volume_path(root).ok_or_else(|| {
            generic(format!(
                "{root:?} is not a Unity Catalog Volume path (/Volumes/<catalog>/<schema>/<volume>/...)"
            ))
        })?;
        if token.expose().trim().is_empty() {
            return Err(generic("the Databricks token is empty".to_string()));
        }
        // The message must not quote the value: it is the token.
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                generic(
                    "the Databricks token has characters not allowed in an HTTP header".to_string(),
                )
            })?;
        auth.set_sensitive(true);

        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A redirect would resend the request, token included, somewhere we did not
            // choose; the Files API does not redirect, so one is reported as an error.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rarecall/", env!("CARGO_PKG_VERSION")));
        if !env_proxy {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| generic(format!("cannot build the HTTP client: {}", error_chain(&e))))?;

        Ok(Self {
            inner: Arc::new(Inner {
                client,
                base_url,
                auth,
                token,
                root,
                retry: RetryPolicy::default(),
            }),
        })
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

fn normalize_base_url(base_url: &str) -> Result<String> {
    let with_scheme = if base_url.contains("://") {
        base_url.to_string()
    } else {
        format!("https://{base_url}")
    };
    // Messages below do not quote the URL: it could carry user:password.
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| generic(format!("the workspace URL is not a URL: {e}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(generic("the workspace URL must be http(s)".to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(generic(
            "the workspace URL must not carry user information; pass the token separately"
                .to_string(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(generic(
            "the workspace URL must be scheme://host[:port] with no path or query".to_string(),
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| generic("the workspace URL has no host".to_string()))?;
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

/// Only the fields rarecall reads; unknown fields are ignored.
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
            .header(AUTHORIZATION, self.auth.clone())
    }

    /// Removes the token from text that came from outside (server bodies, transport
    /// errors) before it can reach an error message. The server is not expected to echo
    /// it, but one that does must not leak it through us.
    fn redact(&self, text: String) -> String {
        let token = self.token.expose();
        if token.is_empty() || !text.contains(token) {
            text
        } else {
            text.replace(token, "[REDACTED]")
        }
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
mod tests {
    //! Against an in-process HTTP server that implements the Files API endpoints over a
    //! map and records every request.

    use super::*;
    use axum::body::Body;
    use axum::extract::State;
    use axum::http::{HeaderMap as AxumHeaders, Method as AxumMethod, Uri};
    use object_store::{GetRange, ObjectStoreExt, UpdateVersion};
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::sync::Mutex;

    const CANARY: &str = "dapi-CANARY-123";
    const ROOT: &str = "/Volumes/main/cx/vol/out";

    #[derive(Debug, Clone)]
    struct Recorded {
        method: String,
        /// As sent, percent-encoded.
        raw_path: String,
        /// Decoded, with the `/api/2.0/fs/...` prefix.
        path: String,
        overwrite: Option<String>,
        page_token: Option<String>,
        authorized: bool,
    }

    #[derive(Default)]
    struct Server {
        files: BTreeMap<String, (Bytes, i64)>,
        dirs: BTreeSet<String>,
        log: Vec<Recorded>,
        /// Answered, in order, before anything else (status, Retry-After).
        fail_next: VecDeque<(u16, Option<&'static str>)>,
        fail_always: Option<(u16, Option<&'static str>)>,
        clock: i64,
    }

    type Shared = Arc<Mutex<Server>>;

    struct TestServer {
        base: String,
        state: Shared,
    }

    impl TestServer {
        async fn start() -> Self {
            let mut server = Server::default();
            server.dirs.insert("/Volumes/main/cx/vol".to_string());
            let state = Arc::new(Mutex::new(server));
            let app = axum::Router::new()
                .fallback(handle)
                .with_state(Arc::clone(&state));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Self { base, state }
        }

        fn store_with(&self, token: &str) -> FilesApiStore {
            FilesApiStore::build(&self.base, Secret::new(token), ROOT, false)
                .unwrap()
                .with_retry(RetryPolicy {
                    max_retries: 3,
                    initial_backoff: Duration::from_millis(10),
                    max_backoff: Duration::from_millis(50),
                    max_elapsed: Duration::from_secs(5),
                })
        }

        fn store(&self) -> FilesApiStore {
            self.store_with(CANARY)
        }

        fn requests(&self) -> Vec<Recorded> {
            self.state.lock().unwrap().log.clone()
        }

        fn clear_log(&self) {
            self.state.lock().unwrap().log.clear();
        }

        fn with<R>(&self, f: impl FnOnce(&mut Server) -> R) -> R {
            f(&mut self.state.lock().unwrap())
        }
    }

    fn reply(
        status: u16,
        headers: &[(&str, String)],
        body: impl Into<Body>,
    ) -> axum::response::Response {
        let mut builder = axum::response::Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        builder.body(body.into()).unwrap()
    }

    fn api_error(
        status: u16,
        code: &str,
        message: &str,
        retry_after: Option<&str>,
    ) -> axum::response::Response {
        let body = serde_json::json!({"error_code": code, "message": message}).to_string();
        let mut headers = vec![("content-type", "application/json".to_string())];
        if let Some(seconds) = retry_after {
            headers.push(("retry-after", seconds.to_string()));
        }
        reply(status, &headers, body)
    }

    fn parent(path: &str) -> &str {
        &path[..path.rfind('/').unwrap_or(0)]
    }

    fn http_date(millis: i64) -> String {
        DateTime::from_timestamp_millis(millis)
            .unwrap()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    }

    fn add_dir_and_ancestors(server: &mut Server, mut dir: &str) {
        while dir.len() > "/Volumes".len() {
            server.dirs.insert(dir.to_string());
            dir = parent(dir);
        }
    }

    async fn handle(
        State(state): State<Shared>,
        method: AxumMethod,
        uri: Uri,
        headers: AxumHeaders,
        body: Bytes,
    ) -> axum::response::Response {
        let raw_path = uri.path().to_string();
        let path = percent_decode_str(&raw_path)
            .decode_utf8()
            .unwrap()
            .into_owned();
        let query: HashMap<String, String> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    percent_decode_str(v).decode_utf8().unwrap().into_owned(),
                )
            })
            .collect();
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut server = state.lock().unwrap();
        server.log.push(Recorded {
            method: method.to_string(),
            raw_path,
            path: path.clone(),
            overwrite: query.get("overwrite").cloned(),
            page_token: query.get("page_token").cloned(),
            authorized: auth.is_some(),
        });
        if let Some((status, retry_after)) = server.fail_next.pop_front() {
            return api_error(
                status,
                "TEMPORARILY_UNAVAILABLE",
                "scripted failure",
                retry_after,
            );
        }
        if let Some((status, retry_after)) = server.fail_always {
            return api_error(
                status,
                "TEMPORARILY_UNAVAILABLE",
                "scripted failure",
                retry_after,
            );
        }
        if auth.as_deref() != Some(format!("Bearer {CANARY}").as_str()) {
            return api_error(401, "UNAUTHENTICATED", "Invalid access token.", None);
        }
        if path.contains("echo-token") {
            // A careless server quoting the request back: the store must scrub it.
            let message = format!("bad request, Authorization was {}", auth.unwrap());
            return api_error(400, "INVALID_PARAMETER_VALUE", &message, None);
        }
        if let Some(p) = path.strip_prefix("/api/2.0/fs/files") {
            files(&mut server, &method, p, &query, &headers, body)
        } else if let Some(p) = path.strip_prefix("/api/2.0/fs/directories") {
            directories(&mut server, &method, p, &query)
        } else {
            api_error(404, "ENDPOINT_NOT_FOUND", "no such endpoint", None)
        }
    }

    fn files(
        server: &mut Server,
        method: &AxumMethod,
        p: &str,
        query: &HashMap<String, String>,
        headers: &AxumHeaders,
        body: Bytes,
    ) -> axum::response::Response {
        match method.as_str() {
            "PUT" => {
                let Some(overwrite) = query.get("overwrite") else {
                    return api_error(
                        400,
                        "INVALID_PARAMETER_VALUE",
                        "overwrite must be explicit here",
                        None,
                    );
                };
                if server.dirs.contains(p) {
                    return api_error(409, "ALREADY_EXISTS", "a directory is there", None);
                }
                if server.files.contains_key(p) && overwrite == "false" {
                    return api_error(
                        409,
                        "ALREADY_EXISTS",
                        "The file being created already exists.",
                        None,
                    );
                }
                server.clock += 1000;
                let modified = 1_700_000_000_000 + server.clock;
                server.files.insert(p.to_string(), (body, modified));
                add_dir_and_ancestors(server, parent(p));
                reply(204, &[], Body::empty())
            }
            "GET" | "HEAD" => {
                let Some((content, modified)) = server.files.get(p).cloned() else {
                    return api_error(404, "NOT_FOUND", "The file does not exist.", None);
                };
                let len = content.len() as u64;
                let mut out = vec![("last-modified", http_date(modified))];
                if method == AxumMethod::HEAD {
                    out.push(("content-length", len.to_string()));
                    return reply(200, &out, Body::empty());
                }
                let Some(range) = headers.get("range").and_then(|v| v.to_str().ok()) else {
                    return reply(200, &out, content);
                };
                let spec = range.strip_prefix("bytes=").unwrap();
                let (a, b) = spec.split_once('-').unwrap();
                let (start, end) = match (a, b) {
                    ("", n) => (len.saturating_sub(n.parse().unwrap()), len),
                    (a, "") => (a.parse().unwrap(), len),
                    (a, b) => (a.parse().unwrap(), (b.parse::<u64>().unwrap() + 1).min(len)),
                };
                if start >= len {
                    return api_error(
                        416,
                        "INVALID_PARAMETER_VALUE",
                        "range not satisfiable",
                        None,
                    );
                }
                out.push(("content-range", format!("bytes {start}-{}/{len}", end - 1)));
                reply(206, &out, content.slice(start as usize..end as usize))
            }
            "DELETE" => match server.files.remove(p) {
                Some(_) => reply(200, &[], Body::empty()),
                None => api_error(404, "NOT_FOUND", "The file does not exist.", None),
            },
            _ => api_error(405, "METHOD_NOT_ALLOWED", "no", None),
        }
    }

    fn directories(
        server: &mut Server,
        method: &AxumMethod,
        p: &str,
        query: &HashMap<String, String>,
    ) -> axum::response::Response {
        match method.as_str() {
            "PUT" => {
                add_dir_and_ancestors(server, p);
                reply(200, &[], Body::empty())
            }
            "HEAD" if server.dirs.contains(p) => reply(200, &[], Body::empty()),
            "GET" if server.dirs.contains(p) => {
                let mut entries: Vec<(String, serde_json::Value)> = Vec::new();
                for (file, (content, modified)) in &server.files {
                    if parent(file) == p {
                        let name = &file[p.len() + 1..];
                        let entry = serde_json::json!({"path": file, "is_directory": false,
                            "file_size": content.len(), "last_modified": modified, "name": name});
                        entries.push((name.to_string(), entry));
                    }
                }
                for dir in &server.dirs {
                    if parent(dir) == p {
                        let name = &dir[p.len() + 1..];
                        let entry = serde_json::json!({"path": format!("{dir}/"), "is_directory": true, "name": name});
                        entries.push((name.to_string(), entry));
                    }
                }
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                // Pages of two, so any listing of more than two entries pages.
                let start: usize = query.get("page_token").map_or(0, |t| t.parse().unwrap());
                let page: Vec<_> = entries
                    .iter()
                    .skip(start)
                    .take(2)
                    .map(|e| e.1.clone())
                    .collect();
                let mut answer = serde_json::json!({ "contents": page });
                if start + 2 < entries.len() {
                    answer["next_page_token"] = serde_json::json!((start + 2).to_string());
                }
                reply(
                    200,
                    &[("content-type", "application/json".to_string())],
                    answer.to_string(),
                )
            }
            _ => api_error(404, "NOT_FOUND", "The directory does not exist.", None),
        }
    }

    fn puts(requests: &[Recorded]) -> Vec<&Recorded> {
        requests.iter().filter(|r| r.method == "PUT").collect()
    }

    fn assert_no_canary(text: &str) {
        assert!(!text.contains(CANARY), "token leaked in: {text}");
        assert!(!text.contains("CANARY"), "token leaked in: {text}");
    }

    #[test]
    fn volume_paths_are_recognized_and_others_refused() {
        assert_eq!(
            parse_volume_path("/Volumes/main/cx/out").as_deref(),
            Some("/Volumes/main/cx/out")
        );
        assert_eq!(
            parse_volume_path("dbfs:/Volumes/main/cx/out/run 1/").as_deref(),
            Some("/Volumes/main/cx/out/run 1")
        );
        assert_eq!(
            parse_volume_path("/Volumes/c/s/v/a/b").as_deref(),
            Some("/Volumes/c/s/v/a/b")
        );
        for bad in [
            "/Volumes/main/cx",
            "/Volumes/main/cx/",
            "/Volumes",
            "Volumes/c/s/v",
            "/volumes/c/s/v",
            "dbfs:/mnt/c/s/v",
            "s3://bucket/Volumes/c/s/v",
            "/tmp/out",
            "/Volumes/c//v",
            "/Volumes/c/s/v/../../x",
            "/Volumes/c/s/./v",
            "/Volumes/c/s/v\n",
            "",
        ] {
            assert_eq!(parse_volume_path(bad), None, "{bad:?} should be refused");
        }
    }

    #[test]
    fn constructor_refuses_bad_urls_roots_and_tokens() {
        let ok = FilesApiStore::new(
            "https://adb-1.azuredatabricks.net/",
            Secret::new(CANARY),
            ROOT,
        );
        assert_eq!(
            ok.unwrap().to_string(),
            format!("FilesApiStore(https://adb-1.azuredatabricks.net{ROOT})")
        );
        let bare = FilesApiStore::new(
            "adb-1.azuredatabricks.net",
            Secret::new(CANARY),
            "dbfs:/Volumes/a/b/c",
        );
        assert_eq!(bare.unwrap().root(), "/Volumes/a/b/c");
        for (url, root, token) in [
            ("ftp://host", ROOT, CANARY),
            ("https://user:dapi-CANARY-123@host", ROOT, CANARY),
            ("https://host/api", ROOT, CANARY),
            ("https://host?x=1", ROOT, CANARY),
            ("https://host", "/tmp/out", CANARY),
            ("https://host", ROOT, ""),
            ("https://host", ROOT, "dapi-CANARY-123\n"),
        ] {
            let err = FilesApiStore::new(url, Secret::new(token), root).unwrap_err();
            assert!(matches!(err, Error::Generic { .. }), "{err:?}");
            assert_no_canary(&format!("{err} {err:?}"));
        }
    }

    #[tokio::test]
    async fn put_get_head_delete_round_trip() {
        let server = TestServer::start().await;
        let store = server.store();
        let key = Path::from("outreach.csv");
        store
            .put(&key, PutPayload::from_static(b"member,score\n1,0.9\n"))
            .await
            .unwrap();

        let got = store.get(&key).await.unwrap();
        assert_eq!(got.meta.size, 19);
        assert_eq!(got.range, 0..19);
        let first_modified = got.meta.last_modified;
        assert_eq!(first_modified.timestamp_millis(), 1_700_000_001_000);
        assert_eq!(
            got.bytes().await.unwrap(),
            Bytes::from_static(b"member,score\n1,0.9\n")
        );

        let head = store.head(&key).await.unwrap();
        assert_eq!(head.location, key);
        assert_eq!(head.size, 19);
        assert_eq!(head.last_modified, first_modified);
        assert_eq!(head.e_tag, None);

        store.delete(&key).await.unwrap();
        assert!(matches!(
            store.get(&key).await.unwrap_err(),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            store.head(&key).await.unwrap_err(),
            Error::NotFound { .. }
        ));
        // Deleting what is gone is fine, as in object_store's memory store.
        store.delete(&key).await.unwrap();

        let requests = server.requests();
        let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(
            methods,
            ["PUT", "GET", "HEAD", "DELETE", "GET", "HEAD", "DELETE"]
        );
        assert!(requests.iter().all(|r| r.authorized));
        assert!(
            requests
                .iter()
                .all(|r| r.path == format!("/api/2.0/fs/files{ROOT}/outreach.csv"))
        );
    }

    #[tokio::test]
    async fn ranges_are_requested_and_returned() {
        let server = TestServer::start().await;
        let store = server.store();
        let key = Path::from("curve.csv");
        store
            .put(&key, PutPayload::from_static(b"0123456789"))
            .await
            .unwrap();

        assert_eq!(
            store.get_range(&key, 2..5).await.unwrap(),
            Bytes::from_static(b"234")
        );
        let tail = store
            .get_opts(
                &key,
                GetOptions::new().with_range(Some(GetRange::Suffix(3))),
            )
            .await
            .unwrap();
        assert_eq!((tail.range.clone(), tail.meta.size), (7..10, 10));
        assert_eq!(tail.bytes().await.unwrap(), Bytes::from_static(b"789"));
        let rest = store
            .get_opts(
                &key,
                GetOptions::new().with_range(Some(GetRange::Offset(8))),
            )
            .await
            .unwrap();
        assert_eq!(rest.bytes().await.unwrap(), Bytes::from_static(b"89"));
        // Past the end is clamped, like other stores.
        assert_eq!(
            store.get_range(&key, 8..50).await.unwrap(),
            Bytes::from_static(b"89")
        );
        assert!(store.get_range(&key, 20..30).await.is_err());
        assert_eq!(
            store.get_ranges(&key, &[0..1, 9..10]).await.unwrap(),
            vec![Bytes::from_static(b"0"), Bytes::from_static(b"9")]
        );
    }

    #[tokio::test]
    async fn nested_keys_with_spaces_and_non_ascii_are_encoded_per_segment() {
        let server = TestServer::start().await;
        let store = server.store();
        let key = Path::from("dir one/sub ü/naïve é.csv");
        let hash = Path::from("odd #1%.csv");
        store
            .put(&key, PutPayload::from_static(b"x"))
            .await
            .unwrap();
        store
            .put(&hash, PutPayload::from_static(b"y"))
            .await
            .unwrap();

        let requests = server.requests();
        assert_eq!(
            requests[0].raw_path,
            "/api/2.0/fs/files/Volumes/main/cx/vol/out/dir%20one/sub%20%C3%BC/na%C3%AFve%20%C3%A9.csv"
        );
        assert_eq!(
            requests[0].path,
            format!("/api/2.0/fs/files{ROOT}/dir one/sub ü/naïve é.csv")
        );
        // object_store keeps `#` and `%` percent-encoded in keys; on the Volume the name
        // is the plain text, as with its local-filesystem store.
        assert_eq!(
            requests[1].path,
            format!("/api/2.0/fs/files{ROOT}/odd #1%.csv")
        );
        assert_eq!(
            requests[1].raw_path,
            "/api/2.0/fs/files/Volumes/main/cx/vol/out/odd%20%231%25.csv"
        );

        assert_eq!(
            store.get(&key).await.unwrap().bytes().await.unwrap(),
            Bytes::from_static(b"x")
        );
        let mut listed: Vec<Path> = store
            .list(None)
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .unwrap();
        listed.sort();
        let mut expected = vec![key.clone(), hash.clone()];
        expected.sort();
        assert_eq!(listed, expected);

        // A key segment that would decode to `..` or a separator is refused before any call.
        let before = server.requests().len();
        for bad in ["%2E%2E/escape.csv", "a%2Fb.csv"] {
            let err = store
                .put(&Path::parse(bad).unwrap(), PutPayload::from_static(b"z"))
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Generic { .. }), "{err:?}");
        }
        assert_eq!(server.requests().len(), before);
    }

    #[tokio::test]
    async fn listing_walks_folders_and_pages() {
        let server = TestServer::start().await;
        let store = server.store();
        let mut expected = Vec::new();
        for name in [
            "a.csv",
            "b.csv",
            "c.csv",
            "d.json",
            "e.json",
            "sub/f.csv",
            "sub/g.csv",
            "sub/deeper/h.csv",
            "subway.csv",
        ] {
            let key = Path::from(name);
            store
                .put(&key, PutPayload::from(name.as_bytes().to_vec()))
                .await
                .unwrap();
            expected.push(key);
        }
        expected.sort();
        server.clear_log();

        let mut all: Vec<ObjectMeta> = store.list(None).try_collect().await.unwrap();
        all.sort_by(|a, b| a.location.cmp(&b.location));
        assert_eq!(
            all.iter().map(|m| m.location.clone()).collect::<Vec<_>>(),
            expected
        );
        for meta in &all {
            assert_eq!(meta.size, meta.location.as_ref().len() as u64);
            assert!(meta.last_modified.timestamp_millis() > 1_700_000_000_000);
            assert_eq!(meta.e_tag, None);
        }
        let requests = server.requests();
        assert!(
            requests
                .iter()
                .all(|r| r.method == "GET" && r.path.starts_with("/api/2.0/fs/directories"))
        );
        assert!(
            requests.iter().any(|r| r.page_token.is_some()),
            "the listing did not page"
        );

        // Segment-wise prefix: `sub` holds sub/..., not subway.csv.
        let mut sub: Vec<Path> = store
            .list(Some(&Path::from("sub")))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .unwrap();
        sub.sort();
        assert_eq!(
            sub,
            [
                Path::from("sub/deeper/h.csv"),
                Path::from("sub/f.csv"),
                Path::from("sub/g.csv")
            ]
        );

        let top = store.list_with_delimiter(None).await.unwrap();
        let mut objects: Vec<Path> = top.objects.iter().map(|m| m.location.clone()).collect();
        objects.sort();
        assert_eq!(
            objects,
            ["a.csv", "b.csv", "c.csv", "d.json", "e.json", "subway.csv"].map(Path::from)
        );
        assert_eq!(top.common_prefixes, [Path::from("sub")]);

        let inner = store
            .list_with_delimiter(Some(&Path::from("sub")))
            .await
            .unwrap();
        assert_eq!(inner.common_prefixes, [Path::from("sub/deeper")]);
        assert_eq!(inner.objects.len(), 2);

        // Missing folders (and a file's path) list as empty.
        let missing = Path::from("nothing/here");
        assert_eq!(
            store
                .list(Some(&missing))
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
                .len(),
            0
        );
        let empty = store.list_with_delimiter(Some(&missing)).await.unwrap();
        assert!(empty.objects.is_empty() && empty.common_prefixes.is_empty());
        assert_eq!(
            store
                .list(Some(&Path::from("a.csv")))
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
                .len(),
            0
        );
    }

    #[tokio::test]
    async fn a_store_over_a_missing_root_lists_empty() {
        let server = TestServer::start().await;
        let store = server.store();
        assert!(
            store
                .list(None)
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .list_with_delimiter(None)
                .await
                .unwrap()
                .objects
                .is_empty()
        );
    }

    #[tokio::test]
    async fn every_put_says_overwrite_and_create_refuses_existing() {
        let server = TestServer::start().await;
        let store = server.store();
        let key = Path::from("model.json");
        let create = PutOptions::from(PutMode::Create);

        store
            .put_opts(&key, PutPayload::from_static(b"{}"), create.clone())
            .await
            .unwrap();
        let err = store
            .put_opts(&key, PutPayload::from_static(b"{\"b\":1}"), create.clone())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
        assert!(err.to_string().contains("ALREADY_EXISTS"), "{err}");
        assert_eq!(
            store.get(&key).await.unwrap().bytes().await.unwrap(),
            Bytes::from_static(b"{}")
        );

        store
            .put(&key, PutPayload::from_static(b"{\"c\":2}"))
            .await
            .unwrap();
        assert_eq!(
            store.get(&key).await.unwrap().bytes().await.unwrap(),
            Bytes::from_static(b"{\"c\":2}")
        );

        let update = PutOptions::from(PutMode::Update(UpdateVersion {
            e_tag: Some("x".into()),
            version: None,
        }));
        let err = store
            .put_opts(&key, PutPayload::from_static(b"u"), update)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotImplemented { .. }), "{err:?}");

        // Copies: download then upload, with overwrite following the copy mode.
        let other = Path::from("copy/model.json");
        store.copy(&key, &other).await.unwrap();
        assert_eq!(
            store.get(&other).await.unwrap().bytes().await.unwrap(),
            Bytes::from_static(b"{\"c\":2}")
        );
        let err = store.copy_if_not_exists(&key, &other).await.unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
        let err = store
            .copy(&Path::from("absent.json"), &other)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        store
            .rename(&other, &Path::from("moved.json"))
            .await
            .unwrap();
        assert!(matches!(
            store.head(&other).await.unwrap_err(),
            Error::NotFound { .. }
        ));

        let requests = server.requests();
        let flags: Vec<Option<&str>> = puts(&requests)
            .iter()
            .map(|r| r.overwrite.as_deref())
            .collect();
        assert_eq!(
            flags,
            [
                Some("false"),
                Some("false"),
                Some("true"),
                Some("true"),
                Some("false"),
                Some("true")
            ]
        );
    }

    #[tokio::test]
    async fn statuses_map_to_object_store_errors() {
        let server = TestServer::start().await;
        let store = server.store();
        let key = Path::from("missing.csv");
        assert!(matches!(
            store.get(&key).await.unwrap_err(),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            store.head(&key).await.unwrap_err(),
            Error::NotFound { .. }
        ));

        let wrong = server.store_with("dapi-WRONG-999");
        let err = wrong.get(&key).await.unwrap_err();
        assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
        assert!(err.to_string().contains("UNAUTHENTICATED"), "{err}");
        assert!(!format!("{err} {err:?}").contains("WRONG"), "{err:?}");

        server.with(|s| s.fail_next.push_back((403, None)));
        let err = store
            .put(&key, PutPayload::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");

        let err = store.get(&Path::from("echo-token.csv")).await.unwrap_err();
        assert!(matches!(err, Error::Generic { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("400") && text.contains("INVALID_PARAMETER_VALUE"),
            "{text}"
        );
        assert!(text.contains("[REDACTED]"), "{text}");
    }

    #[tokio::test]
    async fn throttling_is_retried_after_the_servers_delay() {
        let server = TestServer::start().await;
        let store = server.store();
        server.with(|s| s.fail_next.push_back((429, Some("1"))));
        let started = Instant::now();
        store
            .put(&Path::from("a.csv"), PutPayload::from_static(b"a"))
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(950),
            "Retry-After was not honoured"
        );
        assert_eq!(puts(&server.requests()).len(), 2);

        // Two 5xx then success: retried with backoff, no Retry-After needed.
        server.with(|s| s.fail_next.extend([(500, None), (502, None)]));
        server.clear_log();
        assert_eq!(
            store
                .get(&Path::from("a.csv"))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
            Bytes::from_static(b"a")
        );
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test]
    async fn persistent_unavailability_gives_up_in_bounded_time() {
        let server = TestServer::start().await;
        let store = server.store();
        server.with(|s| s.fail_always = Some((503, None)));
        let started = Instant::now();
        let err = store.get(&Path::from("a.csv")).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(matches!(err, Error::Generic { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("503") && text.contains("gave up after 4 attempts"),
            "{text}"
        );
        assert_eq!(server.requests().len(), 4);

        // A Retry-After beyond the time budget ends the retries at once.
        server.with(|s| s.fail_always = Some((503, Some("30"))));
        server.clear_log();
        let started = Instant::now();
        assert!(store.head(&Path::from("a.csv")).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn multipart_uploads_are_buffered_into_one_put() {
        let server = TestServer::start().await;
        let store = server.store();
        let key = Path::from("runs/outreach_runs_log.csv");
        let mut upload = store.put_multipart(&key).await.unwrap();
        let first = upload.put_part(PutPayload::from_static(b"a,b\n"));
        let second = upload.put_part(PutPayload::from_iter([
            Bytes::from_static(b"1,"),
            Bytes::from_static(b"2\n"),
        ]));
        futures::future::try_join(first, second).await.unwrap();
        upload
            .put_part(PutPayload::from_static(b"3,4\n"))
            .await
            .unwrap();
        assert!(
            server.requests().is_empty(),
            "parts must stay in memory until complete"
        );
        let debug = format!("{upload:?}");
        assert!(debug.contains("buffered_bytes: 12"), "{debug}");
        assert_no_canary(&debug);
        upload.complete().await.unwrap();

        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].overwrite.as_deref(), Some("true"));
        assert_eq!(
            store.get(&key).await.unwrap().bytes().await.unwrap(),
            Bytes::from_static(b"a,b\n1,2\n3,4\n")
        );

        let mut aborted = store.put_multipart(&Path::from("never.csv")).await.unwrap();
        aborted
            .put_part(PutPayload::from_static(b"x"))
            .await
            .unwrap();
        aborted.abort().await.unwrap();
        assert!(matches!(
            store.head(&Path::from("never.csv")).await.unwrap_err(),
            Error::NotFound { .. }
        ));
    }

    #[tokio::test]
    async fn the_token_never_shows() {
        let server = TestServer::start().await;
        let store = server.store();
        let mut texts = vec![
            format!("{store:?}"),
            format!("{store}"),
            format!("{:?}", Secret::new(CANARY)),
            format!("{:?}", store.inner.auth),
        ];
        let mut errors = vec![
            store.get(&Path::from("missing.csv")).await.unwrap_err(),
            store.get(&Path::from("echo-token.csv")).await.unwrap_err(),
            server
                .store_with("dapi-CANARY-123x")
                .head(&Path::from("a"))
                .await
                .unwrap_err(),
        ];
        server.with(|s| s.fail_always = Some((503, None)));
        errors.push(
            store
                .put(&Path::from("a.csv"), PutPayload::from_static(b"a"))
                .await
                .unwrap_err(),
        );
        server.with(|s| s.fail_always = None);

        // A transport failure: nothing listens on this port any more.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let unreachable = FilesApiStore::build(
            &format!("http://127.0.0.1:{port}"),
            Secret::new(CANARY),
            ROOT,
            false,
        )
        .unwrap()
        .with_retry(RetryPolicy {
            max_retries: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            max_elapsed: Duration::from_secs(2),
        });
        errors.push(unreachable.get(&Path::from("a.csv")).await.unwrap_err());

        for err in &errors {
            texts.push(format!("{err}"));
            texts.push(format!("{err:?}"));
            texts.push(error_chain(err));
        }
        for text in &texts {
            assert_no_canary(text);
        }
        // The server did receive it: the redaction is ours, not an absent header.
        assert!(server.requests().iter().all(|r| r.authorized));
    }

    /// This module reports through its errors only: no logging, printing or tracing that
    /// could carry a request (and so the token) anywhere.
    #[test]
    fn the_module_does_not_log() {
        let source = include_str!("files_api.rs");
        let code = source.split("#[cfg(test)]").next().unwrap();
        for needle in [
            "println!",
            "print!(",
            "dbg!",
            "tracing::",
            "log::",
            "eprint",
        ] {
            assert!(!code.contains(needle), "found {needle} outside the tests");
        }
    }
}
