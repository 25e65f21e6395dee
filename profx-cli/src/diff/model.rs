//! What `profx diff` finds: the rows, the figures of each and the verdicts, as the table and
//! `--json` show them.

use serde::Serialize;

/// Where the typical call of a row is, in both reports, and whether it moved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Location {
    /// Samples in the base and the new report.
    pub samples: [usize; 2],
    /// The median of each sample, nanoseconds.
    pub median_ns: [u64; 2],
    /// `(new - base) / base` of the medians, in percent.
    pub shift_percent: f64,
    /// The one-sided Mann–Whitney p-value that the new values are larger.
    pub p_value: f64,
    /// The typical call is slower: by more than the threshold and the minimum delta, and
    /// significantly.
    pub slower: bool,
}

/// The order-statistic intervals of a percentile (`--tails`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tail {
    /// The base percentile's interval, nanoseconds.
    pub base_interval_ns: [u64; 2],
    /// The new percentile's interval, nanoseconds.
    pub new_interval_ns: [u64; 2],
    /// The new interval is above the base one.
    pub significant: bool,
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
    /// A regression: every condition of the gate holds.
    pub regression: bool,
    /// Why a change above the threshold is not a regression (`None`: it is one, or it is not
    /// above the threshold); "untested: …" when it is one that no sample could confirm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The intervals of a percentile, when `--tails` tested it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail: Option<Tail>,
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
    /// Lower by more than the threshold, in points, over enough calls.
    pub regression: bool,
}

/// The metrics of a row found in both reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Compared {
    /// Calls (executions of an agent) in the base and the new report.
    pub calls: [u64; 2],
    /// The typical call, when both reports keep enough samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Mean duration.
    pub avg: Timing,
    /// The mean of the calls' own time (less the phases nested directly in them), base and
    /// new, nanoseconds: where a change in `avg` comes from (this row's code, or a phase
    /// inside it). Shown, never a regression by itself; `None` when a report was written
    /// before profx recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_ns: Option<[u64; 2]>,
    /// 95th percentile.
    pub p95: Timing,
    /// 99th percentile.
    pub p99: Timing,
    /// Success rate over the calls that completed (cancelled ones left out); `None` when
    /// either report has none.
    pub success_rate: Option<Rate>,
    /// Calls dropped before they completed, in the base and the new report (shown, never a
    /// regression by themselves: a client that gives up more often is not slower code).
    pub cancelled: [u64; 2],
}

impl Compared {
    /// The names of the metrics that regressed.
    pub fn regressed(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (name, t) in self.timings() {
            if t.regression {
                out.push(name);
            }
        }
        if self.success_rate.as_ref().is_some_and(|r| r.regression) {
            out.push("success rate");
        }
        out
    }

    pub(crate) fn timings(&self) -> [(&'static str, &Timing); 3] {
        [("avg", &self.avg), ("p95", &self.p95), ("p99", &self.p99)]
    }

    /// The changes above the threshold that are not regressions, each with why.
    pub fn ignored(&self) -> Vec<String> {
        self.timings()
            .into_iter()
            .filter(|(_, t)| !t.regression)
            .filter_map(|(name, t)| t.note.as_ref().map(|n| format!("{name} {n}")))
            .collect()
    }
}

/// How a row differs between the reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Change {
    /// In both reports.
    Compared(Box<Compared>),
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
    /// The minimum delta, nanoseconds.
    pub min_delta_ns: u64,
    /// The minimum number of calls on each side.
    pub min_calls: u64,
    /// The confidence of the tests, in percent.
    pub confidence_percent: f64,
    /// A phase's slowdown must add this share of its agent's duration, in percent.
    pub min_share_percent: f64,
    /// P95 and P99 may regress on their own.
    pub tails: bool,
    /// Agents in name order, each followed by its phases in name order.
    pub rows: Vec<Row>,
    /// Rows with at least one regression.
    pub regressions: usize,
    /// The base reports compared with (see [`diff_several`](super::diff_several)).
    pub bases: usize,
}
