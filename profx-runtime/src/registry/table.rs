//! One thread's recording state for one profiler: its slots, reached by name id.
//!
//! The owning thread finds a key's slot with one bounds check and one compare: `index` holds,
//! for each name id, the slot of that name used last on the thread (a name usually has one
//! parent). When a name alternates between parents (a phase called from several agents), the
//! slow path finds the other key in a per-thread hash map (one multiplication, one probe) and
//! makes it the name's last. No lock and no allocation once a key has been seen on the thread;
//! no hashing while a name keeps its parent.
//!
//! `clear()` costs the writers nothing per call: it starts a new generation and sets each
//! table's `index_len` to 0, so the owner's next lookup fails the bounds check and takes the
//! slow path, which sees the new generation, drops the old slots and makes new ones.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};

use super::ended::Ended;
use super::lock;
use super::record::ExecRecord;
use super::rings::{LineCursor, Ring, Rings, HAZARDS};
use super::slot::{Slot, NO_SLOT};
use crate::histogram::sparse::Pool;

/// The slots of this thread by key (`name << 32 | parent`): where the slow path finds a key
/// that is not the one its name used last. Hashed by one multiplication.
type Keys = HashMap<u64, *const Slot, BuildHasherDefault<KeyHasher>>;

/// A key's hash: a multiplication by 2^64 / φ, its high half folded onto the low one (the
/// table takes its bucket from the low bits, and keys differ in either half).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, k: u64) {
        let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn key(name: u32, parent: u32) -> u64 {
    (u64::from(name) << 32) | u64::from(parent)
}

/// Owner-only state of a table.
struct Local {
    /// By name id: the slot its name used last (`NO_SLOT`: none). A reader may cut the usable
    /// length (`index_len`) at any time.
    index: Vec<*const Slot>,
    /// Every slot of the generation, by key.
    keys: Keys,
    /// The generation the slots in `index` belong to.
    gen: u64,
    /// The profiler's rings by agent name id, held here so that claiming a line takes no
    /// lock (the slots claimed are in each agent's own slot: see [`Slot::claim`]).
    rings: Vec<Option<Arc<Ring>>>,
    serial_next: u64,
    serial_end: u64,
    sample_tick: u64,
    /// The process's thread count as last read here (see `threads::process_threads`), and the
    /// clock reading until which it is fresh enough: a kept execution's stamp, with no access
    /// to the shared cache while it is.
    threads: u64,
    threads_until: u64,
    /// The record the next kept execution fills (null: take one from `spares`): the one the
    /// last publish evicted, in the steady state.
    next: *mut ExecRecord,
    /// Records to fill, with their capacity kept. Boxed on purpose: the box itself is what a
    /// ring slot holds, so reusing it saves an allocation per kept execution.
    #[allow(clippy::vec_box)]
    spares: Vec<Box<ExecRecord>>,
    /// Records evicted while a reader was active (see [`Rings`]).
    retired: Vec<*mut ExecRecord>,
    /// What the slots' histograms grow by.
    pool: Pool,
}

/// One thread's recording state for one profiler.
pub(crate) struct ThreadTable {
    /// How many entries of `index` the owner may use without the slow path.
    index_len: AtomicUsize,
    local: UnsafeCell<Local>,
    /// The profiler's generation (its `Inner` holds this table).
    gen: *const AtomicU64,
    /// Every slot of the owner's generation, for readers. Locked by the owner only to add one,
    /// or to empty it when it moves to a new generation.
    slots: Mutex<Slots>,
}

/// A table's slots, all of one generation: the owner's (it empties the list when it moves to
/// a new one), so that a slot need not carry its own.
struct Slots {
    gen: u64,
    list: Vec<Arc<Slot>>,
}

// SAFETY: `local` is only touched by the thread that owns the table (the one `ThreadLocal::get_or`
// returned it to; after that thread exits, the next thread given the same id, with the id
// manager's lock ordering the two). The slot pointers in it point into the `Arc`s held by
// `slots`, which the owner alone removes; the retired records are owned by it. `gen` points
// into the profiler that holds the table. Everything other threads reach is atomics or behind
// a mutex.
unsafe impl Sync for ThreadTable {}
unsafe impl Send for ThreadTable {}

static SERIALS: AtomicU64 = AtomicU64::new(1);
const SERIAL_BLOCK: u64 = 1024;

impl ThreadTable {
    /// A table of the profiler whose generation is `gen` (which must outlive it).
    pub(crate) fn new(gen: &AtomicU64) -> ThreadTable {
        ThreadTable {
            index_len: AtomicUsize::new(0),
            local: UnsafeCell::new(Local {
                index: Vec::new(),
                keys: Keys::default(),
                gen: gen.load(Acquire),
                rings: Vec::new(),
                serial_next: 0,
                serial_end: 0,
                sample_tick: 0,
                threads: 0,
                threads_until: 0,
                next: std::ptr::null_mut(),
                spares: Vec::new(),
                // About one per reader at most: pushes rarely need to grow it.
                retired: Vec::with_capacity(HAZARDS),
                pool: Pool::default(),
            }),
            gen,
            slots: Mutex::new(Slots {
                gen: gen.load(Acquire),
                list: Vec::new(),
            }),
        }
    }

    /// Runs `f` on the owner's part of the table: the one way to it. Owner only; `f` must not
    /// call `with_local` again (none does: each is a few lines that touch `Local` alone, or
    /// pass it down as an argument).
    #[inline(always)]
    fn with_local<R>(&self, f: impl FnOnce(&mut Local) -> R) -> R {
        // SAFETY: see the `Sync` impl: only the owning thread gets here, and the borrow lives
        // as long as `f` runs, which takes no other.
        f(unsafe { &mut *self.local.get() })
    }

    /// The slot of (name, parent) on this thread, made on first use. Owner only.
    #[inline(always)]
    pub(crate) fn slot(&self, name: u32, parent: u32) -> &Slot {
        match self.slot_fast(name, parent) {
            Some(s) => s,
            None => self.slot_slow(name, parent),
        }
    }

    /// Records one call of (name, parent). Owner only.
    #[inline(always)]
    pub(crate) fn record(
        &self,
        name: u32,
        parent: u32,
        ticks: u64,
        nested: u64,
        ended: Ended,
        mem: u64,
    ) -> &Slot {
        if let Some(slot) = self.slot_fast(name, parent) {
            if slot.try_count(ticks) {
                slot.commit_any(ticks, nested, ended, mem);
                return slot;
            }
        }
        self.record_slow(name, parent, ticks, nested, ended, mem)
    }

    #[cold]
    #[inline(never)]
    fn record_slow(
        &self,
        name: u32,
        parent: u32,
        ticks: u64,
        nested: u64,
        ended: Ended,
        mem: u64,
    ) -> &Slot {
        // A duration that wrapped (an end reading before the start) counts as 0.
        let ticks = crate::clock::sane(ticks);
        let slot = self.slot(name, parent);
        self.with_local(|l| slot.record(ticks, nested, ended, mem, &mut l.pool));
        slot
    }

    /// Records one call of (name, parent), `ticks` long, with `mem` added to its memory
    /// total, finding the key by its hash without making it its name's last: for a key that
    /// alternates with another of the same name on every call (an async agent's
    /// [`WAITING`](super::WAITING) key after its own), which the name's entry keeps. Owner only.
    pub(crate) fn record_aside(&self, name: u32, parent: u32, ticks: u64, mem: u64) {
        // SAFETY: the profiler outlives its tables.
        let gen = unsafe { (*self.gen).load(Acquire) };
        let found = self.with_local(|l| {
            if l.gen == gen {
                l.keys.get(&key(name, parent)).copied()
            } else {
                None
            }
        });
        let slot = match found {
            // SAFETY: the slot is kept alive by `self.slots` until the owner drops it.
            Some(s) => unsafe { &*s },
            // New here, or a new generation: made (and entered in the index) as any key.
            None => self.slot_slow(name, parent),
        };
        self.with_local(|l| slot.record(ticks, 0, Ended::Ok, mem, &mut l.pool));
    }

    /// The slot of (name, parent) if it was the last one used for its name. Owner only.
    #[inline(always)]
    pub(crate) fn slot_fast(&self, name: u32, parent: u32) -> Option<&Slot> {
        let len = self.index_len.load(Relaxed);
        if (name as usize) < len {
            // SAFETY: `index_len` never exceeds `index.len()` (the owner sets it after growing);
            // the slot is `NO_SLOT` or kept alive by `self.slots` until the owner drops it.
            let index = self.with_local(|l| l.index.as_ptr());
            let slot = unsafe { &**index.add(name as usize) };
            if slot.parent == parent {
                return Some(slot);
            }
        }
        None
    }

    /// A key not used last for its name, a name past the index, or a new generation.
    #[cold]
    #[inline(never)]
    fn slot_slow(&self, name: u32, parent: u32) -> &Slot {
        // New slots and a longer index are profx's memory, not the execution's.
        crate::alloc::exclude(|| loop {
            let seen = self.index_len.load(Acquire);
            // SAFETY: the profiler outlives its tables.
            let gen = unsafe { (*self.gen).load(Acquire) };
            let (found, len) = self.with_local(|local| {
                if gen != local.gen {
                    local.gen = gen;
                    local.index.clear();
                    local.keys.clear();
                    let mut slots = lock(&self.slots);
                    slots.list.clear();
                    slots.gen = gen;
                }
                let i = name as usize;
                if local.index.len() <= i {
                    local.index.resize(i + 1, &NO_SLOT);
                }
                let found = match local.keys.get(&key(name, parent)) {
                    Some(&slot) => slot,
                    None => self.add(local, name, parent, gen),
                };
                local.index[i] = found;
                (found, local.index.len())
            });
            // Usable only if no `clear()` came in meanwhile; else start again in the new
            // generation.
            if self
                .index_len
                .compare_exchange(seen, len, AcqRel, Acquire)
                .is_ok()
            {
                // SAFETY: `found` is alive (held by `slots`).
                return unsafe { &*found };
            }
        })
    }

    /// Makes the slot of (name, parent), in the owner's `local`.
    fn add(&self, local: &mut Local, name: u32, parent: u32, gen: u64) -> *const Slot {
        let slot = Arc::new(Slot::new(name, parent));
        let p = Arc::as_ptr(&slot);
        let mut slots = lock(&self.slots);
        debug_assert_eq!(slots.gen, gen);
        slots.list.push(slot);
        drop(slots);
        local.keys.insert(key(name, parent), p);
        // A new key allocates anyway: top up what histograms grow by on the hot path.
        local.pool.refill();
        p
    }

    /// A process-unique execution number. Owner only.
    #[inline]
    pub(crate) fn next_serial(&self) -> u64 {
        self.with_local(|l| {
            if l.serial_next == l.serial_end {
                l.serial_next = SERIALS.fetch_add(SERIAL_BLOCK, Relaxed);
                l.serial_end = l.serial_next + SERIAL_BLOCK;
            }
            let s = l.serial_next;
            l.serial_next += 1;
            s
        })
    }

    /// Threads in the process at most 50 ms before `now` (a clock reading), as
    /// [`process_threads`](crate::threads::process_threads) gives it. Owner only.
    #[inline(always)]
    pub(crate) fn threads_at(&self, now: u64) -> u64 {
        self.with_local(|l| {
            if now >= l.threads_until {
                Self::refresh_threads(l, now);
            }
            l.threads
        })
    }

    #[cold]
    #[inline(never)]
    fn refresh_threads(l: &mut Local, now: u64) {
        l.threads = crate::threads::process_threads(now);
        l.threads_until = crate::threads::fresh_until();
    }

    /// Whether the next execution keeps its detailed profile (1 in `every`). Owner only.
    #[inline]
    pub(crate) fn sample(&self, every: u64) -> bool {
        if every <= 1 {
            return true;
        }
        self.with_local(|l| {
            l.sample_tick += 1;
            l.sample_tick % every == 1
        })
    }

    /// An empty record to fill, reused when one is spare. Owner only.
    #[inline(always)]
    pub(crate) fn take_record(&self) -> Box<ExecRecord> {
        self.with_local(|local| {
            let r = local.next;
            if !r.is_null() {
                local.next = std::ptr::null_mut();
                // SAFETY: `next` is a record this table owns (evicted, held by no reader).
                return unsafe { Box::from_raw(r) };
            }
            Self::take_spare(local)
        })
    }

    #[cold]
    #[inline(never)]
    fn take_spare(local: &mut Local) -> Box<ExecRecord> {
        local
            .spares
            .pop()
            .unwrap_or_else(|| crate::alloc::exclude(Box::default))
    }

    /// Stores a finished record in the ring of its agent, whose own slot on this thread is
    /// `slot` (where the agent's aggregate was just counted). Owner only.
    #[inline(always)]
    pub(crate) fn publish(
        &self,
        slot: &Slot,
        rings: &Rings,
        rec: Box<ExecRecord>,
        capacity: usize,
    ) {
        let c = slot.claim();
        if c.exhausted() {
            self.claim_line(c, rings, rec.agent, capacity);
        }
        // SAFETY: `next` is a slot of the line this thread claimed in the agent's ring, which
        // `local.rings` keeps alive.
        let old = unsafe { Ring::put_at(c.next, rec) };
        // SAFETY: within the line, or one past its end.
        c.next = unsafe { c.next.add(1) };
        if old.is_null() {
            return;
        }
        if rings.readers.load(SeqCst) != 0 {
            return self.with_local(|local| Self::publish_slow(local, rings, old));
        }
        self.with_local(|local| {
            if local.next.is_null() {
                // No reader can hold `old`: the next execution fills it. (Records retired
                // while readers were at work wait for the next publish that meets one, or for
                // a spare.)
                // (Its request and error message are cleared when the next ones are written:
                // only a record that names a request shows one, and only one that did not
                // succeed shows a message.)
                local.next = old;
                return;
            }
            Self::publish_slow(local, rings, old);
        })
    }

    /// Takes back the record of an execution that was not kept (sampling): the next
    /// execution fills it. Owner only.
    #[inline]
    pub(crate) fn give_back(&self, rec: Box<ExecRecord>) {
        self.with_local(|local| {
            let rec = Box::into_raw(rec);
            if local.next.is_null() {
                local.next = rec;
            } else {
                // Held by no reader: it was never published.
                recycle(&mut local.spares, rec);
            }
        })
    }

    /// Claims the next line of `agent`'s ring into `c` (once in `CLAIM` publishes).
    #[inline(always)]
    fn claim_line(&self, c: &mut LineCursor, rings: &Rings, agent: u32, capacity: usize) {
        let held = self.with_local(|l| match l.rings.get(agent as usize) {
            Some(Some(r)) => Some(r.claim_line()),
            _ => None,
        });
        *c = match held {
            Some(line) => line,
            None => self.hold_ring(rings, agent, capacity),
        };
    }

    /// Takes the ring of `agent` from the profiler's list the first time this thread publishes
    /// into it (the table holds it from then on), and claims a line of it.
    #[cold]
    #[inline(never)]
    fn hold_ring(&self, rings: &Rings, agent: u32, capacity: usize) -> LineCursor {
        let i = agent as usize;
        crate::alloc::exclude(|| {
            self.with_local(|l| {
                if l.rings.len() <= i {
                    l.rings.resize(i + 1, None);
                }
                l.rings[i]
                    .get_or_insert_with(|| rings.get_or_make(agent, capacity))
                    .claim_line()
            })
        })
    }

    /// `publish` with readers at work, records kept aside, or a record to fill already.
    #[cold]
    #[inline(never)]
    fn publish_slow(local: &mut Local, rings: &Rings, old: *mut ExecRecord) {
        if rings.readers.load(SeqCst) == 0 {
            // No reader can hold `old`, nor anything retired before it.
            if !local.retired.is_empty() {
                for r in local.retired.drain(..) {
                    recycle(&mut local.spares, r);
                }
            }
            recycle(&mut local.spares, old);
        } else {
            Self::retire(local, rings, old);
        }
    }

    /// Readers are at work: keeps `old` aside if one of them holds it, and recycles what
    /// was kept aside before and is held no more. At most one record per reader is ever
    /// aside, so a steady workload allocates nothing however it is read.
    #[cold]
    #[inline(never)]
    fn retire(local: &mut Local, rings: &Rings, old: *mut ExecRecord) {
        let spares = &mut local.spares;
        local.retired.retain(|&r| {
            let held = rings.held(r);
            if !held {
                recycle(spares, r);
            }
            held
        });
        if rings.held(old) {
            crate::alloc::push(&mut local.retired, old);
        } else {
            recycle(spares, old);
        }
    }

    /// The slots of generation `gen`, for readers.
    pub(crate) fn slots(&self, gen: u64, into: &mut Vec<SlotRef>) {
        let slots = lock(&self.slots);
        if slots.gen == gen {
            into.extend(slots.list.iter().map(|s| SlotRef(s.clone())));
        }
    }

    /// Calls `f` with each slot of generation `gen`, for readers that need no more than a look.
    pub(crate) fn for_each_slot(&self, gen: u64, mut f: impl FnMut(&Slot)) {
        let slots = lock(&self.slots);
        if slots.gen == gen {
            slots.list.iter().for_each(|s| f(s));
        }
    }

    /// Forgets the index, so that the owner's next lookup moves to the profiler's new
    /// generation (`clear()`). Any thread.
    pub(crate) fn cut(&self) {
        self.index_len.store(0, SeqCst);
    }
}

impl Drop for ThreadTable {
    fn drop(&mut self) {
        let next = self.local.get_mut().next;
        if !next.is_null() {
            // SAFETY: owned by this table (see `Local::next`).
            drop(unsafe { Box::from_raw(next) });
        }
        for r in self.local.get_mut().retired.drain(..) {
            // SAFETY: retired records were evicted from their ring and are owned by this table.
            drop(unsafe { Box::from_raw(r) });
        }
    }
}

/// Keeps an evicted record's buffers for the next execution (a few per thread).
#[allow(clippy::vec_box)] // see `Local::spares`
#[inline]
fn recycle(spares: &mut Vec<Box<ExecRecord>>, rec: *mut ExecRecord) {
    // SAFETY: evicted from its ring, and no reader holds it (checked by the caller).
    let mut rec = unsafe { Box::from_raw(rec) };
    // Enough for the records in flight and those a reader held a moment.
    if spares.len() < 8 + HAZARDS {
        rec.request.clear();
        rec.error.clear();
        rec.phases.clear();
        crate::alloc::push(spares, rec);
    }
}

/// A reader's handle on a slot: keeps it alive while read.
pub(crate) struct SlotRef(Arc<Slot>);

impl std::ops::Deref for SlotRef {
    type Target = Slot;
    fn deref(&self) -> &Slot {
        &self.0
    }
}
