//! `failure = ...` with a path, a closure, on sync and async agents and phases, on a type alias
//! of `Result`, next to the other arguments.

#[derive(Debug)]
enum FrameError {
    Incomplete,
    Other(String),
}

fn is_failure(e: &FrameError) -> bool {
    !matches!(e, FrameError::Incomplete)
}

#[profx::phase(failure = is_failure)]
fn check(n: u32) -> Result<u32, FrameError> {
    match n {
        0 => Err(FrameError::Incomplete),
        1 => Err(FrameError::Other("bad".into())),
        n => Ok(n),
    }
}

#[profx::phase(name = "read", failure = |e: &std::io::Error| e.kind() != std::io::ErrorKind::WouldBlock)]
fn read() -> std::io::Result<u8> {
    Ok(1)
}

#[profx::agent(failure = |_| false, threshold = "2s", long_lived)]
async fn connection() -> Result<(), String> {
    Err("closed".into())
}

#[profx::agent(long_lived, name = "session")]
fn session() {}

#[profx::agent(request = n, failure = is_failure)]
fn apply(n: u32) -> Result<u32, FrameError> {
    check(n)
}

fn main() {
    let _ = check(0);
    let _ = read();
    let _ = apply(2);
    session();
    let _ = connection();
}
