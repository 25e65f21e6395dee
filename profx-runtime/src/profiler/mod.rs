//! The profiler: the switch, and the read side that turns every thread's slots into metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{AggregateMetrics, Bottleneck, Execution, ExecutionProfile, Report};

// One module per state of the `enabled` feature, with the same surface: `Inner`, `Handle`,
// `global_profiler` and `new`.
#[cfg(not(feature = "enabled"))]
mod off;
#[cfg(not(feature = "enabled"))]
use off::{global_profiler, Handle};
#[cfg(feature = "enabled")]
pub(crate) use on::*;

/// Records executions of agents and the phases inside them, and answers what they cost.
///
/// [`global()`] is the process-wide instance that the macros record into;
/// [`Profiler::new`] makes an isolated one (for tests, or to compare two runs side by side)
/// that the manual API ([`Profiler::start_execution`]) records into.
///
/// Without the `enabled` feature every method exists with the same signature and returns
/// empty data, so code calling it compiles unchanged.
///
/// ```
/// let p = profx_runtime::Profiler::new(true);
/// let mut ex = p.start_execution("codebase-locator", "Find main.go");
/// ex.start_phase("search");
/// ex.end_phase();
/// ex.end(());
/// let m = p.agent_metrics("codebase-locator");
/// if cfg!(feature = "enabled") {
///     assert_eq!(m.unwrap().total_executions, 1);
/// } else {
///     assert!(m.is_none());
/// }
/// ```
#[derive(Clone)]
pub struct Profiler {
    pub(crate) inner: Handle,
}

impl std::fmt::Debug for Profiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiler")
            .field("enabled", &self.is_enabled())
            .finish_non_exhaustive()
    }
}

/// The process-wide profiler the macros record into.
///
/// Made on first use; `PROFX_ENABLED`, `PROFX_MAX_EXECUTIONS`, `PROFX_MAX_PHASES` and
/// `PROFX_SAMPLE` are read then (a bad value warns once and the default is used).
#[inline]
pub fn global() -> &'static Profiler {
    global_profiler()
}

impl Profiler {
    /// An isolated profiler, recording or not from the start. Its limits come from the
    /// environment like the global one's.
    pub fn new(enabled: bool) -> Profiler {
        #[cfg(not(feature = "enabled"))]
        use off::new;
        #[cfg(feature = "enabled")]
        use on::new;
        new(enabled)
    }

    /// Turns recording on.
    pub fn enable(&self) {
        self.inner.set_enabled(true);
    }

    /// Turns recording off: an instrumented call then costs one load and a branch.
    pub fn disable(&self) {
        self.inner.set_enabled(false);
    }

    /// Whether calls are being recorded (always `false` without the `enabled` feature).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_enabled()
    }

    /// Forgets everything recorded so far. Calls that are running finish into the new data.
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// Starts an execution of `agent` by hand, for code that cannot take an attribute.
    /// `request` says what it was asked to do (`""` for nothing).
    pub fn start_execution(&self, agent: &str, request: &str) -> Execution {
        Execution::start(self.clone(), agent, request, None)
    }

    /// [`start_execution`](Profiler::start_execution) inside a distributed trace: `traceparent`
    /// is the caller's W3C `traceparent` header (`00-<trace id>-<parent id>-<flags>`), and the
    /// execution's span, exported over OTLP (feature `otlp`), is a child of the caller's span
    /// in the caller's trace. A value that is not a valid `traceparent` is ignored, as the W3C
    /// recommendation says: the execution starts a trace of its own.
    ///
    /// ```
    /// let p = profx_runtime::Profiler::new(true);
    /// let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    /// let e = p.start_execution_in_trace("handler", "GET /", tp);
    /// let id = e.id();
    /// e.end(Ok::<(), String>(()));
    /// # #[cfg(feature = "enabled")]
    /// assert_eq!(p.execution(&id).unwrap().traceparent.as_deref(), Some(tp));
    /// ```
    pub fn start_execution_in_trace(
        &self,
        agent: &str,
        request: &str,
        traceparent: &str,
    ) -> Execution {
        Execution::start(self.clone(), agent, request, Some(traceparent))
    }

    /// What `agent`'s executions added up to; `None` if it has none.
    pub fn agent_metrics(&self, agent: &str) -> Option<AggregateMetrics> {
        self.inner.agent_metrics(agent)
    }

    /// The kept execution with this id (`ExecutionProfile::id`, `Execution::id`).
    pub fn execution(&self, id: &str) -> Option<ExecutionProfile> {
        self.inner.execution(id)
    }

    /// The kept executions of `agent`, oldest first (at most `PROFX_MAX_EXECUTIONS`).
    pub fn executions(&self, agent: &str) -> Vec<ExecutionProfile> {
        self.inner.agent_executions(agent)
    }

    /// The duration above which reports and the dashboard call an agent or a phase a
    /// bottleneck: `PROFX_BOTTLENECK_THRESHOLD` as this profiler read it (by default, and
    /// without the `enabled` feature, [`Report::BOTTLENECK_THRESHOLD`]).
    pub fn bottleneck_threshold(&self) -> Duration {
        self.inner.bottleneck_threshold()
    }

    /// Agents and phases that are slow against `threshold` or erratic, most severe first.
    pub fn bottlenecks(&self, threshold: Duration) -> Vec<Bottleneck> {
        self.inner.read(None).bottlenecks(threshold)
    }

    /// Every key's durations folded onto fixed upper `bounds` (ascending), for exporters that
    /// need exact Prometheus histograms: one entry per agent (its executions, `phase: None`)
    /// and per phase within an agent (`agent` is `""` for phases run outside any execution),
    /// ordered by agent, then the agent's own entry, then phases by name. Empty without the
    /// `enabled` feature.
    ///
    /// Each key's log-linear counts are merged across threads (as every other read does) and
    /// each log-linear bucket is assigned, as a whole, to the first bound at or above its
    /// *upper* value. A bucket lies wholly below or above every bound except the one it
    /// straddles, so the only edge effect is that observations less than 1/64 (1.6%) below a
    /// bound may be counted in the next bucket up; `count` and `sum` are exact. Reads only:
    /// nothing on the recording path changes.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = profx_runtime::Profiler::new(true);
    /// p.start_execution("loader", "").end(());
    /// let bounds = [Duration::from_millis(1), Duration::from_secs(1)];
    /// let h = p.histograms(&bounds);
    /// if cfg!(feature = "enabled") {
    ///     assert_eq!(h[0].agent, "loader");
    ///     assert_eq!(h[0].count, 1);
    ///     assert_eq!(h[0].buckets.len(), 2);
    ///     assert_eq!(h[0].buckets[1], 1); // cumulative: everything is at or below 1 s
    /// } else {
    ///     assert!(h.is_empty());
    /// }
    /// ```
    pub fn histograms(&self, bounds: &[Duration]) -> Vec<KeyHistogram> {
        self.inner.histograms(bounds)
    }

    /// Everything recorded, now.
    pub fn report(&self) -> Report {
        self.report_with(true)
    }

    /// [`report`](Profiler::report), with the kept executions only if `executions` (the
    /// formats that show none — summary, text, CSV — need not copy them).
    pub(crate) fn report_with(&self, executions: bool) -> Report {
        self.inner.report(self, executions)
    }
}

/// The durations of one key (an agent's executions, or a phase within an agent) on fixed
/// bounds; see [`Profiler::histograms`].
#[derive(Clone, Debug, PartialEq)]
pub struct KeyHistogram {
    /// The agent (`""` for a phase run outside any execution).
    pub agent: String,
    /// The phase, or `None` for the agent's own executions.
    pub phase: Option<String>,
    /// Calls (executions of the agent, or calls of the phase).
    pub count: u64,
    /// Calls that failed (an `Err` that is a failure, or a panic).
    pub failures: u64,
    /// Calls dropped before they completed.
    pub cancelled: u64,
    /// The sum of the durations (exact).
    pub sum: Duration,
    /// The time spent working, summed: inside the polls of an async agent or phase (the rest
    /// of `sum` it was waiting), all of `sum` for a sync one.
    pub busy: Duration,
    /// Cumulative counts, one per bound given: calls at or below that bound (up to the edge
    /// effect documented on [`Profiler::histograms`]). `count` is the `+Inf` bucket.
    pub buckets: Vec<u64>,
}

impl KeyHistogram {
    /// Successes over completed calls (cancelled ones left out), from 0 to 1; `None` when no
    /// call completed.
    pub fn success_ratio(&self) -> Option<f64> {
        let completed = self.count.saturating_sub(self.cancelled);
        (completed > 0).then(|| completed.saturating_sub(self.failures) as f64 / completed as f64)
    }
}

/// What one read of the slots gives: the aggregates, never the kept executions.
#[cfg_attr(not(feature = "enabled"), allow(dead_code))]
#[derive(Default)]
pub struct Read {
    /// Per agent, with its phases.
    pub agents: BTreeMap<String, AggregateMetrics>,
    /// Per phase name, over every agent and outside any.
    pub phases: BTreeMap<String, crate::PhaseMetrics>,
    /// Phases run outside any execution.
    pub loose: BTreeMap<String, crate::PhaseMetrics>,
}

#[cfg_attr(not(feature = "enabled"), allow(dead_code))]
impl Read {
    /// The bottlenecks of these aggregates against `threshold`, as a report finds them.
    pub fn bottlenecks(&self, threshold: Duration) -> Vec<Bottleneck> {
        // An agent's own threshold (`#[profx::agent(threshold = ..)]`) wins.
        #[cfg(feature = "enabled")]
        let own = crate::registry::threshold_of;
        #[cfg(not(feature = "enabled"))]
        let own = |_: &str| None;
        profx_report::__recorder::detect(self.agents.iter(), self.loose.iter(), threshold, own)
    }
}

/// What was recorded, counted without reading a histogram (`/debug/stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Completed executions, over every agent.
    pub executions: u64,
    /// Agents with a completed execution.
    pub agents: usize,
    /// Phase names with a completed call.
    pub phases: usize,
}

impl Profiler {
    /// The aggregates of everything recorded (empty without the `enabled` feature): what the
    /// monitoring views and exporters read; the kept executions are not touched.
    pub(crate) fn read(&self) -> Read {
        self.inner.read(None)
    }

    /// The kept executions of every agent, oldest first per agent (what the OTLP exporter sends
    /// as spans); empty without the `enabled` feature.
    pub fn all_executions(&self) -> BTreeMap<String, Vec<ExecutionProfile>> {
        self.inner.executions(None)
    }

    /// Counts of what was recorded, from the slots' call counts alone.
    pub(crate) fn tally(&self) -> Tally {
        self.inner.tally()
    }
}

#[cfg(feature = "enabled")]
mod fold;
#[cfg(feature = "enabled")]
mod on;
