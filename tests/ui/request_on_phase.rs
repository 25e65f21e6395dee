#[profx::phase(request = input)]
fn parse(input: &str) -> usize {
    input.len()
}

fn main() {}
