#[profx::phase(fast)]
fn parse() {}

fn main() {}
