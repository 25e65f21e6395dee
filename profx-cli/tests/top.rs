//! `profx top` in a real pseudo-terminal (tmux): it draws a server's feed, answers its keys,
//! follows a resize to a narrow terminal, says "disconnected, retrying" when the server goes
//! away and comes back live with it, and quits on `q`. The server is a small HTTP one here,
//! serving `/api/dashboard` as profx's does (the same fields), its counters moving.

#[path = "../../tests/common/tools.rs"]
mod tools;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Serves `/api/dashboard` on `addr` until dropped; each answer counts more executions.
struct Feed {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Feed {
    fn start(addr: &str) -> Feed {
        let listener = TcpListener::bind(addr).expect("bind");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        static POLLS: AtomicU64 = AtomicU64::new(0);
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((mut conn, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    conn.set_nonblocking(false).unwrap();
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let n = POLLS.fetch_add(1, Ordering::Relaxed) + 1;
                    let body = feed(n);
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            })
        };
        Feed {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The feed after `n` polls: `alpha` runs ten executions a poll, `beta` one.
fn feed(n: u64) -> String {
    serde_json::json!({
        "uptime_seconds": n as f64 * 0.2,
        "totals": { "executions": 11 * n },
        "agents": [
            { "name": "alpha-agent", "executions": 10 * n, "successes": 10 * n, "failures": 0,
              "cancelled": 0, "success_rate_percent": 100.0, "avg_seconds": 0.002,
              "p50_seconds": 0.002, "p90_seconds": 0.003, "p95_seconds": 0.003,
              "p99_seconds": 0.004, "max_seconds": 0.005, "total_seconds": 0.02 * n as f64,
              "self_seconds": 0.005 * n as f64, "busy_percent": 100.0,
              "phases": [
                  { "name": "alpha-parse", "calls": 10 * n, "failures": 0, "cancelled": 0,
                    "avg_seconds": 0.0015, "p95_seconds": 0.002, "p99_seconds": 0.003,
                    "total_seconds": 0.015 * n as f64, "self_seconds": 0.015 * n as f64,
                    "busy_percent": 100.0 }
              ] },
            { "name": "beta-agent", "executions": n, "successes": n, "failures": 0,
              "cancelled": 0, "success_rate_percent": 100.0, "avg_seconds": 0.5,
              "p50_seconds": 0.5, "p90_seconds": 0.6, "p95_seconds": 0.6, "p99_seconds": 0.7,
              "max_seconds": 0.7, "total_seconds": 0.5 * n as f64, "self_seconds": 0.5 * n as f64,
              "busy_percent": 37.5, "phases": [] }
        ],
        "process": { "resident_bytes": 10_000_000 + n * 1000, "threads": 4, "heap_live_bytes": null },
        "bottlenecks": [
            { "agent": "beta-agent", "phase": null, "kind": "slow_execution",
              "severity": "critical", "avg_seconds": 0.5, "p99_seconds": 0.7,
              "threshold_seconds": 0.1, "message": "slow" }
        ],
        "history": { "running": false, "interval_seconds": 1.0, "points": [] }
    })
    .to_string()
}

/// A tmux session running `profx top` against `addr`, killed when dropped.
struct Tmux(String);

impl Tmux {
    fn start(addr: SocketAddr, width: u16, height: u16) -> Tmux {
        let name = format!("profx-top-{}", std::process::id());
        let cmd = format!(
            "{} top http://{addr} --interval 200ms",
            env!("CARGO_BIN_EXE_profx")
        );
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(cmd)
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux(name)
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends one key (tmux's names: `Enter`, `Escape`, `Down`, a character).
    fn key(&self, key: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.0, key])
            .status()
            .unwrap();
        // Apart from the next: an Escape followed at once by a key reads as Alt+key.
        std::thread::sleep(Duration::from_millis(150));
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["has-session", "-t", &self.0])
            .status()
            .unwrap()
            .success()
    }

    /// Waits until the screen shows what `ok` looks for.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

#[test]
fn top_draws_the_feed_answers_keys_resizes_and_survives_the_server() {
    if !tools::present(
        "tmux",
        tools::on_path("tmux"),
        "install Debian's tmux with `apt-get update && apt-get install -y tmux`",
    ) {
        return;
    }
    let server = Feed::start("127.0.0.1:0");
    let addr = server.addr;
    let top = Tmux::start(addr, 120, 30);

    // The agents by total time, their rates once two polls are in, the critical bottleneck.
    let s = top.wait("the agents, live", |s| {
        s.contains(" live ") && s.contains("alpha-agent") && s.contains("beta-agent")
    });
    let (alpha, beta) = (
        s.find("alpha-agent").unwrap(),
        s.find("beta-agent").unwrap(),
    );
    assert!(beta < alpha, "beta has more total time:\n{s}");
    assert!(s.contains("critical"), "{s}");
    // Busy: beta (async) works 38% of its time, alpha (sync) all of it.
    assert!(s.contains("Busy"), "{s}");
    let line = |name: &str| s.lines().find(|l| l.contains(name)).unwrap().to_owned();
    assert!(line("beta-agent").contains(" 38% "), "{s}");
    assert!(line("alpha-agent").contains(" 100% "), "{s}");
    assert!(
        s.contains("executions/s") && s.contains("resident memory"),
        "{s}"
    );
    // Ten executions a poll, a poll every 200 ms or a little more: about 50 a second.
    let rate = |s: &str| -> Option<f64> {
        let line = s.lines().find(|l| l.contains("alpha-agent"))?;
        let after = &line[line.find("alpha-agent")? + "alpha-agent".len()..];
        after.split_whitespace().next()?.parse().ok()
    };
    let s = top.wait("a rate", |s| rate(s).is_some_and(|r| r > 0.0));
    let r = rate(&s).unwrap();
    assert!((20.0..=60.0).contains(&r), "alpha's rate {r}:\n{s}");

    // `s`: by executions per second, alpha first.
    top.key("s");
    let s = top.wait("sort by exec/s", |s| s.contains("sort: exec/s"));
    assert!(
        s.find("alpha-agent").unwrap() < s.find("beta-agent").unwrap(),
        "{s}"
    );

    // `/` and a name part: only the agents that match.
    top.key("/");
    top.key("alp");
    top.key("Enter");
    let s = top.wait("the filter", |s| {
        s.contains("filter: alp") && !s.contains("beta-agent")
    });
    assert!(s.contains("Agents (1)"), "{s}");

    // Enter: that agent's phases, by self time; Escape: back.
    top.key("Enter");
    let s = top.wait("alpha's phases", |s| s.contains("alpha-parse"));
    assert!(s.contains("phases by self time"), "{s}");
    top.key("Escape");
    top.wait("the agents again", |s| s.contains("Agents (1)"));
    top.key("Escape");
    top.wait("the filter cleared", |s| s.contains("beta-agent"));

    // A narrow terminal: the view still fits, with the columns that matter.
    Command::new("tmux")
        .args(["resize-window", "-t", &top.0, "-x", "44", "-y", "12"])
        .status()
        .unwrap();
    let s = top.wait("the narrow view", |s| {
        s.lines().all(|l| l.chars().count() <= 44) && s.contains("alpha-agent")
    });
    assert!(s.contains("P99") && !s.contains("Total"), "{s}");
    Command::new("tmux")
        .args(["resize-window", "-t", &top.0, "-x", "120", "-y", "30"])
        .status()
        .unwrap();

    // The server goes away: said, and retried; it comes back on the same address: live.
    drop(server);
    top.wait("disconnected", |s| s.contains("disconnected, retrying"));
    let _back = Feed::start(&addr.to_string());
    top.wait("live again", |s| {
        s.contains(" live ") && !s.contains("disconnected")
    });

    // `q`: the view ends.
    top.key("q");
    let deadline = Instant::now() + Duration::from_secs(5);
    while top.alive() {
        assert!(
            Instant::now() < deadline,
            "still running after q:\n{}",
            top.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn top_refuses_what_it_cannot_use() {
    let profx = env!("CARGO_BIN_EXE_profx");
    // Not a terminal here (the test's output is a pipe), and a URL it cannot use.
    for (args, says) in [
        (vec!["top", "https://127.0.0.1:1"], "plain HTTP"),
        (vec!["top", "127.0.0.1:1"], "not one"),
        (
            vec!["top", "127.0.0.1:1", "--interval", "5ms"],
            "from 200ms to 60s",
        ),
    ] {
        let out = Command::new(profx).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
