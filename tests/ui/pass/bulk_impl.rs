// An agent on an impl block: each method an agent of its own, `const fn`s, constants and
// types left alone, an explicit attribute and `#[profx::skip]` honoured, async methods too.
struct Locator;

trait Find {
    fn find(&self, q: &str) -> usize;
}

#[profx::agent]
impl Locator {
    fn run(&self) {}
    const fn limit() -> usize {
        3
    }
    const MAX: usize = 4;
    #[profx::phase(name = "locator-step")]
    fn step(&self) {}
    #[profx::skip]
    fn hot(&self) -> u8 {
        1
    }
    async fn fetch(&self) -> u8 {
        2
    }
}

#[profx::phase(failure = |e: &String| !e.is_empty())]
impl Find for Locator {
    fn find(&self, q: &str) -> usize {
        q.len()
    }
}

fn main() {
    let l = Locator;
    l.run();
    l.step();
    let _ = (Locator::limit(), Locator::MAX, l.hot(), l.find("x"));
    let _ = l.fetch();
}
