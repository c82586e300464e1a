//! What a tracked run records, built from what the command wrote (pure: no I/O).
//!
//! For `run`, everything comes from `run_summary.json` (so `rarecall mlflow log` can
//! record a run later from its output folder alone) plus the stage timings when the
//! run is tracked as it ends:
//!
//! - params: every key of `parameters` (text as is, numbers in Rust's round-trip
//!   form, lists and tables as JSON), the source, the data range and the duplicate
//!   policy;
//! - metrics: test average precision, precision, recall and their interval bounds,
//!   the threshold (its validation precision lower bound, the effective cutoff after
//!   the cap), calibration error, mean score and base rate, validation AP, the chosen
//!   C and out-of-fold AP, the row and event counts, peak memory, `time_s_<stage>` per
//!   stage; and the cross-validation curve as steps: for each class weight `<w>`,
//!   `cv_c_<w>`, `cv_mean_ap_<w>` and `cv_std_ap_<w>` at step i for the i-th C of the
//!   grid, ascending (a step is an integer, so the C itself is its own metric);
//! - artifacts: every file of the run, under the same relative name.
//!
//! For `score`: the window, the mode and the model's run id as params; rows scored and
//! selected, the threshold and the timings as metrics; its files as artifacts.

use serde_json::Value;

use super::batch::{Batch, KeyValue, Metric};
use crate::error::{Error, Result};

/// Everything one tracked run sends.
#[derive(Debug, Clone)]
pub(crate) struct RunRecord {
    /// `run` or `score`.
    pub(crate) command: &'static str,
    /// rarecall's own run id (the folder under `runs/`).
    pub(crate) rarecall_run_id: String,
    pub(crate) spark_version: Option<String>,
    /// Where the outputs were written.
    pub(crate) output_url: String,
    pub(crate) batch: Batch,
    /// Relative name and bytes of every output file.
    pub(crate) files: Vec<(String, Vec<u8>)>,
}

impl RunRecord {
    /// The run's tags (MLflow's system tags, then rarecall's).
    pub(crate) fn tags(&self, run_name: &str) -> Vec<KeyValue> {
        let mut tags = vec![
            KeyValue::new("mlflow.runName", run_name),
            KeyValue::new("mlflow.source.name", "rarecall"),
            KeyValue::new("mlflow.source.type", "JOB"),
            KeyValue::new("rarecall.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("rarecall.command", self.command),
            KeyValue::new("rarecall.run_id", &self.rarecall_run_id),
            KeyValue::new(
                "rarecall.output_url",
                crate::remote::redact(&self.output_url),
            ),
        ];
        if let Some(v) = &self.spark_version {
            tags.push(KeyValue::new("rarecall.spark_version", v));
        }
        tags
    }
}

/// A JSON value as a param value: text unquoted, everything else as JSON.
fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

/// A metric key: ASCII letters, digits and `_` (MLflow also allows `-./ `; rarecall
/// keeps keys plain).
fn metric_key(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

fn bad_summary(problem: &str) -> Error {
    Error::Tracking {
        endpoint: "(run_summary.json)".into(),
        status: format!("the run summary cannot be read: {problem}"),
        fix: "pass the output folder of a `rarecall run` (it holds run_summary.json)".into(),
    }
}

/// The record of a `rarecall run` from its summary, its files and, when tracked as it
/// ends, its stage timings. `now_ms` stamps every metric.
pub(crate) fn for_run(
    summary: &[u8],
    files: Vec<(String, Vec<u8>)>,
    timings: &[(String, f64)],
    output_url: &str,
    now_ms: i64,
) -> Result<RunRecord> {
    let s: Value = serde_json::from_slice(summary).map_err(|e| bad_summary(&e.to_string()))?;
    let run_id = s["run_id"]
        .as_str()
        .ok_or_else(|| bad_summary("it has no run_id"))?
        .to_string();
    let mut params = Vec::new();
    if let Some(p) = s["parameters"].as_object() {
        for (k, v) in p {
            params.push(KeyValue::new(k.clone(), param_text(v)));
        }
    }
    params.push(KeyValue::new("source", param_text(&s["source"])));
    for k in ["first_event", "last_event", "duplicate_policy"] {
        params.push(KeyValue::new(
            format!("data_{k}"),
            param_text(&s["data"][k]),
        ));
    }
    let mut metrics = Vec::new();
    let mut put = |key: String, v: &Value, step: i64| {
        if let Some(x) = v.as_f64() {
            metrics.push(Metric {
                key,
                value: x,
                timestamp: now_ms,
                step,
            });
        }
    };
    let t = &s["test"];
    for k in [
        "average_precision",
        "precision",
        "recall",
        "effective_cutoff",
        "calibration_error",
        "mean_calibrated_score",
        "base_rate",
        "outreach_rows",
    ] {
        put(format!("test_{k}"), &t[k], 0);
    }
    for k in ["precision", "recall"] {
        for b in ["lower", "upper"] {
            put(format!("test_{k}_{b}"), &t[format!("{k}_interval")][b], 0);
        }
    }
    put("threshold".into(), &s["threshold"]["threshold"], 0);
    put(
        "threshold_precision_lower".into(),
        &s["threshold"]["precision_lower"],
        0,
    );
    put(
        "validation_average_precision".into(),
        &s["validation"]["average_precision"],
        0,
    );
    put("best_c".into(), &s["model"]["best_c"], 0);
    put(
        "oof_average_precision".into(),
        &s["model"]["oof_average_precision"],
        0,
    );
    for section in ["rows", "data"] {
        if let Some(o) = s[section].as_object() {
            for (k, v) in o {
                put(format!("{section}_{k}"), v, 0);
            }
        }
    }
    put("peak_rss_bytes".into(), &s["peak_rss_bytes"], 0);
    // The CV curve: one series per class weight, C ascending, step = position.
    let mut by_weight: std::collections::BTreeMap<String, Vec<&Value>> = Default::default();
    for e in s["model"]["cv"].as_array().into_iter().flatten() {
        by_weight
            .entry(metric_key(&param_text(&e["class_weight"])))
            .or_default()
            .push(e);
    }
    for (w, mut entries) in by_weight {
        entries.sort_by(|a, b| {
            let (a, b) = (a["c"].as_f64(), b["c"].as_f64());
            a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
        });
        for (i, e) in entries.iter().enumerate() {
            put(format!("cv_c_{w}"), &e["c"], i as i64);
            put(format!("cv_mean_ap_{w}"), &e["mean_ap"], i as i64);
            put(format!("cv_std_ap_{w}"), &e["std_ap"], i as i64);
        }
    }
    for (stage, secs) in timings {
        put(
            format!("time_s_{}", metric_key(stage)),
            &Value::from(*secs),
            0,
        );
    }
    Ok(RunRecord {
        command: "run",
        rarecall_run_id: run_id,
        spark_version: s["spark_version"].as_str().map(String::from),
        output_url: output_url.to_string(),
        batch: Batch {
            metrics,
            params,
            tags: Vec::new(),
        },
        files,
    })
}

/// What a `rarecall score` run knows about itself.
pub(crate) struct ScoreFacts<'a> {
    pub(crate) run_id: &'a str,
    pub(crate) model_run_id: &'a str,
    pub(crate) window_start: String,
    pub(crate) window_end: String,
    pub(crate) mode: &'a str,
    pub(crate) top: Option<usize>,
    pub(crate) threshold_cap: Option<usize>,
    pub(crate) interactions_scored: Option<usize>,
    pub(crate) rows_selected: usize,
    pub(crate) threshold: Option<f64>,
}

/// The record of a `rarecall score`.
pub(crate) fn for_score(
    f: &ScoreFacts<'_>,
    files: Vec<(String, Vec<u8>)>,
    timings: &[(String, f64)],
    output_url: &str,
    now_ms: i64,
) -> RunRecord {
    let opt = |v: Option<usize>| v.map_or_else(|| "none".to_string(), |n| n.to_string());
    let params = vec![
        KeyValue::new("model_run_id", f.model_run_id),
        KeyValue::new("window_start", &f.window_start),
        KeyValue::new("window_end", &f.window_end),
        KeyValue::new("mode", f.mode),
        KeyValue::new("top", opt(f.top)),
        KeyValue::new("threshold_cap", opt(f.threshold_cap)),
    ];
    let mut metrics = Vec::new();
    let scored = f.interactions_scored.map(|n| n as f64);
    let values = [
        ("interactions_scored".to_string(), scored),
        ("rows_selected".to_string(), Some(f.rows_selected as f64)),
        ("threshold".to_string(), f.threshold),
    ];
    let times = timings
        .iter()
        .map(|(s, v)| (format!("time_s_{}", metric_key(s)), Some(*v)));
    for (key, v) in values.into_iter().chain(times) {
        if let Some(value) = v {
            metrics.push(Metric {
                key,
                value,
                timestamp: now_ms,
                step: 0,
            });
        }
    }
    RunRecord {
        command: "score",
        rarecall_run_id: f.run_id.to_string(),
        spark_version: None,
        output_url: output_url.to_string(),
        batch: Batch {
            metrics,
            params,
            tags: Vec::new(),
        },
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = r#"{
      "run_id": "20260101T000000Z-abcdef", "spark_version": "4.1.0", "source": "/d/e.parquet (parquet)",
      "parameters": {"seed": 42, "c_grid": [0.1, 1.0], "rules": "built-in", "threshold_cap": null},
      "data": {"events": 100, "first_event": "2024-01-01 00:00:00", "last_event": "2024-02-01 00:00:00", "duplicate_policy": "drop"},
      "rows": {"test": 40, "train_sampled": 60},
      "model": {"best_c": 1.0, "cv": [
        {"c": 1.0, "class_weight": "balanced", "mean_ap": 0.3, "std_ap": 0.01},
        {"c": 0.1, "class_weight": "balanced", "mean_ap": 0.2, "std_ap": 0.02},
        {"c": 0.1, "class_weight": "none", "mean_ap": 0.25, "std_ap": 0.03}]},
      "threshold": {"threshold": 0.5, "precision_lower": 0.41, "status": "feasible"},
      "test": {"average_precision": 0.14, "precision": null, "recall": 0.2,
               "recall_interval": {"lower": 0.1, "upper": 0.3}},
      "validation": {"average_precision": 0.2}
    }"#;

    fn metric(r: &RunRecord, key: &str) -> Vec<(i64, f64)> {
        r.batch
            .metrics
            .iter()
            .filter(|m| m.key == key)
            .map(|m| (m.step, m.value))
            .collect()
    }

    #[test]
    fn run_summary_becomes_params_metrics_and_cv_steps() {
        let r = for_run(
            SUMMARY.as_bytes(),
            vec![("model.json".into(), b"{}".to_vec())],
            &[("write outputs".into(), 1.5)],
            "/out",
            7,
        )
        .unwrap();
        assert_eq!(r.rarecall_run_id, "20260101T000000Z-abcdef");
        let p = |k: &str| {
            r.batch
                .params
                .iter()
                .find(|p| p.key == k)
                .map(|p| p.value.clone())
        };
        assert_eq!(p("seed").as_deref(), Some("42"));
        assert_eq!(p("c_grid").as_deref(), Some("[0.1,1.0]"));
        assert_eq!(p("rules").as_deref(), Some("built-in"));
        assert_eq!(p("threshold_cap").as_deref(), Some("none"));
        assert_eq!(p("data_duplicate_policy").as_deref(), Some("drop"));
        assert_eq!(metric(&r, "test_average_precision"), [(0, 0.14)]);
        assert!(
            metric(&r, "test_precision").is_empty(),
            "null is not logged"
        );
        assert_eq!(metric(&r, "test_recall_upper"), [(0, 0.3)]);
        assert_eq!(metric(&r, "threshold"), [(0, 0.5)]);
        assert_eq!(metric(&r, "cv_c_balanced"), [(0, 0.1), (1, 1.0)]);
        assert_eq!(metric(&r, "cv_mean_ap_balanced"), [(0, 0.2), (1, 0.3)]);
        assert_eq!(metric(&r, "cv_mean_ap_none"), [(0, 0.25)]);
        assert_eq!(metric(&r, "rows_test"), [(0, 40.0)]);
        assert_eq!(metric(&r, "time_s_write_outputs"), [(0, 1.5)]);
        let tags = r.tags("daily");
        assert!(tags.contains(&KeyValue::new("rarecall.spark_version", "4.1.0")));
        assert!(tags.contains(&KeyValue::new("mlflow.runName", "daily")));
    }

    #[test]
    fn a_folder_without_a_summary_is_a_clear_error() {
        let e = for_run(b"not json", Vec::new(), &[], "/o", 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("run_summary.json"), "{e}");
    }
}
