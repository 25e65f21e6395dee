//! The bucket bounds every histogram shares, and placing an observation in them.

use std::time::Duration;

/// The upper bounds of every histogram's buckets: 100 ns to 100 s on a 1–2.5–5 ladder, so that
/// a sub-microsecond phase and a minute-long request each get buckets of their own;
/// observations above 100 s count in the `+Inf` bucket only.
///
/// `le` (in seconds, as exposed): 1e-7, 2.5e-7, 5e-7, 0.000001, 0.0000025, 0.000005, 0.00001,
/// 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
/// 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, +Inf. Prometheus's default buckets (0.005 … 10) are a
/// subset, so `histogram_quantile` and aggregation across processes work the same over the
/// shared bounds. An observation equal to a bound counts in that bound's bucket (`le` is "less
/// than or equal").
///
/// ```
/// use std::time::Duration;
/// let b = profx_runtime::metrics::HISTOGRAM_BOUNDS;
/// assert_eq!(b.first(), Some(&Duration::from_nanos(100)));
/// assert_eq!(b.last(), Some(&Duration::from_secs(100)));
/// ```
pub const HISTOGRAM_BOUNDS: [Duration; 28] = [
    Duration::from_nanos(100),
    Duration::from_nanos(250),
    Duration::from_nanos(500),
    Duration::from_micros(1),
    Duration::from_nanos(2_500),
    Duration::from_micros(5),
    Duration::from_micros(10),
    Duration::from_micros(25),
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2_500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_millis(2_500),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(25),
    Duration::from_secs(50),
    Duration::from_secs(100),
];

/// Buckets, with `+Inf`.
pub(super) const BUCKETS: usize = HISTOGRAM_BOUNDS.len() + 1;

/// [`HISTOGRAM_BOUNDS`] in nanoseconds, for the update path.
#[cfg(feature = "enabled")]
const BOUNDS_NS: [u64; HISTOGRAM_BOUNDS.len()] = {
    let mut out = [0u64; HISTOGRAM_BOUNDS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = HISTOGRAM_BOUNDS[i].as_nanos() as u64;
        i += 1;
    }
    out
};

/// Observations are clamped to this (about 208 days), so the sum cannot wrap before it has
/// added a thousand of them.
pub(super) const MAX_OBSERVATION_NS: u64 = 1 << 54;

/// The bucket of an observation: the first bound at or above it, or `+Inf`.
#[cfg(feature = "enabled")]
#[inline(always)]
pub(super) fn bucket_index(ns: u64) -> usize {
    BOUNDS_NS.partition_point(|&bound| bound < ns)
}

#[inline(always)]
pub(super) fn clamp_ns(d: Duration) -> u64 {
    let ns = d.as_nanos();
    if ns > MAX_OBSERVATION_NS as u128 {
        MAX_OBSERVATION_NS
    } else {
        ns as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_increasing() {
        assert!(HISTOGRAM_BOUNDS.windows(2).all(|w| w[0] < w[1]));
        // Prometheus's default buckets are among them.
        for s in [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ] {
            assert!(HISTOGRAM_BOUNDS.iter().any(|b| b.as_secs_f64() == s), "{s}");
        }
    }

    #[cfg(feature = "enabled")]
    #[test]
    fn bucket_placement() {
        let us = |n: u64| n * 1_000;
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(100), 0); // le is inclusive
        assert_eq!(bucket_index(101), 1); // → 250 ns
        assert_eq!(bucket_index(us(5)), 5);
        assert_eq!(bucket_index(us(5) + 1), 6);
        assert_eq!(bucket_index(us(10)), 6);
        assert_eq!(bucket_index(us(11)), 7);
        assert_eq!(bucket_index(us(1_000)), 12); // 1 ms
        assert_eq!(bucket_index(us(1_001)), 13); // → 2.5 ms
        assert_eq!(bucket_index(100_000_000_000), 27);
        assert_eq!(bucket_index(100_000_000_001), 28); // +Inf
        assert_eq!(bucket_index(u64::MAX), 28);
        for (i, b) in BOUNDS_NS.iter().enumerate() {
            assert_eq!(bucket_index(*b), i);
            assert_eq!(bucket_index(*b + 1), i + 1);
        }
    }
}
