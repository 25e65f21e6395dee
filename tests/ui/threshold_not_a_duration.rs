#[profx::agent(threshold = "soon")]
fn connection() {}

fn main() {}
