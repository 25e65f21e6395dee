//! The manual API without the `enabled` feature: no execution is ever recording, so its
//! state cannot exist (the types are empty) and every method is the not-recording case.

/// A recording execution: none without the `enabled` feature.
pub(super) enum On {}

/// A phase started and not ended yet: none either.
pub(super) enum Open {}

#[allow(clippy::needless_pass_by_value)]
impl On {
    pub(super) fn start(_: crate::Profiler, _: &str, _: &str, _: Option<&str>) -> Option<On> {
        None
    }

    pub(super) fn id(&self) -> String {
        match *self {}
    }

    pub(super) fn begin_phase(&mut self, _: &str) -> Open {
        match *self {}
    }

    pub(super) fn end_phase(&mut self, open: Open) {
        match open {}
    }

    pub(super) fn push_phase(&mut self, _: &str) {
        match *self {}
    }

    pub(super) fn pop_phase(&mut self) {
        match *self {}
    }

    pub(super) fn in_scope<R>(&mut self, _: impl FnOnce() -> R) -> R {
        match *self {}
    }

    pub(super) fn finish(self, _: Option<&dyn std::fmt::Display>) {
        match self {}
    }

    pub(super) fn end(self, _: impl FnOnce() -> Option<String>) {
        match self {}
    }

    pub(super) fn cancel(self) {
        match self {}
    }

    pub(super) fn drop_unended(self) {
        match self {}
    }
}
