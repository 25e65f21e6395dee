// A `Result` under another name is not seen as one (the attribute reads the signature, not
// the types): `failure` says so rather than being silently ignored.
type Res<T> = Result<T, String>;

#[profx::phase(failure = |_| true)]
fn parse() -> Res<u8> {
    Ok(1)
}

fn main() {
    let _ = parse();
}
