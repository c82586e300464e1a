//! `rarecall demo-data`: deterministic synthetic raw events (Parquet) that follow the
//! input contract, and optionally the rules file that covers every generated spelling.
//! The generator itself is `crate::demo`.

use crate::cli::DemoArgs;
use crate::demo;
use crate::error;

/// `rarecall demo-data`: writes the events (and `--complete-rules`), prints what.
pub fn demo_data(args: &DemoArgs) -> anyhow::Result<()> {
    let spec = demo::DemoSpec {
        base_shift: args.base_shift,
        drift: args.drift,
        unmapped: args.unmapped,
        channel_shift: args.channel_shift,
        gap_peak: args.gap_peak,
        calls_peak: args.calls_peak,
    };
    let stats = demo::write_demo_with(&args.out, args.members, args.seed, &spec)?;
    if let Some(path) = &args.complete_rules {
        std::fs::write(path, demo::complete_rules_csv()).map_err(|e| error::Error::Output {
            location: path.display().to_string(),
            problem: e.to_string(),
            fix: "choose a writable --complete-rules path".into(),
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
    Ok(())
}
