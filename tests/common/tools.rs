//! The programs some tests drive (headless Chromium, promtool, curl, jq): a test that needs one
//! which is not installed fails saying how to install it, unless `PROFX_TEST_SKIP` names it
//! (`PROFX_TEST_SKIP=chromium,promtool`, or `all`): then the test says on the terminal that it
//! was skipped and why, and passes without running. `ci/test` installs them when it can.
#![allow(dead_code)]

use std::io::Write;

/// The variable naming the programs whose tests may be skipped.
pub const SKIP_VAR: &str = "PROFX_TEST_SKIP";

/// Whether the test running now may go on with `tool`: `true` when `found`; when not, `false`
/// (after saying so) if `PROFX_TEST_SKIP` names it, else a panic saying how to `install` it.
pub fn present(tool: &str, found: bool, install: &str) -> bool {
    if found {
        return true;
    }
    let skip = std::env::var(SKIP_VAR).unwrap_or_default();
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    if skip
        .split(',')
        .map(str::trim)
        .any(|s| s == tool || s == "all")
    {
        // Straight to the terminal: the test harness captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: {tool} is not installed and {SKIP_VAR}={skip} skips the tests that need it"
        );
        return false;
    }
    panic!(
        "{test} needs {tool}, which is not installed: {install} (`ci/test` does when it can), \
         or set {SKIP_VAR}={tool} to skip the tests that need it"
    );
}

/// Whether `name` is an executable file in a directory of `PATH`.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}
