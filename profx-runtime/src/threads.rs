//! The number of threads in the process, read cheaply enough to stamp on executions.

use std::sync::atomic::{AtomicU64, Ordering::*};

use crate::clock;

static VALUE: AtomicU64 = AtomicU64::new(0);
static STAMP: AtomicU64 = AtomicU64::new(0);
/// Re-read at most every 10 ms.
const MAX_AGE_NS: u64 = 10_000_000;

/// Threads in the process (0 where the platform does not say), at most 10 ms old; `now` is a
/// clock reading the caller already has.
pub(crate) fn process_threads(now: u64) -> u64 {
    let stamp = STAMP.load(Relaxed);
    if stamp == 0 || clock::delta_ns(stamp, now) > MAX_AGE_NS {
        // One thread refreshes; the others use the value they find.
        if STAMP
            .compare_exchange(stamp, now.max(1), Relaxed, Relaxed)
            .is_ok()
        {
            VALUE.store(read(), Relaxed);
        }
    }
    VALUE.load(Relaxed)
}

#[cfg(target_os = "linux")]
fn read() -> u64 {
    // /proc/self/stat: "pid (comm) state ppid ..." — num_threads is field 20; comm may hold
    // spaces and parentheses, so count fields after the last ')'.
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    let Some(close) = stat.rfind(')') else {
        return 0;
    };
    stat[close + 1..]
        .split_whitespace()
        .nth(17)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn read() -> u64 {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn counts_a_thread_we_start() {
        let before = super::read();
        assert!(before >= 1);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let h = std::thread::spawn(move || rx.recv().ok());
        let during = super::read();
        tx.send(()).unwrap();
        h.join().unwrap();
        assert!(during > before || during >= 2, "{before} -> {during}");
    }
}
