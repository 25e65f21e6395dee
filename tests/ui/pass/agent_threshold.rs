//! `threshold` with the other arguments, on sync and async agents.

#[profx::agent(name = "session", threshold = "2s")]
fn session(id: u32) -> u32 {
    id
}

#[profx::agent(threshold = "1m 30s", request = id)]
async fn subscription(id: u32) -> u32 {
    id
}

fn main() {
    let _ = session(1);
    let _ = subscription(2);
}
