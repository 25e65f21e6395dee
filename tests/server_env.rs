//! `PROFX_SERVER_ADDR` starts the server with `ReportGuard::from_env()` (what `#[profx::main]`
//! expands to), and the guard's drop stops it. One test in its own process: it sets variables.
#![cfg(all(feature = "enabled", feature = "server"))]

use std::io::{Read, Write};
use std::net::TcpStream;

#[test]
fn the_guard_starts_and_stops_the_server_the_environment_asks_for() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let report = std::env::temp_dir().join(format!("profx-server-env-{}.json", std::process::id()));
    std::env::set_var("PROFX_SERVER_ADDR", &addr);
    std::env::set_var("PROFX_SERVER_TOKEN", "s3cret");
    std::env::set_var("PROFX_REPORT", format!("json:{}", report.display()));

    let guard = profx::ReportGuard::from_env();
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
