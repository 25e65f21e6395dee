#[profx::agent(nmae = "x")]
fn locate() {}

fn main() {}
