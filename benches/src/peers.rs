//! The peers' collectors for the overhead bench: each one really records, so that what it
//! costs is in the figures, and what it saw can be checked against the calls made.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

/// The quanta clock shared by the clock-pair case and the tracing layer.
pub fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// fastrace: a reporter that counts the spans it receives, by name.
pub struct CountingReporter;

pub static FASTRACE_SPANS: AtomicU64 = AtomicU64::new(0);
pub static FASTRACE_ROOTS: AtomicU64 = AtomicU64::new(0);
pub static FASTRACE_NS: AtomicU64 = AtomicU64::new(0);

impl fastrace::collector::Reporter for CountingReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        for s in &spans {
            if s.name == Cow::Borrowed("chunk") {
                FASTRACE_ROOTS.fetch_add(1, Relaxed);
            } else {
                FASTRACE_SPANS.fetch_add(1, Relaxed);
                FASTRACE_NS.fetch_add(s.duration_ns, Relaxed);
            }
        }
    }
}

/// tracing: a layer that times every span from creation to close and records the duration in
/// a per-thread log2 histogram (count, sum, 64 buckets; single writer per thread).
pub mod timing_layer {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::{Arc, Mutex};

    use tracing::span;
    use tracing::Subscriber;
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::Layer;

    pub struct TimingLayer;

    struct Start(u64);

    pub struct Hist {
        pub count: AtomicU64,
        pub sum: AtomicU64,
        pub buckets: [AtomicU64; 64],
    }

    static HISTS: Mutex<Vec<Arc<Hist>>> = Mutex::new(Vec::new());

    thread_local! {
        static MINE: Arc<Hist> = {
            let h = Arc::new(Hist {
                count: AtomicU64::new(0),
                sum: AtomicU64::new(0),
                buckets: [const { AtomicU64::new(0) }; 64],
            });
            HISTS.lock().unwrap().push(h.clone());
            h
        };
    }

    #[inline]
    fn bump(a: &AtomicU64, by: u64) {
        a.store(a.load(Relaxed).wrapping_add(by), Relaxed);
    }

    fn record(ns: u64) {
        MINE.with(|h| {
            bump(&h.buckets[(64 - ns.leading_zeros() as usize).min(63)], 1);
            bump(&h.sum, ns);
            bump(&h.count, 1);
        });
    }

    /// (spans recorded, total ns) over every thread.
    pub fn totals() -> (u64, u64) {
        let hs = HISTS.lock().unwrap();
        hs.iter().fold((0, 0), |(c, s), h| {
            (c + h.count.load(Relaxed), s + h.sum.load(Relaxed))
        })
    }

    impl<S> Layer<S> for TimingLayer
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        fn on_new_span(&self, _attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Start(super::clock().raw()));
            }
        }

        fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(&id) {
                if let Some(start) = span.extensions().get::<Start>() {
                    let c = super::clock();
                    record(c.delta_as_nanos(start.0, c.raw()));
                }
            }
        }
    }
}

/// hotpath: its guard, reporting as JSON into a file read at the end.
pub fn hotpath_report_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("profx-bench-hotpath-{}.json", std::process::id()))
}

pub fn start_peers() -> hotpath::HotpathGuard {
    start_peers_with(fastrace::collector::Config::default())
}

/// [`start_peers`] with fastrace's collector configured by `fastrace_config` (the
/// instructions bench gives it a report interval longer than the run, so that it takes the
/// spans only when flushed, at points the bench chooses).
pub fn start_peers_with(fastrace_config: fastrace::collector::Config) -> hotpath::HotpathGuard {
    // No HTTP server from hotpath during the measurements (edition 2021: `set_var` is safe;
    // no other thread runs yet).
    std::env::set_var("HOTPATH_METRICS_SERVER_OFF", "1");
    let guard = hotpath::HotpathGuardBuilder::new("overhead")
        .format(hotpath::Format::Json)
        .output_path(hotpath_report_path())
        .functions_limit(0)
        .build();

    fastrace::set_reporter(CountingReporter, fastrace_config);

    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(timing_layer::TimingLayer);
    tracing::subscriber::set_global_default(subscriber).expect("no other tracing subscriber");
    guard
}

/// Calls hotpath saw for `name`, read from its JSON report (see [`hotpath_entry`]).
pub fn hotpath_calls(json: &serde_json::Value, name: &str) -> Option<u64> {
    hotpath_entry(json, name)?.get("calls")?.as_u64()
}

/// The entry of hotpath's JSON report for `name`: the first object whose name ends in `name`,
/// with a `calls` field (`calls`, `sampled_calls` — the calls timed —, `avg`, ...).
pub fn hotpath_entry<'a>(
    json: &'a serde_json::Value,
    name: &str,
) -> Option<&'a serde_json::Map<String, serde_json::Value>> {
    match json {
        serde_json::Value::Object(m) => {
            let named = m
                .get("name")
                .and_then(|v| v.as_str())
                .is_some_and(|s| s.ends_with(name));
            if named && m.get("calls").and_then(|v| v.as_u64()).is_some() {
                return Some(m);
            }
            m.values().find_map(|v| hotpath_entry(v, name))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|v| hotpath_entry(v, name)),
        _ => None,
    }
}
