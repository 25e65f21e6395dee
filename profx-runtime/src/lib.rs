//! The recording runtime of [profx](https://docs.rs/profx): the clock, the per-thread registry,
//! executions and their aggregates, the collector, the server and the exporter. The report
//! they fill, and its writers, are `profx_report`'s, re-exported here.
//!
//! Users depend on the `profx` facade, which re-exports everything here. Without the `enabled`
//! feature the public API keeps its signatures and returns empty data, and nothing records.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod alloc;
mod execution;
#[cfg(any(feature = "metrics", feature = "tracing"))]
mod integrations;
mod lock;
mod profiler;
mod system;

pub mod health;
pub mod metrics;
pub mod prometheus;

#[cfg(feature = "metrics")]
pub use integrations::metrics_rs;
#[cfg(feature = "tracing")]
pub use integrations::tracing_layer;

#[cfg(feature = "enabled")]
mod clock;
#[cfg_attr(not(feature = "enabled"), allow(dead_code))]
mod config;
#[cfg(feature = "enabled")]
mod context;
#[cfg(feature = "enabled")]
mod histogram;
#[cfg(feature = "enabled")]
mod registry;
mod shutdown;
#[cfg(feature = "enabled")]
mod thread_ids;
#[cfg(feature = "enabled")]
mod threads;

pub use alloc::CountingAlloc;
pub use execution::{
    Execution, ExecutionPhase, ExecutionProfile, ExecutionResult, Outcome, PhaseName, PhaseProfile,
};
pub use profiler::{global, KeyHistogram, Profiler};
pub use profx_report::{
    parse_report_targets, AggregateMetrics, Bottleneck, BottleneckKind, HumanBytes, HumanDuration,
    Percentiles, PhaseMetrics, Report, ReportFormat, ReportSpecError, ReportTarget, Severity,
    SCHEMA_VERSION,
};
pub use system::{
    global_collector, MemoryKind, MemoryPoint, MemoryTrend, MetricsCollector, SystemAverage,
    SystemSnapshot, SystemSummary, TrendDirection,
};

/// Times the enclosing scope as a phase until the guard is dropped.
///
/// Inside an execution (an `#[agent]` body, or [`Execution::in_scope`]) the phase belongs to it;
/// elsewhere it is still recorded, in [`Report::phases`].
///
/// ```
/// fn load() {
///     let _p = profx_runtime::phase("load");
///     // ... work ...
/// }
/// # load();
/// ```
#[inline]
pub fn phase(name: &str) -> PhaseGuard {
    #[cfg(feature = "enabled")]
    {
        PhaseGuard {
            span: context::PhaseSpan::named(name),
            _not_send: std::marker::PhantomData,
        }
    }
    #[cfg(not(feature = "enabled"))]
    {
        let _ = name;
        PhaseGuard {
            _not_send: std::marker::PhantomData,
        }
    }
}

/// A phase timed until it is dropped; see [`phase`].
#[must_use = "the phase ends when this guard is dropped: bind it with `let _p = ...`"]
pub struct PhaseGuard {
    #[cfg(feature = "enabled")]
    #[allow(dead_code)]
    span: context::PhaseSpan,
    /// The phase belongs to the execution running on this thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl std::fmt::Debug for PhaseGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhaseGuard")
    }
}

/// What the macros expand to. Not a public API: it changes without notice.
#[doc(hidden)]
#[cfg(feature = "enabled")]
pub mod __private {
    pub use crate::context::{
        armed, body, once, AgentEnd, AgentFuture, AgentState, PhaseFuture, PhaseSpan, Returned,
        SyncAgent, SyncPhase,
    };
    pub use crate::execution::TraceparentArg;
    pub use crate::registry::{Site, SiteRef};

    /// Classifies `Result<T, E>` with `E: Display` (first choice of the autoref ladder).
    pub trait ViaDisplay {
        /// How the call ended.
        fn __profx_outcome(&self) -> Returned<'_>;
    }
    /// Classifies `Result<T, E>` with `E: Debug`.
    pub trait ViaDebug {
        /// How the call ended.
        fn __profx_outcome(&self) -> Returned<'_>;
    }
    /// Classifies any `Result<T, E>`.
    pub trait ViaResult {
        /// How the call ended.
        fn __profx_outcome(&self) -> Returned<'_>;
    }

    impl<T, E: std::fmt::Display> ViaDisplay for &&Result<T, E> {
        #[inline(always)]
        fn __profx_outcome(&self) -> Returned<'_> {
            match &***self {
                Ok(_) => Returned::Success,
                Err(e) => Returned::Error(e),
            }
        }
    }
    impl<T, E: std::fmt::Debug> ViaDebug for &Result<T, E> {
        #[inline(always)]
        fn __profx_outcome(&self) -> Returned<'_> {
            match &**self {
                Ok(_) => Returned::Success,
                Err(e) => Returned::ErrorDebug(e),
            }
        }
    }
    impl<T, E> ViaResult for Result<T, E> {
        #[inline(always)]
        fn __profx_outcome(&self) -> Returned<'_> {
            match self {
                Ok(_) => Returned::Success,
                Err(_) => Returned::ErrorOpaque,
            }
        }
    }

    /// The outcome of a value that is not a `Result`.
    #[inline(always)]
    pub fn success() -> Returned<'static> {
        Returned::Success
    }

    /// `failure = f`: `outcome` (the classification of `r`), unless `r` is an `Err` that `f`
    /// says is not a failure, which is then a success.
    #[inline(always)]
    pub fn classify<'a, T, E>(
        r: &Result<T, E>,
        failure: impl FnOnce(&E) -> bool,
        outcome: Returned<'a>,
    ) -> Returned<'a> {
        match r {
            Err(e) if !failure(e) => Returned::Success,
            _ => outcome,
        }
    }
}

/// What the program's lifecycle (`profx`'s `ReportGuard` and `#[profx::main]`) drives: the end's
/// single run, the collector's users, the settings read once, the server and the exporter as
/// those settings ask. Not a public API.
#[doc(hidden)]
pub mod __lifecycle {
    pub use crate::config::warn_once;
    pub use crate::shutdown::{arm, finish_one};
    pub use crate::system::{
        guard_created as collector_wanted, guard_dropped as collector_released,
    };
    pub use profx_report::__recorder::SPEC_FORM;

    /// The global profiler's report, with its kept executions when `executions`.
    pub fn report_with(executions: bool) -> crate::Report {
        crate::global().report_with(executions)
    }
}

/// What the subsystems in crates of their own (`profx-server`, `profx-otlp`) read of the
/// recorder: how to read a setting of theirs (one warning for a bad value), the aggregates without the kept executions, the process figures.
/// Not a public API.
#[doc(hidden)]
pub mod __subsystem {
    pub use crate::config::{
        parse_interval, parse_secret_var, parse_var, quiet, Shown, INTERVAL_FORM,
    };
    pub use crate::execution::TraceParent;
    pub use crate::lock::lock;
    pub use crate::profiler::{Read, Tally};
    pub use crate::system::process::{
        process_metrics, process_snapshot, value_of, Figure, ProcessMetric,
    };
    pub use profx_report::__recorder::{ERROR_HOOK, REPORT_CSS};

    /// The global profiler's aggregates (the kept executions are not read).
    pub fn read() -> Read {
        crate::global().read()
    }

    /// Counts of what the global profiler recorded, from the call counts alone.
    pub fn tally() -> Tally {
        crate::global().tally()
    }

    /// The runtime's features that change what it records: `enabled`, `alloc`, `metrics`,
    /// `tracing`.
    pub const FEATURES: [(&str, bool); 4] = [
        ("enabled", cfg!(feature = "enabled")),
        ("alloc", cfg!(feature = "alloc")),
        ("metrics", cfg!(feature = "metrics")),
        ("tracing", cfg!(feature = "tracing")),
    ];
}
