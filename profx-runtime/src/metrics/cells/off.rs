//! Storage without the `enabled` feature: none. The cells are empty; writes do nothing and
//! reads are zero, so that the handles have one body for both states.

/// Whether these cells record (the store shows their series): no.
pub(super) const RECORDS: bool = false;

use super::buckets::BUCKETS;

#[derive(Default)]
pub(super) struct CounterCell;

impl CounterCell {
    pub(super) fn new() -> CounterCell {
        CounterCell
    }

    #[inline(always)]
    pub(super) fn add(&self, _: u64) {}

    pub(super) fn get(&self) -> u64 {
        0
    }
}

#[derive(Default)]
pub(super) struct GaugeCell;

impl GaugeCell {
    pub(super) fn new() -> GaugeCell {
        GaugeCell
    }

    #[inline(always)]
    pub(super) fn set(&self, _: f64) {}

    #[inline(always)]
    pub(super) fn add(&self, _: f64) {}

    pub(super) fn get(&self) -> f64 {
        0.0
    }
}

#[derive(Default)]
pub(super) struct HistogramCell;

impl HistogramCell {
    pub(super) fn new() -> HistogramCell {
        HistogramCell
    }

    #[inline(always)]
    pub(super) fn record_ns(&self, _: u64) {}

    pub(super) fn read(&self) -> ([u64; BUCKETS], u64) {
        ([0; BUCKETS], 0)
    }
}
