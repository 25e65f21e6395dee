//! Starting and ending an execution: the record it runs in is taken from its thread's table
//! when it starts, and published in its agent's ring (or given back) when it ends.

use super::*;

/// A running execution, owned: made by [`ExecState::start_with`] or [`ExecState::start_in`],
/// which take its record from its thread's table, and ended by [`Exec::finish`] or
/// [`Exec::complete`], which publish the record in its agent's ring or give it back. Its
/// address stays put while it runs (the current execution and async phases point at it).
pub(crate) struct Exec(ptr::NonNull<ExecState>);

impl Exec {
    /// The execution whose state `st` is, owned from now on by the caller.
    ///
    /// # Safety
    /// `st` is the state of a running execution that nothing else will end (an `Exec` given
    /// up with `as_ptr`, whose owner is gone: the frame of a sync agent, unwinding).
    pub(crate) unsafe fn from_ptr(st: *mut ExecState) -> Exec {
        // SAFETY: a running execution's state is not null (the caller's promise).
        Exec(unsafe { ptr::NonNull::new_unchecked(st) })
    }

    /// The state, for the current execution's pointer.
    #[inline(always)]
    pub(crate) fn as_ptr(&self) -> *mut ExecState {
        self.0.as_ptr()
    }

    /// Ends the execution on this thread, whose table it must point at (`run_here`):
    /// aggregates it and, when kept, publishes its record. `extra`: (bytes, allocations)
    /// counted elsewhere (a manual execution's `in_scope` on other threads).
    /// Returns its duration (ticks, wrapped when the end reading was before the start).
    #[inline(always)]
    pub(crate) fn finish(mut self, outcome: Returned<'_>, extra: (u64, u64)) -> u64 {
        let stopped = if self.not_tsc {
            self.stop::<false>(extra)
        } else {
            self.stop::<true>(extra)
        };
        if outcome.is_failure() {
            self.fail(&outcome);
        }
        self.complete(stopped)
    }

    /// [`finish`](Exec::finish) for an async execution, whose body was polled `polls` times
    /// for `busy` ticks in all: the kept record carries both, and the agent's waiting time
    /// (its duration less `busy`) and its polls are added to its key of
    /// [`WAITING`](crate::registry::WAITING) on this thread.
    pub(crate) fn finish_polled(mut self, outcome: Returned<'_>, polls: u64, busy: u64) {
        if !self.not_kept {
            self.marks.set_polled();
            self.polls = polls;
            self.busy = busy;
        }
        let (table, agent) = (self.table, self.agent);
        let ticks = self.finish(outcome, (0, 0));
        let waiting = clock::sane(ticks).saturating_sub(busy);
        // SAFETY: this thread's table (see `complete`), which the profiler keeps.
        let table = unsafe { &*table.cast::<ThreadTable>() };
        table.record_aside(agent, WAITING, waiting, polls);
    }

    /// The last step of ending, on the thread whose table the execution points at:
    /// aggregates it and, when kept, publishes its record (else gives it back to the table).
    /// Returns its duration (ticks, wrapped when the end reading was before the start).
    #[inline(always)]
    pub(crate) fn complete(self, s: Stopped) -> u64 {
        // Not saturated, as a phase's: an end reading before the start (which an invariant TSC
        // does not give) wraps to a value no histogram counts, so the aggregate takes the slow
        // path, which counts it as 0; a kept record's reader does the same.
        let ticks = s.end.wrapping_sub(self.start);
        // SAFETY: as in `inner`; not borrowed from the record, which is given away below.
        let inner: &Inner = unsafe { &*self.inner.cast::<Inner>() };
        // SAFETY: this thread's table (see above), which the profiler keeps.
        let table: &ThreadTable = unsafe { &*self.table.cast::<ThreadTable>() };
        let (bytes, allocations) = self.alloc.totals();
        let memory = bytes + s.extra.0;
        let slot = table.record(
            self.agent,
            AGENT_LEVEL,
            ticks,
            self.nested,
            self.ended,
            memory,
        );
        let kept = !self.not_kept;
        // SAFETY: the record this execution took from its table, owned by it alone; `self`
        // is not used after.
        let rec = unsafe { Box::from_raw(self.0.as_ptr()) };
        if kept {
            let mut rec = rec;
            // Its agent, serial, start, outcome and the end of its phase records (the cursor)
            // are in place.
            rec.duration = ticks;
            rec.memory = memory;
            rec.allocations = allocations + s.extra.1;
            rec.threads = table.threads_at(s.end);
            table.publish(slot, &inner.rings, rec, inner.config.max_executions);
        } else {
            table.give_back(rec);
        }
        ticks
    }
}

impl std::ops::Deref for Exec {
    type Target = ExecState;
    #[inline(always)]
    fn deref(&self) -> &ExecState {
        // SAFETY: the record is this execution's until it ends (which consumes `self`).
        unsafe { self.0.as_ref() }
    }
}

impl std::ops::DerefMut for Exec {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut ExecState {
        // SAFETY: as above; the references the running code makes from the current pointer
        // do not outlive the calls that made them.
        unsafe { self.0.as_mut() }
    }
}

impl ExecState {
    /// Starts an execution of `agent` in `inner`, on this thread.
    #[inline(always)]
    pub(crate) fn start_with(
        inner: &Inner,
        agent: u32,
        request: Option<impl FnOnce(&mut String)>,
        trace: Option<crate::execution::TraceParent>,
    ) -> Exec {
        let table = inner.table();
        let mut st =
            Self::start_in::<false>(inner, table, agent, current(), thread_no(), request, trace);
        // Last: the request and the record are profx's, not the execution's.
        st.alloc.begin();
        st
    }

    /// Starts an execution of `agent` in `inner`, whose table on this thread is `table`,
    /// inside `parent` (the current execution; null: none), on the thread profx numbers
    /// `thread` (see [`thread_no`]), in a record taken from `table`. `TSC`: the clock is
    /// known to be the TSC (read inline at the start and the end). Its allocations count from
    /// `alloc.begin()`, which the caller calls next.
    #[inline(always)]
    pub(crate) fn start_in<const TSC: bool>(
        inner: &Inner,
        table: &ThreadTable,
        agent: u32,
        parent: *mut ExecState,
        thread: u32,
        request: Option<impl FnOnce(&mut String)>,
        trace: Option<crate::execution::TraceParent>,
    ) -> Exec {
        let serial = table.next_serial();
        let rec = Box::into_raw(table.take_record());
        // SAFETY: just taken from the table: this execution's alone.
        let r = unsafe { &mut *rec };
        if table.sample(inner.config.sample) {
            r.marks = crate::registry::Marks::default();
            if let Some(t) = trace {
                r.trace = t;
                r.marks.set_traced();
            }
            r.thread = thread;
            if parent.is_null() {
                r.parent_serial = 0;
                r.parent_agent = 0;
            } else {
                // SAFETY: the current execution is alive while its code runs on this thread.
                unsafe {
                    r.parent_serial = (*parent).serial;
                    r.parent_agent = (*parent).agent;
                }
            }
            if let Some(request) = request {
                r.marks.set_request();
                r.request.clear();
                if parent.is_null() {
                    request(&mut r.request);
                } else {
                    // Inside another execution: the request's text is profx's memory, not its.
                    crate::alloc::exclude(|| request(&mut r.request));
                }
            }
            let base = r.phases.as_mut_ptr();
            debug_assert!(
                r.end.is_null() || {
                    let room = r.phases.capacity().min(inner.config.max_phases);
                    // SAFETY: within (or one past) the buffer's capacity.
                    r.end == unsafe { base.add(room) }
                }
            );
            // Its room (`end`) is the record's already.
            r.cursor = base;
            r.not_kept = false;
        } else {
            r.not_kept();
        }
        r.table = (table as *const ThreadTable).cast();
        r.agent = agent;
        r.depth = 0;
        r.nested = 0;
        r.alloc = crate::alloc::Tally::default();
        r.ended = Ended::Ok;
        r.not_tsc = !TSC;
        r.inner = (inner as *const Inner).cast();
        r.serial = serial;
        r.start = if TSC { clock::tsc() } else { clock::now() };
        // SAFETY: from a box: not null.
        Exec(unsafe { ptr::NonNull::new_unchecked(rec) })
    }

    /// Not kept (sampling): no room, so that every phase takes the slow path, which writes
    /// no record. (Out of line: the kept execution, the default, falls through.)
    #[cold]
    #[inline(never)]
    fn not_kept(&mut self) {
        self.cursor = ptr::null_mut();
        self.end = ptr::null_mut();
        self.not_kept = true;
    }

    /// The first step of ending, before anything of profx's runs: the end reading and what
    /// the execution allocated (plus `extra`, counted elsewhere). `TSC`: as it started.
    #[inline(always)]
    pub(crate) fn stop<const TSC: bool>(&mut self, extra: (u64, u64)) -> Stopped {
        self.alloc.settle();
        let end = if TSC { clock::tsc() } else { clock::now() };
        Stopped { end, extra }
    }

    /// [`stop`](ExecState::stop) for a sync execution, with nothing counted elsewhere.
    #[inline(always)]
    pub(crate) fn stop_sync<const TSC: bool>(&mut self) -> Stopped {
        self.alloc.settle_sync_once();
        let end = if TSC { clock::tsc() } else { clock::now() };
        Stopped { end, extra: (0, 0) }
    }

    /// Notes that the execution failed or was cancelled (`outcome`), whose message goes into
    /// the record when it is kept.
    #[cold]
    #[inline(never)]
    pub(crate) fn fail(&mut self, outcome: &Returned<'_>) {
        self.ended = outcome.ended();
        if !self.not_kept {
            // Into the record's own buffer: a recycled record keeps its capacity (and its last
            // message, which only a record that did not succeed shows: cleared here, not on
            // the path of every kept execution).
            self.error.clear();
            let error = &mut self.error;
            crate::alloc::exclude(|| outcome.write_message(error));
        }
    }
}

/// What [`ExecState::stop`] read, for [`Exec::complete`] (what the execution allocated
/// is in its tally, settled).
pub(crate) struct Stopped {
    end: u64,
    /// (bytes, allocations) counted elsewhere (a manual execution's `in_scope` on other
    /// threads).
    extra: (u64, u64),
}
