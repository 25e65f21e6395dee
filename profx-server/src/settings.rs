//! The server's settings, read from the environment once (`PROFX_SERVER_ADDR`,
//! `PROFX_SERVER_TOKEN`): a value that does not parse prints one warning naming the variable,
//! the value and the accepted form, and the default (no server, no token) is used.

use std::sync::OnceLock;

use profx_runtime::__subsystem::{parse_secret_var, parse_var};

const ADDR_FORM: &str = "HOST:PORT such as 127.0.0.1:9090, [::1]:9090 or localhost:9090";
const TOKEN_FORM: &str =
    "a non-empty token of printable characters without spaces (surrounding whitespace, such as the newline of a file read with $(cat ...), is ignored)";

/// Where the monitoring server listens and the token it requires, as the environment asks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `PROFX_SERVER_ADDR`: where the server listens (unset: no server).
    pub(crate) addr: Option<String>,
    /// `PROFX_SERVER_TOKEN`: the bearer token the server requires (unset: none).
    pub(crate) token: Option<String>,
}

impl Settings {
    /// The process's, read from the environment once, when first asked for.
    pub(crate) fn process() -> &'static Settings {
        static PROCESS: OnceLock<Settings> = OnceLock::new();
        PROCESS.get_or_init(|| Settings::from_lookup(|k| std::env::var(k).ok()))
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Settings {
        Settings {
            addr: parse_var(
                &get,
                "PROFX_SERVER_ADDR",
                None,
                |s| parse_addr(s).map(Some),
                ADDR_FORM,
            ),
            // Its warning never shows the value.
            token: parse_secret_var(
                &get,
                "PROFX_SERVER_TOKEN",
                None,
                |s| parse_token(s).map(Some),
                TOKEN_FORM,
            ),
        }
    }
}

/// `HOST:PORT`: an address, or a host name resolved when the server starts.
fn parse_addr(s: &str) -> Option<String> {
    let s = s.trim();
    if s.parse::<std::net::SocketAddr>().is_ok() {
        return Some(s.to_owned());
    }
    let (host, port) = s.rsplit_once(':')?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (host_ok && port.parse::<u16>().is_ok()).then(|| s.to_owned())
}

/// A token: printable, no spaces inside; surrounding whitespace (a file's last newline) is
/// not part of it.
fn parse_token(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_graphic())).then(|| s.to_owned())
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
    fn good_values_are_taken() {
        assert_eq!(with(&[]), Settings::default());
        let s = with(&[
            ("PROFX_SERVER_ADDR", "localhost:9091"),
            ("PROFX_SERVER_TOKEN", "s3cret"),
        ]);
        assert_eq!(s.addr.as_deref(), Some("localhost:9091"));
        assert_eq!(s.token.as_deref(), Some("s3cret"));
        let v6 = with(&[("PROFX_SERVER_ADDR", "[::1]:80")]);
        assert_eq!(v6.addr.as_deref(), Some("[::1]:80"));
        // A token read from a file keeps no newline.
        let file = with(&[("PROFX_SERVER_TOKEN", "s3cret\n")]);
        assert_eq!(file.token.as_deref(), Some("s3cret"));
    }

    #[test]
    fn bad_values_fall_back_to_the_default() {
        let s = with(&[
            ("PROFX_SERVER_ADDR", "9090"),
            ("PROFX_SERVER_TOKEN", "has space"),
        ]);
        assert_eq!(s, Settings::default());
        for bad in ["127.0.0.1", ":80", "host:99999", "a b:1"] {
            assert_eq!(parse_addr(bad), None, "{bad}");
        }
    }
}
