//! Every function shape of SPEC §3 takes `#[profx::agent]` / `#[profx::phase]`, records what it
//! should, and behaves exactly like the function without the attribute: same value, same panic,
//! same drop order of its arguments.
//!
//! The same file runs with and without the `enabled` feature: without it every read must be
//! empty. Tests run in parallel and share the global profiler, so each uses its own names and
//! none calls `clear()`.

use std::fmt::{self, Display};
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use profx::ExecutionProfile;

const ON: bool = cfg!(feature = "enabled");

// ---------------------------------------------------------------------------------------------
// Reading what was recorded.

/// The kept executions of `agent`: exactly `n` with the feature on, none without.
fn execs(agent: &str, n: usize) -> Vec<ExecutionProfile> {
    let e = profx::global().executions(agent);
    if ON {
        assert_eq!(e.len(), n, "executions of {agent}: {e:#?}");
    } else {
        assert!(e.is_empty(), "{agent} recorded without the feature");
    }
    e
}

/// The single execution of `agent` (`None` without the feature).
fn one(agent: &str) -> Option<ExecutionProfile> {
    execs(agent, 1).pop()
}

/// `agent` ran `ok + failed` times, `failed` of them failing (nothing without the feature).
fn counts(agent: &str, ok: u64, failed: u64) {
    let m = profx::global().agent_metrics(agent);
    if ON {
        let m = m.unwrap_or_else(|| panic!("no metrics for {agent}"));
        assert_eq!(
            (m.total_executions, m.success_count, m.failure_count),
            (ok + failed, ok, failed),
            "counts of {agent}"
        );
    } else {
        assert!(m.is_none(), "{agent} recorded without the feature");
    }
}

/// One successful execution of `agent`, asked nothing.
fn succeeded_once(agent: &str) {
    counts(agent, 1, 0);
    if let Some(e) = one(agent) {
        assert!(e.success, "{e:#?}");
        assert_eq!(e.error, None);
        assert_eq!(e.agent, agent);
        assert_eq!(e.request, "");
        assert!(e.id.starts_with(&format!("{agent}-")), "{}", e.id);
    }
}

/// One failed execution of `agent`, with this error.
fn failed_once(agent: &str, error: &str) {
    counts(agent, 0, 1);
    if let Some(e) = one(agent) {
        assert_eq!(e.outcome, profx::Outcome::Failure, "{e:#?}");
    }
    if let Some(e) = one(agent) {
        assert!(!e.success, "{e:#?}");
        assert_eq!(e.error.as_deref(), Some(error));
    }
}

/// One execution of `agent`, dropped before it completed: neither a success nor a failure.
fn cancelled_once(agent: &str) {
    let m = profx::global().agent_metrics(agent);
    if !ON {
        assert!(m.is_none(), "{agent} recorded without the feature");
        return;
    }
    let m = m.unwrap_or_else(|| panic!("no metrics for {agent}"));
    assert_eq!(
        (
            m.total_executions,
            m.success_count,
            m.failure_count,
            m.cancelled_count
        ),
        (1, 0, 0, 1),
        "counts of {agent}"
    );
    let e = one(agent).unwrap();
    assert_eq!(e.outcome, profx::Outcome::Cancelled, "{e:#?}");
    assert_eq!(e.error.as_deref(), Some("cancelled"));
}

/// Calls and failures of the phase `name` across everything (`report().phases`).
fn phase_totals(name: &str) -> (u64, u64) {
    let r = profx::global().report();
    match r.phases.get(name) {
        Some(p) => {
            if !ON {
                panic!("phase {name} recorded without the feature");
            }
            (p.calls, p.failures)
        }
        None => (0, 0),
    }
}

/// The phase `name` ran `calls` times, `failures` of them failing (nothing without the feature).
fn phase_counts(name: &str, calls: u64, failures: u64) {
    let want = if ON { (calls, failures) } else { (0, 0) };
    assert_eq!(phase_totals(name), want, "phase {name}");
}

/// Names and depths of an execution's phases.
fn phase_list(e: &ExecutionProfile) -> Vec<(&str, u32)> {
    e.phases
        .iter()
        .map(|p| (p.name.as_str(), p.depth))
        .collect()
}

/// Runs `f`, which must panic; returns the panic message.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    let payload = match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(p) => p,
    };
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string payload>".to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Drop logging.

/// A shared, ordered log of events.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    fn d(&self, name: &'static str) -> D {
        D(name, self.clone())
    }
}

/// Logs `drop <name>` when dropped.
struct D(&'static str, Log);

impl Drop for D {
    fn drop(&mut self) {
        self.1.push(format!("drop {}", self.0));
    }
}

/// Defines the same function twice, without and with `#[profx::agent]`.
macro_rules! twins {
    (fn $plain:ident / $inst:ident $args:tt $(-> $ret:ty)? $body:block) => {
        fn $plain $args $(-> $ret)? $body
        #[profx::agent]
        fn $inst $args $(-> $ret)? $body
    };
    (async fn $plain:ident / $inst:ident $args:tt $(-> $ret:ty)? $body:block) => {
        async fn $plain $args $(-> $ret)? $body
        #[profx::agent]
        async fn $inst $args $(-> $ret)? $body
    };
}

// ---------------------------------------------------------------------------------------------
// Free functions.

fn plain_add(a: u32, b: u32) -> u32 {
    a.wrapping_add(b)
}

#[profx::agent]
fn sh_free_add(a: u32, b: u32) -> u32 {
    a.wrapping_add(b)
}

#[profx::agent]
fn sh_free_unit() {}

#[test]
fn free_fn() {
    assert_eq!(sh_free_add(2, 40), plain_add(2, 40));
    succeeded_once("sh_free_add");
    sh_free_unit();
    succeeded_once("sh_free_unit");
    // Still a fn item: coerces to a fn pointer.
    let f: fn(u32, u32) -> u32 = sh_free_add;
    assert_eq!(f(u32::MAX, 2), plain_add(u32::MAX, 2));
    counts("sh_free_add", 2, 0);
}

// ---------------------------------------------------------------------------------------------
// Methods with every receiver, and associated functions.

#[derive(Debug, PartialEq)]
struct Counter {
    n: u32,
    label: &'static str,
}

#[allow(clippy::boxed_local)]
impl Counter {
    /// An associated function (no receiver).
    #[profx::agent]
    fn sh_assoc_new(n: u32) -> Self {
        Counter { n, label: "new" }
    }

    #[profx::agent]
    fn sh_recv_value(self) -> u32 {
        self.n * 2
    }

    #[profx::agent]
    fn sh_recv_mut_value(mut self) -> Self {
        self.n += 1;
        self
    }

    #[profx::agent]
    fn sh_recv_ref(&self) -> &'static str {
        self.label
    }

    #[profx::agent]
    fn sh_recv_mut(&mut self) {
        self.n += 10;
    }

    #[profx::agent]
    fn sh_recv_box(self: Box<Self>) -> u32 {
        self.n + 1
    }

    #[profx::agent]
    fn sh_recv_pin(self: Pin<&mut Self>) -> u32 {
        let this = self.get_mut();
        this.n += 100;
        this.n
    }

    #[profx::agent]
    fn sh_recv_pin_mut(mut self: Pin<&mut Self>) -> u32 {
        self.as_mut().get_mut().n += 1;
        self.n
    }

    #[profx::agent]
    fn sh_recv_arc(self: Arc<Self>) -> usize {
        Arc::strong_count(&self)
    }

    /// Returns a mutable borrow of a field: the borrow flows out of the body.
    #[profx::agent]
    fn sh_field_mut(&mut self) -> &mut u32 {
        &mut self.n
    }

    /// Same, in a `Result`, with `?` and an early `return`.
    #[profx::agent]
    fn sh_field_try(&mut self, limit: u32) -> Result<&mut u32, String> {
        if self.n > limit {
            return Err(format!("{} over {limit}", self.n));
        }
        let n = Some(&mut self.n).ok_or_else(|| "none".to_owned())?;
        Ok(n)
    }

    /// `request` may read the receiver.
    #[profx::agent(request = self.label)]
    fn sh_recv_request(&self, extra: u32) -> u32 {
        self.n + extra
    }
}

#[test]
fn methods_with_every_receiver() {
    let c = Counter::sh_assoc_new(1);
    assert_eq!(c, Counter { n: 1, label: "new" });
    succeeded_once("sh_assoc_new");

    assert_eq!(c.sh_recv_ref(), "new");
    succeeded_once("sh_recv_ref");

    let mut c = c.sh_recv_mut_value();
    assert_eq!(c.n, 2);
    succeeded_once("sh_recv_mut_value");

    c.sh_recv_mut();
    assert_eq!(c.n, 12);
    succeeded_once("sh_recv_mut");

    {
        let mut pinned = std::pin::pin!(Counter { n: 1, label: "p" });
        assert_eq!(pinned.as_mut().sh_recv_pin(), 101);
        assert_eq!(pinned.n, 101);
        assert_eq!(pinned.as_mut().sh_recv_pin_mut(), 102);
    }
    succeeded_once("sh_recv_pin");
    succeeded_once("sh_recv_pin_mut");

    assert_eq!(Box::new(Counter { n: 4, label: "b" }).sh_recv_box(), 5);
    succeeded_once("sh_recv_box");

    let shared = Arc::new(Counter { n: 0, label: "a" });
    assert_eq!(Arc::clone(&shared).sh_recv_arc(), 2);
    assert_eq!(
        Arc::strong_count(&shared),
        1,
        "the Arc receiver was dropped"
    );
    succeeded_once("sh_recv_arc");

    assert_eq!(c.sh_recv_value(), 24);
    succeeded_once("sh_recv_value");

    let c = Counter { n: 7, label: "req" };
    assert_eq!(c.sh_recv_request(1), 8);
    counts("sh_recv_request", 1, 0);
    if let Some(e) = one("sh_recv_request") {
        assert_eq!(e.request, "req");
    }
}

#[test]
fn borrows_flow_out_of_the_body() {
    let mut c = Counter { n: 1, label: "m" };
    *c.sh_field_mut() += 5;
    assert_eq!(c.n, 6);
    succeeded_once("sh_field_mut");

    *c.sh_field_try(10).unwrap() += 1;
    assert_eq!(c.n, 7);
    assert_eq!(c.sh_field_try(3), Err("7 over 3".to_owned()));
    counts("sh_field_try", 1, 1);
    let e = execs("sh_field_try", 2);
    if ON {
        assert!(e[0].success);
        assert_eq!(e[1].error.as_deref(), Some("7 over 3"));
    }
}

// ---------------------------------------------------------------------------------------------
// Generics, lifetimes, `impl Trait`, const generics.

#[profx::agent]
fn sh_generic_where<T, U>(items: T, sep: U) -> String
where
    T: IntoIterator,
    T::Item: Display,
    U: AsRef<str>,
{
    let parts: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    parts.join(sep.as_ref())
}

#[profx::phase]
fn sh_generic_default<T: Default + PartialEq>(x: T) -> bool {
    x == T::default()
}

#[allow(clippy::needless_lifetimes)]
#[profx::agent]
fn sh_lifetime_longest<'a>(x: &'a str, y: &'a str) -> &'a str {
    if y.len() > x.len() {
        y
    } else {
        x
    }
}

#[profx::agent]
fn sh_lifetime_elided(s: &str) -> &str {
    s.split(' ').next().unwrap_or(s)
}

#[profx::agent]
fn sh_lifetime_bounds<'a, 'b: 'a, T: ?Sized + 'b>(x: &'a &'b T) -> &'a T {
    x
}

#[test]
fn generics_and_lifetimes() {
    assert_eq!(sh_generic_where([1, 2, 3], String::from("-")), "1-2-3");
    assert_eq!(sh_generic_where(vec!["a"], ", "), "a");
    counts("sh_generic_where", 2, 0);

    assert!(sh_generic_default(0u8));
    assert!(!sh_generic_default(String::from("x")));
    // Monomorphised twice, one phase name.
    phase_counts("sh_generic_default", 2, 0);

    let long = String::from("longer");
    let r;
    {
        let short = String::from("s");
        r = sh_lifetime_longest(&long, &short).to_owned();
    }
    assert_eq!(r, "longer");
    succeeded_once("sh_lifetime_longest");

    let text = String::from("hello world");
    let w = sh_lifetime_elided(&text);
    assert_eq!(w, "hello");
    succeeded_once("sh_lifetime_elided");

    let s: &str = "unsized";
    assert_eq!(sh_lifetime_bounds(&s), "unsized");
    succeeded_once("sh_lifetime_bounds");
}

#[profx::agent]
fn sh_impl_arg(items: impl IntoIterator<Item = u32>, f: impl Fn(u32) -> u32) -> u32 {
    items.into_iter().map(f).sum()
}

#[profx::agent]
fn sh_impl_ret(n: u32) -> impl Iterator<Item = u32> + Clone {
    (0..n).map(|i| i * i)
}

#[profx::agent]
fn sh_impl_display(s: &str) -> impl Display + '_ {
    s.trim()
}

/// `impl Trait` inside a `Result`, with `?` and an early `return`.
#[profx::agent]
fn sh_impl_in_result(s: &str) -> Result<impl Display, std::num::ParseIntError> {
    if s.is_empty() {
        return Ok(0);
    }
    let n: i64 = s.parse()?;
    Ok(n * 2)
}

#[profx::agent]
fn sh_impl_boxed_err(s: &str) -> Result<impl Display, Box<dyn std::error::Error>> {
    let n: i64 = s.parse()?;
    Ok(n)
}

#[profx::agent]
async fn sh_impl_boxed_err_async(s: &str) -> Result<impl Display, Box<dyn std::error::Error>> {
    tokio::task::yield_now().await;
    let n: i64 = s.parse()?;
    Ok(n)
}

/// The body's value coerces to the declared return type.
#[profx::agent]
fn sh_dyn_ret(n: u8) -> Box<dyn Display> {
    Box::new(n)
}

#[profx::agent]
async fn sh_dyn_ret_async(n: u8) -> Box<dyn Display + Send> {
    Box::new(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversions_into_the_declared_type() {
    assert_eq!(sh_impl_boxed_err("3").unwrap().to_string(), "3");
    assert!(sh_impl_boxed_err("x").is_err());
    counts("sh_impl_boxed_err", 1, 1);
    assert_eq!(sh_impl_boxed_err_async("4").await.unwrap().to_string(), "4");
    assert!(sh_impl_boxed_err_async("y").await.is_err());
    counts("sh_impl_boxed_err_async", 1, 1);
    assert_eq!(sh_dyn_ret(5).to_string(), "5");
    succeeded_once("sh_dyn_ret");
    assert_eq!(sh_dyn_ret_async(6).await.to_string(), "6");
    succeeded_once("sh_dyn_ret_async");
}

#[test]
fn impl_trait_in_arguments_and_returns() {
    assert_eq!(sh_impl_arg(vec![1, 2, 3], |x| x * 10), 60);
    succeeded_once("sh_impl_arg");

    let it = sh_impl_ret(4);
    assert_eq!(it.clone().collect::<Vec<_>>(), [0, 1, 4, 9]);
    succeeded_once("sh_impl_ret");

    assert_eq!(sh_impl_display("  x ").to_string(), "x");
    succeeded_once("sh_impl_display");

    assert_eq!(sh_impl_in_result("21").unwrap().to_string(), "42");
    assert_eq!(sh_impl_in_result("").unwrap().to_string(), "0");
    let err = match sh_impl_in_result("2x") {
        Ok(_) => panic!("parsed"),
        Err(e) => e,
    };
    counts("sh_impl_in_result", 2, 1);
    let e = execs("sh_impl_in_result", 3);
    if ON {
        assert_eq!(e[2].error, Some(err.to_string()));
        assert_eq!(e[2].error.as_deref(), Some("invalid digit found in string"));
    }
}

#[profx::agent]
fn sh_const_generic<const N: usize>(a: [u8; N]) -> usize {
    a.iter().map(|&b| b as usize).sum::<usize>() + N
}

#[profx::phase]
fn sh_const_generic_phase<T: Copy + Default, const N: usize>() -> [T; N] {
    [T::default(); N]
}

#[test]
fn const_generics() {
    assert_eq!(sh_const_generic([1, 2, 3]), 9);
    assert_eq!(sh_const_generic([]), 0);
    counts("sh_const_generic", 2, 0);
    assert_eq!(sh_const_generic_phase::<u8, 4>(), [0u8; 4]);
    phase_counts("sh_const_generic_phase", 1, 0);
}

// ---------------------------------------------------------------------------------------------
// unsafe fn, extern "C" fn.

/// # Safety
/// `p` points to a live `u32`.
#[profx::agent]
unsafe fn sh_unsafe_read(p: *const u32) -> u32 {
    *p + 1
}

#[profx::agent]
extern "C" fn sh_extern_c(a: i32, b: i32) -> i32 {
    a * b
}

/// # Safety
/// None needed; both qualifiers together.
#[profx::phase]
unsafe extern "C" fn sh_unsafe_extern_c(x: u64) -> u64 {
    x << 1
}

#[test]
fn unsafe_and_extern_fns() {
    let v = 41u32;
    // SAFETY: `v` is alive.
    assert_eq!(unsafe { sh_unsafe_read(&v) }, 42);
    succeeded_once("sh_unsafe_read");

    let f: extern "C" fn(i32, i32) -> i32 = sh_extern_c;
    assert_eq!(f(6, 7), 42);
    succeeded_once("sh_extern_c");

    // SAFETY: no requirement.
    assert_eq!(unsafe { sh_unsafe_extern_c(21) }, 42);
    phase_counts("sh_unsafe_extern_c", 1, 0);
}

// ---------------------------------------------------------------------------------------------
// Outcomes: `?`, early `return`, error text, truncation, panics, `-> !`.

#[derive(Debug, PartialEq)]
struct MyError(String);

impl Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "my error: {}", self.0)
    }
}

impl From<std::num::ParseIntError> for MyError {
    fn from(e: std::num::ParseIntError) -> Self {
        MyError(e.to_string())
    }
}

fn plain_parse(s: &str) -> Result<u32, MyError> {
    if s == "early" {
        return Err(MyError("early return".into()));
    }
    if s == "zero" {
        return Ok(0);
    }
    let n: u32 = s.parse()?;
    Ok(n + 1)
}

#[profx::agent]
fn sh_try_parse(s: &str) -> Result<u32, MyError> {
    if s == "early" {
        return Err(MyError("early return".into()));
    }
    if s == "zero" {
        return Ok(0);
    }
    let n: u32 = s.parse()?;
    Ok(n + 1)
}

#[test]
fn question_mark_and_early_return() {
    for input in ["41", "zero", "early", "nope"] {
        assert_eq!(sh_try_parse(input), plain_parse(input), "{input}");
    }
    counts("sh_try_parse", 2, 2);
    let e = execs("sh_try_parse", 4);
    if ON {
        let got: Vec<_> = e.iter().map(|e| (e.success, e.error.clone())).collect();
        assert_eq!(
            got,
            [
                (true, None),
                (true, None),
                (false, Some("my error: early return".to_owned())),
                (
                    false,
                    Some("my error: invalid digit found in string".to_owned())
                ),
            ]
        );
    }
}

/// An error type with only `Debug`.
#[derive(Debug)]
#[allow(dead_code)]
struct DebugOnly(u8);

/// An error type with neither `Display` nor `Debug`.
struct Opaque;

#[profx::agent]
fn sh_err_debug_only() -> Result<(), DebugOnly> {
    Err(DebugOnly(7))
}

#[profx::agent]
fn sh_err_opaque() -> Result<(), Opaque> {
    Err(Opaque)
}

/// A `Result` by another path (`io::Result<T>`): its last segment is `Result`.
#[profx::agent]
fn sh_err_io(fail: bool) -> std::io::Result<u8> {
    if fail {
        return Err(std::io::Error::other("disk on fire"));
    }
    Ok(1)
}

/// Not a `Result` (an `Option`): always a success.
#[profx::agent]
fn sh_option_none() -> Option<u8> {
    None
}

#[test]
fn errors_of_every_kind() {
    assert!(sh_err_debug_only().is_err());
    failed_once("sh_err_debug_only", "DebugOnly(7)");
    assert!(sh_err_opaque().is_err());
    failed_once("sh_err_opaque", "error");
    assert_eq!(sh_err_io(false).unwrap(), 1);
    assert_eq!(sh_err_io(true).unwrap_err().to_string(), "disk on fire");
    counts("sh_err_io", 1, 1);
    if ON {
        let e = execs("sh_err_io", 2);
        assert_eq!(e[1].error.as_deref(), Some("disk on fire"));
    }
    assert_eq!(sh_option_none(), None);
    succeeded_once("sh_option_none");
}

#[profx::agent]
fn sh_err_long_2byte(n: usize) -> Result<(), String> {
    // 255 ASCII bytes, then 'é' (bytes 255..257) straddles the limit.
    Err(format!("{}é{}", "a".repeat(255), "z".repeat(n)))
}

#[profx::agent]
fn sh_err_long_4byte() -> Result<(), String> {
    // 'ü' twice, then 250 ASCII, then '😀' (bytes 254..258).
    Err(format!("üü{}😀tail", "b".repeat(250)))
}

#[profx::agent]
fn sh_err_exact_256() -> Result<(), String> {
    Err(format!("{}é", "c".repeat(254)))
}

#[profx::agent]
fn sh_err_fragments() -> Result<(), Fragments> {
    Err(Fragments)
}

/// Displays in many small writes that cross the limit.
struct Fragments;

impl Display for Fragments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in 0..100 {
            f.write_str("日本")?; // 6 bytes a write
        }
        Ok(())
    }
}

#[test]
fn long_errors_are_cut_at_a_char_boundary() {
    let full = sh_err_long_2byte(100).unwrap_err();
    assert!(full.len() > 256);
    if let Some(e) = one("sh_err_long_2byte") {
        let got = e.error.unwrap();
        assert!(got.len() <= 256);
        assert!(full.starts_with(&got));
        assert_eq!(got, "a".repeat(255));
    }

    let full = sh_err_long_4byte().unwrap_err();
    if let Some(e) = one("sh_err_long_4byte") {
        let got = e.error.unwrap();
        assert_eq!(got.len(), 254);
        assert!(full.starts_with(&got));
    }

    let full = sh_err_exact_256().unwrap_err();
    assert_eq!(full.len(), 256);
    if let Some(e) = one("sh_err_exact_256") {
        assert_eq!(
            e.error.as_deref(),
            Some(full.as_str()),
            "256 bytes are kept"
        );
    }

    assert!(sh_err_fragments().is_err());
    if let Some(e) = one("sh_err_fragments") {
        let got = e.error.unwrap();
        // 42 whole "日本" (252 bytes), then "日" (255), and "本" does not fit.
        assert_eq!(got.len(), 255);
        assert!(Fragments.to_string().starts_with(&got));
    }
}

#[profx::agent]
fn sh_panics(fail: bool) -> u32 {
    if fail {
        panic!("sh_panics says no");
    }
    1
}

#[profx::agent]
fn sh_diverges(msg: &str) -> ! {
    panic!("diverged: {msg}")
}

#[profx::phase]
fn sh_diverges_phase() -> ! {
    std::panic::panic_any(17u8)
}

#[test]
fn panics_fail_with_panicked_and_go_on_unchanged() {
    assert_eq!(sh_panics(false), 1);
    assert_eq!(panic_message(|| sh_panics(true)), "sh_panics says no");
    counts("sh_panics", 1, 1);
    if ON {
        let e = execs("sh_panics", 2);
        assert_eq!(e[1].error.as_deref(), Some("panicked"));
    }

    assert_eq!(panic_message(|| sh_diverges("boom")), "diverged: boom");
    failed_once("sh_diverges", "panicked");

    let payload = panic::catch_unwind(|| sh_diverges_phase()).unwrap_err();
    assert_eq!(payload.downcast_ref::<u8>(), Some(&17));
    phase_counts("sh_diverges_phase", 1, 1);
}

// ---------------------------------------------------------------------------------------------
// Patterns in arguments.

#[derive(Clone, Copy)]
struct Point {
    x: i32,
    y: i32,
}

struct Pair(u32, String);

#[profx::agent]
fn sh_patterns(
    (a, b): (u32, u32),
    mut x: u32,
    _: u8,
    Point { x: px, y: py }: Point,
    Pair(n, ref s): Pair,
    &k: &u32,
) -> String {
    x += a + b;
    format!("{x} {px} {py} {n} {s} {k}")
}

#[profx::phase]
fn sh_patterns_phase(Point { x, .. }: Point, [first, .., last]: [u8; 4], mut v: Vec<u8>) -> u32 {
    v.push(first);
    x as u32 + last as u32 + v.len() as u32
}

/// `request` may name bindings of a destructuring pattern.
#[profx::agent(request = format_args!("{a}/{y}"))]
fn sh_patterns_request((a, _): (u32, u32), Point { y, .. }: Point) -> i32 {
    a as i32 + y
}

/// `request` with bindings by reference, by `ref`, `mut` and `@`.
#[profx::agent(request = format_args!("{k} {s} {m} {all:?} {b}"))]
fn sh_patterns_request_kinds(
    &k: &u32,
    Pair(_, ref s): Pair,
    (mut m, _): (u32, u32),
    all @ (_, b): (u8, u8),
) -> u32 {
    m += 1;
    k + m + s.len() as u32 + all.0 as u32 + b as u32
}

/// `request` with reference patterns inside, and with patterns matching through a reference.
#[profx::agent(request = format_args!("{a} {b} {c} {x} {y}"))]
fn sh_patterns_request_refs(
    (a, &b): (u32, &u32),
    &mut c: &mut u32,
    (x, y): &(u32, String),
) -> usize {
    (a + b + c + x) as usize + y.len()
}

#[test]
fn patterns_in_arguments() {
    let mut c = 3;
    assert_eq!(
        sh_patterns_request_refs((1, &2), &mut c, &(4, "five".into())),
        14
    );
    if let Some(e) = one("sh_patterns_request_refs") {
        assert_eq!(e.request, "1 2 3 4 five");
    }

    assert_eq!(
        sh_patterns_request_kinds(&1, Pair(0, "ab".into()), (10, 0), (100, 5)),
        1 + 11 + 2 + 100 + 5
    );
    if let Some(e) = one("sh_patterns_request_kinds") {
        assert_eq!(e.request, "1 ab 10 (100, 5) 5");
    }

    let got = sh_patterns(
        (1, 2),
        10,
        0,
        Point { x: -1, y: -2 },
        Pair(5, "five".into()),
        &9,
    );
    assert_eq!(got, "13 -1 -2 5 five 9");
    succeeded_once("sh_patterns");

    assert_eq!(
        sh_patterns_phase(Point { x: 3, y: 0 }, [1, 2, 3, 4], vec![]),
        8
    );
    phase_counts("sh_patterns_phase", 1, 0);

    assert_eq!(sh_patterns_request((4, 5), Point { x: 0, y: 6 }), 10);
    if let Some(e) = one("sh_patterns_request") {
        assert_eq!(e.request, "4/6");
    }
}

// ---------------------------------------------------------------------------------------------
// Attributes are kept.

mod documented {
    #![deny(missing_docs)]
    //! Instrumented items keep their doc comments (`missing_docs` would fail otherwise).

    /// Documented, `#[must_use]`, `#[inline]`: all kept.
    #[must_use = "the sum is the point"]
    #[inline]
    #[profx::agent]
    pub fn sh_attrs_kept(a: u8) -> u16 {
        a as u16 * 2
    }

    /// Attributes below the instrumenting one are kept too.
    #[profx::phase]
    #[must_use]
    #[allow(clippy::let_and_return)]
    pub fn sh_attrs_below(a: u8) -> u8 {
        let b = a + 1;
        b
    }
}

#[test]
fn attributes_are_kept() {
    assert_eq!(documented::sh_attrs_kept(21), 42);
    succeeded_once("sh_attrs_kept");
    assert_eq!(documented::sh_attrs_below(1), 2);
    phase_counts("sh_attrs_below", 1, 0);
}

/// A phase method that hands out a borrow of what it captured, as the function could.
struct PhaseCell {
    n: u32,
}

impl PhaseCell {
    #[profx::phase]
    fn sh_phase_field_mut(&mut self) -> &mut u32 {
        &mut self.n
    }

    #[profx::phase]
    fn sh_phase_field_try(&mut self, limit: u32) -> Result<&mut u32, String> {
        if self.n > limit {
            return Err(format!("{} over {limit}", self.n));
        }
        Ok(&mut self.n)
    }
}

#[test]
fn phases_hand_out_borrows_of_their_receiver() {
    let mut c = PhaseCell { n: 1 };
    *c.sh_phase_field_mut() += 5;
    assert_eq!(c.n, 6);
    phase_counts("sh_phase_field_mut", 1, 0);
    *c.sh_phase_field_try(10).unwrap() += 1;
    assert_eq!(c.sh_phase_field_try(3), Err("7 over 3".to_owned()));
    phase_counts("sh_phase_field_try", 2, 1);
}

// ---------------------------------------------------------------------------------------------
// Recursion, nesting, `request`, `name`.

#[profx::agent]
fn sh_recursive_fact(n: u64) -> u64 {
    if n <= 1 {
        return 1;
    }
    n * sh_recursive_fact(n - 1)
}

#[profx::agent]
fn sh_recursive_phase_root(n: u32) -> u32 {
    sh_recursive_phase(n)
}

#[profx::phase]
fn sh_recursive_phase(n: u32) -> u32 {
    if n == 0 {
        0
    } else {
        1 + sh_recursive_phase(n - 1)
    }
}

#[test]
fn recursion() {
    assert_eq!(sh_recursive_fact(5), 120);
    counts("sh_recursive_fact", 5, 0);
    execs("sh_recursive_fact", 5);

    assert_eq!(sh_recursive_phase_root(3), 3);
    succeeded_once("sh_recursive_phase_root");
    if let Some(e) = one("sh_recursive_phase_root") {
        assert_eq!(
            phase_list(&e),
            [
                ("sh_recursive_phase", 0),
                ("sh_recursive_phase", 1),
                ("sh_recursive_phase", 2),
                ("sh_recursive_phase", 3),
            ]
        );
    }
    phase_counts("sh_recursive_phase", 4, 0);
}

#[profx::agent]
fn sh_nest_agent() -> u32 {
    let a = sh_nest_outer();
    let b = sh_nest_sibling();
    a + b
}

#[profx::phase]
fn sh_nest_outer() -> u32 {
    sh_nest_inner() + 1
}

#[profx::phase]
fn sh_nest_inner() -> u32 {
    std::thread::sleep(Duration::from_millis(1));
    10
}

#[profx::phase]
fn sh_nest_sibling() -> u32 {
    100
}

#[test]
fn phase_in_phase_in_agent() {
    assert_eq!(sh_nest_agent(), 111);
    succeeded_once("sh_nest_agent");
    if let Some(e) = one("sh_nest_agent") {
        assert_eq!(
            phase_list(&e),
            [
                ("sh_nest_outer", 0),
                ("sh_nest_inner", 1),
                ("sh_nest_sibling", 0),
            ]
        );
        let outer = &e.phases[0];
        let inner = &e.phases[1];
        assert!(inner.start_offset >= outer.start_offset);
        assert!(inner.duration >= Duration::from_millis(1));
        assert!(outer.duration >= inner.duration);
        assert!(e.duration >= outer.duration);
        let m = profx::global().agent_metrics("sh_nest_agent").unwrap();
        let names: Vec<_> = m.phases.keys().map(String::as_str).collect();
        assert_eq!(names, ["sh_nest_inner", "sh_nest_outer", "sh_nest_sibling"]);
        assert_eq!(m.phases["sh_nest_inner"].calls, 1);
    }
    // Outside any execution a phase is still recorded, by name.
    assert_eq!(sh_nest_inner(), 10);
    phase_counts("sh_nest_inner", 2, 0);
    phase_counts("sh_nest_outer", 1, 0);
}

#[profx::agent(request = query)]
fn sh_request_str(query: &str) -> usize {
    query.len()
}

#[profx::agent(request = format!("{host}:{port}"))]
fn sh_request_expr(host: String, port: u16) -> (String, u16) {
    (host, port)
}

#[profx::agent(request = items.len())]
fn sh_request_len(items: Vec<u8>) -> Vec<u8> {
    items
}

#[test]
fn request_expressions() {
    assert_eq!(sh_request_str("Find main.go"), 12);
    if let Some(e) = one("sh_request_str") {
        assert_eq!(e.request, "Find main.go");
    }
    assert_eq!(
        sh_request_expr("example".into(), 80),
        ("example".into(), 80)
    );
    if let Some(e) = one("sh_request_expr") {
        assert_eq!(e.request, "example:80");
    }
    assert_eq!(sh_request_len(vec![1, 2, 3]), [1, 2, 3]);
    if let Some(e) = one("sh_request_len") {
        assert_eq!(e.request, "3");
    }
}

#[profx::agent(name = "shapes-renamed-agent")]
fn sh_renamed() -> u8 {
    sh_renamed_phase()
}

#[profx::phase(name = "shapes-renamed-phase")]
fn sh_renamed_phase() -> u8 {
    7
}

#[test]
fn name_override() {
    assert_eq!(sh_renamed(), 7);
    succeeded_once("shapes-renamed-agent");
    if ON {
        assert!(profx::global().agent_metrics("sh_renamed").is_none());
        assert!(profx::global().executions("sh_renamed").is_empty());
        let e = one("shapes-renamed-agent").unwrap();
        assert_eq!(phase_list(&e), [("shapes-renamed-phase", 0)]);
        assert!(!profx::global()
            .report()
            .phases
            .contains_key("sh_renamed_phase"));
    }
    phase_counts("shapes-renamed-phase", 1, 0);
}

#[profx::phase]
fn sh_phase_result(fail: bool) -> Result<u8, String> {
    if fail {
        Err("phase failed".into())
    } else {
        Ok(1)
    }
}

#[test]
fn phase_outcomes() {
    assert_eq!(sh_phase_result(false), Ok(1));
    assert!(sh_phase_result(true).is_err());
    phase_counts("sh_phase_result", 2, 1);
}

// ---------------------------------------------------------------------------------------------
// Trait impls: sync, `async fn`, provided methods, `impl Trait` in return position.

trait Shape {
    fn area(&self) -> f64;
    fn scaled(self, k: f64) -> Self
    where
        Self: Sized;
    async fn describe(&self, prefix: &str) -> Result<String, String>;
    fn corners(&self) -> impl Iterator<Item = (i32, i32)>;

    /// A provided method with the attribute.
    #[profx::phase]
    fn sh_trait_provided(&self) -> f64 {
        self.area() * 2.0
    }
}

struct Square(f64);

impl Shape for Square {
    #[profx::agent(name = "sh_trait_area")]
    fn area(&self) -> f64 {
        self.0 * self.0
    }

    #[profx::agent(name = "sh_trait_scaled")]
    fn scaled(self, k: f64) -> Self {
        Square(self.0 * k)
    }

    #[profx::agent(name = "sh_trait_describe", request = prefix)]
    async fn describe(&self, prefix: &str) -> Result<String, String> {
        tokio::task::yield_now().await;
        if self.0 < 0.0 {
            return Err(format!("{prefix}: negative side"));
        }
        Ok(format!("{prefix}: square {}", self.0))
    }

    #[profx::agent(name = "sh_trait_corners")]
    fn corners(&self) -> impl Iterator<Item = (i32, i32)> {
        let s = self.0 as i32;
        [(0, 0), (s, 0), (s, s), (0, s)].into_iter()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trait_impl_methods() {
    let sq = Square(3.0);
    assert_eq!(sq.area(), 9.0);
    succeeded_once("sh_trait_area");
    assert_eq!(sq.sh_trait_provided(), 18.0);
    phase_counts("sh_trait_provided", 1, 0);
    assert_eq!(sq.corners().count(), 4);
    succeeded_once("sh_trait_corners");

    assert_eq!(sq.describe("a").await.unwrap(), "a: square 3");
    let neg = Square(-1.0);
    assert_eq!(
        neg.describe("b").await.unwrap_err(),
        "b: negative side".to_owned()
    );
    counts("sh_trait_describe", 1, 1);
    let e = execs("sh_trait_describe", 2);
    if ON {
        assert_eq!(e[0].request, "a");
        assert_eq!(e[1].request, "b");
        assert_eq!(e[1].error.as_deref(), Some("b: negative side"));
    }
    assert_eq!(sq.scaled(2.0).0, 6.0);
    succeeded_once("sh_trait_scaled");
}

// ---------------------------------------------------------------------------------------------
// async fn.

#[profx::agent(request = n)]
async fn sh_async_agent(n: u64) -> u64 {
    let a = sh_async_phase(n).await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    let b = sh_sync_phase_in_async(a);
    a + b
}

#[profx::phase]
async fn sh_async_phase(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    sh_async_inner_phase(n).await
}

#[profx::phase]
async fn sh_async_inner_phase(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n + 1
}

#[profx::phase]
fn sh_sync_phase_in_async(n: u64) -> u64 {
    n * 10
}

#[profx::agent]
async fn sh_async_try(s: &str) -> Result<u32, std::num::ParseIntError> {
    tokio::task::yield_now().await;
    if s == "zero" {
        return Ok(0);
    }
    let n: u32 = s.parse()?;
    Ok(n)
}

#[profx::agent]
async fn sh_async_never() -> u32 {
    futures::future::pending::<()>().await;
    1
}

#[profx::agent]
async fn sh_async_panics() -> u32 {
    tokio::task::yield_now().await;
    panic!("async panic")
}

#[profx::agent]
async fn sh_async_impl(x: &str) -> impl Display + '_ {
    x.trim()
}

#[allow(clippy::needless_lifetimes)]
#[profx::agent]
async fn sh_async_generic<'a, T>(items: &'a [T], sep: impl AsRef<str>) -> String
where
    T: Display + Sync,
{
    tokio::task::yield_now().await;
    let parts: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    parts.join(sep.as_ref())
}

struct AsyncHolder {
    n: u32,
}

impl AsyncHolder {
    /// A borrow of `self` flows out of the future.
    #[profx::agent]
    async fn sh_async_field_mut(&mut self, by: u32) -> &mut u32 {
        tokio::task::yield_now().await;
        self.n += by;
        &mut self.n
    }

    #[profx::phase]
    async fn sh_async_by_value(self, (a, _): (u32, u32)) -> u32 {
        tokio::task::yield_now().await;
        self.n + a
    }
}

/// Asserts at compile time that a future can be spawned on a multi-threaded executor.
fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_fns() {
    // Spawned: the instrumented future is Send and follows the task across threads.
    let got = tokio::spawn(assert_send(sh_async_agent(4))).await.unwrap();
    assert_eq!(got, 5 + 50);
    succeeded_once_with_request("sh_async_agent", "4");
    if let Some(e) = one("sh_async_agent") {
        assert_eq!(
            phase_list(&e),
            [
                ("sh_async_phase", 0),
                ("sh_async_inner_phase", 1),
                ("sh_sync_phase_in_async", 0),
            ]
        );
        assert!(e.duration >= Duration::from_millis(3), "{:?}", e.duration);
        assert!(e.phases[0].duration >= Duration::from_millis(1));
    }
    phase_counts("sh_async_phase", 1, 0);

    assert_eq!(sh_async_try("5").await, Ok(5));
    assert_eq!(sh_async_try("zero").await, Ok(0));
    let err = sh_async_try("x").await.unwrap_err();
    counts("sh_async_try", 2, 1);
    if ON {
        let e = execs("sh_async_try", 3);
        assert_eq!(e[2].error, Some(err.to_string()));
    }

    assert_eq!(sh_async_impl(" y ").await.to_string(), "y");
    succeeded_once("sh_async_impl");

    let got = tokio::spawn(async { sh_async_generic(&[1, 2], String::from("+")).await })
        .await
        .unwrap();
    assert_eq!(got, "1+2");
    succeeded_once("sh_async_generic");

    let mut h = AsyncHolder { n: 1 };
    *h.sh_async_field_mut(2).await += 10;
    assert_eq!(h.n, 13);
    succeeded_once("sh_async_field_mut");
    assert_eq!(tokio::spawn(h.sh_async_by_value((7, 0))).await.unwrap(), 20);
    phase_counts("sh_async_by_value", 1, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_cancel_and_panic() {
    // Dropped after one poll: cancelled.
    assert!(sh_async_never().now_or_never().is_none());
    cancelled_once("sh_async_never");
    // Never polled: never started.
    drop(sh_async_never());
    cancelled_once("sh_async_never");

    let join = tokio::spawn(sh_async_panics()).await.unwrap_err();
    assert!(join.is_panic());
    let msg = join.into_panic();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"async panic"));
    failed_once("sh_async_panics", "panicked");
}

fn succeeded_once_with_request(agent: &str, request: &str) {
    counts(agent, 1, 0);
    if let Some(e) = one(agent) {
        assert!(e.success);
        assert_eq!(e.request, request);
    }
}

// ---------------------------------------------------------------------------------------------
// Drop order: the instrumented function drops its arguments exactly as the plain one.

twins! {
    fn drop_free_plain / sh_drop_free(
        a: D,
        _unused: D,
        moved: D,
        _: D,
        (t0, _): (D, D),
        mut m: D,
        early: D
    ) -> D {
        let local = moved;
        m.0 = "m (changed)";
        drop(early);
        let ret = D("ret", a.1.clone());
        let _temp = D("temp", a.1.clone());
        a.1.push(format!("body end, holding {} {}", local.0, t0.0));
        ret
    }
}

twins! {
    fn tail_plain / sh_drop_tail(a: D, _b: D) -> usize {
        let _local = a.1.d("local");
        a.1.d("tail temp").0.len()
    }
}

twins! {
    async fn tail_async_plain / sh_drop_tail_async(a: D, _b: D) -> usize {
        let _local = a.1.d("local");
        tokio::task::yield_now().await;
        a.1.d("tail temp").0.len()
    }
}

fn free_args(log: &Log) -> (D, D, D, D, (D, D), D, D) {
    (
        log.d("a"),
        log.d("unused"),
        log.d("moved"),
        log.d("wild"),
        (log.d("t0"), log.d("t1")),
        log.d("m"),
        log.d("early"),
    )
}

/// A type without `Drop` whose fields log: a body using one field must not split it.
struct Owner {
    first: D,
    second: D,
    third: D,
}

#[allow(clippy::boxed_local)]
impl Owner {
    twins! {
        fn consume_plain / sh_drop_consume(self, x: D, _: D) -> usize {
            self.second.1.push("body");
            self.second.0.len() + x.0.len()
        }
    }

    twins! {
        async fn consume_async_plain / sh_drop_consume_async(self, x: D, _: D) -> usize {
            tokio::task::yield_now().await;
            self.second.1.push("body");
            self.second.0.len() + x.0.len()
        }
    }

    twins! {
        fn boxed_plain / sh_drop_boxed(self: Box<Self>, x: D) -> &'static str {
            let Owner { third, .. } = *self;
            x.1.push("body");
            third.0
        }
    }

    twins! {
        fn unused_self_plain / sh_drop_unused_self(self, x: D) {
            x.1.push("body");
        }
    }

    twins! {
        fn panic_plain / sh_drop_panic(self, a: D, _: D, (_b, _): (D, D)) {
            let _local = D("local", a.1.clone());
            if self.first.0 == "first" {
                panic!("unwinding");
            }
        }
    }
}

fn owner(log: &Log) -> Owner {
    Owner {
        first: log.d("first"),
        second: log.d("second"),
        third: log.d("third"),
    }
}

/// Runs `call` with a fresh log and returns what it logged, including around the call.
fn logged(call: impl FnOnce(&Log)) -> Vec<String> {
    let log = Log::default();
    log.push("call");
    call(&log);
    log.push("after");
    log.take()
}

#[test]
fn drop_order_free_fn() {
    let plain = logged(|log| {
        let (a, b, c, d, e, f, g) = free_args(log);
        let r = drop_free_plain(a, b, c, d, e, f, g);
        log.push("returned");
        drop(r);
    });
    let inst = logged(|log| {
        let (a, b, c, d, e, f, g) = free_args(log);
        let r = sh_drop_free(a, b, c, d, e, f, g);
        log.push("returned");
        drop(r);
    });
    assert_eq!(inst, plain);
    // Spelled out once: the function's own order (rustc's), which the attribute keeps.
    assert_eq!(
        plain,
        [
            "call",
            "drop early",
            "body end, holding moved t0",
            "drop temp",
            "drop moved",
            "drop m (changed)",
            "drop t0",
            "drop t1",
            "drop wild",
            "drop unused",
            "drop a",
            "returned",
            "drop ret",
            "after",
        ]
    );
    succeeded_once("sh_drop_free");

    // Temporaries of the body's tail expression drop before the arguments.
    let plain = logged(|log| assert_eq!(tail_plain(log.d("a"), log.d("b")), 9));
    let inst = logged(|log| assert_eq!(sh_drop_tail(log.d("a"), log.d("b")), 9));
    assert_eq!(inst, plain);
    succeeded_once("sh_drop_tail");
}

#[test]
fn drop_order_self_by_value() {
    let plain = logged(|log| {
        let n = owner(log).consume_plain(log.d("x"), log.d("wild"));
        log.push(format!("returned {n}"));
    });
    let inst = logged(|log| {
        let n = owner(log).sh_drop_consume(log.d("x"), log.d("wild"));
        log.push(format!("returned {n}"));
    });
    assert_eq!(inst, plain);
    succeeded_once("sh_drop_consume");

    let plain = logged(|log| {
        let s = Box::new(owner(log)).boxed_plain(log.d("x"));
        log.push(format!("returned {s}"));
    });
    let inst = logged(|log| {
        let s = Box::new(owner(log)).sh_drop_boxed(log.d("x"));
        log.push(format!("returned {s}"));
    });
    assert_eq!(inst, plain);
    succeeded_once("sh_drop_boxed");

    let plain = logged(|log| owner(log).unused_self_plain(log.d("x")));
    let inst = logged(|log| owner(log).sh_drop_unused_self(log.d("x")));
    assert_eq!(inst, plain);
    succeeded_once("sh_drop_unused_self");
}

#[test]
fn drop_order_while_unwinding() {
    let run = |f: fn(Owner, D, D, (D, D)), log: &Log| {
        let args = (
            owner(log),
            log.d("a"),
            log.d("wild"),
            (log.d("b"), log.d("b-rest")),
        );
        let msg = panic_message(|| f(args.0, args.1, args.2, args.3));
        log.push(msg);
    };
    let plain = logged(|log| run(Owner::panic_plain, log));
    let inst = logged(|log| run(Owner::sh_drop_panic, log));
    assert_eq!(inst, plain);
    failed_once("sh_drop_panic", "panicked");
}

twins! {
    async fn drop_async_plain / sh_drop_async(a: D, _: D, (b, _): (D, D), moved: D, _unused: D) -> D {
        let local = moved;
        tokio::task::yield_now().await;
        let ret = D("ret", a.1.clone());
        a.1.push(format!("body end {} {}", local.0, b.0));
        ret
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_order_async() {
    async fn run<F, Fut>(f: F) -> Vec<String>
    where
        F: FnOnce(D, D, (D, D), D, D) -> Fut,
        Fut: Future<Output = D>,
    {
        let log = Log::default();
        log.push("call");
        let fut = f(
            log.d("a"),
            log.d("wild"),
            (log.d("b"), log.d("b-rest")),
            log.d("moved"),
            log.d("unused"),
        );
        log.push("created");
        let r = fut.await;
        log.push("returned");
        drop(r);
        log.take()
    }
    let plain = run(drop_async_plain).await;
    let inst = run(sh_drop_async).await;
    assert_eq!(inst, plain);
    succeeded_once("sh_drop_async");

    // Cancelled before the first poll: the arguments drop with the future, in the same order.
    let log = Log::default();
    drop(drop_async_plain(
        log.d("a"),
        log.d("wild"),
        (log.d("b"), log.d("b-rest")),
        log.d("moved"),
        log.d("unused"),
    ));
    let plain = log.take();
    drop(sh_drop_async(
        log.d("a"),
        log.d("wild"),
        (log.d("b"), log.d("b-rest")),
        log.d("moved"),
        log.d("unused"),
    ));
    assert_eq!(log.take(), plain);

    let log = Log::default();
    assert_eq!(tail_async_plain(log.d("a"), log.d("b")).await, 9);
    let plain = log.take();
    assert_eq!(sh_drop_tail_async(log.d("a"), log.d("b")).await, 9);
    assert_eq!(log.take(), plain);
    succeeded_once("sh_drop_tail_async");

    let log = Log::default();
    let n = owner(&log)
        .consume_async_plain(log.d("x"), log.d("wild"))
        .await;
    log.push(format!("returned {n}"));
    let plain = log.take();
    let n = owner(&log)
        .sh_drop_consume_async(log.d("x"), log.d("wild"))
        .await;
    log.push(format!("returned {n}"));
    assert_eq!(log.take(), plain);
    succeeded_once("sh_drop_consume_async");
}

// ---------------------------------------------------------------------------------------------
// Without the feature, everything reads empty.

#[profx::agent]
fn sh_reads_agent() -> u8 {
    sh_reads_phase()
}

#[profx::phase]
fn sh_reads_phase() -> u8 {
    1
}

#[test]
fn reads_match_the_feature() {
    assert_eq!(sh_reads_agent(), 1);
    let r = profx::global().report();
    if ON {
        assert!(profx::global().is_enabled());
        assert_eq!(r.agents["sh_reads_agent"].total_executions, 1);
        assert_eq!(r.agents["sh_reads_agent"].phases["sh_reads_phase"].calls, 1);
        assert_eq!(r.phases["sh_reads_phase"].calls, 1);
        assert_eq!(r.executions["sh_reads_agent"].len(), 1);
    } else {
        assert!(!profx::global().is_enabled());
        assert!(r.agents.is_empty());
        assert!(r.phases.is_empty());
        assert!(r.executions.is_empty());
        assert_eq!(r.total_executions, 0);
        assert!(profx::global().agent_metrics("sh_reads_agent").is_none());
        assert!(profx::global().executions("sh_reads_agent").is_empty());
        assert!(profx::global()
            .bottlenecks(Duration::from_nanos(1))
            .is_empty());
    }
}

#[profx::agent(request = format_args!("named-{n}"))]
fn sh_reuse_named(n: u32) -> Result<u32, String> {
    if n % 2 == 0 {
        Ok(n)
    } else {
        Err(format!("odd {n}"))
    }
}

#[profx::agent]
fn sh_reuse_unnamed(n: u32) -> Result<u32, String> {
    Ok(n + 1)
}

/// A thread's records are reused from one execution to the next, whatever their agents: once
/// `sh_reuse_named`'s ring is full (1,024 slots for the default 1,000 kept), each execution
/// evicts a record that the thread's next execution fills. One that names no request and
/// succeeds shows neither the request nor the error the record held before.
#[test]
fn a_reused_record_shows_no_earlier_request_nor_error() {
    for n in 0..1100 {
        let _ = sh_reuse_named(n);
    }
    assert_eq!(sh_reuse_unnamed(7), Ok(8));
    let named = profx::global().executions("sh_reuse_named");
    assert_eq!(named.len(), if ON { 1000 } else { 0 });
    for e in &named {
        // Each its own: a success shows no message, even in a record a failure filled.
        let n: u32 = e.request.strip_prefix("named-").unwrap().parse().unwrap();
        let odd = n % 2 == 1;
        assert_eq!(e.error, odd.then(|| format!("odd {n}")), "{e:?}");
        assert_eq!(e.success, !odd);
    }
    if let Some(e) = one("sh_reuse_unnamed") {
        assert_eq!(e.request, "");
        assert_eq!(e.error, None);
        assert!(e.success);
    }
}
