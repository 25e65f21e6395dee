//! The manual API, isolated profilers and the run-time switch.
#![cfg(feature = "enabled")]

use std::time::Duration;

#[test]
fn the_quick_start_of_the_guide_works() {
    let profiler = profx::Profiler::new(true);
    let mut ec = profiler.start_execution("codebase-locator", "Find main.go");
    ec.start_phase("search");
    std::thread::sleep(Duration::from_millis(5));
    ec.end_phase();
    ec.start_phase("parse");
    std::thread::sleep(Duration::from_millis(3));
    ec.end_phase();
    let id = ec.id();
    ec.end(());

    let report = profiler.report();
    assert_eq!(report.total_executions, 1);
    assert_eq!(report.overall_success_rate, 100.0);
    assert!(report.overall_avg_duration >= Duration::from_millis(8));

    let profile = profiler.execution(&id).unwrap();
    assert_eq!(profile.agent, "codebase-locator");
    assert_eq!(profile.request, "Find main.go");
    let phases: Vec<_> = profile.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(phases, vec!["search", "parse"]);
    assert!(profile.phases[0].duration >= Duration::from_millis(5));
    assert!(profile.phases[1].start_offset >= profile.phases[0].duration);
    // Isolated: the global profiler saw none of it.
    assert!(profx::global().agent_metrics("codebase-locator").is_none());
}

#[test]
fn end_takes_results_options_and_unit() {
    let p = profx::Profiler::new(true);
    p.start_execution("a", "").end(());
    p.start_execution("a", "").end(Ok::<u8, String>(1));
    let failed = Err::<u8, String>("bad input".to_string());
    p.start_execution("a", "").end(&failed); // by reference: the result is still ours
    assert!(failed.is_err());
    p.start_execution("a", "").end(None::<String>);
    p.start_execution("a", "").end(Some("timeout"));
    drop(p.start_execution("a", ""));
    let errors: Vec<_> = p.executions("a").into_iter().map(|e| e.error).collect();
    assert_eq!(
        errors,
        vec![
            None,
            None,
            Some("bad input".into()),
            None,
            Some("timeout".into()),
            Some("cancelled".into())
        ]
    );
    let m = p.agent_metrics("a").unwrap();
    // Dropped without `end`: cancelled, not failed.
    assert_eq!(
        (m.success_count, m.failure_count, m.cancelled_count),
        (3, 2, 1)
    );
}

#[derive(Debug, PartialEq)]
enum Frame {
    Incomplete,
    Invalid(&'static str),
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[test]
fn end_where_and_cancel_tell_expected_errors_and_cancellations_apart() {
    let p = profx::Profiler::new(true);
    let is_failure = |e: &Frame| !matches!(e, Frame::Incomplete);
    p.start_execution("parse", "")
        .end_where(&Err::<(), _>(Frame::Incomplete), is_failure);
    p.start_execution("parse", "")
        .end_where(&Err::<(), _>(Frame::Invalid("x")), is_failure);
    p.start_execution("parse", "")
        .end_where(&Ok::<(), Frame>(()), is_failure);
    let mut ex = p.start_execution("parse", "");
    ex.start_phase("read");
    ex.cancel();
    let m = p.agent_metrics("parse").unwrap();
    assert_eq!(
        (
            m.total_executions,
            m.success_count,
            m.failure_count,
            m.cancelled_count
        ),
        (4, 2, 1, 1)
    );
    assert_eq!(m.success_rate_checked(), Some(200.0 / 3.0));
    // The phase still open when it was cancelled ends cancelled with it.
    assert_eq!((m.phases["read"].calls, m.phases["read"].cancelled), (1, 1));
    let kept = p.executions("parse");
    let outcomes: Vec<_> = kept.iter().map(|e| (e.outcome, e.error.clone())).collect();
    use profx::Outcome::*;
    assert_eq!(
        outcomes,
        vec![
            (Success, None),
            (Failure, Some("Invalid(\"x\")".into())),
            (Success, None),
            (Cancelled, Some("cancelled".into())),
        ]
    );
    assert_eq!(kept[3].phases[0].outcome, Cancelled);
}

#[profx::phase(name = "manual-macro-phase")]
fn macro_phase() {}

#[test]
fn in_scope_lets_instrumented_functions_join_the_execution() {
    let p = profx::Profiler::new(true);
    let mut ex = p.start_execution("scoped", "");
    {
        let _g = ex.phase("guarded");
    }
    ex.in_scope(|| {
        macro_phase();
        let _q = profx::phase("scoped-guard");
    });
    macro_phase(); // outside the scope: not this execution's
    ex.start_phase("open-at-end");
    ex.end(());
    let e = p.executions("scoped").pop().unwrap();
    let names: Vec<_> = e
        .phases
        .iter()
        .map(|p| (p.name.as_str(), p.depth))
        .collect();
    assert_eq!(
        names,
        vec![
            ("guarded", 0),
            ("manual-macro-phase", 0),
            ("scoped-guard", 0),
            ("open-at-end", 0)
        ]
    );
    assert_eq!(
        p.agent_metrics("scoped").unwrap().phases["manual-macro-phase"].calls,
        1
    );
}

#[test]
fn nested_manual_phases_have_depths() {
    let p = profx::Profiler::new(true);
    let mut ex = p.start_execution("depths", "");
    ex.start_phase("outer");
    ex.start_phase("inner");
    ex.end_phase();
    ex.end_phase();
    ex.end_phase(); // nothing open: no-op
    ex.end(());
    let e = p.executions("depths").pop().unwrap();
    let d: Vec<_> = e
        .phases
        .iter()
        .map(|p| (p.name.as_str(), p.depth))
        .collect();
    assert_eq!(d, vec![("outer", 0), ("inner", 1)]);
}

#[test]
fn disable_enable_and_clear() {
    let p = profx::Profiler::new(false);
    assert!(!p.is_enabled());
    let ex = p.start_execution("switch", "");
    assert_eq!(ex.id(), "");
    ex.end(());
    assert!(p.agent_metrics("switch").is_none());

    p.enable();
    assert!(p.is_enabled());
    p.start_execution("switch", "").end(());
    p.start_execution("switch", "").end(());
    assert_eq!(p.agent_metrics("switch").unwrap().total_executions, 2);

    p.clear();
    assert!(p.agent_metrics("switch").is_none());
    assert!(p.executions("switch").is_empty());
    assert_eq!(p.report().total_executions, 0);
    p.start_execution("switch", "").end(());
    assert_eq!(p.agent_metrics("switch").unwrap().total_executions, 1);
    assert_eq!(p.executions("switch").len(), 1);

    p.disable();
    p.start_execution("switch", "").end(());
    assert_eq!(p.agent_metrics("switch").unwrap().total_executions, 1);

    // An execution that spans a clear() ends after it: it is counted and kept, as one that
    // started after it is; one that ended before it is gone from both.
    p.enable();
    p.start_execution("spans", "before").end(());
    let ex = p.start_execution("spans", "across");
    p.clear();
    ex.end(());
    assert_eq!(p.agent_metrics("spans").unwrap().total_executions, 1);
    let kept = p.executions("spans");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].request, "across");
}

#[test]
fn executions_are_sendable_and_can_end_on_another_thread() {
    let p = profx::Profiler::new(true);
    let mut ex = p.start_execution("sent", "x");
    ex.start_phase("before");
    ex.end_phase();
    std::thread::spawn(move || {
        ex.start_phase("after");
        ex.end_phase();
        ex.end(());
    })
    .join()
    .unwrap();
    let e = p.executions("sent").pop().unwrap();
    assert_eq!(e.phases.len(), 2);
}

#[test]
fn comparative_analysis_between_two_profilers() {
    let (p1, p2) = (profx::Profiler::new(true), profx::Profiler::new(true));
    for (p, ms) in [(&p1, 6u64), (&p2, 2)] {
        let ex = p.start_execution("agent", "");
        std::thread::sleep(Duration::from_millis(ms));
        ex.end(());
    }
    let (m1, m2) = (
        p1.agent_metrics("agent").unwrap(),
        p2.agent_metrics("agent").unwrap(),
    );
    assert!(m2.avg_duration < m1.avg_duration);
}
