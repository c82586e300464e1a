//! `output.table`: the outreach list of `run` and `score` written through Spark to a
//! table in the server's catalog, after the files. Read back with Spark SQL, it holds
//! the outreach file's rows (members, order, scores to 1e-12, reasons) under the
//! run's id; append mode accumulates runs, overwrite keeps the latest; a bad name,
//! a missing schema or a table of other columns exits 2 before any work; a write
//! that fails after the files exits 2 and leaves the files and the log whole.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use rarecall::spark::Spark;

use crate::common::*;

fn rarecall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rarecall"))
        .args(args)
        .env_remove("SPARK_REMOTE")
        .env_remove("RUST_LOG")
        .env_remove("RARECALL_LOG_FORMAT")
        .output()
        .unwrap()
}

/// A table name no other test or run uses, dropped (table or view) when the guard
/// goes, also when the test fails.
struct Scratch3(String, Spark);

impl Scratch3 {
    fn new(stem: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "spark_catalog.default.rc_test_{stem}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000
        );
        Scratch3(name, spark())
    }

    fn sql(&self, sql: &str) -> Vec<arrow::record_batch::RecordBatch> {
        self.1.query("test", sql, &Default::default()).unwrap()
    }
}

impl Drop for Scratch3 {
    fn drop(&mut self) {
        for kind in ["view", "table"] {
            let _ = self.1.query(
                "drop",
                &format!("drop {kind} if exists {}", self.0),
                &Default::default(),
            );
        }
    }
}

/// One listed row: run id, command, model run id, window, rank, member, interaction,
/// time (micros), score, reasons.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    rank: i64,
    member: String,
    interaction: String,
    ts_us: i64,
    score: f64,
    reasons: [String; 3],
}

/// The rows of `run_id` in the table, by rank, and the run columns they carry.
fn table_rows(t: &Scratch3, run_id: &str) -> (Vec<Listed>, BTreeSet<[String; 4]>) {
    // Another session (the CLI's) wrote it: drop this session's cached file listing.
    t.sql(&format!("refresh table {}", t.0));
    let batches = t.sql(&format!(
        "select command, model_run_id, cast(window_start as string) as ws, cast(window_end as string) as we, rank, member_id, interaction_id, unix_micros(interaction_ts) as ts, score, coalesce(reason_1, '') as r1, coalesce(reason_2, '') as r2, coalesce(reason_3, '') as r3 from {} where run_id = '{run_id}' order by rank",
        t.0
    ));
    let mut rows = Vec::new();
    let mut runs = BTreeSet::new();
    for b in &batches {
        let s = |c: usize, r: usize| b.column(c).as_string::<i32>().value(r).to_string();
        for r in 0..b.num_rows() {
            runs.insert([s(0, r), s(1, r), s(2, r), s(3, r)]);
            rows.push(Listed {
                rank: i64::from(b.column(4).as_primitive::<Int32Type>().value(r)),
                member: s(5, r),
                interaction: s(6, r),
                ts_us: b.column(7).as_primitive::<Int64Type>().value(r),
                score: b.column(8).as_primitive::<Float64Type>().value(r),
                reasons: [s(9, r), s(10, r), s(11, r)],
            });
        }
    }
    (rows, runs)
}

/// The rows of an outreach CSV file.
fn csv_rows(path: &Path) -> Vec<Listed> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            Listed {
                rank: r[0].parse().unwrap(),
                member: r[1].to_string(),
                interaction: r[2].to_string(),
                ts_us: chrono::DateTime::parse_from_rfc3339(&r[3])
                    .unwrap()
                    .timestamp_micros(),
                score: r[4].parse().unwrap(),
                reasons: [r[5].to_string(), r[6].to_string(), r[7].to_string()],
            }
        })
        .collect()
}

/// Same members and interactions in the same order, same times and reasons, scores
/// to 1e-12.
fn assert_same(table: &[Listed], file: &[Listed], what: &str) {
    assert_eq!(table.len(), file.len(), "{what}: row count");
    for (t, f) in table.iter().zip(file) {
        assert!((t.score - f.score).abs() <= 1e-12, "{what}: {t:?} vs {f:?}");
        let t = Listed {
            score: 0.0,
            ..t.clone()
        };
        let f = Listed {
            score: 0.0,
            ..f.clone()
        };
        assert_eq!(t, f, "{what}");
    }
}

fn run_id_of(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    first
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string()
}

fn job(dir: &Path, src: &Path, name: &str, output: &str) -> PathBuf {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\ntimeout_secs = 300\n[source]\npath = {:?}\n[model]\nc_grid = [0.1]\ncv_folds = 3\n[features]\nmin_support = 5\nhistory_days = 120\n[threshold]\ntarget_precision = 0.2\n[output]\ndir = {:?}\n{output}\n",
            remote_url(),
            src.display().to_string(),
            dir.join(name).display().to_string(),
        ),
    )
    .unwrap();
    cfg
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_and_score_write_the_outreach_list_to_a_table_that_accumulates_by_run() {
    let dir = temp_dir("output-table");
    let src = dir.join("events.parquet");
    // A higher base rate than the demo's, so that the precision floor has a cutoff
    // and the list is not empty.
    let spec = rarecall::demo::DemoSpec {
        base_shift: 1.5,
        ..Default::default()
    };
    rarecall::demo::write_demo_with(&src, 2000, 5, &spec).unwrap();
    let daily = Scratch3::new("daily");
    let cfg = job(&dir, &src, "run", &format!("table = {:?}", daily.0));
    let outreach = dir.join("run/outreach_threshold_precision20_nocap.csv");

    // Run 1 creates the table (append, the default) with the list of the file.
    let o = rarecall(&["run", "--config", cfg.to_str().unwrap()]);
    ok(&o, "run 1");
    let first = run_id_of(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("does not exist yet: the first write creates it"),
        "{err}"
    );
    let file1 = csv_rows(&outreach);
    assert!(
        !file1.is_empty(),
        "the list must have rows for the test to mean anything"
    );
    let (rows1, runs1) = table_rows(&daily, &first);
    assert_same(&rows1, &file1, "run 1");
    let run_cols = |model: &str, from: &str| -> [String; 4] {
        let last = runs1.iter().next().unwrap()[3].clone();
        ["run".into(), model.into(), from.into(), last]
    };
    assert_eq!(runs1.len(), 1, "{runs1:?}");
    assert_eq!(
        runs1.iter().next().unwrap(),
        &run_cols(&first, "2024-10-01")
    );

    // Run 2 appends its own rows under its own id; run 1's stay.
    let o = rarecall(&["run", "--config", cfg.to_str().unwrap()]);
    ok(&o, "run 2");
    let second = run_id_of(&o);
    assert_ne!(first, second);
    let (rows2, _) = table_rows(&daily, &second);
    assert_same(&rows2, &csv_rows(&outreach), "run 2");
    assert_same(&table_rows(&daily, &first).0, &file1, "run 1 after run 2");
    daily.sql(&format!("refresh table {}", daily.0));
    let ids = daily.sql(&format!(
        "select count(distinct run_id) as n, count(*) as c from {}",
        daily.0
    ));
    assert_eq!(ids[0].column(0).as_primitive::<Int64Type>().value(0), 2);
    assert_eq!(
        ids[0].column(1).as_primitive::<Int64Type>().value(0) as usize,
        rows1.len() + rows2.len()
    );

    // `score` (the daily command) into a table it overwrites: the latest list only.
    let latest = Scratch3::new("latest");
    let model = dir.join("run/model.json");
    let score_cfg = job(
        &dir,
        &src,
        "score",
        &format!("table = {:?}\ntable_mode = \"overwrite\"", latest.0),
    );
    let score = |what: &str| {
        let o = rarecall(&[
            "score",
            "--config",
            score_cfg.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--from",
            "2024-12-01",
            "--to",
            "2025-01-01",
            "--top",
            "25",
        ]);
        ok(&o, what);
        run_id_of(&o)
    };
    let s1 = score("score 1");
    let s2 = score("score 2");
    assert_ne!(s1, s2);
    let (gone, _) = table_rows(&latest, &s1);
    assert!(gone.is_empty(), "overwrite keeps the latest list only");
    let (rows, runs) = table_rows(&latest, &s2);
    let file = csv_rows(&dir.join("score/outreach_top25_2024-12-01_2025-01-01.csv"));
    assert_eq!(file.len(), 25);
    assert_same(&rows, &file, "score");
    assert_eq!(
        runs.into_iter().collect::<Vec<_>>(),
        [["score", second.as_str(), "2024-12-01", "2025-01-01"].map(String::from)]
    );

    // A write that fails after the files (a view where the table should be: the
    // catalog check passes, the write cannot): exit 2, the error says where the
    // complete files are, and the files and the scoring log are whole.
    let view = Scratch3::new("view");
    let cols = "cast(null as string) as run_id, cast(null as string) as command, cast(null as string) as model_run_id, cast(null as timestamp) as scored_at, cast(null as date) as window_start, cast(null as date) as window_end, cast(null as int) as rank, cast(null as string) as member_id, cast(null as string) as interaction_id, cast(null as timestamp) as interaction_ts, cast(null as double) as score, cast(null as string) as reason_1, cast(null as string) as reason_2, cast(null as string) as reason_3";
    view.sql(&format!(
        "create view {} as select {cols} where false",
        view.0
    ));
    let failing = job(&dir, &src, "failing", &format!("table = {:?}", view.0));
    let o = rarecall(&[
        "score",
        "--config",
        failing.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--date",
        "2024-12-02",
        "--top",
        "5",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        line.contains("the outreach list was not written to it")
            && line.contains("are complete in")
            && line.contains("outreach_top5_2024-12-02_2024-12-03.csv"),
        "{err}"
    );
    let written = csv_rows(&dir.join("failing/outreach_top5_2024-12-02_2024-12-03.csv"));
    assert_eq!(written.len(), 5);
    let log = std::fs::read_to_string(dir.join("failing/outreach_scoring_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
}

#[test]
fn a_bad_table_exits_2_before_any_work_with_no_outputs() {
    let dir = temp_dir("output-table-bad");
    let src = dir.join("events.parquet");
    rarecall::demo::write_demo(&src, 200, 3).unwrap();
    let other = Scratch3::new("other");
    other.sql(&format!("create table {} (x int) using parquet", other.0));
    for (k, (table, says)) in [
        ("\"main.cx.out list\"", "' ' outside back-quotes"),
        ("\"a.b.c.d\"", "4 parts"),
        (
            "\"spark_catalog.rc_no_such_schema.t\"",
            "CREATE SCHEMA `spark_catalog`.`rc_no_such_schema`",
        ),
        (&format!("{:?}", other.0), "name a new table"),
    ]
    .iter()
    .enumerate()
    {
        let cfg = job(&dir, &src, &format!("bad{k}"), &format!("table = {table}"));
        let o = rarecall(&["run", "--config", cfg.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{table}: {err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default();
        assert!(
            line.contains("invalid config `output.table`") && line.contains(says),
            "{table}: {err}"
        );
        let out = dir.join(format!("bad{k}"));
        let left: Vec<_> = std::fs::read_dir(&out)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{table}: {left:?}");
    }
}
