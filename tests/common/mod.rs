//! A report built from fixed data, for the tests of the report formats.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use profx::{
    AggregateMetrics, Bottleneck, BottleneckKind, ExecutionProfile, Outcome, Percentiles,
    PhaseMetrics, PhaseProfile, Report, Severity, SystemSnapshot, SystemSummary,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// 2025-10-15T10:30:00Z plus `secs`.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_760_524_200 + secs)
}

fn pct(p50: Duration, p90: Duration, p95: Duration, p99: Duration, p999: Duration) -> Percentiles {
    Percentiles {
        p50,
        p90,
        p95,
        p99,
        p999,
    }
}

fn phase_metrics(
    calls: u64,
    failures: u64,
    avg: Duration,
    min: Duration,
    max: Duration,
) -> PhaseMetrics {
    PhaseMetrics {
        calls,
        failures,
        cancelled: 0,
        total_duration: avg * calls as u32,
        // No phase nested in it (the fixture sets those that have some).
        self_duration: avg * calls as u32,
        // Sync: busy throughout (the fixture sets the async ones).
        busy_duration: avg * calls as u32,
        avg_duration: avg,
        min_duration: min,
        max_duration: max,
        percentiles: pct(
            avg,
            avg + (max - avg) / 2,
            avg + (max - avg) * 3 / 4,
            max,
            max,
        ),
    }
}

fn phase(name: &str, offset: Duration, duration: Duration, depth: u32) -> PhaseProfile {
    PhaseProfile {
        name: name.to_string().into(),
        start_offset: offset,
        duration,
        depth,
        outcome: Outcome::Success,
    }
}

/// The fixed report: the source document's two agents, one whose name needs CSV quoting, a
/// phase outside any agent, failures, nested phases and bottlenecks.
pub fn fixture() -> Report {
    let mut agents = BTreeMap::new();
    let mut locator = AggregateMetrics {
        total_executions: 50,
        success_count: 49,
        failure_count: 1,
        cancelled_count: 0,
        // Its time less its top-level phases'.
        self_duration: ms(750),
        // Async: working 1.1 s of its 2.1 s.
        busy_duration: ms(1100),
        avg_duration: ms(42),
        min_duration: ms(28),
        max_duration: ms(156),
        avg_memory: 1_887_436,
        percentiles: pct(ms(40), ms(65), ms(88), ms(145), ms(156)),
        phases: BTreeMap::new(),
        long_lived: false,
    };
    locator
        .phases
        .insert("search".into(), phase_metrics(50, 0, ms(15), ms(9), ms(60)));
    locator
        .phases
        .insert("parse".into(), phase_metrics(50, 1, ms(12), ms(8), ms(70)));
    locator
        .phases
        .insert("tokenize".into(), phase_metrics(50, 0, ms(4), ms(2), ms(9)));
    // `tokenize` runs inside `parse`.
    locator.phases.get_mut("parse").unwrap().self_duration = ms(400);
    // `search` is async: working 250 ms of its 750.
    locator.phases.get_mut("search").unwrap().busy_duration = ms(250);
    agents.insert("codebase-locator".to_string(), locator);

    let mut analyzer = AggregateMetrics {
        total_executions: 100,
        success_count: 99,
        failure_count: 1,
        cancelled_count: 0,
        // Its time less its top-level phases'.
        self_duration: ms(1300),
        busy_duration: ms(4800),
        avg_duration: ms(48),
        min_duration: ms(30),
        max_duration: ms(200),
        avg_memory: 2_985_216,
        percentiles: pct(ms(45), ms(75), ms(95), ms(180), ms(200)),
        phases: BTreeMap::new(),
        long_lived: false,
    };
    analyzer.phases.insert(
        "file_discovery".into(),
        phase_metrics(100, 0, ms(15), ms(10), ms(40)),
    );
    analyzer.phases.insert(
        "analysis".into(),
        phase_metrics(100, 1, ms(20), ms(12), ms(150)),
    );
    agents.insert("codebase-analyzer".to_string(), analyzer);

    let mut odd = AggregateMetrics {
        total_executions: 5,
        success_count: 2,
        failure_count: 2,
        cancelled_count: 1,
        // Its time less its top-level phases'.
        self_duration: ms(1600),
        busy_duration: ms(2100),
        avg_duration: ms(420),
        min_duration: ms(390),
        max_duration: ms(460),
        avg_memory: 0,
        percentiles: pct(ms(410), ms(450), ms(455), ms(460), ms(460)),
        phases: BTreeMap::new(),
        long_lived: false,
    };
    let mut flush = phase_metrics(5, 1, ms(100), ms(80), ms(130));
    flush.cancelled = 1;
    odd.phases.insert("flush".into(), flush);
    agents.insert("report, \"final\" writer".to_string(), odd);

    let mut phases = BTreeMap::new();
    for a in agents.values() {
        for (name, p) in &a.phases {
            phases.insert(name.clone(), p.clone());
        }
    }
    phases.insert(
        "warmup".into(),
        phase_metrics(3, 0, us(850), us(700), us(990)),
    );

    let mut executions = BTreeMap::new();
    executions.insert(
        "codebase-locator".to_string(),
        vec![
            ExecutionProfile {
                id: "codebase-locator-17".into(),
                agent: "codebase-locator".into(),
                request: "Find main.go".into(),
                start: at(0),
                duration: ms(42),
                polls: 3,
                busy: ms(20),
                memory_allocated: 1_887_436,
                allocations: 312,
                thread_count: 8,
                success: true,
                outcome: Outcome::Success,
                error: None,
                phases: vec![
                    phase("search", ms(0), ms(15), 0),
                    phase("parse", ms(15), ms(12), 0),
                    phase("tokenize", ms(16), ms(4), 1),
                ],
                phases_dropped: 0,
                parent: None,
                traceparent: None,
                thread_id: 0,
                thread_name: None,
            },
            ExecutionProfile {
                id: "codebase-locator-18".into(),
                agent: "codebase-locator".into(),
                request: "Find lib.rs".into(),
                start: at(1),
                duration: ms(156),
                polls: 5,
                busy: ms(80),
                memory_allocated: 2_100_000,
                allocations: 400,
                thread_count: 8,
                success: false,
                outcome: Outcome::Failure,
                error: Some("parse error: unexpected token".into()),
                phases: vec![
                    phase("search", ms(0), ms(60), 0),
                    PhaseProfile {
                        outcome: Outcome::Failure,
                        ..phase("parse", ms(60), ms(70), 0)
                    },
                ],
                phases_dropped: 2,
                parent: None,
                traceparent: None,
                thread_id: 0,
                thread_name: None,
            },
        ],
    );
    executions.insert(
        "codebase-analyzer".to_string(),
        vec![ExecutionProfile {
            id: "codebase-analyzer-3".into(),
            agent: "codebase-analyzer".into(),
            request: "Analyze src/".into(),
            start: at(2),
            duration: ms(48),
            polls: 1,
            busy: ms(48),
            memory_allocated: 2_985_216,
            allocations: 1_024,
            thread_count: 9,
            success: true,
            outcome: Outcome::Success,
            error: None,
            phases: vec![
                phase("file_discovery", ms(0), ms(15), 0),
                phase("analysis", ms(15), ms(20), 0),
            ],
            phases_dropped: 0,
            parent: None,
            traceparent: None,
            thread_id: 0,
            thread_name: None,
        }],
    );

    let mut r = Report::from_parts(agents, phases, executions);
    r.generated_at = at(60);
    r.memory_measured = true;
    r.system = Some(system());
    r.bottlenecks = vec![
        Bottleneck {
            agent: "report, \"final\" writer".into(),
            phase: None,
            kind: BottleneckKind::SlowExecution,
            severity: Severity::Critical,
            avg_duration: ms(420),
            p99: ms(460),
            threshold: ms(100),
        },
        Bottleneck {
            agent: "codebase-analyzer".into(),
            phase: Some("analysis".into()),
            kind: BottleneckKind::HighVariance,
            severity: Severity::Medium,
            avg_duration: ms(20),
            p99: ms(150),
            threshold: ms(100),
        },
    ];
    r
}

const MIB: u64 = 1024 * 1024;

/// A minute of snapshots, one a second: resident memory around 40 MiB and rising by about
/// 1.5 MiB/s with some jitter, the live heap rising by 1.25 MiB/s (a leak the summary warns
/// about), 35% CPU, 8 to 10 threads.
pub fn snapshots() -> Vec<SystemSnapshot> {
    (0..=60u64)
        .map(|i| {
            let jitter = [0, 300, -200, 100, -400, 250][i as usize % 6] * 1024;
            SystemSnapshot {
                timestamp: at(i),
                resident_bytes: (40 * MIB as i64 + (3 * MIB * i / 2) as i64 + jitter) as u64,
                virtual_bytes: 1200 * MIB + i * MIB,
                cpu_percent: if i == 0 { 0.0 } else { 35.0 },
                cpu_time: ms(350 * i),
                threads: 8 + i % 3,
                heap_measured: true,
                heap_live_bytes: 12 * MIB + 5 * MIB * i / 4,
                allocated_total_bytes: 100 * MIB + 6 * MIB * i,
                allocations: 5_000 + 1_234 * i,
                deallocations: 4_000 + 1_000 * i,
            }
        })
        .collect()
}

/// The fixture's system metrics: [`snapshots`] summarized.
pub fn system() -> SystemSummary {
    SystemSummary::from_snapshots(&snapshots(), Duration::from_secs(1)).unwrap()
}
