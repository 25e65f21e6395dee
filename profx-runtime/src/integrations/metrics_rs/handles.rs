//! The handles the recorder gives the `metrics` crate: each forwards to one of profx's
//! lock-free handles, or counts what it cannot record in [`DROPPED_METRIC`].

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ::metrics::{CounterFn, GaugeFn, HistogramFn};

use super::DROPPED_METRIC;
use crate::metrics as registry;

/// Counts the updates of one metric that were not recorded, for one reason, in
/// [`DROPPED_METRIC`]; registered on the first.
pub(super) struct Dropped {
    metric: String,
    reason: &'static str,
    counter: OnceLock<Option<registry::Counter>>,
}

impl Dropped {
    fn new(metric: &str, reason: &'static str) -> Dropped {
        Dropped {
            metric: metric.to_owned(),
            reason,
            counter: OnceLock::new(),
        }
    }

    fn add(&self, n: u64) {
        let counter = self.counter.get_or_init(|| {
            let labels = [("metric", self.metric.as_str()), ("reason", self.reason)];
            match registry::counter(DROPPED_METRIC, &labels) {
                Ok(c) => {
                    let _ = registry::describe(
                        DROPPED_METRIC,
                        "Updates of `metrics` crate metrics that profx did not record: values \
                         of histograms that are negative, NaN or infinite, and updates of keys \
                         its registry refused.",
                    );
                    Some(c)
                }
                Err(e) => {
                    eprintln!(
                        "profx: warning: metrics: cannot count dropped updates of {:?}: {e}",
                        self.metric
                    );
                    None
                }
            }
        });
        if let Some(c) = counter {
            c.inc_by(n);
        }
    }
}

pub(super) struct CounterHandle {
    counter: registry::Counter,
    /// `absolute` reads then adds: one at a time.
    absolute: Mutex<()>,
}

impl CounterHandle {
    pub(super) fn new(counter: registry::Counter) -> CounterHandle {
        CounterHandle {
            counter,
            absolute: Mutex::new(()),
        }
    }
}

impl CounterFn for CounterHandle {
    fn increment(&self, value: u64) {
        self.counter.inc_by(value);
    }

    fn absolute(&self, value: u64) {
        let _one = self.absolute.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.counter.value();
        if value > now {
            self.counter.inc_by(value - now);
        }
    }
}

pub(super) struct GaugeHandle(pub(super) registry::Gauge);

impl GaugeFn for GaugeHandle {
    fn increment(&self, value: f64) {
        self.0.add(value);
    }

    fn decrement(&self, value: f64) {
        self.0.add(-value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

pub(super) struct HistogramHandle {
    histogram: registry::Histogram,
    negative: Dropped,
    nan: Dropped,
    infinite: Dropped,
}

impl HistogramHandle {
    /// A handle recording into `histogram`, counting dropped values under `name`.
    pub(super) fn new(histogram: registry::Histogram, name: &str) -> HistogramHandle {
        HistogramHandle {
            histogram,
            negative: Dropped::new(name, "negative"),
            nan: Dropped::new(name, "nan"),
            infinite: Dropped::new(name, "infinite"),
        }
    }

    /// The value as a duration, or the reason it is not one (counted).
    fn duration(&self, seconds: f64, count: u64) -> Option<Duration> {
        let dropped = if seconds.is_nan() {
            &self.nan
        } else if seconds < 0.0 {
            &self.negative
        } else if seconds.is_infinite() {
            &self.infinite
        } else {
            return Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
        };
        dropped.add(count);
        None
    }
}

impl HistogramFn for HistogramHandle {
    fn record(&self, value: f64) {
        if let Some(d) = self.duration(value, 1) {
            self.histogram.record(d);
        }
    }

    fn record_many(&self, value: f64, count: usize) {
        if let Some(d) = self.duration(value, count as u64) {
            for _ in 0..count {
                self.histogram.record(d);
            }
        }
    }
}

/// The handle of a key profx's registry refused: counts its updates.
pub(super) struct Refused(Dropped);

impl CounterFn for Refused {
    fn increment(&self, _: u64) {
        self.0.add(1);
    }
    fn absolute(&self, _: u64) {
        self.0.add(1);
    }
}

impl GaugeFn for Refused {
    fn increment(&self, _: f64) {
        self.0.add(1);
    }
    fn decrement(&self, _: f64) {
        self.0.add(1);
    }
    fn set(&self, _: f64) {
        self.0.add(1);
    }
}

impl HistogramFn for Refused {
    fn record(&self, _: f64) {
        self.0.add(1);
    }
    fn record_many(&self, _: f64, count: usize) {
        self.0.add(count as u64);
    }
}

pub(super) fn refused(name: &str) -> Arc<Refused> {
    Arc::new(Refused(Dropped::new(name, "refused")))
}

/// A thread's own handle forwarding to the shared one: cloning it writes only this thread's
/// reference count (see `local` in the module above).
pub(super) struct ThreadCounter(pub(super) ::metrics::Counter);

impl CounterFn for ThreadCounter {
    fn increment(&self, value: u64) {
        self.0.increment(value);
    }
    fn absolute(&self, value: u64) {
        self.0.absolute(value);
    }
}

/// A thread's own gauge handle forwarding to the shared one.
pub(super) struct ThreadGauge(pub(super) ::metrics::Gauge);

impl GaugeFn for ThreadGauge {
    fn increment(&self, value: f64) {
        self.0.increment(value);
    }
    fn decrement(&self, value: f64) {
        self.0.decrement(value);
    }
    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

/// A thread's own histogram handle forwarding to the shared one.
pub(super) struct ThreadHistogram(pub(super) ::metrics::Histogram);

impl HistogramFn for ThreadHistogram {
    fn record(&self, value: f64) {
        self.0.record(value);
    }
    fn record_many(&self, value: f64, count: usize) {
        self.0.record_many(value, count);
    }
}
