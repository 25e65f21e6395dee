//! Settings from the environment, read when the global profiler starts (SPEC §7).
#![cfg(feature = "enabled")]

use std::process::Command;

#[profx::phase(name = "env-phase")]
fn phase() {}

#[profx::agent(name = "env-agent")]
fn agent() {
    for _ in 0..5 {
        phase();
    }
}

/// Runs one of the `child_*` tests below in a fresh process with `vars` set.
fn run_child(test: &str, vars: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore = "run by limits_come_from_the_environment in a child process"]
fn child_limits() {
    for _ in 0..7 {
        agent();
    }
    let g = profx::global();
    assert_eq!(g.agent_metrics("env-agent").unwrap().total_executions, 7);
    // PROFX_SAMPLE=2: executions 1, 3, 5, 7 are kept; PROFX_MAX_EXECUTIONS=3: the last 3.
    let kept = g.executions("env-agent");
    assert_eq!(kept.len(), 3);
    // PROFX_MAX_PHASES=2.
    assert!(kept
        .iter()
        .all(|e| e.phases.len() == 2 && e.phases_dropped == 3));
}

#[test]
fn limits_come_from_the_environment() {
    let (ok, stderr) = run_child(
        "child_limits",
        &[
            ("PROFX_SAMPLE", "2"),
            ("PROFX_MAX_EXECUTIONS", "3"),
            ("PROFX_MAX_PHASES", "2"),
        ],
    );
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("profx: warning"), "{stderr}");
}

#[test]
#[ignore = "run by bad_values_warn_once_and_use_the_default in a child process"]
fn child_defaults() {
    for _ in 0..3 {
        agent();
    }
    // Both default: enabled, every execution kept.
    let _ = profx::Profiler::new(true); // reads the environment again: no second warning
    assert_eq!(profx::global().executions("env-agent").len(), 3);
}

#[test]
fn bad_values_warn_once_and_use_the_default() {
    let (ok, stderr) = run_child(
        "child_defaults",
        &[("PROFX_ENABLED", "maybe"), ("PROFX_SAMPLE", "0")],
    );
    assert!(ok, "{stderr}");
    let warnings: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("profx: warning"))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(warnings[0].contains("PROFX_ENABLED=\"maybe\""), "{stderr}");
    assert!(warnings[0].contains("true, false"), "{stderr}");
    assert!(warnings[1].contains("PROFX_SAMPLE=\"0\""), "{stderr}");
    assert!(warnings[1].contains("using the default 1"), "{stderr}");
}

#[test]
#[ignore = "run by the_switch_can_be_off_at_start in a child process"]
fn child_off() {
    agent();
    assert!(!profx::global().is_enabled());
    assert!(profx::global().agent_metrics("env-agent").is_none());
    profx::global().enable();
    agent();
    assert_eq!(
        profx::global()
            .agent_metrics("env-agent")
            .unwrap()
            .total_executions,
        1
    );
}

#[test]
fn the_switch_can_be_off_at_start() {
    let (ok, stderr) = run_child("child_off", &[("PROFX_ENABLED", "false")]);
    assert!(ok, "{stderr}");
}

#[profx::agent(name = "env-slow-agent")]
fn three_ms() {
    std::thread::sleep(std::time::Duration::from_millis(3));
}

#[test]
#[ignore = "run by the_bottleneck_threshold_comes_from_the_environment in a child process"]
fn child_threshold() {
    for _ in 0..3 {
        three_ms();
    }
    let ms: u64 = std::env::var("EXPECT_THRESHOLD_MS")
        .unwrap()
        .parse()
        .unwrap();
    let expected = std::time::Duration::from_millis(ms);
    let r = profx::global().report();
    assert_eq!(r.bottleneck_threshold, expected);
    assert_eq!(profx::global().bottleneck_threshold(), expected);
    let slow = r.bottlenecks.iter().any(|b| b.agent == "env-slow-agent");
    assert_eq!(
        slow,
        expected < std::time::Duration::from_millis(3),
        "{:?}",
        r.bottlenecks
    );
    assert!(r.bottlenecks.iter().all(|b| b.threshold == expected));
}

#[test]
fn the_bottleneck_threshold_comes_from_the_environment() {
    // A 3 ms agent is no bottleneck against 100 ms; against 1 ms it is.
    let (ok, err) = run_child("child_threshold", &[("EXPECT_THRESHOLD_MS", "100")]);
    assert!(ok, "{err}");
    let (ok, err) = run_child(
        "child_threshold",
        &[
            ("PROFX_BOTTLENECK_THRESHOLD", "1ms"),
            ("EXPECT_THRESHOLD_MS", "1"),
        ],
    );
    assert!(ok, "{err}");
    // A bad value: a warning naming it and what is accepted, and the default.
    let (ok, err) = run_child(
        "child_threshold",
        &[
            ("PROFX_BOTTLENECK_THRESHOLD", "quick"),
            ("EXPECT_THRESHOLD_MS", "100"),
        ],
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("PROFX_BOTTLENECK_THRESHOLD") && err.contains("a duration above zero"),
        "{err}"
    );
}

#[profx::agent(name = "env-session", threshold = "1ms")]
fn session() {
    std::thread::sleep(std::time::Duration::from_millis(3));
}

#[profx::agent(name = "env-command")]
fn command() {
    std::thread::sleep(std::time::Duration::from_millis(3));
}

#[test]
fn an_agent_sets_its_own_bottleneck_threshold() {
    use std::time::Duration;
    for _ in 0..3 {
        session();
        command();
    }
    // 3 ms executions: above the session's own 1 ms, far below the profiler's 100 ms.
    let found = profx::global().bottlenecks(Duration::from_millis(100));
    let s = found
        .iter()
        .find(|b| b.agent == "env-session" && b.phase.is_none())
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(s.threshold, Duration::from_millis(1));
    assert!(!found.iter().any(|b| b.agent == "env-command"), "{found:?}");
    let report = profx::global().report();
    assert!(report
        .bottlenecks
        .iter()
        .any(|b| b.agent == "env-session" && b.threshold == Duration::from_millis(1)));
}
