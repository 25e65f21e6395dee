//! Executions: one run of an agent, with the phases it went through — as kept and reported
//! (`profile.rs`), as started by hand (`manual.rs`), and the distributed trace one may join
//! (`traceparent.rs`).

mod manual;
mod profile;
// Read by the recording side and the OTLP exporter, which record and send nothing without
// `enabled`.
#[cfg_attr(not(feature = "enabled"), allow(dead_code))]
mod traceparent;

pub use manual::{Execution, ExecutionPhase, ExecutionResult};
pub use profile::{ExecutionProfile, Outcome, PhaseName, PhaseProfile};
#[allow(unused_imports)] // `TraceParent`: the recording side's and the exporter's
pub(crate) use traceparent::TraceParent;
#[cfg(feature = "enabled")]
pub use traceparent::TraceparentArg;
