//! The `[mlflow]` section checked into `mlflow::MlflowSettings`: the tracking URI
//! (`--mlflow-uri` / `MLFLOW_TRACKING_URI` > `mlflow.tracking_uri`), the experiment,
//! the failure policy, the run name and the registered model; and the Databricks
//! sign-in a `databricks` URI uses. Tracking is off when no URI is set anywhere.

use std::path::Path;
use std::sync::Arc;

use super::raw::{RawMlflow, read_raw};
use crate::auth::TokenProvider;
use crate::error::{Error, Result};
use crate::mlflow::{MlflowSettings, TrackingUri};
use crate::remote::{Env, Remote};

/// The experiment when `mlflow.experiment` is not set (Databricks wants a workspace
/// path: `/Shared/rarecall`).
const DEFAULT_EXPERIMENT: &str = "rarecall";

/// The checked settings, `None` when tracking is off.
pub(super) fn mlflow_settings(
    raw: &RawMlflow,
    uri_flag: Option<&str>,
    experiment_flag: Option<&str>,
) -> Result<Option<MlflowSettings>> {
    let from_flag = uri_flag.map(str::trim).filter(|s| !s.is_empty());
    let Some(text) = from_flag.or(raw.tracking_uri.as_deref()) else {
        let set = raw.experiment.is_some()
            || raw.required.is_some()
            || raw.run_name.is_some()
            || raw.register_as.is_some();
        if set {
            return Err(Error::config(
                "mlflow.tracking_uri",
                "http(s)://host:port or databricks",
                "nothing (the [mlflow] section has other keys)",
                "set mlflow.tracking_uri, --mlflow-uri or MLFLOW_TRACKING_URI, or remove the [mlflow] section",
            ));
        }
        return Ok(None);
    };
    let uri = parse_uri(text.trim())?;
    let experiment = experiment_flag
        .map(String::from)
        .or(raw.experiment.clone())
        .unwrap_or_else(|| match uri {
            TrackingUri::Databricks { .. } => format!("/Shared/{DEFAULT_EXPERIMENT}"),
            TrackingUri::Http(_) => DEFAULT_EXPERIMENT.to_string(),
        });
    let experiment = experiment.trim().to_string();
    if experiment.is_empty() || experiment.chars().any(char::is_control) {
        return Err(Error::config(
            "mlflow.experiment",
            "an experiment name",
            format!("{experiment:?}"),
            "name the experiment, e.g. \"rarecall\" (on Databricks \"/Shared/rarecall\")",
        ));
    }
    if matches!(uri, TrackingUri::Databricks { .. }) && !experiment.starts_with('/') {
        return Err(Error::config(
            "mlflow.experiment",
            "a workspace path such as /Shared/rarecall or /Users/<you>/rarecall (Databricks names experiments by path)",
            format!("{experiment:?}"),
            format!("set mlflow.experiment = \"/Shared/{experiment}\""),
        ));
    }
    let non_empty = |key: &str, v: &Option<String>| -> Result<Option<String>> {
        match v.as_deref().map(str::trim) {
            Some("") => Err(Error::config(
                key,
                "a non-empty name",
                "\"\"",
                format!("remove {key} or give it a value"),
            )),
            other => Ok(other.map(String::from)),
        }
    };
    Ok(Some(MlflowSettings {
        uri,
        experiment,
        required: raw.required.unwrap_or(false),
        run_name: non_empty("mlflow.run_name", &raw.run_name)?,
        register_as: non_empty("mlflow.register_as", &raw.register_as)?,
    }))
}

/// `http(s)://host[:port][/prefix]`, `databricks` or `databricks://<profile>`.
fn parse_uri(text: &str) -> Result<TrackingUri> {
    let bad = |found: &str, fix: &str| {
        Error::config(
            "mlflow.tracking_uri",
            "http(s)://host:port, databricks or databricks://<profile>",
            found,
            fix,
        )
    };
    if text == "databricks" {
        return Ok(TrackingUri::Databricks { profile: None });
    }
    if let Some(p) = text.strip_prefix("databricks://") {
        let p = p.trim_end_matches('/');
        if p.is_empty() || p.contains(['/', ' ', '@', ':']) {
            return Err(bad(
                &format!("{text:?}"),
                "write databricks://<profile name>",
            ));
        }
        return Ok(TrackingUri::Databricks {
            profile: Some(p.to_string()),
        });
    }
    let url = url::Url::parse(text).map_err(|e| {
        bad(
            &format!("{text:?} ({e})"),
            "write the server's URL, e.g. http://127.0.0.1:5000",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(
            &format!("{:?}", crate::remote::redact(text)),
            "rarecall talks to a tracking server over HTTP (a local mlruns folder or a database URI is not supported): start `mlflow server` and give its URL",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "a URL with a user name or password",
            "remove the credentials from the URL; for a server behind a token, set MLFLOW_TRACKING_TOKEN",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(&format!("{text:?}"), "remove the ?query or #fragment"));
    }
    Ok(TrackingUri::Http(text.trim_end_matches('/').to_string()))
}

/// The base URL and sign-in of the tracking server: an HTTP server's own URL (with
/// `MLFLOW_TRACKING_TOKEN` as bearer token when set, as MLflow's clients do), or the
/// Databricks workspace of `databricks[://profile]` (else of `profile`, the
/// `--profile` flag or `spark.profile`).
pub(crate) fn tracking_endpoint(
    s: &MlflowSettings,
    env: &Env,
    profile: Option<&str>,
    host_flag: Option<&str>,
) -> Result<(String, Option<Arc<TokenProvider>>)> {
    match &s.uri {
        TrackingUri::Http(url) => {
            let auth = env.var("MLFLOW_TRACKING_TOKEN").map(|t| {
                Arc::new(TokenProvider::pat(
                    url,
                    secrecy::SecretString::from(t),
                    "MLFLOW_TRACKING_TOKEN",
                ))
            });
            Ok((url.clone(), auth))
        }
        TrackingUri::Databricks { profile: p } => {
            let provider = TokenProvider::resolve(env, p.as_deref().or(profile), host_flag)?
                .ok_or_else(|| {
                    Error::config(
                        "mlflow.tracking_uri",
                        "a Databricks workspace to track in",
                        "databricks, but no workspace host (no DATABRICKS_HOST, profile or --host)",
                        "set DATABRICKS_HOST and credentials, or use databricks://<profile>",
                    )
                })?;
            Ok((provider.host().to_string(), Some(Arc::new(provider))))
        }
    }
}

/// The sign-in of a Databricks remote: its own token (a PAT in the connection string),
/// else the OAuth M2M or CLI login of its profile or the `DATABRICKS_*` variables.
/// `None` for other servers. Nothing is fetched here.
pub(super) fn workspace_signin(remote: &Remote, env: &Env) -> Result<Option<Arc<TokenProvider>>> {
    if let Some(s) = remote.signin() {
        let p = TokenProvider::resolve(env, s.profile.as_deref(), Some(remote.host()))?;
        return Ok(p.map(Arc::new));
    }
    match (remote.param("use_ssl"), remote.token()) {
        (Some("true"), Some(t)) => Ok(Some(Arc::new(TokenProvider::pat(
            remote.host(),
            t.clone(),
            "the connection's token",
        )))),
        _ => Ok(None),
    }
}

/// The `[mlflow]` settings for `rarecall mlflow log`: from a config file when one is
/// given, the flags over it. Tracking must be configured somewhere.
pub(crate) fn load_mlflow(
    config: Option<&Path>,
    uri_flag: Option<&str>,
    experiment_flag: Option<&str>,
) -> Result<MlflowSettings> {
    let raw = match config {
        Some(p) => read_raw(p)?.mlflow,
        None => RawMlflow::default(),
    };
    mlflow_settings(&raw, uri_flag, experiment_flag)?.ok_or_else(|| {
        Error::config(
            "mlflow.tracking_uri",
            "http(s)://host:port or databricks",
            "nothing",
            "pass --mlflow-uri, set MLFLOW_TRACKING_URI, or give a --config with mlflow.tracking_uri",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(uri: Option<&str>) -> RawMlflow {
        RawMlflow {
            tracking_uri: uri.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn off_unless_a_uri_is_set_and_the_flag_wins() {
        assert_eq!(mlflow_settings(&raw(None), None, None).unwrap(), None);
        let s = mlflow_settings(&raw(Some("http://a:1")), Some("http://b:2/"), None)
            .unwrap()
            .unwrap();
        assert_eq!(s.uri, TrackingUri::Http("http://b:2".into()));
        assert_eq!((s.experiment.as_str(), s.required), ("rarecall", false));
        let s = mlflow_settings(&raw(Some("databricks://prod")), None, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            s.uri,
            TrackingUri::Databricks {
                profile: Some("prod".into())
            }
        );
        assert_eq!(s.experiment, "/Shared/rarecall");
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        for (uri, needle) in [
            ("file:///tmp/mlruns", "not supported"),
            ("sqlite:///m.db", "not supported"),
            ("http://u:pw@h:5000", "MLFLOW_TRACKING_TOKEN"),
            ("databricks://", "databricks://<profile name>"),
            ("not a url", "server's URL"),
        ] {
            let e = mlflow_settings(&raw(Some(uri)), None, None)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("mlflow.tracking_uri") && e.contains(needle),
                "{uri}: {e}"
            );
            assert!(!e.contains("pw@"), "{e}");
        }
        let r = RawMlflow {
            tracking_uri: Some("databricks".into()),
            experiment: Some("rarecall".into()),
            ..Default::default()
        };
        let e = mlflow_settings(&r, None, None).unwrap_err().to_string();
        assert!(e.contains("/Shared/rarecall"), "{e}");
        let r = RawMlflow {
            required: Some(true),
            ..Default::default()
        };
        assert!(mlflow_settings(&r, None, None).is_err());
    }
}
