//! Headless Chromium driven over the DevTools protocol (a WebSocket, through `tungstenite`):
//! open a page, evaluate expressions in it, collect what it reports (exceptions, console
//! errors, log entries) and take screenshots. Chromium is killed when the handle drops, on
//! every path; every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::chromium::Scratch;
use tungstenite::{Message, WebSocket};

/// How long Chromium has to start, and to answer one command.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A running headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    session: Option<String>,
    /// Exceptions, console errors and error log entries of the current page.
    pub reported: Vec<String>,
    stderr: Arc<Mutex<String>>,
    _scratch: Scratch,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium (window `width`×`height`) and connects to it.
    pub fn start(width: u32, height: u32) -> Browser {
        let bin = crate::chromium::binary();
        let scratch = Scratch::new("dashboard");
        let mut child = Command::new(&bin)
            .args(crate::chromium::FLAGS)
            .args(["--hide-scrollbars", "--remote-debugging-port=0"])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!(
                "--user-data-dir={}",
                scratch.0.join("profile").display()
            ))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
        // From here on, a panic drops `guard`, which kills Chromium.
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_owned());
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut guard = ChildGuard(Some(child));
        let url = rx.recv_timeout(TIMEOUT).unwrap_or_else(|_| {
            panic!(
                "Chromium printed no DevTools URL within {TIMEOUT:?}:\n{}",
                stderr.lock().unwrap()
            )
        });
        let host = url["ws://".len()..].split('/').next().unwrap().to_owned();
        let stream = TcpStream::connect(&host).expect("connect to DevTools");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        let (ws, _) = tungstenite::client::client(url.as_str(), stream)
            .unwrap_or_else(|e| panic!("DevTools handshake with {url}: {e}"));
        Browser {
            child: guard.0.take().unwrap(),
            ws,
            next_id: 0,
            session: None,
            reported: Vec::new(),
            stderr,
            _scratch: scratch,
        }
    }

    /// Sends a command (to the attached page, once there is one) and waits for its answer,
    /// noting the page's reports that arrive meanwhile.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .unwrap_or_else(|e| panic!("send {method}: {e}"));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            assert!(
                Instant::now() < deadline,
                "no answer to {method} within {TIMEOUT:?}"
            );
            let frame = self
                .ws
                .read()
                .unwrap_or_else(|e| panic!("waiting for {method}: {e}"));
            let Message::Text(text) = frame else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools sends JSON");
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method} failed: {e}");
                }
                return v["result"].clone();
            }
            self.note(&v);
        }
    }

    fn note(&mut self, event: &Value) {
        let p = &event["params"];
        match event["method"].as_str().unwrap_or("") {
            "Runtime.exceptionThrown" => {
                let d = &p["exceptionDetails"];
                let what = d["exception"]["description"]
                    .as_str()
                    .or(d["text"].as_str())
                    .unwrap_or("?");
                self.reported.push(format!("exception: {what}"));
            }
            "Runtime.consoleAPICalled"
                if matches!(p["type"].as_str(), Some("error" | "assert")) =>
            {
                self.reported
                    .push(format!("console.{}: {}", p["type"], p["args"]));
            }
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                let e = &p["entry"];
                self.reported
                    .push(format!("log ({}): {} {}", e["source"], e["text"], e["url"]));
            }
            _ => {}
        }
    }

    /// Opens `url` in a new tab (the previous one's reports are forgotten), after installing
    /// `before` (a script run before the page's own, if any).
    pub fn open(&mut self, url: &str, before: Option<&str>) {
        self.session = None;
        self.reported.clear();
        let target = self.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        self.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            self.call(domain, json!({}));
        }
        if let Some(source) = before {
            self.call(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": source }),
            );
        }
        let nav = self.call("Page.navigate", json!({ "url": url }));
        assert!(nav.get("errorText").is_none(), "navigating to {url}: {nav}");
    }

    /// Evaluates `expr` in the page; its value (JSON-able).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("evaluating {expr}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// The page's probe, `window.__profxDashboard.state()` (`null` until the script ran).
    pub fn state(&mut self) -> Value {
        self.eval("window.__profxDashboard ? window.__profxDashboard.state() : null")
    }

    /// Polls the probe until `ok` holds, at most `timeout`; panics with the last state and the
    /// page's problems otherwise.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.state();
            if !s.is_null() && ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!(
                    "the dashboard did not get to {what} within {timeout:?}; last state:\n{s:#}\nproblems: {:#?}",
                    self.problems()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every sign of a script problem: reports over DevTools, errors the page's error hook
    /// recorded, the dashboard's script not having started, and console lines on stderr.
    pub fn problems(&mut self) -> Vec<String> {
        let root = self.eval(
            "[document.documentElement.getAttribute('data-js-errors'), \
              document.documentElement.getAttribute('data-profx-ready')]",
        );
        let mut problems = self.reported.clone();
        if let Some(e) = root[0].as_str() {
            problems.push(format!("page error: {e}"));
        }
        if root[1] != "1" {
            problems.push("the dashboard's script did not start".to_owned());
        }
        for line in self.stderr.lock().unwrap().lines() {
            if line.contains(":CONSOLE(") || line.contains("Uncaught") {
                problems.push(format!("stderr: {line}"));
            }
        }
        problems
    }

    /// A PNG of the whole page, `width` wide.
    pub fn screenshot(&mut self, width: u32) -> Vec<u8> {
        let height = self
            .eval("document.documentElement.scrollHeight")
            .as_u64()
            .unwrap();
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        std::thread::sleep(Duration::from_millis(300)); // the charts follow the new size
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        base64(shot["data"].as_str().expect("image data"))
    }
}

/// Kills the child if the handshake panics before [`Browser`] owns it.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(val).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &v)| acc | (v as u32) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(base64("aGVsbG8="), b"hello");
    assert_eq!(base64("aGk="), b"hi");
    assert_eq!(base64("YWJj"), b"abc");
}
