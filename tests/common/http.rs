//! A raw HTTP/1.1 client on `std::net::TcpStream`, for the tests of the monitoring server:
//! requests are written byte for byte (so malformed ones can be sent too), answers parsed by
//! hand (every answer of the server has a content-length).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a read waits: far above every timeout of the server (a CPU profile in a test
/// lasts 1 to 3 s), so that reaching it means the server hung.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A parsed answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A connection with no Nagle delay and [`READ_TIMEOUT`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    s
}

/// Reads one answer from a (keep-alive) connection; the body is not read for `head_only`.
pub fn read_reply(r: &mut BufReader<TcpStream>, head_only: bool) -> std::io::Result<Reply> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').expect("a header");
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = reply
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if !head_only {
        reply.body = vec![0; len];
        r.read_exact(&mut reply.body)?;
    }
    Ok(reply)
}

/// Sends `raw` on a new connection and reads the one answer.
pub fn raw(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut s = connect(addr);
    s.write_all(raw).unwrap();
    let head_only = raw.starts_with(b"HEAD ");
    read_reply(&mut BufReader::new(s), head_only).expect("an answer")
}

/// `method path` with extra header lines (each ending in `\r\n`), on a connection of its own.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &str) -> Reply {
    raw(
        addr,
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n")
            .as_bytes(),
    )
}

/// `GET path` on a connection of its own.
pub fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, "")
}
