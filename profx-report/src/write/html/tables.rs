//! The tables: the agents' overview, the phases of one agent and every phase across agents.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::svg::*;
use super::text::*;
use super::{Out, MAX_AGENT_SECTIONS, MAX_TABLE_ROWS};
use crate::Report;
use crate::{AggregateMetrics, PhaseMetrics};

pub(super) fn overview(
    r: &Report,
    order: &[(&String, &AggregateMetrics)],
    out: &mut Out,
) -> fmt::Result {
    out.push_str(
        "<section class=\"panel\" id=\"agents\">\n<h2>Agents</h2>\n<div class=\"scroll\"><table>\n\
         <thead><tr><th>Agent</th><th class=\"num\">Executions</th><th class=\"num\">Failures</th>\
         <th class=\"num\">Cancelled</th><th class=\"num\">Success</th><th class=\"num\">Avg</th><th class=\"num\">P50</th>\
         <th class=\"num\">P95</th><th class=\"num\">P99</th><th class=\"num\">Max</th>\
         <th class=\"num\">Total time</th><th class=\"num\">Avg memory</th></tr></thead>\n<tbody>\n",
    );
    let most = order.first().map_or(Duration::ZERO, |(_, a)| agent_time(a));
    for (idx, (name, a)) in order.iter().enumerate().take(MAX_TABLE_ROWS) {
        let total = agent_time(a);
        let width = share(total, most).unwrap_or(0.0);
        let rate = rate_cell(a);
        out.push_str("<tr><td class=\"name\">");
        if idx < MAX_AGENT_SECTIONS {
            write!(out, "<a href=\"#agent-{idx}\">{}</a>", esc(name))?;
        } else {
            write!(out, "{}", esc(name))?;
        }
        writeln!(
            out,
            "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num {}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num total\"><span class=\"cellbar\" style=\"width:{}%\"></span>\
             <span class=\"v\">{}</span></td><td class=\"num\">{}</td></tr>",
            a.total_executions,
            a.failure_count,
            a.cancelled_count,
            rate.0,
            rate.1,
            hd(a.avg_duration),
            hd(a.percentiles.p50),
            hd(a.percentiles.p95),
            hd(a.percentiles.p99),
            hd(a.max_duration),
            N(width),
            hd(total),
            mem_cell(r, a.avg_memory),
        )?;
    }
    out.push_str("</tbody></table></div>\n");
    if order.len() > MAX_TABLE_ROWS {
        let left: Duration = order[MAX_TABLE_ROWS..]
            .iter()
            .fold(Duration::ZERO, |acc, (_, a)| {
                acc.saturating_add(agent_time(a))
            });
        writeln!(
            out,
            "<p class=\"note\">{} more agents ({} in all) not listed.</p>",
            order.len() - MAX_TABLE_ROWS,
            hd(left)
        )?;
    }
    out.push_str(
        "<p class=\"note\">Sorted by total time (executions × average duration).</p>\n</section>\n",
    );
    Ok(())
}

pub(super) fn phase_table(
    phases: &[(&String, &PhaseMetrics)],
    whole: Option<Duration>,
    out: &mut Out,
) -> fmt::Result {
    // Headers sort the table when clicked (report.js), on each cell's `data-v` when it has one
    // (durations in nanoseconds, exact), else on its text.
    out.push_str(
        "<div class=\"scroll\"><table class=\"phases sortable\"><thead><tr><th>Phase</th>\
         <th class=\"num\">Calls</th><th class=\"num\">Failures</th><th class=\"num\">Cancelled</th>\
         <th class=\"num\">Total</th><th class=\"num\" title=\"The calls' own time: their \
         durations less those of the phases nested directly in them\">Self</th>",
    );
    if whole.is_some() {
        out.push_str("<th class=\"num\">Share</th><th class=\"num\">Self share</th>");
    }
    out.push_str(
        "<th class=\"num\" title=\"The share of the time spent working, inside the polls of an \
         async phase (the rest it was waiting); a sync phase is busy throughout\">Busy</th>",
    );
    out.push_str(
        "<th class=\"num\">Avg</th><th class=\"num\">Min</th><th class=\"num\">Max</th>\
         <th class=\"num\">P50</th><th class=\"num\">P90</th><th class=\"num\">P95</th>\
         <th class=\"num\">P99</th><th class=\"num\">P99.9</th></tr></thead>\n<tbody>\n",
    );
    for (name, p) in phases.iter().take(MAX_TABLE_ROWS) {
        let total = phase_time(p);
        write!(
            out,
            "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td>",
            esc(name),
            p.calls,
            p.failures,
            p.cancelled,
        )?;
        for d in [total, p.self_duration] {
            duration_cell(d, out)?;
        }
        if let Some(w) = whole {
            for part in [total, p.self_duration] {
                let s = share(part, w);
                write!(
                    out,
                    "<td class=\"num\" data-v=\"{}\">{}</td>",
                    s.unwrap_or(0.0),
                    s.map_or_else(|| "—".to_string(), pct_text)
                )?;
            }
        }
        let busy = p.busy_share();
        write!(
            out,
            "<td class=\"num\" data-v=\"{}\">{}</td>",
            busy.unwrap_or(-1.0),
            busy.map_or_else(|| "—".to_string(), pct_text)
        )?;
        for d in [
            p.avg_duration,
            p.min_duration,
            p.max_duration,
            p.percentiles.p50,
            p.percentiles.p90,
            p.percentiles.p95,
            p.percentiles.p99,
            p.percentiles.p999,
        ] {
            duration_cell(d, out)?;
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    if phases.len() > MAX_TABLE_ROWS {
        let left = phases[MAX_TABLE_ROWS..]
            .iter()
            .fold(Duration::ZERO, |acc, (_, p)| {
                acc.saturating_add(phase_time(p))
            });
        writeln!(
            out,
            "<p class=\"note\">{} more phases ({} in all) not listed; the JSON or text report \
             has them.</p>",
            phases.len() - MAX_TABLE_ROWS,
            hd(left)
        )?;
    }
    Ok(())
}

pub(super) fn all_phases(r: &Report, out: &mut Out) -> fmt::Result {
    if r.phases.is_empty() {
        return Ok(());
    }
    let mut phases: Vec<(&String, &PhaseMetrics)> = r.phases.iter().collect();
    phases.sort_by(|x, y| {
        phase_time(y.1)
            .cmp(&phase_time(x.1))
            .then_with(|| x.0.cmp(y.0))
    });
    out.push_str(
        "<section class=\"panel\" id=\"phases\">\n<h2>All phases</h2>\n<p class=\"note\" \
         style=\"margin:0 0 8px\">Every phase by name, across all agents and outside them, \
         the most total time first.</p>\n",
    );
    phase_table(&phases, None, out)?;
    out.push_str("</section>\n");
    Ok(())
}

/// A table cell of a duration, human-readable, with its exact value (ns) to sort on.
fn duration_cell(d: Duration, out: &mut Out) -> fmt::Result {
    write!(
        out,
        "<td class=\"num\" data-v=\"{}\">{}</td>",
        d.as_nanos(),
        hd(d)
    )
}
