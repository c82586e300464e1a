//! The only user of `object_store`: where and how output files are written.
//!
//! Every file is written whole: the local store stages each put in a temporary file
//! and renames it into place, so a reader never sees half a file and a failed run
//! leaves the previous file intact. The folder is checked for writability before any
//! Spark work starts, so a bad `--out` fails in a second, not after the job.

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};

/// An output destination.
pub struct Outputs {
    store: Arc<dyn ObjectStore>,
    location: String,
    runtime: tokio::runtime::Runtime,
}

impl Outputs {
    /// Opens (and creates) the output folder and proves it can be written.
    pub fn open(dir: &str) -> Result<Outputs> {
        let err = |problem: String, fix: &str| Error::Output {
            location: dir.to_string(),
            problem,
            fix: fix.to_string(),
        };
        if let Some((scheme, _)) = dir.split_once("://") {
            return Err(err(
                format!("the {scheme}:// destination is not supported by this version"),
                "write to a local folder (output.dir or --out)",
            ));
        }
        if dir.starts_with("/Volumes/") || dir.starts_with("dbfs:") {
            return Err(err(
                "Unity Catalog Volumes are not supported by this version".into(),
                "write to a local folder (output.dir or --out)",
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| {
            err(
                format!("the folder cannot be created ({e})"),
                "choose a folder you can write (output.dir or --out)",
            )
        })?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| {
            err(
                format!("the folder cannot be opened ({e})"),
                "choose a folder you can write (output.dir or --out)",
            )
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(format!("no async runtime ({e})"), "report this as a bug"))?;
        let out = Outputs {
            store: Arc::new(store),
            location: dir.to_string(),
            runtime,
        };
        out.probe()?;
        Ok(out)
    }

    fn probe(&self) -> Result<()> {
        let p = ObjectPath::from(".rarecall-write-probe");
        self.runtime
            .block_on(async {
                self.store.put(&p, PutPayload::from_static(b"ok")).await?;
                self.store.delete(&p).await
            })
            .map_err(|e| Error::Output {
                location: self.location.clone(),
                problem: format!(
                    "the folder cannot be written ({})",
                    first_line(&e.to_string())
                ),
                fix: "choose a folder you can write (output.dir or --out), or fix its permissions"
                    .into(),
            })
    }

    /// Writes one whole file.
    pub fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let p = ObjectPath::from(name);
        self.runtime
            .block_on(self.store.put(&p, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(|e| Error::Output {
                location: format!("{}/{name}", self.location),
                problem: first_line(&e.to_string()),
                fix: "check free space and permissions of the output folder".into(),
            })
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
            Err(e) => Err(Error::Output {
                location: format!("{}/{name}", self.location),
                problem: first_line(&e.to_string()),
                fix: "check permissions of the output folder".into(),
            }),
        }
    }

    pub fn location(&self) -> &str {
        &self.location
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}
