//! However the program ends, the reports of `PROFX_REPORT` are written once, and the process
//! ends with the status it would have had: each case runs in a child process (this test
//! program again, running only `child` with `PROFX_SHUTDOWN_CHILD` naming the case), which
//! records 100 executions, says `ready`, and is then stopped from here.
#![cfg(all(unix, feature = "enabled"))]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "PROFX_SHUTDOWN_CHILD";
const SUMMARY: &str = "=== Performance Summary ===";

#[profx::agent(name = "sd-agent")]
fn job(i: u64) -> u64 {
    std::hint::black_box(i * 3)
}

fn record(from: u64, n: u64) {
    for i in from..from + n {
        job(i);
    }
}

/// The child's side: runs only when `PROFX_SHUTDOWN_CHILD` is set.
#[test]
fn child() {
    let Ok(case) = std::env::var(CHILD) else {
        return;
    };
    let guard = profx::ReportGuard::from_env();
    record(0, 100);
    match case.as_str() {
        "wait" => {
            println!("ready");
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        "exit3" => {
            println!("ready");
            std::process::exit(3);
        }
        "panic-thread" => {
            println!("ready");
            // Another thread panics while the signal is handled.
            let t = std::thread::spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                panic!("a worker fails during the shutdown");
            });
            let _ = t.join();
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        "tokio" => {
            // A program with its own graceful shutdown on Ctrl-C.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let ctrl_c = tokio::spawn(tokio::signal::ctrl_c());
                // `ctrl_c` installs its handler when first polled.
                tokio::time::sleep(Duration::from_millis(200)).await;
                println!("ready");
                ctrl_c.await.unwrap().unwrap();
                // The graceful part: still recorded, and in the report.
                record(100, 50);
                println!("graceful shutdown done");
            });
            drop(guard);
        }
        other => panic!("unknown case {other}"),
    }
}

/// A child running `case` with these variables, once it has said `ready`.
fn start(case: &str, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, case)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only `signal` (async-signal-safe) between fork and exec. The child starts with
    // the default actions, as a program started from a terminal does, even when these tests
    // run in the background (where a shell ignores SIGINT and SIGQUIT for its children, and
    // profx, rightly, leaves ignored signals alone).
    unsafe {
        command.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(sig, libc::SIG_DFL);
            }
            // No core file from SIGQUIT.
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended before it was ready"
        );
        // (After the harness's `test child ... `, on the same line.)
        if line.trim_end().ends_with("ready") {
            break;
        }
    }
    // Keep reading its output so that it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    child
}

/// Waits for the child (at most 20 s): its status and standard error.
fn wait(mut child: Child) -> (ExitStatus, String) {
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the child did not end within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (status, reader.join().unwrap())
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("profx-shutdown-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The executions of `sd-agent` in the JSON report at `path`.
fn executions(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no report: {e}"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["agents"]["sd-agent"]["total_executions"]
        .as_u64()
        .unwrap()
}

fn report_spec(json: &Path) -> String {
    format!("json:{},summary", json.display())
}

fn ended_by_signal(sig: libc::c_int, case: &str) {
    let dir = scratch(case);
    let json = dir.join("report.json");
    let child = start(case, &[("PROFX_REPORT", &report_spec(&json))]);
    signal(&child, sig);
    let (status, stderr) = wait(child);
    assert_eq!(status.signal(), Some(sig), "{status:?}\n{stderr}");
    assert_eq!(executions(&json), 100, "{stderr}");
    assert_eq!(stderr.matches(SUMMARY).count(), 1, "{stderr}");
}

#[test]
fn sigint_writes_the_reports_and_ends_as_sigint() {
    ended_by_signal(libc::SIGINT, "wait");
}

#[test]
fn sigterm_writes_the_reports_and_ends_as_sigterm() {
    ended_by_signal(libc::SIGTERM, "wait");
}

#[test]
fn sighup_and_sigquit_too() {
    ended_by_signal(libc::SIGHUP, "wait");
    ended_by_signal(libc::SIGQUIT, "wait");
}

#[test]
fn a_panic_in_another_thread_during_a_signal_loses_nothing() {
    let dir = scratch("panic");
    let json = dir.join("report.json");
    let child = start("panic-thread", &[("PROFX_REPORT", &report_spec(&json))]);
    signal(&child, libc::SIGTERM);
    let (status, stderr) = wait(child);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{stderr}");
    assert_eq!(executions(&json), 100, "{stderr}");
    assert_eq!(stderr.matches(SUMMARY).count(), 1, "{stderr}");
}

#[test]
fn process_exit_writes_the_reports_and_keeps_its_status() {
    let dir = scratch("exit");
    let json = dir.join("report.json");
    let child = start("exit3", &[("PROFX_REPORT", &report_spec(&json))]);
    let (status, stderr) = wait(child);
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert_eq!(executions(&json), 100, "{stderr}");
    assert_eq!(stderr.matches(SUMMARY).count(), 1, "{stderr}");
}

#[test]
fn a_program_with_its_own_ctrl_c_shuts_down_its_way_and_reports_at_the_end() {
    let dir = scratch("tokio");
    let json = dir.join("report.json");
    let mut child = start("tokio", &[("PROFX_REPORT", &report_spec(&json))]);
    signal(&child, libc::SIGINT);
    let mut out = String::new();
    let (status, stderr) = {
        // `start` drains standard output; the child's own words are checked by its status
        // (the graceful part records 50 more executions, which the report must hold).
        let _ = child.stdout.take().map(|mut o| o.read_to_string(&mut out));
        wait(child)
    };
    assert!(status.success(), "{status:?}\n{stderr}");
    assert_eq!(executions(&json), 150, "{stderr}");
    assert_eq!(stderr.matches(SUMMARY).count(), 1, "{stderr}");
}

/// A named pipe nobody reads: writing the report to it blocks.
fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("stuck.json");
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    path
}

#[test]
fn a_second_signal_while_writing_ends_at_once() {
    let dir = scratch("second");
    let stuck = fifo(&dir);
    let spec = format!("json:{}", stuck.display());
    let child = start(
        "wait",
        &[("PROFX_REPORT", &spec), ("PROFX_SHUTDOWN_TIMEOUT", "60s")],
    );
    let t = Instant::now();
    signal(&child, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    let (status, stderr) = wait(child);
    assert_eq!(status.signal(), Some(libc::SIGINT), "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn a_report_that_takes_too_long_is_cut_short_and_says_so() {
    let dir = scratch("slow");
    let stuck = fifo(&dir);
    let spec = format!("json:{}", stuck.display());
    let child = start(
        "wait",
        &[("PROFX_REPORT", &spec), ("PROFX_SHUTDOWN_TIMEOUT", "1s")],
    );
    let t = Instant::now();
    signal(&child, libc::SIGTERM);
    let (status, stderr) = wait(child);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{stderr}");
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(
        stderr.contains("not finished within 1s (PROFX_SHUTDOWN_TIMEOUT)"),
        "{stderr}"
    );
}

#[test]
fn profx_signals_off_leaves_signals_alone() {
    let dir = scratch("off");
    let json = dir.join("report.json");
    let child = start(
        "wait",
        &[
            ("PROFX_REPORT", &report_spec(&json)),
            ("PROFX_SIGNALS", "off"),
        ],
    );
    signal(&child, libc::SIGINT);
    let (status, _) = wait(child);
    assert_eq!(status.signal(), Some(libc::SIGINT));
    assert!(!json.exists(), "a report was written");
}
