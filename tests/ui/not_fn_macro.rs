macro_rules! noop {
    () => {};
}

#[profx::phase]
noop!();

fn main() {}
