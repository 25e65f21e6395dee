#[profx::agent(failure = |_| true, failure = |_| false)]
fn parse() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = parse();
}
