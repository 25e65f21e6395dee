//! The top of the page: the overall figures as cards and the bottlenecks.

use std::fmt::{self, Write as _};

use super::text::*;
use super::{Out, MAX_TABLE_ROWS};
use crate::{Bottleneck, BottleneckKind};
use crate::{HumanBytes, Report};

pub(super) fn card(out: &mut Out, label: &str, value: &str, class: &str, sub: &str) -> fmt::Result {
    writeln!(
        out,
        "<div class=\"card\"><div class=\"label\">{label}</div>\
         <div class=\"value {class}\">{value}</div><div class=\"sub\">{sub}</div></div>"
    )
}

pub(super) fn header(r: &Report, out: &mut Out) -> fmt::Result {
    let failures: u64 = r.agents.values().map(|a| a.failure_count).sum();
    let cancelled = r.cancelled_total();
    let succeeded = r
        .agents
        .values()
        .fold(0u64, |n, a| n.saturating_add(a.success_count));
    writeln!(
        out,
        "<header class=\"top\"><div class=\"wrap\">\n<h1><span class=\"brand\">profx</span> \
         report</h1>\n<p class=\"meta\">Generated at {} · {} · {}</p>\n<div class=\"cards\">",
        esc(&when(r.generated_at)),
        plural(r.agents.len() as u64, "agent", "agents"),
        plural(r.phases.len() as u64, "phase", "phases"),
    )?;
    card(
        out,
        "Executions",
        &r.total_executions.to_string(),
        "",
        &if cancelled > 0 {
            format!(
                "{} · {cancelled} cancelled",
                plural(failures, "failure", "failures")
            )
        } else {
            plural(failures, "failure", "failures")
        },
    )?;
    if r.total_executions == 0 {
        card(out, "Avg duration", "—", "na", "no executions")?;
        card(out, "Success rate", "—", "na", "no executions")?;
    } else {
        card(
            out,
            "Avg duration",
            &hd(r.overall_avg_duration).to_string(),
            "",
            if r.agents.values().any(|a| a.long_lived) {
                "per execution, long-lived agents left out"
            } else {
                "per execution"
            },
        )?;
        match r.overall_success_rate_checked() {
            Some(rate) => card(
                out,
                "Success rate",
                &pct_text(rate),
                rate_class(rate),
                &if cancelled > 0 {
                    format!("{succeeded} succeeded; cancelled not counted")
                } else {
                    format!("{succeeded} succeeded")
                },
            )?,
            None => card(out, "Success rate", "—", "na", "all cancelled")?,
        }
    }
    if r.memory_measured {
        card(
            out,
            "Avg memory",
            &HumanBytes(r.overall_avg_memory).to_string(),
            "",
            "allocated per execution",
        )?;
    } else {
        card(
            out,
            "Avg memory",
            "not measured",
            "na",
            "install profx::CountingAlloc (feature alloc)",
        )?;
    }
    let worst = r.bottlenecks.iter().map(|b| b.severity).max();
    card(
        out,
        "Bottlenecks",
        &r.bottlenecks.len().to_string(),
        if r.bottlenecks.is_empty() {
            "good"
        } else {
            "poor"
        },
        &match worst {
            Some(s) => format!("worst: {s}"),
            None => format!("none above {}", hd(r.bottleneck_threshold)),
        },
    )?;
    out.push_str("</div>\n</div></header>\n");
    Ok(())
}

pub(super) fn bottleneck_target(b: &Bottleneck, out: &mut Out) -> fmt::Result {
    if b.agent.is_empty() {
        out.push_str("<span class=\"muted\">(outside any agent)</span>");
    } else {
        write!(out, "{}", esc(&b.agent))?;
    }
    if let Some(p) = &b.phase {
        write!(out, " › {}", esc(p))?;
    }
    Ok(())
}

pub(super) fn bottlenecks(r: &Report, out: &mut Out) -> fmt::Result {
    out.push_str("<section class=\"panel\" id=\"bottlenecks\">\n<h2>Bottlenecks</h2>\n");
    if r.bottlenecks.is_empty() {
        writeln!(
            out,
            "<p class=\"muted\">None: no agent or phase is above the {} threshold or erratic.</p>",
            hd(r.bottleneck_threshold)
        )?;
        return out.write_str("</section>\n");
    }
    out.push_str("<ul class=\"bottlenecks\">\n");
    for b in r.bottlenecks.iter().take(MAX_TABLE_ROWS) {
        write!(
            out,
            "<li><span class=\"badge sev-{s}\">{s}</span><span class=\"what\">",
            s = b.severity
        )?;
        bottleneck_target(b, out)?;
        out.push_str("</span>");
        match b.kind {
            BottleneckKind::SlowExecution => write!(
                out,
                "<span>slow: avg {} is {:.1}× the {} threshold (p99 {})</span>",
                hd(b.avg_duration),
                ratio(b.avg_duration, b.threshold),
                hd(b.threshold),
                hd(b.p99)
            )?,
            BottleneckKind::HighVariance => write!(
                out,
                "<span>erratic: p99 {} against avg {} ({:.1}× the {} threshold)</span>",
                hd(b.p99),
                hd(b.avg_duration),
                ratio(b.p99, b.threshold),
                hd(b.threshold)
            )?,
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n");
    if r.bottlenecks.len() > MAX_TABLE_ROWS {
        writeln!(
            out,
            "<p class=\"note\">{} more bottlenecks not shown.</p>",
            r.bottlenecks.len() - MAX_TABLE_ROWS
        )?;
    }
    out.write_str("</section>\n")
}
