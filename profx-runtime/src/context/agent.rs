//! The state and future an `#[agent]` body runs in: one execution, installed as the current one
//! for a sync body or for each poll of an async one.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::Ordering::*;
use std::task::{Context, Poll};

use super::*;
use crate::registry::SiteRef;

/// The execution of one `#[agent]` call (`None` when not recording).
#[doc(hidden)]
pub struct AgentState(Option<ActiveAgent>);

struct ActiveAgent {
    st: Exec,
    panicked: bool,
    /// Polls of an async body so far (0: a sync body, or not polled yet).
    polls: u64,
    /// Clock ticks spent inside those polls.
    busy: u64,
}

// SAFETY (Send): the raw pointers are to the profiler (Sync, outlives the state) and to the
// record the state owns alone; nothing in the state is tied to the thread that made it (each
// poll points it at the polling thread's table first).
unsafe impl Send for AgentState {}
// SAFETY (Sync): every method takes `&mut self` or `self`: a shared reference reaches nothing.
// (It is needed so that an instrumented future is `Sync` when its body is.)
unsafe impl Sync for AgentState {}

impl AgentState {
    /// Starts an execution of the agent at `site` in the global profiler, inside the
    /// distributed trace of `traceparent` when it is a valid W3C `traceparent` (else in a trace
    /// of its own).
    #[inline(always)]
    pub fn new(
        site: &'static Site,
        request: Option<fmt::Arguments<'_>>,
        traceparent: Option<&str>,
    ) -> AgentState {
        if !crate::profiler::armed() {
            return AgentState(None);
        }
        let inner = global_inner();
        if !inner.enabled.load(Relaxed) {
            return AgentState(None);
        }
        Self::begin(inner, site, request, traceparent)
    }

    #[inline(never)]
    fn begin(
        inner: &Inner,
        site: &'static Site,
        request: Option<fmt::Arguments<'_>>,
        traceparent: Option<&str>,
    ) -> AgentState {
        let st = ExecState::start_with(
            inner,
            site.id(),
            request.map(|a| {
                move |s: &mut String| {
                    let _ = s.write_fmt(a);
                }
            }),
            traceparent.and_then(crate::execution::TraceParent::parse),
        );
        AgentState(Some(ActiveAgent {
            st,
            panicked: false,
            polls: 0,
            busy: 0,
        }))
    }

    /// Runs a sync body as this execution.
    #[inline(always)]
    pub fn run_sync<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let Some(a) = &mut self.0 else {
            return f();
        };
        let prev = replace_current(a.st.as_ptr());
        // Restores the previous execution when the body unwinds (a normal return does it
        // below, without asking whether the thread is panicking).
        struct Unwind<'a>(*mut ExecState, &'a mut bool);
        impl Drop for Unwind<'_> {
            fn drop(&mut self) {
                replace_current(self.0);
                *self.1 = true;
            }
        }
        let unwind = Unwind(prev, &mut a.panicked);
        let r = f();
        std::mem::forget(unwind);
        replace_current(prev);
        r
    }

    /// Runs a future as this execution: installed on every poll.
    #[inline]
    pub fn run<F: Future>(&mut self, fut: F) -> AgentFuture<'_, F> {
        AgentFuture { st: self, fut }
    }

    /// Ends the execution with `outcome` (then nothing is left for `Drop`).
    #[inline(always)]
    pub fn finish(&mut self, outcome: Returned<'_>) {
        if let Some(a) = self.0.take() {
            // Right after its body (or last poll) on this thread: its table is this thread's.
            end(a, outcome, true);
        }
    }
}

/// One call of a sync `#[agent]` function of site `S` that names no request: the shape of a
/// sync phase (see [`SyncPhase`](super::SyncPhase)). Its execution lives in the frame of
/// [`SyncAgent::run`], which starts it, runs the body (inlined there) as the current
/// execution and ends it, with no state handed back and forth.
#[doc(hidden)]
pub struct SyncAgent<S: SiteRef>(PhantomData<S>);

/// The end of a sync agent's execution, handed to the macro's outcome closure with the body's
/// value (so that the outcome may borrow that value).
#[doc(hidden)]
pub struct AgentEnd<'a>(&'a mut ExecState);

impl AgentEnd<'_> {
    /// Tells the execution, which its body has just ended, its `outcome` (the rest of its
    /// end follows, in [`SyncAgent::run`]).
    #[inline(always)]
    pub fn finish(self, outcome: Returned<'_>) {
        if outcome.is_failure() {
            self.0.fail(&outcome);
        }
    }
}

impl<S: SiteRef> SyncAgent<S> {
    /// Runs `body` as an execution of the agent at site `S` in the global profiler; `end` is
    /// given the body's value and ends the execution with its outcome. Called when
    /// [`armed`](super::armed) is positive, with its value.
    #[inline(never)]
    pub fn run<R>(body: impl FnOnce() -> R, end: impl FnOnce(&R, AgentEnd<'_>), armed: i32) -> R {
        // One thread-local access for all three.
        let (prev, table, thread) =
            TLS.with(|t| (t.current.get(), t.global_table.get(), t.thread_no.get()));
        let agent = S::site().known_id();
        if armed as u32 & crate::profiler::GLOBAL_ON == 0 || table.is_null() || agent == 0 {
            // Not recording, this thread's first execution, or the site's first.
            return Self::run_any_clock(body, end);
        }
        let inner = crate::profiler::global_inner_here();
        // SAFETY: this thread's table of the global profiler, which is never dropped.
        let table = unsafe { &*table };
        let none = None::<fn(&mut String)>;
        let mut st = ExecState::start_in::<true>(inner, table, agent, prev, thread, none, None);
        // Last: the record is profx's, not the execution's.
        st.alloc.begin_if(armed as u32);
        Self::body_in::<true, R>(st, prev, body, end)
    }

    /// [`run`](SyncAgent::run) when the clock is not the TSC (or not known yet to be):
    /// [`armed`](super::armed) is negative; and what `run` leaves aside.
    #[cold]
    #[inline(never)]
    pub fn run_any_clock<R>(body: impl FnOnce() -> R, end: impl FnOnce(&R, AgentEnd<'_>)) -> R {
        let inner = global_inner();
        if !inner.enabled.load(Relaxed) {
            return super::body(body);
        }
        let none = None::<fn(&mut String)>;
        let st = ExecState::start_with(inner, S::site().id(), none, None);
        Self::body_in::<false, R>(st, current(), body, end)
    }

    /// Runs `body` with `st` as the current execution (`prev` the one it replaces), then
    /// `end`. `TSC`: `st` reads the TSC inline.
    #[inline(always)]
    fn body_in<const TSC: bool, R>(
        mut st: Exec,
        prev: *mut ExecState,
        body: impl FnOnce() -> R,
        end: impl FnOnce(&R, AgentEnd<'_>),
    ) -> R {
        replace_current(st.as_ptr());
        // Restores the previous execution and ends this one as panicked when the body
        // unwinds (a normal return does it below, without asking whether the thread panics).
        // (It holds the previous one only: the current one is still `st` when the body
        // unwinds, as every execution and poll the body started restored its own previous.)
        struct Unwind(*mut ExecState);
        impl Drop for Unwind {
            #[cold]
            fn drop(&mut self) {
                let st = replace_current(self.0);
                // SAFETY: the execution in the frame below, which nothing else refers to now
                // and which its frame, unwinding, does not end.
                let st = unsafe { Exec::from_ptr(st) };
                st.finish(Returned::Panicked, (0, 0));
            }
        }
        let unwind = Unwind(prev);
        // Inlined here, as in the function the attribute is on (see `SyncPhase::timed`).
        let r = body();
        std::mem::forget(unwind);
        replace_current(prev);
        let stopped = st.stop_sync::<TSC>();
        end(&r, AgentEnd(&mut st));
        st.complete(stopped);
        r
    }
}

/// Ends an execution (what moves is its handle, a pointer to the record it runs in, and two
/// counts). `here`: the last code it ran was on this thread, so its table is this thread's.
#[inline(never)]
fn end(a: ActiveAgent, outcome: Returned<'_>, here: bool) {
    let mut st = a.st;
    if !here {
        st.run_here();
    }
    if a.polls == 0 {
        // A sync body: one poll, busy throughout.
        st.finish(outcome, (0, 0));
    } else {
        st.finish_polled(outcome, a.polls, a.busy);
    }
}

impl Drop for AgentState {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            let outcome = if a.panicked || std::thread::panicking() {
                Returned::Panicked
            } else {
                Returned::Cancelled
            };
            // Dropped (cancelled, or unwound) wherever its owner is: this thread's table.
            end(a, outcome, false);
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
        a.st.run_here();
        let counting = a.st.alloc.poll_start();
        // Both pointers come from `st`, so neither invalidates the other.
        let st: *mut ExecState = a.st.as_ptr();
        // When counting allocations: this poll's, on this thread, even when it unwinds.
        // SAFETY: `st` is valid: it was just made from a reference.
        let _count = counting.map(|m| PollAlloc(unsafe { ptr::addr_of_mut!((*st).alloc) }, m));
        let prev = replace_current(st);
        let _restore = Restore {
            prev,
            panicked: &mut a.panicked,
        };
        a.polls += 1;
        // Last made, first dropped: the poll's time is its body's.
        let _busy = PollTimer::start(&mut a.busy);
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
