#[profx::agent(threshold = 2)]
fn connection() {}

fn main() {}
