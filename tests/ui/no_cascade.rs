// The misused attribute is the only error: the function is still emitted as written, so its
// callers type-check.

#[profx::agent(nmae = "locate")]
fn locate(query: &str) -> Result<usize, String> {
    Ok(query.len())
}

fn main() {
    let found: Result<usize, String> = locate("src/");
    let n: usize = found.unwrap();
    assert_eq!(n, 4);
}
