#[profx::skip]
fn alone() {}

fn main() {
    alone();
}
