//! Notices the agent sends once, whoever sends them: a key such as
//! `calendar:id-kerja:2027` is claimed with insert-or-ignore before the notice goes
//! out, so it is sent once across restarts and across agents sharing one database.

use super::db::args;
use super::{Store, StoreError};

impl Store {
    /// Records the notice `key` as sent unless it already is; `true` when this call
    /// recorded it (and so sends it).
    pub fn claim_notice(&self, key: &str) -> Result<bool, StoreError> {
        self.db
            .execute(
                "INSERT INTO notices (key, sent_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                args![key, chrono::Utc::now().to_rfc3339()],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err("recording a notice", e))
    }

    /// Forgets a claimed notice that could not be sent, so it is tried again.
    pub fn release_notice(&self, key: &str) -> Result<(), StoreError> {
        self.db
            .execute("DELETE FROM notices WHERE key = ?1", args![key])
            .map(|_| ())
            .map_err(|e| self.err("forgetting a notice", e))
    }

    /// When the notice `key` was sent (RFC 3339), if it was.
    pub fn notice_sent(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.db
            .query_opt("SELECT sent_at FROM notices WHERE key = ?1", args![key])
            .and_then(|r| r.map(|r| r.get(0)).transpose())
            .map_err(|e| self.err("reading a notice", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_is_claimed_once_until_released() {
        crate::store::each_backend(|path| {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.notice_sent("calendar:id-kerja:2027").unwrap(), None);
            assert!(store.claim_notice("calendar:id-kerja:2027").unwrap());
            assert!(!store.claim_notice("calendar:id-kerja:2027").unwrap());
            assert!(store.claim_notice("calendar:id-kerja:2028").unwrap());
            // Another connection (another agent, a restart) sees the claim.
            let other = Store::open(&path).unwrap();
            assert!(!other.claim_notice("calendar:id-kerja:2027").unwrap());
            assert!(other
                .notice_sent("calendar:id-kerja:2027")
                .unwrap()
                .is_some());
            other.release_notice("calendar:id-kerja:2027").unwrap();
            assert!(store.claim_notice("calendar:id-kerja:2027").unwrap());
        });
    }
}
