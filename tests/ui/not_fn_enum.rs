#[profx::phase]
enum Step {
    Parse,
    Check,
}

fn main() {}
