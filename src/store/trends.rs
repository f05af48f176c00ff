//! Read-only queries for the dashboard's trends: the items, runs and schedule
//! fires since a point in time, as plain rows the caller adds up. Blocking, like
//! every store call; nothing here writes or changes the schema.

use super::db::args;

use super::{Store, StoreError};

/// One item of a run that started at or after the cut-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendItem {
    pub bot: String,
    /// The item's state (`done`, `business_exception`, ...).
    pub state: String,
    /// When its run started (RFC 3339), which decides the day it counts for.
    pub run_started_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// One run that started at or after the cut-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendRun {
    pub bot: String,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// One schedule fire at or after the cut-off, with the start of its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendFire {
    pub schedule: String,
    pub scheduled_for: String,
    pub state: String,
    pub run_started_at: Option<String>,
}

impl Store {
    /// The items of the runs started at or after `since` (RFC 3339, UTC).
    pub fn trend_items(&self, since: &str) -> Result<Vec<TrendItem>, StoreError> {
        self.db
            .query(
                "SELECT runs.bot, items.state, runs.started_at, items.started_at, items.finished_at
                 FROM items JOIN runs ON runs.id = items.run_id
                 WHERE runs.started_at >= ?1 ORDER BY runs.started_at",
                args![since],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(TrendItem {
                            bot: r.get(0)?,
                            state: r.get(1)?,
                            run_started_at: r.get(2)?,
                            started_at: r.get(3)?,
                            finished_at: r.get(4)?,
                        })
                    })
                    .collect()
            })
            .map_err(|e| self.err("reading the items for trends", e))
    }

    /// The runs started at or after `since` (RFC 3339, UTC), oldest first.
    pub fn trend_runs(&self, since: &str) -> Result<Vec<TrendRun>, StoreError> {
        self.db
            .query(
                "SELECT bot, started_at, finished_at FROM runs
                 WHERE started_at >= ?1 ORDER BY started_at",
                args![since],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(TrendRun {
                            bot: r.get(0)?,
                            started_at: r.get(1)?,
                            finished_at: r.get(2)?,
                        })
                    })
                    .collect()
            })
            .map_err(|e| self.err("reading the runs for trends", e))
    }

    /// The schedule fires at or after `since` (RFC 3339, UTC), oldest first.
    pub fn trend_fires(&self, since: &str) -> Result<Vec<TrendFire>, StoreError> {
        self.db
            .query(
                "SELECT fires.schedule, fires.scheduled_for, fires.state, runs.started_at
                 FROM fires LEFT JOIN runs ON runs.id = fires.run_id
                 WHERE fires.scheduled_for >= ?1 ORDER BY fires.scheduled_for",
                args![since],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(TrendFire {
                            schedule: r.get(0)?,
                            scheduled_for: r.get(1)?,
                            state: r.get(2)?,
                            run_started_at: r.get(3)?,
                        })
                    })
                    .collect()
            })
            .map_err(|e| self.err("reading the fires for trends", e))
    }
}
