//! The HTML report: a self-contained page with escaped names, plots of every kind, capped for
//! large reports, and — opened in headless Chromium — drawn with no script errors.

use crate::{chromium, common};

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chromium::Scratch;

use profx::{
    AggregateMetrics, ExecutionProfile, HumanBytes, HumanDuration, Outcome, Percentiles,
    PhaseMetrics, PhaseProfile, Report,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A duration as the report writes it.
fn hd(d: Duration) -> String {
    HumanDuration(d).to_string()
}

fn html(r: &Report) -> String {
    let mut out = Vec::new();
    r.write_html(&mut out).expect("write_html");
    String::from_utf8(out).expect("the page is UTF-8")
}

/// The `<svg …>…</svg>` elements whose class list contains `kind`.
fn svgs<'a>(page: &'a str, kind: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<svg") {
        let tail = &rest[start..];
        let end = tail
            .find("</svg>")
            .map_or(tail.len(), |e| e + "</svg>".len());
        let svg = &tail[..end];
        let open = &svg[..svg.find('>').unwrap_or(svg.len())];
        let classes = open
            .split("class=\"")
            .nth(1)
            .and_then(|c| c.split('"').next())
            .unwrap_or("");
        if classes.split_whitespace().any(|c| c == kind) {
            found.push(svg);
        }
        rest = &tail[end..];
    }
    found
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

// ---------------------------------------------------------------------------------------------
// The page as text

#[test]
fn one_self_contained_document() {
    let page = html(&common::fixture());
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..40]);
    assert_eq!(count(&page, "<html"), 1);
    assert_eq!(count(&page, "</html>"), 1);
    assert_eq!(count(&page, "<body>"), 1);
    assert!(page.trim_end().ends_with("</html>"));
    // Nothing to fetch: no URL at all, no external scripts, styles, images or fonts (the
    // flame graphs are images in the page itself: data URIs).
    for bad in ["http://", "https://", "@import", "url(", "<link", "//cdn"] {
        assert!(!page.contains(bad), "the page refers to {bad:?}");
    }
    for src in page.split("src=\"").skip(1) {
        assert!(
            src.starts_with("data:image/svg+xml;base64,"),
            "a source outside the page: src=\"{}",
            &src[..40.min(src.len())]
        );
    }
    for href in page.split("href=\"").skip(1) {
        assert!(
            href.starts_with('#'),
            "a link leaves the page: href=\"{}",
            &href[..40.min(href.len())]
        );
    }
    // The overall figures, human-readable.
    for text in [
        "155".to_string(),                    // executions
        hd(Duration::from_nanos(58_064_516)), // (50×42 + 100×48 + 5×420) / 155
        "97.4%".to_string(),                  // 150 of the 154 that completed (1 cancelled)
        "1 cancelled".to_string(),
        HumanBytes(2_551_249).to_string(), // average memory
        "2025-10-15 10:31:00 UTC".to_string(),
        "Bottlenecks".to_string(),
        "sev-critical".to_string(),
        "sev-medium".to_string(),
    ] {
        assert!(page.contains(&text), "the page lacks {text:?}");
    }
    // Per agent: figures and phases, with percentiles.
    for text in [
        "codebase-locator".to_string(),
        "codebase-analyzer".to_string(),
        "file_discovery".to_string(),
        hd(ms(156)),
        "P99.9".to_string(),
    ] {
        assert!(page.contains(&text), "the page lacks {text:?}");
    }
    // A phase outside any agent is listed among all phases.
    assert!(page.contains("warmup") && page.contains(&hd(Duration::from_micros(850))));
    // The failed execution's error is shown.
    assert!(page.contains("parse error: unexpected token"));
    // Busy time: the async locator's 1.1 s of its 2.1 s, its async phase's third; a sync
    // phase busy throughout.
    assert!(page.contains(">Busy</th>"));
    assert!(
        page.contains(&format!("{} (52.4%)", hd(ms(1100)))),
        "the agent's busy time"
    );
    assert!(
        page.contains("data-v=\"33.33"),
        "the async phase's busy share"
    );
    assert!(
        page.contains("data-v=\"100\">100%"),
        "a sync phase's busy share"
    );
}

#[test]
fn every_plot_kind_is_an_svg() {
    let page = html(&common::fixture());
    // Two agents have kept executions: histograms; the third has none: the percentile ladder.
    let hist = svgs(&page, "histogram");
    assert_eq!(hist.len(), 2, "histograms");
    for h in &hist {
        assert!(
            count(h, "<rect class=\"bar\"") > 0,
            "a histogram without bars: {h}"
        );
        for p in ["pct p50", "pct p95", "pct p99"] {
            assert!(h.contains(p), "a histogram without its {p} line");
        }
        assert!(h.contains("<title>"), "bars have tooltips");
    }
    let ladder = svgs(&page, "ladder");
    assert_eq!(ladder.len(), 1, "percentile ladders");
    assert_eq!(count(ladder[0], "<rect class=\"bar\""), 5);
    assert!(ladder[0].contains(&hd(ms(410))) && ladder[0].contains("p99.9"));

    let breakdown = svgs(&page, "breakdown");
    assert_eq!(breakdown.len(), 3, "phase breakdowns");
    // codebase-locator: search 750ms, parse 600ms, tokenize 200ms — sorted, shares of 2.10s.
    let loc = breakdown.iter().find(|b| b.contains("tokenize")).unwrap();
    let (s, p, t) = (
        loc.find(">search<").unwrap(),
        loc.find(">parse<").unwrap(),
        loc.find(">tokenize<").unwrap(),
    );
    assert!(s < p && p < t, "bars are sorted by total time");
    let bar = format!("{} · 35.7%", hd(ms(750)));
    assert!(loc.contains(&bar), "{loc}");

    // Waterfalls: the slowest kept execution first, the others hidden until picked.
    let falls = svgs(&page, "waterfall");
    assert_eq!(falls.len(), 3, "one per kept execution of the two agents");
    assert!(page.find("codebase-locator-18").unwrap() < page.find("codebase-locator-17").unwrap());
    assert_eq!(count(&page, "<select class=\"wf-pick\""), 1);
    assert_eq!(count(&page, "<div class=\"wf\" hidden>"), 1);
    assert!(page.contains("2 phase records were not kept"));
    for f in &falls {
        assert!(
            count(f, "<rect class=\"seg d") > 0,
            "a waterfall without phases: {f}"
        );
        assert!(f.contains("<rect class=\"exec\""));
    }
    // Nested phases are indented and coloured by depth.
    let nested = falls.iter().find(|f| f.contains("tokenize")).unwrap();
    assert!(nested.contains("seg d1"));
}

#[test]
fn the_system_section_plots_memory_over_time() {
    let r = common::fixture();
    let page = html(&r);
    let system = &page[page
        .find("<section class=\"panel\" id=\"system\">")
        .unwrap()..];
    let system = &system[..system.find("</section>").unwrap()];
    assert!(system.contains("Memory trend"));
    assert!(system.contains("increasing at +1.2 MiB/s (live heap: 12.0 MiB → 87.0 MiB over 60s)"));
    assert!(system.contains("<p class=\"alert\">"), "the growth warning");
    let plots = svgs(system, "memory");
    assert_eq!(plots.len(), 1, "one memory plot");
    let plot = plots[0];
    for line in ["series resident", "series heap", "series threads"] {
        assert_eq!(
            count(plot, &format!("<polyline class=\"{line}\"")),
            1,
            "{line}"
        );
    }
    // Every snapshot is a point of each line (61 of them; threads are drawn as steps).
    let points = |class: &str| {
        let at = plot
            .find(&format!("<polyline class=\"series {class}\" points=\""))
            .unwrap();
        let rest = &plot[at..];
        let start = rest.find("points=\"").unwrap() + 8;
        rest[start..start + rest[start..].find('"').unwrap()]
            .split(' ')
            .count()
    };
    assert_eq!(points("resident"), 61);
    assert_eq!(points("heap"), 61);
    assert_eq!(points("threads"), 61 * 2 - 1);
    assert!(plot.contains(">threads (right axis)<") && plot.contains(">live heap<"));
    assert!(
        plot.contains(">1m<") || plot.contains(">60s<"),
        "time ticks: {plot}"
    );

    // Without heap figures: resident memory and threads only; without series: no plot.
    let mut no_heap = r.clone();
    let mut snaps = common::snapshots();
    for s in &mut snaps {
        s.heap_measured = false;
    }
    no_heap.system = profx::SystemSummary::from_snapshots(&snaps, ms(1000));
    let page = html(&no_heap);
    let plot = svgs(&page, "memory")[0];
    assert!(!plot.contains("series heap") && plot.contains("series resident"));
    let mut old = r.clone();
    old.system.as_mut().unwrap().series.clear();
    let page = html(&old);
    assert!(svgs(&page, "memory").is_empty());
    assert!(page.contains("Fewer than two snapshots"));
    // A run without executions still shows its system metrics.
    let mut idle = Report::empty();
    idle.system = r.system.clone();
    let page = html(&idle);
    assert!(page.contains("No executions recorded"));
    assert_eq!(svgs(&page, "memory").len(), 1);
}

#[test]
fn user_strings_are_escaped() {
    let evil = "<script>alert('x')</script> & \"co\"";
    let mut r = common::fixture();
    let mut agent = r.agents["codebase-locator"].clone();
    let ph = agent.phases["parse"].clone();
    agent.phases.insert(evil.to_string(), ph.clone());
    r.agents.insert(evil.to_string(), agent);
    r.phases.insert(evil.to_string(), ph);
    let mut e = r.executions["codebase-locator"][1].clone();
    e.id = format!("{evil}-1");
    e.agent = evil.to_string();
    e.request = evil.to_string();
    e.error = Some(evil.to_string());
    e.phases[0].name = evil.to_string().into();
    r.executions.insert(evil.to_string(), vec![e]);
    r.bottlenecks[0].agent = evil.to_string();
    r.bottlenecks[0].phase = Some(evil.to_string());

    let page = html(&r);
    assert!(!page.contains("<script>alert"), "an unescaped name");
    assert!(!page.contains("& \"co\""), "an unescaped name");
    let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;";
    // Agent heading, overview, bottleneck, phase tables, plot labels, request, error, id.
    assert!(count(&page, escaped) >= 8, "{}", count(&page, escaped));
    // The only scripts are the report's own two.
    assert_eq!(count(&page, "<script>"), 2);
    assert_eq!(count(&page, "</script>"), 2);
}

#[test]
fn empty_report_says_so() {
    let page = html(&Report::empty());
    assert!(page.contains("No executions recorded"));
    assert!(page.contains("<title>profx report — no executions</title>"));
    assert!(page.contains("not measured"));
    assert!(!page.contains("<svg"));
    assert!(page.trim_end().ends_with("</html>"));

    // Phases outside any agent, without executions: still "no executions", and the phases.
    let mut r = Report::empty();
    r.phases = common::fixture().phases;
    let page = html(&r);
    assert!(page.contains("No executions recorded") && page.contains("warmup"));
}

#[test]
fn memory_not_measured_is_said() {
    let mut r = common::fixture();
    r.memory_measured = false;
    r.system = None; // its sizes are in MiB
    let page = html(&r);
    assert!(
        !page.contains("MiB"),
        "memory figures shown though not measured"
    );
    assert!(count(&page, "not measured") >= 4);
}

// ---------------------------------------------------------------------------------------------
// Large reports

fn pct(d: Duration) -> Percentiles {
    Percentiles {
        p50: d,
        p90: d * 2,
        p95: d * 3,
        p99: d * 4,
        p999: d * 5,
    }
}

/// `agents` × `phases` keys, with a few kept executions per agent.
fn large(agents: usize, phases: usize) -> Report {
    let mut all_phases = BTreeMap::new();
    let mut by_agent = BTreeMap::new();
    let mut executions = BTreeMap::new();
    for a in 0..agents {
        let name = format!("agent-{a:05}");
        let mut m = AggregateMetrics {
            total_executions: 100 + a as u64,
            success_count: 99 + a as u64,
            failure_count: 1,
            cancelled_count: 0,
            avg_duration: Duration::from_micros(500 + a as u64 * 7),
            self_duration: Duration::from_micros(100),
            busy_duration: Duration::from_micros(100),
            min_duration: Duration::from_micros(100),
            max_duration: Duration::from_millis(40),
            avg_memory: 4096,
            percentiles: pct(Duration::from_micros(450 + a as u64)),
            phases: BTreeMap::new(),
            long_lived: false,
        };
        for p in 0..phases {
            let pm = PhaseMetrics {
                calls: 100,
                failures: 0,
                cancelled: 0,
                total_duration: Duration::from_micros(100 * (1 + p as u64 % 97)),
                self_duration: Duration::from_micros(50 * (1 + p as u64 % 97)),
                busy_duration: Duration::from_micros(50 * (1 + p as u64 % 97)),
                avg_duration: Duration::from_micros(1 + p as u64 % 97),
                min_duration: Duration::from_nanos(500),
                max_duration: Duration::from_micros(300),
                percentiles: pct(Duration::from_micros(1)),
            };
            let pname = format!("phase-{a:05}-{p:05}");
            all_phases.insert(pname.clone(), pm.clone());
            m.phases.insert(pname, pm);
        }
        let kept: Vec<ExecutionProfile> = (0..12u64)
            .map(|i| ExecutionProfile {
                id: format!("{name}-{i}"),
                agent: name.clone(),
                request: String::new(),
                start: common::at(i),
                duration: Duration::from_micros(300 + i * 97),
                polls: 1,
                busy: Duration::from_micros(300 + i * 97),
                memory_allocated: 4096,
                allocations: 3,
                thread_count: 1,
                success: i != 5,
                outcome: if i == 5 {
                    Outcome::Failure
                } else {
                    Outcome::Success
                },
                error: (i == 5).then(|| "boom".to_string()),
                phases: (0..phases.min(200) as u64)
                    .map(|p| PhaseProfile {
                        name: format!("phase-{a:05}-{p:05}").into(),
                        start_offset: Duration::from_nanos(p * 1000),
                        duration: Duration::from_nanos(900),
                        depth: (p % 3) as u32,
                        outcome: Outcome::Success,
                    })
                    .collect(),
                phases_dropped: 0,
                parent: None,
                traceparent: None,
                thread_id: 0,
                thread_name: None,
            })
            .collect();
        executions.insert(name.clone(), kept);
        by_agent.insert(name, m);
    }
    let mut r = Report::from_parts(by_agent, all_phases, executions);
    r.memory_measured = true;
    r
}

/// An agent of 30 kept executions lasting `durations` (cycled).
fn agent_lasting(durations: &[Duration]) -> Report {
    let execs: Vec<ExecutionProfile> = (0..30u64)
        .map(|i| ExecutionProfile {
            id: format!("conn-{i}"),
            agent: "conn".into(),
            request: String::new(),
            start: common::at(i),
            duration: durations[i as usize % durations.len()],
            polls: 1,
            busy: durations[i as usize % durations.len()],
            memory_allocated: 0,
            allocations: 0,
            thread_count: 1,
            success: true,
            outcome: Outcome::Success,
            error: None,
            phases: Vec::new(),
            phases_dropped: 0,
            parent: None,
            traceparent: None,
            thread_id: 0,
            thread_name: None,
        })
        .collect();
    let m = AggregateMetrics {
        total_executions: 30,
        success_count: 30,
        avg_duration: durations[0],
        min_duration: *durations.iter().min().unwrap(),
        max_duration: *durations.iter().max().unwrap(),
        percentiles: pct(durations[0]),
        ..Default::default()
    };
    Report::from_parts(
        [("conn".to_string(), m)].into(),
        BTreeMap::new(),
        [("conn".to_string(), execs)].into(),
    )
}

#[test]
fn latency_spanning_more_than_two_decades_is_on_a_log_axis() {
    // 1.4 ms commands and one 43 s subscription: linear, every bar but one would sit in the
    // first pixels.
    let wide = agent_lasting(&[
        Duration::from_micros(1_400),
        Duration::from_micros(1_500),
        Duration::from_secs(43),
    ]);
    let page = html(&wide);
    let hist = svgs(&page, "histogram");
    assert_eq!(hist.len(), 1);
    let h = hist[0];
    assert!(h.contains("duration (log scale)"), "{h}");
    // Decade ticks from 1 ms to 100 s.
    for tick in [">1ms<", ">10ms<", ">100ms<", ">1s<", ">10s<", ">100s<"] {
        assert!(h.contains(tick), "no tick {tick}: {h}");
    }
    // The two populations land far apart: bars near the left and near the right edge.
    let xs: Vec<f64> = h
        .split("<rect class=\"bar\" x=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(xs.len(), 2, "{h}");
    assert!(xs[1] - xs[0] > 300.0, "{xs:?}");
    // Within two decades the axis stays linear.
    let narrow = agent_lasting(&[Duration::from_micros(1_400), Duration::from_millis(90)]);
    let page = html(&narrow);
    let h = svgs(&page, "histogram")[0];
    assert!(!h.contains("log scale") && h.contains(">duration<"), "{h}");
}

#[test]
fn ten_thousand_keys_render_quickly_and_capped() {
    for (agents, phases) in [(100, 100), (1, 10_000), (10_000, 1)] {
        let r = large(agents, phases);
        let keys: usize = r.agents.values().map(|a| a.phases.len()).sum();
        assert_eq!(keys, 10_000);
        let mut out = Vec::with_capacity(8 << 20);
        let t = Instant::now();
        r.write_html(&mut out).unwrap();
        let took = t.elapsed();
        let page = String::from_utf8(out).unwrap();
        println!(
            "write_html, {agents} agents x {phases} phases: {took:?}, {} KiB",
            page.len() / 1024
        );
        assert!(page.len() < 16 << 20, "{} bytes", page.len());
        // Sections, bars, waterfalls and tables are capped, and the page says so.
        assert!(count(&page, "<section class=\"panel agent\"") <= 50);
        for b in svgs(&page, "breakdown") {
            assert!(count(b, "<rect class=\"bar seg\"") <= 15);
        }
        for w in svgs(&page, "waterfall") {
            assert!(count(w, "<rect class=\"seg") <= 40);
        }
        assert!(count(&page, "<div class=\"wf\"") <= 10 * 8 + 40 * 2);
        if agents > 50 {
            assert!(page.contains("more agents are not shown in detail"));
        }
        if agents > 1000 {
            assert!(page.contains("more agents ("));
        }
        if phases > 15 {
            assert!(page.contains("more phases ("));
            assert!(page.contains("more phase records not drawn"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Headless Chromium

const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(20);

struct Rendered {
    dom: String,
    stderr: String,
}

/// Runs headless Chromium on `page` with `extra` arguments, within the timeout.
fn run_chromium(page: &str, tag: &str, extra: &[&str]) -> Rendered {
    let bin = chromium::binary();
    let scratch = Scratch::new(&format!("html-{tag}"));
    let file = scratch.0.join("report.html");
    std::fs::write(&file, page).unwrap();
    let profile = scratch.0.join("profile");
    let mut child = Command::new(&bin)
        .args(chromium::FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url(&file))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took more than {CHROMIUM_TIMEOUT:?} on the report");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    Rendered { dom, stderr }
}

fn url(file: &Path) -> String {
    format!("file://{}", file.display())
}

fn dump_dom(page: &str, tag: &str) -> Rendered {
    let r = run_chromium(page, tag, &["--dump-dom"]);
    assert!(
        r.dom.contains("</html>"),
        "no DOM dumped; stderr:\n{}",
        r.stderr
    );
    r
}

/// Every sign of a script problem: errors recorded by the page's error hook, the report's
/// script not having run to its end, and console messages Chromium logged.
fn script_problems(r: &Rendered) -> Vec<String> {
    let mut problems = Vec::new();
    let root = &r.dom[r.dom.find("<html").expect("an <html> element")..];
    let root = &root[..root.find('>').unwrap()];
    if let Some(at) = root.find("data-js-errors=\"") {
        let rest = &root[at + "data-js-errors=\"".len()..];
        problems.push(format!(
            "page error: {}",
            &rest[..rest.find('"').unwrap_or(rest.len())]
        ));
    }
    if !root.contains("data-profx-ready=\"1\"") {
        problems.push("the report's script did not run to its end".to_string());
    }
    for line in r.stderr.lines() {
        if line.contains(":CONSOLE(") || line.contains("Uncaught") {
            problems.push(format!("console: {line}"));
        }
    }
    problems
}

/// The elements drawn inside each `<svg>` of `kind` in the dumped DOM.
fn drawn(dom: &str, kind: &str) -> Vec<(usize, usize, usize)> {
    svgs(dom, kind)
        .iter()
        .map(|s| (count(s, "<rect"), count(s, "<line"), count(s, "<text")))
        .collect()
}

#[test]
fn chromium_draws_every_plot_without_script_errors() {
    if !chromium::present() {
        return;
    }
    let page = html(&common::fixture());
    let r = dump_dom(&page, "fixture");
    let problems = script_problems(&r);
    assert!(problems.is_empty(), "script problems: {problems:#?}");

    for (kind, n) in [
        ("histogram", 2),
        ("ladder", 1),
        ("breakdown", 3),
        ("waterfall", 3),
    ] {
        let plots = drawn(&r.dom, kind);
        assert_eq!(plots.len(), n, "{kind} plots in the DOM");
        for (rects, lines, texts) in plots {
            assert!(rects > 0, "a {kind} plot without bars");
            assert!(texts > 0, "a {kind} plot without labels");
            if kind != "breakdown" {
                assert!(lines > 0, "a {kind} plot without axes");
            }
        }
    }
    // The memory plot: its three lines and its labels.
    let memory = svgs(&r.dom, "memory");
    assert_eq!(memory.len(), 1, "memory plots in the DOM");
    assert_eq!(count(memory[0], "<polyline"), 3);
    assert!(count(memory[0], "<text") > 10 && count(memory[0], "<line") > 5);
    // The picker's script ran: the slowest execution shows, the other is hidden.
    assert!(r.dom.contains("<select class=\"wf-pick\""));
    assert_eq!(count(&r.dom, "class=\"wf\" hidden"), 1, "{}", r.dom);
    assert!(r.dom.contains("codebase-locator"));

    // To look at the page: PROFX_HTML_SCREENSHOT=/tmp/profx-report.png (the page is saved next
    // to it, as .html).
    if let Some(png) = std::env::var_os("PROFX_HTML_SCREENSHOT") {
        let png = PathBuf::from(png);
        std::fs::write(png.with_extension("html"), &page).unwrap();
        let shot = format!("--screenshot={}", png.display());
        run_chromium(
            &page,
            "shot",
            &[&shot, "--window-size=1400,2400", "--hide-scrollbars"],
        );
        assert!(png.is_file(), "no screenshot at {}", png.display());
    }
}

#[test]
fn chromium_shows_the_empty_report() {
    if !chromium::present() {
        return;
    }
    let r = dump_dom(&html(&Report::empty()), "empty");
    let problems = script_problems(&r);
    assert!(problems.is_empty(), "script problems: {problems:#?}");
    assert!(r.dom.contains("No executions recorded"));
}

/// Picking another execution in the waterfall's menu shows its waterfall instead.
#[test]
fn chromium_switches_waterfalls() {
    if !chromium::present() {
        return;
    }
    let page = html(&common::fixture());
    let pick = "<script>var s = document.querySelector('select.wf-pick'); s.value = '1'; \
                s.dispatchEvent(new Event('change'));</script>\n</body>";
    let picked = page.replacen("</body>", pick, 1);
    let r = dump_dom(&picked, "pick");
    let problems = script_problems(&r);
    assert!(problems.is_empty(), "script problems: {problems:#?}");
    let group = &r.dom[r.dom.find("id=\"wf-pick-").unwrap()..];
    let first = group.find("codebase-locator-18</dd>").unwrap();
    let second = group.find("codebase-locator-17</dd>").unwrap();
    let pane_before = |at: usize| &group[group[..at].rfind("<div class=\"wf\"").unwrap()..at];
    assert!(
        pane_before(first).starts_with("<div class=\"wf\" hidden"),
        "the slowest still shows"
    );
    assert!(
        !pane_before(second).contains("hidden"),
        "the picked one is hidden"
    );
}

/// The locator's phase table: by self time (`parse`, 400 ms of its own, after `search`'s 750 ms
/// though its total is less), and sorted by another column when its header is clicked.
#[test]
fn chromium_sorts_a_phase_table_by_the_clicked_column() {
    let page = html(&common::fixture());
    let table = |dom: &str| {
        let at = dom.find("id=\"agent-1\"").unwrap_or(0);
        let rest = &dom[at..];
        let t = &rest[rest.find("<table class=\"phases sortable\"").unwrap()..];
        let t = &t[..t.find("</table>").unwrap()];
        t.split("<td class=\"name\">")
            .skip(1)
            .map(|c| c[..c.find('<').unwrap()].to_string())
            .collect::<Vec<_>>()
    };
    // The locator is the second agent by name.
    assert_eq!(
        table(&page),
        ["search", "parse", "tokenize"],
        "by self time"
    );
    assert!(page.contains("<th class=\"num\" title=\"The calls' own time"));
    assert!(page.contains("<td class=\"num\" data-v=\"400000000\">400ms</td>"));
    if !chromium::present() {
        return;
    }
    // A click on "Max" (70 ms for parse, 60 for search): the largest first.
    let click = "<script>var t = document.querySelectorAll('table.phases.sortable')[1]; \
                 var th = Array.prototype.filter.call(t.tHead.rows[0].cells, \
                 function (c) { return c.textContent === 'Max'; })[0]; th.click();</script>\n</body>";
    let r = dump_dom(&page.replacen("</body>", click, 1), "sort");
    let problems = script_problems(&r);
    assert!(problems.is_empty(), "script problems: {problems:#?}");
    assert_eq!(
        table(&r.dom),
        ["parse", "search", "tokenize"],
        "by max, the largest first"
    );
    assert!(r.dom.contains("aria-sort=\"descending\""));
}

/// The check above would catch a broken page: a script error and an unfinished report script.
#[test]
fn chromium_check_catches_script_errors() {
    if !chromium::present() {
        return;
    }
    let page = html(&common::fixture());
    let broken = page.replacen(
        "<script>\n// profx HTML report",
        "<script>noSuchFunction();</script>\n<script>\n// profx HTML report",
        1,
    );
    assert_ne!(broken, page, "the injection point moved");
    let problems = script_problems(&dump_dom(&broken, "broken"));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("page error") && p.contains("noSuchFunction")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("console:") && p.contains("noSuchFunction")),
        "{problems:#?}"
    );

    // A report script that dies half-way is caught too.
    let dying = page.replacen(
        "'use strict';\n  function show",
        "'use strict';\n  null.x;\n  function show",
        1,
    );
    assert_ne!(dying, page, "the injection point moved");
    let problems = script_problems(&dump_dom(&dying, "dying"));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("did not run to its end")),
        "{problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Flame graphs (feature `flamegraph`)

/// The bytes of standard base64 (RFC 4648).
#[cfg(feature = "flamegraph")]
fn unbase64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(value).collect();
    digits
        .chunks(4)
        .flat_map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes[..c.len() - 1].to_vec()
        })
        .collect()
}

/// Each agent with kept executions gets its flame graph: an SVG (drawn by inferno) of its own
/// stacks, and Chromium decodes every one of them.
#[cfg(feature = "flamegraph")]
#[test]
fn every_agent_with_executions_has_its_flame_graph() {
    let report = common::fixture();
    let page = html(&report);
    let with_execs: Vec<&String> = report
        .executions
        .iter()
        .filter(|(_, e)| !e.is_empty())
        .map(|(a, _)| a)
        .collect();
    let figures: Vec<&str> = page
        .split("<figure class=\"flame\">")
        .skip(1)
        .map(|f| &f[..f.find("</figure>").unwrap()])
        .collect();
    assert_eq!(figures.len(), with_execs.len());
    for (fig, agent) in figures.iter().zip(&with_execs) {
        let data = fig
            .split("src=\"data:image/svg+xml;base64,")
            .nth(1)
            .and_then(|d| d.split('"').next())
            .expect("an image with a data URI");
        let svg = String::from_utf8(unbase64(data)).expect("an SVG in UTF-8");
        assert!(svg.contains("<svg"), "{svg}");
        // Its own agent and phases, no other agent's.
        let title = agent.replace('&', "&amp;").replace('"', "&quot;");
        assert!(
            svg.contains(&title) || svg.contains(agent.as_str()),
            "{agent}"
        );
        for other in with_execs.iter().filter(|o| o != &agent) {
            assert!(
                !svg.contains(&format!(">{other}<")),
                "{agent} shows {other}"
            );
        }
        for e in &report.executions[agent.as_str()] {
            for p in &e.phases {
                assert!(
                    svg.contains(p.name.as_str()),
                    "{agent}: {}",
                    p.name.as_str()
                );
            }
        }
    }
    if !chromium::present() {
        return;
    }
    let probe = "<script>window.addEventListener('load', function () {\
        var w = [].map.call(document.querySelectorAll('figure.flame img'), function (i) {\
          return i.complete ? i.naturalWidth : -1; });\
        document.body.setAttribute('data-flames', w.join(','));\
      });</script>\n</body>";
    let probed = page.replacen("</body>", probe, 1);
    let r = dump_dom(&probed, "flames");
    let widths = r
        .dom
        .split("data-flames=\"")
        .nth(1)
        .and_then(|d| d.split('"').next())
        .expect("the probe ran");
    let widths: Vec<i64> = widths.split(',').map(|w| w.parse().unwrap()).collect();
    assert_eq!(widths.len(), with_execs.len());
    assert!(
        widths.iter().all(|&w| w > 0),
        "images not decoded: {widths:?}"
    );
}
