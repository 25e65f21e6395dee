//! The HTML report: one self-contained page (inline CSS, inline SVG plots drawn here, a few lines
//! of inline JS), readable offline.
//!
//! Everything is written into one `String` in a single pass over the report; plots and tables are
//! capped (and say how much they leave out) so that a report with thousands of agents or phases
//! stays small and quick to render.

mod breakdown;
#[cfg(feature = "flamegraph")]
mod flame;
mod latency;
mod overview;
mod svg;
mod system;
mod tables;
mod text;
mod waterfall;

use std::fmt::{self, Write as _};
use std::io::{self, Write};

use crate::Report;
use crate::{AggregateMetrics, ExecutionProfile, PhaseMetrics};
use breakdown::breakdown_figure;
use latency::latency_figure;
use tables::phase_table;
use text::*;
use waterfall::waterfall_figure;

/// The page's style, which the monitoring server's dashboard shares.
pub const REPORT_CSS: &str = include_str!("report.css");
use REPORT_CSS as CSS;
const SCRIPT: &str = include_str!("report.js");
/// Records script errors on the page for tests to find (the dashboard's too).
pub const ERROR_HOOK: &str = include_str!("error-hook.js");

/// Agents that get a full section (figures, plots, phases); the others are in the overview.
const MAX_AGENT_SECTIONS: usize = 50;
/// Rows of any one table.
const MAX_TABLE_ROWS: usize = 1000;
/// Bars of a phase breakdown.
const MAX_BREAKDOWN_BARS: usize = 15;
/// Executions of one agent drawn as waterfalls (its slowest ones), for the agents with the most
/// total time; the others get [`FEW_WATERFALLS`].
const MAX_WATERFALLS: usize = 8;
/// How many agents get [`MAX_WATERFALLS`].
const FULL_WATERFALL_AGENTS: usize = 10;
/// Waterfalls of each of the other agents.
const FEW_WATERFALLS: usize = 2;
/// Phase rows of one waterfall.
const MAX_WATERFALL_ROWS: usize = 40;
/// Bins of a latency histogram.
const MAX_BINS: usize = 40;

type Out = String;

impl Report {
    /// Writes the report as one self-contained HTML page: the overall figures and bottlenecks,
    /// an overview of the agents, then per agent its figures, a latency distribution (a histogram
    /// of its kept executions with P50/P95/P99 marked), a phase breakdown, the phases of its
    /// slowest executions as waterfalls, and its phases table; then every phase across agents;
    /// and, when a collector ran, the system metrics: averages, the memory trend (with a
    /// warning when memory grows faster than 1 MiB/s) and a plot of resident memory, the live
    /// heap and the thread count over time.
    ///
    /// The page needs no network access: styles, plots (SVG) and the small script that switches
    /// between waterfalls are inline. Every name, request and error is HTML-escaped. Large
    /// reports are capped (the 50 agents with the most total time get a section, tables keep
    /// 1000 rows, plots a few dozen bars), and the page says what it left out.
    pub fn write_html(&self, mut w: impl Write) -> io::Result<()> {
        let mut out = String::with_capacity(64 * 1024);
        render(self, &mut out)
            .map_err(|_| io::Error::other("formatting the HTML report failed"))?;
        w.write_all(out.as_bytes())?;
        w.flush()
    }
}

// ---------------------------------------------------------------------------------------------
// The page

fn render(r: &Report, out: &mut Out) -> fmt::Result {
    let nothing = r.agents.is_empty() && r.phases.is_empty() && r.total_executions == 0;
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"generator\" content=\"profx\">\n");
    writeln!(
        out,
        "<title>profx report — {}</title>",
        if nothing {
            "no executions".to_string()
        } else {
            plural(r.total_executions, "execution", "executions")
        }
    )?;
    writeln!(
        out,
        "<style>\n{CSS}</style>\n<script>\n{ERROR_HOOK}</script>\n</head>\n<body>"
    )?;

    overview::header(r, out)?;
    out.push_str("<main class=\"wrap\">\n");
    if nothing {
        out.push_str(
            "<section class=\"panel empty-state\">\n<h2>No executions recorded</h2>\n\
             <p>The profiler saw no agent executions and no phases.</p>\n\
             <p>Annotate functions with <code>#[profx::agent]</code> and \
             <code>#[profx::phase]</code>, build with the cargo feature <code>enabled</code>, \
             and run the program again.</p>\n</section>\n",
        );
    } else {
        if r.agents.is_empty() {
            out.push_str(
                "<section class=\"panel empty-state\">\n<h2>No executions recorded</h2>\n\
                 <p>Phases ran outside any agent execution; they are listed below.</p>\n\
                 </section>\n",
            );
        }
        overview::bottlenecks(r, out)?;
        let order = agent_order(r);
        if !order.is_empty() {
            tables::overview(r, &order, out)?;
            for (idx, (name, a)) in order.iter().enumerate().take(MAX_AGENT_SECTIONS) {
                agent_section(r, idx, name, a, out)?;
            }
            if order.len() > MAX_AGENT_SECTIONS {
                writeln!(
                    out,
                    "<section class=\"panel\"><p class=\"note\">{} more agents are not shown \
                     in detail (the {MAX_AGENT_SECTIONS} with the most total time are); the \
                     overview above and the JSON or text report have every agent.</p></section>",
                    order.len() - MAX_AGENT_SECTIONS
                )?;
            }
        }
        tables::all_phases(r, out)?;
    }
    system::section(r, out)?;
    writeln!(
        out,
        "</main>\n<footer>Generated by profx {} · report schema {} · {}</footer>",
        env!("CARGO_PKG_VERSION"),
        r.schema_version,
        esc(&when(r.generated_at))
    )?;
    writeln!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>")
}

/// Agents, the most total time first (then by name).
fn agent_order(r: &Report) -> Vec<(&String, &AggregateMetrics)> {
    let mut v: Vec<_> = r.agents.iter().collect();
    v.sort_by(|a, b| {
        agent_time(b.1)
            .cmp(&agent_time(a.1))
            .then_with(|| a.0.cmp(b.0))
    });
    v
}

fn agent_section(
    r: &Report,
    idx: usize,
    name: &str,
    a: &AggregateMetrics,
    out: &mut Out,
) -> fmt::Result {
    write!(
        out,
        "<section class=\"panel agent\" id=\"agent-{idx}\">\n<div class=\"agent-head\"><h2>{}</h2>\
         <span class=\"pill\">{}</span>",
        esc(name),
        plural(a.total_executions, "execution", "executions")
    )?;
    if a.failure_count > 0 {
        write!(
            out,
            "<span class=\"pill fail\">{} failed</span>",
            a.failure_count
        )?;
    }
    if a.long_lived {
        out.push_str(
            "<span class=\"pill\" title=\"a session or a connection: not checked for slow \
             executions, left out of the overall averages\">long-lived</span>",
        );
    }
    if a.cancelled_count > 0 {
        write!(
            out,
            "<span class=\"pill cancel\" title=\"dropped before they completed; not in the \
             success rate\">{} cancelled</span>",
            a.cancelled_count
        )?;
    }
    if let Some(sev) = r
        .bottlenecks
        .iter()
        .filter(|b| b.agent == name)
        .map(|b| b.severity)
        .max()
    {
        write!(
            out,
            " <span class=\"badge sev-{sev}\" title=\"bottleneck severity\">{sev}</span>"
        )?;
    }
    out.push_str("</div>\n");

    // Figures.
    let rate = rate_cell(a);
    writeln!(
        out,
        "<div class=\"scroll\"><table class=\"figures\"><thead><tr>\
         <th class=\"num\">Executions</th><th class=\"num\">Succeeded</th><th class=\"num\">Failed</th>\
         <th class=\"num\">Cancelled</th><th class=\"num\">Success rate</th><th class=\"num\">Avg</th><th class=\"num\">Min</th>\
         <th class=\"num\">Max</th><th class=\"num\">P50</th><th class=\"num\">P90</th>\
         <th class=\"num\">P95</th><th class=\"num\">P99</th><th class=\"num\">P99.9</th>\
         <th class=\"num\">Avg memory</th><th class=\"num\" title=\"The executions' own time: \
         their durations less their top-level phases\">Self time</th><th class=\"num\" title=\"The time \
         spent working, inside the polls of an async agent (the rest it was waiting); a sync \
         agent is busy throughout\">Busy</th></tr></thead>\n<tbody><tr>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num {}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table></div>",
        a.total_executions,
        a.success_count,
        a.failure_count,
        a.cancelled_count,
        rate.0,
        rate.1,
        hd(a.avg_duration),
        hd(a.min_duration),
        hd(a.max_duration),
        hd(a.percentiles.p50),
        hd(a.percentiles.p90),
        hd(a.percentiles.p95),
        hd(a.percentiles.p99),
        hd(a.percentiles.p999),
        mem_cell(r, a.avg_memory),
        self_time_cell(a),
        busy_time_cell(a.busy_duration, a.busy_share()),
    )?;

    let execs: &[ExecutionProfile] = r.executions.get(name).map_or(&[], Vec::as_slice);
    let mut phases: Vec<(&String, &PhaseMetrics)> = a.phases.iter().collect();
    phases.sort_by(|x, y| {
        phase_time(y.1)
            .cmp(&phase_time(x.1))
            .then_with(|| x.0.cmp(y.0))
    });

    out.push_str("<div class=\"plots\">\n");
    latency_figure(name, a, execs, out)?;
    breakdown_figure(name, a, &phases, out)?;
    out.push_str("</div>\n");
    waterfall_figure(r, idx, name, execs, out)?;
    #[cfg(feature = "flamegraph")]
    flame::flame_figure(name, execs, out)?;

    // Phases table.
    out.push_str("<h3>Phases</h3>\n");
    if phases.is_empty() {
        out.push_str("<p class=\"muted\">No phases recorded inside this agent.</p>\n");
    } else {
        // The table by self time: where the time is spent, not passed through to nested
        // phases (the breakdown plot above keeps the order by total time).
        let mut by_self = phases.clone();
        by_self.sort_by(|x, y| {
            (y.1.self_duration, phase_time(y.1))
                .cmp(&(x.1.self_duration, phase_time(x.1)))
                .then_with(|| x.0.cmp(y.0))
        });
        phase_table(&by_self, Some(agent_time(a)), out)?;
        out.push_str(
            "<p class=\"note\">Sorted by self time; click a column's header to sort by it.</p>\n",
        );
    }
    out.push_str("</section>\n");
    Ok(())
}

/// Busy time and its share of the time ("—" when not known: a report written before it).
fn busy_time_cell(busy: std::time::Duration, share: Option<f64>) -> String {
    match share {
        Some(s) => format!("{} ({})", hd(busy), pct_text(s)),
        None => "—".to_owned(),
    }
}

/// The agent's self time and its share of the agent's time ("—" without phases, where it is
/// all of it and says nothing).
fn self_time_cell(a: &AggregateMetrics) -> String {
    if a.phases.is_empty() {
        return "—".to_owned();
    }
    match share(a.self_duration, agent_time(a)) {
        Some(s) => format!("{} ({})", hd(a.self_duration), pct_text(s)),
        None => hd(a.self_duration).to_string(),
    }
}
