//! Misuse of the attributes is a compile error with the right span and message (tests/ui/).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
