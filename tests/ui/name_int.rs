#[profx::agent(name = 42)]
fn locate() {}

fn main() {}
