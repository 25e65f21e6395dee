//! Where the time went: the kept executions of a real program as a Chrome trace (checked
//! against the Trace Event format: the fields each event type needs, microsecond timestamps,
//! proper nesting on every track) and as folded stacks (summed back to the executions).
#![cfg(feature = "enabled")]

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::Value;

#[profx::phase(name = "trace-parse")]
fn parse(n: u64) -> u64 {
    lex(n) + std::hint::black_box(n)
}

#[profx::phase(name = "trace-lex")]
fn lex(n: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(200));
    n * 2
}

#[profx::phase(name = "trace-store")]
fn store(n: u64) -> Result<u64, String> {
    std::thread::sleep(Duration::from_micros(300));
    if n == 3 {
        Err("disk full".into())
    } else {
        Ok(n)
    }
}

#[profx::agent(name = "trace-handle", request = n)]
fn handle(n: u64) -> Result<u64, String> {
    let v = parse(n);
    if n == 2 {
        audit(n);
    }
    store(v)
}

#[profx::agent(name = "trace-audit")]
fn audit(n: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(100));
    n
}

#[profx::phase(name = "trace-wait")]
async fn wait(us: u64) {
    tokio::time::sleep(Duration::from_micros(us)).await;
}

#[profx::agent(name = "trace-task", request = id)]
async fn task(id: u64) -> u64 {
    wait(500 + id * 300).await;
    wait(200).await;
    id
}

/// Integer nanoseconds of a microsecond figure written with three decimals.
fn ns(v: &Value) -> i128 {
    let f = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!(f >= 0.0, "negative time {v}");
    (f * 1000.0).round() as i128
}

#[test]
fn the_trace_follows_the_trace_event_format_and_holds_every_kept_execution() {
    // Two named threads of sync executions (nested agents, failures), then interleaved async
    // executions on one thread (they overlap without nesting: more than one track).
    for name in ["trace-one", "trace-two"] {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(|| {
                for n in 0..4 {
                    let _ = handle(n);
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }
    std::thread::Builder::new()
        .name("trace-async".into())
        .spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(futures::future::join_all((0..3).map(task)));
        })
        .unwrap()
        .join()
        .unwrap();

    let mut report = profx::global().report();
    report
        .executions
        .retain(|agent, _| agent.starts_with("trace-"));
    let mut out = Vec::new();
    report.write_trace(&mut out).unwrap();
    let trace: Value = serde_json::from_slice(&out).expect("the trace is JSON");

    // The JSON object form: traceEvents, and the unit the viewer shows.
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    assert_eq!(trace["displayTimeUnit"], "ns");
    let origin = trace["otherData"]["origin"].as_str().unwrap();
    // RFC 3339 in UTC, to the nanosecond: 2026-12-07T10:00:00.123456789Z.
    assert!(
        origin.len() == 30 && origin.ends_with('Z') && &origin[10..11] == "T",
        "{origin}"
    );

    // Every event has what its type needs.
    let mut thread_names: HashMap<i64, String> = HashMap::new();
    let mut complete: Vec<&Value> = Vec::new();
    for e in events {
        let ph = e["ph"].as_str().expect("ph");
        assert!(e["pid"].is_u64(), "pid: {e}");
        assert!(e["tid"].is_u64(), "tid: {e}");
        match ph {
            "X" => {
                assert!(e["name"].is_string(), "{e}");
                assert!(matches!(e["cat"].as_str(), Some("agent" | "phase")), "{e}");
                ns(&e["ts"]);
                ns(&e["dur"]);
                assert!(e["args"].is_object(), "{e}");
                complete.push(e);
            }
            "M" => match e["name"].as_str() {
                Some("process_name") => assert!(e["args"]["name"].is_string()),
                Some("thread_name") => {
                    let name = e["args"]["name"].as_str().expect("thread name").to_owned();
                    thread_names.insert(e["tid"].as_i64().unwrap(), name);
                }
                Some("thread_sort_index") => assert!(e["args"]["sort_index"].is_u64()),
                other => panic!("unexpected metadata event {other:?}"),
            },
            other => panic!("unexpected phase type {other}"),
        }
    }

    // Every track is named, and properly nested: each event inside the one open before it,
    // or after its end.
    let mut tracks: BTreeMap<i64, Vec<(i128, i128, &Value)>> = BTreeMap::new();
    for e in &complete {
        let tid = e["tid"].as_i64().unwrap();
        assert!(thread_names.contains_key(&tid), "track {tid} has no name");
        let ts = ns(&e["ts"]);
        tracks
            .entry(tid)
            .or_default()
            .push((ts, ts + ns(&e["dur"]), e));
    }
    for (tid, evs) in &mut tracks {
        evs.sort_by_key(|&(s, end, _)| (s, std::cmp::Reverse(end)));
        let mut open: Vec<i128> = Vec::new();
        for &(s, end, e) in evs.iter() {
            while open.last().is_some_and(|&o| o <= s) {
                open.pop();
            }
            if let Some(&o) = open.last() {
                assert!(end <= o, "track {tid}: {e} overlaps the event around it");
            }
            open.push(end);
        }
    }

    // Every kept execution, once, with its phases, at its time in microseconds.
    let origin_ns = report
        .executions
        .values()
        .flatten()
        .map(|e| e.start)
        .min()
        .unwrap();
    let agents: Vec<&&Value> = complete.iter().filter(|e| e["cat"] == "agent").collect();
    let kept: usize = report.executions.values().map(Vec::len).sum();
    assert_eq!(kept, 8 + 2 + 3);
    assert_eq!(agents.len(), kept);
    for e in report.executions.values().flatten() {
        let ev: Vec<_> = agents.iter().filter(|a| a["args"]["id"] == e.id).collect();
        assert_eq!(ev.len(), 1, "{}", e.id);
        let ev = ev[0];
        assert_eq!(ev["name"], e.agent.as_str());
        let start = e.start.duration_since(origin_ns).unwrap().as_nanos() as i128;
        assert_eq!(ns(&ev["ts"]), start, "{}", e.id);
        assert_eq!(ns(&ev["dur"]), e.duration.as_nanos() as i128, "{}", e.id);
        assert_eq!(ev["args"]["outcome"], e.outcome.as_str());
        // No request: no `request` argument.
        assert_eq!(ev["args"]["request"].as_str().unwrap_or(""), e.request);
        assert_eq!(ev["args"]["error"].as_str(), e.error.as_deref());
        let phases: Vec<_> = complete
            .iter()
            .filter(|p| p["cat"] == "phase" && p["args"]["execution"] == e.id)
            .collect();
        assert_eq!(phases.len(), e.phases.len(), "{}", e.id);
        for p in &e.phases {
            let at = start + p.start_offset.as_nanos() as i128;
            assert!(
                phases.iter().any(|q| q["name"] == p.name.as_str()
                    && ns(&q["ts"]) == at
                    && q["args"]["depth"] == p.depth
                    && q["args"]["outcome"] == p.outcome.as_str()),
                "{}: phase {} at {at}",
                e.id,
                p.name.as_str()
            );
        }
    }

    // Sync executions are on the track of their thread, named after it; the nested agent on
    // its caller's track, inside it.
    let track_of = |id: &str| {
        let ev = agents.iter().find(|a| a["args"]["id"] == id).unwrap();
        thread_names[&ev["tid"].as_i64().unwrap()].clone()
    };
    for e in &report.executions["trace-handle"] {
        let name = track_of(&e.id);
        assert!(
            name.starts_with("trace-one #") || name.starts_with("trace-two #"),
            "{name}"
        );
        assert_eq!(
            name,
            format!("{} #{}", e.thread_name.as_deref().unwrap(), e.thread_id)
        );
    }
    let audit = &report.executions["trace-audit"][0];
    let caller = audit.parent.as_deref().unwrap();
    let tid = |id: &str| {
        agents.iter().find(|a| a["args"]["id"] == id).unwrap()["tid"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(tid(&audit.id), tid(caller));
    // The failed store is a failure in its phase's args, and in its execution's.
    assert!(complete
        .iter()
        .any(|p| p["name"] == "trace-store" && p["args"]["outcome"] == "failure"));
    // The interleaved async executions need more than one track, all named after the thread.
    let async_tracks: std::collections::BTreeSet<i64> = report.executions["trace-task"]
        .iter()
        .map(|e| tid(&e.id))
        .collect();
    assert!(async_tracks.len() > 1, "{async_tracks:?}");
    for t in &async_tracks {
        assert!(
            thread_names[t].starts_with("trace-async #"),
            "{}",
            thread_names[t]
        );
    }

    // The folded stacks add up to the executions, agent by agent (each line rounded to a
    // microsecond).
    let mut folded = Vec::new();
    report.write_folded(&mut folded).unwrap();
    let folded = String::from_utf8(folded).unwrap();
    let mut per_agent: BTreeMap<&str, (i128, usize)> = BTreeMap::new();
    for line in folded.lines() {
        let (stack, n) = line.rsplit_once(' ').expect("STACK COUNT");
        let n: i128 = n.parse().expect("a count");
        assert!(n > 0, "{line}");
        let agent = stack.split(';').next().unwrap();
        let e = per_agent.entry(agent).or_default();
        e.0 += n;
        e.1 += 1;
    }
    // Nested agents are their own stacks; their time is also in their caller's.
    for (agent, execs) in &report.executions {
        let total: i128 = execs.iter().map(|e| e.duration.as_nanos() as i128).sum();
        let (us, lines) = per_agent[agent.as_str()];
        assert!(
            (us * 1000 - total).abs() <= 500 * lines as i128 + 500,
            "{agent}: {us} us over {lines} lines vs {total} ns"
        );
    }
    assert!(
        folded.contains("trace-handle;trace-parse;trace-lex "),
        "{folded}"
    );
}
