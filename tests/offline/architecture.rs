//! The layout's rules, checked: no source file of the crates past 600 lines, and no import cycle
//! between the files of a crate (a file's `crate::`, `super::` and `self::` paths, outside its
//! tests; a child naming its own parent module does not count, as `mod` declares the child).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 7] = [
    "src",
    "profx-report/src",
    "profx-runtime/src",
    "profx-server/src",
    "profx-otlp/src",
    "profx-macros/src",
    "profx-cli/src",
];
const MAX_LINES: usize = 600;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// A file's module path: `registry/table.rs` is `[registry, table]`, `server/mod.rs` is
/// `[server]`, `lib.rs` is `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source without comments and without its test module(s).
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") || t.starts_with("#[cfg(all(test") {
            break;
        }
        if !t.starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The paths `crate::a::b`, `super::x`, `self::y` in `code`, as segments.
fn paths(code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| bytes[i..].starts_with(p.as_bytes()));
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if let (Some(_), true) = (starts, word_start) {
            let end = code[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| i + e);
            out.push(
                code[i..end]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

fn cycles(src: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let resolve = |target: &[String]| {
        (0..=target.len())
            .rev()
            .map(|k| target[..k].to_vec())
            .find(|m| modules.contains_key(m))
    };
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (m, f) in &modules {
        let text = code(&std::fs::read_to_string(f).unwrap());
        let e = edges.entry(m.clone()).or_default();
        for p in paths(&text) {
            let mut cur = m.clone();
            let mut rest = &p[..];
            match p[0].as_str() {
                "crate" => {
                    cur.clear();
                    rest = &p[1..];
                }
                _ => {
                    while let Some(s) = rest.first() {
                        match s.as_str() {
                            "super" => {
                                cur.pop();
                            }
                            "self" => {}
                            _ => break,
                        }
                        rest = &rest[1..];
                    }
                }
            }
            cur.extend(rest.iter().cloned());
            if let Some(t) = resolve(&cur) {
                let ancestor = t.len() < m.len() && m[..t.len()] == t[..];
                if &t != m && !ancestor {
                    e.insert(t);
                }
            }
        }
    }
    // Strongly connected components with more than one file (Tarjan).
    struct T<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<Vec<String>, usize>,
        low: BTreeMap<Vec<String>, usize>,
        stack: Vec<Vec<String>>,
        on: BTreeSet<Vec<String>>,
        out: Vec<Vec<String>>,
    }
    fn visit(t: &mut T, v: &Vec<String>) {
        let n = t.index.len();
        t.index.insert(v.clone(), n);
        t.low.insert(v.clone(), n);
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        for w in t.edges.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(&w);
                comp.push(if w.is_empty() {
                    "lib".into()
                } else {
                    w.join("/")
                });
                if &w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_source_file_is_past_600_lines() {
    let mut long = Vec::new();
    for c in CRATES {
        let mut files = Vec::new();
        rust_files(&root().join(c), &mut files);
        for f in files {
            let n = std::fs::read_to_string(&f).unwrap().lines().count();
            if n > MAX_LINES {
                long.push(format!("{} ({n} lines)", f.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these modules: {long:#?}");
}

#[test]
fn no_import_cycle_between_files() {
    for c in CRATES {
        let found = cycles(&root().join(c));
        assert!(found.is_empty(), "import cycles in {c}: {found:#?}");
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    // Two files that use each other, and a third that uses them without being used.
    let dir = std::env::temp_dir().join(format!("profx-arch-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod c;\n").unwrap();
    std::fs::write(src.join("a/mod.rs"), "mod b;\nuse crate::c::X;\n").unwrap();
    std::fs::write(src.join("a/b.rs"), "use super::super::c::Y;\n").unwrap();
    std::fs::write(
        src.join("c.rs"),
        "// crate::a is named in a comment only\npub struct X; pub struct Y;\nfn f() { crate::a::g(); }\n#[cfg(test)]\nmod tests { use crate::a::b::Z; }\n",
    )
    .unwrap();
    let found = cycles(&src);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, vec![vec!["a".to_string(), "c".to_string()]]);
}
