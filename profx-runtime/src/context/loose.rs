//! Phases that run outside any execution (or outside the one they started in): aggregated in
//! the global profiler's table of the thread, with their own nested time per thread.

use super::TLS;
use crate::clock;
use crate::profiler::global_inner;
use crate::registry::Ended;

/// Records a phase that ran outside any execution (or outside the one it started in) in the
/// global profiler, under `agent` (`NO_AGENT`: none). `waiting`: an async phase's time not
/// spent inside its polls (0 for a sync one).
#[inline(always)]
pub(super) fn record_loose(
    name: u32,
    agent: u32,
    ticks: u64,
    nested: u64,
    ended: Ended,
    waiting: u64,
) {
    let t = TLS.with(|t| t.global_table.get());
    if !t.is_null() {
        // SAFETY: this thread's table of the global profiler, which is never dropped.
        if let Some(slot) = unsafe { (*t).slot_fast(name, agent) } {
            if slot.try_count(ticks) {
                slot.commit(ticks, nested, ended, waiting);
                return;
            }
        }
    }
    record_loose_slow(name, agent, ticks, nested, ended, waiting)
}

/// [`ExecState::nested`](super::ExecState::nested) of the phases run outside any execution on this thread.
#[inline(always)]
pub(super) fn loose_nested() -> u64 {
    TLS.with(|t| t.loose_nested.get())
}

/// [`ExecState::close`](super::ExecState::close) for a phase run outside any execution.
#[inline(always)]
pub(super) fn close_loose(s0: u64, ticks: u64) -> u64 {
    TLS.with(|t| {
        let nested = t.loose_nested.get().wrapping_sub(s0);
        t.loose_nested.set(s0.wrapping_add(ticks));
        nested
    })
}

#[cold]
#[inline(never)]
fn record_loose_slow(name: u32, agent: u32, ticks: u64, nested: u64, ended: Ended, waiting: u64) {
    let ticks = clock::sane(ticks);
    global_inner()
        .table()
        .record(name, agent, ticks, nested, ended, waiting);
}
