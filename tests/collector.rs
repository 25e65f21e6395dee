//! The system metrics collector (SPEC §5): a leak reads as an increasing memory trend and a
//! steady loop as stable; `stop()` joins its thread; snapshots are bounded and averaged right;
//! the shutdown guard runs the global collector and its report carries the system summary.
//!
//! The tests of this file run one at a time (they share the process's memory and threads,
//! which is what they measure). The counting allocator is installed, so with `--all-features`
//! the heap figures are measured and the trend is of live heap bytes; the resident-memory
//! trend is checked as well.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use profx::{MemoryKind, MemoryTrend, MetricsCollector, SystemAverage, TrendDirection};

#[global_allocator]
static ALLOC: profx::CountingAlloc = profx::CountingAlloc::system();

const MIB: usize = 1024 * 1024;

/// One test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether this build samples at all.
const ON: bool = cfg!(feature = "enabled");

/// Whether the counting allocator counts in this build.
const HEAP: bool = cfg!(all(feature = "enabled", feature = "alloc"));

/// `Threads:` of /proc/self/status.
fn process_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Threads of this process named `profx-collector` (from /proc/self/task/*/comm).
fn collector_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "profx-collector")
        .count()
}

/// Whether `cond` holds within a second (a new thread names itself once it runs).
fn soon(cond: impl Fn() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(1) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

fn on_linux() -> bool {
    cfg!(target_os = "linux")
}

/// A block of `n` bytes with every page written, so that it is resident.
fn touched(n: usize) -> Vec<u8> {
    vec![1u8; n]
}

/// A program that allocates 2 MiB every 20 ms and keeps it: resident memory (and the live
/// heap) grows by about 100 MiB/s.
#[test]
fn a_leak_reads_as_increasing() {
    let _serial = serial();
    let c = MetricsCollector::new(Duration::from_millis(20));
    c.start();
    let mut kept = Vec::new();
    for _ in 0..25 {
        kept.push(touched(2 * MIB));
        std::thread::sleep(Duration::from_millis(20));
    }
    c.stop();
    let snaps = c.snapshots();
    drop(kept);
    if !ON {
        assert!(snaps.is_empty() && c.memory_trend().is_none());
        return;
    }
    assert!(snaps.len() >= 10, "{} snapshots", snaps.len());
    let trend = c.memory_trend().expect("a trend");
    assert_eq!(trend.direction, TrendDirection::Increasing, "{trend}");
    assert!(trend.rate_bytes_per_sec > 0.0, "{trend}");
    assert!(trend.end_bytes > trend.start_bytes, "{trend}");
    assert_eq!(
        trend.memory,
        if HEAP {
            MemoryKind::HeapLive
        } else {
            MemoryKind::Resident
        }
    );
    if HEAP {
        // 50 MiB kept over ~0.5 s.
        assert!(
            trend.end_bytes - trend.start_bytes >= 40 * MIB as u64,
            "{trend}"
        );
        assert!(snaps.iter().all(|s| s.heap_measured));
        let last = snaps.last().unwrap();
        assert!(last.allocated_total_bytes >= last.heap_live_bytes);
        assert!(last.allocations >= last.deallocations);
    }
    // The resident set grows as well.
    if on_linux() {
        let resident: Vec<(SystemTime, u64)> = snaps
            .iter()
            .map(|s| (s.timestamp, s.resident_bytes))
            .collect();
        let rss = MemoryTrend::fit(&resident, MemoryKind::Resident).unwrap();
        assert_eq!(rss.direction, TrendDirection::Increasing, "{rss}");
        assert!(rss.rate_bytes_per_sec > 10.0 * MIB as f64, "{rss}");
    }
    // The summary carries the trend; half a second is too short for the leak warning, which
    // needs 5 snapshots over 5 s (the trend's unit tests cover it).
    let summary = c.summary().unwrap();
    let t = summary.trend.as_ref().unwrap();
    assert_eq!(t.direction, TrendDirection::Increasing, "{summary:?}");
    assert!(summary.memory_growth_warning().is_none(), "{summary:?}");
}

/// The same rhythm without keeping anything: stable.
#[test]
fn a_steady_loop_reads_as_stable() {
    let _serial = serial();
    let mut buffer = touched(2 * MIB);
    let c = MetricsCollector::new(Duration::from_millis(20));
    c.start();
    for i in 0..25u8 {
        // Work on the same memory, and allocate and free some more (a little: a snapshot
        // taken while it is live must stay within the tolerance).
        buffer.iter_mut().step_by(4096).for_each(|b| *b = i);
        let scratch = touched(16 * 1024);
        std::hint::black_box(&scratch);
        drop(scratch);
        std::thread::sleep(Duration::from_millis(20));
    }
    c.stop();
    std::hint::black_box(&buffer);
    if !ON {
        assert!(c.memory_trend().is_none());
        return;
    }
    let trend = c.memory_trend().expect("a trend");
    assert_eq!(trend.direction, TrendDirection::Stable, "{trend}");
    assert!(c.summary().unwrap().memory_growth_warning().is_none());
}

#[test]
fn stop_joins_the_thread_and_is_idempotent() {
    let _serial = serial();
    // Let the thread of the test before this one finish leaving.
    std::thread::sleep(Duration::from_millis(50));
    let before = process_threads();
    let c = MetricsCollector::new(Duration::from_millis(10));
    c.start();
    c.start(); // already running: nothing more
    if ON && on_linux() {
        assert!(c.is_running());
        assert_eq!(process_threads(), before + 1);
        assert!(soon(|| collector_threads() == 1));
    }
    std::thread::sleep(Duration::from_millis(50));
    c.stop();
    // Joined: the thread is gone the moment stop() returns.
    assert!(!c.is_running());
    assert_eq!(collector_threads(), 0);
    if on_linux() {
        assert_eq!(process_threads(), before);
    }
    c.stop(); // twice is fine
    let n = c.snapshots().len();
    if ON {
        assert!(n >= 3, "{n} snapshots");
    }

    // It starts again, and keeps what it had.
    c.start();
    std::thread::sleep(Duration::from_millis(30));
    c.stop();
    if ON {
        assert!(c.snapshots().len() > n);
    }

    // Dropping a running collector stops it.
    {
        let d = MetricsCollector::new(Duration::from_millis(10));
        d.start();
        if ON && on_linux() {
            assert!(soon(|| collector_threads() == 1));
        }
    }
    assert_eq!(collector_threads(), 0);
}

#[test]
fn stop_does_not_wait_for_the_interval() {
    let _serial = serial();
    let c = MetricsCollector::new(Duration::from_secs(30));
    c.start();
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(20));
    c.stop();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    if ON {
        // The first snapshot (taken by start) only: the closing one is skipped so soon after.
        assert_eq!(c.snapshots().len(), 1);
        assert!(c.memory_trend().is_none(), "one snapshot has no trend");
        let a = c.average().unwrap();
        assert_eq!(a.samples, 1);
    }
}

#[test]
fn snapshots_are_kept_in_a_bounded_ring() {
    let _serial = serial();
    assert_eq!(MetricsCollector::DEFAULT_CAPACITY, 3600);
    let t0 = SystemTime::now();
    let c = MetricsCollector::with_capacity(Duration::from_millis(1), 8);
    assert_eq!(c.capacity(), 8);
    c.start();
    std::thread::sleep(Duration::from_millis(120));
    c.stop();
    let snaps = c.snapshots();
    if !ON {
        assert!(snaps.is_empty() && c.average().is_none() && c.summary().is_none());
        return;
    }
    assert_eq!(snaps.len(), 8);
    assert!(snaps.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    // The oldest were dropped: what is kept is from the end of the run.
    let oldest = snaps[0].timestamp.duration_since(t0).unwrap();
    assert!(oldest >= Duration::from_millis(40), "{oldest:?}");
}

#[test]
fn the_average_is_that_of_the_snapshots() {
    let _serial = serial();
    let c = MetricsCollector::new(Duration::from_millis(10));
    c.start();
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < Duration::from_millis(120) {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
    c.stop();
    let snaps = c.snapshots();
    let avg = c.average();
    if !ON {
        assert!(avg.is_none());
        return;
    }
    let avg = avg.unwrap();
    let n = snaps.len() as u64;
    assert_eq!(avg.samples, n);
    assert_eq!(
        avg.avg_resident_bytes,
        snaps.iter().map(|s| s.resident_bytes).sum::<u64>() / n
    );
    assert_eq!(
        avg.avg_virtual_bytes,
        snaps.iter().map(|s| s.virtual_bytes).sum::<u64>() / n
    );
    let threads = snaps.iter().map(|s| s.threads as f64).sum::<f64>() / n as f64;
    assert!((avg.avg_threads - threads).abs() < 1e-9);
    let (first, last) = (&snaps[0], &snaps[snaps.len() - 1]);
    let wall = last.timestamp.duration_since(first.timestamp).unwrap();
    let cpu = (last.cpu_time - first.cpu_time).as_secs_f64() * 100.0 / wall.as_secs_f64();
    assert!((avg.avg_cpu_percent - cpu).abs() < 1e-9);
    assert_eq!(avg, SystemAverage::of(&snaps).unwrap());
    if on_linux() {
        // A busy loop: some CPU (how much depends on what else the machine runs).
        assert!(last.cpu_time >= first.cpu_time);
        assert!(snaps
            .iter()
            .all(|s| s.cpu_percent >= 0.0 && s.cpu_percent.is_finite()));
        assert!(avg.avg_resident_bytes > 0 && avg.avg_threads >= 2.0);
    }
    assert_eq!(avg.heap_measured, HEAP);
    // The summary agrees.
    let s = c.summary().unwrap();
    assert_eq!(s.average(), avg);
    assert_eq!(s.interval, Duration::from_millis(10));
    assert_eq!(s.series.len(), snaps.len());
}

/// A shutdown guard runs the global collector: the global profiler's report carries its
/// summary while it runs and in the report written when the guard drops.
#[test]
fn the_report_guard_runs_the_global_collector() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("profx-collector-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("report.json");
    let guard = profx::ReportGuard::with_targets(&format!("json:{}", json.display())).unwrap();
    let global = profx::global_collector();
    if !ON {
        assert!(!global.is_running());
        drop(guard);
        assert!(!json.exists(), "nothing is written without recording");
        assert!(profx::global().report().system.is_none());
        return;
    }
    assert!(global.is_running());
    assert_eq!(
        global.interval(),
        Duration::from_secs(1),
        "PROFX_METRICS_INTERVAL default"
    );
    let running = profx::global()
        .report()
        .system
        .expect("the running collector's summary");
    assert!(running.samples >= 1);
    // An isolated profiler's report has no system metrics: they are the process's.
    assert!(profx::Profiler::new(true).report().system.is_none());
    std::thread::sleep(Duration::from_millis(150));
    drop(guard);
    assert!(!global.is_running());
    assert_eq!(collector_threads(), 0);
    let report: profx::Report =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let system = report
        .system
        .expect("the written report has system metrics");
    // The first snapshot, and the closing one taken by the guard: plotted, but too few to
    // say where memory is heading.
    assert!(system.samples >= 2, "{system:?}");
    assert!(system.series.len() >= 2, "{system:?}");
    assert_eq!(
        system.trend.is_some(),
        system.samples >= profx::MemoryTrend::MIN_SAMPLES as u64,
        "{system:?}"
    );
    assert_eq!(system.interval, Duration::from_secs(1));
    std::fs::remove_dir_all(&dir).ok();
}

/// `PROFX_METRICS_INTERVAL` sets the global collector's interval (checked in a child process,
/// whose global profiler reads the variable when it starts).
#[test]
fn the_global_interval_comes_from_the_environment() {
    const CHILD: &str = "PROFX_COLLECTOR_INTERVAL_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let expected = if ON {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(1)
        };
        assert_eq!(profx::global_collector().interval(), expected);
        return;
    }
    let _serial = serial();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "the_global_interval_comes_from_the_environment",
            "--exact",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("PROFX_METRICS_INTERVAL", "50ms")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}
