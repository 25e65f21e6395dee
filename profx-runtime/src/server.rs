//! The monitoring server (feature `server`): health, Prometheus metrics and debug endpoints over
//! HTTP/1.1, on a thread of its own so that sync programs can use it.
//!
//! ```no_run
//! let server = profx_runtime::server::start("127.0.0.1:0")?;
//! println!("metrics at http://{}/metrics", server.local_addr());
//! server.stop();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Endpoints
//!
//! | path | answer |
//! |---|---|
//! | `/health`, `/api/health` | [`health::run`](crate::health::run) as JSON; 200 when healthy, 503 otherwise. `?timeout=500ms` bounds the checks (default 2s, at most the request timeout) |
//! | `/metrics` | [`prometheus::render`](crate::prometheus::render), text format 0.0.4 |
//! | `/api/metrics` | JSON array: the custom metrics ([`metrics::to_json`](crate::metrics::to_json)) and `profx_agent_*` entries per agent |
//! | `/debug/stats` | JSON: uptime, threads, resident memory, executions, agents, phases, connections |
//! | `/debug/build` | JSON: crate version, features, target, profile, rustc |
//!
//! Only `GET` and `HEAD` are served (anything else is 405 with `Allow: GET, HEAD`); an unknown
//! path is 404, a bad query 400, a handler that panics 500, and the server goes on serving.
//!
//! # Safety limits
//!
//! Loopback by default (`127.0.0.1:9090`). With a [token](Builder::token) every request needs
//! `Authorization: Bearer <token>` (compared in constant time), else 401 with
//! `WWW-Authenticate: Bearer`. A request head is at most 16 KiB and 64 headers (larger: 431 and
//! the connection closes); the head must arrive within the [request
//! timeout](Builder::request_timeout) (a client that stalls mid-request is dropped), and so must
//! the answer (else 503). At most [`max_connections`](Builder::max_connections) connections are
//! served at once; one more is answered 503 and closed. Request bodies are never read.
//!
//! # The stack
//!
//! hyper 1 (the HTTP/1.1 implementation behind axum, reqwest and most of the Rust HTTP
//! ecosystem; its parser and limits are well exercised) with hyper-util's tokio glue, on a
//! current-thread tokio runtime owned by the server thread. The runtime lives only on that
//! thread and does not touch a runtime the program may run itself; work that may block
//! (health checks, rendering the exposition) goes to its blocking pool, so a hung check cannot
//! stall the server.

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Where [`start`] and [`Builder`] listen unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9090";
/// Default cap on connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default bound on reading a request head and on producing its answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on the health checks of one `/health` request.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest request head, in bytes (hyper's read buffer).
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The most header fields in one request.
const MAX_HEADERS: usize = 64;
/// How long [`Server::stop`] lets open connections finish.
const STOP_GRACE: Duration = Duration::from_secs(2);

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

type Body = Full<Bytes>;

/// Starts the server on `addr` with the default settings; see [`Builder`].
///
/// # Errors
///
/// The address does not resolve or cannot be bound (in use, no permission), or the runtime or
/// thread cannot be created.
pub fn start(addr: impl AsRef<str>) -> io::Result<Server> {
    Builder::new().addr(addr.as_ref()).start()
}

/// Settings of the server; [`Builder::start`] binds and starts it.
#[derive(Clone, Debug)]
pub struct Builder {
    addr: String,
    token: Option<String>,
    max_connections: usize,
    request_timeout: Duration,
    health_timeout: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The defaults: [`DEFAULT_ADDR`], no token, [`DEFAULT_MAX_CONNECTIONS`],
    /// [`DEFAULT_REQUEST_TIMEOUT`], [`DEFAULT_HEALTH_TIMEOUT`].
    pub fn new() -> Builder {
        Builder {
            addr: DEFAULT_ADDR.to_owned(),
            token: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            health_timeout: DEFAULT_HEALTH_TIMEOUT,
        }
    }

    /// Where to listen, `HOST:PORT` (port 0: a free port, see [`Server::local_addr`]).
    /// Default [`DEFAULT_ADDR`].
    pub fn addr(mut self, addr: impl Into<String>) -> Builder {
        self.addr = addr.into();
        self
    }

    /// Requires `Authorization: Bearer <token>` on every request. Default: none.
    pub fn token(mut self, token: impl Into<String>) -> Builder {
        self.token = Some(token.into());
        self
    }

    /// The most connections served at once (at least 1). Default
    /// [`DEFAULT_MAX_CONNECTIONS`].
    pub fn max_connections(mut self, n: usize) -> Builder {
        self.max_connections = n.max(1);
        self
    }

    /// How long a client has to send a request head, and the server to answer it. Default
    /// [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn request_timeout(mut self, d: Duration) -> Builder {
        self.request_timeout = d.max(Duration::from_millis(1));
        self
    }

    /// How long `/health` waits for the checks when the request does not say (`?timeout=`).
    /// Default [`DEFAULT_HEALTH_TIMEOUT`]; it is capped by the request timeout.
    pub fn health_timeout(mut self, d: Duration) -> Builder {
        self.health_timeout = d;
        self
    }

    /// Binds the address, then starts the server thread.
    ///
    /// # Errors
    ///
    /// The address does not resolve or cannot be bound, or the runtime or thread cannot be
    /// created. Binding happens here, before the thread starts, so nothing fails later.
    pub fn start(self) -> io::Result<Server> {
        let addrs: Vec<SocketAddr> = self.addr.to_socket_addrs()?.collect();
        let std_listener = StdListener::bind(&addrs[..])?;
        std_listener.set_nonblocking(true)?;
        let local_addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("profx-server-blocking")
            .build()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let state = Arc::new(State {
            token: self.token,
            max_connections: self.max_connections,
            request_timeout: self.request_timeout,
            health_timeout: self.health_timeout.min(self.request_timeout),
            started: Instant::now(),
            served: AtomicU64::new(0),
            open: AtomicUsize::new(0),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("profx-server".to_owned())
            .spawn(move || {
                runtime.block_on(accept_loop(listener, state, stop_rx));
                runtime.shutdown_timeout(STOP_GRACE);
            })?;
        Ok(Server {
            local_addr,
            stop: stop_tx,
            thread: Some(thread),
        })
    }
}

/// A running server; [`stop`](Server::stop) (or dropping it) shuts it down.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The address the server listens on (with the port chosen when it was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open connections finish their request (for at most 2 s), and
    /// joins the server thread. The port is free when this returns.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the connections share.
struct State {
    token: Option<String>,
    max_connections: usize,
    request_timeout: Duration,
    health_timeout: Duration,
    started: Instant,
    served: AtomicU64,
    open: AtomicUsize,
}

/// Counts a connection as open while it lives.
struct OpenConnection(Arc<State>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(connection(stream, state.clone(), stop.clone()));
                }
                // A failed accept (out of descriptors, a reset before accept) is the client's
                // or a passing problem: wait a moment and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(STOP_GRACE, drain).await.is_err() {
        connections.abort_all();
    }
}

/// Serves one connection, or answers 503 when [`State::max_connections`] are already open.
async fn connection(mut stream: TcpStream, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let open = state.open.fetch_add(1, Ordering::Relaxed) + 1;
    let _open = OpenConnection(state.clone());
    if open > state.max_connections {
        let _ = tokio::time::timeout(Duration::from_secs(1), refuse(&mut stream)).await;
        return;
    }
    let _ = stream.set_nodelay(true);
    let service_state = state.clone();
    let service = hyper::service::service_fn(move |req| respond(req, service_state.clone()));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.request_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.changed() => conn.as_mut().graceful_shutdown(),
    }
    let _ = tokio::time::timeout(STOP_GRACE, conn).await;
}

async fn refuse(stream: &mut TcpStream) -> io::Result<()> {
    let body = "too many connections\n";
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {TEXT}\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// Answers one request: within the request timeout, and 500 if the handler panics.
async fn respond(req: Request<Incoming>, state: Arc<State>) -> Result<Response<Body>, Infallible> {
    state.served.fetch_add(1, Ordering::Relaxed);
    let timeout = state.request_timeout;
    let task = tokio::spawn(route(req, state));
    let response = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(response)) => response,
        Ok(Err(_panicked_or_cancelled)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while answering\n",
        ),
        Err(_elapsed) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "timed out while answering\n",
        ),
    };
    Ok(response)
}

async fn route(req: Request<Incoming>, state: Arc<State>) -> Response<Body> {
    if !authorized(&req, state.token.as_deref()) {
        return unauthorized();
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed();
    }
    let query = req.uri().query().unwrap_or("");
    match req.uri().path() {
        "/health" | "/api/health" => health(query, &state).await,
        "/metrics" => prometheus_metrics().await,
        "/api/metrics" => json_metrics().await,
        "/debug/stats" => stats(&state).await,
        "/debug/build" => json(StatusCode::OK, &build_info()),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

// ---------------------------------------------------------------------------------------------
// Access

fn authorized(req: &Request<Incoming>, token: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return false;
    };
    let value = value.as_bytes();
    let scheme = b"Bearer ";
    value.len() > scheme.len()
        && value[..scheme.len()].eq_ignore_ascii_case(scheme)
        && constant_time_eq(&value[scheme.len()..], token.as_bytes())
}

/// Compares without stopping at the first difference (the length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn unauthorized() -> Response<Body> {
    let mut r = text(StatusCode::UNAUTHORIZED, "a bearer token is required\n");
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

fn method_not_allowed() -> Response<Body> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

// ---------------------------------------------------------------------------------------------
// Endpoints

async fn health(query: &str, state: &State) -> Response<Body> {
    let timeout = match health_timeout(query, state) {
        Ok(t) => t,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    let report = match blocking(move || crate::health::run(timeout)).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let status = if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &report)
}

/// The `timeout` of `/health?timeout=500ms`: a duration up to the request timeout (less a
/// margin to answer in). Other parameters are ignored.
fn health_timeout(query: &str, state: &State) -> Result<Duration, String> {
    let limit = state.request_timeout.mul_f64(0.8);
    let mut timeout = state.health_timeout.min(limit);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "timeout" {
            continue;
        }
        timeout = humantime::parse_duration(value)
            .ok()
            .filter(|d| !d.is_zero() && *d <= limit)
            .ok_or_else(|| {
                format!(
                    "bad timeout {value:?}: expected a duration such as 500ms or 2s, at most {}\n",
                    humantime::format_duration(limit)
                )
            })?;
    }
    Ok(timeout)
}

async fn prometheus_metrics() -> Response<Body> {
    match blocking(crate::prometheus::render).await {
        Ok(body) => with_type(StatusCode::OK, crate::prometheus::CONTENT_TYPE, body),
        Err(response) => response,
    }
}

async fn json_metrics() -> Response<Body> {
    match blocking(api_metrics).await {
        Ok(value) => json(StatusCode::OK, &value),
        Err(response) => response,
    }
}

/// The custom metrics and, per agent, `profx_agent_executions_total`,
/// `profx_agent_failures_total` (counters), `profx_agent_success_rate_percent` and
/// `profx_agent_duration_seconds_{mean,p50,p95,p99}` (gauges), labelled `{agent}`.
fn api_metrics() -> serde_json::Value {
    use serde_json::{json, Value};
    let mut out = match crate::metrics::to_json(&crate::metrics::snapshot()) {
        Value::Array(a) => a,
        _ => Vec::new(),
    };
    let report = crate::global().report();
    for (agent, m) in &report.agents {
        let rate = if m.total_executions == 0 {
            100.0
        } else {
            m.success_count as f64 * 100.0 / m.total_executions as f64
        };
        let p = &m.percentiles;
        let entries: [(&str, &str, Value); 7] = [
            ("executions_total", "counter", m.total_executions.into()),
            ("failures_total", "counter", m.failure_count.into()),
            ("success_rate_percent", "gauge", rate.into()),
            (
                "duration_seconds_mean",
                "gauge",
                m.avg_duration.as_secs_f64().into(),
            ),
            ("duration_seconds_p50", "gauge", p.p50.as_secs_f64().into()),
            ("duration_seconds_p95", "gauge", p.p95.as_secs_f64().into()),
            ("duration_seconds_p99", "gauge", p.p99.as_secs_f64().into()),
        ];
        for (suffix, kind, value) in entries {
            out.push(json!({
                "name": format!("profx_agent_{suffix}"),
                "labels": { "agent": agent },
                "kind": kind,
                "value": value,
            }));
        }
    }
    Value::Array(out)
}

async fn stats(state: &State) -> Response<Body> {
    let uptime = state.started.elapsed();
    let served = state.served.load(Ordering::Relaxed);
    let open = state.open.load(Ordering::Relaxed);
    let stats = blocking(move || {
        let report = crate::global().report();
        let executions: u64 = report.agents.values().map(|m| m.total_executions).sum();
        let (resident, threads) = process_figures();
        serde_json::json!({
            "uptime_seconds": uptime.as_secs_f64(),
            "threads": threads,
            "resident_memory_bytes": resident,
            "executions_recorded": executions,
            "agents": report.agents.len(),
            "phases": report.phases.len(),
            "connections": { "served": served, "open": open },
        })
    })
    .await;
    match stats {
        Ok(value) => json(StatusCode::OK, &value),
        Err(response) => response,
    }
}

/// Resident memory in bytes and the thread count (`null` without the `enabled` feature).
#[cfg(feature = "enabled")]
fn process_figures() -> (Option<u64>, Option<u64>) {
    use crate::collector::sample::Sampler;
    use std::sync::{LazyLock, Mutex};
    static SAMPLER: LazyLock<Mutex<Sampler>> = LazyLock::new(|| Mutex::new(Sampler::new()));
    let s = SAMPLER.lock().unwrap_or_else(|e| e.into_inner()).sample();
    (
        Some(s.resident_bytes).filter(|&b| b > 0),
        Some(s.threads).filter(|&t| t > 0),
    )
}

#[cfg(not(feature = "enabled"))]
fn process_figures() -> (Option<u64>, Option<u64>) {
    (None, None)
}

fn build_info() -> serde_json::Value {
    let features: Vec<&str> = [
        ("enabled", cfg!(feature = "enabled")),
        ("alloc", cfg!(feature = "alloc")),
        ("server", cfg!(feature = "server")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let rustc = env!("PROFX_BUILD_RUSTC");
    serde_json::json!({
        "crate": "profx",
        "version": env!("CARGO_PKG_VERSION"),
        "features": features,
        "target": env!("PROFX_BUILD_TARGET"),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "rustc": if rustc.is_empty() { None } else { Some(rustc) },
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Runs `f` on the runtime's blocking pool; a panic in it becomes a 500.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response<Body>> {
    tokio::task::spawn_blocking(f).await.map_err(|_| {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while answering\n",
        )
    })
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => with_type(status, JSON, body),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode JSON\n"),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    with_type(status, TEXT, body.to_owned())
}

fn with_type(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Starts the server `PROFX_SERVER_ADDR` asks for, if any (for `#[profx::main]` and
/// [`ReportGuard::from_env`](crate::ReportGuard::from_env)); a failure to bind is a warning.
pub(crate) fn start_from_config(config: &crate::config::Config) -> Option<Server> {
    let addr = config.server_addr.as_ref()?;
    let mut builder = Builder::new().addr(addr.clone());
    if let Some(token) = &config.server_token {
        builder = builder.token(token.clone());
    }
    match builder.start() {
        Ok(server) => Some(server),
        Err(e) => {
            eprintln!("profx: warning: cannot start the monitoring server on {addr} (PROFX_SERVER_ADDR): {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3crex"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
    }

    #[test]
    fn health_timeout_query() {
        let state = State {
            token: None,
            max_connections: 1,
            request_timeout: Duration::from_secs(10),
            health_timeout: Duration::from_secs(2),
            started: Instant::now(),
            served: AtomicU64::new(0),
            open: AtomicUsize::new(0),
        };
        assert_eq!(health_timeout("", &state), Ok(Duration::from_secs(2)));
        assert_eq!(
            health_timeout("x=1&timeout=500ms", &state),
            Ok(Duration::from_millis(500))
        );
        assert!(health_timeout("timeout=abc", &state).is_err());
        assert!(health_timeout("timeout=1h", &state).is_err());
        assert!(health_timeout("timeout=0s", &state).is_err());
    }
}
