//! The number of threads in the process, read cheaply enough to stamp on executions.

use std::sync::atomic::{AtomicU64, Ordering::*};

use crate::clock;

/// The last count read, and when to read it again: together, so that the hot path reaches
/// both from one address.
struct Cached {
    /// The clock reading after which `value` is re-read (0: never read).
    deadline: AtomicU64,
    value: AtomicU64,
}

static CACHED: Cached = Cached {
    deadline: AtomicU64::new(0),
    value: AtomicU64::new(0),
};
/// Re-read at most every 50 ms.
const MAX_AGE_NS: u64 = 50_000_000;

/// Threads in the process (0 where the platform does not say), at most 50 ms old; `now` is a
/// clock reading the caller already has.
#[inline]
pub(crate) fn process_threads(now: u64) -> u64 {
    let deadline = CACHED.deadline.load(Relaxed);
    if now >= deadline {
        refresh(deadline, now);
    }
    CACHED.value.load(Relaxed)
}

/// The clock reading until which the value [`process_threads`] gives now stays fresh enough.
pub(crate) fn fresh_until() -> u64 {
    CACHED.deadline.load(Relaxed)
}

#[cold]
#[inline(never)]
fn refresh(deadline: u64, now: u64) {
    // One thread refreshes; the others use the value they find.
    let next = now.saturating_add(clock::from_ns(MAX_AGE_NS)).max(1);
    if CACHED
        .deadline
        .compare_exchange(deadline, next, Relaxed, Relaxed)
        .is_ok()
        // The first time, the thread that lost the race must not stamp 0 while the winner
        // reads: it reads too.
        || CACHED.value.load(Relaxed) == 0
    {
        CACHED.value.store(read(), Relaxed);
    }
}

/// Threads in the process now, read from `/proc/self/stat` without allocating.
#[cfg(target_os = "linux")]
pub(crate) fn read() -> u64 {
    use std::io::Read;
    // /proc/self/stat: "pid (comm) state ppid ..." — num_threads is field 20; comm may hold
    // spaces and parentheses, so count fields after the last ')'. Read into a stack buffer:
    // this runs on an execution's path and must not allocate.
    let mut buf = [0u8; 1024];
    let Ok(mut f) = std::fs::File::open("/proc/self/stat") else {
        return 0;
    };
    let mut len = 0;
    while len < buf.len() {
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(_) => return 0,
        }
    }
    let stat = &buf[..len];
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return 0;
    };
    stat[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .nth(17)
        .and_then(|f| std::str::from_utf8(f).ok()?.parse().ok())
        .unwrap_or(0)
}

/// Threads in the process now (not known off Linux: 0).
#[cfg(not(target_os = "linux"))]
pub(crate) fn read() -> u64 {
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
