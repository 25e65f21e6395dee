//! Executions: one run of an agent, with the phases it went through — as kept and reported
//! (`profile.rs`), as started by hand (`manual.rs`), and the distributed trace one may join
//! (`traceparent.rs`).

mod manual;
mod profile;
mod traceparent;

pub use manual::{Execution, ExecutionPhase, ExecutionResult};
pub use profile::{ExecutionProfile, Outcome, PhaseName, PhaseProfile};
#[allow(unused_imports)] // `TraceParent`: the recording side's and the exporter's
pub(crate) use traceparent::TraceParent;
#[cfg(feature = "enabled")]
pub use traceparent::TraceparentArg;
