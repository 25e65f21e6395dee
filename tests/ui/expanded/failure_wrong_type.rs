// The predicate takes the error by reference; one over another type is the compiler's error,
// pointed at the predicate.
#[profx::phase(failure = |e: &u32| *e > 3)]
fn parse() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = parse();
}
