//! Run history and per-item checkpoints in a SQLite file (`var/juru.db` by default).
//!
//! Every item's state is written as it changes, so the store always says how far a
//! run got. SQLite calls are blocking: callers use the store from a blocking thread.
//! The store knows runs and items as plain records (JSON for row data and outputs);
//! it knows nothing of bots, browsers or workbooks.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

#[derive(Debug, thiserror::Error)]
#[error("store {}: {message}", path.display())]
pub struct StoreError {
    pub path: PathBuf,
    pub message: String,
}

/// States an item goes through.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const IN_PROGRESS: &str = "in_progress";
    pub const DONE: &str = "done";
    pub const BUSINESS_EXCEPTION: &str = "business_exception";
    pub const SYSTEM_EXCEPTION: &str = "system_exception";
}

/// A new run.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub id: &'a str,
    pub bot: &'a str,
    pub trigger: &'a str,
    pub input: &'a str,
    pub dir: &'a str,
    pub started_at: &'a str,
}

/// How one item ended.
#[derive(Debug, Clone, Default)]
pub struct ItemEnd<'a> {
    pub state: &'a str,
    pub outputs: &'a str,
    pub reason: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub screenshot: Option<&'a str>,
    pub page_url: Option<&'a str>,
    pub page_title: Option<&'a str>,
    pub finished_at: &'a str,
}

/// One run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: String,
    pub bot: String,
    pub trigger: String,
    pub state: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub total: i64,
    pub done: i64,
    pub business: i64,
    pub system: i64,
    pub error: Option<String>,
}

/// One item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRecord {
    pub idx: i64,
    pub row_number: i64,
    pub state: String,
    pub data: String,
    pub outputs: String,
    pub reason: Option<String>,
    pub kind: Option<String>,
    pub screenshot: Option<String>,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id          TEXT PRIMARY KEY,
    bot         TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    input       TEXT NOT NULL,
    dir         TEXT NOT NULL,
    state       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    error       TEXT
);
CREATE TABLE IF NOT EXISTS items (
    run_id      TEXT NOT NULL REFERENCES runs(id),
    idx         INTEGER NOT NULL,
    row_number  INTEGER NOT NULL,
    state       TEXT NOT NULL,
    data        TEXT NOT NULL,
    outputs     TEXT NOT NULL DEFAULT '{}',
    reason      TEXT,
    kind        TEXT,
    screenshot  TEXT,
    page_url    TEXT,
    page_title  TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS items_state ON items(run_id, state);
";

impl Store {
    /// Opens (creating when needed) the SQLite file in WAL mode.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let fail = |message: String| StoreError {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create its folder: {e}")))?;
        }
        let conn = Connection::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|_| conn.pragma_update(None, "foreign_keys", "ON"))
            .and_then(|_| conn.busy_timeout(std::time::Duration::from_secs(5)))
            .and_then(|_| conn.execute_batch(SCHEMA))
            .map_err(|e| fail(format!("cannot prepare the schema: {e}")))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, what: &str, e: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message: format!("{what}: {e}"),
        }
    }

    /// Whether a run with this id exists.
    pub fn has_run(&self, id: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT 1 FROM runs WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err("looking up a run", e))
    }

    /// Records a new run and its items (all `pending`) in one transaction.
    /// `items` are (row number, row data as JSON).
    pub fn begin_run(&mut self, run: &NewRun, items: &[(i64, String)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(|e| StoreError {
            path: self.path.clone(),
            message: format!("starting a transaction: {e}"),
        })?;
        let result = (|| {
            tx.execute(
                "INSERT INTO runs (id, bot, trigger, input, dir, state, started_at) VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6)",
                params![run.id, run.bot, run.trigger, run.input, run.dir, run.started_at],
            )?;
            let mut stmt = tx.prepare(
                "INSERT INTO items (run_id, idx, row_number, state, data) VALUES (?1, ?2, ?3, 'pending', ?4)",
            )?;
            for (idx, (row, data)) in items.iter().enumerate() {
                stmt.execute(params![run.id, idx as i64, row, data])?;
            }
            Ok::<(), rusqlite::Error>(())
        })();
        match result.and_then(|_| tx.commit()) {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError {
                path: self.path.clone(),
                message: format!("recording run {}: {e}", run.id),
            }),
        }
    }

    /// Marks an item `in_progress` (one more attempt).
    pub fn item_started(&self, run_id: &str, idx: usize, at: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE items SET state = 'in_progress', attempts = attempts + 1, started_at = ?3 WHERE run_id = ?1 AND idx = ?2",
                params![run_id, idx as i64, at],
            )
            .map(|_| ())
            .map_err(|e| self.err("recording an item start", e))
    }

    /// Records how an item ended.
    pub fn item_finished(&self, run_id: &str, idx: usize, end: &ItemEnd) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE items SET state = ?3, outputs = ?4, reason = ?5, kind = ?6, screenshot = ?7, page_url = ?8, page_title = ?9, finished_at = ?10 WHERE run_id = ?1 AND idx = ?2",
                params![
                    run_id,
                    idx as i64,
                    end.state,
                    end.outputs,
                    end.reason,
                    end.kind,
                    end.screenshot,
                    end.page_url,
                    end.page_title,
                    end.finished_at
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err("recording an item end", e))
    }

    /// Records how the run ended (`finished`, `failed`, `cancelled`).
    pub fn finish_run(
        &self,
        run_id: &str,
        state: &str,
        error: Option<&str>,
        at: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET state = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
                params![run_id, state, error, at],
            )
            .map(|_| ())
            .map_err(|e| self.err("recording the run end", e))
    }

    /// A run with its item counts.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT r.id, r.bot, r.trigger, r.state, r.started_at, r.finished_at, r.error,
                        (SELECT count(*) FROM items i WHERE i.run_id = r.id),
                        (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state = 'done'),
                        (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state = 'business_exception'),
                        (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state = 'system_exception')
                 FROM runs r WHERE r.id = ?1",
                [id],
                |r| {
                    Ok(RunRecord {
                        id: r.get(0)?,
                        bot: r.get(1)?,
                        trigger: r.get(2)?,
                        state: r.get(3)?,
                        started_at: r.get(4)?,
                        finished_at: r.get(5)?,
                        error: r.get(6)?,
                        total: r.get(7)?,
                        done: r.get(8)?,
                        business: r.get(9)?,
                        system: r.get(10)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err("reading a run", e))
    }

    /// The items of a run in input order.
    pub fn items(&self, run_id: &str) -> Result<Vec<ItemRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT idx, row_number, state, data, outputs, reason, kind, screenshot FROM items WHERE run_id = ?1 ORDER BY idx",
            )
            .map_err(|e| self.err("reading items", e))?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(ItemRecord {
                    idx: r.get(0)?,
                    row_number: r.get(1)?,
                    state: r.get(2)?,
                    data: r.get(3)?,
                    outputs: r.get(4)?,
                    reason: r.get(5)?,
                    kind: r.get(6)?,
                    screenshot: r.get(7)?,
                })
            })
            .map_err(|e| self.err("reading items", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err("reading items", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lifecycle_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("juru.db")).unwrap();
        let run = NewRun {
            id: "r1",
            bot: "demo",
            trigger: "cli",
            input: "in.xlsx",
            dir: "runs/r1",
            started_at: "2026-11-27T10:00:00Z",
        };
        store
            .begin_run(
                &run,
                &[(2, "{\"NIK\":\"1\"}".into()), (3, "{\"NIK\":\"2\"}".into())],
            )
            .unwrap();
        assert!(store.has_run("r1").unwrap());
        store.item_started("r1", 0, "t").unwrap();
        store
            .item_finished(
                "r1",
                0,
                &ItemEnd {
                    state: state::DONE,
                    outputs: "{\"No\":\"1\"}",
                    finished_at: "t2",
                    ..ItemEnd::default()
                },
            )
            .unwrap();
        store.item_started("r1", 1, "t").unwrap();
        store
            .item_finished(
                "r1",
                1,
                &ItemEnd {
                    state: state::BUSINESS_EXCEPTION,
                    outputs: "{}",
                    reason: Some("NIK salah"),
                    kind: Some("business"),
                    finished_at: "t3",
                    ..ItemEnd::default()
                },
            )
            .unwrap();
        store.finish_run("r1", "finished", None, "t4").unwrap();
        let r = store.run("r1").unwrap().unwrap();
        assert_eq!((r.total, r.done, r.business, r.system), (2, 1, 1, 0));
        assert_eq!(r.state, "finished");
        let items = store.items("r1").unwrap();
        assert_eq!(items[1].reason.as_deref(), Some("NIK salah"));
        assert_eq!(items[0].row_number, 2);

        // Reopening the file sees the same history.
        drop(store);
        let store = Store::open(&dir.path().join("juru.db")).unwrap();
        assert_eq!(store.items("r1").unwrap().len(), 2);
    }
}
