//! Storage with `enabled`: the striped atomics behind the handles.

/// Whether these cells record (the store shows their series).
pub(super) const RECORDS: bool = true;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::buckets::{bucket_index, BUCKETS};
use super::MAX_STRIPES;

/// One stripe of a counter: alone on its cache line.
#[repr(align(64))]
#[derive(Default)]
pub(super) struct CounterStripe(AtomicU64);

/// One stripe of a histogram: its buckets (not cumulative) and its sum, on cache lines of
/// its own.
#[repr(align(64))]
pub(super) struct HistogramStripe {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

impl Default for HistogramStripe {
    fn default() -> HistogramStripe {
        HistogramStripe {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }
}

/// How many stripes a new cell gets: the CPU count rounded up to a power of two, at most
/// `MAX_STRIPES`. A power of two, so a stripe index is a mask away.
fn stripes() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .next_power_of_two()
            .min(MAX_STRIPES)
    })
}

fn striped<T: Default>() -> Box<[T]> {
    (0..stripes()).map(|_| T::default()).collect()
}

thread_local! {
    /// This thread's stripe number (masked by each cell), given on its first update.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

/// This thread's stripe among `len` (a power of two).
#[inline(always)]
fn stripe(len: usize) -> usize {
    // `STRIPE` has a const initialiser and no destructor, so it is reachable even while
    // the thread is being torn down; `try_with` only guards against that changing.
    let n = STRIPE
        .try_with(|s| {
            let n = s.get();
            if n != usize::MAX {
                n
            } else {
                assign(s)
            }
        })
        .unwrap_or(0);
    n & (len - 1)
}

#[cold]
#[inline(never)]
fn assign(s: &Cell<usize>) -> usize {
    let n = NEXT_STRIPE.fetch_add(1, Relaxed) & (usize::MAX >> 1);
    s.set(n);
    n
}

pub(super) struct CounterCell {
    stripes: Box<[CounterStripe]>,
}

impl CounterCell {
    pub(super) fn new() -> CounterCell {
        CounterCell { stripes: striped() }
    }

    #[inline(always)]
    pub(super) fn add(&self, n: u64) {
        let s = &self.stripes[stripe(self.stripes.len())];
        s.0.fetch_add(n, Relaxed);
    }

    pub(super) fn get(&self) -> u64 {
        self.stripes
            .iter()
            .fold(0u64, |acc, s| acc.wrapping_add(s.0.load(Relaxed)))
    }
}

pub(super) struct GaugeCell(AtomicU64);

impl GaugeCell {
    pub(super) fn new() -> GaugeCell {
        GaugeCell(AtomicU64::new(0f64.to_bits()))
    }

    #[inline(always)]
    pub(super) fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Relaxed);
    }

    #[inline(always)]
    pub(super) fn add(&self, d: f64) {
        // A CAS loop: lock-free (some thread always makes progress).
        let _ = self.0.fetch_update(Relaxed, Relaxed, |bits| {
            Some((f64::from_bits(bits) + d).to_bits())
        });
    }

    pub(super) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Relaxed))
    }
}

pub(super) struct HistogramCell {
    stripes: Box<[HistogramStripe]>,
}

impl HistogramCell {
    pub(super) fn new() -> HistogramCell {
        HistogramCell { stripes: striped() }
    }

    #[inline(always)]
    pub(super) fn record_ns(&self, ns: u64) {
        let s = &self.stripes[stripe(self.stripes.len())];
        s.buckets[bucket_index(ns)].fetch_add(1, Relaxed);
        s.sum_ns.fetch_add(ns, Relaxed);
    }

    /// Per-bucket counts (not cumulative) and the sum in nanoseconds.
    pub(super) fn read(&self) -> ([u64; BUCKETS], u64) {
        let mut buckets = [0u64; BUCKETS];
        let mut sum = 0u64;
        for s in self.stripes.iter() {
            for (dst, src) in buckets.iter_mut().zip(s.buckets.iter()) {
                *dst = dst.wrapping_add(src.load(Relaxed));
            }
            sum = sum.wrapping_add(s.sum_ns.load(Relaxed));
        }
        (buckets, sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_are_a_power_of_two() {
        let n = stripes();
        assert!(n.is_power_of_two() && n <= MAX_STRIPES);
    }
}
