//! Output destinations and safe writes: S3 (moto server) and Azure Blob (azurite),
//! started by scripts/test.sh; a run killed mid-write; concurrent runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use crate::common::*;

const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: destination tests need the local object stores; run them with scripts/test.sh")
    })
}

fn job(dir: &Path) -> PathBuf {
    let src = dir.join("events.parquet");
    if !src.exists() {
        rarecall::demo::write_demo(&src, 500, 9).unwrap();
    }
    let cfg = dir.join("job.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\n[source]\npath = {:?}\n[model]\nc_grid = [0.1]\ncv_folds = 3\n[features]\nmin_support = 5\n[threshold]\ntarget_precision = 0.2\ntop_k = 20\n",
            remote_url(),
            src.display().to_string()
        ),
    )
    .unwrap();
    cfg
}

fn rarecall(cfg: &Path, out: &str, env: &[(&str, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rarecall"));
    c.args(["run", "--config", cfg.to_str().unwrap(), "--out", out])
        .env_remove("SPARK_REMOTE");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn ok(o: Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Runs two jobs at once against `out` and checks what is there afterwards.
fn two_concurrent_runs(cfg: &Path, out: &str, env: &[(&str, String)]) {
    let a = rarecall(cfg, out, env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let b = rarecall(cfg, out, env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    ok(a.wait_with_output().unwrap());
    ok(b.wait_with_output().unwrap());
}

fn read_all(store: &dyn ObjectStore, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let p = ObjectPath::from(prefix);
        let metas: Vec<_> = store.list(Some(&p)).try_collect().await.unwrap();
        let mut out = BTreeMap::new();
        for m in metas {
            let bytes = store.get(&m.location).await.unwrap().bytes().await.unwrap();
            let name = m
                .location
                .as_ref()
                .trim_start_matches(prefix)
                .trim_start_matches('/')
                .to_string();
            out.insert(name, bytes.to_vec());
        }
        out
    })
}

fn check_outputs(files: &BTreeMap<String, Vec<u8>>, runs: usize) {
    for f in [
        "model.json",
        "run_summary.json",
        "outreach_threshold_precision20_nocap.csv",
        "pydescription_normalization_audit.csv",
        "outreach_runs_log.csv",
    ] {
        assert!(
            files.contains_key(f),
            "missing {f} in {:?}",
            files.keys().collect::<Vec<_>>()
        );
    }
    let log = String::from_utf8(files["outreach_runs_log.csv"].clone()).unwrap();
    assert_eq!(log.lines().count(), 1 + runs, "one row per run:\n{log}");
    let staged = files
        .keys()
        .filter(|k| k.starts_with("runs/") && k.ends_with("/model.json"))
        .count();
    assert_eq!(
        staged, runs,
        "each run staged its files under runs/<run_id>/"
    );
}

#[test]
fn s3_through_moto_two_concurrent_runs() {
    let endpoint = required_env("RARECALL_TEST_S3_ENDPOINT");
    let dir = temp_dir("s3");
    let cfg = job(&dir);
    let prefix = format!("it-{}", dir.file_name().unwrap().to_string_lossy());
    let env = [
        ("AWS_ENDPOINT", endpoint.clone()),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ];
    two_concurrent_runs(&cfg, &format!("s3://rarecall-test/{prefix}"), &env);
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("rarecall-test")
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_region("us-east-1")
        .build()
        .unwrap();
    check_outputs(&read_all(&store, &prefix), 2);
}

#[test]
fn azure_blob_through_azurite_two_concurrent_runs() {
    let url = required_env("RARECALL_TEST_AZURITE_URL");
    let dir = temp_dir("azure");
    let cfg = job(&dir);
    let prefix = format!("it-{}", dir.file_name().unwrap().to_string_lossy());
    let env = [
        ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
        ("AZURITE_BLOB_STORAGE_URL", url.clone()),
    ];
    two_concurrent_runs(&cfg, &format!("az://rarecall-test/{prefix}"), &env);
    let store = object_store::azure::MicrosoftAzureBuilder::new()
        .with_container_name("rarecall-test")
        .with_account("devstoreaccount1")
        .with_access_key(AZURITE_KEY)
        .with_endpoint(format!("{url}/devstoreaccount1"))
        .with_allow_http(true)
        .build()
        .unwrap();
    check_outputs(&read_all(&store, &prefix), 2);
}

#[test]
fn local_folder_two_concurrent_runs() {
    let dir = temp_dir("local-concurrent");
    let cfg = job(&dir);
    let out = dir.join("out");
    two_concurrent_runs(&cfg, out.to_str().unwrap(), &[]);
    let store = object_store::local::LocalFileSystem::new_with_prefix(&out).unwrap();
    check_outputs(&read_all(&store, ""), 2);
}

/// The variable that arms the fault hook (abort after `after` writes).
#[cfg(feature = "fault-injection")]
fn abort_after_puts(after: usize) -> (&'static str, String) {
    ("RARECALL_FAULT_ABORT_AFTER_PUTS", after.to_string())
}

/// The hook is compiled in only with `--features fault-injection` (scripts/test.sh
/// passes it): a test binary built without it fails here rather than pass with no fault.
#[cfg(not(feature = "fault-injection"))]
fn abort_after_puts(_after: usize) -> (&'static str, String) {
    panic!(
        "this test needs the fault hook: run it with --features fault-injection (scripts/test.sh does)"
    )
}

#[test]
fn a_run_killed_mid_write_leaves_every_well_known_file_whole() {
    // Killed while staging (3 writes in), then while copying into place (12 in).
    let faults = [3, 12].map(|after| (after, abort_after_puts(after)));
    let dir = temp_dir("killed");
    let cfg = job(&dir);
    let out = dir.join("out");
    ok(rarecall(&cfg, out.to_str().unwrap(), &[]).output().unwrap());
    let well_known = |p: &Path| -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(p)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    };
    let before = well_known(&out);
    for (after, fault) in faults {
        let o = rarecall(&cfg, out.to_str().unwrap(), &[fault])
            .output()
            .unwrap();
        assert!(!o.status.success(), "the fault hook must kill the run");
        let now = well_known(&out);
        let staged: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        for (name, bytes) in &now {
            let old = before.get(name);
            let new_versions: Vec<Vec<u8>> = staged
                .iter()
                .filter_map(|d| std::fs::read(d.join(name)).ok())
                .collect();
            assert!(
                old == Some(bytes) || new_versions.contains(bytes),
                "{name} (after {after} writes) is neither the previous file nor a complete new one"
            );
        }
        if after == 3 {
            assert_eq!(
                now, before,
                "killed while staging: no well-known file changed"
            );
        }
        let log = String::from_utf8(now["outreach_runs_log.csv"].clone()).unwrap();
        assert_eq!(
            log.lines().count(),
            2,
            "the killed run added no row; the first run's row is kept"
        );
    }
    // A rerun after the faults succeeds and appends its row.
    ok(rarecall(&cfg, out.to_str().unwrap(), &[]).output().unwrap());
    let log = std::fs::read_to_string(out.join("outreach_runs_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 3);
}
