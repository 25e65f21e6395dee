//! The handles a program updates: counters, gauges and duration histograms, and the histogram
//! timer.

use std::fmt;
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::buckets::clamp_ns;
use super::cells::{CounterCell, GaugeCell, HistogramCell};
use super::snapshot::HistogramSnapshot;

/// A count that only goes up, from any thread; see [`counter`](super::counter).
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
    pub(super) cell: Arc<CounterCell>,
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
        self.cell.add(n);
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
        self.cell.get()
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter")
            .field("value", &self.value())
            .finish()
    }
}

/// A value that goes up and down, from any thread; see [`gauge`](super::gauge).
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
    pub(super) cell: Arc<GaugeCell>,
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
        self.cell.set(value);
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
        self.cell.add(delta);
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
        self.cell.get()
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gauge")
            .field("value", &self.value())
            .finish()
    }
}

/// A distribution of durations in the buckets of [`HISTOGRAM_BOUNDS`](super::HISTOGRAM_BOUNDS),
/// with their sum and count, from any thread; see [`histogram`](super::histogram).
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
    pub(super) cell: Arc<HistogramCell>,
}

impl Histogram {
    /// Records one observation. Lock-free: a binary search over 28 bounds and two relaxed
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
        self.cell.record_ns(ns);
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
        let (buckets, sum_ns) = self.cell.read();
        HistogramSnapshot::from_raw(&buckets, sum_ns)
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

#[cfg(all(test, feature = "enabled"))]
mod tests {
    use super::*;
    use crate::metrics::buckets::MAX_OBSERVATION_NS;
    use crate::metrics::store::Registry;
    use crate::metrics::{MetricKind, MAX_STRIPES};

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
