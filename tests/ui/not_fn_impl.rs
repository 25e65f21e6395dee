struct Locator;

#[profx::agent]
impl Locator {
    fn run(&self) {}
}

fn main() {}
