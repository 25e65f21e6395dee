#[profx::phase(threshold = "2s")]
fn parse() {}

fn main() {}
