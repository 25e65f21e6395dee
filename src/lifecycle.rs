//! The program's lifecycle, as `#[profx::main]` and [`ReportGuard`] run it: the settings read
//! once (the recorder's by the global profiler, as it starts; the server's and the exporter's
//! by each, as it starts), the metrics collector while a guard lives, the
//! monitoring server (`PROFX_SERVER_ADDR`, feature `server`) and the OTLP exporter
//! (`PROFX_OTLP_ENDPOINT`, feature `otlp`) started with the guard, and, at the end — the guard's
//! drop, a terminating signal or `std::process::exit`, whichever comes first — the collector's
//! last snapshot, the exporter's final export and the reports, once.

use std::fs::File;
use std::io::{self, BufWriter, Write};
#[cfg(feature = "otlp")]
use std::sync::{Arc, Mutex};

use profx_runtime::__lifecycle as run;
use profx_runtime::{parse_report_targets, Report, ReportFormat, ReportSpecError, ReportTarget};

/// Writes what the global profiler recorded, once, at the end: when dropped (`main` returns
/// normally, returns `Err` or panics), and on Unix also when a terminating signal stops the
/// program (SIGINT, SIGTERM, SIGHUP, SIGQUIT: the process then ends as the signal would have
/// ended it) or `std::process::exit` is called (the status is kept); after a signal or `exit`
/// the writing is bounded by `PROFX_SHUTDOWN_TIMEOUT` (default 5 s). A program whose own
/// handler replaced profx's for a signal keeps its own shutdown; `PROFX_SIGNALS=off` leaves
/// signals alone. With `panic = "abort"` nothing runs at the end and nothing is written.
///
/// `#[profx::main]` makes one from `PROFX_REPORT`; programs that cannot use the attribute hold
/// one in `main`. While a guard lives, the [`global_collector`](crate::global_collector)
/// samples the process every `PROFX_METRICS_INTERVAL` (default 1s); the guard stops it before
/// writing, and the report carries its [`SystemSummary`](crate::SystemSummary) in
/// [`Report::system`]. A file that cannot be written gets a warning, and that format goes to
/// standard error instead: the report is never lost.
///
/// ```
/// let _report = profx::ReportGuard::from_env();
/// // ... the program; the report is written when `_report` goes out of scope ...
/// ```
#[must_use = "the report is written when the guard is dropped: bind it with `let _report = ...`"]
#[derive(Debug)]
pub struct ReportGuard {
    targets: Vec<ReportTarget>,
    /// The monitoring server `PROFX_SERVER_ADDR` asked for; it stops when the guard drops.
    #[cfg(feature = "server")]
    server: Option<profx_server::Server>,
    /// The OTLP exporter `PROFX_OTLP_ENDPOINT` asked for; it stops (final export) at the end,
    /// before the report is written.
    #[cfg(feature = "otlp")]
    otlp: Arc<Mutex<Option<profx_otlp::Exporter>>>,
    /// The end's work (the final export, the reports), armed in `shutdown`: done once, by the
    /// drop, a terminating signal or `std::process::exit`, whichever comes first.
    end: u64,
}

impl ReportGuard {
    /// A guard writing what `PROFX_REPORT` asks (default: the summary to standard error).
    /// A bad value prints one warning and the default is used.
    pub fn from_env() -> ReportGuard {
        // Start the profiler now, so that its settings are read (and warned about) up front.
        let _ = profx_runtime::global();
        let default = || {
            vec![ReportTarget {
                format: ReportFormat::Summary,
                path: None,
            }]
        };
        let targets = match std::env::var("PROFX_REPORT") {
            Err(_) => default(),
            Ok(spec) => parse_report_targets(&spec).unwrap_or_else(|_| {
                run::warn_once("PROFX_REPORT", &spec, run::SPEC_FORM, "summary");
                default()
            }),
        };
        let mut guard = Self::running(targets);
        guard.start_server();
        guard.start_otlp();
        guard
    }

    /// Starts the monitoring server when `PROFX_SERVER_ADDR` is set (with feature `server`;
    /// without it, one warning says that the variable is ignored).
    fn start_server(&mut self) {
        #[cfg(feature = "server")]
        {
            self.server = profx_server::start_from_env();
        }
        #[cfg(not(feature = "server"))]
        if let Ok(addr) = std::env::var("PROFX_SERVER_ADDR") {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "profx: warning: PROFX_SERVER_ADDR={addr:?} is ignored: profx was built without the `server` feature"
                )
            });
        }
    }

    /// Starts the OTLP exporter when `PROFX_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_ENDPOINT`)
    /// is set (with feature `otlp`; without it, one warning says that `PROFX_OTLP_ENDPOINT` is
    /// ignored).
    fn start_otlp(&mut self) {
        #[cfg(feature = "otlp")]
        {
            *self.otlp.lock().unwrap_or_else(|e| e.into_inner()) = profx_otlp::start_from_env();
        }
        #[cfg(not(feature = "otlp"))]
        if let Ok(endpoint) = std::env::var("PROFX_OTLP_ENDPOINT") {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "profx: warning: PROFX_OTLP_ENDPOINT={endpoint:?} is ignored: profx was built without the `otlp` feature"
                )
            });
        }
    }

    /// A guard writing to these targets (the form of `PROFX_REPORT`).
    pub fn with_targets(spec: &str) -> Result<ReportGuard, ReportSpecError> {
        Ok(Self::running(parse_report_targets(spec)?))
    }

    /// The guard, with the global metrics collector running until the end, and the end's work
    /// armed.
    fn running(targets: Vec<ReportTarget>) -> ReportGuard {
        run::collector_wanted();
        #[cfg(feature = "otlp")]
        let otlp = Arc::new(Mutex::new(None::<profx_otlp::Exporter>));
        let end = {
            let targets = targets.clone();
            #[cfg(feature = "otlp")]
            let otlp = otlp.clone();
            run::arm(Box::new(move || {
                // The collector's closing snapshot goes into the report.
                run::collector_released();
                // The exporter's final export, so that the collector has the last figures.
                #[cfg(feature = "otlp")]
                if let Some(exporter) = otlp.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    exporter.stop();
                }
                if !cfg!(feature = "enabled") {
                    return;
                }
                // The kept executions are copied only for a format that shows them.
                let executions = targets.iter().any(|t| t.format.shows_executions());
                write_all(&targets, &run::report_with(executions));
            }))
        };
        ReportGuard {
            targets,
            #[cfg(feature = "server")]
            server: None,
            #[cfg(feature = "otlp")]
            otlp,
            end,
        }
    }

    /// Where the report will go.
    pub fn targets(&self) -> &[ReportTarget] {
        &self.targets
    }

    /// Writes `report` to every target now (the guard's drop does this with the global
    /// profiler's report).
    pub fn write(&self, report: &Report) {
        write_all(&self.targets, report);
    }
}

/// Writes `report` to every target (a file that cannot be written goes to standard error).
fn write_all(targets: &[ReportTarget], report: &Report) {
    let mut first_on_stderr = true;
    for t in targets {
        if let Some(path) = &t.path {
            match write_file(report, t.format, path) {
                Ok(()) => continue,
                Err(e) => eprintln!(
                    "profx: warning: cannot write the {} report to {}: {e}; writing it to standard error instead",
                    t.format,
                    path.display()
                ),
            }
        }
        let stderr = io::stderr();
        let mut w = stderr.lock();
        if !first_on_stderr {
            let _ = writeln!(w);
        }
        first_on_stderr = false;
        let _ = t.format.write(report, &mut w);
        let _ = w.flush();
    }
}

fn write_file(report: &Report, format: ReportFormat, path: &std::path::Path) -> io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    format.write(report, &mut w)?;
    w.flush()?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

impl Drop for ReportGuard {
    fn drop(&mut self) {
        // Unless a signal or `exit` did it (or does it now: then this waits for it).
        run::finish_one(self.end);
    }
}

#[cfg(all(test, feature = "enabled"))]
mod tests {
    use super::*;

    #[test]
    fn formats_that_show_no_executions_write_the_same_without_them() {
        let p = crate::Profiler::new(true);
        for i in 0..3 {
            let mut e = p.start_execution("guard-agent", &format!("job {i}"));
            drop(e.phase("guard-phase"));
            e.end(if i == 1 { Err("boom") } else { Ok(()) });
        }
        let with = p.report();
        // What the end writes for a format that shows none.
        let mut without = with.clone();
        without.executions.clear();
        assert_eq!(with.executions["guard-agent"].len(), 3);
        for &(name, format) in ReportFormat::ALL {
            let write = |r: &Report| {
                let mut out = Vec::new();
                format.write(r, &mut out).unwrap();
                out
            };
            let same = write(&with) == write(&without);
            assert_eq!(same, !format.shows_executions(), "{name}");
        }
    }
}
