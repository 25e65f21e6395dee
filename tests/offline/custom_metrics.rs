//! Custom metrics through the facade: concurrency, exact histogram contents, refusals, and the
//! JSON that `/api/metrics` serves, queried the way the monitoring guide's `jq` examples do.
//!
//! Every test uses names of its own: the registry is process-wide.

use std::time::{Duration, Instant};

use profx::metrics::{self, MetricError, MetricKind, MetricValue, HISTOGRAM_BOUNDS};
use serde_json::Value;

const ON: bool = cfg!(feature = "enabled");

/// `jq '.[] | select(.name == "<name>")'`
fn select_name<'a>(json: &'a Value, name: &str) -> Vec<&'a Value> {
    json.as_array()
        .expect("an array")
        .iter()
        .filter(|m| m["name"] == name)
        .collect()
}

/// `jq '.[] | select(.name | contains("<part>"))'`
fn select_contains<'a>(json: &'a Value, part: &str) -> Vec<&'a Value> {
    json.as_array()
        .expect("an array")
        .iter()
        .filter(|m| m["name"].as_str().expect("name is a string").contains(part))
        .collect()
}

fn api_metrics() -> Value {
    // What the server will do: snapshot, shape, serialize; then read it back as a client.
    let text = serde_json::to_string(&metrics::to_json(&metrics::snapshot())).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn eight_threads_count_exactly() {
    let c = metrics::counter("t_eight_threads_total", &[]).unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            let c = c.clone();
            s.spawn(move || {
                for _ in 0..100_000 {
                    c.inc();
                }
            });
        }
    });
    assert_eq!(c.value(), if ON { 800_000 } else { 0 });
    // A handle made later for the same series sees the same count.
    let again = metrics::counter("t_eight_threads_total", &[]).unwrap();
    assert_eq!(again.value(), c.value());
}

#[test]
fn counters_by_label_from_threads() {
    std::thread::scope(|s| {
        for t in 0..4u64 {
            s.spawn(move || {
                let kind = if t % 2 == 0 { "scan" } else { "exec" };
                // Registering in every thread is allowed; it is the same series.
                let c = metrics::counter("t_by_label_total", &[("kind", kind)]).unwrap();
                for _ in 0..1000 {
                    c.inc_by(2);
                }
            });
        }
    });
    let scan = metrics::counter("t_by_label_total", &[("kind", "scan")]).unwrap();
    let exec = metrics::counter("t_by_label_total", &[("kind", "exec")]).unwrap();
    assert_eq!(scan.value(), if ON { 4000 } else { 0 });
    assert_eq!(exec.value(), if ON { 4000 } else { 0 });
}

#[test]
fn gauges_from_threads() {
    let g = metrics::gauge("t_gauge_threads", &[]).unwrap();
    // inc/dec from 8 threads: the CAS loop loses nothing.
    std::thread::scope(|s| {
        for t in 0..8 {
            let g = g.clone();
            s.spawn(move || {
                for _ in 0..10_000 {
                    if t % 2 == 0 {
                        g.inc();
                    } else {
                        g.add(0.5);
                    }
                }
            });
        }
    });
    assert_eq!(g.value(), if ON { 4.0 * 10_000.0 * 1.5 } else { 0.0 });
    // set from threads: the last value is one of the values set.
    let last = metrics::gauge("t_gauge_set", &[]).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let last = last.clone();
            s.spawn(move || last.set(t as f64));
        }
    });
    if ON {
        assert!((0..8).any(|t| last.value() == t as f64));
    }
    last.set(-12.5);
    last.dec();
    assert_eq!(last.value(), if ON { -13.5 } else { 0.0 });
}

#[test]
fn histogram_counts_sum_and_buckets_are_exact() {
    let h = metrics::histogram("t_hist_exact_seconds", &[("op", "x")]).unwrap();
    let observations = [
        Duration::from_micros(3),    // le 0.000005
        Duration::from_micros(5),    // le 0.000005 (bounds are inclusive)
        Duration::from_micros(700),  // le 0.001
        Duration::from_millis(3),    // le 0.005
        Duration::from_millis(3),    // le 0.005
        Duration::from_millis(200),  // le 0.25
        Duration::from_secs(2),      // le 2.5
        Duration::from_secs(190),    // +Inf only
        Duration::from_nanos(1_234), // le 0.0000025
        Duration::from_nanos(80),    // le 1e-7
    ];
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for d in observations {
                    h.record(d);
                }
            });
        }
    });
    let snap = h.snapshot();
    if !ON {
        assert_eq!((snap.count, snap.sum), (0, Duration::ZERO));
        return;
    }
    let sum: Duration = observations.iter().sum::<Duration>() * 4;
    assert_eq!(snap.count, 4 * observations.len() as u64);
    assert_eq!(snap.sum, sum);
    assert_eq!(snap.buckets.len(), HISTOGRAM_BOUNDS.len() + 1);
    let cumulative = |le: f64| snap.buckets.iter().find(|b| b.le == le).unwrap().count;
    assert_eq!(cumulative(1e-7), 4);
    assert_eq!(cumulative(0.000001), 4);
    assert_eq!(cumulative(0.0000025), 4 * 2);
    assert_eq!(cumulative(0.000005), 4 * 4);
    assert_eq!(cumulative(0.00001), 4 * 4);
    assert_eq!(cumulative(0.0005), 4 * 4);
    assert_eq!(cumulative(0.001), 4 * 5);
    assert_eq!(cumulative(0.0025), 4 * 5);
    assert_eq!(cumulative(0.005), 4 * 7);
    assert_eq!(cumulative(0.1), 4 * 7);
    assert_eq!(cumulative(0.25), 4 * 8);
    assert_eq!(cumulative(1.0), 4 * 8);
    assert_eq!(cumulative(2.5), 4 * 9);
    assert_eq!(cumulative(100.0), 4 * 9);
    assert_eq!(cumulative(f64::INFINITY), 4 * 10);
    assert!(snap.buckets.windows(2).all(|w| w[0].count <= w[1].count));
    assert_eq!(snap.mean(), Some(sum / snap.count as u32));
}

#[test]
fn histogram_timers() {
    let h = metrics::histogram("t_hist_timer_seconds", &[]).unwrap();
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(2));
    h.record_since(start);
    {
        let _t = h.start_timer();
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = h.start_timer().stop();
    assert!(took < Duration::from_secs(5));
    h.start_timer().discard();
    let s = h.snapshot();
    if ON {
        assert_eq!(s.count, 3);
        assert!(s.sum >= Duration::from_millis(4));
        // Both slept 2 ms: nothing at or below 1 ms except perhaps the stopped timer.
        let le_1ms = s.buckets.iter().find(|b| b.le == 0.001).unwrap().count;
        assert!(le_1ms <= 1, "{le_1ms}");
    } else {
        assert_eq!(s.count, 0);
    }
}

#[test]
fn refusals_name_the_problem_and_what_is_accepted() {
    let e = metrics::counter("gaxx-app-starts", &[]).unwrap_err();
    assert_eq!(
        e,
        MetricError::InvalidName {
            name: "gaxx-app-starts".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "invalid metric name \"gaxx-app-starts\": a metric name is ASCII letters, digits, '_' \
         and ':', and does not start with a digit ([a-zA-Z_:][a-zA-Z0-9_:]*)"
    );
    assert!(metrics::gauge("", &[])
        .unwrap_err()
        .to_string()
        .starts_with("invalid metric name \"\""));

    let e = metrics::counter("t_refusals_total", &[("node id", "n1")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid label name \"node id\" on metric \"t_refusals_total\": a label name is ASCII \
         letters, digits and '_', and does not start with a digit ([a-zA-Z_][a-zA-Z0-9_]*)"
    );
    let e = metrics::counter("t_refusals_total", &[("__name__", "x")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "reserved label name \"__name__\" on metric \"t_refusals_total\": label names starting \
         with \"__\" are reserved for Prometheus's own use"
    );
    let e = metrics::histogram("t_refusals_seconds", &[("le", "0.5")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "reserved label name \"le\" on histogram \"t_refusals_seconds\": a histogram's buckets \
         are exposed with the label \"le\", so it cannot be one of its own labels"
    );
    let e = metrics::gauge("t_refusals", &[("node", "a"), ("node", "b")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "duplicate label name \"node\" on metric \"t_refusals\": each label name may be given once"
    );
    // Label values are any UTF-8.
    metrics::counter("t_refusals_total", &[("node", "nœud \"7\"\n\\")]).unwrap();
    std::error::Error::source(&e); // implements Error
}

#[test]
fn kind_and_label_conflicts() {
    metrics::counter("t_conflict", &[("node", "a")]).unwrap();
    let e = metrics::histogram("t_conflict", &[("node", "a")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "metric \"t_conflict\" is already registered as a counter, so it cannot also be a \
         histogram (one name, one kind)"
    );
    let e = metrics::counter("t_conflict", &[("node", "a"), ("zone", "eu")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "metric \"t_conflict\" is already registered with label names [node], not [node, zone]: \
         every series of a metric has the same label names"
    );
    let e = metrics::counter("t_conflict", &[]).unwrap_err();
    assert!(matches!(e, MetricError::LabelNamesConflict { .. }));
    // Histogram-exposed names.
    metrics::histogram("t_rpc_seconds", &[]).unwrap();
    let e = metrics::counter("t_rpc_seconds_count", &[]).unwrap_err();
    assert!(matches!(e, MetricError::NameCollision { .. }), "{e}");
}

#[test]
fn the_gaxx_metrics_as_a_user_registers_them() {
    // Application metrics.
    metrics::describe("gaxx_app_starts", "Application starts.").unwrap();
    let app_starts = metrics::counter("gaxx_app_starts", &[]).unwrap();
    let tasks_started = metrics::counter("gaxx_tasks_started", &[("kind", "scan")]).unwrap();
    let task_duration = metrics::histogram("gaxx_task_duration", &[("kind", "scan")]).unwrap();
    let success_rate = metrics::gauge("gaxx_task_success_rate_percent", &[]).unwrap();
    // Agent metrics.
    let exec_requests = metrics::counter("gaxx_agent_exec_requests", &[("node", "n1")]).unwrap();
    let exec_duration = metrics::histogram("gaxx_agent_exec_duration", &[("node", "n1")]).unwrap();
    let exec_ok = metrics::counter("gaxx_agent_exec_successful", &[("node", "n1")]).unwrap();
    let exec_failed = metrics::counter("gaxx_agent_exec_failed", &[("node", "n1")]).unwrap();
    let output_size = metrics::gauge("gaxx_agent_exec_output_size", &[("node", "n1")]).unwrap();
    // System metrics.
    let heap = metrics::gauge("gaxx_memory_heap_bytes", &[]).unwrap();

    app_starts.inc();
    let (mut ok, mut failed) = (0u32, 0u32);
    for i in 0..10u64 {
        tasks_started.inc();
        exec_requests.inc();
        let took = Duration::from_millis(1 + i);
        task_duration.record(took);
        exec_duration.record(took / 2);
        output_size.set((i * 100) as f64);
        if i % 5 == 4 {
            exec_failed.inc();
            failed += 1;
        } else {
            exec_ok.inc();
            ok += 1;
        }
        success_rate.set(100.0 * ok as f64 / (ok + failed) as f64);
    }
    heap.set(48_000_000.0);

    let json = api_metrics();
    if !ON {
        assert_eq!(json, Value::Array(vec![]));
        return;
    }

    // jq '.[] | select(.name == "gaxx_task_success_rate_percent")'
    let rate = select_name(&json, "gaxx_task_success_rate_percent");
    assert_eq!(rate.len(), 1);
    assert_eq!(rate[0]["kind"], "gauge");
    assert_eq!(rate[0]["labels"], serde_json::json!({}));
    assert_eq!(rate[0]["value"], 80.0);

    // jq '.[] | select(.name == "gaxx_tasks_started") | .value'
    let started = select_name(&json, "gaxx_tasks_started");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["kind"], "counter");
    assert_eq!(started[0]["labels"]["kind"], "scan");
    assert_eq!(started[0]["value"], 10);

    // jq '.[] | select(.name | contains("exec"))'
    let mut exec: Vec<&str> = select_contains(&json, "exec")
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    exec.sort();
    assert_eq!(
        exec,
        [
            "gaxx_agent_exec_duration",
            "gaxx_agent_exec_failed",
            "gaxx_agent_exec_output_size",
            "gaxx_agent_exec_requests",
            "gaxx_agent_exec_successful",
        ]
    );
    for m in select_contains(&json, "exec") {
        assert_eq!(m["labels"]["node"], "n1");
    }

    // jq '.[] | select(.name | contains("task"))'
    assert_eq!(select_contains(&json, "task").len(), 3);

    // A histogram: count, sum in seconds, cumulative finite buckets.
    let d = select_name(&json, "gaxx_task_duration");
    assert_eq!(d.len(), 1);
    let d = d[0];
    assert_eq!(d["kind"], "histogram");
    assert!(d.get("value").is_none());
    assert_eq!(d["count"], 10);
    let sum = d["sum"].as_f64().unwrap();
    assert!((sum - 0.055).abs() < 1e-12, "{sum}");
    let buckets = d["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), HISTOGRAM_BOUNDS.len());
    let le = |bound: f64| {
        buckets
            .iter()
            .find(|b| b["le"].as_f64() == Some(bound))
            .unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(le(0.001), 1); // 1 ms
    assert_eq!(le(0.0025), 2); // 2 ms
    assert_eq!(le(0.005), 5); // 3, 4, 5 ms
    assert_eq!(le(0.01), 10); // 6 … 10 ms
    assert_eq!(le(100.0), 10);

    // Help text, when described.
    let starts = select_name(&json, "gaxx_app_starts");
    assert_eq!(starts[0]["help"], "Application starts.");
    assert!(rate[0].get("help").is_none());

    // The typed snapshot says the same.
    let families = metrics::snapshot();
    let f = families
        .iter()
        .find(|f| f.name == "gaxx_agent_exec_failed")
        .unwrap();
    assert_eq!(f.kind, MetricKind::Counter);
    assert_eq!(f.label_names, ["node"]);
    assert_eq!(f.series[0].value, MetricValue::Counter(2));
    assert!(families.windows(2).all(|w| w[0].name < w[1].name));
}

#[test]
fn json_shape_of_every_kind() {
    metrics::counter("t_shape_total", &[("a", "1"), ("b", "2")])
        .unwrap()
        .inc_by(7);
    metrics::gauge("t_shape_gauge", &[]).unwrap().set(f64::NAN);
    metrics::histogram("t_shape_seconds", &[]).unwrap();
    let json = api_metrics();
    if !ON {
        assert!(json.as_array().unwrap().is_empty());
        return;
    }
    let c = select_name(&json, "t_shape_total")[0];
    assert_eq!(
        c,
        &serde_json::json!({"name": "t_shape_total", "kind": "counter",
                            "labels": {"a": "1", "b": "2"}, "value": 7})
    );
    // NaN has no JSON form: null.
    assert_eq!(select_name(&json, "t_shape_gauge")[0]["value"], Value::Null);
    let h = select_name(&json, "t_shape_seconds")[0];
    assert_eq!(h["count"], 0);
    assert_eq!(h["sum"], 0.0);
    assert_eq!(h["buckets"][0], serde_json::json!({"le": 1e-7, "count": 0}));
    assert_eq!(
        h["buckets"][27],
        serde_json::json!({"le": 100.0, "count": 0})
    );
}

/// The update path's cost. Run with
/// `cargo test --release --all-features --test custom_metrics -- --ignored --nocapture`.
#[test]
#[ignore = "a timing, not a check"]
fn update_cost() {
    const N: u32 = 10_000_000;
    let c = metrics::counter("t_cost_total", &[]).unwrap();
    let g = metrics::gauge("t_cost_gauge", &[]).unwrap();
    let h = metrics::histogram("t_cost_seconds", &[]).unwrap();
    let time = |what: &str, threads: usize, f: &(dyn Fn(u32) + Sync)| {
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for i in 0..N {
                        f(i);
                    }
                });
            }
        });
        let ns = start.elapsed().as_nanos() as f64 / N as f64;
        println!("{what:<28} {threads} thread(s): {ns:6.2} ns per update per thread");
    };
    for threads in [1, 2, 4] {
        time("Counter::inc", threads, &|_| c.inc());
        time("Gauge::set", threads, &|i| g.set(i as f64));
        time("Gauge::add", threads, &|_| g.add(1.0));
        time("Histogram::record", threads, &|i| {
            h.record(Duration::from_nanos(u64::from(i) * 37 % 2_000_000_000))
        });
    }
}
