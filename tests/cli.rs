//! The CLI end to end: demo data, `run`, `check`, and bad input. Bad input must give
//! one error line naming the problem and the fix, exit code 2, and no output files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

fn rarecall(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rarecall"))
        .args(args)
        .env("HOME", home)
        .env_remove("SPARK_REMOTE")
        .env_remove("DATABRICKS_HOST")
        .env_remove("DATABRICKS_TOKEN")
        .env_remove("DATABRICKS_CLUSTER_ID")
        .env_remove("DATABRICKS_CONFIG_PROFILE")
        .env_remove("DATABRICKS_CONFIG_FILE")
        .env_remove("DATABRICKS_SERVERLESS_COMPUTE_ID")
        .output()
        .unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A demo-shaped parquet file in `dir`, small.
fn small_events(dir: &Path) -> PathBuf {
    let path = dir.join("events.parquet");
    rarecall::demo::write_demo(&path, 400, 3).unwrap();
    path
}

fn config(dir: &Path, source: &Path, remote: &str, extra: &str) -> PathBuf {
    config_with_columns(dir, source, remote, "", extra)
}

fn config_with_columns(
    dir: &Path,
    source: &Path,
    remote: &str,
    columns: &str,
    extra: &str,
) -> PathBuf {
    let cfg = dir.join("job.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nremote = {remote:?}\ntimeout_secs = 300\n[source]\npath = {:?}\nformat = \"parquet\"\n[columns]\ncategoricals = [\"channel\", \"region\", \"plan_type\"]\n{columns}\n[output]\ndir = {:?}\n{extra}\n",
            source.display().to_string(),
            dir.join("out").display().to_string(),
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn run_writes_the_audit_and_summary() {
    let dir = temp_dir("cli-run");
    let src = small_events(&dir);
    let cfg = config(&dir, &src, &remote_url(), "");
    let out = rarecall(&["run", "--config", cfg.to_str().unwrap()], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let audit =
        std::fs::read_to_string(dir.join("out/pydescription_normalization_audit.csv")).unwrap();
    assert!(audit.starts_with(
        "description_raw,raw_is_null,description_clean,description_canonical,rule,event_count\n"
    ));
    assert!(
        !audit.contains("(unmatched)"),
        "demo variants all map back:\n{audit}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/run_summary.json")).unwrap()).unwrap();
    assert!(summary["rows"]["train_positives"].as_u64().unwrap() > 0);
    assert!(summary["rows"]["test"].as_u64().unwrap() > 0);
}

#[test]
fn check_prints_version_and_mapping_and_dry_run_needs_no_server() {
    let dir = temp_dir("cli-check");
    let src = small_events(&dir);
    let cfg = config(&dir, &src, &remote_url(), "");
    let out = rarecall(&["check", "--config", cfg.to_str().unwrap()], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("Spark 4."), "{stdout}");
    assert!(stdout.contains("schema matches"), "{stdout}");
    let cfg = config(&dir, &src, "sc://127.0.0.1:1", "");
    let out = rarecall(
        &["check", "--dry-run", "--config", cfg.to_str().unwrap()],
        &dir,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("-- ===== view features ====="), "{stdout}");
    assert!(stdout.contains("-- param :split_boundary = timestamp'2024-10-01 00:00:00.000000'"));
}

/// One bad input: what to change in a good setup, and words the error must contain.
struct Case {
    name: &'static str,
    setup: fn(&Path, &Path) -> (PathBuf, Vec<String>),
    want: &'static [&'static str],
}

fn default_setup(dir: &Path, src: &Path) -> PathBuf {
    config(dir, src, &remote_url(), "")
}

#[test]
fn bad_inputs_exit_2_with_one_clear_line_and_no_outputs() {
    let cases = [
        Case {
            name: "missing mapped column",
            setup: |d, s| {
                (
                    config_with_columns(d, s, &remote_url(), "label = \"is_escalated\"", ""),
                    vec![],
                )
            },
            want: &["`is_escalated`", "columns.label", "no such column"],
        },
        Case {
            name: "wrong column type",
            setup: |d, _| {
                let p = d.join("typed.json");
                std::fs::write(&p, "{\"member_id\":\"a\",\"interaction_id\":\"i\",\"event_ts\":\"2024-01-01T00:00:00Z\",\"pydescription\":\"x\",\"escalated\":0.5,\"channel\":\"phone\",\"region\":\"w\",\"plan_type\":\"h\"}\n").unwrap();
                let cfg = config(d, &p, &remote_url(), "");
                let text = std::fs::read_to_string(&cfg)
                    .unwrap()
                    .replace("format = \"parquet\"", "format = \"json\"");
                std::fs::write(&cfg, text).unwrap();
                (cfg, vec![])
            },
            want: &["columns.label", "found double", "0/1 integer or boolean"],
        },
        Case {
            name: "empty source",
            setup: |d, _| {
                let p = d.join("empty.parquet");
                write_parquet(&p, &[], None);
                (config(d, &p, &remote_url(), ""), vec![])
            },
            want: &["has no rows"],
        },
        Case {
            name: "path that does not exist",
            setup: |d, _| {
                (
                    config(d, &d.join("nope.parquet"), &remote_url(), ""),
                    vec![],
                )
            },
            want: &["does not exist", "source.path"],
        },
        Case {
            name: "unreachable server",
            setup: |d, s| (config(d, s, "sc://127.0.0.1:1", ""), vec![]),
            want: &["unreachable", "scripts/spark-local.sh start"],
        },
        Case {
            name: "malformed connection string",
            setup: |d, s| (config(d, s, "sc//127.0.0.1:15002", ""), vec![]),
            want: &["malformed", "sc://"],
        },
        Case {
            name: "databricks profile without token",
            setup: |d, s| {
                std::fs::write(
                    d.join(".databrickscfg"),
                    "[ws]\nhost = https://adb-1.azuredatabricks.net\ncluster_id = c\n",
                )
                .unwrap();
                (default_setup(d, s), vec!["--profile".into(), "ws".into()])
            },
            want: &["profile [ws] has no token", "token"],
        },
        Case {
            name: "split boundary outside the data",
            setup: |d, s| {
                (
                    config(
                        d,
                        s,
                        &remote_url(),
                        "[model]\nsplit_boundary = \"2031-01-01\"",
                    ),
                    vec![],
                )
            },
            want: &["outside the data", "model.split_boundary"],
        },
    ];
    for case in cases {
        let dir = temp_dir("cli-bad");
        let src = small_events(&dir);
        let (cfg, extra) = (case.setup)(&dir, &src);
        let mut args = vec![
            "run".to_string(),
            "--config".into(),
            cfg.display().to_string(),
        ];
        args.extend(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = rarecall(&args, &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", case.name);
        assert_eq!(error_lines.len(), 1, "{}: {stderr}", case.name);
        for w in case.want {
            assert!(
                error_lines[0].contains(w),
                "{}: missing {w:?} in {}",
                case.name,
                error_lines[0]
            );
        }
        assert!(
            error_lines[0].contains("fix:") || error_lines[0].contains("pass "),
            "{}: no fix in {}",
            case.name,
            error_lines[0]
        );
        assert!(
            files_under(&dir.join("out")).is_empty(),
            "{}: outputs were written",
            case.name
        );
    }
}
