//! The formats a report is written in, and `PROFX_REPORT`'s `FORMAT[:PATH],...` naming them.

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::Report;

/// A format the report can be written in at shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// [`Report::write_text`].
    Text,
    /// [`Report::write_json`].
    Json,
    /// [`Report::write_csv`].
    Csv,
    /// [`Report::write_summary`].
    Summary,
    /// [`Report::write_html`].
    Html,
    /// [`Report::write_trace`]: the kept executions as a Chrome trace (Perfetto UI,
    /// `chrome://tracing`).
    Trace,
    /// [`Report::write_folded`]: folded stacks of the kept executions' self times.
    Folded,
    /// `Report::write_flamegraph`: an SVG flame graph of the same stacks (feature
    /// `flamegraph`; refused by [`parse_report_targets`] without it).
    Flamegraph,
}

impl ReportFormat {
    /// The formats `PROFX_REPORT` accepts (flame graphs only with their feature).
    pub const ALL: &'static [(&'static str, ReportFormat)] = &[
        ("text", ReportFormat::Text),
        ("json", ReportFormat::Json),
        ("csv", ReportFormat::Csv),
        ("summary", ReportFormat::Summary),
        ("html", ReportFormat::Html),
        ("trace", ReportFormat::Trace),
        ("folded", ReportFormat::Folded),
        #[cfg(feature = "flamegraph")]
        ("flamegraph", ReportFormat::Flamegraph),
    ];

    fn name(self) -> &'static str {
        match self {
            ReportFormat::Text => "text",
            ReportFormat::Json => "json",
            ReportFormat::Csv => "csv",
            ReportFormat::Summary => "summary",
            ReportFormat::Html => "html",
            ReportFormat::Trace => "trace",
            ReportFormat::Folded => "folded",
            ReportFormat::Flamegraph => "flamegraph",
        }
    }

    /// Whether the format shows kept executions (JSON, HTML, trace, folded stacks and flame
    /// graphs do; summary, text and CSV show aggregates only).
    pub fn shows_executions(self) -> bool {
        matches!(
            self,
            ReportFormat::Json
                | ReportFormat::Html
                | ReportFormat::Trace
                | ReportFormat::Folded
                | ReportFormat::Flamegraph
        )
    }

    /// Writes `report` in this format.
    pub fn write(self, report: &Report, w: &mut dyn Write) -> io::Result<()> {
        let mut w = w;
        match self {
            ReportFormat::Text => report.write_text(&mut w),
            ReportFormat::Json => report.write_json(&mut w),
            ReportFormat::Csv => report.write_csv(&mut w),
            ReportFormat::Summary => report.write_summary(&mut w),
            ReportFormat::Html => report.write_html(&mut w),
            ReportFormat::Trace => report.write_trace(&mut w),
            ReportFormat::Folded => report.write_folded(&mut w),
            #[cfg(feature = "flamegraph")]
            ReportFormat::Flamegraph => report.write_flamegraph(&mut w),
            #[cfg(not(feature = "flamegraph"))]
            ReportFormat::Flamegraph => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "flame graphs need profx's `flamegraph` feature",
            )),
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where one format goes: a file, or standard error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportTarget {
    /// The format.
    pub format: ReportFormat,
    /// The file to write; `None` for standard error.
    pub path: Option<PathBuf>,
}

/// A `PROFX_REPORT` value that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportSpecError {
    /// The entry that is wrong.
    pub entry: String,
}

impl fmt::Display for ReportSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a report target (expected {})",
            self.entry, SPEC_FORM
        )
    }
}

impl std::error::Error for ReportSpecError {}

/// What `PROFX_REPORT` accepts, for messages about a value that does not parse.
#[cfg(feature = "flamegraph")]
pub const SPEC_FORM: &str = "comma-separated FORMAT[:PATH], FORMAT one of text, json, csv, summary, html, trace, folded, flamegraph; e.g. summary,json:report.json";
/// What `PROFX_REPORT` accepts, for messages about a value that does not parse.
#[cfg(not(feature = "flamegraph"))]
pub const SPEC_FORM: &str = "comma-separated FORMAT[:PATH], FORMAT one of text, json, csv, summary, html, trace, folded (flamegraph with the `flamegraph` feature); e.g. summary,json:report.json";

/// Parses `FORMAT[:PATH],...` (the form of `PROFX_REPORT`).
///
/// ```
/// use profx_report::{parse_report_targets, ReportFormat};
/// let t = parse_report_targets("summary,html:report.html").unwrap();
/// assert_eq!(t[0].format, ReportFormat::Summary);
/// assert_eq!(t[1].path.as_deref(), Some(std::path::Path::new("report.html")));
/// assert!(parse_report_targets("pdf:out.pdf").is_err());
/// ```
pub fn parse_report_targets(spec: &str) -> Result<Vec<ReportTarget>, ReportSpecError> {
    let mut out = Vec::new();
    for entry in spec.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (format, path) = match entry.split_once(':') {
            Some((f, p)) => (f.trim(), Some(p.trim())),
            None => (entry, None),
        };
        let format = ReportFormat::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(format))
            .map(|(_, f)| *f);
        match (format, path) {
            (Some(format), None) => out.push(ReportTarget { format, path: None }),
            (Some(format), Some(p)) if !p.is_empty() => out.push(ReportTarget {
                format,
                path: Some(PathBuf::from(p)),
            }),
            _ => {
                return Err(ReportSpecError {
                    entry: entry.to_owned(),
                })
            }
        }
    }
    if out.is_empty() {
        return Err(ReportSpecError {
            entry: spec.to_owned(),
        });
    }
    Ok(out)
}
