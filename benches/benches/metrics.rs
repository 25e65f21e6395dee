//! Cost of one metric update: profx's native handles against the `metrics` crate's macros
//! recorded into profx through `profx::metrics_rs::ProfxRecorder` (feature `metrics`).
//!
//! Run: `cargo bench -p profx-bench --bench metrics`
//!
//! Every case makes `CALLS` updates per round; the figure is the median over the rounds of
//! ns per update, on one thread and then on two threads updating the same series at the same
//! time. The rows, for a counter and for a histogram:
//!
//! - native: `profx::metrics::counter(name, &[])` (or `histogram`) looked up once per round,
//!   then `inc()` (or `record(Duration)`) per update;
//! - macro: `metrics::counter!(name).increment(1)` (or `histogram!(name).record(seconds)`)
//!   per update, the way the macros are mostly written: the recorder is asked for the handle
//!   by key on every update;
//! - handle kept: `let c = metrics::counter!(name)` once per round, then `c.increment(1)` per
//!   update.
//!
//! A shared `AtomicU64::fetch_add` is printed for reference. The ratio column is the median
//! over the native handle's of the same kind. Each case has a series of its own, and its
//! final value is checked against the updates made, at the end.
//!
//! Environment: `PROFX_BENCH_CALLS` (updates per round, default 500000), `PROFX_BENCH_ROUNDS`
//! (default 15).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use profx_bench::{env_u64, mean_of_medians, print_header, print_total_time, run_threads, Plan};

// -------------------------------------------------------------------------------------------
// The series, one per case.

const NATIVE_COUNTER: &str = "bench_native_total";
const MACRO_COUNTER: &str = "bench_macro_total";
const KEPT_COUNTER: &str = "bench_kept_total";
const NATIVE_HISTOGRAM: &str = "bench_native_seconds";
const MACRO_HISTOGRAM: &str = "bench_macro_seconds";
const KEPT_HISTOGRAM: &str = "bench_kept_seconds";

/// The value recorded by the `i`-th histogram update, in nanoseconds: 1 µs to about 1 ms,
/// so that the updates spread over several buckets.
#[inline(always)]
fn observed_ns(i: u64) -> u64 {
    ((i & 1023) + 1) * 1000
}

// -------------------------------------------------------------------------------------------
// The loops: `n` updates.

static SHARED: AtomicU64 = AtomicU64::new(0);

fn loop_atomic(_start: u64, n: u64) -> u64 {
    for _ in 0..n {
        SHARED.fetch_add(1, Relaxed);
    }
    0
}

fn native_counter(name: &str) -> profx::metrics::Counter {
    profx::metrics::counter(name, &[]).expect("a valid counter")
}

fn native_histogram(name: &str) -> profx::metrics::Histogram {
    profx::metrics::histogram(name, &[]).expect("a valid histogram")
}

fn loop_native_counter(_start: u64, n: u64) -> u64 {
    let c = native_counter(NATIVE_COUNTER);
    for _ in 0..n {
        black_box(&c).inc();
    }
    0
}

fn loop_macro_counter(_start: u64, n: u64) -> u64 {
    for _ in 0..n {
        metrics::counter!(MACRO_COUNTER).increment(1);
    }
    0
}

fn loop_kept_counter(_start: u64, n: u64) -> u64 {
    let c = metrics::counter!(KEPT_COUNTER);
    for _ in 0..n {
        black_box(&c).increment(1);
    }
    0
}

fn loop_native_histogram(start: u64, n: u64) -> u64 {
    let h = native_histogram(NATIVE_HISTOGRAM);
    for i in start..start + n {
        black_box(&h).record(Duration::from_nanos(observed_ns(black_box(i))));
    }
    0
}

fn loop_macro_histogram(start: u64, n: u64) -> u64 {
    for i in start..start + n {
        metrics::histogram!(MACRO_HISTOGRAM).record(observed_ns(black_box(i)) as f64 * 1e-9);
    }
    0
}

fn loop_kept_histogram(start: u64, n: u64) -> u64 {
    let h = metrics::histogram!(KEPT_HISTOGRAM);
    for i in start..start + n {
        black_box(&h).record(observed_ns(black_box(i)) as f64 * 1e-9);
    }
    0
}

// -------------------------------------------------------------------------------------------
// The cases and the table.

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Reference,
    Counter,
    Histogram,
}

struct Case {
    label: &'static str,
    kind: Kind,
    /// The native handle the ratio is taken to.
    native: bool,
    /// The series checked at the end (none for the reference).
    series: Option<&'static str>,
    run: fn(u64, u64) -> u64,
}

const CASES: &[Case] = &[
    Case {
        label: "shared AtomicU64::fetch_add (ref.)",
        kind: Kind::Reference,
        native: false,
        series: None,
        run: loop_atomic,
    },
    Case {
        label: "counter: profx Counter::inc",
        kind: Kind::Counter,
        native: true,
        series: Some(NATIVE_COUNTER),
        run: loop_native_counter,
    },
    Case {
        label: "counter: counter!(..).increment(1)",
        kind: Kind::Counter,
        native: false,
        series: Some(MACRO_COUNTER),
        run: loop_macro_counter,
    },
    Case {
        label: "counter: kept handle .increment(1)",
        kind: Kind::Counter,
        native: false,
        series: Some(KEPT_COUNTER),
        run: loop_kept_counter,
    },
    Case {
        label: "histogram: profx Histogram::record",
        kind: Kind::Histogram,
        native: true,
        series: Some(NATIVE_HISTOGRAM),
        run: loop_native_histogram,
    },
    Case {
        label: "histogram: histogram!(..).record(s)",
        kind: Kind::Histogram,
        native: false,
        series: Some(MACRO_HISTOGRAM),
        run: loop_macro_histogram,
    },
    Case {
        label: "histogram: kept handle .record(s)",
        kind: Kind::Histogram,
        native: false,
        series: Some(KEPT_HISTOGRAM),
        run: loop_kept_histogram,
    },
];

struct Result {
    threads: Vec<profx_bench::Rounds>,
}

impl Result {
    fn median(&self) -> f64 {
        mean_of_medians(&self.threads)
    }
}

fn run_all(plan: Plan, threads: usize) -> Vec<Result> {
    CASES
        .iter()
        .map(|c| Result {
            threads: run_threads(plan, threads, c.run),
        })
        .collect()
}

fn native_of(results: &[Result], kind: Kind) -> f64 {
    CASES
        .iter()
        .position(|c| c.kind == kind && c.native)
        .map_or(f64::NAN, |i| results[i].median())
}

fn print_table(plan: Plan, threads: usize, results: &[Result]) {
    println!();
    println!(
        "== {threads} thread(s), on the same series: {} rounds x {} updates per thread (after {} warm-up rounds); ns per update, median of rounds{} ==",
        plan.rounds,
        plan.calls,
        plan.warmup,
        if threads > 1 { ", mean of the threads' medians" } else { "" },
    );
    print!("{:<38} {:>9} {:>8} {:>8}", "case", "median", "min", "max");
    if threads > 1 {
        for t in 0..threads {
            print!(" {:>8}", format!("thr{t}"));
        }
    }
    println!(" {:>10}", "x native");
    for (c, r) in CASES.iter().zip(results) {
        let min = r
            .threads
            .iter()
            .map(profx_bench::Rounds::min)
            .fold(f64::INFINITY, f64::min);
        let max = r
            .threads
            .iter()
            .map(profx_bench::Rounds::max)
            .fold(0.0, f64::max);
        let m = r.median();
        print!("{:<38} {:>9.2} {:>8.2} {:>8.2}", c.label, m, min, max);
        if threads > 1 {
            for t in &r.threads {
                print!(" {:>8.2}", t.median());
            }
        }
        match c.kind {
            Kind::Reference => println!(" {:>10}", "-"),
            k => println!(" {:>10.2}", m / native_of(results, k)),
        }
    }
    println!("(x native = median / median of the profx handle of the same kind)");
}

/// The value of a series now: a counter's count, a histogram's number of observations.
fn series_value(kind: Kind, name: &str) -> u64 {
    match kind {
        Kind::Counter => native_counter(name).value(),
        Kind::Histogram => native_histogram(name).snapshot().count,
        Kind::Reference => SHARED.load(Relaxed),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; arguments are ignored.
    let plan = Plan {
        warmup: 3,
        rounds: env_u64("PROFX_BENCH_ROUNDS", 15) as usize,
        calls: env_u64("PROFX_BENCH_CALLS", 500_000),
    };
    let began = Instant::now();
    print_header("metrics");
    profx::metrics_rs::install().expect("no other metrics recorder");

    let one = run_all(plan, 1);
    print_table(plan, 1, &one);
    let two = run_all(plan, 2);
    print_table(plan, 2, &two);

    println!();
    println!("== 2 threads / 1 thread, per update ==");
    for (i, c) in CASES.iter().enumerate() {
        println!(
            "{:<38} {:>7.2} -> {:>7.2} ns x{:.2}",
            c.label,
            one[i].median(),
            two[i].median(),
            two[i].median() / one[i].median()
        );
    }

    // Each series against the updates made: (warm-up + measured rounds) x updates, on 1
    // thread then on each of 2.
    let made = (plan.warmup + plan.rounds) as u64 * plan.calls * (1 + 2);
    println!();
    println!("== updates each series recorded (made / recorded) ==");
    for c in CASES {
        let (name, seen) = match c.series {
            Some(name) => (name, series_value(c.kind, name)),
            None => ("(the shared atomic)", SHARED.load(Relaxed)),
        };
        println!(
            "{:<38} {:<22} made {} / recorded {} -> {}",
            c.label,
            name,
            made,
            seen,
            if seen == made { "holds" } else { "MISSED" }
        );
    }
    println!();
    print_total_time(began);
}
