//! The store of custom metrics (its `Registry`): metric families by name, registration with
//! its conflict checks, and the functions that hand out handles.

use crate::lock::lock;
use std::collections::BTreeMap;
use std::sync::Mutex;

use std::sync::Arc;

use super::cells::{CounterCell, GaugeCell, HistogramCell};
use super::handles::{Counter, Gauge, Histogram};
use super::names::{histogram_base, is_valid_metric_name, validate, MetricError, MetricKind};
use super::snapshot::MetricFamily;
use super::snapshot::{HistogramSnapshot, MetricSeries, MetricValue};

#[derive(Clone)]
pub(super) enum Cell {
    Counter(Arc<CounterCell>),
    Gauge(Arc<GaugeCell>),
    Histogram(Arc<HistogramCell>),
}

struct Family {
    kind: MetricKind,
    /// In the order of the first registration.
    label_names: Vec<String>,
    /// By label values, in `label_names` order.
    series: BTreeMap<Vec<String>, Cell>,
}

#[derive(Default)]
struct Tables {
    families: BTreeMap<String, Family>,
    help: BTreeMap<String, String>,
}

/// Families by name. One process-wide instance; tests make their own.
#[derive(Default)]
pub(super) struct Registry {
    tables: Mutex<Tables>,
}

/// What a registration resolves to.
pub(super) type Resolved = Cell;

impl Registry {
    pub(super) fn global() -> &'static Registry {
        static GLOBAL: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::default);
        &GLOBAL
    }

    pub(super) fn register(
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
                    series: BTreeMap::new(),
                })
            }
        };
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

    pub(super) fn describe(&self, name: &str, help: &str) -> Result<(), MetricError> {
        if !is_valid_metric_name(name) {
            return Err(MetricError::InvalidName { name: name.into() });
        }
        lock(&self.tables)
            .help
            .insert(name.to_owned(), help.to_owned());
        Ok(())
    }

    pub(super) fn snapshot(&self) -> Vec<MetricFamily> {
        if !super::cells::RECORDS {
            // Nothing is recorded: nothing to show, not series of zeros.
            return Vec::new();
        }
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
    }
}

impl Cell {
    pub(super) fn counter(self) -> Counter {
        match self {
            Cell::Counter(cell) => Counter { cell },
            _ => unreachable!("kind checked at registration"),
        }
    }
    pub(super) fn gauge(self) -> Gauge {
        match self {
            Cell::Gauge(cell) => Gauge { cell },
            _ => unreachable!("kind checked at registration"),
        }
    }
    pub(super) fn histogram(self) -> Histogram {
        match self {
            Cell::Histogram(cell) => Histogram { cell },
            _ => unreachable!("kind checked at registration"),
        }
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
/// [`HISTOGRAM_BOUNDS`](super::HISTOGRAM_BOUNDS).
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

/// Every registered metric with its current values, ordered by name (empty without the
/// `enabled` feature). For exporters: the Prometheus endpoint and [`to_json`](super::to_json).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> MetricError {
        match Registry::default().register(kind, name, labels) {
            Ok(_) => panic!("should be refused"),
            Err(e) => e,
        }
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

    #[cfg(feature = "enabled")]
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
}
