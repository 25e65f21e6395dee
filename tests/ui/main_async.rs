#[profx::main]
async fn main() {}
