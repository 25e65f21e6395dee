//! Health checks: named functions that say whether a part of the program works.
//!
//! ```
//! use std::time::Duration;
//! use profx_runtime::health::{self, HealthStatus};
//!
//! health::register("config", || Ok(()));
//! health::register("disk", || {
//!     let free_gib = 12;
//!     if free_gib > 1 { Ok(()) } else { Err(format!("{free_gib} GiB free")) }
//! });
//! let report = health::run(Duration::from_secs(2));
//! assert_eq!(report.status, HealthStatus::Healthy);
//! assert_eq!(report.checks.len(), 2);
//! ```
//!
//! [`run`] runs every check at once, each on a thread of its own, and waits at most its
//! timeout for all of them:
//!
//! - a check that returns `Err(message)` fails with that message;
//! - a check that panics fails with `panicked: <message>`, and the panic stops at the check's
//!   thread (the panic hook still prints it, as for any panic);
//! - a check that has not returned by the deadline fails with `timed out after <timeout>`,
//!   and `run` returns anyway. Its thread is left to finish on its own; until it does, later
//!   runs do not start that check again but wait for the same call (so a check that hangs
//!   forever holds one thread, not one per run) and report it as still running.
//!
//! Checks are the program's own code, not instrumentation, so they work the same with or
//! without the `enabled` feature and whatever the run-time switch says. With no check
//! registered the process is healthy.

use crate::lock::lock;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use profx_report::serde_util::duration_ns;

/// A health check: `Ok(())` when healthy, `Err(why)` when not.
type CheckFn = dyn Fn() -> Result<(), String> + Send + Sync + 'static;

/// Whether a check, or the whole process, is healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Every check passed (for a check: it returned `Ok(())` in time).
    Healthy,
    /// At least one check failed, panicked or timed out.
    Unhealthy,
}

impl HealthStatus {
    /// `"healthy"` or `"unhealthy"`, as in the JSON.
    ///
    /// ```
    /// assert_eq!(profx_runtime::health::HealthStatus::Unhealthy.as_str(), "unhealthy");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check in a [`HealthReport`].
///
/// In JSON: `{"name": "db", "status": "unhealthy", "message": "connection refused",
/// "duration": 1520400}` (`duration` in nanoseconds, `message` null when healthy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The name it was registered under.
    pub name: String,
    /// Whether it passed.
    pub status: HealthStatus,
    /// Why it failed: the check's error, `panicked: …`, or `timed out after …`; `None` when
    /// it passed.
    pub message: Option<String>,
    /// How long it ran (the timeout, for a check that timed out).
    #[serde(with = "duration_ns")]
    pub duration: Duration,
}

/// The result of [`run`]: the overall status and every check's result, ordered by name.
///
/// In JSON (what `/api/health` returns):
/// `{"status": "healthy", "checks": [{"name": "db", "status": "healthy", "message": null,
/// "duration": 41200}]}`.
///
/// ```
/// use std::time::Duration;
/// profx_runtime::health::register("doc_report", || Err("disk full".into()));
/// let report = profx_runtime::health::run(Duration::from_secs(1));
/// let json = serde_json::to_value(&report).unwrap();
/// assert_eq!(json["status"], "unhealthy");
/// assert_eq!(json["checks"][0]["message"], "disk full");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// [`HealthStatus::Healthy`] when every check passed (or none is registered).
    pub status: HealthStatus,
    /// One result per registered check, ordered by name.
    pub checks: Vec<CheckResult>,
}

impl HealthReport {
    /// Whether every check passed.
    ///
    /// ```
    /// let report = profx_runtime::health::run(std::time::Duration::from_secs(1));
    /// assert!(report.is_healthy()); // nothing registered in this example
    /// ```
    pub fn is_healthy(&self) -> bool {
        self.status == HealthStatus::Healthy
    }
}

// ---------------------------------------------------------------------------------------------

/// How a call of a check ended.
#[derive(Clone, Debug)]
struct Outcome {
    result: Result<(), String>,
    duration: Duration,
}

/// A call of a check that may still be running: the thread fills `done` and notifies.
struct Call {
    started: Instant,
    done: Mutex<Option<Outcome>>,
    cv: Condvar,
}

impl Call {
    /// Waits until the call ends or `deadline` passes.
    fn wait_until(&self, deadline: Instant) -> Option<Outcome> {
        let mut done = lock(&self.done);
        loop {
            if let Some(o) = &*done {
                return Some(o.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            done = self
                .cv
                .wait_timeout(done, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A registered check and its call in progress, if any.
struct Check {
    f: Arc<CheckFn>,
    running: Mutex<Option<Arc<Call>>>,
}

impl Check {
    /// The call in progress, or a new one (started on a thread of its own).
    fn call(self: &Arc<Self>, name: &str) -> (Arc<Call>, bool) {
        let mut running = lock(&self.running);
        if let Some(call) = &*running {
            return (call.clone(), false);
        }
        let call = Arc::new(Call {
            started: Instant::now(),
            done: Mutex::new(None),
            cv: Condvar::new(),
        });
        *running = Some(call.clone());
        drop(running);

        let check = self.clone();
        let mine = call.clone();
        let spawned = std::thread::Builder::new()
            // A thread name cannot hold a NUL byte; a check's name can.
            .name(format!("profx-health-{}", name.replace('\0', "?")))
            .spawn(move || {
                let start = Instant::now();
                let result = match catch_unwind(AssertUnwindSafe(|| (check.f)())) {
                    Ok(r) => r,
                    Err(payload) => Err(format!("panicked: {}", panic_message(&*payload))),
                };
                check.finish(
                    &mine,
                    Outcome {
                        result,
                        duration: start.elapsed(),
                    },
                );
            });
        if let Err(e) = spawned {
            self.finish(
                &call,
                Outcome {
                    result: Err(format!("could not start a thread for the check: {e}")),
                    duration: Duration::ZERO,
                },
            );
        }
        (call, true)
    }

    /// Publishes the outcome of `call` and lets the next run start a new one.
    fn finish(&self, call: &Arc<Call>, outcome: Outcome) {
        {
            let mut running = lock(&self.running);
            if running.as_ref().is_some_and(|c| Arc::ptr_eq(c, call)) {
                *running = None;
            }
        }
        *lock(&call.done) = Some(outcome);
        call.cv.notify_all();
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

/// Milliseconds, or microseconds below one millisecond: `250ms`, `1500ms`, `800µs`.
fn short(d: Duration) -> String {
    if d >= Duration::from_millis(1) || d.is_zero() {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}µs", d.as_micros())
    }
}

static CHECKS: LazyLock<Mutex<BTreeMap<String, Arc<Check>>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Registers the check `name`, replacing any check of that name.
///
/// The check runs on a thread of its own during [`run`], so it may block (a database ping, a
/// file read), but it should return well within the timeout that `run` is given.
///
/// ```
/// profx_runtime::health::register("db", || Ok(()));
/// profx_runtime::health::register("queue", || Err("42 jobs waiting for 10 min".to_string()));
/// ```
pub fn register<F>(name: impl Into<String>, check: F)
where
    F: Fn() -> Result<(), String> + Send + Sync + 'static,
{
    let check = Arc::new(Check {
        f: Arc::new(check),
        running: Mutex::new(None),
    });
    lock(&CHECKS).insert(name.into(), check);
}

/// Removes the check `name`; returns whether there was one. (A call of it that is still
/// running goes on, and its result is dropped.)
///
/// ```
/// profx_runtime::health::register("doc_unregister", || Ok(()));
/// assert!(profx_runtime::health::unregister("doc_unregister"));
/// assert!(!profx_runtime::health::unregister("doc_unregister"));
/// ```
pub fn unregister(name: &str) -> bool {
    lock(&CHECKS).remove(name).is_some()
}

/// The names of the registered checks, in order.
///
/// ```
/// profx_runtime::health::register("doc_names", || Ok(()));
/// assert!(profx_runtime::health::names().contains(&"doc_names".to_string()));
/// ```
pub fn names() -> Vec<String> {
    lock(&CHECKS).keys().cloned().collect()
}

/// Runs every registered check at once and returns within about `timeout`.
///
/// See the [module docs](self) for how failures, panics and checks that hang are reported.
///
/// ```
/// use std::time::Duration;
/// use profx_runtime::health;
/// health::register("doc_run_ok", || Ok(()));
/// health::register("doc_run_panics", || panic!("lost the connection pool"));
/// // Returns as soon as every check has answered; the timeout only bounds a hung one.
/// let report = health::run(Duration::from_secs(5));
/// assert!(!report.is_healthy());
/// let failed = report.checks.iter().find(|c| c.name == "doc_run_panics").unwrap();
/// assert_eq!(failed.message.as_deref(), Some("panicked: lost the connection pool"));
/// ```
pub fn run(timeout: Duration) -> HealthReport {
    let checks: Vec<(String, Arc<Check>)> = lock(&CHECKS)
        .iter()
        .map(|(n, c)| (n.clone(), c.clone()))
        .collect();
    let begun = Instant::now();
    let deadline = begun + timeout;
    // Start them all, then wait: they run side by side.
    let calls: Vec<_> = checks
        .iter()
        .map(|(name, check)| check.call(name))
        .collect();
    let results: Vec<CheckResult> = checks
        .into_iter()
        .zip(calls)
        .map(
            |((name, _), (call, fresh))| match call.wait_until(deadline) {
                Some(Outcome { result, duration }) => CheckResult {
                    name,
                    status: if result.is_ok() {
                        HealthStatus::Healthy
                    } else {
                        HealthStatus::Unhealthy
                    },
                    message: result.err(),
                    duration,
                },
                None => {
                    let mut message = format!("timed out after {}", short(timeout));
                    if !fresh {
                        let since = call.started.elapsed();
                        message.push_str(&format!(
                            " (still running from an earlier run, for {} now)",
                            short(since)
                        ));
                    }
                    CheckResult {
                        name,
                        status: HealthStatus::Unhealthy,
                        message: Some(message),
                        duration: timeout,
                    }
                }
            },
        )
        .collect();
    let status = if results.iter().all(|c| c.status == HealthStatus::Healthy) {
        HealthStatus::Healthy
    } else {
        HealthStatus::Unhealthy
    };
    HealthReport {
        status,
        checks: results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        assert_eq!(short(Duration::from_millis(250)), "250ms");
        assert_eq!(short(Duration::from_millis(1500)), "1500ms");
        assert_eq!(short(Duration::from_micros(800)), "800µs");
        assert_eq!(short(Duration::ZERO), "0ms");
    }

    #[test]
    fn panic_payloads() {
        let p = catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_message(&*p), "static");
        let p = catch_unwind(|| panic!("formatted {}", 7)).unwrap_err();
        assert_eq!(panic_message(&*p), "formatted 7");
        let p = catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(panic_message(&*p), "a non-string panic payload");
    }

    #[test]
    fn a_call_in_progress_is_shared() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let g = gate.clone();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = calls.clone();
        let check = Arc::new(Check {
            f: Arc::new(move || {
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut open = lock(&g.0);
                while !*open {
                    open = g.1.wait(open).unwrap();
                }
                Ok(())
            }),
            running: Mutex::new(None),
        });
        let (first, fresh) = check.call("t");
        assert!(fresh);
        let (second, fresh) = check.call("t");
        assert!(!fresh);
        assert!(Arc::ptr_eq(&first, &second));
        assert!(first
            .wait_until(Instant::now() + Duration::from_millis(20))
            .is_none());
        *lock(&gate.0) = true;
        gate.1.notify_all();
        let out = first
            .wait_until(Instant::now() + Duration::from_secs(10))
            .unwrap();
        assert!(out.result.is_ok());
        // Done: the next call starts anew.
        let (third, fresh) = check.call("t");
        assert!(fresh && !Arc::ptr_eq(&first, &third));
        third
            .wait_until(Instant::now() + Duration::from_secs(10))
            .unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
