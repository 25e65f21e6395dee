//! Settings read from the environment once, when the global profiler starts (SPEC §7).
//!
//! A value that does not parse prints one warning naming the variable, the value and the
//! accepted form, and the default is used: a typo never stops the program.

use std::collections::HashSet;
use std::sync::Mutex;

/// The limits and switches a profiler runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    /// `PROFX_ENABLED`.
    pub(crate) enabled: bool,
    /// `PROFX_MAX_EXECUTIONS`: executions kept per agent.
    pub(crate) max_executions: usize,
    /// `PROFX_MAX_PHASES`: phase records kept inside one execution.
    pub(crate) max_phases: usize,
    /// `PROFX_SAMPLE`: keep the detailed profile of 1 in N executions.
    pub(crate) sample: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            max_executions: 1000,
            max_phases: 1000,
            sample: 1,
        }
    }
}

impl Config {
    /// The configuration the environment asks for.
    pub(crate) fn from_env() -> Config {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Config {
        let d = Config::default();
        Config {
            enabled: parse_var(&get, "PROFX_ENABLED", d.enabled, parse_bool, BOOL_FORM),
            max_executions: parse_var(
                &get,
                "PROFX_MAX_EXECUTIONS",
                d.max_executions,
                parse_positive,
                POSITIVE_FORM,
            ),
            max_phases: parse_var(
                &get,
                "PROFX_MAX_PHASES",
                d.max_phases,
                parse_count,
                COUNT_FORM,
            ),
            sample: parse_var(
                &get,
                "PROFX_SAMPLE",
                d.sample,
                |s| parse_positive(s).map(|n| n as u64),
                POSITIVE_FORM,
            ),
        }
    }
}

const BOOL_FORM: &str = "one of true, false, 1, 0, yes, no, on, off";
const POSITIVE_FORM: &str = "a whole number from 1 to 10000000";
const COUNT_FORM: &str = "a whole number from 0 to 10000000";

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_count(s: &str) -> Option<usize> {
    s.trim()
        .replace('_', "")
        .parse::<usize>()
        .ok()
        .filter(|&n| n <= 10_000_000)
}

fn parse_positive(s: &str) -> Option<usize> {
    parse_count(s).filter(|&n| n >= 1)
}

fn parse_var<T: std::fmt::Display + Copy>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    form: &str,
) -> T {
    match get(name) {
        None => default,
        Some(raw) => match parse(&raw) {
            Some(v) => v,
            None => {
                warn_once(name, &raw, form, &default.to_string());
                default
            }
        },
    }
}

/// Prints the warning for a bad value of `name` once per process (per distinct value).
pub(crate) fn warn_once(name: &str, value: &str, form: &str, default: &str) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let key = format!("{name}={value}");
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.get_or_insert_with(HashSet::new).insert(key) {
        eprintln!("{}", warning(name, value, form, default));
    }
}

pub(crate) fn warning(name: &str, value: &str, form: &str, default: &str) -> String {
    format!("profx: warning: {name}={value:?} is not valid (expected {form}); using the default {default}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Config {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_without_variables() {
        assert_eq!(with(&[]), Config::default());
    }

    #[test]
    fn good_values_are_taken() {
        let c = with(&[
            ("PROFX_ENABLED", "off"),
            ("PROFX_MAX_EXECUTIONS", "50"),
            ("PROFX_MAX_PHASES", "0"),
            ("PROFX_SAMPLE", "10"),
        ]);
        assert_eq!(
            c,
            Config {
                enabled: false,
                max_executions: 50,
                max_phases: 0,
                sample: 10
            }
        );
    }

    #[test]
    fn bad_values_fall_back_to_the_default() {
        let c = with(&[
            ("PROFX_ENABLED", "maybe"),
            ("PROFX_MAX_EXECUTIONS", "-3"),
            ("PROFX_MAX_PHASES", "lots"),
            ("PROFX_SAMPLE", "0"),
        ]);
        assert_eq!(c, Config::default());
    }

    #[test]
    fn the_warning_names_variable_value_and_accepted_form() {
        let w = warning("PROFX_SAMPLE", "0", POSITIVE_FORM, "1");
        assert!(w.contains("PROFX_SAMPLE=\"0\""), "{w}");
        assert!(w.contains("a whole number from 1"), "{w}");
        assert!(w.contains("using the default 1"), "{w}");
    }
}
