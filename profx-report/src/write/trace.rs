//! The kept executions as a timeline: the Chrome Trace Event format, which Perfetto UI
//! (ui.perfetto.dev) and `chrome://tracing` open.
//!
//! Every kept execution is a complete event (`"ph": "X"`) on the track of the thread it started
//! on, its phases complete events inside it; thread and process names are metadata events
//! (`"ph": "M"`). Timestamps and durations are in microseconds, as the format has them, written
//! with three decimals: nanoseconds, exactly, counted from the earliest execution (whose
//! wall-clock time is in `otherData.origin`).
//!
//! A track must hold properly nested events (each inside the one before it, or after its end).
//! Executions of one thread do not always nest: async executions interleave on a worker. So the
//! events of a thread are packed into *lanes*, each properly nested: the thread's own track
//! first, then overflow tracks named after it (`worker #3 (2)`), sorted right below it.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{ExecutionProfile, Report};

/// The process id of every event (one process per report).
const PID: u64 = 1;

impl Report {
    /// Writes the kept executions as a trace in the [Chrome Trace Event format] (its JSON
    /// object form), which [Perfetto UI](https://ui.perfetto.dev) and `chrome://tracing` open:
    /// each execution a complete event on the track of the thread it started on (category
    /// `agent`, `args` with its id, request, outcome, error and memory), its phases complete
    /// events nested inside it (category `phase`, `args` with the depth and outcome).
    /// Timestamps are microseconds from the earliest execution; `otherData.origin` is its
    /// wall-clock time. Executions that overlap on one thread without nesting (async ones
    /// interleaved on a worker) go to extra tracks named after that thread.
    ///
    /// [Chrome Trace Event format]: https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
    ///
    /// ```
    /// let report = profx_report::Report::empty();
    /// let mut out = Vec::new();
    /// report.write_trace(&mut out)?;
    /// let trace: serde_json::Value = serde_json::from_slice(&out).unwrap();
    /// assert!(trace["traceEvents"].is_array());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_trace(&self, w: impl Write) -> io::Result<()> {
        let mut w = BufWriter::new(w);
        write(self, &mut w)?;
        writeln!(w)?;
        w.flush()
    }
}

/// Nanoseconds since the Unix epoch (0 before it).
fn epoch_ns(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Nanoseconds as microseconds with three decimals, exactly: a JSON number.
struct Micros(u128);

impl std::fmt::Display for Micros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// `s` as a JSON string.
fn string(w: &mut impl Write, s: &str) -> io::Result<()> {
    serde_json::to_writer(w, s).map_err(io::Error::from)
}

/// One event to place on a track: an execution (`phase: None`) or one of its phases.
struct Item<'a> {
    exec: &'a ExecutionProfile,
    phase: Option<usize>,
    /// Nanoseconds from the origin.
    start: u128,
    end: u128,
}

impl Item<'_> {
    /// The order events are placed in: by start, the longer first, an execution before its
    /// phases, a phase before the deeper ones.
    fn key(&self) -> (u128, std::cmp::Reverse<u128>, i64) {
        let depth = self
            .phase
            .map_or(-1, |i| i64::from(self.exec.phases[i].depth));
        (self.start, std::cmp::Reverse(self.end), depth)
    }
}

/// Lanes of properly nested events: the ends of the events still open on each.
#[derive(Default)]
struct Lanes(Vec<Vec<u128>>);

impl Lanes {
    /// A lane on which an event from `start` to `end` nests (inside the innermost open event
    /// there, or after everything on it): `preferred` if it does there (a phase on its
    /// execution's lane), else the first that it nests on, else a new one. Events must come
    /// in [`Item::key`] order.
    fn place(&mut self, start: u128, end: u128, preferred: Option<usize>) -> usize {
        // Whatever ended by `start` is closed on every lane (later events start later).
        for open in &mut self.0 {
            while open.last().is_some_and(|&e| e <= start) {
                open.pop();
            }
        }
        let fits = |open: &Vec<u128>| open.last().is_none_or(|&e| e >= end);
        let lane = match preferred.filter(|&i| fits(&self.0[i])) {
            Some(i) => i,
            None => match self.0.iter().position(fits) {
                Some(i) => i,
                None => {
                    self.0.push(Vec::new());
                    self.0.len() - 1
                }
            },
        };
        self.0[lane].push(end);
        lane
    }
}

/// Writes the trace of `report`'s kept executions.
fn write(report: &Report, w: &mut impl Write) -> io::Result<()> {
    let execs: Vec<&ExecutionProfile> = report.executions.values().flatten().collect();
    let origin = execs.iter().map(|e| epoch_ns(e.start)).min().unwrap_or(0);
    // By thread: the thread's name and its events.
    let mut threads: BTreeMap<u64, (String, Vec<Item>)> = BTreeMap::new();
    for e in &execs {
        let start = epoch_ns(e.start).saturating_sub(origin);
        let (_, items) = threads.entry(e.thread_id).or_insert_with(|| {
            let name = match (&e.thread_name, e.thread_id) {
                (Some(n), id) if id != 0 => format!("{n} #{id}"),
                (Some(n), _) => n.clone(),
                (None, 0) => "thread not recorded".to_owned(),
                (None, id) => format!("thread #{id}"),
            };
            (name, Vec::new())
        });
        items.push(Item {
            exec: e,
            phase: None,
            start,
            end: start + e.duration.as_nanos(),
        });
        for (i, p) in e.phases.iter().enumerate() {
            let s = start + p.start_offset.as_nanos();
            items.push(Item {
                exec: e,
                phase: Some(i),
                start: s,
                end: s + p.duration.as_nanos(),
            });
        }
    }
    write!(
        w,
        r#"{{"traceEvents":[{{"name":"process_name","ph":"M","pid":{PID},"tid":0,"args":{{"name":"profx"}}}}"#
    )?;
    // Thread ids of the trace: a thread's own number for its first lane, numbers past every
    // thread's for the others.
    let mut spare_tid = threads.keys().max().copied().unwrap_or(0) + 1;
    let mut sort_index = 0u64;
    for (thread, (name, mut items)) in threads {
        items.sort_by_key(Item::key);
        let mut lanes = Lanes::default();
        // The lane of each execution (by address), where its phases go when they nest there.
        let mut lane_of: std::collections::HashMap<*const ExecutionProfile, usize> =
            Default::default();
        let placed: Vec<usize> = items
            .iter()
            .map(|it| {
                let key = it.exec as *const ExecutionProfile;
                let lane = lanes.place(it.start, it.end, lane_of.get(&key).copied());
                if it.phase.is_none() {
                    lane_of.insert(key, lane);
                }
                lane
            })
            .collect();
        let tids: Vec<u64> = (0..lanes.0.len())
            .map(|lane| {
                if lane == 0 {
                    thread
                } else {
                    spare_tid += 1;
                    spare_tid - 1
                }
            })
            .collect();
        for (lane, &tid) in tids.iter().enumerate() {
            write!(
                w,
                r#",{{"name":"thread_name","ph":"M","pid":{PID},"tid":{tid},"args":{{"name":"#
            )?;
            if lane == 0 {
                string(w, &name)?;
            } else {
                string(w, &format!("{name} ({})", lane + 1))?;
            }
            write!(
                w,
                r#"}}}},{{"name":"thread_sort_index","ph":"M","pid":{PID},"tid":{tid},"args":{{"sort_index":{sort_index}}}}}"#
            )?;
            sort_index += 1;
        }
        for (it, lane) in items.iter().zip(placed) {
            event(w, it, tids[lane])?;
        }
    }
    write!(
        w,
        r#"],"displayTimeUnit":"ns","otherData":{{"generator":"profx {}","generated_at":"{}","origin":"{}"}}}}"#,
        env!("CARGO_PKG_VERSION"),
        humantime::format_rfc3339_nanos(report.generated_at),
        humantime::format_rfc3339_nanos(
            UNIX_EPOCH + Duration::from_nanos(origin.min(u64::MAX as u128) as u64)
        ),
    )
}

/// The complete event of an execution or a phase, after a comma.
fn event(w: &mut impl Write, it: &Item, tid: u64) -> io::Result<()> {
    let e = it.exec;
    w.write_all(br#",{"name":"#)?;
    match it.phase {
        None => string(w, &e.agent)?,
        Some(i) => string(w, &e.phases[i].name)?,
    }
    write!(
        w,
        r#","cat":"{}","ph":"X","ts":{},"dur":{},"pid":{PID},"tid":{tid},"args":{{"#,
        if it.phase.is_none() { "agent" } else { "phase" },
        Micros(it.start),
        Micros(it.end - it.start),
    )?;
    match it.phase {
        None => {
            w.write_all(br#""id":"#)?;
            string(w, &e.id)?;
            write!(
                w,
                r#","outcome":"{}","memory_allocated":{},"allocations":{},"thread_count":{}"#,
                e.outcome.as_str(),
                e.memory_allocated,
                e.allocations,
                e.thread_count
            )?;
            if !e.request.is_empty() {
                w.write_all(br#","request":"#)?;
                string(w, &e.request)?;
            }
            if let Some(err) = &e.error {
                w.write_all(br#","error":"#)?;
                string(w, err)?;
            }
            if let Some(parent) = &e.parent {
                w.write_all(br#","parent":"#)?;
                string(w, parent)?;
            }
            if e.phases_dropped > 0 {
                write!(w, r#","phases_dropped":{}"#, e.phases_dropped)?;
            }
        }
        Some(i) => {
            let p = &e.phases[i];
            w.write_all(br#""execution":"#)?;
            string(w, &e.id)?;
            write!(
                w,
                r#","depth":{},"outcome":"{}""#,
                p.depth,
                p.outcome.as_str()
            )?;
        }
    }
    w.write_all(b"}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_keep_each_track_nested() {
        let mut l = Lanes::default();
        // An execution, a phase inside it, a sibling phase after, then an execution that
        // overlaps the first without nesting (interleaved) with a phase of its own (that
        // would nest on the first lane too, but goes with its execution), and one after
        // everything.
        assert_eq!(l.place(0, 100, None), 0);
        assert_eq!(l.place(10, 40, Some(0)), 0);
        assert_eq!(l.place(40, 90, Some(0)), 0);
        assert_eq!(l.place(50, 150, None), 1);
        assert_eq!(l.place(60, 70, Some(1)), 1);
        assert_eq!(l.place(100, 120, None), 0);
        assert_eq!(l.place(200, 210, None), 0);
        // A phase that does not nest on its execution's lane goes where it does.
        assert_eq!(l.place(205, 230, Some(0)), 1);
    }

    #[test]
    fn microseconds_keep_the_nanoseconds() {
        assert_eq!(Micros(1_234_567).to_string(), "1234.567");
        assert_eq!(Micros(5).to_string(), "0.005");
        assert_eq!(Micros(0).to_string(), "0.000");
    }
}
