//! The live dashboard: `GET /dashboard` serves one HTML page that polls `GET /api/dashboard`
//! (see [`feed`]) and draws executions per second, latency percentiles, success rates, memory
//! and threads, the bottlenecks and summary cards.
//!
//! The page needs no network access: its CSS, its script, the error hook of the HTML report and
//! the charting library are inlined into the one answer (no second request to authorize, nothing
//! to cache-bust), and its `Content-Security-Policy` forbids loading anything but the feed from
//! the same origin. Charts are drawn by [uPlot] 1.6.32 (MIT License, Leon Sorokin), vendored
//! unmodified in `vendor/` with its licence; uPlot draws on canvases and writes legend labels with
//! `textContent`, and the page's own script never puts data into `innerHTML`.
//!
//! Query of `/dashboard`: `interval` — how often the page polls, in seconds (`2`, `0.5`) or as a
//! duration (`500ms`, `2s`); default 1 s, clamped to 200 ms … 60 s; anything else is a 400.
//! `token` — the server's token, for browsers, which cannot send a bearer header when they
//! navigate; the page then sends it as `Authorization: Bearer` on its fetches of the feed. Only
//! `/dashboard` accepts a token in the query: the feed and every other endpoint want the header.
//!
//! [uPlot]: https://github.com/leeoniya/uPlot

pub(super) mod feed;

use std::sync::LazyLock;
use std::time::Duration;

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use super::reply::{text, with_type, Body};

/// The version of the vendored uPlot (`vendor/`).
const UPLOT_VERSION: &str = "1.6.32";
const UPLOT_JS: &str = include_str!("vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("vendor/uPlot.min.css");
const PAGE: &str = include_str!("page.html");
use profx_runtime::__subsystem::REPORT_CSS;
const CSS: &str = include_str!("dashboard.css");
const SCRIPT: &str = include_str!("dashboard.js");
use profx_runtime::__subsystem::ERROR_HOOK;

/// The poll interval when the query does not give one.
pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest poll interval the page accepts.
pub(super) const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// The longest poll interval the page accepts.
pub(super) const MAX_INTERVAL: Duration = Duration::from_secs(60);

const HTML: &str = "text/html; charset=utf-8";
/// Nothing but inline script and style, `data:` images (the favicon) and the feed.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// The page with everything inlined except the poll interval (`{{INTERVAL_MS}}`).
static ASSEMBLED: LazyLock<String> = LazyLock::new(|| {
    // uPlot's banner names its home page; keep the notice without a URL in the page.
    let uplot = UPLOT_JS.replacen(
        "/*! https://github.com/leeoniya/uPlot (v1.6.32) */",
        "/*! uPlot v1.6.32 | (c) 2022 Leon Sorokin | MIT License | github.com/leeoniya/uPlot */",
        1,
    );
    PAGE.replace("{{UPLOT_VERSION}}", UPLOT_VERSION)
        .replace("{{UPLOT_CSS}}", UPLOT_CSS)
        .replace("{{CSS}}", &format!("{REPORT_CSS}\n{CSS}"))
        .replace("{{ERROR_HOOK}}", ERROR_HOOK)
        .replace("{{UPLOT_JS}}", &uplot)
        .replace("{{SCRIPT}}", SCRIPT)
});

/// `GET /dashboard`: the page, or 400 for a bad `interval`.
pub(super) fn page(query: &str) -> Response<Body> {
    let interval = match interval(query) {
        Ok(i) => i,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    let body = ASSEMBLED.replacen("{{INTERVAL_MS}}", &interval.as_millis().to_string(), 1);
    let mut r = with_type(StatusCode::OK, HTML, body);
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The `interval` of the query, clamped to [`MIN_INTERVAL`] … [`MAX_INTERVAL`]; other
/// parameters are left alone.
fn interval(query: &str) -> Result<Duration, String> {
    let mut interval = DEFAULT_INTERVAL;
    for (key, value) in super::query::pairs(query) {
        if key != "interval" {
            continue;
        }
        let parsed = match value.parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs > 0.0 => Some(Duration::from_secs_f64(
                secs.min(MAX_INTERVAL.as_secs_f64()),
            )),
            Ok(_) => None,
            Err(_) => humantime::parse_duration(&value)
                .ok()
                .filter(|d| !d.is_zero()),
        };
        interval = parsed
            .ok_or_else(|| {
                format!(
                    "bad interval {value:?}: expected seconds (such as 2 or 0.5) or a duration \
                     (such as 500ms or 2s), above zero; it is clamped to 200ms..60s\n"
                )
            })?
            .clamp(MIN_INTERVAL, MAX_INTERVAL);
    }
    Ok(interval)
}

/// Whether the query carries `token=<token>` (compared in constant time). Decoded as a browser's
/// `URLSearchParams` does (`%XX`, `+` for a space), so the page finds the same value to send.
pub(super) fn query_token_matches(query: &str, token: &str) -> bool {
    let mut found = false;
    for (key, value) in super::query::pairs(query) {
        if key == "token" {
            found |= super::auth::constant_time_eq(value.as_bytes(), token.as_bytes());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_query() {
        assert_eq!(interval(""), Ok(DEFAULT_INTERVAL));
        assert_eq!(interval("token=x&interval=2"), Ok(Duration::from_secs(2)));
        assert_eq!(interval("interval=0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(interval("interval=750ms"), Ok(Duration::from_millis(750)));
        assert_eq!(interval("interval=10ms"), Ok(MIN_INTERVAL));
        assert_eq!(interval("interval=1h"), Ok(MAX_INTERVAL));
        assert_eq!(interval("interval=1e300"), Ok(MAX_INTERVAL));
        for bad in ["abc", "0", "-1", "0s", "NaN", "inf", ""] {
            let e = interval(&format!("interval={bad}")).unwrap_err();
            assert!(e.contains("expected seconds"), "{bad}: {e}");
        }
    }

    #[test]
    fn query_tokens_are_form_decoded() {
        assert!(query_token_matches("token=s3cret", "s3cret"));
        assert!(query_token_matches("interval=2&token=s3cret", "s3cret"));
        assert!(!query_token_matches("token=s3cre", "s3cret"));
        assert!(!query_token_matches("tok=s3cret", "s3cret"));
        assert!(!query_token_matches("", "s3cret"));
        assert!(query_token_matches("token=a%20b%2Bc%26d", "a b+c&d"));
        assert!(query_token_matches("token=a+b", "a b"));
        assert!(query_token_matches("token=%E2%9C%93", "\u{2713}"));
    }

    #[test]
    fn the_page_is_assembled() {
        let page = ASSEMBLED.as_str();
        assert!(!page.contains("{{") || page.matches("{{").count() == 1);
        assert!(page.contains("{{INTERVAL_MS}}"));
        for asset in [UPLOT_JS, UPLOT_CSS, REPORT_CSS, CSS, SCRIPT, ERROR_HOOK] {
            // An inlined asset must not end its own element early.
            assert!(!asset.contains("</script") && !asset.contains("</style"));
        }
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(page.contains("uPlot v1.6.32 | (c) 2022 Leon Sorokin | MIT License"));
    }
}
