//! The built `profx` binary on reports written from fixed data: every subcommand's happy path,
//! the gates' exit codes, and every kind of malformed input (exit 2, the file and the problem on
//! stderr, never a panic).

// The workspace's fixed report, shared with the format tests.
// The shared fixture names the model by the facade's path; here it is the report crate's.
extern crate profx_report as profx;

#[path = "../../tests/common/mod.rs"]
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::Duration;

use profx_report::{HumanDuration, Report, SCHEMA_VERSION};
use serde_json::Value;
use tempfile::TempDir;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn profx(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_profx"))
        .args(args)
        .output()
        .expect("run profx");
    let run = Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "profx {args:?} panicked:\n{}",
        run.stderr
    );
    run
}

struct Dir(TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p: PathBuf = self.0.path().join(name);
        fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn report(&self, name: &str, r: &Report) -> String {
        self.file(name, &serde_json::to_string_pretty(r).unwrap())
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).to_str().unwrap().to_string()
    }
}

/// Asserts a malformed-input failure: exit 2, and stderr names `file` and contains `problem`.
fn assert_malformed(run: &Run, file: &str, problem: &str) {
    assert_eq!(
        run.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains(file),
        "file {file} not named:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(problem),
        "problem {problem:?} not said:\n{}",
        run.stderr
    );
}

/// A duration as the reports print it.
fn hd(ms: u64) -> String {
    HumanDuration(Duration::from_millis(ms)).to_string()
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The fixture with codebase-analyzer 30% slower (avg, P95, P99).
fn slower_analyzer() -> Report {
    let mut r = common::fixture();
    let a = r.agents.get_mut("codebase-analyzer").unwrap();
    a.avg_duration = a.avg_duration * 13 / 10;
    a.percentiles.p95 = a.percentiles.p95 * 13 / 10;
    a.percentiles.p99 = a.percentiles.p99 * 13 / 10;
    r
}

// ---- help ---------------------------------------------------------------------------------

#[test]
fn every_subcommand_has_help() {
    let top = profx(&["--help"]);
    assert_eq!(top.code, 0);
    for sub in ["report", "diff", "check"] {
        assert!(top.stdout.contains(sub), "{}", top.stdout);
    }
    let report = profx(&["report", "--help"]);
    assert_eq!(report.code, 0);
    for word in [
        "--format", "--agent", "--output", "details", "html", "csv", "summary",
    ] {
        assert!(report.stdout.contains(word), "{word}:\n{}", report.stdout);
    }
    let diff = profx(&["diff", "--help"]);
    assert_eq!(diff.code, 0);
    for word in [
        "--threshold",
        "percentage points",
        "REGRESSION",
        "added or removed",
        "--json",
    ] {
        assert!(diff.stdout.contains(word), "{word}:\n{}", diff.stdout);
    }
    let check = profx(&["check", "--help"]);
    assert_eq!(check.code, 0);
    for word in [
        "--sla",
        "[agents.\"codebase-locator\"]",
        "p95 = \"150ms\"",
        "success_rate = 95.0",
    ] {
        assert!(check.stdout.contains(word), "{word}:\n{}", check.stdout);
    }
    assert_eq!(profx(&["diff", "-h"]).code, 0);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(profx(&[]).code, 2);
    assert_eq!(profx(&["frobnicate"]).code, 2);
    assert_eq!(profx(&["diff", "only-one.json"]).code, 2);
    assert_eq!(profx(&["check", "r.json"]).code, 2, "--sla is required");
    let bad_format = profx(&["report", "r.json", "--format", "xml"]);
    assert_eq!(bad_format.code, 2);
    assert!(bad_format.stderr.contains("xml"), "{}", bad_format.stderr);
}

// ---- report -------------------------------------------------------------------------------

#[test]
fn report_renders_every_format() {
    let d = Dir::new();
    let file = d.report("r.json", &common::fixture());

    let text = profx(&["report", &file]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("codebase-locator"), "{}", text.stdout);
    assert!(text.stdout.contains("tokenize"), "{}", text.stdout);
    let explicit = profx(&["report", &file, "--format", "text"]);
    assert_eq!(explicit.stdout, text.stdout, "text is the default");

    let json = profx(&["report", &file, "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let back: Report = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(back, common::fixture());

    let csv = profx(&["report", &file, "--format", "csv"]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    assert!(csv.stdout.starts_with(
        "Agent,Total,Success,Failures,AvgDuration,MinDuration,MaxDuration,AvgMemory,P50,P90,P95,P99"
    ));
    assert!(
        csv.stdout.contains("\"report, \"\"final\"\" writer\""),
        "{}",
        csv.stdout
    );

    let summary = profx(&["report", &file, "--format", "summary"]);
    assert_eq!(summary.code, 0, "{}", summary.stderr);
    assert!(!summary.stdout.trim().is_empty());
    assert!(summary.stdout.len() < text.stdout.len());

    let details = profx(&[
        "report",
        &file,
        "-f",
        "details",
        "--agent",
        "codebase-locator",
    ]);
    assert_eq!(details.code, 0, "{}", details.stderr);
    assert!(
        details.stdout.contains("codebase-locator-17"),
        "{}",
        details.stdout
    );
    assert!(
        details.stdout.contains("parse error: unexpected token"),
        "{}",
        details.stdout
    );

    let html = profx(&["report", &file, "--format", "html"]);
    assert_eq!(html.code, 0, "{}", html.stderr);
    assert!(html.stdout.to_lowercase().contains("<html"), "not HTML");
    assert!(html.stdout.contains("codebase-analyzer"));

    // Where the time went: a trace for timeline viewers, folded stacks, a flame graph.
    let trace = profx(&["report", &file, "--format", "trace"]);
    assert_eq!(trace.code, 0, "{}", trace.stderr);
    let t: serde_json::Value = serde_json::from_str(&trace.stdout).unwrap();
    let events = t["traceEvents"].as_array().unwrap();
    let kept: usize = common::fixture().executions.values().map(Vec::len).sum();
    assert_eq!(
        events.iter().filter(|e| e["cat"] == "agent").count(),
        kept,
        "{}",
        trace.stdout
    );
    assert!(events
        .iter()
        .any(|e| e["args"]["id"] == "codebase-locator-17"));

    let folded = profx(&["report", &file, "--format", "folded"]);
    assert_eq!(folded.code, 0, "{}", folded.stderr);
    let fixture = common::fixture();
    for (agent, execs) in &fixture.executions {
        let total_us: u128 = execs.iter().map(|e| e.duration.as_nanos()).sum::<u128>() / 1000;
        let lines: Vec<(&str, u128)> = folded
            .stdout
            .lines()
            .filter_map(|l| l.rsplit_once(' '))
            .filter(|(s, _)| s.split(';').next() == Some(agent.as_str()))
            .map(|(s, n)| (s, n.parse().unwrap()))
            .collect();
        let sum: u128 = lines.iter().map(|l| l.1).sum();
        assert!(
            sum.abs_diff(total_us) <= lines.len() as u128 + 1,
            "{agent}: {sum} vs {total_us}\n{}",
            folded.stdout
        );
    }

    let svg = profx(&["report", &file, "--format", "flamegraph"]);
    assert_eq!(svg.code, 0, "{}", svg.stderr);
    assert!(svg.stdout.contains("<svg"), "not SVG");
    assert!(svg.stdout.contains("codebase-locator"), "{}", svg.stdout);
}

#[test]
fn report_writes_to_an_output_file() {
    let d = Dir::new();
    let file = d.report("r.json", &common::fixture());
    let out = d.path("out.csv");
    let run = profx(&["report", &file, "--format", "csv", "--output", &out]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(fs::read_to_string(&out)
        .unwrap()
        .starts_with("Agent,Total,"));

    let nowhere = d.path("no/such/dir/out.txt");
    let run = profx(&["report", &file, "--output", &nowhere]);
    assert_malformed(&run, &nowhere, "cannot create the output");
}

#[test]
fn details_needs_a_known_agent_and_agent_needs_details() {
    let d = Dir::new();
    let file = d.report("r.json", &common::fixture());
    let missing = profx(&["report", &file, "--format", "details"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("--agent"), "{}", missing.stderr);

    let unknown = profx(&["report", &file, "--format", "details", "--agent", "nobody"]);
    assert_malformed(&unknown, &file, "no agent \"nobody\" in the report");
    assert!(
        unknown.stderr.contains("codebase-locator"),
        "names the agents"
    );

    let stray = profx(&["report", &file, "--agent", "codebase-locator"]);
    assert_eq!(stray.code, 2);
    assert!(
        stray
            .stderr
            .contains("--agent applies only to --format details"),
        "{}",
        stray.stderr
    );
}

// ---- diff ---------------------------------------------------------------------------------

#[test]
fn diff_of_identical_reports_passes() {
    let d = Dir::new();
    let a = d.report("a.json", &common::fixture());
    let b = d.report("b.json", &common::fixture());
    let run = profx(&["diff", &a, &b]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("!!"), "{}", run.stdout);
    assert!(
        run.stdout.contains("  tokenize"),
        "phases are listed:\n{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().last(), Some("no regression above 10%"));
}

#[test]
fn diff_marks_a_30_percent_slower_agent_and_fails() {
    let d = Dir::new();
    let base = d.report("base.json", &common::fixture());
    let new = d.report("new.json", &slower_analyzer());
    let run = profx(&["diff", &base, &new, "--threshold", "10%"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("codebase-analyzer"))
        .expect("analyzer row");
    assert!(row.starts_with("!!"), "{row}");
    assert!(
        row.contains(&format!(
            "+30.0% (+{})",
            HumanDuration(Duration::from_micros(14_400))
        )),
        "avg 48ms -> 62.4ms: {row}"
    );
    // The fixture keeps one execution per agent: too few samples to test, which it says.
    assert!(
        row.ends_with("REGRESSION: avg, p95, p99 (untested: 1 and 1 samples kept, 8 needed)"),
        "{row}"
    );
    let flagged: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("!!")).collect();
    assert_eq!(flagged.len(), 1, "{}", run.stdout);
    assert_eq!(run.stdout.lines().last(), Some("1 regression above 10%"));

    // Against several bases: slower than each of them, still a regression (the table says
    // how many bases); with the new run itself among the bases, not one.
    let several = profx(&["diff", &base, &base, &new, "--threshold", "10%"]);
    assert_eq!(several.code, 1, "{}", several.stderr);
    assert!(
        several
            .stdout
            .contains("base.json and 1 more (a row regresses only against each)\nnew:"),
        "{}",
        several.stdout
    );
    assert_eq!(
        profx(&["diff", &base, &new, &new, "--threshold", "10%"]).code,
        0
    );

    // Above 30% it is not a regression; the other way round it is an improvement.
    let lenient = profx(&["diff", &base, &new, "--threshold", "30.5"]);
    assert_eq!(lenient.code, 0, "{}", lenient.stdout);
    assert_eq!(
        lenient.stdout.lines().last(),
        Some("no regression above 30.5%")
    );
    let faster = profx(&["diff", &new, &base]);
    assert_eq!(faster.code, 0, "{}", faster.stdout);
    assert!(
        faster.stdout.contains(&format!(
            "-23.1% (-{})",
            HumanDuration(Duration::from_micros(14_400))
        )),
        "{}",
        faster.stdout
    );
}

#[test]
fn diff_gates_on_success_rate_in_points() {
    let d = Dir::new();
    let mut worse = common::fixture();
    // codebase-locator: 49/50 = 98% -> 43/50 = 86%, 12 points lower.
    let a = worse.agents.get_mut("codebase-locator").unwrap();
    a.success_count = 43;
    a.failure_count = 7;
    let base = d.report("base.json", &common::fixture());
    let new = d.report("new.json", &worse);
    let run = profx(&["diff", &base, &new]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("-12.0pp"), "{}", run.stdout);
    assert!(
        run.stdout.contains("REGRESSION: success rate"),
        "{}",
        run.stdout
    );
    assert_eq!(profx(&["diff", &base, &new, "--threshold", "12%"]).code, 0);
}

#[test]
fn diff_lists_added_and_removed_agents_and_phases() {
    let d = Dir::new();
    let mut other = common::fixture();
    let gone = other.agents.remove("report, \"final\" writer").unwrap();
    other.agents.insert("fresh-agent".into(), gone);
    other
        .agents
        .get_mut("codebase-locator")
        .unwrap()
        .phases
        .remove("tokenize");
    let base = d.report("base.json", &common::fixture());
    let new = d.report("new.json", &other);
    let run = profx(&["diff", &base, &new]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let line = |needle: &str| {
        run.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in\n{}", run.stdout))
            .to_string()
    };
    assert!(line("fresh-agent").ends_with(&format!("added (only in {new})")));
    assert!(line("final\" writer").ends_with(&format!("removed (only in {base})")));
    assert!(line("  tokenize").ends_with(&format!("removed (only in {base})")));
}

#[test]
fn diff_json_is_for_tools() {
    let d = Dir::new();
    let base = d.report("base.json", &common::fixture());
    let new = d.report("new.json", &slower_analyzer());
    let run = profx(&["diff", &base, &new, "--json", "-t", "10"]);
    assert_eq!(run.code, 1);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["regressions"], 1);
    assert_eq!(v["threshold_percent"], 10.0);
    let row = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent"] == "codebase-analyzer" && r["phase"].is_null())
        .unwrap();
    assert_eq!(row["status"], "compared");
    assert_eq!(row["avg"]["base_ns"], 48_000_000);
    assert_eq!(row["avg"]["new_ns"], 62_400_000);
    assert_eq!(row["avg"]["change_percent"], 30.0);
    assert_eq!(row["avg"]["regression"], true);
}

#[test]
fn bad_thresholds_are_usage_errors_naming_the_flag() {
    let d = Dir::new();
    let a = d.report("a.json", &common::fixture());
    for bad in ["abc", "-5%", "%", "", "10%%", "1,5"] {
        let run = profx(&["diff", &a, &a, &format!("--threshold={bad}")]);
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("--threshold"), "{bad}: {}", run.stderr);
        assert!(
            run.stderr.contains("such as 10%, 10 or 0.5%"),
            "{bad}: {}",
            run.stderr
        );
    }
    // A negative value given as a separate argument reaches the parser too.
    let run = profx(&["diff", &a, &a, "--threshold", "-5%"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("negative: expected a non-negative percentage"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--threshold"), "{}", run.stderr);
    for good in ["10%", "10", "0.5%", "0"] {
        assert_eq!(
            profx(&["diff", &a, &a, "--threshold", good]).code,
            0,
            "{good}"
        );
    }
}

// ---- check --------------------------------------------------------------------------------

const SLA_OK: &str = r#"
[agents."codebase-locator"]
avg = "100ms"
p95 = "150ms"
p99 = "250ms"
success_rate = 95.0   # percent, minimum

[agents."codebase-analyzer"]
p99 = "1.5s"
"#;

#[test]
fn check_passes_when_every_limit_is_met() {
    let d = Dir::new();
    let file = d.report("r.json", &common::fixture());
    let sla = d.file("sla.toml", SLA_OK);
    let run = profx(&["check", &file, "--sla", &sla]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.lines().filter(|l| l.ends_with("  OK")).count(),
        5,
        "{}",
        run.stdout
    );
    let avg = words(run.stdout.lines().nth(1).unwrap());
    assert_eq!(
        avg,
        ["codebase-locator", "avg", &hd(42), "<=", &hd(100), "OK"],
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().last(), Some("all 5 limit(s) met"));
}

#[test]
fn check_fails_on_a_violation_and_on_a_missing_agent() {
    let d = Dir::new();
    let file = d.report("r.json", &common::fixture());
    let sla = d.file(
        "sla.toml",
        r#"
        [agents."codebase-locator"]
        p95 = "80ms"
        success_rate = 99.0
        [agents."codebase-analyzer"]
        avg = "1s"
        [agents.ghost]
        avg = "1ms"
        "#,
    );
    let run = profx(&["check", &file, "--sla", &sla]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let line = |needle: &str| {
        run.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap()
            .to_string()
    };
    assert!(
        words(&line("p95"))
            == [
                "codebase-locator",
                "p95",
                &hd(88),
                "<=",
                &hd(80),
                "VIOLATED"
            ],
        "{}",
        run.stdout
    );
    assert!(line("success_rate").contains("98.0%") && line("success_rate").contains(">= 99.0%"));
    assert!(line("success_rate").ends_with("VIOLATED"));
    assert!(line("codebase-analyzer").ends_with("OK"));
    assert!(
        line("ghost").ends_with(&format!("VIOLATED: agent not in {file}")),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().last(), Some("3 of 4 limit(s) violated"));
}

// ---- malformed input ----------------------------------------------------------------------

#[test]
fn a_missing_file_is_named() {
    let d = Dir::new();
    let good = d.report("r.json", &common::fixture());
    let sla = d.file("sla.toml", SLA_OK);
    let nope = d.path("nope.json");
    assert_malformed(&profx(&["report", &nope]), &nope, "cannot read the report");
    assert_malformed(&profx(&["diff", &nope, &good]), &nope, "No such file");
    assert_malformed(&profx(&["diff", &good, &nope]), &nope, "No such file");
    assert_malformed(
        &profx(&["check", &nope, "--sla", &sla]),
        &nope,
        "cannot read the report",
    );
    let no_sla = d.path("nope.toml");
    assert_malformed(
        &profx(&["check", &good, "--sla", &no_sla]),
        &no_sla,
        "cannot read the SLA file",
    );
}

#[test]
fn a_file_that_is_not_json_is_named() {
    let d = Dir::new();
    let good = d.report("r.json", &common::fixture());
    let bad = d.file("bad.json", "Agent,Total\nx,1\n");
    assert_malformed(&profx(&["report", &bad]), &bad, "not valid JSON");
    assert_malformed(&profx(&["diff", &good, &bad]), &bad, "line 1 column 1");
    let cut = d.file("cut.json", r#"{"schema_version": 1, "agents": {"#);
    assert_malformed(&profx(&["report", &cut]), &cut, "not valid JSON");
    let empty = d.file("empty.json", "");
    assert_malformed(&profx(&["report", &empty]), &empty, "not valid JSON");
    let binary = d.path("binary.json");
    fs::write(&binary, b"\x89PNG\r\n\x1a\n\xff\xfe").unwrap();
    assert_malformed(&profx(&["report", &binary]), &binary, "not valid JSON");
    let dir = d.path("");
    assert_malformed(&profx(&["report", &dir]), &dir, "cannot read the report");
}

#[test]
fn json_that_is_not_a_report_names_the_field() {
    let d = Dir::new();
    let report = serde_json::to_value(common::fixture()).unwrap();

    let array = d.file("array.json", "[1, 2, 3]");
    assert_malformed(
        &profx(&["report", &array]),
        &array,
        "expected a JSON object at the top level",
    );

    let mut v = report.clone();
    v.as_object_mut().unwrap().remove("agents");
    let no_agents = d.file("no-agents.json", &v.to_string());
    assert_malformed(
        &profx(&["report", &no_agents]),
        &no_agents,
        "missing field `agents`",
    );

    let mut v = report.clone();
    v["agents"]["codebase-locator"]["percentiles"]["p95"] = Value::String("slow".into());
    let wrong = d.file("wrong-type.json", &v.to_string());
    let run = profx(&["diff", &wrong, &wrong]);
    assert_malformed(&run, &wrong, "agents.codebase-locator.percentiles.p95");
    assert!(
        run.stderr.contains("invalid type: string \"slow\""),
        "{}",
        run.stderr
    );

    let other = d.file("other.json", r#"{"name": "not a report"}"#);
    assert_malformed(
        &profx(&["report", &other]),
        &other,
        "missing field `schema_version`",
    );
}

#[test]
fn a_wrong_schema_version_names_both_versions() {
    let d = Dir::new();
    let mut v = serde_json::to_value(common::fixture()).unwrap();
    v["schema_version"] = 99.into();
    // A future version may lack today's fields: the message is still about the version.
    v.as_object_mut().unwrap().remove("agents");
    let future = d.file("future.json", &v.to_string());
    let run = profx(&["report", &future]);
    assert_malformed(&run, &future, "unsupported schema_version 99");
    assert!(
        run.stderr
            .contains(&format!("reads schema_version {SCHEMA_VERSION}")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("agents"), "{}", run.stderr);

    let sla = d.file("sla.toml", SLA_OK);
    assert_malformed(
        &profx(&["check", &future, "--sla", &sla]),
        &future,
        "schema_version 99",
    );
    let text = d.file("text.json", r#"{"schema_version": "one"}"#);
    assert_malformed(
        &profx(&["report", &text]),
        &text,
        "`schema_version` is a string",
    );
}

#[test]
fn a_bad_sla_file_is_named_with_the_problem() {
    let d = Dir::new();
    let file = d.report("r.json", &common::fixture());
    let case = |name: &str, text: &str, problem: &str| {
        let sla = d.file(name, text);
        let run = profx(&["check", &file, "--sla", &sla]);
        assert_malformed(&run, &sla, problem);
        assert!(run.stdout.is_empty(), "nothing checked: {}", run.stdout);
    };
    case(
        "not-toml.toml",
        "[agents.\"codebase-locator\"\navg = 1",
        "invalid SLA file",
    );
    case(
        "unknown.toml",
        "[agents.\"codebase-locator\"]\np90 = \"1ms\"\n",
        "unknown field `p90`",
    );
    case(
        "top.toml",
        "[agent.x]\navg = \"1ms\"\n",
        "unknown field `agent`",
    );
    case(
        "duration.toml",
        "[agents.a]\navg = \"fast\"\n",
        "invalid duration \"fast\"",
    );
    case(
        "unitless.toml",
        "[agents.a]\np99 = \"100\"\n",
        "invalid duration \"100\"",
    );
    case(
        "number.toml",
        "[agents.a]\np99 = 100\n",
        "invalid type: integer",
    );
    case(
        "rate.toml",
        "[agents.a]\nsuccess_rate = 150.0\n",
        "from 0 to 100",
    );
    case("empty.toml", "", "missing field `agents`");
    case("no-agents.toml", "[agents]\n", "no agents");
}

#[test]
fn no_output_is_lost_to_a_relative_path() {
    // Paths are printed as given: a relative path in, the same relative path in messages.
    let d = Dir::new();
    d.report("r.json", &common::fixture());
    let out = Command::new(env!("CARGO_BIN_EXE_profx"))
        .args(["report", "missing.json"])
        .current_dir(d.0.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("profx: error: missing.json: cannot read the report"),
        "{stderr}"
    );
    assert!(Path::new(&d.path("r.json")).exists());
}
