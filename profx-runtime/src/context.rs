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
use std::sync::Arc;
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
    /// The record being filled when this execution is kept; uniquely owned until published.
    rec: Option<Arc<ExecRecord>>,
    rec_ptr: *mut ExecRecord,
    dropped: u64,
}

impl ExecState {
    /// Starts an execution of `agent` in `inner`.
    pub(crate) fn start(inner: &Inner, agent: u32, request: Option<fmt::Arguments<'_>>) -> Self {
        Self::start_with(inner, agent, |s| {
            if let Some(a) = request {
                let _ = s.write_fmt(a);
            }
        })
    }

    pub(crate) fn start_with(inner: &Inner, agent: u32, request: impl FnOnce(&mut String)) -> Self {
        let table = inner.table();
        let serial = table.next_serial();
        let (rec, rec_ptr) = if table.sample(inner.config.sample) {
            let mut r = table.take_record();
            let p = match Arc::get_mut(&mut r) {
                Some(p) => p as *mut ExecRecord,
                None => {
                    r = Arc::default();
                    Arc::get_mut(&mut r).expect("a new Arc is unique") as *mut ExecRecord
                }
            };
            // SAFETY: `r` is the only handle to the record.
            request(unsafe { &mut (*p).request });
            (Some(r), p)
        } else {
            (None, ptr::null_mut())
        };
        ExecState {
            inner,
            agent,
            serial,
            t0: clock::now(),
            depth: 0,
            rec,
            rec_ptr,
            dropped: 0,
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
        if self.rec_ptr.is_null() {
            return;
        }
        // SAFETY: uniquely owned until published (see `rec`).
        let rec = unsafe { &mut *self.rec_ptr };
        if rec.phases.len() < self.inner().config.max_phases {
            rec.phases.push(RawPhase {
                name,
                offset_ns: clock::delta_ns(self.t0, start),
                duration_ns,
                depth,
            });
        } else {
            self.dropped += 1;
        }
    }

    /// Ends the execution: aggregates it and, when kept, publishes its record.
    pub(crate) fn finish(&mut self, outcome: Outcome<'_>) {
        let end = clock::now();
        let ns = clock::delta_ns(self.t0, end);
        let inner = self.inner();
        let gen = inner.gen.load(Relaxed);
        let table = inner.table();
        table
            .slot(self.agent, AGENT_LEVEL, gen)
            .record(gen, ns, outcome.failed(), 0);
        if let Some(rec) = self.rec.take() {
            // SAFETY: still uniquely owned.
            let r = unsafe { &mut *self.rec_ptr };
            self.rec_ptr = ptr::null_mut();
            r.gen = gen;
            r.serial = self.serial;
            r.agent = self.agent;
            r.start = self.t0;
            r.duration_ns = ns;
            r.success = !outcome.failed();
            r.error = if outcome.failed() {
                let mut s = String::new();
                outcome.write_message(&mut s);
                Some(s)
            } else {
                None
            };
            r.phases_dropped = self.dropped;
            r.threads = crate::threads::process_threads();
            table.publish(rec, inner.config.max_executions);
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

/// The execution of one `#[agent]` call.
#[doc(hidden)]
pub struct AgentState {
    st: ExecState,
    active: bool,
    finished: bool,
    panicked: bool,
}

// SAFETY: the raw pointers are to the profiler (Sync, outlives the state) and to the record
// the state owns alone; nothing in the state is tied to the thread that made it.
unsafe impl Send for AgentState {}
unsafe impl Sync for AgentState {}

impl AgentState {
    /// Starts an execution of the agent at `site` in the global profiler.
    #[inline]
    pub fn new(site: &'static Site, request: Option<fmt::Arguments<'_>>) -> AgentState {
        let inner = global_inner();
        if !inner.enabled.load(Relaxed) {
            return AgentState::inactive();
        }
        AgentState {
            st: ExecState::start(inner, site.id(), request),
            active: true,
            finished: false,
            panicked: false,
        }
    }

    fn inactive() -> AgentState {
        AgentState {
            st: ExecState {
                inner: ptr::null(),
                agent: 0,
                serial: 0,
                t0: 0,
                depth: 0,
                rec: None,
                rec_ptr: ptr::null_mut(),
                dropped: 0,
            },
            active: false,
            finished: true,
            panicked: false,
        }
    }

    /// Runs a sync body as this execution.
    #[inline(always)]
    pub fn run_sync<R>(&mut self, f: impl FnOnce() -> R) -> R {
        if !self.active {
            return f();
        }
        let prev = CURRENT.replace(&mut self.st);
        let _restore = Restore {
            prev,
            panicked: &mut self.panicked,
        };
        f()
    }

    /// Runs a future as this execution: installed on every poll.
    #[inline]
    pub fn run<F: Future>(&mut self, fut: F) -> AgentFuture<'_, F> {
        AgentFuture { st: self, fut }
    }

    /// Ends the execution with `outcome`.
    #[inline]
    pub fn finish(mut self, outcome: Outcome<'_>) {
        if self.active {
            self.finished = true;
            self.st.finish(outcome);
        }
    }
}

impl Drop for AgentState {
    fn drop(&mut self) {
        if !self.finished {
            self.finished = true;
            let outcome = if self.panicked || std::thread::panicking() {
                Outcome::Panicked
            } else {
                Outcome::Cancelled
            };
            self.st.finish(outcome);
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
        if !this.st.active {
            return fut.poll(cx);
        }
        let prev = CURRENT.replace(&mut this.st.st);
        let _restore = Restore {
            prev,
            panicked: &mut this.st.panicked,
        };
        fut.poll(cx)
    }
}

/// One call of a phase.
#[doc(hidden)]
pub struct PhaseSpan {
    name: u32,
    /// The execution it started in (0: none).
    serial: u64,
    agent: u32,
    t0: u64,
    depth: u32,
    active: bool,
    finished: bool,
    panicked: bool,
    started_async: bool,
}

impl PhaseSpan {
    /// A sync phase of the site, starting now.
    #[inline(always)]
    pub fn new(site: &'static Site) -> PhaseSpan {
        Self::start(site.id(), true)
    }

    /// A sync phase of a name known at run time.
    #[inline]
    pub(crate) fn named(name: &str) -> PhaseSpan {
        let cur = CURRENT.get();
        let enabled = if cur.is_null() {
            global_inner().enabled.load(Relaxed)
        } else {
            // SAFETY: CURRENT is only set while its execution is alive.
            unsafe { (*(*cur).inner).enabled.load(Relaxed) }
        };
        if !enabled {
            return Self::inactive();
        }
        Self::start(crate::registry::intern_cached(name), true)
    }

    /// An async phase of the site, starting now (at its first poll).
    #[inline]
    pub fn new_async(site: &'static Site) -> PhaseSpan {
        let mut s = Self::start(site.id(), false);
        s.started_async = s.active;
        s
    }

    fn inactive() -> PhaseSpan {
        PhaseSpan {
            name: 0,
            serial: 0,
            agent: NO_AGENT,
            t0: 0,
            depth: 0,
            active: false,
            finished: true,
            panicked: false,
            started_async: false,
        }
    }

    #[inline(always)]
    fn start(name: u32, sync: bool) -> PhaseSpan {
        let cur = CURRENT.get();
        let (serial, agent, depth) = if cur.is_null() {
            if !global_inner().enabled.load(Relaxed) {
                return Self::inactive();
            }
            (0, NO_AGENT, 0)
        } else {
            // SAFETY: CURRENT is only set while its execution is alive, on this thread.
            let c = unsafe { &mut *cur };
            if !c.inner().enabled.load(Relaxed) {
                return Self::inactive();
            }
            let d = c.depth;
            if sync {
                c.depth = d + 1;
            }
            (c.serial, c.agent, d)
        };
        PhaseSpan {
            name,
            serial,
            agent,
            t0: clock::now(),
            depth,
            active: true,
            finished: false,
            panicked: false,
            started_async: false,
        }
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
    pub fn finish(mut self, outcome: Outcome<'_>) {
        self.end(outcome.failed());
    }

    #[inline(always)]
    fn end(&mut self, failed: bool) {
        if self.finished {
            return;
        }
        self.finished = true;
        let end = clock::now();
        let ns = clock::delta_ns(self.t0, end);
        let cur = CURRENT.get();
        // SAFETY: as above.
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
                if !self.started_async {
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
    #[inline]
    fn drop(&mut self) {
        if !self.finished {
            let failed = self.panicked || std::thread::panicking() || self.started_async;
            self.end(failed);
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
        let span = &mut *this.span;
        let cur = CURRENT.get();
        // SAFETY: CURRENT is only set while its execution is alive, on this thread.
        if !span.active
            || span.serial == 0
            || cur.is_null()
            || unsafe { (*cur).serial } != span.serial
        {
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
