//! `profx`: render, compare and check saved profx reports.
//!
//! Exit codes: 0 success (no regression, every limit met); 1 a regression above the threshold
//! (`diff`) or a violated limit (`check`); 2 a usage error or malformed input (missing file, not
//! JSON, not a report, unsupported schema version, bad threshold, bad SLA file).

mod diff;
mod load;
mod render;
mod sla;
mod top;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

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
    /// A duration is a regression, marked `!!` and `REGRESSION: <metrics>`, only when all of
    /// these hold, so that the same workload run twice does not fail the gate:
    ///   - it is slower by MORE than the threshold in percent of the base value (with
    ///     --threshold 10%: 100ms -> 111ms is, 100ms -> 110ms is not; a zero base never is),
    ///     and by at least --min-delta;
    ///   - both reports have at least --min-calls calls of the row;
    ///   - for a phase, the slowdown adds at least --min-share to its agent's typical
    ///     duration, and the agent felt it: its own typical duration rose significantly, by
    ///     --min-share and half of what the phase added at least;
    ///   - the typical call is slower, on the samples the reports keep (the durations of the
    ///     kept executions, or of the phase's records in them): the medians differ by more
    ///     than the threshold and --min-delta, and a one-sided Mann-Whitney U test finds the
    ///     shift at --confidence. A mean or tail that moved while the typical call did not
    ///     is a few slow calls (a busy machine). With --tails, P95 and P99 also regress on
    ///     their own when their order-statistic confidence intervals do not overlap.
    ///     With fewer than 8 samples on a side nothing is tested, and the row says "untested".
    ///
    /// A success rate is a regression when it is lower by MORE than the threshold in
    /// percentage points over at least --min-calls calls on each side (98% -> 87% is, at
    /// 10%). A change above the threshold that is not a regression is listed as "ignored:"
    /// with the reason; --json has every figure the decision was made on. Agents and phases
    /// in only one report are listed as added or removed and are not regressions.
    ///
    /// Several base reports (the same workload run several times before the change:
    /// `profx diff base1.json base2.json base3.json new.json`): a row regresses only when it
    /// regresses against each of them, and is shown against the base it regressed least
    /// against. Two runs can differ as a whole for reasons no statistic of the two can see
    /// (a timer tick, a neighbour on the machine); a real slowdown is slower than every base.
    ///
    /// The last line is "N regression(s) above T" or "no regression above T". Exit status: 1 when
    /// at least one row regressed, 0 otherwise, 2 on malformed input.
    #[command(verbatim_doc_comment)]
    Diff {
        /// The base report or reports (before), then the new report (after).
        #[arg(num_args = 2.., value_name = "REPORT", required = true)]
        reports: Vec<PathBuf>,
        /// The regression threshold: a non-negative percentage such as 10%, 10 or 0.5%.
        #[arg(
            short,
            long,
            default_value = "10%",
            value_name = "PERCENT",
            allow_hyphen_values = true
        )]
        threshold: Threshold,
        /// The smallest slowdown that can be a regression: a duration with a unit, such as
        /// 1us, 500ns, 2ms.
        #[arg(long, default_value = "1us", value_name = "DURATION", value_parser = parse_duration)]
        min_delta: Duration,
        /// The fewest calls (executions of an agent) each report must have of a row for its
        /// changes to be regressions.
        #[arg(
            long,
            default_value_t = 30,
            value_name = "N",
            allow_hyphen_values = true
        )]
        min_calls: u64,
        /// The confidence of the statistical tests: a percentage above 50 and below 100,
        /// such as 99% or 95.
        #[arg(long, default_value = "99%", value_name = "PERCENT", value_parser = parse_confidence)]
        confidence: f64,
        /// The least share of its agent's typical duration a phase's slowdown must add, and
        /// its agent must have gained, to be a regression: a percentage such as 2% or 0.5
        /// (0 to turn it off).
        #[arg(long, default_value = "2%", value_name = "PERCENT", value_parser = parse_share)]
        min_share: f64,
        /// Let P95 and P99 regress on their own (when their confidence intervals do not
        /// overlap), not only with the typical call.
        #[arg(long)]
        tails: bool,
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
    /// Watch a running program live in the terminal, from its monitoring server
    ///
    /// Reads the server's /api/dashboard every --interval: agents by total time with
    /// executions/s, success %, P50/P95/P99, self time and bottlenecks; sparklines of
    /// executions/s and resident memory. Keys: q quit, s sort (total time, exec/s, p99, name),
    /// / filter by name, up/down select, Enter one agent's phases by self time, Esc back.
    /// When the server goes away it says so and retries.
    #[command(verbatim_doc_comment)]
    Top {
        /// The server, e.g. http://127.0.0.1:9090 (PROFX_SERVER_ADDR of the program).
        url: String,
        /// The server's bearer token (PROFX_SERVER_TOKEN of the program); default: that
        /// variable here.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "PROFX_SERVER_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
        /// How often to read the server, 200ms to 60s.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = interval)]
        interval: Duration,
    },
}

/// `--interval`: a duration from 200ms to 60s.
fn interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration ({e}); e.g. 1s, 500ms"))?;
    if d < Duration::from_millis(200) || d > Duration::from_secs(60) {
        return Err(format!("{s:?} is out of range: from 200ms to 60s"));
    }
    Ok(d)
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
            reports,
            threshold,
            min_delta,
            min_calls,
            confidence,
            min_share,
            tails,
            json,
        } => {
            let (new, bases) = reports
                .split_last()
                .expect("clap asks for two reports at least");
            let b = bases
                .iter()
                .map(|p| load::load_report(p))
                .collect::<Result<Vec<_>, _>>()?;
            let n = load::load_report(new)?;
            let gate = diff::Gate {
                threshold,
                min_delta,
                min_calls,
                confidence,
                min_share,
                tails,
            };
            let d = diff::diff_several(&b, &n, &gate);
            let text = if json {
                serde_json::to_string_pretty(&d)? + "\n"
            } else {
                let base_name = match bases {
                    [one] => name(one),
                    [first, rest @ ..] => format!(
                        "{} and {} more (a row regresses only against each)",
                        name(first),
                        rest.len()
                    ),
                    [] => unreachable!("two reports at least"),
                };
                diff::render(&d, &gate, &base_name, &name(new))
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
        Command::Top {
            url,
            token,
            interval,
        } => {
            top::run(&url, token, interval)?;
            Ok(Verdict::Pass)
        }
    }
}

/// `--min-delta`: a duration with a unit.
fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e}: expected a duration with a unit, such as 1us, 500ns or 2ms"))
}

/// `--confidence`: a percentage strictly between 50 and 100, as a fraction.
fn parse_confidence(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let number = t.strip_suffix('%').unwrap_or(t);
    match number.parse::<f64>() {
        Ok(p) if p > 50.0 && p < 100.0 => Ok(p / 100.0),
        _ => Err(format!(
            "{s:?} is not a confidence: expected a percentage above 50 and below 100, such as 99% or 95"
        )),
    }
}

/// `--min-share`: a percentage from 0 to 100, as a fraction.
fn parse_share(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let number = t.strip_suffix('%').unwrap_or(t);
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!(
            "{s:?} is not a share: expected a percentage from 0 to 100, such as 1% or 0.5"
        )),
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
    fn bad_gate_flags_are_usage_errors_naming_the_flag_and_the_accepted_forms() {
        for (flag, value, accepted) in [
            ("--min-delta", "fast", "such as 1us, 500ns or 2ms"),
            ("--min-delta", "5", "such as 1us, 500ns or 2ms"),
            ("--confidence", "50%", "above 50 and below 100"),
            ("--confidence", "100", "above 50 and below 100"),
            ("--min-share", "120%", "from 0 to 100"),
            ("--min-calls", "-3", "-3"),
        ] {
            let e = Cli::try_parse_from(["profx", "diff", "a", "b", flag, value]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{flag} {value}");
            let msg = e.to_string();
            assert!(
                msg.contains(flag) && msg.contains(accepted),
                "{flag} {value}: {msg}"
            );
        }
        let ok = Cli::try_parse_from([
            "profx",
            "diff",
            "a",
            "b",
            "--min-delta",
            "250ns",
            "--confidence",
            "95",
            "--min-share",
            "0",
            "--min-calls",
            "5",
            "--tails",
        ]);
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn details_needs_an_agent() {
        let e =
            Cli::try_parse_from(["profx", "report", "r.json", "--format", "details"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--agent"));
    }
}
