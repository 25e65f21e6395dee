//! With the `enabled` feature off, the attributes vanish and every read is empty.
#![cfg(not(feature = "enabled"))]

use std::cell::RefCell;

thread_local! {
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn log(s: impl Into<String>) {
    LOG.with(|l| l.borrow_mut().push(s.into()));
}

fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

struct Noisy(&'static str);
impl Drop for Noisy {
    fn drop(&mut self) {
        log(format!("drop {}", self.0));
    }
}

fn plain(a: Noisy, b: Noisy, n: u32) -> Result<u32, String> {
    log(format!("body {} {}", a.0, b.0));
    if n == 0 {
        return Err("zero".into());
    }
    Ok(n * 2)
}

#[profx::agent(request = n)]
fn instrumented(a: Noisy, b: Noisy, n: u32) -> Result<u32, String> {
    log(format!("body {} {}", a.0, b.0));
    if n == 0 {
        return Err("zero".into());
    }
    Ok(n * 2)
}

#[profx::phase]
fn step(x: u32) -> u32 {
    x + 1
}

#[test]
fn instrumented_functions_behave_exactly_like_plain_ones() {
    for n in [0, 3] {
        let p = plain(Noisy("a"), Noisy("b"), n);
        let plain_log = take_log();
        let i = instrumented(Noisy("a"), Noisy("b"), n);
        assert_eq!(p, i);
        assert_eq!(plain_log, take_log());
    }
    assert_eq!(step(1), 2);
    assert_eq!(profx::phase_block!("block", { 40 + 2 }), 42);
    let _g = profx::phase("guard");
}

#[test]
fn every_read_is_empty() {
    let _ = instrumented(Noisy("x"), Noisy("y"), 1);
    step(5);
    let g = profx::global();
    assert!(!g.is_enabled());
    g.enable();
    assert!(!g.is_enabled());
    assert!(g.agent_metrics("instrumented").is_none());
    assert!(g.executions("instrumented").is_empty());
    assert!(g.execution("instrumented-1").is_none());
    assert!(g.bottlenecks(std::time::Duration::ZERO).is_empty());
    let r = g.report();
    assert_eq!(r.total_executions, 0);
    assert!(r.agents.is_empty() && r.phases.is_empty() && r.executions.is_empty());

    let p = profx::Profiler::new(true);
    let mut ex = p.start_execution("manual", "req");
    ex.start_phase("x");
    ex.end_phase();
    assert_eq!(ex.id(), "");
    assert_eq!(ex.in_scope(|| 7), 7);
    ex.end(Err::<(), _>("e"));
    assert!(p.report().agents.is_empty());
}

#[test]
fn async_functions_are_unchanged() {
    #[profx::agent]
    async fn a(x: u32) -> u32 {
        b(x).await
    }
    #[profx::phase]
    async fn b(x: u32) -> u32 {
        x * 3
    }
    assert_eq!(futures::executor::block_on(a(2)), 6);
}
