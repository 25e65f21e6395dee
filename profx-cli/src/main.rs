//! `profx`: render, compare and check saved profx reports.
//!
//! Exit codes: 0 success (no regression, every limit met); 1 a regression above the threshold
//! (`diff`) or a violated limit (`check`); 2 a usage error or malformed input (missing file, not
//! JSON, not a report, unsupported schema version, bad threshold, bad SLA file).

mod diff;
mod load;
mod render;
mod sla;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{error::ErrorKind, CommandFactory, Parser, Subcommand};

use crate::diff::Threshold;
use crate::render::Format;

/// Render, compare and check saved profx reports (the JSON form of `profx::Report`).
///
/// Exit codes: 0 success; 1 a regression (`diff`) or a violated limit (`check`);
/// 2 a usage error or malformed input.
#[derive(Debug, Parser)]
#[command(name = "profx", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render a saved report again, in any format.
    Report {
        /// The saved report (JSON).
        file: PathBuf,
        /// The format to write.
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The agent whose executions `--format details` shows (required by it, refused by
        /// the other formats).
        #[arg(short, long, value_name = "NAME", required_if_eq("format", "details"))]
        agent: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Compare two saved reports; exit 1 when something regressed above the threshold
    ///
    /// For each agent, and each phase of each agent, prints the change in avg, P95 and P99
    /// (in percent of the base value, and as a duration) and in success rate (in percentage
    /// points).
    ///
    /// A row is a regression, marked `!!` and `REGRESSION: <metrics>`, when its avg, P95 or P99
    /// is slower by MORE than the threshold in percent of the base value, or when its success
    /// rate is lower by MORE than the threshold in percentage points (with --threshold 10%:
    /// 100ms -> 111ms regresses, 100ms -> 110ms does not; 98% -> 87% success regresses). A zero
    /// base duration has no percentage change and never regresses. Agents and phases in only one
    /// report are listed as added or removed and are not regressions.
    ///
    /// The last line is "N regression(s) above T" or "no regression above T". Exit status: 1 when
    /// at least one row regressed, 0 otherwise, 2 on malformed input.
    #[command(verbatim_doc_comment)]
    Diff {
        /// The base report (before).
        base: PathBuf,
        /// The new report (after).
        new: PathBuf,
        /// The regression threshold: a non-negative percentage such as 10%, 10 or 0.5%.
        #[arg(
            short,
            long,
            default_value = "10%",
            value_name = "PERCENT",
            allow_hyphen_values = true
        )]
        threshold: Threshold,
        /// Print the comparison as JSON (for tools) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check a saved report against per-agent limits; exit 1 on a violation
    ///
    /// The SLA file is TOML, one table per agent; every key is optional:
    ///
    ///     [agents."codebase-locator"]
    ///     avg = "100ms"          # maximum mean duration
    ///     p95 = "150ms"          # maximum 95th percentile
    ///     p99 = "250ms"          # maximum 99th percentile
    ///     success_rate = 95.0    # minimum, in percent
    ///
    /// Durations are strings with a unit: "500us", "100ms", "1.5s", "1m 30s". A duration limit
    /// is met when the report's value is at most the limit; a success rate when it is at least
    /// the limit. An agent in the SLA but not in the report is a violation; an agent listed
    /// with no limits only has to be present. Unknown keys are errors.
    ///
    /// Prints one line per limit (OK or VIOLATED, with the actual value and the limit). Exit
    /// status: 1 when a limit is violated, 0 otherwise, 2 on malformed input.
    #[command(verbatim_doc_comment)]
    Check {
        /// The saved report (JSON).
        file: PathBuf,
        /// The SLA file (TOML).
        #[arg(short, long, value_name = "SLA.toml")]
        sla: PathBuf,
    },
}

/// Whether the gate passed.
enum Verdict {
    Pass,
    Fail,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Report {
        format,
        agent: Some(_),
        ..
    } = &cli.command
    {
        if *format != Format::Details {
            Cli::command()
                .error(
                    ErrorKind::ArgumentConflict,
                    "--agent applies only to --format details",
                )
                .exit();
        }
    }
    match run(cli.command) {
        Ok(Verdict::Pass) => ExitCode::SUCCESS,
        Ok(Verdict::Fail) => ExitCode::from(1),
        Err(e) => {
            eprintln!("profx: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<Verdict> {
    match command {
        Command::Report {
            file,
            format,
            agent,
            output,
        } => {
            let report = load::load_report(&file)?;
            if let Some(agent) = &agent {
                if !report.agents.contains_key(agent) && !report.executions.contains_key(agent) {
                    let known: Vec<&str> = report.agents.keys().map(String::as_str).collect();
                    bail!(
                        "{}: no agent {agent:?} in the report (agents: {})",
                        file.display(),
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    );
                }
            }
            match &output {
                Some(path) => {
                    let f = File::create(path)
                        .with_context(|| format!("{}: cannot create the output", path.display()))?;
                    render::render(&report, format, agent.as_deref(), f)
                        .with_context(|| format!("{}: cannot write the output", path.display()))?;
                }
                None => quiet_pipe(render::render(
                    &report,
                    format,
                    agent.as_deref(),
                    io::stdout().lock(),
                ))
                .context("cannot write to standard output")?,
            }
            Ok(Verdict::Pass)
        }
        Command::Diff {
            base,
            new,
            threshold,
            json,
        } => {
            let (b, n) = (load::load_report(&base)?, load::load_report(&new)?);
            let d = diff::diff(&b, &n, threshold);
            let text = if json {
                serde_json::to_string_pretty(&d)? + "\n"
            } else {
                diff::render(&d, threshold, &name(&base), &name(&new))
            };
            print(&text)?;
            Ok(if d.regressions > 0 {
                Verdict::Fail
            } else {
                Verdict::Pass
            })
        }
        Command::Check { file, sla } => {
            let report = load::load_report(&file)?;
            let limits = sla::load_sla(&sla)?;
            let checks = sla::check(&limits, &report);
            print(&sla::render(&checks, &name(&file)))?;
            Ok(if checks.iter().all(|c| c.ok) {
                Verdict::Pass
            } else {
                Verdict::Fail
            })
        }
    }
}

fn name(p: &Path) -> String {
    p.display().to_string()
}

fn print(text: &str) -> Result<()> {
    quiet_pipe(io::stdout().lock().write_all(text.as_bytes()))
        .context("cannot write to standard output")
}

/// A reader that went away (`profx … | head`) is not an error.
fn quiet_pipe(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_bad_threshold_is_a_usage_error_naming_the_flag() {
        let e = Cli::try_parse_from(["profx", "diff", "a", "b", "--threshold", "abc"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(msg.contains("--threshold"), "{msg}");
        assert!(msg.contains("10%, 10 or 0.5%"), "{msg}");
    }

    #[test]
    fn details_needs_an_agent() {
        let e =
            Cli::try_parse_from(["profx", "report", "r.json", "--format", "details"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--agent"));
    }
}
