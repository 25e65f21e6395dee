//! Custom metrics: counters, gauges and duration histograms by name and labels.
//!
//! ```
//! use std::time::Duration;
//! use profx_runtime::metrics;
//!
//! let started = metrics::counter("gaxx_tasks_started", &[("kind", "scan")])?;
//! started.inc();
//! let heap = metrics::gauge("gaxx_memory_heap_bytes", &[])?;
//! heap.set(12_582_912.0);
//! let took = metrics::histogram("gaxx_task_duration_seconds", &[("kind", "scan")])?;
//! took.record(Duration::from_millis(42));
//! # Ok::<(), metrics::MetricError>(())
//! ```
//!
//! # Registration and updates
//!
//! [`counter`], [`gauge`] and [`histogram`] look a series up by name and labels, making it the
//! first time: they validate the names, take a lock and hash, so call them once and keep the
//! handle (a static, a field). Registering the same name and labels again gives a handle to the
//! same series; label order does not matter.
//!
//! Updating through a handle takes no lock, allocates nothing and hashes nothing:
//!
//! - [`Counter::inc`] is one relaxed `fetch_add`. A counter is *striped*: it has one
//!   cache-line-sized cell per stripe (the CPU count rounded up to a power of two, at most
//!   [`MAX_STRIPES`]), and a thread adds to the stripe it was given on its first update (a
//!   thread-local index, round robin). Threads that count the same event therefore do not
//!   fight over one cache line; a reader sums the stripes.
//! - [`Histogram::record`] finds the bucket with a binary search over the 22 bounds of
//!   [`HISTOGRAM_BOUNDS`] and does two relaxed `fetch_add`s (the bucket, the sum in
//!   nanoseconds) on the thread's stripe. The count is not stored: a reader derives it from
//!   the buckets, so `_count` always equals the `+Inf` bucket.
//! - [`Gauge::set`] is one store; [`Gauge::add`] a compare-and-swap loop on the bits of an
//!   `f64`. A gauge has one value, so it is not striped.
//!
//! A reader ([`snapshot`]) loads the same atomics at any time. Values of one series are read
//! one after another, not as one atomic picture: under concurrent updates a histogram's sum
//! may already include an observation its buckets do not show yet (or the reverse).
//!
//! # Names
//!
//! Names follow Prometheus: a metric name matches `[a-zA-Z_:][a-zA-Z0-9_:]*`, a label name
//! `[a-zA-Z_][a-zA-Z0-9_]*`, and label names starting with `__` are reserved, as is `le` on a
//! histogram (the exporter uses it for the bucket bounds). Label values are any UTF-8. All the
//! series of a metric have the same label names and one kind; a histogram `x` owns the names
//! `x_bucket`, `x_sum` and `x_count`. Every violation is a [`MetricError`] at registration.
//! Conventions the exporter does not enforce: counters end in `_total`, durations in
//! `_seconds` (histograms are exposed in seconds), sizes in `_bytes`.
//!
//! # Without the `enabled` feature
//!
//! Registration validates exactly as with it (the same errors, kind and label-name conflicts
//! included), and hands out handles that do nothing: updates are empty inline functions, reads
//! return zero, and [`snapshot`] returns nothing.
//!
//! Custom metrics are the program's own values, so the run-time switch
//! (`PROFX_ENABLED=false`, [`Profiler::disable`](crate::Profiler::disable)) does not stop them,
//! and [`Profiler::clear`](crate::Profiler::clear) does not reset them (Prometheus counters only
//! go up).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

#[cfg(feature = "enabled")]
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Kinds, errors, validation

/// What a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// A count that only goes up ([`Counter`]).
    Counter,
    /// A value that goes up and down ([`Gauge`]).
    Gauge,
    /// A distribution of durations in fixed buckets ([`Histogram`]).
    Histogram,
}

impl MetricKind {
    /// The lowercase name: `"counter"`, `"gauge"`, `"histogram"` (also Prometheus's `# TYPE`).
    ///
    /// ```
    /// assert_eq!(profx_runtime::metrics::MetricKind::Gauge.as_str(), "gauge");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }

    fn with_article(self) -> &'static str {
        match self {
            MetricKind::Counter => "a counter",
            MetricKind::Gauge => "a gauge",
            MetricKind::Histogram => "a histogram",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a metric could not be registered (or described).
///
/// Each message names what was wrong and what is accepted:
///
/// ```
/// let err = profx_runtime::metrics::counter("9lives", &[]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid metric name \"9lives\": a metric name is ASCII letters, digits, '_' and ':', \
///      and does not start with a digit ([a-zA-Z_:][a-zA-Z0-9_:]*)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricError {
    /// The metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    InvalidName {
        /// The name given.
        name: String,
    },
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*`.
    InvalidLabelName {
        /// The metric.
        metric: String,
        /// The label name given.
        label: String,
    },
    /// A label name is reserved: it starts with `__`, or it is `le` on a histogram.
    ReservedLabelName {
        /// The metric.
        metric: String,
        /// The label name given.
        label: String,
    },
    /// The same label name appears twice in one registration.
    DuplicateLabelName {
        /// The metric.
        metric: String,
        /// The repeated label name.
        label: String,
    },
    /// The name is already registered as another kind.
    KindConflict {
        /// The metric.
        name: String,
        /// The kind it has.
        registered: MetricKind,
        /// The kind asked for.
        requested: MetricKind,
    },
    /// The name is already registered with other label names.
    LabelNamesConflict {
        /// The metric.
        name: String,
        /// Its label names, in the order of the first registration.
        registered: Vec<String>,
        /// The label names given.
        requested: Vec<String>,
    },
    /// The name is one of the names a histogram's series are exposed under (`x_bucket`,
    /// `x_sum`, `x_count` of histogram `x`), or a histogram would be exposed under a name in
    /// use.
    NameCollision {
        /// The name given.
        name: String,
        /// The metric it collides with.
        existing: String,
        /// The kind of that metric.
        existing_kind: MetricKind,
    },
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricError::InvalidName { name } => write!(
                f,
                "invalid metric name {name:?}: a metric name is ASCII letters, digits, '_' and \
                 ':', and does not start with a digit ([a-zA-Z_:][a-zA-Z0-9_:]*)"
            ),
            MetricError::InvalidLabelName { metric, label } => write!(
                f,
                "invalid label name {label:?} on metric {metric:?}: a label name is ASCII \
                 letters, digits and '_', and does not start with a digit ([a-zA-Z_][a-zA-Z0-9_]*)"
            ),
            MetricError::ReservedLabelName { metric, label } if label.starts_with("__") => write!(
                f,
                "reserved label name {label:?} on metric {metric:?}: label names starting with \
                 \"__\" are reserved for Prometheus's own use"
            ),
            MetricError::ReservedLabelName { metric, label } => write!(
                f,
                "reserved label name {label:?} on histogram {metric:?}: a histogram's buckets are \
                 exposed with the label \"le\", so it cannot be one of its own labels"
            ),
            MetricError::DuplicateLabelName { metric, label } => write!(
                f,
                "duplicate label name {label:?} on metric {metric:?}: each label name may be \
                 given once"
            ),
            MetricError::KindConflict {
                name,
                registered,
                requested,
            } => write!(
                f,
                "metric {name:?} is already registered as {}, so it cannot also be {} \
                 (one name, one kind)",
                registered.with_article(),
                requested.with_article()
            ),
            MetricError::LabelNamesConflict {
                name,
                registered,
                requested,
            } => write!(
                f,
                "metric {name:?} is already registered with label names [{}], not [{}]: every \
                 series of a metric has the same label names",
                registered.join(", "),
                requested.join(", ")
            ),
            MetricError::NameCollision {
                name,
                existing,
                existing_kind,
            } => {
                let (histogram, other) = if *existing_kind == MetricKind::Histogram {
                    (existing, name)
                } else {
                    (name, existing)
                };
                write!(
                    f,
                    "metric name {name:?} collides with {} {existing:?}: histogram {histogram:?} \
                     is exposed as {histogram}_bucket, {histogram}_sum and {histogram}_count, \
                     which leaves no room for a metric {other:?}",
                    existing_kind.with_article(),
                )
            }
        }
    }
}

impl std::error::Error for MetricError {}

/// Whether `name` is a valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
///
/// ```
/// use profx_runtime::metrics::is_valid_metric_name;
/// assert!(is_valid_metric_name("gaxx_tasks_started"));
/// assert!(is_valid_metric_name("job:requests:rate5m"));
/// assert!(!is_valid_metric_name("2xx_responses"));
/// assert!(!is_valid_metric_name("tasks-started"));
/// ```
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `name` is a valid Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`. (Names starting
/// with `__` are valid but reserved; registration refuses them.)
///
/// ```
/// use profx_runtime::metrics::is_valid_label_name;
/// assert!(is_valid_label_name("kind"));
/// assert!(!is_valid_label_name("node:id"));
/// assert!(!is_valid_label_name(""));
/// ```
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Checks everything that does not depend on what is already registered.
fn validate(kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Result<(), MetricError> {
    if !is_valid_metric_name(name) {
        return Err(MetricError::InvalidName { name: name.into() });
    }
    for (i, &(label, _)) in labels.iter().enumerate() {
        let err = |make: fn(String, String) -> MetricError| Err(make(name.into(), label.into()));
        if !is_valid_label_name(label) {
            return err(|metric, label| MetricError::InvalidLabelName { metric, label });
        }
        if label.starts_with("__") || (kind == MetricKind::Histogram && label == "le") {
            return err(|metric, label| MetricError::ReservedLabelName { metric, label });
        }
        if labels[..i].iter().any(|&(l, _)| l == label) {
            return err(|metric, label| MetricError::DuplicateLabelName { metric, label });
        }
    }
    Ok(())
}

/// The histogram whose exposed names would include `name`, if `name` ends like one.
fn histogram_base(name: &str) -> impl Iterator<Item = &str> {
    ["_bucket", "_sum", "_count"]
        .into_iter()
        .filter_map(move |suffix| name.strip_suffix(suffix))
}

// ---------------------------------------------------------------------------------------------
// Buckets

/// The upper bounds of every histogram's buckets: 5 µs to 25 s on a 1–2.5–5 ladder, then
/// 60 s; observations above 60 s count in the `+Inf` bucket only.
///
/// `le` (in seconds, as exposed): 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
/// 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60,
/// +Inf. Prometheus's default buckets (0.005 … 10) are a subset, so `histogram_quantile` and
/// aggregation across processes work the same over the shared bounds. An observation equal
/// to a bound counts in that bound's bucket (`le` is "less than or equal").
///
/// ```
/// use std::time::Duration;
/// let b = profx_runtime::metrics::HISTOGRAM_BOUNDS;
/// assert_eq!(b.first(), Some(&Duration::from_micros(5)));
/// assert_eq!(b.last(), Some(&Duration::from_secs(60)));
/// ```
pub const HISTOGRAM_BOUNDS: [Duration; 22] = [
    Duration::from_micros(5),
    Duration::from_micros(10),
    Duration::from_micros(25),
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2_500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_millis(2_500),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(25),
    Duration::from_secs(60),
];

/// Buckets, with `+Inf`.
#[cfg(feature = "enabled")]
const BUCKETS: usize = HISTOGRAM_BOUNDS.len() + 1;

/// [`HISTOGRAM_BOUNDS`] in nanoseconds, for the update path.
#[cfg(feature = "enabled")]
const BOUNDS_NS: [u64; HISTOGRAM_BOUNDS.len()] = {
    let mut out = [0u64; HISTOGRAM_BOUNDS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = HISTOGRAM_BOUNDS[i].as_nanos() as u64;
        i += 1;
    }
    out
};

/// Observations are clamped to this (about 208 days), so the sum cannot wrap before it has
/// added a thousand of them.
const MAX_OBSERVATION_NS: u64 = 1 << 54;

/// The bucket of an observation: the first bound at or above it, or `+Inf`.
#[cfg(feature = "enabled")]
#[inline(always)]
fn bucket_index(ns: u64) -> usize {
    BOUNDS_NS.partition_point(|&bound| bound < ns)
}

#[inline(always)]
fn clamp_ns(d: Duration) -> u64 {
    let ns = d.as_nanos();
    if ns > MAX_OBSERVATION_NS as u128 {
        MAX_OBSERVATION_NS
    } else {
        ns as u64
    }
}

// ---------------------------------------------------------------------------------------------
// Storage (only with `enabled`)

/// The most stripes a counter or histogram has.
pub const MAX_STRIPES: usize = 8;

#[cfg(feature = "enabled")]
mod cells {
    use super::*;
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

    /// One stripe of a counter: alone on its cache line.
    #[repr(align(64))]
    #[derive(Default)]
    pub(super) struct CounterStripe(AtomicU64);

    /// One stripe of a histogram: its buckets (not cumulative) and its sum, on cache lines of
    /// its own.
    #[repr(align(64))]
    pub(super) struct HistogramStripe {
        buckets: [AtomicU64; BUCKETS],
        sum_ns: AtomicU64,
    }

    impl Default for HistogramStripe {
        fn default() -> HistogramStripe {
            HistogramStripe {
                buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                sum_ns: AtomicU64::new(0),
            }
        }
    }

    /// How many stripes a new cell gets: the CPU count rounded up to a power of two, at most
    /// `MAX_STRIPES`. A power of two, so a stripe index is a mask away.
    fn stripes() -> usize {
        static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *N.get_or_init(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .next_power_of_two()
                .min(MAX_STRIPES)
        })
    }

    fn striped<T: Default>() -> Box<[T]> {
        (0..stripes()).map(|_| T::default()).collect()
    }

    thread_local! {
        /// This thread's stripe number (masked by each cell), given on its first update.
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

    /// This thread's stripe among `len` (a power of two).
    #[inline(always)]
    fn stripe(len: usize) -> usize {
        // `STRIPE` has a const initialiser and no destructor, so it is reachable even while
        // the thread is being torn down; `try_with` only guards against that changing.
        let n = STRIPE
            .try_with(|s| {
                let n = s.get();
                if n != usize::MAX {
                    n
                } else {
                    assign(s)
                }
            })
            .unwrap_or(0);
        n & (len - 1)
    }

    #[cold]
    #[inline(never)]
    fn assign(s: &Cell<usize>) -> usize {
        let n = NEXT_STRIPE.fetch_add(1, Relaxed) & (usize::MAX >> 1);
        s.set(n);
        n
    }

    pub(super) struct CounterCell {
        stripes: Box<[CounterStripe]>,
    }

    impl CounterCell {
        pub(super) fn new() -> CounterCell {
            CounterCell { stripes: striped() }
        }

        #[inline(always)]
        pub(super) fn add(&self, n: u64) {
            let s = &self.stripes[stripe(self.stripes.len())];
            s.0.fetch_add(n, Relaxed);
        }

        pub(super) fn get(&self) -> u64 {
            self.stripes
                .iter()
                .fold(0u64, |acc, s| acc.wrapping_add(s.0.load(Relaxed)))
        }
    }

    pub(super) struct GaugeCell(AtomicU64);

    impl GaugeCell {
        pub(super) fn new() -> GaugeCell {
            GaugeCell(AtomicU64::new(0f64.to_bits()))
        }

        #[inline(always)]
        pub(super) fn set(&self, v: f64) {
            self.0.store(v.to_bits(), Relaxed);
        }

        #[inline(always)]
        pub(super) fn add(&self, d: f64) {
            // A CAS loop: lock-free (some thread always makes progress).
            let _ = self.0.fetch_update(Relaxed, Relaxed, |bits| {
                Some((f64::from_bits(bits) + d).to_bits())
            });
        }

        pub(super) fn get(&self) -> f64 {
            f64::from_bits(self.0.load(Relaxed))
        }
    }

    pub(super) struct HistogramCell {
        stripes: Box<[HistogramStripe]>,
    }

    impl HistogramCell {
        pub(super) fn new() -> HistogramCell {
            HistogramCell { stripes: striped() }
        }

        #[inline(always)]
        pub(super) fn record_ns(&self, ns: u64) {
            let s = &self.stripes[stripe(self.stripes.len())];
            s.buckets[bucket_index(ns)].fetch_add(1, Relaxed);
            s.sum_ns.fetch_add(ns, Relaxed);
        }

        /// Per-bucket counts (not cumulative) and the sum in nanoseconds.
        pub(super) fn read(&self) -> ([u64; BUCKETS], u64) {
            let mut buckets = [0u64; BUCKETS];
            let mut sum = 0u64;
            for s in self.stripes.iter() {
                for (dst, src) in buckets.iter_mut().zip(s.buckets.iter()) {
                    *dst = dst.wrapping_add(src.load(Relaxed));
                }
                sum = sum.wrapping_add(s.sum_ns.load(Relaxed));
            }
            (buckets, sum)
        }
    }

    #[cfg(test)]
    pub(super) fn stripe_count() -> usize {
        stripes()
    }
}

#[cfg(feature = "enabled")]
use cells::{CounterCell, GaugeCell, HistogramCell};

// ---------------------------------------------------------------------------------------------
// Handles

/// A count that only goes up, from any thread; see [`counter`].
///
/// Cheap to clone (an `Arc`); clones update the same series.
///
/// ```
/// let heartbeats = profx_runtime::metrics::counter("gaxx_agent_heartbeats", &[])?;
/// heartbeats.inc();
/// heartbeats.inc_by(2);
/// # if cfg!(feature = "enabled") { assert_eq!(heartbeats.value(), 3); }
/// # Ok::<(), profx_runtime::metrics::MetricError>(())
/// ```
#[derive(Clone)]
pub struct Counter {
    #[cfg(feature = "enabled")]
    cell: Arc<CounterCell>,
}

impl Counter {
    /// Adds one. Lock-free: one relaxed `fetch_add` on this thread's stripe.
    ///
    /// ```
    /// let c = profx_runtime::metrics::counter("doc_counter_inc", &[])?;
    /// c.inc();
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n` (the count wraps at `u64::MAX`).
    ///
    /// ```
    /// let bytes = profx_runtime::metrics::counter("doc_output_bytes_total", &[])?;
    /// bytes.inc_by(4096);
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    #[inline]
    pub fn inc_by(&self, n: u64) {
        #[cfg(feature = "enabled")]
        self.cell.add(n);
        #[cfg(not(feature = "enabled"))]
        let _ = n;
    }

    /// The current count (0 without the `enabled` feature). Sums the stripes: meant for
    /// reading, not for the update path.
    ///
    /// ```
    /// let c = profx_runtime::metrics::counter("doc_counter_value", &[])?;
    /// c.inc();
    /// assert_eq!(c.value(), if cfg!(feature = "enabled") { 1 } else { 0 });
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    pub fn value(&self) -> u64 {
        #[cfg(feature = "enabled")]
        {
            self.cell.get()
        }
        #[cfg(not(feature = "enabled"))]
        {
            0
        }
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter")
            .field("value", &self.value())
            .finish()
    }
}

/// A value that goes up and down, from any thread; see [`gauge`].
///
/// Cheap to clone (an `Arc`); clones update the same series. Starts at 0.
///
/// ```
/// let running = profx_runtime::metrics::gauge("gaxx_goroutines_total", &[])?;
/// running.inc();
/// running.add(2.5);
/// running.dec();
/// # if cfg!(feature = "enabled") { assert_eq!(running.value(), 2.5); }
/// # Ok::<(), profx_runtime::metrics::MetricError>(())
/// ```
#[derive(Clone)]
pub struct Gauge {
    #[cfg(feature = "enabled")]
    cell: Arc<GaugeCell>,
}

impl Gauge {
    /// Sets the value. Lock-free: one relaxed store.
    ///
    /// ```
    /// let rate = profx_runtime::metrics::gauge("doc_success_rate_percent", &[])?;
    /// rate.set(97.5);
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    #[inline]
    pub fn set(&self, value: f64) {
        #[cfg(feature = "enabled")]
        self.cell.set(value);
        #[cfg(not(feature = "enabled"))]
        let _ = value;
    }

    /// Adds `delta` (negative to subtract). Lock-free: a compare-and-swap loop.
    ///
    /// ```
    /// let queue = profx_runtime::metrics::gauge("doc_queue_depth", &[])?;
    /// queue.add(3.0);
    /// queue.add(-1.0);
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    #[inline]
    pub fn add(&self, delta: f64) {
        #[cfg(feature = "enabled")]
        self.cell.add(delta);
        #[cfg(not(feature = "enabled"))]
        let _ = delta;
    }

    /// Adds one.
    ///
    /// ```
    /// let workers = profx_runtime::metrics::gauge("doc_workers", &[])?;
    /// workers.inc();
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    ///
    /// ```
    /// let workers = profx_runtime::metrics::gauge("doc_workers_dec", &[])?;
    /// workers.dec();
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value (0 without the `enabled` feature).
    ///
    /// ```
    /// let g = profx_runtime::metrics::gauge("doc_gauge_value", &[])?;
    /// g.set(4.0);
    /// assert_eq!(g.value(), if cfg!(feature = "enabled") { 4.0 } else { 0.0 });
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    pub fn value(&self) -> f64 {
        #[cfg(feature = "enabled")]
        {
            self.cell.get()
        }
        #[cfg(not(feature = "enabled"))]
        {
            0.0
        }
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gauge")
            .field("value", &self.value())
            .finish()
    }
}

/// A distribution of durations in the buckets of [`HISTOGRAM_BOUNDS`], with their sum and
/// count, from any thread; see [`histogram`].
///
/// Cheap to clone (an `Arc`); clones update the same series.
///
/// ```
/// use std::time::{Duration, Instant};
/// let exec = profx_runtime::metrics::histogram("gaxx_agent_exec_duration_seconds", &[])?;
/// exec.record(Duration::from_millis(3));
///
/// let start = Instant::now();
/// // ... run the command ...
/// exec.record_since(start);
///
/// {
///     let _t = exec.start_timer(); // records when dropped
///     // ... run another ...
/// }
/// # if cfg!(feature = "enabled") { assert_eq!(exec.snapshot().count, 3); }
/// # Ok::<(), profx_runtime::metrics::MetricError>(())
/// ```
#[derive(Clone)]
pub struct Histogram {
    #[cfg(feature = "enabled")]
    cell: Arc<HistogramCell>,
}

impl Histogram {
    /// Records one observation. Lock-free: a binary search over 22 bounds and two relaxed
    /// `fetch_add`s on this thread's stripe. Durations above about 208 days count as 208 days.
    ///
    /// ```
    /// let h = profx_runtime::metrics::histogram("doc_fetch_seconds", &[])?;
    /// h.record(std::time::Duration::from_micros(750));
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    #[inline]
    pub fn record(&self, duration: Duration) {
        let ns = clamp_ns(duration);
        #[cfg(feature = "enabled")]
        self.cell.record_ns(ns);
        #[cfg(not(feature = "enabled"))]
        let _ = ns;
    }

    /// Records the time since `start`.
    ///
    /// ```
    /// let h = profx_runtime::metrics::histogram("doc_parse_seconds", &[])?;
    /// let start = std::time::Instant::now();
    /// h.record_since(start);
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    #[inline]
    pub fn record_since(&self, start: Instant) {
        self.record(start.elapsed());
    }

    /// Starts a timer that records the time until it is dropped (or [stopped](HistogramTimer::stop)).
    ///
    /// ```
    /// let h = profx_runtime::metrics::histogram("doc_upload_seconds", &[])?;
    /// let timer = h.start_timer();
    /// let took = timer.stop();
    /// assert!(took < std::time::Duration::from_secs(60));
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    #[inline]
    pub fn start_timer(&self) -> HistogramTimer<'_> {
        HistogramTimer {
            histogram: self,
            start: Instant::now(),
            armed: true,
        }
    }

    /// The buckets, sum and count so far (all zero without the `enabled` feature).
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = profx_runtime::metrics::histogram("doc_histogram_snapshot", &[])?;
    /// h.record(Duration::from_millis(7));
    /// let s = h.snapshot();
    /// if cfg!(feature = "enabled") {
    ///     assert_eq!((s.count, s.sum), (1, Duration::from_millis(7)));
    ///     // cumulative: 7 ms is in every bucket from le = 0.01 on
    ///     assert_eq!(s.buckets.iter().find(|b| b.le == 0.01).unwrap().count, 1);
    ///     assert_eq!(s.buckets.iter().find(|b| b.le == 0.005).unwrap().count, 0);
    /// }
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    pub fn snapshot(&self) -> HistogramSnapshot {
        #[cfg(feature = "enabled")]
        {
            let (buckets, sum_ns) = self.cell.read();
            HistogramSnapshot::from_raw(&buckets, sum_ns)
        }
        #[cfg(not(feature = "enabled"))]
        {
            HistogramSnapshot::from_raw(&[0; HISTOGRAM_BOUNDS.len() + 1], 0)
        }
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.snapshot();
        f.debug_struct("Histogram")
            .field("count", &s.count)
            .field("sum", &s.sum)
            .finish()
    }
}

/// Records the time from [`Histogram::start_timer`] until it is dropped or stopped.
#[must_use = "the timer records when it is dropped: bind it with `let _t = ...`"]
pub struct HistogramTimer<'a> {
    histogram: &'a Histogram,
    start: Instant,
    armed: bool,
}

impl HistogramTimer<'_> {
    /// Records now and returns the time measured.
    ///
    /// ```
    /// let h = profx_runtime::metrics::histogram("doc_timer_stop_seconds", &[])?;
    /// let elapsed = h.start_timer().stop();
    /// # let _ = elapsed;
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    pub fn stop(mut self) -> Duration {
        self.armed = false;
        let took = self.start.elapsed();
        self.histogram.record(took);
        took
    }

    /// Drops the timer without recording.
    ///
    /// ```
    /// let h = profx_runtime::metrics::histogram("doc_timer_discard_seconds", &[])?;
    /// h.start_timer().discard();
    /// assert_eq!(h.snapshot().count, 0);
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    pub fn discard(mut self) {
        self.armed = false;
    }
}

impl Drop for HistogramTimer<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.histogram.record(self.start.elapsed());
        }
    }
}

impl fmt::Debug for HistogramTimer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistogramTimer")
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Registry

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(feature = "enabled")]
#[derive(Clone)]
enum Cell {
    Counter(Arc<CounterCell>),
    Gauge(Arc<GaugeCell>),
    Histogram(Arc<HistogramCell>),
}

struct Family {
    kind: MetricKind,
    /// In the order of the first registration.
    label_names: Vec<String>,
    /// By label values, in `label_names` order.
    #[cfg(feature = "enabled")]
    series: BTreeMap<Vec<String>, Cell>,
}

#[derive(Default)]
struct Tables {
    families: BTreeMap<String, Family>,
    help: BTreeMap<String, String>,
}

/// Families by name. One process-wide instance; tests make their own.
#[derive(Default)]
struct Registry {
    tables: Mutex<Tables>,
}

/// What a registration resolves to.
#[cfg(feature = "enabled")]
type Resolved = Cell;
#[cfg(not(feature = "enabled"))]
type Resolved = ();

impl Registry {
    fn global() -> &'static Registry {
        static GLOBAL: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::default);
        &GLOBAL
    }

    fn register(
        &self,
        kind: MetricKind,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Result<Resolved, MetricError> {
        validate(kind, name, labels)?;
        let mut t = lock(&self.tables);
        let family = match t.families.get(name) {
            Some(f) => {
                if f.kind != kind {
                    return Err(MetricError::KindConflict {
                        name: name.into(),
                        registered: f.kind,
                        requested: kind,
                    });
                }
                let same_names = f.label_names.len() == labels.len()
                    && labels
                        .iter()
                        .all(|&(l, _)| f.label_names.iter().any(|n| n == l));
                if !same_names {
                    return Err(MetricError::LabelNamesConflict {
                        name: name.into(),
                        registered: f.label_names.clone(),
                        requested: labels.iter().map(|&(l, _)| l.to_owned()).collect(),
                    });
                }
                t.families.get_mut(name).expect("just found")
            }
            None => {
                Self::check_collisions(&t, kind, name)?;
                t.families.entry(name.to_owned()).or_insert(Family {
                    kind,
                    label_names: labels.iter().map(|&(l, _)| l.to_owned()).collect(),
                    #[cfg(feature = "enabled")]
                    series: BTreeMap::new(),
                })
            }
        };
        #[cfg(feature = "enabled")]
        {
            let values: Vec<String> = family
                .label_names
                .iter()
                .map(|n| {
                    let &(_, v) = labels.iter().find(|&&(l, _)| l == n).expect("same names");
                    v.to_owned()
                })
                .collect();
            let cell = family.series.entry(values).or_insert_with(|| match kind {
                MetricKind::Counter => Cell::Counter(Arc::new(CounterCell::new())),
                MetricKind::Gauge => Cell::Gauge(Arc::new(GaugeCell::new())),
                MetricKind::Histogram => Cell::Histogram(Arc::new(HistogramCell::new())),
            });
            Ok(cell.clone())
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = family;
            Ok(())
        }
    }

    /// A histogram `x` is exposed as `x_bucket`, `x_sum` and `x_count`: no other metric may
    /// have those names.
    fn check_collisions(t: &Tables, kind: MetricKind, name: &str) -> Result<(), MetricError> {
        let collision = |existing: &str, existing_kind| MetricError::NameCollision {
            name: name.into(),
            existing: existing.into(),
            existing_kind,
        };
        for base in histogram_base(name) {
            if let Some(f) = t.families.get(base) {
                if f.kind == MetricKind::Histogram {
                    return Err(collision(base, f.kind));
                }
            }
        }
        if kind == MetricKind::Histogram {
            for suffix in ["_bucket", "_sum", "_count"] {
                let exposed = format!("{name}{suffix}");
                if let Some(f) = t.families.get(&exposed) {
                    return Err(collision(&exposed, f.kind));
                }
            }
        }
        Ok(())
    }

    fn describe(&self, name: &str, help: &str) -> Result<(), MetricError> {
        if !is_valid_metric_name(name) {
            return Err(MetricError::InvalidName { name: name.into() });
        }
        lock(&self.tables)
            .help
            .insert(name.to_owned(), help.to_owned());
        Ok(())
    }

    fn snapshot(&self) -> Vec<MetricFamily> {
        #[cfg(feature = "enabled")]
        {
            // Copy the handles out, then read the atomics without the lock.
            let families: Vec<_> = {
                let t = lock(&self.tables);
                t.families
                    .iter()
                    .map(|(name, f)| {
                        let series: Vec<(Vec<String>, Cell)> = f
                            .series
                            .iter()
                            .map(|(k, c)| (k.clone(), c.clone()))
                            .collect();
                        (
                            name.clone(),
                            f.kind,
                            t.help.get(name).cloned(),
                            f.label_names.clone(),
                            series,
                        )
                    })
                    .collect()
            };
            families
                .into_iter()
                .map(|(name, kind, help, label_names, series)| {
                    let series = series
                        .into_iter()
                        .map(|(values, cell)| MetricSeries {
                            labels: label_names.iter().cloned().zip(values).collect(),
                            value: match cell {
                                Cell::Counter(c) => MetricValue::Counter(c.get()),
                                Cell::Gauge(g) => MetricValue::Gauge(g.get()),
                                Cell::Histogram(h) => {
                                    let (buckets, sum_ns) = h.read();
                                    MetricValue::Histogram(HistogramSnapshot::from_raw(
                                        &buckets, sum_ns,
                                    ))
                                }
                            },
                        })
                        .collect();
                    MetricFamily {
                        name,
                        kind,
                        help,
                        label_names,
                        series,
                    }
                })
                .collect()
        }
        #[cfg(not(feature = "enabled"))]
        {
            Vec::new()
        }
    }
}

#[cfg(feature = "enabled")]
impl Cell {
    fn counter(self) -> Counter {
        match self {
            Cell::Counter(cell) => Counter { cell },
            _ => unreachable!("kind checked at registration"),
        }
    }
    fn gauge(self) -> Gauge {
        match self {
            Cell::Gauge(cell) => Gauge { cell },
            _ => unreachable!("kind checked at registration"),
        }
    }
    fn histogram(self) -> Histogram {
        match self {
            Cell::Histogram(cell) => Histogram { cell },
            _ => unreachable!("kind checked at registration"),
        }
    }
}

#[cfg(not(feature = "enabled"))]
trait Noop {
    fn counter(self) -> Counter;
    fn gauge(self) -> Gauge;
    fn histogram(self) -> Histogram;
}

#[cfg(not(feature = "enabled"))]
impl Noop for () {
    fn counter(self) -> Counter {
        Counter {}
    }
    fn gauge(self) -> Gauge {
        Gauge {}
    }
    fn histogram(self) -> Histogram {
        Histogram {}
    }
}

/// The counter `name` with these labels, made on first use.
///
/// Keep the handle: this call validates, locks and hashes; [`Counter::inc`] does none of that.
///
/// # Errors
///
/// [`MetricError`] when the name or a label name is invalid, reserved or repeated, or `name`
/// is already a gauge or histogram, or already has other label names.
///
/// ```
/// use profx_runtime::metrics;
/// let ok = metrics::counter("gaxx_agent_exec_successful", &[("node", "n1")])?;
/// let fail = metrics::counter("gaxx_agent_exec_failed", &[("node", "n1")])?;
/// ok.inc();
/// let err = metrics::counter("gaxx_agent_exec_failed", &[("host", "n1")]).unwrap_err();
/// assert!(err.to_string().contains("already registered with label names [node]"));
/// # let _ = fail;
/// # Ok::<(), metrics::MetricError>(())
/// ```
pub fn counter(name: &str, labels: &[(&str, &str)]) -> Result<Counter, MetricError> {
    Ok(Registry::global()
        .register(MetricKind::Counter, name, labels)?
        .counter())
}

/// The gauge `name` with these labels, made on first use (at 0).
///
/// # Errors
///
/// As [`counter`].
///
/// ```
/// let rate = profx_runtime::metrics::gauge("gaxx_task_success_rate_percent", &[])?;
/// rate.set(98.5);
/// # Ok::<(), profx_runtime::metrics::MetricError>(())
/// ```
pub fn gauge(name: &str, labels: &[(&str, &str)]) -> Result<Gauge, MetricError> {
    Ok(Registry::global()
        .register(MetricKind::Gauge, name, labels)?
        .gauge())
}

/// The duration histogram `name` with these labels, made on first use; buckets are
/// [`HISTOGRAM_BOUNDS`].
///
/// # Errors
///
/// As [`counter`]; also `le` as a label name, and a name that collides with what a histogram
/// is exposed as (`name_bucket`, `name_sum`, `name_count`).
///
/// ```
/// use std::time::Duration;
/// let h = profx_runtime::metrics::histogram("gaxx_file_transfer_duration_seconds", &[("dir", "up")])?;
/// h.record(Duration::from_millis(120));
/// let err = profx_runtime::metrics::histogram("bad", &[("le", "1")]).unwrap_err();
/// assert!(err.to_string().starts_with("reserved label name \"le\""));
/// # Ok::<(), profx_runtime::metrics::MetricError>(())
/// ```
pub fn histogram(name: &str, labels: &[(&str, &str)]) -> Result<Histogram, MetricError> {
    Ok(Registry::global()
        .register(MetricKind::Histogram, name, labels)?
        .histogram())
}

/// Sets the help text of metric `name` (Prometheus's `# HELP`), before or after it is
/// registered; the last call wins. Any text: the exporter escapes it.
///
/// # Errors
///
/// [`MetricError::InvalidName`] when `name` is not a valid metric name.
///
/// ```
/// profx_runtime::metrics::describe("gaxx_app_starts", "Times the application started.")?;
/// # Ok::<(), profx_runtime::metrics::MetricError>(())
/// ```
pub fn describe(name: &str, help: &str) -> Result<(), MetricError> {
    Registry::global().describe(name, help)
}

// ---------------------------------------------------------------------------------------------
// Read side

/// One metric and all its series, as read by [`snapshot`].
#[derive(Clone, Debug, PartialEq)]
pub struct MetricFamily {
    /// The metric name.
    pub name: String,
    /// Its kind.
    pub kind: MetricKind,
    /// Its help text, if [`describe`]d.
    pub help: Option<String>,
    /// Its label names, in the order of the first registration.
    pub label_names: Vec<String>,
    /// Its series, ordered by label values.
    pub series: Vec<MetricSeries>,
}

/// One series of a metric: its labels and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSeries {
    /// `(name, value)` pairs, in the family's label-name order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: MetricValue,
}

/// The value of a series.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    /// A counter's count.
    Counter(u64),
    /// A gauge's value.
    Gauge(f64),
    /// A histogram's buckets, sum and count.
    Histogram(HistogramSnapshot),
}

/// A histogram's state, in Prometheus's shape: cumulative buckets, sum and count.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// One bucket per bound of [`HISTOGRAM_BOUNDS`], then `+Inf` (`le` = `f64::INFINITY`),
    /// each counting the observations at or below its bound.
    pub buckets: Vec<HistogramBucket>,
    /// The sum of the observations (exact, to the nanosecond).
    pub sum: Duration,
    /// The number of observations (the `+Inf` bucket's count).
    pub count: u64,
}

/// One cumulative bucket of a [`HistogramSnapshot`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistogramBucket {
    /// The upper bound in seconds (`f64::INFINITY` for the last).
    pub le: f64,
    /// Observations at or below `le`.
    pub count: u64,
}

impl HistogramSnapshot {
    /// From per-bucket counts (not cumulative; the last is `+Inf`) and a sum in nanoseconds.
    fn from_raw(counts: &[u64], sum_ns: u64) -> HistogramSnapshot {
        let mut total = 0u64;
        let buckets = counts
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                total = total.wrapping_add(n);
                HistogramBucket {
                    le: HISTOGRAM_BOUNDS
                        .get(i)
                        .map_or(f64::INFINITY, Duration::as_secs_f64),
                    count: total,
                }
            })
            .collect();
        HistogramSnapshot {
            buckets,
            sum: Duration::from_nanos(sum_ns),
            count: total,
        }
    }

    /// The mean observation, if there is one.
    ///
    /// ```
    /// let h = profx_runtime::metrics::histogram("doc_mean_seconds", &[])?;
    /// h.record(std::time::Duration::from_millis(2));
    /// h.record(std::time::Duration::from_millis(4));
    /// let mean = h.snapshot().mean();
    /// if cfg!(feature = "enabled") {
    ///     assert_eq!(mean, Some(std::time::Duration::from_millis(3)));
    /// }
    /// # Ok::<(), profx_runtime::metrics::MetricError>(())
    /// ```
    pub fn mean(&self) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        Some(Duration::from_nanos(
            (self.sum.as_nanos() / self.count as u128) as u64,
        ))
    }
}

/// Every registered metric with its current values, ordered by name (empty without the
/// `enabled` feature). For exporters: the Prometheus endpoint and [`to_json`].
///
/// ```
/// use profx_runtime::metrics::{self, MetricValue};
/// metrics::counter("doc_snapshot_total", &[("kind", "scan")])?.inc_by(5);
/// let families = metrics::snapshot();
/// if cfg!(feature = "enabled") {
///     let f = families.iter().find(|f| f.name == "doc_snapshot_total").unwrap();
///     assert_eq!(f.series[0].labels, [("kind".to_string(), "scan".to_string())]);
///     assert_eq!(f.series[0].value, MetricValue::Counter(5));
/// } else {
///     assert!(families.is_empty());
/// }
/// # Ok::<(), metrics::MetricError>(())
/// ```
pub fn snapshot() -> Vec<MetricFamily> {
    Registry::global().snapshot()
}

/// The JSON of `/api/metrics`: an array with one object per series.
///
/// Every object has `name`, `kind` (`"counter"`, `"gauge"`, `"histogram"`) and `labels` (an
/// object of label name to value), and `help` when the metric is described. Counters and
/// gauges have `value` (a gauge that is NaN or infinite is `null`). Histograms have `count`,
/// `sum` (seconds) and `buckets`: `[{"le": 0.000005, "count": 0}, …]`, cumulative, one per
/// finite bound of [`HISTOGRAM_BOUNDS`] (the `+Inf` bucket is `count`). So the queries of
/// the monitoring guide work:
///
/// ```text
/// curl -s localhost:9090/api/metrics | jq '.[] | select(.name == "gaxx_task_success_rate_percent") | .value'
/// curl -s localhost:9090/api/metrics | jq '.[] | select(.name | contains("exec"))'
/// ```
///
/// ```
/// use profx_runtime::metrics;
/// metrics::gauge("doc_json_rate_percent", &[])?.set(92.5);
/// let json = metrics::to_json(&metrics::snapshot());
/// let entries = json.as_array().unwrap();
/// let rate = entries.iter().find(|m| m["name"] == "doc_json_rate_percent");
/// if cfg!(feature = "enabled") {
///     assert_eq!(rate.unwrap()["value"], 92.5);
/// }
/// # Ok::<(), metrics::MetricError>(())
/// ```
pub fn to_json(families: &[MetricFamily]) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let mut out = Vec::new();
    for f in families {
        for s in &f.series {
            let mut m = Map::new();
            m.insert("name".into(), Value::from(f.name.as_str()));
            m.insert("kind".into(), Value::from(f.kind.as_str()));
            if let Some(help) = &f.help {
                m.insert("help".into(), Value::from(help.as_str()));
            }
            let labels: Map<String, Value> = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            m.insert("labels".into(), Value::Object(labels));
            match &s.value {
                MetricValue::Counter(n) => {
                    m.insert("value".into(), Value::from(*n));
                }
                MetricValue::Gauge(v) => {
                    // `Value::from` turns NaN and infinities into null.
                    m.insert("value".into(), Value::from(*v));
                }
                MetricValue::Histogram(h) => {
                    m.insert("count".into(), Value::from(h.count));
                    m.insert("sum".into(), Value::from(h.sum.as_secs_f64()));
                    let buckets: Vec<Value> = h
                        .buckets
                        .iter()
                        .filter(|b| b.le.is_finite())
                        .map(|b| json!({ "le": b.le, "count": b.count }))
                        .collect();
                    m.insert("buckets".into(), Value::Array(buckets));
                }
            }
            out.push(Value::Object(m));
        }
    }
    Value::Array(out)
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        let cases = [
            ("a", true),
            ("_", true),
            (":", true),
            ("gaxx_tasks_started", true),
            ("job:req:rate5m", true),
            ("A9_b:c", true),
            ("", false),
            ("9lives", false),
            ("tasks-started", false),
            ("tasks.started", false),
            ("tasks started", false),
            ("tâches", false),
            ("x\n", false),
        ];
        for (name, ok) in cases {
            assert_eq!(is_valid_metric_name(name), ok, "{name:?}");
        }
    }

    #[test]
    fn label_names() {
        let cases = [
            ("a", true),
            ("_", true),
            ("__reserved", true), // valid, but refused at registration
            ("node_id", true),
            ("Z9", true),
            ("", false),
            ("1st", false),
            ("node:id", false),
            ("node-id", false),
            ("nœud", false),
        ];
        for (name, ok) in cases {
            assert_eq!(is_valid_label_name(name), ok, "{name:?}");
        }
    }

    fn err(kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> MetricError {
        Registry::default()
            .register(kind, name, labels)
            .err()
            .expect("should be refused")
    }

    #[test]
    fn refusals() {
        use MetricKind::*;
        let m = |name: &str, label: &str| (name.to_string(), label.to_string());
        assert_eq!(
            err(Counter, "a-b", &[]),
            MetricError::InvalidName { name: "a-b".into() }
        );
        let (metric, label) = m("x", "1a");
        assert_eq!(
            err(Gauge, "x", &[("1a", "v")]),
            MetricError::InvalidLabelName { metric, label }
        );
        let (metric, label) = m("x", "__name__");
        assert_eq!(
            err(Counter, "x", &[("__name__", "v")]),
            MetricError::ReservedLabelName { metric, label }
        );
        let (metric, label) = m("x", "le");
        assert_eq!(
            err(Histogram, "x", &[("le", "v")]),
            MetricError::ReservedLabelName { metric, label }
        );
        let (metric, label) = m("x", "k");
        assert_eq!(
            err(Counter, "x", &[("k", "1"), ("j", "2"), ("k", "3")]),
            MetricError::DuplicateLabelName { metric, label }
        );
        // `le` is only reserved on histograms.
        assert!(Registry::default()
            .register(Counter, "x", &[("le", "v")])
            .is_ok());
    }

    #[test]
    fn error_messages_say_what_is_accepted() {
        let text = |e: MetricError| e.to_string();
        assert_eq!(
            text(err(MetricKind::Counter, "x", &[("node:id", "1")])),
            "invalid label name \"node:id\" on metric \"x\": a label name is ASCII letters, \
             digits and '_', and does not start with a digit ([a-zA-Z_][a-zA-Z0-9_]*)"
        );
        assert_eq!(
            text(err(MetricKind::Counter, "x", &[("__x", "1")])),
            "reserved label name \"__x\" on metric \"x\": label names starting with \"__\" \
             are reserved for Prometheus's own use"
        );
        assert_eq!(
            text(err(MetricKind::Gauge, "x", &[("a", "1"), ("a", "2")])),
            "duplicate label name \"a\" on metric \"x\": each label name may be given once"
        );
    }

    #[test]
    fn conflicts() {
        use MetricKind::*;
        let r = Registry::default();
        r.register(Counter, "jobs", &[("kind", "a"), ("node", "1")])
            .unwrap();
        // Same names in another order, other values: fine.
        r.register(Counter, "jobs", &[("node", "2"), ("kind", "b")])
            .unwrap();
        let e = r.register(Gauge, "jobs", &[]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "metric \"jobs\" is already registered as a counter, so it cannot also be a gauge \
             (one name, one kind)"
        );
        let e = r.register(Counter, "jobs", &[("kind", "a")]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "metric \"jobs\" is already registered with label names [kind, node], not [kind]: \
             every series of a metric has the same label names"
        );
        assert!(matches!(
            r.register(Counter, "jobs", &[("kind", "a"), ("host", "1")]),
            Err(MetricError::LabelNamesConflict { .. })
        ));
    }

    #[test]
    fn histogram_names_collide() {
        use MetricKind::*;
        let r = Registry::default();
        r.register(Histogram, "rpc_seconds", &[]).unwrap();
        for name in ["rpc_seconds_bucket", "rpc_seconds_sum", "rpc_seconds_count"] {
            let e = r.register(Counter, name, &[]).err().unwrap();
            assert!(
                matches!(&e, MetricError::NameCollision { existing, .. } if existing == "rpc_seconds"),
                "{e}"
            );
        }
        r.register(Gauge, "queue_count", &[]).unwrap();
        let e = r.register(Histogram, "queue", &[]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "metric name \"queue\" collides with a gauge \"queue_count\": histogram \"queue\" is \
             exposed as queue_bucket, queue_sum and queue_count, which leaves no room for a \
             metric \"queue_count\""
        );
        // A counter ending in `_count` is fine when no histogram owns the prefix.
        r.register(Counter, "retry_count", &[]).unwrap();
    }

    #[test]
    fn describe_validates() {
        let r = Registry::default();
        assert!(r.describe("ok_name", "text\nwith \"anything\"").is_ok());
        assert_eq!(
            r.describe("no good", "x"),
            Err(MetricError::InvalidName {
                name: "no good".into()
            })
        );
    }

    #[test]
    fn bounds_are_increasing() {
        assert!(HISTOGRAM_BOUNDS.windows(2).all(|w| w[0] < w[1]));
        // Prometheus's default buckets are among them.
        for s in [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ] {
            assert!(HISTOGRAM_BOUNDS.iter().any(|b| b.as_secs_f64() == s), "{s}");
        }
    }

    #[test]
    fn snapshot_is_cumulative() {
        let mut raw = vec![0u64; HISTOGRAM_BOUNDS.len() + 1];
        raw[0] = 2;
        raw[3] = 1;
        raw[HISTOGRAM_BOUNDS.len()] = 4;
        let s = HistogramSnapshot::from_raw(&raw, 10);
        assert_eq!(s.count, 7);
        assert_eq!(s.buckets[0].count, 2);
        assert_eq!(s.buckets[2].count, 2);
        assert_eq!(s.buckets[3].count, 3);
        assert_eq!(s.buckets[21].count, 3);
        assert_eq!(s.buckets[22].count, 7);
        assert!(s.buckets[22].le.is_infinite());
        assert_eq!(s.buckets[0].le, 0.000005);
        assert_eq!(s.sum, Duration::from_nanos(10));
    }

    #[cfg(feature = "enabled")]
    mod on {
        use super::*;

        #[test]
        fn bucket_placement() {
            let us = |n: u64| n * 1_000;
            assert_eq!(bucket_index(0), 0);
            assert_eq!(bucket_index(us(5)), 0); // le is inclusive
            assert_eq!(bucket_index(us(5) + 1), 1);
            assert_eq!(bucket_index(us(10)), 1);
            assert_eq!(bucket_index(us(11)), 2);
            assert_eq!(bucket_index(us(1_000)), 7); // 1 ms
            assert_eq!(bucket_index(us(1_001)), 8); // → 2.5 ms
            assert_eq!(bucket_index(60_000_000_000), 21);
            assert_eq!(bucket_index(60_000_000_001), 22); // +Inf
            assert_eq!(bucket_index(u64::MAX), 22);
            for (i, b) in BOUNDS_NS.iter().enumerate() {
                assert_eq!(bucket_index(*b), i);
                assert_eq!(bucket_index(*b + 1), i + 1);
            }
        }

        #[test]
        fn same_series_same_cell() {
            let r = Registry::default();
            let a = r
                .register(MetricKind::Counter, "c", &[("a", "1"), ("b", "2")])
                .unwrap()
                .counter();
            let b = r
                .register(MetricKind::Counter, "c", &[("b", "2"), ("a", "1")])
                .unwrap()
                .counter();
            let other = r
                .register(MetricKind::Counter, "c", &[("b", "3"), ("a", "1")])
                .unwrap()
                .counter();
            a.inc();
            b.inc_by(2);
            assert_eq!(a.value(), 3);
            assert_eq!(other.value(), 0);
            let snap = r.snapshot();
            assert_eq!(snap.len(), 1);
            assert_eq!(snap[0].label_names, ["a", "b"]);
            assert_eq!(snap[0].series.len(), 2);
            assert_eq!(
                snap[0].series[0].labels,
                [("a".into(), "1".into()), ("b".into(), "2".into())]
            );
        }

        #[test]
        fn gauge_arithmetic() {
            let g = Registry::default()
                .register(MetricKind::Gauge, "g", &[])
                .unwrap()
                .gauge();
            assert_eq!(g.value(), 0.0);
            g.set(-2.5);
            g.inc();
            g.add(0.25);
            g.dec();
            assert_eq!(g.value(), -2.25);
        }

        #[test]
        fn huge_observations_are_clamped() {
            let h = Registry::default()
                .register(MetricKind::Histogram, "h", &[])
                .unwrap()
                .histogram();
            h.record(Duration::MAX);
            h.record(Duration::MAX);
            let s = h.snapshot();
            assert_eq!(s.count, 2);
            assert_eq!(s.sum, Duration::from_nanos(2 * MAX_OBSERVATION_NS));
            assert_eq!(s.buckets[21].count, 0);
        }

        #[test]
        fn stripes_are_a_power_of_two() {
            let n = cells::stripe_count();
            assert!(n.is_power_of_two() && n <= MAX_STRIPES);
        }

        #[test]
        fn striped_counter_from_threads() {
            let c = Registry::default()
                .register(MetricKind::Counter, "c", &[])
                .unwrap()
                .counter();
            std::thread::scope(|s| {
                for _ in 0..MAX_STRIPES * 2 {
                    s.spawn(|| {
                        for _ in 0..1000 {
                            c.inc();
                        }
                    });
                }
            });
            assert_eq!(c.value(), (MAX_STRIPES * 2 * 1000) as u64);
        }
    }
}
