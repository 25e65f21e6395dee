//! The recent executions of each agent: records in rings shared by all threads, read under
//! hazard pointers so that a writer keeps at most one record per reader aside.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};

use super::lock;
use super::record::ExecRecord;

/// The recent executions of one agent: a ring of records shared by all threads, of which
/// readers show the `PROFX_MAX_EXECUTIONS` newest.
///
/// A writer claims [`CLAIM`] slots at a time, one cache line of slot pointers, with one
/// `fetch_add`, and swaps its records into them one by one: threads publishing into the same
/// ring write lines of their own and meet on the head once per `CLAIM` records. The record a
/// swap takes out may be in the middle of being copied by a reader, so it is only reused (or
/// freed) once no reader holds it; see [`Rings`].
///
/// The slots are a power of two at least `PROFX_MAX_EXECUTIONS` (a claim is a mask, not a
/// division). A line claimed by a thread that has not filled it yet still holds older
/// records, which is why the slots are more than enough and readers take the newest by time.
pub(crate) struct Ring {
    pub(crate) agent: u32,
    /// Slots claimed so far (a multiple of `CLAIM`).
    head: AtomicUsize,
    /// Slots less one.
    mask: usize,
    slots: Box<[Line]>,
}

/// The next slot of a line a thread claimed in a ring and has not filled yet. Lines are
/// aligned to their size, so the end of a line is the next one's start: a cursor at a line's
/// boundary (or null: nothing claimed) has nothing left, and the next line is claimed. One
/// word, where a pair `next..end` took two in every agent's slot.
pub(crate) struct LineCursor {
    pub(crate) next: *const AtomicPtr<ExecRecord>,
}

impl LineCursor {
    /// Nothing claimed.
    pub(crate) const EMPTY: LineCursor = LineCursor {
        next: std::ptr::null(),
    };

    /// Nothing left of the line: claim the next one.
    #[inline(always)]
    pub(crate) fn exhausted(&self) -> bool {
        (self.next as usize) % std::mem::size_of::<Line>() == 0
    }
}

/// Slots a writer claims at once: a cache line of slot pointers.
pub(crate) const CLAIM: usize = 8;

/// `CLAIM` slots, on a cache line of their own (aligned to their size: see [`LineCursor`]).
#[repr(C, align(64))]
struct Line([AtomicPtr<ExecRecord>; CLAIM]);

const _: () = assert!(std::mem::size_of::<Line>() == std::mem::align_of::<Line>());

impl Ring {
    fn new(agent: u32, capacity: usize) -> Ring {
        let size = capacity.max(1).next_power_of_two().max(CLAIM);
        Ring {
            agent,
            head: AtomicUsize::new(0),
            mask: size - 1,
            slots: (0..size / CLAIM)
                .map(|_| Line([const { AtomicPtr::new(std::ptr::null_mut()) }; CLAIM]))
                .collect(),
        }
    }

    /// Claims the next `CLAIM` slots (a line): the first one's index.
    #[inline]
    pub(crate) fn claim(&self) -> usize {
        self.head.fetch_add(CLAIM, Relaxed) & self.mask
    }

    /// Claims the next line: its `CLAIM` slots, which [`put_at`](Ring::put_at) fills in turn.
    #[inline]
    pub(crate) fn claim_line(&self) -> LineCursor {
        // A claimed index is a multiple of `CLAIM` below the slots' number (masked).
        LineCursor {
            next: self.slots[self.claim() / CLAIM].0.as_ptr(),
        }
    }

    /// Stores `rec` in slot `i`, claimed by this thread, returning the record it evicted
    /// (null when the slot was empty).
    #[cfg(test)]
    pub(crate) fn put(&self, i: usize, rec: Box<ExecRecord>) -> *mut ExecRecord {
        // SAFETY: a slot of this ring, claimed by this thread.
        unsafe { Self::put_at(&self.slots[i / CLAIM].0[i % CLAIM], rec) }
    }

    /// Stores `rec` in `slot`, returning the record it evicted (null when the slot was empty).
    ///
    /// # Safety
    /// `slot` is one of a line this thread claimed ([`claim_line`](Ring::claim_line)) in a
    /// ring it keeps alive.
    #[inline(always)]
    pub(crate) unsafe fn put_at(
        slot: *const AtomicPtr<ExecRecord>,
        rec: Box<ExecRecord>,
    ) -> *mut ExecRecord {
        // SeqCst: ordered against the writer's later load of `readers` (see `Rings`).
        // SAFETY: the caller's.
        unsafe { (*slot).swap(Box::into_raw(rec), SeqCst) }
    }

    fn each_slot(&self) -> impl Iterator<Item = &AtomicPtr<ExecRecord>> {
        self.slots.iter().flat_map(|l| l.0.iter())
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        for s in self.slots.iter_mut().flat_map(|l| l.0.iter_mut()) {
            let p = *s.get_mut();
            if !p.is_null() {
                // SAFETY: records in the ring were made by `Box::into_raw` and are owned by it.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// How many readers may copy records at once (more wait for a turn): the most records a writer
/// ever keeps aside.
pub(crate) const HAZARDS: usize = 8;

/// The rings of a profiler, by agent.
///
/// Reading protocol (hazard pointers): a reader takes one of [`HAZARDS`] turns, increments
/// `readers`, and for each slot loads the record, announces it in its hazard, and checks the
/// slot still holds it before copying what it needs; then it clears its hazard and
/// decrements. A writer that evicts a record checks `readers` after its swap: at zero, no
/// reader can hold the evicted record (one that started later cannot see it any more: both
/// sides use SeqCst), so it is recycled at once; otherwise it is kept aside only if a hazard
/// names it — at most one record per reader, whatever the readers do or how long they take.
pub(crate) struct Rings {
    list: Mutex<Vec<Option<Arc<Ring>>>>,
    pub(crate) readers: AtomicUsize,
    /// The record each reader's turn is copying (null: none).
    hazards: [AtomicPtr<ExecRecord>; HAZARDS],
    /// Which turns are taken.
    turns: [AtomicBool; HAZARDS],
}

impl Rings {
    pub(crate) fn new() -> Rings {
        Rings {
            list: Mutex::new(Vec::new()),
            readers: AtomicUsize::new(0),
            hazards: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            turns: std::array::from_fn(|_| AtomicBool::new(false)),
        }
    }

    /// Whether a reader is copying `rec` now (or may be about to: it announced it). The writer
    /// that evicted `rec` asks, after its swap.
    pub(crate) fn held(&self, rec: *mut ExecRecord) -> bool {
        self.hazards.iter().any(|h| h.load(SeqCst) == rec)
    }

    pub(crate) fn get_or_make(&self, agent: u32, capacity: usize) -> Arc<Ring> {
        let mut list = lock(&self.list);
        let i = agent as usize;
        if list.len() <= i {
            list.resize(i + 1, None);
        }
        list[i]
            .get_or_insert_with(|| Arc::new(Ring::new(agent, capacity)))
            .clone()
    }

    /// Calls `f` with every record of an execution that ended at or after the clock reading
    /// `since` (the last `clear()`; of one agent, or all); no record is reused while `f` has
    /// it. Writers never wait for a reader; a reader waits for a turn
    /// when [`HAZARDS`] others read.
    pub(crate) fn read(&self, agent: Option<u32>, since: u64, mut f: impl FnMut(&ExecRecord)) {
        let rings: Vec<Arc<Ring>> = lock(&self.list).iter().flatten().cloned().collect();
        let turn = self.take_turn();
        self.readers.fetch_add(1, SeqCst);
        let hazard = &self.hazards[turn];
        struct Done<'a>(&'a Rings, usize);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.hazards[self.1].store(std::ptr::null_mut(), SeqCst);
                self.0.readers.fetch_sub(1, SeqCst);
                self.0.turns[self.1].store(false, Release);
            }
        }
        let _done = Done(self, turn);
        for ring in rings.iter().filter(|r| agent.is_none_or(|a| a == r.agent)) {
            for s in ring.each_slot() {
                let mut p = s.load(SeqCst);
                while !p.is_null() {
                    hazard.store(p, SeqCst);
                    let now = s.load(SeqCst);
                    if now != p {
                        // Evicted in between: it may be reused already; take the new one.
                        p = now;
                        continue;
                    }
                    // SAFETY: `p` was in the slot after the hazard named it, so the writer
                    // that evicts it sees the hazard (both sides SeqCst) and keeps it aside
                    // until the hazard moves on; records in a slot are complete.
                    let r = unsafe { &*p };
                    if r.start.saturating_add(r.duration) >= since {
                        f(r);
                    }
                    break;
                }
            }
        }
    }

    /// A free turn (index into `hazards`), waiting while every one is taken.
    fn take_turn(&self) -> usize {
        loop {
            for (i, t) in self.turns.iter().enumerate() {
                if t.compare_exchange(false, true, Acquire, Relaxed).is_ok() {
                    return i;
                }
            }
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_lines_of_their_own() {
        // Two writers, each with its claim, publishing in turn: each fills the line it
        // claimed, and a reader finds every record.
        let rings = Rings::new();
        let ring = rings.get_or_make(1, 20);
        assert_eq!(ring.slots.len() * CLAIM, 32);
        let mut claims = [(0, 0); 2];
        for serial in 0..24u64 {
            let c = &mut claims[serial as usize % 2];
            if c.0 == c.1 {
                let first = ring.claim();
                *c = (first, first + CLAIM);
            }
            assert_eq!(c.0 / CLAIM, (c.1 - 1) / CLAIM, "a claim is one line");
            let old = ring.put(
                c.0,
                Box::new(ExecRecord {
                    agent: 1,
                    serial,
                    ..Default::default()
                }),
            );
            assert!(old.is_null());
            c.0 += 1;
        }
        let mut seen = Vec::new();
        rings.read(Some(1), 0, |r| seen.push(r.serial));
        seen.sort_unstable();
        assert_eq!(seen, (0..24).collect::<Vec<_>>());
    }

    #[test]
    fn a_record_read_is_held_and_released() {
        let rings = Rings::new();
        let ring = rings.get_or_make(3, 8);
        let first = ring.claim();
        for serial in 0..8 {
            let old = ring.put(
                first + serial as usize,
                Box::new(ExecRecord {
                    agent: 3,
                    serial,
                    ..Default::default()
                }),
            );
            assert!(old.is_null());
        }
        let mut seen = Vec::new();
        rings.read(Some(3), 0, |r| {
            // While a record is read its hazard names it: a writer evicting it keeps it aside.
            assert!(rings.held(r as *const ExecRecord as *mut ExecRecord));
            seen.push(r.serial);
        });
        assert_eq!(seen, [0, 1, 2, 3, 4, 5, 6, 7]);
        // Read done: nothing is held, every turn is free again.
        let first = ring.put(ring.claim(), Box::default());
        assert!(!first.is_null() && !rings.held(first));
        assert_eq!(rings.readers.load(SeqCst), 0);
        assert!(rings.turns.iter().all(|t| !t.load(SeqCst)));
        // SAFETY: evicted, and no reader holds it.
        drop(unsafe { Box::from_raw(first) });
    }
}
