#[profx::agent(threshold = "0s")]
fn connection() {}

fn main() {}
