//! Outcomes, panics, nesting, limits and bottlenecks of sync executions.
#![cfg(feature = "enabled")]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

#[derive(Debug)]
struct Oops(u32);
impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oops #{}", self.0)
    }
}

#[profx::agent(name = "out-result")]
fn fallible(n: u32) -> Result<u32, Oops> {
    let v = check(n)?;
    if v == 2 {
        return Err(Oops(2));
    }
    Ok(v)
}

#[profx::phase(name = "out-check")]
fn check(n: u32) -> Result<u32, Oops> {
    if n == 1 {
        Err(Oops(1))
    } else {
        Ok(n)
    }
}

#[test]
fn err_is_a_failure_with_its_display_and_ok_a_success() {
    assert_eq!(fallible(0).unwrap(), 0);
    assert_eq!(fallible(1).unwrap_err().0, 1);
    assert_eq!(fallible(2).unwrap_err().0, 2);
    assert_eq!(fallible(3).unwrap(), 3);
    let m = profx::global().agent_metrics("out-result").unwrap();
    assert_eq!(
        (m.total_executions, m.success_count, m.failure_count),
        (4, 2, 2)
    );
    assert_eq!(m.phases["out-check"].calls, 4);
    assert_eq!(m.phases["out-check"].failures, 1);
    let errors: Vec<_> = profx::global()
        .executions("out-result")
        .into_iter()
        .map(|e| e.error)
        .collect();
    assert_eq!(
        errors,
        vec![None, Some("oops #1".into()), Some("oops #2".into()), None]
    );
}

#[derive(Debug)]
struct OnlyDebug;

#[profx::agent(name = "out-debug")]
fn debug_only() -> Result<(), OnlyDebug> {
    Err(OnlyDebug)
}

#[profx::agent(name = "out-generic")]
fn generic<E>(e: E) -> Result<(), E> {
    Err(e)
}

#[test]
fn errors_without_display_are_still_failures() {
    let _ = debug_only();
    let _ = generic(());
    let e = profx::global().executions("out-debug").pop().unwrap();
    assert_eq!(e.error.as_deref(), Some("OnlyDebug"));
    let e = profx::global().executions("out-generic").pop().unwrap();
    assert!(!e.success);
    assert!(e.error.is_some());
}

#[profx::agent(name = "out-panics")]
fn panics(n: u32) -> u32 {
    if n > 0 {
        std::panic::panic_any(Oops(n));
    }
    n
}

#[test]
fn a_panic_propagates_unchanged_and_counts_as_a_failure() {
    let payload = catch_unwind(|| panics(9)).unwrap_err();
    assert_eq!(payload.downcast_ref::<Oops>().unwrap().0, 9);
    assert_eq!(panics(0), 0);
    let m = profx::global().agent_metrics("out-panics").unwrap();
    assert_eq!((m.total_executions, m.failure_count), (2, 1));
    let errors: Vec<_> = profx::global()
        .executions("out-panics")
        .into_iter()
        .map(|e| e.error)
        .collect();
    assert_eq!(errors, vec![Some("panicked".to_string()), None]);
}

#[profx::phase(name = "out-phase-panics")]
fn phase_panics() {
    panic!("in a phase");
}

#[profx::agent(name = "out-phase-panic-agent")]
fn agent_with_panicking_phase() {
    phase_panics();
}

#[test]
fn a_panic_in_a_phase_fails_the_phase_and_the_execution() {
    assert!(catch_unwind(agent_with_panicking_phase).is_err());
    let m = profx::global()
        .agent_metrics("out-phase-panic-agent")
        .unwrap();
    assert_eq!(m.failure_count, 1);
    assert_eq!(m.phases["out-phase-panics"].failures, 1);
    // After the unwinding, the thread is outside any execution again.
    profx::phase_block!("out-after-panic", {});
    assert!(profx::global()
        .report()
        .phases
        .contains_key("out-after-panic"));
    assert!(!profx::global()
        .agent_metrics("out-phase-panic-agent")
        .unwrap()
        .phases
        .contains_key("out-after-panic"));
}

#[profx::phase(name = "out-outer")]
fn outer() {
    middle();
    middle();
}

#[profx::phase(name = "out-middle")]
fn middle() {
    let _g = profx::phase("out-guard");
}

#[profx::agent(name = "out-nested")]
fn nested() {
    outer();
    inner_agent();
    let _ = profx::phase_block!("out-block", { 5 });
}

#[profx::agent(name = "out-inner-agent")]
fn inner_agent() {
    middle();
}

#[test]
fn nested_phases_keep_their_depth_and_nested_agents_are_their_own_executions() {
    nested();
    let e = profx::global().executions("out-nested").pop().unwrap();
    let shape: Vec<(&str, u32)> = e
        .phases
        .iter()
        .map(|p| (p.name.as_str(), p.depth))
        .collect();
    assert_eq!(
        shape,
        vec![
            ("out-outer", 0),
            ("out-middle", 1),
            ("out-guard", 2),
            ("out-middle", 1),
            ("out-guard", 2),
            ("out-block", 0),
        ]
    );
    // The inner agent's phase is its own, not the outer execution's; it is linked to the
    // execution it ran inside, which is top-level.
    let inner = profx::global().executions("out-inner-agent").pop().unwrap();
    let names: Vec<_> = inner.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["out-middle", "out-guard"]);
    assert_eq!(inner.parent.as_deref(), Some(e.id.as_str()));
    assert_eq!(e.parent, None);
    let json = serde_json::to_value(&inner).unwrap();
    assert_eq!(json["parent"], serde_json::json!(e.id));
    assert!(serde_json::to_value(&e).unwrap().get("parent").is_none());
    let m = profx::global().agent_metrics("out-nested").unwrap();
    assert_eq!(m.phases["out-middle"].calls, 2);
    assert_eq!(
        profx::global()
            .agent_metrics("out-inner-agent")
            .unwrap()
            .phases["out-middle"]
            .calls,
        1
    );
    // By name, across agents.
    assert_eq!(profx::global().report().phases["out-middle"].calls, 3);
}

#[profx::phase(name = "out-loose")]
fn loose() -> u8 {
    1
}

#[test]
fn a_phase_outside_any_execution_is_still_recorded() {
    for _ in 0..5 {
        loose();
    }
    let r = profx::global().report();
    assert_eq!(r.phases["out-loose"].calls, 5);
    assert!(r
        .agents
        .values()
        .all(|a| !a.phases.contains_key("out-loose")));
}

#[profx::phase(name = "out-hot")]
fn hot(i: u32) -> u32 {
    std::hint::black_box(i)
}

#[profx::agent(name = "out-hot-loop")]
fn hot_loop() {
    for i in 0..10_000 {
        hot(i);
    }
}

#[test]
fn a_hot_loop_aggregates_every_call_and_keeps_the_profile_bounded() {
    hot_loop();
    let m = profx::global().agent_metrics("out-hot-loop").unwrap();
    assert_eq!(m.phases["out-hot"].calls, 10_000);
    let e = profx::global().executions("out-hot-loop").pop().unwrap();
    assert_eq!(e.phases.len(), 1000);
    assert_eq!(e.phases_dropped, 9_000);
}

#[profx::agent(name = "out-ring")]
fn ring(i: u32) -> u32 {
    i
}

#[test]
fn the_ring_keeps_the_most_recent_executions() {
    for i in 0..1_500 {
        ring(i);
    }
    let execs = profx::global().executions("out-ring");
    assert_eq!(execs.len(), 1000);
    let first: u64 = execs[0].id.rsplit_once('-').unwrap().1.parse().unwrap();
    let last: u64 = execs[999].id.rsplit_once('-').unwrap().1.parse().unwrap();
    assert!(first < last);
    assert_eq!(
        profx::global()
            .agent_metrics("out-ring")
            .unwrap()
            .total_executions,
        1_500
    );
    // Every kept execution can be found by its id.
    let probe = &execs[500];
    assert_eq!(profx::global().execution(&probe.id).as_ref(), Some(probe));
    assert!(profx::global().execution("out-ring-0").is_none());
    assert!(profx::global().execution("no-such-thing").is_none());
}

#[profx::agent(name = "out-slow")]
fn slow() {
    std::thread::sleep(Duration::from_millis(35));
}

#[test]
fn a_slow_agent_is_a_bottleneck_with_a_severity() {
    slow();
    slow();
    let found = profx::global().bottlenecks(Duration::from_millis(10));
    let b = found
        .iter()
        .find(|b| b.agent == "out-slow" && b.phase.is_none())
        .expect("out-slow is a bottleneck");
    assert_eq!(b.kind, profx::BottleneckKind::SlowExecution);
    assert_eq!(b.severity, profx::Severity::Critical);
    assert!(b.avg_duration >= Duration::from_millis(35));
    assert!(profx::global()
        .bottlenecks(Duration::from_secs(10))
        .iter()
        .all(|b| b.agent != "out-slow"));
}

#[test]
fn the_report_round_trips_through_json() {
    fallible(0).unwrap();
    nested();
    let r = profx::global().report();
    let text = serde_json::to_string(&r).unwrap();
    let back: profx::Report = serde_json::from_str(&text).unwrap();
    // Timestamps keep nanoseconds; everything else is integers and strings.
    assert_eq!(back.agents, r.agents);
    assert_eq!(back.executions, r.executions);
    assert_eq!(back.bottlenecks, r.bottlenecks);
    assert_eq!(back.generated_at, r.generated_at);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["agents"]["out-result"]["avg_duration"].is_u64());
}

#[test]
fn error_messages_are_cut_at_256_bytes_on_a_char_boundary() {
    #[profx::agent(name = "out-long-error")]
    fn long() -> Result<(), String> {
        Err(format!("{}é{}", "x".repeat(255), "y".repeat(100)))
    }
    let _ = long();
    let e = profx::global().executions("out-long-error").pop().unwrap();
    let msg = e.error.unwrap();
    assert!(msg.len() <= 256);
    assert_eq!(msg, "x".repeat(255));
}

#[test]
fn guards_escaping_their_execution_stay_safe() {
    #[profx::agent(name = "out-escape")]
    fn escape() -> profx::PhaseGuard {
        profx::phase("out-escaped")
    }
    let g = escape();
    drop(AssertUnwindSafe(g));
    let r = profx::global().report();
    assert_eq!(r.phases["out-escaped"].calls, 1);
}
