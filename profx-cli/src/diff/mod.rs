//! `profx diff`: what changed between two reports, and which changes are regressions.
//!
//! A row's durations (avg, P95, P99 of an agent, or of a phase of an agent) regress only when
//! all of these hold, so that the same workload run twice does not fail a CI gate:
//!
//! 1. the metric is slower by more than the threshold, in percent of the base value (a base of
//!    zero has no percentage change and never regresses), and by at least the minimum delta
//!    (`--min-delta`, 1µs by default: +21% of 114ns is not a change anyone can act on);
//! 2. both reports have at least `--min-calls` calls of the row (30 by default);
//! 3. for a phase, its agent felt it: the phase's typical call adds at least `--min-share` (2%
//!    by default) of its agent's typical duration, and the agent's own typical duration rose,
//!    significantly, by that share and by half of what the phase added at least. A phase of a
//!    few microseconds that waits on the scheduler may quadruple from one run to the next
//!    while its agent moves by 1%;
//! 4. the typical call is slower, on the samples the reports keep (the durations of the kept
//!    executions, for an agent; of the phase's records in them, for a phase): their medians
//!    differ by more than the threshold and the minimum delta, and a one-sided Mann–Whitney U
//!    test finds the shift at `--confidence` (99% by default). A mean or a tail that moved
//!    while the typical call did not is a few slow calls (a busy machine), and is listed as
//!    ignored with the medians. With `--tails`, P95 and P99 may regress on their own: when
//!    their order-statistic confidence intervals, at the same confidence, do not overlap.
//!
//! A row whose reports keep fewer than 8 samples on either side is not tested: it regresses on
//! 1–3 alone, and says "untested". A success rate regresses when it is lower by more than the
//! threshold in percentage points, over at least `--min-calls` calls on each side. Agents and
//! phases found in only one report are listed as added or removed, and are not regressions.
//! Every change above the threshold that is not a regression says why; `--json` holds every
//! figure the decision was made on. Against several base reports, a row regresses only when
//! it regresses against each (see [`diff_several`]).

use std::collections::BTreeSet;
use std::time::Duration;

use profx_report::{AggregateMetrics, HumanDuration, PhaseMetrics, Report};

mod model;
mod several;
mod stats;
mod table;
mod threshold;

pub use model::{Change, Compared, Diff, Location, Rate, Row, Tail, Timing};
pub use several::diff_several;

pub use table::render;
use table::signed;
pub use threshold::Threshold;

/// Fewer samples than this on either side: not tested.
pub const MIN_SAMPLES: usize = 8;

/// What a change must clear to be a regression (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub struct Gate {
    /// Slower by more than this, in percent (in points for success rates).
    pub threshold: Threshold,
    /// Slower by at least this.
    pub min_delta: Duration,
    /// Calls on each side at least.
    pub min_calls: u64,
    /// One-sided confidence of the statistical tests, in (0.5, 1).
    pub confidence: f64,
    /// A phase's slowdown must add at least this share of its agent's duration.
    pub min_share: f64,
    /// P95 and P99 may regress without the typical call.
    pub tails: bool,
}

impl Gate {
    /// The defaults of `profx diff` (those of its flags), with `threshold`.
    #[cfg(test)]
    pub fn new(threshold: Threshold) -> Gate {
        Gate {
            threshold,
            min_delta: Duration::from_micros(1),
            min_calls: 30,
            confidence: 0.99,
            min_share: 0.02,
            tails: false,
        }
    }
}

/// What is compared of an agent or a phase.
struct Stats {
    avg: Duration,
    /// The mean own time per call, ns (`None`: not in the report).
    self_ns: Option<u64>,
    p95: Duration,
    p99: Duration,
    ok: u64,
    /// Completed: succeeded or failed.
    completed: u64,
    cancelled: u64,
    total: u64,
}

impl From<&AggregateMetrics> for Stats {
    fn from(m: &AggregateMetrics) -> Stats {
        let total = m.avg_duration.as_nanos() * u128::from(m.total_executions);
        Stats {
            avg: m.avg_duration,
            self_ns: self_per_call(m.self_duration, total, m.total_executions),
            p95: m.percentiles.p95,
            p99: m.percentiles.p99,
            ok: m.success_count,
            completed: m.success_count + m.failure_count,
            cancelled: m.cancelled_count,
            total: m.total_executions,
        }
    }
}

impl From<&PhaseMetrics> for Stats {
    fn from(m: &PhaseMetrics) -> Stats {
        Stats {
            avg: m.avg_duration,
            self_ns: self_per_call(m.self_duration, m.total_duration.as_nanos(), m.calls),
            p95: m.percentiles.p95,
            p99: m.percentiles.p99,
            ok: m.calls.saturating_sub(m.failures + m.cancelled),
            completed: m.calls.saturating_sub(m.cancelled),
            cancelled: m.cancelled,
            total: m.calls,
        }
    }
}

/// The mean own time per call, ns; `None` when the report has time but no self time (written
/// before profx recorded it) or no calls.
fn self_per_call(own: Duration, total_ns: u128, calls: u64) -> Option<u64> {
    if calls == 0 || (own.is_zero() && total_ns > 0) {
        return None;
    }
    Some(u64::try_from(own.as_nanos() / u128::from(calls)).unwrap_or(u64::MAX))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Durations (nanoseconds, ascending) the report keeps of an agent's executions, or of one
/// phase's records in them.
fn samples(r: &Report, agent: &str, phase: Option<&str>) -> Vec<u64> {
    let execs = r.executions.get(agent).map(Vec::as_slice).unwrap_or(&[]);
    let mut v: Vec<u64> = match phase {
        None => execs.iter().map(|e| nanos(e.duration)).collect(),
        Some(p) => execs
            .iter()
            .flat_map(|e| e.phases.iter())
            .filter(|ph| ph.name == p)
            .map(|ph| nanos(ph.duration))
            .collect(),
    };
    v.sort_unstable();
    v
}

/// Which duration a timing is.
#[derive(Clone, Copy, PartialEq)]
enum Metric {
    Mean,
    Quantile(f64),
}

/// The typical call of two samples (ascending), if both are large enough.
fn location(base: &[u64], new: &[u64], g: &Gate) -> Option<Location> {
    if base.len() < MIN_SAMPLES || new.len() < MIN_SAMPLES {
        return None;
    }
    let median = |s: &[u64]| s[(s.len() - 1) / 2];
    let (b, n) = (median(base), median(new));
    let shift_percent = if b == 0 {
        0.0
    } else {
        (n as f64 - b as f64) * 100.0 / b as f64
    };
    let p_value = stats::mann_whitney_greater(base, new);
    let slower = g
        .threshold
        .slower(Duration::from_nanos(b), Duration::from_nanos(n))
        && n - b >= nanos(g.min_delta)
        && p_value < 1.0 - g.confidence;
    Some(Location {
        samples: [base.len(), new.len()],
        median_ns: [b, n],
        shift_percent,
        p_value,
        slower,
    })
}

/// A percentile's intervals in two samples (ascending), if both are large enough.
fn tail(q: f64, base: &[u64], new: &[u64], g: &Gate) -> Option<Tail> {
    if base.len() < MIN_SAMPLES || new.len() < MIN_SAMPLES {
        return None;
    }
    let z = stats::z_for(g.confidence);
    let b = stats::quantile_interval(base, q, z);
    let n = stats::quantile_interval(new, q, z);
    Some(Tail {
        base_interval_ns: [b.0, b.1],
        new_interval_ns: [n.0, n.1],
        significant: n.0 > b.1,
    })
}

/// What a phase row is compared against: its agent's value of the same metric in the base
/// report, and the phase's calls per execution there.
#[derive(Clone)]
struct Share {
    /// The agent's typical duration in the base report: the median of its kept executions
    /// (its mean without samples).
    agent: Duration,
    calls_per_execution: f64,
    /// The agent's typical call in both reports, when both keep enough samples.
    agent_location: Option<Location>,
}

/// What one row brings to the decision of each of its durations.
struct Context<'a> {
    calls: [u64; 2],
    location: Option<&'a Location>,
    samples: (&'a [u64], &'a [u64]),
    /// For a phase: its agent's figures.
    share: Option<Share>,
}

/// One duration compared, through the gate.
fn timing(metric: Metric, (base, new): (Duration, Duration), cx: &Context, g: &Gate) -> Timing {
    let change_percent = if base.is_zero() {
        new.is_zero().then_some(0.0)
    } else {
        // From the integer difference: 48ms -> 62.4ms is exactly +30.0.
        let delta = new.as_nanos() as f64 - base.as_nanos() as f64;
        Some(delta * 100.0 / base.as_nanos() as f64)
    };
    let mut t = Timing {
        base_ns: nanos(base),
        new_ns: nanos(new),
        change_percent,
        regression: false,
        note: None,
        tail: None,
    };
    if !g.threshold.slower(base, new) {
        return t;
    }
    let delta = new - base;
    let ns = |v: u64| HumanDuration(Duration::from_nanos(v));
    if delta < g.min_delta {
        t.note = Some(format!(
            "+{} is below the minimum delta {}",
            HumanDuration(delta),
            HumanDuration(g.min_delta)
        ));
        return t;
    }
    if cx.calls[0] < g.min_calls || cx.calls[1] < g.min_calls {
        t.note = Some(format!(
            "too few calls ({} and {}, {} needed)",
            cx.calls[0], cx.calls[1], g.min_calls
        ));
        return t;
    }
    if let Some(share) = &cx.share {
        // What the phase adds to its agent: by its typical call when the samples tell it,
        // else by this metric.
        let typical = cx.location.map_or(delta, |l| {
            Duration::from_nanos(l.median_ns[1].saturating_sub(l.median_ns[0]))
        });
        let added = typical.as_secs_f64() * share.calls_per_execution;
        let of = share.agent.as_secs_f64();
        let who = if cx.location.is_some() {
            "its typical call adds"
        } else {
            "adds"
        };
        let adds = |why: String| {
            format!(
                "{who} {} to its agent's {} ({:.2}%, {why})",
                HumanDuration(Duration::from_secs_f64(added)),
                HumanDuration(share.agent),
                added * 100.0 / of
            )
        };
        if of > 0.0 && added < g.min_share * of {
            t.note = Some(adds(format!(
                "under the minimum share {:.2}%",
                g.min_share * 100.0
            )));
            return t;
        }
        if let Some(al) = &share.agent_location {
            // The agent must have felt it: its typical duration rose, significantly, by half
            // of what the phase added and by the minimum share at least.
            let [b, n] = al.median_ns;
            let rose = n.saturating_sub(b) as f64 / 1e9;
            if rose < (added / 2.0).max(g.min_share * of) || al.p_value >= 1.0 - g.confidence {
                t.note = Some(adds(format!(
                    "but its agent's typical duration went {} -> {}, p={:.3}",
                    ns(b),
                    ns(n),
                    al.p_value
                )));
                return t;
            }
        }
    }
    if let (true, Metric::Quantile(q)) = (g.tails, metric) {
        t.tail = tail(q, cx.samples.0, cx.samples.1, g);
        if let Some(tl) = &t.tail {
            t.regression = tl.significant;
            if !tl.significant {
                t.note = Some(format!(
                    "within noise (new {}..{} against base {}..{})",
                    ns(tl.new_interval_ns[0]),
                    ns(tl.new_interval_ns[1]),
                    ns(tl.base_interval_ns[0]),
                    ns(tl.base_interval_ns[1])
                ));
            }
            return t;
        }
    }
    match cx.location {
        None => {
            t.regression = true;
            t.note = Some(format!(
                "untested: {} and {} samples kept, {MIN_SAMPLES} needed",
                cx.samples.0.len(),
                cx.samples.1.len()
            ));
        }
        Some(l) if l.slower => t.regression = true,
        Some(l) => {
            let how = if l.median_ns[1] <= l.median_ns[0] || l.p_value >= 1.0 - g.confidence {
                "the typical call did not slow down".to_string()
            } else {
                format!("the typical call is only {}", signed(l.shift_percent, "%"))
            };
            t.note = Some(format!(
                "{how} (median {} -> {}, p={:.3})",
                ns(l.median_ns[0]),
                ns(l.median_ns[1]),
                l.p_value
            ))
        }
    }
    t
}

fn compare(
    base: Stats,
    new: Stats,
    samples: (&[u64], &[u64]),
    share: Option<Share>,
    g: &Gate,
) -> Compared {
    let rate = |ok: u64, total: u64| ok as f64 * 100.0 / total as f64;
    let calls = [base.total, new.total];
    let success_rate = (base.completed > 0 && new.completed > 0).then(|| {
        let (b, n) = (rate(base.ok, base.completed), rate(new.ok, new.completed));
        Rate {
            base_percent: b,
            new_percent: n,
            change_points: n - b,
            regression: g
                .threshold
                .rate_dropped((base.ok, base.completed), (new.ok, new.completed))
                && [base.completed, new.completed]
                    .iter()
                    .all(|&c| c >= g.min_calls),
        }
    });
    let location = location(samples.0, samples.1, g);
    let cx = Context {
        calls,
        location: location.as_ref(),
        samples,
        share,
    };
    Compared {
        calls,
        avg: timing(Metric::Mean, (base.avg, new.avg), &cx, g),
        self_ns: base.self_ns.zip(new.self_ns).map(|(b, n)| [b, n]),
        p95: timing(Metric::Quantile(0.95), (base.p95, new.p95), &cx, g),
        p99: timing(Metric::Quantile(0.99), (base.p99, new.p99), &cx, g),
        location,
        success_rate,
        cancelled: [base.cancelled, new.cancelled],
    }
}

/// Compares `new` against `base` through the gate `g`.
pub fn diff(base: &Report, new: &Report, g: &Gate) -> Diff {
    let names: BTreeSet<&String> = base.agents.keys().chain(new.agents.keys()).collect();
    let mut rows = Vec::new();
    for name in names {
        let row = |phase: Option<&String>, change| Row {
            agent: name.clone(),
            phase: phase.cloned(),
            change,
        };
        let compared = |b: Stats, n: Stats, phase: Option<&str>, share| {
            let (bs, ns) = (samples(base, name, phase), samples(new, name, phase));
            Change::Compared(Box::new(compare(b, n, (&bs, &ns), share, g)))
        };
        match (base.agents.get(name), new.agents.get(name)) {
            (Some(b), Some(n)) => {
                rows.push(row(None, compared(b.into(), n.into(), None, None)));
                let agent_location =
                    location(&samples(base, name, None), &samples(new, name, None), g);
                let agent_typical = agent_location
                    .as_ref()
                    .map_or(b.avg_duration, |l| Duration::from_nanos(l.median_ns[0]));
                let phases: BTreeSet<&String> = b.phases.keys().chain(n.phases.keys()).collect();
                for p in phases {
                    let change = match (b.phases.get(p), n.phases.get(p)) {
                        (Some(bp), Some(np)) => {
                            let share = Share {
                                agent: agent_typical,
                                calls_per_execution: bp.calls as f64
                                    / b.total_executions.max(1) as f64,
                                agent_location: agent_location.clone(),
                            };
                            compared(bp.into(), np.into(), Some(p), Some(share))
                        }
                        (None, _) => Change::Added,
                        (_, None) => Change::Removed,
                    };
                    rows.push(row(Some(p), change));
                }
            }
            (None, _) => rows.push(row(None, Change::Added)),
            (_, None) => rows.push(row(None, Change::Removed)),
        }
    }
    let regressions = rows.iter().filter(|r| r.is_regression()).count();
    Diff {
        threshold_percent: g.threshold.percent(),
        min_delta_ns: nanos(g.min_delta),
        min_calls: g.min_calls,
        confidence_percent: g.confidence * 100.0,
        min_share_percent: g.min_share * 100.0,
        tails: g.tails,
        rows,
        regressions,
        bases: 1,
    }
}

#[cfg(test)]
mod tests;
