//! The routes: which endpoint answers which path.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::conn::{authorized, method_not_allowed, unauthorized};
use super::endpoints;
use super::reply::{json, text, Body};
use super::State;

pub(super) async fn route(req: Request<Incoming>, state: Arc<State>) -> Response<Body> {
    if !authorized(&req, state.token.as_deref()) {
        return unauthorized();
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed();
    }
    let query = req.uri().query().unwrap_or("");
    match req.uri().path() {
        "/health" | "/api/health" => endpoints::health(query, &state).await,
        "/metrics" => endpoints::prometheus_metrics().await,
        "/api/metrics" => endpoints::json_metrics().await,
        "/debug/stats" => endpoints::stats(&state).await,
        "/debug/build" => json(StatusCode::OK, &endpoints::build_info()),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}
