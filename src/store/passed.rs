//! The rows of a run's input that were not work items (total and template rows,
//! what lay below the table, hidden rows), each range with its reason code, kept
//! with the run so that its summary, `juru runs show` and the dashboard can say
//! which rows were passed over and why.

use super::db::{args, DbError};
use super::{Store, StoreError};

/// Rows `first..=last` of a run's input, passed over for `reason` (a stable code
/// such as `total`, `template`, `below_table`, `hidden`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PassedRows {
    pub first: i64,
    pub last: i64,
    pub reason: String,
}

impl Store {
    /// Records the input rows the run `run` passed over.
    pub fn record_passed(&mut self, run: &str, rows: &[PassedRows]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.db
            .transaction(|db| {
                for r in rows {
                    db.execute(
                        "INSERT INTO passed_rows (run_id, first_row, last_row, reason) VALUES (?1, ?2, ?3, ?4)",
                        args![run, r.first, r.last, r.reason.as_str()],
                    )?;
                }
                Ok::<_, DbError>(())
            })
            .map_err(|e| self.err("recording passed-over rows", e))
    }

    /// The input rows the run `run` passed over, in sheet order.
    pub fn passed(&self, run: &str) -> Result<Vec<PassedRows>, StoreError> {
        self.db
            .query(
                "SELECT first_row, last_row, reason FROM passed_rows WHERE run_id = ?1
                 ORDER BY first_row, last_row, reason",
                args![run],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(PassedRows {
                            first: r.get(0)?,
                            last: r.get(1)?,
                            reason: r.get(2)?,
                        })
                    })
                    .collect()
            })
            .map_err(|e| self.err("reading passed-over rows", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passed_rows_are_kept_per_run() {
        crate::store::each_backend(|path| {
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
        });
    }
}
