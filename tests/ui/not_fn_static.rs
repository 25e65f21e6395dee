#[profx::agent]
static LIMIT: u32 = 10;

fn main() {}
