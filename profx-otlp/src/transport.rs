//! One POST of an encoded request, bounded by a timeout, and what went wrong in words.

use std::io;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;

use super::OtlpError;

/// The most of a response body that is read (a collector answers with a few bytes).
const MAX_RESPONSE: u64 = 64 * 1024;

/// An HTTP client for one endpoint.
pub(crate) struct Transport {
    agent: ureq::Agent,
    /// `{endpoint}/v1/metrics` or `{endpoint}/v1/traces`.
    pub(crate) url: String,
    /// What the collector may reject part of: "data points", "spans".
    items: &'static str,
    headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
}

/// `google.rpc.Status`, which an OTLP/HTTP server puts in the body of an error response.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

impl Transport {
    pub(crate) fn new(
        url: String,
        headers: Vec<(String, String)>,
        timeout: Duration,
        items: &'static str,
    ) -> Self {
        let agent = ureq::Agent::config_builder()
            // 4xx and 5xx come back as responses, so that their body can be read.
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .user_agent(concat!("profx/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Transport {
            agent,
            url,
            items,
            headers,
            timeout,
        }
    }

    /// Posts `body`; `timeout` (at most the transport's) bounds the whole exchange. A
    /// 2xx answer is success, with the collector's partial-success message, if any, as
    /// `Ok(Some(..))`.
    pub(crate) fn post(
        &self,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Option<String>, OtlpError> {
        let mut req = self
            .agent
            .post(&self.url)
            .header("content-type", "application/x-protobuf");
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req.config().timeout_global(Some(timeout)).build();
        let mut resp = match req.send(&body[..]) {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(e, timeout)),
        };
        let status = resp.status().as_u16();
        let is_proto = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-protobuf"));
        let reply = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .unwrap_or_default();
        if (200..300).contains(&status) {
            let partial = ExportMetricsServiceResponse::decode(&reply[..])
                .ok()
                .and_then(|r| r.partial_success)
                .filter(|p| p.rejected_data_points > 0 || !p.error_message.is_empty())
                .map(|p| {
                    format!(
                        "the collector rejected {} {}: {}",
                        p.rejected_data_points,
                        self.items,
                        if p.error_message.is_empty() {
                            "(no message)"
                        } else {
                            &p.error_message
                        }
                    )
                });
            return Ok(partial.filter(|_| is_proto));
        }
        let message = if is_proto {
            Status::decode(&reply[..])
                .map(|s| s.message)
                .unwrap_or_default()
        } else {
            String::from_utf8_lossy(&reply).into_owned()
        };
        Err(OtlpError::Status {
            endpoint: self.url.clone(),
            status,
            message: shorten(message.trim()),
        })
    }

    fn transport_error(&self, e: ureq::Error, timeout: Duration) -> OtlpError {
        let endpoint = self.url.clone();
        let problem = match e {
            ureq::Error::Timeout(_) => {
                return OtlpError::Timeout { endpoint, timeout };
            }
            ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
                return OtlpError::Timeout { endpoint, timeout };
            }
            ureq::Error::Io(e) => match e.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                    "the connection was reset".to_owned()
                }
                io::ErrorKind::UnexpectedEof => "the connection closed before an answer".to_owned(),
                _ => e.to_string(),
            },
            ureq::Error::HostNotFound => "the host name does not resolve".to_owned(),
            ureq::Error::ConnectionFailed => "cannot connect".to_owned(),
            ureq::Error::Protocol(e) => format!("not an HTTP/1.1 answer: {e}"),
            other => other.to_string(),
        };
        OtlpError::Unreachable { endpoint, problem }
    }
}

/// At most 200 characters, on one line.
fn shorten(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_keeps_one_short_line() {
        assert_eq!(shorten("a\nb"), "a b");
        let long = "é".repeat(300);
        assert_eq!(shorten(&long).chars().count(), 201);
    }
}
