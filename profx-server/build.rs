//! Records what `/debug/build` of the monitoring server reports: the target triple, the
//! profile and the compiler's version.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=PROFX_BUILD_TARGET={target}");
    println!("cargo:rustc-env=PROFX_BUILD_PROFILE={profile}");
    println!("cargo:rustc-env=PROFX_BUILD_RUSTC={version}");
}
