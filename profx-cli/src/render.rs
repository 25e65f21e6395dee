//! `profx report`: a saved report rendered again, by the writers of [`Report`].

use std::io::{self, Write};

use clap::ValueEnum;
use profx_report::Report;

/// The formats of `profx report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The full text report: one section per agent with its phases.
    Text,
    /// The report as JSON (durations in integer nanoseconds); reads back with `profx`.
    Json,
    /// One CSV row per agent.
    Csv,
    /// One line, plus the bottleneck warning.
    Summary,
    /// The kept executions of one agent (`--agent`), with their phases.
    Details,
    /// A self-contained HTML page with plots.
    Html,
    /// The kept executions as a Chrome trace (JSON): open it in Perfetto UI
    /// (ui.perfetto.dev) or chrome://tracing.
    Trace,
    /// Folded stacks (`agent;phase;subphase MICROSECONDS` of self time) of the kept
    /// executions, for flamegraph.pl, inferno or speedscope.
    Folded,
    /// An SVG flame graph of the same stacks.
    Flamegraph,
}

/// Writes `report` in `format` to `w`; `agent` is the agent of `Format::Details`.
pub fn render(
    report: &Report,
    format: Format,
    agent: Option<&str>,
    w: impl Write,
) -> io::Result<()> {
    match format {
        Format::Text => report.write_text(w),
        Format::Json => report.write_json(w),
        Format::Csv => report.write_csv(w),
        Format::Summary => report.write_summary(w),
        Format::Details => report.write_details(w, agent.unwrap_or_default()),
        Format::Html => report.write_html(w),
        Format::Trace => report.write_trace(w),
        Format::Folded => report.write_folded(w),
        Format::Flamegraph => report.write_flamegraph(w),
    }
}

/// `name` on one line, for the tables of `diff` and `check`: control characters (a newline in
/// an agent's name) are shown escaped so they cannot break the alignment.
pub fn one_line(name: &str) -> String {
    if name.chars().any(char::is_control) {
        name.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_on_one_line() {
        assert_eq!(one_line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(one_line("report, \"final\" µ"), "report, \"final\" µ");
    }

    #[test]
    fn every_format_writes_something() {
        let r = Report::empty();
        for f in Format::value_variants() {
            let mut out = Vec::new();
            render(&r, *f, Some("a"), &mut out).unwrap();
            // No kept executions: no stacks to fold (the format has no comments).
            assert_eq!(out.is_empty(), *f == Format::Folded, "{f:?}");
        }
    }

    #[test]
    fn json_reads_back() {
        let r = Report::empty();
        let mut out = Vec::new();
        render(&r, Format::Json, None, &mut out).unwrap();
        let back = crate::load::parse_report(&out).unwrap();
        assert_eq!(back, r);
    }
}
