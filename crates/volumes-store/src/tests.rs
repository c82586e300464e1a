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

/// A store on `base` with no proxy and a quick retry policy.
fn quick_store(base: &str, token: &str, retry: RetryPolicy) -> FilesApiStore {
    FilesApiStore::new(VolumesConfig {
        retry,
        proxy_from_env: false,
        ..VolumesConfig::new(base, SecretString::from(token), ROOT)
    })
    .unwrap()
}

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
    /// The `Authorization` header as sent.
    auth: Option<String>,
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
        quick_store(
            &self.base,
            token,
            RetryPolicy {
                max_retries: 3,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                max_elapsed: Duration::from_secs(5),
            },
        )
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
        auth: auth.clone(),
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
    // The canary token, or one a token source made (`fresh-<n>`).
    let valid = auth.as_deref() == Some(format!("Bearer {CANARY}").as_str())
        || auth
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer fresh-"));
    if !valid {
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
    let config = |url: &str, token: &str, root: &str| {
        VolumesConfig::new(url, SecretString::from(token), root)
    };
    let ok = FilesApiStore::new(config("https://adb-1.azuredatabricks.net/", CANARY, ROOT));
    assert_eq!(
        ok.unwrap().to_string(),
        format!("FilesApiStore(https://adb-1.azuredatabricks.net{ROOT})")
    );
    let bare = FilesApiStore::new(config(
        "adb-1.azuredatabricks.net",
        CANARY,
        "dbfs:/Volumes/a/b/c",
    ));
    assert_eq!(bare.unwrap().root(), "/Volumes/a/b/c");
    for (url, root, token, message) in [
        (
            "ftp://host",
            ROOT,
            CANARY,
            "the workspace URL must be http(s)",
        ),
        (
            "https://user:dapi-CANARY-123@host",
            ROOT,
            CANARY,
            "the workspace URL must not carry user information; pass the token separately",
        ),
        (
            "https://host/api",
            ROOT,
            CANARY,
            "the workspace URL must be scheme://host[:port] with no path or query",
        ),
        (
            "https://host?x=1",
            ROOT,
            CANARY,
            "the workspace URL must be scheme://host[:port] with no path or query",
        ),
        (
            "https://host",
            "/tmp/out",
            CANARY,
            "\"/tmp/out\" is not a Unity Catalog Volume path (/Volumes/<catalog>/<schema>/<volume>/...)",
        ),
        ("https://host", ROOT, "", "the Databricks token is empty"),
        (
            "https://host",
            ROOT,
            "dapi-CANARY-123\n",
            "the Databricks token has characters not allowed in an HTTP header",
        ),
    ] {
        let err = FilesApiStore::new(config(url, token, root)).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_no_canary(&format!("{err} {err:?}"));
        // As an object_store error, for callers that handle both kinds alike.
        let err = Error::from(err);
        assert!(matches!(err, Error::Generic { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("Generic FilesApiStore error: {message}")
        );
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
        format!("{:?}", SecretString::from(CANARY)),
        format!(
            "{:?}",
            VolumesConfig::new("h", SecretString::from(CANARY), ROOT)
        ),
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
    let unreachable = quick_store(
        &format!("http://127.0.0.1:{port}"),
        CANARY,
        RetryPolicy {
            max_retries: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            max_elapsed: Duration::from_secs(2),
        },
    );
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

/// This crate reports through its errors only: no logging, printing or tracing that
/// could carry a request (and so the token) anywhere.
#[test]
fn the_crate_does_not_log() {
    let source = include_str!("lib.rs");
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

#[tokio::test]
async fn a_token_source_is_asked_before_every_request() {
    // OAuth tokens expire during a long run: each request carries the source's current
    // token, not the one the store was built with.
    let server = TestServer::start().await;
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&n);
    let store = FilesApiStore::new(VolumesConfig {
        proxy_from_env: false,
        token_source: Some(TokenSource(Arc::new(move || {
            let i = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            Some(SecretString::from(format!("fresh-{i}")))
        }))),
        ..VolumesConfig::new(&server.base, SecretString::from("first"), ROOT)
    })
    .unwrap();
    let key = Path::from("a.csv");
    store
        .put(&key, PutPayload::from_static(b"x"))
        .await
        .unwrap();
    store
        .put(&key, PutPayload::from_static(b"y"))
        .await
        .unwrap();
    let auths: Vec<Option<String>> = server.requests().into_iter().map(|r| r.auth).collect();
    assert_eq!(
        auths,
        [
            Some("Bearer fresh-1".to_string()),
            Some("Bearer fresh-2".to_string())
        ]
    );
    assert!(format!("{store:?}").contains("token"));
}
