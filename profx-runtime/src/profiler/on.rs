//! The enabled side of the profiler: its shared state (`Inner`), the per-thread tables and
//! the read that folds every thread's slots into metrics.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, OnceLock};

use thread_local::ThreadLocal;

use crate::config::Config;
use crate::histogram::Counts;
use crate::registry::{
    self, ExecRecord, Rings, Slot, SlotTotals, ThreadTable, AGENT_LEVEL, NO_AGENT,
};
use crate::{PhaseMetrics, PhaseProfile};

/// The state behind a `Profiler` handle.
pub(crate) struct Inner {
    pub(crate) enabled: AtomicBool,
    /// Bumped by `clear()`; slots and records of older generations are not read.
    pub(crate) gen: AtomicU64,
    pub(crate) config: Config,
    /// The recent executions of each agent.
    pub(crate) rings: Rings,
    /// The global profiler's tables are also reached through a plain thread-local.
    is_global: bool,
    tables: ThreadLocal<ThreadTable>,
}

thread_local! {
    /// This thread's table of the global profiler, once it has one.
    static GLOBAL_TABLE: std::cell::Cell<*const ThreadTable> =
        const { std::cell::Cell::new(std::ptr::null()) };
}

static GLOBAL: OnceLock<Profiler> = OnceLock::new();
static GLOBAL_INNER: OnceLock<&'static Inner> = OnceLock::new();

#[cold]
fn init_global() -> &'static Profiler {
    GLOBAL.get_or_init(|| {
        let mut inner = Inner::new(Config::from_env());
        inner.is_global = true;
        Profiler {
            inner: Arc::new(inner),
        }
    })
}

#[inline]
pub(crate) fn global_profiler() -> &'static Profiler {
    match GLOBAL.get() {
        Some(p) => p,
        None => init_global(),
    }
}

/// The global profiler's state (what the macros record into).
#[inline(always)]
pub(crate) fn global_inner() -> &'static Inner {
    match GLOBAL_INNER.get() {
        Some(i) => i,
        None => init_global_inner(),
    }
}

#[cold]
fn init_global_inner() -> &'static Inner {
    GLOBAL_INNER.get_or_init(|| {
        let p: &'static Profiler = global_profiler();
        &p.inner
    })
}

impl Inner {
    pub(crate) fn new(config: Config) -> Inner {
        Inner {
            enabled: AtomicBool::new(config.enabled),
            gen: AtomicU64::new(0),
            config,
            rings: Rings::new(),
            is_global: false,
            tables: ThreadLocal::new(),
        }
    }

    /// This thread's table.
    #[inline(always)]
    pub(crate) fn table(&self) -> &ThreadTable {
        if self.is_global {
            let t = GLOBAL_TABLE.get();
            if !t.is_null() {
                // SAFETY: the global profiler is never dropped, and a `ThreadLocal` keeps
                // a thread's value at the same address for as long as it lives.
                return unsafe { &*t };
            }
            return self.first_global_table();
        }
        match self.tables.get() {
            Some(t) => t,
            None => crate::alloc::exclude(|| self.tables.get_or(ThreadTable::new)),
        }
    }

    /// A thread's first use of the global profiler.
    #[cold]
    #[inline(never)]
    fn first_global_table(&self) -> &ThreadTable {
        // The table is profx's memory: no execution counts it.
        crate::alloc::exclude(|| {
            let t = self.tables.get_or(ThreadTable::new);
            GLOBAL_TABLE.set(t);
            // Once per thread, outside the allocator: this thread's pending allocation
            // counts reach the process totals when it exits.
            crate::alloc::fold_at_thread_exit();
            t
        })
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        let mut all = Vec::new();
        for t in self.tables.iter() {
            all.extend(t.slots());
        }
        all
    }

    /// Reads the aggregates (of one agent, or of everything).
    pub(crate) fn read(&self, agent: Option<u32>) -> Read {
        let gen = self.gen.load(Acquire);
        let names = registry::names();
        let name = |id: u32| names.get(id as usize).copied().unwrap_or("?").to_owned();
        let mut slots: Vec<Arc<Slot>> = self
            .slots()
            .into_iter()
            .filter(|s| match agent {
                None => true,
                Some(a) => s.parent == a || (s.parent == AGENT_LEVEL && s.name == a),
            })
            .collect();
        slots.sort_by_key(|s| (s.parent == AGENT_LEVEL, s.name, s.parent));

        let mut out = Read {
            agents: BTreeMap::new(),
            phases: BTreeMap::new(),
            loose: BTreeMap::new(),
        };
        let mut key_counts = Counts::new();
        let mut name_counts = Counts::new();
        let mut name_acc = Acc::default();
        let mut i = 0;
        while i < slots.len() {
            let (n, parent) = (slots[i].name, slots[i].parent);
            let mut acc = Acc::default();
            key_counts.buckets.iter_mut().for_each(|b| *b = 0);
            while i < slots.len() && slots[i].name == n && slots[i].parent == parent {
                if let Some(t) = slots[i].read(gen, &mut key_counts) {
                    acc.add(&t);
                }
                i += 1;
            }
            if parent == AGENT_LEVEL {
                if acc.count > 0 {
                    let mut m = acc.agent(&key_counts);
                    // Its phases came first in the sort order: keep them.
                    let e = out.agents.entry(name(n)).or_default();
                    m.phases = std::mem::take(&mut e.phases);
                    *e = m;
                }
                continue;
            }
            // A phase key: into its agent, and into the by-name total.
            if acc.count > 0 {
                let pm = acc.phase(&key_counts);
                if parent == NO_AGENT {
                    out.loose.insert(name(n), pm.clone());
                } else if agent.is_none() || agent == Some(parent) {
                    out.agents
                        .entry(name(parent))
                        .or_default()
                        .phases
                        .insert(name(n), pm);
                }
                name_acc.merge(&acc);
                for (d, s) in name_counts.buckets.iter_mut().zip(&key_counts.buckets) {
                    *d += s;
                }
            }
            let last_of_name =
                i >= slots.len() || slots[i].name != n || slots[i].parent == AGENT_LEVEL;
            if last_of_name {
                if name_acc.count > 0 {
                    out.phases.insert(name(n), name_acc.phase(&name_counts));
                }
                name_acc = Acc::default();
                name_counts.buckets.iter_mut().for_each(|b| *b = 0);
            }
        }
        // An agent whose phases were recorded but that has no completed execution yet is
        // not an agent with executions: drop such entries.
        out.agents.retain(|_, m| m.total_executions > 0);
        out
    }

    /// Each key's counts folded onto `bounds`; see `Profiler::histograms`.
    pub(crate) fn histograms(&self, bounds: &[Duration]) -> Vec<KeyHistogram> {
        let gen = self.gen.load(Acquire);
        let names = registry::names();
        let name = |id: u32| names.get(id as usize).copied().unwrap_or("?").to_owned();
        let bounds_ns: Vec<u64> = bounds
            .iter()
            .map(|b| b.as_nanos().min(u64::MAX as u128) as u64)
            .collect();
        let mut slots = self.slots();
        slots.sort_by_key(|s| (s.name, s.parent));
        let mut out = Vec::new();
        let mut counts = Counts::new();
        let mut i = 0;
        while i < slots.len() {
            let (n, parent) = (slots[i].name, slots[i].parent);
            let mut acc = Acc::default();
            counts.buckets.iter_mut().for_each(|b| *b = 0);
            while i < slots.len() && slots[i].name == n && slots[i].parent == parent {
                if let Some(t) = slots[i].read(gen, &mut counts) {
                    acc.add(&t);
                }
                i += 1;
            }
            if acc.count == 0 {
                continue;
            }
            let (agent, phase) = if parent == AGENT_LEVEL {
                (name(n), None)
            } else if parent == NO_AGENT {
                (String::new(), Some(name(n)))
            } else {
                (name(parent), Some(name(n)))
            };
            out.push(KeyHistogram {
                agent,
                phase,
                count: acc.count,
                failures: acc.failures.min(acc.count),
                sum: Duration::from_nanos(acc.sum.min(u64::MAX as u128) as u64),
                buckets: crate::histogram::fold(&counts, &bounds_ns),
            });
        }
        out.sort_by(|a, b| (&a.agent, &a.phase).cmp(&(&b.agent, &b.phase)));
        out
    }

    /// The kept executions (of one agent, or of all), oldest first, per agent.
    pub(crate) fn executions(&self, agent: Option<u32>) -> BTreeMap<String, Vec<ExecutionProfile>> {
        let gen = self.gen.load(Acquire);
        let names = registry::names();
        let mut found: Vec<(u32, u64, u64, ExecutionProfile)> = Vec::new();
        self.rings.read(agent, gen, |r| {
            found.push((r.agent, r.start, r.serial, profile(r, &names)));
        });
        found.sort_by_key(|f| (f.0, f.1, f.2));
        let mut out: BTreeMap<String, Vec<ExecutionProfile>> = BTreeMap::new();
        for (_, _, _, p) in found {
            out.entry(p.agent.clone()).or_default().push(p);
        }
        out
    }

    pub(crate) fn execution(&self, id: &str) -> Option<ExecutionProfile> {
        let (agent, serial) = id.rsplit_once('-')?;
        let serial: u64 = serial.parse().ok()?;
        let a = registry::lookup(agent)?;
        let gen = self.gen.load(Acquire);
        let names = registry::names();
        let mut found = None;
        self.rings.read(Some(a), gen, |r| {
            if r.serial == serial {
                found = Some(profile(r, &names));
            }
        });
        found
    }
}

fn profile(r: &ExecRecord, names: &[&'static str]) -> ExecutionProfile {
    let name = |id: u32| names.get(id as usize).copied().unwrap_or("?").to_owned();
    let agent = name(r.agent);
    let mut phases: Vec<PhaseProfile> = r
        .phases
        .iter()
        .map(|p| PhaseProfile {
            name: name(p.name),
            start_offset: Duration::from_nanos(p.offset_ns),
            duration: Duration::from_nanos(p.duration_ns),
            depth: p.depth,
        })
        .collect();
    // Records are pushed as phases end (children first): order them by start.
    phases.sort_by_key(|p| (p.start_offset, p.depth));
    ExecutionProfile {
        id: format!("{agent}-{}", r.serial),
        agent,
        request: r.request.clone(),
        start: crate::clock::wall(r.start),
        duration: Duration::from_nanos(r.duration_ns),
        memory_allocated: r.memory,
        allocations: r.allocations,
        thread_count: r.threads,
        success: r.success,
        error: r.error.clone(),
        phases,
        phases_dropped: r.phases_dropped,
    }
}

/// Totals of one key, summed over threads.
#[derive(Default)]
struct Acc {
    count: u64,
    failures: u64,
    sum: u128,
    min: u64,
    max: u64,
    mem_sum: u128,
}

impl Acc {
    fn add(&mut self, t: &SlotTotals) {
        self.merge(&Acc {
            count: t.count,
            failures: t.failures,
            sum: t.sum as u128,
            min: t.min,
            max: t.max,
            mem_sum: t.mem_sum as u128,
        });
    }

    fn merge(&mut self, o: &Acc) {
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
        self.sum += o.sum;
        self.mem_sum += o.mem_sum;
    }

    fn percentiles(&self, c: &Counts) -> crate::Percentiles {
        let q = |p| Duration::from_nanos(c.quantile(p, self.count, self.min, self.max));
        crate::Percentiles {
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
        }
    }

    fn avg(&self) -> Duration {
        Duration::from_nanos((self.sum / self.count.max(1) as u128) as u64)
    }

    fn agent(&self, c: &Counts) -> AggregateMetrics {
        AggregateMetrics {
            total_executions: self.count,
            success_count: self.count - self.failures.min(self.count),
            failure_count: self.failures.min(self.count),
            avg_duration: self.avg(),
            min_duration: Duration::from_nanos(self.min),
            max_duration: Duration::from_nanos(self.max),
            avg_memory: (self.mem_sum / self.count.max(1) as u128) as u64,
            percentiles: self.percentiles(c),
            phases: BTreeMap::new(),
        }
    }

    fn phase(&self, c: &Counts) -> PhaseMetrics {
        PhaseMetrics {
            calls: self.count,
            failures: self.failures.min(self.count),
            total_duration: Duration::from_nanos(self.sum.min(u64::MAX as u128) as u64),
            avg_duration: self.avg(),
            min_duration: Duration::from_nanos(self.min),
            max_duration: Duration::from_nanos(self.max),
            percentiles: self.percentiles(c),
        }
    }
}
