//! What counting allocations costs (feature `alloc`, issue 5): `profx::CountingAlloc` against
//! the plain system allocator, per allocation, in one run.
//!
//! Run: `cargo bench -p profx-bench --bench alloc`
//!
//! Both allocators are local values whose `GlobalAlloc` methods are called directly, so the
//! two are measured side by side in the same process, round after round (alternating which
//! goes first). Patterns: a small block allocated and freed (16 bytes), and a vector grown by
//! doubling from 8 bytes to 4 KiB with `realloc` then freed (one alloc, nine reallocs, one
//! dealloc per "call"). Each on one thread, then on two threads at once. Then, with
//! `CountingAlloc` installed as this program's global allocator, `Box::new` + drop through it
//! against the same pattern on the local `System`, and an `#[agent]` with two phases (the
//! overhead bench's row (f)) with allocations being counted.
//!
//! Environment: `PROFX_BENCH_CALLS` (calls per round, default 200000), `PROFX_BENCH_ROUNDS`
//! (default 21).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

use profx::CountingAlloc;
use profx_bench::workloads::{calls, two_phases, work_plain};
use profx_bench::{env_u64, median, min, print_header, print_total_time};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::system();

static COUNTING: CountingAlloc = CountingAlloc::system();

// -------------------------------------------------------------------------------------------
// The patterns, generic over the allocator.

const SMALL: Layout = match Layout::from_size_align(16, 8) {
    Ok(l) => l,
    Err(_) => panic!("a valid layout"),
};

#[inline(always)]
fn small<A: GlobalAlloc>(a: &A, n: u64) -> u64 {
    let mut acc = 0u64;
    for _ in 0..n {
        // SAFETY: a non-zero layout; freed with the same layout.
        unsafe {
            let p = a.alloc(SMALL);
            acc = acc.wrapping_add(black_box(p) as u64);
            a.dealloc(p, SMALL);
        }
    }
    acc
}

#[inline(always)]
fn grow<A: GlobalAlloc>(a: &A, n: u64) -> u64 {
    let mut acc = 0u64;
    for _ in 0..n {
        // SAFETY: each realloc gets the layout the block has; freed with its last layout.
        unsafe {
            let mut size = 8;
            let mut p = a.alloc(Layout::from_size_align_unchecked(size, 8));
            while size < 4096 {
                p = a.realloc(p, Layout::from_size_align_unchecked(size, 8), size * 2);
                size *= 2;
            }
            acc = acc.wrapping_add(black_box(p) as u64);
            a.dealloc(p, Layout::from_size_align_unchecked(size, 8));
        }
    }
    acc
}

#[inline(never)]
fn small_system(n: u64) -> u64 {
    small(&System, n)
}
#[inline(never)]
fn small_counting(n: u64) -> u64 {
    small(&COUNTING, n)
}
#[inline(never)]
fn grow_system(n: u64) -> u64 {
    grow(&System, n)
}
#[inline(never)]
fn grow_counting(n: u64) -> u64 {
    grow(&COUNTING, n)
}

/// Through the global allocator (`CountingAlloc` here): a boxed word, made and dropped.
#[inline(never)]
fn box_global(n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..n {
        let b = black_box(Box::new(black_box([i, i])));
        acc = acc.wrapping_add(b[0]);
    }
    acc
}

// The overhead bench's row (f) (profx_bench::workloads), here with allocations counted.

#[inline(never)]
fn exec_plain(n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..n {
        acc = acc.wrapping_add(work_plain(black_box(i)) ^ work_plain(black_box(i + 1)));
    }
    acc
}

#[inline(never)]
fn exec_profx(n: u64) -> u64 {
    calls(0, n, two_phases)
}

// -------------------------------------------------------------------------------------------
// Measuring: pairs of cases, alternated round by round.

type Case = fn(u64) -> u64;

struct Pair {
    label: &'static str,
    base: (&'static str, Case),
    with: (&'static str, Case),
    /// Allocator events per call, to quote a figure per event.
    events: f64,
}

const PAIRS: &[Pair] = &[
    Pair {
        label: "small block: alloc + dealloc (16 B)",
        base: ("System", small_system),
        with: ("CountingAlloc", small_counting),
        events: 2.0,
    },
    Pair {
        label: "Vec growth: alloc, 9 reallocs to 4 KiB, dealloc",
        base: ("System", grow_system),
        with: ("CountingAlloc", grow_counting),
        events: 11.0,
    },
];

const GLOBAL_PAIRS: &[Pair] = &[
    Pair {
        label: "Box<[u64; 2]> new + drop",
        base: ("System (local)", small_system),
        with: ("CountingAlloc (global)", box_global),
        events: 2.0,
    },
    Pair {
        label: "#[agent] + 2 phases, per execution",
        base: ("2 plain calls", exec_plain),
        with: ("profx, counting", exec_profx),
        events: f64::NAN,
    },
];

/// Per-call ns of `base` and `with`, one figure per round per thread.
fn measure(pair: &Pair, threads: usize, calls: u64, rounds: usize) -> (Vec<f64>, Vec<f64>) {
    let barrier = Barrier::new(threads);
    let run = || {
        let mut b = Vec::with_capacity(rounds);
        let mut w = Vec::with_capacity(rounds);
        for r in 0..rounds + 2 {
            for k in 0..2 {
                let (which, f) = if (r + k) & 1 == 0 {
                    (0, pair.base.1)
                } else {
                    (1, pair.with.1)
                };
                barrier.wait();
                let t = Instant::now();
                black_box(f(black_box(calls)));
                let ns = t.elapsed().as_nanos() as f64 / calls as f64;
                // The first two rounds warm up.
                if r >= 2 {
                    if which == 0 {
                        b.push(ns);
                    } else {
                        w.push(ns);
                    }
                }
            }
        }
        (b, w)
    };
    if threads == 1 {
        return run();
    }
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads).map(|_| s.spawn(run)).collect();
        let mut b = Vec::new();
        let mut w = Vec::new();
        for h in hs {
            let (x, y) = h.join().unwrap();
            b.extend(x);
            w.extend(y);
        }
        (b, w)
    })
}

fn table(title: &str, pairs: &[Pair], threads: usize, calls: u64, rounds: usize) {
    println!();
    println!("== {title}: {threads} thread(s), {rounds} rounds x {calls} calls per thread; ns per call (median of rounds, all threads; min) ==");
    println!(
        "{:<48} {:>24} {:>9} {:>9} {:>24} {:>9} {:>9} {:>8} {:>10} {:>10}",
        "pattern",
        "base",
        "median",
        "min",
        "with",
        "median",
        "min",
        "ratio",
        "ratio(min)",
        "+ns/event"
    );
    for p in pairs {
        let (b, w) = measure(p, threads, calls, rounds);
        let (mb, mw) = (median(&b), median(&w));
        let per_event = if p.events.is_nan() {
            "-".to_string()
        } else {
            format!("{:.2}", (mw - mb) / p.events)
        };
        println!(
            "{:<48} {:>24} {:>9.2} {:>9.2} {:>24} {:>9.2} {:>9.2} {:>8.3} {:>10.3} {:>10}",
            p.label,
            p.base.0,
            mb,
            min(&b),
            p.with.0,
            mw,
            min(&w),
            mw / mb,
            min(&w) / min(&b),
            per_event
        );
    }
}

fn main() {
    let calls = env_u64("PROFX_BENCH_CALLS", 200_000);
    let rounds = env_u64("PROFX_BENCH_ROUNDS", 21) as usize;
    print_header("alloc");
    let began = Instant::now();
    for threads in [1, 2] {
        table(
            "local allocators, direct GlobalAlloc calls",
            PAIRS,
            threads,
            calls,
            rounds,
        );
    }
    table(
        "CountingAlloc installed as the global allocator",
        GLOBAL_PAIRS,
        1,
        calls,
        rounds,
    );
    println!(
        "(ratio = median with / median base; ratio(min) = fastest round with / fastest round base;"
    );
    println!(" +ns/event = (median with - median base) / allocator events per call)");

    // The counts are real: the agent's executions record what they allocate (nothing here).
    let r = profx::global().report();
    let a = &r.agents["two_phases"];
    println!();
    println!(
        "check: memory measured {}, two_phases executions {}, avg memory {} B",
        r.memory_measured, a.total_executions, a.avg_memory
    );
    assert!(r.memory_measured);
    print_total_time(began);
}
