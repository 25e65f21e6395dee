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
    /// Executions that completed (successfully or not).
    pub total_executions: u64,
    /// Executions that succeeded.
    pub success_count: u64,
    /// Executions that returned `Err`, panicked or were cancelled.
    pub failure_count: u64,
    /// Mean duration.
    #[serde(with = "duration_ns")]
    pub avg_duration: Duration,
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
}

impl AggregateMetrics {
    /// Share of executions that succeeded, in percent (0 when there were none).
    pub fn success_rate(&self) -> f64 {
        if self.total_executions == 0 {
            0.0
        } else {
            self.success_count as f64 * 100.0 / self.total_executions as f64
        }
    }
}

/// Everything recorded for one phase (within one agent, or across all of them in
/// [`Report::phases`](crate::Report::phases)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseMetrics {
    /// Completed calls.
    pub calls: u64,
    /// Calls that returned `Err` or panicked.
    pub failures: u64,
    /// Sum of the calls' durations.
    #[serde(with = "duration_ns")]
    pub total_duration: Duration,
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
