//! W3C Trace Context: the `traceparent` header an execution may join a distributed trace with.
//!
//! `traceparent: 00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>`, lowercase. As the
//! recommendation says, a value that does not parse is ignored (the execution starts a trace of
//! its own), a version other than `00` is read as far as `00` defines it, and version `ff`,
//! an all-zero trace id or an all-zero parent id are invalid.

/// A parsed `traceparent`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace's id.
    pub trace_id: [u8; 16],
    /// The caller's span: the parent of the execution's span.
    pub parent_id: [u8; 8],
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// `N` bytes from `2 * N` lowercase hex digits.
fn hex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks(2).enumerate() {
        out[i] = hex_digit(pair[0])? << 4 | hex_digit(pair[1])?;
    }
    Some(out)
}

impl TraceParent {
    /// Parses a `traceparent` value (surrounding spaces and tabs allowed); `None` when it is
    /// not valid.
    pub fn parse(s: &str) -> Option<TraceParent> {
        let s = s.trim_matches([' ', '\t']).as_bytes();
        if s.len() < 55 || s[2] != b'-' || s[35] != b'-' || s[52] != b'-' {
            return None;
        }
        let [version] = hex::<1>(&s[..2])?;
        // Version 00 is exactly 55 characters; a later version may add fields after a dash.
        if version == 0xff || (version == 0 && s.len() != 55) || (s.len() > 55 && s[55] != b'-') {
            return None;
        }
        let trace_id = hex::<16>(&s[3..35])?;
        let parent_id = hex::<8>(&s[36..52])?;
        let [flags] = hex::<1>(&s[53..55])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The header value, version `00`.
    pub fn header(&self) -> String {
        let mut s = String::with_capacity(55);
        s.push_str("00-");
        for b in self.trace_id {
            s.push_str(&format!("{b:02x}"));
        }
        s.push('-');
        for b in self.parent_id {
            s.push_str(&format!("{b:02x}"));
        }
        s.push_str(&format!("-{:02x}", self.flags));
        s
    }
}

/// What `#[profx::agent(traceparent = EXPR)]` accepts: a `traceparent` value as `&str` or
/// `String`, or an `Option` of one (`None`: no caller's trace to join), or a reference to any
/// of these.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`traceparent = …` takes a W3C traceparent as text, not `{Self}`",
    label = "expected a `&str`, a `String`, or an `Option` of one",
    note = "e.g. `traceparent = headers.get(\"traceparent\")`; `None` starts a trace of its own"
)]
pub trait TraceparentArg {
    /// The value, if there is one.
    fn traceparent(&self) -> Option<&str>;
}

impl TraceparentArg for str {
    fn traceparent(&self) -> Option<&str> {
        Some(self)
    }
}

impl TraceparentArg for String {
    fn traceparent(&self) -> Option<&str> {
        Some(self)
    }
}

impl<T: TraceparentArg + ?Sized> TraceparentArg for &T {
    fn traceparent(&self) -> Option<&str> {
        (**self).traceparent()
    }
}

impl<T: TraceparentArg> TraceparentArg for Option<T> {
    fn traceparent(&self) -> Option<&str> {
        self.as_ref().and_then(|t| t.traceparent())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_recommendations_example_parses_and_prints_back() {
        let t = TraceParent::parse(GOOD).unwrap();
        assert_eq!(t.trace_id[0], 0x4b);
        assert_eq!(t.trace_id[15], 0x36);
        assert_eq!(
            t.parent_id,
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert_eq!(t.flags, 1);
        assert_eq!(t.header(), GOOD);
        assert_eq!(TraceParent::parse(&format!(" {GOOD}\t")), Some(t));
    }

    #[test]
    fn invalid_values_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        // A later version: read as 00 defines it, what follows a dash ignored.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes";
        assert!(TraceParent::parse(later).is_some());
        assert!(TraceParent::parse(&later.replace("01-w", "01w")).is_none());
    }

    #[test]
    fn every_argument_form_gives_its_value() {
        fn arg<T: TraceparentArg + ?Sized>(a: &T) -> Option<String> {
            a.traceparent().map(str::to_owned)
        }
        let owned = GOOD.to_owned();
        assert_eq!(arg(GOOD).as_deref(), Some(GOOD));
        assert_eq!(arg(&owned).as_deref(), Some(GOOD));
        assert_eq!(arg(&Some(GOOD)).as_deref(), Some(GOOD));
        assert_eq!(arg(&Some(owned.clone())).as_deref(), Some(GOOD));
        assert_eq!(arg(&Some(&owned)).as_deref(), Some(GOOD));
        assert_eq!(arg(&None::<&str>), None);
    }
}
