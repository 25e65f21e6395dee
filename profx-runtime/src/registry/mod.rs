//! Where calls are recorded: names, per-thread tables of slots, and rings of recent executions.
//!
//! Each thread owns a [`ThreadTable`] (one per profiler, through `thread_local::ThreadLocal`).
//! The owning thread is the only writer of its slots, so recording a call is a handful of
//! relaxed loads and stores: no lock, no read-modify-write, no allocation once the key has been
//! seen on the thread. Readers on other threads load the same atomics at any time.
//! A table outlives its thread (the `ThreadLocal` keeps it, and hands it to the next thread that
//! gets the same thread id), so what an exited thread recorded is still read.
//!
//! - [`names`]: name ids and call sites;
//! - [`slot`]: the counters of one key on one thread ([`ended`]: how a call ended);
//! - [`table`]: a thread's slots, found by name id;
//! - [`record`]: one execution, its state while it runs and its record once kept;
//! - [`rings`]: the kept executions of each agent.

use crate::lock::lock;

mod ended;
mod names;
mod record;
mod rings;
mod slot;
mod table;

pub(crate) use ended::Ended;
#[allow(unused_imports)] // `intern`: the tracing layer's
pub(crate) use names::{
    intern, intern_cached, is_long_lived, lookup, names, set_threshold, threshold_of,
};
pub use names::{Site, SiteRef};
pub(crate) use record::{ExecRecord, Marks, RawPhase};
pub(crate) use rings::Rings;
pub(crate) use slot::SlotTotals;
pub(crate) use table::{SlotRef, ThreadTable};

/// Parent of an agent's own aggregate.
pub(crate) const AGENT_LEVEL: u32 = u32::MAX;
/// Parent of a phase that ran outside any execution (name id 0 is never assigned).
pub(crate) const NO_AGENT: u32 = 0;
/// Parent of an async agent's waiting key: one call per execution, of its waiting time (its
/// duration less the time spent inside its polls), whose `mem_sum` counts its polls. Readers
/// fold it into the agent's aggregate (`busy = sum - waiting`); it is never a key of its own.
/// (An async phase's waiting time goes into its own key's `mem_sum`, which phases leave
/// unused.)
pub(crate) const WAITING: u32 = u32::MAX - 2;
