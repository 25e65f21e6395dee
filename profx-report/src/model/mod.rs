//! What a report holds: the aggregates of agents and phases, the bottlenecks found in them,
//! the kept executions, and the system figures of the run.

pub(crate) mod aggregate;
pub(crate) mod bottleneck;
pub(crate) mod execution;
pub(crate) mod report;
pub(crate) mod system;
pub(crate) mod trend;
