#[profx::phase(name = "  ")]
fn parse() {}

fn main() {}
