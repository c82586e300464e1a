//! Which Spark Connect server to talk to: resolved from flags, environment, the config
//! file and `~/.databrickscfg`, in the order Databricks Connect uses. Pure: the
//! environment comes in as a value so the resolution is unit-tested without a network.
//!
//! Order (first that applies wins):
//! 1. `--remote sc://...`
//! 2. `--host` (with `--cluster-id` or `--serverless`; token from `DATABRICKS_TOKEN`
//!    or the selected profile)
//! 3. `--profile NAME`
//! 4. `SPARK_REMOTE`
//! 5. `DATABRICKS_CONFIG_PROFILE`
//! 6. `DATABRICKS_HOST` + `DATABRICKS_TOKEN` + `DATABRICKS_CLUSTER_ID` or
//!    `DATABRICKS_SERVERLESS_COMPUTE_ID=auto`
//! 7. `spark.remote`, then `spark.profile` of the config file
//! 8. the `[DEFAULT]` profile of `~/.databrickscfg`
//!
//! The token is a `SecretString` from where it is read to where it is sent (the Spark
//! connection string, the Files API's `Authorization` header); it never appears in
//! `Display`, `Debug` or any error message.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// The process environment as a value (variables and the Databricks config file).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub vars: BTreeMap<String, String>,
    /// Path and contents of `~/.databrickscfg` (or `DATABRICKS_CONFIG_FILE`), if present.
    pub databrickscfg: Option<(PathBuf, String)>,
}

impl Env {
    /// Reads the real environment.
    pub fn from_process() -> Self {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        let path = vars
            .get("DATABRICKS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| {
                vars.get("HOME")
                    .map(|h| PathBuf::from(h).join(".databrickscfg"))
            });
        let databrickscfg = path.and_then(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)));
        Env {
            vars,
            databrickscfg,
        }
    }

    pub(crate) fn var(&self, k: &str) -> Option<&str> {
        self.vars.get(k).map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

/// Databricks workspace credentials (for Volumes through the Files API).
#[derive(Clone)]
pub(crate) struct DatabricksCredentials {
    pub(crate) host: String,
    pub(crate) token: SecretString,
    /// Fresh tokens when `token` expires (a sign-in other than a PAT); `None`: `token`.
    pub(crate) refresh: Option<volumes_store::TokenSource>,
}

impl fmt::Debug for DatabricksCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabricksCredentials({}, token ***)", self.host)
    }
}

/// The workspace credentials of a Databricks remote, else of `DATABRICKS_HOST` and
/// `DATABRICKS_TOKEN`, else none.
pub(crate) fn databricks_credentials(remote: &Remote, env: &Env) -> Option<DatabricksCredentials> {
    if remote.param("use_ssl") == Some("true")
        && let Some(token) = remote.token()
    {
        return Some(DatabricksCredentials {
            host: remote.host().to_string(),
            token: token.clone(),
            refresh: None,
        });
    }
    match (env.var("DATABRICKS_HOST"), env.var("DATABRICKS_TOKEN")) {
        (Some(h), Some(t)) => Some(DatabricksCredentials {
            host: h.trim_end_matches('/').to_string(),
            token: SecretString::from(t),
            refresh: None,
        }),
        _ => None,
    }
}

/// The connection-related settings from flags and the config file.
#[derive(Debug, Clone, Default)]
pub struct RemoteInputs {
    pub remote_flag: Option<String>,
    pub profile_flag: Option<String>,
    pub host_flag: Option<String>,
    pub cluster_id_flag: Option<String>,
    pub serverless_flag: bool,
    pub remote_config: Option<String>,
    pub profile_config: Option<String>,
}

/// The value of a connection-string parameter: a secret for the keys
/// [`is_secret_key`] names (`token`, `*secret*`, `*password*`).
#[derive(Clone)]
enum ParamValue {
    Plain(String),
    Secret(SecretString),
}

impl ParamValue {
    fn new(key: &str, value: String) -> Self {
        if is_secret_key(key) {
            ParamValue::Secret(SecretString::from(value))
        } else {
            ParamValue::Plain(value)
        }
    }
}

/// A resolved Spark Connect endpoint. Holds the token; prints without it.
#[derive(Clone)]
pub struct Remote {
    host: String,
    port: u16,
    /// `key=value` parameters of the connection string, in order.
    params: Vec<(String, ParamValue)>,
    /// Where the setting came from, for messages ("--remote", "profile DEFAULT", ...).
    origin: String,
    /// A Databricks remote without a personal access token: its tokens come from the
    /// sign-in (`auth`: OAuth M2M or CLI login) of this profile (`None`: of the
    /// `DATABRICKS_*` variables), asked again on every call.
    signin: Option<Signin>,
}

/// Where a Databricks remote's sign-in is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signin {
    pub(crate) profile: Option<String>,
}

/// Whether the environment configures a sign-in other than a token (a service
/// principal, or `DATABRICKS_AUTH_TYPE`).
fn env_signin(env: &Env) -> bool {
    env.var("DATABRICKS_CLIENT_ID").is_some() || env.var("DATABRICKS_AUTH_TYPE").is_some()
}

impl Remote {
    /// The sign-in of a Databricks remote that has no token of its own.
    pub(crate) fn signin(&self) -> Option<&Signin> {
        self.signin.as_ref()
    }

    /// The same remote with `token` as its token (the first token of a sign-in).
    pub(crate) fn with_token(&self, token: SecretString) -> Remote {
        let mut r = self.clone();
        r.params.retain(|(k, _)| k != "token");
        r.params.insert(
            1.min(r.params.len()),
            ("token".into(), ParamValue::Secret(token)),
        );
        r
    }

    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The value of a parameter that is not a secret (`None` for `token` and the other
    /// secret keys: see [`Remote::token`]).
    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                ParamValue::Plain(v) => Some(v.as_str()),
                ParamValue::Secret(_) => None,
            })
    }

    /// The `token` parameter.
    pub(crate) fn token(&self) -> Option<&SecretString> {
        self.params
            .iter()
            .find(|(k, _)| k == "token")
            .and_then(|(_, v)| match v {
                ParamValue::Secret(t) => Some(t),
                ParamValue::Plain(_) => None,
            })
    }

    /// The host as it goes in a URL: an IPv6 address in brackets.
    fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// `host:port` for a socket connect (IPv6 in brackets).
    pub(crate) fn socket_addr(&self) -> String {
        format!("{}:{}", self.url_host(), self.port)
    }

    /// The full connection string, token included: only for the Spark client (the one
    /// place the secrets of the parameters are exposed).
    pub fn connection_string(&self) -> String {
        let mut s = format!("sc://{}:{}/", self.url_host(), self.port);
        for (k, v) in &self.params {
            s.push(';');
            s.push_str(k);
            s.push('=');
            s.push_str(match v {
                ParamValue::Plain(v) => v,
                ParamValue::Secret(v) => v.expose_secret(),
            });
        }
        s
    }

    /// True for 127.0.0.0/8, ::1 and localhost: a server this machine may start.
    pub(crate) fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.starts_with("127.") || self.host == "::1"
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sc://{}:{}/", self.url_host(), self.port)?;
        for (k, v) in &self.params {
            match v {
                ParamValue::Secret(_) => write!(f, ";{k}=***")?,
                ParamValue::Plain(v) => write!(f, ";{k}={v}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Remote({self}, from {})", self.origin)
    }
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k == "token" || k.contains("secret") || k.contains("password")
}

/// Redacts `token=...` parameters from any text that may hold a connection string.
pub fn redact(text: &str) -> String {
    let re = regex::Regex::new(r"(?i)(token|secret|password)=[^;\s/]*").expect("static regex");
    re.replace_all(text, "$1=***").into_owned()
}

/// Parses `sc://host[:port][/;key=value;...]` (the Spark Connect URL format).
pub fn parse_sc_url(url: &str, origin: &str) -> Result<Remote> {
    let bad = |problem: &str| Error::Connection {
        remote: redact(url),
        problem: format!("connection string is malformed: {problem}"),
        fix: format!(
            "write it as sc://host:port/;key=value (for example sc://127.0.0.1:15002), set via {origin}"
        ),
    };
    let rest = url
        .trim()
        .strip_prefix("sc://")
        .ok_or_else(|| bad("it must start with sc://"))?;
    let (authority, params_part) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let end = h
            .find(']')
            .ok_or_else(|| bad("an IPv6 host needs a closing ]"))?;
        let port = h[end + 1..].strip_prefix(':');
        (h[..end].to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, ';' | '/' | '@' | '?' | '#' | '[' | ']'))
    {
        return Err(bad("the host is empty or has invalid characters"));
    }
    let port = match port {
        None => 15002,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
    };
    let mut params = Vec::new();
    for part in params_part.split(';').filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad("every parameter after / must be key=value"))?;
        if k.is_empty() || k.chars().any(|c| c.is_whitespace()) {
            return Err(bad("a parameter name is empty or has spaces"));
        }
        params.push((k.to_string(), ParamValue::new(k, v.to_string())));
    }
    Ok(Remote {
        host,
        port,
        params,
        origin: origin.to_string(),
        signin: None,
    })
}

/// One profile of `~/.databrickscfg`.
#[derive(Debug, Default, Clone)]
struct Profile {
    host: Option<String>,
    token: Option<SecretString>,
    cluster_id: Option<String>,
    serverless: bool,
    /// A service principal (`client_id`) or an `auth_type`: a sign-in without a token.
    other_signin: bool,
}

/// Parses the INI-style Databricks config file into profiles.
pub(crate) fn parse_databrickscfg(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            out.entry(name.trim().to_string()).or_default();
        } else if let (Some(sec), Some((k, v))) = (&current, line.split_once('=')) {
            out.entry(sec.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

fn load_profile(env: &Env, name: &str, required: bool) -> Result<Option<Profile>> {
    let Some((path, text)) = &env.databrickscfg else {
        if required {
            return Err(Error::Connection {
                remote: format!("profile {name}"),
                problem: "no ~/.databrickscfg file was found".into(),
                fix: "create it (databricks configure) or set DATABRICKS_CONFIG_FILE".into(),
            });
        }
        return Ok(None);
    };
    let profiles = parse_databrickscfg(text);
    let Some(p) = profiles.get(name) else {
        if required {
            let known: Vec<_> = profiles.keys().cloned().collect();
            return Err(Error::Connection {
                remote: format!("profile {name}"),
                problem: format!(
                    "profile [{name}] is not in {} (profiles there: {})",
                    path.display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
                fix: "pass an existing --profile or add the profile to the file".into(),
            });
        }
        return Ok(None);
    };
    Ok(Some(Profile {
        host: p.get("host").cloned().filter(|s| !s.is_empty()),
        token: p
            .get("token")
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.as_str())),
        cluster_id: p.get("cluster_id").cloned().filter(|s| !s.is_empty()),
        serverless: p
            .get("serverless_compute_id")
            .is_some_and(|v| v.eq_ignore_ascii_case("auto")),
        other_signin: p.contains_key("client_id") || p.contains_key("auth_type"),
    }))
}

/// Builds the Databricks Spark Connect URL:
/// `sc://host:443/;use_ssl=true;token=...;x-databricks-cluster-id=...`, or for
/// serverless a fresh session id sent as `x-databricks-session-id`.
fn databricks_remote(
    host: &str,
    token: Option<&SecretString>,
    cluster_id: Option<&str>,
    serverless: bool,
    origin: &str,
    session_id: &str,
    signin: Option<Signin>,
) -> Result<Remote> {
    let err = |problem: String, fix: &str| Error::Connection {
        remote: origin.to_string(),
        problem,
        fix: fix.to_string(),
    };
    let host = host
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    if host.is_empty() || host.contains(['/', ';', ' ', '@']) {
        return Err(err(
            format!("Databricks host {host:?} is not a workspace host name"),
            "set host to the workspace URL, e.g. https://adb-123.4.azuredatabricks.net",
        ));
    }
    let mut params = vec![("use_ssl".to_string(), ParamValue::Plain("true".to_string()))];
    let signin = match (token, signin) {
        (Some(token), _) => {
            if token.expose_secret().contains([';', ' ', '\t', '\n']) {
                return Err(err(
                    "the Databricks token has spaces or ';'".into(),
                    "copy the personal access token again without extra characters",
                ));
            }
            params.push(("token".to_string(), ParamValue::Secret(token.clone())));
            None
        }
        (None, Some(s)) => Some(s),
        (None, None) => {
            return Err(err(
                format!("Databricks host {host} has no token"),
                "set DATABRICKS_TOKEN or token = ... in the profile, or a service principal (DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET, client_id / client_secret), or auth_type = \"databricks-cli\"",
            ));
        }
    };
    match (serverless, cluster_id) {
        (true, _) => params.push((
            "x-databricks-session-id".into(),
            ParamValue::Plain(session_id.to_string()),
        )),
        (false, Some(id)) if !id.contains([';', ' ', '/']) => params.push((
            "x-databricks-cluster-id".into(),
            ParamValue::Plain(id.to_string()),
        )),
        (false, Some(id)) => {
            return Err(err(
                format!("cluster id {id:?} has invalid characters"),
                "copy the cluster id from the cluster page",
            ));
        }
        (false, None) => {
            return Err(err(
                format!("Databricks host {host} has no cluster id and serverless is not set"),
                "set DATABRICKS_CLUSTER_ID / cluster_id, or DATABRICKS_SERVERLESS_COMPUTE_ID=auto / --serverless",
            ));
        }
    }
    Ok(Remote {
        host: host.to_string(),
        port: 443,
        params,
        origin: origin.to_string(),
        signin,
    })
}

fn from_profile(
    env: &Env,
    name: &str,
    inputs: &RemoteInputs,
    origin: &str,
    session_id: &str,
) -> Result<Remote> {
    let p = load_profile(env, name, true)?.unwrap_or_default();
    let host = p.host.as_deref().ok_or_else(|| Error::Connection {
        remote: origin.to_string(),
        problem: format!("profile [{name}] has no host"),
        fix: "add host = https://<workspace> to the profile".into(),
    })?;
    if p.token.is_none() && !p.other_signin {
        return Err(Error::Connection {
            remote: origin.to_string(),
            problem: format!("profile [{name}] has no token"),
            fix: "add token = <personal access token> to the profile, or client_id / client_secret of a service principal, or auth_type = databricks-cli".into(),
        });
    }
    let signin = p.other_signin.then(|| Signin {
        profile: Some(name.to_string()),
    });
    let cluster = inputs
        .cluster_id_flag
        .as_deref()
        .or(p.cluster_id.as_deref());
    databricks_remote(
        host,
        p.token.as_ref(),
        cluster,
        inputs.serverless_flag || (p.serverless && inputs.cluster_id_flag.is_none()),
        origin,
        session_id,
        signin,
    )
}

/// Resolves the remote in the documented order.
pub(crate) fn resolve(inputs: &RemoteInputs, env: &Env) -> Result<Remote> {
    resolve_with_session(inputs, env, &uuid::Uuid::new_v4().to_string())
}

/// [`resolve`] with a given serverless session id (tests pin it).
pub fn resolve_with_session(inputs: &RemoteInputs, env: &Env, session_id: &str) -> Result<Remote> {
    if let Some(url) = &inputs.remote_flag {
        return parse_sc_url(url, "--remote");
    }
    if let Some(host) = &inputs.host_flag {
        let profile_name = inputs
            .profile_flag
            .clone()
            .or_else(|| env.var("DATABRICKS_CONFIG_PROFILE").map(String::from))
            .unwrap_or_else(|| "DEFAULT".into());
        let profile = load_profile(env, &profile_name, false)?;
        let signin =
            (env_signin(env) || profile.as_ref().is_some_and(|p| p.other_signin)).then(|| Signin {
                profile: profile.as_ref().map(|_| profile_name.clone()),
            });
        let token = env
            .var("DATABRICKS_TOKEN")
            .map(SecretString::from)
            .or(profile.and_then(|p| p.token));
        return databricks_remote(
            host,
            token.as_ref(),
            inputs.cluster_id_flag.as_deref(),
            inputs.serverless_flag,
            "--host",
            session_id,
            signin,
        );
    }
    if let Some(name) = &inputs.profile_flag {
        return from_profile(env, name, inputs, &format!("--profile {name}"), session_id);
    }
    if let Some(url) = env.var("SPARK_REMOTE") {
        return parse_sc_url(url, "SPARK_REMOTE");
    }
    if let Some(name) = env.var("DATABRICKS_CONFIG_PROFILE") {
        return from_profile(
            env,
            name,
            inputs,
            &format!("DATABRICKS_CONFIG_PROFILE={name}"),
            session_id,
        );
    }
    if let Some(host) = env.var("DATABRICKS_HOST") {
        let serverless = inputs.serverless_flag
            || env
                .var("DATABRICKS_SERVERLESS_COMPUTE_ID")
                .is_some_and(|v| v.eq_ignore_ascii_case("auto"));
        let cluster = inputs
            .cluster_id_flag
            .as_deref()
            .or(env.var("DATABRICKS_CLUSTER_ID"));
        return databricks_remote(
            host,
            env.var("DATABRICKS_TOKEN").map(SecretString::from).as_ref(),
            cluster,
            serverless,
            "DATABRICKS_HOST",
            session_id,
            env_signin(env).then_some(Signin { profile: None }),
        );
    }
    if let Some(url) = &inputs.remote_config {
        return parse_sc_url(url, "spark.remote in the config file");
    }
    if let Some(name) = &inputs.profile_config {
        return from_profile(
            env,
            name,
            inputs,
            &format!("spark.profile = {name}"),
            session_id,
        );
    }
    if load_profile(env, "DEFAULT", false)?.is_some() {
        return from_profile(env, "DEFAULT", inputs, "profile DEFAULT", session_id);
    }
    Err(Error::Connection {
        remote: "(none)".into(),
        problem: "no server is configured".into(),
        fix: "pass --remote sc://host:port, set SPARK_REMOTE or spark.remote, or configure Databricks (--profile, DATABRICKS_HOST)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "5f0c1c4e-6a3e-4d59-9c57-3c8f0e7b2a11";

    fn env(vars: &[(&str, &str)], cfg: Option<&str>) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            databrickscfg: cfg.map(|t| (PathBuf::from("/home/u/.databrickscfg"), t.to_string())),
        }
    }

    const CFG: &str = "[DEFAULT]\nhost = https://adb-1.2.azuredatabricks.net/\ntoken = dapiDEFAULT\ncluster_id = 0101-abc\n\n[prod]\nhost = prod.cloud.databricks.com\ntoken = dapiPROD\nserverless_compute_id = auto\n\n[broken]\nhost = x.cloud.databricks.com\n";

    #[test]
    fn remote_flag_wins_over_everything() {
        let e = env(&[("SPARK_REMOTE", "sc://other:1")], Some(CFG));
        let r = resolve_with_session(
            &RemoteInputs {
                remote_flag: Some("sc://127.0.0.1:15003".into()),
                profile_flag: Some("prod".into()),
                ..Default::default()
            },
            &e,
            SID,
        )
        .unwrap();
        assert_eq!(r.connection_string(), "sc://127.0.0.1:15003/");
        assert!(r.is_loopback());
    }

    #[test]
    fn profile_flag_then_spark_remote_then_env_profile() {
        let e = env(
            &[
                ("SPARK_REMOTE", "sc://spark-host:15002"),
                ("DATABRICKS_CONFIG_PROFILE", "prod"),
            ],
            Some(CFG),
        );
        let r = resolve_with_session(
            &RemoteInputs {
                profile_flag: Some("DEFAULT".into()),
                ..Default::default()
            },
            &e,
            SID,
        )
        .unwrap();
        assert_eq!(
            r.connection_string(),
            "sc://adb-1.2.azuredatabricks.net:443/;use_ssl=true;token=dapiDEFAULT;x-databricks-cluster-id=0101-abc"
        );
        let r = resolve_with_session(&RemoteInputs::default(), &e, SID).unwrap();
        assert_eq!(r.connection_string(), "sc://spark-host:15002/");
        let e = env(&[("DATABRICKS_CONFIG_PROFILE", "prod")], Some(CFG));
        let r = resolve_with_session(&RemoteInputs::default(), &e, SID).unwrap();
        assert_eq!(
            r.connection_string(),
            format!(
                "sc://prod.cloud.databricks.com:443/;use_ssl=true;token=dapiPROD;x-databricks-session-id={SID}"
            )
        );
    }

    #[test]
    fn databricks_env_vars_cluster_and_serverless() {
        let e = env(
            &[
                ("DATABRICKS_HOST", "https://dbc-9.cloud.databricks.com"),
                ("DATABRICKS_TOKEN", "dapiENV"),
                ("DATABRICKS_CLUSTER_ID", "0202-xyz"),
            ],
            Some(CFG),
        );
        let r = resolve_with_session(&RemoteInputs::default(), &e, SID).unwrap();
        assert_eq!(
            r.connection_string(),
            "sc://dbc-9.cloud.databricks.com:443/;use_ssl=true;token=dapiENV;x-databricks-cluster-id=0202-xyz"
        );
        let e = env(
            &[
                ("DATABRICKS_HOST", "dbc-9.cloud.databricks.com"),
                ("DATABRICKS_TOKEN", "dapiENV"),
                ("DATABRICKS_SERVERLESS_COMPUTE_ID", "auto"),
            ],
            None,
        );
        let r = resolve_with_session(&RemoteInputs::default(), &e, SID).unwrap();
        assert_eq!(r.param("x-databricks-session-id"), Some(SID));
        assert_eq!(r.param("x-databricks-cluster-id"), None);
    }

    #[test]
    fn config_remote_before_default_profile() {
        let e = env(&[], Some(CFG));
        let inputs = RemoteInputs {
            remote_config: Some("sc://127.0.0.1:15002".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve_with_session(&inputs, &e, SID).unwrap().host(),
            "127.0.0.1"
        );
        let r = resolve_with_session(&RemoteInputs::default(), &e, SID).unwrap();
        assert_eq!(r.origin, "profile DEFAULT");
    }

    #[test]
    fn host_flag_takes_token_from_env_or_profile() {
        let e = env(&[], Some(CFG));
        let r = resolve_with_session(
            &RemoteInputs {
                host_flag: Some("h.cloud.databricks.com".into()),
                cluster_id_flag: Some("c-1".into()),
                ..Default::default()
            },
            &e,
            SID,
        )
        .unwrap();
        assert_eq!(r.token().map(|t| t.expose_secret()), Some("dapiDEFAULT"));
        assert_eq!(r.param("token"), None, "a secret is not a plain parameter");
    }

    #[test]
    fn bad_profiles_and_urls_say_what_to_fix() {
        let e = env(&[], Some(CFG));
        let msg = |inputs: RemoteInputs, e: &Env| {
            resolve_with_session(&inputs, e, SID)
                .unwrap_err()
                .to_string()
        };
        let m = msg(
            RemoteInputs {
                profile_flag: Some("broken".into()),
                ..Default::default()
            },
            &e,
        );
        assert!(m.contains("has no token"), "{m}");
        let m = msg(
            RemoteInputs {
                profile_flag: Some("nope".into()),
                ..Default::default()
            },
            &e,
        );
        assert!(
            m.contains("not in") && m.contains("DEFAULT, broken, prod"),
            "{m}"
        );
        for bad in [
            "http://x:1",
            "sc://:15002",
            "sc://h:99999",
            "sc://h:1/;token",
            "sc://h x:1",
        ] {
            let m = msg(
                RemoteInputs {
                    remote_flag: Some(bad.into()),
                    ..Default::default()
                },
                &e,
            );
            assert!(m.contains("malformed"), "{bad}: {m}");
        }
        let m = msg(RemoteInputs::default(), &env(&[], None));
        assert!(m.contains("no server is configured"), "{m}");
        let m = msg(
            RemoteInputs::default(),
            &env(
                &[
                    ("DATABRICKS_HOST", "h.cloud.databricks.com"),
                    ("DATABRICKS_TOKEN", "t"),
                ],
                None,
            ),
        );
        assert!(m.contains("no cluster id"), "{m}");
    }

    #[test]
    fn a_service_principal_profile_needs_no_token() {
        let cfg = "[sp]\nhost = https://sp.cloud.databricks.com\nclient_id = c\nclient_secret = s\ncluster_id = 0101-a\n";
        let r = resolve_with_session(
            &RemoteInputs {
                profile_flag: Some("sp".into()),
                ..Default::default()
            },
            &env(&[], Some(cfg)),
            SID,
        )
        .unwrap();
        assert!(r.token().is_none());
        assert_eq!(
            r.signin(),
            Some(&Signin {
                profile: Some("sp".into())
            })
        );
        // The first token of the sign-in goes into the connection string.
        let r = r.with_token(SecretString::from("tok1"));
        assert_eq!(
            r.connection_string(),
            "sc://sp.cloud.databricks.com:443/;use_ssl=true;token=tok1;x-databricks-cluster-id=0101-a"
        );
        // The environment's service principal, with DATABRICKS_HOST.
        let e = env(
            &[
                ("DATABRICKS_HOST", "h.cloud.databricks.com"),
                ("DATABRICKS_CLIENT_ID", "c"),
                ("DATABRICKS_CLIENT_SECRET", "s"),
                ("DATABRICKS_CLUSTER_ID", "0202-b"),
            ],
            None,
        );
        let r = resolve_with_session(&RemoteInputs::default(), &e, SID).unwrap();
        assert_eq!(r.signin(), Some(&Signin { profile: None }));
    }

    #[test]
    fn token_never_printed() {
        let r = parse_sc_url("sc://h:443/;use_ssl=true;token=SECRET123", "t").unwrap();
        assert!(!format!("{r} {r:?}").contains("SECRET123"));
        let m = parse_sc_url("sc://h:99999/;token=SECRET123", "t")
            .unwrap_err()
            .to_string();
        assert!(!m.contains("SECRET123"), "{m}");
        assert_eq!(redact("a token=abc;b=1"), "a token=***;b=1");
    }
}
