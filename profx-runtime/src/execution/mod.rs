//! Executions: one run of an agent, with the phases it went through — as kept and reported
//! (`profile.rs`), and as started by hand (`manual.rs`).

mod manual;
mod profile;

pub use manual::{Execution, ExecutionPhase, ExecutionResult};
pub use profile::{ExecutionProfile, Outcome, PhaseName, PhaseProfile};
