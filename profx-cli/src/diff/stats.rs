//! The statistics `profx diff` decides on: whether a slowdown seen between two runs' samples
//! is more than chance gives.
//!
//! - The mean: a one-sided Mann–Whitney U test (rank based, so that a few outliers of a busy
//!   machine do not make a shift, and no shape is assumed), normal approximation with the tie
//!   and continuity corrections.
//! - A percentile: distribution-free confidence intervals from order statistics (the rank of
//!   the q-quantile among n values is binomial); the new percentile is higher only when the
//!   lower end of its interval is above the upper end of the base's.

/// The p-value of a one-sided Mann–Whitney U test that values of `new` tend to be larger than
/// those of `base` (1.0 when either sample is empty or every value is equal).
pub fn mann_whitney_greater(base: &[u64], new: &[u64]) -> f64 {
    let (n1, n2) = (new.len() as f64, base.len() as f64);
    if new.is_empty() || base.is_empty() {
        return 1.0;
    }
    // All values, tagged with their sample (true: new), in order.
    let mut all: Vec<(u64, bool)> = new
        .iter()
        .map(|&v| (v, true))
        .chain(base.iter().map(|&v| (v, false)))
        .collect();
    all.sort_unstable_by_key(|&(v, _)| v);
    let n = all.len() as f64;
    let (mut rank_sum_new, mut ties) = (0.0f64, 0.0f64);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        // Ranks i + 1 ..= j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        let in_new = all[i..j].iter().filter(|(_, new)| *new).count() as f64;
        rank_sum_new += mean_rank * in_new;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let u = rank_sum_new - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (u - mean - 0.5) / var.sqrt();
    normal_sf(z)
}

/// The confidence interval `(low, high)` of the `q`-quantile of `sorted` (ascending, not
/// empty), each end one-sided at `z` standard deviations: the order statistics around rank
/// `n q`, whose spread is that of a binomial.
pub fn quantile_interval(sorted: &[u64], q: f64, z: f64) -> (u64, u64) {
    let n = sorted.len() as f64;
    let center = n * q;
    let spread = z * (n * q * (1.0 - q)).sqrt();
    // 1-based ranks, clamped to the sample.
    let rank = |r: f64| (r.round().clamp(1.0, n) as usize) - 1;
    (
        sorted[rank(center - spread)],
        sorted[rank((center + spread).ceil())],
    )
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function (fractional error below 1.2e-7: Numerical Recipes'
/// Chebyshev fit).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// The `z` above which a standard normal falls with probability `1 - confidence` (one-sided;
/// `confidence` in (0.5, 1)): Acklam's rational approximation of the normal quantile,
/// relative error below 1.2e-9.
pub fn z_for(confidence: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = confidence;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of values around `center`, spread by `spread` (xorshift).
    fn noisy(seed: u64, n: usize, center: f64, spread: f64) -> Vec<u64> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let u = (x >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
                (center + spread * (u - 0.5)) as u64
            })
            .collect()
    }

    #[test]
    fn the_normal_tail_and_its_inverse_match_known_values() {
        for (z, sf) in [
            (0.0, 0.5),
            (1.0, 0.158_655_25),
            (2.326_347_87, 0.01),
            (-1.0, 0.841_344_75),
        ] {
            assert!((normal_sf(z) - sf).abs() < 1e-6, "{z}: {}", normal_sf(z));
        }
        for (c, z) in [
            (0.99, 2.326_347_87),
            (0.95, 1.644_853_63),
            (0.999, 3.090_232_31),
            (0.6, 0.253_347_1),
        ] {
            assert!((z_for(c) - z).abs() < 1e-6, "{c}: {}", z_for(c));
        }
    }

    #[test]
    fn mann_whitney_finds_a_shift_and_not_noise() {
        let base = noisy(1, 300, 1000.0, 400.0);
        let same = noisy(2, 300, 1000.0, 400.0);
        let shifted = noisy(3, 300, 1150.0, 400.0);
        assert!(mann_whitney_greater(&base, &same) > 0.01);
        assert!(mann_whitney_greater(&base, &shifted) < 1e-6);
        // One-sided: faster is not "greater".
        assert!(mann_whitney_greater(&shifted, &base) > 0.99);
        // Ties everywhere, or nothing to compare: no evidence.
        assert_eq!(mann_whitney_greater(&[5; 20], &[5; 20]), 1.0);
        assert_eq!(mann_whitney_greater(&[], &[1, 2]), 1.0);
    }

    #[test]
    fn mann_whitney_matches_a_hand_computed_case() {
        // new = {3, 4, 5}, base = {1, 2}: every new value is larger, U = 6 = n1 n2;
        // mean 3, var = 6/12 * 6 = 3, z = (6 - 3 - 0.5)/sqrt(3) = 1.443.
        let p = mann_whitney_greater(&[1, 2], &[3, 4, 5]);
        assert!((p - normal_sf(2.5 / 3f64.sqrt())).abs() < 1e-12, "{p}");
    }

    #[test]
    fn quantile_intervals_hold_the_quantile_and_narrow_with_more_values() {
        let mut small = noisy(4, 100, 1000.0, 1000.0);
        let mut large = noisy(5, 10_000, 1000.0, 1000.0);
        small.sort_unstable();
        large.sort_unstable();
        let z = z_for(0.99);
        let (lo, hi) = quantile_interval(&large, 0.95, z);
        assert!(lo <= 1450 && 1450 <= hi, "{lo}..{hi}");
        let width = |(l, h): (u64, u64)| h - l;
        assert!(width(quantile_interval(&small, 0.95, z)) > width((lo, hi)));
        // The top of a small sample's P99 interval is its maximum.
        assert_eq!(quantile_interval(&small, 0.99, z).1, *small.last().unwrap());
    }
}
