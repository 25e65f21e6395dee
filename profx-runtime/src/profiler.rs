//! The profiler: the switch, and the read side that turns every thread's slots into metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{AggregateMetrics, Bottleneck, Execution, ExecutionProfile, Report};

#[cfg(feature = "enabled")]
pub(crate) use on::*;

/// Records executions of agents and the phases inside them, and answers what they cost.
///
/// [`global()`] is the process-wide instance that the macros record into;
/// [`Profiler::new`] makes an isolated one (for tests, or to compare two runs side by side)
/// that the manual API ([`Profiler::start_execution`]) records into.
///
/// Without the `enabled` feature every method exists with the same signature and returns
/// empty data, so code calling it compiles unchanged.
///
/// ```
/// let p = profx_runtime::Profiler::new(true);
/// let mut ex = p.start_execution("codebase-locator", "Find main.go");
/// ex.start_phase("search");
/// ex.end_phase();
/// ex.end(());
/// let m = p.agent_metrics("codebase-locator");
/// if cfg!(feature = "enabled") {
///     assert_eq!(m.unwrap().total_executions, 1);
/// } else {
///     assert!(m.is_none());
/// }
/// ```
#[derive(Clone)]
pub struct Profiler {
    #[cfg(feature = "enabled")]
    pub(crate) inner: std::sync::Arc<Inner>,
}

impl std::fmt::Debug for Profiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiler")
            .field("enabled", &self.is_enabled())
            .finish_non_exhaustive()
    }
}

/// The process-wide profiler the macros record into.
///
/// Made on first use; `PROFX_ENABLED`, `PROFX_MAX_EXECUTIONS`, `PROFX_MAX_PHASES` and
/// `PROFX_SAMPLE` are read then (a bad value warns once and the default is used).
#[inline]
pub fn global() -> &'static Profiler {
    #[cfg(feature = "enabled")]
    {
        on::global_profiler()
    }
    #[cfg(not(feature = "enabled"))]
    {
        static OFF: Profiler = Profiler {};
        &OFF
    }
}

impl Profiler {
    /// An isolated profiler, recording or not from the start. Its limits come from the
    /// environment like the global one's.
    pub fn new(enabled: bool) -> Profiler {
        #[cfg(feature = "enabled")]
        {
            let mut config = crate::config::Config::from_env();
            config.enabled = enabled;
            Profiler {
                inner: std::sync::Arc::new(Inner::new(config)),
            }
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = enabled;
            Profiler {}
        }
    }

    /// Turns recording on.
    pub fn enable(&self) {
        #[cfg(feature = "enabled")]
        self.inner
            .enabled
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Turns recording off: an instrumented call then costs one load and a branch.
    pub fn disable(&self) {
        #[cfg(feature = "enabled")]
        self.inner
            .enabled
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether calls are being recorded (always `false` without the `enabled` feature).
    pub fn is_enabled(&self) -> bool {
        #[cfg(feature = "enabled")]
        {
            self.inner
                .enabled
                .load(std::sync::atomic::Ordering::Relaxed)
        }
        #[cfg(not(feature = "enabled"))]
        {
            false
        }
    }

    /// Forgets everything recorded so far. Calls that are running finish into the new data.
    pub fn clear(&self) {
        #[cfg(feature = "enabled")]
        self.inner
            .gen
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Starts an execution of `agent` by hand, for code that cannot take an attribute.
    /// `request` says what it was asked to do (`""` for nothing).
    pub fn start_execution(&self, agent: &str, request: &str) -> Execution {
        #[cfg(feature = "enabled")]
        {
            Execution::start(self.clone(), agent, request)
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = (agent, request);
            Execution::disabled()
        }
    }

    /// What `agent`'s executions added up to; `None` if it has none.
    pub fn agent_metrics(&self, agent: &str) -> Option<AggregateMetrics> {
        #[cfg(feature = "enabled")]
        {
            let id = crate::registry::lookup(agent)?;
            self.inner.read(Some(id)).agents.remove(agent)
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = agent;
            None
        }
    }

    /// The kept execution with this id (`ExecutionProfile::id`, `Execution::id`).
    pub fn execution(&self, id: &str) -> Option<ExecutionProfile> {
        #[cfg(feature = "enabled")]
        {
            self.inner.execution(id)
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = id;
            None
        }
    }

    /// The kept executions of `agent`, oldest first (at most `PROFX_MAX_EXECUTIONS`).
    pub fn executions(&self, agent: &str) -> Vec<ExecutionProfile> {
        #[cfg(feature = "enabled")]
        {
            let Some(id) = crate::registry::lookup(agent) else {
                return Vec::new();
            };
            self.inner
                .executions(Some(id))
                .remove(agent)
                .unwrap_or_default()
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = agent;
            Vec::new()
        }
    }

    /// Agents and phases that are slow against `threshold` or erratic, most severe first.
    pub fn bottlenecks(&self, threshold: Duration) -> Vec<Bottleneck> {
        #[cfg(feature = "enabled")]
        {
            let r = self.inner.read(None);
            crate::bottleneck::detect(r.agents.iter(), r.loose.iter(), threshold)
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = threshold;
            Vec::new()
        }
    }

    /// Every key's durations folded onto fixed upper `bounds` (ascending), for exporters that
    /// need exact Prometheus histograms: one entry per agent (its executions, `phase: None`)
    /// and per phase within an agent (`agent` is `""` for phases run outside any execution),
    /// ordered by agent, then the agent's own entry, then phases by name. Empty without the
    /// `enabled` feature.
    ///
    /// Each key's log-linear counts are merged across threads (as every other read does) and
    /// each log-linear bucket is assigned, as a whole, to the first bound at or above its
    /// *upper* value. A bucket lies wholly below or above every bound except the one it
    /// straddles, so the only edge effect is that observations less than 1/64 (1.6%) below a
    /// bound may be counted in the next bucket up; `count` and `sum` are exact. Reads only:
    /// nothing on the recording path changes.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = profx_runtime::Profiler::new(true);
    /// p.start_execution("loader", "").end(());
    /// let bounds = [Duration::from_millis(1), Duration::from_secs(1)];
    /// let h = p.histograms(&bounds);
    /// if cfg!(feature = "enabled") {
    ///     assert_eq!(h[0].agent, "loader");
    ///     assert_eq!(h[0].count, 1);
    ///     assert_eq!(h[0].buckets.len(), 2);
    ///     assert_eq!(h[0].buckets[1], 1); // cumulative: everything is at or below 1 s
    /// } else {
    ///     assert!(h.is_empty());
    /// }
    /// ```
    pub fn histograms(&self, bounds: &[Duration]) -> Vec<KeyHistogram> {
        #[cfg(feature = "enabled")]
        {
            self.inner.histograms(bounds)
        }
        #[cfg(not(feature = "enabled"))]
        {
            let _ = bounds;
            Vec::new()
        }
    }

    /// Everything recorded, now.
    pub fn report(&self) -> Report {
        #[cfg(feature = "enabled")]
        {
            let r = self.inner.read(None);
            let executions = self.inner.executions(None);
            let bottlenecks = crate::bottleneck::detect(
                r.agents.iter(),
                r.loose.iter(),
                Report::BOTTLENECK_THRESHOLD,
            );
            let mut report = Report::from_parts(r.agents, r.phases, executions);
            report.bottlenecks = bottlenecks;
            report.system = crate::collector::system_for(self);
            // Memory figures are real (not zeros) once the counting allocator is in use.
            report.memory_measured = crate::alloc::installed();
            report
        }
        #[cfg(not(feature = "enabled"))]
        {
            Report::empty()
        }
    }
}

/// The durations of one key (an agent's executions, or a phase within an agent) on fixed
/// bounds; see [`Profiler::histograms`].
#[derive(Clone, Debug, PartialEq)]
pub struct KeyHistogram {
    /// The agent (`""` for a phase run outside any execution).
    pub agent: String,
    /// The phase, or `None` for the agent's own executions.
    pub phase: Option<String>,
    /// Calls (executions of the agent, or calls of the phase).
    pub count: u64,
    /// Calls that failed.
    pub failures: u64,
    /// The sum of the durations (exact).
    pub sum: Duration,
    /// Cumulative counts, one per bound given: calls at or below that bound (up to the edge
    /// effect documented on [`Profiler::histograms`]). `count` is the `+Inf` bucket.
    pub buckets: Vec<u64>,
}

/// What one read of the slots gives.
#[cfg_attr(not(feature = "enabled"), allow(dead_code))]
pub(crate) struct Read {
    pub(crate) agents: BTreeMap<String, AggregateMetrics>,
    pub(crate) phases: BTreeMap<String, crate::PhaseMetrics>,
    pub(crate) loose: BTreeMap<String, crate::PhaseMetrics>,
}

#[cfg(feature = "enabled")]
mod on {
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
        pub(crate) fn executions(
            &self,
            agent: Option<u32>,
        ) -> BTreeMap<String, Vec<ExecutionProfile>> {
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
}
