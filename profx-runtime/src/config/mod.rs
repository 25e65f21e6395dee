//! Settings read from the environment once, when the global profiler starts (SPEC §7).
//!
//! A value that does not parse prints one warning naming the variable, the value and the
//! accepted form, and the default is used: a typo never stops the program.

use std::time::Duration;

mod values;

pub use values::warn_once;
use values::*;
pub use values::{parse_endpoint, ENDPOINT_FORM};

/// The limits and switches a profiler runs with, and the settings of the parts that start with
/// `#[profx::main]` (the metrics collector and the monitoring server read theirs from here).
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
    /// `PROFX_SERVER_ADDR`: where the monitoring server listens (unset: no server).
    pub server_addr: Option<String>,
    /// `PROFX_SERVER_TOKEN`: the bearer token the server requires (unset: none).
    pub server_token: Option<String>,
    /// `PROFX_OTLP_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`: the base URL of the
    /// OpenTelemetry collector the OTLP exporter pushes to (unset: no exporter).
    pub otlp_endpoint: Option<String>,
    /// `PROFX_OTLP_INTERVAL`: how often the OTLP exporter pushes.
    pub otlp_interval: Duration,
    /// `OTEL_EXPORTER_OTLP_HEADERS`: extra request headers, `k=v,k2=v2`.
    pub otlp_headers: Vec<(String, String)>,
    /// `OTEL_SERVICE_NAME`: the resource's `service.name` (unset: the executable's name).
    pub service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`: more resource attributes, `k=v,k2=v2` (`OTEL_SERVICE_NAME`
    /// wins over a `service.name` here, as the OpenTelemetry specification says).
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: the bound on one export, in milliseconds.
    pub otlp_timeout: Duration,
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
            server_addr: None,
            server_token: None,
            otlp_endpoint: None,
            otlp_interval: Duration::from_secs(10),
            otlp_headers: Vec::new(),
            service_name: None,
            resource_attributes: Vec::new(),
            otlp_timeout: Duration::from_secs(10),
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
    /// global profiler as it starts): the global profiler, the metrics collector, the server
    /// and the OTLP exporter run with the same values, and each bad value is warned about
    /// once.
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
            server_addr: parse_var(
                &get,
                "PROFX_SERVER_ADDR",
                d.server_addr,
                |s| parse_addr(s).map(Some),
                ADDR_FORM,
            ),
            server_token: parse_var(
                &get,
                "PROFX_SERVER_TOKEN",
                d.server_token,
                |s| parse_token(s).map(Some),
                TOKEN_FORM,
            ),
            otlp_endpoint: {
                // The standard variable is the fallback (and what a bad PROFX_ value falls
                // back to).
                let otel = parse_var(
                    &get,
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    d.otlp_endpoint,
                    |s| parse_endpoint(s).ok().map(Some),
                    ENDPOINT_FORM,
                );
                parse_var(
                    &get,
                    "PROFX_OTLP_ENDPOINT",
                    otel,
                    |s| parse_endpoint(s).ok().map(Some),
                    ENDPOINT_FORM,
                )
            },
            otlp_interval: parse_var(
                &get,
                "PROFX_OTLP_INTERVAL",
                d.otlp_interval,
                parse_interval,
                INTERVAL_FORM,
            ),
            otlp_headers: parse_var(
                &get,
                "OTEL_EXPORTER_OTLP_HEADERS",
                d.otlp_headers,
                parse_headers,
                HEADERS_FORM,
            ),
            service_name: parse_var(
                &get,
                "OTEL_SERVICE_NAME",
                d.service_name,
                |s| {
                    let s = s.trim();
                    (!s.is_empty()).then(|| Some(s.to_owned()))
                },
                "a non-empty name",
            ),
            resource_attributes: parse_var(
                &get,
                "OTEL_RESOURCE_ATTRIBUTES",
                d.resource_attributes,
                parse_attributes,
                ATTRIBUTES_FORM,
            ),
            otlp_timeout: parse_var(
                &get,
                "OTEL_EXPORTER_OTLP_TIMEOUT",
                d.otlp_timeout,
                |s| {
                    s.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|&ms| (1..=600_000).contains(&ms))
                        .map(Duration::from_millis)
                },
                "a whole number of milliseconds from 1 to 600000, such as 10000",
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
        let c = with(&[
            ("PROFX_METRICS_INTERVAL", "500ms"),
            ("PROFX_SERVER_ADDR", "localhost:9091"),
            ("PROFX_SERVER_TOKEN", "s3cret"),
        ]);
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
        assert_eq!(c.server_addr.as_deref(), Some("localhost:9091"));
        assert_eq!(c.server_token.as_deref(), Some("s3cret"));
        assert_eq!(
            with(&[("PROFX_SERVER_ADDR", "[::1]:80")])
                .server_addr
                .as_deref(),
            Some("[::1]:80")
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
            ("PROFX_SERVER_ADDR", "9090"),
            ("PROFX_SERVER_TOKEN", "has space"),
        ]);
        assert_eq!(c, Config::default());
        for bad in ["0", "0ms", "slow", "-5ms", "100"] {
            assert_eq!(parse_threshold(bad), None, "{bad}");
        }
        for bad in ["1ms", "2h", "-1s", ""] {
            assert_eq!(parse_interval(bad), None, "{bad}");
        }
        for bad in ["127.0.0.1", ":80", "host:99999", "a b:1"] {
            assert_eq!(parse_addr(bad), None, "{bad}");
        }
    }

    #[test]
    fn otlp_settings() {
        let c = with(&[]);
        assert_eq!(c.otlp_endpoint, None);
        assert_eq!(c.otlp_interval, Duration::from_secs(10));
        let c = with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, X-Tenant=blue"),
            ("OTEL_SERVICE_NAME", "svc"),
            ("PROFX_OTLP_INTERVAL", "250ms"),
        ]);
        assert_eq!(c.otlp_endpoint.as_deref(), Some("http://otel:4318"));
        assert_eq!(
            c.otlp_headers,
            [
                ("api-key".to_owned(), "a b".to_owned()),
                ("x-tenant".to_owned(), "blue".to_owned())
            ]
        );
        assert_eq!(c.service_name.as_deref(), Some("svc"));
        assert_eq!(c.otlp_interval, Duration::from_millis(250));
        // PROFX_ wins; a bad PROFX_ value falls back to the standard variable.
        let both = |p: &str| {
            with(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
                ("PROFX_OTLP_ENDPOINT", p),
            ])
            .otlp_endpoint
        };
        assert_eq!(both("http://[::1]:9").as_deref(), Some("http://[::1]:9"));
        assert_eq!(both("otel:4318").as_deref(), Some("http://otel:4318"));
        let bad = with(&[
            ("PROFX_OTLP_INTERVAL", "often"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_SERVICE_NAME", " "),
        ]);
        assert_eq!(bad, Config::default());
    }

    #[test]
    fn otel_resource_attributes_and_timeout() {
        let c = with(&[
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod, service.version=1%2C2",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ]);
        assert_eq!(
            c.resource_attributes,
            [
                ("deployment.environment".to_owned(), "prod".to_owned()),
                ("service.version".to_owned(), "1,2".to_owned())
            ]
        );
        assert_eq!(c.otlp_timeout, Duration::from_millis(2500));
        for bad in [
            ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
            ("OTEL_RESOURCE_ATTRIBUTES", "=x"),
            ("OTEL_RESOURCE_ATTRIBUTES", "a b=c"),
            ("OTEL_RESOURCE_ATTRIBUTES", "k=%zz"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "9999999"),
        ] {
            assert_eq!(with(&[bad]), Config::default(), "{bad:?}");
        }
    }
}
