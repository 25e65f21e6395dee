//! The monitoring server of profx (`profx::server`, feature `server`): health, Prometheus metrics and debug endpoints over
//! HTTP/1.1, on a thread of its own so that sync programs can use it.
//!
//! ```no_run
//! let server = profx_server::start("127.0.0.1:0")?;
//! println!("metrics at http://{}/metrics", server.local_addr());
//! server.stop();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Endpoints
//!
//! | path | answer |
//! |---|---|
//! | `/health`, `/api/health` | [`health::run`](profx_runtime::health::run) as JSON; 200 when healthy, 503 otherwise. `?timeout=500ms` bounds the checks (default 2s, at most the request timeout) |
//! | `/metrics` | [`prometheus::render`](profx_runtime::prometheus::render), text format 0.0.4 |
//! | `/api/metrics` | JSON array of `{name, labels, kind, value}`: the custom metrics ([`metrics::to_json`](profx_runtime::metrics::to_json)), the process figures under their `/metrics` names, `profx_agent_*` entries per agent and `profx_phase_*` per phase |
//! | `/dashboard` | HTML page with live charts (executions/s, latency percentiles, success rate, memory and threads, bottlenecks), polling `/api/dashboard`; needs no network access. `?interval=2s` sets the poll interval (default 1s, clamped to 200ms..60s); `?token=` (see below) |
//! | `/api/dashboard` | JSON for the dashboard: uptime, totals, per agent executions/successes/failures/success rate and avg/p50/p90/p95/p99/max in seconds, process resident bytes/threads/live heap, bottlenecks, and the global collector's recent memory history |
//! | `/debug/stats` | JSON: uptime, threads, CPU seconds, open descriptors, `memory` (resident, virtual, live heap in bytes and MiB), executions, agents, phases, connections |
//! | `/debug/build` | JSON: crate version, features, target, profile, rustc |
//! | `/debug/pprof/profile` | feature `pprof` (Unix): a CPU profile of the process for `?seconds=N` (1 to 300, default 30) sampled at `?hz=H` (1 to 1000, default 100), as pprof protobuf (uncompressed, `application/octet-stream`, for `go tool pprof`), or `?format=flamegraph` as SVG; one profile at a time (else 409); this request may take `seconds` more than the request timeout. Without the feature: 404 saying so |
//!
//! Only `GET` and `HEAD` are served (anything else is 405 with `Allow: GET, HEAD`); an unknown
//! path is 404, a bad query 400, a handler that panics 500, and the server goes on serving.
//!
//! # Safety limits
//!
//! Loopback by default (`127.0.0.1:9090`). With a [token](Builder::token) every request needs
//! `Authorization: Bearer <token>` (compared in constant time), else 401 with
//! `WWW-Authenticate: Bearer`. The one exception is the page `/dashboard`, which also takes the
//! token as `?token=` (a browser cannot send a header when it navigates; the page then sends the
//! header on its own fetches of `/api/dashboard`); mind that a token in a URL can end up in the
//! browser's history. A request head is at most 16 KiB and 64 headers (larger: 431 and
//! the connection closes); the head must arrive within the [request
//! timeout](Builder::request_timeout) (a client that stalls mid-request is dropped, and a
//! keep-alive connection idle for that long is closed), and the answer must be ready within it
//! too (else 503, and the handler is stopped). At most [`max_connections`](Builder::max_connections) connections are
//! served at once; one more is answered 503 and closed. Request bodies are never read. A client
//! that shuts down its sending side (or hangs up) is taken as gone, as Go's `net/http` does: its
//! request may go unanswered and its handler is stopped (a CPU profile ends with its client).
//!
//! # The stack
//!
//! hyper 1 (the HTTP/1.1 implementation behind axum, reqwest and most of the Rust HTTP
//! ecosystem; its parser and limits are well exercised) with hyper-util's tokio glue, on a
//! current-thread tokio runtime owned by the server thread. The runtime lives only on that
//! thread and does not touch a runtime the program may run itself; work that may block
//! (health checks, rendering the exposition) goes to its blocking pool, so a hung check cannot
//! stall the server.

mod auth;
mod conn;
mod dashboard;
mod endpoints;
#[cfg(all(feature = "pprof", unix))]
mod pprof;
mod query;
mod reply;
mod routes;
mod settings;

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
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

    /// How long a client has to send a request head, and the server to answer it; also how
    /// long an idle keep-alive connection stays open. Default [`DEFAULT_REQUEST_TIMEOUT`].
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
        if !profx_runtime::__subsystem::quiet() {
            // One line, so that whoever runs the program knows where to look (PROFX_QUIET=1
            // silences it).
            eprintln!(
                "profx: monitoring server on http://{local_addr} ({}): /dashboard, /metrics, /api/metrics, /health",
                if state.token.is_some() {
                    "bearer token required"
                } else {
                    "no token"
                }
            );
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("profx-server".to_owned())
            .spawn(move || {
                runtime.block_on(conn::accept_loop(listener, state, stop_rx));
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

/// Starts the server `PROFX_SERVER_ADDR` asks for, if any (`PROFX_SERVER_TOKEN`: its token), as
/// the process's settings read them once (for `#[profx::main]` and
/// `profx::ReportGuard::from_env`); a failure to bind is a warning.
pub fn start_from_env() -> Option<Server> {
    let settings = settings::Settings::process();
    let addr = settings.addr.as_ref()?;
    let mut builder = Builder::new().addr(addr.clone());
    if let Some(token) = &settings.token {
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
