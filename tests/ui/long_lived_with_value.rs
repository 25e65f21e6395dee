#[profx::agent(long_lived = true)]
fn connection() {}

fn main() {
    connection();
}
