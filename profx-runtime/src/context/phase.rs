//! The spans and future a `#[phase]` body runs in (and the `tracing` layer's detached phase):
//! timed, nested in the current execution, recorded when they end.
//!
//! - [`SyncPhase`]: a sync `#[phase]` function. Its body cannot leave the execution it starts
//!   in (whatever it installs, it restores before returning), so the span is three words — the
//!   execution, the start and the execution's `nested` at the start — and its depth is the
//!   execution's, less the one it added.
//! - [`PhaseSpan`]: an async phase, a `profx::phase` guard or a `phase_block!`, which may end in another
//!   execution than the one it started in (a guard held across an `.await`), so it remembers
//!   the execution's serial and checks it.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::*;
use crate::registry::SiteRef;

/// One call of a sync `#[phase]` function of site `S`.
#[doc(hidden)]
pub struct SyncPhase<S: SiteRef> {
    /// The execution it runs in (null: none).
    exec: *mut ExecState,
    /// Start reading.
    t0: u64,
    /// The execution's [`nested`](ExecState::nested) at the start (outside any execution, the
    /// thread's).
    s0: u64,
    _site: PhantomData<S>,
}

/// What an instrumented sync function asks first: 0 when nothing records (it then calls its
/// body and nothing else); positive when something does and the clock is the TSC (it calls
/// [`SyncPhase::run`] or [`SyncAgent::run`](super::SyncAgent::run)); negative when the clock
/// is not known to be the TSC (their `run_any_clock`).
#[doc(hidden)]
#[inline(always)]
pub fn armed() -> i32 {
    crate::profiler::ARMED.load(Relaxed) as i32
}

impl<S: SiteRef> SyncPhase<S> {
    /// Runs `body` as a phase of site `S`; `failed` says whether its value is a failure.
    /// Called when [`armed`] is positive.
    #[inline(never)]
    pub fn run<R>(body: impl FnOnce() -> R, failed: impl FnOnce(&R) -> bool) -> R {
        // One thread-local access for both.
        let (exec, table) = TLS.with(|t| (t.current.get(), t.global_table.get()));
        if !exec.is_null() {
            // SAFETY: the current execution is alive while its code runs on this thread. An
            // execution started while recording records all of its phases.
            unsafe { (*exec).depth += 1 };
            return Self::timed(exec, body, failed);
        }
        if table.is_null() || crate::profiler::ARMED.load(Relaxed) & crate::profiler::GLOBAL_ON == 0
        {
            return Self::run_loose(body, failed);
        }
        Self::timed_loose(table, body, failed)
    }

    /// `run` outside any execution when the global profiler does not record, or this
    /// thread has not used it yet.
    #[cold]
    #[inline(never)]
    fn run_loose<R>(body: impl FnOnce() -> R, failed: impl FnOnce(&R) -> bool) -> R {
        if crate::profiler::ARMED.load(Relaxed) & crate::profiler::GLOBAL_ON == 0 {
            return self::body(body);
        }
        Self::timed(ptr::null_mut(), body, failed)
    }

    /// Times `body` between two TSC readings and records it in `exec` (null: none).
    ///
    /// The body is inlined here, between the two readings, as it is in the function the
    /// attribute is on (the body is also compiled, apart, for the path where nothing records:
    /// see [`body`]).
    #[inline(always)]
    fn timed<R>(
        exec: *mut ExecState,
        body: impl FnOnce() -> R,
        failed: impl FnOnce(&R) -> bool,
    ) -> R {
        // Ends the phase as failed if the body unwinds.
        let span = SyncPhase::<S> {
            exec,
            // SAFETY: the current execution, alive while its code runs here.
            s0: if exec.is_null() {
                loose_nested()
            } else {
                unsafe { (*exec).nested }
            },
            t0: clock::tsc(),
            _site: PhantomData,
        };
        let r = body();
        let span = std::mem::ManuallyDrop::new(span);
        let t1 = clock::tsc();
        // Not saturated: a reading before the start (which an invariant TSC does not give)
        // wraps to a value no histogram counts, and the slow path takes it as 0.
        if failed(&r) {
            end_sync_at::<true>(S::site(), span.exec, span.t0, span.s0, t1);
        } else {
            end_sync_at::<false>(S::site(), span.exec, span.t0, span.s0, t1);
        }
        r
    }

    /// [`timed`](SyncPhase::timed) outside any execution, recorded in `table`, this thread's
    /// table of the global profiler.
    #[inline(always)]
    fn timed_loose<R>(
        table: *const ThreadTable,
        body: impl FnOnce() -> R,
        failed: impl FnOnce(&R) -> bool,
    ) -> R {
        let span = SyncPhase::<S> {
            exec: ptr::null_mut(),
            s0: loose_nested(),
            t0: clock::tsc(),
            _site: PhantomData,
        };
        let r = body();
        let span = std::mem::ManuallyDrop::new(span);
        let ticks = clock::tsc().wrapping_sub(span.t0);
        let failed = failed(&r);
        // 0 until the site is registered: index 0 never holds a slot of `NO_AGENT`.
        let name = S::site().known_id();
        // SAFETY: the global profiler's tables are never dropped.
        if let Some(slot) = unsafe { &*table }.slot_fast(name, NO_AGENT) {
            if slot.try_count(ticks) {
                slot.commit(
                    ticks,
                    close_loose(span.s0, ticks),
                    Ended::failed_if(failed),
                    0,
                );
                return r;
            }
        }
        end_sync_slow(
            S::site(),
            ptr::null_mut(),
            span.t0,
            span.s0,
            Some(ticks),
            failed,
        );
        r
    }

    /// [`run`](SyncPhase::run) when the clock is not the TSC (or not known yet to be):
    /// [`armed`] is negative.
    #[cold]
    #[inline(never)]
    pub fn run_any_clock<R>(body: impl FnOnce() -> R, failed: impl FnOnce(&R) -> bool) -> R {
        let Some(exec) = Self::enter() else {
            return self::body(body);
        };
        let span = SyncPhase::<S> {
            exec,
            // SAFETY: as in `timed`.
            s0: if exec.is_null() {
                loose_nested()
            } else {
                unsafe { (*exec).nested }
            },
            t0: clock::now(),
            _site: PhantomData,
        };
        let r = self::body(body);
        let span = std::mem::ManuallyDrop::new(span);
        end_sync_slow(S::site(), span.exec, span.t0, span.s0, None, failed(&r));
        r
    }

    /// The execution the phase starts in (null: none), one level deeper; `None` when nothing
    /// records here.
    #[inline(always)]
    fn enter() -> Option<*mut ExecState> {
        let exec = current();
        if exec.is_null() {
            if !global_inner().enabled.load(Relaxed) {
                return None;
            }
        } else {
            // SAFETY: the current execution is alive while its code runs on this thread. An
            // execution started while recording records all of its phases.
            unsafe { (*exec).depth += 1 };
        }
        Some(exec)
    }
}

impl<S: SiteRef> Drop for SyncPhase<S> {
    fn drop(&mut self) {
        // Not finished: unwound.
        end_sync::<true>(S::site(), self.exec, self.t0, self.s0);
    }
}

/// Calls a sync body (the closure is inlined here, and this is not inlined into its caller):
/// what runs when nothing records, and inside [`SyncPhase::run`] when something does.
#[doc(hidden)]
#[inline(never)]
pub fn body<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The body closure as it is bound by the macros, before one of three calls takes it: typed as
/// `FnOnce` here, so that a body may hand out what it captured (`&mut self.field`), as the
/// function could.
#[doc(hidden)]
#[inline(always)]
pub fn once<R, F: FnOnce() -> R>(f: F) -> F {
    f
}

/// Records a sync phase: into its execution, or with the phases run outside any.
///
/// The common case — the TSC is the clock, the site has its id, the slot is the one its name
/// used last on this thread, its histogram and the execution's record have room — is checked
/// first and then written; anything else is left, unchanged, to [`end_sync_slow`], so that
/// this path calls nothing and needs no saved registers.
#[inline(always)]
fn end_sync<const FAILED: bool>(site: &'static Site, exec: *mut ExecState, t0: u64, s0: u64) {
    match clock::now_tsc() {
        Some(t1) => end_sync_at::<FAILED>(site, exec, t0, s0, t1),
        None => end_sync_slow(site, exec, t0, s0, None, FAILED),
    }
}

/// [`end_sync`] with the end reading taken.
#[inline(always)]
fn end_sync_at<const FAILED: bool>(
    site: &'static Site,
    exec: *mut ExecState,
    t0: u64,
    s0: u64,
    t1: u64,
) {
    let ticks = t1.wrapping_sub(t0);
    // 0 until the site is registered: no slot has name 0, so `try_end_phase` leaves it to the
    // slow path.
    let name = site.known_id();
    if exec.is_null() {
        if name != 0 {
            let nested = close_loose(s0, ticks);
            return record_loose(name, NO_AGENT, ticks, nested, Ended::failed_if(FAILED), 0);
        }
    // SAFETY: the execution the phase started in is still the current one (see `SyncPhase`).
    } else if unsafe { (*exec).try_end_phase(name, t0, ticks, s0, Ended::failed_if(FAILED)) } {
        return;
    }
    end_sync_slow(site, exec, t0, s0, Some(ticks), FAILED)
}

#[cold]
#[inline(never)]
fn end_sync_slow(
    site: &'static Site,
    exec: *mut ExecState,
    t0: u64,
    s0: u64,
    ticks: Option<u64>,
    failed: bool,
) {
    let ticks = match ticks {
        Some(t) => clock::sane(t),
        None => clock::ticks(t0, clock::now()),
    };
    let name = site.id();
    let ended = Ended::failed_if(failed);
    if exec.is_null() {
        let nested = close_loose(s0, ticks);
        return record_loose(name, NO_AGENT, ticks, nested, ended, 0);
    }
    // SAFETY: as in `end_sync`.
    let c = unsafe { &mut *exec };
    let depth = c.depth.wrapping_sub(1);
    c.depth = depth;
    let nested = c.close(s0, ticks);
    c.record_phase(name, t0, ticks, depth, nested, ended, 0);
}

/// One call of an async phase or of a `profx::phase` guard (`None` when not recording).
#[doc(hidden)]
pub struct PhaseSpan(Option<ActivePhase>);

struct ActivePhase {
    name: u32,
    /// The execution it started in (0: none).
    serial: u64,
    agent: u32,
    t0: u64,
    depth: u32,
    /// The execution's (or the thread's) `nested` at the start; or, when `own_nested`, the
    /// phase's own, installed while it is polled (see [`ExecState::nested`]).
    nested: u64,
    panicked: bool,
    is_async: bool,
    /// An async phase polled through [`PhaseFuture`], which keeps its nested time apart and
    /// times its polls.
    own_nested: bool,
    /// Clock ticks spent inside its polls so far (`own_nested` only).
    busy: u64,
}

/// The current execution if it is the one with `serial` (0: none).
#[inline(always)]
fn current_if(serial: u64) -> Option<&'static mut ExecState> {
    let cur = current();
    // SAFETY: the current execution is alive while its code runs on this thread; the
    // reference is not kept past the caller's use.
    if serial != 0 && !cur.is_null() && unsafe { (*cur).serial } == serial {
        Some(unsafe { &mut *cur })
    } else {
        None
    }
}

impl PhaseSpan {
    /// A sync phase of the site that may outlive the execution it starts in (the
    /// `phase_block!` macro: its block may `.await`).
    #[inline]
    pub fn new(site: &'static Site) -> PhaseSpan {
        if !recording() {
            return PhaseSpan(None);
        }
        PhaseSpan(Some(ActivePhase::begin(site.id(), false, false)))
    }

    /// A sync phase of a name known at run time (`profx::phase`).
    #[inline]
    pub(crate) fn named(name: &str) -> PhaseSpan {
        if !recording() {
            return PhaseSpan(None);
        }
        PhaseSpan(Some(ActivePhase::begin(
            crate::registry::intern_cached(name),
            false,
            false,
        )))
    }

    /// An async phase of the site, starting now (at its first poll).
    #[inline]
    pub fn new_async(site: &'static Site) -> PhaseSpan {
        if !recording() {
            return PhaseSpan(None);
        }
        PhaseSpan(Some(ActivePhase::begin(site.id(), true, true)))
    }

    /// Runs a future as this phase.
    #[inline]
    pub fn run<F: Future>(&mut self, fut: F) -> PhaseFuture<'_, F> {
        PhaseFuture { span: self, fut }
    }

    /// Ends the phase with `outcome`.
    #[inline(always)]
    pub fn finish(self, outcome: Returned<'_>) {
        let mut this = std::mem::ManuallyDrop::new(self);
        if let Some(p) = this.0.take() {
            p.end(outcome.ended());
        }
    }
}

impl ActivePhase {
    #[inline(never)]
    fn begin(name: u32, is_async: bool, own_nested: bool) -> ActivePhase {
        let cur = current();
        let (serial, agent, depth, s0) = if cur.is_null() {
            (0, NO_AGENT, 0, loose_nested())
        } else {
            // SAFETY: CURRENT is only set while its execution is alive, on this thread.
            let c = unsafe { &mut *cur };
            let d = c.depth;
            if !is_async {
                // An async phase sets the depth on each of its polls instead.
                c.depth = d + 1;
            }
            (c.serial, c.agent, d, c.nested)
        };
        ActivePhase {
            name,
            serial,
            agent,
            t0: clock::now(),
            depth,
            // An async phase's own starts empty.
            nested: if own_nested { 0 } else { s0 },
            panicked: false,
            is_async,
            own_nested,
            busy: 0,
        }
    }

    #[inline(never)]
    fn end(self, ended: Ended) {
        let ticks = clock::ticks(self.t0, clock::now());
        // An async phase's time not spent in its polls (kept in its key's memory total, which
        // phases leave unused: see `registry::WAITING`).
        let waiting = if self.own_nested {
            ticks.saturating_sub(self.busy)
        } else {
            0
        };
        match current_if(self.serial) {
            Some(c) => {
                if !self.is_async {
                    c.depth = self.depth;
                }
                let nested = if self.own_nested {
                    // What its polls gathered; its time is its parent's nested time.
                    c.nested = c.nested.wrapping_add(ticks);
                    self.nested
                } else {
                    c.close(self.nested, ticks)
                };
                c.record_phase(
                    self.name, self.t0, ticks, self.depth, nested, ended, waiting,
                );
            }
            None if self.serial == 0 && !self.own_nested => {
                let nested = close_loose(self.nested, ticks);
                record_loose(self.name, NO_AGENT, ticks, nested, ended, waiting)
            }
            // Outside any execution, or the execution it started in is no longer running
            // here: aggregate it in the global profiler under the agent it began in (what was
            // nested in it is not known there).
            None => record_loose(self.name, self.agent, ticks, 0, ended, waiting),
        }
    }
}

impl Drop for PhaseSpan {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            // Not finished: unwound (a failure), or (async) dropped before completion (a
            // cancellation). A sync guard that goes out of scope has simply ended.
            let ended = if p.panicked || std::thread::panicking() {
                Ended::Failed
            } else if p.is_async {
                Ended::Cancelled
            } else {
                Ended::Ok
            };
            p.end(ended);
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
        let Some(c) = current_if(span.serial) else {
            // Outside the execution it started in: only its busy time is its own.
            let _busy = PollTimer::start(&mut span.busy);
            return fut.poll(cx);
        };
        // While polled, the phase's depth and its own nested time are the execution's.
        let saved = (c.depth, c.nested);
        c.depth = span.depth + 1;
        c.nested = span.nested;
        struct Level(*mut ExecState, (u32, u64), *mut ActivePhase);
        impl Drop for Level {
            fn drop(&mut self) {
                // SAFETY: the execution outlives the poll it is installed for; the phase is
                // the one polled.
                unsafe {
                    (*self.2).nested = (*self.0).nested;
                    ((*self.0).depth, (*self.0).nested) = self.1;
                    if std::thread::panicking() {
                        (*self.2).panicked = true;
                    }
                }
            }
        }
        let span: *mut ActivePhase = span;
        let _level = Level(c, saved, span);
        // Dropped first: the poll's time, as the agent's (two clock readings per poll).
        // SAFETY: `span` was just made from a reference; `Level` only reaches its other fields.
        let _busy = PollTimer::start(unsafe { &mut (*span).busy });
        fut.poll(cx)
    }
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
        // Its depth is given while it is entered, as an async phase's; what is nested in it is
        // what ended in its execution from its start to its end, as for a sync one (its exit
        // does not reach the phase to keep its own).
        Some(DetachedPhase(ActivePhase::begin(name(), true, false)))
    }

    /// While entered on this thread: when its execution is the one running here, phases
    /// started inside are nested one level below it. Returns the execution's depth to give
    /// back to [`exit`](DetachedPhase::exit) (`None`: another execution, or none, runs here).
    #[inline]
    pub(crate) fn enter(&self) -> Option<u32> {
        let p = &self.0;
        let c = current_if(p.serial)?;
        let saved = c.depth;
        c.depth = p.depth + 1;
        Some(saved)
    }

    /// Gives back the depth [`enter`](DetachedPhase::enter) returned, if the same execution
    /// still runs on this thread.
    #[inline]
    pub(crate) fn exit(serial: u64, saved: u32) {
        if let Some(c) = current_if(serial) {
            c.depth = saved;
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
        self.0.end(Ended::failed_if(std::thread::panicking()));
    }
}
