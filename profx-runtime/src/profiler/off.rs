//! The profiler without the `enabled` feature: nothing is recorded, every read is empty, and
//! every method of [`Profiler`] exists with the same signature, so that code calling it
//! compiles unchanged.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{KeyHistogram, Profiler, Read, Tally};
use crate::{AggregateMetrics, ExecutionProfile, Report};

/// The state behind a `Profiler` handle: none.
#[derive(Clone)]
pub(crate) struct Inner;

/// What a `Profiler` holds.
pub(crate) type Handle = Inner;

pub(crate) fn global_profiler() -> &'static Profiler {
    static OFF: Profiler = Profiler { inner: Inner };
    &OFF
}

/// A profiler, which records nothing whatever `enabled` says.
pub(crate) fn new(enabled: bool) -> Profiler {
    let _ = enabled;
    Profiler { inner: Inner }
}

#[allow(dead_code)] // some readers are those of features that may be off
impl Inner {
    pub(crate) fn set_enabled(&self, _: bool) {}

    pub(crate) fn is_enabled(&self) -> bool {
        false
    }

    pub(crate) fn clear(&self) {}

    pub(crate) fn agent_metrics(&self, _: &str) -> Option<AggregateMetrics> {
        None
    }

    pub(crate) fn execution(&self, _: &str) -> Option<ExecutionProfile> {
        None
    }

    pub(crate) fn agent_executions(&self, _: &str) -> Vec<ExecutionProfile> {
        Vec::new()
    }

    pub(crate) fn bottleneck_threshold(&self) -> Duration {
        Report::BOTTLENECK_THRESHOLD
    }

    pub(crate) fn metrics_interval(&self) -> Duration {
        crate::config::Config::default().metrics_interval
    }

    pub(crate) fn histograms(&self, _: &[Duration]) -> Vec<KeyHistogram> {
        Vec::new()
    }

    pub(crate) fn report(&self, _: &Profiler, _: bool) -> Report {
        Report::empty()
    }

    pub(crate) fn read(&self, _: Option<u32>) -> Read {
        Read::default()
    }

    pub(crate) fn executions(&self, _: Option<u32>) -> BTreeMap<String, Vec<ExecutionProfile>> {
        BTreeMap::new()
    }

    pub(crate) fn tally(&self) -> Tally {
        Tally::default()
    }
}
