//! Working vs waiting: an async agent's or phase's busy time is the time spent inside its
//! polls; the rest of its duration it waited. Checked against spins (busy) and sleeps
//! (waiting) on a real multi-thread tokio runtime, and against the kept records' own figures.

use std::time::{Duration, Instant};

/// Busy for `d` (on the thread that polls), without yielding.
fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

const SPIN: Duration = Duration::from_millis(4);
const SLEEP: Duration = Duration::from_millis(15);
const RUNS: u64 = 6;

#[profx::phase(name = "busy-fetch")]
async fn fetch() {
    // Waiting, then working.
    tokio::time::sleep(SLEEP).await;
    spin(SPIN);
}

#[profx::phase(name = "busy-sync-step")]
fn sync_step() {
    spin(Duration::from_millis(1));
}

#[profx::agent(name = "busy-handler")]
async fn handler() -> u32 {
    spin(SPIN);
    fetch().await;
    sync_step();
    tokio::task::yield_now().await;
    1
}

#[profx::agent(name = "busy-sync-agent")]
fn sync_agent() -> u32 {
    sync_step();
    2
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_async_agent_and_phase_split_their_time_into_busy_and_waiting() {
    let rt = runtime();
    rt.block_on(async {
        let tasks: Vec<_> = (0..RUNS).map(|_| tokio::spawn(handler())).collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 1);
        }
    });
    let p = profx::global();
    let report = p.report();
    let a = &report.agents["busy-handler"];
    assert_eq!(a.total_executions, RUNS);

    // Each kept execution: polled at least three times (start, after the sleep, after the
    // yield), busy at least for its two spins and the sync step, waiting at least the sleep.
    let execs = p.executions("busy-handler");
    assert_eq!(execs.len() as u64, RUNS);
    let mut busy_sum = Duration::ZERO;
    for e in &execs {
        assert!(e.polls >= 3, "{e:?}");
        assert!(e.busy >= SPIN * 2 + Duration::from_millis(1), "{e:?}");
        assert!(e.waiting() >= SLEEP, "{e:?}");
        assert_eq!(e.busy + e.waiting(), e.duration, "{e:?}");
        busy_sum += e.busy;
    }
    // The aggregate's busy time is the executions' (summed in clock ticks, converted once:
    // within a nanosecond per execution).
    let diff = a.busy_duration.abs_diff(busy_sum);
    assert!(
        diff <= Duration::from_nanos(RUNS),
        "{:?} vs {busy_sum:?}",
        a.busy_duration
    );
    let share = a.busy_share().unwrap();
    assert!(share > 0.0 && share < 100.0, "{share}");

    // The async phase: busy for its spin, waiting for its sleep.
    let f = &a.phases["busy-fetch"];
    assert_eq!(f.calls, RUNS);
    assert!(f.busy_duration >= SPIN * RUNS as u32, "{f:?}");
    let waiting = f.total_duration - f.busy_duration;
    assert!(waiting >= SLEEP * RUNS as u32, "{f:?}");
    // The same figures in the by-name table.
    assert_eq!(report.phases["busy-fetch"].busy_duration, f.busy_duration);
    // A sync phase inside an async agent is busy throughout.
    let s = &a.phases["busy-sync-step"];
    assert_eq!(s.busy_duration, s.total_duration, "{s:?}");
    assert_eq!(s.busy_share(), Some(100.0));

    // Prometheus: the busy seconds beside the duration's sum, the agent's and the phase's.
    let text = profx::prometheus::render();
    let value = |line_start: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(line_start))
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let busy = value("profx_agent_busy_seconds_total{agent=\"busy-handler\"}");
    let sum = value("profx_agent_duration_seconds_sum{agent=\"busy-handler\"}");
    assert!(
        (busy - a.busy_duration.as_secs_f64()).abs() < 1e-6,
        "{busy} vs {a:?}"
    );
    assert!(busy < sum, "{busy} < {sum}");
    let fetch = "{agent=\"busy-handler\",phase=\"busy-fetch\"}";
    let busy = value(&format!("profx_phase_busy_seconds_total{fetch}"));
    assert!(
        (busy - f.busy_duration.as_secs_f64()).abs() < 1e-6,
        "{busy} vs {f:?}"
    );
}

#[test]
fn a_sync_agent_is_one_poll_busy_throughout() {
    for _ in 0..3 {
        assert_eq!(sync_agent(), 2);
    }
    let p = profx::global();
    for e in p.executions("busy-sync-agent") {
        assert_eq!((e.polls, e.busy), (1, e.duration), "{e:?}");
    }
    let a = &p.report().agents["busy-sync-agent"];
    // Its busy time is its total time, which the report gives as a mean times the count: the
    // mean is rounded down to a tick, then to a nanosecond (under 2 ns per execution).
    let diff = a.busy_duration.abs_diff(a.total_duration());
    assert!(
        diff <= Duration::from_nanos(2 * a.total_executions + 1),
        "{a:?}"
    );
    assert!(a.busy_share().unwrap() > 99.99);
}

#[profx::agent(name = "busy-cancelled")]
async fn waits_forever() -> u32 {
    spin(Duration::from_millis(2));
    std::future::pending::<()>().await;
    3
}

#[test]
fn a_cancelled_async_agent_keeps_its_polls_and_busy_time() {
    let rt = runtime();
    rt.block_on(async {
        let r = tokio::time::timeout(Duration::from_millis(20), waits_forever()).await;
        assert!(r.is_err());
    });
    let p = profx::global();
    let execs = p.executions("busy-cancelled");
    assert_eq!(execs.len(), 1);
    let e = &execs[0];
    assert_eq!(e.outcome, profx::Outcome::Cancelled);
    // Its first poll, and the one `timeout` gives it when its timer fires (it polls the inner
    // future before it looks at the timer).
    assert!((2..=3).contains(&e.polls), "{e:?}");
    assert!(e.busy >= Duration::from_millis(2), "{e:?}");
    assert!(e.waiting() >= Duration::from_millis(15), "{e:?}");
    let a = &p.report().agents["busy-cancelled"];
    assert!(a.busy_duration >= Duration::from_millis(2), "{a:?}");
    assert!(a.busy_share().unwrap() < 50.0, "{a:?}");
}
