//! The endpoints of the server: health, metrics (Prometheus and JSON), debug stats and build.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::{Response, StatusCode};

use super::reply::{blocking, json, text, with_type, Body};
use super::State;

pub(super) async fn health(query: &str, state: &State) -> Response<Body> {
    let timeout = match health_timeout(query, state) {
        Ok(t) => t,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    let report = match blocking(move || crate::health::run(timeout)).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let status = if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &report)
}

/// The `timeout` of `/health?timeout=500ms`: a duration up to the request timeout (less a
/// margin to answer in). Other parameters are ignored.
fn health_timeout(query: &str, state: &State) -> Result<Duration, String> {
    let limit = state.request_timeout.mul_f64(0.8);
    let mut timeout = state.health_timeout.min(limit);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "timeout" {
            continue;
        }
        timeout = humantime::parse_duration(value)
            .ok()
            .filter(|d| !d.is_zero() && *d <= limit)
            .ok_or_else(|| {
                format!(
                    "bad timeout {value:?}: expected a duration such as 500ms or 2s, at most {}\n",
                    humantime::format_duration(limit)
                )
            })?;
    }
    Ok(timeout)
}

pub(super) async fn prometheus_metrics() -> Response<Body> {
    match blocking(crate::prometheus::render).await {
        Ok(body) => with_type(StatusCode::OK, crate::prometheus::CONTENT_TYPE, body),
        Err(response) => response,
    }
}

pub(super) async fn json_metrics() -> Response<Body> {
    match blocking(api_metrics).await {
        Ok(value) => json(StatusCode::OK, &value),
        Err(response) => response,
    }
}

/// The custom metrics, the process figures under their `/metrics` names
/// (`process_resident_memory_bytes`, `process_threads`, `profx_uptime_seconds`,
/// `profx_heap_live_bytes`, …), and per agent `profx_agent_executions_total`,
/// `profx_agent_failures_total` (counters), `profx_agent_success_rate_percent` and
/// `profx_agent_duration_seconds_{mean,p50,p95,p99}` (gauges) labelled `{agent}`, and per phase
/// `profx_phase_calls_total`, `profx_phase_failures_total` (counters) and
/// `profx_phase_duration_seconds_{mean,p95}` (gauges) labelled `{agent, phase}`.
fn api_metrics() -> serde_json::Value {
    use serde_json::{json, Value};
    let mut out = match crate::metrics::to_json(&crate::metrics::snapshot()) {
        Value::Array(a) => a,
        _ => Vec::new(),
    };
    for m in crate::collector::process::process_metrics() {
        out.push(json!({
            "name": m.name,
            "labels": {},
            "kind": if m.counter { "counter" } else { "gauge" },
            "value": m.value,
        }));
    }
    let report = crate::global().report();
    for (agent, m) in &report.agents {
        let rate = if m.total_executions == 0 {
            100.0
        } else {
            m.success_count as f64 * 100.0 / m.total_executions as f64
        };
        let p = &m.percentiles;
        let entries: [(&str, &str, Value); 7] = [
            ("executions_total", "counter", m.total_executions.into()),
            ("failures_total", "counter", m.failure_count.into()),
            ("success_rate_percent", "gauge", rate.into()),
            (
                "duration_seconds_mean",
                "gauge",
                m.avg_duration.as_secs_f64().into(),
            ),
            ("duration_seconds_p50", "gauge", p.p50.as_secs_f64().into()),
            ("duration_seconds_p95", "gauge", p.p95.as_secs_f64().into()),
            ("duration_seconds_p99", "gauge", p.p99.as_secs_f64().into()),
        ];
        for (suffix, kind, value) in entries {
            out.push(json!({
                "name": format!("profx_agent_{suffix}"),
                "labels": { "agent": agent },
                "kind": kind,
                "value": value,
            }));
        }
        for (phase, pm) in &m.phases {
            let entries: [(&str, &str, Value); 4] = [
                ("calls_total", "counter", pm.calls.into()),
                ("failures_total", "counter", pm.failures.into()),
                (
                    "duration_seconds_mean",
                    "gauge",
                    pm.avg_duration.as_secs_f64().into(),
                ),
                (
                    "duration_seconds_p95",
                    "gauge",
                    pm.percentiles.p95.as_secs_f64().into(),
                ),
            ];
            for (suffix, kind, value) in entries {
                out.push(json!({
                    "name": format!("profx_phase_{suffix}"),
                    "labels": { "agent": agent, "phase": phase },
                    "kind": kind,
                    "value": value,
                }));
            }
        }
    }
    Value::Array(out)
}

/// Runtime statistics: uptime, threads, CPU time, memory (resident and virtual; the live heap
/// when `CountingAlloc` counts, else `null`), what was recorded, and the server's connections.
pub(super) async fn stats(state: &State) -> Response<Body> {
    let uptime = state.started.elapsed();
    let served = state.served.load(Ordering::Relaxed);
    let open = state.open.load(Ordering::Relaxed);
    let stats = blocking(move || {
        let report = crate::global().report();
        let executions: u64 = report.agents.values().map(|m| m.total_executions).sum();
        let process = crate::collector::process::process_metrics();
        let figure = |name: &str| process.iter().find(|m| m.name == name).map(|m| m.value);
        let mib = |b: Option<f64>| b.map(|b| (b / (1024.0 * 1024.0) * 100.0).round() / 100.0);
        let heap = figure("profx_heap_live_bytes");
        serde_json::json!({
            "uptime_seconds": uptime.as_secs_f64(),
            "threads": figure("process_threads"),
            "cpu_seconds": figure("process_cpu_seconds_total"),
            "open_fds": figure("process_open_fds"),
            "memory": {
                "resident_bytes": figure("process_resident_memory_bytes"),
                "resident_mb": mib(figure("process_resident_memory_bytes")),
                "virtual_bytes": figure("process_virtual_memory_bytes"),
                "heap_live_bytes": heap,
                "heap_live_mb": mib(heap),
                "heap_allocated_total_bytes": figure("profx_allocated_bytes_total"),
            },
            "executions_recorded": executions,
            "agents": report.agents.len(),
            "phases": report.phases.len(),
            "connections": { "served": served, "open": open },
        })
    })
    .await;
    match stats {
        Ok(value) => json(StatusCode::OK, &value),
        Err(response) => response,
    }
}

pub(super) async fn dashboard_feed(state: &State) -> Response<Body> {
    let uptime = state.started.elapsed();
    match blocking(move || super::dashboard::feed::feed(uptime)).await {
        Ok(value) => json(StatusCode::OK, &value),
        Err(response) => response,
    }
}

/// A snapshot of this process now (`None` without the `enabled` feature).
pub(super) fn process_sample() -> Option<crate::SystemSnapshot> {
    crate::collector::process::process_snapshot().map(|(s, _start)| s)
}

pub(super) fn build_info() -> serde_json::Value {
    let features: Vec<&str> = [
        ("enabled", cfg!(feature = "enabled")),
        ("alloc", cfg!(feature = "alloc")),
        ("server", cfg!(feature = "server")),
        ("pprof", cfg!(feature = "pprof")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let rustc = env!("PROFX_BUILD_RUSTC");
    serde_json::json!({
        "crate": "profx",
        "version": env!("CARGO_PKG_VERSION"),
        "features": features,
        "target": env!("PROFX_BUILD_TARGET"),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "rustc": if rustc.is_empty() { None } else { Some(rustc) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize};
    use std::time::Instant;

    #[test]
    fn health_timeout_query() {
        let state = State {
            token: None,
            max_connections: 1,
            request_timeout: Duration::from_secs(10),
            health_timeout: Duration::from_secs(2),
            started: Instant::now(),
            served: AtomicU64::new(0),
            open: AtomicUsize::new(0),
        };
        assert_eq!(health_timeout("", &state), Ok(Duration::from_secs(2)));
        assert_eq!(
            health_timeout("x=1&timeout=500ms", &state),
            Ok(Duration::from_millis(500))
        );
        assert!(health_timeout("timeout=abc", &state).is_err());
        assert!(health_timeout("timeout=1h", &state).is_err());
        assert!(health_timeout("timeout=0s", &state).is_err());
    }
}
