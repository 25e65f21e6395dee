//! Whatever arrives, the monitoring server answers with a status it documents (or closes the
//! connection), never hangs a client past its timeout, and goes on serving: generated
//! requests — odd methods, paths, queries and headers on every endpoint — and raw bytes.
#![cfg(all(feature = "enabled", feature = "server"))]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;

/// One server for every case, with a short request timeout so a stalled case ends quickly.
fn addr() -> SocketAddr {
    static SERVER: OnceLock<profx::server::Server> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            profx::server::Builder::new()
                .addr("127.0.0.1:0")
                .request_timeout(Duration::from_millis(500))
                .start()
                .expect("the server starts")
        })
        .local_addr()
}

/// Sends `bytes` and reads everything the server sends until it closes. With `half_close`,
/// the client then shuts its sending side, so that an incomplete request ends at once (the
/// server, like Go's, takes a client that stops sending as gone, and may drop its request:
/// whatever does arrive is checked).
fn exchange(bytes: &[u8], half_close: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr()).expect("connect");
    // Far above the server's own limits: hitting this means the server hung.
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(bytes);
    if half_close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server neither answered nor closed: {e}"),
    }
    out
}

/// The status codes of every answer in `reply` (several when pipelined).
fn statuses(reply: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(reply);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text[i + 9..].get(..3).and_then(|c| c.parse().ok()))
        .collect()
}

fn still_serving() {
    let reply = exchange(
        b"GET /debug/build HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        false,
    );
    assert_eq!(
        statuses(&reply).first(),
        Some(&200),
        "the server stopped serving"
    );
}

/// What the server may answer. Not 500: that would be a handler that panicked.
const DOCUMENTED: &[u16] = &[200, 400, 401, 404, 405, 413, 414, 431, 503, 505];

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/metrics".to_owned()),
        Just("/api/metrics".to_owned()),
        Just("/health".to_owned()),
        Just("/api/health".to_owned()),
        Just("/dashboard".to_owned()),
        Just("/api/dashboard".to_owned()),
        Just("/debug/stats".to_owned()),
        Just("/debug/build".to_owned()),
        "/[a-zA-Z0-9/%._~-]{0,40}",
        "[^ \r\n]{1,30}",
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "\\?timeout=[0-9a-z.%-]{0,8}",
        "\\?interval=[0-9a-z.%-]{0,8}",
        "\\?token=[^ \r\n#]{0,20}",
        "\\?[^ \r\n#]{0,40}",
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_owned()),
        Just("HEAD".to_owned()),
        Just("POST".to_owned()),
        Just("DELETE".to_owned()),
        Just("OPTIONS".to_owned()),
        "[A-Z]{1,10}",
    ]
}

fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Authorization: Bearer nope".to_owned()),
        Just("Content-Length: 5".to_owned()),
        Just("Transfer-Encoding: chunked".to_owned()),
        Just("Connection: keep-alive".to_owned()),
        Just("Expect: 100-continue".to_owned()),
        "[A-Za-z-]{1,20}: [ -~]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn generated_requests_get_documented_answers(
        method in method(),
        path in path(),
        query in query(),
        headers in proptest::collection::vec(header(), 0..4),
        body in "[ -~]{0,10}",
        version in prop_oneof![Just("HTTP/1.1"), Just("HTTP/1.0"), Just("HTTP/9.9")],
    ) {
        let mut request = format!("{method} {path}{query} {version}\r\nHost: x\r\n");
        for h in &headers {
            request.push_str(h);
            request.push_str("\r\n");
        }
        request.push_str("Connection: close\r\n\r\n");
        request.push_str(&body);
        // A whole request asking to close: the server answers and closes, whatever the body.
        let reply = exchange(request.as_bytes(), false);
        for status in statuses(&reply) {
            prop_assert!(DOCUMENTED.contains(&status), "{status} for {request:?}");
        }
        still_serving();
    }

    #[test]
    fn raw_bytes_never_stop_the_server(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let reply = exchange(&bytes, true);
        for status in statuses(&reply) {
            prop_assert!(DOCUMENTED.contains(&status), "{status} for {bytes:?}");
        }
        still_serving();
    }
}
