#[profx::agent]
use std::collections::HashMap;

fn main() {
    let _m: HashMap<u8, u8> = HashMap::new();
}
