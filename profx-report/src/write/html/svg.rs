//! SVG primitives shared by the plots: numbers in SVG coordinates, duration tick labels and
//! "nice" axis scales.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::Out;
use crate::HumanDuration;

/// An axis label: a duration of `ns` nanoseconds, "0" for zero.
pub(super) struct Tick(f64);

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

pub(super) fn ns_dur(ns: f64) -> Tick {
    Tick(ns)
}

/// A "nice" step (1, 2 or 5 × 10^k) that cuts `range` into about `target` parts.
pub(super) fn nice_step(range: f64, target: f64) -> f64 {
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
pub(super) fn nice_domain(min: f64, max: f64, target: f64) -> (f64, f64, f64) {
    let step = nice_step(max - min, target);
    let lo = (min / step).floor() * step;
    let mut hi = (max / step).ceil() * step;
    if hi <= lo {
        hi = lo + step;
    }
    (lo, hi, step)
}

/// Numbers in SVG coordinates, with one decimal at most.
pub(super) struct N(pub(super) f64);

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

/// One tick of a duration axis below a plot whose bottom is at `y`: a short line at `px` and
/// the label of `ns` nanoseconds.
pub(super) fn duration_tick(out: &mut Out, px: f64, y: f64, ns: f64) -> fmt::Result {
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        N(px),
        N(y),
        N(px),
        N(y + 4.0),
        N(px),
        N(y + 16.0),
        ns_dur(ns)
    )
}

/// The ticks of a duration axis below a plot whose bottom is at `y`: at `lo`, `lo + step`, … up
/// to `hi` (in nanoseconds), each a short line and its label, placed by `x`.
pub(super) fn duration_ticks(
    out: &mut Out,
    lo: f64,
    hi: f64,
    step: f64,
    x: impl Fn(f64) -> f64,
    y: f64,
) -> fmt::Result {
    let ticks = ((hi - lo) / step).round() as usize;
    for k in 0..=ticks {
        let v = lo + step * k as f64;
        duration_tick(out, x(v), y, v)?;
    }
    Ok(())
}

/// A horizontal grid line across the plot area (`x` to `x + width`) at `y`, with its `label` to
/// the left of the area.
pub(super) fn grid_row(
    out: &mut Out,
    x: f64,
    width: f64,
    y: f64,
    label: impl fmt::Display,
) -> fmt::Result {
    writeln!(
        out,
        "<line class=\"gridline\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        N(x),
        N(y),
        N(x + width),
        N(y),
        N(x - 6.0),
        N(y + 3.5),
        label
    )
}

/// The x axis along the bottom of the plot area (`left`, `top`, `width`, `height`) and the y
/// axis along its left side, with no newline after them.
pub(super) fn axes(out: &mut Out, left: f64, top: f64, width: f64, height: f64) -> fmt::Result {
    write!(
        out,
        "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
         <line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
        N(left),
        N(top + height),
        N(left + width),
        N(top + height),
        N(left),
        N(top),
        N(left),
        N(top + height)
    )
}
