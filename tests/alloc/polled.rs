//! Per-execution memory of async agents: summed over the polls, on whatever thread each ran,
//! and nothing of what other tasks allocate between them (feature `alloc`).
#![cfg(all(feature = "enabled", feature = "alloc"))]

use std::future::Future;
use std::hint::black_box;
use std::task::{Context, Waker};

const HALF: usize = 512 * 1024;
const MIB: u64 = 1 << 20;
const MARGIN: u64 = 16 * 1024;

#[profx::agent(name = "alloc-async-moved")]
async fn moved(rx: tokio::sync::oneshot::Receiver<()>) -> std::thread::ThreadId {
    let a = vec![1u8; HALF];
    tokio::task::yield_now().await;
    rx.await.unwrap();
    let b = vec![2u8; HALF];
    black_box((&a, &b));
    std::thread::current().id()
}

#[test]
fn an_execution_moved_to_another_thread_counts_both_halves() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut fut = Box::pin(moved(rx));
    let mut cx = Context::from_waker(Waker::noop());
    // The first half is allocated here.
    for _ in 0..3 {
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    let here = std::thread::current().id();
    // Allocations of this thread between the polls are not the execution's.
    black_box(vec![0u8; 4 << 20]);
    tx.send(()).unwrap();
    // The second half on another thread.
    let there = std::thread::spawn(move || futures::executor::block_on(fut))
        .join()
        .unwrap();
    assert_ne!(here, there);
    let e = profx::global()
        .executions("alloc-async-moved")
        .pop()
        .unwrap();
    assert!((MIB..=MIB + MARGIN).contains(&e.memory_allocated), "{e:?}");
    assert!((2..=10).contains(&e.allocations), "{e:?}");
}

#[profx::agent(name = "alloc-async-tokio", request = id)]
async fn halves(id: usize) -> usize {
    let a = vec![id as u8; HALF];
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_micros(100 * (id as u64 % 4))).await;
    let b = vec![!id as u8; HALF];
    tokio::task::yield_now().await;
    black_box(&a).len() + black_box(&b).len()
}

/// Allocates a lot, unmeasured, between the agents' polls on the same workers.
async fn noise() {
    for _ in 0..50 {
        black_box(vec![7u8; 2 << 20]);
        tokio::task::yield_now().await;
    }
}

#[test]
fn concurrent_executions_on_two_workers_each_count_their_own() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for id in 0..40 {
            tasks.push(tokio::spawn(async move {
                let n = halves(id).await;
                assert_eq!(n, 2 * HALF);
            }));
            if id % 8 == 0 {
                tokio::spawn(noise());
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let execs = profx::global().executions("alloc-async-tokio");
    assert_eq!(execs.len(), 40);
    for e in &execs {
        assert!((MIB..=MIB + MARGIN).contains(&e.memory_allocated), "{e:?}");
    }
    let m = profx::global().agent_metrics("alloc-async-tokio").unwrap();
    assert!((MIB..=MIB + MARGIN).contains(&m.avg_memory), "{m:?}");
}

#[profx::agent(name = "alloc-async-cancelled")]
async fn cancelled() {
    black_box(vec![0u8; HALF]);
    std::future::pending::<()>().await;
}

#[test]
fn a_cancelled_execution_keeps_what_its_polls_allocated() {
    let mut fut = Box::pin(cancelled());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    drop(fut);
    let e = profx::global()
        .executions("alloc-async-cancelled")
        .pop()
        .unwrap();
    assert_eq!(e.error.as_deref(), Some("cancelled"));
    assert!(
        (HALF as u64..=HALF as u64 + MARGIN).contains(&e.memory_allocated),
        "{e:?}"
    );
}
