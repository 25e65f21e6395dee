//! The manual API: an execution started, phased and ended by hand, for code that cannot take an
//! attribute.

/// An execution started by hand ([`Profiler::start_execution`](crate::Profiler::start_execution)),
/// for code that cannot take an attribute.
///
/// Phases are timed with [`phase`](Execution::phase) (a guard) or
/// [`start_phase`](Execution::start_phase)/[`end_phase`](Execution::end_phase); instrumented
/// functions called inside [`in_scope`](Execution::in_scope) join the execution too.
/// [`end`](Execution::end) records the outcome ([`end_where`](Execution::end_where) when only
/// some errors are failures); an execution dropped without `end`, or given up with
/// [`cancel`](Execution::cancel), is recorded as cancelled (as failed, `"panicked"`, when
/// dropped by a panic).
///
/// With [`CountingAlloc`](crate::CountingAlloc) installed, its memory is what the thread it
/// started on allocated until its end, plus what [`in_scope`](Execution::in_scope) calls on
/// other threads allocated; an execution that ends on another thread than the one it started
/// on has only the latter.
///
/// ```
/// let p = profx_runtime::Profiler::new(true);
/// let mut ex = p.start_execution("codebase-analyzer", "Analyze src/");
/// ex.start_phase("file_discovery");
/// ex.end_phase();
/// {
///     let _parsing = ex.phase("parsing");
/// }
/// let result: Result<u32, String> = Ok(3);
/// ex.end(&result);
/// ```
pub struct Execution {
    #[cfg(feature = "enabled")]
    on: Option<On>,
}

#[cfg(feature = "enabled")]
struct On {
    // Declared before `profiler`: the state points into it.
    state: Box<crate::context::ExecState>,
    _profiler: crate::Profiler,
    /// Open phases of `start_phase`: name, start, depth.
    open: Vec<(u32, u64, u32)>,
    /// (bytes, allocations) of `in_scope` calls on other threads than the starting one.
    scoped: (u64, u64),
    agent: String,
}

// SAFETY (Send): the state's raw pointers are to the profiler this value keeps alive and to the
// record it owns alone; every method that records points the state at the calling thread's
// table first (`run_here`).
#[cfg(feature = "enabled")]
unsafe impl Send for On {}
// SAFETY (Sync): through `&Execution` only plain fields are read (`id`: the agent's name and the
// serial); everything that writes takes `&mut self` or `self`.
#[cfg(feature = "enabled")]
unsafe impl Sync for On {}

impl std::fmt::Debug for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execution").field("id", &self.id()).finish()
    }
}

/// What [`Execution::end`] takes: `()` for success, a `Result` (`Err` is a failure with the
/// error's `Display`), or an `Option` of an error (`Some` is a failure), by value or reference.
pub trait ExecutionResult {
    /// The error, if the execution failed.
    fn error_message(&self) -> Option<String>;
}

impl ExecutionResult for () {
    fn error_message(&self) -> Option<String> {
        None
    }
}

impl<T, E: std::fmt::Display> ExecutionResult for Result<T, E> {
    fn error_message(&self) -> Option<String> {
        self.as_ref().err().map(|e| e.to_string())
    }
}

impl<E: std::fmt::Display> ExecutionResult for Option<E> {
    fn error_message(&self) -> Option<String> {
        self.as_ref().map(|e| e.to_string())
    }
}

impl<R: ExecutionResult + ?Sized> ExecutionResult for &R {
    fn error_message(&self) -> Option<String> {
        (**self).error_message()
    }
}

/// A phase of an [`Execution`], timed until dropped.
#[must_use = "the phase ends when this guard is dropped"]
pub struct ExecutionPhase<'a> {
    #[cfg(feature = "enabled")]
    ex: &'a mut Execution,
    #[cfg(feature = "enabled")]
    name: u32,
    #[cfg(feature = "enabled")]
    t0: u64,
    #[cfg(feature = "enabled")]
    depth: u32,
    #[cfg(not(feature = "enabled"))]
    _ex: std::marker::PhantomData<&'a mut Execution>,
}

impl Drop for ExecutionPhase<'_> {
    fn drop(&mut self) {
        #[cfg(feature = "enabled")]
        if let Some(on) = self.ex.on.as_mut() {
            on.state.depth = self.depth;
            crate::context::record_phase(
                &mut on.state,
                self.name,
                self.t0,
                self.depth,
                crate::registry::Ended::failed_if(std::thread::panicking()),
            );
        }
    }
}

impl Execution {
    #[cfg(feature = "enabled")]
    pub(crate) fn start(
        profiler: crate::Profiler,
        agent: &str,
        request: &str,
        traceparent: Option<&str>,
    ) -> Execution {
        use std::sync::atomic::Ordering::Relaxed;
        if !profiler.inner.enabled.load(Relaxed) {
            return Execution { on: None };
        }
        let id = crate::registry::intern_cached(agent);
        // The box, the name and the request are profx's memory, not this execution's nor that
        // of one it may run inside.
        let mut on = crate::alloc::exclude(|| On {
            state: Box::new(crate::context::ExecState::start_with(
                &profiler.inner,
                id,
                Some(|s: &mut String| s.push_str(request)),
                traceparent.and_then(super::TraceParent::parse),
            )),
            _profiler: profiler,
            open: Vec::new(),
            scoped: (0, 0),
            agent: agent.to_owned(),
        });
        // Allocations count from here.
        on.state.alloc = crate::alloc::Tally::start();
        Execution { on: Some(on) }
    }

    #[cfg(not(feature = "enabled"))]
    pub(crate) fn disabled() -> Execution {
        Execution {}
    }

    /// The execution's id, `"{agent}-{n}"`, for [`Profiler::execution`](crate::Profiler::execution)
    /// (`""` when the profiler is not recording).
    pub fn id(&self) -> String {
        #[cfg(feature = "enabled")]
        if let Some(on) = &self.on {
            return format!("{}-{}", on.agent, on.state.serial);
        }
        String::new()
    }

    /// Times a phase until the returned guard is dropped.
    pub fn phase(&mut self, name: &str) -> ExecutionPhase<'_> {
        #[cfg(feature = "enabled")]
        {
            let (id, depth) = match self.on.as_mut() {
                Some(on) => {
                    let d = on.state.depth;
                    on.state.depth = d + 1;
                    (crate::registry::intern_cached(name), d)
                }
                None => (0, 0),
            };
            ExecutionPhase {
                ex: self,
                name: id,
                t0: crate::clock::now(),
                depth,
            }
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = name;
            ExecutionPhase {
                _ex: std::marker::PhantomData,
            }
        }
    }

    /// Starts a phase; [`end_phase`](Execution::end_phase) ends the most recently started one.
    /// Phases started inside another are nested in it.
    pub fn start_phase(&mut self, name: &str) {
        #[cfg(feature = "enabled")]
        if let Some(on) = self.on.as_mut() {
            let d = on.state.depth;
            on.state.depth = d + 1;
            let open = (crate::registry::intern_cached(name), crate::clock::now(), d);
            crate::alloc::push(&mut on.open, open);
        }
        #[cfg(not(feature = "enabled"))]
        let _ = name;
    }

    /// Ends the most recently started phase (does nothing when none is open).
    pub fn end_phase(&mut self) {
        #[cfg(feature = "enabled")]
        if let Some(on) = self.on.as_mut() {
            if let Some((name, t0, depth)) = on.open.pop() {
                on.state.depth = depth;
                crate::context::record_phase(
                    &mut on.state,
                    name,
                    t0,
                    depth,
                    crate::registry::Ended::Ok,
                );
            }
        }
    }

    /// Runs `f` as part of this execution: `#[phase]` functions and `profx::phase` guards
    /// inside it are recorded in this execution.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "enabled")]
        if let Some(on) = self.on.as_mut() {
            let m = crate::alloc::installed().then(crate::alloc::mark);
            let r = crate::context::with_current(&mut on.state, f);
            if let Some(m) = m.filter(|m| on.state.alloc.elsewhere(m)) {
                // Allocations on another thread: counted here, by the window.
                if let Some((b, n)) = m.since() {
                    on.scoped.0 += b;
                    on.scoped.1 += n;
                }
            }
            return r;
        }
        f()
    }

    /// Ends the execution with its result: `()`, a `Result`, or an `Option` of an error.
    /// Phases still open end with it.
    pub fn end<R: ExecutionResult>(mut self, result: R) {
        #[cfg(feature = "enabled")]
        if let Some(on) = self.on.take() {
            let msg = crate::alloc::exclude(|| result.error_message());
            finish(on, msg.as_ref().map(|m| m as &dyn std::fmt::Display));
        }
        #[cfg(not(feature = "enabled"))]
        let _ = (&mut self, result);
    }

    /// Ends the execution with a `Result` whose `Err` is a failure only when `is_failure`
    /// says so; any other `Err` is an expected outcome (a parser's "need more bytes", a
    /// cache miss) and the execution a success. The counterpart of the attributes'
    /// `failure = ...` argument.
    ///
    /// ```
    /// let p = profx_runtime::Profiler::new(true);
    /// #[derive(Debug)]
    /// enum ParseError { Incomplete, Invalid }
    /// impl std::fmt::Display for ParseError {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         write!(f, "{self:?}")
    ///     }
    /// }
    /// let ex = p.start_execution("parse", "");
    /// let r: Result<(), ParseError> = Err(ParseError::Incomplete);
    /// ex.end_where(&r, |e| !matches!(e, ParseError::Incomplete));
    /// # #[cfg(feature = "enabled")]
    /// assert_eq!(p.report().agents["parse"].failure_count, 0);
    /// ```
    pub fn end_where<T, E: std::fmt::Display>(
        mut self,
        result: &Result<T, E>,
        is_failure: impl FnOnce(&E) -> bool,
    ) {
        #[cfg(feature = "enabled")]
        if let Some(on) = self.on.take() {
            let error = match result {
                Err(e) if is_failure(e) => Some(e as &dyn std::fmt::Display),
                _ => None,
            };
            finish(on, error);
        }
        #[cfg(not(feature = "enabled"))]
        let _ = (&mut self, result, is_failure);
    }

    /// Ends the execution as cancelled: given up before it completed (the caller went away,
    /// a timeout fired). Counted apart from successes and failures. Dropping an execution
    /// without ending it does the same.
    pub fn cancel(mut self) {
        #[cfg(feature = "enabled")]
        if let Some(on) = self.on.take() {
            finish_as(on, crate::context::Returned::Cancelled);
        }
        #[cfg(not(feature = "enabled"))]
        let _ = &mut self;
    }
}

/// Ends `on` as failed with `error`, or as a success.
#[cfg(feature = "enabled")]
fn finish(on: On, error: Option<&dyn std::fmt::Display>) {
    use crate::context::Returned;
    finish_as(on, error.map_or(Returned::Success, Returned::Error));
}

/// Ends `on` with `outcome`; phases still open end the same way.
#[cfg(feature = "enabled")]
fn finish_as(mut on: On, outcome: crate::context::Returned<'_>) {
    let ended = outcome.ended();
    while let Some((name, t0, depth)) = on.open.pop() {
        crate::context::record_phase(&mut on.state, name, t0, depth, ended);
    }
    let extra = on.scoped;
    on.state.run_here();
    on.state.finish(outcome, extra);
}

impl Drop for Execution {
    fn drop(&mut self) {
        #[cfg(feature = "enabled")]
        if let Some(on) = self.on.take() {
            use crate::context::Returned;
            let outcome = if std::thread::panicking() {
                Returned::Panicked
            } else {
                Returned::Cancelled
            };
            finish_as(on, outcome);
        }
    }
}
