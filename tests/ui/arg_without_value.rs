#[profx::agent(name)]
fn locate() {}

fn main() {}
