//! The span and future a `#[phase]` body runs in (and the `tracing` layer's detached phase):
//! timed, nested in the current execution, recorded when they end.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::*;
use std::task::{Context, Poll};

use super::*;

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
