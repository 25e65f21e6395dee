//! Periodic export of profx's metrics and of its kept executions as traces to an OpenTelemetry
//! collector over OTLP/HTTP with protobuf (`profx::otlp`, feature `otlp`): `POST {endpoint}/v1/metrics` and
//! `POST {endpoint}/v1/traces`, `Content-Type: application/x-protobuf`, from a thread of its own.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let exporter = profx_otlp::Builder::new()
//!     .endpoint("http://localhost:4318")
//!     .interval(Duration::from_secs(10))
//!     .resource("service.name", "my-svc")
//!     .start()?;
//! // ... the program ...
//! exporter.stop(); // a final export, then the thread is joined (dropping it does the same)
//! # Ok::<(), profx_otlp::OtlpError>(())
//! ```
//!
//! `#[profx::main]` (and `profx::ReportGuard::from_env`) starts one
//! when `PROFX_OTLP_ENDPOINT` (or the standard `OTEL_EXPORTER_OTLP_ENDPOINT`) is set, pushing
//! every `PROFX_OTLP_INTERVAL` (default 10s) with the headers of
//! `OTEL_EXPORTER_OTLP_HEADERS`, the resource attributes of `OTEL_RESOURCE_ATTRIBUTES`, the
//! `service.name` of `OTEL_SERVICE_NAME` (which wins over one in the attributes) and the
//! timeout of `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), and stops it (final export) when
//! `main` ends, before the report is written.
//!
//! # What is sent
//!
//! One `ResourceMetrics` with one scope, `profx` (version: this crate's), holding the same data
//! as the Prometheus endpoint ([`profx_runtime::prometheus`]): every sum and histogram is **cumulative**
//! (`start_time_unix_nano`: when the first exporter of the process started; `time_unix_nano`:
//! the export), so an export that fails loses nothing — the next one carries the totals.
//!
//! Resource attributes: `service.name` (default: the executable's file name), `process.pid`,
//! `telemetry.sdk.name` = `profx`, `telemetry.sdk.language` = `rust`, `telemetry.sdk.version`,
//! and whatever [`Builder::resource`] adds (it may replace these).
//!
//! # Traces
//!
//! Each export also sends, to `/v1/traces`, the kept executions that ended since the last one
//! (executions not kept, with `PROFX_SAMPLE` above 1, are not sent): each execution a span
//! named after its agent, the root of a trace of its own — or, when it joined a caller's trace
//! (`#[profx::agent(traceparent = …)]`,
//! [`Profiler::start_execution_in_trace`](profx_runtime::Profiler::start_execution_in_trace)), a child
//! of the caller's span in the caller's trace, with the caller's flags — and each of its phases
//! a child span of the phase it ran in (or of the execution), with its real start and end.
//! Span status: `Ok` for a success, `Error` with the error's message for a failure, unset for a
//! cancellation. Attributes: `profx.execution.id`, `profx.outcome`, `profx.request`,
//! `profx.error`, `profx.parent` (the execution it ran inside: a trace of its own),
//! `thread.id` and `thread.name`, and the memory when counted; on phases `profx.agent`,
//! `profx.execution.id`, `profx.outcome` and `profx.depth`. Resource attributes as for
//! metrics; scope `profx`. A periodic export sends what ended up to 200 ms before it (an
//! execution is published a moment after its end); [`Exporter::export_now`] and the final
//! export send every kept execution not sent yet. Spans that could not be delivered are sent again
//! with the next export, as long as the agent's ring (`PROFX_MAX_EXECUTIONS`) still holds them;
//! the request is only sent when there are spans.
//!
//! # Names
//!
//! Metrics are named the OpenTelemetry way — dotted names, the unit in the `unit` field, the
//! semantic conventions' names for the process — rather than with the Prometheus names of
//! `/metrics`. That is what an OpenTelemetry backend expects, and a collector that exports to
//! Prometheus (its `prometheus` / `prometheusremotewrite` exporters) turns them back into the
//! names `/metrics` uses for profx's own families: `profx.agent.duration` with unit `s`
//! becomes `profx_agent_duration_seconds`, the monotonic `profx.agent.executions` becomes
//! `profx_agent_executions_total`; dashboards work on either path.
//!
//! | OTLP name | unit | instrument | attributes | `/metrics` |
//! |---|---|---|---|---|
//! | `profx.agent.executions` | `{execution}` | Sum, monotonic, int | `agent` | `profx_agent_executions_total` |
//! | `profx.agent.failures` | `{execution}` | Sum, monotonic, int | `agent` | `profx_agent_failures_total` |
//! | `profx.agent.cancelled` | `{execution}` | Sum, monotonic, int | `agent` | `profx_agent_cancelled_total` |
//! | `profx.agent.duration` | `s` | Histogram | `agent` | `profx_agent_duration_seconds` |
//! | `profx.agent.busy` | `s` | Sum, monotonic, double | `agent` | `profx_agent_busy_seconds_total` |
//! | `profx.agent.success_rate` | `1` | Gauge, double (0 to 1) | `agent` | `profx_agent_success_rate` |
//! | `profx.phase.calls` | `{call}` | Sum, monotonic, int | `agent`, `phase` | `profx_phase_calls_total` |
//! | `profx.phase.failures` | `{call}` | Sum, monotonic, int | `agent`, `phase` | `profx_phase_failures_total` |
//! | `profx.phase.cancelled` | `{call}` | Sum, monotonic, int | `agent`, `phase` | `profx_phase_cancelled_total` |
//! | `profx.phase.duration` | `s` | Histogram | `agent`, `phase` | `profx_phase_duration_seconds` |
//! | `profx.phase.busy` | `s` | Sum, monotonic, double | `agent`, `phase` | `profx_phase_busy_seconds_total` |
//! | `process.memory.usage` | `By` | Sum, not monotonic | | `process_resident_memory_bytes` |
//! | `process.memory.virtual` | `By` | Sum, not monotonic | | `process_virtual_memory_bytes` |
//! | `process.cpu.time` | `s` | Sum, monotonic, double | | `process_cpu_seconds_total` |
//! | `process.uptime` | `s` | Gauge | | `profx_uptime_seconds` |
//! | `profx.process.start_time` | `s` | Gauge (Unix seconds) | | `process_start_time_seconds` |
//! | `process.thread.count` | `{thread}` | Sum, not monotonic | | `process_threads` |
//! | `process.unix.file_descriptor.count` | `{file_descriptor}` | Sum, not monotonic | | `process_open_fds` (Linux) |
//! | `profx.heap.live` | `By` | Sum, not monotonic | | `profx_heap_live_bytes` (counting allocator) |
//! | `profx.heap.allocated` | `By` | Sum, monotonic | | `profx_allocated_bytes_total` (counting allocator) |
//! | custom counter `x` | | Sum, monotonic, int | its labels | `x_total` |
//! | custom gauge `x` | | Gauge, double | its labels | `x` |
//! | custom histogram `x` | `s` | Histogram | its labels | `x` |
//!
//! Custom metrics keep the names they were registered with (no `_total` appended: an
//! OpenTelemetry backend adds it where it wants it). Histograms have the explicit bounds of
//! [`HISTOGRAM_BOUNDS`](profx_runtime::metrics::HISTOGRAM_BOUNDS) in seconds (28 bounds, 100 ns to 100 s,
//! then the overflow bucket), `count` and `sum` exact; their bucket counts always add up to
//! `count`. Phases run outside any execution have `agent` = `""`. Help texts go into the
//! `description`.
//!
//! # Failures
//!
//! A bad endpoint, header or resource attribute is an [`OtlpError`] from [`Builder::start`],
//! naming the value and the accepted form. Only `http://` endpoints are accepted: profx sends
//! plain HTTP, to a collector on the host or in the cluster (the usual deployment); `https://`
//! is rejected at start rather than failing at every export.
//!
//! Every request is bounded by the timeout (default 10 s; connection, sending and the answer
//! together). When an export fails — nothing listening, connection refused, a 4xx or 5xx
//! answer, no answer in time — the exporter's thread prints one warning to standard error
//! naming the endpoint and the problem; the same problem again prints nothing, a different
//! one prints a new warning, and the first success after a failure prints a line saying that
//! exports work again. It never retries in a loop: the next try is the next interval, and as
//! the data is cumulative, that export carries everything recorded meanwhile.
//! [`Exporter::export_now`] returns its result to the caller instead of printing it.
//! [`Exporter::stop`] returns within about the timeout, whatever the collector does.
//!
//! Requests go through the proxy of `HTTP_PROXY`/`ALL_PROXY` unless `NO_PROXY` exempts the
//! host, as with curl. `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (a full URL for metrics alone) is
//! not read.
//!
//! # Cost
//!
//! One export reads every (agent, phase) key once, like a Prometheus scrape, and sends three
//! points per key. The figures below were measured when histograms had 22 bounds (about 590
//! bytes per key); the 28 of today add six packed bounds and six packed counts, 96 bytes, to
//! each histogram point. Measured on a 2-core VM against a receiver on loopback, release
//! build, `export_now` end to end: 1 agent
//! without phases 1.9 kB in 0.2 ms; 10 agents with 5 phases each 36 kB in 0.3 ms; 100 agents
//! with 10 phases each 645 kB in 4.5 ms; 1000 with 10 each 6.5 MB in 49 ms (a collector's
//! OTLP/HTTP receiver takes 20 MiB by default). All of it on the exporter's thread.
//!
//! Without the `enabled` feature nothing is recorded: the exporter works the same and sends
//! the resource with no metrics.

mod builder;
mod encode;
mod error;
mod settings;
mod traces;
mod transport;

pub use builder::Builder;
pub use error::OtlpError;

use profx_runtime::__subsystem::lock;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_proto::tonic::common::v1::KeyValue;

use self::encode::Times;
use self::transport::Transport;

/// The message types profx encodes (`opentelemetry-proto`'s prost types), so that a receiver
/// — a test, a proxy — decodes with the very version profx encodes with.
///
/// ```
/// use profx_otlp::{proto::collector::metrics::v1::ExportMetricsServiceRequest, Message};
/// let bytes = ExportMetricsServiceRequest::default().encode_to_vec();
/// assert!(ExportMetricsServiceRequest::decode(&bytes[..]).is_ok());
/// ```
pub use opentelemetry_proto::tonic as proto;
/// prost's `Message` trait: `encode_to_vec`, `decode` on the [`proto`] types.
pub use prost::Message;

/// The path appended to the endpoint, as OTLP/HTTP specifies for metrics.
pub const METRICS_PATH: &str = "/v1/metrics";
/// The path appended to the endpoint, as OTLP/HTTP specifies for traces.
pub const TRACES_PATH: &str = "/v1/traces";

/// Pushes profx's metrics to an OpenTelemetry collector every interval; see the
/// [module documentation](self). Stops (with a final export) on [`stop`](Self::stop) or drop.
///
/// ```no_run
/// let exporter = profx_otlp::Builder::new().start()?;
/// exporter.export_now()?; // e.g. before a short program exits
/// # Ok::<(), profx_otlp::OtlpError>(())
/// ```
pub struct Exporter {
    shared: Arc<Shared>,
    interval: Duration,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exporter")
            .field("url", &self.shared.transport.url)
            .field("interval", &self.interval)
            .field("timeout", &self.shared.transport.timeout)
            .finish_non_exhaustive()
    }
}

/// What the exporter and its thread share.
struct Shared {
    /// Metrics.
    transport: Transport,
    traces: Transport,
    resource: Vec<KeyValue>,
    start: u64,
    interval: Duration,
    /// Held while an export is encoded and sent, so that exports go one at a time (in order),
    /// with the problem the last failed periodic export had, for the warnings.
    sending: Mutex<Problem>,
    /// When `stop` was called; the thread waits on `wake` with it.
    stop: Mutex<Option<Instant>>,
    wake: Condvar,
}

#[derive(Default)]
struct Problem {
    /// The key of the problem last warned about, while exports fail.
    current: Option<String>,
    /// The collector's last partial-success message (warned about once).
    partial: Option<String>,
    /// Which kept executions were sent as spans.
    cut: traces::Cut,
}

impl Shared {
    /// Encodes what profx holds now and posts it within `timeout`: the metrics, then the
    /// spans of the kept executions that ended since the last export (`last`: up to now, else
    /// up to a moment ago; see [`traces::Cut`]).
    fn export(
        &self,
        problem: &mut Problem,
        timeout: Duration,
        warn: bool,
        last: bool,
    ) -> Result<Option<String>, OtlpError> {
        let started = Instant::now();
        let now = encode::unix_nanos(SystemTime::now());
        let times = Times {
            start: self.start,
            now,
        };
        let body = encode::request(profx_runtime::global(), &self.resource, times).encode_to_vec();
        let result = self.transport.post(body, timeout).and_then(|partial| {
            // Executions' times come from profx's clock, which may run a little ahead of the
            // system's: the last export takes everything there is.
            let until = if last {
                u64::MAX
            } else {
                now.saturating_sub(traces::LAG_NS)
            };
            let (pending, newest) = problem.cut.pending(profx_runtime::global(), until);
            let cut = if last { newest.max(now) } else { until };
            let Some(req) = traces::request(&pending, &self.resource) else {
                problem.cut.sent_until = problem.cut.sent_until.max(cut);
                return Ok(partial);
            };
            let left = timeout.saturating_sub(started.elapsed());
            let spans = self.traces.post(req.encode_to_vec(), left)?;
            problem.cut.sent_until = problem.cut.sent_until.max(cut);
            Ok(partial.or(spans))
        });
        if warn {
            match &result {
                Ok(partial) => {
                    if problem.current.take().is_some() {
                        eprintln!("profx: OTLP export to {} works again", self.transport.url);
                    }
                    if partial.is_some() && *partial != problem.partial {
                        if let Some(message) = partial {
                            eprintln!(
                                "profx: warning: OTLP export to {}: {message}",
                                self.transport.url
                            );
                        }
                    }
                    problem.partial = partial.clone();
                }
                Err(e) => {
                    let key = e.problem_key();
                    if problem.current.as_deref() != Some(key.as_str()) {
                        eprintln!(
                            "profx: warning: {e}; trying again every {} (nothing is lost: each export carries the totals)",
                            humantime::format_duration(self.interval)
                        );
                        problem.current = Some(key);
                    }
                }
            }
        }
        result
    }

    /// The thread: an export every interval until `stop`, then a last one within what is left
    /// of the timeout counted from `stop`.
    fn run(&self) {
        let interval = self.interval;
        let mut next = Instant::now() + interval;
        loop {
            let stopped_at = {
                let mut stop = lock(&self.stop);
                loop {
                    if let Some(at) = *stop {
                        break Some(at);
                    }
                    let now = Instant::now();
                    if now >= next {
                        break None;
                    }
                    stop = self
                        .wake
                        .wait_timeout(stop, next - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            };
            if let Some(at) = stopped_at {
                self.final_export(at);
                return;
            }
            let mut problem = lock(&self.sending);
            let _ = self.export(&mut problem, self.transport.timeout, true, false);
            drop(problem);
            next += interval;
            let now = Instant::now();
            if next <= now {
                // An export took longer than the interval: the next one an interval from now,
                // not at once.
                next = now + interval;
            }
        }
    }

    fn final_export(&self, stopped_at: Instant) {
        let deadline = stopped_at + self.transport.timeout;
        let mut problem = lock(&self.sending);
        let left = deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(1) {
            eprintln!(
                "profx: warning: no final OTLP export to {}: the export before it took the whole timeout",
                self.transport.url
            );
            return;
        }
        let _ = self.export(&mut problem, left, true, true);
    }
}

impl Exporter {
    /// Exports now, on the calling thread, and returns the result (no warning is printed). It
    /// waits for an export the thread may be doing; each is bounded by the timeout.
    ///
    /// ```no_run
    /// let exporter = profx_otlp::Builder::new().start()?;
    /// if let Err(e) = exporter.export_now() {
    ///     eprintln!("{e}");
    /// }
    /// # Ok::<(), profx_otlp::OtlpError>(())
    /// ```
    pub fn export_now(&self) -> Result<(), OtlpError> {
        let mut problem = lock(&self.shared.sending);
        self.shared
            .export(&mut problem, self.shared.transport.timeout, false, true)
            .map(|_| ())
    }

    /// Stops exporting: the thread makes a final export and is joined. Returns within about
    /// the timeout (an export in progress and the final one share it). Calling it again does
    /// nothing; dropping the exporter calls it.
    ///
    /// ```no_run
    /// let exporter = profx_otlp::Builder::new().start()?;
    /// exporter.stop();
    /// # Ok::<(), profx_otlp::OtlpError>(())
    /// ```
    pub fn stop(&self) {
        let Some(handle) = lock(&self.thread).take() else {
            return;
        };
        lock(&self.shared.stop).get_or_insert_with(Instant::now);
        self.shared.wake.notify_all();
        if handle.thread().id() != std::thread::current().id() {
            let _ = handle.join();
        }
    }

    /// The URL exports are posted to (`{endpoint}/v1/metrics`).
    ///
    /// ```
    /// let e = profx_otlp::Builder::new().endpoint("http://127.0.0.1:9/").interval(std::time::Duration::from_secs(3600)).start()?;
    /// assert_eq!(e.url(), "http://127.0.0.1:9/v1/metrics");
    /// # Ok::<(), profx_otlp::OtlpError>(())
    /// ```
    pub fn url(&self) -> &str {
        &self.shared.transport.url
    }

    /// The URL spans are posted to (`{endpoint}/v1/traces`).
    ///
    /// ```
    /// let e = profx_otlp::Builder::new().endpoint("http://127.0.0.1:9/").interval(std::time::Duration::from_secs(3600)).start()?;
    /// assert_eq!(e.traces_url(), "http://127.0.0.1:9/v1/traces");
    /// # Ok::<(), profx_otlp::OtlpError>(())
    /// ```
    pub fn traces_url(&self) -> &str {
        &self.shared.traces.url
    }

    /// How often the thread exports.
    ///
    /// ```
    /// let e = profx_otlp::Builder::new().endpoint("http://127.0.0.1:9").interval(std::time::Duration::from_secs(3600)).start()?;
    /// assert_eq!(e.interval(), std::time::Duration::from_secs(3600));
    /// # Ok::<(), profx_otlp::OtlpError>(())
    /// ```
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the exporter `PROFX_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) asks for, if
/// any, with the process's settings read once (for `#[profx::main]` and
/// `profx::ReportGuard::from_env`); a failure is a warning.
pub fn start_from_env() -> Option<Exporter> {
    let settings = settings::Settings::process();
    let endpoint = settings.endpoint.as_ref()?;
    let mut builder = Builder::new()
        .endpoint(endpoint.clone())
        .interval(settings.interval)
        .timeout(settings.timeout);
    for (k, v) in &settings.headers {
        builder = builder.header(k.clone(), v.clone());
    }
    for (k, v) in &settings.resource_attributes {
        builder = builder.resource(k.clone(), v.clone());
    }
    if let Some(name) = &settings.service_name {
        builder = builder.resource("service.name", name.clone());
    }
    match builder.start() {
        Ok(e) => Some(e),
        Err(e) => {
            eprintln!("profx: warning: cannot start the OTLP exporter: {e}");
            None
        }
    }
}
