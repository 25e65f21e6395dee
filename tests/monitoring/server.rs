//! The monitoring server over real HTTP/1.1 on loopback: raw requests on `std::net::TcpStream`.
#![cfg(all(feature = "enabled", feature = "server"))]

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use profx::server::{self, Builder, Server};

use crate::{http, promtool};

use http::{connect, get, raw, read_reply};

fn start() -> Server {
    server::start("127.0.0.1:0").expect("the server starts")
}

fn record(agent: &str, phase: &str, n: usize) {
    for _ in 0..n {
        let mut ex = profx::global().start_execution(agent, "r");
        ex.start_phase(phase);
        ex.end_phase();
        ex.end(());
    }
}

fn assert_still_serving(addr: SocketAddr) {
    assert_eq!(get(addr, "/debug/build").status, 200);
}

#[test]
fn every_endpoint_answers_with_its_content_type() {
    record("srv_endpoints", "step", 3);
    let server = start();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    let health = get(addr, "/health");
    // Other tests register failing checks in this process: either status, always JSON.
    assert!(matches!(health.status, 200 | 503), "{health:?}");
    assert_eq!(health.header("content-type"), Some("application/json"));
    assert!(health.json()["checks"].is_array());
    assert_eq!(
        get(addr, "/api/health").header("content-type"),
        Some("application/json")
    );

    let metrics = get(addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some(profx::prometheus::CONTENT_TYPE)
    );
    assert!(metrics
        .text()
        .contains("profx_agent_executions_total{agent=\"srv_endpoints\"} 3"));

    let api = get(addr, "/api/metrics");
    assert_eq!(api.status, 200);
    assert_eq!(api.header("content-type"), Some("application/json"));
    // jq '.[] | select(.name | contains("exec"))'
    let exec: Vec<_> = api
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"].as_str().unwrap().contains("exec"))
        .filter(|m| m["labels"]["agent"] == "srv_endpoints")
        .cloned()
        .collect();
    assert_eq!(exec.len(), 1, "{exec:?}");
    assert_eq!(exec[0]["name"], "profx_agent_executions_total");
    assert_eq!(exec[0]["kind"], "counter");
    assert_eq!(exec[0]["value"], 3);
    let api = api.json();
    let find = |name: &str, phase: Option<&str>| -> serde_json::Value {
        api.as_array()
            .unwrap()
            .iter()
            .find(|m| {
                m["name"] == name
                    && phase.is_none_or(|p| {
                        m["labels"]["agent"] == "srv_endpoints" && m["labels"]["phase"] == p
                    })
            })
            .unwrap_or_else(|| panic!("{name} in {api}"))
            .clone()
    };
    // jq '.[] | select(.name == "process_threads")', as the source's goroutine count.
    assert!(find("process_threads", None)["value"].as_f64().unwrap() >= 1.0);
    assert_eq!(find("process_threads", None)["kind"], "gauge");
    assert!(
        find("process_resident_memory_bytes", None)["value"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(find("process_cpu_seconds_total", None)["kind"], "counter");
    assert_eq!(find("profx_phase_calls_total", Some("step"))["value"], 3);
    assert_eq!(find("profx_phase_failures_total", Some("step"))["value"], 0);

    let stats = get(addr, "/debug/stats");
    assert_eq!(stats.status, 200);
    assert_eq!(stats.header("content-type"), Some("application/json"));
    let stats = stats.json();
    for key in [
        "uptime_seconds",
        "threads",
        "cpu_seconds",
        "executions_recorded",
    ] {
        assert!(stats[key].is_number(), "{key} in {stats}");
    }
    let memory = &stats["memory"];
    assert!(memory["resident_bytes"].as_f64().unwrap() > 0.0, "{stats}");
    assert!(memory["resident_mb"].as_f64().unwrap() > 0.0, "{stats}");
    // No CountingAlloc in this test binary: the heap is not measured.
    assert!(memory["heap_live_bytes"].is_null(), "{stats}");
    assert!(stats["agents"].as_u64().unwrap() >= 1);
    assert!(stats["connections"]["served"].as_u64().unwrap() >= 5);

    let build = get(addr, "/debug/build");
    assert_eq!(build.status, 200);
    assert_eq!(build.header("content-type"), Some("application/json"));
    let build = build.json();
    assert_eq!(build["version"], env!("CARGO_PKG_VERSION"));
    let features = build["features"].as_array().unwrap();
    assert!(features.contains(&"server".into()) && features.contains(&"enabled".into()));
    assert!(!build["target"].as_str().unwrap().is_empty());
    assert_eq!(
        build["profile"],
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    let head = raw(
        addr,
        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some(profx::prometheus::CONTENT_TYPE)
    );

    server.stop();
}

#[test]
fn metrics_pass_promtool_and_carry_the_recorded_values() {
    record("srv_prom", "parse", 5);
    let jobs = profx::metrics::counter("srv_test_jobs_total", &[("kind", "scan")]).unwrap();
    for _ in 0..7 {
        jobs.inc();
    }
    let server = start();
    let body = get(server.local_addr(), "/metrics").text();
    assert!(
        body.contains("srv_test_jobs_total{kind=\"scan\"} 7"),
        "{body}"
    );
    assert!(body.contains("profx_agent_executions_total{agent=\"srv_prom\"} 5"));
    assert!(body.contains("profx_phase_calls_total{agent=\"srv_prom\",phase=\"parse\"} 5"));

    if promtool::present() {
        let (ok, said) = promtool::check_metrics(&body);
        assert!(ok, "promtool: {said}");
    }

    // /api/metrics: jq '.[] | select(.name == "srv_test_jobs_total") | .value'
    let api = get(server.local_addr(), "/api/metrics").json();
    let jobs = api
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "srv_test_jobs_total")
        .unwrap();
    assert_eq!(jobs["value"], 7);
    assert_eq!(jobs["labels"]["kind"], "scan");
}

/// The only test that registers checks, so the statuses it sees are its own.
#[test]
fn health_follows_the_checks_and_a_hanging_check_times_out() {
    let server = start();
    let addr = server.local_addr();
    profx::health::register("srv_ok", || Ok(()));
    let ok = get(addr, "/api/health");
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["status"], "healthy");

    profx::health::register("srv_failing", || Err("disk full".into()));
    let bad = get(addr, "/api/health");
    assert_eq!(bad.status, 503);
    assert_eq!(bad.json()["status"], "unhealthy");
    assert_eq!(get(addr, "/health").status, 503);
    profx::health::unregister("srv_failing");

    profx::health::register("srv_hanging", || {
        std::thread::sleep(Duration::from_secs(3));
        Ok(())
    });
    let t = Instant::now();
    let hung = get(addr, "/api/health?timeout=300ms");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(hung.status, 503);
    let checks = hung.json()["checks"].clone();
    let check = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "srv_hanging")
        .cloned()
        .unwrap();
    assert!(check["message"].as_str().unwrap().contains("timed out"));
    assert_still_serving(addr);
    profx::health::unregister("srv_hanging");
    profx::health::unregister("srv_ok");
}

#[test]
fn the_live_report_is_served_as_json_that_profx_reads() {
    record("srv_report", "step", 40);
    let server = start();
    let addr = server.local_addr();
    let reply = get(addr, "/api/report");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    // The report `profx report` and `profx diff` read, kept executions included.
    let report: profx::Report = serde_json::from_str(&reply.text()).expect("a report");
    assert_eq!(report.schema_version, profx::SCHEMA_VERSION);
    assert_eq!(report.agents["srv_report"].total_executions, 40);
    assert_eq!(report.executions["srv_report"].len(), 40);
    assert_eq!(report.agents["srv_report"].phases["step"].calls, 40);
    let bad = get(addr, "/api/report?agent=srv_report");
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("takes no parameter"), "{bad:?}");
    assert_still_serving(addr);
}

#[test]
fn a_token_is_required_when_set() {
    let server = Builder::new()
        .addr("127.0.0.1:0")
        .token("s3cret")
        .start()
        .unwrap();
    let addr = server.local_addr();
    let none = get(addr, "/debug/build");
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let wrong = raw(
        addr,
        b"GET /debug/build HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3crex\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(wrong.status, 401);
    let right = raw(
        addr,
        b"GET /debug/build HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(right.status, 200);
    // Without a token, no header is needed.
    assert_still_serving(start().local_addr());
}

#[test]
fn bad_requests_get_4xx_and_the_server_goes_on() {
    let server = start();
    let addr = server.local_addr();
    assert_eq!(get(addr, "/nope").status, 404);
    assert_eq!(get(addr, "/dashboard/nope").status, 404);
    let post = raw(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(get(addr, "/health?timeout=abc").status, 400);

    let garbage = raw(addr, b"\x01\x02 garbage \xff\r\n\r\n");
    assert_eq!(garbage.status, 400);
    assert_still_serving(addr);

    // A 64 KiB header: 431, or the connection closes.
    let mut big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 64 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    let mut s = connect(addr);
    let _ = s.write_all(&big);
    match read_reply(&mut BufReader::new(s), false) {
        Ok(reply) => assert_eq!(reply.status, 431),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
    }
    assert_still_serving(addr);
}

#[cfg(not(feature = "pprof"))]
#[test]
fn the_cpu_profile_is_404_saying_the_feature_is_off() {
    let server = start();
    let reply = get(server.local_addr(), "/debug/pprof/profile?seconds=1");
    assert_eq!(reply.status, 404);
    assert!(reply.text().contains("feature `pprof`"), "{}", reply.text());
    server.stop();
}

#[test]
fn a_slow_client_is_dropped_while_others_are_served() {
    let server = Builder::new()
        .addr("127.0.0.1:0")
        .request_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut slow = connect(addr);
    slow.write_all(b"GET /metr").unwrap();
    let t = Instant::now();
    for _ in 0..5 {
        assert_still_serving(addr);
    }
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_still_serving(addr);
}

#[test]
fn connections_over_the_cap_get_503() {
    let server = Builder::new()
        .addr("127.0.0.1:0")
        .max_connections(2)
        .start()
        .unwrap();
    let addr = server.local_addr();
    let idle: Vec<TcpStream> = (0..2).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(get(addr, "/debug/build").status, 503);
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    assert_still_serving(addr);
}

#[test]
fn stop_joins_and_frees_the_port() {
    let server = start();
    let addr = server.local_addr();
    // An open keep-alive connection does not hold the stop up.
    let mut open = connect(addr);
    open.write_all(b"GET /debug/build HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(open.try_clone().unwrap());
    assert_eq!(read_reply(&mut r, false).unwrap().status, 200);
    let t = Instant::now();
    server.stop();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(TcpStream::connect(addr).is_err());
    let again = std::net::TcpListener::bind(addr).expect("the port is free again");
    drop(again);

    // A bind error comes back from start, not from the thread.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = server::start(taken.local_addr().unwrap().to_string()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}

/// 20,000 requests (8,000 on one connection, then 4 × 3,000 at once) while 2 threads record:
/// every request answered, every execution counted.
#[test]
fn load_while_recording() {
    const PER_RECORDER: usize = 20_000;
    let server = start();
    let addr = server.local_addr();
    let recorders: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(|| record("srv_load", "work", PER_RECORDER)))
        .collect();

    let paths = [
        "/debug/build",
        "/api/health",
        "/debug/stats",
        "/api/metrics",
    ];
    let run = move |n: usize| {
        let s = connect(addr);
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        for i in 0..n {
            let path = if i % 100 == 0 {
                "/metrics"
            } else {
                paths[i % paths.len()]
            };
            // One write per request: pieces would wait on Nagle and delayed ACKs.
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
            w.write_all(request.as_bytes()).unwrap();
            let reply = read_reply(&mut r, false).expect("a reply");
            assert!(matches!(reply.status, 200 | 503), "{path}: {reply:?}");
            if path != "/api/health" {
                assert_eq!(reply.status, 200, "{path}");
            }
        }
    };
    run(8_000);
    let clients: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || run(3_000)))
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    for r in recorders {
        r.join().unwrap();
    }
    let m = profx::global().agent_metrics("srv_load").unwrap();
    assert_eq!(m.total_executions, 2 * PER_RECORDER as u64);
    assert_eq!(m.phases["work"].calls, 2 * PER_RECORDER as u64);
    server.stop();
}

#[test]
fn idle_connections_are_closed_after_the_request_timeout() {
    let server = Builder::new()
        .addr("127.0.0.1:0")
        .request_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let addr = server.local_addr();
    // Idle after a request on a keep-alive connection…
    let mut s = connect(addr);
    s.write_all(b"GET /debug/build HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_reply(&mut r, false).unwrap().status, 200);
    let t = Instant::now();
    let mut rest = Vec::new();
    assert_eq!(
        r.read_to_end(&mut rest).unwrap(),
        0,
        "closed without a word"
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // …and idle from the start.
    let mut fresh = connect(addr);
    let t = Instant::now();
    assert_eq!(fresh.read_to_end(&mut rest).unwrap(), 0);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(server_open_connections(addr), 1, "only the stats request");
}

/// The server's own count of open connections, from `/debug/stats`.
fn server_open_connections(addr: SocketAddr) -> u64 {
    get(addr, "/debug/stats").json()["connections"]["open"]
        .as_u64()
        .unwrap()
}

/// A request announcing a 1 GB body (and sending 1 MiB of it) is answered without reading the
/// body, and the connection is closed rather than drained.
#[test]
fn an_oversize_body_is_not_read() {
    let server = start();
    let addr = server.local_addr();
    for (method, status) in [("POST", 405), ("GET", 200)] {
        let mut s = connect(addr);
        s.write_all(
            format!("{method} /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        // The server may close before all of this is written; that is fine.
        let _ = s.write_all(&vec![b'a'; 1 << 20]);
        let mut r = BufReader::new(s.try_clone().unwrap());
        let reply = read_reply(&mut r, false).expect("an answer before the body");
        assert_eq!(reply.status, status, "{method}");
        assert_eq!(reply.header("connection"), Some("close"), "{method}");
        let mut rest = Vec::new();
        assert!(
            matches!(r.read_to_end(&mut rest), Ok(0) | Err(_)),
            "{method}: the connection closes"
        );
    }
    assert_still_serving(addr);
}
