//! The README's Monitoring section, run: every `curl` line of its shell blocks against a live
//! server (with `curl` and `jq`), and its `prometheus.yml` and alerting rules checked by
//! `promtool`. If the README and the server drift apart, this fails.
#![cfg(all(feature = "enabled", feature = "server"))]

use crate::promtool::tools;

use std::path::{Path, PathBuf};
use std::process::Command;

const TOKEN: &str = "readme-s3cret";

/// The text of the README's `## Monitoring` section.
fn section() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let text = std::fs::read_to_string(&readme).expect("README.md");
    let start = text
        .find("\n## Monitoring\n")
        .expect("a '## Monitoring' section in README.md");
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    rest[..end].to_owned()
}

/// The fenced blocks of `text` tagged `lang`.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() == format!("```{lang}") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            out.push(body.join("\n") + "\n");
        }
    }
    out
}

/// `/usr/bin/NAME` when installed; `None` (the test is skipped, saying so) when it is not and
/// `PROFX_TEST_SKIP` names it; a failure saying how to install it otherwise.
fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin").join(name);
    let install = format!("install Debian's {package} (`apt-get install -y {package}`)");
    tools::present(name, path.is_file(), &install).then_some(path)
}

fn record() {
    for i in 0..20 {
        let mut ex = profx::global().start_execution("readme_agent", "example");
        ex.start_phase("step");
        ex.end_phase();
        if i % 4 == 0 {
            ex.end(Some("failed on purpose"));
        } else {
            ex.end(());
        }
    }
}

/// Runs one shell line with bash (`pipefail`, so a failing curl fails the line).
fn run(line: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c", line])
        .envs(env.iter().copied())
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{line}\nexited {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The file of `curl … -o FILE …`, if the line writes one.
fn output_file(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == "-o" {
            return words.next();
        }
    }
    None
}

#[test]
fn every_curl_line_of_the_readme_works() {
    if tool("curl", "curl").is_none() || tool("jq", "jq").is_none() {
        return;
    }
    record();
    profx::health::register("readme", || Ok(()));
    let open = profx::server::start("127.0.0.1:0").unwrap();
    let guarded = profx::server::Builder::new()
        .addr("127.0.0.1:0")
        .token(TOKEN)
        .start()
        .unwrap();

    let section = section();
    let scratch = std::env::temp_dir().join(format!("profx-readme-curl-{}", std::process::id()));
    let mut ran = 0;
    for block in blocks(&section, "sh") {
        for line in block.lines().map(str::trim) {
            if !line.starts_with("curl ") {
                continue;
            }
            if line.contains("/debug/pprof/") && !cfg!(feature = "pprof") {
                continue;
            }
            let tokened = line.contains("PROFX_SERVER_TOKEN");
            let addr = if tokened {
                guarded.local_addr()
            } else {
                open.local_addr()
            };
            let concrete = line
                .replace("localhost:9090", &addr.to_string())
                .replace("seconds=30", "seconds=1")
                .replace("seconds=10", "seconds=1");
            if let Some(file) = output_file(line) {
                // `curl -o FILE`: run where the file can be written, and check what it holds.
                let dir = scratch.join(format!("line{ran}"));
                std::fs::create_dir_all(&dir).unwrap();
                run(&format!("cd {} && {concrete}", dir.display()), &[]);
                let bytes = std::fs::read(dir.join(file)).expect("the file curl wrote");
                assert!(!bytes.is_empty(), "{line}: empty {file}");
                if file.ends_with(".svg") {
                    assert!(String::from_utf8_lossy(&bytes).contains("<svg"), "{line}");
                } else {
                    // A pprof protobuf: field 1 (sample_type), wire type 2.
                    assert_eq!(bytes[0], 0x0a, "{line}: not a pprof profile");
                }
                ran += 1;
                continue;
            }
            let out = run(&concrete, &[("PROFX_SERVER_TOKEN", TOKEN)]);
            let out = out.trim();
            assert!(!out.is_empty(), "{line}: no output");
            if line.contains("heap_live_mb") {
                // No CountingAlloc in this test: the heap is not measured, as the README says.
                assert_eq!(out, "null", "{line}");
            } else {
                assert_ne!(out, "null", "{line}");
            }
            if line.contains("/metrics") && !line.contains("/api/") {
                assert!(
                    out.contains("profx_agent_executions_total{agent=\"readme_agent\"} 20"),
                    "{line}: {out}"
                );
            }
            if line.contains("contains(\"exec\")") || line.contains("success_rate_percent") {
                assert!(out.contains("readme_agent"), "{line}: {out}");
            }
            if line.contains("success_rate_percent") {
                assert!(
                    out.contains("\"value\": 75"),
                    "{line}: 15 of 20 succeeded: {out}"
                );
            }
            ran += 1;
        }
    }
    assert!(
        ran >= 8,
        "only {ran} curl lines found in the README's Monitoring section"
    );

    let _ = std::fs::remove_dir_all(&scratch);
    // Without the token, the guarded server refuses.
    let refused = run(
        &format!(
            "curl -s -o /dev/null -w '%{{http_code}}' {}/metrics",
            guarded.local_addr()
        ),
        &[],
    );
    assert_eq!(refused, "401");
}

#[test]
fn the_readme_prometheus_files_pass_promtool() {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let section = section();
    let yaml = blocks(&section, "yaml");
    let config = yaml
        .iter()
        .find(|b| b.starts_with("scrape_configs:"))
        .expect("a prometheus.yml block");
    let rules = yaml
        .iter()
        .find(|b| b.starts_with("groups:"))
        .expect("an alerting rules block");
    let dir = std::env::temp_dir().join(format!("profx-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join("prometheus.yml");
    let rules_path = dir.join("rules.yml");
    std::fs::write(&config_path, config).unwrap();
    std::fs::write(&rules_path, rules).unwrap();
    for (what, file) in [("config", &config_path), ("rules", &rules_path)] {
        let out = Command::new(&promtool)
            .args(["check", what])
            .arg(file)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool check {what}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every metric the rules use is one profx exports.
    let mut ex = profx::global().start_execution("readme_rules", "r");
    ex.start_phase("step");
    ex.end_phase();
    ex.end(());
    let exposition = profx::prometheus::render();
    for name in [
        "process_resident_memory_bytes",
        "profx_agent_failures_total",
        "profx_agent_executions_total",
        "profx_agent_duration_seconds_bucket",
    ] {
        assert!(rules.contains(name), "{name} in the rules");
        assert!(exposition.contains(name), "{name} exported");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
