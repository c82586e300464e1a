//! Thin entry point: parse, call the library, print the error cause chain, exit code.
//! Exit codes: 0 ok, 2 bad input or a failed stage (the message says which and how to
//! fix it), 101 a bug (panic).

use std::process::ExitCode;

use clap::Parser;
use rarecall::cli::{Cli, Command, RulesCommand};
use rarecall::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => commands::run(args),
        Command::Check(args) => commands::check(args),
        Command::Score(args) => commands::score(args),
        Command::DemoData(args) => commands::demo_data(args),
        Command::Rules(RulesCommand::Suggest(args)) => commands::rules_suggest(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", rarecall::remote::redact(&chain.join(": ")));
            ExitCode::from(2)
        }
    }
}
