//! What `profx top` shows, read from a running program's `/api/dashboard`: the latest feed,
//! and the short history its sparklines and rates come from.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Points kept for a sparkline.
pub const HISTORY: usize = 120;

/// One agent, as the feed gives it (seconds as floating point).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Agent {
    pub name: String,
    pub executions: u64,
    pub failures: u64,
    pub cancelled: u64,
    pub success_rate_percent: Option<f64>,
    pub avg_seconds: f64,
    pub p50_seconds: f64,
    pub p95_seconds: f64,
    pub p99_seconds: f64,
    pub total_seconds: f64,
    pub self_seconds: f64,
    /// Share of the time spent working, inside an async agent's polls (100 for a sync one;
    /// `None`: not known).
    pub busy_percent: Option<f64>,
    pub phases: Vec<Phase>,
}

/// One phase of an agent.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Phase {
    pub name: String,
    pub calls: u64,
    pub failures: u64,
    pub avg_seconds: f64,
    pub p95_seconds: f64,
    pub p99_seconds: f64,
    pub total_seconds: f64,
    pub self_seconds: f64,
    /// As the agent's.
    pub busy_percent: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Process {
    pub resident_bytes: Option<u64>,
    pub threads: Option<u64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Bottleneck {
    pub agent: String,
    pub phase: Option<String>,
    pub severity: String,
}

/// `/api/dashboard`, the parts `profx top` reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Feed {
    pub uptime_seconds: f64,
    pub agents: Vec<Agent>,
    pub process: Process,
    pub bottlenecks: Vec<Bottleneck>,
}

impl Feed {
    /// The most severe bottleneck of `agent` (its own or one of its phases'), if any.
    pub fn severity(&self, agent: &str) -> Option<&str> {
        let rank = |s: &str| match s {
            "critical" => 3,
            "high" => 2,
            "medium" => 1,
            _ => 0,
        };
        self.bottlenecks
            .iter()
            .filter(|b| b.agent == agent)
            .max_by_key(|b| rank(&b.severity))
            .map(|b| b.severity.as_str())
    }
}

/// What the screen is drawn from: the latest feed, the rates between the last two, the
/// history, and whether the server answers.
#[derive(Default)]
pub struct State {
    pub feed: Option<Feed>,
    /// Executions per second of each agent, between the last two feeds.
    pub rates: BTreeMap<String, f64>,
    /// Executions per second over all agents, oldest first.
    pub rate_history: VecDeque<u64>,
    /// Resident memory (bytes), oldest first.
    pub memory_history: VecDeque<u64>,
    /// The last error reaching the server (`None`: the last poll answered).
    pub error: Option<String>,
    last: Option<(Instant, BTreeMap<String, u64>)>,
}

impl State {
    /// Takes a new feed read at `at`.
    pub fn update(&mut self, feed: Feed, at: Instant) {
        let counts: BTreeMap<String, u64> = feed
            .agents
            .iter()
            .map(|a| (a.name.clone(), a.executions))
            .collect();
        if let Some((then, before)) = &self.last {
            let dt = at.duration_since(*then).as_secs_f64().max(1e-3);
            self.rates = counts
                .iter()
                .map(|(name, &n)| {
                    // A counter that went back (`clear()`, a restarted program) starts over.
                    let d = n.saturating_sub(before.get(name).copied().unwrap_or(0));
                    (name.clone(), d as f64 / dt)
                })
                .collect();
            let total: f64 = self.rates.values().sum();
            push(&mut self.rate_history, total.round() as u64);
        }
        if let Some(r) = feed.process.resident_bytes {
            push(&mut self.memory_history, r);
        }
        self.last = Some((at, counts));
        self.feed = Some(feed);
        self.error = None;
    }

    /// The server did not answer (or not with a feed).
    pub fn failed(&mut self, error: String) {
        self.error = Some(error);
    }
}

fn push(v: &mut VecDeque<u64>, x: u64) {
    if v.len() == HISTORY {
        v.pop_front();
    }
    v.push_back(x);
}

/// Reads `/api/dashboard` of the server at `base` (with `token` as a bearer token).
pub struct Client {
    agent: ureq::Agent,
    url: String,
    token: Option<String>,
}

impl Client {
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("profx-top/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            url: format!("{}/api/dashboard", base.trim_end_matches('/')),
            token,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One read of the feed, or why there is none.
    pub fn get(&self) -> Result<Feed, String> {
        let mut req = self.agent.get(&self.url);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut resp = req.call().map_err(|e| match e {
            ureq::Error::Io(e) => e.to_string(),
            ureq::Error::ConnectionFailed => "cannot connect".to_owned(),
            other => other.to_string(),
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        match status {
            200 => serde_json::from_str(&body).map_err(|e| format!("not a profx feed: {e}")),
            401 => Err("401: the server wants a token (--token)".to_owned()),
            s => Err(format!("HTTP {s}: {}", body.lines().next().unwrap_or(""))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(executions: u64) -> Feed {
        serde_json::from_value(serde_json::json!({
            "uptime_seconds": 3.0,
            "agents": [{ "name": "a", "executions": executions, "total_seconds": 1.0,
                         "phases": [{ "name": "p", "calls": 2, "self_seconds": 0.5 }] }],
            "process": { "resident_bytes": 1000, "threads": 4 },
            "bottlenecks": [{ "agent": "a", "severity": "medium" },
                            { "agent": "a", "phase": "p", "severity": "critical" }],
            "extra": "ignored",
        }))
        .unwrap()
    }

    #[test]
    fn rates_come_from_two_feeds_and_a_counter_that_goes_back_starts_over() {
        let mut s = State::default();
        let t0 = Instant::now();
        s.update(feed(10), t0);
        assert!(s.rates.is_empty());
        s.update(feed(30), t0 + Duration::from_secs(2));
        assert_eq!(s.rates["a"], 10.0);
        assert_eq!(s.rate_history.back(), Some(&10));
        s.update(feed(5), t0 + Duration::from_secs(3));
        assert_eq!(s.rates["a"], 0.0);
        assert_eq!(s.memory_history.len(), 3);
        let f = s.feed.as_ref().unwrap();
        assert_eq!(f.severity("a"), Some("critical"));
        assert_eq!(f.agents[0].phases[0].self_seconds, 0.5);
    }
}
