//! `GET /api/dashboard`: what the dashboard draws, as one JSON object. Durations are in seconds
//! (floating point), memory in bytes, times in seconds since the Unix epoch.
//!
//! ```text
//! {
//!   "uptime_seconds": 12.5,            // since the server started (the page's clock for rates)
//!   "time": 1760000000.25,             // now, Unix seconds
//!   "totals": { "executions", "successes", "failures", "cancelled",
//!               "success_rate_percent" (null: none completed) },
//!   "agents": [ { "name", "executions", "successes", "failures", "cancelled",
//!                 "success_rate_percent" (null: none completed), "avg_seconds", "p50_seconds",
//!                 "p90_seconds", "p95_seconds", "p99_seconds", "max_seconds",
//!                 "total_seconds" (executions x average), "self_seconds" (the executions' own
//!                 time: less their top-level phases), "busy_percent" (their time spent
//!                 working, inside an async agent's polls; 100 for a sync one),
//!                 "phases": [ { "name", "calls", "failures", "cancelled", "avg_seconds",
//!                               "p95_seconds", "p99_seconds", "total_seconds",
//!                               "self_seconds", "busy_percent" } ] } ],
//!                                        // agents by name, phases by self time
//!   "process": { "resident_bytes", "threads", "heap_live_bytes" },    // null: not known
//!   "bottlenecks": [ { "agent", "phase" (null: the agent itself), "kind", "severity",
//!                      "avg_seconds", "p99_seconds", "threshold_seconds", "message" } ],
//!   "history": { "running": bool, "interval_seconds",
//!                "points": [ { "time", "resident_bytes", "threads", "heap_live_bytes" } ] }
//! }
//! ```
//!
//! `history` holds the last [`HISTORY_POINTS`] snapshots of the global
//! [`MetricsCollector`](profx_runtime::MetricsCollector) (empty when none was taken), so that a page
//! opened late starts with a memory plot. Bottlenecks are the profiler's, most severe first.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use profx_runtime::{AggregateMetrics, Bottleneck, BottleneckKind, HumanDuration};

/// The most collector snapshots in `history`.
pub(crate) const HISTORY_POINTS: usize = 300;

/// The feed, `uptime` after the server started. Reads every key's aggregates: call it on the blocking
/// pool.
pub(crate) fn feed(uptime: Duration) -> Value {
    // The aggregates only: the kept executions are not read.
    let read = profx_runtime::__subsystem::read();
    json!({
        "uptime_seconds": uptime.as_secs_f64(),
        "time": unix_seconds(SystemTime::now()),
        "totals": totals(&read.agents),
        "agents": agents(&read.agents),
        "process": process(),
        "bottlenecks": bottlenecks(&read.bottlenecks(profx_runtime::global().bottleneck_threshold())),
        "history": history(),
    })
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Successes over completed (succeeded or failed) executions, in percent.
fn rate(successes: u64, failures: u64) -> Option<f64> {
    let completed = successes + failures;
    (completed > 0).then(|| successes as f64 * 100.0 / completed as f64)
}

fn totals(agents: &BTreeMap<String, AggregateMetrics>) -> Value {
    let (mut executions, mut successes, mut failures, mut cancelled) = (0u64, 0u64, 0u64, 0u64);
    for m in agents.values() {
        executions += m.total_executions;
        successes += m.success_count;
        failures += m.failure_count;
        cancelled += m.cancelled_count;
    }
    json!({
        "executions": executions,
        "successes": successes,
        "failures": failures,
        "cancelled": cancelled,
        "success_rate_percent": rate(successes, failures),
    })
}

fn agents(agents: &BTreeMap<String, AggregateMetrics>) -> Value {
    agents
        .iter()
        .map(|(name, m)| {
            let p = &m.percentiles;
            json!({
                "name": name,
                "executions": m.total_executions,
                "successes": m.success_count,
                "failures": m.failure_count,
                "cancelled": m.cancelled_count,
                "long_lived": m.long_lived,
                "success_rate_percent": m.success_rate_checked(),
                "avg_seconds": m.avg_duration.as_secs_f64(),
                "p50_seconds": p.p50.as_secs_f64(),
                "p90_seconds": p.p90.as_secs_f64(),
                "p95_seconds": p.p95.as_secs_f64(),
                "p99_seconds": p.p99.as_secs_f64(),
                "max_seconds": m.max_duration.as_secs_f64(),
                "total_seconds": m.avg_duration.as_secs_f64() * m.total_executions as f64,
                "self_seconds": m.self_duration.as_secs_f64(),
                "busy_percent": m.busy_share(),
                "phases": phases(m),
            })
        })
        .collect()
}

/// An agent's phases, the most self time first: where its time is spent.
fn phases(m: &AggregateMetrics) -> Value {
    let mut v: Vec<_> = m.phases.iter().collect();
    v.sort_by(|x, y| {
        (y.1.self_duration, y.1.total_duration)
            .cmp(&(x.1.self_duration, x.1.total_duration))
            .then_with(|| x.0.cmp(y.0))
    });
    v.into_iter()
        .map(|(name, p)| {
            json!({
                "name": name,
                "calls": p.calls,
                "failures": p.failures,
                "cancelled": p.cancelled,
                "avg_seconds": p.avg_duration.as_secs_f64(),
                "p95_seconds": p.percentiles.p95.as_secs_f64(),
                "p99_seconds": p.percentiles.p99.as_secs_f64(),
                "total_seconds": p.total_duration.as_secs_f64(),
                "self_seconds": p.self_duration.as_secs_f64(),
                "busy_percent": p.busy_share(),
            })
        })
        .collect()
}

fn process() -> Value {
    // A snapshot of this process now (`None` without the `enabled` feature).
    let s = profx_runtime::__subsystem::process_snapshot().map(|(s, _start)| s);
    let resident = s.as_ref().map(|s| s.resident_bytes).filter(|&b| b > 0);
    let threads = s.as_ref().map(|s| s.threads).filter(|&t| t > 0);
    let heap = s
        .as_ref()
        .filter(|s| s.heap_measured)
        .map(|s| s.heap_live_bytes);
    json!({ "resident_bytes": resident, "threads": threads, "heap_live_bytes": heap })
}

fn bottlenecks(found: &[Bottleneck]) -> Value {
    let mut sorted: Vec<&Bottleneck> = found.iter().collect();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.severity));
    sorted
        .into_iter()
        .map(|b| {
            json!({
                "agent": b.agent,
                "phase": b.phase,
                "kind": b.kind.to_string(),
                "severity": b.severity.to_string(),
                "avg_seconds": b.avg_duration.as_secs_f64(),
                "p99_seconds": b.p99.as_secs_f64(),
                "threshold_seconds": b.threshold.as_secs_f64(),
                "message": message(b),
            })
        })
        .collect()
}

/// What the HTML report says of a bottleneck.
fn message(b: &Bottleneck) -> String {
    let ratio = |d: Duration| {
        if b.threshold.is_zero() {
            f64::INFINITY
        } else {
            d.as_secs_f64() / b.threshold.as_secs_f64()
        }
    };
    let hd = HumanDuration;
    match b.kind {
        BottleneckKind::SlowExecution => format!(
            "slow: avg {} is {:.1}× the {} threshold (p99 {})",
            hd(b.avg_duration),
            ratio(b.avg_duration),
            hd(b.threshold),
            hd(b.p99)
        ),
        BottleneckKind::HighVariance => format!(
            "erratic: p99 {} against avg {} ({:.1}× the {} threshold)",
            hd(b.p99),
            hd(b.avg_duration),
            ratio(b.p99),
            hd(b.threshold)
        ),
    }
}

fn history() -> Value {
    let collector = profx_runtime::global_collector();
    let snapshots = collector.snapshots();
    let skip = snapshots.len().saturating_sub(HISTORY_POINTS);
    let points: Vec<Value> = snapshots[skip..]
        .iter()
        .map(|s| {
            json!({
                "time": unix_seconds(s.timestamp),
                "resident_bytes": Some(s.resident_bytes).filter(|&b| b > 0),
                "threads": Some(s.threads).filter(|&t| t > 0),
                "heap_live_bytes": s.heap_measured.then_some(s.heap_live_bytes),
            })
        })
        .collect();
    json!({
        "running": collector.is_running(),
        "interval_seconds": collector.interval().as_secs_f64(),
        "points": points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use profx_runtime::Severity;

    #[test]
    fn bottleneck_messages() {
        let mut b = Bottleneck {
            agent: "a".into(),
            phase: None,
            kind: BottleneckKind::SlowExecution,
            severity: Severity::Critical,
            avg_duration: Duration::from_millis(350),
            p99: Duration::from_millis(400),
            threshold: Duration::from_millis(100),
        };
        assert_eq!(
            message(&b),
            format!(
                "slow: avg {} is 3.5× the {} threshold (p99 {})",
                HumanDuration(Duration::from_millis(350)),
                HumanDuration(Duration::from_millis(100)),
                HumanDuration(Duration::from_millis(400))
            )
        );
        b.kind = BottleneckKind::HighVariance;
        assert!(message(&b).starts_with("erratic: p99 "), "{}", message(&b));
        let low = Bottleneck {
            severity: Severity::Low,
            ..b.clone()
        };
        let v = bottlenecks(&[low, b]);
        assert_eq!(v[0]["severity"], "critical");
        assert_eq!(v[1]["severity"], "low");
        assert_eq!(v[0]["kind"], "high_variance");
        assert_eq!(v[0]["phase"], Value::Null);
        assert_eq!(v[0]["p99_seconds"], 0.4);
    }

    #[test]
    fn rates_need_completed_executions() {
        assert_eq!(rate(0, 0), None);
        // Three successes and one failure (cancellations are not passed in).
        assert_eq!(rate(3, 1), Some(75.0));
    }
}
