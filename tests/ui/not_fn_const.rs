#[profx::phase]
const LIMIT: u32 = 10;

fn main() {}
