trait Agent {
    #[profx::agent]
    fn run(&self, query: &str) -> usize;
}

fn main() {}
