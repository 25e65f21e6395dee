#[profx::agent(name = "locate", request)]
fn locate(query: &str) -> usize {
    query.len()
}

fn main() {}
