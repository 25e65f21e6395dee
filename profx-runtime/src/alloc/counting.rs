//! The counting side (features `alloc` and `enabled`): per-thread counters, their folds into
//! the process totals, and the marks and tallies executions read them with.

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
            crate::profiler::alloc_installed();
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
        let mut t = Tally::default();
        t.begin();
        t
    }

    /// Starts counting now, into a tally made with `Default` (left so when the allocator is
    /// not installed).
    #[inline(always)]
    pub(crate) fn begin(&mut self) {
        if installed() {
            self.begin_counting();
        }
    }

    #[cold]
    #[inline(never)]
    fn begin_counting(&mut self) {
        let m = mark();
        *self = Tally {
            bytes: m.bytes,
            count: m.count,
            thread: m.thread,
        };
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

    /// Starts counting now, into a tally made with `Default`, when `armed` (the value of
    /// `ARMED` the caller read) says the allocator is installed.
    #[inline(always)]
    pub(crate) fn begin_if(&mut self, armed: u32) {
        if armed & crate::profiler::ALLOC_ON != 0 {
            self.begin_counting();
        }
    }

    /// [`settle`](Tally::settle) for a sync execution (one that is not polled).
    #[inline(always)]
    pub(crate) fn settle_sync_once(&mut self) {
        if self.thread != 0 {
            debug_assert_ne!(self.thread, POLLED);
            self.settle_sync();
        }
    }

    /// Ends the execution's counting: from now on [`totals`](Tally::totals) are what it
    /// allocated. (Not counting, or async: they are already.)
    #[inline(always)]
    pub(crate) fn settle(&mut self) {
        if self.thread != 0 && self.thread != POLLED {
            self.settle_sync();
        }
    }

    /// A sync execution's counters from its start to now.
    #[inline(never)]
    fn settle_sync(&mut self) {
        let start = Mark {
            bytes: self.bytes,
            count: self.count,
            thread: self.thread,
        };
        (self.bytes, self.count) = start.since().unwrap_or((0, 0));
        self.thread = POLLED;
    }

    /// (bytes allocated, allocations), once [`settle`](Tally::settle)d (zeros when not
    /// counting: a tally that never began holds them).
    #[inline(always)]
    pub(crate) fn totals(&self) -> (u64, u64) {
        (self.bytes, self.count)
    }
}
