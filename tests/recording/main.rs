//! Recording through the attributes and the manual API, in one test binary (one link, not
//! eight): every function shape, async executions across threads and their busy time,
//! outcomes, self time, bulk attributes, the manual API, threads and the Chrome trace.
//!
//! The modules share the global profiler, as the tests within each always did: each uses
//! names of its own (a prefix per module: `async-`, `busy-`, `out-`, `st-`, `trace-`,
//! `threads-`, ...), reads only those, and none calls `clear()` or switches the global
//! profiler off. Tests that need a process of their own (environment variables, `clear()`,
//! the global switch, a global allocator, signals) stay in files of their own.

mod async_exec;
mod bulk;
mod manual;
mod outcomes;
mod self_time;
mod shapes;
mod threads;
mod trace;
