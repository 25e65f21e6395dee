//! `clear()` while threads record: a reader cuts every thread's slot index, each owner moves
//! to the new generation at its next call.
//!
//! Its own test binary: `clear()` acts on the global profiler, which no other test here
//! should see cleared.
#![cfg(feature = "enabled")]

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Barrier};
use std::thread;

#[profx::phase(name = "race-phase")]
fn phase(i: u64) -> u64 {
    std::hint::black_box(i.wrapping_mul(7))
}

#[profx::agent(name = "race-agent")]
fn agent(i: u64) -> u64 {
    phase(i) ^ phase(i + 1)
}

#[profx::phase(name = "race-loose")]
fn loose(i: u64) -> u64 {
    std::hint::black_box(i + 3)
}

/// Pending once (waking itself), then ready: two polls.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// An async agent: its busy time and polls go to a key beside its own (`WAITING`), found by
/// hash, which `clear()` must move to the new generation as it does every other key.
#[profx::agent(name = "race-async")]
async fn async_agent(i: u64) -> u64 {
    YieldOnce(false).await;
    i
}

/// Polls `async_agent(i)` to its end on this thread.
fn run_async(i: u64) -> u64 {
    let mut fut = std::pin::pin!(async_agent(i));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn clear_racing_with_writers_then_exact_counts_after_it() {
    const WRITERS: usize = 4;
    const AFTER: u64 = 5_000;
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    // Two rounds per writer: calls while another thread clears; then, after every writer
    // stopped and one last clear(), exactly AFTER executions each.
    let start_second = Arc::new(Barrier::new(WRITERS + 1));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (stop, made, start_second) = (stop.clone(), made.clone(), start_second.clone());
            thread::spawn(move || {
                let mut i = w as u64 * 1_000_000;
                while !stop.load(Relaxed) {
                    agent(i);
                    loose(i);
                    run_async(i);
                    made.fetch_add(1, Relaxed);
                    i += 1;
                }
                start_second.wait();
                start_second.wait();
                for j in 0..AFTER {
                    agent(j);
                    loose(j);
                    run_async(j);
                }
            })
        })
        .collect();
    // Clear repeatedly while they run; every read in between stays within what was made.
    let mut round = 0;
    while round < 200 || made.load(Relaxed) < 50_000 {
        round += 1;
        profx::global().clear();
        if round % 10 == 0 {
            let before = made.load(Relaxed);
            let r = profx::global().report();
            let after = made.load(Relaxed);
            let agents = r.agents.get("race-agent").map_or(0, |m| m.total_executions);
            assert!(
                agents <= after + WRITERS as u64,
                "{agents} executions read, {before}..{after} made"
            );
            if let Some(p) = r.phases.get("race-phase") {
                assert!(p.calls <= 2 * (after + WRITERS as u64));
            }
            if let Some(a) = r.agents.get("race-async") {
                // Busy within the executions' time, which the report gives as a mean times a
                // count: the mean is rounded down to a tick, then to a nanosecond.
                let slack = std::time::Duration::from_nanos(2 * a.total_executions + 1);
                assert!(a.busy_duration <= a.total_duration() + slack, "{a:?}");
            }
        }
        thread::sleep(std::time::Duration::from_micros(50));
    }
    stop.store(true, Relaxed);
    start_second.wait();
    profx::global().clear();
    assert!(profx::global().agent_metrics("race-agent").is_none());
    start_second.wait();
    for w in writers {
        w.join().unwrap();
    }
    let r = profx::global().report();
    let n = WRITERS as u64 * AFTER;
    let a = &r.agents["race-agent"];
    assert_eq!(a.total_executions, n);
    assert_eq!(a.phases["race-phase"].calls, 2 * n);
    assert_eq!(r.phases["race-loose"].calls, n);
    // Every kept execution is of the new generation, with its two phases.
    let kept = profx::global().executions("race-agent");
    assert!(!kept.is_empty());
    assert!(kept.iter().all(|e| e.phases.len() == 2), "{:?}", kept[0]);
    // The async agent: exactly the new generation's executions, its busy time theirs (known,
    // and within their time), each kept one polled twice.
    let b = &r.agents["race-async"];
    assert_eq!(b.total_executions, n);
    let slack = std::time::Duration::from_nanos(2 * n + 1);
    assert!(b.busy_share().is_some(), "{b:?}");
    assert!(b.busy_duration <= b.total_duration() + slack, "{b:?}");
    let kept = profx::global().executions("race-async");
    assert!(!kept.is_empty());
    assert!(
        kept.iter().all(|e| e.polls == 2 && e.busy <= e.duration),
        "{:?}",
        kept[0]
    );
}
