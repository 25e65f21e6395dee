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
mod on {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

    use super::AllocTotals;

    /// What an event costs against a thread's budget beyond its size.
    const EVENT_COST: u64 = 1024;
    /// A thread folds its counts into the totals once its events since the last fold cost this.
    const BUDGET: u64 = 256 * 1024;

    /// One thread's counters. Only that thread touches them.
    #[repr(align(64))]
    struct Local {
        /// Monotonic: what the executions read.
        allocated: Cell<u64>,
        allocations: Cell<u64>,
        /// Freed since the last fold.
        pending_freed: Cell<u64>,
        pending_deallocations: Cell<u64>,
        /// What is left before the next fold.
        budget: Cell<u64>,
        /// `allocated` and `allocations` at the last fold.
        folded_allocated: Cell<u64>,
        folded_allocations: Cell<u64>,
        /// Made by profx itself (see [`exclude`]): left out of what executions read.
        own_allocated: Cell<u64>,
        own_allocations: Cell<u64>,
    }

    thread_local! {
        // Constant-initialized and without destructor: no lazy initialization, no destructor
        // registration, nothing that could allocate.
        static LOCAL: Local = const {
            Local {
                allocated: Cell::new(0),
                allocations: Cell::new(0),
                pending_freed: Cell::new(0),
                pending_deallocations: Cell::new(0),
                budget: Cell::new(0),
                folded_allocated: Cell::new(0),
                folded_allocations: Cell::new(0),
                own_allocated: Cell::new(0),
                own_allocations: Cell::new(0),
            }
        };
    }

    #[repr(align(64))]
    struct Totals {
        allocated: AtomicU64,
        allocations: AtomicU64,
        freed: AtomicU64,
        deallocations: AtomicU64,
    }

    static TOTALS: Totals = Totals {
        allocated: AtomicU64::new(0),
        allocations: AtomicU64::new(0),
        freed: AtomicU64::new(0),
        deallocations: AtomicU64::new(0),
    };

    /// Read by every execution: on a cache line of its own, written once.
    #[repr(align(64))]
    struct Flag(AtomicBool);
    static INSTALLED: Flag = Flag(AtomicBool::new(false));

    impl Local {
        /// Charges `events` events of `bytes` bytes in all, folding when the budget is spent.
        #[inline(always)]
        fn spend(&self, bytes: usize, events: u64) {
            let cost = (bytes as u64).saturating_add(events * EVENT_COST);
            let left = self.budget.get();
            if cost < left {
                self.budget.set(left - cost);
            } else {
                self.fold();
            }
        }

        /// Adds what this thread counted since its last fold to the totals.
        #[cold]
        #[inline(never)]
        fn fold(&self) {
            if !INSTALLED.0.load(Relaxed) {
                INSTALLED.0.store(true, Relaxed);
            }
            let a = self.allocated.get();
            let d = a.wrapping_sub(self.folded_allocated.replace(a));
            if d != 0 {
                TOTALS.allocated.fetch_add(d, Relaxed);
            }
            let n = self.allocations.get();
            let d = n.wrapping_sub(self.folded_allocations.replace(n));
            if d != 0 {
                TOTALS.allocations.fetch_add(d, Relaxed);
            }
            let f = self.pending_freed.replace(0);
            if f != 0 {
                TOTALS.freed.fetch_add(f, Relaxed);
            }
            let f = self.pending_deallocations.replace(0);
            if f != 0 {
                TOTALS.deallocations.fetch_add(f, Relaxed);
            }
            self.budget.set(BUDGET);
        }
    }

    #[inline(always)]
    pub(super) fn allocated(size: usize) {
        let _ = LOCAL.try_with(|l| {
            l.allocated.set(l.allocated.get().wrapping_add(size as u64));
            l.allocations.set(l.allocations.get().wrapping_add(1));
            l.spend(size, 1);
        });
    }

    #[inline(always)]
    pub(super) fn freed(size: usize) {
        let _ = LOCAL.try_with(|l| {
            l.pending_freed
                .set(l.pending_freed.get().wrapping_add(size as u64));
            l.pending_deallocations
                .set(l.pending_deallocations.get().wrapping_add(1));
            l.spend(size, 1);
        });
    }

    #[inline(always)]
    pub(super) fn reallocated(old: usize, new: usize) {
        let _ = LOCAL.try_with(|l| {
            l.allocated.set(l.allocated.get().wrapping_add(new as u64));
            l.allocations.set(l.allocations.get().wrapping_add(1));
            l.pending_freed
                .set(l.pending_freed.get().wrapping_add(old as u64));
            l.pending_deallocations
                .set(l.pending_deallocations.get().wrapping_add(1));
            l.spend(new.saturating_add(old), 2);
        });
    }

    /// Whether the counting allocator has been used (so is, in practice, the global one).
    #[inline(always)]
    pub(crate) fn installed() -> bool {
        INSTALLED.0.load(Relaxed)
    }

    /// The process-wide totals, with this thread's pending counts folded first. Each other
    /// running thread may still hold fewer than 256 events and 256 KiB.
    #[allow(dead_code)] // read by the collector
    pub(crate) fn totals() -> AllocTotals {
        if installed() {
            let _ = LOCAL.try_with(Local::fold);
        }
        let allocated = TOTALS.allocated.load(Relaxed);
        let freed = TOTALS.freed.load(Relaxed);
        AllocTotals {
            // Another thread may have folded a free before the allocation it frees was folded.
            heap_live_bytes: allocated.saturating_sub(freed),
            allocated_total_bytes: allocated,
            allocations: TOTALS.allocations.load(Relaxed),
            deallocations: TOTALS.deallocations.load(Relaxed),
        }
    }

    /// Folds the pending counts of the threads that record into the global profiler when they
    /// exit. Called once per thread, outside the allocator (registering a thread-local
    /// destructor may allocate).
    pub(crate) fn fold_at_thread_exit() {
        struct FoldOnExit;
        impl Drop for FoldOnExit {
            fn drop(&mut self) {
                let _ = LOCAL.try_with(|l| l.fold());
            }
        }
        thread_local! {
            static EXIT: FoldOnExit = const { FoldOnExit };
        }
        if installed() {
            let _ = EXIT.try_with(|_| ());
        }
    }

    /// This thread's events and bytes not yet folded into the totals.
    #[cfg(test)]
    pub(super) fn pending() -> (u64, u64) {
        LOCAL.with(|l| {
            let n = l.allocations.get() - l.folded_allocations.get();
            let b = l.allocated.get() - l.folded_allocated.get();
            (n + l.pending_deallocations.get(), b + l.pending_freed.get())
        })
    }

    /// A thread's counters at one moment.
    #[derive(Clone, Copy, Debug, Default)]
    pub(crate) struct Mark {
        bytes: u64,
        count: u64,
        /// The address of the thread's counters: which thread it was.
        thread: usize,
    }

    /// The calling thread's counters now, less what profx allocated itself.
    #[inline(always)]
    pub(crate) fn mark() -> Mark {
        LOCAL
            .try_with(|l| Mark {
                bytes: l.allocated.get().wrapping_sub(l.own_allocated.get()),
                count: l.allocations.get().wrapping_sub(l.own_allocations.get()),
                thread: l as *const Local as usize,
            })
            .unwrap_or_default()
    }

    /// Runs `f`, whose allocations are profx's own bookkeeping (a thread's first table, a new
    /// slot, a name, a longer list of phase records): no execution counts them. `f` must not
    /// start or end an execution's count.
    #[inline]
    pub(crate) fn exclude<R>(f: impl FnOnce() -> R) -> R {
        if !installed() {
            return f();
        }
        let m = mark();
        let r = f();
        if let Some((b, n)) = m.since() {
            let _ = LOCAL.try_with(|l| {
                l.own_allocated.set(l.own_allocated.get().wrapping_add(b));
                l.own_allocations
                    .set(l.own_allocations.get().wrapping_add(n));
            });
        }
        r
    }

    impl Mark {
        /// (bytes, allocations) on this thread since `self`; `None` on another thread.
        #[inline(always)]
        pub(crate) fn since(self) -> Option<(u64, u64)> {
            let now = mark();
            if now.thread != self.thread || now.thread == 0 {
                return None;
            }
            // Saturating: a thread that reuses an exited thread's counters starts from zero.
            Some((
                now.bytes.saturating_sub(self.bytes),
                now.count.saturating_sub(self.count),
            ))
        }
    }

    /// What one execution allocated.
    ///
    /// - Sync (`#[agent]` on a fn, or a manual execution that ends on the thread it started
    ///   on): the thread's counters from start to end.
    /// - Async (`#[agent]` on an `async fn`): the sum over its polls, each on the thread that
    ///   ran it.
    ///
    /// Small on purpose: it lives in every running execution, which the agent path moves.
    #[derive(Debug, Default)]
    pub(crate) struct Tally {
        /// Sync: the thread's counters at the start. Async (once polled): the sum so far.
        bytes: u64,
        count: u64,
        /// The thread it started on (0: not counting), or [`POLLED`].
        thread: usize,
    }

    /// `Tally::thread` of an async execution, once polled.
    const POLLED: usize = usize::MAX;

    impl Tally {
        /// Starts counting now (nothing when the allocator is not installed).
        #[inline(always)]
        pub(crate) fn start() -> Tally {
            if !installed() {
                return Tally::default();
            }
            let m = mark();
            Tally {
                bytes: m.bytes,
                count: m.count,
                thread: m.thread,
            }
        }

        /// Starts a poll of an async execution (`None`: not counting).
        #[inline(always)]
        pub(crate) fn poll_start(&mut self) -> Option<Mark> {
            if !installed() {
                return None;
            }
            if self.thread != POLLED {
                *self = Tally {
                    bytes: 0,
                    count: 0,
                    thread: POLLED,
                };
            }
            Some(mark())
        }

        /// Ends a poll started with [`poll_start`](Tally::poll_start).
        #[inline(always)]
        pub(crate) fn poll_end(&mut self, m: Mark) {
            if let Some((b, n)) = m.since() {
                self.bytes = self.bytes.wrapping_add(b);
                self.count = self.count.wrapping_add(n);
            }
        }

        /// Whether `m` was taken on another thread than the one this execution started on
        /// (a manual execution's `in_scope` there counts on its own).
        pub(crate) fn elsewhere(&self, m: &Mark) -> bool {
            self.thread != POLLED && m.thread != self.thread
        }

        /// Ends the execution: (bytes allocated, allocations).
        #[inline(always)]
        pub(crate) fn finish(&mut self) -> (u64, u64) {
            if self.thread == POLLED {
                return (self.bytes, self.count);
            }
            if self.thread == 0 {
                return (0, 0);
            }
            let start = Mark {
                bytes: self.bytes,
                count: self.count,
                thread: self.thread,
            };
            start.since().unwrap_or((0, 0))
        }
    }
}

/// Without counting: the same names, doing nothing.
#[cfg(not(all(feature = "alloc", feature = "enabled")))]
mod on {
    use super::AllocTotals;

    #[inline(always)]
    pub(super) fn allocated(_: usize) {}
    #[inline(always)]
    pub(super) fn freed(_: usize) {}
    #[inline(always)]
    pub(super) fn reallocated(_: usize, _: usize) {}

    #[inline(always)]
    #[cfg_attr(not(feature = "enabled"), allow(dead_code))]
    pub(crate) fn installed() -> bool {
        false
    }

    #[allow(dead_code)] // read by the collector
    pub(crate) fn totals() -> AllocTotals {
        AllocTotals::default()
    }

    #[cfg(feature = "enabled")]
    pub(crate) fn fold_at_thread_exit() {}

    #[cfg(feature = "enabled")]
    #[inline(always)]
    pub(crate) fn exclude<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    #[cfg(feature = "enabled")]
    #[derive(Clone, Copy, Debug, Default)]
    pub(crate) struct Mark;

    #[cfg(feature = "enabled")]
    impl Mark {
        pub(crate) fn since(self) -> Option<(u64, u64)> {
            None
        }
    }

    #[cfg(feature = "enabled")]
    #[inline(always)]
    pub(crate) fn mark() -> Mark {
        Mark
    }

    #[cfg(feature = "enabled")]
    #[derive(Debug, Default)]
    pub(crate) struct Tally;

    #[cfg(feature = "enabled")]
    impl Tally {
        #[inline(always)]
        pub(crate) fn start() -> Tally {
            Tally
        }
        #[inline(always)]
        pub(crate) fn poll_start(&mut self) -> Option<Mark> {
            None
        }
        #[inline(always)]
        pub(crate) fn poll_end(&mut self, _: Mark) {}
        pub(crate) fn elsewhere(&self, _: &Mark) -> bool {
            false
        }
        #[inline(always)]
        pub(crate) fn finish(&mut self) -> (u64, u64) {
            (0, 0)
        }
    }
}

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
