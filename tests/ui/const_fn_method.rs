struct Grid;

impl Grid {
    #[profx::agent]
    pub const fn cells(&self) -> usize {
        0
    }
}

fn main() {}
