#[profx::main]
const fn main() {}
