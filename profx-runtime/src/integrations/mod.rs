//! Integrations with other instrumentation crates, one module per crate, each behind a
//! feature of its own: `metrics` ([`metrics_rs`]) and `tracing` ([`tracing_layer`]).

#[cfg(feature = "metrics")]
pub mod metrics_rs;
#[cfg(feature = "tracing")]
pub mod tracing_layer;
