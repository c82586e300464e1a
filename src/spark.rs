//! The only user of Spark Connect: session, temporary views, Arrow batches back.
//!
//! The `apache-spark-connect` client is synchronous on a private tokio runtime, so
//! every call runs on a plain thread of its own (never on a tokio worker) with a
//! deadline. When the deadline passes the operation is interrupted on the server and
//! the stage fails with a timeout, instead of the client's own retry loop (up to an
//! hour) deciding how long a morning job hangs.

// The client's `SparkError` is large; its own crate allows this lint for the same reason.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use spark_connect::expression::{Expression, LiteralExpression};
use spark_connect::row::{Row, Value};
use spark_connect::types::DataType;
use spark_connect::{SparkError, SparkSession, SparkSessionBuilder};

// The outreach list as a table (`output.table`).
mod table;

pub(crate) use table::ListOrigin;

use crate::config::{Source, SourceFormat};
use crate::error::{Error, Result};
use crate::remote::{Remote, redact};
use crate::rules::Rules;
use crate::sql::{RenderedView, SqlValue};

/// Name of the temporary view the source is registered under.
pub(crate) const SOURCE_VIEW: &str = "rc_source";
/// Name of the temporary view holding the description rules.
const RULES_VIEW: &str = "rc_rules";

/// A connected session with a per-call deadline.
pub struct Spark {
    session: SparkSession,
    remote: Remote,
    timeout: Duration,
    reconnect_grace: Duration,
    /// Interactions per part of a pull (`spark.pull_part_rows`).
    pull_part_rows: i64,
}

/// Turns a client error into the library's error, keeping the first line of the
/// server's message (the error class and what it says) and never the token.
fn map_err(stage: &str, remote: &Remote, e: SparkError) -> Error {
    let msg = redact(&e.message());
    let first = msg.lines().next().unwrap_or("").trim().to_string();
    // gRPC UNAVAILABLE (14) / DEADLINE_EXCEEDED (4): the server went away.
    if matches!(e.grpc_code, Some(14) | Some(4)) {
        return Error::Connection {
            remote: remote.to_string(),
            problem: format!("server stopped answering during `{stage}` ({first})"),
            fix: "check that the Spark Connect server is running (scripts/spark-local.sh status) and rerun".into(),
        };
    }
    let class = if e.error_class.is_empty() {
        String::new()
    } else {
        format!("[{}] ", e.error_class)
    };
    let first = if first.starts_with('[') {
        first
    } else {
        format!("{class}{first}")
    };
    let mut message: String = first.chars().take(600).collect();
    // The driver refuses a result larger than its spark.driver.maxResultSize: a cluster
    // setting, not a session one, so the fix is to ask for smaller results.
    if msg.contains("spark.driver.maxResultSize") {
        message.push_str(&format!(
            "; fix: lower spark.pull_part_rows (default {}: each part of the feature pull is one result), or raise spark.driver.maxResultSize in the cluster's Spark configuration (it cannot be set per session)",
            crate::config::DEFAULT_PULL_PART_ROWS
        ));
    }
    Error::Spark {
        stage: stage.to_string(),
        message,
    }
}

impl Spark {
    /// Connects, checks the server answers, and sets the session time zone to UTC
    /// (day gaps and the split boundary are defined in UTC).
    pub fn connect(remote: &Remote, timeout_secs: u64) -> Result<Spark> {
        Self::connect_with(remote, timeout_secs, 30)
    }

    /// [`Spark::connect_with`] with tokens from a Databricks sign-in: with OAuth M2M or
    /// a CLI login, the first token goes into the connection string and every later
    /// call (reattaches included) asks the provider again, through the token source of
    /// the vendored client core (`register_token_source`), so a token that expires
    /// during a long run is refreshed, not sent stale. A PAT is in the connection
    /// string already.
    pub fn connect_signed_in(
        remote: &Remote,
        signin: Option<std::sync::Arc<crate::auth::TokenProvider>>,
        timeout_secs: u64,
        reconnect_grace_secs: u64,
    ) -> Result<Spark> {
        let remote = match signin {
            Some(p) if p.source_name() != "pat" => {
                let first = p.bearer()?;
                let endpoint = format!("{}:{}", remote.host(), remote.port());
                spark_connect_core::client::register_token_source(
                    &endpoint,
                    std::sync::Arc::new(move || {
                        use secrecy::ExposeSecret;
                        p.bearer().ok().map(|t| t.expose_secret().to_string())
                    }),
                );
                remote.with_token(first)
            }
            _ => remote.clone(),
        };
        Self::connect_with(&remote, timeout_secs, reconnect_grace_secs)
    }

    /// [`Spark::connect`] with the time a lost server gets to come back before the
    /// running stage fails (`spark.reconnect_grace_secs`).
    pub(crate) fn connect_with(
        remote: &Remote,
        timeout_secs: u64,
        reconnect_grace_secs: u64,
    ) -> Result<Spark> {
        probe_tcp(remote)?;
        let url = remote.connection_string();
        let timeout = Duration::from_secs(timeout_secs);
        let session = with_deadline(
            "connect",
            Duration::from_secs(timeout_secs.min(60)),
            move || SparkSessionBuilder::new().remote(&url).get_or_create(),
        )
        .map_err(|e| lift(e, "connect", remote))?;
        let spark = Spark {
            session,
            remote: remote.clone(),
            timeout,
            reconnect_grace: Duration::from_secs(reconnect_grace_secs),
            pull_part_rows: crate::config::DEFAULT_PULL_PART_ROWS,
        };
        spark.call("configure session", |s| {
            s.conf().set("spark.sql.session.timeZone", "UTC")
        })?;
        Ok(spark)
    }

    /// The same connection, pulling `rows` interactions per part (at least 1).
    pub fn with_pull_part_rows(self, rows: i64) -> Spark {
        Spark {
            pull_part_rows: rows.max(1),
            ..self
        }
    }

    /// Interactions per part of a pull (`spark.pull_part_rows`).
    pub(crate) fn pull_part_rows(&self) -> i64 {
        self.pull_part_rows
    }

    /// Applies the session-level settings of `[spark.conf]` (checked by `config`), one
    /// `SET` each, in order, and logs each at info. A key the server does not know as
    /// a session setting (a misspelling, which `SET` would accept and ignore, or a
    /// static or cluster setting such as `spark.driver.memory`) and a value the server
    /// refuses stop here, before any work, naming the key.
    pub fn apply_session_conf(&self, conf: &[(String, String)]) -> Result<()> {
        for (key, value) in conf {
            let path = crate::config::session_conf_key(key);
            let k = key.clone();
            let modifiable =
                self.call("check session setting", move |s| s.conf().is_modifiable(&k))?;
            if !modifiable {
                return Err(Error::config(
                    path,
                    "a session setting the server knows (a SQL configuration that is not static)",
                    format!(
                        "{key:?}, which the server at {} does not accept per session",
                        self.remote.host()
                    ),
                    "check the spelling against the Spark or Databricks documentation; cluster settings (spark.driver.*, spark.executor.*, static SQL settings) belong in the cluster configuration, not in [spark.conf]",
                ));
            }
            let (k, v) = (key.clone(), value.clone());
            self.call("apply session setting", move |s| s.conf().set(&k, &v))
                .map_err(|e| match e {
                    Error::Spark { message, .. } => Error::config(
                        crate::config::session_conf_key(key),
                        "a value the server accepts for this setting",
                        format!("{value:?} ({message})"),
                        "correct the value in [spark.conf] (the message above says which type the server expects)",
                    ),
                    other => other,
                })?;
            tracing::info!(
                key = key.as_str(),
                value = value.as_str(),
                "spark.conf: {key}={value} set for this session"
            );
        }
        Ok(())
    }

    /// The reachability watch of a call: the server's port is probed every 2 s, and a
    /// server unreachable for the grace period fails the call now, not when the (long)
    /// stage timeout runs out.
    fn watch(&self) -> Watch {
        let remote = self.remote.clone();
        Watch {
            every: Duration::from_secs(2),
            grace: self.reconnect_grace,
            reachable: Box::new(move || probe_tcp_quick(&remote)),
        }
    }

    /// Runs one client call on its own thread with the stage deadline. Transport
    /// failures (the connection dropped) are retried while the server comes back
    /// within the grace period: every call here is a read or an idempotent
    /// create-or-replace, so running it again is safe. A server that restarted has
    /// lost this session's views, which is reported as such.
    fn call<T, F>(&self, stage: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(SparkSession) -> spark_connect::Result<T> + Send + Sync + 'static,
    {
        let f = std::sync::Arc::new(f);
        let mut transport_failures = 0u32;
        let start = std::time::Instant::now();
        loop {
            let session = self.session.clone();
            let g = f.clone();
            // While the client retries a lost server (reattach, backoff), watch the
            // port: a server that stays unreachable for the grace period fails the
            // stage now, not when the (long) stage timeout runs out.
            let err =
                match with_deadline_watched(stage, self.timeout, Some(self.watch()), move || {
                    g(session)
                }) {
                    Ok(v) => {
                        log_done(stage, start);
                        return Ok(v);
                    }
                    Err(e) => e,
                };
            match err {
                CallError::Spark(e) if is_transport(&e) && transport_failures < 3 => {
                    transport_failures += 1;
                    let waited = self.wait_reachable();
                    if waited.is_none() {
                        return Err(lift(
                            CallError::ServerGone {
                                secs: self.reconnect_grace.as_secs(),
                            },
                            stage,
                            &self.remote,
                        ));
                    }
                    tracing::warn!(
                        call = stage,
                        attempt = transport_failures,
                        "the connection to the Spark server dropped during `{stage}`; it answers again, retrying ({transport_failures} of 3)"
                    );
                    std::thread::sleep(Duration::from_millis(500 * u64::from(transport_failures)));
                }
                CallError::Spark(e) if transport_failures > 0 => {
                    let first = redact(&e.message())
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    return Err(Error::Connection {
                        remote: self.remote.to_string(),
                        problem: format!(
                            "server connection was lost during `{stage}` and the retry failed ({first}); a restarted server has lost this run's session"
                        ),
                        fix: "rerun the job; nothing was written".into(),
                    });
                }
                CallError::Timeout { .. } => {
                    self.interrupt_abandoned();
                    return Err(lift(err, stage, &self.remote));
                }
                other => return Err(lift(other, stage, &self.remote)),
            }
        }
    }

    /// [`Spark::call`] for a call that must not run twice (an append): one attempt,
    /// with the same deadline and watch; a dropped connection fails the stage.
    fn call_once<T, F>(&self, stage: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(SparkSession) -> spark_connect::Result<T> + Send + 'static,
    {
        let session = self.session.clone();
        let start = std::time::Instant::now();
        match with_deadline_watched(stage, self.timeout, Some(self.watch()), move || f(session)) {
            Ok(v) => {
                log_done(stage, start);
                Ok(v)
            }
            Err(e) => {
                if matches!(e, CallError::Timeout { .. }) {
                    self.interrupt_abandoned();
                }
                Err(lift(e, stage, &self.remote))
            }
        }
    }

    /// Best effort, after a stage timed out: stop the server-side work nobody waits
    /// for any more (at most 10 s; its own failure is not the stage's error).
    fn interrupt_abandoned(&self) {
        (self.interrupter())();
    }

    /// The same best-effort interrupt of this session's running work, as a function
    /// another thread can call (the signal handler of `commands::interrupt`).
    pub(crate) fn interrupter(&self) -> impl Fn() + Send + Sync + 'static {
        let s = self.session.clone();
        move || {
            let s = s.clone();
            let _ = with_deadline("interrupt", Duration::from_secs(10), move || {
                s.interrupt_all()
            });
        }
    }

    /// Waits up to the grace period for the server's port to accept connections.
    fn wait_reachable(&self) -> Option<Duration> {
        let start = std::time::Instant::now();
        while start.elapsed() < self.reconnect_grace {
            if probe_tcp_quick(&self.remote) {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        None
    }

    /// The server's Spark version.
    pub(crate) fn version(&self) -> Result<String> {
        self.call("version", |s| s.version())
    }

    /// Registers the source as the temporary view `rc_source` and returns its columns
    /// and their Spark types.
    pub(crate) fn register_source(&self, source: &Source) -> Result<Vec<(String, String)>> {
        let source = source.clone();
        let name = source.describe();
        let remote = self.remote.clone();
        self.call("read source", move |s| {
            let df = match &source {
                Source::Path { path, format } => {
                    let mut reader = s.read().format(format.as_str());
                    if *format == SourceFormat::Csv {
                        reader = reader
                            .option("header", "true")
                            .option("inferSchema", "true");
                    }
                    reader.load(Some(path))
                }
                Source::Table { parts } => {
                    let quoted: Vec<String> = parts.iter().map(|p| p.quoted()).collect();
                    s.table(&quoted.join("."))?
                }
            };
            // The view first, then its types: asking the reader for them would make
            // Spark infer a CSV schema a second time (a full pass over the file).
            df.create_or_replace_temp_view(SOURCE_VIEW)?;
            s.table(SOURCE_VIEW)?.dtypes()
        })
        .map_err(|e| source_error(e, &name, &remote))
    }

    /// Uploads the rules as a small DataFrame and registers it as `rc_rules`.
    pub(crate) fn register_rules(&self, rules: &Rules) -> Result<()> {
        let schema = DataType::from_ddl(
            "rule_order int, rule_name string, match_kind string, pattern string, canonical string",
        )
        .map_err(|e| map_err("rules schema", &self.remote, e))?;
        let fields: Vec<String> = [
            "rule_order",
            "rule_name",
            "match_kind",
            "pattern",
            "canonical",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let rows: Vec<Row> = rules
            .rules
            .iter()
            .map(|r| {
                Row::new(
                    fields.clone(),
                    vec![
                        Value::Integer(r.order),
                        Value::String(r.name.clone()),
                        Value::String(r.kind.as_str().to_string()),
                        Value::String(r.pattern.clone()),
                        Value::String(r.canonical.clone()),
                    ],
                )
            })
            .collect();
        self.call("register rules", move |s| {
            s.create_dataframe(rows.clone(), schema.clone())?
                .create_or_replace_temp_view(RULES_VIEW)
        })
    }

    /// Creates (or replaces) one temporary view from a rendered SQL file. Views are
    /// lazy: this only analyzes the query, so errors in it show up here.
    pub(crate) fn create_view(&self, view: &RenderedView) -> Result<()> {
        let sql = view.sql.clone();
        let name = view.name.clone();
        let args = named_args(&view.params);
        self.call(&format!("view {}", view.name), move |s| {
            s.sql_with_args(&sql, Vec::new(), args.clone())?
                .create_or_replace_temp_view(&name)
        })
    }

    /// Computes a view once: writes its rows to Parquet at `path` (overwriting) and
    /// replaces the view by a read of that Parquet, so that the views created after
    /// this and every later query read the result instead of recomputing it (temporary
    /// views keep the plan they were analyzed with, so create dependents afterwards).
    pub(crate) fn materialize(&self, view: &str, path: &str) -> Result<()> {
        let (view, path) = (view.to_string(), path.to_string());
        self.call(&format!("materialize {view}"), move |s| {
            s.table(&view)?
                .write()
                .mode("overwrite")
                .format("parquet")
                .save(Some(&path))?;
            s.read()
                .format("parquet")
                .load(Some(&path))
                .create_or_replace_temp_view(&view)
        })
    }

    /// Runs a query and pushes its Arrow record batches into `sink` one at a time, as
    /// they arrive; each batch is dropped once pushed, so the whole result is never
    /// held as Arrow (the feature pull at scale, issue 17). The top crate's
    /// `collect_record_batches` keeps every batch, so this sends the same SQL plan on
    /// the client core in this session (same session id: the temporary views are
    /// visible) and reads the reattachable stream itself. A retry after a dropped
    /// connection first rolls the sink back to the rows it held before this query.
    /// Returns the rows received.
    pub fn query_into<S: BatchSink>(
        &self,
        stage: &str,
        sql: &str,
        params: &std::collections::BTreeMap<String, SqlValue>,
        sink: &std::sync::Arc<std::sync::Mutex<S>>,
    ) -> Result<u64> {
        use spark_connect_core::{ChannelBuilder, SparkConnectClient, block_on};
        use spark_connect_proto::execute_plan_response::ResponseType;
        let relation = spark_connect::plan::LogicalPlan::Sql {
            query: sql.to_string(),
            pos_args: Vec::new(),
            named_args: named_args(params),
        }
        .to_proto();
        // The connection string carries the token, if any: it goes to the channel
        // builder only, never to a message.
        let url = self.remote.connection_string();
        let stage_name = stage.to_string();
        let sink = sink.clone();
        let held_before = lock(&sink).rows();
        self.call(stage, move |s| {
            lock(&sink).truncate(held_before);
            let client = block_on(SparkConnectClient::connect(&ChannelBuilder::parse(&url)?))?;
            let request = spark_connect_proto::ExecutePlanRequest {
                session_id: s.session_id().to_string(),
                user_context: Some(spark_connect_proto::UserContext::default()),
                plan: Some(spark_connect_proto::Plan {
                    op_type: Some(spark_connect_proto::plan::OpType::Root(relation.clone())),
                }),
                ..Default::default()
            };
            let mut stream = block_on(client.execute_plan_reattachable(request))?;
            let mut rows = 0u64;
            while let Some(response) = block_on(stream.message())? {
                let Some(ResponseType::ArrowBatch(batch)) = response.response_type else {
                    continue;
                };
                if batch.data.is_empty() {
                    continue;
                }
                let reader = arrow::ipc::reader::StreamReader::try_new(
                    std::io::Cursor::new(&batch.data),
                    None,
                )
                .map_err(|e| SparkError::connect_msg(format!("an Arrow stream: {e}")))?;
                for b in reader {
                    let b =
                        b.map_err(|e| SparkError::connect_msg(format!("an Arrow batch: {e}")))?;
                    rows += b.num_rows() as u64;
                    lock(&sink).push(&b);
                }
                tracing::debug!(rows_received = rows, "{stage_name}: {rows} rows received");
            }
            Ok(rows)
        })
    }

    /// Runs a query and brings its result back as Arrow record batches.
    pub fn query(
        &self,
        stage: &str,
        sql: &str,
        params: &std::collections::BTreeMap<String, SqlValue>,
    ) -> Result<Vec<RecordBatch>> {
        let sql = sql.to_string();
        let args = named_args(params);
        let batches = self.call(stage, move |s| {
            s.sql_with_args(&sql, Vec::new(), args.clone())?
                .collect_record_batches()
        })?;
        // The client hands the result over whole: the count comes at the end.
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        tracing::debug!(rows_received = rows as u64, "{stage}: {rows} rows received");
        Ok(batches)
    }
}

/// Where [`Spark::query_into`] puts the batches it receives.
pub trait BatchSink: Send + 'static {
    fn push(&mut self, batch: &RecordBatch);
    /// Rows held so far.
    fn rows(&self) -> usize;
    /// Back to the first `rows` rows: a retried query starts again from there.
    fn truncate(&mut self, rows: usize);
}

/// The sink, even if a thread that held it panicked (its rows are rolled back or
/// checked by the caller either way).
fn lock<S>(m: &std::sync::Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn named_args(
    params: &std::collections::BTreeMap<String, SqlValue>,
) -> HashMap<String, Expression> {
    params
        .iter()
        .map(|(k, v)| {
            let lit = match v {
                SqlValue::Timestamp(us) => LiteralExpression::Timestamp(*us),
                SqlValue::NullTimestamp => LiteralExpression::Null(DataType::Timestamp),
                SqlValue::Double(d) => LiteralExpression::Double(*d),
                SqlValue::Long(l) => LiteralExpression::Long(*l),
            };
            (k.clone(), Expression::Literal(lit))
        })
        .collect()
}

/// Maps the read errors users cause most (missing path or table) to a message that
/// says how to fix them.
fn source_error(e: Error, name: &str, remote: &Remote) -> Error {
    match e {
        Error::Spark { message, .. }
            if message.contains("PATH_NOT_FOUND") || message.contains("does not exist") =>
        {
            Error::Source {
                source_name: name.to_string(),
                problem: "the path does not exist on the Spark server".into(),
                fix: format!(
                    "check source.path (the server at {} reads it, not this machine; a server in Docker sees only folders mounted at the same path), or create the data with `rarecall demo-data`",
                    remote.host()
                ),
            }
        }
        Error::Spark { message, .. } if message.contains("TABLE_OR_VIEW_NOT_FOUND") => {
            Error::Source {
                source_name: name.to_string(),
                problem: "the table does not exist or is not visible to this user".into(),
                fix: "check source.table (catalog.schema.table) and the grants on it".into(),
            }
        }
        Error::Spark { message, .. } if message.contains("UNABLE_TO_INFER_SCHEMA") => {
            Error::Source {
                source_name: name.to_string(),
                problem: "no data files were found there (empty folder or no rows)".into(),
                fix: "point source.path at the folder or file that holds the events".into(),
            }
        }
        other => other,
    }
}

/// Fails fast with a clear message when nothing listens at the remote's address,
/// instead of letting the client retry with backoff for up to an hour.
fn probe_tcp(remote: &Remote) -> Result<()> {
    let addr = remote.socket_addr();
    let fix = if remote.is_loopback() {
        "start the local server with scripts/spark-local.sh start, or pass the right --remote"
            .to_string()
    } else {
        "check the host name, the network, and that the cluster is running".to_string()
    };
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| Error::Connection {
            remote: remote.to_string(),
            problem: format!("host cannot be resolved ({e})"),
            fix: fix.clone(),
        })?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Connection {
        remote: remote.to_string(),
        problem: format!(
            "server is unreachable ({})",
            last.map(|e| e.to_string())
                .unwrap_or_else(|| "no address".into())
        ),
        fix,
    })
}

enum CallError {
    Spark(SparkError),
    Timeout { secs: u64 },
    ServerGone { secs: u64 },
    Panicked,
}

/// A liveness check run while a call is in flight.
struct Watch {
    every: Duration,
    grace: Duration,
    reachable: Box<dyn Fn() -> bool>,
}

/// Whether a client error means the connection itself failed (not the query).
fn is_transport(e: &SparkError) -> bool {
    if matches!(e.grpc_code, Some(14)) {
        return true;
    }
    let m = e.message().to_ascii_lowercase();
    [
        "transport error",
        "connection refused",
        "connection reset",
        "broken pipe",
        "error trying to connect",
        "unavailable",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// One quick TCP connect to the remote (1 s): is anything listening?
fn probe_tcp_quick(remote: &Remote) -> bool {
    let addr = remote.socket_addr();
    addr.to_socket_addrs()
        .map(|mut a| a.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok()))
        .unwrap_or(false)
}

fn lift(e: CallError, stage: &str, remote: &Remote) -> Error {
    match e {
        CallError::Spark(e) => map_err(stage, remote, e),
        CallError::Timeout { secs } => Error::Timeout {
            stage: stage.to_string(),
            secs,
        },
        CallError::ServerGone { secs } => Error::Connection {
            remote: remote.to_string(),
            problem: format!("server stopped answering during `{stage}` and was unreachable for {secs} s"),
            fix: "restart the Spark Connect server (scripts/spark-local.sh start) or check the cluster, then rerun; nothing was written".into(),
        },
        CallError::Panicked => Error::Spark {
            stage: stage.to_string(),
            message: "the Spark Connect client panicked".into(),
        },
    }
}

/// Runs `f` on its own thread and waits at most `deadline`. A call that overruns is
/// abandoned (its thread ends when the client gives up or the process exits).
fn with_deadline<T, F>(stage: &str, deadline: Duration, f: F) -> std::result::Result<T, CallError>
where
    T: Send + 'static,
    F: FnOnce() -> spark_connect::Result<T> + Send + 'static,
{
    with_deadline_watched(stage, deadline, None, f)
}

/// [`with_deadline`], also giving up when `watch` finds the server unreachable for
/// its whole grace period.
fn with_deadline_watched<T, F>(
    stage: &str,
    deadline: Duration,
    watch: Option<Watch>,
    f: F,
) -> std::result::Result<T, CallError>
where
    T: Send + 'static,
    F: FnOnce() -> spark_connect::Result<T> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("spark:{stage}"))
        .spawn(move || {
            let _ = tx.send(f());
        });
    if spawned.is_err() {
        return Err(CallError::Panicked);
    }
    let start = std::time::Instant::now();
    let mut unreachable_since: Option<std::time::Instant> = None;
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        let wait = match &watch {
            Some(w) => left.min(w.every),
            None => left,
        };
        match rx.recv_timeout(wait) {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => return Err(CallError::Spark(e)),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(CallError::Panicked),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if start.elapsed() >= deadline {
            return Err(CallError::Timeout {
                secs: deadline.as_secs(),
            });
        }
        if let Some(w) = &watch {
            if (w.reachable)() {
                unreachable_since = None;
            } else {
                let since = *unreachable_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= w.grace {
                    return Err(CallError::ServerGone {
                        secs: since.elapsed().as_secs(),
                    });
                }
            }
        }
    }
}
/// The debug line of a client call that returned: its stage and seconds.
fn log_done(stage: &str, start: std::time::Instant) {
    let secs = start.elapsed().as_secs_f64();
    tracing::debug!(
        call = stage,
        elapsed_s = secs,
        "spark: {stage} in {secs:.2} s"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_over_the_drivers_limit_says_how_to_ask_for_smaller_ones() {
        let remote = crate::remote::parse_sc_url("sc://127.0.0.1:15002", "test").unwrap();
        let e = SparkError::connect_msg(
            "Job aborted due to stage failure: Total size of serialized results of 2 tasks (1095.9 MiB) is bigger than spark.driver.maxResultSize (1024.0 MiB)",
        );
        let text = map_err("pull features", &remote, e).to_string();
        assert!(
            text.contains("pull features") && text.contains("1095.9 MiB"),
            "{text}"
        );
        assert!(
            text.contains("fix: lower spark.pull_part_rows (default 2000000"),
            "{text}"
        );
        let other = map_err("pull features", &remote, SparkError::connect_msg("boom")).to_string();
        assert!(!other.contains("fix"), "{other}");
    }
}
