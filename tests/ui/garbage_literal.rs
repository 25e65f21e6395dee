#[profx::agent("locate")]
fn locate() {}

fn main() {}
