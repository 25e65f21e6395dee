//! Executions: one run of an agent, with the phases it went through — as started by hand
//! (`manual.rs`), and the distributed trace one may join (`traceparent.rs`). As kept and
//! reported, they are the report's model (`profx_report::ExecutionProfile`).

mod manual;
// Read by the recording side and the OTLP exporter, which record and send nothing without
// `enabled`.
#[cfg_attr(not(feature = "enabled"), allow(dead_code))]
mod traceparent;

pub use manual::{Execution, ExecutionPhase, ExecutionResult};
pub use profx_report::{ExecutionProfile, Outcome, PhaseName, PhaseProfile};
pub use traceparent::TraceParent;
#[cfg(feature = "enabled")]
pub use traceparent::TraceparentArg;
