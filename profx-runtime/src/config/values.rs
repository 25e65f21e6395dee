//! The values of the settings: each variable's accepted form, its parser, and the warning for a
//! value that does not parse.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

pub(super) const BOOL_FORM: &str = "one of true, false, 1, 0, yes, no, on, off";
pub(super) const POSITIVE_FORM: &str = "a whole number from 1 to 10000000";
pub(super) const COUNT_FORM: &str = "a whole number from 0 to 10000000";
/// The form of an interval setting, as its warning names it.
pub const INTERVAL_FORM: &str = "a duration from 10ms to 1h such as 500ms, 1s or 2m";
pub(super) const THRESHOLD_FORM: &str = "a duration above zero such as 100ms, 2s or 500us";

pub(super) fn parse_threshold(s: &str) -> Option<Duration> {
    humantime::parse_duration(s.trim())
        .ok()
        .filter(|d| !d.is_zero())
}

/// An interval setting: a duration from 10 ms to 1 hour (`500ms`, `1s`, `2m`).
pub fn parse_interval(s: &str) -> Option<Duration> {
    humantime::parse_duration(s.trim())
        .ok()
        .filter(|d| *d >= Duration::from_millis(10) && *d <= Duration::from_secs(3600))
}

/// How a setting's default is named in a warning.
pub trait Shown {
    /// The default as a warning shows it.
    fn shown(&self) -> String;
}

impl Shown for bool {
    fn shown(&self) -> String {
        self.to_string()
    }
}
impl Shown for usize {
    fn shown(&self) -> String {
        self.to_string()
    }
}
impl Shown for u64 {
    fn shown(&self) -> String {
        self.to_string()
    }
}
impl Shown for Duration {
    fn shown(&self) -> String {
        humantime::format_duration(*self).to_string()
    }
}
impl Shown for Vec<(String, String)> {
    fn shown(&self) -> String {
        if self.is_empty() {
            "(none)".to_owned()
        } else {
            format!("({} headers)", self.len())
        }
    }
}
impl Shown for Option<String> {
    fn shown(&self) -> String {
        match self {
            Some(s) => s.clone(),
            None => "(unset)".to_owned(),
        }
    }
}

pub(super) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub(super) fn parse_count(s: &str) -> Option<usize> {
    s.trim()
        .replace('_', "")
        .parse::<usize>()
        .ok()
        .filter(|&n| n <= 10_000_000)
}

pub(super) fn parse_positive(s: &str) -> Option<usize> {
    parse_count(s).filter(|&n| n >= 1)
}

/// The value of the variable `name` (looked up with `get`): `default` when unset; when set
/// but not accepted by `parse`, one warning per process naming the variable, the value and its
/// accepted `form`, and `default`.
pub fn parse_var<T: Shown>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    form: &str,
) -> T {
    read_var(get, name, default, parse, form, Shows::Value)
}

/// [`parse_var`] for a variable that holds a secret (a token, request headers with API keys):
/// its warning gives the value's length, never the value (a token pasted with a stray
/// character must not end up in a log).
pub fn parse_secret_var<T: Shown>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    form: &str,
) -> T {
    read_var(get, name, default, parse, form, Shows::Length)
}

/// What a warning shows of a bad value.
#[derive(Clone, Copy)]
enum Shows {
    Value,
    Length,
}

fn read_var<T: Shown>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    form: &str,
    shows: Shows,
) -> T {
    match get(name) {
        None => default,
        Some(raw) => match parse(&raw) {
            Some(v) => v,
            None => {
                warn_once_showing(name, &raw, form, &default.shown(), shows);
                default
            }
        },
    }
}

/// Prints the warning for a bad value of `name` once per process (per distinct value).
pub fn warn_once(name: &str, value: &str, form: &str, default: &str) {
    warn_once_showing(name, value, form, default, Shows::Value)
}

fn warn_once_showing(name: &str, value: &str, form: &str, default: &str, shows: Shows) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let key = format!("{name}={value}");
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.get_or_insert_with(HashSet::new).insert(key) {
        eprintln!("{}", warning(name, value, form, default, shows));
    }
}

fn warning(name: &str, value: &str, form: &str, default: &str, shows: Shows) -> String {
    let shown = match shows {
        Shows::Value => format!("{name}={value:?}"),
        Shows::Length => format!(
            "{name} (a value of {} characters, not shown: it may be a secret)",
            value.chars().count()
        ),
    };
    format!("profx: warning: {shown} is not valid (expected {form}); using the default {default}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_names_variable_value_and_accepted_form() {
        let w = warning("PROFX_SAMPLE", "0", POSITIVE_FORM, "1", Shows::Value);
        assert!(w.contains("PROFX_SAMPLE=\"0\""), "{w}");
        assert!(w.contains("a whole number from 1"), "{w}");
        assert!(w.contains("using the default 1"), "{w}");
    }

    #[test]
    fn a_secret_is_never_shown() {
        let w = warning("TOKEN", "s3cr\u{7}t", "a token", "(unset)", Shows::Length);
        assert!(!w.contains("s3cr"), "{w}");
        assert!(
            w.contains("TOKEN (a value of 6 characters, not shown"),
            "{w}"
        );
        assert!(w.contains("expected a token"), "{w}");
    }
}
