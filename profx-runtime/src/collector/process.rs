//! The process figures of this moment, as `/metrics`, `/api/metrics`, `/debug/stats`, the
//! dashboard and the OTLP export all report them: one shared sampler, so CPU time and the
//! rest are read the same way everywhere.

/// One figure of the process, as `/metrics` exports it and `/api/metrics` lists it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProcessMetric {
    /// The Prometheus name (`process_*` as the client libraries name them, or `profx_*`).
    pub name: &'static str,
    pub help: &'static str,
    /// A counter (else a gauge).
    pub counter: bool,
    pub value: f64,
}

/// The process figures of this moment: memory, CPU time, start time and uptime, threads, open
/// descriptors, and the heap figures when `CountingAlloc` counts. Empty without `enabled`.
#[cfg(feature = "enabled")]
pub(crate) fn process_metrics() -> Vec<ProcessMetric> {
    let Some((s, start)) = process_snapshot() else {
        return Vec::new();
    };
    let gauge = |name, help, value: f64| ProcessMetric {
        name,
        help,
        counter: false,
        value,
    };
    let counter = |name, help, value: f64| ProcessMetric {
        name,
        help,
        counter: true,
        value,
    };
    let mut out = vec![
        gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            s.resident_bytes as f64,
        ),
        gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            s.virtual_bytes as f64,
        ),
        counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            s.cpu_time.as_secs_f64(),
        ),
    ];
    if let Some(start) = start {
        out.push(gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            start as f64,
        ));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        out.push(gauge(
            "profx_uptime_seconds",
            "Seconds since the process started.",
            (now - start as f64).max(0.0),
        ));
    }
    if s.threads > 0 {
        out.push(gauge(
            "process_threads",
            "Number of OS threads in the process.",
            s.threads as f64,
        ));
    }
    if let Some(fds) = open_fds() {
        out.push(gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            fds as f64,
        ));
    }
    if s.heap_measured {
        out.push(gauge(
            "profx_heap_live_bytes",
            "Bytes allocated and not yet freed, counted by profx's allocator.",
            s.heap_live_bytes as f64,
        ));
        out.push(counter(
            "profx_allocated_bytes_total",
            "Bytes allocated since the process started, counted by profx's allocator.",
            s.allocated_total_bytes as f64,
        ));
    }
    out
}

#[cfg(not(feature = "enabled"))]
pub(crate) fn process_metrics() -> Vec<ProcessMetric> {
    Vec::new()
}

/// A snapshot of the process now and its start time (Unix seconds), from one sampler shared
/// by the server's endpoints; `None` without `enabled`.
#[cfg(feature = "enabled")]
pub(crate) fn process_snapshot() -> Option<(crate::SystemSnapshot, Option<u64>)> {
    use crate::collector::sample::Sampler;
    use std::sync::{LazyLock, Mutex};
    static SAMPLER: LazyLock<Mutex<Sampler>> = LazyLock::new(|| Mutex::new(Sampler::new()));
    let mut sampler = SAMPLER.lock().unwrap_or_else(|e| e.into_inner());
    let s = sampler.sample();
    Some((s, sampler.start_time_secs()))
}

#[cfg(not(feature = "enabled"))]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) fn process_snapshot() -> Option<(crate::SystemSnapshot, Option<u64>)> {
    None
}

/// Entries of `/proc/self/fd` (Linux only).
#[cfg(feature = "enabled")]
fn open_fds() -> Option<usize> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}
