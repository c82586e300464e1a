//! rarecall: predict rare escalation-positive service interactions and pick whom to
//! contact. Heavy work runs as Spark SQL over Spark Connect; encoding, training and
//! threshold selection run here; outputs go through `object_store`.
//!
//! Data flows one way: config -> spark (sql/ views) -> Arrow -> table -> outputs.

pub mod cli;
pub mod config;
pub mod demo;
pub mod encode;
pub mod error;
pub mod matrix;
pub mod model;
pub mod numeric;
pub mod outputs;
pub mod pipeline;
pub mod remote;
pub mod report;
pub mod rules;
pub mod score;
pub mod spark;
pub mod sql;
pub mod suggest;
pub mod table;
pub mod threshold;
pub mod train;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Config;
use crate::error::Result;
use crate::pipeline::Timings;
use crate::threshold::ThresholdChoice;
use crate::train::TrainedModel;

/// Name of the normalization audit file.
pub const AUDIT_FILE: &str = "pydescription_normalization_audit.csv";
/// Name of the run summary file.
pub const SUMMARY_FILE: &str = "run_summary.json";

/// What `run` reports back to the caller.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: String,
    pub output_dir: String,
    pub train_rows: usize,
    pub train_positives: usize,
    pub test_rows: usize,
    pub test_positives: usize,
    pub events: i64,
    pub members: i64,
    pub best_c: f64,
    pub threshold: ThresholdChoice,
    pub outreach_file: String,
    pub outreach_rows: usize,
    /// The lowest score kept after the cap (the threshold itself when nothing was cut).
    pub effective_cutoff: Option<f64>,
    /// Precision and recall of the outreach list on the test window.
    pub test_precision: Option<f64>,
    pub test_recall: Option<f64>,
    /// The same with member-level bootstrap intervals (two-sided, at the
    /// configured confidence).
    pub test_precision_interval: Option<threshold::Interval>,
    pub test_recall_interval: Option<threshold::Interval>,
    /// Whether the outreach list's realized precision met the floor (None when the
    /// list is empty).
    pub floor_held: Option<bool>,
    pub test_average_precision: Option<f64>,
    /// Expected calibration error of the test window's score deciles.
    pub calibration_error: f64,
    /// Mean calibrated score and observed positive rate of the test window.
    pub mean_test_score: f64,
    pub test_base_rate: f64,
    pub timings: Vec<(String, f64)>,
}

/// The `model.json` format this rarecall writes and reads. 2: Platt calibration in
/// place of the intercept-only prior shift; class weight searched. 3: token flags,
/// description x history crosses, decayed counts, gap bins, clock features, and
/// target encodings on the logit scale.
pub const MODEL_FORMAT_VERSION: u32 = 3;

/// `model.json`: everything `score` needs to reproduce the test scores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    pub format_version: u32,
    pub rarecall_version: String,
    pub run_id: String,
    pub spark_version: String,
    /// Source column per role, and the categoricals as (source column, feature name).
    pub columns: BTreeMap<String, String>,
    pub categoricals: Vec<(String, String)>,
    pub rules: Vec<rules::Rule>,
    pub split_boundary: String,
    /// Look-back of the history features (days); scoring must use the same.
    pub history_days: u32,
    pub target_neg_pos_member_ratio: f64,
    pub seed: i64,
    pub target_precision: f64,
    pub best_c: f64,
    pub cv: Vec<train::CvEntry>,
    pub trained: TrainedModel,
}

fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let salt = train::fnv1a(
        format!(
            "{}{}",
            now.timestamp_nanos_opt().unwrap_or(0),
            std::process::id()
        )
        .as_bytes(),
    );
    format!("{}-{:06x}", now.format("%Y%m%dT%H%M%SZ"), salt & 0xff_ffff)
}

fn json_bytes<T: Serialize>(name: &str, v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(|e| error::Error::Output {
        location: name.into(),
        problem: e.to_string(),
        fix: "report this as a bug".into(),
    })
}

/// The main job: Spark SQL features, Arrow into Rust, training, threshold, outputs.
pub fn run(cfg: &Config) -> Result<RunReport> {
    let p = &cfg.pipeline;
    let params = p.train_params();
    params.check()?;
    let run_id = new_run_id();
    let mut timings = Timings::default();
    let outputs = outputs::Outputs::open(&cfg.output_dir, cfg.databricks.as_ref())?;
    let spark = timings.time("connect", || {
        spark::Spark::connect_with(&cfg.remote, cfg.timeout_secs, cfg.reconnect_grace_secs)
    })?;
    let got = pipeline::run_spark(&spark, p, &mut timings)?;
    warn_duplicates(&got.checks, p.duplicate_events);
    let f = &got.features;
    let (trained, train_report) =
        timings.time("train (encode, C grid, refit)", || train::train(f, &params))?;
    let test = timings.time("score test window", || train::evaluate(&trained, f))?;

    // Outreach: test rows at or above the threshold, capped, with reasons.
    let keys: Vec<&str> = test
        .rows
        .iter()
        .map(|&i| f.interaction_id[i].as_str())
        .collect();
    let (selected, effective_cutoff) = match trained.threshold.threshold() {
        Some(t) => {
            let cap = threshold::apply_cap(&test.scores, &keys, t, p.threshold.threshold_cap)?;
            (cap.selected, Some(cap.effective_cutoff))
        }
        None => (Vec::new(), None),
    };
    let to_rows = |sel: &[usize]| -> Vec<report::OutreachRow> {
        sel.iter()
            .enumerate()
            .map(|(rank, &k)| {
                let i = test.rows[k];
                report::OutreachRow {
                    rank: rank + 1,
                    member_id: f.member_id[i].clone(),
                    interaction_id: f.interaction_id[i].clone(),
                    interaction_ts_us: f.interaction_ts_us[i],
                    score: test.scores[k],
                    reasons: trained.reasons(test.x.row(k), 3),
                }
            })
            .collect()
    };
    let outreach = to_rows(&selected);
    let top_k = to_rows(&threshold::top_n(&test.scores, &keys, p.threshold.top_k)?);
    let hits = selected
        .iter()
        .filter(|&&k| f.label[test.rows[k]] == 1)
        .count();
    let test_precision = (!selected.is_empty()).then(|| hits as f64 / selected.len() as f64);
    let test_recall = (test.positives > 0 && trained.threshold.threshold().is_some())
        .then(|| hits as f64 / test.positives as f64);
    // Intervals: members of the test window resampled (see threshold::ConfidenceParams).
    let (test_precision_interval, test_recall_interval) = {
        let y: Vec<f64> = test.rows.iter().map(|&i| f64::from(f.label[i])).collect();
        let mut chosen = vec![false; y.len()];
        for &k in &selected {
            chosen[k] = true;
        }
        let members: Vec<&str> = test.rows.iter().map(|&i| f.member_id[i].as_str()).collect();
        let (groups, n_groups) = threshold::group_ids(&members);
        let (pi, ri) = threshold::bootstrap_precision_recall(
            &y,
            &chosen,
            &vec![1.0; y.len()],
            &groups,
            n_groups,
            &params.confidence,
            p.seed as u64,
        )?;
        (
            pi,
            if trained.threshold.threshold().is_some() {
                ri
            } else {
                None
            },
        )
    };
    let floor_held = test_precision.map(|v| v >= p.threshold.target_precision);
    let calibration_error = threshold::expected_calibration_error(&test.calibration);
    let mean_test_score = test.scores.iter().sum::<f64>() / test.scores.len().max(1) as f64;
    let test_base_rate = test.positives as f64 / test.rows.len().max(1) as f64;
    if let Some(edge) = grid_edge(&p.model.c_grid, train_report.best_c) {
        eprintln!(
            "rarecall: the best C ({}) is the {edge} value of model.c_grid; the optimum may lie beyond it: consider extending the grid",
            train_report.best_c
        );
    }
    if let ThresholdChoice::Infeasible {
        best_precision,
        best_precision_lower,
    } = trained.threshold
    {
        eprintln!(
            "rarecall: no cutoff reaches precision {:.2} with {:.0} % confidence on the validation slice (best precision {:.3}, best lower bound {:.3}); the outreach list is empty",
            p.threshold.target_precision,
            100.0 * p.threshold.confidence,
            best_precision,
            best_precision_lower
        );
    }

    let report = RunReport {
        run_id: run_id.clone(),
        output_dir: outputs.location().to_string(),
        train_rows: train_report.train_rows,
        train_positives: train_report.train_positives,
        test_rows: test.rows.len(),
        test_positives: test.positives,
        events: got.checks.n_events,
        members: got.checks.n_members,
        best_c: train_report.best_c,
        threshold: trained.threshold,
        outreach_file: report::outreach_file_name(
            p.threshold.target_precision,
            p.threshold.threshold_cap,
        ),
        outreach_rows: outreach.len(),
        effective_cutoff,
        test_precision,
        test_recall,
        test_precision_interval,
        test_recall_interval,
        floor_held,
        test_average_precision: test.average_precision,
        calibration_error,
        mean_test_score,
        test_base_rate,
        timings: Vec::new(),
    };

    // Every file is rendered before any is written: no half set of outputs.
    let files = timings.time("render outputs", || {
        render_outputs(
            cfg,
            &run_id,
            &got,
            &trained,
            &train_report,
            &test,
            &outreach,
            &top_k,
            &report,
        )
    })?;
    let summary_row = runs_log_row(cfg, &run_id, &got, &train_report, &report);
    timings.time("write outputs", || {
        outputs.publish(&run_id, files)?;
        outputs.append_log(
            RUNS_LOG_FILE,
            report::RUNS_LOG_COLUMNS,
            &run_id,
            &summary_row,
        )
    })?;
    // The summary written above has every stage but the write; the report has all.
    Ok(RunReport {
        timings: timings.0,
        ..report
    })
}

/// One warning line when the source has exact duplicate events that the policy
/// let through or dropped (the `error` policy has refused them before this).
fn warn_duplicates(c: &table::EventChecks, policy: config::DuplicatePolicy) {
    if c.duplicate_events > 0 {
        let what = match policy {
            config::DuplicatePolicy::Drop => "dropped",
            config::DuplicatePolicy::Keep | config::DuplicatePolicy::Error => "kept",
        };
        eprintln!(
            "rarecall: warning: {} of {} events are exact duplicates of another event; {what} (data.duplicate_events)",
            c.duplicate_events, c.n_events
        );
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// "smallest" or "largest" when `best` sits at that end of a grid of 2+ values.
fn grid_edge(grid: &[f64], best: f64) -> Option<&'static str> {
    let lo = grid.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = grid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo == hi {
        None
    } else if best == lo {
        Some("smallest")
    } else if best == hi {
        Some("largest")
    } else {
        None
    }
}

/// Name of the appended runs log.
pub const RUNS_LOG_FILE: &str = "outreach_runs_log.csv";

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn runs_log_row(
    cfg: &Config,
    run_id: &str,
    got: &pipeline::SparkOutputs,
    tr: &train::TrainReport,
    r: &RunReport,
) -> Vec<String> {
    let p = &cfg.pipeline;
    let best = tr
        .cv
        .iter()
        .find(|s| s.score.c == tr.best_c && s.class_weight == tr.best_class_weight)
        .map(|s| s.score.mean_ap);
    let lower = |i: Option<threshold::Interval>| opt(i.map(|i| i.lower));
    let upper = |i: Option<threshold::Interval>| opt(i.map(|i| i.upper));
    let threshold_lower = match r.threshold {
        ThresholdChoice::Feasible {
            precision_lower, ..
        } => Some(precision_lower),
        ThresholdChoice::Infeasible { .. } => None,
    };
    let (status, note) = match r.threshold {
        ThresholdChoice::Feasible { .. } => ("ok", String::new()),
        ThresholdChoice::Infeasible {
            best_precision,
            best_precision_lower,
        } => (
            "no_threshold",
            format!(
                "no cutoff reaches precision {} with confidence {}; best validation precision {best_precision:.4}, best lower bound {best_precision_lower:.4}",
                p.threshold.target_precision, p.threshold.confidence
            ),
        ),
    };
    vec![
        run_id.to_string(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        status.to_string(),
        p.source.describe(),
        p.split_boundary.to_string(),
        p.neg_pos_ratio.to_string(),
        p.threshold.target_precision.to_string(),
        p.threshold
            .threshold_cap
            .map(|c| c.to_string())
            .unwrap_or_default(),
        p.seed.to_string(),
        pipeline::fmt_us(got.checks.min_ts_us),
        pipeline::fmt_us(got.checks.max_ts_us),
        r.train_rows.to_string(),
        r.train_positives.to_string(),
        r.test_rows.to_string(),
        r.test_positives.to_string(),
        r.best_c.to_string(),
        opt(best),
        opt(r.threshold.threshold()),
        opt(r.effective_cutoff),
        r.outreach_rows.to_string(),
        opt(r.test_precision),
        opt(r.test_recall),
        opt(r.test_average_precision),
        r.mean_test_score.to_string(),
        note,
        serde_json::to_value(tr.best_class_weight)
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .unwrap_or_default(),
        p.threshold.confidence.to_string(),
        opt(threshold_lower),
        lower(r.test_precision_interval),
        upper(r.test_precision_interval),
        lower(r.test_recall_interval),
        upper(r.test_recall_interval),
        r.floor_held.map(|b| b.to_string()).unwrap_or_default(),
        r.calibration_error.to_string(),
        got.checks.duplicate_events.to_string(),
        serde_json::to_value(p.duplicate_events)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
    ]
}

#[allow(clippy::too_many_arguments)]
fn render_outputs(
    cfg: &Config,
    run_id: &str,
    got: &pipeline::SparkOutputs,
    trained: &TrainedModel,
    tr: &train::TrainReport,
    test: &train::TestReport,
    outreach: &[report::OutreachRow],
    top_k: &[report::OutreachRow],
    r: &RunReport,
) -> Result<Vec<(String, Vec<u8>)>> {
    let p = &cfg.pipeline;
    let f = &got.features;
    let c = &p.columns;
    let model_file = ModelFile {
        format_version: MODEL_FORMAT_VERSION,
        rarecall_version: env!("CARGO_PKG_VERSION").into(),
        run_id: run_id.into(),
        spark_version: got.spark_version.clone(),
        columns: [
            ("member_id", &c.member_id),
            ("interaction_id", &c.interaction_id),
            ("event_ts", &c.event_ts),
            ("description", &c.description),
            ("label", &c.label),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.raw().to_string()))
        .collect(),
        categoricals: c
            .categoricals
            .iter()
            .map(|(s, n)| (s.raw().to_string(), n.clone()))
            .collect(),
        rules: p.rules.rules.clone(),
        split_boundary: p.split_boundary.to_string(),
        history_days: p.features.history_days,
        target_neg_pos_member_ratio: p.neg_pos_ratio,
        seed: p.seed,
        target_precision: p.threshold.target_precision,
        best_c: tr.best_c,
        cv: tr.cv.clone(),
        trained: trained.clone(),
    };
    // On the population's logit scale: the Platt map folded into the linear model.
    let cal = trained.calibration;
    let calibrated_intercept = cal.a + cal.b * trained.model.intercept;
    let calibrated_coef: Vec<f64> = trained.model.coef.iter().map(|c| cal.b * c).collect();
    let summary = json!({
        "run_id": run_id,
        "rarecall_version": env!("CARGO_PKG_VERSION"),
        "spark_version": got.spark_version,
        "remote": cfg.remote.to_string(),
        "source": p.source.describe(),
        "parameters": {
            "split_boundary": p.split_boundary.to_string(),
            "target_neg_pos_member_ratio": p.neg_pos_ratio,
            "seed": p.seed,
            "c_grid": p.model.c_grid,
            "class_weight_grid": p.model.class_weights,
            "cv_folds": p.model.cv_folds,
            "validation_days": p.model.validation_days,
            "embargo_days": p.model.embargo_days,
            "burn_in_days": p.features.burn_in_days,
            "history_days": p.features.history_days,
            "confidence": p.threshold.confidence,
            "bootstrap_rounds": p.threshold.bootstrap_rounds,
            "target_precision": p.threshold.target_precision,
            "threshold_cap": p.threshold.threshold_cap,
            "top_k": p.threshold.top_k,
            "top_n_descriptions": p.features.top_n_descriptions,
            "min_support": p.features.min_support,
            "rules": p.rules.source,
        },
        "data": {
            "events": got.checks.n_events,
            "duplicate_events": got.checks.duplicate_events,
            "duplicate_policy": p.duplicate_events,
            "interactions": got.checks.n_interactions,
            "members": got.checks.n_members,
            "first_event": pipeline::fmt_us(got.checks.min_ts_us),
            "last_event": pipeline::fmt_us(got.checks.max_ts_us),
        },
        "rows": {
            "train_sampled": r.train_rows,
            "train_positives": r.train_positives,
            "sampled_negative_weight": got.sampled_negative_weight,
            "test": r.test_rows,
            "test_positives": r.test_positives,
            "distinct_descriptions": f.descriptions.dictionary.len(),
            "features": trained.encoder.feature_names.len(),
        },
        "model": {
            "best_c": tr.best_c,
            "best_c_at_grid_edge": grid_edge(&p.model.c_grid, tr.best_c),
            "class_weight": tr.best_class_weight,
            "class_weights": trained.class_weights,
            "cv": tr.cv,
            "oof_average_precision": tr.oof_average_precision,
            "calibration": trained.calibration,
            "calibrated_intercept": calibrated_intercept,
            "population_positive_fraction": trained.population_positive_fraction,
        },
        "validation": {
            "from": pipeline::fmt_us(Some(tr.validation.from_us)),
            "model_fitted_before": pipeline::fmt_us(Some(tr.validation.fit_before_us)),
            "model_rows": tr.validation.fit_rows,
            "rows": tr.validation.rows,
            "positives": tr.validation.positives,
            "average_precision": tr.validation.average_precision,
            "validation_model_threshold": tr.validation.validation_threshold,
        },
        "threshold": trained.threshold,
        "test": {
            "outreach_file": r.outreach_file,
            "outreach_rows": r.outreach_rows,
            "effective_cutoff": r.effective_cutoff,
            "precision": r.test_precision,
            "recall": r.test_recall,
            "precision_interval": r.test_precision_interval,
            "recall_interval": r.test_recall_interval,
            "floor": p.threshold.target_precision,
            "floor_held": r.floor_held,
            "average_precision": r.test_average_precision,
            "mean_calibrated_score": r.mean_test_score,
            "base_rate": r.test_base_rate,
            "calibration_error": r.calibration_error,
        },
        "peak_rss_bytes": peak_rss_bytes(),
    });
    let test_scores =
        report::test_scores_csv(test.rows.iter().zip(&test.scores).map(|(&i, &s)| {
            report::ScoreRow {
                interaction_id: &f.interaction_id[i],
                member_id: &f.member_id[i],
                interaction_ts_us: f.interaction_ts_us[i],
                label: f.label[i],
                score: s,
            }
        }))?;
    Ok(vec![
        (AUDIT_FILE.into(), report::audit_csv(&got.audit)?),
        (
            "pydesc_to_safe_col_map.csv".into(),
            report::safe_col_map_csv(&trained.encoder.multi_hot.mapping())?,
        ),
        (
            "pr_curve_points.csv".into(),
            report::pr_curve_csv(test.curve.as_ref())?,
        ),
        (r.outreach_file.clone(), report::outreach_csv(outreach)?),
        (
            format!("outreach_topK_{}.csv", p.threshold.top_k),
            report::outreach_csv(top_k)?,
        ),
        (
            "coefficients.csv".into(),
            report::coefficients_csv(
                &trained.encoder.feature_names,
                &calibrated_coef,
                calibrated_intercept,
            )?,
        ),
        (
            "calibration.csv".into(),
            report::calibration_csv(&test.calibration)?,
        ),
        ("test_scores.csv".into(), test_scores),
        ("model.json".into(), json_bytes("model.json", &model_file)?),
        (SUMMARY_FILE.into(), json_bytes(SUMMARY_FILE, &summary)?),
    ])
}

/// `check`: connect, print the Spark version, validate the source schema.
pub fn check(cfg: &Config) -> Result<String> {
    let spark =
        spark::Spark::connect_with(&cfg.remote, cfg.timeout_secs, cfg.reconnect_grace_secs)?;
    let version = spark.version()?;
    let types = pipeline::register_and_check_source(&spark, &cfg.pipeline)?;
    let c = &cfg.pipeline.columns;
    let mut out = format!(
        "Spark {version} at {}\nsource {}: schema matches the mapping\n",
        cfg.remote,
        cfg.pipeline.source.describe()
    );
    for (role, col) in [
        ("member_id", &c.member_id),
        ("interaction_id", &c.interaction_id),
        ("event_ts", &c.event_ts),
        ("description", &c.description),
        ("label", &c.label),
    ] {
        out.push_str(&format!("  {role:<15} <- {}\n", col.raw()));
    }
    for (src, std) in &c.categoricals {
        out.push_str(&format!("  {std:<15} <- {}\n", src.raw()));
    }
    if types.event_ts_is_string {
        out.push_str("  (event_ts is text: parsed with try_to_timestamp)\n");
    }
    Ok(out)
}

/// Name of the proposals file of `rules suggest`.
pub const SUGGESTIONS_FILE: &str = "rules_suggestions.csv";
/// Name of the ready-to-edit rules file of `rules suggest`.
pub const SUGGESTED_RULES_FILE: &str = "rules_suggested.csv";

/// What `rules suggest` did.
#[derive(Debug, Clone)]
pub struct SuggestReport {
    pub run_id: String,
    pub output_dir: String,
    pub total_events: i64,
    /// Distinct cleaned values no rule matched, and their events.
    pub unmatched_variants: usize,
    pub unmatched_events: i64,
    /// Variants with a proposed canonical, and their events.
    pub proposals: usize,
    pub proposed_events: i64,
}

/// `rules suggest`: the normalization audit of the source under the configured rules
/// (Spark, as `check` connects and `run` builds the `descriptions` view), then for
/// every cleaned value no rule matches the nearest canonical value (pure, in
/// `suggest`); writes `rules_suggestions.csv` and `rules_suggested.csv`.
pub fn rules_suggest(cfg: &Config, params: &suggest::SuggestParams) -> Result<SuggestReport> {
    params.check()?;
    let p = &cfg.pipeline;
    let run_id = new_run_id();
    // Opened first, as `run` does: a destination that cannot be written fails before
    // any Spark work.
    let outputs = outputs::Outputs::open(&cfg.output_dir, cfg.databricks.as_ref())?;
    let spark =
        spark::Spark::connect_with(&cfg.remote, cfg.timeout_secs, cfg.reconnect_grace_secs)?;
    let types = pipeline::register_and_check_source(&spark, p)?;
    spark.register_rules(&p.rules)?;
    // Only the views the audit needs: the later ones (interactions, features) would
    // check nothing the suggestions depend on.
    for v in sql::render_pipeline(p, types, sql::ReadWindow::default())? {
        spark.create_view(&v)?;
        if v.name == "descriptions" {
            break;
        }
    }
    let audit = report::audit_rows(&spark.query(
        "normalization audit",
        "select * from descriptions order by event_count desc, description_raw asc nulls first",
        &Default::default(),
    )?)?;
    if audit.iter().map(|r| r.events).sum::<i64>() == 0 {
        return Err(error::Error::Source {
            source_name: p.source.describe(),
            problem: "has no rows".into(),
            fix: "point the source at the events (or check its filter); demo data: rarecall demo-data".into(),
        });
    }
    let s = suggest::suggest(&audit, &p.rules, params)?;
    let files = vec![
        (
            SUGGESTIONS_FILE.to_string(),
            suggest::suggestions_csv(&p.rules, &s)?,
        ),
        (
            SUGGESTED_RULES_FILE.to_string(),
            suggest::suggested_rules_csv(&p.rules, &s)?,
        ),
    ];
    outputs.publish(&run_id, files)?;
    let (proposals, proposed_events) = s.proposed();
    Ok(SuggestReport {
        run_id,
        output_dir: outputs.location().to_string(),
        total_events: s.total_events,
        unmatched_variants: s.rows.len(),
        unmatched_events: s.unmatched_events,
        proposals,
        proposed_events,
    })
}

/// What `score` is asked to do.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    pub model: ModelFile,
    pub window: score::ScoringWindow,
    pub in_spark: bool,
    pub top: Option<usize>,
    pub cap: Option<usize>,
    pub all_scores: bool,
}

/// What `score` did.
#[derive(Debug, Clone)]
pub struct ScoreReport {
    pub run_id: String,
    pub output_dir: String,
    pub outreach_file: String,
    /// Interactions in the window (Rust path; the in-Spark path only counts what came back).
    pub scored: Option<usize>,
    pub selected: usize,
    pub timings: Vec<(String, f64)>,
}

/// Name of the appended scoring log.
pub const SCORING_LOG_FILE: &str = "outreach_scoring_log.csv";

/// Reads and parses a model.json file.
pub fn load_model(path: &std::path::Path) -> Result<ModelFile> {
    let bytes = std::fs::read(path).map_err(|e| error::Error::Output {
        location: path.display().to_string(),
        problem: format!("the model cannot be read ({e})"),
        fix: "pass the model.json written by `rarecall run` with --model".into(),
    })?;
    // The version first: an older file fails on its version, not on a missing field.
    let version = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("format_version").and_then(|f| f.as_u64()));
    if let Some(v) = version.filter(|&v| v != u64::from(MODEL_FORMAT_VERSION)) {
        return Err(error::Error::Data {
            problem: format!(
                "{} has model format version {v}, this rarecall reads {MODEL_FORMAT_VERSION}",
                path.display()
            ),
            fix: "retrain the model with this version of rarecall (rarecall run) and pass its model.json".into(),
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| error::Error::Data {
        problem: format!("{} is not a rarecall model.json ({e})", path.display()),
        fix: "pass the model.json written by `rarecall run` with --model".into(),
    })
}

/// Daily scoring: the same features for a window (with the history look-back), the
/// saved encoders, coefficients, Platt calibration and threshold; an outreach file with
/// reasons and a scoring log row.
pub fn score(cfg: &Config, req: &ScoreRequest) -> Result<ScoreReport> {
    let m = &req.model;
    // The model's rules and history window define its features: use them.
    let mut p = cfg.pipeline.clone();
    p.rules = rules::Rules {
        source: format!("model {}", m.run_id),
        rules: m.rules.clone(),
    };
    p.features.history_days = m.history_days;
    score::check_model_fits(m, &p)?;
    let frags = if req.in_spark {
        Some(score::compile(m, req.top, req.cap)?)
    } else {
        None
    };
    let run_id = new_run_id();
    let mut timings = Timings::default();
    let outputs = outputs::Outputs::open(&cfg.output_dir, cfg.databricks.as_ref())?;
    let spark = timings.time("connect", || {
        spark::Spark::connect_with(&cfg.remote, cfg.timeout_secs, cfg.reconnect_grace_secs)
    })?;
    let got = pipeline::run_scoring_spark(&spark, &p, &req.window, frags, &mut timings)?;
    warn_duplicates(&got.checks, p.duplicate_events);
    let t = &m.trained;
    // Rows to contact (and, with --all-scores, every scored row), by score desc.
    let (selected, all_rows, n_scored): (
        Vec<report::OutreachRow>,
        Vec<table::ScoredRow>,
        Option<usize>,
    ) = match &got.features {
        Some(f) => timings.time("score window", || {
            let rows: Vec<usize> = (0..f.len()).collect();
            let x = t.encoder.transform(f, &rows)?;
            let scores = t.score(&x);
            let keys: Vec<&str> = f.interaction_id.iter().map(String::as_str).collect();
            let chosen = match (req.top, t.threshold.threshold()) {
                (Some(n), _) => threshold::top_n(&scores, &keys, n)?,
                (None, Some(th)) => threshold::apply_cap(&scores, &keys, th, req.cap)?.selected,
                (None, None) => Vec::new(),
            };
            let scored_row = |i: usize| table::ScoredRow {
                interaction_id: f.interaction_id[i].clone(),
                member_id: f.member_id[i].clone(),
                interaction_ts_us: f.interaction_ts_us[i],
                label: f.label[i],
                z: x.row(i).to_vec(),
                score: scores[i],
            };
            let sel = chosen.iter().map(|&i| scored_row(i)).collect::<Vec<_>>();
            let all = if req.all_scores {
                (0..f.len()).map(scored_row).collect()
            } else {
                Vec::new()
            };
            Ok((to_outreach(t, &sel), all, Some(f.len())))
        })?,
        None => {
            let all = if req.all_scores {
                got.scored.clone()
            } else {
                Vec::new()
            };
            (to_outreach(t, &got.scored), all, None)
        }
    };
    let outreach_file = match req.top {
        Some(n) => format!(
            "outreach_top{n}_{}_{}.csv",
            req.window.start, req.window.end
        ),
        None => report::outreach_file_name(m.threshold_precision(), req.cap).replace(
            ".csv",
            &format!("_{}_{}.csv", req.window.start, req.window.end),
        ),
    };
    let mut files = vec![(outreach_file.clone(), report::outreach_csv(&selected)?)];
    if req.all_scores {
        files.push((
            "window_scores.csv".to_string(),
            report::test_scores_csv(all_rows.iter().map(|r| report::ScoreRow {
                interaction_id: &r.interaction_id,
                member_id: &r.member_id,
                interaction_ts_us: r.interaction_ts_us,
                label: r.label,
                score: r.score,
            }))?,
        ));
    }
    let log_row = vec![
        run_id.clone(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        m.run_id.clone(),
        req.window.start.to_string(),
        req.window.end.to_string(),
        if req.in_spark { "in_spark" } else { "rust" }.to_string(),
        n_scored.map(|n| n.to_string()).unwrap_or_default(),
        selected.len().to_string(),
        opt(t.threshold.threshold()),
        req.top.map(|n| n.to_string()).unwrap_or_default(),
        outreach_file.clone(),
    ];
    timings.time("write outputs", || {
        outputs.publish(&run_id, files)?;
        outputs.append_log(
            SCORING_LOG_FILE,
            report::SCORING_LOG_COLUMNS,
            &run_id,
            &log_row,
        )
    })?;
    Ok(ScoreReport {
        run_id,
        output_dir: outputs.location().to_string(),
        outreach_file,
        scored: n_scored,
        selected: selected.len(),
        timings: timings.0,
    })
}

fn to_outreach(t: &TrainedModel, rows: &[table::ScoredRow]) -> Vec<report::OutreachRow> {
    rows.iter()
        .enumerate()
        .map(|(k, r)| report::OutreachRow {
            rank: k + 1,
            member_id: r.member_id.clone(),
            interaction_id: r.interaction_id.clone(),
            interaction_ts_us: r.interaction_ts_us,
            score: r.score,
            reasons: t.reasons(&r.z, 3),
        })
        .collect()
}

impl ModelFile {
    /// The precision floor the model's threshold was chosen for (from its rule).
    pub fn threshold_precision(&self) -> f64 {
        self.target_precision
    }
}
