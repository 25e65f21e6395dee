//! The text report: the source document's layout, one section per agent with its phases, then
//! every phase by name, the bottlenecks and the system metrics.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, BufWriter, Write};

use crate::units::{busy_cell, percent, waited, HumanBytes, HumanDuration, HumanMemory};
use crate::{AggregateMetrics, Bottleneck, MemoryTrend, PhaseMetrics, Report, SystemSummary};

impl Report {
    /// Writes the report for people to read: the overall figures, then one block per agent
    /// (executions, success, durations, memory, percentiles and a table of the agent's phases),
    /// every phase by name (including those run outside any agent), the bottlenecks and, when a
    /// collector ran, the system metrics (averages, peaks, the memory trend and a warning when
    /// memory grows faster than 1 MiB/s). Durations and sizes carry their unit (`42.0ms`,
    /// `1.8 MiB`); memory says "not measured" when allocations were not counted.
    ///
    /// ```
    /// let report = profx_report::Report::empty();
    /// let mut out = Vec::new();
    /// report.write_text(&mut out)?;
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.starts_with("Performance Report\n"));
    /// assert!(text.contains("No executions recorded"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_text(&self, w: impl Write) -> io::Result<()> {
        let mut w = BufWriter::new(w);
        text(self, &mut w)?;
        w.flush()
    }
}

fn text(r: &Report, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "Performance Report")?;
    writeln!(w, "=================")?;
    writeln!(w)?;
    writeln!(
        w,
        "Generated: {}",
        humantime::format_rfc3339_seconds(r.generated_at)
    )?;
    writeln!(w, "Total Executions: {}", r.total_executions)?;
    let nothing = r.total_executions == 0 && r.agents.is_empty() && r.phases.is_empty();
    if nothing {
        writeln!(w)?;
        writeln!(w, "No executions recorded.")?;
    } else {
        if r.total_executions > 0 {
            let long = r.long_lived_agents();
            if long.is_empty() {
                writeln!(
                    w,
                    "Overall Avg Duration: {}",
                    HumanDuration(r.overall_avg_duration)
                )?;
            } else {
                writeln!(
                    w,
                    "Overall Avg Duration: {} (long-lived agents left out: {})",
                    HumanDuration(r.overall_avg_duration),
                    long.iter()
                        .map(|n| one_line(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                )?;
            }
            writeln!(w, "Overall Avg Memory: {}", memory(r, r.overall_avg_memory))?;
            match r.overall_success_rate_checked() {
                Some(rate) => writeln!(w, "Overall Success Rate: {rate:.2}%")?,
                None => writeln!(w, "Overall Success Rate: n/a")?,
            }
            let cancelled = r.cancelled_total();
            if cancelled > 0 {
                writeln!(
                    w,
                    "Cancelled: {cancelled} (not in the success rate: neither succeeded nor failed)"
                )?;
            }
        } else {
            writeln!(w)?;
            writeln!(w, "No executions recorded.")?;
        }
        if !r.agents.is_empty() {
            section(w, "Agent Metrics")?;
            for (name, a) in &r.agents {
                agent(r, w, name, a)?;
                writeln!(w)?;
            }
            if r.agents.values().any(|a| !a.phases.is_empty()) {
                writeln!(
                    w,
                    "Total: the calls' time, summed; Self: less the phases nested directly in them \
                     (where the time is spent, not passed through).\n\
                     Share: the phase's total time as a part of its agent's; a nested phase also \
                     counts in the phase around it."
                )?;
            }
            let any_waited = r.agents.values().any(|a| {
                waited(a.busy_share()) || a.phases.values().any(|p| waited(p.busy_share()))
            });
            if any_waited {
                writeln!(
                    w,
                    "Busy: the share of the time spent working, inside the polls of an async \
                     agent or phase; the rest it was waiting (I/O, timers, locks, a worker \
                     thread). A sync call is busy throughout."
                )?;
            }
        }
        if !r.phases.is_empty() {
            all_phases(r, w)?;
        }
        bottlenecks(w, &r.bottlenecks)?;
    }
    if let Some(s) = &r.system {
        system(w, s)?;
    }
    Ok(())
}

/// A section title, underlined, after a blank line, followed by a blank line.
fn section(w: &mut impl Write, title: &str) -> io::Result<()> {
    writeln!(w)?;
    writeln!(w, "{title}")?;
    writeln!(w, "{}", "-".repeat(title.chars().count()))?;
    writeln!(w)
}

fn memory(r: &Report, bytes: u64) -> HumanMemory {
    HumanMemory {
        bytes,
        measured: r.memory_measured,
    }
}

fn agent(r: &Report, w: &mut impl Write, name: &str, a: &AggregateMetrics) -> io::Result<()> {
    if a.long_lived {
        writeln!(w, "Agent: {} (long-lived)", one_line(name))?;
    } else {
        writeln!(w, "Agent: {}", one_line(name))?;
    }
    writeln!(w, "  Total Executions: {}", a.total_executions)?;
    match a.success_rate_checked() {
        Some(rate) => writeln!(w, "  Success: {} ({rate:.1}%)", a.success_count)?,
        None => writeln!(w, "  Success: {} (n/a)", a.success_count)?,
    }
    writeln!(w, "  Failures: {}", a.failure_count)?;
    writeln!(w, "  Cancelled: {}", a.cancelled_count)?;
    writeln!(w, "  Avg Duration: {}", HumanDuration(a.avg_duration))?;
    writeln!(w, "  Min Duration: {}", HumanDuration(a.min_duration))?;
    writeln!(w, "  Max Duration: {}", HumanDuration(a.max_duration))?;
    // The agent's total time: what its own time and each phase's share are of.
    let agent_total = a.avg_duration.as_nanos() * u128::from(a.total_executions);
    if !a.phases.is_empty() && agent_total > 0 {
        writeln!(
            w,
            "  Self Time: {} ({:.1}% of its time, outside its phases)",
            HumanDuration(a.self_duration),
            percent(a.self_duration.as_nanos(), agent_total)
        )?;
    }
    if let Some(share) = a.busy_share().filter(|&s| waited(Some(s))) {
        writeln!(
            w,
            "  Busy: {} ({share:.1}% of its time working in polls, {:.1}% waiting)",
            HumanDuration(a.busy_duration),
            100.0 - share
        )?;
    }
    writeln!(w, "  Avg Memory: {}", memory(r, a.avg_memory))?;
    writeln!(w, "  Percentiles:")?;
    let p = &a.percentiles;
    writeln!(w, "    P50: {}", HumanDuration(p.p50))?;
    writeln!(w, "    P90: {}", HumanDuration(p.p90))?;
    writeln!(w, "    P95: {}", HumanDuration(p.p95))?;
    writeln!(w, "    P99: {}", HumanDuration(p.p99))?;
    writeln!(w, "    P99.9: {}", HumanDuration(p.p999))?;
    if a.phases.is_empty() {
        return writeln!(w, "  Phases: none recorded");
    }
    writeln!(w, "  Phases (by self time):")?;
    let mut phases: Vec<(&String, &PhaseMetrics)> = a.phases.iter().collect();
    // The most expensive first, by their own time: where the time is spent, not only passed
    // through to nested phases.
    phases.sort_by(|x, y| {
        (y.1.self_duration, y.1.total_duration)
            .cmp(&(x.1.self_duration, x.1.total_duration))
            .then_with(|| x.0.cmp(y.0))
    });
    // A Busy column where a phase waited (async phases that were not working throughout).
    let busy = phases.iter().any(|(_, m)| waited(m.busy_share()));
    let rows: Vec<Vec<String>> = phases
        .iter()
        .map(|(pname, m)| {
            let mut row = phase_cells(pname, m);
            row.push(if agent_total == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}%", percent(m.total_duration.as_nanos(), agent_total))
            });
            if busy {
                row.push(busy_cell(m.busy_share()));
            }
            row
        })
        .collect();
    phase_table(w, "    ", "Share", busy, &rows)
}

/// A phase table: [`PHASE_HEADER`], then `last` and, when `busy`, a `Busy` column.
fn phase_table(
    w: &mut impl Write,
    indent: &str,
    last: &str,
    busy: bool,
    rows: &[Vec<String>],
) -> io::Result<()> {
    let header: Vec<&str> = PHASE_HEADER
        .iter()
        .copied()
        .chain([last])
        .chain(busy.then_some("Busy"))
        .collect();
    table(
        w,
        indent,
        &header,
        &[L, R, R, R, R, R, R, R, R, R, R, R, R],
        rows,
    )
}

/// The phase tables' columns: `Total` and `Self` are sums over the calls (`Self`: less the
/// phases nested directly in them).
const PHASE_HEADER: [&str; 11] = [
    "Phase",
    "Calls",
    "Failures",
    "Cancelled",
    "Avg",
    "P50",
    "P95",
    "P99",
    "Max",
    "Total",
    "Self",
];

fn phase_cells(name: &str, m: &PhaseMetrics) -> Vec<String> {
    vec![
        one_line(name).into_owned(),
        m.calls.to_string(),
        m.failures.to_string(),
        m.cancelled.to_string(),
        HumanDuration(m.avg_duration).to_string(),
        HumanDuration(m.percentiles.p50).to_string(),
        HumanDuration(m.percentiles.p95).to_string(),
        HumanDuration(m.percentiles.p99).to_string(),
        HumanDuration(m.max_duration).to_string(),
        HumanDuration(m.total_duration).to_string(),
        HumanDuration(m.self_duration).to_string(),
    ]
}

fn all_phases(r: &Report, w: &mut impl Write) -> io::Result<()> {
    section(w, "All Phases")?;
    writeln!(
        w,
        "Every phase by name, across all agents; Outside: calls made outside any agent."
    )?;
    writeln!(w)?;
    // Calls made inside agents, by phase name: one pass over the agents' phases.
    let mut inside: HashMap<&str, u64> = HashMap::new();
    for a in r.agents.values() {
        for (name, p) in &a.phases {
            let n = inside.entry(name.as_str()).or_default();
            *n = n.saturating_add(p.calls);
        }
    }
    let busy = r.phases.values().any(|m| waited(m.busy_share()));
    let rows: Vec<Vec<String>> = r
        .phases
        .iter()
        .map(|(name, m)| {
            let inside = inside.get(name.as_str()).copied().unwrap_or(0);
            let mut row = phase_cells(name, m);
            row.push(m.calls.saturating_sub(inside).to_string());
            if busy {
                row.push(busy_cell(m.busy_share()));
            }
            row
        })
        .collect();
    phase_table(w, "  ", "Outside", busy, &rows)
}

fn bottlenecks(w: &mut impl Write, found: &[Bottleneck]) -> io::Result<()> {
    section(w, "Bottlenecks")?;
    if found.is_empty() {
        return writeln!(w, "None detected.");
    }
    let mut sorted: Vec<&Bottleneck> = found.iter().collect();
    // Most severe first (a report read back from a file may come in any order).
    sorted.sort_by_key(|b| std::cmp::Reverse(b.severity));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|b| {
            vec![
                b.severity.to_string(),
                bottleneck_subject(b),
                b.kind.to_string(),
                HumanDuration(b.avg_duration).to_string(),
                HumanDuration(b.p99).to_string(),
                HumanDuration(b.threshold).to_string(),
            ]
        })
        .collect();
    table(
        w,
        "  ",
        &[
            "Severity",
            "Agent / Phase",
            "Kind",
            "Avg",
            "P99",
            "Threshold",
        ],
        &[L, L, L, R, R, R],
        &rows,
    )
}

/// What a bottleneck is about: `agent`, `agent / phase`, or `(outside agents) / phase`.
pub(crate) fn bottleneck_subject(b: &Bottleneck) -> String {
    match &b.phase {
        Some(p) if b.agent.is_empty() => format!("(outside agents) / {}", one_line(p)),
        Some(p) => format!("{} / {}", one_line(&b.agent), one_line(p)),
        None => one_line(&b.agent).into_owned(),
    }
}

fn system(w: &mut impl Write, s: &SystemSummary) -> io::Result<()> {
    section(w, "System")?;
    write!(w, "  Samples: {}", s.samples)?;
    match (s.interval.is_zero(), s.duration.is_zero()) {
        (false, false) => write!(
            w,
            " (every {}, over {})",
            HumanDuration(s.interval),
            HumanDuration(s.duration)
        )?,
        (false, true) => write!(w, " (every {})", HumanDuration(s.interval))?,
        _ => {}
    }
    writeln!(w)?;
    write!(
        w,
        "  Avg Resident Memory: {}",
        HumanBytes(s.avg_resident_bytes)
    )?;
    if s.peak_resident_bytes > 0 {
        write!(w, " (peak {})", HumanBytes(s.peak_resident_bytes))?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "  Avg Virtual Memory: {}",
        HumanBytes(s.avg_virtual_bytes)
    )?;
    writeln!(w, "  Avg CPU: {:.1}% of one core", s.avg_cpu_percent)?;
    write!(w, "  Avg Threads: {:.1}", s.avg_threads)?;
    if s.max_threads > 0 {
        write!(w, " (max {})", s.max_threads)?;
    }
    writeln!(w)?;
    // A summary made by a collector says whether the heap was measured; an older one does not.
    let from_collector = s.started.is_some();
    if s.heap_measured {
        writeln!(
            w,
            "  Avg Heap Live: {} (peak {})",
            HumanBytes(s.avg_heap_live_bytes),
            HumanBytes(s.peak_heap_live_bytes)
        )?;
        writeln!(
            w,
            "  Allocated: {} in {} allocations",
            HumanBytes(s.allocated_bytes),
            s.allocations
        )?;
    } else if from_collector {
        writeln!(w, "  Avg Heap Live: not measured")?;
    }
    match &s.trend {
        Some(t) => writeln!(w, "  Memory Trend: {t}")?,
        None if from_collector => writeln!(
            w,
            "  Memory Trend: needs {} samples or more",
            MemoryTrend::MIN_SAMPLES
        )?,
        None => {}
    }
    if let Some(t) = s.memory_growth_warning() {
        writeln!(
            w,
            "  Warning: {} grows at {}/s (the alert is from {}/s): a possible leak",
            t.memory,
            HumanBytes(t.rate_bytes_per_sec.round() as u64),
            HumanBytes(MemoryTrend::GROWTH_WARNING_BYTES_PER_SEC as u64)
        )?;
    }
    Ok(())
}

/// A name on one line: control characters (newlines, tabs, …) are shown escaped.
pub(crate) fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(s.escape_debug().to_string())
    } else {
        Cow::Borrowed(s)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}
const L: Align = Align::Left;
const R: Align = Align::Right;

/// An aligned table: columns two spaces apart, each as wide as its widest cell.
fn table(
    w: &mut impl Write,
    indent: &str,
    header: &[&str],
    align: &[Align],
    rows: &[Vec<String>],
) -> io::Result<()> {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (wd, cell) in widths.iter_mut().zip(row) {
            *wd = (*wd).max(width(cell));
        }
    }
    let mut line = String::new();
    let mut emit = |cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        line.clear();
        line.push_str(indent);
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(width(cell)));
            match align[i] {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
        }
        writeln!(w, "{}", line.trim_end())
    };
    emit(&mut header.iter().copied())?;
    for row in rows {
        emit(&mut row.iter().map(String::as_str))?;
    }
    Ok(())
}
