//! The summary: one line, the bottleneck warning, and with system metrics one more line and the
//! memory-growth warning.

use std::io::{self, BufWriter, Write};

use super::text::bottleneck_subject;
use crate::model::trend::HumanRate;
use crate::units::{HumanBytes, HumanDuration};
use crate::{Bottleneck, Report, SystemSummary};

/// How many bottlenecks the summary names (the most severe).
const SHOWN: usize = 3;

impl Report {
    /// Writes the quick overview: executions, average duration and success rate on one line,
    /// then, when there are bottlenecks, how many and the most severe three. With system
    /// metrics, a line of memory, CPU and threads follows, and a warning when memory grows
    /// faster than 1 MiB/s ([`MemoryTrend::GROWTH_WARNING_BYTES_PER_SEC`](crate::MemoryTrend::GROWTH_WARNING_BYTES_PER_SEC)).
    ///
    /// ```
    /// let report = profx_report::Report::empty();
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
        writeln!(w, "No executions recorded.")?;
    } else {
        executions(r, w)?;
    }
    if let Some(s) = &r.system {
        system(s, w)?;
    }
    Ok(())
}

/// The system line, and the memory-growth warning (the source document's leak alert) when
/// memory grows faster than [`MemoryTrend::GROWTH_WARNING_BYTES_PER_SEC`](crate::MemoryTrend::GROWTH_WARNING_BYTES_PER_SEC).
fn system(s: &SystemSummary, w: &mut impl Write) -> io::Result<()> {
    write!(
        w,
        "System: {} resident avg",
        HumanBytes(s.avg_resident_bytes)
    )?;
    if s.peak_resident_bytes > 0 {
        write!(w, " (peak {})", HumanBytes(s.peak_resident_bytes))?;
    }
    if s.heap_measured {
        write!(w, " | Heap: {} live avg", HumanBytes(s.avg_heap_live_bytes))?;
    }
    write!(
        w,
        " | CPU: {:.1}% | Threads: {:.1}",
        s.avg_cpu_percent, s.avg_threads
    )?;
    if let Some(t) = &s.trend {
        write!(w, " | Memory: {}", t.direction)?;
    }
    writeln!(w)?;
    if let Some(t) = s.memory_growth_warning() {
        writeln!(
            w,
            "⚠️  Memory growing at {} ({}: {} → {} over {}): possible leak",
            HumanRate(t.rate_bytes_per_sec),
            t.memory,
            HumanBytes(t.start_bytes),
            HumanBytes(t.end_bytes),
            HumanDuration(t.span)
        )?;
    }
    Ok(())
}

fn executions(r: &Report, w: &mut impl Write) -> io::Result<()> {
    if r.total_executions == 0 {
        // No rate and no average of nothing: "0.0%" would read as "everything failed".
        writeln!(w, "Executions: 0 | Avg Duration: n/a | Success Rate: n/a")?;
    } else {
        let rate = match r.overall_success_rate_checked() {
            Some(rate) => format!("{rate:.1}%"),
            None => "n/a".to_owned(),
        };
        let cancelled = r.cancelled_total();
        let cancelled = if cancelled > 0 {
            format!(" | Cancelled: {cancelled}")
        } else {
            String::new()
        };
        writeln!(
            w,
            "Executions: {} | Avg Duration: {} | Success Rate: {rate}{cancelled}",
            r.total_executions,
            HumanDuration(r.overall_avg_duration),
        )?;
    }
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
