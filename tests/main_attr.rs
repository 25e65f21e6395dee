//! `#[profx::main]` writes the report at shutdown, whether `main` returns `Ok`, returns `Err`
//! or panics, where `PROFX_REPORT` says (SPEC §7).
//!
//! This test is its own program (`harness = false`): run without arguments it starts itself
//! again once per scenario, as a child whose `main` is the instrumented one, and checks what
//! the child wrote.

use std::path::Path;
use std::process::{Command, Output};

#[profx::agent(name = "shutdown-agent")]
fn work(i: u32) -> Result<u32, String> {
    if i == 3 {
        Err("three".into())
    } else {
        Ok(i)
    }
}

#[profx::main]
fn main() -> Result<(), String> {
    match std::env::var("PROFX_MAIN_ATTR_CHILD").as_deref() {
        Ok(scenario) => child(scenario),
        Err(_) => {
            parent();
            Ok(())
        }
    }
}

fn child(scenario: &str) -> Result<(), String> {
    for i in 0..5 {
        let _ = work(i);
    }
    match scenario {
        "ok" => Ok(()),
        "err" => Err("main failed on purpose".into()),
        "panic" => panic!("main panicked on purpose"),
        other => Err(format!("unknown scenario {other}")),
    }
}

fn run(scenario: &str, report: Option<&str>) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("PROFX_MAIN_ATTR_CHILD", scenario);
    match report {
        Some(r) => cmd.env("PROFX_REPORT", r),
        None => cmd.env_remove("PROFX_REPORT"),
    };
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn parent() {
    if !cfg!(feature = "enabled") {
        // Without recording there is nothing to write; the attribute still compiles and the
        // program runs as written.
        let o = run("ok", None);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            !stderr(&o).contains("Performance Summary"),
            "{}",
            stderr(&o)
        );
        println!("main_attr: 1 passed; 0 failed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("profx-main-attr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut passed = 0;

    // Default: the summary on standard error.
    let o = run("ok", None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("=== Performance Summary ==="),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("Executions: 5"), "{}", stderr(&o));
    passed += 1;

    // Several formats, to files and to stderr, when main returns Err.
    let json = dir.join("r.json");
    let csv = dir.join("r.csv");
    let spec = format!("json:{},csv:{},text", json.display(), csv.display());
    let o = run("err", Some(&spec));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("main failed on purpose"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("Performance Report"), "{}", stderr(&o));
    let report: profx::Report =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report.agents["shutdown-agent"].total_executions, 5);
    assert_eq!(report.agents["shutdown-agent"].failure_count, 1);
    assert!(std::fs::read_to_string(&csv)
        .unwrap()
        .starts_with("Agent,Total,Success,Failures,"));
    passed += 1;

    // A panic in main: the report is written and the panic still ends the program.
    let html = dir.join("r.html");
    let o = run("panic", Some(&format!("html:{}", html.display())));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("main panicked on purpose"),
        "{}",
        stderr(&o)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("shutdown-agent"));
    passed += 1;

    // Where the time went: a trace, folded stacks and (with the feature) a flame graph.
    let trace = dir.join("r.trace.json");
    let folded = dir.join("r.folded");
    let mut spec = format!("trace:{},folded:{}", trace.display(), folded.display());
    let flame = dir.join("r.svg");
    if cfg!(feature = "flamegraph") {
        spec.push_str(&format!(",flamegraph:{}", flame.display()));
    }
    let o = run("ok", Some(&spec));
    assert!(o.status.success(), "{}", stderr(&o));
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let agents = t["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cat"] == "agent" && e["name"] == "shutdown-agent")
        .count();
    assert_eq!(agents, 5);
    let stacks = std::fs::read_to_string(&folded).unwrap();
    assert!(
        stacks.lines().all(|l| l.starts_with("shutdown-agent")),
        "{stacks}"
    );
    if cfg!(feature = "flamegraph") {
        let svg = std::fs::read_to_string(&flame).unwrap();
        assert!(svg.contains("<svg") && svg.contains("shutdown-agent"));
    }
    passed += 1;

    // An unwritable path: a warning, and the report on stderr instead.
    let o = run("ok", Some("json:/nonexistent-dir/profx/r.json"));
    assert!(o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("cannot write the json report to /nonexistent-dir/profx/r.json"),
        "{e}"
    );
    assert!(e.contains("\"shutdown-agent\""), "{e}");
    passed += 1;

    // A bad value: one warning naming variable, value and accepted form; the default is used.
    let o = run("ok", Some("pdf:out.pdf"));
    let e = stderr(&o);
    assert!(
        e.contains("PROFX_REPORT=\"pdf:out.pdf\" is not valid"),
        "{e}"
    );
    assert!(e.contains("text, json, csv, summary, html"), "{e}");
    assert!(e.contains("=== Performance Summary ==="), "{e}");
    assert!(!Path::new("out.pdf").exists());
    passed += 1;

    std::fs::remove_dir_all(&dir).ok();
    println!("main_attr: {passed} passed; 0 failed");
}
