//! The execution context: which execution the running code belongs to, and the states and
//! futures the macros wrap function bodies in.
//!
//! A thread-local pointer names the execution whose code is running on the thread. A sync agent
//! installs its execution for the duration of its body; an async agent installs it for each
//! poll of its future and restores the previous one after, so the phases awaited inside land in
//! the right execution on whichever thread polls them, however many executions interleave.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::Ordering::*;
use std::task::{Context, Poll};

use crate::clock;
use crate::profiler::{global_inner, Inner};
use crate::registry::{ExecRecord, RawPhase, Site, AGENT_LEVEL, NO_AGENT};

thread_local! {
    static CURRENT: Cell<*mut ExecState> = const { Cell::new(ptr::null_mut()) };
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

/// The execution of one `#[agent]` call (`None` when not recording).
#[doc(hidden)]
pub struct AgentState(Option<ActiveAgent>);

struct ActiveAgent {
    st: ExecState,
    panicked: bool,
}

// SAFETY: the raw pointer is to the profiler (Sync, outlives the state); nothing in the state is
// tied to the thread that made it.
unsafe impl Send for AgentState {}
unsafe impl Sync for AgentState {}

impl AgentState {
    /// Starts an execution of the agent at `site` in the global profiler.
    #[inline(always)]
    pub fn new(site: &'static Site, request: Option<fmt::Arguments<'_>>) -> AgentState {
        let inner = global_inner();
        if !inner.enabled.load(Relaxed) {
            return AgentState(None);
        }
        Self::begin(inner, site, request)
    }

    #[inline(never)]
    fn begin(
        inner: &Inner,
        site: &'static Site,
        request: Option<fmt::Arguments<'_>>,
    ) -> AgentState {
        let st = ExecState::start_with(inner, site.id(), |s| {
            if let Some(a) = request {
                let _ = s.write_fmt(a);
            }
        });
        AgentState(Some(ActiveAgent {
            st,
            panicked: false,
        }))
    }

    /// Runs a sync body as this execution.
    #[inline(always)]
    pub fn run_sync<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let Some(a) = &mut self.0 else {
            return f();
        };
        let prev = CURRENT.replace(&mut a.st);
        let _restore = Restore {
            prev,
            panicked: &mut a.panicked,
        };
        f()
    }

    /// Runs a future as this execution: installed on every poll.
    #[inline]
    pub fn run<F: Future>(&mut self, fut: F) -> AgentFuture<'_, F> {
        AgentFuture { st: self, fut }
    }

    /// Ends the execution with `outcome`.
    #[inline(always)]
    pub fn finish(self, outcome: Outcome<'_>) {
        let mut this = std::mem::ManuallyDrop::new(self);
        if let Some(a) = this.0.take() {
            a.end(outcome);
        }
    }
}

impl ActiveAgent {
    #[inline(never)]
    fn end(mut self, outcome: Outcome<'_>) {
        self.st.finish(outcome, (0, 0));
    }
}

impl Drop for AgentState {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            let outcome = if a.panicked || std::thread::panicking() {
                Outcome::Panicked
            } else {
                Outcome::Cancelled
            };
            a.end(outcome);
        }
    }
}

/// An async agent's body, installing its execution on every poll.
#[doc(hidden)]
pub struct AgentFuture<'a, F> {
    st: &'a mut AgentState,
    fut: F,
}

impl<F: Future> Future for AgentFuture<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is never moved out of `self`; it is pinned as `self` is.
        let this = unsafe { self.get_unchecked_mut() };
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let Some(a) = &mut this.st.0 else {
            return fut.poll(cx);
        };
        let counting = a.st.alloc.poll_start();
        // Both pointers come from `st`, so neither invalidates the other.
        let st: *mut ExecState = &mut a.st;
        // When counting allocations: this poll's, on this thread, even when it unwinds.
        // SAFETY: `st` is valid: it was just made from a reference.
        let _count = counting.map(|m| PollAlloc(unsafe { ptr::addr_of_mut!((*st).alloc) }, m));
        let prev = CURRENT.replace(st);
        let _restore = Restore {
            prev,
            panicked: &mut a.panicked,
        };
        fut.poll(cx)
    }
}

/// Adds what one poll allocated to its execution when the poll ends.
struct PollAlloc(*mut crate::alloc::Tally, crate::alloc::Mark);

impl Drop for PollAlloc {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: the tally belongs to the execution being polled, which outlives the poll;
        // nothing else touches it during the poll (phases only reach the execution's depth and
        // record).
        unsafe { (*self.0).poll_end(self.1) };
    }
}

/// One call of a phase (`None` when not recording).
#[doc(hidden)]
pub struct PhaseSpan(Option<ActivePhase>);

struct ActivePhase {
    name: u32,
    /// The execution it started in (0: none).
    serial: u64,
    agent: u32,
    t0: u64,
    depth: u32,
    panicked: bool,
    is_async: bool,
}

impl PhaseSpan {
    /// A sync phase of the site, starting now.
    #[inline(always)]
    pub fn new(site: &'static Site) -> PhaseSpan {
        if !recording() {
            return PhaseSpan(None);
        }
        PhaseSpan(Some(ActivePhase::begin(site.id(), false)))
    }

    /// A sync phase of a name known at run time.
    #[inline]
    pub(crate) fn named(name: &str) -> PhaseSpan {
        if !recording() {
            return PhaseSpan(None);
        }
        PhaseSpan(Some(ActivePhase::begin(
            crate::registry::intern_cached(name),
            false,
        )))
    }

    /// An async phase of the site, starting now (at its first poll).
    #[inline]
    pub fn new_async(site: &'static Site) -> PhaseSpan {
        if !recording() {
            return PhaseSpan(None);
        }
        PhaseSpan(Some(ActivePhase::begin(site.id(), true)))
    }

    /// Runs a sync body as this phase.
    #[inline(always)]
    pub fn run_sync<R>(&mut self, f: impl FnOnce() -> R) -> R {
        f()
    }

    /// Runs a future as this phase.
    #[inline]
    pub fn run<F: Future>(&mut self, fut: F) -> PhaseFuture<'_, F> {
        PhaseFuture { span: self, fut }
    }

    /// Ends the phase with `outcome`.
    #[inline(always)]
    pub fn finish(self, outcome: Outcome<'_>) {
        let mut this = std::mem::ManuallyDrop::new(self);
        if let Some(p) = this.0.take() {
            p.end(outcome.failed());
        }
    }
}

impl ActivePhase {
    #[inline(never)]
    fn begin(name: u32, is_async: bool) -> ActivePhase {
        let cur = CURRENT.get();
        let (serial, agent, depth) = if cur.is_null() {
            (0, NO_AGENT, 0)
        } else {
            // SAFETY: CURRENT is only set while its execution is alive, on this thread.
            let c = unsafe { &mut *cur };
            let d = c.depth;
            if !is_async {
                // An async phase sets the depth on each of its polls instead.
                c.depth = d + 1;
            }
            (c.serial, c.agent, d)
        };
        ActivePhase {
            name,
            serial,
            agent,
            t0: clock::now(),
            depth,
            panicked: false,
            is_async,
        }
    }

    #[inline(never)]
    fn end(self, failed: bool) {
        let end = clock::now();
        let ns = clock::delta_ns(self.t0, end);
        let cur = CURRENT.get();
        // SAFETY: CURRENT is only set while its execution is alive, on this thread.
        let exec = if self.serial != 0 && !cur.is_null() && unsafe { (*cur).serial } == self.serial
        {
            Some(unsafe { &mut *cur })
        } else {
            None
        };
        match exec {
            Some(c) => {
                let inner = c.inner();
                let gen = inner.gen.load(Relaxed);
                inner
                    .table()
                    .slot(self.name, self.agent, gen)
                    .record(gen, ns, failed, 0);
                c.push_phase(self.name, self.t0, ns, self.depth);
                if !self.is_async {
                    c.depth = self.depth;
                }
            }
            None => {
                // Outside any execution, or the execution it started in is no longer running
                // here: aggregate it in the global profiler under the agent it began in.
                let inner = global_inner();
                let gen = inner.gen.load(Relaxed);
                inner
                    .table()
                    .slot(self.name, self.agent, gen)
                    .record(gen, ns, failed, 0);
            }
        }
    }
}

impl Drop for PhaseSpan {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            // Not finished: unwound, or (async) dropped before completion.
            let failed = p.panicked || p.is_async || std::thread::panicking();
            p.end(failed);
        }
    }
}

/// An async phase's body, giving the phase its depth on every poll.
#[doc(hidden)]
pub struct PhaseFuture<'a, F> {
    span: &'a mut PhaseSpan,
    fut: F,
}

impl<F: Future> Future for PhaseFuture<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is never moved out of `self`.
        let this = unsafe { self.get_unchecked_mut() };
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let Some(span) = &mut this.span.0 else {
            return fut.poll(cx);
        };
        let cur = CURRENT.get();
        // SAFETY: CURRENT is only set while its execution is alive, on this thread.
        if span.serial == 0 || cur.is_null() || unsafe { (*cur).serial } != span.serial {
            return fut.poll(cx);
        }
        let c = unsafe { &mut *cur };
        let saved = c.depth;
        c.depth = span.depth + 1;
        struct Depth(*mut ExecState, u32, *mut bool);
        impl Drop for Depth {
            fn drop(&mut self) {
                // SAFETY: the execution outlives the poll it is installed for.
                unsafe { (*self.0).depth = self.1 };
                if std::thread::panicking() {
                    unsafe { *self.2 = true };
                }
            }
        }
        let _d = Depth(c, saved, &mut span.panicked);
        fut.poll(cx)
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

/// A phase whose start and end are driven from outside the code it times: the `tracing`
/// layer's spans, which are created, entered, exited and closed by separate calls, possibly on
/// several threads. It behaves as an async phase: its depth is given to the execution while it
/// is entered ([`DetachedPhase::enter`]), not from its start to its end.
#[cfg(feature = "tracing")]
pub(crate) struct DetachedPhase(ActivePhase);

#[cfg(feature = "tracing")]
impl DetachedPhase {
    /// Starts a phase now, in the execution running on this thread (if any); `None` when the
    /// code here does not record. `name` is only called when recording.
    #[inline]
    pub(crate) fn begin(name: impl FnOnce() -> u32) -> Option<DetachedPhase> {
        if !recording() {
            return None;
        }
        Some(DetachedPhase(ActivePhase::begin(name(), true)))
    }

    /// While entered on this thread: when its execution is the one running here, phases
    /// started inside are nested one level below it. Returns the execution's depth to give
    /// back to [`exit`](DetachedPhase::exit) (`None`: another execution, or none, runs here).
    #[inline]
    pub(crate) fn enter(&self) -> Option<u32> {
        let p = &self.0;
        let cur = CURRENT.get();
        // SAFETY: CURRENT is only set while its execution is alive, on this thread.
        if p.serial == 0 || cur.is_null() || unsafe { (*cur).serial } != p.serial {
            return None;
        }
        let c = unsafe { &mut *cur };
        let saved = c.depth;
        c.depth = p.depth + 1;
        Some(saved)
    }

    /// Gives back the depth [`enter`](DetachedPhase::enter) returned, if the same execution
    /// still runs on this thread.
    #[inline]
    pub(crate) fn exit(serial: u64, saved: u32) {
        let cur = CURRENT.get();
        // SAFETY: CURRENT is only set while its execution is alive, on this thread.
        if serial != 0 && !cur.is_null() && unsafe { (*cur).serial } == serial {
            unsafe { (*cur).depth = saved };
        }
    }

    /// The serial of the execution it started in (0: none).
    #[inline]
    pub(crate) fn serial(&self) -> u64 {
        self.0.serial
    }

    /// Ends the phase now: recorded in its execution when that execution runs on this
    /// thread, else aggregated under its agent (or with the phases run outside any
    /// execution), as a phase guard does.
    #[inline]
    pub(crate) fn end(self) {
        self.0.end(std::thread::panicking());
    }
}
