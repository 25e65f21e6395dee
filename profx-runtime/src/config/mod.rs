//! Settings read from the environment once, when the global profiler starts (SPEC §7).
//!
//! A value that does not parse prints one warning naming the variable, the value and the
//! accepted form, and the default is used: a typo never stops the program.

use std::time::Duration;

mod values;

use values::*;
pub use values::{parse_interval, parse_secret_var, parse_var, warn_once, Shown, INTERVAL_FORM};

/// The limits and switches a profiler runs with, and the metrics collector's interval. (The
/// monitoring server and the OTLP exporter read their own settings, in their crates, with
/// [`parse_var`].)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `PROFX_ENABLED`.
    pub enabled: bool,
    /// `PROFX_MAX_EXECUTIONS`: executions kept per agent.
    pub max_executions: usize,
    /// `PROFX_MAX_PHASES`: phase records kept inside one execution.
    pub max_phases: usize,
    /// `PROFX_SAMPLE`: keep the detailed profile of 1 in N executions.
    pub sample: u64,
    /// `PROFX_METRICS_INTERVAL`: how often the system metrics collector samples.
    pub metrics_interval: Duration,
    /// `PROFX_BOTTLENECK_THRESHOLD`: the duration above which an agent or phase is a
    /// bottleneck in reports and on the dashboard.
    pub bottleneck_threshold: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            max_executions: 1000,
            max_phases: 1000,
            sample: 1,
            metrics_interval: Duration::from_secs(1),
            bottleneck_threshold: Duration::from_millis(100),
        }
    }
}

/// `PROFX_QUIET`: profx prints no informational line on standard error (the monitoring
/// server's start line); warnings still print. Read once.
pub fn quiet() -> bool {
    static QUIET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *QUIET.get_or_init(|| {
        parse_var(
            &|k: &str| std::env::var(k).ok(),
            "PROFX_QUIET",
            false,
            parse_bool,
            BOOL_FORM,
        )
    })
}

impl Config {
    /// The process's settings, read from the environment once, when first asked for (by the
    /// global profiler as it starts): the global profiler and the metrics collector run with
    /// the same values, and each bad value is warned about once.
    pub(crate) fn process() -> &'static Config {
        static PROCESS: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
        PROCESS.get_or_init(Config::from_env)
    }

    /// The configuration the environment asks for now (an isolated profiler's, read at its
    /// creation).
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
            metrics_interval: parse_var(
                &get,
                "PROFX_METRICS_INTERVAL",
                d.metrics_interval,
                parse_interval,
                INTERVAL_FORM,
            ),
            bottleneck_threshold: parse_var(
                &get,
                "PROFX_BOTTLENECK_THRESHOLD",
                d.bottleneck_threshold,
                parse_threshold,
                THRESHOLD_FORM,
            ),
        }
    }
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
                sample: 10,
                ..Config::default()
            }
        );
        let c = with(&[("PROFX_METRICS_INTERVAL", "500ms")]);
        assert_eq!(c.metrics_interval, Duration::from_millis(500));
        assert_eq!(c.bottleneck_threshold, Duration::from_millis(100));
        assert_eq!(
            with(&[("PROFX_BOTTLENECK_THRESHOLD", "2s")]).bottleneck_threshold,
            Duration::from_secs(2)
        );
        assert_eq!(
            with(&[("PROFX_BOTTLENECK_THRESHOLD", " 750us ")]).bottleneck_threshold,
            Duration::from_micros(750)
        );
    }

    #[test]
    fn bad_values_fall_back_to_the_default() {
        let c = with(&[
            ("PROFX_ENABLED", "maybe"),
            ("PROFX_MAX_EXECUTIONS", "-3"),
            ("PROFX_MAX_PHASES", "lots"),
            ("PROFX_SAMPLE", "0"),
            ("PROFX_METRICS_INTERVAL", "fast"),
            ("PROFX_BOTTLENECK_THRESHOLD", "0s"),
        ]);
        assert_eq!(c, Config::default());
        for bad in ["0", "0ms", "slow", "-5ms", "100"] {
            assert_eq!(parse_threshold(bad), None, "{bad}");
        }
        for bad in ["1ms", "2h", "-1s", ""] {
            assert_eq!(parse_interval(bad), None, "{bad}");
        }
    }
}
