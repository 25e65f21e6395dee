#[profx::phase(long_lived)]
fn read() {}

fn main() {
    read();
}
