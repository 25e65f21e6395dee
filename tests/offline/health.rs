//! Health checks through the facade: pass, fail, hang, panic, replace, and the JSON shape.
//!
//! The registry is process-wide and `run` runs every check, so the tests take turns (`serial`)
//! and each starts from an empty registry.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use profx::health::{self, HealthStatus};

/// One test at a time, with no check left from another.
fn serial() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let guard = TURN.lock().unwrap_or_else(|e| e.into_inner());
    for name in health::names() {
        health::unregister(&name);
    }
    guard
}

const TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn all_passing_is_healthy() {
    let _turn = serial();
    assert!(health::run(TIMEOUT).is_healthy(), "nothing registered");
    health::register("db", || Ok(()));
    health::register("cache", || Ok(()));
    let report = health::run(TIMEOUT);
    assert_eq!(report.status, HealthStatus::Healthy);
    let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cache", "db"]);
    for c in &report.checks {
        assert_eq!(c.status, HealthStatus::Healthy);
        assert_eq!(c.message, None);
        assert!(c.duration < TIMEOUT);
    }
}

#[test]
fn one_failing_is_unhealthy_with_its_message() {
    let _turn = serial();
    health::register("db", || Ok(()));
    health::register("disk", || Err("only 3% free on /var".to_string()));
    let report = health::run(TIMEOUT);
    assert_eq!(report.status, HealthStatus::Unhealthy);
    let disk = report.checks.iter().find(|c| c.name == "disk").unwrap();
    assert_eq!(disk.status, HealthStatus::Unhealthy);
    assert_eq!(disk.message.as_deref(), Some("only 3% free on /var"));
    let db = report.checks.iter().find(|c| c.name == "db").unwrap();
    assert_eq!(db.status, HealthStatus::Healthy);
}

#[test]
fn a_hanging_check_times_out_and_run_returns() {
    let _turn = serial();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    health::register("hangs", move || {
        c.fetch_add(1, SeqCst);
        std::thread::sleep(Duration::from_secs(10));
        Ok(())
    });
    health::register("quick", || Ok(()));
    let timeout = Duration::from_millis(200);

    let start = Instant::now();
    let report = health::run(timeout);
    let took = start.elapsed();
    assert!(took >= timeout, "{took:?}");
    assert!(took < timeout + Duration::from_millis(500), "{took:?}");
    assert_eq!(report.status, HealthStatus::Unhealthy);
    let hung = report.checks.iter().find(|c| c.name == "hangs").unwrap();
    assert_eq!(hung.status, HealthStatus::Unhealthy);
    assert_eq!(hung.message.as_deref(), Some("timed out after 200ms"));
    assert_eq!(hung.duration, timeout);
    let quick = report.checks.iter().find(|c| c.name == "quick").unwrap();
    assert_eq!(quick.status, HealthStatus::Healthy);

    // Still hung: the next run does not start a second instance, and says so.
    let start = Instant::now();
    let report = health::run(timeout);
    assert!(start.elapsed() < timeout + Duration::from_millis(500));
    let hung = report.checks.iter().find(|c| c.name == "hangs").unwrap();
    let message = hung.message.as_deref().unwrap();
    assert!(
        message.starts_with("timed out after 200ms (still running from an earlier run, for "),
        "{message}"
    );
    assert_eq!(calls.load(SeqCst), 1);
    health::unregister("hangs");
}

#[test]
fn a_panicking_check_fails_with_the_panic_text() {
    let _turn = serial();
    health::register("explodes", || panic!("pool exhausted: {} connections", 16));
    health::register("fine", || Ok(()));
    let report = health::run(TIMEOUT);
    assert_eq!(report.status, HealthStatus::Unhealthy);
    let boom = report.checks.iter().find(|c| c.name == "explodes").unwrap();
    assert_eq!(
        boom.message.as_deref(),
        Some("panicked: pool exhausted: 16 connections")
    );
    // It can run again: the panic left nothing behind.
    let again = health::run(TIMEOUT);
    assert_eq!(again.checks.len(), 2);
    assert_eq!(again.checks[0].message, boom.message);
}

#[test]
fn re_registering_replaces_and_unregister_removes() {
    let _turn = serial();
    health::register("db", || Err("down".to_string()));
    assert!(!health::run(TIMEOUT).is_healthy());
    health::register("db", || Ok(()));
    let report = health::run(TIMEOUT);
    assert_eq!(report.checks.len(), 1);
    assert!(report.is_healthy());
    assert_eq!(health::names(), ["db"]);
    // Any name will do, even one that cannot name a thread.
    health::register("nul\0byte", || Ok(()));
    assert!(health::run(TIMEOUT).is_healthy());
    assert!(health::unregister("nul\0byte"));
    assert!(health::unregister("db"));
    assert!(!health::unregister("db"));
    assert!(health::run(TIMEOUT).checks.is_empty());
}

#[test]
fn checks_run_side_by_side() {
    let _turn = serial();
    for name in ["a", "b", "c", "d"] {
        health::register(name, || {
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        });
    }
    let start = Instant::now();
    let report = health::run(TIMEOUT);
    assert!(report.is_healthy());
    // One after another would take 1.2 s.
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    for c in &report.checks {
        assert!(c.duration >= Duration::from_millis(300), "{c:?}");
    }
}

#[test]
fn json_shape() {
    let _turn = serial();
    health::register("db", || Ok(()));
    health::register("queue", || Err("backlog of 42".to_string()));
    let json = serde_json::to_value(health::run(TIMEOUT)).unwrap();
    assert_eq!(json["status"], "unhealthy");
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0]["name"], "db");
    assert_eq!(checks[0]["status"], "healthy");
    assert_eq!(checks[0]["message"], serde_json::Value::Null);
    assert!(checks[0]["duration"].is_u64());
    assert_eq!(checks[1]["name"], "queue");
    assert_eq!(checks[1]["status"], "unhealthy");
    assert_eq!(checks[1]["message"], "backlog of 42");
    // And back.
    let report: health::HealthReport = serde_json::from_value(json).unwrap();
    assert_eq!(report.checks[1].message.as_deref(), Some("backlog of 42"));
}
