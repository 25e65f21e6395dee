#[profx::phase(label = "parse")]
fn parse() {}

fn main() {}
