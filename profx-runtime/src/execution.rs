//! Executions: one run of an agent, with the phases it went through.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use crate::serde_util::{duration_ns, rfc3339};

/// How an execution or a phase ended: three disjoint outcomes.
///
/// - `Success`: it returned (`Ok`, or a value that is not a `Result`), or returned an `Err`
///   that its `failure = ...` predicate (or [`Execution::end_where`]) says is expected.
/// - `Failure`: it returned an `Err` that is a failure, or panicked.
/// - `Cancelled`: it was dropped before it completed: an async agent or phase whose future was
///   dropped (a `select!` that took another branch, a timeout, a client gone), or a manual
///   [`Execution`] dropped without `end` or ended with [`Execution::cancel`].
///
/// A cancellation is neither a success nor a failure: success rates are
/// `successes / (successes + failures)`, as an SRE excludes the requests a client gave up on
/// from an error budget; cancellations are counted and shown on their own.
///
/// Serialized in lowercase: `"success"`, `"failure"`, `"cancelled"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Completed, successfully (or with an expected error).
    #[default]
    Success,
    /// Completed with an error that is a failure, or panicked.
    Failure,
    /// Dropped before it completed.
    Cancelled,
}

impl Outcome {
    /// `"success"`, `"failure"` or `"cancelled"`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One completed execution of an agent, as kept in the agent's ring of recent executions.
///
/// Reports written before outcomes were recorded read `outcome` from `success` (`false`:
/// [`Outcome::Failure`], or [`Outcome::Cancelled`] when the error is `"cancelled"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "wire::ExecutionWire")]
pub struct ExecutionProfile {
    /// Unique in the process: `"{agent}-{n}"`.
    pub id: String,
    /// The agent's name.
    pub agent: String,
    /// What the execution was asked to do (`request = …` on the attribute); `""` when none.
    pub request: String,
    /// Wall-clock time of the start.
    #[serde(with = "rfc3339")]
    pub start: SystemTime,
    /// From start to end.
    #[serde(with = "duration_ns")]
    pub duration: Duration,
    /// Bytes allocated during the execution: by its body on its thread (sync), or summed over
    /// its polls on whatever threads ran them (async). A `realloc` counts its new size.
    /// 0 unless allocations are counted (feature `alloc` and [`CountingAlloc`](crate::CountingAlloc)
    /// installed; see [`Report::memory_measured`](crate::Report::memory_measured)).
    pub memory_allocated: u64,
    /// Allocations made during the execution, counted like `memory_allocated` (0 unless
    /// allocations are counted).
    pub allocations: u64,
    /// Threads in the process when the execution ended (0 where the platform does not say).
    pub thread_count: u64,
    /// `outcome == Outcome::Success` (kept for readers of older reports).
    pub success: bool,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed or was cancelled: the error's `Display` (at most 256 bytes),
    /// `"panicked"` or `"cancelled"`.
    pub error: Option<String>,
    /// The phases, in order of their start.
    pub phases: Vec<PhaseProfile>,
    /// Phase records not kept because the execution had more than `PROFX_MAX_PHASES`
    /// (they still count in every aggregate).
    pub phases_dropped: u64,
    /// The id of the execution this one ran inside (an agent called from another agent's
    /// code, or a nested manual execution); `None` for a top-level one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// One phase inside an execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseProfile {
    /// The phase's name.
    pub name: PhaseName,
    /// From the start of the execution to the start of the phase.
    #[serde(with = "duration_ns")]
    pub start_offset: Duration,
    /// From start to end of the phase.
    #[serde(with = "duration_ns")]
    pub duration: Duration,
    /// 0 for a phase directly inside the execution, 1 for a phase inside that one, and so on.
    pub depth: u32,
    /// How it ended (reports written before outcomes were recorded read as `Success`).
    #[serde(default)]
    pub outcome: Outcome,
}

/// What an [`ExecutionProfile`] is read from: today's fields, with `outcome` optional.
mod wire {
    use super::*;

    #[derive(Deserialize)]
    pub(super) struct ExecutionWire {
        id: String,
        agent: String,
        request: String,
        #[serde(with = "rfc3339")]
        start: SystemTime,
        #[serde(with = "duration_ns")]
        duration: Duration,
        memory_allocated: u64,
        allocations: u64,
        thread_count: u64,
        success: bool,
        #[serde(default)]
        outcome: Option<Outcome>,
        error: Option<String>,
        phases: Vec<PhaseProfile>,
        phases_dropped: u64,
        #[serde(default)]
        parent: Option<String>,
    }

    impl From<ExecutionWire> for ExecutionProfile {
        fn from(w: ExecutionWire) -> ExecutionProfile {
            let outcome = w.outcome.unwrap_or(match (w.success, w.error.as_deref()) {
                (true, _) => Outcome::Success,
                (false, Some("cancelled")) => Outcome::Cancelled,
                (false, _) => Outcome::Failure,
            });
            ExecutionProfile {
                id: w.id,
                agent: w.agent,
                request: w.request,
                start: w.start,
                duration: w.duration,
                memory_allocated: w.memory_allocated,
                allocations: w.allocations,
                thread_count: w.thread_count,
                success: outcome == Outcome::Success,
                outcome,
                error: w.error,
                phases: w.phases,
                phases_dropped: w.phases_dropped,
                parent: w.parent,
            }
        }
    }
}

/// The name of a phase in an [`ExecutionProfile`]: a string that is the profiler's own
/// interned name when read from it (shared by every record, not copied per phase), or owned
/// when read back from JSON or made by hand. Use it as a `&str` (it derefs to one, and
/// compares with `str`, `&str` and `String`).
///
/// ```
/// use profx_runtime::PhaseName;
/// let n = PhaseName::from("parse");
/// assert_eq!(n, "parse");
/// assert_eq!(n.as_str().len(), 5);
/// assert_eq!(PhaseName::from(String::from("parse")), n);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhaseName(Cow<'static, str>);

impl PhaseName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for PhaseName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PhaseName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for PhaseName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PhaseName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for PhaseName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&'static str> for PhaseName {
    fn from(s: &'static str) -> Self {
        PhaseName(Cow::Borrowed(s))
    }
}

impl From<String> for PhaseName {
    fn from(s: String) -> Self {
        PhaseName(Cow::Owned(s))
    }
}

impl From<PhaseName> for String {
    fn from(n: PhaseName) -> String {
        n.0.into_owned()
    }
}

impl PartialEq<str> for PhaseName {
    fn eq(&self, o: &str) -> bool {
        *self.0 == *o
    }
}

impl PartialEq<&str> for PhaseName {
    fn eq(&self, o: &&str) -> bool {
        *self.0 == **o
    }
}

impl PartialEq<String> for PhaseName {
    fn eq(&self, o: &String) -> bool {
        *self.0 == **o
    }
}

impl Serialize for PhaseName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhaseName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(PhaseName::from)
    }
}

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

// SAFETY: the state's raw pointers are to the profiler this value keeps alive and to the record
// it owns alone.
#[cfg(feature = "enabled")]
unsafe impl Send for On {}
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
    pub(crate) fn start(profiler: crate::Profiler, agent: &str, request: &str) -> Execution {
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
