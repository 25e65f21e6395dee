//! The System section: averages, the memory trend and the plot of memory over time.

use std::fmt::{self, Write as _};

use super::overview::card;
use super::svg::*;
use super::text::*;
use super::Out;
use crate::model::trend::HumanRate;
use crate::{HumanBytes, Report};
use crate::{MemoryPoint, MemoryTrend, SystemSummary, TrendDirection};

pub(super) fn section(r: &Report, out: &mut Out) -> fmt::Result {
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
pub(super) fn memory_figure(s: &SystemSummary, out: &mut Out) -> fmt::Result {
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

pub(super) fn memory_svg(s: &SystemSummary, out: &mut Out) -> fmt::Result {
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
        grid_row(
            out,
            ml,
            pw,
            y,
            if v == 0.0 {
                "0".to_string()
            } else {
                HumanBytes(v.round() as u64).to_string()
            },
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
    duration_ticks(out, 0.0, t_hi, t_step, sx, mt + ph)?;
    axes(out, ml, mt, pw, ph)?;
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">time since the first \
         snapshot</text>\
         <text class=\"axis-title\" transform=\"translate(14 {}) rotate(-90)\" \
         text-anchor=\"middle\">memory</text>\
         <text class=\"axis-title\" transform=\"translate({} {}) rotate(90)\" \
         text-anchor=\"middle\">threads</text>",
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
