//! `profx diff`: what changed between two reports, and which changes are regressions.
//!
//! The rule: a row (an agent, or a phase of an agent) regresses when its avg, P95 or P99 is
//! slower in the new report by more than the threshold, in percent of the base value, or when
//! its success rate is lower by more than the threshold, in percentage points. A base duration
//! of zero has no percentage change and is never a regression. Agents and phases found in only
//! one report are listed as added or removed, and are not regressions.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::Duration;

use profx::{AggregateMetrics, HumanDuration, PhaseMetrics, Report};
use serde::Serialize;

use crate::render::one_line;

/// Millionths of a percent in one percent.
const MICRO: u64 = 1_000_000;

/// The regression threshold: a non-negative percentage, kept exactly (to a millionth of a
/// percent) so that "10%" means exactly 10%.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    micro_percent: u64,
}

impl Threshold {
    /// The accepted forms, for messages.
    pub const FORMS: &'static str = "a non-negative percentage such as 10%, 10 or 0.5%";

    /// The threshold in percent.
    pub fn percent(self) -> f64 {
        self.micro_percent as f64 / MICRO as f64
    }

    /// Whether `new` is slower than `base` by more than the threshold (never when `base` is 0).
    fn slower(self, base: Duration, new: Duration) -> bool {
        if base.is_zero() || new <= base {
            return false;
        }
        // (new - base) / base * 100 > micro / MICRO, in integers.
        (new - base).as_nanos() * 100 * MICRO as u128 > base.as_nanos() * self.micro_percent as u128
    }

    /// Whether the success rate `new_ok / new_total` is lower than `base_ok / base_total` by
    /// more than the threshold, in percentage points (totals are non-zero).
    fn rate_dropped(
        self,
        (base_ok, base_total): (u64, u64),
        (new_ok, new_total): (u64, u64),
    ) -> bool {
        // (bo/bt - no/nt) * 100 > micro / MICRO  <=>  (bo*nt - no*bt) * 100 * MICRO > micro * bt * nt
        let lhs = (base_ok as i128 * new_total as i128 - new_ok as i128 * base_total as i128)
            * 100
            * MICRO as i128;
        lhs > self.micro_percent as i128 * base_total as i128 * new_total as i128
    }
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Threshold, String> {
        let bad = |why: &str| format!("{why}: expected {}", Threshold::FORMS);
        let t = s.trim();
        let number = t.strip_suffix('%').unwrap_or(t);
        if number.is_empty() {
            return Err(bad("no number"));
        }
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || !digits(frac) || (int.is_empty() && frac.is_empty()) {
            return Err(bad(if number.starts_with('-') {
                "negative"
            } else {
                "not a number"
            }));
        }
        if frac.len() > 6 {
            return Err(bad("more than 6 decimal places"));
        }
        let int: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad("too large"))?
        };
        let frac_micro: u64 = format!("{frac:0<6}").parse().unwrap_or(0);
        let micro_percent = int
            .checked_mul(MICRO)
            .and_then(|v| v.checked_add(frac_micro))
            .ok_or_else(|| bad("too large"))?;
        Ok(Threshold { micro_percent })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.micro_percent / MICRO;
        let frac = self.micro_percent % MICRO;
        if frac == 0 {
            write!(f, "{int}%")
        } else {
            let frac = format!("{frac:06}");
            write!(f, "{int}.{}%", frac.trim_end_matches('0'))
        }
    }
}

/// One duration compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timing {
    /// In the base report, nanoseconds.
    pub base_ns: u64,
    /// In the new report, nanoseconds.
    pub new_ns: u64,
    /// `(new - base) / base`, in percent; `None` when the base is zero and the new is not.
    pub change_percent: Option<f64>,
    /// Slower by more than the threshold.
    pub regression: bool,
}

/// The success rate compared (when both reports have calls).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rate {
    /// In the base report, percent.
    pub base_percent: f64,
    /// In the new report, percent.
    pub new_percent: f64,
    /// `new - base`, in percentage points.
    pub change_points: f64,
    /// Lower by more than the threshold, in points.
    pub regression: bool,
}

/// The metrics of a row found in both reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Compared {
    /// Mean duration.
    pub avg: Timing,
    /// 95th percentile.
    pub p95: Timing,
    /// 99th percentile.
    pub p99: Timing,
    /// Success rate; `None` when either report has no calls.
    pub success_rate: Option<Rate>,
}

impl Compared {
    /// The names of the metrics that regressed.
    pub fn regressed(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (name, t) in [("avg", &self.avg), ("p95", &self.p95), ("p99", &self.p99)] {
            if t.regression {
                out.push(name);
            }
        }
        if self.success_rate.as_ref().is_some_and(|r| r.regression) {
            out.push("success rate");
        }
        out
    }
}

/// How a row differs between the reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Change {
    /// In both reports.
    Compared(Compared),
    /// Only in the new report.
    Added,
    /// Only in the base report.
    Removed,
}

/// An agent (`phase: None`) or a phase of an agent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The agent.
    pub agent: String,
    /// The phase, for a phase row.
    pub phase: Option<String>,
    /// What changed.
    #[serde(flatten)]
    pub change: Change,
}

impl Row {
    /// Whether any metric of the row regressed.
    pub fn is_regression(&self) -> bool {
        matches!(&self.change, Change::Compared(c) if !c.regressed().is_empty())
    }
}

/// The comparison of two reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diff {
    /// The threshold, in percent (and in percentage points for success rates).
    pub threshold_percent: f64,
    /// Agents in name order, each followed by its phases in name order.
    pub rows: Vec<Row>,
    /// Rows with at least one regression.
    pub regressions: usize,
}

/// What is compared of an agent or a phase.
struct Stats {
    avg: Duration,
    p95: Duration,
    p99: Duration,
    ok: u64,
    total: u64,
}

impl From<&AggregateMetrics> for Stats {
    fn from(m: &AggregateMetrics) -> Stats {
        Stats {
            avg: m.avg_duration,
            p95: m.percentiles.p95,
            p99: m.percentiles.p99,
            ok: m.success_count,
            total: m.total_executions,
        }
    }
}

impl From<&PhaseMetrics> for Stats {
    fn from(m: &PhaseMetrics) -> Stats {
        Stats {
            avg: m.avg_duration,
            p95: m.percentiles.p95,
            p99: m.percentiles.p99,
            ok: m.calls.saturating_sub(m.failures),
            total: m.calls,
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn timing(base: Duration, new: Duration, t: Threshold) -> Timing {
    let change_percent = if base.is_zero() {
        new.is_zero().then_some(0.0)
    } else {
        // From the integer difference: 48ms -> 62.4ms is exactly +30.0.
        let delta = new.as_nanos() as f64 - base.as_nanos() as f64;
        Some(delta * 100.0 / base.as_nanos() as f64)
    };
    Timing {
        base_ns: nanos(base),
        new_ns: nanos(new),
        change_percent,
        regression: t.slower(base, new),
    }
}

fn compare(base: Stats, new: Stats, t: Threshold) -> Compared {
    let rate = |ok: u64, total: u64| ok as f64 * 100.0 / total as f64;
    let success_rate = (base.total > 0 && new.total > 0).then(|| {
        let (b, n) = (rate(base.ok, base.total), rate(new.ok, new.total));
        Rate {
            base_percent: b,
            new_percent: n,
            change_points: n - b,
            regression: t.rate_dropped((base.ok, base.total), (new.ok, new.total)),
        }
    });
    Compared {
        avg: timing(base.avg, new.avg, t),
        p95: timing(base.p95, new.p95, t),
        p99: timing(base.p99, new.p99, t),
        success_rate,
    }
}

/// Compares `new` against `base`.
pub fn diff(base: &Report, new: &Report, t: Threshold) -> Diff {
    let names: BTreeSet<&String> = base.agents.keys().chain(new.agents.keys()).collect();
    let mut rows = Vec::new();
    for name in names {
        let row = |phase: Option<&String>, change| Row {
            agent: name.clone(),
            phase: phase.cloned(),
            change,
        };
        match (base.agents.get(name), new.agents.get(name)) {
            (Some(b), Some(n)) => {
                rows.push(row(None, Change::Compared(compare(b.into(), n.into(), t))));
                let phases: BTreeSet<&String> = b.phases.keys().chain(n.phases.keys()).collect();
                for p in phases {
                    let change = match (b.phases.get(p), n.phases.get(p)) {
                        (Some(bp), Some(np)) => Change::Compared(compare(bp.into(), np.into(), t)),
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
        threshold_percent: t.percent(),
        rows,
        regressions,
    }
}

/// The marker at the start of a row with a regression.
pub const MARKER: &str = "!!";

fn signed_duration(base_ns: u64, new_ns: u64) -> String {
    let (sign, d) = if new_ns >= base_ns {
        ("+", new_ns - base_ns)
    } else {
        ("-", base_ns - new_ns)
    };
    format!("{sign}{}", HumanDuration(Duration::from_nanos(d)))
}

fn signed(v: f64, unit: &str) -> String {
    // No "-0.0": a change that rounds to zero is shown as +0.0.
    let v = if (v * 10.0).round() == 0.0 { 0.0 } else { v };
    format!("{v:+.1}{unit}")
}

fn timing_cell(t: &Timing) -> String {
    let pct = t
        .change_percent
        .map_or_else(|| "n/a".to_string(), |p| signed(p, "%"));
    format!("{pct} ({})", signed_duration(t.base_ns, t.new_ns))
}

/// The diff as an aligned table, ending with the regression count line.
pub fn render(d: &Diff, t: Threshold, base_name: &str, new_name: &str) -> String {
    let header = ["", "AGENT / PHASE", "AVG", "P95", "P99", "SUCCESS", ""];
    let mut lines: Vec<[String; 7]> = vec![header.map(String::from)];
    for r in &d.rows {
        let name = match &r.phase {
            None => one_line(&r.agent),
            Some(p) => format!("  {}", one_line(p)),
        };
        let line = match &r.change {
            Change::Compared(c) => {
                let regressed = c.regressed();
                let success = c
                    .success_rate
                    .as_ref()
                    .map_or_else(|| "n/a".to_string(), |s| signed(s.change_points, "pp"));
                [
                    if regressed.is_empty() { "" } else { MARKER }.to_string(),
                    name,
                    timing_cell(&c.avg),
                    timing_cell(&c.p95),
                    timing_cell(&c.p99),
                    success,
                    if regressed.is_empty() {
                        String::new()
                    } else {
                        format!("REGRESSION: {}", regressed.join(", "))
                    },
                ]
            }
            Change::Added | Change::Removed => {
                let note = if matches!(r.change, Change::Added) {
                    format!("added (only in {new_name})")
                } else {
                    format!("removed (only in {base_name})")
                };
                let dash = || "-".to_string();
                [String::new(), name, dash(), dash(), dash(), dash(), note]
            }
        };
        lines.push(line);
    }
    let mut widths = [0usize; 7];
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("base: {base_name}\nnew:  {new_name}\nthreshold: {t}\n\n");
    for l in &lines {
        let mut s = String::new();
        for (i, (cell, w)) in l.iter().zip(widths).enumerate() {
            if i == 6 {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&summary_line(d.regressions, t));
    out.push('\n');
    out
}

/// "N regression(s) above T" or "no regression above T".
pub fn summary_line(regressions: usize, t: Threshold) -> String {
    match regressions {
        0 => format!("no regression above {t}"),
        1 => format!("1 regression above {t}"),
        n => format!("{n} regressions above {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn th(s: &str) -> Threshold {
        s.parse().unwrap()
    }

    fn agent(avg: u64, p95: u64, p99: u64, ok: u64, total: u64) -> AggregateMetrics {
        let mut m = AggregateMetrics {
            total_executions: total,
            success_count: ok,
            failure_count: total - ok,
            avg_duration: ms(avg),
            min_duration: ms(avg / 2),
            max_duration: ms(p99),
            ..AggregateMetrics::default()
        };
        m.percentiles.p95 = ms(p95);
        m.percentiles.p99 = ms(p99);
        m
    }

    fn phase(avg: u64, calls: u64, failures: u64) -> PhaseMetrics {
        let mut p = PhaseMetrics {
            calls,
            failures,
            avg_duration: ms(avg),
            ..PhaseMetrics::default()
        };
        p.percentiles.p95 = ms(avg * 2);
        p.percentiles.p99 = ms(avg * 3);
        p
    }

    fn report(agents: Vec<(&str, AggregateMetrics)>) -> Report {
        let agents: BTreeMap<String, AggregateMetrics> = agents
            .into_iter()
            .map(|(n, a)| (n.to_string(), a))
            .collect();
        Report::from_parts(agents, BTreeMap::new(), BTreeMap::new())
    }

    #[test]
    fn threshold_accepts_percent_plain_and_fractions() {
        assert_eq!(th("10%").percent(), 10.0);
        assert_eq!(th("10").percent(), 10.0);
        assert_eq!(th("0.5%").percent(), 0.5);
        assert_eq!(th(" 2.25 ").percent(), 2.25);
        assert_eq!(th(".5").percent(), 0.5);
        assert_eq!(th("0").percent(), 0.0);
        assert_eq!(th("10%").to_string(), "10%");
        assert_eq!(th("0.50").to_string(), "0.5%");
    }

    #[test]
    fn threshold_refuses_what_is_not_a_non_negative_percentage() {
        for bad in [
            "abc",
            "-5%",
            "%",
            "",
            "10%%",
            "1e3",
            "5.5.5",
            "0.1234567",
            "nan",
            "+5",
        ] {
            let e = bad.parse::<Threshold>().unwrap_err();
            assert!(e.contains("10%, 10 or 0.5%"), "{bad}: {e}");
        }
        assert!("-5%"
            .parse::<Threshold>()
            .unwrap_err()
            .starts_with("negative"));
        assert!("99999999999999999999"
            .parse::<Threshold>()
            .unwrap_err()
            .starts_with("too large"));
    }

    #[test]
    fn slower_is_strictly_more_than_the_threshold_and_exact() {
        let t = th("10%");
        assert!(!t.slower(ms(100), ms(110)), "exactly 10% is not above 10%");
        assert!(t.slower(ms(100), ms(110) + Duration::from_nanos(1)));
        assert!(!t.slower(ms(100), ms(50)));
        assert!(
            !t.slower(Duration::ZERO, ms(5)),
            "no percentage change from zero"
        );
        assert!(th("0").slower(ms(100), ms(100) + Duration::from_nanos(1)));
        assert!(!th("0.5%").slower(ms(1000), ms(1005)));
        assert!(th("0.5%").slower(ms(1000), ms(1006)));
    }

    #[test]
    fn success_rate_drop_is_in_points() {
        let t = th("10");
        assert!(!t.rate_dropped((98, 100), (88, 100)), "exactly 10 points");
        assert!(t.rate_dropped((98, 100), (87, 100)));
        assert!(!t.rate_dropped((50, 100), (90, 100)), "an improvement");
        // 49/50 = 98% against 175/200 = 87.5%: 10.5 points.
        assert!(t.rate_dropped((49, 50), (175, 200)));
    }

    #[test]
    fn identical_reports_have_no_change() {
        let mut a = agent(40, 80, 120, 49, 50);
        a.phases.insert("parse".into(), phase(10, 50, 1));
        let r = report(vec![("locator", a)]);
        let d = diff(&r, &r, th("10%"));
        assert_eq!(d.regressions, 0);
        assert_eq!(d.rows.len(), 2);
        for row in &d.rows {
            let Change::Compared(c) = &row.change else {
                panic!("{row:?}")
            };
            assert_eq!(c.avg.change_percent, Some(0.0));
            assert_eq!(c.success_rate.as_ref().unwrap().change_points, 0.0);
        }
    }

    #[test]
    fn a_slower_agent_and_phase_are_regressions_with_their_metrics_named() {
        let mut a = agent(40, 80, 120, 50, 50);
        a.phases.insert("parse".into(), phase(10, 50, 0));
        a.phases.insert("search".into(), phase(10, 50, 0));
        let mut b = agent(52, 84, 120, 50, 50); // avg +30%, p95 +5%
        b.phases.insert("parse".into(), phase(10, 50, 10)); // 20 points lower success
        b.phases.insert("search".into(), phase(10, 50, 0));
        let d = diff(&report(vec![("x", a)]), &report(vec![("x", b)]), th("10%"));
        assert_eq!(d.regressions, 2);
        let Change::Compared(c) = &d.rows[0].change else {
            panic!()
        };
        assert_eq!(c.regressed(), vec!["avg"]);
        assert_eq!(c.avg.change_percent, Some(30.0));
        assert_eq!(c.avg.new_ns - c.avg.base_ns, 12_000_000);
        let Change::Compared(p) = &d.rows[1].change else {
            panic!()
        };
        assert_eq!(d.rows[1].phase.as_deref(), Some("parse"));
        assert_eq!(p.regressed(), vec!["success rate"]);
        assert!((p.success_rate.as_ref().unwrap().change_points + 20.0).abs() < 1e-9);
        assert!(!d.rows[2].is_regression());
    }

    #[test]
    fn agents_and_phases_in_one_report_only_are_added_or_removed() {
        let mut a = agent(40, 80, 120, 50, 50);
        a.phases.insert("old".into(), phase(10, 50, 0));
        let mut b = agent(40, 80, 120, 50, 50);
        b.phases.insert("new".into(), phase(10, 50, 0));
        let base = report(vec![("kept", a), ("gone", agent(1, 1, 1, 1, 1))]);
        let new = report(vec![("kept", b), ("fresh", agent(1, 1, 1, 1, 1))]);
        let d = diff(&base, &new, th("10%"));
        let got: Vec<(&str, Option<&str>, &Change)> = d
            .rows
            .iter()
            .map(|r| (r.agent.as_str(), r.phase.as_deref(), &r.change))
            .collect();
        assert_eq!(got.len(), 5);
        assert_eq!((got[0].0, got[0].2), ("fresh", &Change::Added));
        assert_eq!((got[1].0, got[1].2), ("gone", &Change::Removed));
        assert_eq!(got[2].0, "kept");
        assert_eq!((got[3].1, got[3].2), (Some("new"), &Change::Added));
        assert_eq!((got[4].1, got[4].2), (Some("old"), &Change::Removed));
        assert_eq!(d.regressions, 0);
    }

    #[test]
    fn zero_base_has_no_percentage_and_is_not_a_regression() {
        let a = agent(0, 0, 0, 0, 0);
        let b = agent(5, 5, 5, 1, 1);
        let d = diff(&report(vec![("x", a)]), &report(vec![("x", b)]), th("10%"));
        let Change::Compared(c) = &d.rows[0].change else {
            panic!()
        };
        assert_eq!(c.avg.change_percent, None);
        assert_eq!(c.success_rate, None, "no calls in the base");
        assert_eq!(d.regressions, 0);
    }

    #[test]
    fn the_table_is_aligned_and_marks_regressions() {
        let base = report(vec![
            ("alpha", agent(40, 80, 120, 50, 50)),
            ("b", agent(10, 10, 10, 5, 5)),
        ]);
        let new = report(vec![
            ("alpha", agent(52, 80, 120, 50, 50)),
            ("b", agent(10, 10, 10, 5, 5)),
        ]);
        let t = th("10%");
        let out = render(&diff(&base, &new, t), t, "base.json", "new.json");
        let lines: Vec<&str> = out.lines().collect();
        let table: Vec<&str> = lines[4..7].to_vec();
        assert!(table[0].contains("AGENT / PHASE"), "{out}");
        assert!(table[1].starts_with(MARKER), "{out}");
        let twelve = HumanDuration(ms(12));
        assert!(table[1].contains(&format!("+30.0% (+{twelve})")), "{out}");
        assert!(table[1].ends_with("REGRESSION: avg"), "{out}");
        assert!(table[2].contains("+0.0% (+0ns)"), "{out}");
        assert_eq!(table[0].find("AVG"), table[1].find("+30.0%"), "{out}");
        assert_eq!(table[0].find("P95"), table[1].find("+0.0%"), "{out}");
        assert_eq!(lines.last(), Some(&"1 regression above 10%"));
        assert_eq!(summary_line(0, t), "no regression above 10%");
        assert_eq!(summary_line(3, t), "3 regressions above 10%");
    }

    #[test]
    fn signed_values_never_show_minus_zero() {
        assert_eq!(signed(-0.01, "%"), "+0.0%");
        assert_eq!(signed(-2.0, "pp"), "-2.0pp");
        assert_eq!(signed_duration(10, 4), "-6ns");
    }
}
