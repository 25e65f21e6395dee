//! Text shared by every part of the page: HTML escaping, clipped names, figures as text, and the
//! time spent in agents and phases.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::{AggregateMetrics, PhaseMetrics};
use crate::{HumanBytes, HumanDuration, Report};

/// HTML-escapes text for element content and quoted attribute values.
pub(super) struct Esc<'a>(&'a str);

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

pub(super) fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

/// `s` cut to at most `max` characters, with an ellipsis when cut.
pub(super) fn clip(s: &str, max: usize) -> Cow<'_, str> {
    let max = max.max(2);
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let end = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..end]))
        }
    }
}

pub(super) fn hd(d: Duration) -> HumanDuration {
    HumanDuration(d)
}

/// `d` times `n`, saturating.
pub(super) fn times(d: Duration, n: u64) -> Duration {
    let ns = d.as_nanos().saturating_mul(n as u128);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// Time spent in an agent: executions × mean duration.
pub(super) fn agent_time(a: &AggregateMetrics) -> Duration {
    times(a.avg_duration, a.total_executions)
}

/// Time spent in a phase: its total, or calls × mean when the total is not set.
pub(super) fn phase_time(p: &PhaseMetrics) -> Duration {
    if p.total_duration.is_zero() {
        times(p.avg_duration, p.calls)
    } else {
        p.total_duration
    }
}

pub(super) fn share(part: Duration, whole: Duration) -> Option<f64> {
    (!whole.is_zero()).then(|| part.as_secs_f64() * 100.0 / whole.as_secs_f64())
}

pub(super) fn pct_text(p: f64) -> String {
    if (99.95..=100.0).contains(&p) {
        "100%".to_string()
    } else if p > 0.0 && p < 0.1 {
        "<0.1%".to_string()
    } else {
        format!("{p:.1}%")
    }
}

/// An agent's success rate as a cell's class and text ("n/a" when none completed).
pub(super) fn rate_cell(a: &crate::AggregateMetrics) -> (&'static str, String) {
    match a.success_rate_checked() {
        Some(rate) => (rate_class(rate), pct_text(rate)),
        None => ("na", "n/a".to_string()),
    }
}

pub(super) fn rate_class(rate: f64) -> &'static str {
    if rate >= 99.0 {
        "good"
    } else if rate >= 95.0 {
        "fair"
    } else {
        "poor"
    }
}

pub(super) fn when(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replacen('T', " ", 1)
        .replace('Z', " UTC")
}

pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn ratio(d: Duration, t: Duration) -> f64 {
    if t.is_zero() {
        f64::INFINITY
    } else {
        d.as_secs_f64() / t.as_secs_f64()
    }
}

pub(super) fn mem_cell(r: &Report, bytes: u64) -> String {
    if r.memory_measured {
        HumanBytes(bytes).to_string()
    } else {
        "<span class=\"na\">not measured</span>".to_string()
    }
}
