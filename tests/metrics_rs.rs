//! The `metrics` crate's macros recorded by `profx::metrics_rs::ProfxRecorder` (feature
//! `metrics`): values in `profx::metrics::snapshot()` and in the Prometheus exposition (checked
//! by `promtool`), names sanitised with one warning each, bad histogram values and refused keys
//! counted.

use std::process::Command;

#[path = "common/promtool.rs"]
mod promtool;
use std::sync::Once;
use std::time::Duration;

use profx::metrics::{MetricFamily, MetricKind, MetricValue};

/// Installs the recorder once for this test process (the `metrics` crate has one global
/// recorder).
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| profx::metrics_rs::install().expect("first install"));
}

fn family(name: &str) -> MetricFamily {
    profx::metrics::snapshot()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

fn value(name: &str, labels: &[(&str, &str)]) -> MetricValue {
    let f = family(name);
    f.series
        .iter()
        .find(|s| {
            s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .unwrap_or_else(|| panic!("no series {labels:?} in {f:?}"))
        .value
        .clone()
}

fn dropped(metric: &str, reason: &str) -> u64 {
    match profx::metrics::snapshot()
        .into_iter()
        .find(|f| f.name == profx::metrics_rs::DROPPED_METRIC)
        .and_then(|f| {
            f.series.into_iter().find(|s| {
                s.labels
                    == [
                        ("metric".to_string(), metric.to_string()),
                        ("reason".to_string(), reason.to_string()),
                    ]
            })
        })
        .map(|s| s.value)
    {
        Some(MetricValue::Counter(n)) => n,
        None => 0,
        Some(other) => panic!("{other:?}"),
    }
}

#[test]
fn counters_gauges_and_histograms_reach_snapshot_and_exposition() {
    install();
    metrics::describe_counter!("mrs_jobs_done_total", "Jobs finished, by queue.");
    metrics::describe_gauge!("mrs_queue_depth", "Jobs waiting.");
    metrics::describe_histogram!(
        "mrs_job_duration_seconds",
        metrics::Unit::Seconds,
        "Time a job took."
    );
    for _ in 0..3 {
        metrics::counter!("mrs_jobs_done_total", "queue" => "mail").increment(1);
    }
    metrics::counter!("mrs_jobs_done_total", "queue" => "sms").increment(5);
    // absolute raises, never lowers
    metrics::counter!("mrs_jobs_done_total", "queue" => "sms").absolute(9);
    metrics::counter!("mrs_jobs_done_total", "queue" => "sms").absolute(2);

    let depth = metrics::gauge!("mrs_queue_depth");
    depth.set(10.0);
    depth.increment(2.5);
    depth.decrement(4.0);

    let took = metrics::histogram!("mrs_job_duration_seconds");
    took.record(0.25);
    took.record(Duration::from_millis(3)); // metrics turns a Duration into seconds
    took.record(2.0);

    assert_eq!(
        value("mrs_jobs_done_total", &[("queue", "mail")]),
        MetricValue::Counter(3)
    );
    assert_eq!(
        value("mrs_jobs_done_total", &[("queue", "sms")]),
        MetricValue::Counter(9)
    );
    assert_eq!(value("mrs_queue_depth", &[]), MetricValue::Gauge(8.5));
    let f = family("mrs_job_duration_seconds");
    assert_eq!(f.kind, MetricKind::Histogram);
    assert_eq!(f.help.as_deref(), Some("Time a job took."));
    let MetricValue::Histogram(h) = value("mrs_job_duration_seconds", &[]) else {
        panic!("not a histogram");
    };
    assert_eq!(h.count, 3);
    assert_eq!(h.sum, Duration::from_millis(2253));
    let le = |bound: f64| h.buckets.iter().find(|b| b.le == bound).unwrap().count;
    assert_eq!(le(0.005), 1, "{h:?}");
    assert_eq!(le(0.25), 2, "{h:?}");
    assert_eq!(le(2.5), 3, "{h:?}");
    assert_eq!(
        family("mrs_jobs_done_total").help.as_deref(),
        Some("Jobs finished, by queue.")
    );

    let text = profx::prometheus::render();
    for line in [
        "# HELP mrs_jobs_done_total Jobs finished, by queue.\n",
        "# TYPE mrs_jobs_done_total counter\n",
        "mrs_jobs_done_total{queue=\"mail\"} 3\n",
        "mrs_jobs_done_total{queue=\"sms\"} 9\n",
        "# TYPE mrs_queue_depth gauge\n",
        "mrs_queue_depth 8.5\n",
        "# TYPE mrs_job_duration_seconds histogram\n",
        "mrs_job_duration_seconds_bucket{le=\"0.25\"} 2\n",
        "mrs_job_duration_seconds_bucket{le=\"+Inf\"} 3\n",
        "mrs_job_duration_seconds_sum 2.253\n",
        "mrs_job_duration_seconds_count 3\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
}

#[test]
fn exposition_with_sanitised_names_passes_promtool() {
    install();
    metrics::counter!("mrs.http.requests", "status-code" => "200", "__shard" => "a").increment(4);
    metrics::gauge!("mrs.pool size", "pool" => "db\"main\"\n").set(3.0);
    metrics::histogram!("mrs.rpc_seconds", "le" => "x").record(0.01);
    metrics::counter!("2xx_mrs_total").increment(1);
    metrics::histogram!("mrs.rpc_seconds", "le" => "x").record(f64::NAN);

    assert_eq!(
        value(
            "mrs_http_requests",
            &[("status_code", "200"), ("_shard", "a")]
        ),
        MetricValue::Counter(4)
    );
    assert_eq!(
        value("mrs_pool_size", &[("pool", "db\"main\"\n")]),
        MetricValue::Gauge(3.0)
    );
    assert!(matches!(
        value("mrs_rpc_seconds", &[("_le", "x")]),
        MetricValue::Histogram(h) if h.count == 1
    ));
    assert_eq!(value("_xx_mrs_total", &[]), MetricValue::Counter(1));

    let text = profx::prometheus::render();
    assert!(
        text.contains("mrs_http_requests_total{status_code=\"200\",_shard=\"a\"} 4\n")
            || text.contains("mrs_http_requests_total{_shard=\"a\",status_code=\"200\"} 4\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "profx_metrics_rs_dropped_total{metric=\"mrs_rpc_seconds\",reason=\"nan\"} 1\n"
        ),
        "{text}"
    );
    // The render holds every metric of this process, the other tests' included.
    if promtool::present() {
        promtool::assert_clean(&text);
    }
}

#[test]
fn bad_histogram_values_are_dropped_and_counted() {
    install();
    let h = metrics::histogram!("mrs_bad_values_seconds");
    h.record(0.5);
    h.record(-0.001);
    h.record(f64::NEG_INFINITY);
    h.record(f64::NAN);
    h.record(f64::INFINITY);
    h.record(-0.0); // zero, not negative
    h.record(1e30); // finite but beyond a Duration: the largest observation
    h.record_many(0.001, 4);
    h.record_many(-3.0, 3);

    let MetricValue::Histogram(s) = value("mrs_bad_values_seconds", &[]) else {
        panic!("not a histogram");
    };
    assert_eq!(s.count, 7, "{s:?}"); // 0.5, -0.0, 1e30, 4 x 0.001
    assert!(s.sum > Duration::from_secs(200 * 86_400), "{s:?}");
    assert_eq!(dropped("mrs_bad_values_seconds", "negative"), 5);
    assert_eq!(dropped("mrs_bad_values_seconds", "nan"), 1);
    assert_eq!(dropped("mrs_bad_values_seconds", "infinite"), 1);
    assert_eq!(dropped("mrs_bad_values_seconds", "refused"), 0);
}

#[test]
fn refused_keys_are_counted_and_missing_labels_are_empty() {
    install();
    // One name, two kinds: the second is refused, its updates counted.
    metrics::gauge!("mrs_kind_clash").set(1.0);
    for _ in 0..3 {
        metrics::counter!("mrs_kind_clash").increment(10);
    }
    assert_eq!(value("mrs_kind_clash", &[]), MetricValue::Gauge(1.0));
    assert_eq!(dropped("mrs_kind_clash", "refused"), 3);

    // A key with fewer labels than the first registration: the missing label is empty.
    metrics::counter!("mrs_padded_total", "a" => "1", "b" => "2").increment(1);
    metrics::counter!("mrs_padded_total", "a" => "1").increment(2);
    assert_eq!(
        value("mrs_padded_total", &[("a", "1"), ("b", "2")]),
        MetricValue::Counter(1)
    );
    assert_eq!(
        value("mrs_padded_total", &[("a", "1"), ("b", "")]),
        MetricValue::Counter(2)
    );
    // One with another label: refused.
    metrics::counter!("mrs_padded_total", "c" => "3").increment(7);
    assert_eq!(dropped("mrs_padded_total", "refused"), 1);
    assert_eq!(family("mrs_padded_total").series.len(), 2);
}

#[test]
fn updates_from_many_threads_all_count() {
    install();
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for _ in 0..1000 {
                    metrics::counter!("mrs_threads_total", "parity" => if t % 2 == 0 { "even" } else { "odd" })
                        .increment(1);
                    metrics::gauge!("mrs_threads_level").increment(1.0);
                }
            });
        }
    });
    assert_eq!(
        value("mrs_threads_total", &[("parity", "even")]),
        MetricValue::Counter(2000)
    );
    assert_eq!(
        value("mrs_threads_total", &[("parity", "odd")]),
        MetricValue::Counter(2000)
    );
    assert_eq!(value("mrs_threads_level", &[]), MetricValue::Gauge(4000.0));
}

/// Threads that each go through many short-lived recorders (each thread keeps its own
/// handles per recorder, dropped with the recorder), and threads that exit: every update
/// counts, `absolute` and histograms included.
#[test]
fn per_thread_handles_of_short_lived_recorders_all_count() {
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    let recorder = profx::metrics_rs::ProfxRecorder::new();
                    metrics::with_local_recorder(&recorder, || {
                        for _ in 0..20 {
                            metrics::counter!("mrs_short_lived_total").increment(1);
                            metrics::histogram!("mrs_short_lived_seconds").record(0.001);
                        }
                        metrics::gauge!("mrs_short_lived_level").increment(0.5);
                    });
                }
            });
        }
    });
    assert_eq!(
        value("mrs_short_lived_total", &[]),
        MetricValue::Counter(4 * 50 * 20)
    );
    assert_eq!(
        value("mrs_short_lived_level", &[]),
        MetricValue::Gauge(4.0 * 50.0 * 0.5)
    );
    match value("mrs_short_lived_seconds", &[]) {
        MetricValue::Histogram(h) => assert_eq!(h.count, 4 * 50 * 20),
        other => panic!("{other:?}"),
    }
    // `absolute` through two threads' own handles of one recorder: the larger value wins.
    let recorder = profx::metrics_rs::ProfxRecorder::new();
    std::thread::scope(|s| {
        for n in [7u64, 11] {
            let r = &recorder;
            s.spawn(move || {
                metrics::with_local_recorder(r, || {
                    metrics::counter!("mrs_short_lived_absolute_total").absolute(n)
                })
            });
        }
    });
    assert_eq!(
        value("mrs_short_lived_absolute_total", &[]),
        MetricValue::Counter(11)
    );
}

/// A recorder of the user's that puts a prefix on every name and hands on to profx's.
struct Prefixed(profx::metrics_rs::ProfxRecorder);

impl Prefixed {
    fn key(key: &metrics::Key) -> metrics::Key {
        metrics::Key::from_parts(
            format!("app_{}", key.name()),
            key.labels().cloned().collect::<Vec<_>>(),
        )
    }
}

impl metrics::Recorder for Prefixed {
    fn describe_counter(
        &self,
        k: metrics::KeyName,
        u: Option<metrics::Unit>,
        d: metrics::SharedString,
    ) {
        self.0
            .describe_counter(format!("app_{}", k.as_str()).into(), u, d);
    }
    fn describe_gauge(
        &self,
        k: metrics::KeyName,
        u: Option<metrics::Unit>,
        d: metrics::SharedString,
    ) {
        self.0
            .describe_gauge(format!("app_{}", k.as_str()).into(), u, d);
    }
    fn describe_histogram(
        &self,
        k: metrics::KeyName,
        u: Option<metrics::Unit>,
        d: metrics::SharedString,
    ) {
        self.0
            .describe_histogram(format!("app_{}", k.as_str()).into(), u, d);
    }
    fn register_counter(&self, k: &metrics::Key, m: &metrics::Metadata<'_>) -> metrics::Counter {
        self.0.register_counter(&Self::key(k), m)
    }
    fn register_gauge(&self, k: &metrics::Key, m: &metrics::Metadata<'_>) -> metrics::Gauge {
        self.0.register_gauge(&Self::key(k), m)
    }
    fn register_histogram(
        &self,
        k: &metrics::Key,
        m: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        self.0.register_histogram(&Self::key(k), m)
    }
}

#[test]
fn the_recorder_composes_with_a_users_recorder() {
    let recorder = Prefixed(profx::metrics_rs::ProfxRecorder::new());
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_gauge!("mrs_local", "Through a wrapper.");
        metrics::gauge!("mrs_local").set(7.0);
    });
    assert_eq!(value("app_mrs_local", &[]), MetricValue::Gauge(7.0));
    assert_eq!(
        family("app_mrs_local").help.as_deref(),
        Some("Through a wrapper.")
    );
}

/// Runs one of the `child_*` tests below in a fresh process; its standard error.
fn run_child(test: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{test} failed:\n{stderr}");
    stderr
}

#[test]
#[ignore = "run by each_problem_is_warned_once in a child process"]
fn child_warnings() {
    install();
    for _ in 0..50 {
        metrics::counter!("mrs.warned.requests", "status-code" => "200").increment(1);
        metrics::gauge!("mrs_warned_clash").set(1.0);
        metrics::counter!("mrs_warned_clash").increment(1);
        metrics::describe_counter!("mrs.warned.requests", "Requests.");
        metrics::histogram!("mrs_warned_seconds").record(-1.0);
    }
    assert_eq!(
        value("mrs_warned_requests", &[("status_code", "200")]),
        MetricValue::Counter(50)
    );
    assert_eq!(dropped("mrs_warned_clash", "refused"), 50);
    assert_eq!(dropped("mrs_warned_seconds", "negative"), 50);
}

#[test]
fn each_problem_is_warned_once() {
    let stderr = run_child("child_warnings");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("profx: warning: metrics:"))
        .collect();
    assert_eq!(warnings.len(), 3, "{stderr}");
    let one = |needle: &str| {
        let found: Vec<_> = warnings.iter().filter(|w| w.contains(needle)).collect();
        assert_eq!(found.len(), 1, "{needle:?} in {warnings:#?}");
    };
    one("metric name \"mrs.warned.requests\" is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*): recorded as \"mrs_warned_requests\"");
    one("label name \"status-code\" is not accepted in Prometheus (or is reserved): recorded as \"status_code\"");
    one("key \"mrs_warned_clash\" is refused by profx's registry: metric \"mrs_warned_clash\" is already registered as a gauge, so it cannot also be a counter");
    one("its updates are counted in profx_metrics_rs_dropped_total{metric=\"mrs_warned_clash\",reason=\"refused\"} instead");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
