//! Rendering a report over 10,000 (agent, phase) keys (SPEC §10: under 100 ms), and reading
//! that many keys out of a profiler (`Profiler::report`).
//!
//! `cargo bench -p profx-bench --bench render`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

use profx::{
    AggregateMetrics, ExecutionProfile, Percentiles, PhaseMetrics, PhaseProfile, Profiler, Report,
};

const AGENTS: usize = 100;
const PHASES: usize = 100;
const KEPT: usize = 20;

fn d(ns: u64) -> Duration {
    Duration::from_nanos(ns)
}

fn pct(base: u64) -> Percentiles {
    Percentiles {
        p50: d(base),
        p90: d(base * 2),
        p95: d(base * 3),
        p99: d(base * 5),
        p999: d(base * 9),
    }
}

/// A report of AGENTS agents with PHASES phases each, and KEPT executions per agent.
fn big_report() -> Report {
    let mut agents = BTreeMap::new();
    let mut phases = BTreeMap::new();
    let mut executions = BTreeMap::new();
    for a in 0..AGENTS {
        let name = format!("agent-{a:03}");
        let base = 1_000_000 + a as u64 * 10_000;
        let mut m = AggregateMetrics {
            total_executions: 1000 + a as u64,
            success_count: 990,
            failure_count: 10 + a as u64,
            cancelled_count: 0,
            avg_duration: d(base),
            self_duration: d(base * 100),
            busy_duration: d(base * 500),
            min_duration: d(base / 3),
            max_duration: d(base * 20),
            avg_memory: 0,
            percentiles: pct(base),
            phases: BTreeMap::new(),
            long_lived: false,
        };
        for p in 0..PHASES {
            let pm = PhaseMetrics {
                calls: 1000,
                failures: (p % 7) as u64,
                cancelled: (p % 5) as u64,
                total_duration: d(base * 10),
                self_duration: d(base * 10 - p as u64),
                busy_duration: d(base * 5),
                avg_duration: d(base / 100 + p as u64),
                min_duration: d(100),
                max_duration: d(base),
                percentiles: pct(base / 100),
            };
            phases.insert(format!("phase-{p:03}"), pm.clone());
            m.phases.insert(format!("phase-{p:03}"), pm);
        }
        agents.insert(name.clone(), m);
        let list = (0..KEPT)
            .map(|i| ExecutionProfile {
                id: format!("{name}-{i}"),
                agent: name.clone(),
                request: format!("request {i}"),
                start: UNIX_EPOCH + Duration::from_secs(1_760_000_000 + i as u64),
                duration: d(base + i as u64 * 1000),
                polls: 3,
                busy: d(base / 2),
                memory_allocated: 0,
                allocations: 0,
                thread_count: 4,
                success: i % 10 != 0,
                outcome: if i % 10 == 0 {
                    profx::Outcome::Failure
                } else {
                    profx::Outcome::Success
                },
                error: (i % 10 == 0).then(|| "failed".to_string()),
                phases: (0..20)
                    .map(|p| PhaseProfile {
                        name: format!("phase-{p:03}").into(),
                        start_offset: d(p * 1000),
                        duration: d(900),
                        depth: (p % 3) as u32,
                        outcome: profx::Outcome::Success,
                    })
                    .collect(),
                phases_dropped: 0,
                parent: None,
                traceparent: None,
                thread_id: 0,
                thread_name: None,
            })
            .collect();
        executions.insert(name, list);
    }
    Report::from_parts(agents, phases, executions)
}

fn median_ms(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..9 {
        let t = Instant::now();
        size = black_box(f());
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], size)
}

fn main() {
    let report = big_report();
    let keys: usize = report.agents.values().map(|a| a.phases.len()).sum();
    println!(
        "rendering a report of {} agents x {} phases = {keys} (agent, phase) keys, {} kept executions; median of 9 runs",
        AGENTS,
        PHASES,
        AGENTS * KEPT
    );
    println!("{:<12} {:>10} {:>12}", "format", "ms", "bytes");
    let mut worst: f64 = 0.0;
    type Writer = fn(&Report, &mut Vec<u8>) -> std::io::Result<()>;
    let writers: [(&str, Writer); 9] = [
        ("text", |r, w| r.write_text(w)),
        ("json", |r, w| r.write_json(w)),
        ("csv", |r, w| r.write_csv(w)),
        ("summary", |r, w| r.write_summary(w)),
        ("details", |r, w| r.write_details(w, "agent-050")),
        ("html", |r, w| r.write_html(w)),
        ("trace", |r, w| r.write_trace(w)),
        ("folded", |r, w| r.write_folded(w)),
        ("flamegraph", |r, w| r.write_flamegraph(w)),
    ];
    for (name, write) in writers {
        let (ms, size) = median_ms(|| {
            let mut out = Vec::with_capacity(1 << 20);
            write(&report, &mut out).expect("write");
            out.len()
        });
        worst = worst.max(ms);
        println!("{name:<12} {ms:>10.2} {size:>12}");
    }

    // Issue 15's figure: a trace of 1,000 kept executions (20 phases each), alone.
    let thousand: std::collections::BTreeMap<String, Vec<ExecutionProfile>> = report
        .executions
        .iter()
        .take(1000 / KEPT)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let n: usize = thousand.values().map(Vec::len).sum();
    let small = Report::from_parts(Default::default(), Default::default(), thousand);
    let (ms, size) = median_ms(|| {
        let mut out = Vec::with_capacity(1 << 20);
        small.write_trace(&mut out).expect("write");
        out.len()
    });
    println!("trace of {n} kept executions alone: {ms:.2} ms, {size} bytes");

    // The read side: a profiler holding 10,000 keys recorded on this thread.
    let p = Profiler::new(true);
    for a in 0..AGENTS {
        let mut ex = p.start_execution(&format!("agent-{a:03}"), "");
        for ph in 0..PHASES {
            ex.start_phase(&format!("phase-{ph:03}"));
            ex.end_phase();
        }
        ex.end(());
    }
    let (ms, n) = median_ms(|| p.report().agents.len());
    println!(
        "{:<12} {ms:>10.2} {n:>12}  (Profiler::report over {keys} live keys)",
        "report()"
    );
    println!(
        "SPEC §10: a report over 10,000 (agent, phase) keys renders in under 100 ms: slowest format {worst:.2} ms -> {}",
        if worst < 100.0 { "holds" } else { "missed" }
    );
}
