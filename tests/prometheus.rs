//! The Prometheus exposition: known executions and custom metrics rendered, checked by
//! `promtool check metrics` (which must be installed: Debian package `prometheus`), and parsed
//! back with the values that were recorded.

#![cfg(feature = "enabled")]

use std::collections::{BTreeMap, BTreeSet};

#[path = "common/promtool.rs"]
mod promtool;
use std::time::{Duration, Instant};

use profx::{metrics, Profiler};

/// One sample line: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parser of the text format 0.0.4: `# HELP`/`# TYPE` lines and samples (no timestamps).
/// Returns the samples and, per family, its type; panics on anything malformed.
fn parse(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    let mut helps = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').expect("HELP name text");
            assert!(helps.insert(name.to_owned()), "HELP twice for {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(helps.contains(name), "TYPE before HELP for {name}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice for {name}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let name_end = line.find(['{', ' ']).expect("a name");
        let name = &line[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name {name}"
        );
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            let mut end = None;
            loop {
                // label name
                let mut key = String::new();
                for (i, c) in chars.by_ref() {
                    if c == '}' {
                        end = Some(i + 1);
                        break;
                    }
                    if c == '=' {
                        break;
                    }
                    if c != ',' {
                        key.push(c);
                    }
                }
                if end.is_some() {
                    break;
                }
                assert_eq!(chars.next().map(|c| c.1), Some('"'), "{line}");
                let mut value = String::new();
                loop {
                    let (_, c) = chars.next().expect("an unterminated label value");
                    match c {
                        '"' => break,
                        '\\' => match chars.next().expect("an escape").1 {
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            'n' => value.push('\n'),
                            e => panic!("bad escape \\{e} in {line}"),
                        },
                        '\n' => panic!("raw newline"),
                        c => value.push(c),
                    }
                }
                assert!(labels.insert(key, value).is_none(), "label twice: {line}");
            }
            rest = &r[end.unwrap()..];
        }
        let value = rest.strip_prefix(' ').expect("a space before the value");
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|b| types.get(*b).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {line}");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    (samples, types)
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> &'a Sample {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .unwrap_or_else(|| panic!("no {name}{labels:?}"))
}

const WEIRD: &str = "we\"ird\\agent\nname";

#[test]
fn exposition_passes_promtool_and_parses_back_to_what_was_recorded() {
    let p = Profiler::new(true);
    // "loader": 5 executions of ~2 ms, 2 failing, each with a "fetch" phase.
    let mut loader_total = Duration::ZERO;
    for i in 0..5 {
        let t = Instant::now();
        let mut ex = p.start_execution("loader", "batch");
        ex.start_phase("fetch");
        std::thread::sleep(Duration::from_millis(2));
        ex.end_phase();
        if i % 2 == 1 {
            ex.end(Err::<(), _>("boom"));
        } else {
            ex.end(());
        }
        loader_total += t.elapsed();
    }
    let mut ex = p.start_execution(WEIRD, "");
    ex.start_phase("step \"1\"");
    ex.end_phase();
    ex.end(());

    let jobs = metrics::counter("prom_test_jobs", &[("queue", "a\"b\\c\nd")]).unwrap();
    jobs.inc_by(7);
    metrics::describe("prom_test_jobs", "Jobs taken.\nFrom every \\ queue.").unwrap();
    metrics::gauge("prom_test_queue_bytes", &[])
        .unwrap()
        .set(4096.0);
    let wait = metrics::histogram("prom_test_wait_seconds", &[("queue", "a")]).unwrap();
    wait.record(Duration::from_millis(3));
    wait.record(Duration::from_secs(2));

    let text = profx::prometheus::render_for(&p);
    println!("{text}");

    // (1) promtool: valid and lint-clean.
    if promtool::present() {
        promtool::assert_clean(&text);
    }

    // (2) parsed back.
    let (samples, types) = parse(&text);
    for (name, kind) in [
        ("profx_agent_executions_total", "counter"),
        ("profx_agent_failures_total", "counter"),
        ("profx_agent_duration_seconds", "histogram"),
        ("profx_agent_success_rate", "gauge"),
        ("profx_phase_calls_total", "counter"),
        ("profx_phase_failures_total", "counter"),
        ("profx_phase_duration_seconds", "histogram"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_virtual_memory_bytes", "gauge"),
        ("process_cpu_seconds_total", "counter"),
        ("process_start_time_seconds", "gauge"),
        ("process_threads", "gauge"),
        ("process_open_fds", "gauge"),
        ("profx_uptime_seconds", "gauge"),
        ("prom_test_jobs_total", "counter"),
        ("prom_test_queue_bytes", "gauge"),
        ("prom_test_wait_seconds", "histogram"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
    }

    let loader = [("agent", "loader")];
    let v = |name: &str, labels: &[(&str, &str)]| find(&samples, name, labels).value;
    assert_eq!(v("profx_agent_executions_total", &loader), 5.0);
    assert_eq!(v("profx_agent_failures_total", &loader), 2.0);
    assert_eq!(v("profx_agent_success_rate", &loader), 0.6);
    assert_eq!(v("profx_agent_duration_seconds_count", &loader), 5.0);
    let sum = v("profx_agent_duration_seconds_sum", &loader);
    // The recorded total: the kept executions' durations (all 5 are kept).
    let kept = p.executions("loader");
    assert_eq!(kept.len(), 5);
    let want: f64 = kept.iter().map(|e| e.duration.as_secs_f64()).sum();
    assert!(
        (sum - want).abs() <= want * 0.01,
        "sum {sum} vs recorded {want}"
    );
    assert!(
        sum <= loader_total.as_secs_f64(),
        "more than measured around the executions"
    );
    assert!(sum >= 0.010, "five sleeps of 2 ms: {sum}");
    // Not async: busy throughout, so its busy time is its duration's sum.
    assert_eq!(v("profx_agent_busy_seconds_total", &loader), sum);
    assert_eq!(types["profx_agent_busy_seconds_total"], "counter");
    // Buckets: cumulative, the +Inf one is the count, and every ~2 ms execution is at or below
    // 0.01 s and above 0.001 s.
    let buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| {
            s.name == "profx_agent_duration_seconds_bucket" && s.labels["agent"] == "loader"
        })
        .map(|s| (s.labels["le"].parse::<f64>().unwrap(), s.value))
        .collect();
    assert_eq!(buckets.len(), metrics::HISTOGRAM_BOUNDS.len() + 1);
    assert!(buckets
        .windows(2)
        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 5.0));
    let at = |le: f64| buckets.iter().find(|b| b.0 == le).unwrap().1;
    assert_eq!(at(0.001), 0.0);
    assert_eq!(at(0.1), 5.0);

    let fetch = [("agent", "loader"), ("phase", "fetch")];
    let recorded = p.agent_metrics("loader").unwrap().phases["fetch"].clone();
    assert_eq!(v("profx_phase_calls_total", &fetch), 5.0);
    assert_eq!(
        v("profx_phase_failures_total", &fetch),
        recorded.failures as f64
    );
    assert_eq!(v("profx_phase_duration_seconds_count", &fetch), 5.0);
    let sum = v("profx_phase_duration_seconds_sum", &fetch);
    let want = recorded.total_duration.as_secs_f64();
    assert!((sum - want).abs() <= want * 0.01, "{sum} vs {want}");
    assert_eq!(v("profx_phase_busy_seconds_total", &fetch), sum);

    // The label value with a quote, a backslash and a newline comes back intact.
    let weird = [("agent", WEIRD)];
    assert_eq!(v("profx_agent_executions_total", &weird), 1.0);
    assert_eq!(v("profx_agent_failures_total", &weird), 0.0);
    assert_eq!(v("profx_agent_success_rate", &weird), 1.0);
    assert_eq!(
        v(
            "profx_phase_calls_total",
            &[("agent", WEIRD), ("phase", "step \"1\"")]
        ),
        1.0
    );

    // Custom metrics.
    assert_eq!(v("prom_test_jobs_total", &[("queue", "a\"b\\c\nd")]), 7.0);
    assert!(text.contains("# HELP prom_test_jobs_total Jobs taken.\\nFrom every \\\\ queue.\n"));
    assert_eq!(v("prom_test_queue_bytes", &[]), 4096.0);
    let q = [("queue", "a")];
    assert_eq!(v("prom_test_wait_seconds_count", &q), 2.0);
    assert!((v("prom_test_wait_seconds_sum", &q) - 2.003).abs() < 1e-9);
    assert_eq!(
        v(
            "prom_test_wait_seconds_bucket",
            &[("queue", "a"), ("le", "0.005")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "prom_test_wait_seconds_bucket",
            &[("queue", "a"), ("le", "+Inf")]
        ),
        2.0
    );

    // Process metrics are plausible.
    assert!(v("process_resident_memory_bytes", &[]) > 0.0);
    assert!(v("process_threads", &[]) >= 1.0);
    assert!(v("process_open_fds", &[]) >= 3.0);
    let start = v("process_start_time_seconds", &[]);
    assert!(start > 1.0e9, "{start}");
    assert!(v("profx_uptime_seconds", &[]) >= 0.0);
}

#[test]
fn rendering_twice_gives_the_same_families_in_the_same_order() {
    let p = Profiler::new(true);
    for a in ["b_agent", "a_agent"] {
        let mut ex = p.start_execution(a, "");
        ex.start_phase("z");
        ex.end_phase();
        ex.start_phase("y");
        ex.end_phase();
        ex.end(());
    }
    let strip = |t: String| -> Vec<String> {
        // Process figures move between renders, and the other test registers custom metrics
        // meanwhile: compare the agents' and phases' families.
        t.lines()
            .filter(|l| {
                l.trim_start_matches("# HELP ")
                    .trim_start_matches("# TYPE ")
                    .starts_with("profx_")
            })
            .filter(|l| !l.starts_with("profx_uptime") && !l.starts_with("profx_heap"))
            .map(str::to_owned)
            .collect()
    };
    let a = strip(profx::prometheus::render_for(&p));
    let b = strip(profx::prometheus::render_for(&p));
    assert_eq!(a, b);
    let order: Vec<&String> = a
        .iter()
        .filter(|l| l.starts_with("profx_phase_calls_total"))
        .collect();
    assert_eq!(
        order,
        [
            "profx_phase_calls_total{agent=\"a_agent\",phase=\"y\"} 1",
            "profx_phase_calls_total{agent=\"a_agent\",phase=\"z\"} 1",
            "profx_phase_calls_total{agent=\"b_agent\",phase=\"y\"} 1",
            "profx_phase_calls_total{agent=\"b_agent\",phase=\"z\"} 1",
        ]
    );
}
