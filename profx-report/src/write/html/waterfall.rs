//! The phases of an agent's slowest kept executions as waterfalls, one visible at a time.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::svg::*;
use super::text::*;
use super::{Out, FEW_WATERFALLS, FULL_WATERFALL_AGENTS, MAX_WATERFALLS, MAX_WATERFALL_ROWS};
use crate::{ExecutionProfile, Outcome};
use crate::{HumanBytes, Report};

/// The phases of the agent's slowest kept executions as waterfalls, one visible at a time.
pub(super) fn waterfall_figure(
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
                status(e.outcome)
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

pub(super) fn exec_info(r: &Report, e: &ExecutionProfile, out: &mut Out) -> fmt::Result {
    write!(
        out,
        "<dl class=\"exec\"><div><dt>id</dt><dd class=\"mono\">{}</dd></div>\
         <div><dt>status</dt><dd>",
        esc(&e.id)
    )?;
    match e.outcome {
        Outcome::Success => out.push_str("<span class=\"status-ok\">ok</span>"),
        Outcome::Failure => {
            out.push_str("<span class=\"status-failed\">failed</span>");
            if let Some(err) = &e.error {
                write!(out, ": {}", esc(err))?;
            }
        }
        Outcome::Cancelled => out.push_str(
            "<span class=\"status-cancelled\" title=\"dropped before it completed\">cancelled</span>",
        ),
    }
    write!(
        out,
        "</dd></div><div><dt>duration</dt><dd>{}</dd></div>",
        hd(e.duration)
    )?;
    if let Some(parent) = &e.parent {
        write!(
            out,
            "<div><dt>inside</dt><dd class=\"mono\" title=\"the execution this one ran inside\">{}</dd></div>",
            esc(parent)
        )?;
    }
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

pub(super) fn waterfall_svg(name: &str, e: &ExecutionProfile, out: &mut Out) -> fmt::Result {
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
        &match &e.parent {
            Some(parent) => format!(
                "{}: {} ({}), inside {}",
                esc(&e.id),
                hd(e.duration),
                status(e.outcome),
                esc(parent)
            ),
            None => format!("{}: {} ({})", esc(&e.id), hd(e.duration), status(e.outcome)),
        },
    )?;
    for (i, p) in rows.iter().enumerate() {
        let depth = p.depth.min(8);
        let tip = format!(
            "{} — starts at {}, takes {}, depth {}{}",
            esc(&p.name),
            hd(p.start_offset),
            hd(p.duration),
            p.depth,
            ended(p.outcome, " — ")
        );
        let ended = ended(p.outcome, " ");
        bar(
            out,
            i + 1,
            &format!("seg d{}{ended}", p.depth % 5),
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

/// A phase's outcome after `sep` when it did not succeed (for its tooltip and its bar's class),
/// else nothing.
fn ended(o: Outcome, sep: &str) -> String {
    match o {
        Outcome::Success => String::new(),
        _ => format!("{sep}{}", status(o)),
    }
}

/// An execution's outcome in a word.
fn status(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "ok",
        Outcome::Failure => "failed",
        Outcome::Cancelled => "cancelled",
    }
}
