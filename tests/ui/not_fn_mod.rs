#[profx::phase]
mod steps {
    pub fn parse() {}
}

fn main() {}
