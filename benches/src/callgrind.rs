//! Exact instruction counts: a bench runs itself again under valgrind's callgrind and reads the
//! inclusive count of each of its `drive_*` functions from `callgrind_annotate`.
//!
//! Standard library only, so that `profx-bench-disabled` (built without profx's `enabled`,
//! hence not on this crate) includes this file as well.

use std::process::Command;

/// Why there are no counts.
#[derive(Debug)]
pub enum NoCounts {
    /// valgrind or `callgrind_annotate` is not available: nothing was measured.
    Unavailable(String),
    /// The program failed under valgrind (its message and standard error).
    Failed(String),
}

/// Runs this executable again under callgrind with `child_var` set (the child drives the
/// cases and exits), and returns the report of `callgrind_annotate --inclusive=yes`.
pub fn run_self(child_var: &str, tag: &str) -> Result<String, NoCounts> {
    let exe = std::env::current_exe().expect("own path");
    let out_file =
        std::env::temp_dir().join(format!("profx-{tag}-callgrind-{}.out", std::process::id()));
    let run = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(&exe)
        .env(child_var, "1")
        .output();
    match run {
        Ok(r) if r.status.success() => {}
        Ok(r) => {
            let _ = std::fs::remove_file(&out_file);
            return Err(NoCounts::Failed(format!(
                "valgrind (or the program under it) failed: {}\n{}",
                r.status,
                String::from_utf8_lossy(&r.stderr)
            )));
        }
        Err(e) => {
            return Err(NoCounts::Unavailable(format!(
                "valgrind is not available ({e}); nothing measured"
            )))
        }
    }
    let annotate = Command::new("callgrind_annotate")
        .arg("--inclusive=yes")
        .arg("--threshold=100")
        .arg(&out_file)
        .output();
    let _ = std::fs::remove_file(&out_file);
    match annotate {
        Ok(a) if a.status.success() => Ok(String::from_utf8_lossy(&a.stdout).into_owned()),
        _ => Err(NoCounts::Unavailable(
            "callgrind_annotate is not available or failed; nothing measured".into(),
        )),
    }
}

/// The inclusive instruction count of `module::function` in a report of [`run_self`]. Lines
/// look like `  7,600,017 ( 1.23%)  ???:instructions::drive_plain [/path]`.
pub fn inclusive(report: &str, module: &str, function: &str) -> Option<u64> {
    let needle = format!("{module}::{function} ");
    report.lines().find(|l| l.contains(&needle)).and_then(|l| {
        l.split_whitespace()
            .next()
            .and_then(|n| n.replace(',', "").parse::<u64>().ok())
    })
}
