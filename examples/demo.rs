//! The demo workload: a few agents with phases, some failures, an async agent on tokio and one
//! slow agent that becomes a bottleneck. Run it with recording compiled in:
//!
//! ```text
//! cargo run --example demo --features enabled
//! ```
//!
//! It prints the text report of what was recorded on standard output, and at the end
//! `#[profx::main]` writes what `PROFX_REPORT` asks (by default the summary, on standard error):
//!
//! ```text
//! PROFX_REPORT=html:report.html cargo run --example demo --features enabled
//! PROFX_REPORT=summary,json:report.json,csv:report.csv cargo run --example demo --features enabled
//! ```

use std::time::Duration;

/// Counts allocations, so executions report their memory (with the `alloc` feature on:
/// `cargo run --example demo --features enabled,alloc`; without it, it only forwards).
#[global_allocator]
static ALLOC: profx::CountingAlloc = profx::CountingAlloc::system();

/// Finds files whose name contains the query.
#[profx::agent(name = "codebase-locator", request = query)]
fn locate(query: &str, files: &[String]) -> Result<Vec<String>, String> {
    let candidates = search(files, query);
    let found = parse(candidates)?;
    Ok(found)
}

#[profx::phase]
fn search<'a>(files: &'a [String], query: &str) -> Vec<&'a String> {
    spin(Duration::from_micros(200));
    files.iter().filter(|f| f.contains(query)).collect()
}

#[profx::phase]
fn parse(candidates: Vec<&String>) -> Result<Vec<String>, String> {
    spin(Duration::from_micros(120));
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
        spin(Duration::from_micros(300));
        files * 10
    });
    analysis(ast)
}

#[profx::phase(name = "file_discovery")]
fn discover(module: &str) -> usize {
    spin(Duration::from_micros(150));
    module.len()
}

#[profx::phase]
fn analysis(ast: usize) -> usize {
    let _detail = profx::phase("type_check");
    spin(Duration::from_micros(250));
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

fn spin(d: Duration) {
    let t = std::time::Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[profx::main]
fn main() {
    let files: Vec<String> = (0..200)
        .map(|i| format!("src/module_{i}/main.rs"))
        .collect();
    let queries = ["module_1", "module_42", "main", "missing", "module_7"];
    // Two threads of locators and analyzers.
    std::thread::scope(|s| {
        for t in 0..2 {
            let files = &files;
            s.spawn(move || {
                for i in 0..100 {
                    let _ = locate(queries[(i + t) % queries.len()], files);
                    analyze(&format!("pkg_{}", i % 13));
                }
            });
        }
    });
    write_report(3);
    write_report(2);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
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
    });

    let report = profx::global().report();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    report.write_text(&mut out).expect("write the text report");
    report
        .write_details(&mut out, "report-writer")
        .expect("write the execution details");
}
