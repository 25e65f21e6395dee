//! The clock of the hot path.
//!
//! Two reads per instrumented call, so the cheapest monotonic source wins: on x86_64 with an
//! invariant TSC, `quanta` reads the time-stamp counter (`rdtsc`, ~8–11 ns on the VMs we measure on,
//! against ~25–36 ns for `Instant::now()`); elsewhere it falls back to the OS monotonic clock.
//! Raw readings are ticks, and durations are recorded in ticks; they become nanoseconds only
//! when read (one multiply and shift), or when an execution's start is turned into wall-clock
//! time.

use std::sync::atomic::{
    AtomicU64, AtomicU8,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

struct Base {
    clock: quanta::Clock,
    /// The raw reading and the wall-clock time taken together at start, to turn ticks into
    /// wall-clock timestamps without a `SystemTime::now()` per execution.
    raw: u64,
    wall: SystemTime,
}

static BASE: OnceLock<Base> = OnceLock::new();

/// Which source `now()` reads: 0 not decided yet, 1 the TSC directly, 2 through quanta.
static MODE: AtomicU8 = AtomicU8::new(0);
const TSC: u8 = 1;
const QUANTA: u8 = 2;
/// Nanoseconds per 2^32 ticks.
static SCALE_Q32: AtomicU64 = AtomicU64::new(1 << 32);

#[cold]
#[inline(never)]
fn init() -> &'static Base {
    BASE.get_or_init(|| {
        let clock = quanta::Clock::new();
        // quanta reads the TSC when it is invariant and calibrates it against the OS clock;
        // when its raw reading falls between two of our own `rdtsc`s it is the TSC, and the hot
        // path can read it inline instead of calling into quanta.
        let mode = if reads_tsc(&clock) { TSC } else { QUANTA };
        SCALE_Q32.store(clock.delta_as_nanos(0, 1 << 40) >> 8, Relaxed);
        MODE.store(mode, Release);
        if mode == TSC {
            // Instrumented calls may now read the TSC inline.
            crate::profiler::clock_is_tsc();
        }
        let raw = clock.raw();
        Base {
            clock,
            raw,
            wall: SystemTime::now(),
        }
    })
}

#[cfg(target_arch = "x86_64")]
fn reads_tsc(clock: &quanta::Clock) -> bool {
    (0..3).all(|_| {
        // SAFETY: rdtsc has no preconditions on x86_64.
        let a = unsafe { core::arch::x86_64::_rdtsc() };
        let q = clock.raw();
        let b = unsafe { core::arch::x86_64::_rdtsc() };
        a <= q && q <= b
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn reads_tsc(_: &quanta::Clock) -> bool {
    false
}

#[inline(always)]
fn base() -> &'static Base {
    match BASE.get() {
        Some(b) => b,
        None => init(),
    }
}

/// A raw monotonic reading, in clock ticks: inline when the clock is the TSC (one load, one
/// comparison), a call otherwise.
#[inline(always)]
pub(crate) fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if MODE.load(Acquire) == TSC {
        // SAFETY: rdtsc has no preconditions on x86_64.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    now_other()
}

/// [`now`] when the clock is not known to be the TSC: another clock, or not chosen yet.
#[cold]
#[inline(never)]
fn now_other() -> u64 {
    match MODE.load(Acquire) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: rdtsc has no preconditions on x86_64.
        TSC => unsafe { core::arch::x86_64::_rdtsc() },
        QUANTA => base().clock.raw(),
        _ => init().clock.raw(),
    }
}

/// A reading of the time-stamp counter, which the caller knows to be the clock (`ARMED`
/// without `NOT_TSC`); elsewhere than x86_64, [`now`].
#[inline(always)]
pub(crate) fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rdtsc has no preconditions on x86_64.
    return unsafe { core::arch::x86_64::_rdtsc() };
    #[cfg(not(target_arch = "x86_64"))]
    now()
}

/// A reading of the time-stamp counter, when that is the clock (`None`: call [`now`]).
#[inline(always)]
pub(crate) fn now_tsc() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    if MODE.load(Relaxed) == TSC {
        // SAFETY: rdtsc has no preconditions on x86_64.
        return Some(unsafe { core::arch::x86_64::_rdtsc() });
    }
    None
}

/// Nanoseconds in `ticks` clock ticks.
#[inline(always)]
pub(crate) fn to_ns(ticks: u64) -> u64 {
    ((ticks as u128 * SCALE_Q32.load(Relaxed) as u128) >> 32) as u64
}

/// Nanoseconds in `ticks` clock ticks, for sums.
pub(crate) fn to_ns_wide(ticks: u128) -> u128 {
    (ticks * SCALE_Q32.load(Relaxed) as u128) >> 32
}

/// Clock ticks in `ns` nanoseconds (rounded down; for bounds given in nanoseconds).
pub(crate) fn from_ns(ns: u64) -> u64 {
    let scale = SCALE_Q32.load(Relaxed).max(1) as u128;
    (((ns as u128) << 32) / scale).min(u64::MAX as u128) as u64
}

/// Clock ticks between two raw readings (0 if `end` is before `start`).
#[inline(always)]
pub(crate) fn ticks(start: u64, end: u64) -> u64 {
    end.saturating_sub(start)
}

/// A duration computed with a wrapping subtraction, 0 if it wrapped (`end` before `start`).
#[inline(always)]
pub(crate) fn sane(ticks: u64) -> u64 {
    if (ticks as i64) < 0 {
        0
    } else {
        ticks
    }
}

/// Nanoseconds between two raw readings (0 if `end` is before `start`).
#[inline(always)]
pub(crate) fn delta_ns(start: u64, end: u64) -> u64 {
    to_ns(ticks(start, end))
}

/// The wall-clock time of a raw reading.
pub(crate) fn wall(raw: u64) -> SystemTime {
    let b = base();
    if raw >= b.raw {
        b.wall + Duration::from_nanos(delta_ns(b.raw, raw))
    } else {
        b.wall - Duration::from_nanos(delta_ns(raw, b.raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_elapsed_nanoseconds() {
        let t0 = now();
        let i0 = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let t1 = now();
        let real = i0.elapsed().as_nanos() as u64;
        let measured = delta_ns(t0, t1);
        // Same interval measured by two clocks: allow 2 ms of scheduling between the reads.
        assert!(measured.abs_diff(real) < 2_000_000, "{measured} vs {real}");
        assert_eq!(delta_ns(t1, t0), 0);
    }

    #[test]
    fn wall_clock_of_a_reading_is_close_to_now() {
        let w = wall(now());
        let diff = match SystemTime::now().duration_since(w) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        assert!(diff < Duration::from_millis(50), "{diff:?}");
    }
}
