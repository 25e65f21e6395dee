//! What a kept execution is, as reports and readers see it: the execution, its phases, their
//! names and outcomes.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use crate::serde_util::{duration_ns, rfc3339};

/// How an execution or a phase ended: three disjoint outcomes.
///
/// - `Success`: it returned (`Ok`, or a value that is not a `Result`), or returned an `Err`
///   that its `failure = ...` predicate (or `Execution::end_where`) says is expected.
/// - `Failure`: it returned an `Err` that is a failure, or panicked.
/// - `Cancelled`: it was dropped before it completed: an async agent or phase whose future was
///   dropped (a `select!` that took another branch, a timeout, a client gone), or a manual
///   `Execution` dropped without `end` or ended with `Execution::cancel`.
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
    /// Times its body was polled: for an async agent, how often it was woken and run; 1 for a
    /// sync one. Reports written before polls were recorded read 1.
    pub polls: u64,
    /// The time spent inside those polls, working; the rest of `duration` it was waiting
    /// (on I/O, timers, locks, or for a worker thread): see
    /// [`waiting`](ExecutionProfile::waiting). A sync execution is busy throughout (`busy ==
    /// duration`), as are those of reports written before this was recorded.
    #[serde(with = "duration_ns")]
    pub busy: Duration,
    /// Bytes allocated during the execution: by its body on its thread (sync), or summed over
    /// its polls on whatever threads ran them (async). A `realloc` counts its new size.
    /// 0 unless allocations are counted (feature `alloc` and `CountingAlloc`
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
    /// The W3C `traceparent` of the distributed trace it joined
    /// (`#[profx::agent(traceparent = …)]`, `Profiler::start_execution_in_trace`);
    /// `None` when it started a trace of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The thread it started on: profx's number for it (1, 2, … in the order threads first
    /// started an execution in the process; unlike an OS thread id, never reused). 0 when not
    /// known (a report written before threads were recorded).
    #[serde(default)]
    pub thread_id: u64,
    /// That thread's name (`std::thread::Builder::name`, e.g. `tokio-runtime-worker`), or
    /// `thread <OS id>` for an unnamed one; `None` when not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_name: Option<String>,
}

impl ExecutionProfile {
    /// The time it was not running: its duration less [`busy`](ExecutionProfile::busy).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let mut e: profx_report::ExecutionProfile = serde_json::from_str(r#"{"id":"a-1","agent":"a",
    /// #   "request":"","start":"2026-12-07T00:00:00Z","duration":10000000,"memory_allocated":0,
    /// #   "allocations":0,"thread_count":0,"success":true,"error":null,"phases":[],
    /// #   "phases_dropped":0}"#).unwrap();
    /// // Read from a report written before polls were recorded: one poll, busy throughout.
    /// assert_eq!((e.polls, e.busy), (1, Duration::from_millis(10)));
    /// e.polls = 3;
    /// e.busy = Duration::from_millis(4);
    /// assert_eq!(e.waiting(), Duration::from_millis(6));
    /// ```
    pub fn waiting(&self) -> Duration {
        self.duration.saturating_sub(self.busy)
    }

    /// The order of the phases by start (the outer one first when two start together), and
    /// for each phase the index of the phase it ran directly inside (`None`: in the execution
    /// itself), from their depths and times: the innermost phase still open at its start, one
    /// level up. Reports hold the phases in that order already; hand-made ones may not.
    /// (The folded stacks and the OTLP spans are built from it.)
    pub fn phase_tree(&self) -> (Vec<usize>, Vec<Option<usize>>) {
        let mut order: Vec<usize> = (0..self.phases.len()).collect();
        order.sort_by_key(|&i| (self.phases[i].start_offset, self.phases[i].depth));
        let mut parents = vec![None; self.phases.len()];
        // Open phases: (index, depth, end).
        let mut open: Vec<(usize, u32, Duration)> = Vec::new();
        for &i in &order {
            let p = &self.phases[i];
            while open
                .last()
                .is_some_and(|&(_, depth, end)| depth >= p.depth || end <= p.start_offset)
            {
                open.pop();
            }
            parents[i] = open.last().map(|&(j, _, _)| j);
            open.push((i, p.depth, p.start_offset + p.duration));
        }
        (order, parents)
    }
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
        #[serde(default)]
        polls: Option<u64>,
        /// Nanoseconds.
        #[serde(default)]
        busy: Option<u64>,
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
        #[serde(default)]
        traceparent: Option<String>,
        #[serde(default)]
        thread_id: u64,
        #[serde(default)]
        thread_name: Option<String>,
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
                polls: w.polls.unwrap_or(1),
                busy: w.busy.map_or(w.duration, Duration::from_nanos),
                memory_allocated: w.memory_allocated,
                allocations: w.allocations,
                thread_count: w.thread_count,
                success: outcome == Outcome::Success,
                outcome,
                error: w.error,
                phases: w.phases,
                phases_dropped: w.phases_dropped,
                parent: w.parent,
                traceparent: w.traceparent,
                thread_id: w.thread_id,
                thread_name: w.thread_name,
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
/// use profx_report::PhaseName;
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
