//! Where the time of the kept executions went, as stacks: Brendan Gregg's folded format
//! (`agent;phase;subphase N`, N the stack's self time in microseconds), and flame graphs drawn
//! from it by `inferno` (feature `flamegraph`).
//!
//! A stack's self time is its duration less that of the phases nested directly in it (its
//! children, found from the phases' depths and times), summed over the kept executions.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};

use crate::{ExecutionProfile, Report};

impl Report {
    /// Writes the kept executions as folded stacks, one line per stack: its frames (the
    /// agent, then the phases down to it) joined by `;`, a space, and its self time in
    /// microseconds summed over the executions (rounded; stacks under half a microsecond left
    /// out). The input of `flamegraph.pl`, `inferno-flamegraph` and speedscope.
    ///
    /// ```
    /// # use std::time::{Duration, SystemTime};
    /// # use profx_report::{ExecutionProfile, Outcome, PhaseProfile, Report};
    /// let mut report = Report::empty();
    /// let phase = |name: &'static str, start, dur, depth| PhaseProfile {
    ///     name: name.into(),
    ///     start_offset: Duration::from_micros(start),
    ///     duration: Duration::from_micros(dur),
    ///     depth,
    ///     outcome: Outcome::Success,
    /// };
    /// report.executions.insert("handle".into(), vec![ExecutionProfile {
    ///     id: "handle-1".into(), agent: "handle".into(), request: String::new(),
    ///     start: SystemTime::now(), duration: Duration::from_micros(100),
    ///     polls: 1, busy: Duration::from_micros(100),
    ///     memory_allocated: 0, allocations: 0, thread_count: 1, success: true,
    ///     outcome: Outcome::Success, error: None, phases_dropped: 0, parent: None,
    ///     traceparent: None,
    ///     thread_id: 1, thread_name: None,
    ///     phases: vec![phase("parse", 0, 30, 0), phase("lex", 5, 20, 1), phase("db", 40, 50, 0)],
    /// }]);
    /// let mut out = Vec::new();
    /// report.write_folded(&mut out)?;
    /// assert_eq!(
    ///     String::from_utf8(out).unwrap(),
    ///     "handle 20\nhandle;db 50\nhandle;parse 10\nhandle;parse;lex 20\n"
    /// );
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_folded(&self, w: impl Write) -> io::Result<()> {
        let mut w = BufWriter::new(w);
        for (stack, micros) in folded(self.executions.values().flatten()) {
            writeln!(w, "{stack} {micros}")?;
        }
        w.flush()
    }

    /// Writes a flame graph (SVG, drawn by `inferno`) of where the kept executions spent their
    /// time: the stacks of [`write_folded`](Report::write_folded), one tower per agent, widths
    /// in microseconds of self time. An SVG saying "no kept executions" when there are none.
    #[cfg(feature = "flamegraph")]
    pub fn write_flamegraph(&self, w: impl Write) -> io::Result<()> {
        let lines = folded(self.executions.values().flatten());
        flamegraph(
            &lines,
            "profx: where the kept executions spent their time",
            w,
        )
    }
}

/// Frames may hold neither the separator nor a line break.
fn frame(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ';' => ':',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// The self time of each stack of `execs`, in nanoseconds, by stack (frames joined by `;`).
pub(crate) fn self_times<'a>(
    execs: impl IntoIterator<Item = &'a ExecutionProfile>,
) -> BTreeMap<String, u128> {
    let mut out: BTreeMap<String, u128> = BTreeMap::new();
    for e in execs {
        let (order, parents) = e.phase_tree();
        // Each phase's stack and self time (its duration less its children's), then the
        // execution's own.
        let mut stacks: Vec<String> = vec![String::new(); e.phases.len()];
        let mut own: Vec<u128> = e.phases.iter().map(|p| p.duration.as_nanos()).collect();
        let root = frame(&e.agent);
        let mut root_own = e.duration.as_nanos();
        for &i in &order {
            let p = &e.phases[i];
            let dur = p.duration.as_nanos();
            // Concurrent children (async phases joined) may add up to more than the parent.
            let parent = match parents[i] {
                Some(j) => {
                    own[j] = own[j].saturating_sub(dur);
                    &stacks[j]
                }
                None => {
                    root_own = root_own.saturating_sub(dur);
                    &root
                }
            };
            stacks[i] = format!("{parent};{}", frame(&p.name));
        }
        *out.entry(root).or_default() += root_own;
        for (stack, ns) in stacks.into_iter().zip(own) {
            *out.entry(stack).or_default() += ns;
        }
    }
    out
}

/// The folded lines: each stack and its self time in whole microseconds (rounded), those under
/// half a microsecond left out.
pub(crate) fn folded<'a>(
    execs: impl IntoIterator<Item = &'a ExecutionProfile>,
) -> Vec<(String, u128)> {
    self_times(execs)
        .into_iter()
        .map(|(s, ns)| (s, (ns + 500) / 1000))
        .filter(|(_, us)| *us > 0)
        .collect()
}

/// Draws `lines` (folded stacks, microseconds) as an SVG flame graph titled `title`.
#[cfg(feature = "flamegraph")]
pub(crate) fn flamegraph(lines: &[(String, u128)], title: &str, w: impl Write) -> io::Result<()> {
    let text: Vec<String> = lines.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let mut opt = inferno::flamegraph::Options::default();
    opt.title = title.to_owned();
    opt.count_name = "µs".to_owned();
    opt.name_type = "Frame:".to_owned();
    opt.colors =
        inferno::flamegraph::color::Palette::Basic(inferno::flamegraph::color::BasicPalette::Aqua);
    opt.hash = true;
    opt.deterministic = true;
    if text.is_empty() {
        // inferno refuses an empty profile: an SVG that says why there is nothing.
        let mut w = BufWriter::new(w);
        write!(
            w,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="10" y="25" font-family="sans-serif" font-size="14">{title}: no kept executions</text></svg>"#,
            title = title
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        )?;
        writeln!(w)?;
        return w.flush();
    }
    inferno::flamegraph::from_lines(&mut opt, text.iter().map(String::as_str), w)
        .map_err(|e| io::Error::other(format!("flame graph: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, PhaseProfile};
    use std::time::{Duration, SystemTime};

    fn exec(agent: &str, dur_us: u64, phases: &[(&str, u64, u64, u32)]) -> ExecutionProfile {
        ExecutionProfile {
            id: format!("{agent}-1"),
            agent: agent.into(),
            request: String::new(),
            start: SystemTime::now(),
            duration: Duration::from_micros(dur_us),
            polls: 1,
            busy: Duration::from_micros(dur_us),
            memory_allocated: 0,
            allocations: 0,
            thread_count: 1,
            success: true,
            outcome: Outcome::Success,
            error: None,
            phases: phases
                .iter()
                .map(|&(n, s, d, depth)| PhaseProfile {
                    name: n.to_owned().into(),
                    start_offset: Duration::from_micros(s),
                    duration: Duration::from_micros(d),
                    depth,
                    outcome: Outcome::Success,
                })
                .collect(),
            phases_dropped: 0,
            parent: None,
            traceparent: None,
            thread_id: 1,
            thread_name: None,
        }
    }

    #[test]
    fn self_time_is_duration_less_direct_children() {
        // a (100) > p (60) > q (20), r (10) > s (5); p2 (30) after p.
        let e = exec(
            "a",
            100,
            &[
                ("p", 0, 60, 0),
                ("q", 5, 20, 1),
                ("r", 30, 10, 1),
                ("s", 31, 5, 2),
                ("p2", 65, 30, 0),
            ],
        );
        let t = self_times([&e]);
        let us = |k: &str| t[k] / 1000;
        assert_eq!(us("a"), 10);
        assert_eq!(us("a;p"), 30);
        assert_eq!(us("a;p;q"), 20);
        assert_eq!(us("a;p;r"), 5);
        assert_eq!(us("a;p;r;s"), 5);
        assert_eq!(us("a;p2"), 30);
        // The stacks add up to the execution.
        assert_eq!(t.values().sum::<u128>(), 100_000);
    }

    #[test]
    fn the_same_phase_at_another_depth_is_another_stack_and_names_are_escaped() {
        let e1 = exec("x;y", 50, &[("p\nq", 0, 10, 0), ("p\nq", 20, 10, 0)]);
        let e2 = exec("x;y", 50, &[("o", 0, 40, 0), ("p\nq", 5, 30, 1)]);
        let t = folded([&e1, &e2]);
        assert_eq!(
            t,
            vec![
                ("x:y".to_owned(), 40),
                ("x:y;o".to_owned(), 10),
                ("x:y;o;p q".to_owned(), 30),
                ("x:y;p q".to_owned(), 20),
            ]
        );
    }

    #[test]
    fn concurrent_children_never_make_a_negative_self_time() {
        // Two async phases joined: each 80 of the 100.
        let e = exec("j", 100, &[("a", 0, 80, 0), ("b", 10, 80, 0)]);
        let t = self_times([&e]);
        assert_eq!(t["j"], 0);
        assert_eq!(t["j;a"], 80_000);
        assert_eq!(t["j;b"], 80_000);
    }
}
