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

mod buckets;
// The atomics behind the handles: one module per state of the `enabled` feature.
#[cfg(feature = "enabled")]
#[path = "cells/on.rs"]
mod cells;
#[cfg(not(feature = "enabled"))]
#[path = "cells/off.rs"]
mod cells;
mod handles;
mod names;
mod snapshot;
mod store;

pub use buckets::HISTOGRAM_BOUNDS;
pub use handles::{Counter, Gauge, Histogram, HistogramTimer};
pub use names::{is_valid_label_name, is_valid_metric_name, MetricError, MetricKind};
pub use snapshot::{
    to_json, HistogramBucket, HistogramSnapshot, MetricFamily, MetricSeries, MetricValue,
};
pub use store::{counter, describe, gauge, histogram, snapshot};

/// The most stripes a counter or histogram has.
pub const MAX_STRIPES: usize = 8;
