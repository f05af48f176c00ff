//! When to try a message again after the server could not take it for now.
//!
//! A temporary failure (a 4xx answer, a refused connection, a timeout, a TLS or
//! login problem that a person can fix) keeps the message pending; the next attempt
//! waits twice as long as the one before, from [`RetryPolicy::first_delay`] up to
//! [`RetryPolicy::max_delay`]. A message that has waited longer than
//! [`RetryPolicy::give_up_after`] is given up by the agent (moved to `failed/`, kept
//! on disk). A permanent refusal (5xx) is never retried. Pure functions.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The back-off of temporary failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failed attempt.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// After this long in the outbox, a message that still fails is given up.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

/// What to do after a temporary failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again at (or after) this time.
    At(DateTime<Utc>),
    /// The message has waited too long: stop trying.
    GiveUp,
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts (1 = the first one failed).
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.first_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The decision after `attempts` failed attempts of a message queued at
    /// `queued`, the last one failing at `now`.
    pub fn after_failure(&self, attempts: u32, queued: DateTime<Utc>, now: DateTime<Utc>) -> Retry {
        let waited = (now - queued).to_std().unwrap_or_default();
        if waited >= self.give_up_after {
            return Retry::GiveUp;
        }
        let delay = chrono::Duration::from_std(self.delay(attempts))
            .unwrap_or_else(|_| chrono::Duration::hours(1));
        Retry::At(now + delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn doubles_up_to_the_limit() {
        let p = RetryPolicy::default();
        let mins = |n: u32| p.delay(n).as_secs() / 60;
        assert_eq!(
            [1, 2, 3, 4, 5, 6, 7, 8, 100].map(mins),
            [1, 2, 4, 8, 16, 32, 60, 60, 60]
        );
        assert_eq!(p.delay(0), Duration::from_secs(60));
    }

    #[test]
    fn gives_up_after_three_days() {
        let p = RetryPolicy::default();
        let queued = Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap();
        let now = queued + chrono::Duration::hours(2);
        assert_eq!(
            p.after_failure(3, queued, now),
            Retry::At(now + chrono::Duration::minutes(4))
        );
        let late = queued + chrono::Duration::days(3);
        assert_eq!(p.after_failure(40, queued, late), Retry::GiveUp);
    }
}
