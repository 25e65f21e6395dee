#[profx::agent(type = "x")]
fn locate() {}

fn main() {}
