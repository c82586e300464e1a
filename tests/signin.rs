//! Databricks sign-in with OAuth M2M (a service principal), against a local token
//! server in the test: discovery at `/oidc/.well-known/oauth-authorization-server`,
//! the client-credentials grant (scope `all-apis`, HTTP Basic client credentials),
//! and a token that expires during a run. The same server is the "workspace" in front
//! of the real local MLflow server: it checks each request's bearer token, records
//! it, and forwards the request; like Databricks, it gives runs a
//! `dbfs:/databricks/mlflow-tracking/...` artifact root and takes their artifacts
//! through the Files API (recorded here). Spark Connect asks the same provider on
//! every call (against the local Spark server). A 401 from the token endpoint is a clear error that
//! names the profile and never prints the secret.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::common::temp_dir;
use crate::tracking::{get_json, mlflow_uri, rarecall};

const CLIENT_ID: &str = "sp-client-1";
const SECRET: &str = "CANARY-client-secret-0005";

#[derive(Default)]
struct Seen {
    discovery: usize,
    grants: Vec<String>,
    /// The bearer token of every workspace request, in order.
    bearers: Vec<String>,
    issued: usize,
    /// Files PUT through the Files API: path below /api/2.0/fs/files, query, bytes.
    files: Vec<(String, String, Vec<u8>)>,
}

#[derive(Clone)]
struct Workspace {
    addr: SocketAddr,
    mlflow: String,
    /// The `expires_in` the token endpoint answers with (seconds).
    expires_in: u64,
    /// A pause on every forwarded request, so that a run outlives its first token.
    delay: Duration,
    seen: Arc<Mutex<Seen>>,
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A JSON answer (axum's `Json` needs a feature the workspace does not build).
fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn discovery(State(w): State<Workspace>) -> Response {
    w.seen.lock().unwrap().discovery += 1;
    json(
        StatusCode::OK,
        serde_json::json!({
            "issuer": format!("http://{}/oidc", w.addr),
            "token_endpoint": format!("http://{}/oidc/v1/token", w.addr),
        }),
    )
}

async fn token(State(w): State<Workspace>, headers: HeaderMap, body: String) -> Response {
    let want = format!(
        "Basic {}",
        base64(format!("{CLIENT_ID}:{SECRET}").as_bytes())
    );
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut seen = w.seen.lock().unwrap();
    seen.grants.push(body.clone());
    if auth != want {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
        );
    }
    seen.issued += 1;
    json(
        StatusCode::OK,
        serde_json::json!({
            "access_token": format!("m2m-token-{}", seen.issued),
            "token_type": "Bearer",
            "scope": "all-apis",
            "expires_in": w.expires_in,
        }),
    )
}

/// Any other path: the workspace's API. Checks the bearer token and forwards the
/// request to the real MLflow server.
async fn forward(State(w): State<Workspace>, req: Request) -> Response {
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(String::from);
    let Some(bearer) = bearer.filter(|b| b.starts_with("m2m-token-")) else {
        return (StatusCode::UNAUTHORIZED, "no valid bearer token").into_response();
    };
    w.seen.lock().unwrap().bearers.push(bearer);
    tokio::time::sleep(w.delay).await;
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let ct = req.headers().get("content-type").cloned();
    let body: Bytes = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .unwrap();
    // The workspace's Files API: where Databricks keeps MLflow artifacts.
    if let Some(rest) = path.strip_prefix("/api/2.0/fs/files/") {
        let (p, q) = rest.split_once('?').unwrap_or((rest, ""));
        w.seen
            .lock()
            .unwrap()
            .files
            .push((p.to_string(), q.to_string(), body.to_vec()));
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{path}", w.mlflow))
        .body(body);
    if let Some(ct) = ct {
        r = r.header("content-type", ct);
    }
    let resp = r.send().await.unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let bytes = resp.bytes().await.unwrap();
    // As a Databricks workspace does: runs keep their artifacts in
    // dbfs:/databricks/mlflow-tracking/<experiment>/<run>/artifacts.
    if path.starts_with("/api/2.0/mlflow/runs/create") && status.is_success() {
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let info = &mut v["run"]["info"];
        info["artifact_uri"] = serde_json::json!(format!(
            "dbfs:/databricks/mlflow-tracking/{}/{}/artifacts",
            info["experiment_id"].as_str().unwrap(),
            info["run_id"].as_str().unwrap()
        ));
        return json(status, v);
    }
    (status, bytes).into_response()
}

/// Starts the workspace on a thread of its own; it lives as long as the test process.
fn start_workspace(expires_in: u64, delay: Duration) -> Workspace {
    let (tx, rx) = std::sync::mpsc::channel();
    let mlflow = mlflow_uri();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let w = Workspace {
                addr: listener.local_addr().unwrap(),
                mlflow,
                expires_in,
                delay,
                seen: Arc::default(),
            };
            tx.send(w.clone()).unwrap();
            let app = Router::new()
                .route(
                    "/oidc/.well-known/oauth-authorization-server",
                    get(discovery),
                )
                .route("/oidc/v1/token", post(token))
                .fallback(forward)
                .with_state(w);
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A finished run's folder without Spark: a summary and a dozen files.
fn written_run(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let summary = serde_json::json!({
        "run_id": format!("20260101T000000Z-{:06x}", std::process::id()),
        "spark_version": "4.1.0",
        "source": "demo",
        "parameters": {"seed": 42, "target_precision": 0.4},
        "model": {"best_c": 1.0, "cv": [{"c": 1.0, "class_weight": "balanced", "mean_ap": 0.2, "std_ap": 0.01}]},
        "test": {"average_precision": 0.15},
    });
    std::fs::write(out.join("run_summary.json"), summary.to_string()).unwrap();
    for i in 0..12 {
        std::fs::write(
            out.join(format!("file_{i:02}.csv")),
            format!("a,b\n{i},x\n"),
        )
        .unwrap();
    }
    out
}

#[test]
fn oauth_m2m_discovers_grants_and_refreshes_a_token_during_a_long_run() {
    // Tokens live 62 s and are fetched again a minute before expiry: each lasts 2 s
    // here, and the upload (15 requests of 0.3 s) outlives the first.
    let w = start_workspace(62, Duration::from_millis(300));
    let dir = temp_dir("signin-m2m");
    let out = written_run(&dir);
    let experiment = format!("/Shared/rarecall-m2m-{}", std::process::id());
    let host = format!("http://{}", w.addr);
    let r = rarecall(
        &[
            "mlflow",
            "log",
            "--run-dir",
            out.to_str().unwrap(),
            "--mlflow-uri",
            "databricks",
            "--experiment",
            &experiment,
        ],
        &dir,
        &[
            ("DATABRICKS_HOST", &host),
            ("DATABRICKS_CLIENT_ID", CLIENT_ID),
            ("DATABRICKS_CLIENT_SECRET", SECRET),
        ],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr),
    );
    assert!(r.status.success(), "{stderr}");
    assert!(
        !format!("{stdout}{stderr}").contains("CANARY"),
        "{stdout}{stderr}"
    );
    let seen = w.seen.lock().unwrap();
    assert!(seen.discovery >= 1);
    assert!(
        seen.grants
            .iter()
            .all(|g| g.contains("grant_type=client_credentials") && g.contains("scope=all-apis")),
        "{:?}",
        seen.grants
    );
    let mut distinct = seen.bearers.clone();
    distinct.dedup();
    assert!(
        distinct.len() >= 2,
        "a long run sees a refreshed token: {:?}",
        seen.bearers
    );
    assert_eq!(distinct[0], "m2m-token-1");
    // Every file went to the run's artifact folder through the Files API, whole.
    let exp_run = seen.files.first().map(|f| f.0.clone()).unwrap_or_default();
    assert!(
        exp_run.starts_with("WorkspaceInternal/Mlflow/Artifacts/") && exp_run.contains("/Runs/"),
        "{exp_run}"
    );
    let mut sent: Vec<(String, Vec<u8>)> = seen
        .files
        .iter()
        .map(|(p, q, b)| {
            assert_eq!(q, "overwrite=true");
            (
                p.rsplit_once("/artifacts/").unwrap().1.to_string(),
                b.clone(),
            )
        })
        .collect();
    sent.sort();
    let mut want: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    want.sort();
    assert_eq!(sent, want);
    // The run arrived whole through the workspace.
    let exp = get_json(
        &mlflow_uri(),
        &format!("api/2.0/mlflow/experiments/get-by-name?experiment_name={experiment}"),
    );
    assert!(exp["experiment"]["experiment_id"].is_string(), "{exp}");
}

#[test]
fn a_refused_secret_names_the_profile_and_never_prints_the_secret() {
    let w = start_workspace(3600, Duration::ZERO);
    let dir = temp_dir("signin-401");
    let out = written_run(&dir);
    std::fs::write(
        dir.join(".databrickscfg"),
        format!(
            "[sp-nightly]\nhost = http://{}\nclient_id = {CLIENT_ID}\nclient_secret = wrong-CANARY-0006\n",
            w.addr
        ),
    )
    .unwrap();
    let r = rarecall(
        &[
            "mlflow",
            "log",
            "--run-dir",
            out.to_str().unwrap(),
            "--mlflow-uri",
            "databricks://sp-nightly",
            "--experiment",
            "/Shared/never",
        ],
        &dir,
        &[],
    );
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("oauth-m2m")
            && stderr.contains("profile sp-nightly")
            && stderr.contains("HTTP 401"),
        "{stderr}"
    );
    assert!(
        stderr.contains("client_secret"),
        "the fix names what to check: {stderr}"
    );
    assert!(
        !stderr.contains("CANARY") && !String::from_utf8_lossy(&r.stdout).contains("CANARY"),
        "{stderr}"
    );
    assert_eq!(
        w.seen.lock().unwrap().bearers.len(),
        0,
        "no request without a token"
    );
}

#[test]
fn spark_connect_asks_for_a_fresh_token_on_every_call() {
    // Tokens last 2 s here; a Spark session of ~6 s of calls must fetch again. The
    // local server ignores the header; the grants show the per-call token source was
    // asked and refreshed during the session (not only at connect).
    let w = start_workspace(62, Duration::ZERO);
    let env = rarecall::remote::Env {
        vars: [
            ("DATABRICKS_HOST", format!("http://{}", w.addr)),
            ("DATABRICKS_CLIENT_ID", CLIENT_ID.to_string()),
            ("DATABRICKS_CLIENT_SECRET", SECRET.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        databrickscfg: None,
    };
    let provider = rarecall::auth::TokenProvider::resolve(&env, None, None)
        .unwrap()
        .unwrap();
    assert_eq!(provider.source_name(), "oauth-m2m");
    let remote = rarecall::remote::parse_sc_url(&crate::common::remote_url(), "test").unwrap();
    let spark =
        rarecall::spark::Spark::connect_signed_in(&remote, Some(Arc::new(provider)), 120, 10)
            .unwrap_or_else(|e| panic!("integration tests need a Spark Connect server: {e}"));
    let issued_at_connect = w.seen.lock().unwrap().issued;
    assert_eq!(issued_at_connect, 1, "one token to connect");
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(1500));
        spark
            .query("probe", "select 1 as one", &Default::default())
            .unwrap();
    }
    let issued = w.seen.lock().unwrap().issued;
    assert!(
        issued >= 2,
        "the calls after expiry fetched a new token: {issued}"
    );
}
