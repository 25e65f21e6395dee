//! The exporter's settings, read from the environment once: `PROFX_OTLP_ENDPOINT` (else
//! `OTEL_EXPORTER_OTLP_ENDPOINT`), `PROFX_OTLP_INTERVAL`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_TIMEOUT`. A value
//! that does not parse prints one warning naming the variable, the value and the accepted form,
//! and the default is used.

use std::sync::OnceLock;
use std::time::Duration;

use profx_runtime::__subsystem::{parse_interval, parse_secret_var, parse_var, INTERVAL_FORM};

/// The form of an OTLP endpoint (the exporter's errors name it too).
pub(crate) const ENDPOINT_FORM: &str =
    "an http:// URL such as http://localhost:4318 or http://collector:4318/prefix (https is not supported: profx sends plain HTTP, to a collector on the host or in the cluster)";
const ATTRIBUTES_FORM: &str =
    "comma-separated KEY=VALUE pairs such as deployment.environment=prod,service.version=1.2 (values may be percent-encoded)";
const HEADERS_FORM: &str =
    "comma-separated NAME=VALUE pairs such as api-key=abc,x-tenant=blue (values may be percent-encoded)";

/// Where and how the exporter sends, as the environment asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `PROFX_OTLP_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`: the base URL of the
    /// collector (unset: no exporter).
    pub(crate) endpoint: Option<String>,
    /// `PROFX_OTLP_INTERVAL`: how often it exports.
    pub(crate) interval: Duration,
    /// `OTEL_EXPORTER_OTLP_HEADERS`: extra request headers, `k=v,k2=v2`.
    pub(crate) headers: Vec<(String, String)>,
    /// `OTEL_SERVICE_NAME`: the resource's `service.name` (unset: the executable's name).
    pub(crate) service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`: more resource attributes, `k=v,k2=v2` (`OTEL_SERVICE_NAME`
    /// wins over a `service.name` here).
    pub(crate) resource_attributes: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: the bound on one export, in milliseconds.
    pub(crate) timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            endpoint: None,
            interval: Duration::from_secs(10),
            headers: Vec::new(),
            service_name: None,
            resource_attributes: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Settings {
    /// The process's, read from the environment once, when first asked for.
    pub(crate) fn process() -> &'static Settings {
        static PROCESS: OnceLock<Settings> = OnceLock::new();
        PROCESS.get_or_init(|| Settings::from_lookup(|k| std::env::var(k).ok()))
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Settings {
        let d = Settings::default();
        Settings {
            endpoint: {
                // The standard variable is the fallback (and what a bad PROFX_ value falls
                // back to).
                let otel = parse_var(
                    &get,
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    d.endpoint,
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
            interval: parse_var(
                &get,
                "PROFX_OTLP_INTERVAL",
                d.interval,
                parse_interval,
                INTERVAL_FORM,
            ),
            // API keys travel here: its warning never shows the value.
            headers: parse_secret_var(
                &get,
                "OTEL_EXPORTER_OTLP_HEADERS",
                d.headers,
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
            timeout: parse_var(
                &get,
                "OTEL_EXPORTER_OTLP_TIMEOUT",
                d.timeout,
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

/// Checks an OTLP endpoint: `http://HOST[:PORT][/PATH]`, no user info, query or fragment.
/// Returns it without a trailing `/`, or what is wrong with it.
pub(crate) fn parse_endpoint(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    let scheme_end = s.find("://").ok_or("it has no scheme (http://)")?;
    let scheme = &s[..scheme_end];
    if scheme.eq_ignore_ascii_case("https") {
        return Err("https is not supported (this build sends plain HTTP)");
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err("the scheme is not http");
    }
    let rest = &s[scheme_end + 3..];
    if rest.contains(['?', '#']) {
        return Err("it has a query or a fragment");
    }
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains spaces or control characters");
    }
    let (authority, _path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err("it has user info (put credentials in a header instead)");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or("an IPv6 host lacks its closing ]")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("the IPv6 host is not an address");
        }
        match after {
            "" => (host, None),
            p => (
                host,
                Some(p.strip_prefix(':').ok_or("junk after the IPv6 host")?),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host");
    }
    if !authority.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err("the host is not a name or an address");
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |p| p == 0) {
            return Err("the port is not a number from 1 to 65535");
        }
    }
    Ok(s.trim_end_matches('/').to_owned())
}

/// `NAME=VALUE,NAME2=VALUE2` (the form of `OTEL_EXPORTER_OTLP_HEADERS`): names are HTTP token
/// characters, values are percent-decoded and must be printable.
fn parse_headers(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in s.split(',') {
        if pair.trim().is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=')?;
        let (name, value) = (name.trim(), percent_decode(value.trim())?);
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return None;
        }
        if value.chars().any(|c| c.is_control()) {
            return None;
        }
        out.push((name.to_ascii_lowercase(), value));
    }
    Some(out)
}

/// `KEY=VALUE,KEY2=VALUE2` (the form of `OTEL_RESOURCE_ATTRIBUTES`): keys are non-empty and
/// printable without spaces, values are percent-decoded and printable.
fn parse_attributes(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in s.split(',') {
        if pair.trim().is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=')?;
        let (key, value) = (key.trim(), percent_decode(value.trim())?);
        if key.is_empty() || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return None;
        }
        if value.chars().any(|c| c.is_control()) {
            return None;
        }
        out.push((key.to_owned(), value));
    }
    Some(out)
}

/// `%XX` escapes decoded (strictly: a `%` not followed by two hex digits, or bytes that are
/// not UTF-8, make the value invalid).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn settings_from_the_environment() {
        let c = with(&[]);
        assert_eq!(c, Settings::default());
        assert_eq!(c.endpoint, None);
        assert_eq!(c.interval, Duration::from_secs(10));
        let c = with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, X-Tenant=blue"),
            ("OTEL_SERVICE_NAME", "svc"),
            ("PROFX_OTLP_INTERVAL", "250ms"),
        ]);
        assert_eq!(c.endpoint.as_deref(), Some("http://otel:4318"));
        assert_eq!(
            c.headers,
            [
                ("api-key".to_owned(), "a b".to_owned()),
                ("x-tenant".to_owned(), "blue".to_owned())
            ]
        );
        assert_eq!(c.service_name.as_deref(), Some("svc"));
        assert_eq!(c.interval, Duration::from_millis(250));
        // PROFX_ wins; a bad PROFX_ value falls back to the standard variable.
        let both = |p: &str| {
            with(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
                ("PROFX_OTLP_ENDPOINT", p),
            ])
            .endpoint
        };
        assert_eq!(both("http://[::1]:9").as_deref(), Some("http://[::1]:9"));
        assert_eq!(both("otel:4318").as_deref(), Some("http://otel:4318"));
        let bad = with(&[
            ("PROFX_OTLP_INTERVAL", "often"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_SERVICE_NAME", " "),
        ]);
        assert_eq!(bad, Settings::default());
    }

    #[test]
    fn resource_attributes_and_timeout() {
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
        assert_eq!(c.timeout, Duration::from_millis(2500));
        for bad in [
            ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
            ("OTEL_RESOURCE_ATTRIBUTES", "=x"),
            ("OTEL_RESOURCE_ATTRIBUTES", "a b=c"),
            ("OTEL_RESOURCE_ATTRIBUTES", "k=%zz"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "9999999"),
        ] {
            assert_eq!(with(&[bad]), Settings::default(), "{bad:?}");
        }
    }

    #[test]
    fn endpoints() {
        for good in [
            "http://localhost:4318",
            "HTTP://127.0.0.1",
            "http://[::1]:4318/otlp/",
            "http://my_collector.local:80/a/b",
        ] {
            assert!(parse_endpoint(good).is_ok(), "{good}");
        }
        assert_eq!(
            parse_endpoint("http://c:4318/p/").unwrap(),
            "http://c:4318/p"
        );
        for (bad, why) in [
            ("localhost:4318", "scheme"),
            ("https://c:4318", "https"),
            ("ftp://c", "not http"),
            ("http://", "no host"),
            ("http://:4318", "no host"),
            ("http://c:0", "port"),
            ("http://c:99999", "port"),
            ("http://c:x", "port"),
            ("http://u:p@c", "user info"),
            ("http://c/?q=1", "query"),
            ("http://c d", "spaces"),
            ("http://[::1", "closing"),
            ("http://[zz]:1", "IPv6"),
        ] {
            let e = parse_endpoint(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        for bad in ["a", "=v", "a b=c", "k=%zz", "k=%0A"] {
            assert_eq!(parse_headers(bad), None, "{bad}");
        }
        assert_eq!(parse_headers(""), Some(vec![]));
    }
}
