//! What the read side folds the slots and the kept records into: each key's totals over the
//! threads (`Acc`), the aggregates made of them, the by-name totals of phases and the
//! execution profiles.

use super::*;

use crate::histogram::Counts;
use crate::registry::{Ended, ExecRecord, SlotRef, SlotTotals, AGENT_LEVEL, WAITING};
use crate::{Outcome, PhaseMetrics, PhaseName, PhaseProfile};

/// The by-name total of the phase keys read so far (keys of one name are adjacent). A name
/// run under one agent only (the usual case) is that key's figures again; only a name under
/// several is merged and computed anew.
#[derive(Default)]
pub(super) struct ByName {
    name: Option<u32>,
    keys: u32,
    first: Option<PhaseMetrics>,
    acc: Acc,
    counts: Option<Counts>,
}

impl ByName {
    /// Adds a key of name `n` whose figures are `pm` (writing out the previous name first).
    pub(super) fn add(
        &mut self,
        out: &mut Read,
        name: &impl Fn(u32) -> String,
        n: u32,
        acc: &Acc,
        counts: &Counts,
        pm: &PhaseMetrics,
    ) {
        if self.name != Some(n) {
            self.flush(out, name);
            self.name = Some(n);
        }
        self.keys += 1;
        if self.keys == 1 {
            self.first = Some(pm.clone());
        }
        self.acc.merge(acc);
        self.counts.get_or_insert_with(Counts::new).merge(counts);
    }

    /// Writes out the name being summed, if any.
    pub(super) fn flush(&mut self, out: &mut Read, name: &impl Fn(u32) -> String) {
        let Some(n) = self.name.take() else {
            return;
        };
        let pm = match (self.keys, self.first.take()) {
            (1, Some(pm)) => pm,
            _ => self.acc.phase(self.counts.get_or_insert_with(Counts::new)),
        };
        out.phases.insert(name(n), pm);
        self.keys = 0;
        self.acc = Acc::default();
        if let Some(c) = &mut self.counts {
            c.clear();
        }
    }
}

/// A slot with its key, taken out of it to be sorted.
pub(super) struct Keyed<K> {
    pub(super) order: K,
    pub(super) name: u32,
    pub(super) parent: u32,
    pub(super) slot: SlotRef,
}

/// Calls `f` with each key of `slots` (sorted so that a key's slots are adjacent, and an
/// agent's [`WAITING`] key just before its own) that has calls: its name, its parent, its
/// totals over threads and its merged histogram. A `WAITING` key is not one of them: its time
/// is the next key's `waiting`, when that is its agent's own.
pub(super) fn for_each_key<K>(slots: &[Keyed<K>], mut f: impl FnMut(u32, u32, &Acc, &Counts)) {
    let mut counts = Counts::new();
    let mut waiting: Option<(u32, u128)> = None;
    let mut i = 0;
    while i < slots.len() {
        let (n, parent) = (slots[i].name, slots[i].parent);
        let mut acc = Acc::default();
        counts.clear();
        while i < slots.len() && slots[i].name == n && slots[i].parent == parent {
            if let Some(t) = slots[i].slot.read(&mut counts) {
                acc.add(&t);
            }
            i += 1;
        }
        if parent == WAITING {
            waiting = Some((n, acc.sum));
            continue;
        }
        if let Some((_, w)) = waiting
            .take()
            .filter(|&(w, _)| w == n && parent == AGENT_LEVEL)
        {
            acc.waiting = w;
        }
        if acc.count > 0 {
            f(n, parent, &acc, &counts);
        }
    }
}

/// A kept execution as reports see it; `threads`: the names of the threads profx numbered.
pub(super) fn profile(
    r: &ExecRecord,
    names: &[&'static str],
    threads: &std::collections::HashMap<u32, String>,
) -> ExecutionProfile {
    use crate::clock::{delta_ns, to_ns};
    let name = |id: u32| names.get(id as usize).copied().unwrap_or("?").to_owned();
    let agent = name(r.agent);
    let mut phases: Vec<PhaseProfile> = r
        .phases()
        .iter()
        .map(|p| PhaseProfile {
            name: PhaseName::from(names.get(p.name as usize).copied().unwrap_or("?")),
            start_offset: Duration::from_nanos(delta_ns(r.start, p.start)),
            duration: Duration::from_nanos(to_ns(p.duration)),
            depth: p.depth(),
            outcome: outcome(p.ended()),
        })
        .collect();
    // Records are pushed as phases end (children first): order them by start.
    phases.sort_by_key(|p| (p.start_offset, p.depth));
    ExecutionProfile {
        id: format!("{agent}-{}", r.serial),
        agent,
        request: if r.marks.has_request() {
            r.request.clone()
        } else {
            String::new()
        },
        start: crate::clock::wall(r.start),
        // A duration that wrapped (an end reading before the start) is 0, as in the aggregate.
        duration: Duration::from_nanos(to_ns(crate::clock::sane(r.duration))),
        // A sync execution: one poll, busy throughout (as far as its duration goes).
        polls: if r.marks.polled() { r.polls } else { 1 },
        busy: Duration::from_nanos(to_ns(if r.marks.polled() {
            r.busy.min(crate::clock::sane(r.duration))
        } else {
            crate::clock::sane(r.duration)
        })),
        memory_allocated: r.memory,
        allocations: r.allocations,
        thread_count: r.threads,
        success: r.ended == Ended::Ok,
        outcome: outcome(r.ended),
        error: (r.ended != Ended::Ok).then(|| r.error.clone()),
        phases,
        phases_dropped: u64::from(r.marks.phases_dropped()),
        parent: (r.parent_serial != 0)
            .then(|| format!("{}-{}", name(r.parent_agent), r.parent_serial)),
        traceparent: r.marks.traced().then(|| r.trace.header()),
        thread_id: u64::from(r.thread),
        thread_name: threads.get(&r.thread).cloned(),
    }
}

fn outcome(e: Ended) -> Outcome {
    match e {
        Ended::Ok => Outcome::Success,
        Ended::Failed => Outcome::Failure,
        Ended::Cancelled => Outcome::Cancelled,
    }
}

/// Totals of one key, summed over threads (durations in clock ticks).
#[derive(Default)]
pub(super) struct Acc {
    pub(super) count: u64,
    failures: u64,
    cancelled: u64,
    pub(super) sum: u128,
    /// The time of the phases nested directly in the calls (see `Slot`).
    nested: u128,
    min: u64,
    max: u64,
    /// An agent's: its bytes allocated. A phase's: its time outside its polls (an async
    /// phase's waiting; see `registry::WAITING`).
    mem_sum: u128,
    /// An agent's time outside its polls, from its `WAITING` key (see [`for_each_key`]).
    waiting: u128,
}

impl Acc {
    pub(super) fn add(&mut self, t: &SlotTotals) {
        self.merge(&Acc {
            count: t.count,
            failures: t.failures,
            cancelled: t.cancelled,
            sum: t.sum as u128,
            nested: t.nested as u128,
            min: t.min,
            max: t.max,
            mem_sum: t.mem_sum as u128,
            waiting: 0,
        });
    }

    pub(super) fn merge(&mut self, o: &Acc) {
        if o.count == 0 {
            return;
        }
        self.min = if self.count == 0 {
            o.min
        } else {
            self.min.min(o.min)
        };
        self.max = self.max.max(o.max);
        self.count += o.count;
        self.failures += o.failures;
        self.cancelled += o.cancelled;
        self.sum += o.sum;
        self.nested += o.nested;
        self.mem_sum += o.mem_sum;
        self.waiting += o.waiting;
    }

    /// `ticks` as a duration.
    pub(super) fn duration(&self, ticks: u128) -> Duration {
        let ns = crate::clock::to_ns_wide(ticks);
        Duration::from_nanos(ns.min(u64::MAX as u128) as u64)
    }

    pub(super) fn percentiles(&self, c: &Counts) -> crate::Percentiles {
        let [p50, p90, p95, p99, p999] = c
            .quantiles(
                [0.50, 0.90, 0.95, 0.99, 0.999],
                self.count,
                self.min,
                self.max,
            )
            .map(|t| self.duration(t as u128));
        crate::Percentiles {
            p50,
            p90,
            p95,
            p99,
            p999,
        }
    }

    /// The calls' own time: their duration less that of the phases nested directly in them
    /// (0 rather than below: concurrent async phases can add up to more than their parent).
    pub(super) fn self_duration(&self) -> Duration {
        self.duration(self.sum.saturating_sub(self.nested))
    }

    /// An agent's time spent working: its duration less its waiting (its `WAITING` key's).
    pub(super) fn agent_busy(&self) -> Duration {
        self.duration(self.sum.saturating_sub(self.waiting))
    }

    /// A phase's time spent working: its duration less its waiting (in its memory total).
    pub(super) fn phase_busy(&self) -> Duration {
        self.duration(self.sum.saturating_sub(self.mem_sum))
    }

    pub(super) fn avg(&self) -> Duration {
        self.duration(self.sum / self.count.max(1) as u128)
    }

    /// (failures, cancelled), within the count (a reader may see a failure counted before
    /// the call that made it: see `Slot`).
    pub(super) fn not_ok(&self) -> (u64, u64) {
        let failures = self.failures.min(self.count);
        (failures, self.cancelled.min(self.count - failures))
    }

    pub(super) fn agent(&self, c: &Counts) -> AggregateMetrics {
        let (failures, cancelled) = self.not_ok();
        AggregateMetrics {
            total_executions: self.count,
            success_count: self.count - failures - cancelled,
            failure_count: failures,
            cancelled_count: cancelled,
            avg_duration: self.avg(),
            self_duration: self.self_duration(),
            busy_duration: self.agent_busy(),
            min_duration: self.duration(self.min as u128),
            max_duration: self.duration(self.max as u128),
            avg_memory: (self.mem_sum / self.count.max(1) as u128) as u64,
            percentiles: self.percentiles(c),
            phases: BTreeMap::new(),
            long_lived: false,
        }
    }

    pub(super) fn phase(&self, c: &Counts) -> PhaseMetrics {
        let (failures, cancelled) = self.not_ok();
        PhaseMetrics {
            calls: self.count,
            failures,
            cancelled,
            total_duration: self.duration(self.sum),
            self_duration: self.self_duration(),
            busy_duration: self.phase_busy(),
            avg_duration: self.avg(),
            min_duration: self.duration(self.min as u128),
            max_duration: self.duration(self.max as u128),
            percentiles: self.percentiles(c),
        }
    }
}
