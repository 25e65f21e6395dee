// A phase joins no trace of its own: it is a span of its execution's.
#[profx::phase(traceparent = tp)]
fn step(tp: &str) -> usize {
    tp.len()
}

fn main() {
    step("x");
}
