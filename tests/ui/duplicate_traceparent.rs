#[profx::agent(traceparent = a, traceparent = b)]
fn handle(a: &str, b: &str) -> usize {
    a.len() + b.len()
}

fn main() {
    handle("x", "y");
}
