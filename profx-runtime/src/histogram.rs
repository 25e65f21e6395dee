//! A log-linear histogram of nanosecond values, within 0.8% of the exact value.
//!
//! Values below 128 ns have a bucket each. Above, every power of two is split into 64 equal
//! buckets, so a bucket is at most 1/64 of its lower bound wide and its midpoint is within
//! 1/128 (0.78%) of any value in it. Values are clamped to `MAX_TRACKED` (2^44 ns, about
//! 4.9 hours); min, max and sum are kept exactly beside the histogram.
//! 2,496 buckets: 19.5 KiB of counters per (key, thread) — HdrHistogram at 3 significant
//! digits over the same range needs about ten times that.

/// Linear buckets below this value.
const LINEAR: u64 = 128;
/// log2 of the sub-buckets per power of two.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// The largest value with a bucket of its own; larger values land in the last bucket.
pub(crate) const MAX_TRACKED: u64 = (1 << 44) - 1;
/// Number of buckets.
pub(crate) const BUCKETS: usize = LINEAR as usize + (44 - 7) * SUB as usize;

/// The bucket of a value.
#[inline(always)]
pub(crate) fn index(v: u64) -> usize {
    let v = if v > MAX_TRACKED { MAX_TRACKED } else { v };
    if v < LINEAR {
        v as usize
    } else {
        let msb = 63 - v.leading_zeros(); // 7..=43
        let shift = msb - SUB_BITS;
        LINEAR as usize + ((msb - 7) as usize) * SUB as usize + ((v >> shift) - SUB) as usize
    }
}

/// The lowest and highest value of a bucket.
pub(crate) fn bounds(i: usize) -> (u64, u64) {
    if (i as u64) < LINEAR {
        return (i as u64, i as u64);
    }
    let j = i - LINEAR as usize;
    let msb = (j / SUB as usize) as u32 + 7;
    let sub = (j % SUB as usize) as u64;
    let shift = msb - SUB_BITS;
    let lo = (SUB + sub) << shift;
    (lo, lo + (1u64 << shift) - 1)
}

/// The value that stands for a bucket: its midpoint.
fn representative(i: usize) -> u64 {
    let (lo, hi) = bounds(i);
    lo + (hi - lo) / 2
}

/// Merged counts of one key, read off any number of threads.
#[derive(Clone, Debug)]
pub(crate) struct Counts {
    pub(crate) buckets: Vec<u64>,
}

impl Counts {
    pub(crate) fn new() -> Self {
        Counts {
            buckets: vec![0; BUCKETS],
        }
    }

    /// The value at quantile `q` (0 < q <= 1) of `total` values, clamped to the exact [min, max].
    pub(crate) fn quantile(&self, q: f64, total: u64, min: u64, max: u64) -> u64 {
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return representative(i).clamp(min, max);
            }
        }
        max
    }
}

/// Cumulative counts at the upper bounds `bounds_ns` (ascending, in nanoseconds): entry `j`
/// counts the values of every bucket whose highest value is at or below `bounds_ns[j]`.
///
/// A bucket is assigned whole, by its upper value: it lies wholly below or above each bound
/// except the one it straddles, whose values (less than 1/64 below the bound, since a bucket
/// is at most 1/64 of its lower value wide) count in the next bound up.
pub(crate) fn fold(counts: &Counts, bounds_ns: &[u64]) -> Vec<u64> {
    let mut per = vec![0u64; bounds_ns.len() + 1];
    for (i, &c) in counts.buckets.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let hi = bounds(i).1;
        per[bounds_ns.partition_point(|&b| b < hi)] += c;
    }
    let mut total = 0u64;
    per.truncate(bounds_ns.len());
    per.iter_mut()
        .map(|n| {
            total += *n;
            total
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_is_cumulative_at_the_bounds() {
        let mut c = Counts::new();
        for v in [3u64, 100, 1_000, 1_000_000, 5_000_000, 1 << 50] {
            c.buckets[index(v)] += 1;
        }
        // 3 and 100 have exact buckets; 1 µs's bucket ends below 2 µs; 1 ms and 5 ms below 10 ms.
        let got = fold(&c, &[100, 2_000, 10_000_000]);
        assert_eq!(got, vec![2, 3, 5]);
        // A bound inside a bucket: the bucket counts above it.
        let (lo, hi) = bounds(index(1_000_000));
        assert!(lo < hi);
        assert_eq!(fold(&c, &[hi - 1]).last(), Some(&3));
        assert_eq!(fold(&c, &[hi]).last(), Some(&4));
        assert!(fold(&c, &[]).is_empty());
    }

    #[test]
    fn every_value_lands_in_a_bucket_that_contains_it() {
        let mut v = 0u64;
        while v < MAX_TRACKED {
            let i = index(v);
            let (lo, hi) = bounds(i);
            assert!(lo <= v && v <= hi, "{v} not in bucket {i} [{lo}, {hi}]");
            v = v + 1 + v / 37;
        }
        assert_eq!(index(MAX_TRACKED), BUCKETS - 1);
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn buckets_are_contiguous() {
        for i in 1..BUCKETS {
            assert_eq!(bounds(i - 1).1 + 1, bounds(i).0, "gap before bucket {i}");
        }
    }

    #[test]
    fn representative_is_within_one_percent() {
        for i in 0..BUCKETS {
            let (lo, hi) = bounds(i);
            let r = representative(i) as f64;
            for v in [lo, hi] {
                let err = (r - v as f64).abs() / (v.max(1) as f64);
                assert!(err < 0.01, "bucket {i}: {r} vs {v}");
            }
        }
    }

    #[test]
    fn quantiles_match_exact_sorted_values_within_one_percent() {
        let mut values: Vec<u64> = (0..100_000u64)
            .map(|i| 50 + (i * 7919 % 100_003) * (1 + i % 97))
            .collect();
        let mut c = Counts::new();
        for &v in &values {
            c.buckets[index(v)] += 1;
        }
        values.sort_unstable();
        let (min, max) = (values[0], *values.last().unwrap());
        for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
            let exact = values[((q * values.len() as f64).ceil() as usize).max(1) - 1];
            let got = c.quantile(q, values.len() as u64, min, max);
            let err = (got as f64 - exact as f64).abs() / exact as f64;
            assert!(err < 0.01, "q{q}: {got} vs exact {exact}");
        }
    }
}
