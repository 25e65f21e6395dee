//! The HTML report: one self-contained page (inline CSS, inline SVG plots drawn here, a few lines
//! of inline JS), readable offline.
//!
//! Everything is written into one `String` in a single pass over the report; plots and tables are
//! capped (and say how much they leave out) so that a report with thousands of agents or phases
//! stays small and quick to render.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use super::{HumanBytes, HumanDuration, Report};
use crate::collector::HumanRate;
use crate::{
    AggregateMetrics, Bottleneck, BottleneckKind, ExecutionProfile, MemoryPoint, MemoryTrend,
    PhaseMetrics, SystemSummary, TrendDirection,
};

const CSS: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");
const ERROR_HOOK: &str = include_str!("html/error-hook.js");

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
// Small helpers

/// HTML-escapes text for element content and quoted attribute values.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let rep = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&s[last..i])?;
            f.write_str(rep)?;
            last = i + 1;
        }
        f.write_str(&s[last..])
    }
}

fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

/// `s` cut to at most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> Cow<'_, str> {
    let max = max.max(2);
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let end = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..end]))
        }
    }
}

fn hd(d: Duration) -> HumanDuration {
    HumanDuration(d)
}

/// An axis label: a duration of `ns` nanoseconds, "0" for zero.
struct Tick(f64);

impl fmt::Display for Tick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.max(0.0).round() as u64;
        if ns == 0 {
            f.write_str("0")
        } else {
            HumanDuration(Duration::from_nanos(ns)).fmt(f)
        }
    }
}

fn ns_dur(ns: f64) -> Tick {
    Tick(ns)
}

/// `d` times `n`, saturating.
fn times(d: Duration, n: u64) -> Duration {
    let ns = d.as_nanos().saturating_mul(n as u128);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// Time spent in an agent: executions × mean duration.
fn agent_time(a: &AggregateMetrics) -> Duration {
    times(a.avg_duration, a.total_executions)
}

/// Time spent in a phase: its total, or calls × mean when the total is not set.
fn phase_time(p: &PhaseMetrics) -> Duration {
    if p.total_duration.is_zero() {
        times(p.avg_duration, p.calls)
    } else {
        p.total_duration
    }
}

fn share(part: Duration, whole: Duration) -> Option<f64> {
    (!whole.is_zero()).then(|| part.as_secs_f64() * 100.0 / whole.as_secs_f64())
}

fn pct_text(p: f64) -> String {
    if (99.95..=100.0).contains(&p) {
        "100%".to_string()
    } else if p > 0.0 && p < 0.1 {
        "<0.1%".to_string()
    } else {
        format!("{p:.1}%")
    }
}

fn rate_class(rate: f64) -> &'static str {
    if rate >= 99.0 {
        "good"
    } else if rate >= 95.0 {
        "fair"
    } else {
        "poor"
    }
}

fn when(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replacen('T', " ", 1)
        .replace('Z', " UTC")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A "nice" step (1, 2 or 5 × 10^k) that cuts `range` into about `target` parts.
fn nice_step(range: f64, target: f64) -> f64 {
    if range.is_nan() || range <= 0.0 || !range.is_finite() {
        return 1.0;
    }
    let raw = range / target.max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let n = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// A domain `[lo, hi]` on multiples of a nice step that covers `[min, max]`.
fn nice_domain(min: f64, max: f64, target: f64) -> (f64, f64, f64) {
    let step = nice_step(max - min, target);
    let lo = (min / step).floor() * step;
    let mut hi = (max / step).ceil() * step;
    if hi <= lo {
        hi = lo + step;
    }
    (lo, hi, step)
}

/// Numbers in SVG coordinates, with one decimal at most.
struct N(f64);

impl fmt::Display for N {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = (self.0 * 10.0).round() / 10.0;
        if v == v.trunc() {
            write!(f, "{}", v as i64)
        } else {
            write!(f, "{v:.1}")
        }
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

    header(r, out)?;
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
        bottlenecks(r, out)?;
        let order = agent_order(r);
        if !order.is_empty() {
            overview(r, &order, out)?;
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
        all_phases(r, out)?;
    }
    system(r, out)?;
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

fn card(out: &mut Out, label: &str, value: &str, class: &str, sub: &str) -> fmt::Result {
    writeln!(
        out,
        "<div class=\"card\"><div class=\"label\">{label}</div>\
         <div class=\"value {class}\">{value}</div><div class=\"sub\">{sub}</div></div>"
    )
}

fn header(r: &Report, out: &mut Out) -> fmt::Result {
    let failures: u64 = r.agents.values().map(|a| a.failure_count).sum();
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
        &plural(failures, "failure", "failures"),
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
            "per execution",
        )?;
        card(
            out,
            "Success rate",
            &pct_text(r.overall_success_rate),
            rate_class(r.overall_success_rate),
            &format!(
                "{} succeeded",
                r.total_executions - failures.min(r.total_executions)
            ),
        )?;
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
            None => format!("none above {}", hd(Report::BOTTLENECK_THRESHOLD)),
        },
    )?;
    out.push_str("</div>\n</div></header>\n");
    Ok(())
}

fn bottleneck_target(b: &Bottleneck, out: &mut Out) -> fmt::Result {
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

fn bottlenecks(r: &Report, out: &mut Out) -> fmt::Result {
    out.push_str("<section class=\"panel\" id=\"bottlenecks\">\n<h2>Bottlenecks</h2>\n");
    if r.bottlenecks.is_empty() {
        writeln!(
            out,
            "<p class=\"muted\">None: no agent or phase is above the {} threshold or erratic.</p>",
            hd(Report::BOTTLENECK_THRESHOLD)
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

fn ratio(d: Duration, t: Duration) -> f64 {
    if t.is_zero() {
        f64::INFINITY
    } else {
        d.as_secs_f64() / t.as_secs_f64()
    }
}

fn mem_cell(r: &Report, bytes: u64) -> String {
    if r.memory_measured {
        HumanBytes(bytes).to_string()
    } else {
        "<span class=\"na\">not measured</span>".to_string()
    }
}

fn overview(r: &Report, order: &[(&String, &AggregateMetrics)], out: &mut Out) -> fmt::Result {
    out.push_str(
        "<section class=\"panel\" id=\"agents\">\n<h2>Agents</h2>\n<div class=\"scroll\"><table>\n\
         <thead><tr><th>Agent</th><th class=\"num\">Executions</th><th class=\"num\">Failures</th>\
         <th class=\"num\">Success</th><th class=\"num\">Avg</th><th class=\"num\">P50</th>\
         <th class=\"num\">P95</th><th class=\"num\">P99</th><th class=\"num\">Max</th>\
         <th class=\"num\">Total time</th><th class=\"num\">Avg memory</th></tr></thead>\n<tbody>\n",
    );
    let most = order.first().map_or(Duration::ZERO, |(_, a)| agent_time(a));
    for (idx, (name, a)) in order.iter().enumerate().take(MAX_TABLE_ROWS) {
        let total = agent_time(a);
        let width = share(total, most).unwrap_or(0.0);
        out.push_str("<tr><td class=\"name\">");
        if idx < MAX_AGENT_SECTIONS {
            write!(out, "<a href=\"#agent-{idx}\">{}</a>", esc(name))?;
        } else {
            write!(out, "{}", esc(name))?;
        }
        writeln!(
            out,
            "</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num {}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num total\"><span class=\"cellbar\" style=\"width:{}%\"></span>\
             <span class=\"v\">{}</span></td><td class=\"num\">{}</td></tr>",
            a.total_executions,
            a.failure_count,
            rate_class(a.success_rate()),
            pct_text(a.success_rate()),
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
    writeln!(
        out,
        "<div class=\"scroll\"><table class=\"figures\"><thead><tr>\
         <th class=\"num\">Executions</th><th class=\"num\">Succeeded</th><th class=\"num\">Failed</th>\
         <th class=\"num\">Success rate</th><th class=\"num\">Avg</th><th class=\"num\">Min</th>\
         <th class=\"num\">Max</th><th class=\"num\">P50</th><th class=\"num\">P90</th>\
         <th class=\"num\">P95</th><th class=\"num\">P99</th><th class=\"num\">P99.9</th>\
         <th class=\"num\">Avg memory</th></tr></thead>\n<tbody><tr>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num {}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td></tr></tbody></table></div>",
        a.total_executions,
        a.success_count,
        a.failure_count,
        rate_class(a.success_rate()),
        pct_text(a.success_rate()),
        hd(a.avg_duration),
        hd(a.min_duration),
        hd(a.max_duration),
        hd(a.percentiles.p50),
        hd(a.percentiles.p90),
        hd(a.percentiles.p95),
        hd(a.percentiles.p99),
        hd(a.percentiles.p999),
        mem_cell(r, a.avg_memory),
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

    // Phases table.
    out.push_str("<h3>Phases</h3>\n");
    if phases.is_empty() {
        out.push_str("<p class=\"muted\">No phases recorded inside this agent.</p>\n");
    } else {
        phase_table(&phases, Some(agent_time(a)), out)?;
    }
    out.push_str("</section>\n");
    Ok(())
}

fn phase_table(
    phases: &[(&String, &PhaseMetrics)],
    whole: Option<Duration>,
    out: &mut Out,
) -> fmt::Result {
    out.push_str(
        "<div class=\"scroll\"><table class=\"phases\"><thead><tr><th>Phase</th>\
         <th class=\"num\">Calls</th><th class=\"num\">Failures</th><th class=\"num\">Total</th>",
    );
    if whole.is_some() {
        out.push_str("<th class=\"num\">Share</th>");
    }
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
            hd(total)
        )?;
        if let Some(w) = whole {
            write!(
                out,
                "<td class=\"num\">{}</td>",
                share(total, w).map_or_else(|| "—".to_string(), pct_text)
            )?;
        }
        writeln!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            hd(p.avg_duration),
            hd(p.min_duration),
            hd(p.max_duration),
            hd(p.percentiles.p50),
            hd(p.percentiles.p90),
            hd(p.percentiles.p95),
            hd(p.percentiles.p99),
            hd(p.percentiles.p999),
        )?;
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

fn all_phases(r: &Report, out: &mut Out) -> fmt::Result {
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

fn system(r: &Report, out: &mut Out) -> fmt::Result {
    let Some(s) = &r.system else {
        return Ok(());
    };
    out.push_str(
        "<section class=\"panel\" id=\"system\">\n<h2>System</h2>\n<div class=\"cards\">\n",
    );
    let peak = |bytes: u64| {
        if bytes > 0 {
            format!("average · peak {}", HumanBytes(bytes))
        } else {
            "average".to_string()
        }
    };
    card(
        out,
        "Resident memory",
        &HumanBytes(s.avg_resident_bytes).to_string(),
        "",
        &peak(s.peak_resident_bytes),
    )?;
    if s.heap_measured {
        card(
            out,
            "Live heap",
            &HumanBytes(s.avg_heap_live_bytes).to_string(),
            "",
            &peak(s.peak_heap_live_bytes),
        )?;
    }
    card(
        out,
        "Virtual memory",
        &HumanBytes(s.avg_virtual_bytes).to_string(),
        "",
        "average",
    )?;
    card(
        out,
        "CPU",
        &format!("{:.1}%", s.avg_cpu_percent),
        "",
        "average, of one core",
    )?;
    card(
        out,
        "Threads",
        &format!("{:.1}", s.avg_threads),
        "",
        &if s.max_threads > 0 {
            format!("average · max {}", s.max_threads)
        } else {
            "average".to_string()
        },
    )?;
    if let Some(t) = &s.trend {
        let class = match t.direction {
            _ if t.is_growth_warning() => "poor",
            TrendDirection::Increasing => "fair",
            _ => "good",
        };
        card(
            out,
            "Memory trend",
            &t.direction.to_string(),
            class,
            &format!("{} · {}", HumanRate(t.rate_bytes_per_sec), t.memory),
        )?;
    }
    let mut sub = "snapshots".to_string();
    if !s.interval.is_zero() {
        write!(sub, " · every {}", hd(s.interval))?;
    }
    if !s.duration.is_zero() {
        write!(sub, " · over {}", hd(s.duration))?;
    }
    card(out, "Samples", &s.samples.to_string(), "", &sub)?;
    out.push_str("</div>\n");
    if let Some(t) = s.memory_growth_warning() {
        writeln!(
            out,
            "<p class=\"alert\">⚠️ Memory is growing at {} ({}: {} → {} over {}), above the \
             alert threshold of {}/s: a possible leak.</p>",
            HumanRate(t.rate_bytes_per_sec),
            t.memory,
            HumanBytes(t.start_bytes),
            HumanBytes(t.end_bytes),
            hd(t.span),
            HumanBytes(MemoryTrend::GROWTH_WARNING_BYTES_PER_SEC as u64)
        )?;
    }
    memory_figure(s, out)?;
    out.push_str("</section>\n");
    Ok(())
}

/// Memory over time: resident memory and the live heap (when measured) on the left axis, the
/// thread count on the right one, and the trend in the caption.
fn memory_figure(s: &SystemSummary, out: &mut Out) -> fmt::Result {
    out.push_str("<figure class=\"wide memory\"><figcaption>Memory over time ");
    if s.series.len() < 2 {
        out.push_str(
            "</figcaption>\n<p class=\"muted\">Fewer than two snapshots: nothing to plot.</p>\
             </figure>\n",
        );
        return Ok(());
    }
    match &s.trend {
        Some(t) => writeln!(
            out,
            "<span class=\"muted\">— trend: {}</span></figcaption>",
            esc(&t.to_string())
        )?,
        None => out.push_str("</figcaption>\n"),
    }
    memory_svg(s, out)?;
    if s.samples > s.series.len() as u64 {
        writeln!(
            out,
            "<p class=\"note\">{} snapshots drawn as {} points, each the peak of its share.</p>",
            s.samples,
            s.series.len()
        )?;
    }
    out.push_str("</figure>\n");
    Ok(())
}

fn memory_svg(s: &SystemSummary, out: &mut Out) -> fmt::Result {
    const W: f64 = 1100.0;
    const H: f64 = 280.0;
    let (ml, mr, mt, mb) = (76.0, 56.0, 30.0, 36.0);
    let (pw, ph) = (W - ml - mr, H - mt - mb);
    let pts = &s.series;
    let heap = s.heap_measured;

    let t_end = pts
        .iter()
        .map(|p| p.offset.as_nanos() as f64)
        .fold(1.0, f64::max);
    let (_, t_hi, t_step) = nice_domain(0.0, t_end, 8.0);
    let top = pts
        .iter()
        .map(|p| {
            p.resident_bytes
                .max(if heap { p.heap_live_bytes } else { 0 })
        })
        .max()
        .unwrap_or(0)
        .max(1);
    // Ticks on whole KiB or MiB, so that labels read cleanly.
    let unit = if top >= 1 << 20 {
        (1u64 << 20) as f64
    } else if top >= 1 << 10 {
        1024.0
    } else {
        1.0
    };
    let (_, b_hi, b_step) = nice_domain(0.0, top as f64 / unit, 5.0);
    let (b_hi, b_step) = (b_hi * unit, b_step * unit);
    // Threads on whole-number ticks, with some room above the most seen.
    let threads_top = pts.iter().map(|p| p.threads).max().unwrap_or(0).max(1) as f64;
    let th_step = nice_step(threads_top * 1.25, 4.0).ceil().max(1.0);
    let th_hi = (threads_top * 1.25 / th_step).ceil().max(1.0) * th_step;

    let sx = |ns: f64| ml + ns / t_hi * pw;
    let sy = |b: f64| mt + ph - b / b_hi * ph;
    let sty = |n: f64| mt + ph - n / th_hi * ph;

    writeln!(
        out,
        "<svg class=\"plot memory\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"Memory and threads over time\">"
    )?;
    // Byte grid and left ticks.
    let mut v = 0.0;
    while v <= b_hi + b_step * 1e-6 {
        let y = sy(v);
        writeln!(
            out,
            "<line class=\"gridline\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            N(ml),
            N(y),
            N(ml + pw),
            N(y),
            N(ml - 6.0),
            N(y + 3.5),
            if v == 0.0 {
                "0".to_string()
            } else {
                HumanBytes(v.round() as u64).to_string()
            }
        )?;
        v += b_step;
    }
    // Thread ticks on the right.
    let mut n = 0.0;
    while n <= th_hi + 1e-9 {
        writeln!(
            out,
            "<text class=\"tick threads-tick\" x=\"{}\" y=\"{}\">{}</text>",
            N(ml + pw + 6.0),
            N(sty(n) + 3.5),
            n as u64
        )?;
        n += th_step;
    }
    // Time ticks.
    let ticks = (t_hi / t_step).round() as usize;
    for k in 0..=ticks {
        let t = t_step * k as f64;
        let x = sx(t);
        writeln!(
            out,
            "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            N(x),
            N(mt + ph),
            N(x),
            N(mt + ph + 4.0),
            N(x),
            N(mt + ph + 16.0),
            ns_dur(t)
        )?;
    }
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">time since the first \
         snapshot</text>\
         <text class=\"axis-title\" transform=\"translate(14 {}) rotate(-90)\" \
         text-anchor=\"middle\">memory</text>\
         <text class=\"axis-title\" transform=\"translate({} {}) rotate(90)\" \
         text-anchor=\"middle\">threads</text>",
        N(ml),
        N(mt + ph),
        N(ml + pw),
        N(mt + ph),
        N(ml),
        N(mt),
        N(ml),
        N(mt + ph),
        N(ml + pw),
        N(mt),
        N(ml + pw),
        N(mt + ph),
        N(ml + pw / 2.0),
        N(H - 4.0),
        N(mt + ph / 2.0),
        N(W - 8.0),
        N(mt + ph / 2.0),
    )?;
    // The lines: threads as steps (dashed), memory as straight segments.
    let mut threads = String::new();
    let mut prev_y = None;
    for p in pts {
        let (x, y) = (sx(p.offset.as_nanos() as f64), sty(p.threads as f64));
        if let Some(py) = prev_y {
            write!(threads, " {},{} ", N(x), N(py))?;
        }
        write!(threads, "{},{}", N(x), N(y))?;
        prev_y = Some(y);
    }
    writeln!(
        out,
        "<polyline class=\"series threads\" points=\"{threads}\"><title>Threads (max {})</title>\
         </polyline>",
        s.max_threads
    )?;
    let line = |out: &mut Out, class: &str, title: &str, f: &dyn Fn(&MemoryPoint) -> u64| {
        let mut pts_attr = String::new();
        for (k, p) in pts.iter().enumerate() {
            write!(
                pts_attr,
                "{}{},{}",
                if k > 0 { " " } else { "" },
                N(sx(p.offset.as_nanos() as f64)),
                N(sy(f(p) as f64))
            )?;
        }
        writeln!(
            out,
            "<polyline class=\"series {class}\" points=\"{pts_attr}\"><title>{title}</title>\
             </polyline>"
        )
    };
    line(
        out,
        "resident",
        &format!(
            "Resident memory: {} average, {} peak",
            HumanBytes(s.avg_resident_bytes),
            HumanBytes(s.peak_resident_bytes)
        ),
        &|p| p.resident_bytes,
    )?;
    if heap {
        line(
            out,
            "heap",
            &format!(
                "Live heap: {} average, {} peak",
                HumanBytes(s.avg_heap_live_bytes),
                HumanBytes(s.peak_heap_live_bytes)
            ),
            &|p| p.heap_live_bytes,
        )?;
    }
    // Legend, above the plot.
    let mut lx = ml;
    let mut key = |out: &mut Out, class: &str, label: &str| -> fmt::Result {
        writeln!(
            out,
            "<line class=\"series {class}\" x1=\"{}\" y1=\"12\" x2=\"{}\" y2=\"12\"/>\
             <text x=\"{}\" y=\"15.5\">{label}</text>",
            N(lx),
            N(lx + 22.0),
            N(lx + 27.0)
        )?;
        lx += 40.0 + label.chars().count() as f64 * 6.4;
        Ok(())
    };
    key(out, "resident", "resident memory")?;
    if heap {
        key(out, "heap", "live heap")?;
    }
    key(out, "threads", "threads (right axis)")?;
    out.push_str("</svg>\n");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Plots

/// Latency distribution: a histogram of the kept executions with P50/P95/P99 lines, or the
/// percentile ladder when no execution was kept.
fn latency_figure(
    name: &str,
    a: &AggregateMetrics,
    execs: &[ExecutionProfile],
    out: &mut Out,
) -> fmt::Result {
    out.push_str("<figure class=\"latency\"><figcaption>Latency distribution ");
    if execs.is_empty() {
        if a.total_executions == 0 {
            out.push_str(
                "</figcaption>\n<p class=\"muted\">No executions recorded for this agent.</p>\
                 </figure>\n",
            );
            return Ok(());
        }
        writeln!(
            out,
            "<span class=\"muted\">— no execution kept: percentiles over all {}</span>\
             </figcaption>",
            a.total_executions
        )?;
        ladder_svg(name, a, out)?;
    } else {
        writeln!(
            out,
            "<span class=\"muted\">— bars: the {} kept in detail; lines: percentiles \
             over all {}</span></figcaption>",
            plural(execs.len() as u64, "execution", "executions"),
            a.total_executions
        )?;
        histogram_svg(name, a, execs, out)?;
    }
    out.push_str("</figure>\n");
    Ok(())
}

fn histogram_svg(
    name: &str,
    a: &AggregateMetrics,
    execs: &[ExecutionProfile],
    out: &mut Out,
) -> fmt::Result {
    const W: f64 = 560.0;
    const H: f64 = 250.0;
    let (ml, mr, mt, mb) = (52.0, 16.0, 44.0, 36.0);
    let (pw, ph) = (W - ml - mr, H - mt - mb);

    let markers = [
        ("p50", a.percentiles.p50),
        ("p95", a.percentiles.p95),
        ("p99", a.percentiles.p99),
    ];
    let mut dmin = f64::INFINITY;
    let mut dmax = 0.0f64;
    for e in execs {
        let v = e.duration.as_nanos() as f64;
        dmin = dmin.min(v);
        dmax = dmax.max(v);
    }
    for (_, m) in markers {
        if !m.is_zero() {
            let v = m.as_nanos() as f64;
            dmin = dmin.min(v);
            dmax = dmax.max(v);
        }
    }
    if dmax <= dmin {
        let pad = (dmin * 0.1).max(1.0);
        dmin = (dmin - pad).max(0.0);
        dmax += pad;
    }
    let (lo, hi, step) = nice_domain(dmin, dmax, 5.0);
    let bins = (((execs.len() as f64).sqrt() * 2.0).ceil() as usize).clamp(8, MAX_BINS);
    let bw = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for e in execs {
        let v = e.duration.as_nanos() as f64;
        let i = (((v - lo) / bw).floor().max(0.0) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let cmax = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let ystep = nice_step(cmax, 4.0).max(1.0).ceil();
    let ymax = (cmax / ystep).ceil() * ystep;
    let sx = |v: f64| ml + (v - lo) / (hi - lo) * pw;
    let sy = |c: f64| mt + ph - c / ymax * ph;

    writeln!(
        out,
        "<svg class=\"plot histogram\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"Latency distribution of {}\">",
        esc(name)
    )?;
    // Grid and y ticks.
    let mut c = 0.0;
    while c <= ymax + 1e-9 {
        let y = sy(c);
        writeln!(
            out,
            "<line class=\"gridline\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            N(ml),
            N(y),
            N(ml + pw),
            N(y),
            N(ml - 6.0),
            N(y + 3.5),
            c as u64
        )?;
        c += ystep;
    }
    // Bars.
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let (b0, b1) = (lo + bw * i as f64, lo + bw * (i + 1) as f64);
        let (x0, x1) = (sx(b0), sx(b1));
        let y = sy(n as f64);
        writeln!(
            out,
            "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"1.5\">\
             <title>{} – {}: {} ({:.1}% of kept)</title></rect>",
            N(x0 + 0.75),
            N(y),
            N((x1 - x0 - 1.5).max(1.0)),
            N(mt + ph - y),
            ns_dur(b0),
            ns_dur(b1),
            plural(n, "execution", "executions"),
            n as f64 * 100.0 / execs.len() as f64
        )?;
    }
    // Axes and x ticks.
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
        N(ml),
        N(mt + ph),
        N(ml + pw),
        N(mt + ph),
        N(ml),
        N(mt),
        N(ml),
        N(mt + ph)
    )?;
    let ticks = ((hi - lo) / step).round() as usize;
    for t in 0..=ticks {
        let v = lo + step * t as f64;
        let x = sx(v);
        writeln!(
            out,
            "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            N(x),
            N(mt + ph),
            N(x),
            N(mt + ph + 4.0),
            N(x),
            N(mt + ph + 16.0),
            ns_dur(v)
        )?;
    }
    writeln!(
        out,
        "<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">duration</text>\
         <text class=\"axis-title\" transform=\"translate(14 {}) rotate(-90)\" \
         text-anchor=\"middle\">executions</text>",
        N(ml + pw / 2.0),
        N(H - 4.0),
        N(mt + ph / 2.0)
    )?;
    // Percentile markers, labels stacked above the plot.
    for (row, (label, m)) in markers.iter().enumerate() {
        if m.is_zero() {
            continue;
        }
        let x = sx(m.as_nanos() as f64);
        let ty = 11.0 + row as f64 * 12.0;
        let (tx, anchor) = if x > W - 120.0 {
            (x - 4.0, "end")
        } else {
            (x + 4.0, "start")
        };
        writeln!(
            out,
            "<line class=\"pct {label}\" x1=\"{x}\" y1=\"{y0}\" x2=\"{x}\" y2=\"{y1}\">\
             <title>{label}: {d}</title></line>\
             <text class=\"pct-label {label}\" x=\"{tx}\" y=\"{ty}\" text-anchor=\"{anchor}\">\
             {label} {d}</text>",
            x = N(x),
            y0 = N(ty - 9.0),
            y1 = N(mt + ph),
            d = hd(*m),
            tx = N(tx),
            ty = N(ty),
        )?;
    }
    out.push_str("</svg>\n");
    Ok(())
}

fn ladder_svg(name: &str, a: &AggregateMetrics, out: &mut Out) -> fmt::Result {
    const W: f64 = 560.0;
    const H: f64 = 250.0;
    let (ml, mr, mt, mb) = (60.0, 16.0, 20.0, 36.0);
    let (pw, ph) = (W - ml - mr, H - mt - mb);
    let p = &a.percentiles;
    let rungs = [
        ("p50", p.p50),
        ("p90", p.p90),
        ("p95", p.p95),
        ("p99", p.p99),
        ("p99.9", p.p999),
    ];
    let top = rungs
        .iter()
        .map(|(_, d)| d.as_nanos() as f64)
        .fold(1.0, f64::max);
    let (_, ymax, ystep) = nice_domain(0.0, top, 4.0);
    let sy = |v: f64| mt + ph - v / ymax * ph;
    writeln!(
        out,
        "<svg class=\"plot ladder\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"Percentiles of {}\">",
        esc(name)
    )?;
    let mut v = 0.0;
    while v <= ymax + ystep * 1e-6 {
        let y = sy(v);
        writeln!(
            out,
            "<line class=\"gridline\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            N(ml),
            N(y),
            N(ml + pw),
            N(y),
            N(ml - 6.0),
            N(y + 3.5),
            ns_dur(v)
        )?;
        v += ystep;
    }
    let slot = pw / rungs.len() as f64;
    for (i, (label, d)) in rungs.iter().enumerate() {
        let x = ml + slot * i as f64 + slot * 0.2;
        let y = sy(d.as_nanos() as f64);
        writeln!(
            out,
            "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"2\">\
             <title>{label}: {d}</title></rect>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{d}</text>\
             <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            N(x),
            N(y),
            N(slot * 0.6),
            N((mt + ph - y).max(0.5)),
            N(x + slot * 0.3),
            N(y - 5.0),
            N(x + slot * 0.3),
            N(mt + ph + 16.0),
            d = hd(*d),
        )?;
    }
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">percentile</text>\n</svg>",
        N(ml),
        N(mt + ph),
        N(ml + pw),
        N(mt + ph),
        N(ml),
        N(mt),
        N(ml),
        N(mt + ph),
        N(ml + pw / 2.0),
        N(H - 4.0)
    )
}

/// Phase breakdown: each phase's total time as a horizontal bar, the most first.
fn breakdown_figure(
    name: &str,
    a: &AggregateMetrics,
    phases: &[(&String, &PhaseMetrics)],
    out: &mut Out,
) -> fmt::Result {
    out.push_str(
        "<figure class=\"breakdown\"><figcaption>Phase breakdown \
         <span class=\"muted\">— total time per phase (calls × avg), share of the agent's time\
         </span></figcaption>\n",
    );
    if phases.is_empty() {
        out.push_str("<p class=\"muted\">No phases recorded inside this agent.</p></figure>\n");
        return Ok(());
    }
    const W: f64 = 560.0;
    let (label_w, value_w, row_h, bar_h, mt) = (150.0, 118.0, 22.0, 14.0, 6.0);
    let bar_x = label_w + 8.0;
    let bar_w = W - bar_x - value_w;
    let shown = &phases[..phases.len().min(MAX_BREAKDOWN_BARS)];
    let whole = agent_time(a);
    let most = shown
        .first()
        .map_or(1.0, |(_, p)| phase_time(p).as_nanos() as f64)
        .max(1.0);
    let h = mt * 2.0 + row_h * shown.len() as f64;
    writeln!(
        out,
        "<svg class=\"plot breakdown\" viewBox=\"0 0 {W} {}\" role=\"img\" \
         aria-label=\"Phase breakdown of {}\">",
        N(h),
        esc(name)
    )?;
    for (i, (pname, p)) in shown.iter().enumerate() {
        let total = phase_time(p);
        let y = mt + row_h * i as f64;
        let w = (total.as_nanos() as f64 / most * bar_w).max(1.0);
        let sh = share(total, whole);
        writeln!(
            out,
            "<g><title>{n}: {calls} × {avg} avg = {t}{s}</title>\
             <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{clipped}</text>\
             <rect class=\"track\" x=\"{bx}\" y=\"{by}\" width=\"{bw}\" height=\"{bh}\" rx=\"2\"/>\
             <rect class=\"bar seg\" x=\"{bx}\" y=\"{by}\" width=\"{w}\" height=\"{bh}\" rx=\"2\"/>\
             <text class=\"tick\" x=\"{vx}\" y=\"{ty}\">{t}{vs}</text></g>",
            n = esc(pname),
            calls = plural(p.calls, "call", "calls"),
            avg = hd(p.avg_duration),
            t = hd(total),
            s = sh.map_or_else(String::new, |s| format!(
                " ({} of the agent's time)",
                pct_text(s)
            )),
            lx = N(label_w),
            ty = N(y + row_h / 2.0 + 3.5),
            clipped = esc(&clip(pname, 24)),
            bx = N(bar_x),
            by = N(y + (row_h - bar_h) / 2.0),
            bw = N(bar_w),
            bh = N(bar_h),
            w = N(w),
            vx = N(bar_x + bar_w + 6.0),
            vs = sh.map_or_else(String::new, |s| format!(" · {}", pct_text(s))),
        )?;
    }
    out.push_str("</svg>\n");
    if phases.len() > shown.len() {
        let rest = &phases[shown.len()..];
        let left = rest.iter().fold(Duration::ZERO, |acc, (_, p)| {
            acc.saturating_add(phase_time(p))
        });
        writeln!(
            out,
            "<p class=\"note\">{} more phases ({} in all) not drawn; the table below lists them.</p>",
            rest.len(),
            hd(left)
        )?;
    }
    out.push_str(
        "<p class=\"note\">Nested phases count inside their parents too, so shares may add up \
         to more than 100%.</p>\n</figure>\n",
    );
    Ok(())
}

/// The phases of the agent's slowest kept executions as waterfalls, one visible at a time.
fn waterfall_figure(
    r: &Report,
    idx: usize,
    name: &str,
    execs: &[ExecutionProfile],
    out: &mut Out,
) -> fmt::Result {
    out.push_str("<figure class=\"wide waterfall\"><figcaption>Execution waterfall ");
    if execs.is_empty() {
        out.push_str(
            "</figcaption>\n<p class=\"muted\">No execution of this agent was kept in detail \
             (see <code>PROFX_MAX_EXECUTIONS</code> and <code>PROFX_SAMPLE</code>).</p></figure>\n",
        );
        return Ok(());
    }
    let slowest_first = |x: &&ExecutionProfile, y: &&ExecutionProfile| {
        y.duration.cmp(&x.duration).then_with(|| x.id.cmp(&y.id))
    };
    let mut picked: Vec<&ExecutionProfile> = execs.iter().collect();
    let cap = if idx < FULL_WATERFALL_AGENTS {
        MAX_WATERFALLS
    } else {
        FEW_WATERFALLS
    };
    if picked.len() > cap {
        picked.select_nth_unstable_by(cap - 1, slowest_first);
        picked.truncate(cap);
    }
    picked.sort_by(slowest_first);
    writeln!(
        out,
        "<span class=\"muted\">— phases of the slowest {}</span></figcaption>",
        if execs.len() == 1 {
            "(and only) kept execution".to_string()
        } else {
            format!("of {} kept executions", execs.len())
        }
    )?;
    if picked.len() > 1 {
        write!(
            out,
            "<div class=\"wf-bar\"><label for=\"wf-pick-{idx}\">Execution</label>\
             <select class=\"wf-pick\" id=\"wf-pick-{idx}\" data-group=\"wf-{idx}\">"
        )?;
        for (k, e) in picked.iter().enumerate() {
            write!(
                out,
                "<option value=\"{k}\"{}>{} — {} — {}</option>",
                if k == 0 { " selected" } else { "" },
                esc(&e.id),
                hd(e.duration),
                if e.success { "ok" } else { "failed" }
            )?;
        }
        writeln!(
            out,
            "</select><span class=\"muted\">the {} slowest</span></div>",
            picked.len()
        )?;
    }
    writeln!(out, "<div id=\"wf-{idx}\">")?;
    for (k, e) in picked.iter().enumerate() {
        writeln!(
            out,
            "<div class=\"wf\"{}>",
            if k == 0 { "" } else { " hidden" }
        )?;
        exec_info(r, e, out)?;
        waterfall_svg(name, e, out)?;
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n</figure>\n");
    Ok(())
}

fn exec_info(r: &Report, e: &ExecutionProfile, out: &mut Out) -> fmt::Result {
    write!(
        out,
        "<dl class=\"exec\"><div><dt>id</dt><dd class=\"mono\">{}</dd></div>\
         <div><dt>status</dt><dd>",
        esc(&e.id)
    )?;
    if e.success {
        out.push_str("<span class=\"status-ok\">ok</span>");
    } else {
        out.push_str("<span class=\"status-failed\">failed</span>");
        if let Some(err) = &e.error {
            write!(out, ": {}", esc(err))?;
        }
    }
    write!(
        out,
        "</dd></div><div><dt>duration</dt><dd>{}</dd></div>",
        hd(e.duration)
    )?;
    if !e.request.is_empty() {
        write!(
            out,
            "<div><dt>request</dt><dd>{}</dd></div>",
            esc(&e.request)
        )?;
    }
    write!(
        out,
        "<div><dt>started</dt><dd>{}</dd></div>",
        esc(&when(e.start))
    )?;
    if r.memory_measured {
        write!(
            out,
            "<div><dt>memory</dt><dd>{} in {}</dd></div>",
            HumanBytes(e.memory_allocated),
            plural(e.allocations, "allocation", "allocations")
        )?;
    } else {
        out.push_str("<div><dt>memory</dt><dd class=\"na\">not measured</dd></div>");
    }
    write!(
        out,
        "<div><dt>threads</dt><dd>{}</dd></div>",
        e.thread_count
    )?;
    if e.phases_dropped > 0 {
        write!(
            out,
            "<div><dt>phases not kept</dt><dd>{}</dd></div>",
            e.phases_dropped
        )?;
    }
    out.push_str("</dl>\n");
    Ok(())
}

fn waterfall_svg(name: &str, e: &ExecutionProfile, out: &mut Out) -> fmt::Result {
    const W: f64 = 1100.0;
    let (label_w, mr, mt, row_h, bar_h) = (230.0, 16.0, 26.0, 20.0, 13.0);
    let plot_x = label_w + 10.0;
    let pw = W - plot_x - mr;

    let mut rows: Vec<_> = e.phases.iter().collect();
    rows.sort_by(|x, y| {
        x.start_offset
            .cmp(&y.start_offset)
            .then_with(|| x.depth.cmp(&y.depth))
    });
    let hidden = rows.len().saturating_sub(MAX_WATERFALL_ROWS);
    rows.truncate(MAX_WATERFALL_ROWS);
    let end = rows
        .iter()
        .map(|p| p.start_offset.saturating_add(p.duration))
        .fold(e.duration, Duration::max);
    let span = (end.as_nanos() as f64).max(1.0);
    let (_, hi, step) = nice_domain(0.0, span, 8.0);
    let sx = |v: f64| plot_x + v / hi * pw;
    let n_rows = rows.len() + 1;
    let h = mt + row_h * n_rows as f64 + 6.0;

    writeln!(
        out,
        "<svg class=\"plot waterfall\" viewBox=\"0 0 {W} {}\" role=\"img\" \
         aria-label=\"Phases of {} execution {}\">",
        N(h),
        esc(name),
        esc(&e.id)
    )?;
    let ticks = (hi / step).round() as usize;
    for t in 0..=ticks {
        let v = step * t as f64;
        let x = sx(v);
        writeln!(
            out,
            "<line class=\"gridline\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"14\" text-anchor=\"{}\">{}</text>",
            N(x),
            N(mt - 4.0),
            N(x),
            N(h - 4.0),
            N(x),
            if t == 0 {
                "start"
            } else if t == ticks {
                "end"
            } else {
                "middle"
            },
            ns_dur(v)
        )?;
    }
    let bar = |out: &mut Out,
               row: usize,
               class: &str,
               label: &str,
               indent: f64,
               start: Duration,
               dur: Duration,
               tip: &str|
     -> fmt::Result {
        let y = mt + row_h * row as f64;
        let x0 = sx(start.as_nanos() as f64);
        let x1 = sx(start.saturating_add(dur).as_nanos() as f64);
        let w = (x1 - x0).max(1.0);
        let max_chars = ((label_w - indent) / 6.4).floor().max(4.0) as usize;
        write!(
            out,
            "<g><title>{tip}</title><text x=\"{}\" y=\"{}\">{}</text>\
             <rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{bar_h}\" rx=\"2\"/>",
            N(indent),
            N(y + row_h / 2.0 + 3.5),
            esc(&clip(label, max_chars)),
            N(x0),
            N(y + (row_h - bar_h) / 2.0),
            N(w),
        )?;
        let text = hd(dur);
        let ty = N(y + row_h / 2.0 + 3.5);
        if W - mr - (x0 + w) >= 64.0 {
            write!(
                out,
                "<text class=\"tick\" x=\"{}\" y=\"{ty}\">{text}</text>",
                N(x0 + w + 4.0)
            )?;
        } else if x0 - plot_x >= 64.0 {
            write!(
                out,
                "<text class=\"tick\" x=\"{}\" y=\"{ty}\" text-anchor=\"end\">{text}</text>",
                N(x0 - 4.0)
            )?;
        } else {
            write!(
                out,
                "<text class=\"on-bar\" x=\"{}\" y=\"{ty}\">{text}</text>",
                N(x0 + 4.0)
            )?;
        }
        out.push_str("</g>\n");
        Ok(())
    };
    bar(
        out,
        0,
        "exec",
        "whole execution",
        0.0,
        Duration::ZERO,
        e.duration,
        &format!(
            "{}: {} ({})",
            esc(&e.id),
            hd(e.duration),
            if e.success { "ok" } else { "failed" }
        ),
    )?;
    for (i, p) in rows.iter().enumerate() {
        let depth = p.depth.min(8);
        let tip = format!(
            "{} — starts at {}, takes {}, depth {}",
            esc(&p.name),
            hd(p.start_offset),
            hd(p.duration),
            p.depth
        );
        bar(
            out,
            i + 1,
            &format!("seg d{}", p.depth % 5),
            &p.name,
            12.0 + depth as f64 * 14.0,
            p.start_offset,
            p.duration,
            &tip,
        )?;
    }
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>\n</svg>",
        N(mt - 4.0),
        N(h - 4.0),
        x = N(plot_x)
    )?;
    if hidden > 0 || e.phases_dropped > 0 {
        out.push_str("<p class=\"note\">");
        if hidden > 0 {
            write!(out, "{hidden} more phase records not drawn. ")?;
        }
        if e.phases_dropped > 0 {
            write!(
                out,
                "{} were not kept by the profiler (<code>PROFX_MAX_PHASES</code>).",
                plural(e.phases_dropped, "phase record", "phase records")
            )?;
        }
        out.push_str("</p>\n");
    }
    Ok(())
}
