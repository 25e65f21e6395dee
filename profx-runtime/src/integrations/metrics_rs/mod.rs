//! The `metrics` crate's macros into profx's registry (feature `metrics`): a
//! [`metrics::Recorder`](::metrics::Recorder).
//!
//! Install [`ProfxRecorder`] once, as the global recorder, and `metrics::counter!`, `gauge!`
//! and `histogram!` anywhere in the program (and in its libraries) update the series of
//! [`crate::metrics`]: they show in [`crate::metrics::snapshot`], in
//! [`crate::prometheus::render`] and on the server's `/metrics` and `/api/metrics`, next to the
//! metrics registered with profx directly.
//!
//! ```
//! profx_runtime::metrics_rs::install().expect("no other recorder installed yet");
//!
//! metrics::describe_counter!("jobs_done_total", "Jobs finished.");
//! metrics::counter!("jobs_done_total", "queue" => "mail").increment(1);
//! metrics::gauge!("queue_depth").set(12.0);
//! metrics::histogram!("job_duration_seconds").record(0.042); // seconds
//!
//! let families = profx_runtime::metrics::snapshot();
//! if cfg!(feature = "enabled") {
//!     let jobs = families.iter().find(|f| f.name == "jobs_done_total").unwrap();
//!     assert_eq!(jobs.help.as_deref(), Some("Jobs finished."));
//! }
//! ```
//!
//! # How `metrics` maps onto profx
//!
//! | `metrics` | profx |
//! |---|---|
//! | `counter!(..).increment(n)` | [`Counter::inc_by`](crate::metrics::Counter::inc_by) |
//! | `counter!(..).absolute(n)` | raises the counter to `n` if it is below (a counter never goes down) |
//! | `gauge!(..).increment(v)` / `.decrement(v)` / `.set(v)` | [`Gauge::add`](crate::metrics::Gauge::add)`(v)` / `add(-v)` / [`set`](crate::metrics::Gauge::set)`(v)` |
//! | `histogram!(..).record(v)` | [`Histogram::record`](crate::metrics::Histogram::record)`(v seconds)` |
//! | `describe_counter!`, `describe_gauge!`, `describe_histogram!` | [`describe`](crate::metrics::describe) (the unit is not used) |
//!
//! **Histograms take seconds.** profx's histograms are duration histograms with the buckets of
//! [`HISTOGRAM_BOUNDS`](crate::metrics::HISTOGRAM_BOUNDS) (5 µs to 60 s, then `+Inf`), exposed in
//! seconds as Prometheus expects of `*_seconds` metrics. So a value given to `histogram!` is read
//! as a number of seconds: record `elapsed.as_secs_f64()` (or a `Duration`, which `metrics`
//! turns into seconds itself), not milliseconds. The sum and count are exact (to the
//! nanosecond) whatever the values; the buckets only suit durations. A value that is not a
//! duration — negative, NaN or infinite — is not recorded: it is dropped and counted in the
//! counter **`profx_metrics_rs_dropped_total{metric="<name>",reason="negative"|"nan"|"infinite"}`**
//! (in the same registry, so on `/metrics` too). Finite values above profx's largest observation
//! (about 208 days) count as that.
//!
//! # Names that Prometheus (and profx) refuse
//!
//! profx's registry takes the names Prometheus takes; the `metrics` crate takes any string. The
//! recorder does what `metrics-exporter-prometheus` does, and a bit more where profx is stricter:
//!
//! - A metric name has every character outside `[a-zA-Z0-9_:]` (or, first, outside
//!   `[a-zA-Z_:]`) replaced by `_`: `http.requests` becomes `http_requests`, `2xx` becomes `_xx`.
//! - A label name likewise with `[a-zA-Z0-9_]` (first: `[a-zA-Z_]`): `status-code` becomes
//!   `status_code`. Then, since profx reserves them: a label name starting with `__` keeps
//!   one leading `_` (`__shard` becomes `_shard`), and `le` on a histogram becomes `_le`.
//! - An empty name becomes `_`. Label values are kept as they are (any UTF-8: the exporter
//!   escapes them).
//! - Two labels that end up with the same name: the first is kept, the later ones dropped.
//! - A key with fewer labels than the metric was first registered with is recorded with the
//!   missing labels empty (`""`), which Prometheus reads as the same series as a missing
//!   label.
//!
//! Each change prints **one warning** on standard error (`profx: warning: metrics: …`, naming
//! the key, what was changed and into what), the first time the key is registered (once per
//! process, however many recorders see it). A key the registry still refuses — its name
//! already used by another kind (`counter!("x")` after `gauge!("x")`), with other label names
//! than the first registration, or colliding with a histogram's `_bucket`/`_sum`/`_count` —
//! gets a warning saying why, and its updates are counted in
//! `profx_metrics_rs_dropped_total{metric="<name>",reason="refused"}` instead.
//! Nothing panics and nothing is dropped without a trace.
//!
//! # Cost
//!
//! The `metrics` macros ask the recorder for a handle on every call. The recorder answers from
//! a map of the calling thread's own (keyed by the key's precomputed hash; no lock), with an
//! `Arc` of that thread's own, so threads updating one key share no reference count or lock;
//! the name checks, the warnings and profx's registration happen once per key, under a lock,
//! the first time. Updates then go to profx's lock-free handles. A handle kept by the caller
//! (`let c = metrics::counter!(…)`) skips the lookup altogether.
//!
//! Without the `enabled` feature the recorder still checks and translates names (profx's
//! registry validates without it too), and every update does nothing.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use ::metrics::{Key, KeyName, Metadata, Recorder, SetRecorderError, SharedString, Unit};

use crate::metrics::{self as registry, MetricError, MetricKind};

mod handles;
mod names;

use handles::{
    refused, CounterHandle, GaugeHandle, HistogramHandle, ThreadCounter, ThreadGauge,
    ThreadHistogram,
};
use names::{name_message, sanitize_label_name, sanitize_metric_name, ShowKey};

/// The counter where the recorder counts what it could not record, with the labels `metric`
/// (the metric's name as recorded) and `reason` (`negative`, `nan`, `infinite`, `refused`).
///
/// ```
/// use profx_runtime::metrics_rs::{ProfxRecorder, DROPPED_METRIC};
/// metrics::with_local_recorder(&ProfxRecorder::new(), || {
///     metrics::histogram!("doc_dropped_seconds").record(-1.0);
/// });
/// let dropped = profx_runtime::metrics::counter(
///     DROPPED_METRIC,
///     &[("metric", "doc_dropped_seconds"), ("reason", "negative")],
/// )?;
/// assert_eq!(dropped.value(), if cfg!(feature = "enabled") { 1 } else { 0 });
/// # Ok::<(), profx_runtime::metrics::MetricError>(())
/// ```
pub const DROPPED_METRIC: &str = "profx_metrics_rs_dropped_total";

/// Installs a [`ProfxRecorder`] as the `metrics` crate's global recorder.
///
/// # Errors
///
/// The `metrics` crate takes one global recorder for the life of the process: when one is
/// already installed this returns the recorder it did not install.
///
/// ```
/// profx_runtime::metrics_rs::install()?;
/// metrics::counter!("doc_install_total").increment(1);
/// assert!(profx_runtime::metrics_rs::install().is_err()); // only once
/// # Ok::<(), metrics::SetRecorderError<profx_runtime::metrics_rs::ProfxRecorder>>(())
/// ```
pub fn install() -> Result<(), SetRecorderError<ProfxRecorder>> {
    ::metrics::set_global_recorder(ProfxRecorder::new())
}

/// A [`Recorder`] that records into profx's registry ([`crate::metrics`]); see the
/// [module documentation](self) for how names and values are translated.
///
/// Install it with [`install`], or yourself (`metrics::set_global_recorder`,
/// `metrics::with_local_recorder`), or wrap it in a recorder of your own (a fan-out, a
/// filter). Clones share their handles. Warnings are printed once per process.
///
/// ```
/// use metrics::Recorder as _;
/// let recorder = profx_runtime::metrics_rs::ProfxRecorder::new();
/// metrics::with_local_recorder(&recorder, || {
///     metrics::gauge!("doc.local.gauge").set(3.0); // recorded as doc_local_gauge
/// });
/// if cfg!(feature = "enabled") {
///     let g = profx_runtime::metrics::gauge("doc_local_gauge", &[])?;
///     assert_eq!(g.value(), 3.0);
/// }
/// # Ok::<(), profx_runtime::metrics::MetricError>(())
/// ```
#[derive(Clone, Default)]
pub struct ProfxRecorder {
    state: Arc<State>,
}

impl ProfxRecorder {
    /// A recorder (the same as [`ProfxRecorder::default`]).
    ///
    /// ```
    /// let recorder = profx_runtime::metrics_rs::ProfxRecorder::new();
    /// # drop(recorder);
    /// ```
    pub fn new() -> ProfxRecorder {
        ProfxRecorder::default()
    }
}

impl fmt::Debug for ProfxRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfxRecorder")
            .field("counters", &read(&self.state.counters).len())
            .field("gauges", &read(&self.state.gauges).len())
            .field("histograms", &read(&self.state.histograms).len())
            .finish()
    }
}

/// One of profx's registration functions.
type Make<T> = fn(&str, &[(&str, &str)]) -> Result<T, MetricError>;

type Handles<T> = RwLock<HashMap<Key, T, BuildHasherDefault<KeyHasher>>>;

#[derive(Default)]
struct State {
    counters: Handles<::metrics::Counter>,
    gauges: Handles<::metrics::Gauge>,
    histograms: Handles<::metrics::Histogram>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// `metrics::Key` hashes itself as one `write_u64` of a hash it computed once: use it as is.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `Key`; a plain FNV-1a so the hasher is still correct for anything else.
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl State {
    /// Prints `message` once per process.
    fn warn(&self, message: String) {
        static WARNED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
        let first = WARNED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(message.clone());
        if first {
            eprintln!("profx: warning: metrics: {message}");
        }
    }

    /// Registers `key` as `kind` in profx's registry with `make`, translating what profx
    /// refuses; `Err(name)` when it still refuses (warned), with the name used.
    fn register<T>(&self, kind: MetricKind, key: &Key, make: Make<T>) -> Result<T, String> {
        let shown = ShowKey(key);
        let name = sanitize_metric_name(key.name());
        if let Cow::Owned(n) = &name {
            self.warn(name_message(key.name(), n));
        }
        let mut labels: Vec<(Cow<'_, str>, &str)> = Vec::new();
        for label in key.labels() {
            let l = sanitize_label_name(label.key(), kind == MetricKind::Histogram);
            if let Cow::Owned(s) = &l {
                self.warn(format!(
                    "key {shown}: label name {:?} is not accepted in Prometheus (or is \
                     reserved): recorded as {s:?}",
                    label.key()
                ));
            }
            if let Some((_, kept)) = labels.iter().find(|(k, _)| *k == l) {
                self.warn(format!(
                    "key {shown}: label {l:?} is given twice (after renaming): the first value \
                     {kept:?} is kept and {:?} is dropped",
                    label.value()
                ));
                continue;
            }
            labels.push((l, label.value()));
        }
        let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (&**k, *v)).collect();
        let err = match make(&name, &pairs) {
            Ok(h) => return Ok(h),
            Err(e) => e,
        };
        if let MetricError::LabelNamesConflict { registered, .. } = &err {
            // Fewer labels than the metric has: the missing ones are empty.
            if pairs.iter().all(|(k, _)| registered.iter().any(|r| r == k)) {
                let padded: Vec<(&str, &str)> = registered
                    .iter()
                    .map(|r| {
                        let v = pairs.iter().find(|(k, _)| k == r).map_or("", |p| p.1);
                        (r.as_str(), v)
                    })
                    .collect();
                if let Ok(h) = make(&name, &padded) {
                    let missing: Vec<&str> = registered
                        .iter()
                        .filter(|r| !pairs.iter().any(|(k, _)| k == r))
                        .map(String::as_str)
                        .collect();
                    self.warn(format!(
                        "key {shown}: metric {name:?} has the labels [{}]; recorded with [{}] \
                         empty, which Prometheus reads as absent",
                        registered.join(", "),
                        missing.join(", ")
                    ));
                    return Ok(h);
                }
            }
        }
        self.warn(format!(
            "key {shown} is refused by profx's registry: {err}; its updates are counted in \
             {DROPPED_METRIC}{{metric={name:?},reason=\"refused\"}} instead"
        ));
        Err(name.into_owned())
    }
}

/// A thread's own handles for the keys of one recorder: each wraps the shared handle in an
/// `Arc` of the thread's own ([`ThreadCounter`] …).
#[derive(Default)]
struct Local {
    counters: LocalMap<::metrics::Counter>,
    gauges: LocalMap<::metrics::Gauge>,
    histograms: LocalMap<::metrics::Histogram>,
}

type LocalMap<T> = HashMap<Key, T, BuildHasherDefault<KeyHasher>>;

thread_local! {
    /// Per recorder alive (a weak reference, so its address cannot be reused while listed),
    /// this thread's handles.
    static LOCAL: RefCell<Vec<(Weak<State>, Local)>> = const { RefCell::new(Vec::new()) };
}

/// The handle of `key` from this thread's cache for the recorder `state`, made with `make` the
/// first time on this thread. `None` when the thread's cache cannot be used (the thread is
/// exiting, or this is a re-entrant call): the caller then takes the shared handle.
///
/// The `metrics` macros ask for the handle on every call, and a handle is an `Arc`: were every
/// thread given clones of one `Arc` from one locked map, two threads updating one key would
/// write the same reference count and lock word on every call. Here each thread clones its
/// own `Arc`, found without a lock; the update itself goes on to profx's striped handle.
fn local<T: Clone>(
    state: &Arc<State>,
    pick: fn(&mut Local) -> &mut LocalMap<T>,
    key: &Key,
    make: impl FnOnce() -> T,
) -> Option<T> {
    LOCAL
        .try_with(|cell| {
            let mut all = cell.try_borrow_mut().ok()?;
            let i = match all
                .iter()
                .position(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(state)))
            {
                Some(i) => i,
                None => {
                    // Drop the caches of recorders that are gone before adding one.
                    all.retain(|(w, _)| w.strong_count() > 0);
                    all.push((Arc::downgrade(state), Local::default()));
                    all.len() - 1
                }
            };
            let map = pick(&mut all[i].1);
            if let Some(h) = map.get(key) {
                return Some(h.clone());
            }
            let h = make();
            map.insert(key.clone(), h.clone());
            Some(h)
        })
        .ok()
        .flatten()
}

/// The cached handle of `key`, made with `make` the first time.
fn cached<T: Clone>(handles: &Handles<T>, key: &Key, make: impl FnOnce() -> T) -> T {
    if let Some(h) = read(handles).get(key) {
        return h.clone();
    }
    // Made under the write lock: two threads registering one key warn once.
    write(handles)
        .entry(key.clone())
        .or_insert_with(make)
        .clone()
}

impl ProfxRecorder {
    fn describe(&self, key: KeyName, description: SharedString) {
        let name = sanitize_metric_name(key.as_str());
        if let Cow::Owned(n) = &name {
            self.state.warn(name_message(key.as_str(), n));
        }
        if let Err(e) = registry::describe(&name, &description) {
            self.state
                .warn(format!("description of {:?} refused: {e}", key.as_str()));
        }
    }

    /// The handle of `key` shared by every thread (made and registered the first time).
    fn shared_counter(&self, key: &Key) -> ::metrics::Counter {
        cached(&self.state.counters, key, || {
            match self
                .state
                .register(MetricKind::Counter, key, registry::counter)
            {
                Ok(counter) => ::metrics::Counter::from_arc(Arc::new(CounterHandle::new(counter))),
                Err(name) => ::metrics::Counter::from_arc(refused(&name)),
            }
        })
    }

    /// The gauge handle of `key` shared by every thread.
    fn shared_gauge(&self, key: &Key) -> ::metrics::Gauge {
        cached(&self.state.gauges, key, || {
            match self.state.register(MetricKind::Gauge, key, registry::gauge) {
                Ok(g) => ::metrics::Gauge::from_arc(Arc::new(GaugeHandle(g))),
                Err(name) => ::metrics::Gauge::from_arc(refused(&name)),
            }
        })
    }

    /// The histogram handle of `key` shared by every thread.
    fn shared_histogram(&self, key: &Key) -> ::metrics::Histogram {
        cached(&self.state.histograms, key, || {
            match self
                .state
                .register(MetricKind::Histogram, key, registry::histogram)
            {
                Ok(histogram) => {
                    let name = sanitize_metric_name(key.name());
                    ::metrics::Histogram::from_arc(Arc::new(HistogramHandle::new(histogram, &name)))
                }
                Err(name) => ::metrics::Histogram::from_arc(refused(&name)),
            }
        })
    }
}

impl Recorder for ProfxRecorder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> ::metrics::Counter {
        local(
            &self.state,
            |l| &mut l.counters,
            key,
            || ::metrics::Counter::from_arc(Arc::new(ThreadCounter(self.shared_counter(key)))),
        )
        .unwrap_or_else(|| self.shared_counter(key))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> ::metrics::Gauge {
        local(
            &self.state,
            |l| &mut l.gauges,
            key,
            || ::metrics::Gauge::from_arc(Arc::new(ThreadGauge(self.shared_gauge(key)))),
        )
        .unwrap_or_else(|| self.shared_gauge(key))
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> ::metrics::Histogram {
        local(
            &self.state,
            |l| &mut l.histograms,
            key,
            || {
                ::metrics::Histogram::from_arc(Arc::new(ThreadHistogram(
                    self.shared_histogram(key),
                )))
            },
        )
        .unwrap_or_else(|| self.shared_histogram(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hasher_passes_the_key_hash_through() {
        use std::hash::BuildHasher;
        let key = Key::from_parts("k", vec![::metrics::Label::new("a", "1")]);
        let hashed = BuildHasherDefault::<KeyHasher>::default().hash_one(&key);
        assert_eq!(hashed, key.get_hash());
    }
}
