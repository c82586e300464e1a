//! The only user of `object_store`: where output files go and how they are written.
//!
//! Destinations, from the output URL: a local folder (default), `s3://`, `gs://`,
//! `az://` / `abfss://`, and Unity Catalog Volumes (`/Volumes/<catalog>/<schema>/
//! <volume>/...` or `dbfs:/Volumes/...`) through the Databricks Files API store in
//! `files_api`. Cloud credentials come from the usual environment variables of each
//! cloud (`AWS_*`, `AZURE_*`, `GOOGLE_*`); Volumes use the Databricks host and token of
//! the Spark connection.
//!
//! Safe writes: a run first writes every file under `runs/<run_id>/`, then copies each
//! to its well-known name. Each put and copy replaces a whole object (local files are
//! staged and renamed), so a run that dies leaves every well-known file either the
//! previous one or the new one, never half of one. Logs are appended through one row
//! file per run (`<log>.rows/<run_id>.csv`) from which the log is rebuilt, so two runs
//! finishing at once both keep their row; the rebuild repeats until the set of rows it
//! saw is still the set after its write.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};

/// Test hook for fault tests: `RARECALL_FAULT_ABORT_AFTER_PUTS=N` aborts the process
/// (no unwinding, no cleanup, as a kill would) after N successful writes.
const FAULT_ENV: &str = "RARECALL_FAULT_ABORT_AFTER_PUTS";

pub use crate::remote::DatabricksCredentials;

/// An output destination.
pub struct Outputs {
    store: Arc<dyn ObjectStore>,
    location: String,
    runtime: tokio::runtime::Runtime,
    puts: AtomicUsize,
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
    if let Some(volume_path) = files_api::parse_volume_path(dir) {
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
        let store = files_api::FilesApiStore::new(
            &base,
            files_api::Secret::new(creds.token.clone()),
            &volume_path,
        )
        .map_err(build_err)?;
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
    let store: Arc<dyn ObjectStore> = match scheme {
        "s3" | "s3a" => Arc::new(
            AmazonS3Builder::from_env()
                .with_url(format!("s3://{authority}"))
                .build()
                .map_err(build_err)?,
        ),
        "gs" => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(format!("gs://{authority}"))
                .build()
                .map_err(build_err)?,
        ),
        "az" | "azure" | "abfs" | "abfss" => Arc::new(
            MicrosoftAzureBuilder::from_env()
                .with_url(format!("{scheme}://{authority}"))
                .build()
                .map_err(build_err)?,
        ),
        other => {
            return Err(err(
                format!("the {other}:// scheme is not a supported destination"),
                "use a local folder, s3://, gs://, az://, abfss:// or /Volumes/...",
            ));
        }
    };
    Ok(with_prefix(store, path))
}

pub mod files_api;

impl Outputs {
    /// Opens the destination and proves it can be written.
    pub fn open(dir: &str, databricks: Option<&DatabricksCredentials>) -> Result<Outputs> {
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
        let abort_after = std::env::var(FAULT_ENV).ok().and_then(|v| v.parse().ok());
        let out = Outputs {
            store,
            location: dir.trim_end_matches('/').to_string(),
            runtime,
            puts: AtomicUsize::new(0),
            abort_after,
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

    fn counted(&self) {
        let n = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        if self.abort_after.is_some_and(|limit| n >= limit) {
            tracing::error!("{FAULT_ENV} reached after {n} writes: aborting");
            std::process::abort();
        }
    }

    fn io_err(&self, name: &str, e: object_store::Error) -> Error {
        Error::Output {
            location: format!("{}/{name}", self.location),
            problem: first_line(&e.to_string()),
            fix: "check free space, permissions and credentials of the destination".into(),
        }
    }

    /// Writes one whole file.
    pub fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
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
    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
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
    pub fn list(&self, prefix: &str) -> Result<Vec<String>> {
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

    /// Writes a run's files safely: all under `runs/<run_id>/` first, then each copied
    /// to its well-known name.
    pub fn publish(&self, run_id: &str, files: Vec<(String, Vec<u8>)>) -> Result<()> {
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
    pub fn append_log(
        &self,
        log_name: &str,
        columns: &[&str],
        run_id: &str,
        row: &[String],
    ) -> Result<()> {
        let rows_dir = format!("{}.rows", log_name.trim_end_matches(".csv"));
        let header = crate::report::csv_line(columns)?;
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
        let line = crate::report::csv_line(row)?;
        self.put(&format!("{rows_dir}/{run_id}.csv"), line)?;
        for _ in 0..10 {
            let seen = self.list(&rows_dir)?;
            let mut log = header.clone();
            for name in &seen {
                if let Some(bytes) = self.get(name)? {
                    log.extend_from_slice(&crate::report::pad_rows(&bytes, columns.len())?);
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

    pub fn location(&self) -> &str {
        &self.location
    }
}
