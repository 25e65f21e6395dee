//! Names: what the `metrics` crate accepts and Prometheus (and profx) refuse, translated as
//! `metrics-exporter-prometheus` does; and keys as the warnings show them.

use std::borrow::Cow;
use std::fmt;

use ::metrics::Key;

use crate::metrics as registry;

pub(super) fn name_message(given: &str, used: &str) -> String {
    format!(
        "metric name {given:?} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*): \
         recorded as {used:?}"
    )
}

/// A key as the warnings show it: `name{label="value", …}`.
pub(super) struct ShowKey<'a>(pub(super) &'a Key);

impl fmt::Display for ShowKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.name())?;
        let mut labels = self.0.labels().peekable();
        if labels.peek().is_some() {
            f.write_str("{")?;
            for (i, l) in labels.enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}={:?}", l.key(), l.value())?;
            }
            f.write_str("}")?;
        }
        Ok(())
    }
}

/// Characters outside `[a-zA-Z0-9_:]` (first: `[a-zA-Z_:]`) become `_`; empty becomes `_`.
pub(super) fn sanitize_metric_name(name: &str) -> Cow<'_, str> {
    if registry::is_valid_metric_name(name) {
        return Cow::Borrowed(name);
    }
    if name.is_empty() {
        // Owned: a change, so it is warned about.
        return Cow::Owned("_".into());
    }
    let ok = |i: usize, c: char| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    };
    Cow::Owned(
        name.chars()
            .enumerate()
            .map(|(i, c)| if ok(i, c) { c } else { '_' })
            .collect(),
    )
}

/// Characters outside `[a-zA-Z0-9_]` (first: `[a-zA-Z_]`) become `_`; empty becomes `_`;
/// a leading `__` becomes `_`; `le` on a histogram becomes `_le`.
pub(super) fn sanitize_label_name(name: &str, histogram: bool) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = if registry::is_valid_label_name(name) {
        Cow::Borrowed(name)
    } else if name.is_empty() {
        Cow::Owned("_".into())
    } else {
        let ok = |i: usize, c: char| {
            c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit())
        };
        Cow::Owned(
            name.chars()
                .enumerate()
                .map(|(i, c)| if ok(i, c) { c } else { '_' })
                .collect(),
        )
    };
    if out.starts_with("__") {
        out = Cow::Owned(format!("_{}", out.trim_start_matches('_')));
    }
    if histogram && out == "le" {
        out = Cow::Owned("_le".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_as_the_prometheus_exporter_sanitises_them() {
        for (given, used) in [
            ("ok_name:rate", "ok_name:rate"),
            ("http.requests", "http_requests"),
            ("1foobar", "_foobar"),
            ("123", "_23"),
            ("*", "_"),
            ("a-b c", "a_b_c"),
            ("tâches", "t_ches"),
            ("", "_"),
        ] {
            let s = sanitize_metric_name(given);
            assert_eq!(s, used, "{given:?}");
            assert_eq!(matches!(s, Cow::Borrowed(_)), given == used, "{given:?}");
            assert!(registry::is_valid_metric_name(&s));
        }
    }

    #[test]
    fn label_names_are_sanitised_and_unreserved() {
        for (given, histogram, used) in [
            ("status", false, "status"),
            ("status-code", false, "status_code"),
            ("node:id", false, "node_id"),
            ("1st", false, "_st"),
            ("", false, "_"),
            ("__shard", false, "_shard"),
            ("___", false, "_"),
            ("__1", false, "_1"),
            ("le", false, "le"),
            ("le", true, "_le"),
            ("_le", true, "_le"),
        ] {
            let s = sanitize_label_name(given, histogram);
            assert_eq!(s, used, "{given:?}");
            assert_eq!(matches!(s, Cow::Borrowed(_)), given == used, "{given:?}");
            assert!(registry::is_valid_label_name(&s) && !s.starts_with("__"));
        }
    }
}
