//! The only user of `object_store`: where output files go and how they are written.
//!
//! Destinations, from the output URL: a local folder (default), `s3://`, `gs://`,
//! `az://` / `abfss://`, and Unity Catalog Volumes (`/Volumes/<catalog>/<schema>/
//! <volume>/...` or `dbfs:/Volumes/...`) through the Databricks Files API store of the
//! `volumes-store` crate. Cloud stores are built by `object_store::parse_url_opts` with
//! the usual environment variables of each cloud (`AWS_*`, `AZURE_*`, `GOOGLE_*`) as
//! options; Volumes use the Databricks host and token of the Spark connection.
//!
//! Safe writes: a run first writes every file under `runs/<run_id>/`, then copies each
//! to its well-known name. Each put and copy replaces a whole object (local files are
//! staged and renamed), so a run that dies leaves every well-known file either the
//! previous one or the new one, never half of one. Logs are appended through one row
//! file per run (`<log>.rows/<run_id>.csv`) from which the log is rebuilt, so two runs
//! finishing at once both keep their row; the rebuild repeats until the set of rows it
//! saw is still the set after its write.

use std::sync::Arc;
#[cfg(feature = "fault-injection")]
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use volumes_store::{FilesApiStore, VolumesConfig};

use crate::error::{Error, Result};

/// Test hook for fault tests, only in builds with the `fault-injection` feature:
/// `RARECALL_FAULT_ABORT_AFTER_PUTS=N` aborts the process (no unwinding, no cleanup, as
/// a kill would) after N successful writes.
#[cfg(feature = "fault-injection")]
const FAULT_ENV: &str = "RARECALL_FAULT_ABORT_AFTER_PUTS";

pub(crate) use crate::remote::DatabricksCredentials;

/// An output destination.
pub(crate) struct Outputs {
    store: Arc<dyn ObjectStore>,
    location: String,
    runtime: tokio::runtime::Runtime,
    #[cfg(feature = "fault-injection")]
    puts: AtomicUsize,
    #[cfg(feature = "fault-injection")]
    abort_after: Option<usize>,
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// Splits `scheme://authority/path` into (scheme, authority, path).
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    Some((scheme, authority, path.trim_matches('/')))
}

fn with_prefix(store: Arc<dyn ObjectStore>, prefix: &str) -> Arc<dyn ObjectStore> {
    if prefix.is_empty() {
        store
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    }
}

/// The `object_store` options of a cloud scheme, read from environment variables the
/// way `AmazonS3Builder::from_env`, `GoogleCloudStorageBuilder::from_env` and
/// `MicrosoftAzureBuilder::from_env` read them: every `AWS_*` / `GOOGLE_*` / `AZURE_*`
/// variable (unknown keys are ignored by `parse_url_opts`), plus `SERVICE_ACCOUNT`
/// before the `GOOGLE_*` ones and `IDENTITY_ENDPOINT` after the `AZURE_*` ones, so a
/// later option wins as a later builder call did. `vars` is the environment (tests pass
/// their own); variables that are not UTF-8 are skipped, as there.
fn cloud_options(
    scheme: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    let named = |name: &str| {
        vars.iter()
            .filter(|(k, _)| k == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let prefixed = |prefix: &str| {
        vars.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .cloned()
            .collect::<Vec<_>>()
    };
    match scheme {
        "s3" | "s3a" => prefixed("AWS_"),
        "gs" => [named("SERVICE_ACCOUNT"), prefixed("GOOGLE_")].concat(),
        "az" | "azure" | "abfs" | "abfss" => {
            [prefixed("AZURE_"), named("IDENTITY_ENDPOINT")].concat()
        }
        _ => Vec::new(),
    }
}

/// The process environment, minus variables that are not UTF-8.
fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

/// The store for an output location.
fn store_for(
    dir: &str,
    databricks: Option<&DatabricksCredentials>,
) -> Result<Arc<dyn ObjectStore>> {
    let err = |problem: String, fix: &str| Error::Output {
        location: dir.to_string(),
        problem,
        fix: fix.to_string(),
    };
    let build_err = |e: object_store::Error| {
        err(
            format!(
                "the destination cannot be configured ({})",
                first_line(&e.to_string())
            ),
            "check the URL and the cloud credentials in the environment",
        )
    };
    if let Some(volume_path) = volumes_store::parse_volume_path(dir) {
        let creds = databricks.ok_or_else(|| {
            err(
                "writing to a Volume needs a Databricks workspace".into(),
                "connect to Databricks (--profile, DATABRICKS_HOST and DATABRICKS_TOKEN)",
            )
        })?;
        let base = if creds.host.starts_with("http://") || creds.host.starts_with("https://") {
            creds.host.clone()
        } else {
            format!("https://{}", creds.host)
        };
        let config = VolumesConfig {
            user_agent: concat!("rarecall/", env!("CARGO_PKG_VERSION")).to_string(),
            token_source: creds.refresh.clone(),
            ..VolumesConfig::new(base, creds.token.clone(), volume_path)
        };
        // A build error reads as any store's configuration error: it converts into
        // `object_store::Error::Generic` (store `FilesApiStore`).
        let store = FilesApiStore::new(config).map_err(|e| build_err(e.into()))?;
        return Ok(Arc::new(store));
    }
    if dir.starts_with("/Volumes") || dir.starts_with("dbfs:") {
        return Err(err(
            "a Volume path needs /Volumes/<catalog>/<schema>/<volume>".into(),
            "name the catalog, schema and volume in output.dir",
        ));
    }
    let Some((scheme, authority, path)) = split_url(dir) else {
        std::fs::create_dir_all(dir).map_err(|e| {
            err(
                format!("the folder cannot be created ({e})"),
                "choose a folder you can write (output.dir or --out)",
            )
        })?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| {
            err(
                format!(
                    "the folder cannot be opened ({})",
                    first_line(&e.to_string())
                ),
                "choose a folder you can write (output.dir or --out)",
            )
        })?;
        return Ok(Arc::new(store));
    };
    if authority.is_empty() {
        return Err(err(
            "the URL names no bucket or container".into(),
            "write it as s3://bucket/prefix, gs://bucket/prefix or az://container/prefix",
        ));
    }
    if !matches!(
        scheme,
        "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss"
    ) {
        return Err(err(
            format!("the {scheme}:// scheme is not a supported destination"),
            "use a local folder, s3://, gs://, az://, abfss:// or /Volumes/...",
        ));
    }
    // Only `scheme://authority` goes to parse_url_opts; the prefix is applied below as
    // written, as before (parse_url_opts would percent-decode it first).
    let url = url::Url::parse(&format!("{scheme}://{authority}")).map_err(|e| {
        build_err(object_store::Error::Generic {
            store: "URL",
            source: Box::new(e),
        })
    })?;
    let (store, _) = object_store::parse_url_opts(&url, cloud_options(scheme, process_env()))
        .map_err(build_err)?;
    Ok(with_prefix(Arc::from(store), path))
}

impl Outputs {
    /// Opens the destination and proves it can be written.
    pub(crate) fn open(dir: &str, databricks: Option<&DatabricksCredentials>) -> Result<Outputs> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::Output {
                location: dir.to_string(),
                problem: format!("no async runtime ({e})"),
                fix: "report this as a bug".into(),
            })?;
        // Cloud builders may start background work on the runtime: build inside it.
        let store = {
            let _guard = runtime.enter();
            store_for(dir, databricks)?
        };
        let out = Outputs {
            store,
            location: dir.trim_end_matches('/').to_string(),
            runtime,
            #[cfg(feature = "fault-injection")]
            puts: AtomicUsize::new(0),
            #[cfg(feature = "fault-injection")]
            abort_after: std::env::var(FAULT_ENV).ok().and_then(|v| v.parse().ok()),
        };
        out.probe()?;
        Ok(out)
    }

    fn probe(&self) -> Result<()> {
        let p = ObjectPath::from(".rarecall-write-probe");
        self.runtime
            .block_on(async {
                self.store.put(&p, PutPayload::from_static(b"ok")).await?;
                // Some servers (azurite's batch delete) report a just-written probe as
                // missing; the put already proved the destination writable.
                match self.store.delete(&p).await {
                    Err(object_store::Error::NotFound { .. }) => Ok(()),
                    other => other,
                }
            })
            .map_err(|e| Error::Output {
                location: self.location.clone(),
                problem: format!("the destination cannot be written ({})", first_line(&e.to_string())),
                fix: "choose a destination you can write (output.dir or --out), or fix its permissions or credentials".into(),
            })
    }

    /// After each successful write: the fault hook's count (a no-op without the
    /// `fault-injection` feature).
    #[cfg(feature = "fault-injection")]
    fn counted(&self) {
        let n = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        if self.abort_after.is_some_and(|limit| n >= limit) {
            tracing::error!("{FAULT_ENV} reached after {n} writes: aborting");
            std::process::abort();
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    fn counted(&self) {}

    fn io_err(&self, name: &str, e: object_store::Error) -> Error {
        Error::Output {
            location: format!("{}/{name}", self.location),
            problem: first_line(&e.to_string()),
            fix: "check free space, permissions and credentials of the destination".into(),
        }
    }

    /// Writes one whole file.
    fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let p = ObjectPath::from(name);
        self.runtime
            .block_on(self.store.put(&p, PutPayload::from(bytes)))
            .map_err(|e| self.io_err(name, e))?;
        self.counted();
        Ok(())
    }

    fn copy(&self, from: &str, to: &str) -> Result<()> {
        self.runtime
            .block_on(
                self.store
                    .copy(&ObjectPath::from(from), &ObjectPath::from(to)),
            )
            .map_err(|e| self.io_err(to, e))?;
        self.counted();
        Ok(())
    }

    /// Reads a file if it exists.
    pub(crate) fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let p = ObjectPath::from(name);
        match self.runtime.block_on(async {
            let r = self.store.get(&p).await?;
            r.bytes().await
        }) {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.io_err(name, e)),
        }
    }

    /// Names of the files directly or indirectly under `prefix`, sorted.
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let p = ObjectPath::from(prefix);
        let mut names: Vec<String> = self
            .runtime
            .block_on(
                self.store
                    .list(Some(&p))
                    .map_ok(|m| m.location.to_string())
                    .try_collect(),
            )
            .map_err(|e| self.io_err(prefix, e))?;
        names.sort();
        Ok(names)
    }

    /// Deletes every file under `prefix` (object stores have no folders to remove).
    fn remove_prefix(&self, prefix: &str) -> Result<()> {
        for name in self.list(prefix)? {
            let p = ObjectPath::from(name.as_str());
            match self.runtime.block_on(self.store.delete(&p)) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.io_err(&name, e)),
            }
        }
        Ok(())
    }

    /// Writes a run's files safely: all under `runs/<run_id>/` first, then each copied
    /// to its well-known name.
    pub(crate) fn publish(&self, run_id: &str, files: Vec<(String, Vec<u8>)>) -> Result<()> {
        let staged: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        for (name, bytes) in files {
            self.put(&format!("runs/{run_id}/{name}"), bytes)?;
        }
        for name in staged {
            self.copy(&format!("runs/{run_id}/{name}"), &name)?;
        }
        Ok(())
    }

    /// Appends `row` to the CSV log `log_name` without losing rows written by earlier
    /// or concurrent runs: the row goes to its own file, then the log is rebuilt from
    /// all row files. A log written before row files existed is imported once (when
    /// its header matches; otherwise it is kept under another name).
    pub(crate) fn append_log(
        &self,
        log_name: &str,
        columns: &[&str],
        run_id: &str,
        row: &[String],
    ) -> Result<()> {
        let rows_dir = format!("{}.rows", log_name.trim_end_matches(".csv"));
        let header = crate::tables::csv_line(columns)?;
        let legacy = format!("{rows_dir}/00000000-legacy.csv");
        if self.list(&rows_dir)?.is_empty()
            && let Some(old) = self.get(log_name)?
        {
            if old.starts_with(&header) {
                self.put(&legacy, old[header.len()..].to_vec())?;
            } else {
                self.put(
                    &format!("{}.before-{run_id}.csv", log_name.trim_end_matches(".csv")),
                    old,
                )?;
            }
        }
        let line = crate::tables::csv_line(row)?;
        self.put(&format!("{rows_dir}/{run_id}.csv"), line)?;
        for _ in 0..10 {
            let seen = self.list(&rows_dir)?;
            let mut log = header.clone();
            for name in &seen {
                if let Some(bytes) = self.get(name)? {
                    log.extend_from_slice(&crate::tables::pad_rows(&bytes, columns.len())?);
                }
            }
            self.put(log_name, log)?;
            if self.list(&rows_dir)? == seen {
                return Ok(());
            }
        }
        Err(Error::Output {
            location: format!("{}/{log_name}", self.location),
            problem: "the log kept changing while it was rebuilt (many runs at once)".into(),
            fix: "rerun; every run's row is kept in the .rows folder and the next run rebuilds the log".into(),
        })
    }

    pub(crate) fn location(&self) -> &str {
        &self.location
    }
}

/// A run's scratch folder on the Spark server's storage (`spark.scratch_dir`): Spark
/// writes intermediate Parquet there so that later stages read it instead of computing
/// it again, and the folder is removed when the run ends, failed or not (on drop).
/// Spark writes and reads it by `path`; this module only opens (proving the location
/// writable) and removes it.
pub struct Scratch {
    outputs: Outputs,
    /// The run's own folder under the scratch location, as Spark is given it.
    run_dir: String,
    /// The same folder relative to the scratch location (object store prefix).
    prefix: String,
    /// A local folder: removed with its (empty) subfolders, which object_store leaves.
    local: Option<std::path::PathBuf>,
}

impl Scratch {
    /// A scratch folder on this machine's file system (a local Spark server).
    pub fn local(dir: &str) -> Result<Scratch> {
        Self::open(dir, None)
    }

    /// Opens `dir` and names a folder in it that no other run uses.
    pub(crate) fn open(dir: &str, databricks: Option<&DatabricksCredentials>) -> Result<Scratch> {
        let outputs = Outputs::open(dir, databricks)?;
        let prefix = format!(
            "rarecall-{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%6f"),
            std::process::id()
        );
        let run_dir = format!("{}/{prefix}", outputs.location);
        let local = (!dir.contains("://") && !dir.starts_with("/Volumes/"))
            .then(|| std::path::PathBuf::from(&run_dir));
        Ok(Scratch {
            outputs,
            run_dir,
            prefix,
            local,
        })
    }

    /// Where Spark writes (and later reads) the intermediate result `name`.
    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.run_dir)
    }

    /// Removes the run's scratch folder and everything in it.
    pub(crate) fn remove(&self) -> Result<()> {
        match &self.local {
            Some(dir) => match std::fs::remove_dir_all(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Output {
                    location: self.run_dir.clone(),
                    problem: format!("the scratch folder cannot be removed ({e})"),
                    fix: "remove it by hand; check that this user may delete what the Spark server wrote (spark.scratch_dir)".into(),
                }),
                _ => Ok(()),
            },
            None => self.outputs.remove_prefix(&self.prefix),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self.remove() {
            Ok(()) => tracing::debug!(dir = %self.run_dir, "scratch folder removed"),
            Err(e) => tracing::warn!("{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cloud_options_are_the_variables_from_env_read() {
        let env = vars(&[
            ("AWS_ENDPOINT", "http://127.0.0.1:1"),
            ("IDENTITY_ENDPOINT", "http://msi"),
            ("AZURE_STORAGE_USE_EMULATOR", "true"),
            ("GOOGLE_SERVICE_ACCOUNT", "/g.json"),
            ("SERVICE_ACCOUNT", "/s.json"),
            ("AWS_ALLOW_HTTP", "true"),
            ("HOME", "/root"),
        ]);
        assert_eq!(
            cloud_options("s3", env.clone()),
            vars(&[
                ("AWS_ENDPOINT", "http://127.0.0.1:1"),
                ("AWS_ALLOW_HTTP", "true")
            ])
        );
        assert_eq!(cloud_options("s3a", env.clone()).len(), 2);
        // SERVICE_ACCOUNT first, so GOOGLE_SERVICE_ACCOUNT wins as in from_env.
        assert_eq!(
            cloud_options("gs", env.clone()),
            vars(&[
                ("SERVICE_ACCOUNT", "/s.json"),
                ("GOOGLE_SERVICE_ACCOUNT", "/g.json")
            ])
        );
        // IDENTITY_ENDPOINT last, so it wins over AZURE_MSI_ENDPOINT as in from_env.
        for scheme in ["az", "azure", "abfs", "abfss"] {
            assert_eq!(
                cloud_options(scheme, env.clone()),
                vars(&[
                    ("AZURE_STORAGE_USE_EMULATOR", "true"),
                    ("IDENTITY_ENDPOINT", "http://msi")
                ])
            );
        }
        assert!(cloud_options("ftp", env).is_empty());
    }

    fn open_error(dir: &str, creds: Option<&DatabricksCredentials>) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        match store_for(dir, creds) {
            Ok(_) => panic!("{dir} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn destinations_that_cannot_be_configured_say_why() {
        let m = open_error("ftp://host/x", None);
        assert!(
            m.contains("the ftp:// scheme is not a supported destination"),
            "{m}"
        );
        let m = open_error("s3:///x", None);
        assert!(m.contains("the URL names no bucket or container"), "{m}");
        let m = open_error("/Volumes/main/cx", None);
        assert!(
            m.contains("a Volume path needs /Volumes/<catalog>/<schema>/<volume>"),
            "{m}"
        );
        let m = open_error("dbfs:/Volumes/main/cx/vol/out", None);
        assert!(
            m.contains("writing to a Volume needs a Databricks workspace"),
            "{m}"
        );
        let creds = DatabricksCredentials {
            host: "adb-1.azuredatabricks.net".into(),
            token: SecretString::from(" "),
            refresh: None,
        };
        let m = open_error("/Volumes/main/cx/vol/out", Some(&creds));
        assert!(
            m.contains(
                "the destination cannot be configured (Generic FilesApiStore error: the Databricks token is empty)"
            ),
            "{m}"
        );
    }

    #[test]
    fn cloud_urls_build_through_parse_url_opts() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        for (dir, shown) in [
            ("s3://bucket/a/b", "PrefixObjectStore(a/b)"),
            ("s3a://bucket", "AmazonS3(bucket)"),
            ("gs://bucket", "GoogleCloudStorage(bucket)"),
            ("gs://bucket/a/", "PrefixObjectStore(a)"),
            (
                "abfss://container@account.dfs.core.windows.net/prefix",
                "PrefixObjectStore(prefix)",
            ),
        ] {
            let store = store_for(dir, None).unwrap_or_else(|e| panic!("{dir}: {e}"));
            assert_eq!(store.to_string(), shown, "{dir}");
        }
    }
}
