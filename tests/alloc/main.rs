//! Per-execution memory with the counting allocator installed as the global allocator (feature
//! `alloc`), in one test binary: sync agents, exact counts, nesting, the manual API and the
//! report (`sync`); async agents, whose memory is summed over their polls on whatever thread
//! ran them (`polled`). Each module uses agent names of its own (`alloc-sync-…`,
//! `alloc-async-…`). (Without the allocator installed: `alloc_not_installed.rs`; that nothing
//! is allocated on the hot path: `no_alloc.rs`, with an allocator of its own.)

#[global_allocator]
static ALLOC: profx::CountingAlloc = profx::CountingAlloc::system();

mod polled;
mod sync;
