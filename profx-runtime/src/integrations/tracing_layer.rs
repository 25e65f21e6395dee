//! `tracing` spans as profx phases (feature `tracing`): a [`tracing_subscriber::Layer`].
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let subscriber = tracing_subscriber::registry().with(profx_runtime::tracing_layer::ProfxLayer::new());
//! tracing::subscriber::with_default(subscriber, || {
//!     let mut ex = profx_runtime::global().start_execution("importer", "batch 7");
//!     ex.in_scope(|| {
//!         let _load = tracing::info_span!("load").entered();
//!         // ... work ...
//!     });
//!     ex.end(());
//! });
//! if cfg!(feature = "enabled") {
//!     let importer = profx_runtime::global().agent_metrics("importer").unwrap();
//!     assert_eq!(importer.phases["load"].calls, 1);
//! }
//! ```
//!
//! # What a span becomes
//!
//! Each span the layer sees is one call of the phase named after the span
//! ([`Metadata::name`](tracing::Metadata::name): the function's name for
//! `#[tracing::instrument]`, the first argument of `info_span!`). Its fields, level and target
//! are not recorded.
//!
//! - **Duration**: from the span's creation to its close (when the last handle to it is
//!   dropped), however many times it was entered and exited in between. An async function
//!   under `#[tracing::instrument]` is therefore timed from the call to the end of its
//!   future, its idle time included, like an `async` `#[profx::phase]`.
//! - **Execution**: the one running on the thread that *creates* the span (an `#[agent]`
//!   body, an async agent's future while it is polled, or [`Execution::in_scope`]). If the
//!   span closes while that execution runs on the closing thread (any thread, for an async
//!   agent that moved), the phase is recorded in it: in its aggregates and in its
//!   [`ExecutionProfile::phases`]. If it closes elsewhere (a span moved into a task spawned
//!   off the execution, or kept past its end), the call still counts in the agent's
//!   aggregates for that phase, but is not in the execution's list of phases. A span created
//!   outside any execution is recorded like a [`phase`] guard there: in [`Report::phases`].
//! - **Depth**: while a span is entered on a thread where its execution runs, phases and
//!   spans started there are nested one level below it, so `PhaseProfile::depth` follows the
//!   nesting of spans as it does for `#[phase]` functions.
//! - **Outcome**: a span has none; the phase is a failure only when the span closes while its
//!   thread is panicking.
//! - **Run-time switch**: a span created while the profiler does not record
//!   ([`Profiler::disable`], `PROFX_ENABLED=false`) records nothing, even if recording is on
//!   again when it closes.
//!
//! Span names are interned once per call site and thread (a lookup keyed by the call site's
//! address); the per-span state lives in the span's extensions, so a span costs the
//! registry's own bookkeeping, two clock reads and one small allocation.
//!
//! # Choosing spans
//!
//! The layer records every span it is shown. To keep some out, give it a filter as any
//! `Layer` takes: `ProfxLayer::new().with_filter(tracing_subscriber::filter::filter_fn(|m|
//! m.target().starts_with("my_app")))` (per-layer filters need the `registry` feature of
//! `tracing-subscriber`, which this layer needs anyway).
//!
//! Without the `enabled` feature the layer exists and does nothing.
//!
//! [`Execution::in_scope`]: crate::Execution::in_scope
//! [`ExecutionProfile::phases`]: crate::ExecutionProfile::phases
//! [`phase`]: crate::phase()
//! [`Report::phases`]: crate::Report::phases
//! [`Profiler::disable`]: crate::Profiler::disable

use std::fmt;

#[cfg(feature = "enabled")]
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
#[cfg(feature = "enabled")]
use tracing_subscriber::layer::Context;
use tracing_subscriber::layer::Layer;
use tracing_subscriber::registry::LookupSpan;

/// A [`Layer`] that records `tracing` spans as profx phases; see the
/// [module documentation](self).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::Layer as _;
///
/// // Only the spans of this crate, and not the noisy one.
/// let layer = profx_runtime::tracing_layer::ProfxLayer::new().with_filter(
///     tracing_subscriber::filter::filter_fn(|m| m.name() != "poll_socket"),
/// );
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     let _s = tracing::info_span!("parse").entered();
/// });
/// ```
#[derive(Clone, Copy, Default)]
pub struct ProfxLayer {
    _private: (),
}

impl ProfxLayer {
    /// The layer (the same as [`ProfxLayer::default`]).
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(profx_runtime::tracing_layer::ProfxLayer::new());
    /// # drop(subscriber);
    /// ```
    pub fn new() -> ProfxLayer {
        ProfxLayer { _private: () }
    }
}

impl fmt::Debug for ProfxLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProfxLayer")
    }
}

#[cfg(not(feature = "enabled"))]
impl<S> Layer<S> for ProfxLayer where S: Subscriber + for<'a> LookupSpan<'a> {}

#[cfg(feature = "enabled")]
impl<S> Layer<S> for ProfxLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(phase) = on::begin(attrs.metadata()) else {
            return;
        };
        if let Some(span) = ctx.span(id) {
            crate::alloc::exclude(|| span.extensions_mut().insert(on::SpanPhase(phase)));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(p) = span.extensions().get::<on::SpanPhase>() {
                on::enter(id, &p.0);
            }
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        on::exit(id);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let phase = span.extensions_mut().remove::<on::SpanPhase>();
            if let Some(p) = phase {
                p.0.end();
            }
        }
    }
}

#[cfg(feature = "enabled")]
mod on {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::hash::{BuildHasherDefault, Hasher};

    use tracing::span::Id;
    use tracing::Metadata;

    use crate::context::DetachedPhase;

    /// The phase of one span, in its extensions.
    pub(super) struct SpanPhase(pub(super) DetachedPhase);

    /// Hashes a call site's address: one multiply.
    #[derive(Default)]
    pub(super) struct AddrHasher(u64);

    impl Hasher for AddrHasher {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
            }
        }
        fn write_usize(&mut self, n: usize) {
            self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    thread_local! {
        /// Name ids by call site (the address of its `'static` metadata).
        static NAMES: RefCell<HashMap<usize, u32, BuildHasherDefault<AddrHasher>>> =
            RefCell::new(HashMap::default());
        /// Spans entered on this thread whose execution ran here: (span, execution serial,
        /// the execution's depth before the span was entered).
        static ENTERED: RefCell<Vec<(u64, u64, u32)>> = const { RefCell::new(Vec::new()) };
    }

    fn name_id(meta: &'static Metadata<'static>) -> u32 {
        let key = meta as *const Metadata<'static> as usize;
        NAMES
            .try_with(|names| {
                if let Some(&id) = names.borrow().get(&key) {
                    return id;
                }
                let id = crate::registry::intern(meta.name());
                crate::alloc::exclude(|| names.borrow_mut().insert(key, id));
                id
            })
            .unwrap_or_else(|_| crate::registry::intern(meta.name()))
    }

    pub(super) fn begin(meta: &'static Metadata<'static>) -> Option<DetachedPhase> {
        DetachedPhase::begin(|| name_id(meta))
    }

    pub(super) fn enter(id: &Id, phase: &DetachedPhase) {
        if let Some(saved) = phase.enter() {
            let entry = (id.into_u64(), phase.serial(), saved);
            let _ = ENTERED.try_with(|e| crate::alloc::exclude(|| e.borrow_mut().push(entry)));
        }
    }

    pub(super) fn exit(id: &Id) {
        let id = id.into_u64();
        let found = ENTERED
            .try_with(|e| {
                let mut e = e.borrow_mut();
                let i = e.iter().rposition(|&(s, _, _)| s == id)?;
                Some(e.remove(i))
            })
            .ok()
            .flatten();
        if let Some((_, serial, saved)) = found {
            DetachedPhase::exit(serial, saved);
        }
    }
}
