//! Thin entry point: parse, call the library, print the error cause chain, exit code.
//! Exit codes: 0 ok, 2 bad input or a failed stage (the message says which and how to
//! fix it), 101 a bug (panic).

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use rarecall::cli::{Cli, Command, RulesCommand};
use rarecall::config;
use rarecall::remote::Env;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", rarecall::remote::redact(&chain.join(": ")));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::DemoData(args) => {
            let spec = rarecall::demo::DemoSpec {
                base_shift: args.base_shift,
                drift: args.drift,
                unmapped: args.unmapped,
            };
            let stats = rarecall::demo::write_demo_with(&args.out, args.members, args.seed, &spec)?;
            if let Some(path) = &args.complete_rules {
                std::fs::write(path, rarecall::demo::complete_rules_csv()).map_err(|e| {
                    rarecall::error::Error::Output {
                        location: path.display().to_string(),
                        problem: e.to_string(),
                        fix: "choose a writable --complete-rules path".into(),
                    }
                })?;
            }
            println!(
                "wrote {} events, {} interactions ({} positive, {:.2} %), {} members to {}",
                stats.events,
                stats.interactions,
                stats.positive_interactions,
                100.0 * stats.positive_interactions as f64 / stats.interactions.max(1) as f64,
                stats.members,
                args.out.display()
            );
        }
        Command::Check(args) => {
            if args.dry_run {
                let pipeline = config::load_pipeline(&args.common, None)?;
                let views = rarecall::sql::render_pipeline(
                    &pipeline,
                    Default::default(),
                    Default::default(),
                )?;
                print!("{}", rarecall::sql::dry_run_text(&views));
            } else {
                let cfg = config::load(&args.common, None, &Env::from_process())?;
                print!("{}", rarecall::check(&cfg)?);
            }
        }
        Command::Score(args) => {
            let cfg =
                config::load(&args.common, None, &Env::from_process()).context("configuration")?;
            let model = rarecall::load_model(&args.model)?;
            let req = rarecall::ScoreRequest {
                model,
                window: rarecall::score::ScoringWindow::parse(
                    args.date.as_deref(),
                    args.from.as_deref(),
                    args.to.as_deref(),
                )?,
                in_spark: args.in_spark,
                top: args.top,
                cap: args.threshold_cap.or(cfg.pipeline.threshold.threshold_cap),
                all_scores: args.all_scores,
            };
            let r = rarecall::score(&cfg, &req)?;
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
        }
        Command::Rules(RulesCommand::Suggest(args)) => {
            let cfg =
                config::load(&args.common, None, &Env::from_process()).context("configuration")?;
            let params = rarecall::suggest::SuggestParams {
                min_similarity: args.min_similarity,
                ..Default::default()
            };
            let r = rarecall::rules_suggest(&cfg, &params)?;
            let pct = |part: i64| 100.0 * part as f64 / r.total_events.max(1) as f64;
            println!("rules suggest {}", r.run_id);
            println!(
                "  {} unmatched description variants, {} events ({:.1} % of {} events)",
                r.unmatched_variants,
                r.unmatched_events,
                pct(r.unmatched_events),
                r.total_events
            );
            println!(
                "  {} proposals covering {} events ({:.1} %); {} variants without a similar canonical",
                r.proposals,
                r.proposed_events,
                pct(r.proposed_events),
                r.unmatched_variants - r.proposals
            );
            println!(
                "outputs in {} ({}, {}): review the proposals, then point normalization.rules at the edited file",
                r.output_dir,
                rarecall::SUGGESTIONS_FILE,
                rarecall::SUGGESTED_RULES_FILE
            );
        }
        Command::Run(args) => {
            let cfg = config::load(&args.common, Some(&args), &Env::from_process())
                .context("configuration")?;
            let r = rarecall::run(&cfg)?;
            let pct = |v: Option<f64>| {
                v.map(|x| format!("{:.1} %", 100.0 * x))
                    .unwrap_or_else(|| "-".into())
            };
            println!("run {}", r.run_id);
            println!(
                "  train (sampled) {} interactions, {} positive | test {} interactions, {} positive | {} events, {} members",
                r.train_rows, r.train_positives, r.test_rows, r.test_positives, r.events, r.members
            );
            match r.threshold.threshold() {
                Some(t) => println!(
                    "  C = {} | threshold {t:.6} (chosen on out-of-fold training scores)",
                    r.best_c
                ),
                None => println!(
                    "  C = {} | no threshold reaches the precision floor: empty outreach list",
                    r.best_c
                ),
            }
            println!(
                "  test: precision {} recall {} AP {} | outreach {} rows | mean score {:.4} vs base rate {:.4}",
                pct(r.test_precision),
                pct(r.test_recall),
                r.test_average_precision
                    .map(|v| format!("{v:.4}"))
                    .unwrap_or_else(|| "-".into()),
                r.outreach_rows,
                r.mean_test_score,
                r.test_base_rate
            );
            for (stage, secs) in &r.timings {
                println!("  {stage:<30} {secs:>8.2} s");
            }
            if let Some(rss) = rarecall::peak_rss_bytes() {
                println!(
                    "  {:<30} {:>8.1} MiB",
                    "peak memory (RSS)",
                    rss as f64 / 1048576.0
                );
            }
            println!("outputs in {} ({})", r.output_dir, r.outreach_file);
        }
    }
    Ok(())
}
