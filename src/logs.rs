//! How log events are shown. The library reports through `tracing`: a span per
//! stage (`pipeline::Timings::time`) with start and done events carrying
//! `elapsed_s`, warnings as `warn!`, detail as `debug!` / `trace!`. Only `main`
//! calls [`init`], which decides the level (`-v`, `-q`, `RUST_LOG`) and the form on
//! stderr: text lines close to `rarecall: read source done in 1.23 s`, or one JSON
//! object a line (`--log-format json`). The error that ends a run and a panic are
//! printed by `main` in the same form ([`error_line`], [`panic_line`]).

use std::fmt::{self, Write as _};

use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::{LogArgs, LogFormat};
use crate::progress;

/// The filter directives that `-q` / `-v` choose: rarecall's own events from info
/// (today's progress lines) and other crates' warnings by default; errors only with
/// `-q`; rarecall's debug with `-v`, its trace and other crates' info with `-vv`,
/// everything with `-vvv`.
fn directives(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,rarecall=info",
        (false, 1) => "warn,rarecall=debug",
        (false, 2) => "info,rarecall=trace",
        (false, _) => "trace",
    }
}

/// The filter: `RUST_LOG` when it is set, non-empty and valid, else the flags'
/// directives. A `RUST_LOG` that does not parse is set aside with a note to log.
pub(crate) fn filter(args: &LogArgs, rust_log: Option<&str>) -> (EnvFilter, Option<String>) {
    let flags = || EnvFilter::new(directives(args.verbose, args.quiet));
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => (flags(), None),
        Some(s) => match EnvFilter::builder().parse(s) {
            Ok(f) => (f, None),
            Err(e) => (
                flags(),
                Some(format!(
                    "RUST_LOG={s:?} is not a valid filter ({e}); using the level of the flags instead (fix: a level such as `debug`, or `rarecall=debug,warn`)"
                )),
            ),
        },
    }
}

/// Installs the stderr subscriber. Call once, from `main`, before any work.
///
/// On a terminal, in text form and without `-q`, long stages also show a spinner
/// with the stage, its elapsed time and the rows received ([`crate::progress`]);
/// log lines are printed above it. Anywhere else (a pipe, a file, CI) nothing but
/// the log lines.
pub fn init(args: &LogArgs) {
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    let rust_log = std::env::var("RUST_LOG").ok();
    let (filter, note) = filter(args, rust_log.as_deref());
    let bars = progress::wanted(std::io::stderr().is_terminal(), args).then(progress::Bars::new);
    let writer = progress::Stderr(bars.as_ref().map(|b| b.multi.clone()));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false);
    let registry = tracing_subscriber::registry().with(bars.map(progress::Bars::layer));
    // A second call (tests) keeps the first subscriber.
    let _ = match args.log_format {
        LogFormat::Text => registry
            .with(layer.event_format(TextFormat).with_filter(filter))
            .try_init(),
        LogFormat::Json => registry
            .with(
                layer
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_filter(filter),
            )
            .try_init(),
    };
    if let Some(note) = note {
        tracing::warn!("{note}");
    }
}

/// Text lines: `rarecall: <message>` at info, `rarecall: warning: <message>` and so
/// on for the other levels. Fields follow the message (` key=value`) at debug and
/// trace, and for other crates' events, whose target is named too; rarecall's info
/// and warning messages are whole sentences, their fields are for JSON readers.
struct TextFormat;

impl<S, N> FormatEvent<S, N> for TextFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = TextFields::default();
        event.record(&mut fields);
        writer.write_str(&text_line(
            *meta.level(),
            meta.target(),
            &fields.message,
            &fields.rest,
        ))
    }
}

/// One text line (with its newline) for an event; see [`TextFormat`].
fn text_line(level: Level, target: &str, message: &str, fields: &str) -> String {
    let ours = target == "rarecall" || target.starts_with("rarecall::");
    let mut line = String::from(match level {
        Level::ERROR => "rarecall: error: ",
        Level::WARN => "rarecall: warning: ",
        Level::INFO => "rarecall: ",
        Level::DEBUG => "rarecall: debug: ",
        Level::TRACE => "rarecall: trace: ",
    });
    if !ours {
        line.push_str(target);
        line.push_str(": ");
    }
    line.push_str(message);
    if !ours || level > Level::INFO {
        line.push_str(fields);
    }
    line.push('\n');
    line
}

/// The message of an event and its other fields as ` key=value`.
#[derive(Default)]
struct TextFields {
    message: String,
    rest: String,
}

impl Visit for TextFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

/// Whether the command line (or `RARECALL_LOG_FORMAT`) asks for JSON, for the
/// one case where clap could not parse it: a usage error.
pub fn json_requested(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    let mut json = std::env::var("RARECALL_LOG_FORMAT").is_ok_and(|v| v == "json");
    let mut after_flag = false;
    for a in args {
        let a = a.to_string_lossy();
        if after_flag {
            json = a == "json";
        } else if let Some(v) = a.strip_prefix("--log-format=") {
            json = v == "json";
        }
        after_flag = a == "--log-format";
    }
    json
}

/// A line main writes itself, shaped like the JSON events (`flatten_event`).
#[derive(Serialize)]
struct JsonLine<'a> {
    timestamp: String,
    level: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backtrace: Option<String>,
    target: &'static str,
}

fn now() -> String {
    let mut s = String::new();
    let _ = SystemTime.format_time(&mut Writer::new(&mut s));
    s
}

fn json_line(message: &str, backtrace: Option<String>) -> String {
    serde_json::to_string(&JsonLine {
        timestamp: now(),
        level: "ERROR",
        message,
        backtrace,
        target: "rarecall",
    })
    .unwrap_or_else(|_| String::from(r#"{"level":"ERROR","message":"(unprintable)"}"#))
}

/// The line (without newline) for the error that ends a run: `error: <message>` in
/// text, one JSON object at level ERROR in JSON. `message` is already redacted.
pub fn error_line(format: LogFormat, message: &str) -> String {
    match format {
        LogFormat::Text => format!("error: {message}"),
        LogFormat::Json => json_line(message, None),
    }
}

/// The JSON line for a panic (text mode keeps Rust's own panic message).
pub fn panic_line(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    let thread = std::thread::current();
    let message = match info.location() {
        Some(l) => format!(
            "thread '{}' panicked at {}:{}:{}: {payload}",
            thread.name().unwrap_or("<unnamed>"),
            l.file(),
            l.line(),
            l.column()
        ),
        None => format!(
            "thread '{}' panicked: {payload}",
            thread.name().unwrap_or("<unnamed>")
        ),
    };
    let bt = std::backtrace::Backtrace::capture();
    let backtrace =
        (bt.status() == std::backtrace::BacktraceStatus::Captured).then(|| bt.to_string());
    json_line(&message, backtrace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(verbose: u8, quiet: bool) -> LogArgs {
        LogArgs {
            verbose,
            quiet,
            log_format: LogFormat::Text,
        }
    }

    #[test]
    fn flags_choose_the_level_and_rust_log_replaces_it() {
        assert_eq!(directives(0, false), "warn,rarecall=info");
        assert_eq!(directives(1, false), "warn,rarecall=debug");
        assert_eq!(directives(0, true), "error");
        assert_eq!(directives(9, false), "trace");
        let (f, note) = filter(&args(0, false), None);
        assert_eq!(
            f.to_string(),
            EnvFilter::new("warn,rarecall=info").to_string()
        );
        assert!(note.is_none());
        let (f, note) = filter(&args(0, true), Some("rarecall=debug"));
        assert_eq!(f.to_string(), "rarecall=debug");
        assert!(note.is_none());
        let (f, note) = filter(&args(0, true), Some("  "));
        assert_eq!(f.to_string(), "error");
        assert!(note.is_none());
        // A malformed RUST_LOG: the flags' level, and a note saying so.
        let (f, note) = filter(&args(1, false), Some("rarecall=[bogus"));
        assert_eq!(
            f.to_string(),
            EnvFilter::new("warn,rarecall=debug").to_string()
        );
        let note = note.unwrap();
        assert!(note.contains("RUST_LOG") && note.contains("fix:"), "{note}");
    }

    #[test]
    fn text_lines_keep_the_progress_format() {
        let l = text_line(
            Level::INFO,
            "rarecall::pipeline",
            "read source done in 1.23 s",
            " elapsed_s=1.2345",
        );
        assert_eq!(l, "rarecall: read source done in 1.23 s\n");
        let l = text_line(Level::WARN, "rarecall::commands::common", "dup", " n=3");
        assert_eq!(l, "rarecall: warning: dup\n");
        let l = text_line(Level::DEBUG, "rarecall::model::cv", "C 1", " c=1.0");
        assert_eq!(l, "rarecall: debug: C 1 c=1.0\n");
        let l = text_line(Level::WARN, "h2::proto", "odd frame", " id=3");
        assert_eq!(l, "rarecall: warning: h2::proto: odd frame id=3\n");
    }

    #[test]
    fn json_is_seen_on_a_command_line_clap_refused() {
        let os = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        if std::env::var_os("RARECALL_LOG_FORMAT").is_none() {
            assert!(!json_requested(os(&["rarecall", "run", "--bogus"])));
            assert!(!json_requested(os(&["rarecall", "--log-format", "text"])));
        }
        assert!(json_requested(os(&[
            "rarecall",
            "--log-format",
            "json",
            "run",
            "-x"
        ])));
        assert!(json_requested(os(&[
            "rarecall",
            "run",
            "--log-format=json"
        ])));
        assert!(!json_requested(os(&[
            "rarecall",
            "--log-format=json",
            "--log-format",
            "text"
        ])));
    }

    #[test]
    fn error_lines_are_text_or_one_json_object() {
        assert_eq!(
            error_line(LogFormat::Text, "bad column; fix: map it"),
            "error: bad column; fix: map it"
        );
        let line = error_line(LogFormat::Json, "bad \"column\"\nsecond line");
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "ERROR");
        assert_eq!(v["message"], "bad \"column\"\nsecond line");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
