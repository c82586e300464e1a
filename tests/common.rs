//! Helpers shared by the integration modules.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use rarecall::config::{Settings, settings_from_toml};
use rarecall::demo::{Event, events_to_batch};
use rarecall::pipeline::{Scratch, SparkOutputs, Timings, run_spark};
use rarecall::remote::parse_sc_url;
use rarecall::spark::Spark;

/// The Spark Connect server the tests use.
pub fn remote_url() -> String {
    std::env::var("RARECALL_TEST_REMOTE").unwrap_or_else(|_| "sc://127.0.0.1:15002".into())
}

/// Connects or fails the test with the command that starts a server.
pub fn spark() -> Spark {
    let remote = parse_sc_url(&remote_url(), "RARECALL_TEST_REMOTE").unwrap();
    Spark::connect(&remote, 300).unwrap_or_else(|e| {
        panic!("integration tests need a Spark Connect server: {e}\nrun them with scripts/test.sh")
    })
}

/// A fresh temporary folder under target/ (kept for inspection, unique per call).
pub fn temp_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Microseconds since the epoch of a UTC time "YYYY-MM-DD HH:MM:SS[.ffffff]".
pub fn ts(s: &str) -> i64 {
    let fmt = if s.contains('.') {
        "%Y-%m-%d %H:%M:%S%.f"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    chrono::NaiveDateTime::parse_from_str(s, fmt)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

/// One event with the columns tests care about.
pub fn ev(
    member: &str,
    interaction: &str,
    at: &str,
    desc: Option<&str>,
    label: i32,
    channel: &str,
) -> Event {
    Event {
        member_id: member.into(),
        interaction_id: interaction.into(),
        event_ts_us: ts(at),
        description: desc.map(String::from),
        escalated: label,
        channel: Some(channel.into()),
        region: Some("west".into()),
        plan_type: Some("hmo".into()),
    }
}

/// Writes events as Parquet, optionally renaming the 8 columns.
pub fn write_parquet(path: &Path, events: &[Event], names: Option<[&str; 8]>) {
    let batch = events_to_batch(events).unwrap();
    let batch = match names {
        None => batch,
        Some(names) => {
            let fields: Vec<Field> = batch
                .schema()
                .fields()
                .iter()
                .zip(names)
                .map(|(f, n)| f.as_ref().clone().with_name(n))
                .collect();
            RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec()).unwrap()
        }
    };
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// A pipeline over a parquet file with the given extra TOML. Hand-made events span
/// weeks, not a year: unless `extra` sets it, there is no burn-in (the default 90
/// days would leave no training row).
pub fn pipeline(path: &Path, extra: &str) -> Settings {
    let extra = if extra.contains("burn_in_days") {
        extra.to_string()
    } else if extra.contains("[features]") {
        extra.replacen("[features]", "[features]\nburn_in_days = 0", 1)
    } else {
        format!("{extra}\n[features]\nburn_in_days = 0\n")
    };
    settings_from_toml(&format!(
        "[source]\npath = {:?}\nformat = \"parquet\"\n{extra}\n",
        path.display().to_string()
    ))
    .unwrap()
}

/// Runs every Spark stage.
pub fn run(p: &Settings) -> rarecall::error::Result<SparkOutputs> {
    // The materialized path, as `run` takes it with a local server.
    let scratch = Scratch::local(
        std::env::temp_dir()
            .join("rarecall-scratch")
            .to_str()
            .unwrap(),
    )?;
    run_spark(&spark(), p, Some(&scratch), &mut Timings::default())
}

/// Compares text with a golden file under tests/golden; `UPDATE_GOLDEN=1` rewrites it.
pub fn assert_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "golden file {name} differs");
}
