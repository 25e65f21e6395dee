//! The CPU profile endpoint (feature `pprof`) over real HTTP/1.1 on loopback: the profiles are
//! decoded with pprof-rs' own protobuf types and must show a busy function of this test.
#![cfg(all(feature = "enabled", feature = "server", feature = "pprof", unix))]

use std::hint::black_box;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pprof::protos::{Message, Profile};
use profx::server::{self, Builder};

#[path = "common/http.rs"]
mod http;

use http::{get, Reply};

/// The name the profiles must show.
const BUSY: &str = "profx_pprof_test_busy_spin";

/// Only one profile runs in a process: the tests that profile take turns.
static PROFILING: Mutex<()> = Mutex::new(());

fn one_profile_at_a_time() -> MutexGuard<'static, ()> {
    PROFILING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Burns CPU with real arithmetic until `stop`; the profiles must find it on the stack.
#[inline(never)]
fn profx_pprof_test_busy_spin(stop: &AtomicBool) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..10_000u64 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i) ^ (x >> 29));
        }
    }
    x
}

/// A thread running [`profx_pprof_test_busy_spin`] until dropped.
struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Spinner {
    fn start() -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("busy-spin".to_owned())
            .spawn(move || profx_pprof_test_busy_spin(&flag))
            .unwrap();
        Spinner {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            black_box(t.join().unwrap());
        }
    }
}

/// Whether a `SIGPROF` handler is installed: pprof-rs installs one while it profiles (and sets
/// the signal to "ignore" when it stops). Reading the disposition changes nothing.
fn profiler_running() -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGPROF, std::ptr::null(), &mut old),
            0
        );
        old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN
    }
}

/// Waits (at most 30 s) until a profile is running.
fn wait_until_profiling() {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !profiler_running() {
        assert!(Instant::now() < deadline, "the profile never started");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn decode(reply: &Reply) -> Profile {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        reply.header("content-disposition"),
        Some("attachment; filename=\"profile.pb\"")
    );
    Profile::decode(&reply.body[..]).expect("a pprof protobuf profile")
}

/// The name of each function of `profile`, by function id.
fn function_names(profile: &Profile) -> std::collections::HashMap<u64, &str> {
    profile
        .function
        .iter()
        .map(|f| (f.id, profile.string_table[f.name as usize].as_str()))
        .collect()
}

/// Whether the stack of `sample` runs through a function whose name contains `name`.
fn on_stack(
    profile: &Profile,
    names: &std::collections::HashMap<u64, &str>,
    sample_locations: &[u64],
    name: &str,
) -> bool {
    sample_locations.iter().any(|loc_id| {
        profile
            .location
            .iter()
            .filter(|l| l.id == *loc_id)
            .flat_map(|l| &l.line)
            .any(|line| names[&line.function_id].contains(name))
    })
}

#[test]
fn profile_is_pprof_protobuf_with_the_busy_function_on_most_samples() {
    let _turn = one_profile_at_a_time();
    // A request timeout shorter than the profile: the endpoint gets `seconds` more.
    let server = Builder::new()
        .addr("127.0.0.1:0")
        .request_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let spinner = Spinner::start();
    let reply = get(server.local_addr(), "/debug/pprof/profile?seconds=1");
    drop(spinner);
    assert!(!profiler_running(), "the profiler stops with the request");
    let profile = decode(&reply);

    // Two values per sample: samples/count and cpu/nanoseconds.
    let types: Vec<(&str, &str)> = profile
        .sample_type
        .iter()
        .map(|t| {
            (
                profile.string_table[t.ty as usize].as_str(),
                profile.string_table[t.unit as usize].as_str(),
            )
        })
        .collect();
    assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
    assert_eq!(profile.string_table[0], "");

    let total: i64 = profile.sample.iter().map(|s| s.value[0]).sum();
    assert!(total > 0, "no sample in {} bytes", reply.body.len());
    assert!(
        profile.string_table.iter().any(|s| s.contains(BUSY)),
        "{BUSY} is not in the string table"
    );
    let names = function_names(&profile);
    assert!(names.values().any(|n| n.contains(BUSY)));
    let busy: i64 = profile
        .sample
        .iter()
        .filter(|s| on_stack(&profile, &names, &s.location_id, BUSY))
        .map(|s| s.value[0])
        .sum();
    // The profiler's own unwinding is not on the stacks.
    for sample in &profile.sample {
        let leaf = names[&profile
            .location
            .iter()
            .find(|l| l.id == sample.location_id[0])
            .unwrap()
            .line[0]
            .function_id];
        assert!(!leaf.starts_with("backtrace::"), "leaf {leaf}");
        assert!(!on_stack(
            &profile,
            &names,
            &sample.location_id,
            "pprof::backtrace::"
        ));
    }
    // The spinning thread is the only one of this process that keeps a core busy.
    assert!(busy * 2 > total, "{BUSY} on {busy} of {total} samples");
    eprintln!(
        "1 s at 100 Hz: {} bytes, {total} samples ({busy} in {BUSY}), {} functions",
        reply.body.len(),
        profile.function.len()
    );
    server.stop();
}

#[test]
fn flamegraph_is_svg_with_the_busy_function() {
    let _turn = one_profile_at_a_time();
    let server = server::start("127.0.0.1:0").unwrap();
    let spinner = Spinner::start();
    let reply = get(
        server.local_addr(),
        "/debug/pprof/profile?seconds=1&hz=250&format=flamegraph",
    );
    drop(spinner);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("image/svg+xml"));
    let svg = reply.text();
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains(BUSY), "{BUSY} is not in the flame graph");
    assert!(svg.contains("CPU profile, 1 s at 250 Hz"));
    server.stop();
}

#[test]
fn bad_parameters_are_400_naming_the_value() {
    // Not profiling, but it checks that no profile starts.
    let _turn = one_profile_at_a_time();
    let server = server::start("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    for (query, value, accepted) in [
        ("seconds=0", "\"0\"", "1 to 300"),
        ("seconds=abc", "\"abc\"", "1 to 300"),
        ("seconds=100000", "\"100000\"", "1 to 300"),
        ("seconds=1&hz=0", "\"0\"", "1 to 1000"),
        ("seconds=1&hz=fast", "\"fast\"", "1 to 1000"),
        ("seconds=1&format=png", "\"png\"", "flamegraph"),
    ] {
        let reply = get(addr, &format!("/debug/pprof/profile?{query}"));
        assert_eq!(reply.status, 400, "{query}: {}", reply.text());
        let text = reply.text();
        assert!(
            text.contains(value) && text.contains(accepted),
            "{query}: {text}"
        );
    }
    assert!(
        !profiler_running(),
        "a refused request started the profiler"
    );
    // Still serving.
    assert_eq!(get(addr, "/debug/build").status, 200);
    server.stop();
}

#[test]
fn a_second_profile_is_409_while_the_first_runs_and_the_server_keeps_serving() {
    let _turn = one_profile_at_a_time();
    let server = server::start("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    let spinner = Spinner::start();
    let first = std::thread::spawn(move || get(addr, "/debug/pprof/profile?seconds=3"));
    wait_until_profiling();

    let second = get(addr, "/debug/pprof/profile?seconds=1");
    assert_eq!(second.status, 409, "{}", second.text());
    assert!(
        second.text().contains("already running"),
        "{}",
        second.text()
    );
    let flame = get(addr, "/debug/pprof/profile?seconds=1&format=flamegraph");
    assert_eq!(flame.status, 409);

    // The server's thread is free while the profile runs.
    let health = get(addr, "/health");
    assert_eq!(health.status, 200, "{}", health.text());
    let build = get(addr, "/debug/build");
    assert_eq!(build.status, 200);
    assert!(build.text().contains("\"pprof\""), "{}", build.text());
    // ... and all that was answered during the first profile.
    assert!(!first.is_finished(), "the first profile ended too early");
    assert_eq!(
        get(addr, "/debug/pprof/profile?seconds=1").status,
        409,
        "the first profile still runs"
    );

    let first = first.join().unwrap();
    drop(spinner);
    let profile = decode(&first);
    assert!(!profile.sample.is_empty());
    assert!(!profiler_running());

    // Once it is done, profiling is possible again.
    let again = get(addr, "/debug/pprof/profile?seconds=1");
    assert_eq!(again.status, 200, "{}", again.text());
    server.stop();
}

#[test]
fn a_profiler_started_elsewhere_in_the_process_is_409() {
    let _turn = one_profile_at_a_time();
    let server = server::start("127.0.0.1:0").unwrap();
    let guard = pprof::ProfilerGuard::new(100).expect("no other profile runs");
    let reply = get(server.local_addr(), "/debug/pprof/profile?seconds=1");
    assert_eq!(reply.status, 409, "{}", reply.text());
    drop(guard);
    assert!(!profiler_running());
    server.stop();
}

#[test]
fn a_client_that_hangs_up_stops_its_profile() {
    let _turn = one_profile_at_a_time();
    let server = server::start("127.0.0.1:0").unwrap();
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.write_all(b"GET /debug/pprof/profile?seconds=300 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    wait_until_profiling();
    drop(s);
    // Bounded: far less than the 300 s asked for.
    let deadline = Instant::now() + Duration::from_secs(30);
    while profiler_running() {
        assert!(Instant::now() < deadline, "the profile outlives its client");
        std::thread::sleep(Duration::from_millis(10));
    }
    let again = get(server.local_addr(), "/debug/pprof/profile?seconds=1");
    assert_eq!(again.status, 200, "{}", again.text());
    server.stop();
}
