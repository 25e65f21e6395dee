//! The phase breakdown of an agent: each phase's total time as a horizontal bar.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::svg::*;
use super::text::*;
use super::{Out, MAX_BREAKDOWN_BARS};
use crate::{AggregateMetrics, PhaseMetrics};

/// Phase breakdown: each phase's total time as a horizontal bar, the most first.
pub(super) fn breakdown_figure(
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
