#[profx::phase(name = some_ident)]
fn parse() {}

fn main() {}
