#[profx::agent(request = query, request = query.len())]
fn locate(query: &str) -> usize {
    query.len()
}

fn main() {}
