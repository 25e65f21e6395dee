//! The OTLP exporter (feature `otlp`) against a real receiver: a `TcpListener` thread that
//! parses HTTP/1.1 POSTs and decodes the bodies sent to `/v1/metrics` as
//! `ExportMetricsServiceRequest`s and those sent to `/v1/traces` as `ExportTraceServiceRequest`s.
//!
//! Tests share the global profiler and the custom metrics: each records under names of its
//! own and looks only at those. Waits are bounded (generously), never timed.
#![cfg(all(feature = "enabled", feature = "otlp"))]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use profx::otlp::proto::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use profx::otlp::proto::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use profx::otlp::proto::common::v1::{any_value, KeyValue};
use profx::otlp::proto::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, HistogramDataPoint, Metric,
    NumberDataPoint,
};
use profx::otlp::proto::trace::v1::{status::StatusCode, Span};
use profx::otlp::{Builder, Message, OtlpError};

const WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The receiver

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
enum Reply {
    Ok,
    Status(u16),
    /// Reads the request and never answers (until the test process ends).
    Hang,
}

#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: Result<ExportMetricsServiceRequest, String>,
    replied: u16,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn request(&self) -> &ExportMetricsServiceRequest {
        self.body.as_ref().expect("the body decodes")
    }
}

#[derive(Default)]
struct State {
    /// Requests to `/v1/metrics`.
    received: Vec<Received>,
    /// Requests to `/v1/traces` (always answered 200).
    traces: Vec<ExportTraceServiceRequest>,
    /// Answers to give, in order; `Ok` once they run out.
    replies: VecDeque<Reply>,
}

struct Receiver {
    addr: SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl Receiver {
    fn start(replies: &[Reply]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new((
            Mutex::new(State {
                replies: replies.iter().copied().collect(),
                ..State::default()
            }),
            Condvar::new(),
        ));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Receiver { addr, state }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until `done` holds of what was received (at most [`WAIT`]).
    fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let (lock, cond) = &*self.state;
        let deadline = Instant::now() + WAIT;
        let mut s = lock.lock().unwrap();
        while !done(&s.received) {
            let now = Instant::now();
            assert!(
                now < deadline,
                "waited {WAIT:?} for {what}; received {} requests",
                s.received.len()
            );
            s = cond.wait_timeout(s, deadline - now).unwrap().0;
        }
        s.received.clone()
    }

    fn received(&self) -> Vec<Received> {
        self.state.0.lock().unwrap().received.clone()
    }

    /// The spans received so far, over every trace request.
    fn spans(&self) -> Vec<Span> {
        let s = self.state.0.lock().unwrap();
        s.traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.clone())
            .collect()
    }

    fn trace_requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.state.0.lock().unwrap().traces.clone()
    }
}

/// Serves one connection: HTTP/1.1 requests one after another (keep-alive).
fn serve(stream: TcpStream, state: &(Mutex<State>, Condvar)) {
    let mut out = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if let Some(len) = get("content-length") {
            body.resize(len.parse::<usize>().unwrap(), 0);
            if r.read_exact(&mut body).is_err() {
                return;
            }
        } else if get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).unwrap();
                let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16)
                    .expect("a chunk size");
                let mut chunk = vec![0; size + 2];
                r.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        }
        if path == "/v1/traces" {
            let req = ExportTraceServiceRequest::decode(&body[..]).expect("a trace request");
            {
                let (lock, cond) = state;
                lock.lock().unwrap().traces.push(req);
                cond.notify_all();
            }
            let body = ExportTraceServiceResponse::default().encode_to_vec();
            let mut a = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            a.extend(body);
            if out.write_all(&a).is_err() {
                return;
            }
            continue;
        }
        let decoded = ExportMetricsServiceRequest::decode(&body[..]).map_err(|e| e.to_string());
        let reply = {
            let (lock, cond) = state;
            let mut s = lock.lock().unwrap();
            let reply = s.replies.pop_front().unwrap_or(Reply::Ok);
            s.received.push(Received {
                method,
                path,
                headers,
                body: decoded,
                replied: match reply {
                    Reply::Ok => 200,
                    Reply::Status(c) => c,
                    Reply::Hang => 0,
                },
            });
            cond.notify_all();
            reply
        };
        let answer = match reply {
            Reply::Ok => {
                let body = ExportMetricsServiceResponse::default().encode_to_vec();
                let mut a = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                a.extend(body);
                a
            }
            Reply::Status(c) => format!(
                "HTTP/1.1 {c} Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\noverloaded"
            )
            .into_bytes(),
            Reply::Hang => {
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
        };
        if out.write_all(&answer).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a request

fn metrics(r: &ExportMetricsServiceRequest) -> &[Metric] {
    assert_eq!(r.resource_metrics.len(), 1);
    let rm = &r.resource_metrics[0];
    assert_eq!(rm.scope_metrics.len(), 1);
    assert_eq!(rm.scope_metrics[0].scope.as_ref().unwrap().name, "profx");
    &rm.scope_metrics[0].metrics
}

fn metric<'a>(r: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
    metrics(r)
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

fn string(kv: &[KeyValue], key: &str) -> Option<String> {
    kv.iter()
        .find(|a| a.key == key)
        .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

fn resource_attr(r: &ExportMetricsServiceRequest, key: &str) -> Option<any_value::Value> {
    r.resource_metrics[0]
        .resource
        .as_ref()?
        .attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone()?.value)
}

fn has_attrs(kv: &[KeyValue], want: &[(&str, &str)]) -> bool {
    kv.len() == want.len()
        && want
            .iter()
            .all(|(k, v)| string(kv, k).as_deref() == Some(*v))
}

/// The Sum point with exactly these attributes; checks cumulative temporality and
/// monotonicity.
fn sum_point<'a>(
    r: &'a ExportMetricsServiceRequest,
    name: &str,
    monotonic: bool,
    attrs: &[(&str, &str)],
) -> Option<&'a NumberDataPoint> {
    let Some(Data::Sum(s)) = &metric(r, name).data else {
        panic!("{name} is not a Sum");
    };
    assert_eq!(
        s.aggregation_temporality,
        AggregationTemporality::Cumulative as i32,
        "{name}"
    );
    assert_eq!(s.is_monotonic, monotonic, "{name}");
    s.data_points
        .iter()
        .find(|p| has_attrs(&p.attributes, attrs))
}

fn int_value(p: &NumberDataPoint) -> i64 {
    match p.value {
        Some(number_data_point::Value::AsInt(n)) => n,
        other => panic!("not an int: {other:?}"),
    }
}

fn double_value(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        other => panic!("not a double: {other:?}"),
    }
}

/// The executions of `agent` in `r`, 0 if it is not there yet.
fn executions(r: &ExportMetricsServiceRequest, agent: &str) -> i64 {
    if !metrics(r)
        .iter()
        .any(|m| m.name == "profx.agent.executions")
    {
        return 0;
    }
    sum_point(r, "profx.agent.executions", true, &[("agent", agent)]).map_or(0, int_value)
}

fn histogram_point<'a>(
    r: &'a ExportMetricsServiceRequest,
    name: &str,
    attrs: &[(&str, &str)],
) -> &'a HistogramDataPoint {
    let Some(Data::Histogram(h)) = &metric(r, name).data else {
        panic!("{name} is not a Histogram");
    };
    assert_eq!(
        h.aggregation_temporality,
        AggregationTemporality::Cumulative as i32,
        "{name}"
    );
    h.data_points
        .iter()
        .find(|p| has_attrs(&p.attributes, attrs))
        .unwrap_or_else(|| panic!("no {name} point with {attrs:?}"))
}

/// Buckets add up to the count; bounds strictly increase; one bucket more than bounds.
fn check_histogram(p: &HistogramDataPoint) {
    assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
    assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
    assert!(p.explicit_bounds.windows(2).all(|w| w[0] < w[1]));
    assert!(p.start_time_unix_nano <= p.time_unix_nano);
}

// ---------------------------------------------------------------------------------------------
// What is recorded

#[profx::phase(name = "fetch")]
fn fetch() {
    std::thread::sleep(Duration::from_millis(1));
}

#[profx::phase(name = "parse")]
fn parse(i: u32) -> Result<(), String> {
    if i % 2 == 0 {
        Err("odd input".into())
    } else {
        Ok(())
    }
}

/// Fails when `i % 3 == 0`; lasts at least 2 ms.
#[profx::agent(name = "otlp-a")]
fn agent_a(i: u32) -> Result<(), String> {
    fetch();
    fetch();
    let _ = parse(i);
    std::thread::sleep(Duration::from_millis(2));
    if i % 3 == 0 {
        Err("divisible by three".into())
    } else {
        Ok(())
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn an_export_carries_what_was_recorded() {
    for i in 0..5 {
        let _ = agent_a(i); // i = 0 and 3 fail
    }
    let jobs = profx::metrics::counter("otlp_test_jobs", &[("kind", "scan")]).unwrap();
    jobs.inc_by(3);
    profx::metrics::gauge("otlp_test_queue", &[("queue", "in")])
        .unwrap()
        .set(2.5);
    let took = profx::metrics::histogram("otlp_test_took_seconds", &[]).unwrap();
    took.record(Duration::from_millis(3));
    took.record(Duration::from_millis(30));

    let rx = Receiver::start(&[]);
    let exporter = Builder::new()
        .endpoint(rx.endpoint())
        .interval(Duration::from_secs(3600))
        .header("x-api-key", "k1")
        .resource("deployment.environment.name", "test")
        .start()
        .unwrap();
    let before = now_nanos();
    exporter.export_now().unwrap();
    let got = rx.received();
    assert_eq!(got.len(), 1, "one request, from export_now");
    let req = &got[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/metrics");
    assert_eq!(req.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(req.header("x-api-key"), Some("k1"));
    let r = req.request();

    // The resource.
    let exe = std::env::current_exe().unwrap();
    let exe = exe.file_name().unwrap().to_string_lossy();
    let s = |v: &str| Some(any_value::Value::StringValue(v.to_owned()));
    assert_eq!(resource_attr(r, "service.name"), s(&exe));
    assert_eq!(
        resource_attr(r, "process.pid"),
        Some(any_value::Value::IntValue(i64::from(std::process::id())))
    );
    assert_eq!(resource_attr(r, "telemetry.sdk.name"), s("profx"));
    assert_eq!(
        resource_attr(r, "telemetry.sdk.version"),
        s(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(resource_attr(r, "deployment.environment.name"), s("test"));

    // Names and units.
    for (name, unit) in [
        ("profx.agent.executions", "{execution}"),
        ("profx.agent.failures", "{execution}"),
        ("profx.agent.duration", "s"),
        ("profx.agent.busy", "s"),
        ("profx.agent.success_rate", "1"),
        ("profx.phase.calls", "{call}"),
        ("profx.phase.failures", "{call}"),
        ("profx.phase.duration", "s"),
        ("profx.phase.busy", "s"),
        ("process.memory.usage", "By"),
        ("process.cpu.time", "s"),
        ("otlp_test_jobs", ""),
        ("otlp_test_took_seconds", "s"),
    ] {
        assert_eq!(metric(r, name).unit, unit, "{name}");
        assert!(!metric(r, name).description.is_empty(), "{name}");
    }

    // The agent: 5 executions, 2 failures.
    let a = [("agent", "otlp-a")];
    let execs = sum_point(r, "profx.agent.executions", true, &a).unwrap();
    assert_eq!(int_value(execs), 5);
    assert!(execs.start_time_unix_nano <= execs.time_unix_nano);
    assert!(execs.time_unix_nano >= before);
    let fails = sum_point(r, "profx.agent.failures", true, &a).unwrap();
    assert_eq!(int_value(fails), 2);
    let Some(Data::Gauge(rate)) = &metric(r, "profx.agent.success_rate").data else {
        panic!("success rate is not a Gauge");
    };
    let rate = rate
        .data_points
        .iter()
        .find(|p| has_attrs(&p.attributes, &a))
        .unwrap();
    assert_eq!(double_value(rate), 0.6);

    // Its durations: 5, each at least 2 ms, so none in a bucket below 2 ms (less the 1.6%
    // edge of the fold).
    let h = histogram_point(r, "profx.agent.duration", &a);
    check_histogram(h);
    assert_eq!(h.count, 5);
    assert!(h.sum.unwrap() >= 5.0 * 0.002, "{:?}", h.sum);
    for (bound, n) in h.explicit_bounds.iter().zip(&h.bucket_counts) {
        if *bound < 0.002 * 0.98 {
            assert_eq!(*n, 0, "bucket up to {bound}");
        }
    }
    assert_eq!(
        h.explicit_bounds.len(),
        profx::metrics::HISTOGRAM_BOUNDS.len()
    );
    assert_eq!(h.explicit_bounds[0], 1e-7);
    assert_eq!(*h.explicit_bounds.last().unwrap(), 100.0);
    // Sync: busy throughout, its busy seconds the duration's sum.
    let busy = sum_point(r, "profx.agent.busy", true, &a).unwrap();
    assert_eq!(double_value(busy), h.sum.unwrap());

    // Its phases.
    let fetch = [("agent", "otlp-a"), ("phase", "fetch")];
    let parse = [("agent", "otlp-a"), ("phase", "parse")];
    let calls =
        |attrs: &[(&str, &str)]| int_value(sum_point(r, "profx.phase.calls", true, attrs).unwrap());
    let failures = |attrs: &[(&str, &str)]| {
        int_value(sum_point(r, "profx.phase.failures", true, attrs).unwrap())
    };
    assert_eq!((calls(&fetch), failures(&fetch)), (10, 0));
    assert_eq!((calls(&parse), failures(&parse)), (5, 3)); // i = 0, 2, 4
    let h = histogram_point(r, "profx.phase.duration", &fetch);
    check_histogram(h);
    assert_eq!(h.count, 10);
    assert!(h.sum.unwrap() >= 10.0 * 0.001);

    // The process.
    let mem = sum_point(r, "process.memory.usage", false, &[]).unwrap();
    assert!(int_value(mem) > 0);
    let cpu = sum_point(r, "process.cpu.time", true, &[]).unwrap();
    assert!(double_value(cpu) >= 0.0);

    // Custom metrics, their labels as attributes.
    let jobs = sum_point(r, "otlp_test_jobs", true, &[("kind", "scan")]).unwrap();
    assert_eq!(int_value(jobs), 3);
    let Some(Data::Gauge(queue)) = &metric(r, "otlp_test_queue").data else {
        panic!("a gauge");
    };
    assert_eq!(queue.data_points.len(), 1);
    assert!(has_attrs(
        &queue.data_points[0].attributes,
        &[("queue", "in")]
    ));
    assert_eq!(double_value(&queue.data_points[0]), 2.5);
    let took = histogram_point(r, "otlp_test_took_seconds", &[]);
    check_histogram(took);
    assert_eq!(took.count, 2);
    assert!((took.sum.unwrap() - 0.033).abs() < 1e-9);

    exporter.stop();
    // The final export of `stop`.
    let got = rx.wait_until("the final export", |r| r.len() >= 2);
    assert_eq!(executions(got[1].request(), "otlp-a"), 5);
}

#[profx::agent(name = "otlp-periodic")]
fn periodic() {}

#[test]
fn periodic_exports_deliver_growing_totals() {
    let rx = Receiver::start(&[]);
    let exporter = Builder::new()
        .endpoint(rx.endpoint())
        .interval(Duration::from_millis(50))
        .start()
        .unwrap();
    periodic();
    rx.wait_until("an export with 1 execution", |r| {
        r.iter()
            .any(|q| executions(q.request(), "otlp-periodic") == 1)
    });
    periodic();
    periodic();
    let got = rx.wait_until("an export with 3 executions", |r| {
        r.iter()
            .any(|q| executions(q.request(), "otlp-periodic") == 3)
    });
    exporter.stop();
    assert!(got.len() >= 2);
    let seen: Vec<i64> = got
        .iter()
        .map(|q| executions(q.request(), "otlp-periodic"))
        .collect();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    // One start time for every point of every export: the series are cumulative.
    let starts: Vec<u64> = got
        .iter()
        .flat_map(|q| metrics(q.request()).to_vec())
        .filter_map(|m| match m.data {
            Some(Data::Sum(s)) => Some(s.data_points),
            _ => None,
        })
        .flatten()
        .map(|p| p.start_time_unix_nano)
        .collect();
    assert!(starts.windows(2).all(|w| w[0] == w[1]));
    let times: Vec<u64> = got
        .iter()
        .map(|q| {
            sum_point(q.request(), "process.cpu.time", true, &[])
                .unwrap()
                .time_unix_nano
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

/// Runs `stop` on another thread and waits for it (at most [`WAIT`]): a hang fails the test.
fn stop_within_wait(exporter: profx::otlp::Exporter) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        exporter.stop();
        let _ = tx.send(());
    });
    rx.recv_timeout(WAIT).expect("stop returns");
}

#[test]
fn nothing_listening_is_an_error_and_stop_returns() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let exporter = Builder::new()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let e = exporter.export_now().unwrap_err();
    assert!(
        matches!(e, OtlpError::Unreachable { .. }),
        "{e:?}: not Unreachable"
    );
    let text = e.to_string();
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/v1/metrics")),
        "{text}"
    );
    assert!(text.contains("connection refused"), "{text}");
    // The thread keeps trying every 20 ms meanwhile, and stops when asked.
    std::thread::sleep(Duration::from_millis(100));
    stop_within_wait(exporter);
}

#[test]
fn a_receiver_that_never_answers_is_a_timeout() {
    let rx = Receiver::start(&[Reply::Hang, Reply::Hang]);
    let exporter = Builder::new()
        .endpoint(rx.endpoint())
        .interval(Duration::from_secs(3600))
        .timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let e = exporter.export_now().unwrap_err();
    assert!(matches!(e, OtlpError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("no answer within 300ms"), "{e}");
    // The final export hangs too: stop still returns.
    stop_within_wait(exporter);
    assert!(!rx.received().is_empty());
}

#[test]
fn bad_settings_are_errors_naming_value_and_form() {
    for bad in [
        "localhost:4318",
        "https://collector:4318",
        "http://",
        "http://c:99999",
        "http://user:pw@c:4318",
        "",
    ] {
        match Builder::new().endpoint(bad).start() {
            Err(e @ OtlpError::InvalidEndpoint { .. }) => {
                let text = e.to_string();
                assert!(text.contains(&format!("{bad:?}")), "{text}");
                assert!(text.contains("http://localhost:4318"), "{text}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let e = Builder::new()
        .endpoint("http://127.0.0.1:9")
        .header("bad header", "v")
        .start()
        .unwrap_err();
    assert!(matches!(&e, OtlpError::InvalidHeader { name } if name == "bad header"));
    let e = Builder::new()
        .endpoint("http://127.0.0.1:9")
        .header("x-ok", "line\nbreak")
        .start()
        .unwrap_err();
    assert!(matches!(e, OtlpError::InvalidHeader { .. }));
}

// ---------------------------------------------------------------------------------------------
// In child processes: what goes to standard error, and the environment

/// Runs the `child_*` test `test` of this file in a fresh process with `vars` set.
fn run_child(test: &str, vars: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for v in [
        "PROFX_OTLP_ENDPOINT",
        "PROFX_OTLP_INTERVAL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "PROFX_SERVER_ADDR",
    ] {
        cmd.env_remove(v);
    }
    let out = cmd.envs(vars.iter().copied()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[profx::agent(name = "otlp-flaky")]
fn flaky() {}

#[test]
#[ignore = "run by failures_warn_once_per_problem_and_recovery_is_reported in a child process"]
fn child_flaky_receiver() {
    let rx = Receiver::start(&[
        Reply::Status(503),
        Reply::Status(503),
        Reply::Status(400),
        Reply::Status(400),
    ]);
    flaky();
    flaky();
    let exporter = Builder::new()
        .endpoint(rx.endpoint())
        .interval(Duration::from_millis(30))
        .start()
        .unwrap();
    rx.wait_until("four refused exports", |r| r.len() >= 4);
    // Recorded while the collector refuses: the next accepted export has it.
    for _ in 0..3 {
        flaky();
    }
    let got = rx.wait_until("an accepted export with everything", |r| {
        r.iter()
            .any(|q| q.replied == 200 && executions(q.request(), "otlp-flaky") == 5)
    });
    assert_eq!(got[0].replied, 503);
    assert_eq!(executions(got[0].request(), "otlp-flaky"), 2);
    exporter.stop();
    eprintln!("child: url {}/v1/metrics", rx.endpoint());
}

#[test]
fn failures_warn_once_per_problem_and_recovery_is_reported() {
    let (ok, stderr) = run_child("child_flaky_receiver", &[]);
    assert!(ok, "{stderr}");
    let url = stderr
        .lines()
        .find_map(|l| l.strip_prefix("child: url "))
        .expect("the child names its receiver");
    let warning = format!("profx: warning: OTLP export to {url} failed: HTTP 503: overloaded");
    assert_eq!(stderr.matches(&warning).count(), 1, "{stderr}");
    // A different problem is a new warning.
    let other = format!("profx: warning: OTLP export to {url} failed: HTTP 400: overloaded");
    assert_eq!(stderr.matches(&other).count(), 1, "{stderr}");
    assert!(stderr.contains("trying again every 30ms"), "{stderr}");
    let recovered = format!("profx: OTLP export to {url} works again");
    assert_eq!(stderr.matches(&recovered).count(), 1, "{stderr}");
    assert!(stderr.find(&warning) < stderr.find(&other), "{stderr}");
    assert!(stderr.find(&other) < stderr.find(&recovered), "{stderr}");
}

#[profx::agent(name = "otlp-env")]
fn env_agent() {}

/// A program's `main`, as `#[profx::main]` expands it.
mod program {
    #[profx::main]
    pub fn main() {
        for _ in 0..4 {
            super::env_agent();
        }
    }
}

#[test]
#[ignore = "run by the_environment_starts_the_exporter_with_main in a child process"]
fn child_env_main() {
    program::main();
}

#[test]
fn the_environment_starts_the_exporter_with_main() {
    let rx = Receiver::start(&[]);
    let report = std::env::temp_dir().join(format!("profx-otlp-env-{}.json", std::process::id()));
    let report_spec = format!("json:{}", report.display());
    // A one-hour interval: what arrives is the final export when `main` ends.
    let (ok, stderr) = run_child(
        "child_env_main",
        &[
            ("PROFX_OTLP_ENDPOINT", &rx.endpoint()),
            ("PROFX_OTLP_INTERVAL", "1h"),
            ("OTEL_SERVICE_NAME", "otlp-env-svc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=blue%20team"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=staging,service.name=loses",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
            ("PROFX_REPORT", &report_spec),
        ],
    );
    assert!(ok, "{stderr}");
    let got = rx.wait_until("the final export", |r| !r.is_empty());
    let q = got.last().unwrap();
    assert_eq!(q.header("x-tenant"), Some("blue team"));
    assert_eq!(
        resource_attr(q.request(), "service.name"),
        Some(any_value::Value::StringValue("otlp-env-svc".into()))
    );
    assert_eq!(
        resource_attr(q.request(), "deployment.environment"),
        Some(any_value::Value::StringValue("staging".into()))
    );
    assert_eq!(executions(q.request(), "otlp-env"), 4);
    assert!(report.exists(), "the report is still written");
    let _ = std::fs::remove_file(&report);

    // The standard variable works too.
    let rx = Receiver::start(&[]);
    let (ok, stderr) = run_child(
        "child_env_main",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &rx.endpoint()),
            ("PROFX_REPORT", &report_spec),
        ],
    );
    assert!(ok, "{stderr}");
    let got = rx.wait_until("the final export", |r| !r.is_empty());
    assert_eq!(executions(got.last().unwrap().request(), "otlp-env"), 4);
    let _ = std::fs::remove_file(&report);

    // Bad values: one warning each naming variable, value and form; no exporter.
    let (ok, stderr) = run_child(
        "child_env_main",
        &[
            ("PROFX_OTLP_ENDPOINT", "localhost:4318"),
            ("PROFX_OTLP_INTERVAL", "often"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret%zz"),
            ("PROFX_REPORT", &report_spec),
        ],
    );
    assert!(ok, "{stderr}");
    // Headers carry API keys: their warning gives the length, never the value.
    assert_eq!(
        stderr
            .matches("OTEL_EXPORTER_OTLP_HEADERS (a value of 17 characters, not shown")
            .count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert_eq!(
        stderr
            .matches("PROFX_OTLP_ENDPOINT=\"localhost:4318\" is not valid (expected an http:// URL")
            .count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("PROFX_OTLP_INTERVAL=\"often\" is not valid (expected a duration")
            .count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("OTLP export"), "{stderr}");
    let _ = std::fs::remove_file(&report);
}

// ---------------------------------------------------------------------------------------------
// Traces: the kept executions as spans on /v1/traces

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const CALLER_2: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[profx::phase(name = "otlp-trace-lex")]
fn trace_lex() {
    std::thread::sleep(Duration::from_micros(300));
}

#[profx::phase(name = "otlp-trace-parse")]
fn trace_parse() {
    trace_lex();
}

#[profx::phase(name = "otlp-trace-store")]
fn trace_store(n: u32) -> Result<(), String> {
    if n == 2 {
        Err("disk full".into())
    } else {
        Ok(())
    }
}

// (`_tp`: used by the attribute alone, which vanishes with the feature off.)
#[profx::agent(name = "otlp-trace-handle", request = n, traceparent = _tp)]
fn trace_handle(n: u32, _tp: Option<&str>) -> Result<(), String> {
    trace_parse();
    trace_store(n)
}

fn span_attr(s: &Span, key: &str) -> Option<String> {
    string(&s.attributes, key)
}

#[test]
fn kept_executions_are_exported_as_spans_and_join_a_callers_trace() {
    let rx = Receiver::start(&[]);
    let exporter = Builder::new()
        .endpoint(rx.endpoint())
        .interval(Duration::from_secs(3600))
        .resource("service.name", "trace-test")
        .start()
        .unwrap();
    assert_eq!(
        exporter.traces_url(),
        format!("{}/v1/traces", rx.endpoint())
    );
    let before = now_nanos();
    let _ = trace_handle(1, Some(CALLER)); // joins the caller's trace
    let _ = trace_handle(2, None); // a trace of its own; its store fails
    let _ = trace_handle(3, Some("not-a-traceparent")); // ignored: a trace of its own
    let mut manual =
        profx::global().start_execution_in_trace("otlp-trace-manual", "job 7", CALLER_2);
    drop(manual.phase("otlp-trace-step"));
    manual.end(Ok::<(), String>(()));
    let after = now_nanos();
    exporter.export_now().unwrap();

    let requests = rx.trace_requests();
    assert!(!requests.is_empty(), "no request to /v1/traces");
    let rs = &requests[0].resource_spans[0];
    assert_eq!(
        string(&rs.resource.as_ref().unwrap().attributes, "service.name").as_deref(),
        Some("trace-test")
    );
    assert_eq!(rs.scope_spans[0].scope.as_ref().unwrap().name, "profx");
    let spans: Vec<Span> = rx
        .spans()
        .into_iter()
        .filter(|s| s.name.starts_with("otlp-trace-"))
        .collect();
    let roots: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "otlp-trace-handle")
        .collect();
    assert_eq!(roots.len(), 3, "{spans:#?}");
    let root_of = |n: &str| {
        *roots
            .iter()
            .find(|s| span_attr(s, "profx.request").as_deref() == Some(n))
            .unwrap()
    };
    // Joined: the caller's trace id, the caller's span as parent.
    let joined = root_of("1");
    assert_eq!(hex(&joined.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&joined.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(joined.status.as_ref().unwrap().code, StatusCode::Ok as i32);
    // Own traces: a root span each, in traces of their own.
    let (own, bad) = (root_of("2"), root_of("3"));
    assert!(own.parent_span_id.is_empty() && bad.parent_span_id.is_empty());
    assert_ne!(own.trace_id, bad.trace_id);
    assert_ne!(own.trace_id, joined.trace_id);
    assert_eq!(own.trace_id.len(), 16);
    assert_eq!(own.span_id.len(), 8);
    // The failed one: an error status with the message.
    let status = own.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "disk full");
    // Every execution's phases are its children, nested as they ran, with their real times.
    for root in [joined, own, bad] {
        let kids: Vec<&Span> = spans
            .iter()
            .filter(|s| s.trace_id == root.trace_id)
            .collect();
        let parse = kids.iter().find(|s| s.name == "otlp-trace-parse").unwrap();
        let lex = kids.iter().find(|s| s.name == "otlp-trace-lex").unwrap();
        let store = kids.iter().find(|s| s.name == "otlp-trace-store").unwrap();
        assert_eq!(parse.parent_span_id, root.span_id);
        assert_eq!(store.parent_span_id, root.span_id);
        assert_eq!(lex.parent_span_id, parse.span_id);
        // (Span times come from profx's clock, the bounds from the system's: 50 ms of slack.)
        let slack = 50_000_000;
        assert!(before <= root.start_time_unix_nano + slack);
        assert!(root.end_time_unix_nano <= after + slack);
        for k in [parse, lex, store] {
            assert!(root.start_time_unix_nano <= k.start_time_unix_nano);
            assert!(k.start_time_unix_nano <= k.end_time_unix_nano);
            assert!(k.end_time_unix_nano <= root.end_time_unix_nano);
            assert_eq!(
                span_attr(k, "profx.agent").as_deref(),
                Some("otlp-trace-handle")
            );
        }
        assert!(lex.end_time_unix_nano - lex.start_time_unix_nano >= 300_000);
        assert!(parse.start_time_unix_nano <= lex.start_time_unix_nano);
        assert!(lex.end_time_unix_nano <= parse.end_time_unix_nano);
    }
    let failed_store = spans
        .iter()
        .find(|s| s.name == "otlp-trace-store" && s.trace_id == own.trace_id)
        .unwrap();
    assert_eq!(
        failed_store.status.as_ref().unwrap().code,
        StatusCode::Error as i32
    );
    // The manual execution joined its caller's trace too.
    let m = spans
        .iter()
        .find(|s| s.name == "otlp-trace-manual")
        .unwrap();
    assert_eq!(hex(&m.trace_id), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(hex(&m.parent_span_id), "b7ad6b7169203331");
    assert_eq!(m.flags, 0, "the caller's flags: not sampled");
    let step = spans.iter().find(|s| s.name == "otlp-trace-step").unwrap();
    assert_eq!(step.parent_span_id, m.span_id);
    assert_eq!(span_attr(m, "profx.request").as_deref(), Some("job 7"));

    // Sent once: the next export has none of them again.
    let n = spans.len();
    exporter.export_now().unwrap();
    let again = rx
        .spans()
        .into_iter()
        .filter(|s| s.name.starts_with("otlp-trace-"))
        .count();
    assert_eq!(again, n, "spans sent twice");
    exporter.stop();
}

#[profx::agent(name = "otlp-sampled")]
fn sampled(i: u32) -> u32 {
    i
}

#[test]
#[ignore = "run by only_kept_executions_become_spans in a child process"]
fn child_sampled() {
    let rx = Receiver::start(&[]);
    let exporter = Builder::new()
        .endpoint(rx.endpoint())
        .interval(Duration::from_secs(3600))
        .start()
        .unwrap();
    for i in 0..10 {
        sampled(i);
    }
    exporter.export_now().unwrap();
    let spans = rx
        .spans()
        .into_iter()
        .filter(|s| s.name == "otlp-sampled")
        .count();
    let kept = profx::global().executions("otlp-sampled").len();
    let all = profx::global()
        .agent_metrics("otlp-sampled")
        .unwrap()
        .total_executions;
    eprintln!("child: {spans} spans, {kept} kept, {all} executions");
    assert_eq!(all, 10);
    assert_eq!(kept, 5, "PROFX_SAMPLE=2 keeps 1 in 2");
    assert_eq!(spans, kept, "only kept executions are exported");
}

#[test]
fn only_kept_executions_become_spans() {
    let (ok, stderr) = run_child("child_sampled", &[("PROFX_SAMPLE", "2")]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("child: 5 spans, 5 kept, 10 executions"),
        "{stderr}"
    );
}
