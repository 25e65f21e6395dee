//! The execution context: which execution the running code belongs to, and the states and
//! futures the macros wrap function bodies in.
//!
//! One thread-local block ([`Tls`]) names the execution whose code is running on the thread and
//! this thread's table of the global profiler. It is constant-initialised and has no
//! destructor, so reaching it is one offset from the thread pointer. A sync agent installs its
//! execution for the duration of its body; an async agent installs it for each poll of its
//! future and restores the previous one after, so the phases awaited inside land in the right
//! execution on whichever thread polls them, however many executions interleave.
//!
//! An execution runs in its record ([`ExecRecord`], taken from its thread's table when it
//! starts), which carries what its phases need on the hot path: the table of the thread it runs
//! on (set when it starts and at each poll), its agent, its depth and where its next phase
//! record goes.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::ptr;
use std::sync::atomic::Ordering::*;

use crate::clock;
use crate::profiler::{global_inner, Inner};
use crate::registry::{
    Ended, ExecRecord, RawPhase, Site, ThreadTable, AGENT_LEVEL, NO_AGENT, WAITING,
};

mod agent;
mod exec;
mod loose;
mod phase;
mod returned;

pub use agent::{AgentEnd, AgentFuture, AgentState, SyncAgent};
pub(crate) use exec::Exec;
use loose::{close_loose, loose_nested, record_loose};
#[cfg(feature = "tracing")]
pub(crate) use phase::DetachedPhase;
pub use phase::{armed, body, once, PhaseFuture, PhaseSpan, SyncPhase};
pub use returned::Returned;

/// What the hot path needs of this thread.
pub(crate) struct Tls {
    /// The execution whose code runs here (null: none).
    pub(crate) current: Cell<*mut ExecState>,
    /// This thread's table of the global profiler (null until its first use).
    pub(crate) global_table: Cell<*const ThreadTable>,
    /// profx's number for this thread (0 until its first execution; set before
    /// `global_table`), which kept executions carry.
    pub(crate) thread_no: Cell<u32>,
    /// [`ExecState::nested`] of the phases run outside any execution on this thread.
    pub(crate) loose_nested: Cell<u64>,
}

thread_local! {
    pub(crate) static TLS: Tls = const {
        Tls {
            current: Cell::new(ptr::null_mut()),
            global_table: Cell::new(ptr::null()),
            thread_no: Cell::new(0),
            loose_nested: Cell::new(0),
        }
    };
}

/// The execution running on this thread (null: none).
#[inline(always)]
pub(crate) fn current() -> *mut ExecState {
    TLS.with(|t| t.current.get())
}

/// profx's number for this thread, given at its first execution.
#[inline(always)]
pub(crate) fn thread_no() -> u32 {
    TLS.with(|t| match t.thread_no.get() {
        0 => number_thread(t),
        n => n,
    })
}

#[cold]
#[inline(never)]
fn number_thread(t: &Tls) -> u32 {
    let n = crate::thread_ids::assign();
    t.thread_no.set(n);
    n
}

/// Makes `exec` the current execution, returning the previous one.
#[inline(always)]
fn replace_current(exec: *mut ExecState) -> *mut ExecState {
    TLS.with(|t| t.current.replace(exec))
}

/// A running execution: its record (see [`ExecRecord`]), which it fills as it runs.
pub(crate) type ExecState = ExecRecord;

impl ExecState {
    fn inner(&self) -> &Inner {
        // SAFETY: whoever owns the execution keeps the profiler alive while it runs (the
        // global one is 'static; `Execution` holds a handle).
        unsafe { &*self.inner.cast::<Inner>() }
    }

    /// The table of the thread the execution runs on (not borrowed from it).
    #[inline(always)]
    fn table<'t>(&self) -> &'t ThreadTable {
        // SAFETY: the table of the thread running the execution, which its profiler keeps.
        unsafe { &*self.table.cast::<ThreadTable>() }
    }

    /// Points the execution at this thread's table (it is about to run here).
    #[inline(always)]
    pub(crate) fn run_here(&mut self) {
        self.table = (self.inner().table() as *const ThreadTable).cast();
    }

    /// Adds a phase record, or counts it as dropped past `PROFX_MAX_PHASES`.
    #[inline(always)]
    fn push_phase(&mut self, name: u32, start: u64, duration: u64, depth: u32, ended: Ended) {
        let p = RawPhase::new(start, duration, name, depth, ended);
        if self.cursor < self.end {
            self.write_phase(p);
        } else {
            self.push_phase_slow(p);
        }
    }

    /// Writes a phase record in place; the record must have room (`cursor < end`).
    #[inline(always)]
    fn write_phase(&mut self, p: RawPhase) {
        // SAFETY: `cursor` is within the kept record's buffer, before `end`.
        unsafe {
            self.cursor.write(p);
            self.cursor = self.cursor.add(1);
        }
    }

    /// Phase records written in place so far.
    fn phases_len(&self) -> usize {
        // SAFETY: `cursor` is within (or one past) the buffer, from its start (a kept
        // execution's).
        unsafe { self.cursor.offset_from(self.phases.as_ptr()) as usize }
    }

    /// Not kept, past the record's room, or past `PROFX_MAX_PHASES`.
    #[cold]
    #[inline(never)]
    fn push_phase_slow(&mut self, p: RawPhase) {
        if self.not_kept {
            return;
        }
        let max = self.inner().config.max_phases;
        let len = self.phases_len();
        if len < max {
            let v = &mut self.phases;
            // SAFETY: the first `len` records were written in place.
            unsafe { v.set_len(len) };
            crate::alloc::push(v, p);
            let base = v.as_mut_ptr();
            // SAFETY: within (or one past) the buffer's capacity.
            unsafe {
                self.end = base.add(v.capacity().min(max));
                self.cursor = base.add(v.len());
            }
        } else {
            self.marks.drop_phase();
        }
    }

    /// Ends a sync phase of this execution (its depth is the execution's less one) if that
    /// needs no slow path: the slot is the one its name used last here, its histogram has
    /// room, and so has the record when the execution is kept. `false`: nothing changed.
    #[inline(always)]
    pub(crate) fn try_end_phase(
        &mut self,
        name: u32,
        start: u64,
        ticks: u64,
        s0: u64,
        ended: Ended,
    ) -> bool {
        let table = self.table();
        let Some(slot) = table.slot_fast(name, self.agent) else {
            return false;
        };
        if !slot.try_count(ticks) {
            return false;
        }
        // Read once: the stores to the slot below could alias it, for all the compiler knows.
        let cursor = self.cursor;
        if cursor < self.end {
            slot.commit(ticks, self.close(s0, ticks), ended, 0);
            // The phase's depth plus one.
            let level = self.depth;
            // SAFETY: `cursor` is within the kept record's buffer, before `end`.
            unsafe { cursor.write(RawPhase::at_level(start, ticks, name, level, ended)) };
            self.advance_and_leave();
        } else {
            // Not kept (aggregates only), or kept and out of room.
            slot.commit(ticks, self.close(s0, ticks), ended, 0);
            let level = self.depth;
            self.depth = level.wrapping_sub(1);
            if !self.not_kept {
                self.push_phase_slow(RawPhase::at_level(start, ticks, name, level, ended));
            }
        }
        true
    }

    /// After a phase record was written at the cursor (which must have had room): the cursor
    /// one record on, and one level up. Each is one instruction on memory, where the compiler
    /// would write the values it already holds in registers back (two instructions each).
    #[inline(always)]
    fn advance_and_leave(&mut self) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        // SAFETY: adds one record's size to the `cursor` field and decrements the `depth`
        // field of `*self`, to which `self` gives exclusive access; the cursor stays within
        // (or one past) the record's buffer, as its caller checked; touches nothing else but
        // the flags.
        unsafe {
            std::arch::asm!(
                "add qword ptr [{s} + {cursor}], {size}",
                "dec dword ptr [{s} + {depth}]",
                s = in(reg) self as *mut ExecState,
                cursor = const std::mem::offset_of!(ExecState, cursor),
                size = const std::mem::size_of::<RawPhase>(),
                depth = const std::mem::offset_of!(ExecState, depth),
                options(nostack),
            );
        }
        #[cfg(any(not(target_arch = "x86_64"), miri))]
        {
            // SAFETY: as above.
            self.cursor = unsafe { self.cursor.add(1) };
            self.depth = self.depth.wrapping_sub(1);
        }
    }

    /// Ends a phase that read [`nested`](ExecState::nested) as `s0` at its start and lasted
    /// `ticks`: the time of the phases nested in it.
    #[inline(always)]
    pub(crate) fn close(&mut self, s0: u64, ticks: u64) -> u64 {
        let nested = self.nested.wrapping_sub(s0);
        self.nested = s0.wrapping_add(ticks);
        nested
    }

    /// Records a phase of this execution that ran `ticks` from `start`, with `nested` ticks
    /// of phases nested in it, `waiting` of them outside its polls (an async phase), on this
    /// thread.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn record_phase(
        &mut self,
        name: u32,
        start: u64,
        ticks: u64,
        depth: u32,
        nested: u64,
        ended: Ended,
        waiting: u64,
    ) {
        self.table()
            .record(name, self.agent, ticks, nested, ended, waiting);
        self.push_phase(name, start, ticks, depth, ended);
    }
}

/// Adds the time from its start until it is dropped (the poll returned, or unwound) to a
/// busy total: two clock readings per poll of an async agent or phase.
pub(crate) struct PollTimer<'a> {
    t0: u64,
    busy: &'a mut u64,
}

impl<'a> PollTimer<'a> {
    #[inline(always)]
    pub(crate) fn start(busy: &'a mut u64) -> PollTimer<'a> {
        PollTimer {
            t0: clock::now(),
            busy,
        }
    }
}

impl Drop for PollTimer<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        *self.busy = self.busy.wrapping_add(clock::ticks(self.t0, clock::now()));
    }
}

/// Puts the previous execution back when a body or a poll ends, even by unwinding.
struct Restore<'a> {
    prev: *mut ExecState,
    panicked: &'a mut bool,
}

impl Drop for Restore<'_> {
    #[inline]
    fn drop(&mut self) {
        replace_current(self.prev);
        if std::thread::panicking() {
            *self.panicked = true;
        }
    }
}

/// Whether the code running here records: the switch of the current execution's profiler, or
/// of the global one.
#[inline(always)]
fn recording() -> bool {
    if !crate::profiler::armed() {
        return false;
    }
    let cur = current();
    if cur.is_null() {
        global_inner().enabled.load(Relaxed)
    } else {
        // SAFETY: CURRENT is only set while its execution is alive, on this thread.
        unsafe { (*cur).inner().enabled.load(Relaxed) }
    }
}

/// Runs `f` with `state` as the current execution (the manual API's `in_scope`).
pub(crate) fn with_current<R>(state: &mut ExecState, f: impl FnOnce() -> R) -> R {
    state.run_here();
    let prev = replace_current(state);
    let mut panicked = false;
    let _restore = Restore {
        prev,
        panicked: &mut panicked,
    };
    f()
}

/// The manual API's phases: aggregate and record into `state`, on this thread.
/// `s0`: the state's [`nested`](ExecState::nested) at the phase's start.
pub(crate) fn record_phase(
    state: &mut ExecState,
    name: u32,
    t0: u64,
    depth: u32,
    s0: u64,
    ended: Ended,
) {
    let ticks = clock::ticks(t0, clock::now());
    state.run_here();
    let nested = state.close(s0, ticks);
    state.record_phase(name, t0, ticks, depth, nested, ended, 0);
}
