struct Store;

#[profx::phase(name = "store")]
impl Store {
    fn get(&self) {}
}

fn main() {}
