//! Async executions follow their futures across `.await` points and threads.
#![cfg(feature = "enabled")]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

mod busy;

#[profx::phase(name = "async-step")]
async fn step(i: usize) -> usize {
    tokio::task::yield_now().await;
    inner_step(i)
}

#[profx::phase(name = "async-inner")]
fn inner_step(i: usize) -> usize {
    i + 1
}

#[profx::agent(name = "async-owner", request = id)]
async fn owner(id: usize) -> Result<usize, String> {
    let mut total = 0;
    for i in 0..=id {
        total += step(i).await;
        tokio::time::sleep(Duration::from_micros(50 * (id as u64 % 3))).await;
    }
    Ok(total)
}

fn check_owned(agent: &str) {
    let execs = profx::global().executions(agent);
    assert!(!execs.is_empty());
    for e in &execs {
        let id: usize = e.request.parse().unwrap();
        // Exactly its own phases: id+1 steps, each with one nested inner phase.
        let steps: Vec<_> = e.phases.iter().filter(|p| p.name == "async-step").collect();
        let inner: Vec<_> = e
            .phases
            .iter()
            .filter(|p| p.name == "async-inner")
            .collect();
        assert_eq!(steps.len(), id + 1, "{e:?}");
        assert_eq!(inner.len(), id + 1, "{e:?}");
        assert!(steps.iter().all(|p| p.depth == 0), "{e:?}");
        assert!(inner.iter().all(|p| p.depth == 1), "{e:?}");
        assert!(e.success);
        // Phases lie within the execution.
        for p in &e.phases {
            assert!(p.start_offset + p.duration <= e.duration, "{e:?}");
        }
    }
}

#[test]
fn concurrent_agents_on_two_workers_each_own_their_phases() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..8).map(|id| tokio::spawn(owner(id))).collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    check_owned("async-owner");
    // Each started on one of the two workers: named as tokio names them, with at most two
    // distinct numbers among them.
    let execs = profx::global().executions("async-owner");
    let threads: std::collections::BTreeSet<u64> = execs.iter().map(|e| e.thread_id).collect();
    assert!(!threads.contains(&0) && threads.len() <= 2, "{threads:?}");
    for e in &execs {
        // "tokio-runtime-worker" before tokio 1.44, "tokio-rt-worker" since.
        let name = e.thread_name.as_deref().unwrap_or_default();
        assert!(
            name.starts_with("tokio-r") && name.ends_with("-worker"),
            "{e:?}"
        );
    }
    let m = profx::global().agent_metrics("async-owner").unwrap();
    assert_eq!(m.total_executions, 8);
    // 1 + 2 + ... + 8 steps.
    assert_eq!(m.phases["async-step"].calls, 36);
}

#[profx::agent(name = "async-interleaved", request = id)]
async fn interleaved(id: usize) -> usize {
    let mut total = 0;
    for i in 0..=id {
        total += step(i).await;
    }
    total
}

#[test]
fn agents_interleaved_on_one_thread_each_own_their_phases() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let futs: Vec<_> = (0..8).map(interleaved).collect();
        futures::future::join_all(futs).await;
    });
    let execs = profx::global().executions("async-interleaved");
    assert_eq!(execs.len(), 8);
    for e in &execs {
        let id: usize = e.request.parse().unwrap();
        assert_eq!(
            e.phases.iter().filter(|p| p.name == "async-step").count(),
            id + 1
        );
    }
}

#[profx::agent(name = "async-mover")]
async fn mover(rx: tokio::sync::oneshot::Receiver<()>) -> std::thread::ThreadId {
    let a = step(0).await;
    rx.await.unwrap();
    let b = step(a).await;
    let _ = b;
    std::thread::current().id()
}

#[test]
fn an_execution_moved_to_another_thread_keeps_its_phases() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut fut = Box::pin(mover(rx));
    let mut cx = Context::from_waker(Waker::noop());
    // First polls here: the execution starts and its first phase runs on this thread.
    for _ in 0..3 {
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    let here = std::thread::current().id();
    tx.send(()).unwrap();
    // Finished on another thread.
    let there = std::thread::spawn(move || futures::executor::block_on(fut))
        .join()
        .unwrap();
    assert_ne!(here, there);
    let e = profx::global().executions("async-mover").pop().unwrap();
    assert!(e.success);
    assert_eq!(
        e.phases.iter().filter(|p| p.name == "async-step").count(),
        2,
        "{e:?}"
    );
}

#[profx::agent(name = "async-cancelled")]
async fn never_finishes() -> u32 {
    step(1).await;
    std::future::pending::<()>().await;
    7
}

#[test]
fn a_future_dropped_before_completion_is_cancelled() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = tokio::time::timeout(Duration::from_millis(20), never_finishes()).await;
        assert!(r.is_err());
    });
    let m = profx::global().agent_metrics("async-cancelled").unwrap();
    // Cancelled: neither a success nor a failure, and no success rate.
    assert_eq!(
        (
            m.total_executions,
            m.success_count,
            m.failure_count,
            m.cancelled_count
        ),
        (1, 0, 0, 1)
    );
    assert_eq!(m.success_rate_checked(), None);
    let e = profx::global().executions("async-cancelled").pop().unwrap();
    assert_eq!(e.error.as_deref(), Some("cancelled"));
    assert_eq!((e.outcome, e.success), (profx::Outcome::Cancelled, false));
    // The phase that completed before the drop succeeded.
    let outcomes: Vec<_> = e.phases.iter().map(|p| (&*p.name, p.outcome)).collect();
    assert!(
        outcomes.contains(&("async-step", profx::Outcome::Success)),
        "{outcomes:?}"
    );
    // It ran until the timeout dropped it, after its completed phase (the timeout's clock
    // starts before the first poll, which a loaded machine may delay by most of it).
    let phases_end = e.phases.iter().map(|p| p.start_offset + p.duration).max();
    assert!(e.duration >= phases_end.unwrap(), "{e:?}");
    // Its completed phase is kept.
    assert_eq!(e.phases.len(), 2);
}

#[test]
fn a_future_never_polled_records_nothing() {
    let fut = never_finishes_unpolled();
    drop(fut);
    assert!(profx::global().agent_metrics("async-unpolled").is_none());
}

#[profx::agent(name = "async-unpolled")]
async fn never_finishes_unpolled() {}

#[profx::agent(name = "async-panics")]
async fn panics(n: u32) -> u32 {
    step(0).await;
    if n > 0 {
        panic!("boom {n}");
    }
    n
}

#[test]
fn a_panicking_async_agent_propagates_and_fails() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let err = rt
        .block_on(async { tokio::spawn(panics(3)).await })
        .unwrap_err();
    assert!(err.is_panic());
    let msg = err.into_panic();
    assert_eq!(msg.downcast_ref::<String>().unwrap(), "boom 3");
    let e = profx::global().executions("async-panics").pop().unwrap();
    assert_eq!(e.error.as_deref(), Some("panicked"));
}

#[profx::phase(name = "async-phase-cancelled")]
async fn slow_phase() {
    tokio::time::sleep(Duration::from_secs(5)).await;
}

#[profx::agent(name = "async-phase-owner")]
async fn phase_owner() -> bool {
    tokio::time::timeout(Duration::from_millis(5), slow_phase())
        .await
        .is_err()
}

#[test]
fn a_cancelled_async_phase_counts_as_cancelled_not_failed() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(rt.block_on(phase_owner()));
    let m = profx::global().agent_metrics("async-phase-owner").unwrap();
    assert_eq!(m.success_count, 1);
    let p = &m.phases["async-phase-cancelled"];
    assert_eq!((p.calls, p.failures, p.cancelled), (1, 0, 1));
    let e = profx::global()
        .executions("async-phase-owner")
        .pop()
        .unwrap();
    assert_eq!(e.outcome, profx::Outcome::Success);
    let rec = e
        .phases
        .iter()
        .find(|p| p.name == "async-phase-cancelled")
        .unwrap();
    assert_eq!(rec.outcome, profx::Outcome::Cancelled);
}

#[test]
fn polling_by_hand_on_one_thread_works() {
    let mut f = pin!(interleaved(0));
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            assert_eq!(v, 1);
            break;
        }
    }
}
