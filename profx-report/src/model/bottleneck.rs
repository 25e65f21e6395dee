//! Bottlenecks: agents and phases that are slow against a threshold, or erratic.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

use crate::serde_util::duration_ns;
use crate::{AggregateMetrics, PhaseMetrics};

/// What makes something a bottleneck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BottleneckKind {
    /// The average duration is above the threshold.
    SlowExecution,
    /// The tail is far from the average (p99 > 2 x avg, or max/min > 5) and the p99 is above the
    /// threshold.
    HighVariance,
}

/// How urgent a bottleneck is, from the ratio of the measured duration to the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 1–1.5x the threshold.
    Low,
    /// 1.5–2x the threshold.
    Medium,
    /// 2–3x the threshold.
    High,
    /// More than 3x the threshold.
    Critical,
}

impl Severity {
    /// The severity of `measured` against `threshold`; `None` when it is not above it.
    pub fn from_ratio(measured: Duration, threshold: Duration) -> Option<Severity> {
        if measured <= threshold {
            return None;
        }
        if threshold.is_zero() {
            return Some(Severity::Critical);
        }
        // Whole nanoseconds, so that 150 ms against 100 ms is exactly 1.5x.
        let (m, t) = (measured.as_nanos(), threshold.as_nanos());
        Some(if m > t * 3 {
            Severity::Critical
        } else if m >= t * 2 {
            Severity::High
        } else if m * 2 >= t * 3 {
            Severity::Medium
        } else {
            Severity::Low
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        })
    }
}

impl fmt::Display for BottleneckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BottleneckKind::SlowExecution => "slow_execution",
            BottleneckKind::HighVariance => "high_variance",
        })
    }
}

/// An agent, or a phase inside an agent, that needs attention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bottleneck {
    /// The agent (for a phase outside any execution: the empty string).
    pub agent: String,
    /// The phase, when the bottleneck is a phase of `agent`.
    pub phase: Option<String>,
    /// Slow or erratic.
    pub kind: BottleneckKind,
    /// How far above the threshold.
    pub severity: Severity,
    /// Mean duration.
    #[serde(with = "duration_ns")]
    pub avg_duration: Duration,
    /// 99th percentile.
    #[serde(with = "duration_ns")]
    pub p99: Duration,
    /// The threshold it was measured against.
    #[serde(with = "duration_ns")]
    pub threshold: Duration,
}

struct Stats {
    avg: Duration,
    p99: Duration,
    min: Duration,
    max: Duration,
}

fn assess(
    agent: &str,
    phase: Option<&str>,
    s: Stats,
    threshold: Duration,
    out: &mut Vec<Bottleneck>,
) {
    let make = |kind, severity| Bottleneck {
        agent: agent.to_owned(),
        phase: phase.map(str::to_owned),
        kind,
        severity,
        avg_duration: s.avg,
        p99: s.p99,
        threshold,
    };
    if let Some(sev) = Severity::from_ratio(s.avg, threshold) {
        out.push(make(BottleneckKind::SlowExecution, sev));
    }
    let erratic =
        s.p99 > s.avg * 2 || (!s.min.is_zero() && s.max.as_secs_f64() / s.min.as_secs_f64() > 5.0);
    if erratic {
        if let Some(sev) = Severity::from_ratio(s.p99, threshold) {
            out.push(make(BottleneckKind::HighVariance, sev));
        }
    }
}

/// The bottlenecks among `agents` (and their phases) against `threshold`, or the threshold
/// `own` gives an agent (for it and its phases), most severe first.
pub fn detect<'a>(
    agents: impl IntoIterator<Item = (&'a String, &'a AggregateMetrics)>,
    loose_phases: impl IntoIterator<Item = (&'a String, &'a PhaseMetrics)>,
    threshold: Duration,
    own: impl Fn(&str) -> Option<Duration>,
) -> Vec<Bottleneck> {
    let mut out = Vec::new();
    let default = threshold;
    for (name, m) in agents {
        let threshold = own(name).unwrap_or(default);
        // A session or a connection lasts by design: its phases are still checked.
        if m.total_executions > 0 && !m.long_lived {
            assess(name, None, stats_agent(m), threshold, &mut out);
        }
        for (pname, pm) in &m.phases {
            if pm.calls > 0 {
                assess(name, Some(pname), stats_phase(pm), threshold, &mut out);
            }
        }
    }
    for (pname, pm) in loose_phases {
        if pm.calls > 0 {
            assess("", Some(pname), stats_phase(pm), default, &mut out);
        }
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.avg_duration.cmp(&a.avg_duration))
            .then(a.agent.cmp(&b.agent))
            .then(a.phase.cmp(&b.phase))
    });
    out
}

fn stats_agent(m: &AggregateMetrics) -> Stats {
    Stats {
        avg: m.avg_duration,
        p99: m.percentiles.p99,
        min: m.min_duration,
        max: m.max_duration,
    }
}

fn stats_phase(m: &PhaseMetrics) -> Stats {
    Stats {
        avg: m.avg_duration,
        p99: m.percentiles.p99,
        min: m.min_duration,
        max: m.max_duration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn severity_bands_follow_the_ratio_to_the_threshold() {
        let t = ms(100);
        assert_eq!(Severity::from_ratio(ms(100), t), None);
        assert_eq!(Severity::from_ratio(ms(120), t), Some(Severity::Low));
        assert_eq!(Severity::from_ratio(ms(150), t), Some(Severity::Medium));
        assert_eq!(Severity::from_ratio(ms(199), t), Some(Severity::Medium));
        assert_eq!(Severity::from_ratio(ms(200), t), Some(Severity::High));
        assert_eq!(Severity::from_ratio(ms(300), t), Some(Severity::High));
        assert_eq!(Severity::from_ratio(ms(301), t), Some(Severity::Critical));
    }

    fn agent(avg: u64, p99: u64, min: u64, max: u64) -> AggregateMetrics {
        AggregateMetrics {
            total_executions: 10,
            success_count: 10,
            avg_duration: ms(avg),
            min_duration: ms(min),
            max_duration: ms(max),
            percentiles: Percentiles {
                p99: ms(p99),
                ..Default::default()
            },
            ..Default::default()
        }
    }
    use crate::Percentiles;

    #[test]
    fn a_long_lived_agent_is_no_bottleneck_but_its_phases_can_be() {
        // A subscription of 43 s with a slow phase inside.
        let mut sub = agent(43_000, 43_000, 2_000, 90_000);
        sub.long_lived = true;
        let mut slow_phase = crate::PhaseMetrics {
            calls: 10,
            avg_duration: ms(500),
            min_duration: ms(450),
            max_duration: ms(550),
            ..Default::default()
        };
        slow_phase.percentiles.p99 = ms(540);
        sub.phases.insert("db".to_string(), slow_phase);
        let agents = [("subscribe".to_string(), sub)];
        let found = detect(agents.iter().map(|(a, b)| (a, b)), [], ms(100), |_| None);
        let summary: Vec<_> = found
            .iter()
            .map(|b| (b.agent.as_str(), b.phase.as_deref(), b.kind))
            .collect();
        assert_eq!(
            summary,
            vec![("subscribe", Some("db"), BottleneckKind::SlowExecution)]
        );
        // The same agent, not marked: its own executions are the worst bottleneck.
        let mut plain = agents.clone();
        plain[0].1.long_lived = false;
        let found = detect(plain.iter().map(|(a, b)| (a, b)), [], ms(100), |_| None);
        assert_eq!((found[0].phase.as_deref(), found.len()), (None, 3));
    }

    #[test]
    fn slow_and_erratic_agents_are_found_and_sorted() {
        let agents = [
            ("fast".to_string(), agent(10, 12, 9, 13)),
            ("slow".to_string(), agent(350, 360, 340, 370)),
            ("jittery".to_string(), agent(60, 250, 5, 260)),
        ];
        let found = detect(agents.iter().map(|(a, b)| (a, b)), [], ms(100), |_| None);
        let summary: Vec<_> = found
            .iter()
            .map(|b| (b.agent.as_str(), b.kind, b.severity))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("slow", BottleneckKind::SlowExecution, Severity::Critical),
                ("jittery", BottleneckKind::HighVariance, Severity::High),
            ]
        );
    }
}
