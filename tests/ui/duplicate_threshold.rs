#[profx::agent(threshold = "2s", name = "session", threshold = "3s")]
fn connection() {}

fn main() {}
