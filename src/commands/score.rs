//! `rarecall score`: daily scoring with a saved `model.json` — the same features for
//! a window (with the history look-back), scored in Rust or compiled to Spark SQL,
//! an outreach file with reasons and a scoring log row.

// The shorter report and the drift against the model's test window.
mod look;

use anyhow::Context;

use super::common::{self, SCORING_LOG_FILE, new_run_id, warn_duplicates};
use crate::artifact::{self, ModelFile};
use crate::cli::ScoreArgs;
use crate::config::{self, Config};
use crate::error::Result;
use crate::pipeline::{self, Timings};
use crate::remote::Env;
use crate::rules;
use crate::score;
use crate::table;
use crate::tables;
use crate::threshold;
use crate::train::TrainedModel;

/// What `score` is asked to do.
#[derive(Debug, Clone)]
pub(super) struct ScoreRequest {
    pub(crate) model: ModelFile,
    pub(crate) window: score::ScoringWindow,
    pub(crate) in_spark: bool,
    pub(crate) top: Option<usize>,
    pub(crate) cap: Option<usize>,
    pub(crate) all_scores: bool,
}

/// What `score` did.
#[derive(Debug, Clone)]
pub(super) struct ScoreReport {
    pub(crate) run_id: String,
    pub(crate) output_dir: String,
    pub(crate) outreach_file: String,
    /// Interactions in the window (Rust path; the in-Spark path only counts what came back).
    pub(crate) scored: Option<usize>,
    pub(crate) selected: usize,
    pub(crate) timings: Vec<(String, f64)>,
    /// What MLflow records of this scoring (its files included), when tracking is on.
    record: Option<crate::mlflow::RunRecord>,
}

/// `rarecall score`: the configuration, the model, the window; the scoring and its
/// report on stdout.
pub fn score(args: &ScoreArgs) -> anyhow::Result<()> {
    let cfg = config::load(&args.common, None, &Env::from_process()).context("configuration")?;
    let model = artifact::load_model(&args.model)?;
    let req = ScoreRequest {
        model,
        window: score::ScoringWindow::parse(
            args.date.as_deref(),
            args.from.as_deref(),
            args.to.as_deref(),
        )?,
        in_spark: args.in_spark,
        top: args.top,
        cap: args.threshold_cap.or(cfg.settings.threshold.threshold_cap),
        all_scores: args.all_scores,
    };
    let r = score_window(&cfg, &req)?;
    println!(
        "score {}: {} rows selected{} ({})",
        r.run_id,
        r.selected,
        r.scored
            .map(|n| format!(" of {n} interactions"))
            .unwrap_or_default(),
        if req.in_spark {
            "scored in Spark"
        } else {
            "scored in Rust"
        }
    );
    for (stage, secs) in &r.timings {
        println!("  {stage:<30} {secs:>8.2} s");
    }
    println!("outputs in {} ({})", r.output_dir, r.outreach_file);
    // MLflow after the outputs: a tracking failure never costs an output.
    if let Some(record) = r.record {
        super::mlflow_log::track_written(&cfg, || Ok(record), None)?;
    }
    Ok(())
}

/// Daily scoring: the same features for a window (with the history look-back), the
/// saved encoders, coefficients, Platt calibration and threshold; an outreach file with
/// reasons and a scoring log row.
fn score_window(cfg: &Config, req: &ScoreRequest) -> Result<ScoreReport> {
    let m = &req.model;
    // The model's rules and history window define its features: use them.
    let mut p = cfg.settings.clone();
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
    let outputs = common::open_outputs(cfg)?;
    let spark = timings.time("connect", || common::connect(cfg))?;
    super::outreach_table::check(&spark, cfg)?;
    let scratch = common::open_scratch(cfg, &spark)?;
    let got = pipeline::run_scoring_spark(
        &spark,
        &p,
        &req.window,
        frags,
        scratch.as_deref(),
        &mut timings,
    )?;
    drop(scratch);
    warn_duplicates(&got.checks, p.duplicate_events);
    let t = &m.trained;
    // Rows to contact (and, with --all-scores, every scored row), by score desc.
    let (selected, all_rows, n_scored, window_scores): (
        Vec<tables::OutreachRow>,
        Vec<table::ScoredRow>,
        Option<usize>,
        Option<Vec<f64>>,
    ) = match &got.features {
        Some(f) => timings.time("score window", || {
            let rows: Vec<usize> = (0..f.len()).collect();
            let x = t.encoder.transform(f, &rows)?;
            let scores = t.score(&x);
            let keys: Vec<&str> = f.interaction_id.iter().collect();
            let chosen = match (req.top, t.threshold.threshold()) {
                (Some(n), _) => threshold::top_n(&scores, &keys, n)?,
                (None, Some(th)) => threshold::apply_cap(&scores, &keys, th, req.cap)?.selected,
                (None, None) => Vec::new(),
            };
            let scored_row = |i: usize| table::ScoredRow {
                interaction_id: f.interaction_id[i].to_string(),
                member_id: f.member_id[i].to_string(),
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
            Ok((to_outreach(t, &sel), all, Some(f.len()), Some(scores)))
        })?,
        None => {
            let all = if req.all_scores {
                got.scored.clone()
            } else {
                Vec::new()
            };
            (to_outreach(t, &got.scored), all, None, None)
        }
    };
    let outreach_file = match req.top {
        Some(n) => format!(
            "outreach_top{n}_{}_{}.csv",
            req.window.start, req.window.end
        ),
        None => tables::outreach_file_name(m.threshold_precision(), req.cap).replace(
            ".csv",
            &format!("_{}_{}.csv", req.window.start, req.window.end),
        ),
    };
    let scored = got.features.as_ref().zip(window_scores.as_deref());
    let drift = timings.time("drift", || look::drift(m, scored, p.psi_warn))?;
    let mut files = vec![(outreach_file.clone(), tables::outreach_csv(&selected)?)];
    files.extend(look::files(&look::Inputs {
        run_id: &run_id,
        model: m,
        window: &req.window,
        scores: window_scores.as_deref(),
        selected: &selected,
        drift: &drift,
        psi_warn: p.psi_warn,
        timings: &timings.0,
    })?);
    if req.all_scores {
        files.push((
            "window_scores.csv".to_string(),
            tables::test_scores_csv(all_rows.iter().map(|r| tables::ScoreRow {
                interaction_id: &r.interaction_id,
                member_id: &r.member_id,
                interaction_ts_us: r.interaction_ts_us,
                label: r.label,
                score: r.score,
            }))?,
        ));
    }
    let log_row = tables::ScoringLogRow {
        run_id: run_id.clone(),
        finished_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        model_run_id: m.run_id.clone(),
        window_start: req.window.start,
        window_end: req.window.end,
        mode: if req.in_spark { "in_spark" } else { "rust" },
        interactions_scored: n_scored,
        rows_selected: selected.len(),
        threshold: t.threshold.threshold(),
        top: req.top,
        outreach_file: outreach_file.clone(),
    };
    let tracked = cfg.mlflow.as_ref().map(|_| files.clone());
    timings.time("write outputs", || {
        outputs.publish(&run_id, files)?;
        common::append_log(&outputs, SCORING_LOG_FILE, &run_id, &log_row)
    })?;
    // The table after the files: they are the record, whatever becomes of it.
    let (start, end) = (req.window.start, req.window.end);
    let origin = super::outreach_table::origin(&run_id, "score", &m.run_id, start, end);
    super::outreach_table::write(
        &spark,
        cfg,
        &mut timings,
        &origin,
        &selected,
        &outreach_file,
    )?;
    Ok(ScoreReport {
        run_id: run_id.clone(),
        output_dir: outputs.location().to_string(),
        outreach_file,
        scored: n_scored,
        selected: selected.len(),
        record: tracked.map(|files| {
            let facts = crate::mlflow::record::ScoreFacts {
                run_id: &run_id,
                model_run_id: &m.run_id,
                window_start: req.window.start.to_string(),
                window_end: req.window.end.to_string(),
                mode: log_row.mode,
                top: req.top,
                threshold_cap: req.cap,
                interactions_scored: n_scored,
                rows_selected: selected.len(),
                threshold: t.threshold.threshold(),
            };
            let out = outputs.location();
            crate::mlflow::record::for_score(
                &facts,
                files,
                &timings.0,
                out,
                crate::mlflow::now_ms(),
            )
        }),
        timings: timings.0,
    })
}

fn to_outreach(t: &TrainedModel, rows: &[table::ScoredRow]) -> Vec<tables::OutreachRow> {
    rows.iter()
        .enumerate()
        .map(|(k, r)| tables::OutreachRow {
            rank: k + 1,
            member_id: r.member_id.clone(),
            interaction_id: r.interaction_id.clone(),
            interaction_ts_us: r.interaction_ts_us,
            score: r.score,
            reasons: t.reasons(&r.z, 3),
        })
        .collect()
}
