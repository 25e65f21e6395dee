//! The histogram of one key on one thread, stored sparsely: memory follows the values seen.
//!
//! Only the octaves that received a value have counters. An octave starts *narrow*: 64 `u16`
//! counters (128 bytes). A counter about to pass `u16::MAX` promotes its octave to *wide*: 64
//! `u64` counters (512 bytes), holding the narrow counts. A key whose values stay within
//! three octaves costs 384 bytes of counters until one of its buckets has seen 65,535 values
//! on the thread; the dense layout this replaces cost 19.5 KiB per key and thread.
//!
//! The octaves are reached through a *window*: a directory covering octaves `lo..lo + n`,
//! whose entries are tagged pointers to the octaves' counters (bit 0: wide). An octave of the
//! window that has no counters yet points at [`ABSENT`], a narrow octave whose counters are
//! all full, so the writer's overflow check sends it to the slow path without a null check.
//! The first window is a small array inside the histogram itself, around the first value's
//! octave; a value outside it publishes a directory of every octave (320 bytes), after which
//! the window never changes again.
//!
//! What a histogram grows by comes from its thread's [`Pool`], which is refilled when the
//! thread first sees a key: a steady workload whose durations wander into a new octave does
//! not call the allocator on the hot path.
//!
//! # Concurrency
//!
//! One thread writes (relaxed loads and stores: no read-modify-write); any thread reads. What
//! a writer replaces (a directory, a narrow octave it promoted) is kept until the histogram is
//! dropped, so a reader that loaded the old pointer reads valid, if older, counts: at most
//! one directory and 39 narrow octaves ever, usually none. Directories and entries are
//! published with `Release` and read with `Acquire`; a reader that first loads the key's call
//! count with `Acquire` (see `Slot::read`) sees every counter of the calls that count
//! includes, whichever pointer it finds.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, Ordering::*};

use super::{Counts, OCTAVES, SUB};

/// Octaves of the first window (inside the histogram: no allocation for keys whose values
/// stay within them).
const INLINE: usize = 4;
/// Tag of an entry pointing at wide counters.
const WIDE: usize = 1;

#[repr(C, align(8))]
struct Narrow([AtomicU16; SUB]);

#[repr(C)]
struct Wide([AtomicU64; SUB]);

/// The entry of an octave without counters. Never written: every counter reads full.
static ABSENT: Narrow = Narrow([const { AtomicU16::new(u16::MAX) }; SUB]);

/// The directory of a histogram that has seen nothing: an empty window.
static EMPTY: [AtomicUsize; 1] = [const { AtomicUsize::new(0) }];

fn absent() -> usize {
    &ABSENT as *const Narrow as usize
}

/// A directory's header word: in the low half, the most significant bit of octave `lo`'s
/// values (`lo + 5`, so that the writer finds its entry from a value's most significant bit
/// with one subtraction); `n` in the high half.
fn header(lo: usize, n: usize) -> usize {
    (lo + super::MSB0 as usize) | (n << 32)
}

/// (lo, n) of a header word (`n == 0`: the empty window).
fn window(h: usize) -> (usize, usize) {
    let n = h >> 32;
    let lo = if n == 0 {
        0
    } else {
        (h & 0xffff_ffff) - super::MSB0 as usize
    };
    (lo, n)
}

/// What a writer replaced, kept for readers until the histogram is dropped.
enum Retired {
    Dir(#[allow(dead_code)] Box<[AtomicUsize]>),
    Narrow(#[allow(dead_code)] Box<Narrow>),
}

/// Counters and directories kept ready for the histograms of one thread, so that a histogram
/// growing on the hot path does not call the allocator; refilled ([`Pool::refill`]) where
/// allocating is expected anyway (a key's first call on the thread).
// Boxed on purpose: the box itself is what an entry points to once taken.
#[allow(clippy::vec_box)]
#[derive(Default)]
pub(crate) struct Pool {
    narrow: Vec<Box<Narrow>>,
    wide: Vec<Box<Wide>>,
    dirs: Vec<Box<[AtomicUsize]>>,
}

impl Pool {
    /// How many of each it keeps ready.
    const NARROW: usize = 16;
    const WIDE: usize = 2;
    const DIRS: usize = 2;

    /// Tops the pool up.
    pub(crate) fn refill(&mut self) {
        while self.narrow.len() < Self::NARROW {
            self.narrow.push(new_narrow());
        }
        while self.wide.len() < Self::WIDE {
            self.wide
                .push(Box::new(Wide([const { AtomicU64::new(0) }; SUB])));
        }
        while self.dirs.len() < Self::DIRS {
            self.dirs.push(new_dir());
        }
    }

    fn narrow(&mut self) -> Box<Narrow> {
        self.narrow.pop().unwrap_or_else(new_narrow)
    }

    fn wide(&mut self) -> Box<Wide> {
        self.wide
            .pop()
            .unwrap_or_else(|| Box::new(Wide([const { AtomicU64::new(0) }; SUB])))
    }

    fn dir(&mut self) -> Box<[AtomicUsize]> {
        self.dirs.pop().unwrap_or_else(new_dir)
    }
}

fn new_narrow() -> Box<Narrow> {
    Box::new(Narrow([const { AtomicU16::new(0) }; SUB]))
}

/// A directory of every octave.
fn new_dir() -> Box<[AtomicUsize]> {
    (0..1 + OCTAVES).map(|_| AtomicUsize::new(0)).collect()
}

/// See the module documentation.
pub(crate) struct Sparse {
    /// Word 0: the header (`lo`, `n`); words 1..=n: the entries of octaves `lo..lo + n`.
    dir: AtomicPtr<AtomicUsize>,
    /// The first window's directory.
    inline: [AtomicUsize; 1 + INLINE],
    /// Owner only (and `Drop`).
    /// Boxed: most histograms never retire anything, and a slot is one per key and thread
    /// (8 bytes here rather than a `Vec`'s 24).
    #[allow(clippy::box_collection)]
    retired: UnsafeCell<Option<Box<Vec<Retired>>>>,
}

// SAFETY: `retired` is touched only by the single writer (and by `Drop`, which has the value to
// itself); everything else is atomics.
unsafe impl Sync for Sparse {}
unsafe impl Send for Sparse {}

impl Sparse {
    pub(crate) fn new() -> Sparse {
        Sparse {
            dir: AtomicPtr::new(EMPTY.as_ptr() as *mut AtomicUsize),
            inline: [const { AtomicUsize::new(0) }; 1 + INLINE],
            retired: UnsafeCell::new(None),
        }
    }

    /// Counts one value in bucket `sub` of `octave` (from `locate`). Only the owning thread
    /// calls this.
    #[cfg(test)]
    pub(crate) fn add(&self, octave: usize, sub: usize, pool: &mut Pool) {
        if !self.try_add(octave as u32 + super::MSB0, sub) {
            self.add_slow(octave, sub, pool);
        }
    }

    /// Counts one value if its octave has counters with room; `false` (and nothing counted)
    /// otherwise. The value is given by the most significant bit of `v | 32` (its octave plus
    /// 5, from `histogram::msb_and_sub`; past the last octave for a value above
    /// `MAX_TRACKED`, which no window covers) and its bucket in that octave.
    #[inline(always)]
    pub(crate) fn try_add(&self, msb: u32, sub: usize) -> bool {
        let d = self.dir.load(Relaxed);
        // SAFETY: `dir` always points to a live directory (EMPTY, `inline`, or a boxed one
        // kept until drop) of 1 + n words, and entries point to live counters; `sub < SUB`.
        // The header word is read as its two halves (it never changes once published).
        unsafe {
            let h = d as *const std::sync::atomic::AtomicU32;
            let o = msb.wrapping_sub((*h).load(Relaxed));
            if o >= (*h.add(1)).load(Relaxed) {
                return false;
            }
            let e = (*d.add(1 + o as usize)).load(Relaxed);
            if e & WIDE == 0 {
                let c = (*(e as *const Narrow)).0.get_unchecked(sub);
                let v = c.load(Relaxed);
                if v == u16::MAX {
                    return false;
                }
                c.store(v + 1, Relaxed);
            } else {
                let c = (*((e & !WIDE) as *const Wide)).0.get_unchecked(sub);
                c.store(c.load(Relaxed) + 1, Relaxed);
            }
            true
        }
    }

    /// An octave outside the window, without counters, or narrow and full at `sub`. What it
    /// needs comes from `pool` (or the allocator when the pool is empty).
    #[cold]
    #[inline(never)]
    pub(crate) fn add_slow(&self, octave: usize, sub: usize, pool: &mut Pool) {
        // The memory is profx's, not that of the execution that happens to need it.
        crate::alloc::exclude(|| loop {
            if self.try_add(octave as u32 + super::MSB0, sub) {
                return;
            }
            let d = self.dir.load(Relaxed);
            // SAFETY: as in `try_add`.
            let (lo, n) = window(unsafe { (*d).load(Relaxed) });
            let o = octave.wrapping_sub(lo);
            if o >= n {
                self.widen(octave, lo, n, pool);
                continue;
            }
            // SAFETY: `o < n`: an entry of the directory.
            let entry = unsafe { &*d.add(1 + o) };
            let e = entry.load(Relaxed);
            if e == absent() {
                let fresh = pool.narrow();
                fresh.0[sub].store(1, Relaxed);
                entry.store(Box::into_raw(fresh) as usize, Release);
                return;
            }
            // Narrow and full at `sub`: promote the octave.
            // SAFETY: a narrow entry that is not ABSENT was made by `Box::into_raw` here.
            let narrow = unsafe { Box::from_raw(e as *mut Narrow) };
            let wide = pool.wide();
            for (w, n) in wide.0.iter().zip(&narrow.0) {
                w.store(n.load(Relaxed) as u64, Relaxed);
            }
            wide.0[sub].store(u16::MAX as u64 + 1, Relaxed);
            entry.store(Box::into_raw(wide) as usize | WIDE, Release);
            self.retire(Retired::Narrow(narrow));
            return;
        })
    }

    /// Publishes a directory whose window also covers `octave`: the inline one around it for
    /// the first value, else one of every octave.
    fn widen(&self, octave: usize, lo: usize, n: usize, pool: &mut Pool) {
        let d = self.dir.load(Relaxed);
        if n == 0 {
            // First value: the inline directory, around it (durations drift both ways).
            let lo = octave
                .min(OCTAVES - 1)
                .saturating_sub(1)
                .min(OCTAVES - INLINE);
            for e in &self.inline[1..] {
                e.store(absent(), Relaxed);
            }
            self.inline[0].store(header(lo, INLINE), Relaxed);
            self.dir
                .store(self.inline.as_ptr() as *mut AtomicUsize, Release);
            return;
        }
        let full = pool.dir();
        for (o, e) in full[1..].iter().enumerate() {
            let v = if o >= lo && o < lo + n {
                // SAFETY: an entry of the current directory.
                unsafe { (*d.add(1 + o - lo)).load(Relaxed) }
            } else {
                absent()
            };
            e.store(v, Relaxed);
        }
        full[0].store(header(0, OCTAVES), Relaxed);
        self.dir
            .store(Box::into_raw(full) as *mut AtomicUsize, Release);
        if !std::ptr::eq(d, self.inline.as_ptr()) {
            // SAFETY: a directory other than EMPTY and `inline` came from a pool, boxed with
            // 1 + n words.
            let old = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(d, 1 + n)) };
            self.retire(Retired::Dir(old));
        }
    }

    fn retire(&self, r: Retired) {
        // SAFETY: owner only (see the `Sync` impl).
        unsafe {
            (*self.retired.get())
                .get_or_insert_with(Default::default)
                .push(r)
        };
    }

    /// Adds every count to `into`. Any thread.
    pub(crate) fn read_into(&self, into: &mut Counts) {
        let d = self.dir.load(Acquire);
        // SAFETY: as in `add`; what a reader may still hold is kept until drop.
        let (lo, n) = window(unsafe { (*d).load(Acquire) });
        for o in 0..n {
            // SAFETY: `o < n`.
            let e = unsafe { (*d.add(1 + o)).load(Acquire) };
            if e == absent() {
                continue;
            }
            let dst = into.octave_mut(lo + o);
            if e & WIDE == 0 {
                // SAFETY: live narrow counters (current or retired).
                let c = unsafe { &*(e as *const Narrow) };
                for (d, s) in dst.iter_mut().zip(&c.0) {
                    *d += s.load(Relaxed) as u64;
                }
            } else {
                // SAFETY: live wide counters.
                let c = unsafe { &*((e & !WIDE) as *const Wide) };
                for (d, s) in dst.iter_mut().zip(&c.0) {
                    *d += s.load(Relaxed);
                }
            }
        }
    }

    /// Bytes of heap this histogram holds (counters and directories, current and retired).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        let d = self.dir.load(Acquire);
        let (_, n) = window(unsafe { (*d).load(Acquire) });
        let mut bytes = 0;
        if !std::ptr::eq(d, self.inline.as_ptr()) && n > 0 {
            bytes += (1 + n) * 8;
        }
        for o in 0..n {
            let e = unsafe { (*d.add(1 + o)).load(Acquire) };
            if e != absent() {
                bytes += if e & WIDE == 0 { 128 } else { 512 };
            }
        }
        for r in unsafe { &*self.retired.get() }
            .iter()
            .flat_map(|v| v.iter())
        {
            bytes += match r {
                Retired::Dir(d) => d.len() * 8,
                Retired::Narrow(_) => 128,
            };
        }
        bytes
    }
}

impl Drop for Sparse {
    fn drop(&mut self) {
        let d = *self.dir.get_mut();
        // SAFETY: as in `add`; nothing else uses the histogram any more.
        let (_, n) = window(unsafe { (*d).load(Relaxed) });
        for o in 0..n {
            let e = unsafe { (*d.add(1 + o)).load(Relaxed) };
            if e == absent() {
                continue;
            }
            // SAFETY: made by `Box::into_raw` in `add_slow`, of the kind its tag says.
            unsafe {
                if e & WIDE == 0 {
                    drop(Box::from_raw(e as *mut Narrow));
                } else {
                    drop(Box::from_raw((e & !WIDE) as *mut Wide));
                }
            }
        }
        if n > 0 && d != self.inline.as_mut_ptr() {
            // SAFETY: boxed in `widen` with 1 + n words.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(d, 1 + n)) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{locate, Counts};
    use super::*;

    fn record(s: &Sparse, v: u64) {
        let (o, sub) = locate(v);
        s.add(o, sub, &mut Pool::default());
    }

    #[test]
    fn values_past_the_last_octave_are_clamped_by_the_slow_path() {
        let s = Sparse::new();
        let (msb, sub) = super::super::msb_and_sub(u64::MAX);
        assert!(msb as usize >= OCTAVES + 5);
        assert!(!s.try_add(msb, sub));
        record(&s, u64::MAX);
        record(&s, 1 << 50);
        assert!(!s.try_add(msb, sub));
        let c = read(&s);
        assert_eq!(c.buckets[super::super::BUCKETS - 1], 2);
    }

    fn read(s: &Sparse) -> Counts {
        let mut c = Counts::new();
        s.read_into(&mut c);
        c
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
        for v in [100, 1_000, 10_000, 1 << 30] {
            let (o, sub) = locate(v);
            s.add(o, sub, &mut pool);
        }
        // Four octaves of counters and one directory, all from the pool.
        assert_eq!(pool.narrow.len(), Pool::NARROW - 4);
        assert_eq!(pool.dirs.len(), Pool::DIRS - 1);
        pool.refill();
        assert_eq!(pool.narrow.len(), Pool::NARROW);
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
    fn a_full_narrow_octave_turns_wide_without_losing_counts() {
        let s = Sparse::new();
        let n = u16::MAX as u64 + 10;
        for _ in 0..n {
            record(&s, 1_000);
        }
        record(&s, 2_000);
        let c = read(&s);
        let (o, sub) = locate(1_000);
        assert_eq!(c.buckets[o * SUB + sub], n);
        assert_eq!(c.nonzero().map(|(_, c)| c).sum::<u64>(), n + 1);
        // One wide octave (512), the retired narrow one (128), and 2,000's octave (128).
        assert_eq!(s.heap_bytes(), 512 + 128 + 128);
    }

    #[test]
    fn memory_follows_the_octaves_seen() {
        // Values within two octaves: one narrow octave each, in the inline window.
        let s = Sparse::new();
        for v in 1_024..3_072 {
            record(&s, v);
        }
        assert_eq!(s.heap_bytes(), 2 * 128);
        // An outlier far away: a directory of every octave, one more octave of counters.
        record(&s, 1 << 40);
        assert_eq!(s.heap_bytes(), 3 * 128 + (1 + OCTAVES) * 8);
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
}
