//! Counting allocations (feature `alloc`): the global allocator wrapper, the per-thread
//! counters it keeps, and the process-wide totals folded from them.
//!
//! # Design
//!
//! Each allocation event touches only the allocating thread's counters: a constant-initialized
//! `thread_local!` without destructor (on the usual platforms a plain offset from the thread
//! pointer), updated with loads and stores of `Cell`s. No lock, no atomic read-modify-write,
//! no shared cache line written per event.
//!
//! - Per thread, monotonic: bytes allocated and allocations. An execution reads them at its
//!   start and end (a sync agent), or around each poll (an async agent, on whichever thread
//!   polls), and keeps the difference: what other tasks allocate between two polls on the
//!   same thread is not the execution's. Nested executions count in their parents too.
//! - What profx allocates for itself while an execution runs (a thread's first table, a new
//!   slot, an interned name, a longer list of phase records, a nested execution's request
//!   text) is made inside [`exclude`], which moves it to a per-thread "own" counter that
//!   executions subtract: per-execution figures are the program's allocations only.
//! - Process-wide totals (for the collector's snapshots) are atomics that each thread adds its
//!   pending delta to in one go (four relaxed `fetch_add`s), once its events since the last
//!   fold cost 256 KiB, where an event costs its size plus 1 KiB: every 256 small events, or
//!   sooner when they are large. **Staleness bound:** the totals miss, per running thread,
//!   fewer than 256 events and less than 256 KiB (allocated plus freed). The calling thread's
//!   pending delta is folded before a read. A thread that exits loses its pending delta from
//!   the totals (same bound), unless it recorded into the global profiler, which folds it at
//!   thread exit.
//!
//!   Why these figures (`cargo bench -p profx-bench --bench alloc`, fastest rounds): folding
//!   every 64 events or 64 KiB cost +24% on a 16-byte alloc/free pair and +30–60% on a vector
//!   grown by `realloc` to 4 KiB, the folds dominating; at 256 events or 256 KiB the counting
//!   costs +15% and +3–23%, about a third of a nanosecond per event.
//! - A thread's very first event folds (its budget starts at zero): that first fold is what
//!   marks the allocator as installed, without a check on every event.
//!
//! The counting path never allocates, never panics, never registers a thread-local
//! destructor and takes no lock, so it cannot re-enter the allocator or deadlock with it. (It
//! needs native thread-locals, which every tier-1 platform has; where `std` keeps
//! thread-locals behind OS keys that it allocates on first access, counting would recurse.)
//!
//! `realloc` counts as one allocation of the new size and one deallocation of the old size,
//! whether or not the block moved: bytes live stay exact, and "bytes allocated" is what the
//! allocator was asked for.

use std::alloc::{GlobalAlloc, Layout, System};

/// A global allocator that counts allocations, for per-execution memory figures
/// ([`ExecutionProfile::memory_allocated`](crate::ExecutionProfile::memory_allocated),
/// [`allocations`](crate::ExecutionProfile::allocations), the agents' average memory) and the
/// heap figures of system snapshots.
///
/// Install it once, in the binary:
///
/// ```
/// #[global_allocator]
/// static ALLOC: profx_runtime::CountingAlloc = profx_runtime::CountingAlloc::system();
///
/// // Or around another allocator: `CountingAlloc::new(inner)` is a `const fn`.
/// struct MyAlloc;
/// # unsafe impl std::alloc::GlobalAlloc for MyAlloc {
/// #     unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 { unsafe { std::alloc::System.alloc(l) } }
/// #     unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) { unsafe { std::alloc::System.dealloc(p, l) } }
/// # }
/// static WRAPPED: profx_runtime::CountingAlloc<MyAlloc> = profx_runtime::CountingAlloc::new(MyAlloc);
///
/// fn main() {
///     let v = vec![0u8; 1024]; // counted
///     # drop(v);
/// }
/// ```
///
/// It counts with the `alloc` and `enabled` features together; otherwise it only forwards to
/// the allocator it wraps, so the declaration compiles unchanged whatever the features. While
/// it is not installed, reports say memory was "not measured"
/// ([`Report::memory_measured`](crate::Report::memory_measured)).
///
/// Cost per allocation: a few loads and stores of the thread's own counters (about a third of
/// a nanosecond); every 256 small events (or 256 KiB), four relaxed atomic additions fold them
/// into the process totals. A `realloc` counts as one allocation of the new size and one
/// deallocation of the old.
pub struct CountingAlloc<A = System> {
    inner: A,
}

impl<A> CountingAlloc<A> {
    /// Counts the allocations made through `inner`.
    pub const fn new(inner: A) -> Self {
        CountingAlloc { inner }
    }

    /// The allocator it wraps.
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

impl CountingAlloc<System> {
    /// Counts the allocations of the system allocator:
    /// `#[global_allocator] static ALLOC: profx::CountingAlloc = profx::CountingAlloc::system();`
    pub const fn system() -> CountingAlloc<System> {
        CountingAlloc::new(System)
    }
}

impl<A> std::fmt::Debug for CountingAlloc<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountingAlloc")
            .field("inner", &std::any::type_name::<A>())
            .finish()
    }
}

// SAFETY: every method forwards to `inner` with the same arguments and returns its result; the
// counting beside it does not touch the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the inner allocator's.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            on::allocated(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            on::allocated(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { self.inner.dealloc(ptr, layout) };
        on::freed(layout.size());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // On failure the old block is untouched: nothing to count.
            on::reallocated(layout.size(), new_size);
        }
        p
    }
}

/// Process-wide allocation totals, for the collector's snapshots (all zero when the counting
/// allocator is not installed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(dead_code)] // read by the collector
pub(crate) struct AllocTotals {
    /// Bytes allocated and not yet freed.
    pub(crate) heap_live_bytes: u64,
    /// Bytes allocated since the start.
    pub(crate) allocated_total_bytes: u64,
    /// Allocations since the start (a `realloc` is one, and one deallocation).
    pub(crate) allocations: u64,
    /// Deallocations since the start.
    pub(crate) deallocations: u64,
}

// `totals` is for the collector's snapshots.
#[allow(unused_imports)]
pub(crate) use on::{installed, totals};
#[cfg(feature = "enabled")]
pub(crate) use on::{mark, Mark, Tally};

#[cfg(all(feature = "alloc", feature = "enabled"))]
#[path = "counting.rs"]
mod on;

/// Without counting: the same names, doing nothing.
#[cfg(not(all(feature = "alloc", feature = "enabled")))]
#[path = "off.rs"]
mod on;

#[cfg(feature = "enabled")]
pub(crate) use on::{exclude, fold_at_thread_exit};

/// `v.push(x)` for profx's own lists: when the list grows, the new buffer is profx's memory,
/// not the running execution's (see `exclude`).
#[cfg(feature = "enabled")]
#[inline(always)]
pub(crate) fn push<T>(v: &mut Vec<T>, x: T) {
    if v.len() < v.capacity() {
        v.push(x);
    } else {
        grow(v, x);
    }
}

#[cfg(feature = "enabled")]
#[cold]
#[inline(never)]
fn grow<T>(v: &mut Vec<T>, x: T) {
    exclude(|| v.push(x));
}

#[cfg(all(test, feature = "alloc", feature = "enabled"))]
mod tests {
    use super::*;

    // A local instance: its events land in this thread's counters like the global one's would.
    static COUNTING: CountingAlloc = CountingAlloc::system();

    #[test]
    fn counts_on_this_thread_and_folds_into_the_totals() {
        let layout = Layout::from_size_align(4000, 8).unwrap();
        let before = totals();
        let m = mark();
        let mut ptrs = Vec::with_capacity(10);
        for _ in 0..10 {
            // SAFETY: a non-zero layout; freed below with the same layout.
            ptrs.push(unsafe { COUNTING.alloc(layout) });
        }
        let (bytes, count) = m.since().unwrap();
        assert_eq!((bytes, count), (40_000, 10));
        let mid = totals();
        // Other tests allocate at the same time: at least ours, folded on read.
        assert!(mid.allocated_total_bytes - before.allocated_total_bytes >= 40_000);
        assert!(mid.allocations - before.allocations >= 10);
        for p in ptrs {
            // SAFETY: allocated above with `layout`.
            unsafe { COUNTING.dealloc(p, layout) };
        }
        let after = totals();
        assert!(after.deallocations - mid.deallocations >= 10);
        assert!(installed());
    }

    #[test]
    fn realloc_is_one_allocation_of_the_new_size() {
        let layout = Layout::from_size_align(100, 8).unwrap();
        let m = mark();
        // SAFETY: allocated, grown, then freed with the grown layout.
        unsafe {
            let p = COUNTING.alloc(layout);
            let q = COUNTING.realloc(p, layout, 300);
            COUNTING.dealloc(q, Layout::from_size_align(300, 8).unwrap());
        }
        assert_eq!(m.since().unwrap(), (400, 2));
    }

    #[test]
    fn excluded_allocations_are_left_out_even_when_nested() {
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: each block is freed with the layout it was allocated with.
        let one = || unsafe { COUNTING.dealloc(COUNTING.alloc(layout), layout) };
        let m = mark();
        one();
        exclude(|| {
            one();
            exclude(one);
            one();
        });
        one();
        assert_eq!(m.since().unwrap(), (128, 2));
    }

    #[test]
    fn a_mark_of_another_thread_gives_nothing() {
        let m = std::thread::spawn(mark).join().unwrap();
        assert_eq!(m.since(), None);
    }

    #[test]
    fn staleness_is_bounded_per_thread() {
        // After any event, what is not folded costs less than the budget.
        let layout = Layout::from_size_align(16, 8).unwrap();
        for _ in 0..1000 {
            // SAFETY: allocated and freed with the same layout.
            unsafe { COUNTING.dealloc(COUNTING.alloc(layout), layout) };
            let (events, bytes) = on::pending();
            assert!(events < 256 && bytes < 256 * 1024, "{events} {bytes}");
        }
    }
}
