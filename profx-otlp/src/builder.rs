//! The exporter's settings: [`Builder`], checked when it starts the exporter, and the resource
//! every export describes the process with.

use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::encode::{self, attr, int_attr};
use super::transport::Transport;
use super::{Exporter, OtlpError, Problem, Shared, METRICS_PATH, TRACES_PATH};

/// Settings of an [`Exporter`]; [`start`](Self::start) checks them and starts it.
///
/// ```no_run
/// use std::time::Duration;
/// let exporter = profx_otlp::Builder::new()
///     .endpoint("http://collector:4318")
///     .interval(Duration::from_secs(15))
///     .timeout(Duration::from_secs(5))
///     .header("authorization", "Bearer s3cret")
///     .resource("service.name", "importer")
///     .resource("deployment.environment.name", "staging")
///     .start()?;
/// # Ok::<(), profx_otlp::OtlpError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    endpoint: String,
    interval: Duration,
    timeout: Duration,
    headers: Vec<(String, String)>,
    resource: Vec<(String, String)>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults: endpoint `http://localhost:4318` (OTLP/HTTP's), every 10 s, 10 s
    /// timeout, no headers, the default resource.
    ///
    /// ```
    /// let b = profx_otlp::Builder::new();
    /// # let _ = b;
    /// ```
    pub fn new() -> Builder {
        Builder {
            endpoint: "http://localhost:4318".to_owned(),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            headers: Vec::new(),
            resource: Vec::new(),
        }
    }

    /// The collector's base URL, `http://HOST[:PORT][/PATH]`; exports go to
    /// `{endpoint}/v1/metrics` (as with `OTEL_EXPORTER_OTLP_ENDPOINT`).
    ///
    /// ```
    /// let b = profx_otlp::Builder::new().endpoint("http://127.0.0.1:4318");
    /// # let _ = b;
    /// ```
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Builder {
        self.endpoint = endpoint.into();
        self
    }

    /// How often the thread exports (at least 10 ms).
    ///
    /// ```
    /// let b = profx_otlp::Builder::new().interval(std::time::Duration::from_secs(30));
    /// # let _ = b;
    /// ```
    pub fn interval(mut self, interval: Duration) -> Builder {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// The most one export may take, connection to answer (at least 1 ms).
    ///
    /// ```
    /// let b = profx_otlp::Builder::new().timeout(std::time::Duration::from_secs(2));
    /// # let _ = b;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Builder {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// A header sent with every export (an API key, a tenant); checked by `start`.
    ///
    /// ```
    /// let b = profx_otlp::Builder::new().header("x-api-key", "abc");
    /// # let _ = b;
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Builder {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A string attribute of the resource; replaces a default one of the same key
    /// (`service.name`, ...).
    ///
    /// ```
    /// let b = profx_otlp::Builder::new().resource("service.name", "my-svc");
    /// # let _ = b;
    /// ```
    pub fn resource(mut self, key: impl Into<String>, value: impl Into<String>) -> Builder {
        self.resource.push((key.into(), value.into()));
        self
    }

    /// Checks the settings and starts the thread `profx-otlp`, which exports every interval
    /// (the first one an interval from now).
    ///
    /// ```
    /// let e = profx_otlp::Builder::new().endpoint("https://c:4318").start();
    /// assert!(e.unwrap_err().to_string().contains("https is not supported"));
    /// ```
    pub fn start(self) -> Result<Exporter, OtlpError> {
        let base = crate::settings::parse_endpoint(&self.endpoint).map_err(|reason| {
            OtlpError::InvalidEndpoint {
                value: self.endpoint.clone(),
                reason: reason.to_owned(),
            }
        })?;
        let url = format!("{base}{METRICS_PATH}");
        let traces_url = format!("{base}{TRACES_PATH}");
        if ureq::http::Uri::try_from(url.as_str()).is_err() {
            return Err(OtlpError::InvalidEndpoint {
                value: self.endpoint,
                reason: "it is not a valid URL".to_owned(),
            });
        }
        for (name, value) in &self.headers {
            let ok = ureq::http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && ureq::http::HeaderValue::from_str(value).is_ok();
            if !ok {
                return Err(OtlpError::InvalidHeader { name: name.clone() });
            }
        }
        let shared = Arc::new(Shared {
            traces: Transport::new(traces_url, self.headers.clone(), self.timeout, "spans"),
            transport: Transport::new(url, self.headers, self.timeout, "data points"),
            resource: resource(&self.resource),
            start: *PROCESS_START.get_or_init(|| encode::unix_nanos(SystemTime::now())),
            interval: self.interval,
            sending: Mutex::new(Problem::default()),
            stop: Mutex::new(None),
            wake: Condvar::new(),
        });
        let run = Arc::clone(&shared);
        let interval = self.interval;
        let thread = std::thread::Builder::new()
            .name("profx-otlp".into())
            .spawn(move || run.run())
            .map_err(OtlpError::Thread)?;
        Ok(Exporter {
            shared,
            interval,
            thread: Mutex::new(Some(thread)),
        })
    }
}

/// When the first exporter of the process started: the start of every cumulative series.
static PROCESS_START: OnceLock<u64> = OnceLock::new();

fn resource(extra: &[(String, String)]) -> Vec<KeyValue> {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown_service".to_owned());
    let mut attrs = vec![
        attr("service.name", &exe),
        int_attr("process.pid", i64::from(std::process::id())),
        attr("telemetry.sdk.name", "profx"),
        attr("telemetry.sdk.language", "rust"),
        attr("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
    ];
    for (k, v) in extra {
        attrs.retain(|a| &a.key != k);
        attrs.push(attr(k, v));
    }
    attrs
}
