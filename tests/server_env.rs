//! `PROFX_SERVER_ADDR` starts the server with `ReportGuard::from_env()` (what `#[profx::main]`
//! expands to), and the guard's drop stops it. One test in its own process: it sets variables.
#![cfg(all(feature = "enabled", feature = "server"))]

use std::io::{Read, Write};
use std::net::TcpStream;

#[test]
fn the_guard_starts_and_stops_the_server_the_environment_asks_for() {
    let report = std::env::temp_dir().join(format!("profx-server-env-{}.json", std::process::id()));
    std::env::set_var("PROFX_SERVER_TOKEN", "s3cret");
    std::env::set_var("PROFX_REPORT", format!("json:{}", report.display()));
    // A free port, found by binding and releasing it: another process (this file's other test
    // starts children that bind port 0) may take it in between, and the guard's server then
    // cannot bind (it warns and goes on). So try again with another port, a few times.
    let (addr, guard) = (0..5)
        .find_map(|_| {
            let port = {
                let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                probe.local_addr().unwrap().port()
            };
            let addr = format!("127.0.0.1:{port}");
            std::env::set_var("PROFX_SERVER_ADDR", &addr);
            let guard = profx::ReportGuard::from_env();
            TcpStream::connect(&addr).is_ok().then_some((addr, guard))
        })
        .expect("the guard's server listens on a free port");
    let ask = |auth: &str| {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /debug/build HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    };
    assert!(ask("").starts_with("HTTP/1.1 401"));
    assert!(ask("Authorization: Bearer s3cret\r\n").starts_with("HTTP/1.1 200"));
    drop(guard);
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the server stops with the guard"
    );
    let _ = std::fs::remove_file(report);
}

/// The child's side of the start line's test: starts a server (with a token when asked) and
/// exits. Runs only when `PROFX_BANNER_CHILD` is set.
#[test]
fn banner_child() {
    let Ok(token) = std::env::var("PROFX_BANNER_CHILD") else {
        return;
    };
    let mut b = profx::server::Builder::new().addr("127.0.0.1:0");
    if !token.is_empty() {
        b = b.token(token);
    }
    let server = b.start().unwrap();
    println!("listening on {}", server.local_addr());
}

#[test]
fn the_server_says_where_it_listens_unless_told_to_be_quiet() {
    let run = |token: &str, quiet: Option<&str>| {
        let mut c = std::process::Command::new(std::env::current_exe().unwrap());
        c.args(["--exact", "banner_child", "--nocapture", "--test-threads=1"])
            .env("PROFX_BANNER_CHILD", token)
            .env_remove("PROFX_QUIET");
        if let Some(q) = quiet {
            c.env("PROFX_QUIET", q);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let addr = stdout
            .lines()
            // After libtest's "test banner_child ... " on the same line.
            .find_map(|l| l.split("listening on ").nth(1))
            .unwrap()
            .trim()
            .to_string();
        (addr, String::from_utf8(out.stderr).unwrap())
    };
    let (addr, stderr) = run("", None);
    let line = format!("profx: monitoring server on http://{addr} (no token): /dashboard");
    assert_eq!(stderr.matches(&line).count(), 1, "{stderr}");
    let (addr, stderr) = run("s3cret", None);
    assert!(
        stderr.contains(&format!(
            "profx: monitoring server on http://{addr} (bearer token required)"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret"),
        "never the token itself: {stderr}"
    );
    let (_, stderr) = run("", Some("1"));
    assert!(!stderr.contains("monitoring server"), "{stderr}");
    // A bad value is a warning, and the line is printed.
    let (_, stderr) = run("", Some("shh"));
    assert!(stderr.contains("PROFX_QUIET"), "{stderr}");
    assert!(stderr.contains("monitoring server on"), "{stderr}");
}

/// The child's side of the bad-settings test: a guard from the environment, twice (the
/// settings are read once). Runs only when `PROFX_BAD_SERVER_CHILD` is set.
#[test]
fn bad_server_child() {
    if std::env::var_os("PROFX_BAD_SERVER_CHILD").is_none() {
        return;
    }
    drop(profx::ReportGuard::from_env());
    drop(profx::ReportGuard::from_env());
}

#[test]
fn bad_server_settings_warn_once_each_and_start_nothing() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "bad_server_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PROFX_BAD_SERVER_CHILD", "1")
        .env("PROFX_SERVER_ADDR", "9090")
        .env("PROFX_SERVER_TOKEN", "has space")
        .env("PROFX_REPORT", "json:/dev/null")
        .env_remove("PROFX_QUIET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let warned = |what: &str| stderr.matches(what).count();
    assert_eq!(
        warned("profx: warning: PROFX_SERVER_ADDR=\"9090\" is not valid (expected HOST:PORT"),
        1,
        "{stderr}"
    );
    // A token's warning gives its length, never the token.
    assert_eq!(
        warned("profx: warning: PROFX_SERVER_TOKEN (a value of 9 characters, not shown: it may be a secret) is not valid (expected a non-empty token"),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("has space"), "{stderr}");
    assert!(!stderr.contains("monitoring server on"), "{stderr}");
}
