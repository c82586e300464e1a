//! `[spark.conf]`: session settings applied once after connecting change what the
//! session's queries do and are still the session's after a run; a bad key or value
//! stops `run` with exit code 2, the key named, nothing written.

use std::path::Path;
use std::process::{Command, Output};

use arrow::array::AsArray;
use rarecall::pipeline::{Scratch, Timings, run_spark};
use rarecall::spark::Spark;

use crate::common::*;

fn rarecall(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rarecall"))
        .args(args)
        .env("HOME", home)
        .env_remove("SPARK_REMOTE")
        .env_remove("RUST_LOG")
        .env_remove("RARECALL_LOG_FORMAT")
        .output()
        .unwrap()
}

/// The session's value of `key`, as `SET key` shows it.
fn set_value(spark: &Spark, key: &str) -> String {
    let b = spark
        .query("read setting", &format!("SET {key}"), &Default::default())
        .unwrap();
    b[0].column(1).as_string::<i32>().value(0).to_string()
}

/// How many partitions the rows of a group-by come out in.
fn partitions_after_a_shuffle(spark: &Spark) -> i64 {
    let b = spark
        .query(
            "partitions",
            "select count(distinct p) as n from (select spark_partition_id() as p from (select k, count(*) as c from (select id % 100 as k from range(10000)) group by k))",
            &Default::default(),
        )
        .unwrap();
    b[0].column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0)
}

#[test]
fn session_settings_take_effect_and_are_still_the_sessions_after_a_run() {
    let dir = temp_dir("session-conf");
    let src = dir.join("events.parquet");
    rarecall::demo::write_demo(&src, 300, 11).unwrap();
    let p = pipeline(&src, "[spark]\n");
    let scratch = Scratch::local(dir.join("scratch").to_str().unwrap()).unwrap();
    let plain = spark();

    let tuned = spark();
    let conf: Vec<(String, String)> = [
        ("spark.sql.adaptive.enabled", "false"),
        ("spark.sql.shuffle.partitions", "7"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    tuned.apply_session_conf(&conf).unwrap();
    assert_eq!(set_value(&tuned, "spark.sql.shuffle.partitions"), "7");
    assert_eq!(
        partitions_after_a_shuffle(&tuned),
        7,
        "the setting plans the shuffle"
    );
    run_spark(&tuned, &p, Some(&scratch), &mut Timings::default()).unwrap();
    assert_eq!(set_value(&tuned, "spark.sql.shuffle.partitions"), "7");
    assert_eq!(set_value(&tuned, "spark.sql.adaptive.enabled"), "false");
    // Settings belong to their session: the other one still has the server's.
    assert_ne!(set_value(&plain, "spark.sql.shuffle.partitions"), "7");
}

fn job(dir: &Path, src: &Path, conf: &str) -> std::path::PathBuf {
    let cfg = dir.join("job.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {:?}\ntimeout_secs = 300\n[spark.conf]\n{conf}\n[source]\npath = {:?}\n[output]\ndir = {:?}\n",
            remote_url(),
            src.display().to_string(),
            dir.join("out").display().to_string(),
        ),
    )
    .unwrap();
    cfg
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn the_cli_applies_the_settings_and_refuses_bad_keys_with_exit_2_and_no_outputs() {
    let dir = temp_dir("session-conf-cli");
    let src = dir.join("events.parquet");
    rarecall::demo::write_demo(&src, 200, 3).unwrap();
    let cfg = job(&dir, &src, "\"spark.sql.shuffle.partitions\" = 7");
    let out = rarecall(&["check", "--config", cfg.to_str().unwrap()], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("spark.conf: spark.sql.shuffle.partitions=7 set for this session"),
        "{err}"
    );

    for (conf, says) in [
        // Refused by the config check, before connecting.
        (
            "\"sql.shuffle.partitions\" = \"8\"",
            "`spark.conf.\"sql.shuffle.partitions\"`",
        ),
        (
            "\"spark.sql.session.timeZone\" = \"Europe/Paris\"",
            "defined in UTC",
        ),
        // Refused by the server, right after connecting.
        (
            "\"spark.sql.shufle.partitions\" = \"8\"",
            "`spark.conf.\"spark.sql.shufle.partitions\"`: expected a session setting the server knows",
        ),
        (
            "\"spark.driver.memory\" = \"1g\"",
            "`spark.conf.\"spark.driver.memory\"`: expected a session setting the server knows",
        ),
        (
            "\"spark.sql.shuffle.partitions\" = \"many\"",
            "`spark.conf.\"spark.sql.shuffle.partitions\"`: expected a value the server accepts",
        ),
    ] {
        let cfg = job(&dir, &src, conf);
        let out = rarecall(&["run", "--config", cfg.to_str().unwrap()], &dir);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{conf}: {err}");
        assert!(err.contains(says) && err.contains("fix: "), "{conf}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{conf}: {err}");
        let written = files_under(&dir.join("out"));
        assert!(written.is_empty(), "{conf}: {written:?}");
    }
}
