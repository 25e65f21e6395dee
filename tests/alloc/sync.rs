//! Per-execution memory with the counting allocator installed: sync agents, exact counts,
//! nesting, the manual API and the report (feature `alloc`).
#![cfg(all(feature = "enabled", feature = "alloc"))]

use std::hint::black_box;

const MIB: u64 = 1 << 20;
/// What an execution may record above what its body is known to allocate.
const MARGIN: u64 = 16 * 1024;

fn last(agent: &str) -> profx::ExecutionProfile {
    profx::global()
        .executions(agent)
        .pop()
        .expect("an execution")
}

#[profx::agent(name = "alloc-sync-mib")]
fn one_mib(tag: usize) -> usize {
    let big = vec![0u8; 1 << 20];
    // Small noise.
    let noise: Vec<String> = (0..10).map(|i| format!("noise {i} {tag}")).collect();
    black_box(&big);
    big.len() + noise.len()
}

#[test]
fn a_sync_agent_records_what_it_allocates() {
    for i in 0..5 {
        assert_eq!(one_mib(i), (1 << 20) + 10);
        let e = last("alloc-sync-mib");
        assert!(
            (MIB..=MIB + MARGIN).contains(&e.memory_allocated),
            "execution {i}: {e:?}"
        );
        // The vector, the list and ten strings.
        assert!((12..=40).contains(&e.allocations), "{e:?}");
    }
    let m = profx::global().agent_metrics("alloc-sync-mib").unwrap();
    assert_eq!(m.total_executions, 5);
    assert!(
        (MIB..=MIB + MARGIN).contains(&m.avg_memory),
        "{}",
        m.avg_memory
    );
}

#[profx::agent(name = "alloc-boxes")]
fn hundred_boxes(seed: u64) -> u64 {
    let mut sum = 0;
    for i in 0..100 {
        let b = Box::new(black_box(seed + i));
        sum += *b;
    }
    sum
}

#[test]
fn allocation_counts_are_exact() {
    for seed in 0..20 {
        hundred_boxes(seed);
        let e = last("alloc-boxes");
        assert_eq!((e.allocations, e.memory_allocated), (100, 800), "{e:?}");
    }
}

#[profx::phase(name = "alloc-fifty")]
fn fifty_boxes(seed: u64) -> u64 {
    (0..50).map(|i| *Box::new(black_box(seed ^ i))).sum()
}

#[profx::agent(name = "alloc-phased")]
fn phased(seed: u64) -> u64 {
    fifty_boxes(seed) + fifty_boxes(seed + 1)
}

#[test]
fn profx_bookkeeping_is_not_counted_even_on_a_first_call() {
    // The first call on a fresh thread makes the thread's table, the slots and the record's
    // phase list: none of that is the execution's.
    std::thread::spawn(|| {
        for seed in 0..3 {
            phased(seed);
            let e = last("alloc-phased");
            assert_eq!(e.phases.len(), 2);
            assert_eq!((e.allocations, e.memory_allocated), (100, 800), "{e:?}");
        }
    })
    .join()
    .unwrap();
}

#[profx::agent(name = "alloc-inner", request = n)]
fn inner(n: u64) -> Result<u64, String> {
    let v: Vec<u64> = (0..n).collect(); // one allocation of 8n bytes
    if n % 2 == 1 {
        return Err(format!("odd length {}", v.len()));
    }
    Ok(v.iter().sum())
}

#[profx::agent(name = "alloc-outer")]
fn outer() -> u64 {
    let b = Box::new([0u8; 4000]);
    let x = inner(100).unwrap();
    let y = inner(51).unwrap_or(0); // fails: its error text is profx's, the format! is not
    black_box(&b);
    x + y
}

#[test]
fn a_nested_execution_counts_in_both() {
    outer();
    let o = last("alloc-outer");
    let ins = profx::global().executions("alloc-inner");
    let even = ins.iter().rfind(|e| e.request == "100").unwrap();
    let odd = ins.iter().rfind(|e| e.request == "51").unwrap();
    assert_eq!((even.allocations, even.memory_allocated), (1, 800));
    assert_eq!(odd.allocations, 2, "{odd:?}"); // the vector and the format!
    assert!(odd.memory_allocated >= 408 && odd.memory_allocated < 408 + 64);
    assert_eq!(
        o.allocations,
        1 + even.allocations + odd.allocations,
        "{o:?}"
    );
    assert_eq!(
        o.memory_allocated,
        4000 + even.memory_allocated + odd.memory_allocated
    );
}

#[profx::agent(name = "alloc-wraps-manual")]
fn wraps_manual(n: u64) -> u64 {
    let mut ex = profx::global().start_execution("alloc-manual-inner", "a request text");
    ex.start_phase("alloc-manual-phase");
    let b = Box::new(black_box(n)); // the inner's, and so the outer's too
    ex.end_phase();
    ex.end(Err::<(), _>("a failure message"));
    let c = Box::new(black_box(n + 1));
    *b + *c
}

#[test]
fn a_manual_execution_inside_an_agent_adds_only_its_own_allocations() {
    std::thread::spawn(|| {
        for n in 0..3 {
            wraps_manual(n);
            let outer = last("alloc-wraps-manual");
            let inner = last("alloc-manual-inner");
            assert_eq!((inner.allocations, inner.memory_allocated), (1, 8));
            assert_eq!((outer.allocations, outer.memory_allocated), (2, 16));
        }
    })
    .join()
    .unwrap();
}

#[test]
fn a_manual_execution_counts_its_thread_and_its_scopes_elsewhere() {
    let p = profx::Profiler::new(true);
    let mut ex = p.start_execution("alloc-manual", "batch 1");
    let id = ex.id();
    ex.start_phase("fetch");
    let a = vec![1u8; 10_000];
    ex.end_phase();
    // An in_scope on another thread: counted.
    std::thread::scope(|s| {
        s.spawn(|| {
            ex.in_scope(|| black_box(vec![2u8; 3000]));
        });
    });
    // Allocations of another thread outside in_scope: not this execution's.
    std::thread::spawn(|| black_box(vec![3u8; 50_000]))
        .join()
        .unwrap();
    ex.end(());
    black_box(a);
    let e = p.execution(&id).unwrap();
    assert!(
        (13_000..13_000 + MARGIN).contains(&e.memory_allocated),
        "{e:?}"
    );
}

/// `one_mib` under another name, so that this test's execution never lands among the five that
/// `a_sync_agent_records_what_it_allocates` counts (the tests run at the same time).
#[profx::agent(name = "alloc-report-mib")]
fn one_mib_for_the_report(tag: usize) -> usize {
    one_mib_body(tag)
}

fn one_mib_body(tag: usize) -> usize {
    let big = vec![0u8; 1 << 20];
    let noise: Vec<String> = (0..10).map(|i| format!("noise {i} {tag}")).collect();
    black_box(&big);
    big.len() + noise.len()
}

#[test]
fn the_report_says_memory_was_measured() {
    one_mib_for_the_report(99);
    let r = profx::global().report();
    assert!(r.memory_measured);
    assert!(r.overall_avg_memory > 0);
    let a = &r.agents["alloc-report-mib"];
    assert!(a.avg_memory >= MIB && a.avg_memory <= MIB + MARGIN);
    let mut out = Vec::new();
    r.write_text(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("Avg Memory: not measured"), "{text}");
    assert!(text.contains("Overall Avg Memory: "), "{text}");
}
