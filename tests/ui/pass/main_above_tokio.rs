// #[profx::main] above a runtime's attribute: it sees `async fn main` with #[tokio::main] still
// on it, and accepts it.

#[profx::agent]
async fn work() -> u32 {
    7
}

#[profx::main]
#[tokio::main]
async fn main() {
    assert_eq!(work().await, 7);
}
