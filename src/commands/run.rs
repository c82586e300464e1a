//! `rarecall run`: the main job, top-down in `train_and_publish` — connect, register
//! the source and the rules, check the events, build the features in Spark and pull
//! them back, encode, fit, choose the threshold, score the test window, write the
//! outputs and the runs log row — and the report it prints.

// The report, the sampled curve and drift (a child module: it reads `RunReport`).
mod look;
mod print;

use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use super::common::{
    self, AUDIT_FILE, RUNS_LOG_FILE, SUMMARY_FILE, new_run_id, peak_rss_bytes, warn_duplicates,
};
use crate::artifact::{MODEL_FORMAT_VERSION, ModelFile};
use crate::challenger;
use crate::cli::RunArgs;
use crate::config::{self, Config, Settings};
use crate::drift::{self, DriftReference};
use crate::error::{self, Result};
use crate::outputs::Outputs;
use crate::pipeline::{self, Timings};
use crate::remote::Env;
use crate::table::{FeatureTable, Split};
use crate::tables;
use crate::threshold::{self, ThresholdChoice};
use crate::train::{self, TrainValidParams, TrainedModel};

/// What `run` reports back to the caller.
#[derive(Debug, Clone)]
pub(super) struct RunReport {
    pub(crate) run_id: String,
    pub(crate) output_dir: String,
    pub(crate) train_rows: usize,
    pub(crate) train_positives: usize,
    pub(crate) test_rows: usize,
    pub(crate) test_positives: usize,
    pub(crate) events: i64,
    pub(crate) members: i64,
    pub(crate) best_c: f64,
    pub(crate) threshold: ThresholdChoice,
    pub(crate) outreach_file: String,
    pub(crate) outreach_rows: usize,
    /// The lowest score kept after the cap (the threshold itself when nothing was cut).
    pub(crate) effective_cutoff: Option<f64>,
    /// Precision and recall of the outreach list on the test window.
    pub(crate) test_precision: Option<f64>,
    pub(crate) test_recall: Option<f64>,
    /// The same with member-level bootstrap intervals (two-sided, at the
    /// configured confidence).
    test_precision_interval: Option<threshold::Interval>,
    test_recall_interval: Option<threshold::Interval>,
    /// Whether the outreach list's realized precision met the floor (None when the
    /// list is empty).
    pub(crate) floor_held: Option<bool>,
    pub(crate) test_average_precision: Option<f64>,
    /// Expected calibration error of the test window's score deciles.
    pub(crate) calibration_error: f64,
    /// Mean calibrated score and observed positive rate of the test window.
    pub(crate) mean_test_score: f64,
    test_base_rate: f64,
    /// The logistic model and the challenger on the same test rows (empty without a
    /// challenger).
    comparison: Vec<challenger::Comparison>,
    pub(crate) timings: Vec<(String, f64)>,
}

/// `rarecall run`: the configuration (TOML file, flags, environment), the job, and
/// its report on stdout.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let cfg =
        config::load(&args.common, Some(args), &Env::from_process()).context("configuration")?;
    let (r, files) = train_and_publish(&cfg)?;
    print::print_report(&r);
    // MLflow after the outputs: a tracking failure never costs an output.
    super::mlflow_log::track_run(&cfg, &r.run_id, files, &r.timings)?;
    Ok(())
}

/// The main job: Spark SQL features, Arrow into Rust, training, threshold, outputs.
///
/// In order: open the destination (so a bad one fails before any Spark work),
/// connect, register and check (`pipeline::run_spark_training`: source, rules,
/// schema, events, views, the training rows pulled back), encode them
/// (`train::encode_training_rows`: their table goes), fit and choose the threshold
/// (`train::fit_encoded`), pull the test window (`pipeline::pull_test_window`), score
/// it and pick the outreach list, write. With
/// MLflow tracking on, the written files come back too (the run's artifacts).
fn train_and_publish(cfg: &Config) -> Result<(RunReport, common::NamedFiles)> {
    let p = &cfg.settings;
    let params = &cfg.train;
    let run_id = new_run_id();
    let mut timings = Timings::default();
    let outputs = common::open_outputs(cfg)?;
    // Connect; then, in Spark (`pipeline`): register the source and the rules, check
    // the schema and the events, create the views of sql/, pull the features back.
    let spark = timings.time("connect", || common::connect(cfg))?;
    super::outreach_table::check(&spark, cfg)?;
    let scratch = common::open_scratch(cfg, &spark)?;
    let mut got = pipeline::run_spark_training(&spark, p, scratch.as_deref(), &mut timings)?;
    warn_duplicates(&got.checks, p.duplicate_events);
    // In Rust (`train`): encode, fit the (class weight, C) grid, calibrate, choose the
    // threshold out of time, refit; then score the test window. The client holds the
    // training rows' table or the fit's matrix and vectors, and the test window only
    // after both (issue 17: its peak memory is set by the training sample). The
    // training rows' drift bins are taken first, from the table.
    let train_features = look::training_features(&got.features);
    // The challenger's trees read the training rows of the table, and the encoded
    // set; without them, both go as soon as they have served.
    let challenger = params.challenger().is_some();
    let encoded = timings.time("encode training rows", || {
        if challenger {
            train::encode_training(&got.features, params)
        } else {
            train::encode_training_rows(got.features.take_rows(), params)
        }
    })?;
    let (trained, train_report, set) = timings.time("train (C grid, refit)", || {
        train::fit_encoded(encoded, params)
    })?;
    let kept = if challenger {
        Kept::Set(set)
    } else {
        let scores = timings.time("score training rows", || {
            train::training_scores(&trained, &set, &got.features)
        })?;
        // The score's bins are cut once the matrix is gone: their sort of every
        // training row's score would otherwise sit beside it (issue 17: the run's
        // peak, 13 MiB above the fit's, at 1M members).
        let mut set = set;
        let sampling = std::mem::take(&mut set.sampling);
        drop(set);
        crate::memory::trace_point("training matrix dropped");
        Kept::Drift(drift::with_score(
            train_features.clone(),
            &scores,
            &sampling,
        ))
    };
    pipeline::pull_test_window(&spark, p, &mut got, scratch.as_deref(), &mut timings)?;
    drop(scratch);
    let f = &got.features;
    let test = timings.time("score test window", || train::evaluate(&trained, f))?;
    // The challenger, when configured: trees on the same training set, compared on the
    // same test rows. With model.primary = "gbdt" the trees then take the logistic
    // model's place (scores, threshold, outreach list, model.json).
    let (trained, test, comparison) = match (params.challenger(), &kept) {
        (Some(g), Kept::Set(set)) => {
            let ch = timings.time("train challenger (gbdt)", || {
                challenger::train_gbdt(set, params, g)
            })?;
            let fit = (
                train_report.fit_seconds,
                train_report.validation.average_precision,
            );
            challenger::settle(f, trained, test, fit, ch, params)?
        }
        _ => (trained, test, Vec::new()),
    };
    // The published model's scores of the training rows, for drift (the table still
    // holds them when the challenger ran).
    let train_ref = match kept {
        Kept::Drift(r) => r,
        Kept::Set(set) => {
            let rows = f.rows_of(Split::Train);
            let scores = train::score_in_blocks(&trained.encoder, f, &rows, |x| trained.score(x))?;
            drift::with_score(train_features, &scores, &set.sampling)
        }
    };
    // Who to contact in the test window, and how that list did there.
    let listed = test_outreach(p, params, f, &trained, &test)?;
    warn_about_fit(p, &train_report, &trained);
    let drift = timings.time("drift", || {
        look::drift(&outputs, p, &run_id, f, &train_ref, &test)
    })?;
    let report = run_report(
        p,
        &run_id,
        outputs.location(),
        &got,
        &train_report,
        &trained,
        &test,
        &listed,
        comparison,
    );
    // Write. Every file is rendered before any is written: no half set of outputs.
    let so_far = timings.0.clone();
    let files = timings.time("render outputs", || {
        render_outputs(
            cfg,
            &run_id,
            &got,
            &trained,
            &train_report,
            &test,
            &listed,
            &report,
            (&drift, &so_far),
        )
    })?;
    let summary_row = runs_log_row(cfg, &run_id, &got, &train_report, &report);
    let tracked = match cfg.mlflow {
        Some(_) => files.clone(),
        None => Vec::new(),
    };
    timings.time("write outputs", || {
        publish(&outputs, &run_id, files, &summary_row)
    })?;
    // The table after the files: they are the record, whatever becomes of it.
    let origin = super::outreach_table::run_origin(cfg, &run_id, got.checks.max_ts_us);
    let (list, file) = (&listed.outreach, &report.outreach_file);
    super::outreach_table::write(&spark, cfg, &mut timings, &origin, list, file)?;
    // The summary written above has every stage but the write; the report has all.
    let report = RunReport {
        timings: timings.0,
        ..report
    };
    Ok((report, tracked))
}

/// What stays of the training rows once the model is fitted.
enum Kept {
    /// The encoded set, for the challenger's trees (the table keeps its rows too).
    Set(train::TrainingSet),
    /// Without a challenger: the training rows' drift bins, scores included.
    Drift(DriftReference),
}

/// The outreach list of the test window and how it did there.
struct TestOutreach {
    /// Test rows at or above the threshold, capped, with reasons.
    outreach: Vec<tables::OutreachRow>,
    /// The `threshold.top_k` highest scores, whatever the threshold.
    top_k: Vec<tables::OutreachRow>,
    effective_cutoff: Option<f64>,
    precision: Option<f64>,
    recall: Option<f64>,
    precision_interval: Option<threshold::Interval>,
    recall_interval: Option<threshold::Interval>,
}

/// Outreach: test rows at or above the threshold, capped, with reasons; the top K;
/// the list's precision and recall on the test window with their intervals.
fn test_outreach(
    p: &Settings,
    params: &TrainValidParams,
    f: &FeatureTable,
    trained: &TrainedModel,
    test: &train::TestReport,
) -> Result<TestOutreach> {
    let keys: Vec<&str> = test.rows.iter().map(|&i| &f.interaction_id[i]).collect();
    let (selected, effective_cutoff) = match trained.threshold.threshold() {
        Some(t) => {
            let cap = threshold::apply_cap(&test.scores, &keys, t, p.threshold.threshold_cap)?;
            (cap.selected, Some(cap.effective_cutoff))
        }
        None => (Vec::new(), None),
    };
    // Only the listed rows are encoded again, for their reasons: the test window's
    // matrix is not kept (train::score_in_blocks).
    let to_rows = |sel: &[usize]| -> Result<Vec<tables::OutreachRow>> {
        let table_rows: Vec<usize> = sel.iter().map(|&k| test.rows[k]).collect();
        let x = trained.encoder.transform(f, &table_rows)?;
        Ok(sel
            .iter()
            .zip(&table_rows)
            .enumerate()
            .map(|(rank, (&k, &i))| tables::OutreachRow {
                rank: rank + 1,
                member_id: f.member_id[i].to_string(),
                interaction_id: f.interaction_id[i].to_string(),
                interaction_ts_us: f.interaction_ts_us[i],
                score: test.scores[k],
                reasons: trained.reasons(x.row(rank), 3),
            })
            .collect())
    };
    let outreach = to_rows(&selected)?;
    let top_k = to_rows(&threshold::top_n(&test.scores, &keys, p.threshold.top_k)?)?;
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
        let members: Vec<&str> = test.rows.iter().map(|&i| &f.member_id[i]).collect();
        let (groups, n_groups) = threshold::group_ids(&members);
        let (pi, ri) = threshold::bootstrap_precision_recall(
            &y,
            &chosen,
            &vec![1.0; y.len()],
            &groups,
            n_groups,
            params.confidence(),
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
    Ok(TestOutreach {
        outreach,
        top_k,
        effective_cutoff,
        precision: test_precision,
        recall: test_recall,
        precision_interval: test_precision_interval,
        recall_interval: test_recall_interval,
    })
}

/// Warning events about the fit: the best C at an edge of the grid, no feasible cutoff.
fn warn_about_fit(p: &Settings, train_report: &train::TrainReport, trained: &TrainedModel) {
    if let Some(edge) = grid_edge(&p.model.c_grid, train_report.best_c) {
        tracing::warn!(
            best_c = train_report.best_c,
            "the best C ({}) is the {edge} value of model.c_grid; the optimum may lie beyond it: consider extending the grid",
            train_report.best_c
        );
    }
    if let ThresholdChoice::Infeasible {
        best_precision,
        best_precision_lower,
    } = trained.threshold
    {
        tracing::warn!(
            target_precision = p.threshold.target_precision,
            best_precision,
            best_precision_lower,
            "no cutoff reaches precision {:.2} with {:.0} % confidence on the validation slice (best precision {:.3}, best lower bound {:.3}); the outreach list is empty",
            p.threshold.target_precision,
            100.0 * p.threshold.confidence,
            best_precision,
            best_precision_lower
        );
    }
}

/// The report of the run, without the timings (the write is still to come).
#[allow(clippy::too_many_arguments)]
fn run_report(
    p: &Settings,
    run_id: &str,
    output_dir: &str,
    got: &pipeline::SparkOutputs,
    train_report: &train::TrainReport,
    trained: &TrainedModel,
    test: &train::TestReport,
    listed: &TestOutreach,
    comparison: Vec<challenger::Comparison>,
) -> RunReport {
    let floor_held = listed.precision.map(|v| v >= p.threshold.target_precision);
    let calibration_error = threshold::expected_calibration_error(&test.calibration);
    let mean_test_score = test.scores.iter().sum::<f64>() / test.scores.len().max(1) as f64;
    let test_base_rate = test.positives as f64 / test.rows.len().max(1) as f64;
    RunReport {
        run_id: run_id.to_string(),
        output_dir: output_dir.to_string(),
        train_rows: train_report.train_rows,
        train_positives: train_report.train_positives,
        test_rows: test.rows.len(),
        test_positives: test.positives,
        events: got.checks.n_events,
        members: got.checks.n_members,
        best_c: train_report.best_c,
        threshold: trained.threshold,
        outreach_file: tables::outreach_file_name(
            p.threshold.target_precision,
            p.threshold.threshold_cap,
        ),
        outreach_rows: listed.outreach.len(),
        effective_cutoff: listed.effective_cutoff,
        test_precision: listed.precision,
        test_recall: listed.recall,
        test_precision_interval: listed.precision_interval,
        test_recall_interval: listed.recall_interval,
        floor_held,
        test_average_precision: test.average_precision,
        calibration_error,
        mean_test_score,
        test_base_rate,
        comparison,
        timings: Vec::new(),
    }
}

/// Writes the rendered files under the run id, then appends the runs log row.
fn publish(
    outputs: &Outputs,
    run_id: &str,
    files: Vec<(String, Vec<u8>)>,
    summary_row: &tables::RunsLogRow,
) -> Result<()> {
    outputs.publish(run_id, files)?;
    common::append_log(outputs, RUNS_LOG_FILE, run_id, summary_row)
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

fn json_bytes<T: Serialize>(name: &str, v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(|e| error::Error::Output {
        location: name.into(),
        problem: e.to_string(),
        fix: "report this as a bug".into(),
    })
}

/// The row of this run in the appended runs log.
fn runs_log_row(
    cfg: &Config,
    run_id: &str,
    got: &pipeline::SparkOutputs,
    tr: &train::TrainReport,
    r: &RunReport,
) -> tables::RunsLogRow {
    let p = &cfg.settings;
    let best = tr
        .cv
        .iter()
        .find(|s| s.score.c == tr.best_c && s.class_weight == tr.best_class_weight)
        .map(|s| s.score.mean_ap);
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
    tables::RunsLogRow {
        run_id: run_id.to_string(),
        finished_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        status,
        source: p.source.describe(),
        split_boundary: p.split_boundary,
        target_neg_pos_member_ratio: p.neg_pos_ratio,
        target_precision: p.threshold.target_precision,
        threshold_cap: p.threshold.threshold_cap,
        seed: p.seed,
        first_event: pipeline::fmt_us(got.checks.min_ts_us),
        last_event: pipeline::fmt_us(got.checks.max_ts_us),
        train_rows: r.train_rows,
        train_positives: r.train_positives,
        test_rows: r.test_rows,
        test_positives: r.test_positives,
        best_c: r.best_c,
        cv_average_precision: best,
        threshold: r.threshold.threshold(),
        effective_cutoff: r.effective_cutoff,
        outreach_rows: r.outreach_rows,
        test_precision: r.test_precision,
        test_recall: r.test_recall,
        test_average_precision: r.test_average_precision,
        mean_test_score: r.mean_test_score,
        note,
        class_weight: serde_json::to_value(tr.best_class_weight)
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .unwrap_or_default(),
        confidence: p.threshold.confidence,
        threshold_precision_lower: threshold_lower,
        test_precision_lower: r.test_precision_interval.map(|i| i.lower),
        test_precision_upper: r.test_precision_interval.map(|i| i.upper),
        test_recall_lower: r.test_recall_interval.map(|i| i.lower),
        test_recall_upper: r.test_recall_interval.map(|i| i.upper),
        floor_held: r.floor_held,
        calibration_error: r.calibration_error,
        duplicate_events: got.checks.duplicate_events,
        duplicate_policy: serde_json::to_value(p.duplicate_events)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
    }
}

/// `model.json` of this run: what `score` reads back (see `artifact`).
fn model_file(
    cfg: &Config,
    run_id: &str,
    got: &pipeline::SparkOutputs,
    trained: &TrainedModel,
    tr: &train::TrainReport,
    drift_reference: &crate::drift::DriftReference,
) -> ModelFile {
    let p = &cfg.settings;
    let c = &p.columns;
    ModelFile {
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
        drift_reference: Some(drift_reference.clone()),
    }
}

#[allow(clippy::too_many_arguments)]
fn render_outputs(
    cfg: &Config,
    run_id: &str,
    got: &pipeline::SparkOutputs,
    trained: &TrainedModel,
    tr: &train::TrainReport,
    test: &train::TestReport,
    listed: &TestOutreach,
    r: &RunReport,
    (drift, timings): (&look::Drift, &[(String, f64)]),
) -> Result<Vec<(String, Vec<u8>)>> {
    let p = &cfg.settings;
    let f = &got.features;
    let model_file = model_file(cfg, run_id, got, trained, tr, &drift.reference);
    // On the population's logit scale: the Platt map folded into the linear model.
    let cal = trained.calibration;
    let calibrated_intercept = cal.a + cal.b * trained.model.intercept;
    let calibrated_coef: Vec<f64> = trained.model.coef.iter().map(|c| cal.b * c).collect();
    let mut summary = json!({
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
            "primary": p.model.primary,
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
    summary["drift"] = drift.summary();
    let mut files = look::files(&look::Inputs {
        p,
        run_id,
        got,
        trained,
        tr,
        test,
        listed,
        r,
        timings,
        drift,
        coef: &calibrated_coef,
        confidence: cfg.train.confidence(),
    })?;
    if !r.comparison.is_empty() {
        summary["model_comparison"] = json!(r.comparison);
        files.push((
            "model_comparison.csv".to_string(),
            tables::model_comparison_csv(&r.comparison)?,
        ));
    }
    let test_scores =
        tables::test_scores_csv(test.rows.iter().zip(&test.scores).map(|(&i, &s)| {
            tables::ScoreRow {
                interaction_id: &f.interaction_id[i],
                member_id: &f.member_id[i],
                interaction_ts_us: f.interaction_ts_us[i],
                label: f.label[i],
                score: s,
            }
        }))?;
    let mut all = vec![
        (AUDIT_FILE.into(), tables::audit_csv(&got.audit)?),
        (
            "pydesc_to_safe_col_map.csv".into(),
            tables::safe_col_map_csv(&trained.encoder.multi_hot.mapping())?,
        ),
        (
            "pr_curve_points.csv".into(),
            tables::pr_curve_csv(test.curve.as_ref())?,
        ),
        (
            r.outreach_file.clone(),
            tables::outreach_csv(&listed.outreach)?,
        ),
        (
            format!("outreach_topK_{}.csv", p.threshold.top_k),
            tables::outreach_csv(&listed.top_k)?,
        ),
        (
            "coefficients.csv".into(),
            tables::coefficients_csv(
                &trained.encoder.feature_names,
                &calibrated_coef,
                calibrated_intercept,
            )?,
        ),
        (
            "calibration.csv".into(),
            tables::calibration_csv(&test.calibration)?,
        ),
        ("test_scores.csv".into(), test_scores),
        ("model.json".into(), json_bytes("model.json", &model_file)?),
        (SUMMARY_FILE.into(), json_bytes(SUMMARY_FILE, &summary)?),
    ];
    all.extend(files);
    Ok(all)
}
