//! Locking a mutex that a panic on another thread may have poisoned: profx's state stays
//! usable (a panic in the user's code never stops recording or reporting), so the poison is
//! ignored and the data taken as it is.

use std::sync::{Mutex, MutexGuard};

/// `m.lock()`, poisoned or not.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_poisoned_mutex_still_locks() {
        let m = std::sync::Arc::new(std::sync::Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("poisons it");
        })
        .join();
        assert!(m.is_poisoned());
        *super::lock(&m) += 1;
        assert_eq!(*super::lock(&m), 2);
    }
}
