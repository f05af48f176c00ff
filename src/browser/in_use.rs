//! How many browser sessions this process has open now: each [`Browser`] holds an
//! [`InUse`] from the moment its session exists until it is closed or dropped.
//!
//! [`Browser`]: super::Browser

use std::sync::atomic::{AtomicUsize, Ordering};

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Browser sessions open now in this process (every run, worker and shell).
pub fn sessions_in_use() -> usize {
    OPEN.load(Ordering::Relaxed)
}

/// One open session, counted while it lives.
#[derive(Debug)]
pub(super) struct InUse(());

impl InUse {
    pub(super) fn new() -> InUse {
        OPEN.fetch_add(1, Ordering::Relaxed);
        InUse(())
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_counts_while_it_lives() {
        let a = InUse::new();
        let b = InUse::new();
        // Other tests may hold sessions meanwhile: only our own two are known.
        assert!(sessions_in_use() >= 2);
        drop(a);
        drop(b);
    }
}
