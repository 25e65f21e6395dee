//! The recent executions of each agent: records in rings shared by all threads, read under
//! hazard pointers so that a writer keeps at most one record per reader aside.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};

use super::ended::Ended;
use super::lock;

/// A phase inside a kept execution (clock ticks).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawPhase {
    /// The clock reading at its start.
    pub(crate) start: u64,
    pub(crate) duration: u64,
    pub(crate) name: u32,
    /// The depth plus one (its *level*: the execution's depth while it ran, which the hot path
    /// has at hand), and how it ended in the top two bits (`Ended as u32`: 0 on success, so that
    /// the common record is its level alone).
    level_ended: u32,
}

impl RawPhase {
    const ENDED_SHIFT: u32 = 30;

    /// A phase of depth `depth`.
    #[inline(always)]
    pub(crate) fn new(start: u64, duration: u64, name: u32, depth: u32, ended: Ended) -> RawPhase {
        Self::at_level(start, duration, name, depth + 1, ended)
    }

    /// A phase of level `level` (its depth plus one).
    #[inline(always)]
    pub(crate) fn at_level(
        start: u64,
        duration: u64,
        name: u32,
        level: u32,
        ended: Ended,
    ) -> RawPhase {
        RawPhase {
            start,
            duration,
            name,
            // No mask: a level reaches 2^30 only past any stack's end.
            level_ended: level | (ended as u32) << Self::ENDED_SHIFT,
        }
    }

    pub(crate) fn depth(&self) -> u32 {
        (self.level_ended & ((1 << Self::ENDED_SHIFT) - 1)).wrapping_sub(1)
    }

    pub(crate) fn ended(&self) -> Ended {
        Ended::from_code(self.level_ended >> Self::ENDED_SHIFT)
    }
}

/// A kept execution, as stored in a ring. Strings and vectors keep their capacity when a
/// record is reused, so a steady workload allocates nothing here.
#[derive(Debug)]
pub(crate) struct ExecRecord {
    pub(crate) serial: u64,
    pub(crate) agent: u32,
    pub(crate) request: String,
    /// Clock readings.
    pub(crate) start: u64,
    pub(crate) duration: u64,
    pub(crate) ended: Ended,
    /// Why it failed or was cancelled (empty when it succeeded).
    pub(crate) error: String,
    /// The buffer phase records are written in place in (its length is not kept up to date:
    /// the records are those before `phases_end`; see [`phases`](ExecRecord::phases)).
    pub(crate) phases: Vec<RawPhase>,
    /// One past the last phase record in `phases`' buffer (null: none), set when the record is
    /// published: the execution's write cursor, stored as it is.
    pub(crate) phases_end: *const RawPhase,
    /// Where the phase records that can be written in place end: the buffer's start plus
    /// `min(phases.capacity(), PROFX_MAX_PHASES)` as of the last growth of `phases` (null for a
    /// new record: no room), kept here so that an execution finds its room with one load.
    pub(crate) room_end: *mut RawPhase,
    /// What is reset for each execution that fills the record, in one store.
    pub(crate) marks: Marks,
    /// The distributed trace the execution joined (valid when `marks.traced`).
    pub(crate) trace: crate::execution::TraceParent,
    pub(crate) memory: u64,
    pub(crate) allocations: u64,
    pub(crate) threads: u64,
    /// An async execution's polls and the ticks spent inside them (valid when
    /// `marks.polled()`; otherwise one poll, busy throughout).
    pub(crate) polls: u64,
    pub(crate) busy: u64,
    /// The execution it ran inside: its agent's name id and its serial (0: none).
    pub(crate) parent_agent: u32,
    pub(crate) parent_serial: u64,
    /// profx's number for the thread it started on (see `thread_ids`).
    pub(crate) thread: u32,
}

// SAFETY: `phases_end` and `room_end` point into the record's own buffer (`phases`), which moves with it;
// everything else is owned data.
unsafe impl Send for ExecRecord {}
// SAFETY: a shared record is only read (`phases` through `phases_end` included).
unsafe impl Sync for ExecRecord {}

impl Default for ExecRecord {
    fn default() -> ExecRecord {
        ExecRecord {
            serial: 0,
            agent: 0,
            request: String::new(),
            start: 0,
            duration: 0,
            ended: Ended::Ok,
            error: String::new(),
            phases: Vec::new(),
            phases_end: std::ptr::null(),
            room_end: std::ptr::null_mut(),
            marks: Marks::default(),
            trace: Default::default(),
            memory: 0,
            allocations: 0,
            threads: 0,
            polls: 0,
            busy: 0,
            parent_agent: 0,
            parent_serial: 0,
            thread: 0,
        }
    }
}

impl ExecRecord {
    /// The phase records written, in the order they ended.
    pub(crate) fn phases(&self) -> &[RawPhase] {
        if self.phases_end.is_null() {
            return &[];
        }
        let base = self.phases.as_ptr();
        // SAFETY: `phases_end` is within (or one past) the initialised prefix of `phases`'
        // buffer, from its start (see `ExecState::complete`).
        unsafe {
            let len = self.phases_end.offset_from(base) as usize;
            std::slice::from_raw_parts(base, len)
        }
    }
}

/// The parts of a record each execution that fills it starts from zero, in one word so that
/// resetting them is one store: the phase records not kept past `PROFX_MAX_PHASES` (low half,
/// saturating), and whether `trace` holds the `traceparent` the execution joined (bit 32).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Marks(u64);

impl Marks {
    const TRACED: u64 = 1 << 32;
    const POLLED: u64 = 1 << 33;

    pub(crate) fn phases_dropped(self) -> u32 {
        self.0 as u32
    }

    pub(crate) fn drop_phase(&mut self) {
        if self.phases_dropped() < u32::MAX {
            self.0 += 1;
        }
    }

    pub(crate) fn traced(self) -> bool {
        self.0 & Self::TRACED != 0
    }

    pub(crate) fn set_traced(&mut self) {
        self.0 |= Self::TRACED;
    }

    /// An async execution: its record's `polls` and `busy` are its own.
    pub(crate) fn polled(self) -> bool {
        self.0 & Self::POLLED != 0
    }

    pub(crate) fn set_polled(&mut self) {
        self.0 |= Self::POLLED;
    }
}

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
