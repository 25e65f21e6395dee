//! The counters of one (name, parent) key on one thread.

use std::cell::UnsafeCell;
use std::sync::atomic::{fence, AtomicU64, Ordering::*};

use crate::histogram::sparse::{Pool, Sparse};
use crate::histogram::Counts;

use super::ended::Ended;
use super::rings::LineCursor;

/// The counters of one key on one thread. Written by the owning thread only, with relaxed
/// loads and stores (no read-modify-write); read by any thread.
///
/// `count` is a sequence word: twice the calls, odd while one is being written. A reader takes
/// the totals between two equal even readings, so that its count, sum, min, max, failures and
/// memory come from the same calls; the writer never waits (the histogram is counted before,
/// outside that window: it may hold one call more than the count a reader sees).
///
/// Durations are clock ticks. A slot belongs to one generation of its profiler (`clear()`
/// starts a new one, whose calls go to new slots; see `ThreadTable`).
pub(crate) struct Slot {
    /// Twice the calls; odd while one is being written.
    seq: AtomicU64,
    sum: AtomicU64,
    /// The time of the phases nested directly in the calls, summed (their self time is
    /// `sum - nested`; see `ExecState::nested`).
    nested: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    failures: AtomicU64,
    cancelled: AtomicU64,
    mem_sum: AtomicU64,
    hist: Sparse,
    pub(crate) name: u32,
    pub(crate) parent: u32,
    /// On an agent's own slot: the slots of its ring this thread has claimed and not filled
    /// yet, so that publishing a kept execution starts from the slot its aggregate was just
    /// counted in. Owner only (see the `Sync` impl).
    claim: UnsafeCell<LineCursor>,
}

// SAFETY: everything but `claim` is atomics or written once before the slot is shared; `claim`
// is only touched by the thread that owns the slot's table, through `claim()`, whose callers
// hold no other borrow of it (see `ThreadTable::publish`).
unsafe impl Sync for Slot {}
// SAFETY: the claim's pointers are addresses in a ring that the owning table keeps alive; a
// slot dropped on another thread never follows them.
unsafe impl Send for Slot {}

/// What a reader takes from a slot (durations in ticks).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SlotTotals {
    pub(crate) count: u64,
    pub(crate) failures: u64,
    pub(crate) cancelled: u64,
    pub(crate) sum: u64,
    pub(crate) nested: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) mem_sum: u64,
}

#[inline(always)]
fn bump(a: &AtomicU64, by: u64) {
    // Single writer: a load and a store, no read-modify-write.
    a.store(a.load(Relaxed).wrapping_add(by), Relaxed);
}

/// The owning thread's read of a total it alone writes: a plain load, which the compiler may
/// fold into the instruction using it (`cmp` with a memory operand), as it does not an atomic
/// one.
#[inline(always)]
fn own(a: &AtomicU64) -> u64 {
    // SAFETY: only the owner writes `a`, and it is the caller: no write can race with this
    // read (other threads only read, atomically, which is no data race with a read).
    unsafe { *a.as_ptr() }
}

/// What a thread's index holds for a name without a slot there: a slot no key has, whose
/// parent matches none (never written).
pub(crate) static NO_SLOT: Slot = Slot::new(0, u32::MAX - 1);

impl Slot {
    pub(crate) const fn new(name: u32, parent: u32) -> Slot {
        Slot {
            seq: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            nested: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            mem_sum: AtomicU64::new(0),
            hist: Sparse::new(),
            name,
            parent,
            claim: UnsafeCell::new(LineCursor::EMPTY),
        }
    }

    /// The claimed ring slots not filled yet. Owner only, with no other borrow of them alive.
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    pub(crate) fn claim(&self) -> &mut LineCursor {
        // SAFETY: see the `Sync` impl.
        unsafe { &mut *self.claim.get() }
    }

    /// Records one call of `ticks`, growing the histogram from `pool` if it must. Only the
    /// owning thread calls this.
    #[inline(always)]
    pub(crate) fn record(&self, ticks: u64, nested: u64, ended: Ended, mem: u64, pool: &mut Pool) {
        if !self.try_count(ticks) {
            self.count_slow(ticks, pool);
        }
        self.commit_any(ticks, nested, ended, mem);
    }

    #[cold]
    #[inline(never)]
    fn count_slow(&self, ticks: u64, pool: &mut Pool) {
        self.hist.add_slow(ticks, pool);
    }

    /// Counts `ticks` in the histogram if that takes no allocation; `false` (nothing counted)
    /// otherwise. The first half of [`record`](Slot::record), for paths that must check
    /// everything before they change anything.
    #[inline(always)]
    pub(crate) fn try_count(&self, ticks: u64) -> bool {
        self.hist.try_add(ticks)
    }

    /// The second half of [`record`](Slot::record): everything but the histogram. For a
    /// `mem` known at compile time (a sync phase's 0, which makes its test vanish).
    #[inline(always)]
    pub(crate) fn commit(&self, ticks: u64, nested: u64, ended: Ended, mem: u64) {
        self.commit_as::<false>(ticks, nested, ended, mem)
    }

    /// [`commit`](Slot::commit) for a `mem` known at run time only: added whatever it is (one
    /// instruction, where its test would be two).
    #[inline(always)]
    pub(crate) fn commit_any(&self, ticks: u64, nested: u64, ended: Ended, mem: u64) {
        self.commit_as::<true>(ticks, nested, ended, mem)
    }

    #[inline(always)]
    fn commit_as<const ANY_MEM: bool>(&self, ticks: u64, nested: u64, ended: Ended, mem: u64) {
        // Odd (each step a load and a store of its own: one `inc` of memory on x86).
        self.seq
            .store(self.seq.load(Relaxed).wrapping_add(1), Relaxed);
        // Orders the odd sequence before the writes below (no instruction on x86).
        fence(Release);
        bump(&self.sum, ticks);
        bump(&self.nested, nested);
        if ticks < own(&self.min) {
            self.min.store(ticks, Relaxed);
        }
        if ticks > own(&self.max) {
            self.max.store(ticks, Relaxed);
        }
        if ANY_MEM || mem != 0 {
            bump(&self.mem_sum, mem);
        }
        if ended != Ended::Ok {
            self.count_ended(ended);
        }
        // Even again, with Release: a reader that sees it sees the whole call.
        self.seq
            .store(self.seq.load(Relaxed).wrapping_add(1), Release);
    }

    /// Counts a call that did not succeed (out of line: the successful call falls through).
    #[cold]
    #[inline(never)]
    fn count_ended(&self, ended: Ended) {
        match ended {
            Ended::Ok => {}
            Ended::Failed => bump(&self.failures, 1),
            Ended::Cancelled => bump(&self.cancelled, 1),
        }
    }

    /// Calls recorded so far (those complete; no histogram read).
    #[inline]
    pub(crate) fn calls(&self) -> u64 {
        self.seq.load(Acquire) / 2
    }

    /// Adds this slot's histogram to `into` and returns its totals (`None`: no call yet). The
    /// totals are of the same calls (see [`Slot`]); a call being written is waited for, which
    /// takes the writer a few instructions.
    pub(crate) fn read(&self, into: &mut Counts) -> Option<SlotTotals> {
        let mut spins = 0u32;
        let totals = loop {
            let seq = self.seq.load(Acquire);
            if seq == 0 {
                return None;
            }
            if seq % 2 == 0 {
                let t = SlotTotals {
                    count: seq / 2,
                    failures: self.failures.load(Relaxed),
                    cancelled: self.cancelled.load(Relaxed),
                    sum: self.sum.load(Relaxed),
                    nested: self.nested.load(Relaxed),
                    min: self.min.load(Relaxed),
                    max: self.max.load(Relaxed),
                    mem_sum: self.mem_sum.load(Relaxed),
                };
                fence(Acquire);
                if self.seq.load(Relaxed) == seq {
                    break t;
                }
            }
            // The writer is inside its few stores (or was preempted there).
            spins += 1;
            if spins % 64 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        };
        self.hist.read_into(into);
        Some(totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_small() {
        // One per key and thread: 64 threads x 1,000 keys must stay within 32 MiB with their
        // counters. Eight totals (the nested time among them); the histogram's directory pointer,
        // its first window (a header and four entries), the writer's mask and biased
        // directory, and a pointer to what is rarely there (spills); the key; the next slot
        // of a claim in an agent's ring. (The generation is the table's list's.) 152 bytes and
        // the `Arc`'s two counts make an allocation of 168, which glibc serves from a chunk
        // of 176; 8 more would take one of 192.
        assert!(
            std::mem::size_of::<Slot>() <= 152,
            "{}",
            std::mem::size_of::<Slot>()
        );
    }

    #[test]
    fn a_read_is_never_torn() {
        // One writer records calls of 1,000 ticks (failed, 7 bytes) while a reader reads in a
        // loop: every read's totals are of the same calls. The writer goes on until the
        // reader has read a thousand times, so that the two overlap however they are
        // scheduled.
        use std::sync::atomic::AtomicBool;
        const CALLS: u64 = 100_000;
        let s = std::sync::Arc::new(Slot::new(1, 2));
        let enough = std::sync::Arc::new(AtomicBool::new(false));
        let writer = {
            let (s, enough) = (s.clone(), enough.clone());
            std::thread::spawn(move || {
                let mut pool = Pool::default();
                let mut calls = 0u64;
                while calls < CALLS || !enough.load(Relaxed) {
                    let ended = if calls % 3 == 0 {
                        Ended::Cancelled
                    } else {
                        Ended::Failed
                    };
                    s.record(1_000, 0, ended, 7, &mut pool);
                    calls += 1;
                }
                calls
            })
        };
        let mut c = Counts::new();
        let (mut reads, mut last) = (0u64, 0u64);
        while !writer.is_finished() {
            if let Some(t) = s.read(&mut c) {
                assert_eq!(t.sum, 1_000 * t.count, "{t:?}");
                assert_eq!(t.failures + t.cancelled, t.count, "{t:?}");
                assert_eq!(t.cancelled, t.count.div_ceil(3), "{t:?}");
                assert_eq!(t.mem_sum, 7 * t.count, "{t:?}");
                assert_eq!((t.min, t.max), (1_000, 1_000), "{t:?}");
                assert!(t.count >= last, "went back: {} after {last}", t.count);
                last = t.count;
                reads += 1;
                if reads == 1_000 {
                    enough.store(true, Relaxed);
                }
            }
            c.clear();
        }
        let calls = writer.join().unwrap();
        assert_eq!(s.read(&mut c).unwrap().count, calls);
        assert!(reads >= 1_000);
    }

    #[test]
    fn record_then_read() {
        let s = Slot::new(1, 2);
        let mut pool = Pool::default();
        for t in [10u64, 1_000, 1_000_000, 5] {
            let ended = match t {
                5 => Ended::Failed,
                10 => Ended::Cancelled,
                _ => Ended::Ok,
            };
            s.record(t, 0, ended, 7, &mut pool);
        }
        let mut c = Counts::new();
        let t = s.read(&mut c).unwrap();
        assert_eq!((t.count, t.failures, t.cancelled), (4, 1, 1));
        assert_eq!((t.min, t.max), (5, 1_000_000));
        assert_eq!((t.sum, t.mem_sum), (1_001_015, 28));
        assert_eq!(c.quantiles([1.0], 4, t.min, t.max), [1_000_000]);
    }
}
