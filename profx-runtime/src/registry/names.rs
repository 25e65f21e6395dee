//! Names: every agent and phase name gets a small id, assigned once, so that the hot path
//! indexes by id and never hashes a name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::Mutex;

use super::lock;

struct Names {
    ids: HashMap<&'static str, u32>,
    list: Vec<&'static str>,
    /// Bottleneck thresholds of the agents that set one (`#[profx::agent(threshold = ..)]`).
    thresholds: HashMap<u32, std::time::Duration>,
    /// Agents marked `#[profx::agent(long_lived)]`, by id.
    long_lived: std::collections::HashSet<u32>,
}

static NAMES: std::sync::LazyLock<Mutex<Names>> = std::sync::LazyLock::new(|| {
    Mutex::new(Names {
        ids: HashMap::new(),
        list: vec![""], // id 0: no name
        thresholds: HashMap::new(),
        long_lived: std::collections::HashSet::new(),
    })
});

/// Marks the agent named `name` as long-lived (a session, a connection).
pub(crate) fn set_long_lived(name: &str) {
    let id = intern(name);
    lock(&NAMES).long_lived.insert(id);
}

/// Whether the agent with this id is long-lived.
pub(crate) fn is_long_lived(id: u32) -> bool {
    lock(&NAMES).long_lived.contains(&id)
}

/// Sets the bottleneck threshold of the agent named `name` (the last one set wins).
pub(crate) fn set_threshold(name: &str, threshold: std::time::Duration) {
    let id = intern(name);
    lock(&NAMES).thresholds.insert(id, threshold);
}

/// The bottleneck threshold the agent named `name` set, if it set one.
pub(crate) fn threshold_of(name: &str) -> Option<std::time::Duration> {
    let n = lock(&NAMES);
    n.ids.get(name).and_then(|id| n.thresholds.get(id)).copied()
}

/// The id of a name, assigned on first sight (ids start at 1).
pub(crate) fn intern(name: &str) -> u32 {
    crate::alloc::exclude(|| intern_locked(name))
}

fn intern_locked(name: &str) -> u32 {
    let mut n = lock(&NAMES);
    if let Some(&id) = n.ids.get(name) {
        return id;
    }
    let stored: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let id = n.list.len() as u32;
    n.list.push(stored);
    n.ids.insert(stored, id);
    id
}

/// The id of a name already seen, without adding it (for reads, which must not grow the table).
pub(crate) fn lookup(name: &str) -> Option<u32> {
    lock(&NAMES).ids.get(name).copied()
}

/// The id of a name, through a per-thread cache (for names only known at run time).
pub(crate) fn intern_cached(name: &str) -> u32 {
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<Box<str>, u32>> = std::cell::RefCell::new(HashMap::new());
    }
    CACHE
        .try_with(|c| {
            if let Some(&id) = c.borrow().get(name) {
                return id;
            }
            let id = intern(name);
            crate::alloc::exclude(|| c.borrow_mut().insert(name.into(), id));
            id
        })
        .unwrap_or_else(|_| intern(name))
}

/// All names, indexed by id.
pub(crate) fn names() -> Vec<&'static str> {
    lock(&NAMES).list.clone()
}

/// A call site: a name, interned the first time the site runs.
///
/// The macros put one in a `static` per instrumented function, so the hot path reads an id
/// that is already there and never hashes the name.
#[doc(hidden)]
pub struct Site {
    name: &'static str,
    id: AtomicU32,
    /// An agent's bottleneck threshold in nanoseconds (0: the profiler's).
    threshold_ns: u64,
    /// An agent that is a session or a connection (`#[profx::agent(long_lived)]`).
    long_lived: bool,
}

impl Site {
    /// A site for `name`.
    pub const fn new(name: &'static str) -> Site {
        Site::with_threshold(name, 0)
    }

    /// A site for the agent `name` whose bottleneck threshold is `threshold_ns` nanoseconds
    /// (0: the profiler's), set when the site first runs.
    pub const fn with_threshold(name: &'static str, threshold_ns: u64) -> Site {
        Site {
            name,
            id: AtomicU32::new(0),
            threshold_ns,
            long_lived: false,
        }
    }

    /// The same site, for an agent that is meant to last (a session, a connection): kept out
    /// of slow-execution bottlenecks and of the report's overall averages.
    pub const fn long_lived(self) -> Site {
        Site {
            long_lived: true,
            ..self
        }
    }

    /// The site's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    #[inline(always)]
    pub(crate) fn id(&self) -> u32 {
        let id = self.id.load(Relaxed);
        if id != 0 {
            id
        } else {
            self.register()
        }
    }

    /// The id if the site has one already (0: not yet; call [`id`](Site::id)).
    #[inline(always)]
    pub(crate) fn known_id(&self) -> u32 {
        self.id.load(Relaxed)
    }

    #[cold]
    #[inline(never)]
    fn register(&self) -> u32 {
        let id = intern(self.name);
        if self.threshold_ns != 0 {
            set_threshold(
                self.name,
                std::time::Duration::from_nanos(self.threshold_ns),
            );
        }
        if self.long_lived {
            set_long_lived(self.name);
        }
        self.id.store(id, Relaxed);
        id
    }
}

/// A type standing for one call site, so that a sync phase's span knows its site without
/// storing it (the macros define one per instrumented function).
#[doc(hidden)]
pub trait SiteRef {
    /// The site.
    fn site() -> &'static Site;
}
