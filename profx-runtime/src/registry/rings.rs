//! The recent executions of each agent: records in rings shared by all threads.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};

use super::lock;

/// A phase inside a kept execution (clock ticks).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawPhase {
    /// The clock reading at its start.
    pub(crate) start: u64,
    pub(crate) duration: u64,
    pub(crate) name: u32,
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
    /// Clock readings.
    pub(crate) start: u64,
    pub(crate) duration: u64,
    pub(crate) success: bool,
    /// Why it failed (empty when it succeeded).
    pub(crate) error: String,
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
/// reader is active; see [`Rings`].
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
    pub(crate) fn publish(&self, rec: Box<ExecRecord>) -> *mut ExecRecord {
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
