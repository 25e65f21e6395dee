#[profx::main(arg)]
fn main() {}
