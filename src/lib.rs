//! # profx
//!
//! Instrumentation that costs nanoseconds: mark the functions that are units of work with
//! `#[profx::agent]` and the steps inside them with `#[profx::phase]`, turn on the `enabled`
//! feature, and get what each agent and phase cost — counts, success rate, P50/P90/P95/P99,
//! bottlenecks with severities — from [`global()`] or at shutdown.
//!
//! ```
//! #[profx::agent(request = path)]
//! fn locate(path: &str) -> Result<usize, String> {
//!     let files = discover(path);
//!     Ok(files)
//! }
//!
//! #[profx::phase]
//! fn discover(path: &str) -> usize {
//!     path.len()
//! }
//!
//! locate("src/").unwrap();
//! let metrics = profx::global().agent_metrics("locate");
//! # if cfg!(feature = "enabled") { assert!(metrics.unwrap().phases.contains_key("discover")); }
//! ```
//!
//! Without the `enabled` feature, the attributes emit the functions exactly as written and every
//! read returns empty data: the program is the one you would have without profx. Users usually
//! forward the feature from their own: `[features] profile = ["profx/enabled"]`.
//!
//! ## The attributes
//!
//! - `#[profx::agent]`, `#[profx::agent(name = "codebase-locator", request = query)]`: each call
//!   is one execution, with an id, a duration, an outcome and the phases run inside it.
//!   `request` is any expression of the arguments that implements `Display`.
//! - `#[profx::phase]`, `#[profx::phase(name = "parse")]`: a step, aggregated per agent it runs
//!   in (and on its own when it runs outside any execution).
//! - `#[profx::main]` on `fn main`: writes what was recorded when `main` ends.
//!
//! They take free functions, methods with any receiver, associated functions, generics with
//! `where` clauses, `impl Trait` in arguments and returns, const generics, `unsafe fn` and
//! `async fn`. Every call has one of three [`Outcome`]s: it fails when it returns `Err(_)` (the
//! error's `Display` is recorded, 256 bytes at most) or panics (`"panicked"`, and the panic goes
//! on unchanged); an `async` call whose future is dropped before it completes is *cancelled*,
//! counted apart and left out of success rates; anything else succeeds. `failure = f` says
//! which `Err` is a failure (`f: Fn(&E) -> bool`; any other `Err` is a success, such as a
//! parser's "need more bytes"). An async execution follows its future across `.await` points
//! and threads.
//!
//! ```
//! #[derive(Debug)]
//! enum FrameError { Incomplete, Invalid }
//! # impl std::fmt::Display for FrameError {
//! #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
//! # }
//!
//! // `Err(Incomplete)` means "read more bytes": not a failure.
//! #[profx::phase(failure = |e| !matches!(e, FrameError::Incomplete))]
//! fn parse_frame(buf: &[u8]) -> Result<usize, FrameError> {
//!     if buf.is_empty() { Err(FrameError::Incomplete) } else { Ok(buf.len()) }
//! }
//! # fn main() { let _ = parse_frame(b""); }
//! ```
//!
//! ## Blocks and the manual API
//!
//! ```
//! let _p = profx::phase("load");             // a guard: times until dropped
//! let n = profx::phase_block!("sum", { 1 + 2 }); // a block
//! let mut ex = profx::global().start_execution("importer", "batch 7");
//! ex.start_phase("fetch");
//! ex.end_phase();
//! ex.end(());
//! # assert_eq!(n, 3);
//! ```

#![warn(missing_docs)]

extern crate self as profx;

/// Marks a function as an agent: each call is one execution.
///
/// Arguments, in any order:
/// - `name = "..."` (default: the function's name);
/// - `request = <expression>`: what the execution was asked to do; any `Display` expression
///   of the arguments, formatted only when the execution's profile is kept;
/// - `traceparent = <expression>`: the W3C `traceparent` of a caller's distributed trace to
///   join (a `&str`, a `String`, an `Option` of one, or a reference to any of these; `None`
///   or a value that does not parse: a trace of its own). With the `otlp` feature the
///   execution's span is exported as a child of the caller's span, in the caller's trace;
///   the kept profile carries it ([`ExecutionProfile::traceparent`]);
/// - `threshold = "2s"`: the agent's own bottleneck threshold, for it and its phases, a
///   duration literal checked at compile time (without it, `PROFX_BOTTLENECK_THRESHOLD`,
///   100 ms by default);
/// - `failure = <fn(&E) -> bool>`: on a function returning `Result<T, E>`, which `Err` is a
///   failure; any other `Err` is a success (a path to a function, or a closure; with the
///   feature off the attribute vanishes, so a function used only here is unused: prefer a
///   closure, or allow `dead_code` on it);
/// - `long_lived`: the agent is a session or a connection, meant to last: its executions are
///   not checked for slow-execution bottlenecks (its phases are, against its threshold) and
///   are left out of the report's overall averages.
///
/// ```
/// #[profx::agent(name = "connection", long_lived, threshold = "30s")]
/// fn serve(id: u32) -> u32 {
///     id
/// }
///
/// // The header as an HTTP server would hand it over.
/// #[profx::agent(request = path, traceparent = headers.get("traceparent"))]
/// fn handle(path: &str, headers: &std::collections::HashMap<&str, String>) -> usize {
///     path.len()
/// }
/// # fn main() {
/// #     serve(1);
/// #     let mut h = std::collections::HashMap::new();
/// #     h.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
/// #     handle("/", &h);
/// # }
/// ```
pub use profx_macros::agent;
/// On `fn main`: writes what was recorded when `main` returns, returns `Err` or panics, in the
/// formats `PROFX_REPORT` names (default: the summary on standard error; see [`ReportGuard`]).
///
/// It goes above or below an async runtime's attribute (`#[tokio::main]`).
pub use profx_macros::main;
/// Marks a function as a phase, timed inside whatever execution calls it.
///
/// Arguments: `name = "..."` (default: the function's name); `failure = <fn(&E) -> bool>` as
/// on [`agent`].
///
/// On an `impl` block (inherent or trait impl) or an inline `mod`, it marks every `fn` inside
/// (methods, associated functions, async ones, those of nested modules and impl blocks),
/// named `Type::method` or `module::function`, with the block's arguments (`name` excepted).
/// A function with its own `#[profx::phase(..)]` or `#[profx::agent(..)]` keeps it; one
/// marked [`skip`] is left out; `const fn`s and items that are not functions are left alone.
/// [`agent`] works the same way on blocks.
///
/// ```
/// mod parse {
///     #[profx::phase(failure = |e: &String| !e.is_empty())]
///     pub mod json {
///         pub fn value(s: &str) -> Result<u32, String> { s.parse().map_err(|_| s.to_owned()) }
///     }
/// }
/// # assert_eq!(parse::json::value("4"), Ok(4));   // the phase "json::value"
/// ```
pub use profx_macros::phase;
/// Leaves an item out of an `impl` block or a `mod` marked `#[profx::phase]` or
/// `#[profx::agent]` (on a function, an `impl` block or a module inside). Anywhere else it is a
/// compile error: it would mean nothing.
///
/// ```
/// struct Cache;
///
/// #[profx::phase]
/// impl Cache {
///     fn load(&self) -> u32 { 1 }       // the phase "Cache::load"
///     #[profx::skip]
///     fn peek(&self) -> u32 { 2 }       // not instrumented
/// }
/// # assert_eq!(Cache.load() + Cache.peek(), 3);
/// ```
pub use profx_macros::skip;

mod lifecycle;
pub use lifecycle::ReportGuard;

#[doc(inline)]
pub use profx_runtime::{
    global, parse_report_targets, phase, AggregateMetrics, Bottleneck, BottleneckKind,
    CountingAlloc, Execution, ExecutionPhase, ExecutionProfile, ExecutionResult, HumanBytes,
    HumanDuration, KeyHistogram, Outcome, Percentiles, PhaseGuard, PhaseMetrics, PhaseName,
    PhaseProfile, Profiler, Report, ReportFormat, ReportSpecError, ReportTarget, Severity,
    SystemSummary, SCHEMA_VERSION,
};

#[doc(inline)]
pub use profx_runtime::{
    global_collector, MemoryKind, MemoryPoint, MemoryTrend, MetricsCollector, SystemAverage,
    SystemSnapshot, TrendDirection,
};

#[doc(inline)]
pub use profx_runtime::{health, metrics, prometheus};

/// The monitoring server (feature `server`): `/health`, `/metrics`, `/api/metrics`,
/// `/debug/stats` and `/debug/build` over HTTP on a thread of its own, and with the feature
/// `pprof` a CPU profile at `/debug/pprof/profile?seconds=N`.
#[cfg(feature = "server")]
#[doc(inline)]
pub use profx_server as server;

/// The `metrics` crate's macros into profx's registry (feature `metrics`): install
/// [`metrics_rs::ProfxRecorder`] and `metrics::counter!`, `gauge!` and `histogram!` show in
/// [`metrics::snapshot`] and on `/metrics`.
#[cfg(feature = "metrics")]
#[doc(inline)]
pub use profx_runtime::metrics_rs;

/// Export to an OpenTelemetry collector (feature `otlp`): profx's metrics pushed over
/// OTLP/HTTP with protobuf every interval, from a thread of its own.
#[cfg(feature = "otlp")]
#[doc(inline)]
pub use profx_otlp as otlp;
/// `tracing` spans as phases (feature `tracing`): [`tracing_layer::ProfxLayer`], a
/// `tracing-subscriber` layer.
#[cfg(feature = "tracing")]
#[doc(inline)]
pub use profx_runtime::tracing_layer;

#[doc(hidden)]
#[cfg(feature = "enabled")]
pub use profx_runtime::__private;

/// Times a block as a phase and gives back its value.
///
/// `profx::phase_block!("name", { ... })`. (It cannot be called `phase!`: a macro and the
/// `#[phase]` attribute would share one name in Rust's macro namespace.) The name must be a string literal (or a `const`): the
/// call site is interned once. `return` and `?` inside the block leave the enclosing function
/// as usual, and the phase ends there.
///
/// ```
/// let total = profx::phase_block!("sum", { (1..=10).sum::<u32>() });
/// assert_eq!(total, 55);
/// ```
#[cfg(feature = "enabled")]
#[macro_export]
macro_rules! phase_block {
    ($name:expr, $body:block) => {{
        static __PROFX_SITE: $crate::__private::Site = $crate::__private::Site::new($name);
        let __profx_span = $crate::__private::PhaseSpan::new(&__PROFX_SITE);
        let __profx_value = $body;
        __profx_span.finish($crate::__private::success());
        __profx_value
    }};
}

/// Times a block as a phase and gives back its value (compiled out: runs the block).
#[cfg(not(feature = "enabled"))]
#[macro_export]
macro_rules! phase_block {
    ($name:expr, $body:block) => {{
        let _: &'static str = $name;
        $body
    }};
}
