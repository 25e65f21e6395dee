#[profx::agent(name = "a", name = "b")]
fn locate() {}

fn main() {}
