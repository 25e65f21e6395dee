//! With the `alloc` feature but without `CountingAlloc` as the global allocator, memory is
//! not measured: zeros, and reports say so.
#![cfg(all(feature = "enabled", feature = "alloc"))]

#[profx::agent(name = "alloc-uncounted")]
fn allocates() -> usize {
    let v = vec![0u8; 1 << 20];
    std::hint::black_box(&v).len()
}

#[test]
fn memory_is_not_measured_without_the_allocator() {
    allocates();
    let e = profx::global().executions("alloc-uncounted").pop().unwrap();
    assert_eq!((e.memory_allocated, e.allocations), (0, 0));
    let r = profx::global().report();
    assert!(!r.memory_measured);
    assert_eq!(r.overall_avg_memory, 0);
    assert_eq!(r.agents["alloc-uncounted"].avg_memory, 0);
    let mut out = Vec::new();
    r.write_text(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Overall Avg Memory: not measured"), "{text}");
}
