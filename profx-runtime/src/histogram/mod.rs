//! A log-linear histogram of durations, within 0.8% of the exact value.
//!
//! Values are clock ticks (see `clock`); they become nanoseconds only when read. Values below
//! 128 have a bucket each. Above, every power of two is split into 64 equal buckets, so a
//! bucket is at most 1/64 of its lower bound wide and its midpoint is within 1/128 (0.78%) of
//! any value in it. Values are clamped to `MAX_TRACKED` (2^44 ticks: about 1.6 hours at
//! 3 GHz); min, max and sum are kept exactly beside the histogram.
//!
//! The 2,496 buckets are 39 *octaves* of 64 (octaves 0 and 1 are the linear values 0–63 and
//! 64–127). Each (key, thread) stores only the octaves it has seen ([`sparse`]); a read merges
//! them into [`Counts`], which remembers which octaves hold anything so that nothing walks the
//! empty ones.

pub(crate) mod sparse;

/// Buckets per octave.
pub(crate) const SUB: usize = 64;
/// log2 of [`SUB`].
const SUB_BITS: u32 = 6;
/// Octaves, the first two linear.
pub(crate) const OCTAVES: usize = 39;
/// The largest value with a bucket of its own; larger values land in the last bucket.
pub(crate) const MAX_TRACKED: u64 = (1 << 44) - 1;
/// Number of buckets.
pub(crate) const BUCKETS: usize = OCTAVES * SUB;

/// The octave and the bucket within it of a value (values above `MAX_TRACKED` land in the
/// last bucket).
///
/// `v | 32` gives values below 64 the octave 0 (their most significant bit is at most 5)
/// without a branch; the sub-bucket is read from `v` itself.
#[cfg_attr(not(test), allow(dead_code))]
#[inline(always)]
pub(crate) fn locate(v: u64) -> (usize, usize) {
    let v = v.min(MAX_TRACKED);
    let msb = 63 - (v | 32).leading_zeros(); // 5..=43
    let shift = msb.saturating_sub(SUB_BITS);
    ((msb - 5) as usize, ((v >> shift) as usize) & (SUB - 1))
}

/// The bucket of a value.
#[cfg(test)]
pub(crate) fn index(v: u64) -> usize {
    let (o, s) = locate(v);
    o * SUB + s
}

/// The lowest and highest value of a bucket.
pub(crate) fn bounds(i: usize) -> (u64, u64) {
    let (octave, sub) = ((i / SUB) as u32, (i % SUB) as u64);
    if octave < 2 {
        let v = i as u64;
        return (v, v);
    }
    let shift = octave - 1; // msb - SUB_BITS, with msb = octave + 5
    let lo = (SUB as u64 + sub) << shift;
    (lo, lo + (1u64 << shift) - 1)
}

/// The value that stands for a bucket: its midpoint.
#[cfg(test)]
fn representative(i: usize) -> u64 {
    let (lo, hi) = bounds(i);
    lo + (hi - lo) / 2
}

/// The value of rank `r` (1-based) among the `n` values of bucket `i`: interpolated linearly
/// over the bucket, narrowed to the exact `[min, max]` of all values. So that a key whose
/// values all fall in one bucket gets percentiles spread from its minimum to its maximum (its
/// P99 near the maximum, not at a midpoint below its mean), and nothing ever leaves
/// `[min, max]`.
fn within(i: usize, r: u64, n: u64, min: u64, max: u64) -> u64 {
    let (lo, hi) = bounds(i);
    let (lo, hi) = (lo.max(min), hi.min(max));
    if hi <= lo || n == 0 {
        return lo.clamp(min, max);
    }
    // The r-th of n values spread evenly over [lo, hi]: the first at lo, the last at hi. A
    // lone value is the maximum (or minimum) when the bucket holds it, else the midpoint.
    let f = if n > 1 {
        (r.saturating_sub(1)) as f64 / (n - 1) as f64
    } else if hi == max {
        1.0
    } else if lo == min {
        0.0
    } else {
        0.5
    };
    (lo + ((hi - lo) as f64 * f).round() as u64).clamp(min, max)
}

/// Merged counts of one key, read off any number of threads.
#[derive(Clone, Debug)]
pub(crate) struct Counts {
    buckets: Vec<u64>,
    /// Bit `o` set: octave `o` may hold counts (the others are all zero).
    touched: u64,
}

impl Counts {
    pub(crate) fn new() -> Self {
        Counts {
            buckets: vec![0; BUCKETS],
            touched: 0,
        }
    }

    /// Adds `n` to bucket `sub` of `octave`.
    #[cfg(test)]
    pub(crate) fn add(&mut self, octave: usize, sub: usize, n: u64) {
        self.touched |= 1 << octave;
        self.buckets[octave * SUB + sub] += n;
    }

    /// The 64 counters of `octave`, to add to (marks it touched).
    #[inline]
    pub(crate) fn octave_mut(&mut self, octave: usize) -> &mut [u64] {
        self.touched |= 1 << octave;
        &mut self.buckets[octave * SUB..(octave + 1) * SUB]
    }

    /// Empties it, touching only the octaves that hold anything.
    pub(crate) fn clear(&mut self) {
        for o in Self::octaves(self.touched) {
            self.buckets[o * SUB..(o + 1) * SUB].fill(0);
        }
        self.touched = 0;
    }

    /// Adds every count of `other`.
    pub(crate) fn merge(&mut self, other: &Counts) {
        for o in Self::octaves(other.touched) {
            let src = &other.buckets[o * SUB..(o + 1) * SUB];
            for (d, s) in self.octave_mut(o).iter_mut().zip(src) {
                *d += s;
            }
        }
    }

    fn octaves(mut mask: u64) -> impl Iterator<Item = usize> {
        std::iter::from_fn(move || {
            if mask == 0 {
                return None;
            }
            let o = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            Some(o)
        })
    }

    /// The non-empty buckets in ascending order: (bucket index, count).
    fn nonzero(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        Self::octaves(self.touched).flat_map(move |o| {
            (o * SUB..(o + 1) * SUB).filter_map(move |i| {
                let c = self.buckets[i];
                (c != 0).then_some((i, c))
            })
        })
    }

    /// The values at quantiles `qs` (ascending, each in (0, 1]) of `total` values, each clamped
    /// to the exact [min, max]; one pass over the non-empty buckets.
    pub(crate) fn quantiles<const N: usize>(
        &self,
        qs: [f64; N],
        total: u64,
        min: u64,
        max: u64,
    ) -> [u64; N] {
        let mut out = [max; N];
        if total == 0 {
            return [0; N];
        }
        let ranks = qs.map(|q| ((q * total as f64).ceil() as u64).clamp(1, total));
        let mut k = 0;
        let mut seen = 0u64;
        for o in Self::octaves(self.touched) {
            let octave = &self.buckets[o * SUB..(o + 1) * SUB];
            // Whole octaves below the next rank are skipped with one sum.
            let in_octave: u64 = octave.iter().sum();
            if seen + in_octave < ranks[k] {
                seen += in_octave;
                continue;
            }
            for (j, &c) in octave.iter().enumerate() {
                let before = seen;
                seen += c;
                while k < N && seen >= ranks[k] {
                    out[k] = within(o * SUB + j, ranks[k] - before, c, min, max);
                    k += 1;
                }
                if k == N {
                    return out;
                }
            }
        }
        out
    }
}

/// Cumulative counts at the upper bounds `bounds` (ascending, in the histogram's unit): entry
/// `j` counts the values of every bucket whose highest value is at or below `bounds[j]`.
///
/// A bucket is assigned whole, by its upper value: it lies wholly below or above each bound
/// except the one it straddles, whose values (less than 1/64 below the bound, since a bucket
/// is at most 1/64 of its lower value wide) count in the next bound up.
pub(crate) fn fold(counts: &Counts, bounds_at: &[u64]) -> Vec<u64> {
    let mut per = vec![0u64; bounds_at.len() + 1];
    for (i, c) in counts.nonzero() {
        let hi = bounds(i).1;
        per[bounds_at.partition_point(|&b| b < hi)] += c;
    }
    let mut total = 0u64;
    per.truncate(bounds_at.len());
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

    fn counts_of(values: &[u64]) -> Counts {
        let mut c = Counts::new();
        for &v in values {
            let (o, s) = locate(v);
            c.add(o, s, 1);
        }
        c
    }

    #[test]
    fn fold_is_cumulative_at_the_bounds() {
        let c = counts_of(&[3u64, 100, 1_000, 1_000_000, 5_000_000, 1 << 50]);
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
        for v in 0..1000 {
            let (lo, hi) = bounds(index(v));
            assert!(lo <= v && v <= hi, "{v} not in [{lo}, {hi}]");
        }
        assert_eq!(index(MAX_TRACKED), BUCKETS - 1);
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!(index(127), 127);
        assert_eq!(index(128), 128);
    }

    #[test]
    fn buckets_are_contiguous() {
        assert_eq!(bounds(0), (0, 0));
        for i in 1..BUCKETS {
            assert_eq!(bounds(i - 1).1 + 1, bounds(i).0, "gap before bucket {i}");
        }
        assert_eq!(bounds(BUCKETS - 1).1, MAX_TRACKED);
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
        let c = counts_of(&values);
        values.sort_unstable();
        let (min, max) = (values[0], *values.last().unwrap());
        let qs = [0.5, 0.9, 0.95, 0.99, 0.999];
        let got = c.quantiles(qs, values.len() as u64, min, max);
        for (q, got) in qs.into_iter().zip(got) {
            let exact = values[((q * values.len() as f64).ceil() as usize).max(1) - 1];
            let err = (got as f64 - exact as f64).abs() / exact as f64;
            assert!(err < 0.01, "q{q}: {got} vs exact {exact}");
        }
    }

    #[test]
    fn values_in_one_bucket_spread_from_min_to_max() {
        // 10 calls of 1,000 ticks and 90 of 1,007, all in the bucket [1000, 1007]: the mean
        // is 1,006.3, which the bucket's midpoint (1,003) would put P99 below.
        let mut values = vec![1_000u64; 10];
        values.extend([1_007u64; 90]);
        assert_eq!(index(1_000), index(1_007));
        let c = counts_of(&values);
        let [p10, p50, p99] = c.quantiles([0.1, 0.5, 0.99], 100, 1_000, 1_007);
        assert!(p10 <= 1_001, "{p10}");
        assert!((1_006..=1_007).contains(&p99), "{p99}");
        assert!(p10 <= p50 && p50 <= p99);
        // One value: itself.
        let one = counts_of(&[123_456]);
        assert_eq!(
            one.quantiles([0.5, 0.99], 1, 123_456, 123_456),
            [123_456; 2]
        );
    }

    #[test]
    fn clear_and_merge_follow_the_touched_octaves() {
        let a = counts_of(&[5, 70, 1_000, 1 << 30]);
        let mut b = counts_of(&[5, 2_000_000]);
        b.merge(&a);
        assert_eq!(b.nonzero().map(|(_, c)| c).sum::<u64>(), 6);
        assert_eq!(b.quantiles([0.5], 6, 5, 1 << 30), [70]);
        b.clear();
        assert_eq!(b.touched, 0);
        assert!(b.buckets.iter().all(|&c| c == 0));
        assert_eq!(b.quantiles([0.5, 1.0], 0, 0, 0), [0, 0]);
    }
}
