//! The kept executions as spans: an `ExportTraceServiceRequest` for `POST {endpoint}/v1/traces`.
//!
//! Each kept execution is one span, the root of a trace of its own — or, when it joined a
//! caller's trace with a `traceparent`, a child of the caller's span in the caller's trace —
//! and each of its phases a child span (of the phase it ran inside, or of the execution), with
//! its real start and end. Span ids are drawn from the execution's serial through a hash keyed
//! with a random key of the process, so that one execution always has the same ids, and two
//! processes do not share them.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::time::SystemTime;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span::SpanKind, status::StatusCode, ResourceSpans, ScopeSpans, Span, Status,
};

use super::encode::{attr, int_attr, unix_nanos, SCOPE};
use profx_runtime::__subsystem::TraceParent;
use profx_runtime::{ExecutionProfile, Outcome};

/// The process's key for span and trace ids.
fn key() -> &'static RandomState {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    KEY.get_or_init(RandomState::new)
}

/// 64 bits of the ids of execution `serial` (`part` tells them apart), never 0.
fn id64(serial: u64, part: u64) -> u64 {
    key().hash_one((serial, part)).max(1)
}

/// The trace id of an execution that started a trace of its own.
fn own_trace(serial: u64) -> [u8; 16] {
    let mut t = [0u8; 16];
    t[..8].copy_from_slice(&id64(serial, u64::MAX).to_be_bytes());
    t[8..].copy_from_slice(&id64(serial, u64::MAX - 1).to_be_bytes());
    t
}

/// The span id of an execution (`phase` `None`) or of its phase number `i`.
fn span_id(serial: u64, phase: Option<usize>) -> [u8; 8] {
    id64(serial, phase.map_or(0, |i| i as u64 + 1)).to_be_bytes()
}

/// The serial in an execution's id (`"{agent}-{n}"`).
fn serial_of(id: &str) -> Option<u64> {
    id.rsplit_once('-')?.1.parse().ok()
}

/// When `t` plus `d`, in Unix nanoseconds.
fn end_nanos(t: SystemTime, d: std::time::Duration) -> u64 {
    unix_nanos(t).saturating_add(d.as_nanos().min(u64::MAX as u128) as u64)
}

fn status(outcome: Outcome, error: Option<&str>) -> Option<Status> {
    match outcome {
        Outcome::Success => Some(Status {
            code: StatusCode::Ok as i32,
            message: String::new(),
        }),
        Outcome::Failure => Some(Status {
            code: StatusCode::Error as i32,
            message: error.unwrap_or_default().to_owned(),
        }),
        // Neither a success nor an error: the span says so in `profx.outcome`.
        Outcome::Cancelled => None,
    }
}

/// The spans of one execution: its own, then its phases'.
pub(crate) fn spans(e: &ExecutionProfile, out: &mut Vec<Span>) {
    let Some(serial) = serial_of(&e.id) else {
        return;
    };
    let joined = e.traceparent.as_deref().and_then(TraceParent::parse);
    let (trace_id, parent_span, flags) = match joined {
        Some(t) => (t.trace_id, t.parent_id.to_vec(), u32::from(t.flags)),
        // Sampled: it was kept, and is exported.
        None => (own_trace(serial), Vec::new(), 1),
    };
    let start = unix_nanos(e.start);
    let root = span_id(serial, None);
    let mut attributes = vec![
        attr("profx.execution.id", &e.id),
        attr("profx.outcome", e.outcome.as_str()),
    ];
    if !e.request.is_empty() {
        attributes.push(attr("profx.request", &e.request));
    }
    if let (Outcome::Failure | Outcome::Cancelled, Some(err)) = (e.outcome, &e.error) {
        attributes.push(attr("profx.error", err));
    }
    if let Some(p) = &e.parent {
        attributes.push(attr("profx.parent", p));
    }
    if e.thread_id != 0 {
        attributes.push(int_attr("thread.id", e.thread_id as i64));
    }
    if let Some(name) = &e.thread_name {
        attributes.push(attr("thread.name", name));
    }
    if e.memory_allocated > 0 || e.allocations > 0 {
        attributes.push(int_attr(
            "profx.memory_allocated",
            e.memory_allocated.min(i64::MAX as u64) as i64,
        ));
        attributes.push(int_attr(
            "profx.allocations",
            e.allocations.min(i64::MAX as u64) as i64,
        ));
    }
    if e.phases_dropped > 0 {
        attributes.push(int_attr(
            "profx.phases_dropped",
            e.phases_dropped.min(i64::MAX as u64) as i64,
        ));
    }
    out.push(Span {
        trace_id: trace_id.to_vec(),
        span_id: root.to_vec(),
        parent_span_id: parent_span,
        flags,
        name: e.agent.clone(),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end_nanos(e.start, e.duration),
        attributes,
        status: status(e.outcome, e.error.as_deref()),
        ..Default::default()
    });
    // Each phase's parent span: the phase it ran in, else the execution.
    let (_, parents) = e.phase_tree();
    for (i, p) in e.phases.iter().enumerate() {
        let parent = parents[i].map_or(root, |j| span_id(serial, Some(j)));
        let phase_start = e.start + p.start_offset;
        out.push(Span {
            trace_id: trace_id.to_vec(),
            span_id: span_id(serial, Some(i)).to_vec(),
            parent_span_id: parent.to_vec(),
            flags,
            name: p.name.to_string(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: unix_nanos(phase_start),
            end_time_unix_nano: end_nanos(phase_start, p.duration),
            attributes: vec![
                attr("profx.agent", &e.agent),
                attr("profx.execution.id", &e.id),
                attr("profx.outcome", p.outcome.as_str()),
                int_attr("profx.depth", i64::from(p.depth)),
            ],
            status: status(p.outcome, None),
            ..Default::default()
        });
    }
}

/// The request carrying the spans of `execs` (`None` when there are none).
pub(crate) fn request<'a>(
    execs: impl IntoIterator<Item = &'a ExecutionProfile>,
    resource: &[KeyValue],
) -> Option<ExportTraceServiceRequest> {
    let mut spans = Vec::new();
    for e in execs {
        self::spans(e, &mut spans);
    }
    if spans.is_empty() {
        return None;
    }
    Some(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource.to_vec(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: SCOPE.to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// Which kept executions an export sends: those that ended after the last export's cut and
/// before this one's. The cut stays a little behind the clock (an execution is published a
/// moment after its end reading); it moves on only when the spans were delivered, so a failed
/// export sends them again with the next (while the rings still hold them).
#[derive(Default)]
pub(crate) struct Cut {
    /// Unix nanoseconds: executions that ended at or before it were sent.
    pub(crate) sent_until: u64,
}

/// How far behind the clock a periodic export's cut stays.
pub(crate) const LAG_NS: u64 = 200_000_000;

impl Cut {
    /// The kept executions of `profiler` that ended in `(sent_until, until]`, and when the
    /// last of them ended (0: none).
    pub(crate) fn pending(
        &self,
        profiler: &profx_runtime::Profiler,
        until: u64,
    ) -> (Vec<ExecutionProfile>, u64) {
        let mut newest = 0;
        let pending = profiler
            .all_executions()
            .into_values()
            .flatten()
            .filter(|e| {
                let end = end_nanos(e.start, e.duration);
                let due = end > self.sent_until && end <= until;
                if due {
                    newest = newest.max(end);
                }
                due
            })
            .collect();
        (pending, newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profx_runtime::PhaseProfile;
    use std::time::Duration;

    fn exec(traceparent: Option<&str>) -> ExecutionProfile {
        let phase = |name: &'static str, s: u64, d: u64, depth| PhaseProfile {
            name: name.into(),
            start_offset: Duration::from_micros(s),
            duration: Duration::from_micros(d),
            depth,
            outcome: Outcome::Success,
        };
        ExecutionProfile {
            id: "handle-42".into(),
            agent: "handle".into(),
            request: "GET /".into(),
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000),
            duration: Duration::from_micros(100),
            polls: 1,
            busy: Duration::from_micros(100),
            memory_allocated: 0,
            allocations: 0,
            thread_count: 3,
            success: false,
            outcome: Outcome::Failure,
            error: Some("boom".into()),
            phases: vec![
                phase("parse", 0, 30, 0),
                phase("lex", 5, 20, 1),
                phase("db", 40, 50, 0),
            ],
            phases_dropped: 0,
            parent: None,
            traceparent: traceparent.map(str::to_owned),
            thread_id: 1,
            thread_name: Some("main".into()),
        }
    }

    #[test]
    fn an_execution_is_a_tree_of_spans() {
        let mut out = Vec::new();
        spans(&exec(None), &mut out);
        assert_eq!(out.len(), 4);
        let (root, parse, lex, db) = (&out[0], &out[1], &out[2], &out[3]);
        assert!(root.parent_span_id.is_empty());
        assert!(out.iter().all(|s| s.trace_id == root.trace_id));
        assert_eq!(parse.parent_span_id, root.span_id);
        assert_eq!(lex.parent_span_id, parse.span_id);
        assert_eq!(db.parent_span_id, root.span_id);
        let ids: std::collections::HashSet<_> = out.iter().map(|s| s.span_id.clone()).collect();
        assert_eq!(ids.len(), 4);
        assert_eq!(root.start_time_unix_nano, 1_000_000_000_000);
        assert_eq!(root.end_time_unix_nano, 1_000_000_100_000);
        assert_eq!(lex.start_time_unix_nano, 1_000_000_005_000);
        assert_eq!(lex.end_time_unix_nano, 1_000_000_025_000);
        let s = root.status.as_ref().unwrap();
        assert_eq!(
            (s.code, s.message.as_str()),
            (StatusCode::Error as i32, "boom")
        );
        // The same execution, the same ids.
        let mut again = Vec::new();
        spans(&exec(None), &mut again);
        assert_eq!(again, out);
    }

    #[test]
    fn a_joined_execution_is_a_child_of_the_callers_span() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut out = Vec::new();
        spans(&exec(Some(tp)), &mut out);
        let t = TraceParent::parse(tp).unwrap();
        assert!(out.iter().all(|s| s.trace_id == t.trace_id));
        assert_eq!(out[0].parent_span_id, t.parent_id);
        assert_eq!(out[0].flags, 1);
    }
}
