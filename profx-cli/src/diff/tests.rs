//! Tests of the gate of `profx diff`.

use super::table::{summary_line, MARKER};
use super::*;
use std::collections::BTreeMap;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn th(s: &str) -> Threshold {
    s.parse().unwrap()
}

fn agent(avg: u64, p95: u64, p99: u64, ok: u64, total: u64) -> AggregateMetrics {
    let mut m = AggregateMetrics {
        total_executions: total,
        success_count: ok,
        failure_count: total - ok,
        avg_duration: ms(avg),
        min_duration: ms(avg / 2),
        max_duration: ms(p99),
        ..AggregateMetrics::default()
    };
    m.percentiles.p95 = ms(p95);
    m.percentiles.p99 = ms(p99);
    m
}

fn phase(avg: u64, calls: u64, failures: u64) -> PhaseMetrics {
    let mut p = PhaseMetrics {
        calls,
        failures,
        avg_duration: ms(avg),
        ..PhaseMetrics::default()
    };
    p.percentiles.p95 = ms(avg * 2);
    p.percentiles.p99 = ms(avg * 3);
    p
}

fn report(agents: Vec<(&str, AggregateMetrics)>) -> Report {
    let agents: BTreeMap<String, AggregateMetrics> = agents
        .into_iter()
        .map(|(n, a)| (n.to_string(), a))
        .collect();
    Report::from_parts(agents, BTreeMap::new(), BTreeMap::new())
}

#[test]
fn identical_reports_have_no_change() {
    let mut a = agent(40, 80, 120, 49, 50);
    a.phases.insert("parse".into(), phase(10, 50, 1));
    let r = report(vec![("locator", a)]);
    let d = diff(&r, &r, &Gate::new(th("10%")));
    assert_eq!(d.regressions, 0);
    assert_eq!(d.rows.len(), 2);
    for row in &d.rows {
        let Change::Compared(c) = &row.change else {
            panic!("{row:?}")
        };
        assert_eq!(c.avg.change_percent, Some(0.0));
        assert_eq!(c.success_rate.as_ref().unwrap().change_points, 0.0);
    }
}

#[test]
fn a_slower_agent_and_phase_are_regressions_with_their_metrics_named() {
    let mut a = agent(40, 80, 120, 50, 50);
    a.phases.insert("parse".into(), phase(10, 50, 0));
    a.phases.insert("search".into(), phase(10, 50, 0));
    let mut b = agent(52, 84, 120, 50, 50); // avg +30%, p95 +5%
    b.phases.insert("parse".into(), phase(10, 50, 10)); // 20 points lower success
    b.phases.insert("search".into(), phase(10, 50, 0));
    let d = diff(
        &report(vec![("x", a)]),
        &report(vec![("x", b)]),
        &Gate::new(th("10%")),
    );
    assert_eq!(d.regressions, 2);
    let Change::Compared(c) = &d.rows[0].change else {
        panic!()
    };
    assert_eq!(c.regressed(), vec!["avg"]);
    assert_eq!(c.avg.change_percent, Some(30.0));
    assert_eq!(c.avg.new_ns - c.avg.base_ns, 12_000_000);
    let Change::Compared(p) = &d.rows[1].change else {
        panic!()
    };
    assert_eq!(d.rows[1].phase.as_deref(), Some("parse"));
    assert_eq!(p.regressed(), vec!["success rate"]);
    assert!((p.success_rate.as_ref().unwrap().change_points + 20.0).abs() < 1e-9);
    assert!(!d.rows[2].is_regression());
}

#[test]
fn agents_and_phases_in_one_report_only_are_added_or_removed() {
    let mut a = agent(40, 80, 120, 50, 50);
    a.phases.insert("old".into(), phase(10, 50, 0));
    let mut b = agent(40, 80, 120, 50, 50);
    b.phases.insert("new".into(), phase(10, 50, 0));
    let base = report(vec![("kept", a), ("gone", agent(1, 1, 1, 1, 1))]);
    let new = report(vec![("kept", b), ("fresh", agent(1, 1, 1, 1, 1))]);
    let d = diff(&base, &new, &Gate::new(th("10%")));
    let got: Vec<(&str, Option<&str>, &Change)> = d
        .rows
        .iter()
        .map(|r| (r.agent.as_str(), r.phase.as_deref(), &r.change))
        .collect();
    assert_eq!(got.len(), 5);
    assert_eq!((got[0].0, got[0].2), ("fresh", &Change::Added));
    assert_eq!((got[1].0, got[1].2), ("gone", &Change::Removed));
    assert_eq!(got[2].0, "kept");
    assert_eq!((got[3].1, got[3].2), (Some("new"), &Change::Added));
    assert_eq!((got[4].1, got[4].2), (Some("old"), &Change::Removed));
    assert_eq!(d.regressions, 0);
}

#[test]
fn zero_base_has_no_percentage_and_is_not_a_regression() {
    let a = agent(0, 0, 0, 0, 0);
    let b = agent(5, 5, 5, 1, 1);
    let d = diff(
        &report(vec![("x", a)]),
        &report(vec![("x", b)]),
        &Gate::new(th("10%")),
    );
    let Change::Compared(c) = &d.rows[0].change else {
        panic!()
    };
    assert_eq!(c.avg.change_percent, None);
    assert_eq!(c.success_rate, None, "no calls in the base");
    assert_eq!(d.regressions, 0);
}

#[test]
fn the_table_is_aligned_and_marks_regressions() {
    let base = report(vec![
        ("alpha", agent(40, 80, 120, 50, 50)),
        ("b", agent(10, 10, 10, 5, 5)),
    ]);
    let new = report(vec![
        ("alpha", agent(52, 80, 120, 50, 50)),
        ("b", agent(10, 10, 10, 5, 5)),
    ]);
    let g = Gate::new(th("10%"));
    let out = render(&diff(&base, &new, &g), &g, "base.json", "new.json");
    let lines: Vec<&str> = out.lines().collect();
    let table: Vec<&str> = lines[4..7].to_vec();
    assert!(table[0].contains("AGENT / PHASE"), "{out}");
    assert!(table[1].starts_with(MARKER), "{out}");
    let twelve = HumanDuration(ms(12));
    assert!(table[1].contains(&format!("+30.0% (+{twelve})")), "{out}");
    // No kept executions: a regression no test could confirm, which it says.
    assert!(
        table[1].ends_with("REGRESSION: avg (untested: 0 and 0 samples kept, 8 needed)"),
        "{out}"
    );
    assert!(table[2].contains("+0.0% (+0ns)"), "{out}");
    assert_eq!(table[0].find("AVG"), table[1].find("+30.0%"), "{out}");
    assert_eq!(table[0].find("P95"), table[1].find("+0.0%"), "{out}");
    assert_eq!(lines.last(), Some(&"1 regression above 10%"));
    assert_eq!(summary_line(0, g.threshold), "no regression above 10%");
    assert_eq!(summary_line(3, g.threshold), "3 regressions above 10%");
}

/// An agent measured over `values` (nanoseconds), each an execution kept in the report,
/// with one phase `step` lasting 90% of it.
fn measured(values: &[u64]) -> (AggregateMetrics, Vec<profx_report::ExecutionProfile>) {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).max(1) - 1];
    let avg = values.iter().sum::<u64>() / values.len() as u64;
    let ns = Duration::from_nanos;
    let mut a = AggregateMetrics {
        total_executions: values.len() as u64,
        success_count: values.len() as u64,
        avg_duration: ns(avg),
        ..AggregateMetrics::default()
    };
    a.percentiles.p95 = ns(rank(0.95));
    a.percentiles.p99 = ns(rank(0.99));
    let mut step = PhaseMetrics {
        calls: values.len() as u64,
        avg_duration: ns(avg * 9 / 10),
        ..PhaseMetrics::default()
    };
    step.percentiles.p95 = ns(rank(0.95) * 9 / 10);
    step.percentiles.p99 = ns(rank(0.99) * 9 / 10);
    a.phases.insert("step".into(), step);
    let execs = values
        .iter()
        .enumerate()
        .map(|(i, &v)| profx_report::ExecutionProfile {
            id: format!("x-{i}"),
            agent: "x".into(),
            request: String::new(),
            start: std::time::SystemTime::UNIX_EPOCH,
            duration: ns(v),
            polls: 1,
            busy: ns(v),
            memory_allocated: 0,
            allocations: 0,
            thread_count: 1,
            success: true,
            outcome: profx_report::Outcome::Success,
            error: None,
            phases: vec![profx_report::PhaseProfile {
                name: "step".into(),
                start_offset: Duration::ZERO,
                duration: ns(v * 9 / 10),
                depth: 0,
                outcome: profx_report::Outcome::Success,
            }],
            phases_dropped: 0,
            parent: None,
            traceparent: None,
            thread_id: 0,
            thread_name: None,
        })
        .collect();
    (a, execs)
}

fn measured_report(values: &[u64]) -> Report {
    let (a, execs) = measured(values);
    Report::from_parts(
        [("x".to_string(), a)].into(),
        BTreeMap::new(),
        [("x".to_string(), execs)].into(),
    )
}

/// `n` values around `center` (nanoseconds), spread by `spread`, from `seed` (xorshift),
/// with every `outlier_every`-th value `outlier` times larger.
fn noisy(seed: u64, n: usize, center: f64, spread: f64, outliers: (usize, f64)) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let v = center + spread * (u - 0.5);
            let v = if outliers.0 > 0 && i % outliers.0 == 0 {
                v * outliers.1
            } else {
                v
            };
            v as u64
        })
        .collect()
}

#[test]
fn noise_that_moves_the_mean_past_the_threshold_is_not_a_regression() {
    // The same 100us workload twice; the second run was preempted a few times (one call
    // in 50 took 7x): its mean is 12% higher, but 98% of its calls are as fast as before.
    let base = measured_report(&noisy(1, 400, 100_000.0, 20_000.0, (0, 1.0)));
    let new = measured_report(&noisy(2, 400, 100_000.0, 20_000.0, (50, 7.0)));
    let g = Gate::new(th("10%"));
    let d = diff(&base, &new, &g);
    let Change::Compared(c) = &d.rows[0].change else {
        panic!()
    };
    assert!(c.avg.change_percent.unwrap() > 10.0, "{c:?}");
    assert_eq!(d.regressions, 0, "{d:#?}");
    let l = c.location.as_ref().expect("tested");
    assert_eq!(l.samples, [400, 400]);
    assert!(l.shift_percent.abs() < 3.0 && !l.slower, "{l:?}");
    assert!(
        c.avg
            .note
            .as_ref()
            .unwrap()
            .starts_with("the typical call did not slow down (median "),
        "{c:?}"
    );
    let out = render(&d, &g, "a", "b");
    assert!(
        out.contains("ignored: avg the typical call did not slow down"),
        "{out}"
    );
    // A tail that moved on its own (one call in 20 took 3x): ignored by default, a
    // regression of P99 with --tails, whose intervals no longer overlap.
    let slow_tail = measured_report(&noisy(2, 400, 100_000.0, 20_000.0, (20, 3.0)));
    let d = diff(&base, &slow_tail, &g);
    assert_eq!(d.regressions, 0, "{d:#?}");
    let tails = diff(&base, &slow_tail, &Gate { tails: true, ..g });
    let Change::Compared(c) = &tails.rows[0].change else {
        panic!()
    };
    assert!(
        c.p99.regression && c.p99.tail.as_ref().unwrap().significant,
        "{c:?}"
    );
    assert!(!c.avg.regression && !c.p95.regression, "{c:?}");
}

#[test]
fn a_shift_of_every_call_is_a_regression_and_says_on_what() {
    let base = measured_report(&noisy(3, 200, 100_000.0, 20_000.0, (0, 1.0)));
    let new = measured_report(&noisy(4, 200, 130_000.0, 26_000.0, (0, 1.0)));
    let d = diff(&base, &new, &Gate::new(th("10%")));
    // The agent and its phase.
    assert_eq!(d.regressions, 2, "{d:#?}");
    let Change::Compared(c) = &d.rows[0].change else {
        panic!()
    };
    assert_eq!(c.regressed(), vec!["avg", "p95", "p99"]);
    let l = c.location.as_ref().unwrap();
    assert!(
        l.slower && l.p_value < 1e-9 && l.shift_percent > 25.0,
        "{l:?}"
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["rows"][0]["location"]["samples"][0], 200);
    assert_eq!(json["min_delta_ns"], 1_000);
}

#[test]
fn small_or_rare_changes_are_ignored_with_the_reason() {
    // +24ns on 100ns: above 10%, below the minimum delta.
    let tiny = |v: u64| measured_report(&[v; 50]);
    let d = diff(&tiny(100), &tiny(124), &Gate::new(th("10%")));
    assert_eq!(d.regressions, 0);
    let Change::Compared(c) = &d.rows[0].change else {
        panic!()
    };
    assert_eq!(
        c.avg.note.as_deref(),
        Some("+24ns is below the minimum delta 1µs")
    );
    // With a smaller minimum delta it is one (and every call is slower: significant).
    let g = Gate {
        min_delta: Duration::from_nanos(10),
        ..Gate::new(th("10%"))
    };
    assert_eq!(diff(&tiny(100), &tiny(124), &g).regressions, 2);
    // Ten calls a side: too few, whatever the change.
    let few = |v: u64| measured_report(&[v; 10]);
    let d = diff(&few(100_000), &few(200_000), &Gate::new(th("10%")));
    assert_eq!(d.regressions, 0);
    let Change::Compared(c) = &d.rows[0].change else {
        panic!()
    };
    assert_eq!(
        c.avg.note.as_deref(),
        Some("too few calls (10 and 10, 30 needed)")
    );
}

#[test]
fn a_phase_that_barely_moves_its_agent_is_ignored() {
    // A 1ms agent whose 5us phase became 10us: +100%, but 0.5% of its agent.
    let us = Duration::from_micros;
    let with_phase = |phase_us: u64| {
        let mut a = agent(1, 1, 1, 50, 50);
        let mut p = PhaseMetrics {
            calls: 50,
            avg_duration: us(phase_us),
            ..PhaseMetrics::default()
        };
        p.percentiles.p95 = us(phase_us);
        p.percentiles.p99 = us(phase_us);
        a.phases.insert("tiny".into(), p);
        report(vec![("x", a)])
    };
    let g = Gate::new(th("10%"));
    let d = diff(&with_phase(5), &with_phase(10), &g);
    assert_eq!(d.regressions, 0, "{d:#?}");
    let Change::Compared(c) = &d.rows[1].change else {
        panic!()
    };
    assert_eq!(
        c.avg.note.as_deref(),
        Some("adds 5µs to its agent's 1ms (0.50%, under the minimum share 2.00%)")
    );
    // Without the minimum share it is one (untested: no kept executions).
    let d = diff(
        &with_phase(5),
        &with_phase(10),
        &Gate {
            min_share: 0.0,
            ..g
        },
    );
    assert_eq!(d.regressions, 1);
}

/// An agent whose kept executions last `agent` (nanoseconds each), each with one call of a
/// phase `wait` lasting `phase` (its figures from those samples).
fn with_waits(agent: &[u64], phase: &[u64]) -> Report {
    let (mut a, mut execs) = measured(agent);
    let (p, _) = measured(phase);
    a.phases.clear();
    a.phases.insert(
        "wait".into(),
        PhaseMetrics {
            calls: p.total_executions,
            avg_duration: p.avg_duration,
            percentiles: p.percentiles,
            ..PhaseMetrics::default()
        },
    );
    for (e, &w) in execs.iter_mut().zip(phase) {
        e.phases[0].name = "wait".into();
        e.phases[0].duration = Duration::from_nanos(w);
    }
    Report::from_parts(
        [("x".to_string(), a)].into(),
        BTreeMap::new(),
        [("x".to_string(), execs)].into(),
    )
}

#[test]
fn a_phase_whose_agent_did_not_slow_down_is_ignored() {
    // A phase waiting on the scheduler took 4x longer (60us more, 3% of its 2ms agent),
    // but the agent's executions lasted as long as before: ignored, with the agent's medians.
    let agent = noisy(7, 200, 2_000_000.0, 40_000.0, (0, 1.0));
    let agent_again = noisy(8, 200, 2_000_000.0, 40_000.0, (0, 1.0));
    let base = with_waits(&agent, &noisy(9, 200, 20_000.0, 4_000.0, (0, 1.0)));
    let new = with_waits(&agent_again, &noisy(10, 200, 80_000.0, 16_000.0, (0, 1.0)));
    let d = diff(&base, &new, &Gate::new(th("10%")));
    assert_eq!(d.regressions, 0, "{d:#?}");
    let Change::Compared(c) = &d.rows[1].change else {
        panic!()
    };
    assert!(
        c.location.as_ref().unwrap().slower,
        "the phase itself did slow down"
    );
    let note = c.avg.note.as_deref().unwrap();
    assert!(
        note.starts_with("its typical call adds 60")
            && note.contains("but its agent's typical duration went"),
        "{note}"
    );
    // The same phase slowdown with the agent slower by as much: a regression of both.
    let agent_slower: Vec<u64> = agent_again.iter().map(|v| v + 60_000).collect();
    let new = with_waits(&agent_slower, &noisy(10, 200, 80_000.0, 16_000.0, (0, 1.0)));
    let d = diff(&base, &new, &Gate::new(th("10%")));
    let flagged: Vec<Option<&str>> = d
        .rows
        .iter()
        .filter(|r| r.is_regression())
        .map(|r| r.phase.as_deref())
        .collect();
    // The agent moved by 3%: under the threshold; the phase by 300%.
    assert_eq!(flagged, vec![Some("wait")], "{d:#?}");
}

#[test]
fn cancellations_are_shown_but_neither_lower_the_success_rate_nor_regress() {
    // The same 100 completed executions, 99 successes; the new run has 40 more cancelled
    // (clients that gave up): not a drop in the success rate, not a regression.
    let base = agent(40, 80, 120, 99, 100);
    let mut new = agent(40, 80, 120, 99, 140);
    new.failure_count = 1;
    new.cancelled_count = 40;
    let d = diff(
        &report(vec![("conn", base)]),
        &report(vec![("conn", new)]),
        &Gate::new(th("1%")),
    );
    assert_eq!(d.regressions, 0);
    let Change::Compared(c) = &d.rows[0].change else {
        panic!("{:?}", d.rows[0])
    };
    assert_eq!(c.cancelled, [0, 40]);
    assert_eq!(c.success_rate.as_ref().unwrap().change_points, 0.0);
    let text = table::render(&d, &Gate::new(th("1%")), "a", "b");
    assert!(text.contains("CANCELLED"), "{text}");
    assert!(text.contains("0 -> 40"), "{text}");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["rows"][0]["cancelled"], serde_json::json!([0, 40]));
}

#[test]
fn against_several_bases_a_row_regresses_only_against_each() {
    // Three runs of one workload, one of them fast as a whole (a timer tick, say); the new
    // run is as the two usual ones.
    let usual = report(vec![("fetch", agent(40, 80, 120, 100, 100))]);
    let fast = report(vec![("fetch", agent(30, 60, 90, 100, 100))]);
    let g = Gate::new(th("10%"));
    // Against the fast run alone, the mean is +33% (no samples are kept: untested, so the
    // threshold decides).
    assert_eq!(diff(&fast, &usual, &g).regressions, 1);
    let d = diff_several(&[fast.clone(), usual.clone(), usual.clone()], &usual, &g);
    assert_eq!((d.regressions, d.bases), (0, 3));
    // Shown against the base it regressed least against: a usual one.
    let Change::Compared(c) = &d.rows[0].change else {
        panic!("{:?}", d.rows[0])
    };
    assert_eq!(c.avg.base_ns, 40_000_000);
    // A real slowdown is slower than every base.
    let slow = report(vec![("fetch", agent(60, 120, 180, 100, 100))]);
    let d = diff_several(&[fast, usual.clone(), usual], &slow, &g);
    assert_eq!(d.regressions, 1);
}

#[test]
fn self_time_per_call_is_shown_and_never_a_regression() {
    // `parse` got slower through `tokenize`, nested in it: its own time did not move.
    let with = |parse_ms: u64, tokenize_ms: u64| {
        let mut a = agent(40, 80, 120, 50, 50);
        a.self_duration = ms(10 * 50);
        let mut parse = phase(parse_ms, 50, 0);
        parse.total_duration = ms(parse_ms * 50);
        parse.self_duration = ms((parse_ms - tokenize_ms) * 50);
        let mut tokenize = phase(tokenize_ms, 50, 0);
        tokenize.total_duration = ms(tokenize_ms * 50);
        tokenize.self_duration = tokenize.total_duration;
        a.phases.insert("parse".into(), parse);
        a.phases.insert("tokenize".into(), tokenize);
        report(vec![("x", a)])
    };
    let (base, new) = (with(10, 4), with(16, 10));
    let d = diff(&base, &new, &Gate::new(th("10%")));
    let self_of = |phase: &str| {
        let row = d
            .rows
            .iter()
            .find(|r| r.phase.as_deref() == Some(phase))
            .unwrap();
        let Change::Compared(c) = &row.change else {
            panic!("{row:?}")
        };
        c.self_ns
    };
    assert_eq!(self_of("parse"), Some([6_000_000, 6_000_000]));
    assert_eq!(self_of("tokenize"), Some([4_000_000, 10_000_000]));
    let text = render(&d, &Gate::new(th("10%")), "base.json", "new.json");
    assert!(text.contains("SELF"), "{text}");
    let parse_line = text.lines().find(|l| l.contains("  parse")).unwrap();
    assert!(parse_line.contains("+0.0% (+0ns)"), "{text}");
    // A report written before self time was recorded says so rather than 0.
    let mut old = with(10, 4);
    for a in old.agents.values_mut() {
        a.self_duration = Duration::ZERO;
        for p in a.phases.values_mut() {
            p.self_duration = Duration::ZERO;
        }
    }
    let d = diff(&old, &new, &Gate::new(th("10%")));
    assert!(d.rows.iter().all(|r| match &r.change {
        Change::Compared(c) => c.self_ns.is_none(),
        _ => true,
    }));
    let text = render(&d, &Gate::new(th("10%")), "old.json", "new.json");
    assert!(
        text.lines()
            .any(|l| l.contains("  parse") && l.contains("n/a")),
        "{text}"
    );
}
