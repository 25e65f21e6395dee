//! `/debug/pprof/profile` (feature `pprof`): a CPU profile of the whole process, sampled with
//! pprof-rs (`SIGPROF` from `ITIMER_PROF`), as pprof protobuf or a flame graph.
//!
//! `GET /debug/pprof/profile?seconds=N&hz=H&format=F`:
//!
//! | parameter | accepted | default |
//! |---|---|---|
//! | `seconds` | an integer, 1 to 300 | 30 (as Go's `net/http/pprof`) |
//! | `hz` | samples per second of CPU time, an integer, 1 to 1000 | 100 (as Go) |
//! | `format` | `proto` (pprof protobuf) or `flamegraph` (SVG) | `proto` |
//!
//! `proto` is answered `application/octet-stream` with `Content-Disposition: attachment;
//! filename="profile.pb"`: an *uncompressed* `perftools.profiles.Profile` (Go gzips its
//! profiles; `go tool pprof` and Google's `pprof` read both). `flamegraph` is `image/svg+xml`.
//! A bad parameter is 400 naming the value and what is accepted; other parameters are ignored.
//!
//! Only one profile runs at a time in the process (the `SIGPROF` handler and the timer are
//! process-wide): a request while one runs is 409 Conflict. The server's thread is not held:
//! the profiler starts and the report is built on the blocking pool, and the wait in between is
//! an asynchronous sleep with the profiler guard owned by the request's task, so that the
//! server stopping (which drops the task) also stops the profiler. The request's time limit is
//! `seconds` plus the server's request timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use super::reply::{blocking, text, Body};

/// The path of the CPU profile endpoint.
pub(super) const PATH: &str = "/debug/pprof/profile";
/// Profile length when the request has no `seconds` (Go's default).
pub(super) const DEFAULT_SECONDS: u64 = 30;
/// The longest profile a request may ask for, in seconds.
pub(super) const MAX_SECONDS: u64 = 300;
/// Sampling rate when the request has no `hz` (Go's default).
pub(super) const DEFAULT_HZ: u32 = 100;
/// The highest sampling rate a request may ask for.
pub(super) const MAX_HZ: u32 = 1000;

/// Shared objects whose frames are not unwound (pprof-rs' advice: unwinding through them from
/// a signal handler can deadlock or crash).
const BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

/// What the profile is answered as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// pprof protobuf.
    Proto,
    /// An SVG flame graph.
    Flamegraph,
}

/// The parameters of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Params {
    seconds: u64,
    hz: u32,
    format: Format,
}

/// Reads `seconds`, `hz` and `format`; the error is the 400 message.
fn parse(query: &str) -> Result<Params, String> {
    let mut params = Params {
        seconds: DEFAULT_SECONDS,
        hz: DEFAULT_HZ,
        format: Format::Proto,
    };
    for (key, value) in super::query::pairs(query) {
        match key.as_str() {
            "seconds" => {
                params.seconds = value
                    .parse()
                    .ok()
                    .filter(|s| (1..=MAX_SECONDS).contains(s))
                    .ok_or_else(|| {
                        format!(
                            "bad seconds {value:?}: expected an integer from 1 to {MAX_SECONDS}\n"
                        )
                    })?;
            }
            "hz" => {
                params.hz = value
                    .parse()
                    .ok()
                    .filter(|h| (1..=MAX_HZ).contains(h))
                    .ok_or_else(|| {
                        format!("bad hz {value:?}: expected an integer from 1 to {MAX_HZ}\n")
                    })?;
            }
            "format" => {
                params.format = match value.as_str() {
                    "proto" => Format::Proto,
                    "flamegraph" => Format::Flamegraph,
                    _ => {
                        return Err(format!(
                            "bad format {value:?}: expected proto (pprof protobuf, the default) or flamegraph (SVG)\n"
                        ))
                    }
                };
            }
            _ => {}
        }
    }
    Ok(params)
}

/// How much longer than the request timeout a request for `query` may take: the profile's
/// length (none when the query is bad, since that is answered at once).
pub(super) fn extra_time(query: &str) -> Duration {
    parse(query).map_or(Duration::ZERO, |p| Duration::from_secs(p.seconds))
}

/// Set while a profile runs in this process.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// The right to profile; releases it when dropped.
struct Running;

impl Running {
    fn acquire() -> Option<Running> {
        RUNNING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            .then_some(Running)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

fn busy() -> Response<Body> {
    text(
        StatusCode::CONFLICT,
        "a CPU profile is already running in this process; retry when it ends\n",
    )
}

/// Answers `/debug/pprof/profile`.
pub(super) async fn profile(query: &str) -> Response<Body> {
    let params = match parse(query) {
        Ok(p) => p,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    let Some(running) = Running::acquire() else {
        return busy();
    };
    // `hz` is at most MAX_HZ, so it fits a C int.
    let hz = params.hz as i32;
    let started = blocking(move || {
        pprof::ProfilerGuardBuilder::default()
            .frequency(hz)
            .blocklist(&BLOCKLIST)
            .build()
    })
    .await;
    let guard = match started {
        Ok(Ok(guard)) => guard,
        // Someone else in the process (not this server) runs pprof-rs' profiler.
        Ok(Err(pprof::Error::Running)) => return busy(),
        Ok(Err(e)) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot start the CPU profiler: {e}\n"),
            )
        }
        Err(response) => return response,
    };
    tokio::time::sleep(Duration::from_secs(params.seconds)).await;
    let built = blocking(move || {
        let report = guard
            .report()
            .frames_post_processor(strip_unwinder_frames)
            .build();
        // Stop sampling before encoding; the report owns its data.
        drop(guard);
        drop(running);
        encode(&report?, params)
    })
    .await;
    match built {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot build the CPU profile: {e}\n"),
        ),
        Err(response) => response,
    }
}

/// Removes the profiler's own frames from the leaf end of a stack. pprof-rs drops its signal
/// handler's frame, but the unwinding functions the handler calls are frames of their own
/// when they are not inlined (a build without optimizations): without this every sample's
/// leaf would be `backtrace::backtrace::libunwind::trace`.
fn strip_unwinder_frames(frames: &mut pprof::Frames) {
    let named = |symbols: &[pprof::Symbol], prefix: &str| {
        symbols.iter().any(|s| s.name().starts_with(prefix))
    };
    let Some(tracer) = frames
        .frames
        .iter()
        .position(|f| named(f, "<pprof::backtrace::"))
    else {
        return;
    };
    if frames.frames[..tracer]
        .iter()
        .all(|f| named(f, "backtrace::"))
    {
        frames.frames.drain(..=tracer);
    }
}

const PROTOBUF: &str = "application/octet-stream";
const SVG: &str = "image/svg+xml";

/// The answer for a finished profile.
fn encode(report: &pprof::Report, params: Params) -> pprof::Result<Response<Body>> {
    let (content_type, body) = render(report, params)?;
    let mut r = Response::new(Full::new(Bytes::from(body)));
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if content_type == PROTOBUF {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"profile.pb\""),
        );
    }
    Ok(r)
}

/// The content type and body for a finished profile.
fn render(report: &pprof::Report, params: Params) -> pprof::Result<(&'static str, Vec<u8>)> {
    use pprof::protos::Message;
    Ok(match params.format {
        Format::Proto => (PROTOBUF, report.pprof()?.encode_to_vec()),
        Format::Flamegraph if report.data.is_empty() => (SVG, empty_svg(params).into_bytes()),
        Format::Flamegraph => {
            let mut options = pprof::flamegraph::Options::default();
            options.title = format!("CPU profile, {} s at {} Hz", params.seconds, params.hz);
            let mut svg = Vec::new();
            report.flamegraph_with_options(&mut svg, &mut options)?;
            (SVG, svg)
        }
    })
}

/// A flame graph of no sample (inferno refuses to draw one): says so.
fn empty_svg(params: Params) -> String {
    format!(
        "<?xml version=\"1.0\" standalone=\"no\"?>\n\
         <svg version=\"1.1\" width=\"600\" height=\"60\" xmlns=\"http://www.w3.org/2000/svg\">\
         <text x=\"10\" y=\"35\" font-family=\"Verdana\" font-size=\"14\">\
         No CPU samples in {} s at {} Hz: the process was idle.</text></svg>\n",
        params.seconds, params.hz
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_query() {
        let default = Params {
            seconds: DEFAULT_SECONDS,
            hz: DEFAULT_HZ,
            format: Format::Proto,
        };
        assert_eq!(parse(""), Ok(default));
        assert_eq!(parse("debug=1"), Ok(default));
        assert_eq!(
            parse("seconds=5&hz=250&format=flamegraph"),
            Ok(Params {
                seconds: 5,
                hz: 250,
                format: Format::Flamegraph
            })
        );
        assert_eq!(parse("seconds=300").map(|p| p.seconds), Ok(300));
        assert_eq!(parse("format=proto").map(|p| p.format), Ok(Format::Proto));
        for bad in [
            "seconds=0",
            "seconds=301",
            "seconds=-1",
            "seconds=abc",
            "seconds=",
            "seconds",
            "hz=0",
            "hz=1001",
            "hz=1.5",
            "format=png",
            "format=",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
        let message = parse("seconds=abc").unwrap_err();
        assert!(
            message.contains("\"abc\"") && message.contains("1 to 300"),
            "{message}"
        );
    }

    #[test]
    fn extra_time_is_the_profile_length() {
        assert_eq!(extra_time(""), Duration::from_secs(DEFAULT_SECONDS));
        assert_eq!(extra_time("seconds=7"), Duration::from_secs(7));
        assert_eq!(extra_time("seconds=abc"), Duration::ZERO);
    }

    #[test]
    fn a_profile_without_samples_is_still_an_answer() {
        use pprof::protos::Message;
        let report = pprof::Report {
            data: Default::default(),
            timing: Default::default(),
        };
        let params = Params {
            seconds: 2,
            hz: 100,
            format: Format::Flamegraph,
        };
        let (content_type, svg) = render(&report, params).unwrap();
        assert_eq!(content_type, SVG);
        let svg = String::from_utf8(svg).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("No CPU samples in 2 s"),
            "{svg}"
        );

        let proto = Params {
            format: Format::Proto,
            ..params
        };
        let (content_type, body) = render(&report, proto).unwrap();
        assert_eq!(content_type, PROTOBUF);
        let profile = pprof::protos::Profile::decode(&body[..]).unwrap();
        assert!(profile.sample.is_empty());
        assert_eq!(profile.string_table[0], "");
    }
}
