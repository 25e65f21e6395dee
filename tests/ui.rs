//! Misuse of the attributes is a compile error with the right span and message (tests/ui/*.rs,
//! one case per file); the few forms next to a misuse that must keep compiling are in
//! tests/ui/pass/.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
    // Errors the compiler finds in what the attributes expand to (a `failure` predicate of the
    // wrong type): only when they expand, with the feature on.
    #[cfg(feature = "enabled")]
    t.compile_fail("tests/ui/expanded/*.rs");
}
