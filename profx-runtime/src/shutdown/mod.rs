//! The end of the program, however it comes: the work a `profx::ReportGuard`
//! leaves for it (the final OTLP export, the reports of `PROFX_REPORT`) is done exactly once,
//! by whichever comes first — the guard's drop (a return from `main`, an `Err`, a panic), a
//! terminating signal ([`signals`], Unix), or `std::process::exit` (an `atexit` hook, Unix) —
//! and the others wait for it.
//!
//! On a signal or `exit` the wait is bounded by `PROFX_SHUTDOWN_TIMEOUT` (default 5 s), so
//! that a long report does not hold a container's shutdown past its grace period: past it,
//! one line on standard error says that the reports were cut short, and the program ends.
// Signals and `exit` reach the bounded path on Unix with recording compiled in only.
#![cfg_attr(not(all(unix, feature = "enabled")), allow(dead_code))]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[cfg(all(unix, feature = "enabled"))]
pub(crate) mod signals;

/// What is left to do at the end.
pub type Finish = Box<dyn FnOnce() + Send>;

/// The default bound on the final work after a signal or `exit`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Pending {
    /// Work armed by the guards alive, by id.
    armed: BTreeMap<u64, Finish>,
    /// Runs of armed work that have not ended yet.
    running: usize,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    armed: BTreeMap::new(),
    running: 0,
});
static ENDED: Condvar = Condvar::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn pending() -> MutexGuard<'static, Pending> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Arms `finish` to run once at the end; the id is the guard's, for [`finish_one`]. The
/// first guard also installs the signal handlers and the `exit` hook.
pub fn arm(finish: Finish) -> u64 {
    #[cfg(all(unix, feature = "enabled"))]
    signals::install();
    let id = NEXT_ID.fetch_add(1, Relaxed);
    pending().armed.insert(id, finish);
    id
}

/// Runs the work armed under `id` (the guard's drop), unless a signal or `exit` took it
/// already, in which case this waits for that run to end. No bound: the program is ending
/// on its own.
pub fn finish_one(id: u64) {
    let work = pending().armed.remove(&id);
    run(work.into_iter().collect(), None);
}

/// Runs every armed work (a signal, `exit`), waiting at most `timeout` for all of it, and
/// for work another caller started. `false`: cut short.
pub(crate) fn finish_all(timeout: Duration) -> bool {
    let work: Vec<Finish> = std::mem::take(&mut pending().armed).into_values().collect();
    run(work, Some(timeout))
}

/// Starts `work` on a thread of its own and waits until no run is left (or `timeout`).
fn run(work: Vec<Finish>, timeout: Option<Duration>) -> bool {
    if !work.is_empty() {
        pending().running += 1;
        let started = std::thread::Builder::new()
            .name("profx-shutdown".into())
            .spawn(move || {
                // Counted as ended even if the work panics.
                struct Ended;
                impl Drop for Ended {
                    fn drop(&mut self) {
                        pending().running -= 1;
                        ENDED.notify_all();
                    }
                }
                let _ended = Ended;
                for w in work {
                    w();
                }
            });
        if let Err(e) = started {
            pending().running -= 1;
            eprintln!("profx: warning: cannot start the thread writing the reports ({e})");
            return false;
        }
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut p = pending();
    while p.running > 0 {
        p = match deadline {
            None => ENDED.wait(p).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    eprintln!(
                        "profx: the reports were not finished within {} (PROFX_SHUTDOWN_TIMEOUT): the program ends without the rest",
                        humantime::format_duration(timeout.unwrap_or_default())
                    );
                    return false;
                }
                ENDED
                    .wait_timeout(p, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
    true
}

/// `PROFX_SHUTDOWN_TIMEOUT`: how long the final work may take after a signal or `exit` (a
/// duration such as `5s` or `500ms`; a bad value warns and the default is used).
pub(crate) fn timeout() -> Duration {
    match std::env::var("PROFX_SHUTDOWN_TIMEOUT") {
        Err(_) => DEFAULT_TIMEOUT,
        Ok(v) => humantime::parse_duration(v.trim()).unwrap_or_else(|_| {
            crate::config::warn_once(
                "PROFX_SHUTDOWN_TIMEOUT",
                &v,
                "a duration such as 5s or 500ms",
                "5s",
            );
            DEFAULT_TIMEOUT
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    /// The armed work is the process's: one test at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn armed_work_runs_once_whoever_comes_first() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let id = NEXT_ID.fetch_add(1, Relaxed);
        pending().armed.insert(
            id,
            Box::new(move || {
                std::thread::sleep(Duration::from_millis(50));
                r.fetch_add(1, SeqCst);
            }),
        );
        // `exit` and the guard's drop at once: one run, and both see it ended.
        let other = std::thread::spawn(|| finish_all(Duration::from_secs(10)));
        finish_one(id);
        assert!(other.join().unwrap());
        assert_eq!(runs.load(SeqCst), 1);
        finish_one(id);
        assert_eq!(runs.load(SeqCst), 1);
    }

    #[test]
    fn a_run_past_the_timeout_is_cut_short() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let id = NEXT_ID.fetch_add(1, Relaxed);
        pending().armed.insert(
            id,
            Box::new(|| std::thread::sleep(Duration::from_millis(400))),
        );
        let t = Instant::now();
        assert!(!finish_all(Duration::from_millis(50)));
        assert!(t.elapsed() < Duration::from_millis(350));
        // The work goes on on its thread; a later wait sees it end.
        assert!(finish_all(Duration::from_secs(10)));
    }
}
