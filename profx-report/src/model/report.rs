//! The report: everything recorded, in one value that can be saved and read back.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::serde_util::{duration_ns, rfc3339};
use crate::{AggregateMetrics, Bottleneck, ExecutionProfile, PhaseMetrics};

use crate::SystemSummary;

/// The version of the report's serialized form; readers refuse other versions.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything the profiler recorded, at one moment.
///
/// Built by `Profiler::report` (in `profx`); serializes with serde (durations as
/// integer nanoseconds), so a saved report can be rendered again and compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] of the code that wrote it.
    pub schema_version: u32,
    /// When the report was made.
    #[serde(with = "rfc3339")]
    pub generated_at: SystemTime,
    /// Executions of all agents.
    pub total_executions: u64,
    /// Mean execution duration over all agents but the long-lived ones
    /// ([`AggregateMetrics::long_lived`]); an execution nested in another counts on its own.
    #[serde(with = "duration_ns")]
    pub overall_avg_duration: Duration,
    /// Mean bytes allocated per execution over the same executions (0 when not measured).
    pub overall_avg_memory: u64,
    /// Whether allocations were counted (feature `alloc` with `profx::CountingAlloc`
    /// installed); when not, memory figures are 0 and reports say "not measured".
    #[serde(default)]
    pub memory_measured: bool,
    /// Share of the executions that completed (succeeded or failed) that succeeded, over all
    /// agents, in percent (0 when none completed); cancellations are left out, as in
    /// [`AggregateMetrics::success_rate`].
    pub overall_success_rate: f64,
    /// Per agent.
    pub agents: BTreeMap<String, AggregateMetrics>,
    /// Every phase by name, across all agents and outside them.
    pub phases: BTreeMap<String, PhaseMetrics>,
    /// System metrics, when a collector ran.
    pub system: Option<SystemSummary>,
    /// Bottlenecks found against [`bottleneck_threshold`](Report::bottleneck_threshold).
    pub bottlenecks: Vec<Bottleneck>,
    /// What the bottlenecks were found against: `PROFX_BOTTLENECK_THRESHOLD` (by default
    /// [`Report::BOTTLENECK_THRESHOLD`]). Reports written before it was recorded read as the
    /// default.
    #[serde(default = "default_threshold", with = "duration_ns")]
    pub bottleneck_threshold: Duration,
    /// The kept executions of each agent, oldest first.
    pub executions: BTreeMap<String, Vec<ExecutionProfile>>,
}

fn default_threshold() -> Duration {
    Report::BOTTLENECK_THRESHOLD
}

impl Report {
    /// The long-lived agents, left out of the overall averages.
    pub fn long_lived_agents(&self) -> Vec<&str> {
        self.agents
            .iter()
            .filter(|(_, a)| a.long_lived)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Executions of all agents that were cancelled (left out of the success rates).
    pub fn cancelled_total(&self) -> u64 {
        self.agents
            .values()
            .fold(0u64, |n, a| n.saturating_add(a.cancelled_count))
    }

    /// [`overall_success_rate`](Report::overall_success_rate), or `None` when no execution
    /// completed (none at all, or all cancelled): what reports print as "n/a".
    pub fn overall_success_rate_checked(&self) -> Option<f64> {
        let completed = self.agents.values().fold(0u64, |n, a| {
            n.saturating_add(a.success_count.saturating_add(a.failure_count))
        });
        (completed > 0).then_some(self.overall_success_rate)
    }

    /// The threshold bottlenecks are found against unless `PROFX_BOTTLENECK_THRESHOLD` says
    /// otherwise: 100 ms.
    pub const BOTTLENECK_THRESHOLD: Duration = Duration::from_millis(100);

    /// A report with nothing in it, made now.
    pub fn empty() -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            generated_at: SystemTime::now(),
            total_executions: 0,
            overall_avg_duration: Duration::ZERO,
            overall_avg_memory: 0,
            memory_measured: false,
            overall_success_rate: 0.0,
            agents: BTreeMap::new(),
            phases: BTreeMap::new(),
            system: None,
            bottlenecks: Vec::new(),
            bottleneck_threshold: Self::BOTTLENECK_THRESHOLD,
            executions: BTreeMap::new(),
        }
    }

    /// A report over these agents and phases, with the overall figures and bottlenecks computed
    /// (against [`Report::BOTTLENECK_THRESHOLD`]).
    pub fn from_parts(
        agents: BTreeMap<String, AggregateMetrics>,
        phases: BTreeMap<String, PhaseMetrics>,
        executions: BTreeMap<String, Vec<ExecutionProfile>>,
    ) -> Report {
        let total: u64 = agents.values().map(|a| a.total_executions).sum();
        // Sessions and connections last by design: averaging them with the work done inside
        // them would describe neither.
        let timed: u64 = agents
            .values()
            .filter(|a| !a.long_lived)
            .map(|a| a.total_executions)
            .sum();
        let ok: u64 = agents.values().map(|a| a.success_count).sum();
        let completed: u64 = agents
            .values()
            .map(|a| a.success_count + a.failure_count)
            .sum();
        let nanos: u128 = agents
            .values()
            .filter(|a| !a.long_lived)
            .map(|a| a.avg_duration.as_nanos() * a.total_executions as u128)
            .sum();
        let mem: u128 = agents
            .values()
            .filter(|a| !a.long_lived)
            .map(|a| a.avg_memory as u128 * a.total_executions as u128)
            .sum();
        let loose: Vec<(&String, &PhaseMetrics)> = Vec::new();
        let bottlenecks = crate::model::bottleneck::detect(
            agents.iter(),
            loose,
            Self::BOTTLENECK_THRESHOLD,
            |_| None,
        );
        Report {
            total_executions: total,
            overall_avg_duration: if timed == 0 {
                Duration::ZERO
            } else {
                Duration::from_nanos((nanos / timed as u128) as u64)
            },
            overall_avg_memory: if timed == 0 {
                0
            } else {
                (mem / timed as u128) as u64
            },
            overall_success_rate: if completed == 0 {
                0.0
            } else {
                ok as f64 * 100.0 / completed as f64
            },
            agents,
            phases,
            bottlenecks,
            executions,
            ..Report::empty()
        }
    }
}
