//! Databricks sign-in as the Databricks SDKs do it: one [`TokenProvider`] per
//! workspace, asked for a bearer token before each request by every user of the
//! workspace: MLflow tracking, Spark Connect (through the per-call token source of the
//! vendored client core, see `Spark::connect_signed_in`) and the Volumes store
//! (`VolumesConfig::token_source`).
//!
//! Sources, in the SDKs' order and with their names (the first that applies wins;
//! `auth_type` in the profile or `DATABRICKS_AUTH_TYPE` picks one outright):
//! 1. `pat`: a personal access token (`token` in the profile, `DATABRICKS_TOKEN`);
//! 2. `oauth-m2m`: a service principal's `client_id` / `client_secret` (or
//!    `DATABRICKS_CLIENT_ID` / `DATABRICKS_CLIENT_SECRET`). The token endpoint is
//!    discovered at `<host>/oidc/.well-known/oauth-authorization-server`; the token
//!    comes from a client-credentials grant with scope `all-apis` (client id and
//!    secret as HTTP Basic credentials), is cached, and is fetched again
//!    [`REFRESH_MARGIN`] before its `expires_in` runs out;
//! 3. `databricks-cli` (only with `auth_type = "databricks-cli"`): the output of
//!    `databricks auth token --host <host>` (or `--profile <name>`), a JSON object with
//!    `access_token` and `expiry`; the CLI refreshes its own login. Its token cache file
//!    is never read. `DATABRICKS_CLI_PATH` names another binary.
//!
//! Environment variables come first, the profile fills what they leave unset (as the
//! SDKs merge them). Secrets are `SecretString`s: no message, `Debug` or log line
//! holds a token or a client secret, and a token endpoint's error text is scrubbed of
//! the secret before it is quoted.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::remote::Env;

/// A token is fetched again this long before it expires.
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// How long one token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the token comes from.
enum Source {
    Pat(SecretString),
    OauthM2m {
        client_id: String,
        client_secret: SecretString,
    },
    Cli {
        binary: String,
        profile: Option<String>,
    },
}

/// A token and when to fetch the next one (`None`: never, a PAT).
struct Cached {
    token: SecretString,
    refresh_at: Option<Instant>,
}

/// The bearer tokens of one Databricks workspace, from one source.
pub struct TokenProvider {
    /// `https://<workspace>` (or `http://` for a local test server), no trailing slash.
    host: String,
    /// Which profile or variables the credentials came from, for messages.
    origin: String,
    source: Source,
    cache: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenProvider({} via {} from {})",
            self.host,
            self.source_name(),
            self.origin
        )
    }
}

/// The settings of one sign-in, merged from the environment and a profile.
#[derive(Default)]
struct Fields {
    host: Option<String>,
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    auth_type: Option<String>,
}

/// The workspace URL with a scheme (`https://` when none is given), no trailing `/`.
pub(crate) fn normalize_host(host: &str) -> String {
    let h = host.trim().trim_end_matches('/');
    if h.contains("://") {
        h.to_string()
    } else {
        format!("https://{h}")
    }
}

impl TokenProvider {
    /// A provider for a token that never changes (a PAT from the connection string).
    pub(crate) fn pat(host: &str, token: SecretString, origin: &str) -> TokenProvider {
        TokenProvider {
            host: normalize_host(host),
            origin: origin.to_string(),
            source: Source::Pat(token),
            cache: Mutex::new(None),
        }
    }

    /// The sign-in of a profile (`profile`, else `DATABRICKS_CONFIG_PROFILE`, else
    /// `DEFAULT` when the file has it) merged under the environment; `host` (a flag)
    /// wins over both. `None` when there is no workspace host at all. Nothing is
    /// fetched here.
    pub fn resolve(
        env: &Env,
        profile: Option<&str>,
        host: Option<&str>,
    ) -> Result<Option<TokenProvider>> {
        let named = profile
            .map(String::from)
            .or_else(|| env.var("DATABRICKS_CONFIG_PROFILE").map(String::from));
        let profiles = env
            .databrickscfg
            .as_ref()
            .map(|(_, t)| crate::remote::parse_databrickscfg(t))
            .unwrap_or_default();
        let profile_name = named.clone().or_else(|| {
            profiles
                .contains_key("DEFAULT")
                .then(|| "DEFAULT".to_string())
        });
        let from_profile = match &profile_name {
            Some(n) => match profiles.get(n) {
                Some(p) => Some(p),
                None if named.is_some() => {
                    return Err(Error::Auth {
                        source_name: "profile".into(),
                        profile: n.clone(),
                        problem: format!("profile [{n}] is not in the Databricks config file"),
                        fix: "pass an existing --profile, or set DATABRICKS_CONFIG_FILE".into(),
                    });
                }
                None => None,
            },
            None => None,
        };
        let get = |env_key: &str, key: &str| {
            env.var(env_key).map(String::from).or_else(|| {
                from_profile
                    .and_then(|p| p.get(key))
                    .filter(|v| !v.is_empty())
                    .cloned()
            })
        };
        let f = Fields {
            host: host
                .map(String::from)
                .or_else(|| get("DATABRICKS_HOST", "host")),
            token: get("DATABRICKS_TOKEN", "token"),
            client_id: get("DATABRICKS_CLIENT_ID", "client_id"),
            client_secret: get("DATABRICKS_CLIENT_SECRET", "client_secret"),
            auth_type: get("DATABRICKS_AUTH_TYPE", "auth_type"),
        };
        let origin = match (&profile_name, from_profile) {
            (Some(n), Some(_)) => format!("profile {n}"),
            _ => "the DATABRICKS_* environment variables".to_string(),
        };
        let Some(host) = f.host.clone() else {
            return Ok(None);
        };
        let source = pick_source(&f, &origin, profile_name.as_deref(), env)?;
        Ok(Some(TokenProvider {
            host: normalize_host(&host),
            origin,
            source,
            cache: Mutex::new(None),
        }))
    }

    /// The workspace URL.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The source's name as the SDKs spell it: `pat`, `oauth-m2m`, `databricks-cli`.
    pub fn source_name(&self) -> &'static str {
        match self.source {
            Source::Pat(_) => "pat",
            Source::OauthM2m { .. } => "oauth-m2m",
            Source::Cli { .. } => "databricks-cli",
        }
    }

    /// Where the credentials came from (`profile prod`, or the environment).
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// A valid bearer token: the cached one, or a new one when there is none or the
    /// cached one expires within [`REFRESH_MARGIN`].
    pub fn bearer(&self) -> Result<SecretString> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.as_ref()
            && c.refresh_at.is_none_or(|t| Instant::now() < t)
        {
            return Ok(c.token.clone());
        }
        let fresh = match &self.source {
            Source::Pat(t) => Cached {
                token: t.clone(),
                refresh_at: None,
            },
            Source::OauthM2m {
                client_id,
                client_secret,
            } => self.m2m_token(client_id, client_secret)?,
            Source::Cli { binary, profile } => self.cli_token(binary, profile.as_deref())?,
        };
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    fn auth_err(&self, problem: String, fix: &str) -> Error {
        Error::Auth {
            source_name: self.source_name().into(),
            profile: self.origin.clone(),
            problem,
            fix: fix.into(),
        }
    }

    /// OAuth M2M: discovery, then the client-credentials grant.
    fn m2m_token(&self, client_id: &str, secret: &SecretString) -> Result<Cached> {
        let discovery = format!("{}/oidc/.well-known/oauth-authorization-server", self.host);
        let scrub = |s: &str| s.replace(secret.expose_secret(), "***");
        let meta = http(move |c| c.get(&discovery).send()).map_err(|e| {
            self.auth_err(
                format!("discovery failed: {}", scrub(&e)),
                "check the workspace host",
            )
        })?;
        if meta.0 != 200 {
            return Err(self.auth_err(
                format!(
                    "{}/oidc/.well-known/oauth-authorization-server answered HTTP {}",
                    self.host, meta.0
                ),
                "check the workspace host (OAuth needs a workspace URL, not a cluster URL)",
            ));
        }
        let endpoint = serde_json::from_slice::<serde_json::Value>(&meta.1)
            .ok()
            .and_then(|v| v["token_endpoint"].as_str().map(String::from))
            .ok_or_else(|| {
                self.auth_err(
                    "the OAuth discovery document has no token_endpoint".into(),
                    "check the workspace host",
                )
            })?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", "all-apis")
            .finish();
        let (id, pw, url) = (
            client_id.to_string(),
            secret.expose_secret().to_string(),
            endpoint.clone(),
        );
        let (status, bytes) = http(move |c| {
            c.post(&url)
                .basic_auth(id, Some(pw))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
        })
        .map_err(|e| {
            self.auth_err(
                format!("token request to {endpoint} failed: {}", scrub(&e)),
                "check the network",
            )
        })?;
        if status != 200 {
            let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            let fix = if status == 401 || status == 400 || status == 403 {
                "check client_id and client_secret of the service principal (a secret may have expired: make a new one in the account console)"
            } else {
                "retry later; the workspace's token endpoint failed"
            };
            return Err(self.auth_err(
                format!(
                    "the token endpoint {endpoint} answered HTTP {status} for client_id {client_id} ({})",
                    scrub(text.trim())
                ),
                fix,
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let token = v["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                self.auth_err(
                    format!("the token endpoint {endpoint} answered without an access_token"),
                    "check the workspace host",
                )
            })?;
        let expires_in = v["expires_in"].as_u64().unwrap_or(3600);
        Ok(Cached {
            token: SecretString::from(token),
            refresh_at: Some(refresh_instant(Duration::from_secs(expires_in))),
        })
    }

    /// `databricks auth token`: the CLI's JSON answer.
    fn cli_token(&self, binary: &str, profile: Option<&str>) -> Result<Cached> {
        let mut cmd = std::process::Command::new(binary);
        cmd.args(["auth", "token"]);
        match profile {
            Some(p) => cmd.args(["--profile", p]),
            None => cmd.args(["--host", &self.host]),
        };
        let out = cmd.output().map_err(|e| {
            self.auth_err(
                format!("cannot run `{binary} auth token` ({e})"),
                "install the Databricks CLI (or set DATABRICKS_CLI_PATH) and run `databricks auth login`",
            )
        })?;
        if !out.status.success() {
            let err: String = String::from_utf8_lossy(&out.stderr)
                .chars()
                .take(300)
                .collect();
            return Err(self.auth_err(
                format!("`{binary} auth token` failed: {}", err.trim()),
                "run `databricks auth login --host <workspace>` and retry",
            ));
        }
        let (token, expires_in) =
            parse_cli_token(&out.stdout, chrono::Utc::now()).ok_or_else(|| {
                self.auth_err(
                    format!("`{binary} auth token` did not print a JSON object with access_token"),
                    "update the Databricks CLI",
                )
            })?;
        Ok(Cached {
            token,
            refresh_at: Some(refresh_instant(expires_in)),
        })
    }
}

/// When to fetch again: [`REFRESH_MARGIN`] before expiry (at once for a token that
/// lives less than that).
fn refresh_instant(lifetime: Duration) -> Instant {
    Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN)
}

/// The token and its remaining lifetime from `databricks auth token`'s output:
/// `{"access_token": "...", "token_type": "Bearer", "expiry": "<RFC 3339>"}`.
fn parse_cli_token(
    stdout: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<(SecretString, Duration)> {
    let v: serde_json::Value = serde_json::from_slice(stdout).ok()?;
    let token = v["access_token"].as_str().filter(|t| !t.is_empty())?;
    let lifetime = v["expiry"]
        .as_str()
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .map(|e| {
            (e.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or_default()
        })
        .unwrap_or(Duration::ZERO);
    Some((SecretString::from(token), lifetime))
}

/// Which source the fields select.
fn pick_source(f: &Fields, origin: &str, profile: Option<&str>, env: &Env) -> Result<Source> {
    let missing = |what: &str, fix: &str| Error::Auth {
        source_name: f.auth_type.clone().unwrap_or_else(|| "default".into()),
        profile: origin.to_string(),
        problem: what.to_string(),
        fix: fix.to_string(),
    };
    let m2m = || match (&f.client_id, &f.client_secret) {
        (Some(id), Some(s)) => Ok(Source::OauthM2m {
            client_id: id.clone(),
            client_secret: SecretString::from(s.as_str()),
        }),
        _ => Err(missing(
            "oauth-m2m needs client_id and client_secret",
            "set client_id and client_secret in the profile, or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET",
        )),
    };
    let cli = || Source::Cli {
        binary: env
            .var("DATABRICKS_CLI_PATH")
            .unwrap_or("databricks")
            .to_string(),
        profile: profile.map(String::from),
    };
    match f.auth_type.as_deref() {
        Some("pat") => f
            .token
            .as_ref()
            .map(|t| Source::Pat(SecretString::from(t.as_str())))
            .ok_or_else(|| {
                missing(
                    "auth_type pat needs a token",
                    "set token in the profile or DATABRICKS_TOKEN",
                )
            }),
        Some("oauth-m2m") => m2m(),
        Some("databricks-cli") => Ok(cli()),
        Some(other) => Err(missing(
            &format!("auth_type {other:?} is not supported (pat, oauth-m2m, databricks-cli)"),
            "set auth_type to one of pat, oauth-m2m, databricks-cli",
        )),
        None if f.token.is_some() => Ok(Source::Pat(SecretString::from(
            f.token.as_deref().unwrap_or_default(),
        ))),
        None if f.client_id.is_some() || f.client_secret.is_some() => m2m(),
        None => Err(missing(
            "the workspace has a host but no credentials",
            "set a token (DATABRICKS_TOKEN), a service principal (DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET), or auth_type = \"databricks-cli\" after `databricks auth login`",
        )),
    }
}

/// One HTTP request on a thread of its own with its own runtime (callers may be
/// inside another runtime, where blocking on a new one is not allowed). Returns the
/// status and body, or the reason nothing came back.
fn http<F, Fut>(f: F) -> std::result::Result<(u16, Vec<u8>), String>
where
    F: FnOnce(reqwest::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .timeout(TOKEN_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let resp = f(client).await.map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "cannot connect".to_string()
                } else {
                    "request failed".to_string()
                }
            })?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
            Ok((status, bytes.to_vec()))
        })
    })
    .join()
    .map_err(|_| "the request thread failed".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn env(vars: &[(&str, &str)], cfg: Option<&str>) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            databrickscfg: cfg.map(|t| (PathBuf::from("/h/.databrickscfg"), t.to_string())),
        }
    }

    const CFG: &str = "[DEFAULT]\nhost = https://a.cloud.databricks.com\ntoken = dapiA\n\n[sp]\nhost = b.cloud.databricks.com\nclient_id = cid\nclient_secret = csecret\n\n[cli]\nhost = c.cloud.databricks.com\nauth_type = databricks-cli\n";

    #[test]
    fn sources_in_sdk_order() {
        let p = TokenProvider::resolve(&env(&[], Some(CFG)), None, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.source_name(), p.host()),
            ("pat", "https://a.cloud.databricks.com")
        );
        assert_eq!(p.bearer().unwrap().expose_secret(), "dapiA");
        let p = TokenProvider::resolve(&env(&[], Some(CFG)), Some("sp"), None)
            .unwrap()
            .unwrap();
        assert_eq!((p.source_name(), p.origin()), ("oauth-m2m", "profile sp"));
        assert!(!format!("{p:?}").contains("csecret"));
        let p = TokenProvider::resolve(&env(&[], Some(CFG)), Some("cli"), None)
            .unwrap()
            .unwrap();
        assert_eq!(p.source_name(), "databricks-cli");
        // The environment first: a token in DATABRICKS_TOKEN beats the profile's M2M.
        let p = TokenProvider::resolve(
            &env(
                &[
                    ("DATABRICKS_CONFIG_PROFILE", "sp"),
                    ("DATABRICKS_TOKEN", "dapiE"),
                ],
                Some(CFG),
            ),
            None,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.source_name(), "pat");
        let p = TokenProvider::resolve(
            &env(
                &[
                    ("DATABRICKS_HOST", "h.x"),
                    ("DATABRICKS_CLIENT_ID", "i"),
                    ("DATABRICKS_CLIENT_SECRET", "s"),
                ],
                None,
            ),
            None,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.source_name(), "oauth-m2m");
        assert!(p.origin().contains("environment"));
        assert!(
            TokenProvider::resolve(&env(&[], None), None, None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn incomplete_credentials_say_what_to_set() {
        let e = TokenProvider::resolve(
            &env(
                &[("DATABRICKS_HOST", "h"), ("DATABRICKS_CLIENT_ID", "i")],
                None,
            ),
            None,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("client_secret"), "{e}");
        let e = TokenProvider::resolve(&env(&[("DATABRICKS_HOST", "h")], None), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no credentials") && e.contains("DATABRICKS_CLIENT_ID"),
            "{e}"
        );
        let e = TokenProvider::resolve(&env(&[], Some(CFG)), Some("nope"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[nope]"), "{e}");
    }

    #[test]
    fn cli_output_is_parsed_with_its_expiry() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let (t, life) = parse_cli_token(
            br#"{"access_token":"eyJ.x","token_type":"Bearer","expiry":"2026-01-01T10:59:30.5+00:00"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expose_secret(), "eyJ.x");
        assert_eq!(life.as_secs(), 3570);
        assert!(parse_cli_token(b"Error: not logged in", now).is_none());
    }
}
