//! The function under test, shared by the bench targets: a little real work, uninstrumented
//! and instrumented by profx and by each peer, and the loops that call it.
//!
//! Every instrumented function keeps the name the reports are read by (`work_profx`,
//! `profx_chunk`, `two_phases`, `phase_a`, `phase_b`, `work_hotpath`, `work_tracing`,
//! `tracing_chunk`).

use std::hint::black_box;

static DATA: [u64; 16] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3];

/// Calls per agent execution (profx) and per root span (fastrace): fastrace stops recording
/// after 10240 spans under one local parent, and profx keeps at most `PROFX_MAX_PHASES`
/// (1000) phase records per execution, so with 1000 every call is recorded in full by both.
pub const CHUNK: u64 = 1000;

/// A little real work: a multiplicative hash of 16 words read through `black_box`.
macro_rules! work_body {
    ($x:expr) => {{
        let d: &[u64; 16] = black_box(&DATA);
        let mut acc: u64 = $x;
        for &v in d.iter() {
            acc = acc.wrapping_mul(31).wrapping_add(v);
        }
        acc
    }};
}

/// The uninstrumented call: what the overhead is measured from.
#[inline(never)]
pub fn work_plain(x: u64) -> u64 {
    work_body!(x)
}

/// `work` as a profx phase.
#[profx::phase]
#[inline(never)]
pub fn work_profx(x: u64) -> u64 {
    work_body!(x)
}

/// `work` measured by hotpath.
#[hotpath::measure]
#[inline(never)]
pub fn work_hotpath(x: u64) -> u64 {
    work_body!(x)
}

/// `work` traced by fastrace.
#[fastrace::trace(short_name = true)]
#[inline(never)]
pub fn work_fastrace(x: u64) -> u64 {
    work_body!(x)
}

/// `work` instrumented by tracing.
#[tracing::instrument(level = "info", skip_all)]
#[inline(never)]
pub fn work_tracing(x: u64) -> u64 {
    work_body!(x)
}

/// The first of the two phases of [`two_phases`].
#[profx::phase]
#[inline(never)]
pub fn phase_a(x: u64) -> u64 {
    work_body!(x)
}

/// The second of the two phases of [`two_phases`].
#[profx::phase]
#[inline(never)]
pub fn phase_b(x: u64) -> u64 {
    work_body!(x)
}

/// An agent with two phases, end to end (the overhead bench's row (f)).
#[profx::agent]
#[inline(never)]
pub fn two_phases(x: u64) -> u64 {
    phase_a(x) ^ phase_b(x.wrapping_add(1))
}

/// The uninstrumented counterpart of [`two_phases`]: two plain calls.
#[inline(never)]
pub fn two_plain(x: u64) -> u64 {
    work_plain(x) ^ work_plain(x.wrapping_add(1))
}

/// `n` phase calls inside one execution.
#[profx::agent]
#[inline(never)]
pub fn profx_chunk(start: u64, n: u64) -> u64 {
    calls(start, n, work_profx)
}

/// `n` calls of the `#[tracing::instrument]`ed `work` inside one execution: with
/// `profx::tracing_layer::ProfxLayer` as the thread's subscriber, each span becomes a phase
/// of this agent's execution (the overhead bench's row (e')).
#[profx::agent]
#[inline(never)]
pub fn tracing_chunk(start: u64, n: u64) -> u64 {
    calls(start, n, work_tracing)
}

/// Calls `f` on `start..start + n` (each argument through `black_box`), summing the results.
#[inline(always)]
pub fn calls<F: Fn(u64) -> u64>(start: u64, n: u64, f: F) -> u64 {
    let mut acc = 0u64;
    for i in start..start + n {
        acc = acc.wrapping_add(f(black_box(i)));
    }
    acc
}

/// Covers `start..start + n` by pieces of at most `size`, calling `piece(first, len)` on each
/// and xoring the results.
#[inline(always)]
pub fn in_pieces<F: FnMut(u64, u64) -> u64>(start: u64, n: u64, size: u64, mut piece: F) -> u64 {
    let mut acc = 0u64;
    let mut i = start;
    while i < start + n {
        let k = size.min(start + n - i);
        acc ^= piece(i, k);
        i += k;
    }
    acc
}

/// A future that is ready at its `n + 1`-th poll: each poll before wakes it again and returns
/// `Pending`, as a task waiting on I/O would between its wake-ups.
pub struct Polls(pub u32);

impl std::future::Future for Polls {
    type Output = u32;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<u32> {
        if self.0 == 0 {
            return std::task::Poll::Ready(black_box(0));
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Polls `fut` to completion on this thread, with a waker that does nothing: no runtime in
/// the count, only the future's polls.
#[inline(never)]
pub fn poll_to_end<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// An uninstrumented async function whose body is polled `n + 1` times.
#[inline(never)]
pub async fn async_plain(n: u32) -> u32 {
    Polls(n).await
}

/// [`async_plain`] as an async profx agent: its polls are timed (busy vs waiting).
#[profx::agent]
#[inline(never)]
pub async fn async_agent(n: u32) -> u32 {
    Polls(n).await
}

/// An async profx phase whose body is polled `n + 1` times.
#[profx::phase]
#[inline(never)]
pub async fn async_phase(n: u32) -> u32 {
    Polls(n).await
}

/// An async agent awaiting one async phase: each poll goes through both.
#[profx::agent]
#[inline(never)]
pub async fn async_agent_phase(n: u32) -> u32 {
    async_phase(n).await
}
