//! The demo workload: a few agents with phases, some failures, an async agent on tokio and one
//! slow agent that becomes a bottleneck. Run it with recording compiled in:
//!
//! ```text
//! cargo run -p profx-demo --features enabled
//! ```
//!
//! It prints the text report of what was recorded on standard output, and at the end
//! `#[profx::main]` writes what `PROFX_REPORT` asks (by default the summary, on standard error):
//!
//! ```text
//! PROFX_REPORT=html:report.html cargo run -p profx-demo --features enabled
//! PROFX_REPORT=summary,json:report.json,csv:report.csv cargo run -p profx-demo --features enabled
//! ```
//!
//! `--slow=NAME=PERCENT` makes a phase (`search`, `parse`, `file_discovery`, `parsing`,
//! `analysis`) or an agent (`codebase-locator`, `codebase-analyzer`, by time of its own) that
//! much slower, to try `profx diff` on a known regression:
//!
//! ```text
//! PROFX_REPORT=json:base.json cargo run -p profx-demo --features enabled
//! PROFX_REPORT=json:new.json cargo run -p profx-demo --features enabled -- --slow=parse=30%
//! cargo run -p profx-cli -- diff base.json new.json
//! ```
//!
//! With the monitoring server, `--serve` keeps the workload running (until Ctrl-C, or for
//! `--serve=SECONDS`) so that the dashboard, `/metrics` and the rest can be watched live:
//!
//! ```text
//! cargo run -p profx-demo --features enabled,server -- --serve
//! open http://127.0.0.1:9090/dashboard
//! ```

use std::time::Duration;

/// Counts allocations, so executions report their memory (with the `alloc` feature on:
/// `cargo run -p profx-demo --features enabled,alloc`; without it, it only forwards).
#[global_allocator]
static ALLOC: profx::CountingAlloc = profx::CountingAlloc::system();

/// Finds files whose name contains the query.
#[profx::agent(name = "codebase-locator", request = query)]
fn locate(query: &str, files: &[String]) -> Result<Vec<String>, String> {
    let candidates = search(files, query);
    let found = parse(candidates)?;
    spin(extra("codebase-locator", Duration::from_micros(320)));
    Ok(found)
}

#[profx::phase]
fn search<'a>(files: &'a [String], query: &str) -> Vec<&'a String> {
    spin(slowed("search", Duration::from_micros(200)));
    files.iter().filter(|f| f.contains(query)).collect()
}

#[profx::phase]
fn parse(candidates: Vec<&String>) -> Result<Vec<String>, String> {
    spin(slowed("parse", Duration::from_micros(120)));
    // Some real work that allocates: an index of the candidates' names.
    let _index: Vec<String> = candidates.iter().map(|c| c.to_uppercase()).collect();
    if candidates.is_empty() {
        return Err("no file matched".to_string());
    }
    Ok(candidates.into_iter().cloned().collect())
}

/// Analyses a module: three phases, the middle one nested.
#[profx::agent(name = "codebase-analyzer", request = module)]
fn analyze(module: &str) -> usize {
    let files = discover(module);
    let ast = profx::phase_block!("parsing", {
        spin(slowed("parsing", Duration::from_micros(300)));
        files * 10
    });
    let n = analysis(ast);
    spin(extra("codebase-analyzer", Duration::from_micros(700)));
    n
}

#[profx::phase(name = "file_discovery")]
fn discover(module: &str) -> usize {
    spin(slowed("file_discovery", Duration::from_micros(150)));
    module.len()
}

#[profx::phase]
fn analysis(ast: usize) -> usize {
    let _detail = profx::phase("type_check");
    spin(slowed("analysis", Duration::from_micros(250)));
    ast / 2
}

/// Slow on purpose: the bottleneck.
#[profx::agent(name = "report-writer")]
fn write_report(sections: u32) {
    for _ in 0..sections {
        render_section();
    }
}

#[profx::phase]
fn render_section() {
    std::thread::sleep(Duration::from_millis(60));
}

/// An async agent: its phases are awaited across worker threads.
#[profx::agent(name = "web-fetcher", request = url)]
async fn fetch(url: String) -> Result<usize, std::io::Error> {
    let body = download(&url).await;
    decode(body).await
}

#[profx::phase]
async fn download(url: &str) -> Vec<u8> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    url.as_bytes().to_vec()
}

#[profx::phase]
async fn decode(body: Vec<u8>) -> Result<usize, std::io::Error> {
    tokio::task::yield_now().await;
    if body.ends_with(b"/broken") {
        return Err(std::io::Error::other("malformed response"));
    }
    Ok(body.len())
}

/// A speculative fetch that its caller gives up on as soon as something else is ready: each
/// one ends *cancelled*, neither a success nor a failure.
#[profx::agent(name = "prefetcher", request = key)]
async fn prefetch(key: usize) -> usize {
    warm_cache(key).await
}

#[profx::phase]
async fn warm_cache(key: usize) -> usize {
    // Waits for a cache that never answers (and no timer: the rest of the workload's timing
    // stays as it is).
    std::future::pending::<()>().await;
    key
}

/// What `--slow=NAME=PERCENT` asked: (name, fraction).
static SLOW: std::sync::OnceLock<Vec<(String, f64)>> = std::sync::OnceLock::new();

/// The names `--slow` accepts: phases, then agents.
const SLOWABLE: [&str; 7] = [
    "search",
    "parse",
    "file_discovery",
    "parsing",
    "analysis",
    "codebase-locator",
    "codebase-analyzer",
];

fn slowdown(name: &str) -> f64 {
    SLOW.get()
        .and_then(|v| v.iter().find(|(n, _)| n == name))
        .map_or(0.0, |(_, f)| *f)
}

/// A phase's spin, `--slow` applied.
fn slowed(name: &str, d: Duration) -> Duration {
    d.mul_f64(1.0 + slowdown(name))
}

/// The time an agent spends on its own under `--slow`: the share asked of its phases' `d`.
fn extra(name: &str, d: Duration) -> Duration {
    d.mul_f64(slowdown(name))
}

/// Reads `--slow=NAME=PERCENT`.
fn slow_arg(value: &str) -> Result<(String, f64), String> {
    let (name, pct) = value
        .split_once('=')
        .ok_or("expected NAME=PERCENT, such as parse=30%")?;
    if !SLOWABLE.contains(&name) {
        return Err(format!(
            "unknown name {name:?}: accepted are {}",
            SLOWABLE.join(", ")
        ));
    }
    let pct = pct.strip_suffix('%').unwrap_or(pct);
    match pct.parse::<f64>() {
        Ok(p) if (0.0..=1000.0).contains(&p) => Ok((name.to_string(), p / 100.0)),
        _ => Err(format!(
            "bad percentage {pct:?}: expected 0 to 1000, such as 30%"
        )),
    }
}

fn spin(d: Duration) {
    let t = std::time::Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// One round of the workload: locators and analyzers on two threads, two reports, 40
/// fetches on the tokio runtime, and four prefetches given up (cancelled).
fn round(rt: &tokio::runtime::Runtime) {
    let files: Vec<String> = (0..200)
        .map(|i| format!("src/module_{i}/main.rs"))
        .collect();
    let queries = ["module_1", "module_42", "main", "missing", "module_7"];
    let scanned = profx::metrics::counter("demo_files_scanned_total", &[("kind", "source")])
        .expect("a valid metric name");
    // Two threads of locators and analyzers.
    std::thread::scope(|s| {
        for t in 0..2 {
            let (files, scanned) = (&files, &scanned);
            s.spawn(move || {
                for i in 0..100 {
                    let _ = locate(queries[(i + t) % queries.len()], files);
                    scanned.inc_by(files.len() as u64);
                    analyze(&format!("pkg_{}", i % 13));
                }
            });
        }
    });
    write_report(3);
    write_report(2);

    rt.block_on(async {
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let url = if i % 10 == 9 {
                    format!("https://example.test/{i}/broken")
                } else {
                    format!("https://example.test/{i}")
                };
                tokio::spawn(fetch(url))
            })
            .collect();
        for t in tasks {
            let _ = t.await.expect("fetch task");
        }
        for key in 0..4 {
            tokio::select! {
                biased;
                _ = prefetch(key) => {}
                () = tokio::task::yield_now() => {}
            }
        }
    });
}

/// `--serve` (until Ctrl-C) or `--serve=SECONDS`: keep the workload running with the
/// monitoring server up. `None` without the flag; exits with status 2 on a bad argument.
/// Reads `--slow=NAME=PERCENT` too.
fn serve_arg() -> Option<Option<Duration>> {
    let mut serve = None;
    let mut slow = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--serve" => serve = Some(None),
            _ if arg.starts_with("--slow=") => match slow_arg(&arg["--slow=".len()..]) {
                Ok(s) => slow.push(s),
                Err(why) => {
                    eprintln!("demo: bad {arg:?}: {why}");
                    std::process::exit(2);
                }
            },
            _ if arg.starts_with("--serve=") => {
                let value = &arg["--serve=".len()..];
                match value.parse::<u64>() {
                    Ok(secs) if secs > 0 => serve = Some(Some(Duration::from_secs(secs))),
                    _ => {
                        eprintln!("demo: bad --serve value {value:?}: expected a whole number of seconds above 0, such as --serve=60");
                        std::process::exit(2);
                    }
                }
            }
            _ => {
                eprintln!(
                    "demo: unknown argument {arg:?}: accepted are --serve, --serve=SECONDS and --slow=NAME=PERCENT"
                );
                std::process::exit(2);
            }
        }
    }
    let _ = SLOW.set(slow);
    serve
}

/// Runs rounds of the workload with the monitoring server up, until `limit` or Ctrl-C.
#[cfg(feature = "server")]
fn serve(limit: Option<Duration>, rt: &tokio::runtime::Runtime) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // `#[profx::main]` has started the server if PROFX_SERVER_ADDR is set; otherwise start one.
    let own = match std::env::var("PROFX_SERVER_ADDR") {
        Ok(addr) => {
            eprintln!("demo: dashboard at http://{addr}/dashboard");
            None
        }
        Err(_) => {
            let server = profx::server::start("127.0.0.1:9090").unwrap_or_else(|e| {
                eprintln!("demo: cannot listen on 127.0.0.1:9090 ({e}); set PROFX_SERVER_ADDR to another address");
                std::process::exit(1);
            });
            eprintln!(
                "demo: dashboard at http://{}/dashboard",
                server.local_addr()
            );
            Some(server)
        }
    };
    profx::health::register("demo-workload", || Ok(()));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::Relaxed);
        }
    });
    eprintln!(
        "demo: recording {}; Ctrl-C stops and prints the report",
        limit.map_or("until Ctrl-C".to_owned(), |l| format!(
            "for {}s",
            l.as_secs()
        ))
    );
    let began = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) && limit.is_none_or(|l| began.elapsed() < l) {
        round(rt);
    }
    drop(own);
}

#[cfg(not(feature = "server"))]
fn serve(_: Option<Duration>, _: &tokio::runtime::Runtime) {
    eprintln!("demo: --serve needs the monitoring server: cargo run -p profx-demo --features enabled,server -- --serve");
    std::process::exit(2);
}

#[profx::main]
fn main() {
    let serving = serve_arg();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    round(&rt);
    if let Some(limit) = serving {
        serve(limit, &rt);
    }

    let report = profx::global().report();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    report.write_text(&mut out).expect("write the text report");
    report
        .write_details(&mut out, "report-writer")
        .expect("write the execution details");
}
