//! `profx check`: per-agent limits (an SLA file) checked against a report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use profx_report::{HumanDuration, Report};
use serde::{de::Error as _, Deserialize, Deserializer};

use crate::render::one_line;

/// An SLA file: limits per agent, in TOML.
///
/// ```toml
/// [agents."codebase-locator"]
/// avg = "100ms"          # maximum mean duration
/// p95 = "150ms"          # maximum 95th percentile
/// p99 = "250ms"          # maximum 99th percentile
/// success_rate = 95.0    # minimum share of successful executions, in percent
///
/// [agents."codebase-analyzer"]
/// p99 = "1.5s"
/// ```
///
/// Durations are strings with a unit, as `humantime` reads them: `"500us"`, `"100ms"`,
/// `"1.5s"`, `"1m 30s"`. Every limit is optional; an agent listed with no limit is only required
/// to be in the report. A duration limit is met when the actual value is at most the limit, a
/// success rate when it is at least the limit. Unknown keys are errors.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Limits by agent name.
    pub agents: BTreeMap<String, Limits>,
}

/// The limits of one agent.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Maximum mean duration.
    #[serde(default, deserialize_with = "duration")]
    pub avg: Option<Duration>,
    /// Maximum 95th percentile.
    #[serde(default, deserialize_with = "duration")]
    pub p95: Option<Duration>,
    /// Maximum 99th percentile.
    #[serde(default, deserialize_with = "duration")]
    pub p99: Option<Duration>,
    /// Minimum success rate, in percent (0 to 100).
    #[serde(default, deserialize_with = "percent")]
    pub success_rate: Option<f64>,
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map(Some).map_err(|e| {
        D::Error::custom(format!(
            "invalid duration {text:?} ({e}): expected a number with a unit, such as \"500us\", \"100ms\" or \"1.5s\""
        ))
    })
}

fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if (0.0..=100.0).contains(&v) {
        Ok(Some(v))
    } else {
        Err(D::Error::custom(format!(
            "invalid success_rate {v}: expected a percentage from 0 to 100"
        )))
    }
}

/// Parses the text of an SLA file (errors do not name the file: the caller adds it).
pub fn parse_sla(text: &str) -> Result<Sla> {
    let sla: Sla = toml::from_str(text).map_err(|e| anyhow!("invalid SLA file: {e}"))?;
    if sla.agents.is_empty() {
        bail!("invalid SLA file: no agents; add a table such as [agents.\"codebase-locator\"]");
    }
    Ok(sla)
}

/// Reads the SLA file at `path`.
pub fn load_sla(path: &Path) -> Result<Sla> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the SLA file", path.display()))?;
    parse_sla(&text).with_context(|| path.display().to_string())
}

/// One limit checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The agent.
    pub agent: String,
    /// `avg`, `p95`, `p99`, `success_rate`, or `presence` (an agent missing from the report, or
    /// listed with no limits).
    pub limit: &'static str,
    /// The value in the report (`None` when the agent is not in it).
    pub actual: Option<String>,
    /// The limit, with its comparison (`<= 100ms`, `>= 95.0%`).
    pub expected: String,
    /// Whether the limit is met.
    pub ok: bool,
}

/// Checks every limit of `sla` against `report`, in agent order then `avg`, `p95`, `p99`,
/// `success_rate`.
pub fn check(sla: &Sla, report: &Report) -> Vec<Check> {
    let mut out = Vec::new();
    for (agent, limits) in &sla.agents {
        let Some(m) = report.agents.get(agent) else {
            out.push(Check {
                agent: agent.clone(),
                limit: "presence",
                actual: None,
                expected: "present".into(),
                ok: false,
            });
            continue;
        };
        let durations = [
            ("avg", limits.avg, m.avg_duration),
            ("p95", limits.p95, m.percentiles.p95),
            ("p99", limits.p99, m.percentiles.p99),
        ];
        for (limit, max, actual) in durations {
            if let Some(max) = max {
                out.push(Check {
                    agent: agent.clone(),
                    limit,
                    actual: Some(HumanDuration(actual).to_string()),
                    expected: format!("<= {}", HumanDuration(max)),
                    ok: actual <= max,
                });
            }
        }
        if let Some(min) = limits.success_rate {
            let actual = m.success_rate();
            out.push(Check {
                agent: agent.clone(),
                limit: "success_rate",
                actual: Some(format!("{actual:.1}%")),
                expected: format!(">= {min:.1}%"),
                ok: m.total_executions > 0 && actual >= min,
            });
        }
        if limits == &Limits::default() {
            out.push(Check {
                agent: agent.clone(),
                limit: "presence",
                actual: Some(format!("{} executions", m.total_executions)),
                expected: "present".into(),
                ok: true,
            });
        }
    }
    out
}

/// One aligned line per check, then a line with the count of violations.
pub fn render(checks: &[Check], report_name: &str) -> String {
    let w_agent = checks
        .iter()
        .map(|c| c.agent.chars().count())
        .max()
        .unwrap_or(0);
    let w_limit = checks.iter().map(|c| c.limit.len()).max().unwrap_or(0);
    let w_actual = checks
        .iter()
        .map(|c| c.actual.as_deref().map_or(6, |a| a.chars().count()))
        .max()
        .unwrap_or(0);
    let w_expected = checks
        .iter()
        .map(|c| c.expected.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        let verdict = match (&c.actual, c.ok) {
            (_, true) => "OK".to_string(),
            (None, false) => format!("VIOLATED: agent not in {report_name}"),
            (Some(_), false) => "VIOLATED".to_string(),
        };
        let actual = c.actual.as_deref().unwrap_or("absent");
        let _ = writeln!(
            out,
            "{:<w_agent$}  {:<w_limit$}  {actual:>w_actual$}  {:<w_expected$}  {verdict}",
            one_line(&c.agent),
            c.limit,
            c.expected
        );
    }
    let bad = checks.iter().filter(|c| !c.ok).count();
    let total = checks.len();
    let _ = match bad {
        0 => writeln!(out, "all {total} limit(s) met"),
        _ => writeln!(out, "{bad} of {total} limit(s) violated"),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use profx_report::AggregateMetrics;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const EXAMPLE: &str = r#"
        [agents."codebase-locator"]
        avg = "100ms"
        p95 = "150ms"
        p99 = "250ms"
        success_rate = 95.0   # percent, minimum

        [agents.fast]
        p99 = "1.5s"
        avg = "500us"
    "#;

    #[test]
    fn parses_the_documented_example() {
        let sla = parse_sla(EXAMPLE).unwrap();
        let l = &sla.agents["codebase-locator"];
        assert_eq!(l.avg, Some(ms(100)));
        assert_eq!(l.p95, Some(ms(150)));
        assert_eq!(l.p99, Some(ms(250)));
        assert_eq!(l.success_rate, Some(95.0));
        assert_eq!(sla.agents["fast"].p99, Some(ms(1500)));
        assert_eq!(sla.agents["fast"].avg, Some(Duration::from_micros(500)));
        assert_eq!(sla.agents["fast"].success_rate, None);
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse_sla(text).unwrap_err())
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err("[agents.a]\np90 = \"1ms\"\n");
        assert!(e.contains("unknown field `p90`"), "{e}");
        let e = err("[agent.a]\navg = \"1ms\"\n");
        assert!(e.contains("unknown field `agent`"), "{e}");
    }

    #[test]
    fn bad_durations_and_rates_are_explained() {
        let e = err("[agents.a]\navg = \"fast\"\n");
        assert!(e.contains("invalid duration \"fast\""), "{e}");
        assert!(e.contains("\"100ms\""), "{e}");
        let e = err("[agents.a]\navg = 100\n");
        assert!(e.contains("invalid type"), "{e}");
        let e = err("[agents.a]\nsuccess_rate = 101.0\n");
        assert!(e.contains("from 0 to 100"), "{e}");
    }

    #[test]
    fn not_toml_and_empty_files_are_errors() {
        assert!(err("[agents.a\n").contains("invalid SLA file"));
        assert!(err("").contains("missing field `agents`"));
        assert!(err("[agents]\n").contains("no agents"));
    }

    fn report() -> Report {
        let mut m = AggregateMetrics {
            total_executions: 50,
            success_count: 49,
            failure_count: 1,
            avg_duration: ms(42),
            ..AggregateMetrics::default()
        };
        m.percentiles.p95 = ms(88);
        m.percentiles.p99 = ms(145);
        let agents = [("codebase-locator".to_string(), m)].into();
        Report::from_parts(agents, BTreeMap::new(), BTreeMap::new())
    }

    #[test]
    fn limits_are_inclusive_and_missing_agents_violate() {
        let sla = parse_sla(
            r#"
            [agents."codebase-locator"]
            avg = "42ms"
            p95 = "80ms"
            success_rate = 98.0
            [agents.ghost]
            "#,
        )
        .unwrap();
        let checks = check(&sla, &report());
        let got: Vec<(&str, &str, bool)> = checks
            .iter()
            .map(|c| (c.agent.as_str(), c.limit, c.ok))
            .collect();
        assert_eq!(
            got,
            [
                ("codebase-locator", "avg", true),
                ("codebase-locator", "p95", false),
                ("codebase-locator", "success_rate", true),
                ("ghost", "presence", false),
            ]
        );
        let out = render(&checks, "r.json");
        let p95: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
        let (actual, limit) = (
            HumanDuration(ms(88)).to_string(),
            HumanDuration(ms(80)).to_string(),
        );
        assert_eq!(
            p95,
            ["codebase-locator", "p95", &actual, "<=", &limit, "VIOLATED"],
            "{out}"
        );
        // Aligned: the verdicts start in the same column on every line.
        let at: Vec<usize> = out
            .lines()
            .take(4)
            .map(|l| l.find("  OK").or_else(|| l.find("  VIOLATED")).unwrap())
            .collect();
        assert!(at.iter().all(|&a| a == at[0]), "{out}");
        assert!(out.contains("VIOLATED: agent not in r.json"), "{out}");
        assert!(out.ends_with("2 of 4 limit(s) violated\n"), "{out}");
    }

    #[test]
    fn an_agent_without_limits_only_has_to_be_present() {
        let sla = parse_sla("[agents.\"codebase-locator\"]\n").unwrap();
        let checks = check(&sla, &report());
        assert_eq!(checks.len(), 1);
        assert!(checks[0].ok);
        assert!(render(&checks, "r.json").ends_with("all 1 limit(s) met\n"));
    }
}
