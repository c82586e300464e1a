//! Progress on a terminal: a spinner per running stage (the `stage` spans of
//! `pipeline::Timings::time`) with its elapsed time and, for Arrow pulls, the rows
//! received (events with a `rows_received` field). A `tracing` layer that
//! `logs::init` adds only when stderr is a terminal, the form is text and `-q` is not
//! given ([`wanted`]); log lines go through [`Stderr`], which prints them above the
//! spinners. Without a terminal nothing here runs, so nothing but log lines is
//! written.

use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterFn, Filtered};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::cli::{LogArgs, LogFormat};

/// Whether to draw progress: only for a person at a terminal reading text logs.
pub(crate) fn wanted(stderr_is_terminal: bool, args: &LogArgs) -> bool {
    stderr_is_terminal && args.log_format == LogFormat::Text && !args.quiet
}

/// The spinners of the running stages.
pub(crate) struct Bars {
    pub(crate) multi: MultiProgress,
}

impl Bars {
    pub(crate) fn new() -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        }
    }

    /// The layer, seeing rarecall's own spans and events only.
    pub(crate) fn layer<S>(self) -> Filtered<StageSpinners, FilterFn, S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        StageSpinners { multi: self.multi }.with_filter(FilterFn::new(|m| {
            m.target() == "rarecall" || m.target().starts_with("rarecall::")
        }))
    }
}

/// The layer: a spinner from a `stage` span's creation to its close.
pub(crate) struct StageSpinners {
    multi: MultiProgress,
}

/// A spinner and the stage it stands for.
struct Spinner {
    bar: ProgressBar,
    stage: String,
}

/// The `stage` field of a span, or the `rows_received` of an event.
#[derive(Default)]
struct Fields {
    stage: Option<String>,
    rows: Option<u64>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "stage" {
            self.stage = Some(value.to_string());
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "rows_received" {
            self.rows = Some(value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value.max(0) as u64);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "stage" {
            self.stage = Some(format!("{value:?}").trim_matches('"').to_string());
        }
    }
}

impl<S> Layer<S> for StageSpinners
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "stage" {
            return;
        }
        let mut f = Fields::default();
        attrs.record(&mut f);
        let stage = f.stage.unwrap_or_default();
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(stage.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Spinner { bar, stage });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let Some(rows) = f.rows else { return };
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        for span in scope {
            if let Some(s) = span.extensions().get::<Spinner>() {
                s.bar
                    .set_message(format!("{}: {rows} rows received", s.stage));
                return;
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(s) = span.extensions_mut().remove::<Spinner>()
        {
            s.bar.finish_and_clear();
            self.multi.remove(&s.bar);
        }
    }
}

/// Stderr for the log lines: above the spinners when there are any.
#[derive(Clone)]
pub(crate) struct Stderr(pub(crate) Option<MultiProgress>);

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match &self.0 {
            Some(m) => m.suspend(|| std::io::stderr().write_all(buf)),
            None => std::io::stderr().write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(quiet: bool, log_format: LogFormat) -> LogArgs {
        LogArgs {
            verbose: 0,
            quiet,
            log_format,
        }
    }

    #[test]
    fn progress_only_for_text_on_a_terminal() {
        assert!(wanted(true, &args(false, LogFormat::Text)));
        assert!(!wanted(false, &args(false, LogFormat::Text)));
        assert!(!wanted(true, &args(false, LogFormat::Json)));
        assert!(!wanted(true, &args(true, LogFormat::Text)));
    }
}
