//! The enabled side of the profiler: its shared state (`Inner`), the per-thread tables and
//! the read that folds every thread's slots into metrics.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, OnceLock};

use thread_local::ThreadLocal;

use crate::config::Config;
use crate::registry::{self, Rings, SlotRef, ThreadTable, AGENT_LEVEL, NO_AGENT, WAITING};

use super::fold::{for_each_key, profile, ByName, Keyed};

/// What an instrumented call reads first: 0 when nothing records (it then runs its body and
/// nothing else: one load and a branch). Otherwise [`GLOBAL_ON`] when the global profiler records
/// (from the start until it has read its settings), plus the number of other profilers that
/// do; and, while the clock is not known to be the TSC, [`NOT_TSC`], which makes the value
/// negative as an `i32`: a positive value means "record, reading the TSC inline".
pub(crate) static ARMED: AtomicU32 = AtomicU32::new(GLOBAL_ON | NOT_TSC);

/// The bit of [`ARMED`] that says the clock is not (or not yet known to be) the TSC; set only
/// with another bit.
pub(crate) const NOT_TSC: u32 = 1 << 31;

/// The bit of [`ARMED`] that says the global profiler records.
pub(crate) const GLOBAL_ON: u32 = 1 << 30;

/// The bit of [`ARMED`] that says the counting allocator is installed (set only with another
/// bit): a sync agent, which has the value in a register, counts its execution's allocations
/// only then.
pub(crate) const ALLOC_ON: u32 = 1 << 29;

/// What [`ARMED`] is made of, changed under this lock (rarely: a profiler made, switched or
/// dropped, the clock found).
struct Switches {
    global: bool,
    others: u32,
    tsc: bool,
    alloc: bool,
}

static SWITCHES: Mutex<Switches> = Mutex::new(Switches {
    global: true,
    others: 0,
    tsc: false,
    alloc: false,
});

/// Changes the switches and publishes [`ARMED`] from them.
fn switch(f: impl FnOnce(&mut Switches)) {
    let mut s = SWITCHES.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut s);
    let mut a = if s.global { GLOBAL_ON } else { 0 } | s.others;
    if a != 0 && !s.tsc {
        a |= NOT_TSC;
    }
    if a != 0 && s.alloc {
        a |= ALLOC_ON;
    }
    ARMED.store(a, SeqCst);
}

/// The counting allocator is installed: sync agents count their executions' allocations.
/// (Called once, from the allocator: the switches' lock is never held across an allocation.)
pub(crate) fn alloc_installed() {
    switch(|s| s.alloc = true);
}

/// The clock is the TSC: instrumented calls may read it inline.
pub(crate) fn clock_is_tsc() {
    switch(|s| s.tsc = true);
}

/// Whether any profiler records.
#[inline(always)]
pub(crate) fn armed() -> bool {
    ARMED.load(Relaxed) != 0
}

/// What a `Profiler` holds.
pub(crate) type Handle = Arc<Inner>;

/// A profiler of its own, recording from the start or not, with the limits of the
/// environment.
pub(crate) fn new(enabled: bool) -> Profiler {
    let mut config = Config::from_env();
    config.enabled = enabled;
    Profiler {
        inner: Arc::new(Inner::new(config, false)),
    }
}

/// The state behind a `Profiler` handle.
pub(crate) struct Inner {
    pub(crate) enabled: AtomicBool,
    /// Bumped by `clear()`; slots of older generations are not read.
    pub(crate) gen: AtomicU64,
    /// The clock reading at the last `clear()` (0: none): records of executions that ended
    /// before it are not read (the writers stamp nothing for it).
    cleared_at: AtomicU64,
    pub(crate) config: Config,
    /// The recent executions of each agent.
    pub(crate) rings: Rings,
    /// The global profiler's tables are also reached through the thread-local block.
    is_global: bool,
    tables: ThreadLocal<ThreadTable>,
}

static GLOBAL: OnceLock<Profiler> = OnceLock::new();
static GLOBAL_INNER: OnceLock<&'static Inner> = OnceLock::new();

#[cold]
fn init_global() -> &'static Profiler {
    GLOBAL.get_or_init(|| Profiler {
        inner: Arc::new(Inner::new(Config::process().clone(), true)),
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

/// The global profiler's state, once a thread has made its table in it.
static GLOBAL_PTR: AtomicPtr<Inner> = AtomicPtr::new(std::ptr::null_mut());

/// The global profiler's state, for a thread whose thread-local block names its table there
/// (one load; `global_inner` also checks that it was made).
#[inline(always)]
pub(crate) fn global_inner_here() -> &'static Inner {
    // SAFETY: set before the first table of the global profiler was named in a thread-local
    // block (Release; the thread that reads it set its block after, or read it through the
    // same thread's program order), and the global profiler is never dropped.
    unsafe { &*GLOBAL_PTR.load(Relaxed) }
}

#[cold]
fn init_global_inner() -> &'static Inner {
    GLOBAL_INNER.get_or_init(|| {
        let p: &'static Profiler = global_profiler();
        &p.inner
    })
}

impl Inner {
    pub(crate) fn new(config: Config, is_global: bool) -> Inner {
        if is_global {
            // The global profiler's share of ARMED was there from the start.
            if !config.enabled {
                switch(|s| s.global = false);
            }
        } else if config.enabled {
            switch(|s| s.others += 1);
        }
        Inner {
            enabled: AtomicBool::new(config.enabled),
            gen: AtomicU64::new(0),
            cleared_at: AtomicU64::new(0),
            config,
            rings: Rings::new(),
            is_global,
            tables: ThreadLocal::new(),
        }
    }

    /// Turns recording on or off.
    pub(crate) fn set_enabled(&self, on: bool) {
        let global = self.is_global;
        // Under the switches' lock, so that ARMED follows the last switch of each profiler.
        switch(|s| {
            if self.enabled.swap(on, SeqCst) != on {
                if global {
                    s.global = on;
                } else if on {
                    s.others += 1;
                } else {
                    s.others -= 1;
                }
            }
        });
    }

    /// Whether it records.
    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    pub(crate) fn agent_metrics(&self, agent: &str) -> Option<AggregateMetrics> {
        let id = registry::lookup(agent)?;
        self.read(Some(id)).agents.remove(agent)
    }

    pub(crate) fn agent_executions(&self, agent: &str) -> Vec<ExecutionProfile> {
        let Some(id) = registry::lookup(agent) else {
            return Vec::new();
        };
        self.executions(Some(id)).remove(agent).unwrap_or_default()
    }

    pub(crate) fn bottleneck_threshold(&self) -> Duration {
        self.config.bottleneck_threshold
    }

    /// How often the global collector samples (`PROFX_METRICS_INTERVAL`).
    pub(crate) fn metrics_interval(&self) -> Duration {
        self.config.metrics_interval
    }

    /// Everything recorded now (the kept executions only if `executions`); `profiler` is this
    /// state's handle, for the system metrics its collector took.
    pub(crate) fn report(&self, profiler: &Profiler, executions: bool) -> Report {
        let r = self.read(None);
        let executions = if executions {
            self.executions(None)
        } else {
            BTreeMap::new()
        };
        let threshold = self.bottleneck_threshold();
        let bottlenecks = r.bottlenecks(threshold);
        let mut report = Report::from_parts(r.agents, r.phases, executions);
        report.bottlenecks = bottlenecks;
        report.bottleneck_threshold = threshold;
        report.system = crate::system::system_for(profiler);
        // Memory figures are real (not zeros) once the counting allocator is in use.
        report.memory_measured = crate::alloc::installed();
        report
    }

    /// Starts a new generation: what was recorded is no longer read, and every thread's next
    /// call moves to new slots (see `ThreadTable`).
    pub(crate) fn clear(&self) {
        self.cleared_at.store(crate::clock::now(), SeqCst);
        self.gen.fetch_add(1, SeqCst);
        for t in self.tables.iter() {
            t.cut();
        }
    }

    /// This thread's table.
    #[inline(always)]
    pub(crate) fn table(&self) -> &ThreadTable {
        if self.is_global {
            let t = crate::context::TLS.with(|t| t.global_table.get());
            if !t.is_null() {
                // SAFETY: the global profiler is never dropped, and a `ThreadLocal` keeps
                // a thread's value at the same address for as long as it lives.
                return unsafe { &*t };
            }
            return self.first_global_table();
        }
        match self.tables.get() {
            Some(t) => t,
            None => crate::alloc::exclude(|| self.tables.get_or(|| ThreadTable::new(&self.gen))),
        }
    }

    /// A thread's first use of the global profiler.
    #[cold]
    #[inline(never)]
    fn first_global_table(&self) -> &ThreadTable {
        // The table is profx's memory: no execution counts it.
        crate::alloc::exclude(|| {
            let t = self.tables.get_or(|| ThreadTable::new(&self.gen));
            // Numbered before it has a table: an execution that finds the table finds the
            // number (see `SyncAgent::run`).
            crate::context::thread_no();
            // Before any thread-local block names a table of it (see `global_inner_here`).
            GLOBAL_PTR.store(self as *const Inner as *mut Inner, Release);
            crate::context::TLS.with(|tls| tls.global_table.set(t));
            // Once per thread, outside the allocator: this thread's pending allocation
            // counts reach the process totals when it exits.
            crate::alloc::fold_at_thread_exit();
            t
        })
    }

    /// The slots of the current generation `gen`, on every thread.
    fn slots(&self, gen: u64) -> Vec<SlotRef> {
        let mut all = Vec::new();
        for t in self.tables.iter() {
            t.slots(gen, &mut all);
        }
        all
    }

    /// The slots of generation `gen` that `keep` accepts, sorted by `order` of their key (so
    /// that a key's slots are adjacent). The keys are taken out of the slots once: the sort
    /// then moves small entries and never reaches into a slot.
    fn sorted_slots<K: Ord + Copy>(
        &self,
        gen: u64,
        keep: impl Fn(u32, u32) -> bool,
        order: impl Fn(u32, u32) -> K,
    ) -> Vec<Keyed<K>> {
        let mut keyed: Vec<Keyed<K>> = self
            .slots(gen)
            .into_iter()
            .filter(|s| keep(s.name, s.parent))
            .map(|s| Keyed {
                order: order(s.name, s.parent),
                name: s.name,
                parent: s.parent,
                slot: s,
            })
            .collect();
        keyed.sort_unstable_by_key(|k| k.order);
        keyed
    }

    /// Reads the aggregates (of one agent, or of everything).
    pub(crate) fn read(&self, agent: Option<u32>) -> Read {
        let gen = self.gen.load(Acquire);
        let names = registry::names();
        let name = |id: u32| names.get(id as usize).copied().unwrap_or("?").to_owned();
        // Agents (each with its waiting key just before it) before phases (by name, then
        // agent, so that each name's keys are adjacent). Read in that order, every execution
        // an agent's total counts has its phases counted too: a phase ends before its
        // execution, on the same thread, so a reader that saw the execution sees its phases.
        // (Phases read first could miss those of an execution that ended between the two
        // reads.) A phase may count calls of an execution still running.
        let slots = self.sorted_slots(
            gen,
            |name, parent| match agent {
                None => true,
                Some(a) => parent == a || (parent >= WAITING && name == a),
            },
            |name, parent| (parent < WAITING, name, parent),
        );

        let mut out = Read {
            agents: BTreeMap::new(),
            phases: BTreeMap::new(),
            loose: BTreeMap::new(),
        };
        let mut by_name = ByName::default();
        for_each_key(&slots, |n, parent, acc, counts| {
            if parent == AGENT_LEVEL {
                let mut m = acc.agent(counts);
                m.long_lived = registry::is_long_lived(n);
                out.agents.insert(name(n), m);
                return;
            }
            // A phase key: into its agent, and into the by-name total.
            let pm = acc.phase(counts);
            by_name.add(&mut out, &name, n, acc, counts, &pm);
            if parent == NO_AGENT {
                out.loose.insert(name(n), pm);
            } else if agent.is_none() || agent == Some(parent) {
                out.agents
                    .entry(name(parent))
                    .or_default()
                    .phases
                    .insert(name(n), pm);
            }
        });
        by_name.flush(&mut out, &name);
        // An agent whose phases were recorded but that has no completed execution yet is
        // not an agent with executions: drop such entries.
        out.agents.retain(|_, m| m.total_executions > 0);
        out
    }

    /// Executions, agents and phase names recorded, from the call counts alone: no histogram
    /// is read and nothing is allocated per key.
    pub(crate) fn tally(&self) -> Tally {
        let gen = self.gen.load(Acquire);
        let mut agents = Vec::new();
        let mut phases = Vec::new();
        let mut executions = 0;
        for t in self.tables.iter() {
            t.for_each_slot(gen, |s| {
                let calls = s.calls();
                if calls == 0 || s.parent == WAITING {
                    return;
                }
                if s.parent == AGENT_LEVEL {
                    executions += calls;
                    agents.push(s.name);
                } else {
                    phases.push(s.name);
                }
            });
        }
        let distinct = |v: &mut Vec<u32>| {
            v.sort_unstable();
            v.dedup();
            v.len()
        };
        Tally {
            executions,
            agents: distinct(&mut agents),
            phases: distinct(&mut phases),
        }
    }

    /// Each key's counts folded onto `bounds`; see `Profiler::histograms`.
    pub(crate) fn histograms(&self, bounds: &[Duration]) -> Vec<KeyHistogram> {
        let gen = self.gen.load(Acquire);
        let names = registry::names();
        let name = |id: u32| names.get(id as usize).copied().unwrap_or("?").to_owned();
        // The histograms hold clock ticks.
        let bounds_ticks: Vec<u64> = bounds
            .iter()
            .map(|b| crate::clock::from_ns(b.as_nanos().min(u64::MAX as u128) as u64))
            .collect();
        // An agent's waiting key comes just before its own (`WAITING < AGENT_LEVEL`).
        let slots = self.sorted_slots(gen, |_, _| true, |name, parent| (name, parent));
        let mut out = Vec::new();
        for_each_key(&slots, |n, parent, acc, counts| {
            let busy = if parent == AGENT_LEVEL {
                acc.agent_busy()
            } else {
                acc.phase_busy()
            };
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
                failures: acc.not_ok().0,
                cancelled: acc.not_ok().1,
                sum: acc.duration(acc.sum),
                busy,
                buckets: crate::histogram::fold(counts, &bounds_ticks),
            });
        });
        out.sort_by(|a, b| (&a.agent, &a.phase).cmp(&(&b.agent, &b.phase)));
        out
    }

    /// The kept executions (of one agent, or of all), oldest first, per agent.
    pub(crate) fn executions(&self, agent: Option<u32>) -> BTreeMap<String, Vec<ExecutionProfile>> {
        let since = self.cleared_at.load(Acquire);
        let names = registry::names();
        let threads = crate::thread_ids::names();
        let mut found: Vec<(u32, u64, u64, ExecutionProfile)> = Vec::new();
        self.rings.read(agent, since, |r| {
            found.push((r.agent, r.start, r.serial, profile(r, &names, &threads)));
        });
        found.sort_by_key(|f| (f.0, f.1, f.2));
        let mut out: BTreeMap<String, Vec<ExecutionProfile>> = BTreeMap::new();
        for (_, _, _, p) in found {
            out.entry(p.agent.clone()).or_default().push(p);
        }
        // A ring holds more than it shows (see `Ring`): the newest, by start.
        let keep = self.config.max_executions.max(1);
        for v in out.values_mut() {
            if v.len() > keep {
                v.drain(..v.len() - keep);
            }
        }
        out
    }

    pub(crate) fn execution(&self, id: &str) -> Option<ExecutionProfile> {
        let (agent, serial) = id.rsplit_once('-')?;
        let serial: u64 = serial.parse().ok()?;
        let a = registry::lookup(agent)?;
        let since = self.cleared_at.load(Acquire);
        let names = registry::names();
        let threads = crate::thread_ids::names();
        let mut found = None;
        self.rings.read(Some(a), since, |r| {
            if r.serial == serial {
                found = Some(profile(r, &names, &threads));
            }
        });
        found
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Its share of ARMED goes with it (the global profiler is never dropped).
        if *self.enabled.get_mut() && !self.is_global {
            switch(|s| s.others -= 1);
        }
    }
}
