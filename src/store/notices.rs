//! Notices the agent sends once, whoever sends them: a key such as
//! `calendar:id-kerja:2027` is claimed with insert-or-ignore before the notice goes
//! out, so it is sent once across restarts and across agents sharing one database.
//! The table is created on first use (`CREATE TABLE IF NOT EXISTS`).

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notices (
    key     TEXT PRIMARY KEY,
    sent_at TEXT NOT NULL
);
";

impl Store {
    fn notices_schema(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(SCHEMA)
            .map_err(|e| self.err("preparing the notices table", e))
    }

    /// Records the notice `key` as sent unless it already is; `true` when this call
    /// recorded it (and so sends it).
    pub fn claim_notice(&self, key: &str) -> Result<bool, StoreError> {
        self.notices_schema()?;
        self.conn
            .execute(
                "INSERT OR IGNORE INTO notices (key, sent_at) VALUES (?1, ?2)",
                params![key, chrono::Utc::now().to_rfc3339()],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err("recording a notice", e))
    }

    /// Forgets a claimed notice that could not be sent, so it is tried again.
    pub fn release_notice(&self, key: &str) -> Result<(), StoreError> {
        self.notices_schema()?;
        self.conn
            .execute("DELETE FROM notices WHERE key = ?1", [key])
            .map(|_| ())
            .map_err(|e| self.err("forgetting a notice", e))
    }

    /// When the notice `key` was sent (RFC 3339), if it was.
    pub fn notice_sent(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.notices_schema()?;
        self.conn
            .query_row("SELECT sent_at FROM notices WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err("reading a notice", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_is_claimed_once_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("juru.db");
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
    }
}
