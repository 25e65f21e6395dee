//! `profx diff BASE... NEW`: a new report against several runs of the same workload before
//! the change.
//!
//! Two runs of one workload can differ for reasons no statistic of the two can see: the
//! executions of a run share its machine, its scheduler and its timers, so that a whole run
//! may be faster or slower together (tokio's 1 ms timer tick, say, ends a batch of concurrent
//! 3 ms waits one tick earlier in some runs). Against several base runs, a row regresses only
//! when it regresses against each of them: one base that was fast by chance does not fail the
//! gate, while a real slowdown is a regression against every base.

use super::{diff, Change, Diff, Gate, Report, Row};

/// How many of the row's metrics regressed.
fn regressed(r: &Row) -> usize {
    match &r.change {
        Change::Compared(c) => c.regressed().len(),
        Change::Added | Change::Removed => 0,
    }
}

/// Compares `new` against each of `bases` (at least one): each row is its comparison with the
/// base it regressed least against (the first among equals), so that it regresses only when it
/// regresses against every base.
pub fn diff_several(bases: &[Report], new: &Report, g: &Gate) -> Diff {
    let mut diffs = bases.iter().map(|b| diff(b, new, g));
    let mut out = diffs.next().expect("at least one base report");
    for d in diffs {
        for row in &mut out.rows {
            let other = d
                .rows
                .iter()
                .find(|o| o.agent == row.agent && o.phase == row.phase);
            if let Some(other) = other.filter(|o| regressed(o) < regressed(row)) {
                *row = other.clone();
            }
        }
    }
    out.bases = bases.len();
    out.regressions = out.rows.iter().filter(|r| r.is_regression()).count();
    out
}
