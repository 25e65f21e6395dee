// A phase on an inline module: its functions, those of the modules and impl blocks inside.
#[profx::phase]
mod steps {
    pub fn parse() {}
    pub mod deep {
        pub fn walk() -> u32 {
            1
        }
        pub struct S;
        impl S {
            pub fn f(&self) {}
        }
    }
    #[profx::skip]
    pub mod raw {
        pub fn poke() {}
    }
    macro_rules! nothing {
        () => {};
    }
    nothing!();
    pub const fn zero() -> u8 {
        0
    }
}

fn main() {
    steps::parse();
    let _ = steps::deep::walk();
    steps::deep::S.f();
    steps::raw::poke();
    let _ = steps::zero();
}
