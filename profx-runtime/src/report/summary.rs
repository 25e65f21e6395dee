//! The summary: one line, and the bottleneck warning.

use std::io::{self, BufWriter, Write};

use super::text::bottleneck_subject;
use super::units::HumanDuration;
use crate::{Bottleneck, Report};

/// How many bottlenecks the summary names (the most severe).
const SHOWN: usize = 3;

impl Report {
    /// Writes the quick overview: executions, average duration and success rate on one line,
    /// then, when there are bottlenecks, how many and the most severe three.
    ///
    /// ```
    /// let report = profx_runtime::Report::empty();
    /// let mut out = Vec::new();
    /// report.write_summary(&mut out)?;
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.starts_with("=== Performance Summary ===\n"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_summary(&self, w: impl Write) -> io::Result<()> {
        let mut w = BufWriter::new(w);
        summary(self, &mut w)?;
        w.flush()
    }
}

fn summary(r: &Report, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "=== Performance Summary ===")?;
    if r.total_executions == 0 && r.agents.is_empty() && r.phases.is_empty() {
        return writeln!(w, "No executions recorded.");
    }
    writeln!(
        w,
        "Executions: {} | Avg Duration: {} | Success Rate: {:.1}%",
        r.total_executions,
        HumanDuration(r.overall_avg_duration),
        r.overall_success_rate
    )?;
    if r.bottlenecks.is_empty() {
        return Ok(());
    }
    writeln!(w, "⚠️  {} bottleneck(s) detected", r.bottlenecks.len())?;
    let mut sorted: Vec<&Bottleneck> = r.bottlenecks.iter().collect();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.severity));
    for b in sorted.iter().take(SHOWN) {
        writeln!(
            w,
            "  [{}] {}: {}, avg {}, p99 {} (threshold {})",
            b.severity,
            bottleneck_subject(b),
            b.kind,
            HumanDuration(b.avg_duration),
            HumanDuration(b.p99),
            HumanDuration(b.threshold)
        )?;
    }
    if sorted.len() > SHOWN {
        writeln!(
            w,
            "  … and {} more (see the text report)",
            sorted.len() - SHOWN
        )?;
    }
    Ok(())
}
