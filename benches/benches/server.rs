//! Recording overhead with the monitoring server scraped, against without it (issue 6: within
//! 10%).
//!
//! Two threads call `work_profx` (a `#[phase]`) inside the agent `profx_chunk`, and the plain
//! `work_plain` for the baseline, in the same process. Three conditions take turns, block by
//! block, so that drift of the machine falls on all of them alike:
//!
//! - `off`: no server running;
//! - `scraped`: the server running and a client fetching `/metrics` every 100 ms (Prometheus
//!   scrapes every 15 s by default; 100 ms is 150 times as often), on a keep-alive connection;
//! - `hammered`: a client fetching `/metrics`, `/api/metrics` and `/debug/stats` back to back,
//!   as fast as the server answers (the worst case; informative, no target).
//!
//! The figure per condition is the median over its rounds of (ns per instrumented call − ns
//! per plain call), the per-call overhead of recording. Every reply is checked (status 200, a
//! body of the announced length); errors are counted and printed.
//!
//! `cargo bench -p profx-bench --bench server`; `PROFX_BENCH_ROUNDS` (rounds per condition
//! and block, default 5), `PROFX_BENCH_BLOCKS` (default 6), `PROFX_BENCH_CALLS` (calls per
//! round and thread, default 4,000,000: a round of the instrumented case lasts about 0.1 s).

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use profx_bench::workloads::{calls, in_pieces, profx_chunk, work_plain, CHUNK};
use profx_bench::{env_u64, median, print_header, print_total_time, Plan};

const THREADS: usize = 2;

fn plain(start: u64, n: u64) -> u64 {
    calls(start, n, work_plain)
}

fn instrumented(start: u64, n: u64) -> u64 {
    in_pieces(start, n, CHUNK, profx_chunk)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Condition {
    Off,
    Scraped,
    Hammered,
}

impl Condition {
    const ALL: [Condition; 3] = [Condition::Off, Condition::Scraped, Condition::Hammered];

    fn label(self) -> &'static str {
        match self {
            Condition::Off => "no server",
            Condition::Scraped => "server, /metrics every 100 ms",
            Condition::Hammered => "server, requests back to back",
        }
    }
}

/// What a scraping client did.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
}

/// A client thread fetching `paths` in turn, pausing `every` between requests (none if zero),
/// until `stop`.
fn client(
    addr: SocketAddr,
    paths: &'static [&'static str],
    every: Duration,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
        let mut i = 0usize;
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if !every.is_zero() {
                let now = Instant::now();
                if now < next {
                    std::thread::sleep((next - now).min(Duration::from_millis(20)));
                    continue;
                }
                next += every;
            }
            let path = paths[i % paths.len()];
            i += 1;
            if conn.is_none() {
                let s = TcpStream::connect(addr).expect("connect to the server");
                s.set_nodelay(true).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let r = BufReader::new(s.try_clone().unwrap());
                conn = Some((s, r));
            }
            let (w, r) = conn.as_mut().unwrap();
            let ok = w
                .write_all(format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())
                .is_ok()
                && match read_reply(r) {
                    Ok((200, n)) => {
                        tally.bytes.fetch_add(n as u64, Ordering::Relaxed);
                        true
                    }
                    Ok((status, _)) => {
                        eprintln!("{path}: status {status}");
                        false
                    }
                    Err(e) => {
                        eprintln!("{path}: {e}");
                        false
                    }
                };
            tally.requests.fetch_add(1, Ordering::Relaxed);
            if !ok {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                conn = None;
            }
        }
    })
}

/// Reads one reply: its status and body length.
fn read_reply(r: &mut BufReader<TcpStream>) -> std::io::Result<(u16, usize)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut len = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok((status, len))
}

/// Per-call figures of one condition, one per round (mean of the threads), in ns.
#[derive(Default)]
struct Figures {
    /// Instrumented − plain, wall clock.
    overhead: Vec<f64>,
    /// Instrumented − plain, CPU time of the recording threads (not counting time they were
    /// preempted by the server or the client on this 2-core machine).
    cpu_overhead: Vec<f64>,
    instrumented: Vec<f64>,
    plain: Vec<f64>,
}

/// CPU time of the calling thread, in ns.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock and CPU ns per call of `case` over `n` calls from `start`.
fn timed(case: fn(u64, u64) -> u64, start: u64, n: u64) -> (f64, f64) {
    let cpu = thread_cpu_ns();
    let t = Instant::now();
    black_box(case(black_box(start), black_box(n)));
    let wall = t.elapsed().as_nanos() as f64;
    let cpu = (thread_cpu_ns() - cpu) as f64;
    (wall / n as f64, cpu / n as f64)
}

/// `plan.rounds` rounds on [`THREADS`] threads at once, each round the plain then the
/// instrumented case, started together by a barrier.
fn measure(plan: Plan, block: usize, into: &mut Figures) {
    let barrier = Barrier::new(THREADS);
    let per_thread: Vec<Vec<[f64; 4]>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut start = ((t as u64) << 40) + ((block as u64) << 32);
                    let mut rows = Vec::new();
                    for round in 0..plan.warmup + plan.rounds {
                        barrier.wait();
                        let (pw, pc) = timed(plain, start, plan.calls);
                        barrier.wait();
                        let (iw, ic) = timed(instrumented, start, plan.calls);
                        start += plan.calls;
                        if round >= plan.warmup {
                            rows.push([pw, pc, iw, ic]);
                        }
                    }
                    rows
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for round in 0..plan.rounds {
        let mean = |k: usize| per_thread.iter().map(|r| r[round][k]).sum::<f64>() / THREADS as f64;
        into.plain.push(mean(0));
        into.instrumented.push(mean(2));
        into.overhead.push(mean(2) - mean(0));
        into.cpu_overhead.push(mean(3) - mean(1));
    }
}

fn main() {
    let plan = Plan {
        warmup: 1,
        rounds: env_u64("PROFX_BENCH_ROUNDS", 5) as usize,
        calls: env_u64("PROFX_BENCH_CALLS", 4_000_000),
    };
    let blocks = env_u64("PROFX_BENCH_BLOCKS", 6) as usize;
    let began = Instant::now();
    print_header("server");
    println!(
        "{THREADS} threads recording #[phase] work_profx in #[agent] profx_chunk; {blocks} blocks x {} rounds x {} calls per thread and condition",
        plan.rounds, plan.calls
    );

    let mut figures: Vec<Figures> = Condition::ALL.iter().map(|_| Figures::default()).collect();
    let tallies: Vec<Arc<Tally>> = Condition::ALL.iter().map(|_| Arc::default()).collect();
    for block in 0..blocks {
        // Rotate the order so that no condition always runs first.
        for k in 0..Condition::ALL.len() {
            let c = (block + k) % Condition::ALL.len();
            let condition = Condition::ALL[c];
            let server = (condition != Condition::Off)
                .then(|| profx::server::start("127.0.0.1:0").expect("start the monitoring server"));
            let stop = Arc::new(AtomicBool::new(false));
            let client = server.as_ref().map(|s| {
                let (paths, every): (&'static [&'static str], Duration) = match condition {
                    Condition::Scraped => (&["/metrics"], Duration::from_millis(100)),
                    _ => (
                        &["/metrics", "/api/metrics", "/debug/stats"],
                        Duration::ZERO,
                    ),
                };
                client(
                    s.local_addr(),
                    paths,
                    every,
                    stop.clone(),
                    tallies[c].clone(),
                )
            });
            measure(plan, block, &mut figures[c]);
            stop.store(true, Ordering::Relaxed);
            if let Some(client) = client {
                client.join().expect("client thread");
            }
            drop(server);
        }
    }

    println!();
    println!(
        "{:<31} {:>10} {:>7} {:>10} {:>7} {:>10} {:>9} {:>9} {:>7} {:>6}",
        "condition (medians, ns/call)",
        "overhead",
        "x",
        "cpu ovh.",
        "x",
        "instr.",
        "plain",
        "requests",
        "MiB",
        "errors"
    );
    let base = median(&figures[0].overhead);
    let cpu_base = median(&figures[0].cpu_overhead);
    for (i, c) in Condition::ALL.iter().enumerate() {
        let f = &figures[i];
        let t = &tallies[i];
        let o = median(&f.overhead);
        let co = median(&f.cpu_overhead);
        println!(
            "{:<31} {:>10.2} {:>7.3} {:>10.2} {:>7.3} {:>10.2} {:>9.2} {:>9} {:>7.1} {:>6}",
            c.label(),
            o,
            o / base,
            co,
            co / cpu_base,
            median(&f.instrumented),
            median(&f.plain),
            t.requests.load(Ordering::Relaxed),
            t.bytes.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0),
            t.errors.load(Ordering::Relaxed),
        );
    }
    let scraped = median(&figures[1].overhead) / base;
    let scraped_cpu = median(&figures[1].cpu_overhead) / cpu_base;
    println!(
        "target (issue 6): overhead with /metrics scraped every 100 ms within 10% of without: wall clock x{scraped:.3}, CPU time x{scraped_cpu:.3}: {}",
        if scraped <= 1.10 { "holds" } else { "MISSED" }
    );
    let report = profx::global().report();
    let calls = report
        .agents
        .get("profx_chunk")
        .and_then(|a| a.phases.get("work_profx"))
        .map_or(0, |p| p.calls);
    println!("work_profx calls recorded in profx_chunk: {calls}");
    print_total_time(began);
}
