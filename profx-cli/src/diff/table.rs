//! The text table of `profx diff`.

use std::fmt::Write as _;
use std::time::Duration;

use profx_report::HumanDuration;

use super::{Change, Compared, Diff, Gate, Threshold, Timing};
use crate::render::one_line;

/// The marker at the start of a row with a regression.
pub const MARKER: &str = "!!";

fn signed_duration(base_ns: u64, new_ns: u64) -> String {
    let (sign, d) = if new_ns >= base_ns {
        ("+", new_ns - base_ns)
    } else {
        ("-", base_ns - new_ns)
    };
    format!("{sign}{}", HumanDuration(Duration::from_nanos(d)))
}

pub(crate) fn signed(v: f64, unit: &str) -> String {
    // No "-0.0": a change that rounds to zero is shown as +0.0.
    let v = if (v * 10.0).round() == 0.0 { 0.0 } else { v };
    format!("{v:+.1}{unit}")
}

fn timing_cell(t: &Timing) -> String {
    let pct = t
        .change_percent
        .map_or_else(|| "n/a".to_string(), |p| signed(p, "%"));
    format!("{pct} ({})", signed_duration(t.base_ns, t.new_ns))
}

/// A change from `base_ns` to `new_ns`, as [`timing_cell`] shows it.
fn change_cell(base_ns: u64, new_ns: u64) -> String {
    let pct = if base_ns == 0 {
        if new_ns == 0 {
            signed(0.0, "%")
        } else {
            "n/a".to_string()
        }
    } else {
        signed(
            (new_ns as f64 - base_ns as f64) * 100.0 / base_ns as f64,
            "%",
        )
    };
    format!("{pct} ({})", signed_duration(base_ns, new_ns))
}

/// The diff as an aligned table, ending with the regression count line.
pub fn render(d: &Diff, g: &Gate, base_name: &str, new_name: &str) -> String {
    let header = [
        "",
        "AGENT / PHASE",
        "AVG",
        "SELF",
        "P95",
        "P99",
        "SUCCESS",
        "CANCELLED",
        "",
    ];
    let mut lines: Vec<[String; 9]> = vec![header.map(String::from)];
    for r in &d.rows {
        let name = match &r.phase {
            None => one_line(&r.agent),
            Some(p) => format!("  {}", one_line(p)),
        };
        let line = match &r.change {
            Change::Compared(c) => {
                let regressed = c.regressed();
                let success = c
                    .success_rate
                    .as_ref()
                    .map_or_else(|| "n/a".to_string(), |s| signed(s.change_points, "pp"));
                [
                    if regressed.is_empty() { "" } else { MARKER }.to_string(),
                    name,
                    timing_cell(&c.avg),
                    c.self_ns
                        .map_or_else(|| "n/a".to_string(), |[b, n]| change_cell(b, n)),
                    timing_cell(&c.p95),
                    timing_cell(&c.p99),
                    success,
                    match c.cancelled {
                        [0, 0] => "0".to_string(),
                        [b, n] => format!("{b} -> {n}"),
                    },
                    verdict(c),
                ]
            }
            Change::Added | Change::Removed => {
                let note = if matches!(r.change, Change::Added) {
                    format!("added (only in {new_name})")
                } else {
                    format!("removed (only in {base_name})")
                };
                let dash = || "-".to_string();
                [
                    String::new(),
                    name,
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    note,
                ]
            }
        };
        lines.push(line);
    }
    let mut widths = [0usize; 9];
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!(
        "base: {base_name}\nnew:  {new_name}\nthreshold: {} (and at least {} slower, over {} calls or more, significant at {}% on the kept samples)\n\n",
        g.threshold,
        HumanDuration(g.min_delta),
        g.min_calls,
        d.confidence_percent
    );
    for l in &lines {
        let mut s = String::new();
        for (i, (cell, w)) in l.iter().zip(widths).enumerate() {
            if i == 8 {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&summary_line(d.regressions, g.threshold));
    out.push('\n');
    out
}

/// "N regression(s) above T" or "no regression above T".
pub fn summary_line(regressions: usize, t: Threshold) -> String {
    match regressions {
        0 => format!("no regression above {t}"),
        1 => format!("1 regression above {t}"),
        n => format!("{n} regressions above {t}"),
    }
}

/// The last column of a compared row: its regressions (with those no sample could confirm
/// said so), else what was above the threshold and why it is not a regression.
fn verdict(c: &Compared) -> String {
    let regressed = c.regressed();
    if !regressed.is_empty() {
        let mut v = format!("REGRESSION: {}", regressed.join(", "));
        let mut notes: Vec<&str> = c
            .timings()
            .into_iter()
            .filter(|(_, t)| t.regression)
            .filter_map(|(_, t)| t.note.as_deref())
            .collect();
        notes.dedup();
        if !notes.is_empty() {
            let _ = write!(v, " ({})", notes.join("; "));
        }
        v
    } else {
        let ignored = c.ignored();
        if ignored.is_empty() {
            String::new()
        } else {
            format!("ignored: {}", ignored.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_never_show_minus_zero() {
        assert_eq!(signed(-0.01, "%"), "+0.0%");
        assert_eq!(signed(-2.0, "pp"), "-2.0pp");
        assert_eq!(signed_duration(10, 4), "-6ns");
    }
}
