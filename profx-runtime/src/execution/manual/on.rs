//! The manual API when recording is compiled in: an execution's state (its record, whose
//! address stays put while the `Execution` moves), and its open phases.

use crate::context::{Exec, ExecState, Returned};
use crate::registry::Ended;

/// A recording execution started by hand.
pub(super) struct On {
    /// Ended by `finish_as`, which every end goes through.
    state: Exec,
    _profiler: crate::Profiler,
    /// Open phases of `start_phase`, innermost last.
    open: Vec<Open>,
    /// (bytes, allocations) of `in_scope` calls on other threads than the starting one.
    scoped: (u64, u64),
    agent: String,
}

// SAFETY (Send): the state's raw pointers are to the profiler this value keeps alive and to the
// record it owns alone; every method that records points the state at the calling thread's
// table first (`run_here`).
unsafe impl Send for On {}
// SAFETY (Sync): through `&On` only plain fields are read (`id`: the agent's name and the
// serial); everything that writes takes `&mut self` or `self`.
unsafe impl Sync for On {}

/// A phase started and not ended yet.
pub(super) struct Open {
    name: u32,
    t0: u64,
    depth: u32,
    /// The state's [`nested`](ExecState::nested) at the start.
    s0: u64,
}

impl On {
    /// An execution of `agent` in `profiler`; `None` when it does not record.
    pub(super) fn start(
        profiler: crate::Profiler,
        agent: &str,
        request: &str,
        traceparent: Option<&str>,
    ) -> Option<On> {
        if !profiler.inner.is_enabled() {
            return None;
        }
        let id = crate::registry::intern_cached(agent);
        // The box, the name and the request are profx's memory, not this execution's nor that
        // of one it may run inside.
        let mut on = crate::alloc::exclude(|| On {
            state: ExecState::start_with(
                &profiler.inner,
                id,
                Some(|s: &mut String| s.push_str(request)),
                traceparent.and_then(crate::execution::TraceParent::parse),
            ),
            _profiler: profiler,
            open: Vec::new(),
            scoped: (0, 0),
            agent: agent.to_owned(),
        });
        // Allocations count from here.
        on.state.alloc = crate::alloc::Tally::start();
        Some(on)
    }

    pub(super) fn id(&self) -> String {
        format!("{}-{}", self.agent, self.state.serial)
    }

    /// Starts a phase named `name`, one level deeper.
    pub(super) fn begin_phase(&mut self, name: &str) -> Open {
        let depth = self.state.depth;
        self.state.depth = depth + 1;
        Open {
            name: crate::registry::intern_cached(name),
            t0: crate::clock::now(),
            depth,
            s0: self.state.nested,
        }
    }

    /// Ends a phase `begin_phase` started (failed when the thread is unwinding).
    pub(super) fn end_phase(&mut self, open: Open) {
        self.record(open, Ended::failed_if(std::thread::panicking()));
    }

    fn record(&mut self, open: Open, ended: Ended) {
        self.state.depth = open.depth;
        crate::context::record_phase(
            &mut self.state,
            open.name,
            open.t0,
            open.depth,
            open.s0,
            ended,
        );
    }

    /// `start_phase`.
    pub(super) fn push_phase(&mut self, name: &str) {
        let open = self.begin_phase(name);
        crate::alloc::push(&mut self.open, open);
    }

    /// `end_phase`: the innermost open phase, if any.
    pub(super) fn pop_phase(&mut self) {
        if let Some(open) = self.open.pop() {
            self.record(open, Ended::Ok);
        }
    }

    /// Runs `f` as part of the execution, counting what it allocates on another thread.
    pub(super) fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let m = crate::alloc::installed().then(crate::alloc::mark);
        let r = crate::context::with_current(&mut self.state, f);
        if let Some(m) = m.filter(|m| self.state.alloc.elsewhere(m)) {
            // Allocations on another thread: counted here, by the window.
            if let Some((b, n)) = m.since() {
                self.scoped.0 += b;
                self.scoped.1 += n;
            }
        }
        r
    }

    /// Ends it as failed with `error`, or as a success.
    pub(super) fn finish(self, error: Option<&dyn std::fmt::Display>) {
        self.finish_as(error.map_or(Returned::Success, Returned::Error));
    }

    /// Ends it with the error `message` gives, if any (the message is profx's memory).
    pub(super) fn end(self, message: impl FnOnce() -> Option<String>) {
        let msg = crate::alloc::exclude(message);
        self.finish(msg.as_ref().map(|m| m as &dyn std::fmt::Display));
    }

    pub(super) fn cancel(self) {
        self.finish_as(Returned::Cancelled);
    }

    /// Dropped without an end: cancelled, or failed when the thread is unwinding.
    pub(super) fn drop_unended(self) {
        self.finish_as(if std::thread::panicking() {
            Returned::Panicked
        } else {
            Returned::Cancelled
        });
    }

    /// Ends it with `outcome`; phases still open end the same way.
    fn finish_as(mut self, outcome: Returned<'_>) {
        let ended = outcome.ended();
        while let Some(open) = self.open.pop() {
            self.record(open, ended);
        }
        let extra = self.scoped;
        self.state.run_here();
        self.state.finish(outcome, extra);
    }
}
