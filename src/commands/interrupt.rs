//! What a run does when it is stopped by SIGINT (Ctrl-C) or SIGTERM (a scheduler
//! cancelling the job): it asks the Spark server to stop this session's work, then
//! removes the run's scratch folder, then exits with code 130. Without this, the
//! folder's Parquet (gigabytes at a few million members) stayed behind, because a
//! signal ends the process without running `Drop`. Nothing else is written or
//! removed: outputs are only written at the end of a run, and the runs log is kept.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};

use crate::pipeline::Scratch;
use crate::spark::Spark;

type Cleanup = Arc<dyn Fn() + Send + Sync>;

/// The cleanups to run on a signal, in registration order (run newest first).
static CLEANUPS: Mutex<Vec<(u64, Cleanup)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static INSTALL: Once = Once::new();

/// Exit code after a signal: 128 + SIGINT, as a shell reports Ctrl-C.
pub(crate) const EXIT_INTERRUPTED: i32 = 130;

/// Runs `f` if the process is stopped by a signal while the returned guard lives.
fn on_signal(f: Cleanup) -> Guard {
    INSTALL.call_once(|| {
        if let Err(e) = ctrlc::set_handler(handle) {
            // Another handler (an embedding program's) owns the signals: it decides.
            tracing::debug!("no signal handler installed: {e}");
        }
    });
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    lock().push((id, f));
    Guard(id)
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(u64, Cleanup)>> {
    CLEANUPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The signal handler (on ctrlc's own thread, not in signal context).
fn handle() {
    let cleanups: Vec<Cleanup> = lock().iter().rev().map(|(_, f)| f.clone()).collect();
    if !cleanups.is_empty() {
        tracing::warn!(
            "interrupted: stopping this run's Spark work and removing its scratch folder"
        );
    }
    for f in cleanups {
        f();
    }
    std::process::exit(EXIT_INTERRUPTED);
}

/// Removes its cleanup when dropped.
struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        lock().retain(|(id, _)| *id != self.0);
    }
}

/// A run's scratch folder: removed when dropped (`Scratch`'s own `Drop`), and on
/// SIGINT/SIGTERM after the session's Spark work is interrupted, so that no task
/// writes into it again after it is gone.
pub(crate) struct GuardedScratch {
    // Field order is drop order: this reference first, then the guard's, the last
    // one, whose drop removes the folder.
    scratch: Arc<Scratch>,
    _guard: Guard,
}

impl GuardedScratch {
    pub(crate) fn new(scratch: Scratch, spark: &Spark) -> GuardedScratch {
        let scratch = Arc::new(scratch);
        let (kept, interrupt) = (scratch.clone(), spark.interrupter());
        let guard = on_signal(Arc::new(move || {
            interrupt();
            if let Err(e) = kept.remove() {
                tracing::warn!("{e}");
            }
        }));
        GuardedScratch {
            scratch,
            _guard: guard,
        }
    }
}

impl std::ops::Deref for GuardedScratch {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.scratch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cleanup_is_registered_while_its_guard_lives() {
        let count = || lock().len();
        let before = count();
        let a = on_signal(Arc::new(|| {}));
        let b = on_signal(Arc::new(|| {}));
        assert_eq!(count(), before + 2);
        drop(a);
        assert_eq!(count(), before + 1);
        assert!(lock().iter().any(|(id, _)| *id == b.0));
        drop(b);
        assert_eq!(count(), before);
    }
}
