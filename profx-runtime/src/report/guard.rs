//! Writing what was recorded when the program ends.

use std::io::{self, Write};

use super::units::HumanDuration;
use crate::Report;

/// Writes what the global profiler recorded when dropped: at the end of `main`, whether it
/// returns normally, returns `Err` or panics. `#[profx::main]` makes one; programs that cannot
/// use the attribute hold one in `main`.
///
/// ```
/// let _report = profx_runtime::ReportGuard::from_env();
/// // ... the program; the report is written when `_report` goes out of scope ...
/// ```
#[must_use = "the report is written when the guard is dropped: bind it with `let _report = ...`"]
#[derive(Debug)]
pub struct ReportGuard {
    _private: (),
}

impl ReportGuard {
    /// A guard that writes the report to standard error.
    pub fn from_env() -> ReportGuard {
        // Start the profiler now, so that its settings are read (and warned about) up front.
        let _ = crate::global();
        ReportGuard { _private: () }
    }
}

impl Drop for ReportGuard {
    fn drop(&mut self) {
        if !cfg!(feature = "enabled") {
            return;
        }
        let report = crate::global().report();
        let stderr = io::stderr();
        let mut w = stderr.lock();
        let _ = write_overview(&report, &mut w);
        let _ = w.flush();
    }
}

/// One line per agent and per phase: counts, success, average and tail latency.
pub(crate) fn write_overview(r: &Report, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "=== profx: what was recorded ===")?;
    writeln!(
        w,
        "{} executions | avg {} | success {:.1}%",
        r.total_executions,
        HumanDuration(r.overall_avg_duration),
        r.overall_success_rate
    )?;
    for (name, a) in &r.agents {
        writeln!(
            w,
            "agent {name}: {} runs, {} failed, avg {}, p50 {}, p95 {}, p99 {}, max {}",
            a.total_executions,
            a.failure_count,
            HumanDuration(a.avg_duration),
            HumanDuration(a.percentiles.p50),
            HumanDuration(a.percentiles.p95),
            HumanDuration(a.percentiles.p99),
            HumanDuration(a.max_duration),
        )?;
        for (p, m) in &a.phases {
            writeln!(
                w,
                "  phase {p}: {} calls, avg {}, p99 {}",
                m.calls,
                HumanDuration(m.avg_duration),
                HumanDuration(m.percentiles.p99)
            )?;
        }
    }
    for b in &r.bottlenecks {
        let what = match &b.phase {
            Some(p) if b.agent.is_empty() => format!("phase {p}"),
            Some(p) => format!("{} / {p}", b.agent),
            None => b.agent.clone(),
        };
        writeln!(
            w,
            "bottleneck [{}] {what}: {} (avg {}, p99 {})",
            b.severity,
            b.kind,
            HumanDuration(b.avg_duration),
            HumanDuration(b.p99)
        )?;
    }
    Ok(())
}
