//! `juru store copy`: the history of one store (runs, items, schedule fires and
//! states, dashboard actions, notices, passed-over rows) into another, typically a
//! single machine's SQLite file into the PostgreSQL store of a fleet. Rows the
//! target already has are left as they are, so copying twice, or copying the
//! stores of several machines into one, adds each row once. Everything is written
//! in one transaction: a copy that fails leaves the target as it was.

use super::db::{args, DbError, Value};
use super::{Store, StoreError};

/// Tables copied with their columns; the first `key` columns identify a row.
const TABLES: &[(&str, &[&str], usize)] = &[
    (
        "runs",
        &[
            "id",
            "bot",
            "trigger",
            "input",
            "dir",
            "state",
            "started_at",
            "finished_at",
            "error",
            "headers",
            "vars",
            "parent",
            "pid",
            "owner",
        ],
        1,
    ),
    (
        "items",
        &[
            "run_id",
            "idx",
            "row_number",
            "state",
            "data",
            "outputs",
            "reason",
            "kind",
            "screenshot",
            "page_url",
            "page_title",
            "log",
            "attempts",
            "worker",
            "submitted",
            "commands",
            "started_at",
            "finished_at",
            "agent",
        ],
        2,
    ),
    (
        "fires",
        &[
            "schedule",
            "scheduled_for",
            "state",
            "reason",
            "run_id",
            "recorded_at",
            "agent",
        ],
        2,
    ),
    ("schedule_state", &["schedule", "paused", "changed_at"], 1),
    ("schedule_watch", &["schedule", "watched_since"], 1),
    (
        "actions",
        &[
            "at", "\"user\"", "action", "run_id", "item_idx", "target", "note",
        ],
        5,
    ),
    ("notices", &["key", "sent_at"], 1),
    (
        "passed_rows",
        &["run_id", "first_row", "last_row", "reason"],
        4,
    ),
];

/// What a copy did, table by table: (table, rows read, rows added).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, usize, usize)>,
}

impl Store {
    /// Copies this store's history into `target` (whose schema must be current).
    /// Refused while a run of this store goes on: its items would change after
    /// they were copied.
    pub fn copy_into(&self, target: &Store) -> Result<CopyReport, StoreError> {
        if let Some(r) = self
            .runs(None, 1_000_000)?
            .into_iter()
            .find(|r| r.shown_state() == "running")
        {
            return Err(self.err(
                "copying",
                DbError(format!(
                    "run {} of bot {} goes on; stop the agent (and wait for `juru run`s to end) before copying",
                    r.id, r.bot
                )),
            ));
        }
        let mut report = CopyReport::default();
        let mut read = Vec::new();
        for (table, columns, _) in TABLES {
            let rows = self
                .db
                .query(
                    &format!("SELECT {} FROM {table}", columns.join(", ")),
                    args![],
                )
                .map_err(|e| self.err(&format!("reading {table}"), e))?;
            read.push(rows);
        }
        target
            .db
            .deciding(|db| {
                for ((table, columns, key), rows) in TABLES.iter().zip(&read) {
                    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
                    let insert = format!(
                        "INSERT INTO {table} ({}) VALUES ({})",
                        columns.join(", "),
                        marks.join(", ")
                    );
                    let exists = format!(
                        "SELECT 1 FROM {table} WHERE {}",
                        columns[..*key]
                            .iter()
                            .enumerate()
                            .map(|(i, c)| format!("{c} IS NOT DISTINCT FROM ?{}", i + 1))
                            .collect::<Vec<_>>()
                            .join(" AND ")
                    );
                    let mut added = 0;
                    for row in rows {
                        let values: Vec<Value> = (0..columns.len())
                            .map(|i| row.get::<Value>(i))
                            .collect::<Result<_, _>>()?;
                        if db.query_opt(&exists, &values[..*key])?.is_none() {
                            db.execute(&insert, &values)?;
                            added += 1;
                        }
                    }
                    report.tables.push((table.to_string(), rows.len(), added));
                }
                Ok(())
            })
            .map_err(|e: DbError| target.err("copying into it", e))?;
        Ok(report)
    }
}
