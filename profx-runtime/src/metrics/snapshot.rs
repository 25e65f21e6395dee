//! The read side: snapshots of every series, and their JSON form.

use std::time::Duration;

use super::buckets::HISTOGRAM_BOUNDS;
use super::names::MetricKind;

/// One metric and all its series, as read by [`snapshot`](super::snapshot).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricFamily {
    /// The metric name.
    pub name: String,
    /// Its kind.
    pub kind: MetricKind,
    /// Its help text, if [`describe`](super::describe)d.
    pub help: Option<String>,
    /// Its label names, in the order of the first registration.
    pub label_names: Vec<String>,
    /// Its series, ordered by label values.
    pub series: Vec<MetricSeries>,
}

impl MetricFamily {
    /// The help text given to [`describe`](super::describe), or `Custom KIND NAME.` — what the
    /// exporters (Prometheus, OTLP) publish as its description.
    ///
    /// ```
    /// let f = profx_runtime::metrics::MetricFamily {
    ///     name: "jobs_total".into(),
    ///     kind: profx_runtime::metrics::MetricKind::Counter,
    ///     help: None,
    ///     label_names: vec![],
    ///     series: vec![],
    /// };
    /// assert_eq!(f.help_or_default(), "Custom counter jobs_total.");
    /// ```
    pub fn help_or_default(&self) -> std::borrow::Cow<'_, str> {
        match &self.help {
            Some(h) => h.as_str().into(),
            None => format!("Custom {} {}.", self.kind.as_str(), self.name).into(),
        }
    }
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
    pub(super) fn from_raw(counts: &[u64], sum_ns: u64) -> HistogramSnapshot {
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

/// The JSON of `/api/metrics`: an array with one object per series.
///
/// Every object has `name`, `kind` (`"counter"`, `"gauge"`, `"histogram"`) and `labels` (an
/// object of label name to value), and `help` when the metric is described. Counters and
/// gauges have `value` (a gauge that is NaN or infinite is `null`). Histograms have `count`,
/// `sum` (seconds) and `buckets`: `[{"le": 1e-7, "count": 0}, …]`, cumulative, one per
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(s.buckets[27].count, 3);
        assert_eq!(s.buckets[28].count, 7);
        assert!(s.buckets[28].le.is_infinite());
        assert_eq!(s.buckets[0].le, 1e-7);
        assert_eq!(s.sum, Duration::from_nanos(10));
    }
}
