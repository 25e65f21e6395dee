//! Taking one snapshot of this process: memory and CPU time through `sysinfo` (a refresh of this
//! process only, never of the whole system), threads from `/proc/self/stat`, heap figures from
//! the counting allocator.

use std::time::{Duration, Instant, SystemTime};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::SystemSnapshot;

/// Reads this process; keeps what the CPU percentage of the next snapshot is measured against.
pub(crate) struct Sampler {
    system: System,
    pid: Option<Pid>,
    /// CPU time and wall clock of the previous snapshot.
    last: Option<(Duration, Instant)>,
}

impl Sampler {
    pub(crate) fn new() -> Sampler {
        Sampler {
            system: System::new(),
            pid: sysinfo::get_current_pid().ok(),
            last: None,
        }
    }

    /// A snapshot now.
    pub(crate) fn sample(&mut self) -> SystemSnapshot {
        let timestamp = SystemTime::now();
        let now = Instant::now();
        let (mut resident, mut virt, mut cpu_time) = (0, 0, Duration::ZERO);
        if let Some(pid) = self.pid {
            // Memory and CPU time of this process only: no task list, no command line, no
            // environment, nothing about other processes.
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                false,
                ProcessRefreshKind::nothing()
                    .without_tasks()
                    .with_memory()
                    .with_cpu(),
            );
            if let Some(p) = self.system.process(pid) {
                resident = p.memory();
                virt = p.virtual_memory();
                cpu_time = Duration::from_millis(p.accumulated_cpu_time());
            }
        }
        let cpu_percent = match self.last {
            Some((cpu0, t0)) if now > t0 => {
                cpu_time.saturating_sub(cpu0).as_secs_f64() * 100.0
                    / now.duration_since(t0).as_secs_f64()
            }
            _ => 0.0,
        };
        self.last = Some((cpu_time, now));
        let heap = heap_totals();
        SystemSnapshot {
            timestamp,
            resident_bytes: resident,
            virtual_bytes: virt,
            cpu_percent,
            cpu_time,
            threads: process_threads(),
            heap_measured: heap.is_some(),
            heap_live_bytes: heap.map_or(0, |h| h.heap_live_bytes),
            allocated_total_bytes: heap.map_or(0, |h| h.allocated_total_bytes),
            allocations: heap.map_or(0, |h| h.allocations),
            deallocations: heap.map_or(0, |h| h.deallocations),
        }
    }
}

impl Sampler {
    /// When this process started, in seconds since the Unix epoch (after a [`sample`](Self::sample)
    /// has refreshed it; `None` where the platform does not say).
    pub(crate) fn start_time_secs(&self) -> Option<u64> {
        let p = self.system.process(self.pid?)?;
        Some(p.start_time()).filter(|&t| t > 0)
    }
}

/// The counting allocator's process-wide totals, when it is installed (feature `alloc`, and
/// `profx::CountingAlloc` is the global allocator). They may miss, per running thread, a few
/// dozen recent events (`crate::alloc` says exactly how few).
fn heap_totals() -> Option<crate::alloc::AllocTotals> {
    crate::alloc::installed().then(crate::alloc::totals)
}

/// Threads in the process: field 20 of `/proc/self/stat` (0 where there is no such file).
fn process_threads() -> u64 {
    crate::threads::read()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_reads_this_process() {
        let mut s = Sampler::new();
        let a = s.sample();
        assert_eq!(a.cpu_percent, 0.0, "nothing to measure the first against");
        if !cfg!(target_os = "linux") {
            return;
        }
        assert!(a.resident_bytes > 0 && a.virtual_bytes >= a.resident_bytes);
        assert!(a.threads >= 1);
        // Burn CPU until the process's CPU time moves (it counts in ticks of 10 ms).
        let t = Instant::now();
        let mut x = 0u64;
        let b = loop {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            let b = s.sample();
            if b.cpu_time > a.cpu_time || t.elapsed() > Duration::from_secs(5) {
                break b;
            }
        };
        assert!(b.cpu_time > a.cpu_time, "{a:?} {b:?}");
        assert!(b.cpu_percent > 0.0, "{b:?}");
    }
}
