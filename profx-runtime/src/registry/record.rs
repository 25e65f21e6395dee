//! One execution's record, which is also its state while it runs, and the phase records in
//! it.

use super::ended::Ended;

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

/// One execution: its state while it runs, then, when it is kept, its record in its agent's
/// ring. Strings and vectors keep their capacity when a record is reused, so a steady workload
/// allocates nothing here.
///
/// The record *is* the running state (`ExecState` is this type), so that what an execution
/// knows as it runs (its agent, serial and start, how it ended, where its phase records end)
/// is where a reader finds it, and its end copies none of it. An execution that is not kept
/// (sampling) has a record too, given back to its thread when it ends.
///
/// `repr(C)`, in this order: what every phase reads, together; then the fields an execution
/// starts at zero, side by side (`depth` to `not_tsc`), which its start writes with a few
/// wide stores; then the rest of the state; then what only a kept record carries.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct ExecRecord {
    // What every phase reads.
    /// The table (a `ThreadTable`) of the thread the execution runs on now; untyped, as a
    /// table holds records (see `ExecState::table`).
    pub(crate) table: *const (),
    /// Where the next phase record goes in `phases`' buffer while the execution runs; once it
    /// ended, one past its last phase record (those before it were written in place; see
    /// [`phases`](ExecRecord::phases)).
    pub(crate) cursor: *mut RawPhase,
    /// Where the phase records that can be written in place end: the buffer's start plus
    /// `min(phases.capacity(), PROFX_MAX_PHASES)` as of the last growth of `phases`, kept here
    /// so that an execution finds its room without a load. Null: no room known (a new record,
    /// or one an execution not kept used): the next push takes the slow path, which sets it.
    pub(crate) end: *mut RawPhase,
    pub(crate) agent: u32,
    // Zero at the start.
    /// Depth of the next phase to start.
    pub(crate) depth: u32,
    /// The time (ticks) of the phases that ended so far at the level running now, their
    /// nested ones included: the sum of their self times. A phase reads it at its start
    /// (`s0`); at its end, what it gained is the time of the phases nested in it, and it
    /// becomes `s0` plus the phase's own duration (see `ExecState::close`). At the
    /// execution's end, it is the time of its top-level phases. (An async phase keeps its own
    /// and installs it while it is polled, so that phases running concurrently in one
    /// execution do not count each other's time.)
    pub(crate) nested: u64,
    /// What it allocated (when the counting allocator is installed).
    pub(crate) alloc: crate::alloc::Tally,
    /// How it ended (`Ok` until it is known not to have succeeded).
    pub(crate) ended: Ended,
    /// The clock is not read inline as the TSC (it was not known to be at the start).
    pub(crate) not_tsc: bool,
    // The rest of the state.
    /// Not kept (sampling): its phases are aggregated only, and its record goes back to its
    /// thread at its end instead of into the ring.
    pub(crate) not_kept: bool,
    /// Its profiler's shared state (an `Inner`); untyped, as above.
    pub(crate) inner: *const (),
    pub(crate) serial: u64,
    /// Clock readings.
    pub(crate) start: u64,
    // A kept record's.
    pub(crate) duration: u64,
    pub(crate) memory: u64,
    pub(crate) allocations: u64,
    pub(crate) threads: u64,
    /// What is reset for each execution that fills the record, in one store.
    pub(crate) marks: Marks,
    /// The execution it ran inside: its agent's name id and its serial (0: none).
    pub(crate) parent_serial: u64,
    pub(crate) parent_agent: u32,
    /// profx's number for the thread it started on (see `thread_ids`).
    pub(crate) thread: u32,
    /// An async execution's polls and the ticks spent inside them (valid when
    /// `marks.polled()`; otherwise one poll, busy throughout).
    pub(crate) polls: u64,
    pub(crate) busy: u64,
    /// The distributed trace the execution joined (valid when `marks.traced`).
    pub(crate) trace: crate::execution::TraceParent,
    /// What the execution worked on (valid when `marks.has_request()`).
    pub(crate) request: String,
    /// Why it failed or was cancelled (empty when it succeeded).
    pub(crate) error: String,
    /// The buffer phase records are written in place in (its length is not kept up to date:
    /// the records are those before `cursor`; see [`phases`](ExecRecord::phases)).
    pub(crate) phases: Vec<RawPhase>,
}

// SAFETY: `cursor` and `end` point into the record's own buffer (`phases`), which moves with it;
// `table` and `inner` are read only by the execution that runs in the record (on the thread it
// runs on), which keeps both alive; everything else is owned data.
unsafe impl Send for ExecRecord {}
// SAFETY: a shared record is only read (`phases` through `cursor` included).
unsafe impl Sync for ExecRecord {}

impl Default for ExecRecord {
    fn default() -> ExecRecord {
        ExecRecord {
            table: std::ptr::null(),
            cursor: std::ptr::null_mut(),
            end: std::ptr::null_mut(),
            agent: 0,
            depth: 0,
            nested: 0,
            alloc: Default::default(),
            ended: Ended::Ok,
            not_tsc: false,
            not_kept: false,
            inner: std::ptr::null(),
            serial: 0,
            start: 0,
            duration: 0,
            memory: 0,
            allocations: 0,
            threads: 0,
            marks: Marks::default(),
            parent_serial: 0,
            parent_agent: 0,
            thread: 0,
            polls: 0,
            busy: 0,
            trace: Default::default(),
            request: String::new(),
            error: String::new(),
            phases: Vec::new(),
        }
    }
}

impl ExecRecord {
    /// The phase records written, in the order they ended.
    pub(crate) fn phases(&self) -> &[RawPhase] {
        if self.cursor.is_null() {
            return &[];
        }
        let base = self.phases.as_ptr();
        // SAFETY: `cursor` is within (or one past) the initialised prefix of `phases`' buffer,
        // from its start (see `ExecState::start_in`).
        unsafe {
            let len = self.cursor.offset_from(base) as usize;
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
    const REQUEST: u64 = 1 << 34;

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

    /// The execution named its request: the record's `request` is its own (else it is what a
    /// previous execution left, cleared only when the next one names one).
    pub(crate) fn has_request(self) -> bool {
        self.0 & Self::REQUEST != 0
    }

    pub(crate) fn set_request(&mut self) {
        self.0 |= Self::REQUEST;
    }

    /// An async execution: its record's `polls` and `busy` are its own.
    pub(crate) fn polled(self) -> bool {
        self.0 & Self::POLLED != 0
    }

    pub(crate) fn set_polled(&mut self) {
        self.0 |= Self::POLLED;
    }
}
