//! The Prometheus text exposition format (0.0.4) of everything profx knows: agents and phases,
//! the process, the counting allocator's heap, and the custom metrics of [`crate::metrics`].
//!
//! [`render`] builds the body a `/metrics` endpoint serves (with [`CONTENT_TYPE`]); it passes
//! `promtool check metrics` with no lint warning as long as the custom metrics follow the
//! naming conventions (see below).
//!
//! # Families
//!
//! Per agent (label `agent`):
//! - `profx_agent_executions_total`, `profx_agent_failures_total`,
//!   `profx_agent_cancelled_total` (counters: every execution, those that failed, those
//!   dropped before they completed);
//! - `profx_agent_duration_seconds` (histogram: cumulative `_bucket{le=…}`, `_sum`, `_count`);
//! - `profx_agent_busy_seconds_total` (counter: the executions' time spent working, inside an
//!   async agent's polls; a sync agent's is its `_sum`; the rest of `_sum` it was waiting:
//!   `rate(profx_agent_busy_seconds_total[5m]) / rate(profx_agent_duration_seconds_sum[5m])`
//!   is the share of the time it worked);
//! - `profx_agent_success_rate` (gauge, a ratio from 0 to 1 as Prometheus prefers, not a
//!   percentage, over the executions that completed: cancelled ones are left out; NaN when
//!   none completed).
//!
//! Per phase within an agent (labels `agent`, `phase`; `agent=""` for phases run outside any
//! execution): `profx_phase_calls_total`, `profx_phase_failures_total`,
//! `profx_phase_cancelled_total` (counters),
//! `profx_phase_duration_seconds` (histogram) and `profx_phase_busy_seconds_total` (counter, as
//! the agent's).
//!
//! Durations use the buckets of [`HISTOGRAM_BOUNDS`] (100 ns to
//! 100 s, then `+Inf`), the same ladder as custom histograms, so series aggregate across
//! processes and metrics. `_count` and `_sum` are exact; a bucket may miss observations less
//! than 1.6% below its bound (see [`Profiler::histograms`]).
//!
//! The process, under the standard names of the Prometheus client libraries:
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_cpu_seconds_total`,
//! `process_start_time_seconds`, `process_threads`, `process_open_fds` (Linux), and
//! `profx_uptime_seconds` (both start-time figures to the second, as the platform gives them). With the counting allocator installed, `profx_heap_live_bytes` and
//! `profx_allocated_bytes_total`.
//!
//! Custom metrics: every family of [`metrics::snapshot`], with the
//! help text given to [`metrics::describe`] (or a default one). A
//! counter whose name does not end in `_total` is exported with `_total` appended, as the
//! Prometheus and OpenMetrics conventions require of counters: `gaxx_app_starts` is scraped as
//! `gaxx_app_starts_total`. A custom family whose exported name is already taken (by one of the
//! families above, or by another custom counter after `_total` is appended) is left out.
//!
//! # Format
//!
//! Every family has `# HELP` and `# TYPE`; families with no series are left out. Label values
//! escape `\`, `"` and newlines; help texts escape `\` and newlines. Values are integers for
//! counts and decimal floats otherwise (`NaN`, `+Inf`, `-Inf` as Prometheus spells them); no
//! timestamps. The order is fixed: agents, phases, process, heap, then custom metrics by name;
//! series within a family are ordered by their labels.
//!
//! Without the `enabled` feature nothing is recorded and the process is not read: [`render`]
//! returns an empty exposition (an empty string, which Prometheus accepts).
//!
//! # Why not a client crate
//!
//! The two well-kept crates were weighed. `prometheus-client` (with a custom `Collector`)
//! encodes OpenMetrics 1.0 only — `# EOF`, `# UNIT`, `_created`, content type
//! `application/openmetrics-text` — not the 0.0.4 text format asked of `/metrics`, and
//! `promtool check metrics` reads the 0.0.4 format. The `prometheus` crate's `TextEncoder`
//! writes 0.0.4 but only from its protobuf `MetricFamily` messages, which would mean building
//! a protobuf tree (and compiling the `protobuf` runtime) on every scrape to print a few
//! lines. The writer here is small (one function per line kind), and the tests hold it to the
//! real parsers: `tests/prometheus.rs` and `tests/server.rs` run Prometheus' own `promtool
//! check metrics` on the output and parse it back to the recorded values, including label
//! values with quotes, backslashes and newlines.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use crate::metrics::{self, MetricKind, MetricValue, HISTOGRAM_BOUNDS};
use crate::{KeyHistogram, Profiler};

/// The `Content-Type` of the text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition of the global profiler, the process and the custom metrics; see the
/// [module documentation](self).
///
/// ```
/// let text = profx_runtime::prometheus::render();
/// if cfg!(feature = "enabled") {
///     assert!(text.contains("# TYPE process_resident_memory_bytes gauge"));
/// }
/// ```
pub fn render() -> String {
    render_for(crate::global())
}

/// Like [`render`], with the agents and phases of `profiler` instead of the global one's (the
/// process and custom metrics are the process's either way).
///
/// ```
/// let p = profx_runtime::Profiler::new(true);
/// p.start_execution("importer", "").end(Err::<(), _>("boom"));
/// let text = profx_runtime::prometheus::render_for(&p);
/// if cfg!(feature = "enabled") {
///     assert!(text.contains("profx_agent_failures_total{agent=\"importer\"} 1\n"));
/// }
/// ```
pub fn render_for(profiler: &Profiler) -> String {
    let mut e = Encoder::default();
    profx_families(&mut e, &profiler.histograms(&HISTOGRAM_BOUNDS));
    process_families(&mut e);
    custom_families(&mut e, &metrics::snapshot());
    e.out
}

// ---------------------------------------------------------------------------------------------
// Agents and phases

fn profx_families<'a>(e: &mut Encoder, keys: &'a [KeyHistogram]) {
    let agents: Vec<&KeyHistogram> = keys.iter().filter(|k| k.phase.is_none()).collect();
    let phases: Vec<(&KeyHistogram, &str)> = keys
        .iter()
        .filter_map(|k| k.phase.as_deref().map(|p| (k, p)))
        .collect();
    let a = |k: &&'a KeyHistogram| vec![("agent", k.agent.as_str())];
    e.counters(
        "profx_agent_executions_total",
        "Completed executions of an agent.",
        agents.iter().map(|k| (a(k), k.count)),
    );
    e.counters(
        "profx_agent_failures_total",
        "Executions of an agent that failed (returned an Err that is a failure, or panicked).",
        agents.iter().map(|k| (a(k), k.failures)),
    );
    e.counters(
        "profx_agent_cancelled_total",
        "Executions of an agent dropped before they completed (neither success nor failure).",
        agents.iter().map(|k| (a(k), k.cancelled)),
    );
    e.histograms(
        "profx_agent_duration_seconds",
        "Duration of an agent's executions in seconds.",
        agents
            .iter()
            .map(|k| (a(k), &k.buckets[..], k.sum, k.count)),
    );
    e.counters(
        "profx_agent_busy_seconds_total",
        "Time an agent's executions spent working, in seconds: inside the polls of an async agent (the rest of their duration they waited), all of it for a sync one.",
        agents.iter().map(|k| (a(k), k.busy.as_secs_f64())),
    );
    e.gauges(
        "profx_agent_success_rate",
        "Share of an agent's completed executions (cancelled ones left out) that succeeded, as a ratio from 0 to 1 (NaN when none completed).",
        agents
            .iter()
            .map(|k| (a(k), k.success_ratio().unwrap_or(f64::NAN))),
    );
    let p = |k: &'a KeyHistogram, p: &'a str| vec![("agent", k.agent.as_str()), ("phase", p)];
    e.counters(
        "profx_phase_calls_total",
        "Calls of a phase within an agent (agent=\"\" outside any execution).",
        phases.iter().map(|(k, ph)| (p(k, ph), k.count)),
    );
    e.counters(
        "profx_phase_failures_total",
        "Calls of a phase within an agent that failed.",
        phases.iter().map(|(k, ph)| (p(k, ph), k.failures)),
    );
    e.counters(
        "profx_phase_cancelled_total",
        "Calls of a phase within an agent dropped before they completed.",
        phases.iter().map(|(k, ph)| (p(k, ph), k.cancelled)),
    );
    e.histograms(
        "profx_phase_duration_seconds",
        "Duration of a phase's calls within an agent in seconds.",
        phases
            .iter()
            .map(|(k, ph)| (p(k, ph), &k.buckets[..], k.sum, k.count)),
    );
    e.counters(
        "profx_phase_busy_seconds_total",
        "Time a phase's calls within an agent spent working, in seconds: inside the polls of an async phase (the rest of their duration they waited), all of it for a sync one.",
        phases.iter().map(|(k, ph)| (p(k, ph), k.busy.as_secs_f64())),
    );
}

// ---------------------------------------------------------------------------------------------
// The process

fn process_families(e: &mut Encoder) {
    for m in crate::system::process::process_metrics() {
        if m.counter {
            e.float_counter(m.name, m.help, m.value);
        } else {
            e.gauges(m.name, m.help, [(Labels::new(), m.value)]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Custom metrics

fn custom_families(e: &mut Encoder, families: &[metrics::MetricFamily]) {
    for f in families {
        let name = match f.kind {
            MetricKind::Counter if !f.name.ends_with("_total") => format!("{}_total", f.name),
            _ => f.name.clone(),
        };
        let help = f.help_or_default();
        let help = &*help;
        match f.kind {
            MetricKind::Counter => e.counters(
                &name,
                help,
                f.series.iter().filter_map(|s| match s.value {
                    MetricValue::Counter(n) => Some((labels(s), n)),
                    _ => None,
                }),
            ),
            MetricKind::Gauge => e.gauges(
                &name,
                help,
                f.series.iter().filter_map(|s| match s.value {
                    MetricValue::Gauge(v) => Some((labels(s), v)),
                    _ => None,
                }),
            ),
            MetricKind::Histogram => {
                // The snapshot's buckets are cumulative with `+Inf` last; the encoder wants the
                // finite ones.
                let series: Vec<OwnedHistogram<'_>> = f
                    .series
                    .iter()
                    .filter_map(|s| match &s.value {
                        MetricValue::Histogram(h) => Some((
                            labels(s),
                            h.buckets
                                .iter()
                                .filter(|b| b.le.is_finite())
                                .map(|b| b.count)
                                .collect(),
                            h.sum,
                            h.count,
                        )),
                        _ => None,
                    })
                    .collect();
                e.histograms(
                    &name,
                    help,
                    series
                        .iter()
                        .map(|(l, b, s, c)| (l.clone(), &b[..], *s, *c)),
                )
            }
        }
    }
}

fn labels(s: &metrics::MetricSeries) -> Labels<'_> {
    s.labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The encoder

type Labels<'a> = Vec<(&'a str, &'a str)>;
/// A histogram series read off a snapshot: labels, cumulative finite buckets, sum, count.
type OwnedHistogram<'a> = (Labels<'a>, Vec<u64>, Duration, u64);

/// Writes families, leaving out any whose name (or, for a histogram, `_bucket`/`_sum`/`_count`
/// name) is already taken.
#[derive(Default)]
struct Encoder {
    out: String,
    taken: BTreeSet<String>,
}

impl Encoder {
    /// Claims the names of a family; false if one is taken.
    fn claim(&mut self, name: &str, kind: &str) -> bool {
        let mut names = vec![name.to_owned()];
        if kind == "histogram" {
            for s in ["_bucket", "_sum", "_count"] {
                names.push(format!("{name}{s}"));
            }
        }
        if names.iter().any(|n| self.taken.contains(n)) || !metrics::is_valid_metric_name(name) {
            return false;
        }
        self.taken.extend(names);
        true
    }

    /// `# HELP` and `# TYPE`, if the family has series and its names are free.
    fn header(&mut self, name: &str, kind: &str, help: &str, has_series: bool) -> bool {
        if !has_series || !self.claim(name, kind) {
            return false;
        }
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        true
    }

    /// One line: `name{labels,extra} value\n`, written in place (`extra`: the `le` label of
    /// a bucket).
    fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: impl Sample,
    ) {
        let out = &mut self.out;
        out.push_str(name);
        if !labels.is_empty() || extra.is_some() {
            out.push('{');
            for (i, (k, v)) in labels.iter().chain(extra.as_ref()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push_str("=\"");
                escape_label_into(out, v);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        value.write_to(out);
        out.push('\n');
    }

    fn counters<'a, V: Sample>(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (Labels<'a>, V)>,
    ) {
        let series: Vec<_> = series.into_iter().collect();
        if self.header(name, "counter", help, !series.is_empty()) {
            for (l, n) in series {
                self.sample(name, &l, None, n);
            }
        }
    }

    fn float_counter(&mut self, name: &str, help: &str, value: f64) {
        if self.header(name, "counter", help, true) {
            self.sample(name, &[], None, value);
        }
    }

    fn gauges<'a>(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (Labels<'a>, f64)>,
    ) {
        let series: Vec<_> = series.into_iter().collect();
        if self.header(name, "gauge", help, !series.is_empty()) {
            for (l, v) in series {
                self.sample(name, &l, None, v);
            }
        }
    }

    /// Histograms from cumulative counts at the finite bounds of `HISTOGRAM_BOUNDS`, a sum and a
    /// count (the `+Inf` bucket).
    fn histograms<'a, 'b>(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (Labels<'a>, &'b [u64], Duration, u64)>,
    ) {
        let series: Vec<_> = series.into_iter().collect();
        if !self.header(name, "histogram", help, !series.is_empty()) {
            return;
        }
        let (bucket, sum, count) = (
            format!("{name}_bucket"),
            format!("{name}_sum"),
            format!("{name}_count"),
        );
        // The `le` values, written once for every series.
        let bounds: Vec<String> = HISTOGRAM_BOUNDS
            .iter()
            .map(|b| {
                let mut s = String::new();
                b.as_secs_f64().write_to(&mut s);
                s
            })
            .collect();
        for (labels, buckets, total, n) in series {
            for (le, &c) in bounds.iter().zip(buckets) {
                // Cumulative counts never exceed the total, even if read mid-update.
                self.sample(&bucket, &labels, Some(("le", le)), c.min(n));
            }
            self.sample(&bucket, &labels, Some(("le", "+Inf")), n);
            self.sample(&sum, &labels, None, total.as_secs_f64());
            self.sample(&count, &labels, None, n);
        }
    }
}

/// A sample's value, written as Prometheus parses it.
trait Sample {
    fn write_to(&self, out: &mut String);
}

impl Sample for u64 {
    fn write_to(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Sample for f64 {
    /// `NaN`, `+Inf`, `-Inf`, plain decimals for ordinary magnitudes and exponent notation
    /// for the rest.
    fn write_to(&self, out: &mut String) {
        let v = *self;
        let _ = if v.is_nan() {
            out.write_str("NaN")
        } else if v.is_infinite() {
            out.write_str(if v > 0.0 { "+Inf" } else { "-Inf" })
        } else if v == 0.0 || (1e-6..1e15).contains(&v.abs()) {
            write!(out, "{v}")
        } else {
            write!(out, "{v:e}")
        };
    }
}

/// A label value with `\`, `"` and line feeds escaped, onto `out`.
fn escape_label_into(out: &mut String, v: &str) {
    let mut rest = v;
    while let Some(i) = rest.find(['\\', '"', '\n']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// A help text: `\` and line feeds escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
