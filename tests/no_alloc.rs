//! After its first calls on a thread, an instrumented call allocates nothing, but for the
//! first time a key sees a duration in a new octave (a power of two) on the thread: its
//! histogram then gets counters for that octave, at most 39 times per key and thread, ever
//! (and usually from the thread's pool, refilled when a key is first seen).
#![cfg(feature = "enabled")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the allocations of the current thread.
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

#[profx::phase(name = "na-phase")]
fn phase(i: u64) -> u64 {
    std::hint::black_box(i * 3)
}

#[profx::phase(name = "na-outer")]
fn outer(i: u64) -> u64 {
    phase(i) + phase(i + 1)
}

#[profx::agent(name = "na-agent", request = i)]
fn agent(i: u64) -> Result<u64, String> {
    if i % 7 == 0 {
        return Err("seven".to_string());
    }
    Ok(outer(i) + phase(i))
}

#[test]
fn steady_calls_allocate_nothing() {
    // Warm up: the first calls make this thread's table, slots and records, and fill the ring
    // of kept executions so that records are recycled from then on.
    for i in 1..3_000 {
        if i % 7 != 0 {
            agent(i).unwrap();
        }
        phase(i);
    }
    let before = allocations();
    let mut sum = 0;
    for i in 1..10_000 {
        if i % 7 != 0 {
            sum += agent(i).unwrap();
        }
        sum += phase(i);
    }
    let after = allocations();
    assert!(sum > 0);
    // Four keys (the agent, two phases inside it, one outside), each of which may reach new
    // octaves when a call is preempted: bounded, never one per call.
    assert!(
        after - before <= 4 * 39,
        "{} allocations in 10,000 steady calls",
        after - before
    );
    assert!(
        profx::global()
            .agent_metrics("na-agent")
            .unwrap()
            .total_executions
            > 10_000
    );
}
