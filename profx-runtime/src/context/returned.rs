//! How an instrumented function ended, as the macros classify its return value, and the
//! message a failure leaves in a kept execution.

use std::fmt::{self, Write as _};

use crate::registry::Ended;

/// How long an error message may be, in bytes.
const MAX_ERROR_LEN: usize = 256;

/// How a function ended, as the macros classify its return value.
#[doc(hidden)]
pub enum Returned<'a> {
    /// Returned normally (or `Ok`).
    Success,
    /// Returned `Err` with a `Display` error.
    Error(&'a dyn fmt::Display),
    /// Returned `Err` with a `Debug`-only error.
    ErrorDebug(&'a dyn fmt::Debug),
    /// Returned `Err` whose error can't be shown.
    ErrorOpaque,
    /// Unwound.
    Panicked,
    /// Dropped before completion.
    Cancelled,
}

impl Returned<'_> {
    /// Whether it is a failure or a cancellation (anything but `Success`).
    #[inline(always)]
    pub fn is_failure(&self) -> bool {
        !matches!(self, Returned::Success)
    }

    /// How the counters tell it.
    pub(crate) fn ended(&self) -> Ended {
        match self {
            Returned::Success => Ended::Ok,
            Returned::Cancelled => Ended::Cancelled,
            _ => Ended::Failed,
        }
    }

    pub(super) fn write_message(&self, out: &mut String) {
        let mut w = Bounded {
            out,
            left: MAX_ERROR_LEN,
        };
        let _ = match self {
            Returned::Success => Ok(()),
            Returned::Error(e) => write!(w, "{e}"),
            Returned::ErrorDebug(e) => write!(w, "{e:?}"),
            Returned::ErrorOpaque => w.write_str("error"),
            Returned::Panicked => w.write_str("panicked"),
            Returned::Cancelled => w.write_str("cancelled"),
        };
    }
}

/// Writes at most `left` bytes, cutting at a character boundary, and drops the rest.
struct Bounded<'a> {
    out: &'a mut String,
    left: usize,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.left {
            self.out.push_str(s);
            self.left -= s.len();
        } else {
            let mut end = self.left;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.out.push_str(&s[..end]);
            self.left = 0;
        }
        Ok(())
    }
}
