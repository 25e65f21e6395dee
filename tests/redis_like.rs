//! A mini-redis-like server instrumented as a user would instrument tokio's mini-redis: a real
//! TCP server on a multi-threaded runtime, a long-lived connection agent with short command
//! agents inside it, a frame parser whose `Err(Incomplete)` means "wait for more bytes", and
//! pub/sub where `select!` drops the pending read each time a message arrives. Driven by real
//! clients over TCP, it checks what the report says: the counts per outcome, the bottleneck
//! list and the parent links.
#![cfg(feature = "enabled")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use profx::{BottleneckKind, Outcome};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

#[derive(Debug)]
enum ParseError {
    /// Not a whole frame yet: read more bytes. Expected, not a failure.
    Incomplete,
    /// Not a command this server knows.
    Invalid(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Incomplete => f.write_str("incomplete frame"),
            ParseError::Invalid(s) => write!(f, "invalid frame: {s}"),
        }
    }
}

#[derive(Debug)]
enum DbError {
    /// GET of a key that is not there: an answer, not a failure.
    NotFound,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}

enum Frame {
    Get(String),
    Set(String, String),
    Publish(String),
    Subscribe,
    Unsubscribe,
}

fn is_failure(e: &ParseError) -> bool {
    !matches!(e, ParseError::Incomplete)
}

/// One line, `COMMAND args\r\n`, off the front of `buf`.
#[profx::phase(name = "parse_frame", failure = is_failure)]
fn parse_frame(buf: &mut Vec<u8>) -> Result<Frame, ParseError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Err(ParseError::Incomplete);
    };
    let line: Vec<u8> = buf.drain(..end + 2).collect();
    let text = String::from_utf8_lossy(&line[..end]).into_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["GET", k] => Ok(Frame::Get(k.to_string())),
        ["SET", k, v] => Ok(Frame::Set(k.to_string(), v.to_string())),
        ["PUBLISH", m] => Ok(Frame::Publish(m.to_string())),
        ["SUBSCRIBE"] => Ok(Frame::Subscribe),
        ["UNSUBSCRIBE"] => Ok(Frame::Unsubscribe),
        _ => Err(ParseError::Invalid(text.clone())),
    }
}

type Db = Arc<Mutex<HashMap<String, String>>>;

#[profx::agent(name = "cmd_get", failure = |e| !matches!(e, DbError::NotFound))]
fn apply_get(db: &Db, key: &str) -> Result<String, DbError> {
    db.lock()
        .unwrap()
        .get(key)
        .cloned()
        .ok_or(DbError::NotFound)
}

#[profx::agent(name = "cmd_set")]
fn apply_set(db: &Db, key: String, value: String) {
    db.lock().unwrap().insert(key, value);
}

#[profx::agent(name = "cmd_publish")]
fn apply_publish(tx: &broadcast::Sender<String>, msg: String) -> usize {
    tx.send(msg).unwrap_or(0)
}

struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    /// The next frame (`None`: the client closed). Cancel-safe: the bytes read so far stay in
    /// `buf` when the future is dropped.
    #[profx::phase(name = "read_frame")]
    async fn read_frame(&mut self) -> Result<Option<Frame>, ParseError> {
        loop {
            match parse_frame(&mut self.buf) {
                Ok(frame) => return Ok(Some(frame)),
                Err(ParseError::Incomplete) => {}
                Err(e) => return Err(e),
            }
            let mut chunk = [0u8; 64];
            let n = self.stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn reply(&mut self, line: &str) {
        let _ = self
            .stream
            .write_all(format!("{line}\r\n").as_bytes())
            .await;
    }
}

#[profx::agent(name = "connection", long_lived, threshold = "200ms")]
async fn handle(stream: TcpStream, db: Db, tx: broadcast::Sender<String>) -> Result<(), String> {
    let mut conn = Connection {
        stream,
        buf: Vec::new(),
    };
    loop {
        let frame = match conn.read_frame().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => {
                conn.reply(&format!("-ERR {e}")).await;
                continue;
            }
        };
        match frame {
            Frame::Get(k) => match apply_get(&db, &k) {
                Ok(v) => conn.reply(&format!("+{v}")).await,
                Err(_) => conn.reply("$-1").await,
            },
            Frame::Set(k, v) => {
                apply_set(&db, k, v);
                conn.reply("+OK").await;
            }
            Frame::Publish(m) => {
                let n = apply_publish(&tx, m);
                conn.reply(&format!(":{n}")).await;
            }
            Frame::Unsubscribe => conn.reply("-ERR not subscribed").await,
            Frame::Subscribe => {
                let mut rx = tx.subscribe();
                conn.reply("+SUBSCRIBED").await;
                loop {
                    tokio::select! {
                        // The read first, so that it has started (been polled) when a message
                        // wins: each message then cancels one pending read.
                        biased;
                        f = conn.read_frame() => match f {
                            Ok(Some(Frame::Unsubscribe)) | Ok(None) | Err(_) => break,
                            Ok(Some(_)) => {}
                        },
                        m = rx.recv() => match m {
                            Ok(m) => conn.reply(&format!("+MSG {m}")).await,
                            Err(_) => break,
                        },
                    }
                }
                conn.reply("+UNSUBSCRIBED").await;
            }
        }
    }
}

async fn serve(listener: TcpListener) {
    let db: Db = Arc::default();
    let (tx, _) = broadcast::channel(64);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(handle(stream, db.clone(), tx.clone()));
    }
}

/// A client that sends lines (each split in two writes, so that the server's parser sees
/// incomplete frames) and reads one reply per line.
struct Client {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Client {
            r: BufReader::new(r),
            w,
        }
    }

    async fn send(&mut self, line: &str) {
        let bytes = format!("{line}\r\n").into_bytes();
        let (a, b) = bytes.split_at(bytes.len() / 2);
        self.w.write_all(a).await.unwrap();
        self.w.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.w.write_all(b).await.unwrap();
    }

    async fn line(&mut self) -> String {
        let mut s = String::new();
        self.r.read_line(&mut s).await.unwrap();
        s.trim_end().to_string()
    }

    async fn call(&mut self, line: &str) -> String {
        self.send(line).await;
        self.line().await
    }
}

const MESSAGES: usize = 12;
const INVALID: usize = 3;

#[test]
fn outcomes_parents_and_bottlenecks_of_a_mini_redis() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener));

        // A subscriber: every message cancels the read it was waiting on.
        let mut sub = Client::connect(addr).await;
        assert_eq!(sub.call("SUBSCRIBE").await, "+SUBSCRIBED");

        // A client with commands, expected misses and invalid frames.
        let mut c = Client::connect(addr).await;
        assert_eq!(c.call("GET missing").await, "$-1");
        assert_eq!(c.call("SET a 1").await, "+OK");
        assert_eq!(c.call("GET a").await, "+1");
        for i in 0..INVALID {
            assert!(c
                .call(&format!("BOGUS {i}"))
                .await
                .starts_with("-ERR invalid"));
        }
        // Publishes, one at a time, each read by the subscriber before the next.
        for i in 0..MESSAGES {
            assert_eq!(c.call(&format!("PUBLISH m{i}")).await, ":1");
            assert_eq!(sub.line().await, format!("+MSG m{i}"));
        }
        assert_eq!(sub.call("UNSUBSCRIBE").await, "+UNSUBSCRIBED");
        // The connections stay open a while: longer than the connection's threshold.
        tokio::time::sleep(Duration::from_millis(250)).await;
        drop(sub);
        drop(c);
        // The server sees both closes.
        let p = profx::global();
        for _ in 0..500 {
            if p.agent_metrics("connection")
                .is_some_and(|m| m.total_executions == 2)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.abort();
    });

    let p = profx::global();
    let conn = p.agent_metrics("connection").unwrap();
    assert!(conn.long_lived);
    assert_eq!((conn.total_executions, conn.success_count), (2, 2));
    // Lasted longer than its threshold: only `long_lived` keeps it out of the bottlenecks.
    assert!(conn.min_duration > Duration::from_millis(200), "{conn:?}");

    // The parser: `Incomplete` (each line arrives in two writes) is a success, the invalid
    // frames are the only failures.
    let parse = &conn.phases["parse_frame"];
    let frames = 3 + INVALID + MESSAGES + 2; // GET, SET, GET, BOGUS, PUBLISH, (UN)SUBSCRIBE
    assert!(parse.calls >= 2 * frames as u64, "{parse:?}");
    assert_eq!((parse.failures, parse.cancelled), (INVALID as u64, 0));

    // The reads: the invalid frames fail them; each message cancels one.
    let read = &conn.phases["read_frame"];
    assert_eq!(read.failures, INVALID as u64, "{read:?}");
    assert_eq!(read.cancelled, MESSAGES as u64, "{read:?}");
    assert_eq!(
        read.calls,
        (frames + MESSAGES + 2) as u64, // every frame, every cancelled read, two closes
        "{read:?}"
    );

    // Commands: a miss is an answer, not a failure.
    let get = p.agent_metrics("cmd_get").unwrap();
    assert_eq!(
        (get.total_executions, get.success_count, get.failure_count),
        (2, 2, 0)
    );
    assert_eq!(
        p.agent_metrics("cmd_publish").unwrap().total_executions,
        MESSAGES as u64
    );

    // Every command ran inside a connection, and says which.
    let connections: Vec<String> = p
        .executions("connection")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(connections.len(), 2);
    for agent in ["cmd_get", "cmd_set", "cmd_publish"] {
        for e in p.executions(agent) {
            let parent = e.parent.as_deref().unwrap_or_else(|| panic!("{e:?}"));
            assert!(connections.iter().any(|c| c == parent), "{parent}");
        }
    }
    // The kept reads of the subscriber's connection carry their outcome.
    let sub_conn = p
        .executions("connection")
        .into_iter()
        .find(|e| e.phases.iter().any(|ph| ph.outcome == Outcome::Cancelled))
        .unwrap();
    let cancelled = sub_conn
        .phases
        .iter()
        .filter(|ph| ph.name == "read_frame" && ph.outcome == Outcome::Cancelled)
        .count();
    assert_eq!(cancelled, MESSAGES);

    // The report: no bottleneck for the connections themselves, and their long lives are not
    // in the overall average.
    let r = p.report();
    assert!(
        !r.bottlenecks
            .iter()
            .any(|b| b.agent == "connection" && b.phase.is_none()),
        "{:?}",
        r.bottlenecks
    );
    assert!(!r
        .bottlenecks
        .iter()
        .any(|b| b.agent.starts_with("cmd_") && b.kind == BottleneckKind::SlowExecution));
    assert_eq!(r.long_lived_agents(), ["connection"]);
    assert!(r.overall_avg_duration < Duration::from_millis(50), "{r:?}");

    // Prometheus has the three outcomes apart.
    let metrics = profx::prometheus::render();
    let line = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not in\n{metrics}"))
            .to_string()
    };
    assert_eq!(
        line("profx_phase_cancelled_total{agent=\"connection\",phase=\"read_frame\"}"),
        format!(
            "profx_phase_cancelled_total{{agent=\"connection\",phase=\"read_frame\"}} {MESSAGES}"
        )
    );
    assert_eq!(
        line("profx_phase_failures_total{agent=\"connection\",phase=\"parse_frame\"}"),
        format!(
            "profx_phase_failures_total{{agent=\"connection\",phase=\"parse_frame\"}} {INVALID}"
        )
    );
}
