#[profx::phase(failure = false)]
fn parse() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = parse();
}
