//! System metrics (SPEC §5): a background thread that samples the process — resident and
//! virtual memory, CPU, threads and, with the counting allocator, the heap — into a bounded
//! ring. What those samples add up to (averages, the memory trend) is the report's model
//! (`profx_report`).

pub(crate) mod process;

#[cfg(feature = "enabled")]
pub(crate) mod sample;
// The sampling thread and its ring: one module per state of the `enabled` feature.
#[cfg(feature = "enabled")]
#[path = "engine/on.rs"]
mod engine;
#[cfg(not(feature = "enabled"))]
#[path = "engine/off.rs"]
mod engine;

// The model of what it measures lives with the report.
pub use profx_report::{
    MemoryKind, MemoryPoint, MemoryTrend, SystemAverage, SystemSnapshot, SystemSummary,
    TrendDirection,
};

use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use engine::Engine;

/// Samples the process's memory, CPU and threads at a fixed interval on a background thread,
/// keeping the most recent snapshots (the source document's `MetricsCollector`).
///
/// - [`start`](Self::start) takes a first snapshot at once, then starts the thread
///   `profx-collector`, which takes one every interval. Calling it again while it runs does
///   nothing.
/// - [`stop`](Self::stop) wakes the thread, lets it take a closing snapshot (unless the last
///   one is recent) and joins it: when `stop` returns, the thread is gone. Calling it again does
///   nothing; dropping the collector stops it. It can be started again; snapshots are kept.
/// - Snapshots go into a ring of the [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) (3600) most
///   recent — an hour at the default interval of one second — or of the capacity given to
///   [`with_capacity`](Self::with_capacity); older ones are dropped.
///
/// One sample refreshes this process only (never the whole system) through `sysinfo` and
/// reads `/proc/self/stat` for the thread count. It costs about 0.1 ms on Linux (measured:
/// 70–115 µs, of which ~40 µs is `sysinfo` 0.36 listing `/proc` to find the process): 0.01% of
/// a core at the default interval of one second, about 1% at 10 ms.
///
/// `#[profx::main]` and `profx::ReportGuard` run the process-wide
/// [`global_collector`] for the life of `main`, at the interval of `PROFX_METRICS_INTERVAL`,
/// and the report written at shutdown carries its [`SystemSummary`].
///
/// Without the `enabled` feature, the API is the same but `start` does nothing and every read
/// is empty.
///
/// ```
/// use std::time::Duration;
/// use profx_runtime::{MetricsCollector, TrendDirection};
///
/// let collector = MetricsCollector::new(Duration::from_millis(20));
/// collector.start();
/// std::thread::sleep(Duration::from_millis(100));
/// collector.stop();
///
/// let snapshots = collector.snapshots();
/// if cfg!(feature = "enabled") {
///     assert!(snapshots.len() >= 2);
///     let average = collector.average().unwrap();
///     println!("Avg resident memory: {} bytes", average.avg_resident_bytes);
///     if let Some(trend) = collector.memory_trend() {
///         if trend.direction == TrendDirection::Increasing {
///             println!("Memory leak suspected: {trend}");
///         }
///     }
/// } else {
///     assert!(snapshots.is_empty());
/// }
/// ```
pub struct MetricsCollector {
    interval: Duration,
    capacity: usize,
    engine: Engine,
}

impl MetricsCollector {
    /// How many snapshots a collector keeps unless told otherwise: an hour at one per second.
    pub const DEFAULT_CAPACITY: usize = 3600;

    /// A collector that will sample every `interval` (at least 1 ms) and keep the
    /// [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) most recent snapshots. Nothing runs until
    /// [`start`](Self::start).
    pub fn new(interval: Duration) -> MetricsCollector {
        Self::with_capacity(interval, Self::DEFAULT_CAPACITY)
    }

    /// A collector keeping the `capacity` (at least 2) most recent snapshots.
    pub fn with_capacity(interval: Duration, capacity: usize) -> MetricsCollector {
        let capacity = capacity.max(2);
        MetricsCollector {
            interval: interval.max(Duration::from_millis(1)),
            capacity,
            engine: Engine::new(capacity),
        }
    }

    /// How often it samples.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How many snapshots it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Takes a snapshot now and starts sampling every interval on the thread
    /// `profx-collector`. Does nothing if it is already running (or without the `enabled`
    /// feature). If the thread cannot be spawned, a warning is printed and nothing else
    /// happens.
    pub fn start(&self) {
        self.engine.start(self.interval, self.capacity);
    }

    /// Stops sampling and joins the thread; it returns promptly (it does not wait for the end
    /// of an interval). The thread takes a closing snapshot first unless the last one is less
    /// than half an interval (or 100 ms) old. Does nothing if it is not running.
    pub fn stop(&self) {
        self.engine.stop();
    }

    /// Whether the sampling thread is running.
    pub fn is_running(&self) -> bool {
        self.engine.is_running()
    }

    /// The kept snapshots, oldest first.
    pub fn snapshots(&self) -> Vec<SystemSnapshot> {
        self.with_snapshots(<[SystemSnapshot]>::to_vec)
    }

    /// The average of the kept snapshots; `None` before the first.
    pub fn average(&self) -> Option<SystemAverage> {
        self.with_snapshots(SystemAverage::of)
    }

    /// Where memory is heading over the kept snapshots ([`MemoryTrend`] has the rule); `None`
    /// with fewer than two.
    pub fn memory_trend(&self) -> Option<MemoryTrend> {
        self.with_snapshots(MemoryTrend::of_snapshots)
    }

    /// Averages, peaks, trend and a plot series of the kept snapshots, as they go into
    /// [`Report::system`](crate::Report::system); `None` before the first snapshot.
    ///
    /// ```
    /// # let collector = profx_runtime::MetricsCollector::new(std::time::Duration::from_secs(1));
    /// let mut report = profx_runtime::global().report();
    /// report.system = collector.summary();
    /// ```
    pub fn summary(&self) -> Option<SystemSummary> {
        self.with_snapshots(|s| SystemSummary::from_snapshots(s, self.interval))
    }

    fn with_snapshots<T>(&self, f: impl FnOnce(&[SystemSnapshot]) -> T) -> T {
        self.engine.with_snapshots(f)
    }
}

impl Drop for MetricsCollector {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for MetricsCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsCollector")
            .field("interval", &self.interval)
            .field("capacity", &self.capacity)
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<MetricsCollector> = OnceLock::new();

/// The process-wide collector that `#[profx::main]` and `profx::ReportGuard`
/// run, sampling every `PROFX_METRICS_INTERVAL` (default 1s). Made on first use, not started:
/// start it yourself to watch the process without the attribute; the global profiler's
/// [`report`](crate::Profiler::report) carries its summary once it has a snapshot.
///
/// ```
/// let collector = profx_runtime::global_collector();
/// collector.start();
/// // ... later, e.g. on a timer:
/// if let Some(trend) = collector.memory_trend() {
///     if trend.is_growth_warning() {
///         eprintln!("memory leak suspected: {trend}");
///     }
/// }
/// collector.stop();
/// ```
pub fn global_collector() -> &'static MetricsCollector {
    GLOBAL.get_or_init(|| MetricsCollector::new(configured_interval()))
}

fn configured_interval() -> Duration {
    crate::global().inner.metrics_interval()
}

/// Shutdown guards alive; the global collector runs while there is one.
static GUARDS: Mutex<usize> = Mutex::new(0);

/// A report guard was made: run the global collector.
pub fn guard_created() {
    let mut n = GUARDS.lock().unwrap_or_else(|e| e.into_inner());
    *n += 1;
    if *n == 1 {
        global_collector().start();
    }
}

/// A report guard is going away (before it writes its report): the last one stops the global
/// collector, which takes its closing snapshot.
pub fn guard_dropped() {
    let mut n = GUARDS.lock().unwrap_or_else(|e| e.into_inner());
    *n = n.saturating_sub(1);
    if *n == 0 {
        if let Some(c) = GLOBAL.get() {
            c.stop();
        }
    }
}

/// The global collector's summary, for a report of the global profiler (`None` for any other
/// profiler, or when the global collector never ran).
#[cfg(feature = "enabled")]
pub(crate) fn system_for(profiler: &crate::Profiler) -> Option<SystemSummary> {
    let collector = GLOBAL.get()?;
    if !std::sync::Arc::ptr_eq(&profiler.inner, &crate::global().inner) {
        return None;
    }
    collector.summary()
}
