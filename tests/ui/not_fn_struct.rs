#[profx::agent]
pub struct Locator {
    root: String,
}

fn main() {}
