// A traceparent is text (or an Option of text), not a number: the error points at it.
#[profx::agent(traceparent = id)]
fn handle(id: u64) -> u64 {
    id
}

fn main() {
    handle(1);
}
