//! The collector's sampling thread and ring, when recording is compiled in.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::sample;
use super::SystemSnapshot;
use crate::lock::lock;

/// The ring of snapshots and the thread that fills it.
pub(crate) struct Engine {
    shared: Arc<Shared>,
    /// The sampling thread while it runs. Held across the whole of `stop` so that a `start`
    /// racing with it waits for the old thread to be gone.
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What the collector and its thread share.
struct Shared {
    ring: Mutex<VecDeque<SystemSnapshot>>,
    /// Set by `stop`; the thread waits on `wake` with it.
    stop: Mutex<bool>,
    wake: Condvar,
}

impl Engine {
    pub(crate) fn new(capacity: usize) -> Engine {
        Engine {
            shared: Arc::new(Shared {
                ring: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
                stop: Mutex::new(false),
                wake: Condvar::new(),
            }),
            thread: Mutex::new(None),
        }
    }

    /// See `MetricsCollector::start`.
    pub(crate) fn start(&self, interval: Duration, capacity: usize) {
        let mut slot = lock(&self.thread);
        if slot.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        if let Some(old) = slot.take() {
            let _ = old.join();
        }
        *lock(&self.shared.stop) = false;
        let mut sampler = sample::Sampler::new();
        let first = Instant::now();
        if let Some(s) = sample_safely(&mut sampler) {
            self.shared.push(s, capacity);
        }
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("profx-collector".into())
            .spawn(move || shared.run(sampler, first, interval, capacity));
        match spawned {
            Ok(h) => *slot = Some(h),
            Err(e) => eprintln!("profx: warning: cannot start the metrics collector: {e}"),
        }
    }

    /// See `MetricsCollector::stop`.
    pub(crate) fn stop(&self) {
        let mut slot = lock(&self.thread);
        let Some(handle) = slot.take() else {
            return;
        };
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if handle.thread().id() != std::thread::current().id() {
            let _ = handle.join();
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        lock(&self.thread)
            .as_ref()
            .is_some_and(|h| !h.is_finished())
    }

    pub(crate) fn with_snapshots<T>(&self, f: impl FnOnce(&[SystemSnapshot]) -> T) -> T {
        let mut ring = lock(&self.shared.ring);
        f(ring.make_contiguous())
    }
}

impl Shared {
    fn push(&self, s: SystemSnapshot, capacity: usize) {
        let mut ring = lock(&self.ring);
        while ring.len() >= capacity {
            ring.pop_front();
        }
        ring.push_back(s);
    }

    /// The sampling thread: a snapshot every `interval` after `last` (on a fixed schedule, not
    /// drifting by the cost of a sample), until `stop` is set.
    fn run(
        &self,
        mut sampler: sample::Sampler,
        mut last: Instant,
        interval: Duration,
        capacity: usize,
    ) {
        let mut next = last + interval;
        loop {
            let mut stop = lock(&self.stop);
            loop {
                if *stop {
                    drop(stop);
                    if last.elapsed() >= (interval / 2).min(Duration::from_millis(100)) {
                        if let Some(s) = sample_safely(&mut sampler) {
                            self.push(s, capacity);
                        }
                    }
                    return;
                }
                let now = Instant::now();
                if now >= next {
                    break;
                }
                stop = self
                    .wake
                    .wait_timeout(stop, next - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            drop(stop);
            if let Some(s) = sample_safely(&mut sampler) {
                self.push(s, capacity);
            }
            last = Instant::now();
            next += interval;
            if next <= last {
                // Fell behind (a suspended process, a slow sample): resume from now.
                next = last + interval;
            }
        }
    }
}

/// One snapshot; a panic while taking it (there should be none) loses that snapshot only.
fn sample_safely(sampler: &mut sample::Sampler) -> Option<SystemSnapshot> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sampler.sample())).ok()
}
