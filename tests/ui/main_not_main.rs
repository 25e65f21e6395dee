#[profx::main]
fn run() {}

fn main() {
    run();
}
