//! The values of the settings: each variable's accepted form, its parser, and the warning for a
//! value that does not parse.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

pub(super) const BOOL_FORM: &str = "one of true, false, 1, 0, yes, no, on, off";
pub(super) const POSITIVE_FORM: &str = "a whole number from 1 to 10000000";
pub(super) const COUNT_FORM: &str = "a whole number from 0 to 10000000";
pub(super) const INTERVAL_FORM: &str = "a duration from 10ms to 1h such as 500ms, 1s or 2m";
pub(super) const THRESHOLD_FORM: &str = "a duration above zero such as 100ms, 2s or 500us";
pub(super) const ADDR_FORM: &str = "HOST:PORT such as 127.0.0.1:9090, [::1]:9090 or localhost:9090";
pub(super) const TOKEN_FORM: &str = "a non-empty token of printable characters without spaces";
/// The form of an OTLP endpoint (the OTLP exporter's errors name it too).
pub const ENDPOINT_FORM: &str =
    "an http:// URL such as http://localhost:4318 or http://collector:4318/prefix (https is not supported: profx sends plain HTTP, to a collector on the host or in the cluster)";
pub(super) const ATTRIBUTES_FORM: &str =
    "comma-separated KEY=VALUE pairs such as deployment.environment=prod,service.version=1.2 (values may be percent-encoded)";
pub(super) const HEADERS_FORM: &str =
    "comma-separated NAME=VALUE pairs such as api-key=abc,x-tenant=blue (values may be percent-encoded)";

/// Checks an OTLP endpoint: `http://HOST[:PORT][/PATH]`, no user info, query or fragment.
/// Returns it without a trailing `/`, or what is wrong with it.
pub fn parse_endpoint(s: &str) -> Result<String, &'static str> {
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
pub(crate) fn parse_headers(s: &str) -> Option<Vec<(String, String)>> {
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
pub(super) fn parse_attributes(s: &str) -> Option<Vec<(String, String)>> {
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

pub(super) fn percent_decode(s: &str) -> Option<String> {
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

pub(super) fn parse_threshold(s: &str) -> Option<Duration> {
    humantime::parse_duration(s.trim())
        .ok()
        .filter(|d| !d.is_zero())
}

pub(super) fn parse_interval(s: &str) -> Option<Duration> {
    humantime::parse_duration(s.trim())
        .ok()
        .filter(|d| *d >= Duration::from_millis(10) && *d <= Duration::from_secs(3600))
}

pub(super) fn parse_addr(s: &str) -> Option<String> {
    let s = s.trim();
    if s.parse::<std::net::SocketAddr>().is_ok() {
        return Some(s.to_owned());
    }
    // A host name and a port: the name is resolved when the server starts.
    let (host, port) = s.rsplit_once(':')?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (host_ok && port.parse::<u16>().is_ok()).then(|| s.to_owned())
}

pub(super) fn parse_token(s: &str) -> Option<String> {
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_graphic())).then(|| s.to_owned())
}

/// How a setting's default is named in a warning.
pub(super) trait Shown {
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

pub(super) fn parse_var<T: Shown>(
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
                warn_once(name, &raw, form, &default.shown());
                default
            }
        },
    }
}

/// Prints the warning for a bad value of `name` once per process (per distinct value).
pub fn warn_once(name: &str, value: &str, form: &str, default: &str) {
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

    #[test]
    fn the_warning_names_variable_value_and_accepted_form() {
        let w = warning("PROFX_SAMPLE", "0", POSITIVE_FORM, "1");
        assert!(w.contains("PROFX_SAMPLE=\"0\""), "{w}");
        assert!(w.contains("a whole number from 1"), "{w}");
        assert!(w.contains("using the default 1"), "{w}");
    }
}
