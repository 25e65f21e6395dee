//! The live dashboard: `/dashboard` and its feed `/api/dashboard` over raw HTTP on loopback,
//! then the page in headless Chromium, driven over the DevTools protocol while executions are
//! recorded: drawn without script errors, updated as more executions arrive, robust to
//! `clear()`, a lost server and hostile agent names.
#![cfg(all(feature = "enabled", feature = "server"))]

#[path = "dashboard/cdp.rs"]
mod cdp;
#[path = "common/chromium.rs"]
mod chromium;
#[path = "common/http.rs"]
mod http;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use profx::server::{self, Builder, Server};
use serde_json::Value;

use cdp::Browser;
use http::{get, request};

/// Tests that record or clear the global profiler run one at a time: they check exact counts.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    profx::global().clear();
    guard
}

const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Raw HTTP

fn start() -> Server {
    server::start("127.0.0.1:0").expect("the server starts")
}

fn record(agent: &str, n: usize, failures: usize) {
    for i in 0..n {
        let ex = profx::global().start_execution(agent, "r");
        if i < failures {
            ex.end(Err::<(), _>("boom"));
        } else {
            ex.end(());
        }
    }
}

/// One execution that takes `d` (a bottleneck once above 100 ms).
fn record_slow(agent: &str, d: Duration) {
    let mut ex = profx::global().start_execution(agent, "r");
    ex.start_phase("slow_step");
    std::thread::sleep(d);
    ex.end_phase();
    ex.end(());
}

fn agent<'a>(feed: &'a Value, name: &str) -> &'a Value {
    feed["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no agent {name:?} in {feed:#}"))
}

#[test]
fn the_page_is_one_self_contained_html_document() {
    let server = start();
    let addr = server.local_addr();
    let r = get(addr, "/dashboard");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    let page = r.text();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    // Nothing from the network: no URL at all, no external script, style, image or font.
    for bad in ["http://", "https://", "src=", "@import", "url(", "//cdn"] {
        assert!(!page.contains(bad), "the page refers to {bad:?}");
    }
    // The one link is the empty favicon, a data: URL (so the browser asks for no /favicon.ico).
    let hrefs: Vec<&str> = page
        .split("href=\"")
        .skip(1)
        .map(|h| &h[..h.find('"').unwrap()])
        .collect();
    assert_eq!(hrefs, ["data:,"]);
    // uPlot and the page's script are inline; the only thing the page fetches is the feed,
    // relative to the page, and that is served.
    assert!(page.contains("uPlot v1.6.32 | (c) 2022 Leon Sorokin | MIT License"));
    assert!(page.contains("var FEED = 'api/dashboard';"));
    assert_eq!(page.matches("fetch(").count(), 1, "one fetch in the page");
    let feed = get(addr, "/api/dashboard");
    assert_eq!(feed.status, 200);
    assert_eq!(feed.header("content-type"), Some("application/json"));
    assert!(
        page.contains("data-interval=\"1000\""),
        "the default interval"
    );
    assert_eq!(request(addr, "HEAD", "/dashboard", "").status, 200);
}

#[test]
fn the_interval_is_clamped_and_bad_values_are_400() {
    let server = start();
    let addr = server.local_addr();
    for (query, ms) in [
        ("interval=250ms", 250),
        ("interval=2", 2000),
        ("interval=0.5&x=1", 500),
        ("interval=1ms", 200),
        ("interval=2h", 60000),
    ] {
        let r = get(addr, &format!("/dashboard?{query}"));
        assert_eq!(r.status, 200, "{query}");
        assert!(
            r.text().contains(&format!("data-interval=\"{ms}\"")),
            "{query}"
        );
    }
    for bad in ["abc", "0", "-2", "1x"] {
        let r = get(addr, &format!("/dashboard?interval={bad}"));
        assert_eq!(r.status, 400, "{bad}");
        let msg = r.text();
        assert!(
            msg.contains("bad interval") && msg.contains("500ms or 2s"),
            "{msg}"
        );
    }
}

#[test]
fn the_feed_carries_exact_counts_process_figures_and_bottlenecks() {
    let _serial = serial();
    profx::global_collector().start();
    record("dash_feed", 7, 2);
    record("dash_other", 3, 0);
    record_slow("dash_slow", Duration::from_millis(350));
    let server = start();
    let feed = get(server.local_addr(), "/api/dashboard").json();

    let a = agent(&feed, "dash_feed");
    assert_eq!(a["executions"], 7);
    assert_eq!(a["successes"], 5);
    assert_eq!(a["failures"], 2);
    let rate = a["success_rate_percent"].as_f64().unwrap();
    assert!((rate - 500.0 / 7.0).abs() < 1e-9, "{rate}");
    let secs = |k: &str| a[k].as_f64().unwrap_or_else(|| panic!("{k}: {a}"));
    assert!(secs("p50_seconds") <= secs("p90_seconds"));
    assert!(secs("p90_seconds") <= secs("p95_seconds"));
    assert!(secs("p95_seconds") <= secs("p99_seconds"));
    assert!(secs("p99_seconds") <= secs("max_seconds") * 1.0001 + 1e-9);
    assert!(secs("avg_seconds") > 0.0 && secs("avg_seconds") < 1.0);
    assert_eq!(
        feed["totals"],
        serde_json::json!({ "executions": 11, "successes": 9, "failures": 2, "cancelled": 0,
                            "success_rate_percent": 900.0 / 11.0 })
    );
    // Agents by name.
    let names: Vec<&str> = feed["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dash_feed", "dash_other", "dash_slow"]);
    // Seconds, like the rest of the feed.
    let slow = agent(&feed, "dash_slow");
    assert!(slow["avg_seconds"].as_f64().unwrap() >= 0.35);
    // Its phase, with its self time (all of it: nothing nested), and the agent's own time
    // outside it (little: the phase is the execution).
    let phases = slow["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 1, "{slow:#}");
    let step = &phases[0];
    assert_eq!(step["name"], "slow_step");
    assert_eq!(step["calls"], 1);
    assert!(step["self_seconds"].as_f64().unwrap() >= 0.35, "{step}");
    assert_eq!(step["self_seconds"], step["total_seconds"]);
    // Not async: busy throughout (the agent's total is a rounded mean times the count).
    assert_eq!(step["busy_percent"], 100.0, "{step}");
    assert!(slow["busy_percent"].as_f64().unwrap() > 99.99, "{slow:#}");
    let own = slow["self_seconds"].as_f64().unwrap();
    assert!(
        own >= 0.0 && own < 0.05 * slow["total_seconds"].as_f64().unwrap(),
        "{slow:#}"
    );
    assert_eq!(agent(&feed, "dash_feed")["phases"], serde_json::json!([]));

    let p = &feed["process"];
    assert!(p["resident_bytes"].as_u64().unwrap() > 1 << 20, "{p}");
    assert!(p["threads"].as_u64().unwrap() >= 2, "{p}");
    assert!(
        p["heap_live_bytes"].is_null(),
        "no counting allocator here: {p}"
    );
    assert!(feed["uptime_seconds"].as_f64().unwrap() >= 0.0);
    assert!(feed["time"].as_f64().unwrap() > 1.6e9);

    // The slow agent and its phase, most severe first, with what the report says of them.
    let b = feed["bottlenecks"].as_array().unwrap();
    let first = &b[0];
    assert_eq!(first["severity"], "critical", "{b:#?}");
    assert_eq!(first["agent"], "dash_slow");
    assert_eq!(first["kind"], "slow_execution");
    assert!(first["message"].as_str().unwrap().starts_with("slow: avg "));
    assert!(b
        .iter()
        .any(|x| x["agent"] == "dash_slow" && x["phase"] == "slow_step"));
    assert!(b.iter().all(|x| x["agent"] == "dash_slow"), "{b:#?}");

    // The global collector's snapshots, for a page opened late.
    let h = &feed["history"];
    assert_eq!(h["running"], true);
    let points = h["points"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() <= 300);
    assert!(points[0]["resident_bytes"].as_u64().unwrap() > 0);
    assert!(points[0]["time"].as_f64().unwrap() <= feed["time"].as_f64().unwrap());
}

#[test]
fn a_token_is_taken_from_the_query_by_the_page_only() {
    let token = "s3 cr+t&/é";
    let server = Builder::new()
        .addr("127.0.0.1:0")
        .token(token)
        .start()
        .unwrap();
    let addr = server.local_addr();
    let q = "s3+cr%2Bt%26%2F%C3%A9"; // as a browser's URLSearchParams writes it
    let bearer = format!("Authorization: Bearer {token}\r\n");

    let bare = get(addr, "/dashboard");
    assert_eq!(bare.status, 401);
    assert_eq!(bare.header("www-authenticate"), Some("Bearer"));
    assert_eq!(get(addr, "/dashboard?token=s3cret").status, 401);
    assert_eq!(get(addr, "/dashboard?token=s3%20cr%2Bt%26%2F").status, 401);
    let ok = get(addr, &format!("/dashboard?interval=2&token={q}"));
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("data-interval=\"2000\""));
    assert_eq!(request(addr, "GET", "/dashboard", &bearer).status, 200);
    // Even with a token in the query, a bad interval is a 400, not the page.
    assert_eq!(
        get(addr, &format!("/dashboard?token={q}&interval=x")).status,
        400
    );

    // The feed and every other endpoint want the header.
    for path in ["/api/dashboard", "/metrics", "/debug/stats", "/dashboard/x"] {
        let r = get(addr, &format!("{path}?token={q}"));
        assert_eq!(r.status, 401, "{path} with the token in the query");
    }
    let feed = request(addr, "GET", "/api/dashboard", &bearer);
    assert_eq!(feed.status, 200);
    assert!(feed.json()["agents"].is_array());
}

// ---------------------------------------------------------------------------------------------
// Headless Chromium

/// A JS string literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn chart<'a>(state: &'a Value, name: &str) -> &'a Value {
    &state["charts"][name]
}

fn assert_no_problems(b: &mut Browser) {
    let problems = b.problems();
    assert!(problems.is_empty(), "script problems: {problems:#?}");
}

const EVIL: &str = "<img src=x onerror=\"window.__pwned=1\"> 'q' & \"dq\"";

/// The page live: drawn, escaped, capped, then updated as more executions come in. With a
/// token, which the page gets from its URL and sends as a header.
#[test]
fn chromium_draws_the_dashboard_and_updates_it_live() {
    if !chromium::present() {
        return;
    }
    let _serial = serial();
    profx::global_collector().start();
    let token = "tok en+1";
    let server = Builder::new()
        .addr("127.0.0.1:0")
        .token(token)
        .start()
        .unwrap();
    record(EVIL, 20, 3);
    record_slow("dash_slow", Duration::from_millis(350));
    for i in 0..10 {
        record(&format!("dash_many_{i:02}"), i + 1, 0);
    }
    let before = 20 + 1 + 55;

    let mut b = Browser::start(1400, 1000);
    let url = format!(
        "http://{}/dashboard?interval=200ms&token=tok+en%2B1",
        server.local_addr()
    );
    b.open(&url, None);
    let s1 = b.wait_for("the recorded executions, twice", WAIT, |s| {
        s["executions"] == before && s["points"].as_u64() >= Some(2)
    });
    assert_no_problems(&mut b);
    assert_eq!(s1["connected"], true);
    assert_eq!(s1["interval"], 200);
    assert_eq!(s1["failed"], 3);
    assert_eq!(s1["agents"], 12);
    assert_eq!(s1["empty"], false);
    // Every chart is a uPlot canvas on a visible figure.
    for name in ["rate", "latency", "success", "memory"] {
        let c = chart(&s1, name);
        assert_eq!(c["canvas"], true, "{name}: {s1:#}");
        assert_eq!(c["visible"], true, "{name}");
        assert!(c["points"].as_u64().unwrap() >= 2, "{name}: {c}");
    }
    assert_eq!(
        b.eval("document.querySelectorAll('.uplot canvas').length"),
        4
    );
    // 12 agents: all of them plus 8 series at most, and the page says so.
    assert_eq!(chart(&s1, "rate")["series"], 9);
    assert_eq!(chart(&s1, "success")["series"], 9);
    assert_eq!(chart(&s1, "latency")["series"], 3);
    assert!(b
        .eval("document.getElementById('rate-note').textContent")
        .as_str()
        .unwrap()
        .contains("8 of 12 agents"));
    // The memory chart starts with the collector's history, not just the polls.
    assert!(
        s1["memoryPoints"].as_u64().unwrap() > s1["points"].as_u64().unwrap(),
        "{s1:#}"
    );
    // The hostile name is text, never markup.
    assert_eq!(b.eval("typeof window.__pwned"), "undefined");
    assert_eq!(b.eval("document.querySelectorAll('main img').length"), 0);
    let cells = format!(
        "Array.prototype.some.call(document.querySelectorAll('#agent-body td.name'), \
         function (td) {{ return td.textContent === {}; }})",
        js(EVIL)
    );
    assert_eq!(b.eval(&cells), true);
    // The agent with the most executions is picked; the slow agent is a critical bottleneck.
    assert_eq!(s1["selected"], EVIL);
    assert!(s1["bottlenecks"].as_u64().unwrap() >= 1);
    assert_eq!(
        b.eval("document.querySelector('#bn-body .badge').className"),
        "badge sev-critical"
    );
    assert_eq!(
        b.eval("document.getElementById('c-exec').textContent"),
        before.to_string()
    );

    // More executions, from another thread while the page polls.
    let recorder = std::thread::spawn(|| {
        for _ in 0..60 {
            record("dash_live", 1, 0);
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    recorder.join().unwrap();
    let s2 = b.wait_for("the new executions", WAIT, |s| {
        s["executions"] == before + 60 && s["points"].as_u64() > s1["points"].as_u64()
    });
    assert_no_problems(&mut b);
    for name in ["rate", "latency", "success", "memory"] {
        assert!(
            chart(&s2, name)["points"].as_u64() > chart(&s1, name)["points"].as_u64(),
            "{name} did not get new points: {s1:#} then {s2:#}"
        );
    }
    // A rate above zero was drawn, and none below.
    let rate = chart(&s2, "rate");
    assert!(rate["max"].as_f64().unwrap() > 0.0, "{rate}");
    assert!(rate["min"].as_f64().unwrap() >= 0.0, "{rate}");
    assert_eq!(s2["agents"], 13);
    assert_eq!(
        b.eval("document.getElementById('c-exec').textContent"),
        (before + 60).to_string()
    );

    // Picking another agent redraws the latency chart for it.
    b.eval(
        "var p = document.getElementById('agent-pick'); p.value = 'dash_slow'; \
         p.dispatchEvent(new Event('change')); 0",
    );
    let s3 = b.state();
    assert_eq!(s3["selected"], "dash_slow");
    assert!(chart(&s3, "latency")["max"].as_f64().unwrap() >= 0.35);
    // ... and shows its phases, by self time.
    assert_eq!(
        b.eval("document.getElementById('phase-agent').textContent"),
        "dash_slow"
    );
    assert_eq!(
        b.eval(
            "Array.prototype.map.call(document.querySelectorAll('#phase-body td.name'), \
             function (td) { return td.textContent; }).join()"
        ),
        "slow_step"
    );
    assert_eq!(
        b.eval("document.getElementById('phase-table').hidden"),
        false
    );
    assert_no_problems(&mut b);

    let png = b.screenshot(1400);
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000);
    // To look at it: PROFX_DASHBOARD_SCREENSHOT=/tmp/profx-dashboard.png
    if let Some(path) = std::env::var_os("PROFX_DASHBOARD_SCREENSHOT") {
        std::fs::write(path, &png).unwrap();
    }
}

/// No agents: the empty state. Then counters that go backwards (`clear()`), a server that
/// goes away (the banner, and polling goes on) and comes back.
#[test]
fn chromium_handles_empty_clear_and_a_lost_server() {
    if !chromium::present() {
        return;
    }
    let _serial = serial();
    let server = start();
    let addr = server.local_addr();
    let mut b = Browser::start(1200, 900);
    b.open(&format!("http://{addr}/dashboard?interval=200ms"), None);
    let s = b.wait_for("a few polls", WAIT, |s| s["polls"].as_u64() >= Some(2));
    assert_no_problems(&mut b);
    assert_eq!(s["empty"], true);
    assert_eq!(b.eval("document.getElementById('empty').hidden"), false);
    assert_eq!(b.eval("document.getElementById('fig-rate').hidden"), true);
    assert_eq!(chart(&s, "memory")["canvas"], true);

    record("dash_reset", 30, 0);
    let s = b.wait_for("30 executions drawn", WAIT, |s| s["executions"] == 30);
    assert_eq!(s["empty"], false);
    assert_eq!(b.eval("document.getElementById('empty').hidden"), true);
    assert_eq!(s["resets"], 0);

    // clear(): the counters go down from 30 to 5.
    profx::global().clear();
    record("dash_reset", 5, 0);
    let s = b.wait_for("the counters to go back to 5", WAIT, |s| {
        s["executions"] == 5
    });
    let polls = s["polls"].as_u64().unwrap();
    let s = b.wait_for("a poll after the reset", WAIT, |s| {
        s["polls"].as_u64() > Some(polls + 1)
    });
    assert!(s["resets"].as_u64().unwrap() >= 1, "{s:#}");
    let rate = chart(&s, "rate");
    assert!(
        rate["min"].as_f64().unwrap() >= 0.0,
        "a negative rate: {rate}"
    );
    assert_no_problems(&mut b);

    // The server goes away: the banner shows, and the page keeps trying.
    server.stop();
    let s = b.wait_for("the banner", WAIT, |s| {
        s["banner"] == true && s["connected"] == false
    });
    let failures = s["failures"].as_u64().unwrap();
    b.wait_for("more failed polls", WAIT, |s| {
        s["failures"].as_u64() >= Some(failures + 2)
    });
    let text = b.eval("document.getElementById('banner').textContent");
    assert!(
        text.as_str().unwrap().starts_with("Disconnected: "),
        "{text}"
    );
    // ... and comes back on the same address.
    let again = Builder::new().addr(addr.to_string()).start().unwrap();
    let polls = s["polls"].as_u64().unwrap();
    let s = b.wait_for("the reconnection", WAIT, |s| {
        s["connected"] == true && s["polls"].as_u64() > Some(polls)
    });
    assert_eq!(s["banner"], false);
    assert_eq!(b.eval("document.getElementById('banner').hidden"), true);
    // Refused connections are logged by the browser as network errors: expected here; anything
    // else is a problem.
    let problems: Vec<String> = b
        .problems()
        .into_iter()
        .filter(|p| !p.contains("ERR_CONNECTION_REFUSED"))
        .collect();
    assert!(problems.is_empty(), "script problems: {problems:#?}");
    drop(again);
}

/// The checks above would catch a broken page: an error thrown by a script, and the dashboard's
/// own code failing (here because uPlot is not there).
#[test]
fn chromium_check_catches_page_errors() {
    if !chromium::present() {
        return;
    }
    let server = start();
    let url = format!("http://{}/dashboard?interval=200ms", server.local_addr());
    let mut b = Browser::start(1000, 800);

    b.open(
        &url,
        Some("window.addEventListener('DOMContentLoaded', function () { noSuchFunction(); });"),
    );
    b.wait_for("a poll", WAIT, |s| s["polls"].as_u64() >= Some(1));
    let problems = b.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("exception: ") && p.contains("noSuchFunction")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("page error: ") && p.contains("noSuchFunction")),
        "{problems:#?}"
    );

    b.open(
        &url,
        Some("Object.defineProperty(window, 'uPlot', { value: undefined, writable: false });"),
    );
    b.wait_for("a poll", WAIT, |s| s["polls"].as_u64() >= Some(1));
    let deadline = std::time::Instant::now() + WAIT;
    let problems = loop {
        let p = b.problems();
        if p.iter().any(|p| p.contains("uPlot")) || std::time::Instant::now() > deadline {
            break p;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        problems
            .iter()
            .any(|p| p.contains("uPlot is not a constructor")),
        "{problems:#?}"
    );
}
