// #[profx::main] below a runtime's attribute: it sees the sync `fn main` the runtime made.

#[profx::agent]
async fn work() -> u32 {
    7
}

#[tokio::main]
#[profx::main]
async fn main() {
    assert_eq!(work().await, 7);
}
