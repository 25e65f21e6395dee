//! Exact instruction counts of one profx call, from valgrind's callgrind.
//!
//! Run: `cargo bench -p profx-bench --bench instructions` (needs `valgrind` and
//! `callgrind_annotate` on the PATH; without them it says so and stops).
//!
//! The program runs itself under callgrind; each `drive_*` function makes `K` calls of one
//! kind, and the inclusive instruction count of each driver, divided by `K`, is printed next
//! to the same figure for the uninstrumented function. Instruction counts are exact and do not
//! depend on the machine's load; they are not cycles (a `rdtsc` counts as one instruction).
//!
//! The rows (e) are profx's peers, driven by the same child after profx's rows, each with
//! a collector that really records, set up as in the overhead bench
//! (`profx_bench::peers::start_peers_with`): hotpath (`#[hotpath::measure]`, its guard
//! live), fastrace (`#[fastrace::trace]`, calls in root spans of `CHUNK`, the counting
//! reporter set) and tracing (`#[tracing::instrument]`, the timing layer as the global
//! subscriber). After its drivers the child checks that each one recorded every call made
//! (it fails otherwise) and hands what they saw to the parent, which prints it under the
//! table. The counts are those of the calling thread; hotpath's worker and fastrace's
//! collector thread do the rest of their work outside every driver, and what that costs is
//! printed apart.
//!
//! So that the counts are the same from run to run, nothing the peers' threads do depends on
//! time: hotpath's worker and fastrace's collector take the calls at the end (when hotpath's
//! guard is dropped, when fastrace is flushed), not every 50 ms or 1 s. And glibc's memcpy and
//! memset are made not to use `rep movsb`/`rep stosb`, which valgrind counts one instruction
//! per byte (see `main`).

use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use fastrace::collector::Config;

use profx_bench::callgrind::{self, NoCounts};
use profx_bench::peers::{
    hotpath_entry, hotpath_report_path, start_peers_with, timing_layer, FASTRACE_NS,
    FASTRACE_ROOTS, FASTRACE_SPANS,
};
use profx_bench::workloads::{
    async_agent, async_agent_phase, async_plain, calls, in_pieces, poll_to_end, profx_chunk,
    two_phases, two_plain, work_fastrace, work_hotpath, work_plain, work_profx, work_tracing,
    CHUNK,
};

const K: u64 = 100_000;
const CHILD_VAR: &str = "PROFX_BENCH_UNDER_CALLGRIND";
/// Where the child writes what the peers recorded, for the parent to print.
const SEEN_VAR: &str = "PROFX_BENCH_PEERS_SEEN";
/// Warm-up calls of each peer's `work` made outside its driver, before it.
const WARM: u64 = 10;

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
fn drive_hotpath(k: u64) -> u64 {
    calls(0, k, work_hotpath)
}

/// `k` fastrace-traced calls, in root spans of `CHUNK` (fastrace records only under a root
/// span; the root is named `chunk`, which is how the counting reporter tells it apart).
fn fastrace_chunks(k: u64) -> u64 {
    use fastrace::prelude::*;
    in_pieces(0, k, CHUNK, |i, n| {
        let root = Span::root("chunk", SpanContext::random());
        let _parent = root.set_local_parent();
        calls(i, n, work_fastrace)
    })
}

#[inline(never)]
fn drive_fastrace(k: u64) -> u64 {
    fastrace_chunks(k)
}

#[inline(never)]
fn drive_tracing(k: u64) -> u64 {
    calls(0, k, work_tracing)
}

#[inline(never)]
fn drive_two_plain(k: u64) -> u64 {
    calls(0, k, two_plain)
}

#[inline(never)]
fn drive_two_phases(k: u64) -> u64 {
    calls(0, k, two_phases)
}

/// Executions that fill an agent's ring of kept executions (see `child`).
const RING: u64 = 1024;

/// Polls of each execution of the async drivers' `_many` cases (`_one`: one poll).
const POLLS: u32 = 11;

/// `k` async executions of `f`, each polled `polls` times.
fn async_calls<F: std::future::Future<Output = u32>>(k: u64, polls: u32, f: fn(u32) -> F) -> u64 {
    let mut acc = 0u64;
    for _ in 0..k {
        acc = acc.wrapping_add(u64::from(poll_to_end(f(black_box(polls - 1)))));
    }
    acc
}

#[inline(never)]
fn drive_async_plain_one(k: u64) -> u64 {
    async_calls(k, 1, async_plain)
}

#[inline(never)]
fn drive_async_plain_many(k: u64) -> u64 {
    async_calls(k, POLLS, async_plain)
}

#[inline(never)]
fn drive_async_agent_one(k: u64) -> u64 {
    async_calls(k, 1, async_agent)
}

#[inline(never)]
fn drive_async_agent_many(k: u64) -> u64 {
    async_calls(k, POLLS, async_agent)
}

#[inline(never)]
fn drive_async_phase_one(k: u64) -> u64 {
    async_calls(k, 1, async_agent_phase)
}

#[inline(never)]
fn drive_async_phase_many(k: u64) -> u64 {
    async_calls(k, POLLS, async_agent_phase)
}

/// Under callgrind: warm every path once (first-use registration) outside its driver, then
/// drive each case: profx and the uninstrumented baselines first, before any peer is set up
/// (no peer's thread or collector is there during profx's counts), then the peers, set up as
/// in the overhead bench; last, check what the peers recorded.
fn child() {
    // profx's steady state: each agent's ring of kept executions full (1,024 slots for the
    // default PROFX_MAX_EXECUTIONS of 1,000), so that every kept execution reuses the record
    // its publication evicted. Until then, each one allocates a record and grows its list of
    // phase records, which over the drivers' 100,000 calls would count as some instructions
    // per call that a long-running program pays only for its first 1,024 executions.
    black_box(chunks(RING * CHUNK));
    black_box(calls(0, WARM, work_profx));
    black_box(calls(0, RING, two_phases));
    black_box(drive_plain(K));
    black_box(drive_quanta_pair(K));
    black_box(drive_instant_pair(K));
    black_box(drive_profx_in_agent(K));
    black_box(drive_profx_no_agent(K));
    black_box(drive_profx_disabled(K));
    black_box(drive_two_plain(K));
    black_box(drive_two_phases(K));
    black_box(async_calls(RING, POLLS, async_agent_phase));
    black_box(async_calls(RING, POLLS, async_agent));
    black_box(drive_async_plain_one(K));
    black_box(drive_async_plain_many(K));
    black_box(drive_async_agent_one(K));
    black_box(drive_async_agent_many(K));
    black_box(drive_async_phase_one(K));
    black_box(drive_async_phase_many(K));

    // fastrace's collector thread takes the spans only when flushed (after the warm-up and
    // after the driver), not at a time of its own: the span buffers it frees are the calling
    // thread's, and where they are freed changes the calling thread's allocations, so the
    // counts would change from run to run. hotpath's worker likewise (the parent sets its
    // sweep interval beyond the run): it takes the calls when its guard is dropped.
    let hotpath_guard =
        start_peers_with(Config::default().report_interval(Duration::from_secs(3600)));
    black_box(calls(0, WARM, work_hotpath));
    black_box(fastrace_chunks(CHUNK));
    fastrace::flush();
    black_box(calls(0, WARM, work_tracing));
    black_box(drive_hotpath(K));
    black_box(drive_fastrace(K));
    black_box(drive_tracing(K));
    check_peers(hotpath_guard);
}

/// What each peer recorded against the calls made (warm-up included): written for the
/// parent to print. The child fails if a peer missed a call (or, for hotpath, did not time
/// it): its count would not be that of a peer that records.
fn check_peers(hotpath_guard: hotpath::HotpathGuard) {
    // fastrace hands what is pending to the reporter; hotpath's worker takes the calls and
    // writes its report when its guard is dropped.
    fastrace::flush();
    drop(hotpath_guard);
    let hotpath_report = std::fs::read_to_string(hotpath_report_path())
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
    let _ = std::fs::remove_file(hotpath_report_path());
    let entry = hotpath_report
        .as_ref()
        .and_then(|j| hotpath_entry(j, "work_hotpath"));
    let field = |name: &str| entry.and_then(|e| e.get(name));
    let hotpath_calls = field("calls").and_then(|v| v.as_u64());
    let hotpath_timed = field("sampled_calls").and_then(|v| v.as_u64());
    let hotpath_avg = field("avg").and_then(|v| v.as_str()).unwrap_or("?");
    let fastrace_spans = FASTRACE_SPANS.load(Relaxed);
    let fastrace_roots = FASTRACE_ROOTS.load(Relaxed);
    let fastrace_ns = FASTRACE_NS.load(Relaxed);
    let (tracing_spans, tracing_ns) = timing_layer::totals();

    let made = WARM + K;
    let made_fastrace = CHUNK + K;
    let made_roots = made_fastrace.div_ceil(CHUNK);
    let hotpath_ok = hotpath_calls == Some(made) && hotpath_timed == Some(made);
    let fastrace_ok = fastrace_spans == made_fastrace && fastrace_roots == made_roots;
    let tracing_ok = tracing_spans == made;
    let verdict = |ok: bool| if ok { "all recorded" } else { "MISSED" };
    let seen = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
    let mean = |ns: u64, n: u64| ns as f64 / n.max(1) as f64;
    let text = [
        format!(
            "hotpath  #[measure]           : made {made} / in its report {} calls, {} timed, avg {hotpath_avg} -> {}",
            seen(hotpath_calls),
            seen(hotpath_timed),
            verdict(hotpath_ok)
        ),
        format!(
            "fastrace #[trace]             : made {made_fastrace} in {made_roots} root spans / reported {fastrace_spans} spans (mean {:.0} ns) in {fastrace_roots} root spans -> {}",
            mean(fastrace_ns, fastrace_spans),
            verdict(fastrace_ok)
        ),
        format!(
            "tracing  #[instrument]+layer  : made {made} / recorded {tracing_spans} spans (mean {:.0} ns) -> {}",
            mean(tracing_ns, tracing_spans),
            verdict(tracing_ok)
        ),
    ]
    .join("\n");
    match std::env::var_os(SEEN_VAR) {
        Some(path) => std::fs::write(path, &text).expect("write what the peers recorded"),
        None => println!("{text}"),
    }
    assert!(
        hotpath_ok && fastrace_ok && tracing_ok,
        "a peer did not record every call, so its count is not that of a recording peer:\n{text}"
    );
}

/// What a row's overhead is measured from.
#[derive(Clone, Copy)]
enum Base {
    /// Shown as is (the clock pairs).
    None,
    /// Per call of `work`: overhead = it - (a).
    Plain,
    /// Per execution: overhead = it - (f0).
    TwoPlain,
}

/// One row of the table.
struct Row {
    driver: &'static str,
    what: &'static str,
    base: Base,
    /// The peer's name, for a peer's row.
    peer: Option<&'static str>,
}

const fn row(driver: &'static str, what: &'static str, base: Base) -> Row {
    Row {
        driver,
        what,
        base,
        peer: None,
    }
}

const fn peer(name: &'static str, driver: &'static str, what: &'static str) -> Row {
    Row {
        driver,
        what,
        base: Base::Plain,
        peer: Some(name),
    }
}

const ROWS: &[Row] = &[
    row("drive_plain", "(a) uninstrumented work()", Base::None),
    row(
        "drive_quanta_pair",
        "(b) quanta Clock::raw() pair",
        Base::None,
    ),
    row("drive_instant_pair", "(b') Instant::now() pair", Base::None),
    row(
        "drive_profx_in_agent",
        "(c) profx #[phase] in #[agent] (1000 per execution)",
        Base::Plain,
    ),
    row(
        "drive_profx_no_agent",
        "(c') profx #[phase], no agent",
        Base::Plain,
    ),
    row(
        "drive_profx_disabled",
        "(d) profx, run-time disabled",
        Base::Plain,
    ),
    peer("hotpath", "drive_hotpath", "(e) hotpath #[measure]"),
    peer(
        "fastrace",
        "drive_fastrace",
        "(e) fastrace #[trace] (1000 per root span)",
    ),
    peer(
        "tracing",
        "drive_tracing",
        "(e) tracing #[instrument] + timing layer",
    ),
    row(
        "drive_two_plain",
        "(f0) 2 plain calls, per execution",
        Base::None,
    ),
    row(
        "drive_two_phases",
        "(f) profx agent + 2 phases, per execution",
        Base::TwoPlain,
    ),
];

/// The child's environment, beyond `CHILD_VAR` (set by the parent, which runs no other
/// thread, before it starts the child).
fn set_child_environment(seen_file: &std::path::Path) {
    // Edition 2021: `set_var` is safe.
    std::env::set_var(SEEN_VAR, seen_file);
    // hotpath's worker sweeps the calls' queues when its guard is dropped, not every 50 ms
    // (see `child`). So the calling thread's queue grows by a chunk every 64 calls (some 3
    // instructions per call, in row (e) hotpath) where, swept, it would reuse its chunks.
    std::env::set_var("HOTPATH_DRAIN_INTERVAL_MS", "3600000");
    // valgrind counts every iteration of a `rep movsb` or `rep stosb` as one instruction, so
    // one per byte, and glibc's memcpy and memset take them above a few KiB: fastrace's span
    // buffers, copied as they grow, would count some 90 instructions per call for bytes the
    // processor moves by the tens in a cycle. The child's memcpy and memset use their vector
    // loops instead, which count about one instruction per 32 bytes.
    let no_rep = "glibc.cpu.x86_rep_movsb_threshold=0x7fffffffffffffff:\
                  glibc.cpu.x86_rep_stosb_threshold=0x7fffffffffffffff";
    let tunables = match std::env::var("GLIBC_TUNABLES") {
        Ok(t) if !t.is_empty() => format!("{t}:{no_rep}"),
        _ => no_rep.to_string(),
    };
    std::env::set_var("GLIBC_TUNABLES", tunables);
}

fn main() {
    if std::env::var_os(CHILD_VAR).is_some() {
        child();
        return;
    }
    let seen_file = std::env::temp_dir().join(format!(
        "profx-instructions-peers-{}.txt",
        std::process::id()
    ));
    set_child_environment(&seen_file);
    let run = callgrind::run_self(CHILD_VAR, "bench");
    let seen = std::fs::read_to_string(&seen_file);
    let _ = std::fs::remove_file(&seen_file);
    let text = match run {
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
    for r in ROWS {
        let Some(n) = inclusive(r.driver) else {
            println!("{:<52} {:>10}", r.what, "?");
            continue;
        };
        let base = match r.base {
            Base::None => None,
            Base::Plain => plain,
            Base::TwoPlain => plain_exec,
        };
        let over = base.map_or("-".into(), |b| format!("{:.1}", n - b));
        println!("{:<52} {n:>10.1} {over:>10}", r.what);
    }
    println!("(overhead = instructions - those of (a), or of (f0) for (f); the clock pairs are shown as is)");
    print_async(&inclusive);
    print_peers(&text, seen);
}

/// The async rows: an execution of one poll over the plain async function's, and what each
/// further poll adds over a further poll of the plain one (the busy-time accounting: two clock
/// readings and the poll's bookkeeping).
fn print_async(inclusive: &dyn Fn(&str) -> Option<f64>) {
    let n = |d: &str| inclusive(d);
    let (Some(p1), Some(pn), Some(a1), Some(an), Some(h1), Some(hn)) = (
        n("drive_async_plain_one"),
        n("drive_async_plain_many"),
        n("drive_async_agent_one"),
        n("drive_async_agent_many"),
        n("drive_async_phase_one"),
        n("drive_async_phase_many"),
    ) else {
        println!("(g) async rows: ?");
        return;
    };
    let more = f64::from(POLLS - 1);
    let plain_poll = (pn - p1) / more;
    println!(
        "{:<52} {p1:>10.1} {:>10}",
        "(g0) plain async fn, 1 poll, per execution", "-"
    );
    println!(
        "{:<52} {a1:>10.1} {:>10.1}",
        "(g) profx async #[agent], 1 poll, per execution",
        a1 - p1
    );
    println!(
        "{:<52} {:>10.1} {:>10.1}",
        "(g') each further poll of an async #[agent]",
        (an - a1) / more,
        (an - a1) / more - plain_poll
    );
    println!(
        "{:<52} {:>10.1} {:>10.1}",
        "(h') each further poll, async #[phase] in it",
        (hn - h1) / more,
        (hn - h1) / more - plain_poll
    );
    println!(
        "(g), (g'), (h'): polled by hand with a no-op waker, {POLLS} polls in the 'many' cases; a \
         further poll of the plain async fn costs {plain_poll:.1}; the overhead of (h') is the \
         agent's and the phase's together)"
    );
}

/// The line saying which rows are the peers', what each peer recorded (from the child), and
/// what its own threads did with the calls.
fn print_peers(text: &str, seen: std::io::Result<String>) {
    let peers: Vec<&str> = ROWS.iter().filter_map(|r| r.peer).collect();
    println!(
        "(the (e) rows are profx's peers: {}; each one records every call, in this same run; their counts are of the calling thread, like profx's)",
        peers.join(", ")
    );
    println!("what each peer recorded, checked by the child after its driver (durations as timed under valgrind):");
    match seen {
        Ok(seen) => seen.lines().for_each(|l| println!("  {l}")),
        Err(e) => println!("  ? (not read: {e})"),
    }
    // Inclusive counts of functions outside every driver, summed.
    let total = |names: &[(&str, &str)]| -> Option<u64> {
        names
            .iter()
            .map(|(module, function)| callgrind::inclusive(text, module, function))
            .sum()
    };
    let per_call = |n: Option<u64>, made: u64| {
        n.map_or("?".into(), |n| format!("{:.1}", n as f64 / made as f64))
    };
    let hotpath_worker = total(&[
        (
            "hotpath::lib_on::functions::timing::state",
            "process_measurement",
        ),
        ("hotpath_drain::EventQueueRegistry<M>", "sweep_inner"),
    ]);
    let collector = total(&[(
        "fastrace::collector::global_collector::GlobalCollector",
        "handle_commands",
    )]);
    let reporter = total(&[(
        "<profx_bench::peers::CountingReporter as fastrace::collector::global_collector::Reporter>",
        "report",
    )]);
    let fastrace_collector = collector.zip(reporter).map(|(c, r)| c.saturating_sub(r));
    println!("not in the rows, done by the peers' own threads, instructions per call recorded:");
    println!(
        "  hotpath's worker {} (queue sweeps and process_measurement); fastrace's collector {} (GlobalCollector::handle_commands, less the {} of this bench's counting reporter); tracing: none (its layer works on the calling thread)",
        per_call(hotpath_worker, WARM + K),
        per_call(fastrace_collector, CHUNK + K),
        per_call(reporter, CHUNK + K),
    );
}
