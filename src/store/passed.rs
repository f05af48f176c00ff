//! The rows of a run's input that were not work items (total and template rows,
//! what lay below the table, hidden rows), each range with its reason code, kept
//! with the run so that its summary, `juru runs show` and the dashboard can say
//! which rows were passed over and why. The table is created on first use
//! (`CREATE TABLE IF NOT EXISTS`), so older stores gain it without a migration.

use rusqlite::params;

use super::{Store, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS passed_rows (
    run_id    TEXT NOT NULL,
    first_row INTEGER NOT NULL,
    last_row  INTEGER NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passed_rows_run ON passed_rows(run_id);
";

/// Rows `first..=last` of a run's input, passed over for `reason` (a stable code
/// such as `total`, `template`, `below_table`, `hidden`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PassedRows {
    pub first: i64,
    pub last: i64,
    pub reason: String,
}

impl Store {
    fn passed_schema(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(SCHEMA)
            .map_err(|e| self.err("preparing the passed_rows table", e))
    }

    /// Records the input rows the run `run` passed over.
    pub fn record_passed(&mut self, run: &str, rows: &[PassedRows]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.passed_schema()?;
        let tx = self.conn.transaction().map_err(|e| StoreError {
            path: self.path.clone(),
            message: format!("recording passed-over rows: {e}"),
        })?;
        let result = (|| {
            let mut insert = tx.prepare(
                "INSERT INTO passed_rows (run_id, first_row, last_row, reason) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for r in rows {
                insert.execute(params![run, r.first, r.last, r.reason])?;
            }
            Ok(())
        })();
        result
            .and_then(|_| tx.commit())
            .map_err(|e: rusqlite::Error| StoreError {
                path: self.path.clone(),
                message: format!("recording passed-over rows: {e}"),
            })
    }

    /// The input rows the run `run` passed over, in sheet order.
    pub fn passed(&self, run: &str) -> Result<Vec<PassedRows>, StoreError> {
        self.passed_schema()?;
        let mut q = self
            .conn
            .prepare(
                "SELECT first_row, last_row, reason FROM passed_rows WHERE run_id = ?1 ORDER BY first_row, rowid",
            )
            .map_err(|e| self.err("reading passed-over rows", e))?;
        let rows = q
            .query_map([run], |r| {
                Ok(PassedRows {
                    first: r.get(0)?,
                    last: r.get(1)?,
                    reason: r.get(2)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err("reading passed-over rows", e));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passed_rows_are_kept_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("juru.db");
        let mut store = Store::open(&path).unwrap();
        assert!(store.passed("r1").unwrap().is_empty());
        let rows = vec![
            PassedRows {
                first: 27,
                last: 27,
                reason: "total".into(),
            },
            PassedRows {
                first: 8,
                last: 26,
                reason: "template".into(),
            },
        ];
        store.record_passed("r1", &rows).unwrap();
        let other = Store::open(&path).unwrap();
        let got = other.passed("r1").unwrap();
        assert_eq!(got, vec![rows[1].clone(), rows[0].clone()]);
        assert!(other.passed("r2").unwrap().is_empty());
    }
}
