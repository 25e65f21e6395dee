//! What every headless-Chromium test needs: the binary (Debian's, or `PROFX_CHROMIUM`), the
//! flags that keep it headless and off the network, and a scratch directory for its profile.
#![allow(dead_code)]

use std::path::PathBuf;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless, no sandbox (tests may run as root), no GPU, nothing fetched in the background,
/// console output on standard error.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
];

#[path = "tools.rs"]
mod tools;

/// The Chromium binary (`PROFX_CHROMIUM`, else Debian's).
pub fn binary() -> PathBuf {
    std::env::var_os("PROFX_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from)
}

/// Whether headless Chromium is there for the test running now: if not, the test fails
/// saying how to install it, or is skipped (saying so) when `PROFX_TEST_SKIP` names
/// `chromium`.
pub fn present() -> bool {
    tools::present(
        "chromium",
        binary().is_file(),
        "install Debian's chromium with `apt-get update && apt-get install -y chromium`, or set PROFX_CHROMIUM to a Chromium binary",
    )
}

/// A fresh temporary directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("profx-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
