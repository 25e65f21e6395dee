//! Building answers: JSON and text bodies with their content type, and blocking work.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

/// The body type of every answer.
pub(super) type Body = Full<Bytes>;

pub(super) const JSON: &str = "application/json";
pub(super) const TEXT: &str = "text/plain; charset=utf-8";

/// Runs `f` on the runtime's blocking pool; a panic in it becomes a 500.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response<Body>> {
    tokio::task::spawn_blocking(f).await.map_err(|_| {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while answering\n",
        )
    })
}

pub(super) fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => with_type(status, JSON, body),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode JSON\n"),
    }
}

pub(super) fn text(status: StatusCode, body: &str) -> Response<Body> {
    with_type(status, TEXT, body.to_owned())
}

pub(super) fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
