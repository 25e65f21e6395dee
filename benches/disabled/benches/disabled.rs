//! With the `enabled` feature off, an instrumented call executes exactly the instructions of
//! the uninstrumented one (SPEC §2, §10 first target), counted by valgrind's callgrind.
//!
//! Run: `cargo bench -p profx-bench-disabled` on its own (needs `valgrind` and
//! `callgrind_annotate` on the PATH; without them it says so and stops). Built together with a
//! package that turns `enabled` on (`cargo bench --workspace`), cargo unifies profx's features;
//! the bench checks that recording is really compiled out and fails if it is not.
//!
//! The program runs itself under callgrind. Each `drive_*` function makes `K` calls of one
//! kind; its inclusive instruction count is compared with its uninstrumented twin's. The
//! drivers of a pair differ only in the constant they xor their result with (so that LLVM
//! does not merge them into one symbol, which callgrind would then report under one name):
//! the same instructions, counted the same. Then each pair of functions is compared by size
//! (`nm`) and instruction by instruction (`objdump -d`, addresses normalized), where those
//! tools are present. Any difference prints DIFFERENT and the bench exits with status 1.

#[path = "../../src/callgrind.rs"]
mod callgrind;

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::process::Command;
use std::task::{Context, Poll, Waker};

const K: u64 = 100_000;
const CHILD_VAR: &str = "PROFX_BENCH_DISABLED_UNDER_CALLGRIND";

/// The words the work hashes.
const WORDS: [u64; 16] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3];

/// A little real work: a multiplicative hash of the 16 words of `$data` read through
/// `black_box` (as in profx_bench::workloads).
macro_rules! work_body {
    ($data:expr, $x:expr) => {{
        let d: &[u64; 16] = ::std::hint::black_box(&$data);
        let mut acc: u64 = $x;
        for &v in d.iter() {
            acc = acc.wrapping_mul(31).wrapping_add(v);
        }
        acc
    }};
}

// The twins are in two modules, and each module hashes its own `static` copy of the words.
// LLVM's MergeFunctions folds functions with identical IR into one body: with one shared
// static, `plain::work` and `instrumented::work` (and `plain::two` and `instrumented::two`)
// became one function under two names, so the counts compared a function with itself (proof
// enough that the attributes changed nothing, but not a measurement). Reading different
// statics, they are compiled apart, to the same instructions but for the static's address.
// (The twins in a crate of their own is no way out: in a PIE, calls into another crate go
// through the GOT, which costs the plain side extra instructions that profx has nothing to
// do with.) Within a module identical functions may still be folded (`a`, `b`, `work`),
// alike on both sides; the size listing shows it.

/// The uninstrumented functions.
mod plain {
    /// This module's own copy of the words (see above).
    static DATA: [u64; 16] = super::WORDS;

    // (a): one call.
    #[inline(never)]
    pub fn work(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    // (c): two plain calls.
    #[inline(never)]
    pub fn a(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    #[inline(never)]
    pub fn b(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    #[inline(never)]
    pub fn two(x: u64) -> u64 {
        a(x) ^ b(x.wrapping_add(1))
    }

    // (d): the same in async.
    #[inline(never)]
    pub async fn async_a(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    #[inline(never)]
    pub async fn async_b(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    #[inline(never)]
    pub async fn async_two(x: u64) -> u64 {
        async_a(x).await ^ async_b(x.wrapping_add(1)).await
    }
}

/// The same functions under profx's attributes.
mod instrumented {
    /// This module's own copy of the words (see above).
    static DATA: [u64; 16] = super::WORDS;

    // (b): one phase call.
    #[profx::phase]
    #[inline(never)]
    pub fn work(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    // (c): an agent calling two phases.
    #[profx::phase]
    #[inline(never)]
    pub fn a(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    #[profx::phase]
    #[inline(never)]
    pub fn b(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    #[profx::agent]
    #[inline(never)]
    pub fn two(x: u64) -> u64 {
        a(x) ^ b(x.wrapping_add(1))
    }

    // (d): the same in async.
    #[profx::phase]
    #[inline(never)]
    pub async fn async_a(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    #[profx::phase]
    #[inline(never)]
    pub async fn async_b(x: u64) -> u64 {
        work_body!(DATA, x)
    }

    #[profx::agent]
    #[inline(never)]
    pub async fn async_two(x: u64) -> u64 {
        async_a(x).await ^ async_b(x.wrapping_add(1)).await
    }

    // (e): `phase_block!` around the body.
    #[inline(never)]
    pub fn block(x: u64) -> u64 {
        profx::phase_block!("work", { work_body!(DATA, x) })
    }
}

/// The smallest executor: polls with a no-op waker until ready (these futures never wait, so
/// once).
#[inline(always)]
fn poll_once<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Calls `f` on `start..start + n` (each argument through `black_box`), summing the results.
#[inline(always)]
fn calls<F: Fn(u64) -> u64>(start: u64, n: u64, f: F) -> u64 {
    let mut acc = 0u64;
    for i in start..start + n {
        acc = acc.wrapping_add(f(black_box(i)));
    }
    acc
}

// The drivers: `k` calls each; the callgrind report is read by their names. The xored
// constants only keep every driver a symbol of its own.

#[inline(never)]
fn drive_plain(k: u64) -> u64 {
    calls(0, k, plain::work) ^ 0x11
}

#[inline(never)]
fn drive_phase(k: u64) -> u64 {
    calls(0, k, instrumented::work) ^ 0x12
}

#[inline(never)]
fn drive_two_plain(k: u64) -> u64 {
    calls(0, k, plain::two) ^ 0x13
}

#[inline(never)]
fn drive_two_phases(k: u64) -> u64 {
    calls(0, k, instrumented::two) ^ 0x14
}

#[inline(never)]
fn drive_async_two_plain(k: u64) -> u64 {
    calls(0, k, |x| poll_once(plain::async_two(x))) ^ 0x15
}

#[inline(never)]
fn drive_async_two_phases(k: u64) -> u64 {
    calls(0, k, |x| poll_once(instrumented::async_two(x))) ^ 0x16
}

#[inline(never)]
fn drive_block(k: u64) -> u64 {
    calls(0, k, instrumented::block) ^ 0x17
}

/// One pair: what, the plain driver and the instrumented one, and the functions each calls
/// (for their sizes).
struct Pair {
    what: &'static str,
    plain: &'static str,
    instrumented: &'static str,
    plain_fns: &'static [&'static str],
    instrumented_fns: &'static [&'static str],
}

const PAIRS: &[Pair] = &[
    Pair {
        what: "(b) #[phase] fn vs (a) plain fn",
        plain: "drive_plain",
        instrumented: "drive_phase",
        plain_fns: &["plain::work"],
        instrumented_fns: &["instrumented::work"],
    },
    Pair {
        what: "(c) #[agent] fn + 2 #[phase] vs plain + 2 plain",
        plain: "drive_two_plain",
        instrumented: "drive_two_phases",
        plain_fns: &["plain::two", "plain::a", "plain::b"],
        instrumented_fns: &["instrumented::two", "instrumented::a", "instrumented::b"],
    },
    Pair {
        what: "(d) async #[agent] + 2 async #[phase] vs plain",
        plain: "drive_async_two_plain",
        instrumented: "drive_async_two_phases",
        plain_fns: &[
            "plain::async_two",
            "plain::async_two::{{closure}}",
            "plain::async_a",
            "plain::async_a::{{closure}}",
            "plain::async_b",
            "plain::async_b::{{closure}}",
        ],
        instrumented_fns: &[
            "instrumented::async_two",
            "instrumented::async_two::{{closure}}",
            "instrumented::async_a",
            "instrumented::async_a::{{closure}}",
            "instrumented::async_b",
            "instrumented::async_b::{{closure}}",
        ],
    },
    Pair {
        what: "(e) phase_block! vs (a) plain fn",
        plain: "drive_plain",
        instrumented: "drive_block",
        plain_fns: &["plain::work"],
        instrumented_fns: &["instrumented::block"],
    },
];

/// Panics unless profx records nothing: `enabled` off, whatever cargo unified.
fn assert_compiled_out(when: &str) {
    let p = profx::global();
    // With `enabled` compiled in this turns recording on (whatever `PROFX_ENABLED` says), and
    // `is_enabled` then says so; compiled out, both do nothing and it stays `false`.
    p.enable();
    let on = p.is_enabled();
    let r = p.report();
    let recorded = r.total_executions != 0
        || !r.agents.is_empty()
        || !r.phases.is_empty()
        || !r.executions.is_empty();
    assert!(
        !on && !recorded,
        "\n\nprofx-bench-disabled: profx's `enabled` feature is ON ({when}: is_enabled = {on}, \
         {} executions, {} agents, {} phases recorded).\nThis bench measures profx with \
         `enabled` off; cargo turned it on by unifying features with another package built \
         at the same time. Run it alone: `cargo bench -p profx-bench-disabled`.\n",
        r.total_executions,
        r.agents.len(),
        r.phases.len(),
    );
}

/// A few calls of every instrumented function.
fn touch_all() -> u64 {
    instrumented::work(1)
        ^ instrumented::two(2)
        ^ poll_once(instrumented::async_two(3))
        ^ instrumented::block(4)
        ^ plain::work(5)
        ^ plain::two(6)
        ^ poll_once(plain::async_two(7))
}

/// Under callgrind: drive each case, then check that nothing was recorded.
fn child() {
    black_box(touch_all());
    black_box(drive_plain(K));
    black_box(drive_phase(K));
    black_box(drive_two_plain(K));
    black_box(drive_two_phases(K));
    black_box(drive_async_two_plain(K));
    black_box(drive_async_two_phases(K));
    black_box(drive_block(K));
    assert_compiled_out("under callgrind, after the drivers");
}

/// The inclusive instruction count of `function` of this bench.
fn inclusive(text: &str, function: &str) -> Option<u64> {
    callgrind::inclusive(text, "disabled", function)
}

/// `(address, size in bytes)` of the bench's functions, by name without the crate prefix,
/// from `nm -S -C` (`None` without `nm`).
fn symbol_sizes(exe: &std::path::Path) -> Option<Vec<(String, u64, u64)>> {
    let out = Command::new("nm")
        .args(["-S", "-C", "--defined-only"])
        .arg(exe)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut syms = Vec::new();
    for line in text.lines() {
        // `0000000000012340 0000000000000042 t disabled::plain::work`
        let mut it = line.splitn(4, ' ');
        let (Some(addr), Some(size), Some(kind), Some(name)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        if !matches!(kind, "t" | "T") {
            continue;
        }
        let Some(name) = name.strip_prefix("disabled::") else {
            continue;
        };
        // Legacy mangling demangles with a trailing hash only when asked; strip one anyway.
        let name = match name.rsplit_once("::h") {
            Some((n, h)) if h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()) => n,
            _ => name,
        };
        if let (Ok(a), Ok(s)) = (u64::from_str_radix(addr, 16), u64::from_str_radix(size, 16)) {
            syms.push((name.to_string(), a, s));
        }
    }
    Some(syms)
}

/// The instructions of every function of the program, by address, from `objdump -d`
/// (`None` without it), normalized so that twins compare equal: no addresses, no
/// rip-relative displacements (each twin reads its own static), and `plain::` and
/// `instrumented::` in call targets read alike.
fn disassembly(exe: &std::path::Path) -> Option<HashMap<u64, Vec<String>>> {
    let out = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn", "-C"])
        .arg(exe)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut code = HashMap::new();
    let mut current: Option<(u64, Vec<String>)> = None;
    for line in text.lines() {
        // A function starts with `0000000000024200 <disabled::instrumented::work>:`.
        if let Some((addr, _)) = line.split_once(" <").filter(|_| line.ends_with(">:")) {
            if let Some((a, v)) = current.take() {
                code.insert(a, v);
            }
            current = u64::from_str_radix(addr, 16).ok().map(|a| (a, Vec::new()));
            continue;
        }
        // An instruction: `   24257:\tcall   24150 <disabled::instrumented::a>`.
        let (Some((_, insn)), Some((_, v))) = (line.split_once(":\t"), current.as_mut()) else {
            continue;
        };
        let insn = insn.split(" #").next().unwrap_or(insn);
        let insn = insn
            .replace("<disabled::plain::", "<disabled::twin::")
            .replace("<disabled::instrumented::", "<disabled::twin::");
        let mut words: Vec<String> = insn
            .split_whitespace()
            .map(|w| match w.find("(%rip)") {
                Some(i) => format!(
                    "{}(%rip){}",
                    &w[..w[..i].rfind(',').map_or(0, |c| c + 1)],
                    &w[i + 6..]
                ),
                None => w.to_string(),
            })
            .collect();
        // The absolute target of a call or jump, `24150 <...>`: the name in brackets stays.
        if words.get(2).is_some_and(|w| w.starts_with('<')) {
            words.remove(1);
        }
        if words.first().is_some_and(|w| w != "int3") {
            v.push(words.join(" "));
        }
    }
    if let Some((a, v)) = current {
        code.insert(a, v);
    }
    Some(code)
}

#[profx::main]
fn main() {
    if std::env::var_os(CHILD_VAR).is_some() {
        child();
        return;
    }
    // Checked here too, so that it holds even where valgrind is missing.
    black_box(touch_all());
    assert_compiled_out("before measuring");

    let text = match callgrind::run_self(CHILD_VAR, "bench-disabled") {
        Ok(text) => text,
        Err(callgrind::NoCounts::Unavailable(why)) => {
            println!("{why}");
            return;
        }
        Err(callgrind::NoCounts::Failed(why)) => {
            eprintln!("{why}");
            std::process::exit(1);
        }
    };
    let exe = std::env::current_exe().expect("own path");

    println!(
        "profx with `enabled` off: instruction counts (callgrind, {K} calls per driver, \
         inclusive)"
    );
    println!(
        "{:<50} {:>12} {:>12} {:>9} {:>9} {:>8}  verdict",
        "case", "plain total", "instr total", "plain/call", "instr/call", "diff"
    );
    let mut all_equal = true;
    for pair in PAIRS {
        let (Some(p), Some(i)) = (
            inclusive(&text, pair.plain),
            inclusive(&text, pair.instrumented),
        ) else {
            all_equal = false;
            println!(
                "{:<50} a driver is missing from the callgrind report: DIFFERENT",
                pair.what
            );
            continue;
        };
        let verdict = if p == i { "equal" } else { "DIFFERENT" };
        all_equal &= p == i;
        println!(
            "{:<50} {p:>12} {i:>12} {:>9.2} {:>9.2} {:>8.2}  {verdict}",
            pair.what,
            p as f64 / K as f64,
            i as f64 / K as f64,
            (i as f64 - p as f64) / K as f64,
        );
    }

    match symbol_sizes(&exe) {
        None => println!("(nm is not available: no function sizes)"),
        Some(syms) => {
            let code = disassembly(&exe);
            let find = |name: &str| {
                syms.iter()
                    .find(|(n, _, _)| n == name)
                    .map(|&(_, a, s)| (a, s))
            };
            let show = |name: &str| match find(name) {
                Some((a, s)) => format!("{name} {s} B @{a:x}"),
                None => format!("{name} -"),
            };
            println!(
                "function sizes (nm; `-`: no symbol, inlined or folded into an identical \
                 function of its module) and instructions (objdump, addresses normalized):"
            );
            for pair in PAIRS {
                for (p, i) in pair.plain_fns.iter().zip(pair.instrumented_fns) {
                    let verdict = match (find(p), find(i)) {
                        (Some((a, _)), Some((b, _))) if a == b => {
                            "one function (folded by LLVM)".to_string()
                        }
                        (Some((a, sa)), Some((b, sb))) => {
                            let same_size = sa == sb;
                            all_equal &= same_size;
                            let insns = match code.as_ref().map(|c| (c.get(&a), c.get(&b))) {
                                Some((Some(x), Some(y))) if x == y => {
                                    format!(", same {} instructions", x.len())
                                }
                                Some((Some(_), Some(_))) => {
                                    all_equal = false;
                                    ", DIFFERENT instructions".to_string()
                                }
                                _ => String::new(),
                            };
                            let size = if same_size {
                                "same size"
                            } else {
                                "DIFFERENT size"
                            };
                            format!("{size}{insns}")
                        }
                        (None, None) => "neither has a symbol".to_string(),
                        _ => {
                            all_equal = false;
                            "DIFFERENT (one has no symbol)".to_string()
                        }
                    };
                    println!("  {:<46} {:<46} {verdict}", show(p), show(i));
                }
            }
        }
    }
    if !all_equal {
        eprintln!("profx-bench-disabled: an instrumented function differs from its plain twin");
        std::process::exit(1);
    }
}
