//! Without counting: the same names as `counting.rs`, doing nothing.

use super::AllocTotals;

#[inline(always)]
pub(super) fn allocated(_: usize) {}
#[inline(always)]
pub(super) fn freed(_: usize) {}
#[inline(always)]
pub(super) fn reallocated(_: usize, _: usize) {}

#[inline(always)]
#[cfg_attr(not(feature = "enabled"), allow(dead_code))]
pub(crate) fn installed() -> bool {
    false
}

#[allow(dead_code)] // read by the collector
pub(crate) fn totals() -> AllocTotals {
    AllocTotals::default()
}

#[cfg(feature = "enabled")]
pub(crate) fn fold_at_thread_exit() {}

#[cfg(feature = "enabled")]
#[inline(always)]
pub(crate) fn exclude<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(feature = "enabled")]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Mark;

#[cfg(feature = "enabled")]
impl Mark {
    pub(crate) fn since(self) -> Option<(u64, u64)> {
        None
    }
}

#[cfg(feature = "enabled")]
#[inline(always)]
pub(crate) fn mark() -> Mark {
    Mark
}

#[cfg(feature = "enabled")]
#[derive(Debug, Default)]
pub(crate) struct Tally;

#[cfg(feature = "enabled")]
impl Tally {
    #[inline(always)]
    pub(crate) fn start() -> Tally {
        Tally
    }
    #[inline(always)]
    pub(crate) fn begin(&mut self) {}
    #[inline(always)]
    pub(crate) fn begin_if(&mut self, _: u32) {}
    #[inline(always)]
    pub(crate) fn settle_sync_once(&mut self) {}
    #[inline(always)]
    pub(crate) fn poll_start(&mut self) -> Option<Mark> {
        None
    }
    #[inline(always)]
    pub(crate) fn poll_end(&mut self, _: Mark) {}
    pub(crate) fn elsewhere(&self, _: &Mark) -> bool {
        false
    }
    #[inline(always)]
    pub(crate) fn settle(&mut self) {}
    #[inline(always)]
    pub(crate) fn totals(&self) -> (u64, u64) {
        (0, 0)
    }
}
