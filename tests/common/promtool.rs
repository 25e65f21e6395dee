//! `promtool check metrics` (Prometheus' own parser and linter, Debian package `prometheus`;
//! `ci/test` installs it when missing) on an exposition.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

#[path = "tools.rs"]
pub mod tools;

/// Whether promtool is there for the test running now: if not, the test fails saying how to
/// install it, or is skipped (saying so) when `PROFX_TEST_SKIP` names `promtool`.
pub fn present() -> bool {
    tools::present(
        "promtool",
        tools::on_path("promtool"),
        "install Debian's prometheus with `apt-get update && apt-get install -y prometheus`",
    )
}

/// Whether `promtool check metrics` accepts `text`, and everything it said (its lint
/// warnings included).
pub fn check_metrics(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed for this test ({e}): install it with \
                 `apt-get install -y prometheus` (Debian/Ubuntu; ci/test does)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// Asserts that `promtool check metrics` accepts `text` without a lint warning.
pub fn assert_clean(text: &str) {
    let (ok, said) = check_metrics(text);
    assert!(ok, "promtool check metrics failed:\n{said}\n{text}");
    assert!(said.trim().is_empty(), "promtool lint warnings:\n{said}");
}
