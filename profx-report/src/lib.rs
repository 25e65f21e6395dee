//! The report of profx, apart from the recorder that fills it: the model (a [`Report`] of
//! agents' [`AggregateMetrics`] and [`PhaseMetrics`], [`Bottleneck`]s, kept
//! [`ExecutionProfile`]s and a [`SystemSummary`]), which serializes with serde and reads back,
//! and its writers — text, JSON, CSV, summary, details, a self-contained HTML page, a Chrome
//! trace, folded stacks and (feature `flamegraph`) SVG flame graphs.
//!
//! Programs use it through `profx`, which re-exports all of it at the same paths; the `profx`
//! command depends on it alone, to render and compare saved reports without a recorder.
//!
//! ```
//! let report = profx_report::Report::empty();
//! let mut out = Vec::new();
//! report.write_summary(&mut out)?;
//! assert!(String::from_utf8(out).unwrap().starts_with("=== Performance Summary ==="));
//! # Ok::<(), std::io::Error>(())
//! ```

mod format;
mod model;
#[doc(hidden)]
pub mod serde_util;
mod units;
mod write;

pub use format::{parse_report_targets, ReportFormat, ReportSpecError, ReportTarget};
pub use model::aggregate::{AggregateMetrics, Percentiles, PhaseMetrics};
pub use model::bottleneck::{Bottleneck, BottleneckKind, Severity};
pub use model::execution::{ExecutionProfile, Outcome, PhaseName, PhaseProfile};
pub use model::report::{Report, SCHEMA_VERSION};
pub use model::system::{MemoryPoint, SystemAverage, SystemSnapshot, SystemSummary};
pub use model::trend::{MemoryKind, MemoryTrend, TrendDirection};
pub use units::{HumanBytes, HumanDuration};

/// What the recorder shares with the report and nothing else does.
#[doc(hidden)]
pub mod __recorder {
    pub use crate::format::SPEC_FORM;
    pub use crate::model::bottleneck::detect;
    pub use crate::write::html::{ERROR_HOOK, REPORT_CSS};
}
