//! Human-readable durations and sizes.

use std::fmt;
use std::time::Duration;

/// A duration printed with a unit that fits it and no trailing zeros, as the source document
/// writes them: `850ns`, `12.3µs`, `42ms`, `1.5s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        let s = if ns < 1_000 {
            format!("{ns}ns")
        } else {
            // One decimal for µs and ms, two for s; a value that rounds up to 1000 of a unit is
            // written in the next one.
            let units = [(1e3, "µs", 1usize), (1e6, "ms", 1), (1e9, "s", 2)];
            let mut out = String::new();
            for (i, (scale, unit, decimals)) in units.iter().enumerate() {
                let v = ns as f64 / scale;
                let text = format!("{v:.decimals$}");
                let last = i == units.len() - 1;
                if last || text.parse::<f64>().unwrap_or(0.0) < 1000.0 {
                    out = format!("{}{unit}", trim_zeros(&text));
                    break;
                }
            }
            out
        };
        f.pad(&s)
    }
}

/// `42.0` → `42`, `1.50` → `1.5`.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A byte count printed in B, KiB, MiB or GiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanBytes(pub u64);

impl fmt::Display for HumanBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        let s = if self.0 < 1024 {
            format!("{} B", self.0)
        } else if b < 1024.0 * 1024.0 {
            format!("{:.1} KiB", b / 1024.0)
        } else if b < 1024.0 * 1024.0 * 1024.0 {
            format!("{:.1} MiB", b / (1024.0 * 1024.0))
        } else {
            format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
        };
        f.pad(&s)
    }
}

/// `part` as a percentage of `whole`; 0 when `whole` is 0.
/// Whether a busy share (see `AggregateMetrics::busy_share`) says the calls waited: known and
/// under 100% once rounded to a tenth (a sync call is busy throughout).
pub(crate) fn waited(share: Option<f64>) -> bool {
    share.is_some_and(|s| s < 99.95)
}

/// A busy share as a table cell: `"52.4%"`, or `"-"` when not known.
pub(crate) fn busy_cell(share: Option<f64>) -> String {
    match share {
        Some(s) => format!("{s:.1}%"),
        None => "-".to_owned(),
    }
}

pub(crate) fn percent(part: u128, whole: u128) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A memory figure for people: a [`HumanBytes`] size, or "not measured" when allocations were
/// not counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HumanMemory {
    /// Bytes.
    pub(crate) bytes: u64,
    /// Whether allocations were counted at all.
    pub(crate) measured: bool,
}

impl fmt::Display for HumanMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.measured {
            fmt::Display::fmt(&HumanBytes(self.bytes), f)
        } else {
            f.pad("not measured")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_their_unit() {
        let d = |ns| HumanDuration(Duration::from_nanos(ns)).to_string();
        assert_eq!(d(850), "850ns");
        assert_eq!(d(12_345), "12.3µs");
        assert_eq!(d(42_000_000), "42ms");
        assert_eq!(d(42_060_000), "42.1ms");
        assert_eq!(d(1_500_000_000), "1.5s");
        assert_eq!(d(2_000_000_000), "2s");
        assert_eq!(d(999_960), "1ms");
        assert_eq!(d(3_725_000_000_000), "3725s");
    }

    #[test]
    fn sizes_pick_their_unit() {
        let b = |n| HumanBytes(n).to_string();
        assert_eq!(b(512), "512 B");
        assert_eq!(b(1536), "1.5 KiB");
        assert_eq!(b(1_887_436), "1.8 MiB");
    }
}

#[cfg(test)]
mod helper_tests {
    use super::*;

    #[test]
    fn percent_of_nothing_is_zero() {
        assert_eq!(percent(1, 0), 0.0);
        assert_eq!(percent(1, 4), 25.0);
    }

    #[test]
    fn memory_says_when_it_was_not_measured() {
        let m = |bytes, measured| HumanMemory { bytes, measured }.to_string();
        assert_eq!(m(1536, true), "1.5 KiB");
        assert_eq!(m(0, true), "0 B");
        assert_eq!(m(1536, false), "not measured");
    }
}
