//! Metric kinds, the errors of registration, and the validation of metric and label names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// A count that only goes up ([`Counter`](super::Counter)).
    Counter,
    /// A value that goes up and down ([`Gauge`](super::Gauge)).
    Gauge,
    /// A distribution of durations in fixed buckets ([`Histogram`](super::Histogram)).
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
pub(super) fn validate(
    kind: MetricKind,
    name: &str,
    labels: &[(&str, &str)],
) -> Result<(), MetricError> {
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
pub(super) fn histogram_base(name: &str) -> impl Iterator<Item = &str> {
    ["_bucket", "_sum", "_count"]
        .into_iter()
        .filter_map(move |suffix| name.strip_suffix(suffix))
}

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
}
