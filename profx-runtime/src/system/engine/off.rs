//! The collector without the `enabled` feature: no thread, no snapshots.

use std::time::Duration;

use super::SystemSnapshot;

/// Nothing to sample with.
pub(crate) struct Engine;

impl Engine {
    pub(crate) fn new(_: usize) -> Engine {
        Engine
    }

    pub(crate) fn start(&self, _: Duration, _: usize) {}

    pub(crate) fn stop(&self) {}

    pub(crate) fn is_running(&self) -> bool {
        false
    }

    pub(crate) fn with_snapshots<T>(&self, f: impl FnOnce(&[SystemSnapshot]) -> T) -> T {
        f(&[])
    }
}
