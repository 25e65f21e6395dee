//! Which thread an execution started on: profx's own numbers for threads (1, 2, … in the order
//! threads first start an execution; never reused, unlike OS thread ids) and their names.
//!
//! A thread gets its number once, off the hot path (its first execution); a kept execution
//! copies it into its record with one load and one store. Readers turn numbers into names.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::Mutex;

use crate::lock::lock;

static NEXT: AtomicU32 = AtomicU32::new(1);

/// The name of every numbered thread that had one (or its OS id, as `thread 12345`, when it
/// had none), by number.
static NAMES: Mutex<Option<HashMap<u32, String>>> = Mutex::new(None);

/// Numbers the calling thread (a thread numbered already gets a new number: callers ask once,
/// and keep it in the thread-local block).
#[cold]
#[inline(never)]
pub(crate) fn assign() -> u32 {
    crate::alloc::exclude(|| {
        let no = NEXT.fetch_add(1, Relaxed);
        let name = match std::thread::current().name() {
            Some(n) => n.to_owned(),
            None => format!("thread {}", os_id()),
        };
        lock(&NAMES)
            .get_or_insert_with(HashMap::new)
            .insert(no, name);
        no
    })
}

/// The OS id of the calling thread (Linux: its tid; elsewhere what `std` shows).
fn os_id() -> String {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        tid.to_string()
    }
    #[cfg(not(target_os = "linux"))]
    {
        format!("{:?}", std::thread::current().id())
    }
}

/// The names of the numbered threads, for readers.
pub(crate) fn names() -> HashMap<u32, String> {
    lock(&NAMES).clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn threads_get_distinct_numbers_and_their_names() {
        let here = super::assign();
        let there = std::thread::Builder::new()
            .name("numbered".into())
            .spawn(super::assign)
            .unwrap()
            .join()
            .unwrap();
        assert_ne!(here, there);
        assert!(here > 0 && there > 0);
        let names = super::names();
        assert_eq!(names[&there], "numbered");
        assert!(names.contains_key(&here));
    }
}
