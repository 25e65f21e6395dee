// Every mistake is reported at once, each at its own token.

#[profx::agent(nmae = "x", name = 42, request = a, request = b)]
const fn locate(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {}
