//! The store's tables and the steps that bring an older store up to date, the same
//! on SQLite and PostgreSQL (table words are SQLite's; [`Db::create`] says them in
//! PostgreSQL's). The version is kept in the table `schema_version`; SQLite files
//! written before it kept theirs in `PRAGMA user_version`.
//!
//! Every step can run again on a store that already has part of it (tables are
//! created `IF NOT EXISTS`, columns added only when missing), and all steps run in
//! one transaction holding the store's write lock, so two agents starting at once
//! on one database migrate it once. A store written by a newer juru is refused.

use super::db::{args, Db, DbError, Kind};

/// The schema this juru writes.
pub const SCHEMA_VERSION: i64 = 3;

/// What each version added, for `juru store migrate`.
pub const STEPS: &[(i64, &str)] = &[
    (1, "runs and items"),
    (2, "the owner of a run (a process known by boot and start time)"),
    (
        3,
        "schedule fires, requests, actions, notices and passed-over rows as migrations; agents by name, leases, the agent and process that hold each item",
    ),
];

const RUNS: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id          TEXT PRIMARY KEY,
    bot         TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    input       TEXT NOT NULL,
    dir         TEXT NOT NULL,
    state       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    error       TEXT,
    headers     TEXT NOT NULL DEFAULT '[]',
    vars        TEXT NOT NULL DEFAULT '{}',
    parent      TEXT,
    pid         INTEGER
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
    log         TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    worker      INTEGER,
    submitted   INTEGER NOT NULL DEFAULT 0,
    commands    INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS items_state ON items(run_id, state);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at);
";

const AGENT_TABLES: &str = "
CREATE TABLE IF NOT EXISTS fires (
    schedule      TEXT NOT NULL,
    scheduled_for TEXT NOT NULL,
    state         TEXT NOT NULL,
    reason        TEXT,
    run_id        TEXT,
    recorded_at   TEXT NOT NULL,
    PRIMARY KEY (schedule, scheduled_for)
);
CREATE TABLE IF NOT EXISTS schedule_state (
    schedule   TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_watch (
    schedule      TEXT PRIMARY KEY,
    watched_since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    bot          TEXT NOT NULL,
    input        TEXT,
    requested_at TEXT NOT NULL,
    taken_by     INTEGER,
    taken_at     TEXT
);
CREATE TABLE IF NOT EXISTS actions (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    \"user\"   TEXT NOT NULL,
    action   TEXT NOT NULL,
    run_id   TEXT,
    item_idx INTEGER,
    target   TEXT,
    note     TEXT
);
CREATE INDEX IF NOT EXISTS actions_item ON actions(run_id, item_idx);
CREATE TABLE IF NOT EXISTS notices (
    key     TEXT PRIMARY KEY,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passed_rows (
    run_id    TEXT NOT NULL,
    first_row INTEGER NOT NULL,
    last_row  INTEGER NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passed_rows_run ON passed_rows(run_id);
CREATE TABLE IF NOT EXISTS leases (
    owner TEXT PRIMARY KEY,
    agent TEXT,
    host  TEXT NOT NULL,
    until INTEGER NOT NULL
);
";

/// Agents by name (the table of older SQLite files, keyed by pid, is replaced:
/// it only ever held the agents running at the time).
const AGENTS: &str = "
CREATE TABLE IF NOT EXISTS agents (
    name         TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    until        INTEGER NOT NULL,
    web          TEXT
);
";

/// The version a store is at (0: empty).
pub fn version(db: &Db) -> Result<i64, DbError> {
    if db.has_table("schema_version")? {
        return db
            .query_opt("SELECT version FROM schema_version", args![])?
            .map(|r| r.get(0))
            .unwrap_or(Ok(0));
    }
    match db.kind() {
        Kind::Sqlite => db.query_one("PRAGMA user_version", args![])?.get(0),
        Kind::Postgres => Ok(0),
    }
}

/// Brings the store to [`SCHEMA_VERSION`]; the versions before and after.
pub fn migrate(db: &Db) -> Result<(i64, i64), DbError> {
    // A quick look first: an up-to-date store is not locked at every open.
    let before = version(db)?;
    if before > SCHEMA_VERSION {
        return Err(newer(before));
    }
    if before == SCHEMA_VERSION {
        return Ok((before, before));
    }
    db.deciding(|db| {
        let before = version(db)?;
        if before > SCHEMA_VERSION {
            return Err(newer(before));
        }
        db.create(RUNS)?;
        if !db.has_column("runs", "owner")? {
            db.batch("ALTER TABLE runs ADD COLUMN owner TEXT")?;
        }
        db.create(AGENT_TABLES)?;
        if !db.has_column("requests", "result")? {
            db.batch("ALTER TABLE requests ADD COLUMN result TEXT")?;
        }
        for table in ["items", "fires"] {
            if !db.has_column(table, "agent")? {
                db.batch(&format!("ALTER TABLE {table} ADD COLUMN agent TEXT"))?;
            }
        }
        if !db.has_column("items", "owner")? {
            db.batch("ALTER TABLE items ADD COLUMN owner TEXT")?;
        }
        if db.has_table("agents")? && !db.has_column("agents", "name")? {
            db.batch("DROP TABLE agents")?;
        }
        db.create(AGENTS)?;
        db.create("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
        db.execute("DELETE FROM schema_version", args![])?;
        db.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            args![SCHEMA_VERSION],
        )?;
        if db.kind() == Kind::Sqlite {
            db.batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
        }
        Ok((before, SCHEMA_VERSION))
    })
}

fn newer(version: i64) -> DbError {
    DbError(format!(
        "it was written by a newer juru (schema {version}, this one knows {SCHEMA_VERSION})"
    ))
}

impl super::Store {
    /// The schema version this store is at (0: empty), without changing it.
    pub fn schema_version(&self) -> Result<i64, super::StoreError> {
        version(&self.db).map_err(|e| self.err("reading the schema version", e))
    }

    /// Brings this store's schema up to date ([`migrate`]): the versions before
    /// and after. Refused for a store written by a newer juru.
    pub fn migrate_schema(&self) -> Result<(i64, i64), super::StoreError> {
        migrate(&self.db).map_err(|e| self.err("migrating", e))
    }
}
