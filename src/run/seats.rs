//! Browser seats: `[limits] max_browsers` for the whole process, and a bot's own
//! `[run] max_browsers` across its runs. Every worker of every run takes a seat of
//! the agent (and one of its bot, when the bot has a limit) before its first item
//! and holds them until it stops, so the browsers of an agent's concurrent runs
//! together stay within the limits (and within the memory planned for them). A
//! worker that finds every seat taken waits for one, and says so once in the log;
//! a stop ends the wait.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;

/// Seats taken now, by pool: `AGENT` for the agent's, a bot's name for the bot's.
static TAKEN: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
static FREED: Notify = Notify::const_new();

/// The pool of the agent's seats.
pub(super) const AGENT: &str = "";

/// A seat a worker holds; given back when dropped.
#[derive(Debug)]
pub(super) struct Seat(String);

impl Drop for Seat {
    fn drop(&mut self) {
        let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = taken.get_or_insert_with(HashMap::new).get_mut(&self.0) {
            *n = n.saturating_sub(1);
        }
        drop(taken);
        FREED.notify_waiters();
    }
}

/// Seats of `pool` taken now in this process.
pub fn taken(pool: &str) -> usize {
    let taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    taken
        .as_ref()
        .and_then(|t| t.get(pool))
        .copied()
        .unwrap_or(0)
}

fn try_take(pool: &str, max: usize) -> Option<Seat> {
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    let n = taken
        .get_or_insert_with(HashMap::new)
        .entry(pool.to_string())
        .or_insert(0);
    if *n < max.max(1) {
        *n += 1;
        Some(Seat(pool.to_string()))
    } else {
        None
    }
}

/// Takes a seat of `pool` among `max`, waiting for one when all are taken;
/// `waiting` is called once if it must wait.
pub(super) async fn take(pool: &str, max: usize, waiting: impl FnOnce()) -> Seat {
    let mut waiting = Some(waiting);
    loop {
        // Ask to be told before looking, so a seat freed in between is not missed.
        let freed = FREED.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        if let Some(seat) = try_take(pool, max) {
            return seat;
        }
        if let Some(w) = waiting.take() {
            w();
        }
        freed.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_seats_than_the_limit_are_ever_taken_and_waiters_get_freed_ones() {
        // Other tests of this binary take no seats (only runs do).
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        let waited = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (peak, now, waited) = (peak.clone(), now.clone(), waited.clone());
            tasks.push(tokio::spawn(async move {
                let seat = take("seats-test", 3, || {
                    waited.fetch_add(1, Ordering::Relaxed);
                })
                .await;
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                drop(seat);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 3, "{peak:?}");
        assert!(waited.load(Ordering::Relaxed) >= 5, "{waited:?}");
        assert_eq!(taken("seats-test"), 0);
    }
}
