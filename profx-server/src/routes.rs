//! The routes: which endpoint answers which path.

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::auth::{authorized, method_not_allowed, unauthorized};
use super::reply::{json, text, Body};
use super::State;
use super::{dashboard, endpoints};

/// The CPU profile's path, whether or not the `pprof` feature serves it.
#[cfg(not(all(feature = "pprof", unix)))]
const PPROF_PATH: &str = "/debug/pprof/profile";

/// How much longer than the request timeout answering `req` may take: the length of a CPU
/// profile it asks for.
pub(super) fn extra_time<B>(req: &Request<B>) -> Duration {
    #[cfg(all(feature = "pprof", unix))]
    if req.uri().path() == super::pprof::PATH {
        return super::pprof::extra_time(req.uri().query().unwrap_or(""));
    }
    let _ = req;
    Duration::ZERO
}

pub(super) async fn route(req: Request<Incoming>, state: Arc<State>) -> Response<Body> {
    let query = req.uri().query().unwrap_or("");
    let path = req.uri().path();
    // A browser cannot send a header when it navigates: the page (only) takes `?token=`.
    let token_in_query =
        |token: &str| path == "/dashboard" && dashboard::query_token_matches(query, token);
    if !authorized(&req, state.token.as_deref())
        && !state.token.as_deref().is_some_and(token_in_query)
    {
        return unauthorized();
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed();
    }
    match path {
        "/health" | "/api/health" => endpoints::health(query, &state).await,
        "/metrics" => endpoints::prometheus_metrics().await,
        "/api/metrics" => endpoints::json_metrics().await,
        "/api/report" => endpoints::json_report(query).await,
        "/debug/stats" => endpoints::stats(&state).await,
        "/dashboard" => dashboard::page(query),
        "/api/dashboard" => endpoints::dashboard_feed(&state).await,
        "/debug/build" => json(StatusCode::OK, &endpoints::build_info()),
        #[cfg(all(feature = "pprof", unix))]
        super::pprof::PATH => super::pprof::profile(query).await,
        #[cfg(all(feature = "pprof", not(unix)))]
        PPROF_PATH => text(
            StatusCode::NOT_IMPLEMENTED,
            "CPU profiling needs a Unix system (SIGPROF)\n",
        ),
        #[cfg(not(feature = "pprof"))]
        PPROF_PATH => text(
            StatusCode::NOT_FOUND,
            "not found: CPU profiling is not compiled in (cargo feature `pprof` of profx)\n",
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}
