//! Misuse of the attributes is a compile error with the right span and message (tests/ui/*.rs,
//! one case per file); the few forms next to a misuse that must keep compiling are in
//! tests/ui/pass/.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
