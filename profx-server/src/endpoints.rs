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
    let report = match blocking(move || profx_runtime::health::run(timeout)).await {
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
    for (key, value) in super::query::pairs(query) {
        if key != "timeout" {
            continue;
        }
        timeout = humantime::parse_duration(&value)
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
    match blocking(profx_runtime::prometheus::render).await {
        Ok(body) => with_type(
            StatusCode::OK,
            profx_runtime::prometheus::CONTENT_TYPE,
            body,
        ),
        Err(response) => response,
    }
}

/// The whole live report as JSON, as `PROFX_REPORT=json:…` writes it at exit and `profx
/// report` / `profx diff` read it (kept executions included: `profx diff` tests its changes
/// on them). It takes no parameter.
pub(super) async fn json_report(query: &str) -> Response<Body> {
    if !query.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            "/api/report takes no parameter: it answers the whole live report as JSON\n",
        );
    }
    let written = blocking(|| {
        let mut out = Vec::new();
        profx_runtime::global()
            .report()
            .write_json(&mut out)
            .ok()
            .and_then(|()| String::from_utf8(out).ok())
    })
    .await;
    match written {
        Ok(Some(body)) => with_type(StatusCode::OK, super::reply::JSON, body),
        Ok(None) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot write the report\n",
        ),
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
///
/// Read from the aggregates (never the kept executions) and written straight out: each entry
/// is serialised from borrowed names, not built as a JSON tree first.
fn api_metrics() -> ApiMetrics {
    ApiMetrics {
        custom: match profx_runtime::metrics::to_json(&profx_runtime::metrics::snapshot()) {
            serde_json::Value::Array(a) => a,
            _ => Vec::new(),
        },
        process: profx_runtime::__subsystem::process_metrics(),
        read: profx_runtime::__subsystem::read(),
    }
}

/// What `/api/metrics` answers, serialised as one JSON array.
struct ApiMetrics {
    custom: Vec<serde_json::Value>,
    process: Vec<profx_runtime::__subsystem::ProcessMetric>,
    read: profx_runtime::__subsystem::Read,
}

/// One entry of `/api/metrics`: `{"name", "labels", "kind", "value"}`.
#[derive(serde::Serialize)]
struct Entry<'a, V: serde::Serialize> {
    name: Name<'a>,
    labels: Labels<'a>,
    kind: &'static str,
    value: V,
}

/// A metric name as prefix and suffix, written without joining them first.
struct Name<'a>(&'static str, &'a str);

impl serde::Serialize for Name<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}{}", self.0, self.1))
    }
}

/// The labels of an entry: none, `{agent}` or `{agent, phase}`.
struct Labels<'a>(Option<&'a str>, Option<&'a str>);

impl serde::Serialize for Labels<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if let Some(a) = self.0 {
            m.serialize_entry("agent", a)?;
        }
        if let Some(p) = self.1 {
            m.serialize_entry("phase", p)?;
        }
        m.end()
    }
}

impl serde::Serialize for ApiMetrics {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        for v in &self.custom {
            seq.serialize_element(v)?;
        }
        for m in &self.process {
            seq.serialize_element(&Entry {
                name: Name("", m.name),
                labels: Labels(None, None),
                kind: if m.counter { "counter" } else { "gauge" },
                value: m.value,
            })?;
        }
        let counter = |name, agent, phase, value: u64| Entry {
            name: Name(name, ""),
            labels: Labels(Some(agent), phase),
            kind: "counter",
            value,
        };
        let gauge = |name, agent, phase, value: f64| Entry {
            name: Name(name, ""),
            labels: Labels(Some(agent), phase),
            kind: "gauge",
            value,
        };
        for (agent, m) in &self.read.agents {
            let a = agent.as_str();
            // None completed: nothing failed.
            let rate = m.success_rate_checked().unwrap_or(100.0);
            let p = &m.percentiles;
            seq.serialize_element(&counter(
                "profx_agent_executions_total",
                a,
                None,
                m.total_executions,
            ))?;
            seq.serialize_element(&counter(
                "profx_agent_failures_total",
                a,
                None,
                m.failure_count,
            ))?;
            seq.serialize_element(&counter(
                "profx_agent_cancelled_total",
                a,
                None,
                m.cancelled_count,
            ))?;
            for (name, v) in [
                ("profx_agent_success_rate_percent", rate),
                (
                    "profx_agent_duration_seconds_mean",
                    m.avg_duration.as_secs_f64(),
                ),
                ("profx_agent_duration_seconds_p50", p.p50.as_secs_f64()),
                ("profx_agent_duration_seconds_p95", p.p95.as_secs_f64()),
                ("profx_agent_duration_seconds_p99", p.p99.as_secs_f64()),
            ] {
                seq.serialize_element(&gauge(name, a, None, v))?;
            }
            for (phase, pm) in &m.phases {
                let ph = Some(phase.as_str());
                seq.serialize_element(&counter("profx_phase_calls_total", a, ph, pm.calls))?;
                seq.serialize_element(&counter("profx_phase_failures_total", a, ph, pm.failures))?;
                seq.serialize_element(&counter(
                    "profx_phase_cancelled_total",
                    a,
                    ph,
                    pm.cancelled,
                ))?;
                seq.serialize_element(&gauge(
                    "profx_phase_duration_seconds_mean",
                    a,
                    ph,
                    pm.avg_duration.as_secs_f64(),
                ))?;
                seq.serialize_element(&gauge(
                    "profx_phase_duration_seconds_p95",
                    a,
                    ph,
                    pm.percentiles.p95.as_secs_f64(),
                ))?;
            }
        }
        seq.end()
    }
}

/// Runtime statistics: uptime, threads, CPU time, memory (resident and virtual; the live heap
/// when `CountingAlloc` counts, else `null`), what was recorded, and the server's connections.
pub(super) async fn stats(state: &State) -> Response<Body> {
    let uptime = state.started.elapsed();
    let served = state.served.load(Ordering::Relaxed);
    let open = state.open.load(Ordering::Relaxed);
    let stats = blocking(move || {
        let tally = profx_runtime::__subsystem::tally();
        use profx_runtime::__subsystem::{process_metrics, value_of, Figure};
        let process = process_metrics();
        let figure = |f: Figure| value_of(&process, f);
        let mib = |b: Option<f64>| b.map(|b| (b / (1024.0 * 1024.0) * 100.0).round() / 100.0);
        let heap = figure(Figure::HeapLive);
        serde_json::json!({
            "uptime_seconds": uptime.as_secs_f64(),
            "threads": figure(Figure::Threads),
            "cpu_seconds": figure(Figure::CpuSeconds),
            "open_fds": figure(Figure::OpenFds),
            "memory": {
                "resident_bytes": figure(Figure::ResidentBytes),
                "resident_mb": mib(figure(Figure::ResidentBytes)),
                "virtual_bytes": figure(Figure::VirtualBytes),
                "heap_live_bytes": heap,
                "heap_live_mb": mib(heap),
                "heap_allocated_total_bytes": figure(Figure::AllocatedTotal),
            },
            "executions_recorded": tally.executions,
            "agents": tally.agents,
            "phases": tally.phases,
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

pub(super) fn build_info() -> serde_json::Value {
    // The runtime's, then this crate's (the server is on: it answers).
    let features: Vec<&str> = profx_runtime::__subsystem::FEATURES
        .into_iter()
        .chain([
            ("server", true),
            ("pprof", cfg!(feature = "pprof")),
            ("otlp", cfg!(feature = "otlp")),
        ])
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
