//! Recording from many threads: nothing lost, nothing double-counted, readers never wait.
#![cfg(feature = "enabled")]

use std::sync::mpsc;
use std::thread;

#[profx::phase(name = "threads-work")]
fn work(i: u64) -> u64 {
    std::hint::black_box(i.wrapping_mul(31))
}

#[profx::agent(name = "threads-agent")]
fn agent(n: u64) -> u64 {
    (0..n).map(work).sum()
}

#[profx::phase(name = "threads-loose")]
fn loose(i: u64) -> u64 {
    std::hint::black_box(i + 1)
}

#[test]
fn sixteen_threads_of_twenty_thousand_calls_are_all_recorded() {
    let handles: Vec<_> = (0..16)
        .map(|_| {
            thread::spawn(|| {
                for i in 0..20_000 {
                    loose(i);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // The threads have exited: what they recorded is still there, exactly once.
    let r = profx::global().report();
    assert_eq!(r.phases["threads-loose"].calls, 320_000);
}

#[test]
fn executions_and_their_phases_from_many_threads_add_up() {
    let handles: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(|| {
                for _ in 0..500 {
                    agent(10);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let m = profx::global().agent_metrics("threads-agent").unwrap();
    assert_eq!(m.total_executions, 4_000);
    assert_eq!(m.success_count, 4_000);
    assert_eq!(m.phases["threads-work"].calls, 40_000);
    // One ring per agent, shared by the threads: the newest PROFX_MAX_EXECUTIONS are kept.
    let kept = profx::global().executions("threads-agent");
    assert_eq!(kept.len(), 1000);
    // Each execution saw exactly its own ten phases.
    for e in kept {
        assert_eq!(e.phases.len(), 10, "{}", e.id);
        assert!(e
            .phases
            .iter()
            .all(|p| p.name == "threads-work" && p.depth == 0));
    }
}

#[profx::phase(name = "threads-live")]
fn live(i: u64) -> u64 {
    std::hint::black_box(i)
}

#[test]
fn a_read_sees_calls_completed_on_threads_still_running() {
    let (done_tx, done_rx) = mpsc::channel::<u64>();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let done_tx = done_tx.clone();
            thread::spawn(move || {
                for i in 0..7_000 {
                    live(i);
                }
                done_tx.send(7_000).unwrap();
            })
        })
        .collect();
    drop(done_tx);
    let total: u64 = done_rx.iter().take(3).sum();
    // The workers have said they are done but may not have exited: the read must see it all.
    let calls = profx::global().report().phases["threads-live"].calls;
    assert_eq!(calls, total);
    for w in workers {
        w.join().unwrap();
    }
}

#[profx::phase(name = "threads-concurrent")]
fn concurrent(i: u64) -> u64 {
    std::hint::black_box(i)
}

#[test]
fn reading_while_threads_write_neither_blocks_nor_loses_calls() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 50_000 {
                    concurrent(n);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut last = 0;
    for _ in 0..50 {
        let seen = profx::global()
            .report()
            .phases
            .get("threads-concurrent")
            .map_or(0, |p| p.calls);
        assert!(seen >= last, "counts went backwards: {last} -> {seen}");
        last = seen;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(
        profx::global().report().phases["threads-concurrent"].calls,
        written
    );
}

#[profx::phase(name = "threads-pct")]
fn sleepy(us: u64) {
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_micros(us) {
        std::hint::spin_loop();
    }
}

#[test]
fn percentiles_merged_across_threads_are_within_one_percent() {
    // Four threads, each a different fixed duration: the exact quantiles are known bands.
    let handles: Vec<_> = [50u64, 100, 200, 400]
        .into_iter()
        .map(|us| thread::spawn(move || (0..100).for_each(|_| sleepy(us))))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let p = &profx::global().report().phases["threads-pct"];
    assert_eq!(p.calls, 400);
    // A busy-wait never ends early (it may end late, if the thread is preempted): half the
    // calls took at least 100 µs and the top quarter at least 400 µs, give or take the 1% the
    // histogram allows. Min and max are exact.
    let at_least = |d: std::time::Duration, us: f64| d.as_secs_f64() * 1e6 >= us * 0.99;
    assert!(at_least(p.percentiles.p50, 100.0), "{:?}", p.percentiles);
    assert!(at_least(p.percentiles.p90, 400.0), "{:?}", p.percentiles);
    assert!(p.min_duration.as_micros() >= 50);
}

#[profx::agent(name = "threads-ring-stress", request = i)]
fn stressed(i: u64) -> u64 {
    work(i) + work(i + 1)
}

#[test]
fn reading_executions_while_threads_replace_them_sees_whole_records() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut i = t * 1_000_000;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    stressed(i);
                    i += 1;
                }
            })
        })
        .collect();
    let mut reads = 0;
    while reads < 200 {
        for e in profx::global().executions("threads-ring-stress") {
            // A record is never seen half-written or after reuse: its request matches its
            // phases, which ran with the request's value.
            assert_eq!(e.phases.len(), 2, "{e:?}");
            assert!(e.request.parse::<u64>().is_ok(), "{e:?}");
            assert!(e.success);
        }
        reads += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(profx::global().executions("threads-ring-stress").len() <= 1000);
}

#[profx::phase(name = "exit-first")]
fn first_only(i: u64) -> u64 {
    std::hint::black_box(i)
}

#[profx::phase(name = "exit-later")]
fn later_only(i: u64) -> u64 {
    std::hint::black_box(i + 1)
}

#[profx::phase(name = "exit-both")]
fn both(i: u64) -> u64 {
    std::hint::black_box(i + 2)
}

#[test]
fn a_key_first_seen_on_a_thread_after_another_exited() {
    // Thread M records, exits; thread N (which may be given M's table) records a new key and
    // one M had: both threads' calls are there, once each.
    thread::spawn(|| {
        (0..3).for_each(|i| {
            first_only(i);
        });
        (0..5).for_each(|i| {
            both(i);
        });
    })
    .join()
    .unwrap();
    thread::spawn(|| {
        (0..2).for_each(|i| {
            later_only(i);
        });
        (0..7).for_each(|i| {
            both(i);
        });
    })
    .join()
    .unwrap();
    let r = profx::global().report();
    assert_eq!(r.phases["exit-first"].calls, 3);
    assert_eq!(r.phases["exit-later"].calls, 2);
    assert_eq!(r.phases["exit-both"].calls, 12);
}

#[profx::phase(name = "threads-rw-step")]
fn rw_step(i: u64) -> u64 {
    std::hint::black_box(i ^ 7)
}

#[profx::agent(name = "threads-rw-agent")]
fn rw_agent(i: u64) -> Result<u64, String> {
    let v = rw_step(i) + rw_step(i + 1);
    if i % 8 == 0 {
        Err("eighth".to_owned())
    } else {
        Ok(v)
    }
}

/// Four threads record a fixed number of executions while a reader reads in a loop: every read
/// is whole (its successes and failures add up to its executions, its mean lies between its
/// minimum and maximum, and nothing goes backwards), and the last one has every call.
#[test]
fn four_writers_and_a_reader_in_a_loop_read_exact_totals() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    const PER_THREAD: u64 = 25_000;
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        thread::spawn(move || {
            let (mut last, mut reads) = (0u64, 0u64);
            loop {
                let finished = done.load(Relaxed);
                if let Some(m) = profx::global().agent_metrics("threads-rw-agent") {
                    assert_eq!(m.success_count + m.failure_count, m.total_executions);
                    assert!(m.min_duration <= m.avg_duration, "{m:?}");
                    assert!(m.avg_duration <= m.max_duration, "{m:?}");
                    assert!(m.total_executions >= last, "{last} -> {m:?}");
                    last = m.total_executions;
                    let step = &m.phases["threads-rw-step"];
                    assert!(step.min_duration <= step.avg_duration, "{step:?}");
                    assert!(step.avg_duration <= step.max_duration, "{step:?}");
                    reads += 1;
                }
                if finished {
                    return (last, reads);
                }
            }
        })
    };
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            thread::spawn(move || {
                (0..PER_THREAD)
                    .filter(|i| rw_agent(w * PER_THREAD + i).is_err())
                    .count() as u64
            })
        })
        .collect();
    let failed: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    done.store(true, Relaxed);
    let (last, reads) = reader.join().unwrap();
    assert!(reads > 1);
    // The reader's last read began after every writer had finished.
    assert_eq!(last, 4 * PER_THREAD);
    let m = profx::global().agent_metrics("threads-rw-agent").unwrap();
    assert_eq!(m.total_executions, 4 * PER_THREAD);
    assert_eq!(m.failure_count, failed);
    assert_eq!(failed, 4 * PER_THREAD / 8);
    assert_eq!(m.phases["threads-rw-step"].calls, 2 * 4 * PER_THREAD);
}

#[profx::agent(name = "threads-where")]
fn where_am_i(i: u64) -> u64 {
    std::hint::black_box(i)
}

#[test]
fn an_execution_names_the_thread_it_started_on() {
    // Two named threads and an unnamed one, each running its own executions.
    let run = |name: Option<&str>| {
        let mut b = thread::Builder::new();
        if let Some(n) = name {
            b = b.name(n.to_owned());
        }
        b.spawn(|| {
            for i in 0..3 {
                where_am_i(i);
            }
        })
        .unwrap()
        .join()
        .unwrap();
    };
    run(Some("where-one"));
    run(Some("where-two"));
    run(None);
    let execs = profx::global().executions("threads-where");
    assert_eq!(execs.len(), 9);
    let mut by_thread: std::collections::BTreeMap<u64, Vec<Option<String>>> = Default::default();
    for e in &execs {
        assert!(e.thread_id > 0, "{e:?}");
        by_thread
            .entry(e.thread_id)
            .or_default()
            .push(e.thread_name.clone());
    }
    // Three threads, three executions each, one name per thread.
    assert_eq!(by_thread.len(), 3, "{by_thread:?}");
    let mut names: Vec<String> = by_thread
        .values()
        .map(|v| {
            assert_eq!(v.len(), 3);
            assert!(v.windows(2).all(|w| w[0] == w[1]), "{v:?}");
            v[0].clone().expect("every numbered thread has a name")
        })
        .collect();
    names.sort();
    assert_eq!(
        names[0],
        "thread ".to_owned() + &names[0]["thread ".len()..]
    );
    assert!(
        names[0]["thread ".len()..].parse::<u64>().is_ok(),
        "{names:?}"
    );
    assert_eq!(&names[1..], ["where-one", "where-two"]);
    // Numbers are never reused: a later thread gets a new one.
    let before: std::collections::BTreeSet<u64> = by_thread.keys().copied().collect();
    run(Some("where-three"));
    let later = profx::global().executions("threads-where");
    let new: Vec<_> = later
        .iter()
        .filter(|e| e.thread_name.as_deref() == Some("where-three"))
        .collect();
    assert_eq!(new.len(), 3);
    assert!(!before.contains(&new[0].thread_id));
    // Serialised, and read back.
    let json = serde_json::to_value(new[0]).unwrap();
    assert_eq!(json["thread_id"], serde_json::json!(new[0].thread_id));
    assert_eq!(json["thread_name"], "where-three");
}
