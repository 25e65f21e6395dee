//! Memory and read time of many keys (SPEC §10): the resident memory a (key, thread) costs
//! follows the values it has seen (a key whose calls span 2–3 octaves: well under 1 KiB),
//! 64 threads × 1,000 keys stay within 32 MiB resident, and `profx::global().report()` over
//! them takes at most 20 ms.
//!
//! Run: `cargo bench -p profx-bench --bench keys`
//!
//! Each scenario runs in a child process of its own (this program again, with
//! `PROFX_BENCH_KEYS_SCENARIO` set), so that one scenario's memory is not counted in another's.
//! Memory is the resident set size (`VmRSS`) of the child.
//!
//! - `threads64`: 64 threads at once, each calling 1,000 phases whose names are only known at
//!   run time (`profx::phase(name)` guards, outside any execution: one key per name, under no
//!   agent), each 4 times, round-robin, around a short busy loop (50 to 225 iterations).
//! - `exec64`: the same inside executions of one agent (`Profiler::start_execution` and its
//!   `phase` guards): 4 executions per thread, each calling the 1,000 phases once; one key per
//!   (name, agent), plus the agent's own. `PROFX_MAX_PHASES=0`, so that the kept executions
//!   hold no phase records (their memory is not the keys').
//! - `waves2`: as `threads64`, with 2 threads alive at a time (32 waves): what threads that
//!   exited recorded must still be in the report.
//! - `interleave`: one thread, 1,000 agents sharing 10 phase names (manual executions and
//!   `phase` guards): ns per phase call when executions go agent by agent, and when they go
//!   round-robin over the agents, so that every phase call's key differs from the last one of
//!   its name (the lookup's slow path).
//! - `spread1`, `spread2`, `spread3`, `spread10`: one thread, 10,000 keys, 20 calls each; the
//!   c-th call of a key lasts about 1.2 x 2^(9 + c % N) clock ticks (a busy loop whose length
//!   is calibrated against the TSC first, aimed low in an octave since the phase adds its own
//!   time), so that each key's values fall in N octaves. Noise decides in the end: the octaves
//!   from each key's min to its max are printed, and the share of all calls in each octave. From
//!   spread1 to spread3, a least-squares line: bytes per key = fixed + per octave; spread10's
//!   excess over it is what leaving the first window (4 octaves) costs.
//!
//! Before measuring, the threads of `threads64`, `exec64` and `waves2` run the same loops once
//! without profx (the names are made before too), so that thread stacks and allocator arenas
//! are not counted as the keys' memory. The growth "with threads alive" is read while every
//! thread of the (last) wave has recorded and not exited yet: it includes what profx keeps per
//! thread until the thread exits (its cache of run-time names).
//!
//! Reads are timed after the memory is read: `report()` 11 times (wall time: median, min, max;
//! and the median CPU time of the reading thread, which other processes on a busy machine
//! disturb less), and `bottlenecks(100 ms)`; in `exec64` also `agent_metrics(agent)`. Every scenario checks that
//! the report holds each phase with every call made, and exits with an error otherwise.
//!
//! Environment: `PROFX_BENCH_KEYS_READS` (reads timed per function, default 11).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use profx::PhaseMetrics;
use profx_bench::{env_u64, median, mib, min, print_header, print_total_time, rss_bytes};

const SCENARIO_VAR: &str = "PROFX_BENCH_KEYS_SCENARIO";

/// Threads of the many-thread scenarios.
const THREADS: usize = 64;
/// Phase names each of them calls.
const NAMES: usize = 1_000;
/// Calls of each name on each thread.
const CALLS: usize = 4;
/// The agent of `exec64`.
const AGENT: &str = "keys-agent";

/// Keys of the spread scenarios (one thread).
const SPREAD_KEYS: usize = 10_000;
/// Calls of each of them.
const SPREAD_CALLS: usize = 20;

/// SPEC §10 targets.
const TARGET_RSS_64X1000: u64 = 32 << 20;
const TARGET_REPORT_MS: f64 = 20.0;
const TARGET_KEY_BYTES: f64 = 1024.0;

/// Thread stacks small enough that the C library keeps them all for reuse from one wave to
/// the next (its cache holds 40 MiB of stacks), so that they are not counted twice.
const STACK: usize = 256 << 10;

struct Scenario {
    name: &'static str,
    about: &'static str,
    /// Extra environment of the child.
    env: &'static [(&'static str, &'static str)],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "threads64",
        about: "64 threads at once x 1,000 run-time phase names (no agent) x 4 calls",
        env: &[],
    },
    Scenario {
        name: "exec64",
        about: "as threads64, inside 4 executions of one agent per thread (PROFX_MAX_PHASES=0)",
        env: &[("PROFX_MAX_PHASES", "0")],
    },
    Scenario {
        name: "waves2",
        about: "as threads64, 2 threads alive at a time (32 waves)",
        env: &[],
    },
    Scenario {
        name: "spread1",
        about: "1 thread x 10,000 keys x 20 calls, durations over ~1 octave",
        env: &[],
    },
    Scenario {
        name: "spread2",
        about: "1 thread x 10,000 keys x 20 calls, durations over ~2 octaves",
        env: &[],
    },
    Scenario {
        name: "spread3",
        about: "1 thread x 10,000 keys x 20 calls, durations over ~3 octaves",
        env: &[],
    },
    Scenario {
        name: "interleave",
        about: "1 thread, 1,000 agents sharing 10 phase names: executions agent by agent, then round-robin",
        env: &[],
    },
    Scenario {
        name: "spread10",
        about: "1 thread x 10,000 keys x 20 calls, durations over ~10 octaves",
        env: &[],
    },
];

// -------------------------------------------------------------------------------------------
// Bodies and measures.

/// A short body: `k` iterations that the compiler must keep.
#[inline(never)]
fn spin(k: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..k {
        acc = black_box(acc.wrapping_add(i));
    }
    acc
}

/// The body length of name `i`'s calls in the many-thread scenarios (50 to 225 iterations).
fn body_len(i: usize) -> u64 {
    50 + (i % 8) as u64 * 25
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key-{i}")).collect()
}

fn rss() -> u64 {
    rss_bytes().expect("VmRSS readable (Linux)")
}

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What `runs` calls of a read took, in milliseconds.
struct Timing {
    runs: u64,
    /// Wall time: median, min, max.
    wall: (f64, f64, f64),
    /// CPU time of the reading thread: median (less sensitive to other processes than the
    /// wall time on a busy machine).
    cpu: f64,
}

/// Calls `f` `runs` times (dropping each result inside the timing).
fn time_ms<T>(runs: u64, mut f: impl FnMut() -> T) -> Timing {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..runs.max(1) {
        let c = thread_cpu_ns();
        let t = Instant::now();
        black_box(f());
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        cpu.push(thread_cpu_ns().saturating_sub(c) as f64 / 1e6);
    }
    Timing {
        runs: runs.max(1),
        wall: (
            median(&wall),
            min(&wall),
            wall.iter().copied().fold(0.0, f64::max),
        ),
        cpu: median(&cpu),
    }
}

fn print_time(what: &str, t: &Timing) {
    let (med, lo, hi) = t.wall;
    println!(
        "  {what:<34} {med:>8.2} ms median of {} (min {lo:.2}, max {hi:.2}); CPU {:.2} ms median",
        t.runs, t.cpu
    );
}

fn verdict(holds: bool) -> &'static str {
    if holds {
        "holds"
    } else {
        "MISSED"
    }
}

/// Checks that `phases` holds exactly `names`, each with `calls` calls.
fn check_phases(
    what: &str,
    phases: &BTreeMap<String, PhaseMetrics>,
    names: &[String],
    calls: u64,
) -> Result<(), String> {
    if phases.len() != names.len() {
        return Err(format!(
            "{what}: {} phases, expected {}",
            phases.len(),
            names.len()
        ));
    }
    for n in names {
        match phases.get(n) {
            None => return Err(format!("{what}: phase {n:?} missing")),
            Some(p) if p.calls != calls => {
                return Err(format!(
                    "{what}: phase {n:?} has {} calls, expected {calls}",
                    p.calls
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn fail(msg: &str) -> ! {
    eprintln!("CHECK FAILED: {msg}");
    println!("  CHECK FAILED: {msg}");
    std::process::exit(2);
}

// -------------------------------------------------------------------------------------------
// The many-thread scenarios.

/// What one thread does: `CALLS` rounds over the names (inside executions of `AGENT` when
/// `exec`), with profx or (`record == false`) the same loops without it.
fn thread_work(names: &[String], exec: bool, record: bool) -> u64 {
    let mut acc = 0u64;
    for _ in 0..CALLS {
        if !record {
            for (i, _) in names.iter().enumerate() {
                acc ^= spin(body_len(i));
            }
        } else if exec {
            let mut ex = profx::global().start_execution(AGENT, "");
            for (i, n) in names.iter().enumerate() {
                let _p = ex.phase(n);
                acc ^= spin(body_len(i));
            }
            ex.end(());
        } else {
            for (i, n) in names.iter().enumerate() {
                let _p = profx::phase(n);
                acc ^= spin(body_len(i));
            }
        }
    }
    acc
}

/// Runs `THREADS` threads doing `thread_work`, `alive` at a time; the largest RSS read while
/// a wave's threads had all done their work and not exited.
fn waves(names: &[String], exec: bool, record: bool, alive: usize) -> u64 {
    let mut peak = 0;
    for _ in 0..THREADS / alive {
        let done = Barrier::new(alive + 1);
        let go = Barrier::new(alive + 1);
        std::thread::scope(|s| {
            for _ in 0..alive {
                let (done, go) = (&done, &go);
                std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn_scoped(s, move || {
                        black_box(thread_work(names, exec, record));
                        // A little allocation of the thread's own, as any thread makes.
                        black_box(format!("{}", black_box(7)));
                        done.wait();
                        go.wait();
                    })
                    .expect("thread starts");
            }
            done.wait();
            peak = peak.max(rss());
            go.wait();
        });
    }
    peak
}

fn many_threads(scenario: &str, exec: bool, alive: usize) {
    let names = names(NAMES);
    let calls = (THREADS * CALLS) as u64;
    let key_threads = (THREADS * NAMES) as f64;
    let _ = profx::global();
    // Threads, stacks and arenas first, without profx.
    waves(&names, exec, false, alive);
    let before = rss();
    let t = Instant::now();
    let alive_peak = waves(&names, exec, true, alive);
    let record_s = t.elapsed().as_secs_f64();
    let after = rss();
    let grow_alive = alive_peak.saturating_sub(before);
    let grow_after = after.saturating_sub(before);
    println!(
        "  {:<34} {:>8.2} MiB",
        "RSS before (threads warmed up)",
        mib(before)
    );
    println!(
        "  {:<34} {:>8.2} MiB  growth {:>7.2} MiB = {:>6.0} B per (key, thread)",
        format!("RSS, {alive} thread(s) alive"),
        mib(alive_peak),
        mib(grow_alive),
        grow_alive as f64 / key_threads
    );
    println!(
        "  {:<34} {:>8.2} MiB  growth {:>7.2} MiB = {:>6.0} B per (key, thread)",
        "RSS after every thread exited",
        mib(after),
        mib(grow_after),
        grow_after as f64 / key_threads
    );
    println!(
        "  ({} threads x {} names x {} calls recorded in {:.2} s)",
        THREADS, NAMES, CALLS, record_s
    );

    // The check, then the reads.
    let r = profx::global().report();
    if let Err(e) = check_phases("report().phases", &r.phases, &names, calls) {
        fail(&e);
    }
    let mut checked = format!("{NAMES} phases x {calls} calls in report()");
    if exec {
        match profx::global().agent_metrics(AGENT) {
            None => fail("agent_metrics: no agent"),
            Some(m) => {
                if m.total_executions != calls {
                    fail(&format!(
                        "agent_metrics: {} executions, expected {calls}",
                        m.total_executions
                    ));
                }
                if let Err(e) = check_phases("agent_metrics().phases", &m.phases, &names, calls) {
                    fail(&e);
                }
            }
        }
        checked.push_str(" and agent_metrics()");
    }
    drop(r);
    println!("  check: {checked}: ok");
    let runs = env_u64("PROFX_BENCH_KEYS_READS", 11);
    let report = time_ms(runs, || profx::global().report());
    print_time("report()", &report);
    print_time(
        "bottlenecks(100 ms)",
        &time_ms(runs, || {
            profx::global().bottlenecks(Duration::from_millis(100))
        }),
    );
    if exec {
        print_time(
            "agent_metrics(agent)",
            &time_ms(runs, || profx::global().agent_metrics(AGENT)),
        );
    }
    println!("  {:<34} {:>8.2} MiB (after the reads)", "RSS", mib(rss()));
    let worst = grow_alive.max(grow_after);
    println!(
        "SUMMARY {scenario:<9} growth {:>6.2} MiB ({:>4.0} B/key-thread) -> <= 32 MiB {}; report() median {:.2} ms (CPU {:.2}) -> <= 20 ms {}",
        mib(worst),
        worst as f64 / key_threads,
        verdict(worst <= TARGET_RSS_64X1000),
        report.wall.0,
        report.cpu,
        verdict(report.wall.0 <= TARGET_REPORT_MS),
    );
}

// -------------------------------------------------------------------------------------------
// The spread scenarios.

/// TSC ticks of one `spin(k)` on its own (no phase around it): the median of 21.
#[cfg(target_arch = "x86_64")]
fn spin_ticks(k: u64) -> u64 {
    let mut t: Vec<f64> = (0..21)
        .map(|_| {
            // SAFETY: rdtsc has no preconditions on x86_64.
            let a = unsafe { core::arch::x86_64::_rdtsc() };
            black_box(spin(black_box(k)));
            let b = unsafe { core::arch::x86_64::_rdtsc() };
            b.saturating_sub(a) as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2] as u64
}

/// TSC ticks per nanosecond (profx's clock is the TSC on x86_64 with an invariant TSC).
#[cfg(target_arch = "x86_64")]
fn ticks_per_ns() -> f64 {
    let t = Instant::now();
    // SAFETY: as above.
    let a = unsafe { core::arch::x86_64::_rdtsc() };
    std::thread::sleep(Duration::from_millis(20));
    let b = unsafe { core::arch::x86_64::_rdtsc() };
    (b - a) as f64 / t.elapsed().as_nanos() as f64
}

/// The octave (of clock ticks) of the shortest calls of the spread scenarios: 512 to 1,023
/// ticks (about 0.2 to 0.45 µs at 2.3 GHz).
const SPREAD_OCTAVE: u32 = 9;
/// Where in its octave a call's busy loop alone lands: 1.2 x 2^m ticks, low, because a phase
/// call lasts longer than its body (the clock reads, and the caches a round-robin over 10,000
/// keys finds cold), by 70 ticks or so.
const SPREAD_AIM: f64 = 1.2;

/// The busy-loop lengths of the `octaves` kinds of call: the j-th alone lasts about
/// `SPREAD_AIM` x 2^(`SPREAD_OCTAVE` + j) ticks.
#[cfg(target_arch = "x86_64")]
fn spread_lens(octaves: u32) -> Vec<u64> {
    let mut lens = Vec::new();
    let mut k = 8u64;
    for j in 0..octaves {
        let target = (SPREAD_AIM * (1u64 << (SPREAD_OCTAVE + j)) as f64) as u64;
        while spin_ticks(k) < target {
            k = k * 5 / 4 + 1;
        }
        // Down to the shortest length that reaches the target.
        let (mut lo, mut hi) = (k * 4 / 5, k);
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            if spin_ticks(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        k = hi;
        lens.push(k);
    }
    lens
}

#[cfg(not(target_arch = "x86_64"))]
fn spread_lens(octaves: u32) -> Vec<u64> {
    (0..octaves).map(|j| 128 << j).collect()
}

fn spread(scenario: &str, octaves: u32) {
    let names = names(SPREAD_KEYS);
    let _ = profx::global();
    let lens = spread_lens(octaves);
    #[cfg(target_arch = "x86_64")]
    let rate = ticks_per_ns();
    #[cfg(not(target_arch = "x86_64"))]
    let rate = f64::NAN;
    let before = rss();
    let t = Instant::now();
    let mut acc = 0u64;
    // Round-robin: every key's first call is the shortest, then longer ones.
    for c in 0..SPREAD_CALLS {
        let k = lens[c % lens.len()];
        for n in &names {
            let _p = profx::phase(n);
            acc ^= spin(k);
        }
    }
    black_box(acc);
    let record_s = t.elapsed().as_secs_f64();
    let after = rss();
    let growth = after.saturating_sub(before);
    let per_key = growth as f64 / SPREAD_KEYS as f64;

    let r = profx::global().report();
    if let Err(e) = check_phases("report().phases", &r.phases, &names, SPREAD_CALLS as u64) {
        fail(&e);
    }
    // The octaves (of clock ticks) from each key's shortest call to its longest: the octaves
    // its histogram has counters for, unless some in between were skipped.
    let octave = |d: Duration| (d.as_nanos() as f64 * rate).max(1.0).log2().floor() as i64;
    let mut spans: BTreeMap<i64, usize> = BTreeMap::new();
    let mut total = 0i64;
    for p in r.phases.values() {
        let n = octave(p.max_duration) - octave(p.min_duration) + 1;
        *spans.entry(n).or_default() += 1;
        total += n;
    }
    let mean_octaves = total as f64 / r.phases.len() as f64;
    // Every call by octave: the keys' histograms folded at the octaves' upper edges.
    let edges: Vec<u32> = (SPREAD_OCTAVE.saturating_sub(2)..SPREAD_OCTAVE + octaves + 2).collect();
    let bounds: Vec<Duration> = edges
        .iter()
        .map(|&m| Duration::from_nanos((((1u64 << (m + 1)) - 1) as f64 / rate) as u64))
        .collect();
    let mut cumulative = vec![0u64; bounds.len()];
    let mut all = 0u64;
    for h in profx::global().histograms(&bounds) {
        for (c, b) in cumulative.iter_mut().zip(&h.buckets) {
            *c += b;
        }
        all += h.count;
    }
    let mut by_octave = Vec::new();
    let mut below = 0;
    for (m, c) in edges.iter().zip(&cumulative) {
        if c > &below {
            by_octave.push(format!(
                "{m}: {:.1}%",
                (c - below) as f64 * 100.0 / all as f64
            ));
        }
        below = *c;
    }
    if all > below {
        by_octave.push(format!(
            "above: {:.1}%",
            (all - below) as f64 * 100.0 / all as f64
        ));
    }
    let shortest: Vec<f64> = r
        .phases
        .values()
        .map(|p| p.min_duration.as_nanos() as f64)
        .collect();
    drop(r);
    println!(
        "  {:<34} {:>8.2} MiB -> {:.2} MiB, growth {:.2} MiB = {:.0} B per key",
        "RSS before -> after",
        mib(before),
        mib(after),
        mib(growth),
        per_key
    );
    let lens_s: Vec<String> = lens.iter().map(|&k| format!("{k}")).collect();
    println!(
        "  busy loops of {} iterations (aimed at {SPREAD_AIM} x 2^({SPREAD_OCTAVE}+j) ticks; {:.2} ticks/ns); shortest call {:.0} ns (median over keys)",
        lens_s.join("/"),
        rate,
        median(&shortest)
    );
    let dist: Vec<String> = spans.iter().map(|(n, c)| format!("{n}: {c}")).collect();
    println!(
        "  octaves from min to max per key: mean {mean_octaves:.2}; keys by octaves {{{}}}",
        dist.join(", ")
    );
    println!(
        "  calls by octave of ticks (octave m: 2^m to 2^(m+1)-1) {{{}}}",
        by_octave.join(", ")
    );
    println!(
        "  ({} keys x {} calls recorded in {:.2} s)",
        SPREAD_KEYS, SPREAD_CALLS, record_s
    );
    println!("  check: {SPREAD_KEYS} phases x {SPREAD_CALLS} calls in report(): ok");
    let runs = env_u64("PROFX_BENCH_KEYS_READS", 11);
    print_time(
        "report() (10,000 keys)",
        &time_ms(runs, || profx::global().report()),
    );
    let target = if (2..=3).contains(&octaves) {
        format!(
            " -> under 1 KiB {} ({:.0}% of 1 KiB)",
            verdict(per_key < TARGET_KEY_BYTES),
            per_key * 100.0 / TARGET_KEY_BYTES
        )
    } else {
        String::new()
    };
    println!("FIT {octaves} {mean_octaves} {per_key}");
    println!(
        "SUMMARY {scenario:<9} {per_key:>5.0} B per key, {mean_octaves:.2} octaves per key{target}"
    );
}

/// The least-squares line `y = a + b x` through `points`: `(a, b)`.
fn fit_line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    if sxx == 0.0 {
        return None;
    }
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

// -------------------------------------------------------------------------------------------
// Phases shared by many agents.

/// 1,000 agents whose executions each run the same 10 phase names (a `#[phase]` called from
/// many agents): first 20 executions per agent, agent by agent, then 20 rounds of one execution
/// of every agent in turn, where each phase call's key differs from its name's previous one.
/// Prints ns per phase call for both orders (the slow path's cost shows in their ratio).
fn interleave() {
    const AGENTS: usize = 1_000;
    const PHASES: usize = 10;
    const RUNS: usize = 20;
    let agents: Vec<String> = (0..AGENTS).map(|a| format!("il-agent-{a:04}")).collect();
    let phases: Vec<String> = (0..PHASES).map(|p| format!("il-phase-{p:02}")).collect();
    let p = profx::global();
    let execution = |agent: &str| {
        let mut e = p.start_execution(agent, "");
        for ph in &phases {
            let _g = e.phase(ph);
            black_box(spin(20));
        }
        e.end(());
    };
    // Every key made first, so that both orders time the same lookups.
    for a in &agents {
        execution(a);
    }
    let t = Instant::now();
    for a in &agents {
        for _ in 0..RUNS {
            execution(a);
        }
    }
    let by_agent = t.elapsed().as_nanos() as f64 / (AGENTS * RUNS * PHASES) as f64;
    let t = Instant::now();
    for _ in 0..RUNS {
        for a in &agents {
            execution(a);
        }
    }
    let round_robin = t.elapsed().as_nanos() as f64 / (AGENTS * RUNS * PHASES) as f64;
    println!(
        "  ns per phase call (with its share of the execution): agent by agent {by_agent:.0}, round-robin {round_robin:.0} ({:.2}x)",
        round_robin / by_agent
    );
    let m = p.agent_metrics(&agents[AGENTS - 1]).unwrap_or_default();
    if m.total_executions != (1 + 2 * RUNS) as u64 {
        fail(&format!(
            "{} executions of the last agent, not {}",
            m.total_executions,
            1 + 2 * RUNS
        ));
    }
    println!(
        "SUMMARY interleave: {AGENTS} agents x {PHASES} shared phases, round-robin {:.2}x agent by agent",
        round_robin / by_agent
    );
}

fn child(name: &str) {
    match name {
        "threads64" => many_threads(name, false, THREADS),
        "exec64" => many_threads(name, true, THREADS),
        "waves2" => many_threads(name, false, 2),
        "spread1" => spread(name, 1),
        "spread2" => spread(name, 2),
        "spread3" => spread(name, 3),
        "spread10" => spread(name, 10),
        "interleave" => interleave(),
        other => fail(&format!("unknown scenario {other:?}")),
    }
}

fn main() {
    if let Ok(name) = std::env::var(SCENARIO_VAR) {
        child(&name);
        return;
    }
    let began = Instant::now();
    print_header("keys");
    println!(
        "Resident memory (VmRSS) of many (key, thread) slots and the time to read them; one child process per scenario."
    );
    println!(
        "  growth: RSS after recording minus RSS before (threads, names and arenas already made);"
    );
    println!(
        "  per (key, thread): growth / (threads x names), profx's whole cost of a key on a thread"
    );
    println!(
        "  (its slot, histogram octaves of 128 B, index entry, its thread's name cache, share of the name table);"
    );
    println!(
        "  reads: wall time of each call, median/min/max over the runs, and the median CPU time of the"
    );
    println!("  reading thread; after the memory was read.");
    println!(
        "Targets (SPEC §10): 64 threads x 1,000 keys <= 32 MiB; report() <= 20 ms; a key over 2-3 octaves well under 1 KiB."
    );
    let exe = std::env::current_exe().expect("own path");
    let mut summaries = Vec::new();
    let mut failed = Vec::new();
    // Spread scenarios: (octaves aimed at, octaves seen per key, bytes per key).
    let mut points: Vec<(f64, f64, f64)> = Vec::new();
    for s in SCENARIOS {
        println!();
        println!("[{}] {}", s.name, s.about);
        let t = Instant::now();
        let mut cmd = Command::new(&exe);
        cmd.env(SCENARIO_VAR, s.name);
        for (k, v) in s.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("child runs");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            if let Some(sum) = line.strip_prefix("SUMMARY ") {
                summaries.push(sum.to_owned());
            } else if let Some(fit) = line.strip_prefix("FIT ") {
                let v: Vec<f64> = fit.split(' ').filter_map(|x| x.parse().ok()).collect();
                if let [aim, o, b] = v[..] {
                    points.push((aim, o, b));
                }
            } else {
                println!("{line}");
            }
        }
        if !out.status.success() {
            println!(
                "  FAILED ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            failed.push(s.name);
        }
        println!("  ({:.1} s)", t.elapsed().as_secs_f64());
    }
    println!();
    println!("summary:");
    for s in &summaries {
        println!("  {s}");
    }
    // The line through the spreads that stay in a key's first window of 4 octaves; the others
    // against it.
    let inline: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.0 <= 3.0)
        .map(|p| (p.1, p.2))
        .collect();
    if let Some((fixed, per_octave)) = fit_line(&inline) {
        println!(
            "  spread    bytes per key ~ {fixed:.0} + {per_octave:.0} x octaves (least squares over spread1-3)"
        );
        for &(aim, o, b) in points.iter().filter(|p| p.0 > 3.0) {
            println!(
                "  spread{aim:<3} {b:.0} B per key = that line at {o:.2} octaves {:+.0} B",
                b - (fixed + per_octave * o)
            );
        }
    }
    print_total_time(began);
    if !failed.is_empty() {
        eprintln!("keys bench: scenarios failed: {}", failed.join(", "));
        std::process::exit(1);
    }
}
