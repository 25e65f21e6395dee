//! The report's text formats on fixed data: golden files for the text, summary, details and CSV
//! outputs, a JSON round trip (the fixture and generated reports), and the CSV read back by a
//! real CSV reader.
//!
//! Golden files live in `tests/golden/`. When an output changes on purpose, rewrite them with
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test --test offline report_formats
//! ```
//!
//! and review the diff (`git diff tests/golden`) before committing it.
//!
//! These tests use only the data model, so they pass with and without `--features profx/enabled`.

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use profx::{
    AggregateMetrics, Bottleneck, BottleneckKind, ExecutionProfile, HumanDuration, MemoryKind,
    MemoryPoint, MemoryTrend, Outcome, Percentiles, PhaseMetrics, PhaseProfile, Report, Severity,
    SystemSummary, TrendDirection,
};
use proptest::prelude::*;

const CSV_HEADER: &str =
    "Agent,Total,Success,Failures,AvgDuration,MinDuration,MaxDuration,AvgMemory,P50,P90,P95,P99,Cancelled,SelfDuration,BusyDuration";

/// Compares `actual` with `tests/golden/{name}.txt`, or rewrites that file when `UPDATE_GOLDEN`
/// is set.
fn golden(name: &str, actual: &str) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "golden",
        &format!("{name}.txt"),
    ]
    .iter()
    .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0" && !v.is_empty()) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {}: {e}\n(run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "output differs from {} (first at line {}; rerun with UPDATE_GOLDEN=1 if the change \
             is intended)\n--- expected ---\n{expected}\n--- actual ---\n{actual}",
            path.display(),
            first + 1
        );
    }
}

fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).expect("writing to a Vec does not fail");
    String::from_utf8(out).expect("reports are UTF-8")
}

fn empty_report() -> Report {
    let mut r = Report::empty();
    r.generated_at = common::at(0);
    r
}

#[test]
fn text_report_matches_its_golden_file() {
    let r = common::fixture();
    let text = render(|w| r.write_text(w));
    // The source document's layout.
    assert!(text
        .starts_with("Performance Report\n=================\n\nGenerated: 2025-10-15T10:31:00Z\n"));
    assert!(text.contains("\nAgent Metrics\n-------------\n\nAgent: codebase-analyzer\n"));
    assert!(text.contains("  Success: 49 (98.0%)\n"));
    golden("text", &text);
}

#[test]
fn text_report_says_when_memory_was_not_measured() {
    let mut r = common::fixture();
    r.memory_measured = false;
    r.system = None; // its sizes are in MiB
    let text = render(|w| r.write_text(w));
    assert!(text.contains("Overall Avg Memory: not measured\n"));
    assert!(text.contains("  Avg Memory: not measured\n"));
    assert!(!text.contains("MiB"), "{text}");
}

#[test]
fn text_report_shows_system_metrics_when_collected() {
    let mut r = common::fixture();
    // A summary as older reports saved it: the averages only.
    r.system = Some(SystemSummary {
        samples: 12,
        avg_resident_bytes: 48 * 1024 * 1024,
        avg_virtual_bytes: 3 * 1024 * 1024 * 1024,
        avg_cpu_percent: 37.25,
        avg_threads: 9.5,
        ..SystemSummary::default()
    });
    let text = render(|w| r.write_text(w));
    let system = &text[text.find("\nSystem\n------\n").expect("a System section")..];
    assert!(system.contains("  Samples: 12\n"));
    assert!(system.contains("  Avg Resident Memory: 48.0 MiB\n"));
    assert!(system.contains("  Avg Virtual Memory: 3.00 GiB\n"));
    assert!(
        system.contains("  Avg CPU: 37.2% of one core\n")
            || system.contains("  Avg CPU: 37.3% of one core\n")
    );
    assert!(system.contains("  Avg Threads: 9.5\n"));
    assert!(!system.contains("Trend"), "{system}");
    assert!(!system.contains("Heap"), "{system}");
}

#[test]
fn system_section_and_memory_growth_warning() {
    let r = common::fixture();
    let text = render(|w| r.write_text(w));
    let system = &text[text.find("\nSystem\n------\n").expect("a System section")..];
    assert!(
        system.contains("  Samples: 61 (every 1s, over 60s)\n"),
        "{system}"
    );
    assert!(
        system.contains("  Avg CPU: 35.0% of one core\n"),
        "{system}"
    );
    assert!(system.contains("  Avg Threads: 9.0 (max 10)\n"), "{system}");
    assert!(
        system.contains(
            "  Memory Trend: increasing at +1.2 MiB/s (live heap: 12.0 MiB → 87.0 MiB over 60s)\n"
        ),
        "{system}"
    );
    assert!(
        system.contains("  Warning: live heap grows at 1.2 MiB/s (the alert is from 1.0 MiB/s): a possible leak\n"),
        "{system}"
    );

    let summary = render(|w| r.write_summary(w));
    assert!(
        summary.contains("\n⚠️  Memory growing at +1.2 MiB/s (live heap: 12.0 MiB → 87.0 MiB over 60s): possible leak\n"),
        "{summary}"
    );
    // A steady process: a System line, no warning.
    let mut steady = r.clone();
    let mut snaps = common::snapshots();
    for s in &mut snaps {
        s.heap_live_bytes = 12 << 20;
    }
    steady.system = SystemSummary::from_snapshots(&snaps, Duration::from_secs(1));
    let summary = render(|w| steady.write_summary(w));
    assert!(summary.contains("| Memory: stable\n"), "{summary}");
    assert!(!summary.contains("Memory growing"), "{summary}");
    // Without executions the system lines still show.
    let mut empty = empty_report();
    empty.system = r.system.clone();
    let summary = render(|w| empty.write_summary(w));
    assert!(
        summary.contains("No executions recorded.\nSystem: "),
        "{summary}"
    );
    assert!(summary.contains("Memory growing"), "{summary}");
}

#[test]
fn summary_matches_its_golden_file() {
    let r = common::fixture();
    let summary = render(|w| r.write_summary(w));
    let mut lines = summary.lines();
    assert_eq!(lines.next(), Some("=== Performance Summary ==="));
    assert_eq!(
        lines.next(),
        Some(
            format!(
                "Executions: 155 | Avg Duration: {} | Success Rate: {:.1}% | Cancelled: 1",
                HumanDuration(r.overall_avg_duration),
                r.overall_success_rate
            )
            .as_str()
        )
    );
    assert_eq!(lines.next(), Some("⚠️  2 bottleneck(s) detected"));
    golden("summary", &summary);
}

#[test]
fn summary_names_only_the_three_most_severe_bottlenecks() {
    let mut r = common::fixture();
    let b = |agent: &str, severity| Bottleneck {
        agent: agent.into(),
        phase: None,
        kind: BottleneckKind::SlowExecution,
        severity,
        avg_duration: Duration::from_millis(120),
        p99: Duration::from_millis(130),
        threshold: Duration::from_millis(100),
    };
    // Out of order on purpose: a report read back from a file may come in any order.
    r.bottlenecks = vec![
        b("low-1", Severity::Low),
        b("crit-1", Severity::Critical),
        b("med-1", Severity::Medium),
        b("high-1", Severity::High),
        b("low-2", Severity::Low),
    ];
    let summary = render(|w| r.write_summary(w));
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines[2], "⚠️  5 bottleneck(s) detected");
    assert!(lines[3].starts_with("  [critical] crit-1: "), "{summary}");
    assert!(lines[4].starts_with("  [high] high-1: "), "{summary}");
    assert!(lines[5].starts_with("  [medium] med-1: "), "{summary}");
    assert_eq!(lines[6], "  … and 2 more (see the text report)");
    // Then the fixture's system line and its memory-growth warning.
    assert!(lines[7].starts_with("System: "), "{summary}");
    assert!(lines[8].starts_with("⚠️  Memory growing at "), "{summary}");
    assert_eq!(lines.len(), 9, "{summary}");
}

#[test]
fn details_match_their_golden_files() {
    let r = common::fixture();
    for agent in ["codebase-locator", "codebase-analyzer"] {
        let details = render(|w| r.write_details(w, agent));
        let title = format!("Execution Details: {agent}");
        let mut lines = details.lines();
        assert_eq!(lines.next(), Some(title.as_str()));
        assert_eq!(lines.next(), Some("=".repeat(title.len()).as_str()));
        golden(&format!("details_{agent}"), &details);
    }
}

#[test]
fn details_show_the_failed_execution_and_dropped_phases() {
    let r = common::fixture();
    let details = render(|w| r.write_details(w, "codebase-locator"));
    let failed = &details[details.find("Execution ID: codebase-locator-18").unwrap()..];
    assert!(failed.contains("  Success: false\n  Error: parse error: unexpected token\n"));
    assert!(failed.contains("    … 2 more phase records not kept (PROFX_MAX_PHASES)\n"));
    // Nested phases are indented by their depth.
    assert!(details.contains("    - parse: 12ms\n      - tokenize: 4ms\n"));
}

#[test]
fn details_of_an_unknown_agent_name_the_known_ones() {
    let r = common::fixture();
    let details = render(|w| r.write_details(w, "nobody"));
    assert!(
        details.contains(
            "No executions kept for agent \"nobody\"; agents with executions: \
             codebase-analyzer, codebase-locator\n"
        ),
        "{details}"
    );
    let none = render(|w| empty_report().write_details(w, "nobody"));
    assert!(none.contains("No executions kept for agent \"nobody\"; no agent has kept executions."));
}

#[test]
fn details_say_when_memory_was_not_measured() {
    let mut r = common::fixture();
    r.memory_measured = false;
    let details = render(|w| r.write_details(w, "codebase-analyzer"));
    assert!(details.contains("  Memory: not measured\n  Allocations: not measured\n"));
}

#[test]
fn empty_report_matches_its_golden_files() {
    let r = empty_report();
    let text = render(|w| r.write_text(w));
    assert!(text.contains("No executions recorded"));
    golden("empty_text", &text);
    let summary = render(|w| r.write_summary(w));
    assert!(summary.contains("No executions recorded"));
    golden("empty_summary", &summary);
    assert_eq!(render(|w| r.write_csv(w)), format!("{CSV_HEADER}\n"));
}

#[test]
fn details_name_the_execution_an_execution_ran_inside() {
    let mut r = common::fixture();
    let e = r.executions.get_mut("codebase-analyzer").unwrap();
    e[0].parent = Some("codebase-locator-17".into());
    let first = e[0].id.clone();
    let details = render(|w| r.write_details(w, "codebase-analyzer"));
    let id = format!("Execution ID: {first}\n  Inside: codebase-locator-17\n");
    assert!(details.contains(&id), "{details}");
    assert_eq!(details.matches("  Inside: ").count(), 1, "{details}");
}

#[test]
fn a_report_of_phases_without_executions_has_no_rate() {
    // Phases run outside any execution, no agent: nothing to take a rate or an average of.
    let mut phases = BTreeMap::new();
    phases.insert(
        "loose".to_string(),
        profx::PhaseMetrics {
            calls: 3,
            ..Default::default()
        },
    );
    let r = Report::from_parts(BTreeMap::new(), phases, BTreeMap::new());
    let summary = render(|w| r.write_summary(w));
    assert!(
        summary.contains("Executions: 0 | Avg Duration: n/a | Success Rate: n/a\n"),
        "{summary}"
    );
    assert!(!summary.contains("0.0%"), "{summary}");
}

#[test]
fn csv_matches_its_golden_file() {
    let r = common::fixture();
    golden("csv", &render(|w| r.write_csv(w)));
}

#[test]
fn csv_reads_back_with_a_real_csv_reader() {
    let r = common::fixture();
    let csv_text = render(|w| r.write_csv(w));
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header.join(","), CSV_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), r.agents.len());
    for (row, (name, a)) in rows.iter().zip(&r.agents) {
        assert_eq!(row.len(), 15);
        assert_eq!(&row[0], name.as_str());
        assert_eq!(row[1].parse::<u64>().unwrap(), a.total_executions);
        assert_eq!(row[2].parse::<u64>().unwrap(), a.success_count);
        assert_eq!(row[3].parse::<u64>().unwrap(), a.failure_count);
        assert_eq!(&row[4], HumanDuration(a.avg_duration).to_string());
        assert_eq!(&row[5], HumanDuration(a.min_duration).to_string());
        assert_eq!(&row[6], HumanDuration(a.max_duration).to_string());
        assert_eq!(row[7].parse::<u64>().unwrap(), a.avg_memory);
        assert_eq!(&row[8], HumanDuration(a.percentiles.p50).to_string());
        assert_eq!(&row[9], HumanDuration(a.percentiles.p90).to_string());
        assert_eq!(&row[10], HumanDuration(a.percentiles.p95).to_string());
        assert_eq!(&row[11], HumanDuration(a.percentiles.p99).to_string());
        assert_eq!(row[12].parse::<u64>().unwrap(), a.cancelled_count);
        assert_eq!(&row[13], HumanDuration(a.self_duration).to_string());
        assert_eq!(&row[14], HumanDuration(a.busy_duration).to_string());
        // Every execution is one of the three outcomes.
        assert_eq!(
            a.success_count + a.failure_count + a.cancelled_count,
            a.total_executions
        );
    }
    // The agent whose name needs quoting comes back intact.
    assert!(rows.iter().any(|row| &row[0] == "report, \"final\" writer"));
    assert!(csv_text.contains("\n\"report, \"\"final\"\" writer\",5,2,2,"));
    // The source document's line, character for character, then the cancelled count and the
    // self and busy times.
    assert!(csv_text.contains(
        "\ncodebase-locator,50,49,1,42ms,28ms,156ms,1887436,40ms,65ms,88ms,145ms,0,750ms,1.1s\n"
    ));
}

#[test]
fn csv_leaves_memory_empty_when_not_measured() {
    let mut r = common::fixture();
    r.memory_measured = false;
    let csv_text = render(|w| r.write_csv(w));
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    for row in reader.records() {
        assert_eq!(&row.unwrap()[7], "");
    }
}

/// Why an `f64` (a success rate, a CPU share) may come back one ULP off.
const FLOATS: &str = "the JSON report must read back exactly: serde_json parses floats exactly \
                      only with its `float_roundtrip` feature";

#[test]
fn json_round_trips_the_fixture() {
    let r = common::fixture();
    let json = render(|w| r.write_json(w));
    assert!(json.ends_with("}\n"));
    // Durations are integer nanoseconds.
    assert!(json.contains("\"overall_avg_duration\": "));
    assert!(json.contains("\"avg_duration\": 42000000,"));
    let back: Report = serde_json::from_reader(json.as_bytes()).unwrap();
    assert_eq!(back, r, "{FLOATS}");
    // And what was read back renders the same.
    assert_eq!(render(|w| back.write_text(w)), render(|w| r.write_text(w)));
}

// ---- generated reports ----

/// Names of every kind: plain, with commas, quotes and newlines, and any Unicode.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_-]{0,15}",
        "[a-z ,\"\r\n'-]{0,12}",
        "\\PC{0,10}",
        any::<String>(),
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    any::<u64>().prop_map(Duration::from_nanos)
}

/// From 1970 to the end of year 9999, with nanoseconds.
fn time() -> impl Strategy<Value = SystemTime> {
    (0u64..253_402_300_800, 0u32..1_000_000_000).prop_map(|(s, n)| UNIX_EPOCH + Duration::new(s, n))
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..=100.0f64,
        any::<f64>().prop_filter("finite", |f| f.is_finite())
    ]
}

fn percentiles() -> impl Strategy<Value = Percentiles> {
    (duration(), duration(), duration(), duration(), duration()).prop_map(
        |(p50, p90, p95, p99, p999)| Percentiles {
            p50,
            p90,
            p95,
            p99,
            p999,
        },
    )
}

fn phase_metrics() -> impl Strategy<Value = PhaseMetrics> {
    (
        (any::<u64>(), any::<u64>(), any::<u64>()),
        duration(),
        duration(),
        duration(),
        duration(),
        percentiles(),
    )
        .prop_map(
            |((calls, failures, cancelled), total, avg, min, max, percentiles)| PhaseMetrics {
                calls,
                failures,
                cancelled,
                total_duration: total,
                self_duration: total / 2,
                busy_duration: total / 2,
                avg_duration: avg,
                min_duration: min,
                max_duration: max,
                percentiles,
            },
        )
}

fn aggregate() -> impl Strategy<Value = AggregateMetrics> {
    (
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        (duration(), duration(), duration()),
        (any::<u64>(), any::<bool>()),
        percentiles(),
        prop::collection::btree_map(name(), phase_metrics(), 0..4),
    )
        .prop_map(
            |(
                (total, ok, failed, cancelled),
                (avg, min, max),
                (memory, long_lived),
                percentiles,
                phases,
            )| {
                AggregateMetrics {
                    total_executions: total,
                    success_count: ok,
                    failure_count: failed,
                    cancelled_count: cancelled,
                    avg_duration: avg,
                    self_duration: min,
                    busy_duration: min,
                    min_duration: min,
                    max_duration: max,
                    avg_memory: memory,
                    percentiles,
                    phases,
                    long_lived,
                }
            },
        )
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Failure),
        Just(Outcome::Cancelled)
    ]
}

fn execution() -> impl Strategy<Value = ExecutionProfile> {
    let phase = (name(), duration(), duration(), any::<u32>(), outcome()).prop_map(
        |(name, start_offset, duration, depth, outcome)| PhaseProfile {
            name: name.into(),
            start_offset,
            duration,
            depth,
            outcome,
        },
    );
    (
        (name(), name(), name(), time(), duration()),
        (any::<u64>(), any::<u64>(), any::<u64>(), outcome()),
        proptest::option::of(name()),
        prop::collection::vec(phase, 0..4),
        (
            any::<u64>(),
            proptest::option::of(name()),
            (
                any::<u64>(),
                proptest::option::of(name()),
                proptest::option::of(name()),
            ),
        ),
    )
        .prop_map(
            |(
                (id, agent, request, start, duration),
                (memory_allocated, allocations, thread_count, outcome),
                error,
                phases,
                (phases_dropped, parent, (thread_id, thread_name, traceparent)),
            )| ExecutionProfile {
                id,
                agent,
                request,
                start,
                duration,
                polls: 1 + allocations % 7,
                busy: duration / 3,
                memory_allocated,
                allocations,
                thread_count,
                success: outcome == Outcome::Success,
                outcome,
                error,
                phases,
                phases_dropped,
                parent,
                traceparent,
                thread_id,
                thread_name,
            },
        )
}

fn bottleneck() -> impl Strategy<Value = Bottleneck> {
    (
        name(),
        proptest::option::of(name()),
        prop_oneof![
            Just(BottleneckKind::SlowExecution),
            Just(BottleneckKind::HighVariance)
        ],
        prop_oneof![
            Just(Severity::Low),
            Just(Severity::Medium),
            Just(Severity::High),
            Just(Severity::Critical)
        ],
        (duration(), duration(), duration()),
    )
        .prop_map(
            |(agent, phase, kind, severity, (avg_duration, p99, threshold))| Bottleneck {
                agent,
                phase,
                kind,
                severity,
                avg_duration,
                p99,
                threshold,
            },
        )
}

fn trend() -> impl Strategy<Value = MemoryTrend> {
    (
        prop_oneof![
            Just(TrendDirection::Increasing),
            Just(TrendDirection::Decreasing),
            Just(TrendDirection::Stable)
        ],
        float(),
        any::<u64>(),
        any::<u64>(),
        prop_oneof![Just(MemoryKind::Resident), Just(MemoryKind::HeapLive)],
        duration(),
        any::<u64>(),
    )
        .prop_map(
            |(direction, rate_bytes_per_sec, start_bytes, end_bytes, memory, span, samples)| {
                MemoryTrend {
                    direction,
                    rate_bytes_per_sec,
                    start_bytes,
                    end_bytes,
                    memory,
                    span,
                    samples,
                }
            },
        )
}

fn system() -> impl Strategy<Value = SystemSummary> {
    (
        (any::<u64>(), any::<u64>(), any::<u64>(), float(), float()),
        (duration(), proptest::option::of(time()), duration()),
        (
            any::<u64>(),
            any::<u64>(),
            any::<bool>(),
            any::<u64>(),
            any::<u64>(),
        ),
        (any::<u64>(), any::<u64>(), proptest::option::of(trend())),
        prop::collection::vec((duration(), any::<u64>(), any::<u64>(), any::<u64>()), 0..4),
    )
        .prop_map(
            |(
                (samples, avg_resident_bytes, avg_virtual_bytes, avg_cpu_percent, avg_threads),
                (interval, started, duration),
                (peak_resident_bytes, max_threads, heap_measured, avg_heap, peak_heap),
                (allocated_bytes, allocations, trend),
                series,
            )| SystemSummary {
                samples,
                avg_resident_bytes,
                avg_virtual_bytes,
                avg_cpu_percent,
                avg_threads,
                interval,
                started,
                duration,
                peak_resident_bytes,
                max_threads,
                heap_measured,
                avg_heap_live_bytes: avg_heap,
                peak_heap_live_bytes: peak_heap,
                allocated_bytes,
                allocations,
                trend,
                series: series
                    .into_iter()
                    .map(
                        |(offset, resident_bytes, heap_live_bytes, threads)| MemoryPoint {
                            offset,
                            resident_bytes,
                            heap_live_bytes,
                            threads,
                        },
                    )
                    .collect(),
            },
        )
}

fn report() -> impl Strategy<Value = Report> {
    (
        (any::<u32>(), time(), any::<u64>(), duration(), any::<u64>()),
        (any::<bool>(), float(), duration()),
        prop::collection::btree_map(name(), aggregate(), 0..4),
        prop::collection::btree_map(name(), phase_metrics(), 0..4),
        proptest::option::of(system()),
        prop::collection::vec(bottleneck(), 0..4),
        prop::collection::btree_map(name(), prop::collection::vec(execution(), 0..3), 0..3),
    )
        .prop_map(
            |(
                (schema_version, generated_at, total, avg, memory),
                (memory_measured, success_rate, bottleneck_threshold),
                agents,
                phases,
                system,
                bottlenecks,
                executions,
            )| Report {
                schema_version,
                generated_at,
                total_executions: total,
                overall_avg_duration: avg,
                overall_avg_memory: memory,
                memory_measured,
                overall_success_rate: success_rate,
                agents,
                phases,
                system,
                bottlenecks,
                bottleneck_threshold,
                executions,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_round_trips_any_report(r in report()) {
        let json = render(|w| r.write_json(w));
        prop_assert!(json.ends_with('\n'));
        let back: Report = serde_json::from_reader(json.as_bytes()).unwrap();
        prop_assert_eq!(back, r, "{}", FLOATS);
    }

    #[test]
    fn csv_names_read_back_intact(names in prop::collection::btree_set(name(), 0..6)) {
        let mut r = common::fixture();
        r.agents = names
            .iter()
            .map(|n| (n.clone(), AggregateMetrics::default()))
            .collect::<BTreeMap<_, _>>();
        let csv_text = render(|w| r.write_csv(w));
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        prop_assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>().join(","), CSV_HEADER);
        let back: Vec<String> = reader
            .records()
            .map(|row| row.unwrap()[0].to_string())
            .collect();
        prop_assert_eq!(back, names.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn every_writer_handles_any_report(r in report(), agent in name()) {
        render(|w| r.write_text(w));
        render(|w| r.write_summary(w));
        render(|w| r.write_csv(w));
        let known = r.executions.keys().next().cloned().unwrap_or_default();
        render(|w| r.write_details(w, &known));
        render(|w| r.write_details(w, &agent));
    }
}

#[test]
fn an_agent_whose_executions_were_all_cancelled_has_no_success_rate() {
    let mut agents = BTreeMap::new();
    agents.insert(
        "subscribe".to_string(),
        AggregateMetrics {
            total_executions: 4,
            cancelled_count: 4,
            avg_duration: Duration::from_millis(5),
            ..Default::default()
        },
    );
    let r = Report::from_parts(agents, BTreeMap::new(), BTreeMap::new());
    assert_eq!(r.overall_success_rate_checked(), None);
    let text = render(|w| r.write_text(w));
    assert!(text.contains("  Success: 0 (n/a)\n"), "{text}");
    assert!(text.contains("  Cancelled: 4\n"), "{text}");
    assert!(text.contains("Overall Success Rate: n/a\n"), "{text}");
    let summary = render(|w| r.write_summary(w));
    assert!(
        summary.contains("Success Rate: n/a | Cancelled: 4"),
        "{summary}"
    );
    assert!(!summary.contains("0.0%"), "{summary}");
    let csv = render(|w| r.write_csv(w));
    assert!(csv.contains("\nsubscribe,4,0,0,"), "{csv}");
    // Self time 0; busy time not known (none recorded): empty.
    assert!(csv.ends_with(",4,0ns,\n"), "{csv}");
}

#[test]
fn long_lived_agents_are_left_out_of_the_overall_average_and_say_so() {
    let mut agents = BTreeMap::new();
    agents.insert(
        "connection".to_string(),
        AggregateMetrics {
            total_executions: 2,
            success_count: 2,
            avg_duration: Duration::from_secs(40),
            long_lived: true,
            ..Default::default()
        },
    );
    agents.insert(
        "get".to_string(),
        AggregateMetrics {
            total_executions: 100,
            success_count: 100,
            avg_duration: Duration::from_micros(8),
            ..Default::default()
        },
    );
    let r = Report::from_parts(agents, BTreeMap::new(), BTreeMap::new());
    assert_eq!(r.overall_avg_duration, Duration::from_micros(8));
    assert_eq!(r.total_executions, 102);
    assert!(r.bottlenecks.is_empty(), "{:?}", r.bottlenecks);
    let text = render(|w| r.write_text(w));
    assert!(
        text.contains("Overall Avg Duration: 8µs (long-lived agents left out: connection)\n"),
        "{text}"
    );
    assert!(text.contains("Agent: connection (long-lived)\n"), "{text}");
    // JSON says it, and reads back.
    let json = render(|w| r.write_json(w));
    let back: Report = serde_json::from_str(&json).unwrap();
    assert!(back.agents["connection"].long_lived && !back.agents["get"].long_lived);
}

#[test]
fn a_report_written_before_outcomes_reads_back() {
    // Before outcomes: no `outcome`, no `cancelled_count`/`cancelled`; a cancelled execution
    // was `success: false` with the error "cancelled".
    let mut r = common::fixture();
    let e = &mut r.executions.get_mut("codebase-analyzer").unwrap()[0];
    e.success = false;
    e.outcome = Outcome::Cancelled;
    e.error = Some("cancelled".into());
    let mut json: serde_json::Value = serde_json::from_str(&render(|w| r.write_json(w))).unwrap();
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("outcome");
                m.remove("cancelled_count");
                m.remove("cancelled");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut json);
    assert!(!json.to_string().contains("outcome"));
    let back: Report = serde_json::from_value(json).unwrap();
    let outcomes: Vec<Outcome> = back
        .executions
        .values()
        .flatten()
        .map(|e| e.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [Outcome::Cancelled, Outcome::Success, Outcome::Failure]
    );
    assert_eq!(back.agents["report, \"final\" writer"].cancelled_count, 0);
}
