//! Tests of the Prometheus exposition: escaping, number formats, cumulative histograms, names
//! and their collisions, custom counters, deterministic output.

use super::*;

fn format_f64(v: f64) -> String {
    let mut s = String::new();
    v.write_to(&mut s);
    s
}

fn escape_label(v: &str) -> String {
    let mut s = String::new();
    escape_label_into(&mut s, v);
    s
}

fn key(agent: &str, phase: Option<&str>, per_bound: &[(usize, u64)], inf: u64) -> KeyHistogram {
    let mut buckets = vec![0u64; HISTOGRAM_BOUNDS.len()];
    for &(i, n) in per_bound {
        for b in &mut buckets[i..] {
            *b += n;
        }
    }
    let count = buckets.last().copied().unwrap_or(0) + inf;
    KeyHistogram {
        agent: agent.into(),
        phase: phase.map(Into::into),
        count,
        failures: 1,
        cancelled: 0,
        sum: Duration::from_millis(1500),
        busy: Duration::from_millis(500),
        buckets,
    }
}

#[test]
fn escaping() {
    assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    assert_eq!(escape_label("plain é"), "plain é");
    assert_eq!(escape_help("x \"q\" \\ \ny"), "x \"q\" \\\\ \\ny");
}

#[test]
fn floats() {
    assert_eq!(format_f64(f64::NAN), "NaN");
    assert_eq!(format_f64(f64::INFINITY), "+Inf");
    assert_eq!(format_f64(f64::NEG_INFINITY), "-Inf");
    assert_eq!(format_f64(0.0), "0");
    assert_eq!(format_f64(1.0), "1");
    assert_eq!(format_f64(0.000005), "0.000005");
    assert_eq!(format_f64(2.5), "2.5");
    assert_eq!(format_f64(1e-9), "1e-9");
    assert_eq!(format_f64(1e300), "1e300");
}

#[test]
fn histograms_are_cumulative_and_count_is_the_inf_bucket() {
    let mut e = Encoder::default();
    profx_families(&mut e, &[key("a\"b", None, &[(0, 2), (3, 1)], 4)]);
    let out = e.out;
    assert!(out.contains("# TYPE profx_agent_duration_seconds histogram\n"));
    let bucket = |le: &str| {
        let prefix =
            format!("profx_agent_duration_seconds_bucket{{agent=\"a\\\"b\",le=\"{le}\"}} ");
        let line = out.lines().find(|l| l.starts_with(&prefix)).unwrap();
        line[prefix.len()..].parse::<u64>().unwrap()
    };
    assert_eq!(bucket("1e-7"), 2);
    assert_eq!(bucket("5e-7"), 2);
    assert_eq!(bucket("0.000001"), 3);
    assert_eq!(bucket("100"), 3);
    assert_eq!(bucket("+Inf"), 7);
    assert!(out.contains("profx_agent_duration_seconds_count{agent=\"a\\\"b\"} 7\n"));
    assert!(out.contains("profx_agent_duration_seconds_sum{agent=\"a\\\"b\"} 1.5\n"));
    assert!(out.contains("profx_agent_executions_total{agent=\"a\\\"b\"} 7\n"));
    assert!(out.contains("profx_agent_success_rate{agent=\"a\\\"b\"} 0.8571428571428571\n"));
    let les = out.matches("profx_agent_duration_seconds_bucket{").count();
    assert_eq!(les, HISTOGRAM_BOUNDS.len() + 1);
}

#[test]
fn names_and_collisions() {
    let mut e = Encoder::default();
    e.counters("x_total", "first", [(vec![], 1)]);
    e.counters("x_total", "second", [(vec![], 2)]);
    e.gauges("bad-name", "no", [(vec![], 1.0)]);
    e.gauges("empty", "no series", []);
    e.histograms("h", "h", [(vec![], &[0u64; 22][..], Duration::ZERO, 0)]);
    e.gauges("h_count", "taken by the histogram", [(vec![], 1.0)]);
    assert_eq!(e.out.matches("# TYPE").count(), 2, "{}", e.out);
    assert!(e.out.contains("x_total 1\n") && !e.out.contains("x_total 2"));
    assert!(!e.out.contains("bad-name") && !e.out.contains("empty"));
    assert!(!e.out.contains("taken"));
}

#[test]
fn custom_counters_get_total_and_default_help() {
    let fam = |name: &str, kind, value, help: Option<&str>| metrics::MetricFamily {
        name: name.into(),
        kind,
        help: help.map(Into::into),
        label_names: vec!["k".into()],
        series: vec![metrics::MetricSeries {
            labels: vec![("k".into(), "v\n".into())],
            value,
        }],
    };
    let mut e = Encoder::default();
    custom_families(
        &mut e,
        &[
            fam(
                "app_starts",
                MetricKind::Counter,
                MetricValue::Counter(3),
                None,
            ),
            fam(
                "done_total",
                MetricKind::Counter,
                MetricValue::Counter(4),
                Some("Done.\nReally \\ done."),
            ),
            fam(
                "heap_bytes",
                MetricKind::Gauge,
                MetricValue::Gauge(1.5),
                None,
            ),
        ],
    );
    let expected = "# HELP app_starts_total Custom counter app_starts.\n\
                    # TYPE app_starts_total counter\n\
                    app_starts_total{k=\"v\\n\"} 3\n\
                    # HELP done_total Done.\\nReally \\\\ done.\n\
                    # TYPE done_total counter\n\
                    done_total{k=\"v\\n\"} 4\n\
                    # HELP heap_bytes Custom gauge heap_bytes.\n\
                    # TYPE heap_bytes gauge\n\
                    heap_bytes{k=\"v\\n\"} 1.5\n";
    assert_eq!(e.out, expected);
}

#[test]
fn output_is_deterministic() {
    let keys = [
        key("a", None, &[(5, 1)], 0),
        key("a", Some("p"), &[(5, 1)], 0),
        key("", Some("loose"), &[(1, 1)], 0),
    ];
    let render = || {
        let mut e = Encoder::default();
        profx_families(&mut e, &keys);
        e.out
    };
    let first = render();
    assert_eq!(first, render());
    assert!(first.contains("profx_phase_calls_total{agent=\"\",phase=\"loose\"} 1\n"));
    assert!(first.contains("profx_phase_calls_total{agent=\"a\",phase=\"p\"} 1\n"));
}
