//! What reading costs against what it returns ("Reads that cost what they return"): the wall
//! time and the bytes allocated by the server's read endpoints and by the in-process reads,
//! over programs of growing size, and the allocations the recording threads make while they
//! are polled.
//!
//! Run: `cargo bench -p profx-bench --bench reads`
//!
//! Allocations are counted by this program's own global allocator, a wrapper of
//! `std::alloc::System` that counts bytes and allocations (`alloc`, `alloc_zeroed`, and the
//! growth of a `realloc`) process-wide and per thread. Not `profx::CountingAlloc`: that one
//! leaves out profx's own allocations, which are what is measured here.
//!
//! 1. Reads of an idle program. Three programs are recorded one after the other in the global
//!    profiler with the manual API (`Profiler::start_execution` and its `phase` guards),
//!    cleared in between: 10 agents × 5 phases, 100 × 10, 1000 × 10. Every agent gets 200
//!    executions, each running each of its phases once; 1 in 10 fails with an error text. The
//!    phase names are shared across agents (`rd-phase-03` of every agent). An agent's 200
//!    executions run one after the other (taking the 1000 agents in turn, execution by
//!    execution, costs more per phase call: see the keys bench, scenario `interleave`). On each program,
//!    `/debug/stats`, `/api/dashboard`, `/metrics` and `/api/metrics` are fetched from the
//!    monitoring server on one keep-alive connection (HTTP/1.1, a raw `TcpStream` reusing one
//!    buffer): 1 warm-up request, then `PROFX_BENCH_ROUNDS`. For each request: the wall time
//!    from sending it to having the whole body, the bytes allocated in the whole process
//!    meanwhile less those of the client's own thread (printed apart), the number of
//!    allocations, and the size of the body. The same for `profx::global().report()` and
//!    `profx::global().executions(agent)` called in-process (all they allocate counts; their
//!    "response" is the size of the value as JSON, for scale). Nothing records during these
//!    reads.
//! 2. Allocations on recording threads. The profiler is cleared; 2 threads call the
//!    `#[profx::agent] rd_agent` (two `#[profx::phase]` functions; 1 call in 10 returns an
//!    error, a unit struct whose `Display` allocates nothing), 20,000 times to warm up, then
//!    `PROFX_BENCH_EXECUTIONS` times measured; once with nothing reading, once with a client
//!    polling the four endpoints round-robin every 50 ms. The figure is the allocations (and
//!    bytes) made on the recording threads themselves during their measured loops, per 1,000
//!    executions: user code allocates nothing, so all of it is profx's.
//!
//! 3. Scraped by a real Prometheus. When `prometheus` is on the PATH (Debian package
//!    `prometheus`), the 1000 × 10 program is recorded again and a Prometheus server scrapes
//!    `/metrics` every second for `PROFX_BENCH_PROMETHEUS_SECS` seconds (default 20; 0 skips)
//!    while a thread keeps recording (about 100,000 executions a second); then the bench asks the server, in PromQL, how many
//!    scrapes succeeded, their duration (mean and max), the samples per scrape, and a phase's
//!    p99 by `histogram_quantile`.
//!
//! Environment: `PROFX_BENCH_ROUNDS` (requests and reads measured per endpoint and program,
//! default 7), `PROFX_BENCH_EXECUTIONS` (measured executions per recording thread and
//! condition, default 10,000,000: some seconds, so some dozens of polls during the loops).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use profx_bench::{env_u64, median, print_header, print_total_time};

// -------------------------------------------------------------------------------------------
// Counting every allocation, profx's included.

/// Bytes allocated in the whole process (allocations, and the growth of reallocations).
static BYTES: AtomicU64 = AtomicU64::new(0);
/// Allocations in the whole process (reallocations that grow included).
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The same, for the current thread alone (const, no destructor: usable in an allocator).
    static THREAD_BYTES: Cell<u64> = const { Cell::new(0) };
    static THREAD_ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// `System`, counting.
struct Counting;

#[inline(always)]
fn count(bytes: usize) {
    BYTES.fetch_add(bytes as u64, Relaxed);
    ALLOCS.fetch_add(1, Relaxed);
    let _ = THREAD_BYTES.try_with(|c| c.set(c.get() + bytes as u64));
    let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded to `System` unchanged; the counting touches only atomics
// and const thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            count(new_size - layout.size());
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (bytes, allocations) so far, process-wide.
fn process_allocs() -> (u64, u64) {
    (BYTES.load(Relaxed), ALLOCS.load(Relaxed))
}

/// (bytes, allocations) so far, on this thread.
fn thread_allocs() -> (u64, u64) {
    (THREAD_BYTES.with(Cell::get), THREAD_ALLOCS.with(Cell::get))
}

// -------------------------------------------------------------------------------------------
// The client: HTTP/1.1 on one keep-alive connection, one buffer reused.

const ENDPOINTS: [&str; 4] = ["/debug/stats", "/api/dashboard", "/metrics", "/api/metrics"];

/// The request for each of [`ENDPOINTS`], made once.
const REQUESTS: [&[u8]; 4] = [
    b"GET /debug/stats HTTP/1.1\r\nHost: bench\r\n\r\n",
    b"GET /api/dashboard HTTP/1.1\r\nHost: bench\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n",
    b"GET /api/metrics HTTP/1.1\r\nHost: bench\r\n\r\n",
];

struct Client {
    stream: TcpStream,
    /// Received bytes: `buf[..filled]`; its length is its capacity (zeroed once).
    buf: Vec<u8>,
    filled: usize,
}

/// One reply: its status and body length.
struct Reply {
    status: u16,
    body: usize,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the server");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Client {
            stream,
            buf: vec![0; 4 << 20],
            filled: 0,
        }
    }

    /// Reads more into the buffer (growing it if full); fails at the end of the stream.
    fn fill(&mut self) -> io::Result<()> {
        if self.filled == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        let n = self.stream.read(&mut self.buf[self.filled..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.filled += n;
        Ok(())
    }

    /// Sends `request` and reads its whole reply (status line, headers, `Content-Length` body).
    fn get(&mut self, request: &[u8]) -> io::Result<Reply> {
        self.stream.write_all(request)?;
        let head = loop {
            if let Some(i) = self.buf[..self.filled]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break i + 4;
            }
            self.fill()?;
        };
        let text = std::str::from_utf8(&self.buf[..head])
            .map_err(|_| io::Error::other("reply head is not UTF-8"))?;
        let mut lines = text.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other("bad status line"))?;
        let mut body = 0usize;
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    body = v
                        .trim()
                        .parse()
                        .map_err(|_| io::Error::other("bad Content-Length"))?;
                }
            }
        }
        let end = head + body;
        while self.filled < end {
            self.fill()?;
        }
        // Anything past this reply (there should be nothing) is kept for the next.
        self.buf.copy_within(end..self.filled, 0);
        self.filled -= end;
        Ok(Reply { status, body })
    }
}

// -------------------------------------------------------------------------------------------
// Part 1: reads of idle programs of growing size.

/// (agents, phases) of each program.
const SIZES: [(usize, usize); 3] = [(10, 5), (100, 10), (1000, 10)];
/// Executions of each agent.
const EXECUTIONS: usize = 200;

/// Records the program of `agents` × `phases` in the global profiler; the agents' names.
fn record_program(agents: usize, phases: usize) -> Vec<String> {
    let agent_names: Vec<String> = (0..agents).map(|a| format!("rd-agent-{a:04}")).collect();
    let phase_names: Vec<String> = (0..phases).map(|p| format!("rd-phase-{p:02}")).collect();
    let mut acc = 0u64;
    for agent in &agent_names {
        for i in 0..EXECUTIONS {
            let mut e = profx::global().start_execution(agent, "req");
            for (j, phase) in phase_names.iter().enumerate() {
                let _p = e.phase(phase);
                acc = acc.wrapping_mul(31).wrapping_add(black_box((i + j) as u64));
            }
            if i % 10 == 9 {
                e.end(Err::<(), _>("boom"));
            } else {
                e.end(());
            }
        }
    }
    black_box(acc);
    agent_names
}

/// What one read measured, round by round.
#[derive(Default)]
struct Samples {
    ms: Vec<f64>,
    /// Bytes allocated process-wide, less the client's thread's.
    bytes: Vec<f64>,
    allocs: Vec<f64>,
    client_bytes: Vec<f64>,
    /// Body (or JSON) size.
    response: Vec<f64>,
    /// Statuses other than 200 seen (HTTP only).
    bad: Vec<u16>,
}

impl Samples {
    /// Measures `read` (returning a response size and status): one warm-up, then `rounds`.
    /// With `client`, `read` is a client of another thread's work, and what it allocates
    /// itself is left out.
    fn measure(rounds: usize, client: bool, mut read: impl FnMut() -> (usize, u16)) -> Samples {
        let mut s = Samples::default();
        for round in 0..=rounds {
            let (pb, pn) = process_allocs();
            let (tb, _) = thread_allocs();
            let t = Instant::now();
            let (size, status) = read();
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let (pb1, pn1) = process_allocs();
            let (tb1, _) = thread_allocs();
            if status != 200 {
                s.bad.push(status);
            }
            if round == 0 {
                continue;
            }
            let client = if client { tb1 - tb } else { 0 };
            s.ms.push(ms);
            s.bytes.push((pb1 - pb).saturating_sub(client) as f64);
            s.allocs.push((pn1 - pn) as f64);
            s.client_bytes.push(client as f64);
            s.response.push(size as f64);
        }
        s
    }
}

/// `b` bytes as B, KiB or MiB.
fn bytes(b: f64) -> String {
    if b < 1024.0 {
        format!("{b:.0} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.2} MiB", b / (1024.0 * 1024.0))
    }
}

fn print_table_header() {
    println!(
        "{:<9} {:<22} {:>25} {:>11} {:>9} {:>9} {:>10} {:>11}",
        "program",
        "read",
        "time ms: median (min-max)",
        "allocated",
        "allocs",
        "client",
        "alloc/resp",
        "response"
    );
}

fn print_row(program: &str, read: &str, s: &Samples, client: bool) {
    let time = format!(
        "{:.2} ({:.2}-{:.2})",
        median(&s.ms),
        s.ms.iter().copied().fold(f64::INFINITY, f64::min),
        s.ms.iter().copied().fold(0.0, f64::max)
    );
    let allocated = median(&s.bytes);
    let response = median(&s.response);
    println!(
        "{:<9} {:<22} {:>25} {:>11} {:>9.0} {:>9} {:>9.1}x {:>11}",
        program,
        read,
        time,
        bytes(allocated),
        median(&s.allocs),
        if client {
            bytes(median(&s.client_bytes))
        } else {
            "-".to_owned()
        },
        allocated / response.max(1.0),
        bytes(response)
    );
    if !s.bad.is_empty() {
        println!("  ^ NOT 200: statuses {:?}", s.bad);
    }
}

fn reads_of_idle_programs(addr: SocketAddr, rounds: usize) {
    println!();
    println!(
        "reads of idle programs: {EXECUTIONS} executions per agent (1 in 10 failing), 1 warm-up + {rounds} rounds per read, medians"
    );
    println!(
        "allocated: bytes allocated process-wide during the read, less the client thread's (column client; \
         in-process reads: all of it); allocs: allocations process-wide; response: the body (in-process: the value as JSON)"
    );
    print_table_header();
    for (agents, phases) in SIZES {
        profx::global().clear();
        let t = Instant::now();
        let names = record_program(agents, phases);
        let recorded = t.elapsed();
        let program = format!("{agents}x{phases}");

        let report = profx::global().report();
        let kept: usize = report.executions.values().map(Vec::len).sum();
        let (a0, a1) = (&names[0], &names[names.len() - 1]);
        let ok = report.agents.len() == agents
            && [a0, a1].iter().all(|a| {
                report.agents.get(*a).is_some_and(|m| {
                    m.total_executions == EXECUTIONS as u64 && m.phases.len() == phases
                })
            });
        if !ok {
            println!(
                "  ! program {program}: the report holds {} agents, not {agents} of {EXECUTIONS} executions and {phases} phases each",
                report.agents.len()
            );
        }
        let report_json = serde_json::to_vec(&report).map_or(0, |v| v.len());
        drop(report);

        // A new connection per program: the server closes one left idle while recording.
        let mut client = Client::connect(addr);

        for (path, request) in ENDPOINTS.iter().zip(REQUESTS) {
            let s = Samples::measure(rounds, true, || match client.get(request) {
                Ok(r) => (r.body, r.status),
                Err(e) => {
                    println!("  ! {path}: {e}; reconnecting");
                    client = Client::connect(addr);
                    (0, 0)
                }
            });
            print_row(&program, path, &s, true);
        }
        let s = Samples::measure(rounds, false, || {
            black_box(profx::global().report());
            (report_json, 200)
        });
        print_row(&program, "report()", &s, false);
        let one = profx::global().executions(a0);
        let one_json = serde_json::to_vec(&one).map_or(0, |v| v.len());
        let one_len = one.len();
        drop(one);
        let s = Samples::measure(rounds, false, || {
            black_box(profx::global().executions(a0));
            (one_json, 200)
        });
        print_row(&program, "executions(agent)", &s, false);
        println!(
            "  ({program}: recorded in {:.2} s; {kept} executions kept in all, {one_len} of {a0})",
            recorded.as_secs_f64()
        );
    }
}

// -------------------------------------------------------------------------------------------
// Part 2: allocations on the recording threads, polled or not.

const THREADS: usize = 2;
const WARMUP: u64 = 20_000;
const POLL_EVERY: Duration = Duration::from_millis(50);

/// An error whose `Display` allocates nothing.
#[derive(Debug)]
struct StaticError;

impl std::fmt::Display for StaticError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rd-agent failed")
    }
}

#[profx::phase]
#[inline(never)]
fn rd_parse(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ black_box(7)
}

#[profx::phase]
#[inline(never)]
fn rd_compute(x: u64) -> u64 {
    x.rotate_left(13).wrapping_add(black_box(11))
}

#[profx::agent]
#[inline(never)]
fn rd_agent(i: u64) -> Result<u64, StaticError> {
    let a = rd_parse(i);
    let b = rd_compute(a);
    if i % 10 == 9 {
        Err(StaticError)
    } else {
        Ok(b)
    }
}

/// What one recording thread's measured loop did.
struct Loop {
    bytes: u64,
    allocs: u64,
    elapsed: Duration,
    /// Polls answered while it ran.
    polls: u64,
}

/// Polls the endpoints round-robin every [`POLL_EVERY`] until `stop`; counts answers in
/// `polls`, and returns the count of failed or non-200 ones.
fn poller(addr: SocketAddr, stop: Arc<AtomicBool>, polls: Arc<AtomicU64>) -> u64 {
    let mut client = Client::connect(addr);
    let mut failed = 0;
    let mut next = Instant::now();
    let mut i = 0;
    while !stop.load(Relaxed) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(10)));
            continue;
        }
        next += POLL_EVERY;
        match client.get(REQUESTS[i % REQUESTS.len()]) {
            Ok(r) if r.status == 200 => {}
            Ok(r) => {
                eprintln!("{}: status {}", ENDPOINTS[i % ENDPOINTS.len()], r.status);
                failed += 1;
            }
            Err(e) => {
                eprintln!("{}: {e}", ENDPOINTS[i % ENDPOINTS.len()]);
                failed += 1;
                client = Client::connect(addr);
            }
        }
        i += 1;
        polls.fetch_add(1, Relaxed);
    }
    failed
}

/// [`THREADS`] threads recording `rd_agent`, `executions` measured calls each.
fn record_threads(executions: u64, polls: &AtomicU64) -> Vec<Loop> {
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let start = (t as u64) << 40;
                    let mut acc = 0u64;
                    for i in start..start + WARMUP {
                        acc ^= rd_agent(black_box(i)).unwrap_or(1);
                    }
                    barrier.wait();
                    let p0 = polls.load(Relaxed);
                    let (b0, n0) = thread_allocs();
                    let t0 = Instant::now();
                    let first = start + WARMUP;
                    for i in first..first + executions {
                        acc ^= rd_agent(black_box(i)).unwrap_or(1);
                    }
                    let elapsed = t0.elapsed();
                    let (b1, n1) = thread_allocs();
                    let p1 = polls.load(Relaxed);
                    black_box(acc);
                    Loop {
                        bytes: b1 - b0,
                        allocs: n1 - n0,
                        elapsed,
                        polls: p1 - p0,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("recording thread"))
            .collect()
    })
}

fn recording_allocations(addr: SocketAddr, executions: u64) {
    println!();
    println!(
        "allocations on the recording threads: {THREADS} threads x {executions} executions of #[agent] rd_agent (2 phases, 1 in 10 Err(StaticError)) after {WARMUP} to warm up"
    );
    println!(
        "{:<40} {:>12} {:>11} {:>8} {:>11} {:>9} {:>6} {:>6}",
        "condition", "allocs/1000", "bytes/1000", "allocs", "bytes", "ns/exec", "polls", "failed"
    );
    profx::global().clear();
    for polled in [false, true] {
        let stop = Arc::new(AtomicBool::new(false));
        let polls = Arc::new(AtomicU64::new(0));
        let client = polled.then(|| {
            let (stop, polls) = (stop.clone(), polls.clone());
            std::thread::spawn(move || poller(addr, stop, polls))
        });
        let loops = record_threads(executions, &polls);
        stop.store(true, Relaxed);
        let failed = client.map_or(0, |c| c.join().expect("polling client"));
        let total = (executions * THREADS as u64) as f64;
        let allocs: u64 = loops.iter().map(|l| l.allocs).sum();
        let b: u64 = loops.iter().map(|l| l.bytes).sum();
        let ns = loops
            .iter()
            .map(|l| l.elapsed.as_nanos() as f64 / executions as f64)
            .sum::<f64>()
            / THREADS as f64;
        let during = loops.iter().map(|l| l.polls).max().unwrap_or(0);
        println!(
            "{:<40} {:>12.4} {:>11.2} {:>8} {:>11} {:>9.1} {:>6} {:>6}",
            if polled {
                "polled: 4 endpoints round-robin, 50 ms"
            } else {
                "not polled"
            },
            allocs as f64 * 1000.0 / total,
            b as f64 * 1000.0 / total,
            allocs,
            bytes(b as f64),
            ns,
            during,
            failed
        );
    }
    let calls = profx::global()
        .agent_metrics("rd_agent")
        .map_or(0, |m| m.total_executions);
    println!(
        "rd_agent executions recorded: {calls} (expected {})",
        2 * THREADS as u64 * (WARMUP + executions)
    );
}

// -------------------------------------------------------------------------------------------
// 3. A real Prometheus server scraping the largest program every second.

/// `GET path` from `addr` over HTTP/1.0 (so that the reply is neither chunked nor kept alive):
/// the body.
fn http_get(addr: SocketAddr, path: &str) -> io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    match reply.split_once("\r\n\r\n") {
        Some((head, body))
            if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") =>
        {
            Ok(body.to_owned())
        }
        _ => Err(io::Error::other(format!(
            "GET {path}: {}",
            reply.lines().next().unwrap_or("no reply")
        ))),
    }
}

/// A PromQL instant query's first value (`None`: no series).
fn prom_query(prom: SocketAddr, q: &str) -> io::Result<Option<f64>> {
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = http_get(prom, &format!("/api/v1/query?query={enc}"))?;
    let v: serde_json::Value = serde_json::from_str(&body).map_err(io::Error::other)?;
    Ok(v["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|x| x.parse().ok()))
}

/// The 1000 × 10 program is recorded again and `prometheus` (the Debian package's server, when
/// on the PATH) scrapes `/metrics` every second for `secs` seconds while 2 threads keep
/// recording; then its own figures are asked of it: how many scrapes succeeded, their
/// duration, the samples per scrape, and a `histogram_quantile` over the phases.
fn scraped_by_prometheus(addr: SocketAddr, secs: u64) {
    println!();
    println!("scraped by a real Prometheus every second: the 1000x10 program, 1 thread recording ~100,000 executions/s meanwhile");
    if secs == 0 {
        println!("  skipped (PROFX_BENCH_PROMETHEUS_SECS=0)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("profx-reads-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let prom = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    profx::global().clear();
    record_program(1000, 10);
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: profx\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .expect("write the configuration");
    let child = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={prom}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            println!(
                "  skipped: cannot run prometheus ({e}); `apt-get install prometheus` brings it"
            );
            return;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..1)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Relaxed) {
                    let _ = black_box(rd_agent(i));
                    i += 1;
                    if i.is_multiple_of(1_000) {
                        // About 100,000 executions a second: a busy service, not a
                        // saturated machine (which would time the scrapes' wait for a CPU).
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                i
            })
        })
        .collect();
    // The first scrape comes when the server has started up: count from a second after.
    std::thread::sleep(Duration::from_secs(secs + 2));
    let window = format!("{secs}s");
    let ask = |q: String| match prom_query(prom, &q) {
        Ok(Some(v)) => format!("{v}"),
        Ok(None) => "no data".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    let job = "{job=\"profx\"}";
    let rows = [
        ("scrapes in the window", format!("count_over_time(up{job}[{window}])")),
        ("scrapes that succeeded", format!("sum_over_time(up{job}[{window}])")),
        ("scrape duration, mean (s)", format!("avg_over_time(scrape_duration_seconds{job}[{window}])")),
        ("scrape duration, median (s)", format!("quantile_over_time(0.5, scrape_duration_seconds{job}[{window}])")),
        ("scrape duration, max (s)", format!("max_over_time(scrape_duration_seconds{job}[{window}])")),
        ("samples per scrape", format!("scrape_samples_scraped{job}")),
        ("phase series", "count(profx_phase_calls_total)".to_owned()),
        (
            "p99 of rd-phase-03 under rd-agent-0007 (s)",
            "histogram_quantile(0.99, sum by (le) (profx_phase_duration_seconds_bucket{agent=\"rd-agent-0007\",phase=\"rd-phase-03\"}))".to_owned(),
        ),
    ];
    for (what, q) in rows {
        println!("  {what:<44} {}", ask(q));
    }
    // The server's share of a scrape: fetching the same text here, recording still on.
    let mut own: Vec<f64> = (0..3)
        .filter_map(|_| {
            let t = Instant::now();
            http_get(addr, "/metrics")
                .ok()
                .map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect();
    own.sort_by(f64::total_cmp);
    println!(
        "  {:<44} {:?}",
        "/metrics fetched by this bench after (ms)",
        own.iter()
            .map(|m| (m * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    stop.store(true, Relaxed);
    let recorded: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    println!("  (recorded meanwhile: {recorded} executions of rd_agent)");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let rounds = env_u64("PROFX_BENCH_ROUNDS", 7).max(1) as usize;
    let executions = env_u64("PROFX_BENCH_EXECUTIONS", 10_000_000).max(1);
    let began = Instant::now();
    print_header("reads");
    let server = profx::server::start("127.0.0.1:0").expect("start the monitoring server");
    let addr = server.local_addr();
    reads_of_idle_programs(addr, rounds);
    recording_allocations(addr, executions);
    scraped_by_prometheus(addr, env_u64("PROFX_BENCH_PROMETHEUS_SECS", 20));
    server.stop();
    print_total_time(began);
}
