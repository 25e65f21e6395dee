//! What one export carries: profx's agents and phases, the process and the custom metrics as
//! an `ExportMetricsServiceRequest` (the naming table is in the module documentation).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use profx_runtime::__subsystem::{process_metrics, Figure, ProcessMetric};
use profx_runtime::metrics::{self, MetricKind, MetricValue, HISTOGRAM_BOUNDS};
use profx_runtime::{KeyHistogram, Profiler};

/// The scope every metric is exported under.
pub(crate) const SCOPE: &str = "profx";

/// Nanoseconds since the Unix epoch.
pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .min(u64::MAX as u128) as u64
}

/// A string attribute.
pub(crate) fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// An integer attribute.
pub(crate) fn int_attr(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// The times every point of one export carries.
#[derive(Clone, Copy)]
pub(crate) struct Times {
    /// When the cumulative series started (the first exporter's start in this process).
    pub(crate) start: u64,
    /// This export.
    pub(crate) now: u64,
}

/// The request for `profiler`'s agents and phases, the process and the custom metrics.
pub(crate) fn request(
    profiler: &Profiler,
    resource: &[KeyValue],
    times: Times,
) -> ExportMetricsServiceRequest {
    let mut out = Vec::new();
    profx_metrics(&mut out, &profiler.histograms(&HISTOGRAM_BOUNDS), times);
    process(&mut out, &process_metrics(), times);
    custom(&mut out, &metrics::snapshot(), times);
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource.to_vec(),
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: SCOPE.to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                metrics: out,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

fn metric(name: &str, unit: &str, description: &str, data: Data) -> Metric {
    Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: unit.to_owned(),
        data: Some(data),
        ..Default::default()
    }
}

fn point(attributes: Vec<KeyValue>, value: number_data_point::Value, t: Times) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: t.start,
        time_unix_nano: t.now,
        value: Some(value),
        ..Default::default()
    }
}

fn sum(points: Vec<NumberDataPoint>, monotonic: bool) -> Data {
    Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: CUMULATIVE,
        is_monotonic: monotonic,
    })
}

/// A histogram point from cumulative counts at `bounds` (as `Profiler::histograms` and the
/// custom snapshots give them), a sum and a count: OTLP wants per-bucket counts, one more than
/// the bounds. The cumulative counts are clamped to be non-decreasing and at most `count` (a
/// read racing with updates may see a bucket before the count), so the buckets always add up
/// to `count`.
fn histogram_point(
    attributes: Vec<KeyValue>,
    bounds: &[f64],
    cumulative: &[u64],
    sum: Duration,
    count: u64,
    t: Times,
) -> HistogramDataPoint {
    let mut bucket_counts = Vec::with_capacity(bounds.len() + 1);
    let mut below = 0u64;
    for &c in cumulative.iter().take(bounds.len()) {
        let c = c.clamp(below, count);
        bucket_counts.push(c - below);
        below = c;
    }
    bucket_counts.resize(bounds.len(), 0);
    bucket_counts.push(count - below);
    HistogramDataPoint {
        attributes,
        start_time_unix_nano: t.start,
        time_unix_nano: t.now,
        count,
        sum: Some(sum.as_secs_f64()),
        bucket_counts,
        explicit_bounds: bounds.to_vec(),
        ..Default::default()
    }
}

fn histogram(points: Vec<HistogramDataPoint>) -> Data {
    Data::Histogram(Histogram {
        data_points: points,
        aggregation_temporality: CUMULATIVE,
    })
}

fn int(n: u64) -> number_data_point::Value {
    number_data_point::Value::AsInt(n.min(i64::MAX as u64) as i64)
}

fn profx_metrics(out: &mut Vec<Metric>, keys: &[KeyHistogram], t: Times) {
    let bounds: Vec<f64> = HISTOGRAM_BOUNDS.iter().map(Duration::as_secs_f64).collect();
    let agents: Vec<&KeyHistogram> = keys.iter().filter(|k| k.phase.is_none()).collect();
    let phases: Vec<(&KeyHistogram, &str)> = keys
        .iter()
        .filter_map(|k| k.phase.as_deref().map(|p| (k, p)))
        .collect();
    let a = |k: &KeyHistogram| vec![attr("agent", &k.agent)];
    let p = |k: &KeyHistogram, ph: &str| vec![attr("agent", &k.agent), attr("phase", ph)];
    let hist =
        |k: &KeyHistogram, attrs| histogram_point(attrs, &bounds, &k.buckets, k.sum, k.count, t);
    if !agents.is_empty() {
        out.push(metric(
            "profx.agent.executions",
            "{execution}",
            "Completed executions of an agent.",
            sum(
                agents
                    .iter()
                    .map(|k| point(a(k), int(k.count), t))
                    .collect(),
                true,
            ),
        ));
        out.push(metric(
            "profx.agent.failures",
            "{execution}",
            "Executions of an agent that failed (returned an Err that is a failure, or panicked).",
            sum(
                agents
                    .iter()
                    .map(|k| point(a(k), int(k.failures), t))
                    .collect(),
                true,
            ),
        ));
        out.push(metric(
            "profx.agent.cancelled",
            "{execution}",
            "Executions of an agent dropped before they completed (neither success nor failure).",
            sum(
                agents
                    .iter()
                    .map(|k| point(a(k), int(k.cancelled), t))
                    .collect(),
                true,
            ),
        ));
        out.push(metric(
            "profx.agent.duration",
            "s",
            "Duration of an agent's executions.",
            histogram(agents.iter().map(|k| hist(k, a(k))).collect()),
        ));
        out.push(metric(
            "profx.agent.busy",
            "s",
            "Time an agent's executions spent working: inside the polls of an async agent (the rest of their duration they waited), all of it for a sync one.",
            sum(
                agents
                    .iter()
                    .map(|k| point(a(k), seconds(k.busy), t))
                    .collect(),
                true,
            ),
        ));
        out.push(metric(
            "profx.agent.success_rate",
            "1",
            "Share of an agent's completed executions (cancelled ones left out) that succeeded, as a ratio from 0 to 1 (NaN when none completed).",
            Data::Gauge(Gauge {
                data_points: agents
                    .iter()
                    .map(|k| {
                        let rate = k.success_ratio().unwrap_or(f64::NAN);
                        point(a(k), number_data_point::Value::AsDouble(rate), t)
                    })
                    .collect(),
            }),
        ));
    }
    if !phases.is_empty() {
        out.push(metric(
            "profx.phase.calls",
            "{call}",
            "Calls of a phase within an agent (agent=\"\" outside any execution).",
            sum(
                phases
                    .iter()
                    .map(|(k, ph)| point(p(k, ph), int(k.count), t))
                    .collect(),
                true,
            ),
        ));
        out.push(metric(
            "profx.phase.failures",
            "{call}",
            "Calls of a phase within an agent that failed.",
            sum(
                phases
                    .iter()
                    .map(|(k, ph)| point(p(k, ph), int(k.failures), t))
                    .collect(),
                true,
            ),
        ));
        out.push(metric(
            "profx.phase.cancelled",
            "{call}",
            "Calls of a phase within an agent dropped before they completed.",
            sum(
                phases
                    .iter()
                    .map(|(k, ph)| point(p(k, ph), int(k.cancelled), t))
                    .collect(),
                true,
            ),
        ));
        out.push(metric(
            "profx.phase.duration",
            "s",
            "Duration of a phase's calls within an agent.",
            histogram(phases.iter().map(|(k, ph)| hist(k, p(k, ph))).collect()),
        ));
        out.push(metric(
            "profx.phase.busy",
            "s",
            "Time a phase's calls within an agent spent working: inside the polls of an async phase (the rest of their duration they waited), all of it for a sync one.",
            sum(
                phases
                    .iter()
                    .map(|(k, ph)| point(p(k, ph), seconds(k.busy), t))
                    .collect(),
                true,
            ),
        ));
    }
}

fn seconds(d: Duration) -> number_data_point::Value {
    number_data_point::Value::AsDouble(d.as_secs_f64())
}

/// How a process figure of `/metrics` is exported: OpenTelemetry name, unit and instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Instrument {
    /// A monotonic cumulative Sum (a counter).
    Counter,
    /// A non-monotonic cumulative Sum (an up-down counter, as the semantic conventions have
    /// memory and thread counts).
    UpDown,
    /// A Gauge.
    Gauge,
}

/// The OpenTelemetry name, unit and instrument of a process figure.
pub(crate) fn process_name(figure: Figure) -> (&'static str, &'static str, Instrument) {
    use Figure::*;
    use Instrument::*;
    match figure {
        ResidentBytes => ("process.memory.usage", "By", UpDown),
        VirtualBytes => ("process.memory.virtual", "By", UpDown),
        CpuSeconds => ("process.cpu.time", "s", Counter),
        StartTime => ("profx.process.start_time", "s", Gauge),
        Uptime => ("process.uptime", "s", Gauge),
        Threads => ("process.thread.count", "{thread}", UpDown),
        OpenFds => (
            "process.unix.file_descriptor.count",
            "{file_descriptor}",
            UpDown,
        ),
        HeapLive => ("profx.heap.live", "By", UpDown),
        AllocatedTotal => ("profx.heap.allocated", "By", Counter),
    }
}

fn process(out: &mut Vec<Metric>, figures: &[ProcessMetric], t: Times) {
    for m in figures {
        let (name, unit, instrument) = process_name(m.figure);
        let value = if unit == "By" || unit.starts_with('{') {
            int(m.value.max(0.0) as u64)
        } else {
            number_data_point::Value::AsDouble(m.value)
        };
        let points = vec![point(Vec::new(), value, t)];
        let data = match instrument {
            Instrument::Counter => sum(points, true),
            Instrument::UpDown => sum(points, false),
            Instrument::Gauge => Data::Gauge(Gauge {
                data_points: points,
            }),
        };
        out.push(metric(name, unit, m.help, data));
    }
}

fn custom(out: &mut Vec<Metric>, families: &[metrics::MetricFamily], t: Times) {
    for f in families {
        let help = f.help_or_default();
        let help = &*help;
        let attrs = |s: &metrics::MetricSeries| -> Vec<KeyValue> {
            s.labels.iter().map(|(k, v)| attr(k, v)).collect()
        };
        let data = match f.kind {
            MetricKind::Counter => sum(
                f.series
                    .iter()
                    .filter_map(|s| match s.value {
                        MetricValue::Counter(n) => Some(point(attrs(s), int(n), t)),
                        _ => None,
                    })
                    .collect(),
                true,
            ),
            MetricKind::Gauge => Data::Gauge(Gauge {
                data_points: f
                    .series
                    .iter()
                    .filter_map(|s| match s.value {
                        MetricValue::Gauge(v) => {
                            Some(point(attrs(s), number_data_point::Value::AsDouble(v), t))
                        }
                        _ => None,
                    })
                    .collect(),
            }),
            MetricKind::Histogram => histogram(
                f.series
                    .iter()
                    .filter_map(|s| match &s.value {
                        MetricValue::Histogram(h) => {
                            let finite: Vec<_> =
                                h.buckets.iter().filter(|b| b.le.is_finite()).collect();
                            let bounds: Vec<f64> = finite.iter().map(|b| b.le).collect();
                            let cumulative: Vec<u64> = finite.iter().map(|b| b.count).collect();
                            Some(histogram_point(
                                attrs(s),
                                &bounds,
                                &cumulative,
                                h.sum,
                                h.count,
                                t,
                            ))
                        }
                        _ => None,
                    })
                    .collect(),
            ),
        };
        let unit = if f.kind == MetricKind::Histogram {
            "s"
        } else {
            ""
        };
        out.push(metric(&f.name, unit, help, data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Times = Times { start: 1, now: 2 };

    #[test]
    fn histogram_buckets_add_up_to_the_count() {
        let p = histogram_point(vec![], &[1.0, 2.0, 3.0], &[2, 2, 5], Duration::ZERO, 7, T);
        assert_eq!(p.bucket_counts, [2, 0, 3, 2]);
        // A racing read: a bucket ahead of the count, a bucket behind the one before.
        let p = histogram_point(vec![], &[1.0, 2.0, 3.0], &[3, 1, 9], Duration::ZERO, 4, T);
        assert_eq!(p.bucket_counts, [3, 0, 1, 0]);
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
        // Too few cumulative counts: the rest are empty, the overflow holds what is left.
        let p = histogram_point(vec![], &[1.0, 2.0], &[1], Duration::ZERO, 3, T);
        assert_eq!(p.bucket_counts, [1, 0, 2]);
    }

    #[test]
    fn process_figures_have_distinct_names_on_both_sides() {
        // Every figure has a name by construction (the match is exhaustive); no two share one.
        let otel: std::collections::BTreeSet<&str> =
            Figure::ALL.iter().map(|&f| process_name(f).0).collect();
        let prometheus: std::collections::BTreeSet<&str> =
            Figure::ALL.iter().map(|f| f.prometheus().0).collect();
        assert_eq!((otel.len(), prometheus.len()), (9, 9));
        for m in process_metrics() {
            assert_eq!(m.name, m.figure.prometheus().0);
        }
    }
}
