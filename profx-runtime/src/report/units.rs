//! Human-readable durations and sizes.

use std::fmt;
use std::time::Duration;

/// A duration printed with a unit that fits it: `850ns`, `12.3µs`, `42.0ms`, `1.50s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        let s = if ns < 1_000 {
            format!("{ns}ns")
        } else if ns < 1_000_000 {
            format!("{:.1}µs", ns as f64 / 1e3)
        } else if ns < 1_000_000_000 {
            format!("{:.1}ms", ns as f64 / 1e6)
        } else {
            format!("{:.2}s", ns as f64 / 1e9)
        };
        f.pad(&s)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_their_unit() {
        let d = |ns| HumanDuration(Duration::from_nanos(ns)).to_string();
        assert_eq!(d(850), "850ns");
        assert_eq!(d(12_345), "12.3µs");
        assert_eq!(d(42_000_000), "42.0ms");
        assert_eq!(d(1_500_000_000), "1.50s");
    }

    #[test]
    fn sizes_pick_their_unit() {
        let b = |n| HumanBytes(n).to_string();
        assert_eq!(b(512), "512 B");
        assert_eq!(b(1536), "1.5 KiB");
        assert_eq!(b(1_887_436), "1.8 MiB");
    }
}
