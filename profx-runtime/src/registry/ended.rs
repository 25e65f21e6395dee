//! How a call ended.

/// How a call ended, as the counters tell it apart: success, failure (an `Err` that is one, a
/// panic) or cancelled (a future dropped before it completed). Disjoint: each call is one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Ended {
    #[default]
    Ok = 0,
    Failed = 1,
    Cancelled = 2,
}

impl Ended {
    /// `Failed` when `failed`, else `Ok`.
    #[inline(always)]
    pub(crate) fn failed_if(failed: bool) -> Ended {
        if failed {
            Ended::Failed
        } else {
            Ended::Ok
        }
    }

    /// From its code (`Ended as u32`); anything unknown reads as `Failed`.
    pub(crate) fn from_code(c: u32) -> Ended {
        match c {
            0 => Ended::Ok,
            2 => Ended::Cancelled,
            _ => Ended::Failed,
        }
    }
}
