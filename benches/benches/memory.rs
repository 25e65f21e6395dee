//! Memory of profx after many calls (SPEC §10: memory after 100 million calls equals memory
//! after 1 million, within 5%).
//!
//! Run: `cargo bench -p profx-bench --bench memory`
//!
//! Each scenario runs in its own child process (so one scenario's memory is not counted in
//! another's) and prints the resident set size (`VmRSS`) before any call and after 1, 10, 50
//! and 100 million `#[profx::phase]` calls (of the shared `work_profx`, in executions of the
//! shared agent `profx_chunk`, profx_bench::workloads). `PROFX_BENCH_MEMORY_CALLS` sets the last
//! checkpoint (default 100000000).

use std::hint::black_box;
use std::process::Command;

use profx_bench::workloads::{self, in_pieces, profx_chunk, work_profx};
use profx_bench::{env_u64, mib, rss_bytes};

const SCENARIO_VAR: &str = "PROFX_BENCH_MEMORY_SCENARIO";

struct Scenario {
    name: &'static str,
    about: &'static str,
    /// Phase calls per execution; 0: no execution, the phase runs on its own.
    per_exec: u64,
    /// Threads sharing the calls (each makes 1/threads of them, at the same time).
    threads: u64,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "exec1000",
        about: "executions of 1000 phase calls (the overhead bench's (c))",
        per_exec: 1000,
        threads: 1,
    },
    Scenario {
        name: "exec10",
        about: "executions of 10 phase calls (10x more executions)",
        per_exec: 10,
        threads: 1,
    },
    Scenario {
        name: "no-agent",
        about: "phase calls outside any execution",
        per_exec: 0,
        threads: 1,
    },
    Scenario {
        name: "exec1000x2",
        about: "as exec1000, on 2 threads",
        per_exec: 1000,
        threads: 2,
    },
];

/// Makes calls `[from, to)` the way `s` says, split over its threads.
fn calls(s: &Scenario, from: u64, to: u64) -> u64 {
    if s.threads <= 1 {
        return calls_here(s, from, to);
    }
    let per = (to - from) / s.threads;
    std::thread::scope(|sc| {
        let hs: Vec<_> = (0..s.threads)
            .map(|t| {
                let a = from + t * per;
                let b = if t + 1 == s.threads { to } else { a + per };
                sc.spawn(move || calls_here(s, a, b))
            })
            .collect();
        hs.into_iter()
            .fold(0, |acc, h| acc ^ h.join().expect("thread"))
    })
}

fn calls_here(s: &Scenario, from: u64, to: u64) -> u64 {
    if s.per_exec == 0 {
        workloads::calls(from, to - from, work_profx)
    } else {
        in_pieces(from, to - from, s.per_exec, profx_chunk)
    }
}

fn checkpoints(last: u64) -> Vec<u64> {
    let mut v: Vec<u64> = [1_000_000, 10_000_000, 50_000_000]
        .into_iter()
        .filter(|&c| c < last)
        .collect();
    v.push(last);
    v
}

fn child(name: &str, last: u64) {
    let s = SCENARIOS
        .iter()
        .find(|s| s.name == name)
        .expect("known scenario");
    println!("RSS 0 {}", rss_bytes().unwrap_or(0));
    let mut done = 0u64;
    let mut acc = 0u64;
    for c in checkpoints(last) {
        acc ^= calls(s, done, c);
        done = c;
        println!("RSS {c} {}", rss_bytes().unwrap_or(0));
    }
    black_box(acc);
    let r = profx::global().report();
    let recorded = r.phases.get("work_profx").map_or(0, |p| p.calls);
    let kept: usize = r.executions.values().map(Vec::len).sum();
    println!("RECORDED {recorded} {kept}");
}

fn main() {
    let last = env_u64("PROFX_BENCH_MEMORY_CALLS", 100_000_000);
    if let Ok(name) = std::env::var(SCENARIO_VAR) {
        child(&name, last);
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    println!("profx memory bench: resident memory (VmRSS, MiB) after N #[profx::phase] calls (in total over the threads), one process per scenario");
    let points = checkpoints(last);
    print!("{:<10} {:>9}", "scenario", "before");
    for p in &points {
        print!(" {:>9}", format!("{}M", p / 1_000_000));
    }
    println!(
        " {:>11} {:>12}  what",
        format!("{}M vs 1M", last / 1_000_000),
        "recorded"
    );
    let mut worst: f64 = 0.0;
    for s in SCENARIOS {
        let t = std::time::Instant::now();
        let out = Command::new(&exe)
            .env(SCENARIO_VAR, s.name)
            .output()
            .expect("child runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut rss: Vec<(u64, u64)> = Vec::new();
        let mut recorded = (0u64, 0u64);
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["RSS", n, b] => rss.push((n.parse().unwrap(), b.parse().unwrap())),
                ["RECORDED", c, k] => recorded = (c.parse().unwrap(), k.parse().unwrap()),
                _ => {}
            }
        }
        if !out.status.success() || rss.is_empty() {
            println!(
                "{:<10} failed: {}\n{}",
                s.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        print!("{:<10}", s.name);
        for (_, b) in &rss {
            print!(" {:>9.2}", mib(*b));
        }
        let at = |n: u64| rss.iter().find(|(c, _)| *c == n).map(|(_, b)| *b as f64);
        let growth = match (at(1_000_000), at(last)) {
            (Some(a), Some(b)) => (b - a) / a * 100.0,
            _ => f64::NAN,
        };
        worst = worst.max(growth.abs());
        println!(
            " {:>+10.2}% {:>12}  {} ({} kept executions; {:.1} s)",
            growth,
            recorded.0,
            s.about,
            recorded.1,
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "SPEC §10 memory after {}M calls = after 1M within 5%: largest difference {:.2}% -> {}",
        last / 1_000_000,
        worst,
        if worst <= 5.0 { "holds" } else { "MISSED" }
    );
}
