#[profx::agent]
trait Agent {
    fn run(&self);
}

fn main() {}
