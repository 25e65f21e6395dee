//! The measuring harness of profx's benchmarks (SPEC §10): rounds, medians, threads, and the
//! resident memory of the process.
//!
//! A case is a function `fn(start, n) -> u64` that makes `n` calls and returns something
//! derived from every result, so that nothing is optimized away. It is run `warmup` times,
//! then `rounds` times; the figure is the median over the rounds of nanoseconds per call.
//!
//! The workloads every bench target calls are in [`workloads`]; the peers' collectors of the
//! overhead bench in [`peers`].

pub mod callgrind;
pub mod peers;
pub mod workloads;

use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

/// How a case is run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Rounds run and thrown away first.
    pub warmup: usize,
    /// Rounds measured.
    pub rounds: usize,
    /// Calls per round (per thread).
    pub calls: u64,
}

/// What the rounds of one case on one thread measured, in nanoseconds per call.
#[derive(Clone, Debug)]
pub struct Rounds {
    /// Every round's figure, in the order run.
    pub per_call: Vec<f64>,
}

impl Rounds {
    /// The median round.
    pub fn median(&self) -> f64 {
        median(&self.per_call)
    }

    /// The fastest round.
    pub fn min(&self) -> f64 {
        min(&self.per_call)
    }

    /// The slowest round.
    pub fn max(&self) -> f64 {
        self.per_call.iter().copied().fold(0.0, f64::max)
    }
}

/// The median of `v` (NaN if empty).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The smallest of `v` (infinity if empty).
pub fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Runs the warm-up and measured rounds of `case` from argument `start`, calling `sync`
/// before each round.
fn rounds(plan: Plan, mut start: u64, case: fn(u64, u64) -> u64, sync: impl Fn()) -> Rounds {
    for _ in 0..plan.warmup {
        sync();
        black_box(case(black_box(start), black_box(plan.calls)));
        start = start.wrapping_add(plan.calls);
    }
    let mut per_call = Vec::with_capacity(plan.rounds);
    for _ in 0..plan.rounds {
        sync();
        let t = Instant::now();
        black_box(case(black_box(start), black_box(plan.calls)));
        let ns = t.elapsed().as_nanos() as f64;
        per_call.push(ns / plan.calls as f64);
        start = start.wrapping_add(plan.calls);
    }
    Rounds { per_call }
}

/// Runs `case` on the calling thread.
pub fn run_one(plan: Plan, case: fn(u64, u64) -> u64) -> Rounds {
    rounds(plan, 0, case, || {})
}

/// Runs `case` on `threads` threads at once, each making its own calls; every round starts
/// on all threads together (a barrier). One `Rounds` per thread.
pub fn run_threads(plan: Plan, threads: usize, case: fn(u64, u64) -> u64) -> Vec<Rounds> {
    if threads == 1 {
        return vec![run_one(plan, case)];
    }
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                // Different arguments per thread; same code.
                s.spawn(move || {
                    rounds(plan, (t as u64) << 40, case, || {
                        barrier.wait();
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .collect()
    })
}

/// The mean of the threads' medians.
pub fn mean_of_medians(r: &[Rounds]) -> f64 {
    r.iter().map(Rounds::median).sum::<f64>() / r.len() as f64
}

/// The resident set size of this process, in bytes (`VmRSS` of `/proc/self/status`).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time consumed so far by the whole process (every thread, including the peers'
/// background collectors), in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The 1-minute load average of the machine (`/proc/loadavg`), to judge the noise.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// The number `name` in the environment, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Prints the first line of a bench: the CPUs available and the load average.
pub fn print_header(bench: &str) {
    println!(
        "profx {bench} bench: {} CPUs available, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
}

/// Prints the last line of a bench: how long it took since `began`, and the load average.
pub fn print_total_time(began: Instant) {
    println!(
        "total bench time: {:.1} s, load average now {}",
        began.elapsed().as_secs_f64(),
        load_average()
    );
}

/// `bytes` in MiB, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let r = Rounds {
            per_call: vec![3.0, 1.0, 2.0],
        };
        assert_eq!(r.median(), 2.0);
        let r = Rounds {
            per_call: vec![4.0, 1.0, 2.0, 3.0],
        };
        assert_eq!(r.median(), 2.5);
    }

    #[test]
    fn rss_is_readable() {
        assert!(rss_bytes().unwrap() > 0);
    }
}
