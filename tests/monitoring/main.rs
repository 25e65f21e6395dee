//! The monitoring server, in one test binary (one link, not three): every endpoint against
//! the recorder and real clients (`promtool` on `/metrics`), its limits and its answers to
//! malformed requests (`server_fuzz`), and the README's Monitoring section run line by line
//! with `curl` and `jq` (`readme`). Each records under agent names of its own and starts its own
//! server on a free port. (The dashboard, which clears the global profiler, and the CPU
//! profiles, which sample the whole process, have binaries of their own.)

#[path = "../common/http.rs"]
mod http;
#[path = "../common/promtool.rs"]
mod promtool;

mod readme;
mod server;
mod server_fuzz;
