//! Execution details: each kept execution of one agent, with its phases.

use std::io::{self, BufWriter, Write};

use super::text::one_line;
use crate::units::{HumanDuration, HumanMemory};
use crate::{ExecutionProfile, Outcome, Report};

impl Report {
    /// Writes the kept executions of `agent`, oldest first: id, request, start, duration
    /// (with an async one's polls, busy and waiting time), memory, allocations, threads, outcome (and error), then the phases in the order they
    /// started, indented by nesting depth. When the agent has no kept executions, says so and
    /// names the agents that have some (still `Ok`).
    ///
    /// ```
    /// let report = profx_report::Report::empty();
    /// let mut out = Vec::new();
    /// report.write_details(&mut out, "codebase-locator")?;
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.starts_with("Execution Details: codebase-locator\n"));
    /// assert!(text.contains("No executions kept for agent \"codebase-locator\""));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_details(&self, w: impl Write, agent: &str) -> io::Result<()> {
        let mut w = BufWriter::new(w);
        details(self, &mut w, agent)?;
        w.flush()
    }
}

fn details(r: &Report, w: &mut impl Write, agent: &str) -> io::Result<()> {
    let title = format!("Execution Details: {}", one_line(agent));
    writeln!(w, "{title}")?;
    writeln!(w, "{}", "=".repeat(title.chars().count()))?;
    writeln!(w)?;
    let kept = match r.executions.get(agent) {
        Some(kept) if !kept.is_empty() => kept,
        _ => {
            let others: Vec<String> = r
                .executions
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, _)| one_line(k).into_owned())
                .collect();
            return if others.is_empty() {
                writeln!(
                    w,
                    "No executions kept for agent {:?}; no agent has kept executions.",
                    agent
                )
            } else {
                writeln!(
                    w,
                    "No executions kept for agent {:?}; agents with executions: {}",
                    agent,
                    others.join(", ")
                )
            };
        }
    };
    if let Some(a) = r.agents.get(agent) {
        if a.total_executions > kept.len() as u64 {
            writeln!(
                w,
                "{} of {} executions kept (the most recent; PROFX_MAX_EXECUTIONS, PROFX_SAMPLE).",
                kept.len(),
                a.total_executions
            )?;
            writeln!(w)?;
        }
    }
    for (i, e) in kept.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        execution(r, w, e)?;
    }
    Ok(())
}

/// Deeper phases are indented as if at this depth.
const MAX_SHOWN_DEPTH: u32 = 64;

fn execution(r: &Report, w: &mut impl Write, e: &ExecutionProfile) -> io::Result<()> {
    let memory = |bytes| HumanMemory {
        bytes,
        measured: r.memory_measured,
    };
    writeln!(w, "Execution ID: {}", one_line(&e.id))?;
    if let Some(parent) = &e.parent {
        writeln!(w, "  Inside: {}", one_line(parent))?;
    }
    if e.request.is_empty() {
        writeln!(w, "  Request: (none)")?;
    } else {
        writeln!(w, "  Request: {}", one_line(&e.request))?;
    }
    writeln!(w, "  Start: {}", humantime::format_rfc3339_seconds(e.start))?;
    writeln!(w, "  Duration: {}", HumanDuration(e.duration))?;
    if e.polls != 1 || e.busy < e.duration {
        // Async: how often it ran, and for how long of its duration.
        writeln!(
            w,
            "  Polls: {} (busy {}, waiting {})",
            e.polls,
            HumanDuration(e.busy),
            HumanDuration(e.waiting())
        )?;
    }
    writeln!(w, "  Memory: {}", memory(e.memory_allocated))?;
    if r.memory_measured {
        writeln!(w, "  Allocations: {}", e.allocations)?;
    } else {
        writeln!(w, "  Allocations: not measured")?;
    }
    if e.thread_count == 0 {
        writeln!(w, "  Threads: unknown")?;
    } else {
        writeln!(w, "  Threads: {}", e.thread_count)?;
    }
    writeln!(w, "  Success: {}", e.success)?;
    if e.outcome == Outcome::Cancelled {
        // Not a failure: dropped before it completed.
        writeln!(w, "  Outcome: cancelled")?;
    }
    if let Some(err) = &e.error {
        // An error's text may span lines: keep them under "Error:".
        write!(w, "  Error: ")?;
        for (i, line) in err.lines().enumerate() {
            if i > 0 {
                write!(w, "         ")?;
            }
            writeln!(w, "{line}")?;
        }
        if err.is_empty() {
            writeln!(w)?;
        }
    }
    if e.phases.is_empty() && e.phases_dropped == 0 {
        return writeln!(w, "  Phases: none");
    }
    writeln!(w, "  Phases:")?;
    for p in &e.phases {
        // Real nesting is shallow; a report edited by hand must not ask for gigabytes of spaces.
        let indent = 4 + 2 * p.depth.min(MAX_SHOWN_DEPTH) as usize;
        let outcome = match p.outcome {
            Outcome::Success => "",
            Outcome::Failure => " (failed)",
            Outcome::Cancelled => " (cancelled)",
        };
        writeln!(
            w,
            "{:indent$}- {}: {}{outcome}",
            "",
            one_line(&p.name),
            HumanDuration(p.duration)
        )?;
    }
    if e.phases_dropped > 0 {
        writeln!(
            w,
            "    … {} more phase records not kept (PROFX_MAX_PHASES)",
            e.phases_dropped
        )?;
    }
    Ok(())
}
