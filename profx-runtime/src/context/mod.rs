//! The execution context: which execution the running code belongs to, and the states and
//! futures the macros wrap function bodies in.
//!
//! A thread-local pointer names the execution whose code is running on the thread. A sync agent
//! installs its execution for the duration of its body; an async agent installs it for each
//! poll of its future and restores the previous one after, so the phases awaited inside land in
//! the right execution on whichever thread polls them, however many executions interleave.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::ptr;
use std::sync::atomic::Ordering::*;

use crate::clock;
use crate::profiler::{global_inner, Inner};
use crate::registry::{ExecRecord, RawPhase, Site, AGENT_LEVEL, NO_AGENT};

mod agent;
mod phase;

pub use agent::{AgentFuture, AgentState};
#[cfg(feature = "tracing")]
pub(crate) use phase::DetachedPhase;
pub use phase::{PhaseFuture, PhaseSpan};

thread_local! {
    pub(super) static CURRENT: Cell<*mut ExecState> = const { Cell::new(ptr::null_mut()) };
}

/// How long an error message may be, in bytes.
pub(crate) const MAX_ERROR_LEN: usize = 256;

/// How a function ended, as the macros classify its return value.
#[doc(hidden)]
pub enum Outcome<'a> {
    /// Returned normally (or `Ok`).
    Success,
    /// Returned `Err` with a `Display` error.
    Error(&'a dyn fmt::Display),
    /// Returned `Err` with a `Debug`-only error.
    ErrorDebug(&'a dyn fmt::Debug),
    /// Returned `Err` whose error can't be shown.
    ErrorOpaque,
    /// Unwound.
    Panicked,
    /// Dropped before completion.
    Cancelled,
}

impl Outcome<'_> {
    fn failed(&self) -> bool {
        !matches!(self, Outcome::Success)
    }

    fn write_message(&self, out: &mut String) {
        let mut w = Bounded {
            out,
            left: MAX_ERROR_LEN,
        };
        let _ = match self {
            Outcome::Success => Ok(()),
            Outcome::Error(e) => write!(w, "{e}"),
            Outcome::ErrorDebug(e) => write!(w, "{e:?}"),
            Outcome::ErrorOpaque => w.write_str("error"),
            Outcome::Panicked => w.write_str("panicked"),
            Outcome::Cancelled => w.write_str("cancelled"),
        };
    }
}

/// Writes at most `left` bytes, cutting at a character boundary, and drops the rest.
struct Bounded<'a> {
    out: &'a mut String,
    left: usize,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.left {
            self.out.push_str(s);
            self.left -= s.len();
        } else {
            let mut end = self.left;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.out.push_str(&s[..end]);
            self.left = 0;
        }
        Ok(())
    }
}

/// A running execution.
pub(crate) struct ExecState {
    pub(crate) inner: *const Inner,
    pub(crate) agent: u32,
    pub(crate) serial: u64,
    pub(crate) t0: u64,
    pub(crate) depth: u32,
    /// The record being filled when this execution is kept (sampling).
    rec: Option<Box<ExecRecord>>,
    dropped: u64,
    /// What it allocated (when the counting allocator is installed).
    pub(crate) alloc: crate::alloc::Tally,
}

impl ExecState {
    pub(crate) fn start_with(inner: &Inner, agent: u32, request: impl FnOnce(&mut String)) -> Self {
        let table = inner.table();
        let serial = table.next_serial();
        let rec = if table.sample(inner.config.sample) {
            let mut r = table.take_record();
            if CURRENT.get().is_null() {
                request(&mut r.request);
            } else {
                // Inside another execution: the request's text is profx's memory, not its.
                crate::alloc::exclude(|| request(&mut r.request));
            }
            Some(r)
        } else {
            None
        };
        let t0 = clock::now();
        ExecState {
            inner,
            agent,
            serial,
            t0,
            depth: 0,
            rec,
            dropped: 0,
            // Last: the request and the record are profx's, not the execution's.
            alloc: crate::alloc::Tally::start(),
        }
    }

    fn inner<'a>(&self) -> &'a Inner {
        // SAFETY: whoever owns the state keeps the profiler alive (the global one is 'static;
        // `Execution` holds a handle).
        unsafe { &*self.inner }
    }

    /// Adds a phase record, or counts it as dropped past `PROFX_MAX_PHASES`.
    #[inline]
    fn push_phase(&mut self, name: u32, start: u64, duration_ns: u64, depth: u32) {
        let max = self.inner().config.max_phases;
        if let Some(rec) = &mut self.rec {
            if rec.phases.len() < max {
                let p = RawPhase {
                    name,
                    offset_ns: clock::delta_ns(self.t0, start),
                    duration_ns,
                    depth,
                };
                crate::alloc::push(&mut rec.phases, p);
            } else {
                self.dropped += 1;
            }
        }
    }

    /// Ends the execution: aggregates it and, when kept, publishes its record. `extra`:
    /// (bytes, allocations) counted elsewhere (a manual execution's `in_scope` on other
    /// threads).
    pub(crate) fn finish(&mut self, outcome: Outcome<'_>, extra: (u64, u64)) {
        // First: what follows (the record, the message) is profx's, not the execution's.
        let (memory, allocations) = self.alloc.finish();
        let (memory, allocations) = (memory + extra.0, allocations + extra.1);
        let end = clock::now();
        let ns = clock::delta_ns(self.t0, end);
        let inner = self.inner();
        let gen = inner.gen.load(Relaxed);
        let table = inner.table();
        table
            .slot(self.agent, AGENT_LEVEL, gen)
            .record(gen, ns, outcome.failed(), memory);
        if let Some(mut r) = self.rec.take() {
            r.gen = gen;
            r.serial = self.serial;
            r.agent = self.agent;
            r.start = self.t0;
            r.duration_ns = ns;
            r.success = !outcome.failed();
            r.error = if outcome.failed() {
                let mut s = String::new();
                crate::alloc::exclude(|| outcome.write_message(&mut s));
                Some(s)
            } else {
                None
            };
            r.phases_dropped = self.dropped;
            r.memory = memory;
            r.allocations = allocations;
            r.threads = crate::threads::process_threads(end);
            table.publish(&inner.rings, r, inner.config.max_executions);
        }
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
        CURRENT.set(self.prev);
        if std::thread::panicking() {
            *self.panicked = true;
        }
    }
}

/// Whether the code running here records: the switch of the current execution's profiler, or
/// of the global one. One thread-local read, one load and a branch.
#[inline(always)]
fn recording() -> bool {
    let cur = CURRENT.get();
    if cur.is_null() {
        global_inner().enabled.load(Relaxed)
    } else {
        // SAFETY: CURRENT is only set while its execution is alive, on this thread.
        unsafe { (*(*cur).inner).enabled.load(Relaxed) }
    }
}

/// Runs `f` with `state` as the current execution (the manual API's `in_scope`).
pub(crate) fn with_current<R>(state: &mut ExecState, f: impl FnOnce() -> R) -> R {
    let prev = CURRENT.replace(state);
    let mut panicked = false;
    let _restore = Restore {
        prev,
        panicked: &mut panicked,
    };
    f()
}

/// The manual API's phases: aggregate and record into `state`.
pub(crate) fn record_phase(state: &mut ExecState, name: u32, t0: u64, depth: u32, failed: bool) {
    let ns = clock::delta_ns(t0, clock::now());
    let inner = state.inner();
    let gen = inner.gen.load(Relaxed);
    inner
        .table()
        .slot(name, state.agent, gen)
        .record(gen, ns, failed, 0);
    state.push_phase(name, t0, ns, depth);
}
