//! The histogram of one key on one thread, stored sparsely: memory follows the values seen.
//!
//! # Blocks
//!
//! A value `v` (at most `MAX_TRACKED`) has its most significant bit at `m = msb(v | 64)`,
//! 6 to 43, and its counter at index `i = v >> (m - 6)` of *block* `k = m - 6`:
//!
//! - block 0 holds the 128 values below 128 (the histogram's linear octaves 0 and 1), one
//!   counter each, `i` in 0..128;
//! - block `k >= 1` holds octave `k + 1` (the values of most significant bit `m`), 64
//!   counters, `i` in 64..128.
//!
//! Only the blocks that received a value have counters: `u16`s, 128 bytes a block (256 for
//! block 0). A key whose values stay within three octaves costs 384 bytes of counters.
//!
//! A counter that would pass `u16::MAX` *spills*: it restarts at 0 and its block's spill
//! array (`u64`s, made at its first spill) gains 65,536 at the same index. Readers add the two;
//! the spills are written under a sequence word of their own, so a reader never sees a counter
//! restarted without its spill (or the other way round), and retries the rare block read
//! across one. The writer therefore has one kind of counter to increment, always.
//!
//! # The writer's path
//!
//! A block's *entry* is the address of its counter `i = 64` (for block 0, 64 counters into
//! it), so that counter `i` of any block is at `entry + 2 * (i - 64)`: one displacement,
//! whatever the block. The writer keeps, apart from what readers see, a mask of the blocks
//! with counters (bit `m`) and a directory pointer biased so that it is indexed by `m` itself.
//! Counting a value is: its `m` and `i`, one bit test, one entry load and the counter's
//! increment with its overflow check — nothing else.
//!
//! # The readers' directory
//!
//! Readers reach the blocks through a *window*: a directory whose header names the blocks
//! `lo..lo + n` it covers, followed by their entries (null: no counters yet). The first window
//! is a small array inside the histogram itself, around the first value's block; a value
//! outside it publishes a directory of every block (312 bytes), after which the window never
//! changes again.
//!
//! What a histogram grows by comes from its thread's [`Pool`], refilled when the thread first
//! sees a key: a steady workload whose durations wander into a new octave does not call the
//! allocator on the hot path.
//!
//! # Concurrency
//!
//! One thread writes (relaxed loads and stores: no read-modify-write); any thread reads. The
//! directories the writer replaces (the empty one, a static, then the inline one, inside the
//! histogram) outlive it, and the directory of every block is never replaced, so a reader
//! that loaded an older pointer reads valid, if older, entries. Directories and entries are
//! published with `Release` and read with `Acquire`; a reader that first loads the key's call
//! count with `Acquire` (see `Slot::read`) sees every counter of the calls that count
//! includes, whichever pointer it finds.

use std::cell::UnsafeCell;
use std::sync::atomic::{fence, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, Ordering::*};

use super::{Counts, MAX_TRACKED, SUB};

/// Blocks: block 0 (values below 128) and one per octave above.
pub(crate) const BLOCKS: usize = super::OCTAVES - 1;
/// Blocks of the first window (inside the histogram: no allocation for keys whose values stay
/// within them).
const INLINE: usize = 4;
/// `m` of block 0.
const M0: usize = 6;

/// The block's `m` and the value's counter index in it (see the module documentation).
#[inline(always)]
fn place(v: u64) -> (usize, usize) {
    let m = msb(v | 64);
    (m, (v >> (m - M0)) as usize)
}

/// The most significant bit of `v` (not 0), as a `usize`: the width `bsr` gives it in, so
/// that indexing with it needs no zero extension.
#[inline(always)]
fn msb(v: u64) -> usize {
    // (Miri runs no inline assembly: it checks the same code with `ilog2`.)
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        let m: u64;
        // SAFETY: `bsr` of a value that is not 0 is its most significant bit. (Written out:
        // from `ilog2`, LLVM computes `63 ^ lzcnt` and the shift from that, three instructions
        // more on the hot path.)
        unsafe {
            std::arch::asm!("bsr {m}, {v}", v = in(reg) v, m = lateout(reg) m,
                options(pure, nomem, nostack));
        }
        m as usize
    }
    #[cfg(any(not(target_arch = "x86_64"), miri))]
    {
        v.ilog2() as usize
    }
}

/// Counters of a block: `N` of them (128 for block 0, 64 above).
#[repr(C, align(8))]
struct Counters<T, const N: usize>([T; N]);

type Narrow = Counters<AtomicU16, SUB>;
type Narrow0 = Counters<AtomicU16, { 2 * SUB }>;

fn narrow<const N: usize>() -> Box<Counters<AtomicU16, N>> {
    Box::new(Counters([const { AtomicU16::new(0) }; N]))
}

/// The entry of the counters at `base` (of block `k`).
fn entry_of(base: *const u8, k: usize) -> usize {
    base as usize + if k == 0 { 2 * SUB } else { 0 }
}

/// The first counter of the block `k` whose entry is `e`.
fn base_of(e: usize, k: usize) -> usize {
    e - if k == 0 { 2 * SUB } else { 0 }
}

/// What spilled from the counters (see the module documentation): by block, 65,536 per
/// spill at the counter's index (`2 * SUB` for block 0, `SUB` above), made at the block's
/// first spill.
struct Spills {
    /// Odd while a spill is being written.
    seq: AtomicU64,
    blocks: [AtomicPtr<AtomicU64>; BLOCKS],
}

/// The directory of a histogram that has seen nothing: an empty window.
static EMPTY: [AtomicUsize; 1] = [const { AtomicUsize::new(0) }];

/// A directory's header word: `lo` in the low half, `n` in the high half.
fn header(lo: usize, n: usize) -> usize {
    lo | (n << 32)
}

/// (lo, n) of a header word.
fn window(h: usize) -> (usize, usize) {
    (h & 0xffff_ffff, h >> 32)
}

/// Counters and directories kept ready for the histograms of one thread, so that a histogram
/// growing on the hot path does not call the allocator; refilled ([`Pool::refill`]) where
/// allocating is expected anyway (a key's first call on the thread).
// Boxed on purpose: the box itself is what an entry points to once taken.
#[allow(clippy::vec_box)]
#[derive(Default)]
pub(crate) struct Pool {
    narrow: Vec<Box<Narrow>>,
    narrow0: Vec<Box<Narrow0>>,
    dirs: Vec<Box<[AtomicUsize]>>,
}

impl Pool {
    /// How many of each it keeps ready.
    const NARROW: usize = 16;
    const NARROW0: usize = 1;
    const DIRS: usize = 2;

    /// Tops the pool up.
    pub(crate) fn refill(&mut self) {
        while self.narrow.len() < Self::NARROW {
            self.narrow.push(narrow());
        }
        while self.narrow0.len() < Self::NARROW0 {
            self.narrow0.push(narrow());
        }
        while self.dirs.len() < Self::DIRS {
            self.dirs.push(new_dir());
        }
    }
}

/// A directory of every block.
fn new_dir() -> Box<[AtomicUsize]> {
    (0..1 + BLOCKS).map(|_| AtomicUsize::new(0)).collect()
}

/// What only the writer reads: where its counters are, by `m`.
struct Writer {
    /// Bit `m`: block `m - 6` has counters.
    present: u64,
    /// The current directory's entries, biased so that the entry of block `m - 6` is at `m`
    /// (valid where a mask bit is set).
    by_m: *const AtomicUsize,
}

/// See the module documentation.
pub(crate) struct Sparse {
    /// Word 0: the header (`lo`, `n`); words 1..=n: the entries of blocks `lo..lo + n`.
    dir: AtomicPtr<AtomicUsize>,
    /// The first window's directory.
    inline: [AtomicUsize; 1 + INLINE],
    /// Owner only.
    writer: UnsafeCell<Writer>,
    /// What spilled (null: nothing yet).
    spills: AtomicPtr<Spills>,
}

// SAFETY: `writer` is touched only by the single writer (and by `Drop`, which
// has the value to itself); everything else is atomics.
unsafe impl Sync for Sparse {}
unsafe impl Send for Sparse {}

impl Sparse {
    pub(crate) const fn new() -> Sparse {
        Sparse {
            dir: AtomicPtr::new(EMPTY.as_ptr() as *mut AtomicUsize),
            inline: [const { AtomicUsize::new(0) }; 1 + INLINE],
            writer: UnsafeCell::new(Writer {
                present: 0,
                by_m: std::ptr::null(),
            }),
            spills: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Counts one value if its block has counters and its counter has room; `false` (and
    /// nothing counted) otherwise, as for a value above `MAX_TRACKED` (no block covers it).
    /// Only the owning thread calls this.
    #[inline(always)]
    pub(crate) fn try_add(&self, v: u64) -> bool {
        let (m, i) = place(v);
        // SAFETY: owner only (see the `Sync` impl); no other borrow of `writer` is live.
        let w = unsafe { &*self.writer.get() };
        if w.present >> m & 1 == 0 {
            return false;
        }
        // SAFETY: a mask bit is set only while `by_m` points at the entries of a live
        // directory that covers block `m - 6` and holds its counters there, which live until
        // the histogram is dropped; `i` is within the block (see `place`).
        let e = unsafe { (*w.by_m.wrapping_add(m)).load(Relaxed) };
        let c = unsafe { &*(e as *const AtomicU16).wrapping_add(i).wrapping_sub(SUB) };
        // Wrapped to 0: it was full, and the slow path spills it (tested after the
        // increment, whose flags say it: no compare).
        let n = c.load(Relaxed).wrapping_add(1);
        if n == 0 {
            return false;
        }
        c.store(n, Relaxed);
        true
    }

    /// Counts one value whatever it takes: a block outside the window, without counters, or
    /// a counter that spills. What it needs comes from `pool` (or the allocator when the pool
    /// is empty). Values above `MAX_TRACKED` count as `MAX_TRACKED`.
    #[cold]
    #[inline(never)]
    pub(crate) fn add_slow(&self, v: u64, pool: &mut Pool) {
        let v = v.min(MAX_TRACKED);
        // The memory is profx's, not that of the execution that happens to need it.
        crate::alloc::exclude(|| loop {
            if self.try_add(v) {
                return;
            }
            let (m, i) = place(v);
            let k = m - M0;
            let d = self.dir(Relaxed);
            // SAFETY: `dir` always points to a live directory of 1 + n words.
            let (lo, n) = window(unsafe { (*d).load(Relaxed) });
            let o = k.wrapping_sub(lo);
            if o >= n {
                self.widen(k, lo, n, pool);
                continue;
            }
            // SAFETY: `o < n`: an entry of the directory; owner only for `writer`.
            let entry = unsafe { &*d.add(1 + o) };
            let w = unsafe { &mut *self.writer.get() };
            let e = entry.load(Relaxed);
            if e == 0 {
                // New counters: the first value in them is this one.
                let e = if k == 0 {
                    let c = pool.narrow0.pop().unwrap_or_else(narrow);
                    c.0[i].store(1, Relaxed);
                    entry_of(Box::into_raw(c) as *const u8, k)
                } else {
                    let c = pool.narrow.pop().unwrap_or_else(narrow);
                    c.0[i - SUB].store(1, Relaxed);
                    entry_of(Box::into_raw(c) as *const u8, k)
                };
                entry.store(e, Release);
                w.present |= 1 << m;
                return;
            }
            // Full at `i`: spill.
            return self.spill(k, i, e);
        })
    }

    /// Moves the full counter `i` of block `k` (entry `e`) and the value being counted to the
    /// block's spills.
    fn spill(&self, k: usize, i: usize, e: usize) {
        let mut s = self.spills.load(Relaxed);
        if s.is_null() {
            s = Box::into_raw(Box::new(Spills {
                seq: AtomicU64::new(0),
                blocks: [const { AtomicPtr::new(std::ptr::null_mut()) }; BLOCKS],
            }));
            self.spills.store(s, Release);
        }
        // SAFETY: made above or before, freed only when the histogram drops.
        let s = unsafe { &*s };
        let len = if k == 0 { 2 * SUB } else { SUB };
        let mut b = s.blocks[k].load(Relaxed);
        if b.is_null() {
            let fresh: Box<[AtomicU64]> = (0..len).map(|_| AtomicU64::new(0)).collect();
            b = Box::into_raw(fresh) as *mut AtomicU64;
            s.blocks[k].store(b, Release);
        }
        let j = if k == 0 { i } else { i - SUB };
        // SAFETY: `j < len`, the block's spill array; its counter is `j` of the block too.
        let (high, low) = unsafe { (&*b.add(j), &*(base_of(e, k) as *const AtomicU16).add(j)) };
        // Odd: readers of this histogram retry a block read across what follows.
        s.seq.store(s.seq.load(Relaxed) + 1, Relaxed);
        fence(Release);
        high.store(high.load(Relaxed) + (u16::MAX as u64 + 1), Relaxed);
        low.store(0, Relaxed);
        s.seq.store(s.seq.load(Relaxed) + 1, Release);
    }

    /// Publishes a directory whose window also covers block `k`: the inline one around it for
    /// the first value, else one of every block.
    fn widen(&self, k: usize, lo: usize, n: usize, pool: &mut Pool) {
        let d = self.dir(Relaxed);
        let (new, new_lo) = if n == 0 {
            // First value: the inline directory, around it (durations drift both ways).
            let lo = k.saturating_sub(1).min(BLOCKS - INLINE);
            self.inline[0].store(header(lo, INLINE), Relaxed);
            (self.inline.as_ptr() as *mut AtomicUsize, lo)
        } else {
            let full = pool.dirs.pop().unwrap_or_else(new_dir);
            for (b, e) in full[1..].iter().enumerate() {
                let v = if b >= lo && b < lo + n {
                    // SAFETY: an entry of the current directory.
                    unsafe { (*d.add(1 + b - lo)).load(Relaxed) }
                } else {
                    0
                };
                e.store(v, Relaxed);
            }
            full[0].store(header(0, BLOCKS), Relaxed);
            (Box::into_raw(full) as *mut AtomicUsize, 0)
        };
        self.dir.store(new, Release);
        // SAFETY: owner only.
        let w = unsafe { &mut *self.writer.get() };
        // Entry of block b at word 1 + b - new_lo; block b is m = b + 6.
        w.by_m = new.wrapping_add(1).wrapping_sub(new_lo + M0).cast_const();
        // Only EMPTY and `inline`, which are never freed, are ever replaced: the directory of
        // every block covers any value, and is the last.
        debug_assert!(n == 0 || std::ptr::eq(d, self.inline.as_ptr()));
    }

    /// The current directory. One in `inline` is reached through `self`, not through the
    /// pointer stored when it was published: the same address, but derived from an earlier
    /// borrow of `self`, which Rust's aliasing rules (as Miri checks them) end at a later
    /// `&mut self`, such as `Drop`'s. Not on the hot path (`try_add` reads the writer's own
    /// directory).
    #[inline(always)]
    fn dir(&self, order: std::sync::atomic::Ordering) -> *mut AtomicUsize {
        let d = self.dir.load(order);
        let inline = self.inline.as_ptr() as *mut AtomicUsize;
        if d == inline {
            inline
        } else {
            d
        }
    }

    /// Calls `f` with each block that has counters: its index and its first counter's
    /// address. Any thread (what it finds lives until the histogram drops).
    fn blocks(&self, mut f: impl FnMut(usize, usize)) {
        let d = self.dir(Acquire);
        // SAFETY: `dir` always points to a live directory of 1 + n words.
        let (lo, n) = window(unsafe { (*d).load(Acquire) });
        for o in 0..n {
            // SAFETY: `o < n`.
            let e = unsafe { (*d.add(1 + o)).load(Acquire) };
            if e != 0 {
                f(lo + o, base_of(e, lo + o));
            }
        }
    }

    /// Adds every count to `into`. Any thread.
    pub(crate) fn read_into(&self, into: &mut Counts) {
        let mut buf = [0u64; 2 * SUB];
        self.blocks(|k, base| {
            let len = if k == 0 { 2 * SUB } else { SUB };
            // SAFETY: live counters of the block.
            let low = unsafe { std::slice::from_raw_parts(base as *const AtomicU16, len) };
            let mut spins = 0u32;
            // A block's counters with what they spilled, read between two equal even spill
            // sequences (the spills' pointers included: made once, never changed).
            loop {
                let s = self.spills.load(Acquire);
                // SAFETY: made by the writer, freed only when the histogram drops.
                let s = unsafe { s.as_ref() };
                let seq = s.map_or(0, |s| s.seq.load(Acquire));
                if seq % 2 == 0 {
                    for (b, c) in buf.iter_mut().zip(low) {
                        *b = c.load(Relaxed) as u64;
                    }
                    if let Some(high) = s.map(|s| s.blocks[k].load(Acquire)) {
                        if !high.is_null() {
                            // SAFETY: the block's spill array, `len` long.
                            let high = unsafe { std::slice::from_raw_parts(high, len) };
                            for (b, h) in buf.iter_mut().zip(high) {
                                *b += h.load(Relaxed);
                            }
                        }
                    }
                    fence(Acquire);
                    let again = self.spills.load(Relaxed);
                    // SAFETY: as above.
                    let seq2 = unsafe { again.as_ref() }.map_or(0, |s| s.seq.load(Relaxed));
                    if std::ptr::eq(again, s.map_or(std::ptr::null(), |s| s)) && seq2 == seq {
                        break;
                    }
                }
                spins += 1;
                if spins % 64 == 0 {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            }
            // Block 0 is the histogram's octaves 0 and 1; block k its octave k + 1.
            let first = if k == 0 { 0 } else { k + 1 };
            for (j, chunk) in buf[..len].chunks(SUB).enumerate() {
                for (d, c) in into.octave_mut(first + j).iter_mut().zip(chunk) {
                    *d += c;
                }
            }
        });
    }

    /// Bytes of heap this histogram holds (counters, spills and its directory).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        let d = self.dir(Acquire);
        let (_, n) = window(unsafe { (*d).load(Acquire) });
        let mut bytes = 0;
        if !std::ptr::eq(d, self.inline.as_ptr()) && n > 0 {
            bytes += (1 + n) * 8;
        }
        self.blocks(|k, _| bytes += if k == 0 { 4 } else { 2 } * SUB);
        if let Some(s) = unsafe { self.spills.load(Acquire).as_ref() } {
            bytes += std::mem::size_of::<Spills>();
            for (k, b) in s.blocks.iter().enumerate() {
                if !b.load(Acquire).is_null() {
                    bytes += if k == 0 { 16 } else { 8 } * SUB;
                }
            }
        }
        bytes
    }
}

impl Drop for Sparse {
    fn drop(&mut self) {
        self.blocks(|k, base| {
            // SAFETY: made by `Box::into_raw` in `add_slow`, of the block's kind.
            unsafe {
                if k == 0 {
                    drop(Box::from_raw(base as *mut Narrow0));
                } else {
                    drop(Box::from_raw(base as *mut Narrow));
                }
            }
        });
        let s = *self.spills.get_mut();
        if !s.is_null() {
            // SAFETY: made by `Box::into_raw` in `spill`, with blocks of their length.
            let s = unsafe { Box::from_raw(s) };
            for (k, b) in s.blocks.iter().enumerate() {
                let b = b.load(Relaxed);
                if !b.is_null() {
                    let len = if k == 0 { 2 * SUB } else { SUB };
                    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(b, len)) });
                }
            }
        }
        let d = self.dir(Relaxed);
        // SAFETY: as in `blocks`; nothing else uses the histogram any more.
        let (_, n) = window(unsafe { (*d).load(Relaxed) });
        if n > 0 && d != self.inline.as_mut_ptr() {
            // SAFETY: boxed in `widen` with 1 + n words.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(d, 1 + n)) });
        }
    }
}

#[cfg(test)]
mod tests;
