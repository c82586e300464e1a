//! Thin entry point: parse, set up logging, call the library, print the error cause
//! chain, exit code. Exit codes: 0 ok, 2 bad input or a failed stage (the message
//! says which and how to fix it), 101 a bug (panic).
//!
//! Only here is it decided how the library's `tracing` events are shown
//! (`rarecall::logs`); the library never prints to stderr itself.

use std::process::ExitCode;

use clap::Parser;
use rarecall::cli::{Cli, Command, LogFormat, MlflowCommand, RulesCommand};
use rarecall::{commands, logs};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A usage error in JSON mode is one JSON line too; help and version are not errors.
        Err(e) if e.use_stderr() && logs::json_requested(std::env::args_os()) => {
            let text = e.render().to_string();
            let message = text.trim().strip_prefix("error: ").unwrap_or(text.trim());
            eprintln!("{}", logs::error_line(LogFormat::Json, message));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let format = cli.log.log_format;
    logs::init(&cli.log);
    if format == LogFormat::Json {
        // Every stderr line stays one JSON object, a panic's too (exit code 101 kept).
        std::panic::set_hook(Box::new(|info| eprintln!("{}", logs::panic_line(info))));
    }
    let result = match &cli.command {
        Command::Run(args) => commands::run(args),
        Command::Check(args) => commands::check(args),
        Command::Score(args) => commands::score(args),
        Command::DemoData(args) => commands::demo_data(args),
        Command::Rules(RulesCommand::Suggest(args)) => commands::rules_suggest(args),
        Command::Mlflow(MlflowCommand::Log(args)) => commands::mlflow_log(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
            let message = rarecall::remote::redact(&chain.join(": "));
            eprintln!("{}", logs::error_line(format, &message));
            ExitCode::from(2)
        }
    }
}
