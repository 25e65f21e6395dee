//! Exact instruction counts of one profx call, from valgrind's callgrind.
//!
//! Run: `cargo bench -p profx-bench --bench instructions` (needs `valgrind` and
//! `callgrind_annotate` on the PATH; without them it says so and stops).
//!
//! The program runs itself under callgrind; each `drive_*` function makes `K` calls of one
//! kind, and the inclusive instruction count of each driver, divided by `K`, is printed next
//! to the same figure for the uninstrumented function. Instruction counts are exact and do not
//! depend on the machine's load; they are not cycles (a `rdtsc` counts as one instruction).

use std::hint::black_box;

use profx_bench::callgrind::{self, NoCounts};
use profx_bench::workloads::{
    calls, in_pieces, profx_chunk, two_phases, two_plain, work_plain, work_profx, CHUNK,
};

const K: u64 = 100_000;
const CHILD_VAR: &str = "PROFX_BENCH_UNDER_CALLGRIND";

// The drivers: each makes `k` calls of one kind (of the shared `work`,
// profx_bench::workloads). Their names are what the callgrind report is read by.

#[inline(never)]
fn drive_plain(k: u64) -> u64 {
    calls(0, k, work_plain)
}

#[inline(never)]
fn drive_quanta_pair(k: u64) -> u64 {
    let c = quanta::Clock::new();
    let mut acc = 0u64;
    for _ in 0..k {
        let a = c.raw();
        let b = c.raw();
        acc = acc.wrapping_add(b.wrapping_sub(a));
    }
    acc
}

#[inline(never)]
fn drive_instant_pair(k: u64) -> u64 {
    for _ in 0..k {
        black_box(std::time::Instant::now());
        black_box(std::time::Instant::now());
    }
    0
}

/// `k` phase calls in executions of `CHUNK`.
fn chunks(k: u64) -> u64 {
    in_pieces(0, k, CHUNK, profx_chunk)
}

#[inline(never)]
fn drive_profx_in_agent(k: u64) -> u64 {
    chunks(k)
}

#[inline(never)]
fn drive_profx_no_agent(k: u64) -> u64 {
    calls(0, k, work_profx)
}

#[inline(never)]
fn drive_profx_disabled(k: u64) -> u64 {
    profx::global().disable();
    let r = chunks(k);
    profx::global().enable();
    r
}

#[inline(never)]
fn drive_two_plain(k: u64) -> u64 {
    calls(0, k, two_plain)
}

#[inline(never)]
fn drive_two_phases(k: u64) -> u64 {
    calls(0, k, two_phases)
}

/// Under callgrind: warm every path once (first-use registration), then drive each case.
fn child() {
    black_box(chunks(2 * CHUNK));
    black_box(drive_profx_no_agent(10));
    black_box(two_phases(1));
    black_box(drive_plain(K));
    black_box(drive_quanta_pair(K));
    black_box(drive_instant_pair(K));
    black_box(drive_profx_in_agent(K));
    black_box(drive_profx_no_agent(K));
    black_box(drive_profx_disabled(K));
    black_box(drive_two_plain(K));
    black_box(drive_two_phases(K));
}

/// (driver, what, per call of `work` (true) or per execution)
const ROWS: &[(&str, &str, bool)] = &[
    ("drive_plain", "(a) uninstrumented work()", true),
    ("drive_quanta_pair", "(b) quanta Clock::raw() pair", true),
    ("drive_instant_pair", "(b') Instant::now() pair", true),
    (
        "drive_profx_in_agent",
        "(c) profx #[phase] in #[agent] (1000 per execution)",
        true,
    ),
    (
        "drive_profx_no_agent",
        "(c') profx #[phase], no agent",
        true,
    ),
    ("drive_profx_disabled", "(d) profx, run-time disabled", true),
    (
        "drive_two_plain",
        "(f0) 2 plain calls, per execution",
        false,
    ),
    (
        "drive_two_phases",
        "(f) profx agent + 2 phases, per execution",
        false,
    ),
];

fn main() {
    if std::env::var_os(CHILD_VAR).is_some() {
        child();
        return;
    }
    let text = match callgrind::run_self(CHILD_VAR, "bench") {
        Ok(text) => text,
        Err(NoCounts::Unavailable(why) | NoCounts::Failed(why)) => {
            println!("{why}");
            return;
        }
    };
    let inclusive = |driver: &str| -> Option<f64> {
        callgrind::inclusive(&text, "instructions", driver).map(|n| n as f64 / K as f64)
    };
    println!(
        "profx instruction counts (callgrind, {K} calls per case, inclusive instructions per call)"
    );
    println!("{:<52} {:>10} {:>10}", "case", "instr", "overhead");
    let plain = inclusive("drive_plain");
    let plain_exec = inclusive("drive_two_plain");
    for (driver, what, per_call) in ROWS {
        let Some(n) = inclusive(driver) else {
            println!("{what:<52} {:>10}", "?");
            continue;
        };
        let base = if *per_call { plain } else { plain_exec };
        let over = match (
            driver.starts_with("drive_profx") || *driver == "drive_two_phases",
            base,
        ) {
            (true, Some(b)) => format!("{:.1}", n - b),
            _ => "-".into(),
        };
        println!("{what:<52} {n:>10.1} {over:>10}");
    }
    println!("(overhead = instructions - those of (a), or of (f0) for (f); the clock pairs are shown as is)");
}
