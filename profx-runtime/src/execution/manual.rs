//! The manual API: an execution started, phased and ended by hand, for code that cannot take an
//! attribute. The recording state is `On` (`manual/on.rs`), or nothing without the `enabled`
//! feature (`manual/off.rs`, where it cannot exist): the methods here have one body for both.

#[cfg(not(feature = "enabled"))]
#[path = "manual/off.rs"]
mod state;
#[cfg(feature = "enabled")]
#[path = "manual/on.rs"]
mod state;

use state::{On, Open};

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
    on: Option<On>,
}

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
    ex: &'a mut Execution,
    open: Option<Open>,
}

impl Drop for ExecutionPhase<'_> {
    fn drop(&mut self) {
        if let (Some(open), Some(on)) = (self.open.take(), self.ex.on.as_mut()) {
            on.end_phase(open);
        }
    }
}

impl Execution {
    pub(crate) fn start(
        profiler: crate::Profiler,
        agent: &str,
        request: &str,
        traceparent: Option<&str>,
    ) -> Execution {
        Execution {
            on: On::start(profiler, agent, request, traceparent),
        }
    }

    /// The execution's id, `"{agent}-{n}"`, for [`Profiler::execution`](crate::Profiler::execution)
    /// (`""` when the profiler is not recording).
    pub fn id(&self) -> String {
        self.on.as_ref().map_or_else(String::new, On::id)
    }

    /// Times a phase until the returned guard is dropped.
    pub fn phase(&mut self, name: &str) -> ExecutionPhase<'_> {
        let open = self.on.as_mut().map(|on| on.begin_phase(name));
        ExecutionPhase { ex: self, open }
    }

    /// Starts a phase; [`end_phase`](Execution::end_phase) ends the most recently started one.
    /// Phases started inside another are nested in it.
    pub fn start_phase(&mut self, name: &str) {
        if let Some(on) = self.on.as_mut() {
            on.push_phase(name);
        }
    }

    /// Ends the most recently started phase (does nothing when none is open).
    pub fn end_phase(&mut self) {
        if let Some(on) = self.on.as_mut() {
            on.pop_phase();
        }
    }

    /// Runs `f` as part of this execution: `#[phase]` functions and `profx::phase` guards
    /// inside it are recorded in this execution.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        match self.on.as_mut() {
            Some(on) => on.in_scope(f),
            None => f(),
        }
    }

    /// Ends the execution with its result: `()`, a `Result`, or an `Option` of an error.
    /// Phases still open end with it.
    pub fn end<R: ExecutionResult>(mut self, result: R) {
        if let Some(on) = self.on.take() {
            on.end(|| result.error_message());
        }
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
        if let Some(on) = self.on.take() {
            let error = match result {
                Err(e) if is_failure(e) => Some(e as &dyn std::fmt::Display),
                _ => None,
            };
            on.finish(error);
        }
    }

    /// Ends the execution as cancelled: given up before it completed (the caller went away,
    /// a timeout fired). Counted apart from successes and failures. Dropping an execution
    /// without ending it does the same.
    pub fn cancel(mut self) {
        if let Some(on) = self.on.take() {
            on.cancel();
        }
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        if let Some(on) = self.on.take() {
            on.drop_unended();
        }
    }
}
