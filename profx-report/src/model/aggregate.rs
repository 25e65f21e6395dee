//! Aggregate metrics: what every call of an agent or a phase added up to.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::serde_util::duration_ns;

/// Latency percentiles, within 1% of the exact value whatever the number of threads that
/// recorded them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    #[serde(with = "duration_ns")]
    pub p50: Duration,
    /// 90th percentile.
    #[serde(with = "duration_ns")]
    pub p90: Duration,
    /// 95th percentile.
    #[serde(with = "duration_ns")]
    pub p95: Duration,
    /// 99th percentile.
    #[serde(with = "duration_ns")]
    pub p99: Duration,
    /// 99.9th percentile.
    #[serde(with = "duration_ns")]
    pub p999: Duration,
}

/// Everything recorded for one agent: all its executions, and the phases run inside them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregateMetrics {
    /// Executions that ended, whatever their [`Outcome`](crate::Outcome):
    /// `success_count + failure_count + cancelled_count`.
    pub total_executions: u64,
    /// Executions that succeeded (including those whose `Err` was expected: `failure = ...`).
    pub success_count: u64,
    /// Executions that returned an `Err` that is a failure, or panicked.
    pub failure_count: u64,
    /// Executions dropped before they completed (an async agent's future dropped, a manual
    /// execution not ended). Reports written before this was counted read 0 (and counted
    /// cancellations as failures).
    #[serde(default)]
    pub cancelled_count: u64,
    /// Mean duration.
    #[serde(with = "duration_ns")]
    pub avg_duration: Duration,
    /// The executions' own time, summed: their durations less those of their top-level
    /// phases (async phases count the time they were awaited; never below 0). Reports written
    /// before this was recorded read 0.
    #[serde(with = "duration_ns", default)]
    pub self_duration: Duration,
    /// The executions' time spent working, summed: inside the polls of an async agent's body
    /// (the rest it waited), the whole duration of a sync one. Reports written before this was
    /// recorded read 0 (see [`busy_share`](AggregateMetrics::busy_share)).
    #[serde(with = "duration_ns", default)]
    pub busy_duration: Duration,
    /// Fastest execution.
    #[serde(with = "duration_ns")]
    pub min_duration: Duration,
    /// Slowest execution.
    #[serde(with = "duration_ns")]
    pub max_duration: Duration,
    /// Mean bytes allocated per execution (0 when allocations are not counted: feature `alloc`).
    pub avg_memory: u64,
    /// Duration percentiles.
    pub percentiles: Percentiles,
    /// The phases run inside this agent's executions, by phase name.
    pub phases: BTreeMap<String, PhaseMetrics>,
    /// The agent is a session or a connection (`#[profx::agent(long_lived)]`): its
    /// executions are not checked for slow-execution bottlenecks (its phases are) and are left
    /// out of the report's overall averages.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub long_lived: bool,
}

impl AggregateMetrics {
    /// Share of the executions that completed (succeeded or failed) that succeeded, in
    /// percent; 0 when none completed. Cancellations are left out: see
    /// [`Outcome`](crate::Outcome).
    ///
    /// ```
    /// let a = profx_report::AggregateMetrics {
    ///     total_executions: 10,
    ///     success_count: 6,
    ///     failure_count: 2,
    ///     cancelled_count: 2,
    ///     ..Default::default()
    /// };
    /// assert_eq!(a.success_rate(), 75.0);
    /// assert_eq!(a.success_rate_checked(), Some(75.0));
    /// ```
    pub fn success_rate(&self) -> f64 {
        self.success_rate_checked().unwrap_or(0.0)
    }

    /// [`success_rate`](AggregateMetrics::success_rate), or `None` when no execution
    /// completed (none at all, or all cancelled): what reports print as "n/a".
    pub fn success_rate_checked(&self) -> Option<f64> {
        let completed = self.success_count.saturating_add(self.failure_count);
        (completed > 0).then(|| self.success_count as f64 * 100.0 / completed as f64)
    }

    /// The executions' durations summed (`avg_duration × total_executions`).
    pub fn total_duration(&self) -> Duration {
        let ns = self.avg_duration.as_nanos() * u128::from(self.total_executions);
        Duration::from_nanos(ns.min(u64::MAX as u128) as u64)
    }

    /// Share of the executions' time spent working (inside polls), in percent: 100 for a sync
    /// agent, less for an async one that waited; `None` when not known (a report written
    /// before busy time was recorded, or no time at all).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let a = profx_report::AggregateMetrics {
    ///     total_executions: 4,
    ///     avg_duration: Duration::from_millis(10),
    ///     busy_duration: Duration::from_millis(10),
    ///     ..Default::default()
    /// };
    /// assert_eq!(a.busy_share(), Some(25.0)); // working 10 ms of 40: waiting 75%
    /// // A report written before busy time was recorded: not known.
    /// let old = profx_report::AggregateMetrics { busy_duration: Default::default(), ..a };
    /// assert_eq!(old.busy_share(), None);
    /// ```
    pub fn busy_share(&self) -> Option<f64> {
        busy_share(self.busy_duration, self.total_duration())
    }
}

/// `busy` in percent of `total`, at most 100 (a total rounded from a mean can be a little
/// short of it); `None` when either is zero.
fn busy_share(busy: Duration, total: Duration) -> Option<f64> {
    if busy.is_zero() || total.is_zero() {
        None
    } else if busy >= total {
        // Exactly 100 (the division need not give it).
        Some(100.0)
    } else {
        Some(busy.as_nanos() as f64 * 100.0 / total.as_nanos() as f64)
    }
}

impl PhaseMetrics {
    /// Share of the calls' time spent working (inside polls), in percent: 100 for a sync
    /// phase, less for an async one that waited; `None` when not known (a report written
    /// before busy time was recorded, or no time at all).
    pub fn busy_share(&self) -> Option<f64> {
        busy_share(self.busy_duration, self.total_duration)
    }
}

/// Everything recorded for one phase (within one agent, or across all of them in
/// [`Report::phases`](crate::Report::phases)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseMetrics {
    /// Completed calls.
    pub calls: u64,
    /// Calls that returned an `Err` that is a failure, or panicked.
    pub failures: u64,
    /// Calls dropped before they completed (an async phase's future dropped). Reports written
    /// before this was counted read 0 (and counted cancellations as failures).
    #[serde(default)]
    pub cancelled: u64,
    /// Sum of the calls' durations.
    #[serde(with = "duration_ns")]
    pub total_duration: Duration,
    /// The calls' own time, summed: their durations less those of the phases nested directly
    /// in them (async phases count the time they were awaited; never below 0). Sorting phases
    /// by it finds where the time is spent rather than passed through. Reports written before
    /// this was recorded read 0.
    #[serde(with = "duration_ns", default)]
    pub self_duration: Duration,
    /// The calls' time spent working, summed: inside the polls of an async phase (the rest it
    /// waited), the whole duration of a sync one. Reports written before this was recorded
    /// read 0 (see [`busy_share`](PhaseMetrics::busy_share)).
    #[serde(with = "duration_ns", default)]
    pub busy_duration: Duration,
    /// Mean duration.
    #[serde(with = "duration_ns")]
    pub avg_duration: Duration,
    /// Fastest call.
    #[serde(with = "duration_ns")]
    pub min_duration: Duration,
    /// Slowest call.
    #[serde(with = "duration_ns")]
    pub max_duration: Duration,
    /// Duration percentiles.
    pub percentiles: Percentiles,
}
