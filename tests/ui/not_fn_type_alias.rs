#[profx::phase]
type Id = u64;

fn main() {}
