//! Connections: the accept loop, the connection cap, hyper's limits, the request timeout, and
//! the access checks (bearer token, method) in front of the routes.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::reply::{text, Body, TEXT};
use super::{State, MAX_HEADERS, MAX_HEAD_BYTES, STOP_GRACE};

/// Counts a connection as open while it lives.
struct OpenConnection(Arc<State>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(super) async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(connection(stream, state.clone(), stop.clone()));
                }
                // A failed accept (out of descriptors, a reset before accept) is the client's
                // or a passing problem: wait a moment and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(STOP_GRACE, drain).await.is_err() {
        connections.abort_all();
    }
}

/// Serves one connection, or answers 503 when [`State::max_connections`] are already open.
async fn connection(mut stream: TcpStream, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let open = state.open.fetch_add(1, Ordering::Relaxed) + 1;
    let _open = OpenConnection(state.clone());
    if open > state.max_connections {
        let _ = tokio::time::timeout(Duration::from_secs(1), refuse(&mut stream)).await;
        return;
    }
    let _ = stream.set_nodelay(true);
    let service_state = state.clone();
    let service = hyper::service::service_fn(move |req| respond(req, service_state.clone()));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.request_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.changed() => conn.as_mut().graceful_shutdown(),
    }
    let _ = tokio::time::timeout(STOP_GRACE, conn).await;
}

async fn refuse(stream: &mut TcpStream) -> io::Result<()> {
    let body = "too many connections\n";
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {TEXT}\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Answers one request: within the request timeout, and 500 if the handler panics.
async fn respond(req: Request<Incoming>, state: Arc<State>) -> Result<Response<Body>, Infallible> {
    state.served.fetch_add(1, Ordering::Relaxed);
    // A CPU profile takes the time it asks for on top of the usual limit.
    let timeout = state.request_timeout + super::routes::extra_time(&req);
    Ok(guarded(timeout, super::routes::route(req, state)).await)
}

/// Runs `handler` as a task of its own: a panic in it is a 500, and one that takes longer than
/// `timeout` is aborted and answered 503. Either way the connection and the server go on.
/// When the answer is no longer awaited (hyper drops it because the client hung up), the
/// handler stops too: a CPU profile must not outlive its client.
async fn guarded<F>(timeout: Duration, handler: F) -> Response<Body>
where
    F: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    let mut task = tokio::spawn(handler);
    let _cancel = AbortOnDrop(task.abort_handle());
    match tokio::time::timeout(timeout, &mut task).await {
        Ok(Ok(response)) => response,
        Ok(Err(_panicked_or_cancelled)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while answering\n",
        ),
        Err(_elapsed) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "timed out while answering\n",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_panicking_handler_is_a_500() {
        let r = block_on(guarded(Duration::from_secs(5), async {
            if std::hint::black_box(true) {
                panic!("handler bug (expected by this test)");
            }
            text(StatusCode::OK, "")
        }));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_slow_handler_is_a_503_and_is_stopped() {
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = finished.clone();
        block_on(async move {
            let r = guarded(Duration::from_millis(20), async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                flag.store(true, Ordering::Relaxed);
                text(StatusCode::OK, "")
            })
            .await;
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            tokio::time::sleep(Duration::from_millis(400)).await;
        });
        assert!(!finished.load(Ordering::Relaxed), "the handler was aborted");
    }

    #[test]
    fn a_handler_answers_within_the_timeout() {
        let r = block_on(guarded(Duration::from_secs(5), async {
            text(StatusCode::OK, "fine")
        }));
        assert_eq!(r.status(), StatusCode::OK);
    }
}
