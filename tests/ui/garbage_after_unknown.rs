#[profx::agent(nmae = "locate" request = query)]
fn locate(query: &str) -> usize {
    query.len()
}

fn main() {}
