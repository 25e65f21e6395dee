//! [`OtlpError`]: why an exporter cannot start or an export failed.

use std::fmt;
use std::time::Duration;

/// Why an exporter cannot start or an export failed.
///
/// ```
/// let e = profx_otlp::Builder::new().endpoint("localhost:4318").start().unwrap_err();
/// assert!(e.to_string().contains("\"localhost:4318\""));
/// assert!(e.to_string().contains("http://localhost:4318"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum OtlpError {
    /// The endpoint is not `http://HOST[:PORT][/PATH]`.
    InvalidEndpoint {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value cannot be sent.
    InvalidHeader {
        /// The header's name.
        name: String,
    },
    /// The exporter's thread could not be spawned.
    Thread(std::io::Error),
    /// Nothing answered: connection refused, no route, a name that does not resolve, a
    /// connection closed without an answer.
    Unreachable {
        /// The URL posted to.
        endpoint: String,
        /// What happened.
        problem: String,
    },
    /// No complete answer within the timeout.
    Timeout {
        /// The URL posted to.
        endpoint: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The collector answered with a status other than 2xx.
    Status {
        /// The URL posted to.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The message of the answer (its `google.rpc.Status` or text), possibly empty.
        message: String,
    },
}

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtlpError::InvalidEndpoint { value, reason } => write!(
                f,
                "invalid OTLP endpoint {value:?}: {reason} (expected {})",
                crate::settings::ENDPOINT_FORM
            ),
            OtlpError::InvalidHeader { name } => write!(
                f,
                "invalid OTLP header {name:?}: a name is letters, digits and !#$%&'*+-.^_`|~, a value printable text"
            ),
            OtlpError::Thread(e) => write!(f, "cannot start the OTLP exporter thread: {e}"),
            OtlpError::Unreachable { endpoint, problem } => {
                write!(f, "OTLP export to {endpoint} failed: {problem}")
            }
            OtlpError::Timeout { endpoint, timeout } => write!(
                f,
                "OTLP export to {endpoint} failed: no answer within {}",
                humantime::format_duration(Duration::from_millis(timeout.as_millis() as u64))
            ),
            OtlpError::Status {
                endpoint,
                status,
                message,
            } => {
                write!(f, "OTLP export to {endpoint} failed: HTTP {status}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for OtlpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OtlpError::Thread(e) => Some(e),
            _ => None,
        }
    }
}

impl OtlpError {
    /// What the warning dedup compares: the kind of problem without its details that vary.
    pub(super) fn problem_key(&self) -> String {
        match self {
            OtlpError::Status { status, .. } => format!("status {status}"),
            other => other.to_string(),
        }
    }
}
