fn is_failure(_: &String) -> bool {
    true
}

#[profx::phase(failure = is_failure)]
fn parse() {}

#[profx::agent(failure = is_failure)]
fn count() -> u32 {
    3
}

fn main() {
    parse();
    count();
}
