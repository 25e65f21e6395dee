//! The latency distribution of an agent: a histogram of its kept executions, or the percentile
//! ladder.

use std::fmt::{self, Write as _};

use super::svg::*;
use super::text::*;
use super::{Out, MAX_BINS};
use crate::{AggregateMetrics, ExecutionProfile};

/// Latency distribution: a histogram of the kept executions with P50/P95/P99 lines, or the
/// percentile ladder when no execution was kept.
pub(super) fn latency_figure(
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

pub(super) fn histogram_svg(
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
    // Over more than two decades (a 43 s outlier among 1.4 ms executions), a linear axis
    // crushes every bar but one into the first pixels: the axis is then logarithmic, from
    // the decade below the fastest to the one above the slowest, and so are the bins.
    let log = dmin >= 1.0 && dmax / dmin > LOG_SCALE_RATIO;
    let (lo, hi, step) = if log {
        (
            10f64.powf(dmin.log10().floor()),
            10f64.powf(dmax.log10().ceil()),
            0.0,
        )
    } else {
        nice_domain(dmin, dmax, 5.0)
    };
    // Positions are computed on `at(v)`: `v` itself, or its logarithm.
    let at = |v: f64| if log { v.max(1.0).log10() } else { v };
    let back = |t: f64| if log { 10f64.powf(t) } else { t };
    let (alo, ahi) = (at(lo), at(hi));
    let bins = (((execs.len() as f64).sqrt() * 2.0).ceil() as usize).clamp(8, MAX_BINS);
    let bw = (ahi - alo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for e in execs {
        let v = at(e.duration.as_nanos() as f64);
        let i = (((v - alo) / bw).floor().max(0.0) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let cmax = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let ystep = nice_step(cmax, 4.0).max(1.0).ceil();
    let ymax = (cmax / ystep).ceil() * ystep;
    let sx = |v: f64| ml + (at(v) - alo) / (ahi - alo) * pw;
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
        grid_row(out, ml, pw, y, c as u64)?;
        c += ystep;
    }
    // Bars.
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let (b0, b1) = (back(alo + bw * i as f64), back(alo + bw * (i + 1) as f64));
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
    axes(out, ml, mt, pw, ph)?;
    out.push('\n');
    if log {
        decade_ticks(out, lo, hi, sx, mt + ph)?;
    } else {
        duration_ticks(out, lo, hi, step, sx, mt + ph)?;
    }
    writeln!(
        out,
        "<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">duration{}</text>\
         <text class=\"axis-title\" transform=\"translate(14 {}) rotate(-90)\" \
         text-anchor=\"middle\">executions</text>",
        N(ml + pw / 2.0),
        N(H - 4.0),
        if log { " (log scale)" } else { "" },
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

/// Durations spanning more than this ratio get a logarithmic axis: two decades.
const LOG_SCALE_RATIO: f64 = 100.0;

/// Ticks at each power of ten from `lo` to `hi` (both powers of ten).
fn decade_ticks(out: &mut Out, lo: f64, hi: f64, x: impl Fn(f64) -> f64, y: f64) -> fmt::Result {
    let mut v = lo;
    while v <= hi * 1.000_001 {
        duration_tick(out, x(v), y, v)?;
        v *= 10.0;
    }
    Ok(())
}

pub(super) fn ladder_svg(name: &str, a: &AggregateMetrics, out: &mut Out) -> fmt::Result {
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
        grid_row(out, ml, pw, y, ns_dur(v))?;
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
    axes(out, ml, mt, pw, ph)?;
    writeln!(
        out,
        "<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">percentile</text>\n</svg>",
        N(ml + pw / 2.0),
        N(H - 4.0)
    )
}
