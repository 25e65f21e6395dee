struct Store;

#[profx::phase]
impl Store {
    #[profx::skip(always)]
    fn get(&self) {}
}

fn main() {}
