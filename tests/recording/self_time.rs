//! Self time: a phase's duration less that of the phases nested directly in it, an agent's
//! less its top-level phases, summed over the calls (`self_duration`). Checked against values
//! computed by hand from the kept executions' own phase records (which carry the same clock
//! readings as the aggregates), and against the sleeps the code makes.
#![cfg(feature = "enabled")]

use std::collections::BTreeMap;
use std::time::Duration;

use profx::{ExecutionProfile, PhaseProfile};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Each duration of a sum is converted from clock ticks on its own, the aggregate's sum in
/// one go: they may differ by a nanosecond per term.
fn close(actual: Duration, expected: Duration, terms: usize, what: &str) {
    let slack = Duration::from_nanos(2 * terms as u64 + 2);
    let diff = actual.abs_diff(expected);
    assert!(
        diff <= slack,
        "{what}: {actual:?} recorded, {expected:?} computed by hand from the records"
    );
}

/// The phases nested directly in `phases[i]`: the next ones one level deeper, up to the
/// next one at its level or above (a sync execution's records are in the order they ended;
/// sorted by start, children follow their parent).
fn children(phases: &[PhaseProfile], i: usize) -> Vec<&PhaseProfile> {
    let p = &phases[i];
    phases[i + 1..]
        .iter()
        .take_while(|c| c.depth > p.depth)
        .filter(|c| c.depth == p.depth + 1)
        .collect()
}

/// By hand, from the records: each phase's self time summed by name, the agent's self time
/// (less its top-level phases), and how many durations went into each.
fn by_hand(execs: &[ExecutionProfile]) -> (BTreeMap<String, (Duration, usize)>, Duration, usize) {
    let mut phases: BTreeMap<String, (Duration, usize)> = BTreeMap::new();
    let (mut agent, mut agent_terms) = (Duration::ZERO, 0);
    for e in execs {
        let mut sorted = e.phases.clone();
        sorted.sort_by_key(|p| (p.start_offset, std::cmp::Reverse(p.duration)));
        let mut top = Duration::ZERO;
        for (i, p) in sorted.iter().enumerate() {
            let kids = children(&sorted, i);
            let nested: Duration = kids.iter().map(|c| c.duration).sum();
            let entry = phases.entry(p.name.to_string()).or_default();
            entry.0 += p.duration.saturating_sub(nested);
            entry.1 += 1 + kids.len();
            if p.depth == 0 {
                top += p.duration;
                agent_terms += 1;
            }
        }
        agent += e.duration.saturating_sub(top);
        agent_terms += 1;
    }
    (phases, agent, agent_terms)
}

mod sync {
    use super::*;

    #[profx::phase(name = "st-leaf")]
    fn leaf() {
        std::thread::sleep(ms(2));
    }

    #[profx::phase(name = "st-middle")]
    fn middle() {
        std::thread::sleep(ms(1));
        leaf();
        leaf();
    }

    #[profx::phase(name = "st-top")]
    fn top() {
        middle();
        std::thread::sleep(ms(1));
    }

    #[profx::agent(name = "st-sync")]
    pub fn job() {
        top();
        std::thread::sleep(ms(3));
        leaf();
    }
}

#[test]
fn nested_sync_phases_have_the_self_time_their_records_give() {
    for _ in 0..5 {
        sync::job();
    }
    let report = profx::global().report();
    let a = &report.agents["st-sync"];
    let execs = profx::global().executions("st-sync");
    assert_eq!(execs.len(), 5, "every execution is kept");
    let (phases, agent, agent_terms) = by_hand(&execs);
    close(a.self_duration, agent, agent_terms, "the agent");
    for name in ["st-leaf", "st-middle", "st-top"] {
        let (expected, terms) = phases[name];
        close(a.phases[name].self_duration, expected, terms, name);
    }
    // And what the code did: st-top's own time is its 1 ms sleep (not st-middle's 5 ms), the
    // leaf's all of it, the agent's its 3 ms sleep (not the 9 ms of its phases).
    let own = |name: &str| a.phases[name].self_duration / 5;
    assert!(own("st-top") >= ms(1) && own("st-top") < ms(4), "{a:#?}");
    assert!(
        own("st-middle") >= ms(1) && own("st-middle") < ms(4),
        "{a:#?}"
    );
    assert_eq!(
        a.phases["st-leaf"].self_duration,
        a.phases["st-leaf"].total_duration
    );
    assert!(a.phases["st-leaf"].self_duration >= ms(2) * 15);
    assert!(
        a.self_duration / 5 >= ms(3) && a.self_duration / 5 < ms(8),
        "{a:#?}"
    );
    // The text report sorts the phases by it.
    let mut text = Vec::new();
    report.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let block = &text[text.find("Agent: st-sync").unwrap()..];
    let (leaf, middle) = (
        block.find("    st-leaf").unwrap(),
        block.find("    st-middle").unwrap(),
    );
    assert!(leaf < middle, "the most self time first:\n{block}");
}

mod asynchronous {
    use super::*;

    #[profx::phase(name = "st-parse")]
    fn parse() {
        std::thread::sleep(ms(2));
    }

    #[profx::phase(name = "st-fetch")]
    async fn fetch() {
        tokio::time::sleep(ms(10)).await;
        parse();
    }

    #[profx::phase(name = "st-wait")]
    async fn wait() {
        tokio::time::sleep(ms(20)).await;
    }

    #[profx::agent(name = "st-async")]
    pub async fn handler() {
        fetch().await;
        tokio::time::sleep(ms(5)).await;
    }

    /// Two phases awaited at once: together longer than the agent.
    #[profx::agent(name = "st-join")]
    pub async fn joined() {
        futures::join!(wait(), wait());
    }
}

#[test]
fn async_phases_count_the_time_they_were_awaited() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|_| tokio::spawn(asynchronous::handler()))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        asynchronous::joined().await;
    });
    let report = profx::global().report();
    let a = &report.agents["st-async"];
    let (phases, agent, agent_terms) = by_hand(&profx::global().executions("st-async"));
    close(a.self_duration, agent, agent_terms, "the async agent");
    for name in ["st-fetch", "st-parse"] {
        let (expected, terms) = phases[name];
        close(a.phases[name].self_duration, expected, terms, name);
    }
    // st-fetch waited 10 ms on its own and ran st-parse for 2: its self time is the wait,
    // counted although no thread was busy with it.
    let fetch = a.phases["st-fetch"].self_duration / 4;
    assert!(
        fetch >= ms(10) && fetch < a.phases["st-fetch"].avg_duration,
        "{a:#?}"
    );
    assert!(a.self_duration / 4 >= ms(5), "{a:#?}");

    // Phases awaited concurrently add up to more than their agent: its self time is 0, not
    // negative; each phase keeps all of its own.
    let j = &report.agents["st-join"];
    assert_eq!(j.self_duration, Duration::ZERO, "{j:#?}");
    assert_eq!(j.phases["st-wait"].calls, 2);
    assert_eq!(
        j.phases["st-wait"].self_duration,
        j.phases["st-wait"].total_duration
    );
}

#[profx::phase(name = "st-loose-inner")]
fn loose_inner() {
    std::thread::sleep(ms(1));
}

#[profx::phase(name = "st-loose-outer")]
fn loose_outer() {
    loose_inner();
    std::thread::sleep(ms(1));
    // A guard's phase nests as a function's does.
    let _g = profx::phase("st-loose-guard");
    in_guard();
}

#[profx::phase(name = "st-loose-in-guard")]
fn in_guard() {
    std::thread::sleep(ms(1));
}

#[test]
fn phases_outside_any_agent_have_self_time_too() {
    // On a thread of its own: the loose phases' nested time is per thread.
    std::thread::spawn(|| {
        for _ in 0..3 {
            loose_outer();
        }
    })
    .join()
    .unwrap();
    let report = profx::global().report();
    let total = |n: &str| report.phases[n].total_duration;
    let own = |n: &str| report.phases[n].self_duration;
    // In clock ticks the self time is exact: the totals, each converted on its own, are off by
    // a nanosecond or two.
    close(
        own("st-loose-guard"),
        total("st-loose-guard") - total("st-loose-in-guard"),
        4,
        "the guard",
    );
    close(
        own("st-loose-outer"),
        total("st-loose-outer") - total("st-loose-inner") - total("st-loose-guard"),
        4,
        "the outer phase",
    );
    assert_eq!(own("st-loose-inner"), total("st-loose-inner"));
    assert!(own("st-loose-outer") >= ms(3));
}

#[test]
fn manual_phases_have_self_time() {
    let p = profx::Profiler::new(true);
    for _ in 0..3 {
        let mut ec = p.start_execution("st-manual", "");
        ec.start_phase("outer");
        std::thread::sleep(ms(1));
        ec.start_phase("inner");
        std::thread::sleep(ms(2));
        ec.end_phase();
        ec.end_phase();
        ec.end(());
    }
    let r = p.report();
    let a = &r.agents["st-manual"];
    let (phases, agent, agent_terms) = by_hand(&p.executions("st-manual"));
    close(a.self_duration, agent, agent_terms, "the manual agent");
    for name in ["outer", "inner"] {
        let (expected, terms) = phases[name];
        close(a.phases[name].self_duration, expected, terms, name);
    }
    assert!(a.phases["outer"].self_duration >= ms(3));
    assert!(a.phases["outer"].self_duration < a.phases["inner"].self_duration);
}
