//! Where calls are recorded: names, per-thread tables of slots, and rings of recent executions.
//!
//! Each thread owns a [`ThreadTable`] (one per profiler, through `thread_local::ThreadLocal`).
//! The owning thread is the only writer of its slots, so recording a call is a handful of
//! relaxed loads and stores: no lock, no read-modify-write, no allocation once the key has been
//! seen on the thread. Readers on other threads load the same atomics at any time.
//! A table outlives its thread (the `ThreadLocal` keeps it, and hands it to the next thread that
//! gets the same thread id), so what an exited thread recorded is still read.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::histogram::{self, BUCKETS};

/// Parent of an agent's own aggregate.
pub(crate) const AGENT_LEVEL: u32 = u32::MAX;
/// Parent of a phase that ran outside any execution (name id 0 is never assigned).
pub(crate) const NO_AGENT: u32 = 0;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Names

struct Names {
    ids: HashMap<&'static str, u32>,
    list: Vec<&'static str>,
}

static NAMES: std::sync::LazyLock<Mutex<Names>> = std::sync::LazyLock::new(|| {
    Mutex::new(Names {
        ids: HashMap::new(),
        list: vec![""], // id 0: no name
    })
});

/// The id of a name, assigned on first sight (ids start at 1).
pub(crate) fn intern(name: &str) -> u32 {
    crate::alloc::exclude(|| intern_locked(name))
}

fn intern_locked(name: &str) -> u32 {
    let mut n = lock(&NAMES);
    if let Some(&id) = n.ids.get(name) {
        return id;
    }
    let stored: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let id = n.list.len() as u32;
    n.list.push(stored);
    n.ids.insert(stored, id);
    id
}

/// The id of a name already seen, without adding it (for reads, which must not grow the table).
pub(crate) fn lookup(name: &str) -> Option<u32> {
    lock(&NAMES).ids.get(name).copied()
}

/// The id of a name, through a per-thread cache (for names only known at run time).
pub(crate) fn intern_cached(name: &str) -> u32 {
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<Box<str>, u32>> = std::cell::RefCell::new(HashMap::new());
    }
    CACHE
        .try_with(|c| {
            if let Some(&id) = c.borrow().get(name) {
                return id;
            }
            let id = intern(name);
            crate::alloc::exclude(|| c.borrow_mut().insert(name.into(), id));
            id
        })
        .unwrap_or_else(|_| intern(name))
}

/// All names, indexed by id.
pub(crate) fn names() -> Vec<&'static str> {
    lock(&NAMES).list.clone()
}

/// A call site: a name, interned the first time the site runs.
///
/// The macros put one in a `static` per instrumented function, so the hot path reads an id
/// that is already there and never hashes the name.
#[doc(hidden)]
pub struct Site {
    name: &'static str,
    id: AtomicU32,
}

impl Site {
    /// A site for `name`.
    pub const fn new(name: &'static str) -> Site {
        Site {
            name,
            id: AtomicU32::new(0),
        }
    }

    /// The site's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    #[inline(always)]
    pub(crate) fn id(&self) -> u32 {
        let id = self.id.load(Relaxed);
        if id != 0 {
            id
        } else {
            self.register()
        }
    }

    #[cold]
    #[inline(never)]
    fn register(&self) -> u32 {
        let id = intern(self.name);
        self.id.store(id, Relaxed);
        id
    }
}

// ---------------------------------------------------------------------------------------------
// Slots

/// The counters of one (name, parent) key on one thread. Written by the owning thread only.
pub(crate) struct Slot {
    pub(crate) name: u32,
    pub(crate) parent: u32,
    gen: AtomicU64,
    count: AtomicU64,
    failures: AtomicU64,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    mem_sum: AtomicU64,
    hist: Box<[AtomicU64; BUCKETS]>,
}

/// What a reader takes from a slot.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SlotTotals {
    pub(crate) count: u64,
    pub(crate) failures: u64,
    pub(crate) sum: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) mem_sum: u64,
}

#[inline(always)]
fn bump(a: &AtomicU64, by: u64) {
    // Single writer: a load and a store, no read-modify-write.
    a.store(a.load(Relaxed).wrapping_add(by), Relaxed);
}

impl Slot {
    fn new(name: u32, parent: u32, gen: u64) -> Slot {
        // Allocate the counters zeroed rather than building 20 KiB on the stack.
        let hist: Box<[AtomicU64]> = (0..BUCKETS).map(|_| AtomicU64::new(0)).collect();
        let hist: Box<[AtomicU64; BUCKETS]> = match hist.try_into() {
            Ok(h) => h,
            Err(_) => unreachable!("made with BUCKETS counters"),
        };
        Slot {
            name,
            parent,
            gen: AtomicU64::new(gen),
            count: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
            mem_sum: AtomicU64::new(0),
            hist,
        }
    }

    /// Records one call. Only the owning thread calls this.
    #[inline(always)]
    pub(crate) fn record(&self, gen: u64, ns: u64, failed: bool, mem: u64) {
        if self.gen.load(Relaxed) != gen {
            self.reset(gen);
        }
        bump(&self.hist[histogram::index(ns)], 1);
        bump(&self.sum, ns);
        if ns < self.min.load(Relaxed) {
            self.min.store(ns, Relaxed);
        }
        if ns > self.max.load(Relaxed) {
            self.max.store(ns, Relaxed);
        }
        if failed {
            bump(&self.failures, 1);
        }
        if mem != 0 {
            bump(&self.mem_sum, mem);
        }
        // Published last, with Release: a reader that sees the count sees the rest of the call.
        self.count
            .store(self.count.load(Relaxed).wrapping_add(1), Release);
    }

    #[cold]
    fn reset(&self, gen: u64) {
        for b in self.hist.iter() {
            b.store(0, Relaxed);
        }
        for a in [
            &self.count,
            &self.failures,
            &self.sum,
            &self.max,
            &self.mem_sum,
        ] {
            a.store(0, Relaxed);
        }
        self.min.store(u64::MAX, Relaxed);
        self.gen.store(gen, Release);
    }

    /// Adds this slot's counts to `into` if it belongs to generation `gen`.
    pub(crate) fn read(&self, gen: u64, into: &mut histogram::Counts) -> Option<SlotTotals> {
        if self.gen.load(Acquire) != gen {
            return None;
        }
        let count = self.count.load(Acquire);
        if count == 0 {
            return None;
        }
        for (dst, src) in into.buckets.iter_mut().zip(self.hist.iter()) {
            *dst += src.load(Relaxed);
        }
        Some(SlotTotals {
            count,
            failures: self.failures.load(Relaxed),
            sum: self.sum.load(Relaxed),
            min: self.min.load(Relaxed),
            max: self.max.load(Relaxed),
            mem_sum: self.mem_sum.load(Relaxed),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Execution records

/// A phase inside a kept execution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawPhase {
    pub(crate) name: u32,
    pub(crate) offset_ns: u64,
    pub(crate) duration_ns: u64,
    pub(crate) depth: u32,
}

/// A kept execution, as stored in a ring. Strings and vectors keep their capacity when a
/// record is reused, so a steady workload allocates nothing here.
#[derive(Debug, Default)]
pub(crate) struct ExecRecord {
    pub(crate) gen: u64,
    pub(crate) serial: u64,
    pub(crate) agent: u32,
    pub(crate) request: String,
    pub(crate) start: u64,
    pub(crate) duration_ns: u64,
    pub(crate) success: bool,
    pub(crate) error: Option<String>,
    pub(crate) phases: Vec<RawPhase>,
    pub(crate) phases_dropped: u64,
    pub(crate) memory: u64,
    pub(crate) allocations: u64,
    pub(crate) threads: u64,
}

/// The recent executions of one agent: a ring of `PROFX_MAX_EXECUTIONS` records shared by all
/// threads.
///
/// A writer claims a slot with one `fetch_add` and swaps its record in. The record it takes out
/// may be in the middle of being copied by a reader, so it is only reused (or freed) once no
/// reader is active; see [`Rings::readers`].
pub(crate) struct Ring {
    pub(crate) agent: u32,
    head: AtomicUsize,
    slots: Box<[AtomicPtr<ExecRecord>]>,
}

impl Ring {
    fn new(agent: u32, capacity: usize) -> Ring {
        Ring {
            agent,
            head: AtomicUsize::new(0),
            slots: (0..capacity.max(1))
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
        }
    }

    /// Stores `rec`, returning the record it evicted (null when the slot was empty).
    fn publish(&self, rec: Box<ExecRecord>) -> *mut ExecRecord {
        let i = self.head.fetch_add(1, Relaxed) % self.slots.len();
        // SeqCst: ordered against the writer's later load of `readers` (see `Rings`).
        self.slots[i].swap(Box::into_raw(rec), SeqCst)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        for s in self.slots.iter_mut() {
            let p = *s.get_mut();
            if !p.is_null() {
                // SAFETY: records in the ring were made by `Box::into_raw` and are owned by it.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// The rings of a profiler, by agent.
///
/// Reading protocol: a reader increments `readers`, copies what it needs out of the records it
/// finds in the slots, and decrements. A writer that evicts a record checks `readers` after
/// its swap: at zero, no reader can still hold the evicted record (one that started later
/// cannot see it any more: both sides use SeqCst), so it is recycled at once; otherwise it waits
/// in the writer's retired list until a later check finds no reader.
pub(crate) struct Rings {
    list: Mutex<Vec<Option<Arc<Ring>>>>,
    pub(crate) readers: AtomicUsize,
}

impl Rings {
    pub(crate) fn new() -> Rings {
        Rings {
            list: Mutex::new(Vec::new()),
            readers: AtomicUsize::new(0),
        }
    }

    fn get_or_make(&self, agent: u32, capacity: usize) -> Arc<Ring> {
        let mut list = lock(&self.list);
        let i = agent as usize;
        if list.len() <= i {
            list.resize(i + 1, None);
        }
        list[i]
            .get_or_insert_with(|| Arc::new(Ring::new(agent, capacity)))
            .clone()
    }

    /// Calls `f` with every record of generation `gen` (of one agent, or all), while no record
    /// can be reused.
    pub(crate) fn read(&self, agent: Option<u32>, gen: u64, mut f: impl FnMut(&ExecRecord)) {
        let rings: Vec<Arc<Ring>> = lock(&self.list).iter().flatten().cloned().collect();
        self.readers.fetch_add(1, SeqCst);
        struct Done<'a>(&'a AtomicUsize);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, SeqCst);
            }
        }
        let _done = Done(&self.readers);
        for ring in rings.iter().filter(|r| agent.is_none_or(|a| a == r.agent)) {
            for s in ring.slots.iter() {
                let p = s.load(SeqCst);
                if !p.is_null() {
                    // SAFETY: while `readers` is non-zero no writer reuses or frees a record it
                    // evicts, and records still in a slot are alive.
                    let r = unsafe { &*p };
                    if r.gen == gen {
                        f(r);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Thread tables

#[derive(Clone, Copy)]
struct Entry {
    parent: u32,
    slot: *const Slot,
}

/// Owner-only state of a table.
struct Local {
    /// Slots by name id: usually one parent per name, so a short list scanned linearly.
    index: Vec<Vec<Entry>>,
    /// The profiler's rings by agent name id, held here so the hot path takes no lock.
    rings: Vec<Option<Arc<Ring>>>,
    serial_next: u64,
    serial_end: u64,
    sample_tick: u64,
    /// Records to fill, with their capacity kept. Boxed on purpose: the box itself is what a
    /// ring slot holds, so reusing it saves an allocation per kept execution.
    #[allow(clippy::vec_box)]
    spares: Vec<Box<ExecRecord>>,
    /// Records evicted while a reader was active (see [`Rings`]).
    retired: Vec<*mut ExecRecord>,
}

/// One thread's recording state for one profiler.
pub(crate) struct ThreadTable {
    local: UnsafeCell<Local>,
    /// Every slot of the table, for readers. Locked by the owner only to add a new key.
    slots: Mutex<Vec<Arc<Slot>>>,
}

// SAFETY: `local` is only touched by the thread that owns the table (the one `ThreadLocal::get_or`
// returned it to; after that thread exits, the next thread given the same id, with the id
// manager's lock ordering the two). The slot pointers in it point into the `Arc`s held by
// `slots`, which live as long as the table; the retired records are owned by it. Everything other threads reach is atomics or
// behind a mutex.
unsafe impl Sync for ThreadTable {}
unsafe impl Send for ThreadTable {}

static SERIALS: AtomicU64 = AtomicU64::new(1);
const SERIAL_BLOCK: u64 = 1024;

impl ThreadTable {
    pub(crate) fn new() -> ThreadTable {
        ThreadTable {
            local: UnsafeCell::new(Local {
                index: Vec::new(),
                rings: Vec::new(),
                serial_next: 0,
                serial_end: 0,
                sample_tick: 0,
                spares: Vec::new(),
                retired: Vec::new(),
            }),
            slots: Mutex::new(Vec::new()),
        }
    }

    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    fn local(&self) -> &mut Local {
        // SAFETY: see the `Sync` impl: owner-only, and no caller keeps this borrow across a call
        // that takes it again.
        unsafe { &mut *self.local.get() }
    }

    /// The slot of (name, parent) on this thread, made on first use. Owner only.
    #[inline(always)]
    pub(crate) fn slot(&self, name: u32, parent: u32, gen: u64) -> &Slot {
        let local = self.local();
        if let Some(list) = local.index.get(name as usize) {
            for e in list {
                if e.parent == parent {
                    // SAFETY: the pointee is kept alive by `self.slots`.
                    return unsafe { &*e.slot };
                }
            }
        }
        self.new_slot(name, parent, gen)
    }

    #[cold]
    #[inline(never)]
    fn new_slot(&self, name: u32, parent: u32, gen: u64) -> &Slot {
        // A new slot is profx's memory, not the execution's that happens to need it.
        crate::alloc::exclude(|| self.add_slot(name, parent, gen))
    }

    fn add_slot(&self, name: u32, parent: u32, gen: u64) -> &Slot {
        let slot = Arc::new(Slot::new(name, parent, gen));
        let ptr = Arc::as_ptr(&slot);
        lock(&self.slots).push(slot);
        let local = self.local();
        let i = name as usize;
        if local.index.len() <= i {
            local.index.resize_with(i + 1, Vec::new);
        }
        local.index[i].push(Entry { parent, slot: ptr });
        // SAFETY: kept alive by `self.slots`.
        unsafe { &*ptr }
    }

    /// A process-unique execution number. Owner only.
    #[inline]
    pub(crate) fn next_serial(&self) -> u64 {
        let l = self.local();
        if l.serial_next == l.serial_end {
            l.serial_next = SERIALS.fetch_add(SERIAL_BLOCK, Relaxed);
            l.serial_end = l.serial_next + SERIAL_BLOCK;
        }
        let s = l.serial_next;
        l.serial_next += 1;
        s
    }

    /// Whether the next execution keeps its detailed profile (1 in `every`). Owner only.
    #[inline]
    pub(crate) fn sample(&self, every: u64) -> bool {
        if every <= 1 {
            return true;
        }
        let l = self.local();
        l.sample_tick += 1;
        l.sample_tick % every == 1
    }

    /// An empty record to fill, reused when one is spare. Owner only.
    #[inline]
    pub(crate) fn take_record(&self) -> Box<ExecRecord> {
        self.local()
            .spares
            .pop()
            .unwrap_or_else(|| crate::alloc::exclude(Box::default))
    }

    /// Stores a finished record in the ring of its agent. Owner only.
    pub(crate) fn publish(&self, rings: &Rings, rec: Box<ExecRecord>, capacity: usize) {
        let local = self.local();
        let i = rec.agent as usize;
        if local.rings.len() <= i {
            crate::alloc::exclude(|| local.rings.resize(i + 1, None));
        }
        let ring = local.rings[i].get_or_insert_with(|| {
            crate::alloc::exclude(|| rings.get_or_make(rec.agent, capacity))
        });
        let old = ring.publish(rec);
        if old.is_null() {
            return;
        }
        if rings.readers.load(SeqCst) == 0 {
            // No reader can hold `old`, nor anything retired before it.
            for r in local.retired.drain(..) {
                recycle(&mut local.spares, r);
            }
            recycle(&mut local.spares, old);
        } else {
            crate::alloc::push(&mut local.retired, old);
        }
    }

    /// The slots, for readers.
    pub(crate) fn slots(&self) -> Vec<Arc<Slot>> {
        lock(&self.slots).clone()
    }
}

impl Drop for ThreadTable {
    fn drop(&mut self) {
        for r in self.local.get_mut().retired.drain(..) {
            // SAFETY: retired records were evicted from their ring and are owned by this table.
            drop(unsafe { Box::from_raw(r) });
        }
    }
}

/// Keeps an evicted record's buffers for the next execution (a few per thread).
#[allow(clippy::vec_box)] // see `Local::spares`
fn recycle(spares: &mut Vec<Box<ExecRecord>>, rec: *mut ExecRecord) {
    // SAFETY: evicted from its ring, and no reader holds it (checked by the caller).
    let mut rec = unsafe { Box::from_raw(rec) };
    if spares.len() < 8 {
        rec.request.clear();
        rec.error = None;
        rec.phases.clear();
        crate::alloc::push(spares, rec);
    }
}
