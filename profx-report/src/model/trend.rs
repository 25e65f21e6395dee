//! The memory trend: a least-squares line through memory over time, read as increasing,
//! decreasing or stable.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::serde_util::duration_ns;
use crate::HumanBytes;

/// Which way memory is heading (see [`MemoryTrend`] for the rule).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendDirection {
    /// Memory grows by more than the tolerance over the sampled time.
    Increasing,
    /// Memory shrinks by more than the tolerance over the sampled time.
    Decreasing,
    /// The change over the sampled time is within the tolerance: noise, not a trend.
    #[default]
    Stable,
}

impl fmt::Display for TrendDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            TrendDirection::Increasing => "increasing",
            TrendDirection::Decreasing => "decreasing",
            TrendDirection::Stable => "stable",
        })
    }
}

/// The memory figure a trend was fitted on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryKind {
    /// The process's resident set (what the operating system gave it and it touched).
    #[default]
    Resident,
    /// Bytes live on the heap, counted by `profx::CountingAlloc` (feature `alloc`).
    HeapLive,
}

impl MemoryKind {
    /// The smallest change over the sampled time that counts as a trend, whatever the size of
    /// the memory: page and allocator granularity make resident memory move in steps of
    /// hundreds of KiB without any leak, while live heap bytes are exact.
    pub const fn tolerance_floor(self) -> u64 {
        match self {
            MemoryKind::Resident => 1024 * 1024,
            MemoryKind::HeapLive => 64 * 1024,
        }
    }
}

impl fmt::Display for MemoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            MemoryKind::Resident => "resident memory",
            MemoryKind::HeapLive => "live heap",
        })
    }
}

/// Where memory is heading: the slope of a least-squares line through the samples.
///
/// **The rule.** With `n ≥ 2` samples `(tᵢ, bytesᵢ)` over a span `T = t_last − t_first > 0`,
/// the rate is the least-squares slope `Σ(t−t̄)(b−b̄) / Σ(t−t̄)²` in bytes per second. The
/// fitted change over the run, `|rate × T|`, is compared with a tolerance of
/// `max(2% of the mean, floor)` where the floor is 1 MiB for resident memory and 64 KiB for
/// live heap bytes ([`MemoryKind::tolerance_floor`]): below it the trend is
/// [`Stable`](TrendDirection::Stable) — noise, a one-off step, or growth too small to matter —
/// otherwise [`Increasing`](TrendDirection::Increasing) or
/// [`Decreasing`](TrendDirection::Decreasing) by the sign of the rate.
///
/// The source document's leak alert fired on an increasing trend faster than 5 MB/s; profx's
/// summary warns from [`MemoryTrend::GROWTH_WARNING_BYTES_PER_SEC`] (1 MiB/s) on.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use profx_report::{MemoryKind, MemoryTrend, TrendDirection};
///
/// let t0 = SystemTime::UNIX_EPOCH;
/// // 10 MiB, then 2 MiB more every second.
/// let points: Vec<_> = (0..10u64)
///     .map(|i| (t0 + Duration::from_secs(i), (10 + 2 * i) << 20))
///     .collect();
/// let trend = MemoryTrend::fit(&points, MemoryKind::Resident).unwrap();
/// assert_eq!(trend.direction, TrendDirection::Increasing);
/// assert_eq!(trend.rate_bytes_per_sec, 2.0 * 1024.0 * 1024.0);
/// assert_eq!(trend.to_string(), "increasing at +2.0 MiB/s (resident memory: 10.0 MiB → 28.0 MiB over 9s)");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryTrend {
    /// Increasing, decreasing or stable.
    pub direction: TrendDirection,
    /// The fitted slope, in bytes per second (negative when memory shrinks). It is set even
    /// when the direction is stable.
    pub rate_bytes_per_sec: f64,
    /// The memory at the first sample, in bytes.
    pub start_bytes: u64,
    /// The memory at the last sample, in bytes.
    pub end_bytes: u64,
    /// What was fitted: resident memory, or live heap bytes when the counting allocator
    /// measured them.
    #[serde(default)]
    pub memory: MemoryKind,
    /// From the first sample to the last.
    #[serde(default, with = "duration_ns")]
    pub span: Duration,
    /// Number of samples fitted.
    #[serde(default)]
    pub samples: u64,
}

impl MemoryTrend {
    /// The growth rate from which the summary warns of a possible leak: 1 MiB/s. (The source
    /// document's alert used 5 MB/s for long-running services; a report at exit covers shorter
    /// runs, where a lower rate already matters.)
    pub const GROWTH_WARNING_BYTES_PER_SEC: f64 = 1024.0 * 1024.0;
    /// The fewest snapshots a growth warning is based on.
    pub const GROWTH_WARNING_MIN_SAMPLES: u64 = 5;
    /// The shortest time a growth warning is based on.
    pub const GROWTH_WARNING_MIN_SPAN: Duration = Duration::from_secs(5);

    /// The fewest samples a trend is fitted through: with fewer, a run's start-up step or one
    /// noisy reading would decide the direction.
    pub const MIN_SAMPLES: usize = 5;

    /// Fits a trend through `(time, bytes)` samples in time order. `None` with fewer than
    /// [`MIN_SAMPLES`](Self::MIN_SAMPLES) samples or when they all have the same time.
    pub fn fit(points: &[(SystemTime, u64)], memory: MemoryKind) -> Option<MemoryTrend> {
        let (first, last) = (points.first()?, points.last()?);
        if points.len() < Self::MIN_SAMPLES {
            return None;
        }
        let secs = |t: SystemTime| match t.duration_since(first.0) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        let n = points.len() as f64;
        let (mut sx, mut sy) = (0.0, 0.0);
        for &(t, b) in points {
            sx += secs(t);
            sy += b as f64;
        }
        let (mx, my) = (sx / n, sy / n);
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for &(t, b) in points {
            let dx = secs(t) - mx;
            sxy += dx * (b as f64 - my);
            sxx += dx * dx;
        }
        if sxx <= 0.0 || !sxx.is_finite() {
            return None;
        }
        let rate = sxy / sxx;
        let span = last.0.duration_since(first.0).unwrap_or_default();
        let change = rate * span.as_secs_f64();
        let tolerance = (my * 0.02).max(memory.tolerance_floor() as f64);
        let direction = if change.abs() < tolerance {
            TrendDirection::Stable
        } else if change > 0.0 {
            TrendDirection::Increasing
        } else {
            TrendDirection::Decreasing
        };
        Some(MemoryTrend {
            direction,
            rate_bytes_per_sec: rate,
            start_bytes: first.1,
            end_bytes: last.1,
            memory,
            span,
            samples: points.len() as u64,
        })
    }

    /// Whether memory grows fast enough to warn about: increasing at
    /// [`GROWTH_WARNING_BYTES_PER_SEC`](Self::GROWTH_WARNING_BYTES_PER_SEC) or more, over at
    /// least [`GROWTH_WARNING_MIN_SAMPLES`](Self::GROWTH_WARNING_MIN_SAMPLES) snapshots and
    /// [`GROWTH_WARNING_MIN_SPAN`](Self::GROWTH_WARNING_MIN_SPAN): a program's start-up, when
    /// every cache and pool fills, is not a leak.
    pub fn is_growth_warning(&self) -> bool {
        self.direction == TrendDirection::Increasing
            && self.rate_bytes_per_sec >= Self::GROWTH_WARNING_BYTES_PER_SEC
            && self.samples >= Self::GROWTH_WARNING_MIN_SAMPLES
            && self.span >= Self::GROWTH_WARNING_MIN_SPAN
    }
}

impl fmt::Display for MemoryTrend {
    /// `increasing at +1.2 MiB/s (resident memory: 10.0 MiB → 22.0 MiB over 10s)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {} ({}: {} → {} over {})",
            self.direction,
            HumanRate(self.rate_bytes_per_sec),
            self.memory,
            HumanBytes(self.start_bytes),
            HumanBytes(self.end_bytes),
            crate::HumanDuration(self.span)
        )
    }
}

/// A signed rate in bytes per second: `+1.2 MiB/s`, `-512 B/s`, `0 B/s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct HumanRate(pub(crate) f64);

impl fmt::Display for HumanRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = if self.0.is_finite() { self.0 } else { 0.0 };
        let magnitude = HumanBytes(r.abs().round().min(u64::MAX as f64) as u64);
        let sign = if magnitude.0 == 0 {
            ""
        } else if r < 0.0 {
            "-"
        } else {
            "+"
        };
        f.pad(&format!("{sign}{magnitude}/s"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn series(values: &[u64], step: Duration) -> Vec<(SystemTime, u64)> {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        values
            .iter()
            .enumerate()
            .map(|(i, &b)| (t0 + step * i as u32, b))
            .collect()
    }

    #[test]
    fn a_straight_line_gives_its_exact_slope() {
        // 100 MiB + 3 MiB per second, sampled every 250 ms.
        let v: Vec<u64> = (0..40).map(|i| 100 * MIB + 3 * MIB * i / 4).collect();
        let t = MemoryTrend::fit(
            &series(&v, Duration::from_millis(250)),
            MemoryKind::Resident,
        )
        .unwrap();
        assert_eq!(t.direction, TrendDirection::Increasing);
        assert!(
            (t.rate_bytes_per_sec - 3.0 * MIB as f64).abs() < 1e-3,
            "{}",
            t.rate_bytes_per_sec
        );
        assert_eq!(t.start_bytes, 100 * MIB);
        assert_eq!(t.end_bytes, v[39]);
        assert_eq!(t.span, Duration::from_millis(250 * 39));
        assert_eq!(t.samples, 40);

        let down: Vec<u64> = v.iter().rev().copied().collect();
        let t = MemoryTrend::fit(
            &series(&down, Duration::from_millis(250)),
            MemoryKind::Resident,
        )
        .unwrap();
        assert_eq!(t.direction, TrendDirection::Decreasing);
        assert!((t.rate_bytes_per_sec + 3.0 * MIB as f64).abs() < 1e-3);
    }

    #[test]
    fn the_slope_is_least_squares_not_end_to_end() {
        // y = 2x with the last point pulled down: the fit keeps most of the slope.
        let v = [0, 2 * MIB, 4 * MIB, 6 * MIB, 8 * MIB, 5 * MIB];
        let t =
            MemoryTrend::fit(&series(&v, Duration::from_secs(1)), MemoryKind::Resident).unwrap();
        // Σ(x−x̄)(y−ȳ)/Σ(x−x̄)² over x = 0..5: 22.5 MiB·s / 17.5 s² (end to end it would be 1).
        let expected = 22.5 / 17.5 * MIB as f64;
        assert!((t.rate_bytes_per_sec - expected).abs() < 1e-6 * MIB as f64);
        assert_eq!(t.direction, TrendDirection::Increasing);
    }

    #[test]
    fn noise_around_a_level_is_stable() {
        // ±0.8 MiB of deterministic jitter around 50 MiB: no trend.
        let v: Vec<u64> = (0..200u64)
            .map(|i| {
                let jitter = ((i * 7919) % 17) as i64 - 8; // -8..=8
                (50 * MIB as i64 + jitter * (MIB as i64) / 10) as u64
            })
            .collect();
        let t =
            MemoryTrend::fit(&series(&v, Duration::from_millis(20)), MemoryKind::Resident).unwrap();
        assert_eq!(t.direction, TrendDirection::Stable, "{t}");
        assert!(!t.is_growth_warning());
    }

    #[test]
    fn a_small_rise_within_the_tolerance_is_stable() {
        // +800 KiB over the run on 20 MiB: under the 1 MiB floor for resident memory…
        let v: Vec<u64> = (0..=10).map(|i| 20 * MIB + 80 * 1024 * i).collect();
        let s = series(&v, Duration::from_millis(100));
        let t = MemoryTrend::fit(&s, MemoryKind::Resident).unwrap();
        assert_eq!(t.direction, TrendDirection::Stable);
        assert!(t.rate_bytes_per_sec > 0.0, "the rate is kept");
        // …but well over the 64 KiB floor when the figure is exact live heap bytes.
        let t = MemoryTrend::fit(&s, MemoryKind::HeapLive).unwrap();
        assert_eq!(t.direction, TrendDirection::Increasing);
        // On 1 GiB, 2% is 20 MiB: a 10 MiB rise is still stable.
        let v: Vec<u64> = (0..=10).map(|i| 1024 * MIB + MIB * i).collect();
        let t =
            MemoryTrend::fit(&series(&v, Duration::from_secs(1)), MemoryKind::Resident).unwrap();
        assert_eq!(t.direction, TrendDirection::Stable);
    }

    #[test]
    fn too_few_points_or_no_time_gives_none() {
        assert!(MemoryTrend::fit(&[], MemoryKind::Resident).is_none());
        let one = series(&[MIB], Duration::from_secs(1));
        assert!(MemoryTrend::fit(&one, MemoryKind::Resident).is_none());
        let same_time = series(&[MIB, 9 * MIB], Duration::ZERO);
        assert!(MemoryTrend::fit(&same_time, MemoryKind::Resident).is_none());
        // Two snapshots, or four: a start-up step would decide the direction. No trend.
        let two = series(&[MIB, 9 * MIB], Duration::from_secs(2));
        assert!(MemoryTrend::fit(&two, MemoryKind::Resident).is_none());
        let four = series(&[MIB, 9 * MIB, 9 * MIB, 9 * MIB], Duration::from_secs(1));
        assert!(MemoryTrend::fit(&four, MemoryKind::Resident).is_none());
        let five = series(
            &[MIB, 3 * MIB, 5 * MIB, 7 * MIB, 9 * MIB],
            Duration::from_secs(1),
        );
        let t = MemoryTrend::fit(&five, MemoryKind::Resident).unwrap();
        assert_eq!(t.rate_bytes_per_sec, 2.0 * MIB as f64);
        assert_eq!(t.direction, TrendDirection::Increasing);
        // Five snapshots over four seconds are too little to call a leak.
        assert!(!t.is_growth_warning());
    }

    #[test]
    fn a_warning_needs_enough_snapshots_over_enough_time() {
        // 4 MiB/s, steadily: a warning over 6 snapshots and 5 s…
        let v: Vec<u64> = (0..6).map(|i| 10 * MIB + 4 * MIB * i).collect();
        let t =
            MemoryTrend::fit(&series(&v, Duration::from_secs(1)), MemoryKind::Resident).unwrap();
        assert!(t.is_growth_warning(), "{t}");
        // …not over the same 6 snapshots taken within half a second (a short run's start-up).
        let v: Vec<u64> = (0..6).map(|i| 10 * MIB + MIB / 2 * i).collect();
        let t = MemoryTrend::fit(
            &series(&v, Duration::from_millis(100)),
            MemoryKind::Resident,
        )
        .unwrap();
        assert_eq!(t.direction, TrendDirection::Increasing);
        assert!(!t.is_growth_warning(), "{t}");
    }

    #[test]
    fn the_warning_needs_an_increasing_trend_fast_enough() {
        let v: Vec<u64> = (0..=10).map(|i| 100 * MIB + MIB / 2 * i).collect();
        let t =
            MemoryTrend::fit(&series(&v, Duration::from_secs(1)), MemoryKind::Resident).unwrap();
        assert_eq!(t.direction, TrendDirection::Increasing);
        assert!(!t.is_growth_warning(), "0.5 MiB/s is under the threshold");
    }

    #[test]
    fn rates_read_with_sign_and_unit() {
        assert_eq!(HumanRate(1.25 * MIB as f64).to_string(), "+1.2 MiB/s");
        assert_eq!(HumanRate(-512.0).to_string(), "-512 B/s");
        assert_eq!(HumanRate(0.2).to_string(), "0 B/s");
        assert_eq!(HumanRate(f64::NAN).to_string(), "0 B/s");
    }

    #[test]
    fn serde_uses_lowercase_directions() {
        let t = MemoryTrend {
            direction: TrendDirection::Increasing,
            rate_bytes_per_sec: 1.5,
            start_bytes: 1,
            end_bytes: 2,
            memory: MemoryKind::HeapLive,
            span: Duration::from_secs(1),
            samples: 2,
        };
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains("\"direction\":\"increasing\""), "{json}");
        assert!(json.contains("\"memory\":\"heap_live\""), "{json}");
        assert_eq!(serde_json::from_str::<MemoryTrend>(&json).unwrap(), t);
        // The minimal form (the source document's four fields) reads too.
        let old =
            r#"{"direction":"stable","rate_bytes_per_sec":0.0,"start_bytes":5,"end_bytes":5}"#;
        let t: MemoryTrend = serde_json::from_str(old).unwrap();
        assert_eq!(t.memory, MemoryKind::Resident);
    }
}
