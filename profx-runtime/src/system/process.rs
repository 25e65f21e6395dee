//! The process figures of this moment, as `/metrics`, `/api/metrics`, `/debug/stats`, the
//! dashboard and the OTLP export all report them: one shared sampler, so CPU time and the
//! rest are read the same way everywhere.

/// Which figure of the process: what the exporters match on (never on a name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// Resident memory, bytes.
    ResidentBytes,
    /// Virtual memory, bytes.
    VirtualBytes,
    /// User and system CPU time, seconds (a counter).
    CpuSeconds,
    /// When the process started, Unix seconds.
    StartTime,
    /// Seconds since the process started.
    Uptime,
    /// OS threads.
    Threads,
    /// Open file descriptors.
    OpenFds,
    /// Bytes allocated and not freed (with `CountingAlloc`).
    HeapLive,
    /// Bytes allocated since the start (with `CountingAlloc`; a counter).
    AllocatedTotal,
}

impl Figure {
    /// Every figure.
    pub const ALL: [Figure; 9] = [
        Figure::ResidentBytes,
        Figure::VirtualBytes,
        Figure::CpuSeconds,
        Figure::StartTime,
        Figure::Uptime,
        Figure::Threads,
        Figure::OpenFds,
        Figure::HeapLive,
        Figure::AllocatedTotal,
    ];

    /// The Prometheus name (`process_*` as the client libraries name them, or `profx_*`), its
    /// help, and whether it is a counter (else a gauge).
    pub fn prometheus(self) -> (&'static str, &'static str, bool) {
        use Figure::*;
        match self {
            ResidentBytes => (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                false,
            ),
            VirtualBytes => (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                false,
            ),
            CpuSeconds => (
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                true,
            ),
            StartTime => (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                false,
            ),
            Uptime => (
                "profx_uptime_seconds",
                "Seconds since the process started.",
                false,
            ),
            Threads => (
                "process_threads",
                "Number of OS threads in the process.",
                false,
            ),
            OpenFds => (
                "process_open_fds",
                "Number of open file descriptors.",
                false,
            ),
            HeapLive => (
                "profx_heap_live_bytes",
                "Bytes allocated and not yet freed, counted by profx's allocator.",
                false,
            ),
            AllocatedTotal => (
                "profx_allocated_bytes_total",
                "Bytes allocated since the process started, counted by profx's allocator.",
                true,
            ),
        }
    }
}

/// One figure of the process, as `/metrics` exports it and `/api/metrics` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessMetric {
    /// Which figure.
    pub figure: Figure,
    /// The Prometheus name (`process_*` as the client libraries name them, or `profx_*`).
    pub name: &'static str,
    /// Its Prometheus help text.
    pub help: &'static str,
    /// A counter (else a gauge).
    pub counter: bool,
    /// Its value now.
    pub value: f64,
}

impl ProcessMetric {
    #[cfg_attr(not(feature = "enabled"), allow(dead_code))]
    fn new(figure: Figure, value: f64) -> ProcessMetric {
        let (name, help, counter) = figure.prometheus();
        ProcessMetric {
            figure,
            name,
            help,
            counter,
            value,
        }
    }
}

/// The value of `figure` among `figures`, if it is there.
pub fn value_of(figures: &[ProcessMetric], figure: Figure) -> Option<f64> {
    figures.iter().find(|m| m.figure == figure).map(|m| m.value)
}

/// The process figures of this moment: memory, CPU time, start time and uptime, threads, open
/// descriptors, and the heap figures when `CountingAlloc` counts. Empty without `enabled`.
#[cfg(feature = "enabled")]
pub fn process_metrics() -> Vec<ProcessMetric> {
    let Some((s, start)) = process_snapshot() else {
        return Vec::new();
    };
    use Figure::*;
    let f = ProcessMetric::new;
    let mut out = vec![
        f(ResidentBytes, s.resident_bytes as f64),
        f(VirtualBytes, s.virtual_bytes as f64),
        f(CpuSeconds, s.cpu_time.as_secs_f64()),
    ];
    if let Some(start) = start {
        out.push(f(StartTime, start as f64));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        out.push(f(Uptime, (now - start as f64).max(0.0)));
    }
    if s.threads > 0 {
        out.push(f(Threads, s.threads as f64));
    }
    if let Some(fds) = open_fds() {
        out.push(f(OpenFds, fds as f64));
    }
    if s.heap_measured {
        out.push(f(HeapLive, s.heap_live_bytes as f64));
        out.push(f(AllocatedTotal, s.allocated_total_bytes as f64));
    }
    out
}

/// Without `enabled`: none.
#[cfg(not(feature = "enabled"))]
pub fn process_metrics() -> Vec<ProcessMetric> {
    Vec::new()
}

/// A snapshot of the process now and its start time (Unix seconds), from one sampler shared
/// by the server's endpoints; `None` without `enabled`.
#[cfg(feature = "enabled")]
pub fn process_snapshot() -> Option<(crate::SystemSnapshot, Option<u64>)> {
    use crate::system::sample::Sampler;
    use std::sync::{LazyLock, Mutex};
    static SAMPLER: LazyLock<Mutex<Sampler>> = LazyLock::new(|| Mutex::new(Sampler::new()));
    let mut sampler = SAMPLER.lock().unwrap_or_else(|e| e.into_inner());
    let s = sampler.sample();
    Some((s, sampler.start_time_secs()))
}

/// Without `enabled`: none.
#[cfg(not(feature = "enabled"))]
pub fn process_snapshot() -> Option<(crate::SystemSnapshot, Option<u64>)> {
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
