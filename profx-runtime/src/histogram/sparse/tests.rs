//! Tests of the sparse histogram: its buckets against the dense ones, merged percentiles
//! against the exact values, growth from the pool, spills of full counters, and readers on
//! other threads while it grows.

use super::super::{locate, Counts, BUCKETS};
use super::*;

fn record(s: &Sparse, v: u64) {
    if !s.try_add(v) {
        s.add_slow(v, &mut Pool::default());
    }
}

fn read(s: &Sparse) -> Counts {
    let mut c = Counts::new();
    s.read_into(&mut c);
    c
}

#[test]
fn place_agrees_with_the_histogram_buckets() {
    for v in (0..5_000u64)
        .chain((0..44).map(|b| (1 << b) - 1))
        .chain([MAX_TRACKED])
    {
        let (m, i) = place(v);
        let (o, sub) = locate(v);
        let k = m - M0;
        if k == 0 {
            assert_eq!(o * SUB + sub, i, "{v}");
        } else {
            assert_eq!((o, sub), (k + 1, i - SUB), "{v}");
        }
        assert!(k < BLOCKS, "{v}");
    }
    // Past the last block: never counted by the fast path.
    assert!(place(MAX_TRACKED + 1).0 - 6 >= BLOCKS);
}

#[test]
fn values_past_the_last_octave_are_clamped_by_the_slow_path() {
    let s = Sparse::new();
    assert!(!s.try_add(u64::MAX));
    record(&s, u64::MAX);
    record(&s, 1 << 50);
    assert!(!s.try_add(u64::MAX));
    assert!(!s.try_add(1 << 63));
    let c = read(&s);
    assert_eq!(c.buckets[BUCKETS - 1], 2);
}

#[test]
fn merged_percentiles_of_many_histograms_are_within_one_percent_of_exact() {
    // Eight "threads", each its own histogram over a different band of values.
    let mut values = Vec::new();
    let mut merged = Counts::new();
    for t in 0..8u64 {
        let s = Sparse::new();
        for i in 0..5_000u64 {
            let v = 100 + (i * 7919 % 10_007) * (1 + t * t * 13);
            record(&s, v);
            values.push(v);
        }
        merged.merge(&read(&s));
    }
    values.sort_unstable();
    let n = values.len() as u64;
    let qs = [0.5, 0.9, 0.95, 0.99, 0.999];
    let got = merged.quantiles(qs, n, values[0], values[values.len() - 1]);
    for (q, got) in qs.into_iter().zip(got) {
        let exact = values[((q * n as f64).ceil() as usize).max(1) - 1];
        let err = (got as f64 - exact as f64).abs() / exact as f64;
        assert!(err < 0.01, "q{q}: {got} vs exact {exact}");
    }
}

#[test]
fn growth_comes_from_the_pool() {
    let mut pool = Pool::default();
    pool.refill();
    let s = Sparse::new();
    for v in [5, 1_000, 10_000, 1 << 30] {
        if !s.try_add(v) {
            s.add_slow(v, &mut pool);
        }
    }
    // Block 0, three octaves of counters and one directory, all from the pool.
    assert_eq!(pool.narrow0.len(), Pool::NARROW0 - 1);
    assert_eq!(pool.narrow.len(), Pool::NARROW - 3);
    assert_eq!(pool.dirs.len(), Pool::DIRS - 1);
    pool.refill();
    assert_eq!(pool.narrow.len(), Pool::NARROW);
    assert_eq!(pool.narrow0.len(), Pool::NARROW0);
}

#[test]
fn counts_what_a_dense_histogram_would() {
    let s = Sparse::new();
    let mut dense = Counts::new();
    // Values over many octaves, out of order: the window grows both ways.
    let values: Vec<u64> = (0..20_000u64)
        .map(|i| (i * 7919 % 10_007) << (i % 29))
        .collect();
    for &v in &values {
        record(&s, v);
        let (o, sub) = locate(v);
        dense.add(o, sub, 1);
    }
    let got = read(&s);
    assert_eq!(got.buckets, dense.buckets);
}

#[test]
fn a_full_counter_spills_without_losing_counts() {
    for v in [1_000u64, 100] {
        let s = Sparse::new();
        let n = 3 * (u16::MAX as u64 + 1) + 10;
        for _ in 0..n {
            record(&s, v);
        }
        record(&s, 2 * v);
        let c = read(&s);
        let (o, sub) = locate(v);
        assert_eq!(c.buckets[o * SUB + sub], n, "{v}");
        assert_eq!(c.nonzero().map(|(_, c)| c).sum::<u64>(), n + 1);
        // The block's counters, 2v's, and one spill array for v's block.
        let (counters, spill) = if v == 100 {
            (256 + 128, 1024)
        } else {
            (128 + 128, 512)
        };
        let spills = std::mem::size_of::<Spills>();
        assert_eq!(s.heap_bytes(), counters + spills + spill, "{v}");
    }
}

#[test]
fn a_reader_never_sees_a_counter_restarted_without_its_spill() {
    use std::sync::atomic::AtomicBool;
    let s = std::sync::Arc::new(Sparse::new());
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let reader = {
        let (s, done) = (s.clone(), done.clone());
        std::thread::spawn(move || {
            let (mut last, mut reads) = (0, 0u64);
            while !done.load(Acquire) {
                let total: u64 = read(&s).nonzero().map(|(_, c)| c).sum();
                assert!(total >= last, "{total} < {last}");
                last = total;
                reads += 1;
            }
            reads
        })
    };
    // One bucket: it spills every 65,536 values, nine times.
    let n = 9 * (u16::MAX as u64 + 1) + 7;
    for _ in 0..n {
        record(&s, 5_000);
    }
    done.store(true, Release);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(read(&s).nonzero().map(|(_, c)| c).sum::<u64>(), n);
}

#[test]
fn memory_follows_the_octaves_seen() {
    // Values within two octaves: one narrow block each, in the inline window.
    let s = Sparse::new();
    for v in 1_024..3_072 {
        record(&s, v);
    }
    assert_eq!(s.heap_bytes(), 2 * 128);
    // An outlier far away: a directory of every block, one more block of counters.
    record(&s, 1 << 40);
    assert_eq!(s.heap_bytes(), 3 * 128 + (1 + BLOCKS) * 8);
    assert_eq!(read(&s).nonzero().map(|(_, c)| c).sum::<u64>(), 2_049);
}

#[test]
fn readers_on_other_threads_see_monotonic_totals_while_it_grows() {
    use std::sync::atomic::AtomicBool;
    let s = std::sync::Arc::new(Sparse::new());
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let reader = {
        let (s, done) = (s.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = 0;
            while !done.load(Acquire) {
                let total: u64 = read(&s).nonzero().map(|(_, c)| c).sum();
                assert!(total >= last, "{total} < {last}");
                last = total;
            }
        })
    };
    for i in 0..200_000u64 {
        record(&s, (i % 5) << (i % 40));
    }
    done.store(true, Release);
    reader.join().unwrap();
    assert_eq!(read(&s).nonzero().map(|(_, c)| c).sum::<u64>(), 200_000);
}
