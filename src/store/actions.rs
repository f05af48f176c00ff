//! What people did from the dashboard, with who and when: an exception marked
//! resolved by hand or re-queued, a schedule paused, resumed or run now.
//!
//! An item with an action recorded against it is no longer an open exception.

use std::collections::HashSet;

use super::db::{args, Db, DbError};
use super::{Store, StoreError};

/// Kinds of action.
pub mod kind {
    /// An officer handled the item in the legacy system by hand.
    pub const RESOLVED: &str = "resolved";
    /// An officer fixed the data and re-ran the item.
    pub const REQUEUED: &str = "requeued";
    pub const PAUSED: &str = "paused";
    pub const RESUMED: &str = "resumed";
    pub const RUN_NOW: &str = "run_now";
}

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    pub id: i64,
    /// UTC, RFC 3339.
    pub at: String,
    pub user: String,
    pub action: String,
    pub run_id: Option<String>,
    pub item_idx: Option<i64>,
    /// A schedule name, or the run an item was re-queued into.
    pub target: Option<String>,
    pub note: Option<String>,
}

/// A new action.
#[derive(Debug, Clone, Default)]
pub struct NewAction<'a> {
    pub user: &'a str,
    pub action: &'a str,
    pub run_id: Option<&'a str>,
    pub item_idx: Option<i64>,
    pub target: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// Inserts an action stamped now; its id.
fn insert(db: &Db, a: &NewAction) -> Result<i64, DbError> {
    db.query_one(
        "INSERT INTO actions (at, \"user\", action, run_id, item_idx, target, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        args![
            chrono::Utc::now().to_rfc3339(),
            a.user,
            a.action,
            a.run_id,
            a.item_idx,
            a.target,
            a.note
        ],
    )?
    .get(0)
}

impl Store {
    /// Records an action now; its id.
    pub fn record_action(&self, a: &NewAction) -> Result<i64, StoreError> {
        insert(&self.db, a).map_err(|e| self.err("recording an action", e))
    }

    /// Records that an item was resolved or re-queued, unless someone already did:
    /// the check and the insert are one deciding transaction, so two people (or two
    /// clicks, or two dashboards on one store) cannot both handle the same item. The
    /// new action's id, or `None` when the item was already handled.
    pub fn handle_item(&self, a: &NewAction) -> Result<Option<i64>, StoreError> {
        self.db
            .deciding(|db| {
                let handled = db.query_opt(
                    "SELECT 1 FROM actions WHERE run_id = ?1 AND item_idx = ?2
                     AND action IN ('resolved', 'requeued')",
                    args![a.run_id, a.item_idx],
                )?;
                if handled.is_some() {
                    return Ok(None);
                }
                insert(db, a).map(Some)
            })
            .map_err(|e: DbError| self.err("recording an action", e))
    }

    /// Takes back an action that could not be carried out (a re-queue whose run
    /// was refused): the item is an open exception again.
    pub fn undo_action(&self, id: i64) -> Result<(), StoreError> {
        self.db
            .execute("DELETE FROM actions WHERE id = ?1", args![id])
            .map(|_| ())
            .map_err(|e| self.err("taking back an action", e))
    }

    /// Sets the target of an action (the run an item was re-queued into).
    pub fn set_action_target(&self, id: i64, target: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE actions SET target = ?2 WHERE id = ?1",
                args![id, target],
            )
            .map(|_| ())
            .map_err(|e| self.err("recording an action", e))
    }

    /// The newest actions first, optionally those on the items of one run.
    pub fn actions(
        &self,
        run_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        const COLUMNS: &str =
            "SELECT id, at, \"user\", action, run_id, item_idx, target, note FROM actions";
        let rows = match run_id {
            Some(run) => self.db.query(
                &format!("{COLUMNS} WHERE run_id = ?1 ORDER BY id DESC LIMIT ?2"),
                args![run, limit],
            ),
            None => self.db.query(
                &format!("{COLUMNS} ORDER BY id DESC LIMIT ?1"),
                args![limit],
            ),
        };
        rows.and_then(|rows| {
            rows.iter()
                .map(|r| {
                    Ok(ActionRecord {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        user: r.get(2)?,
                        action: r.get(3)?,
                        run_id: r.get(4)?,
                        item_idx: r.get(5)?,
                        target: r.get(6)?,
                        note: r.get(7)?,
                    })
                })
                .collect()
        })
        .map_err(|e| self.err("listing actions", e))
    }

    /// The (run, item) pairs someone already resolved or re-queued.
    pub fn handled_items(&self) -> Result<HashSet<(String, i64)>, StoreError> {
        self.db
            .query(
                "SELECT DISTINCT run_id, item_idx FROM actions
                 WHERE action IN ('resolved', 'requeued') AND run_id IS NOT NULL AND item_idx IS NOT NULL",
                args![],
            )
            .and_then(|rows| rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect())
            .map_err(|e| self.err("listing handled items", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_is_handled_once_whoever_clicks_first() {
        crate::store::each_backend(|path| {
            let (a, b) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
            let action = |user, action| NewAction {
                user,
                action,
                run_id: Some("20261128-080000-izin"),
                item_idx: Some(3),
                ..Default::default()
            };
            let first = a.handle_item(&action("siti", kind::REQUEUED)).unwrap();
            assert!(first.is_some());
            assert_eq!(
                b.handle_item(&action("budi", kind::REQUEUED)).unwrap(),
                None
            );
            assert_eq!(
                b.handle_item(&action("budi", kind::RESOLVED)).unwrap(),
                None
            );
            let other = NewAction {
                item_idx: Some(4),
                ..action("budi", kind::RESOLVED)
            };
            assert!(b.handle_item(&other).unwrap().is_some());
            let all = a.actions(None, 10).unwrap();
            assert_eq!(all.len(), 2);
            assert_eq!(all[1].user, "siti");
        });
    }

    #[test]
    fn actions_are_recorded_and_mark_items_handled() {
        crate::store::each_backend(|path| {
            let store = Store::open(&path).unwrap();
            assert!(store.handled_items().unwrap().is_empty());
            let id = store
                .record_action(&NewAction {
                    user: "siti",
                    action: kind::REQUEUED,
                    run_id: Some("r1"),
                    item_idx: Some(2),
                    ..Default::default()
                })
                .unwrap();
            store.set_action_target(id, "r2").unwrap();
            store
                .record_action(&NewAction {
                    user: "budi",
                    action: kind::PAUSED,
                    target: Some("izin-pagi"),
                    ..Default::default()
                })
                .unwrap();
            let handled = store.handled_items().unwrap();
            assert_eq!(handled.len(), 1);
            assert!(handled.contains(&("r1".to_string(), 2)));
            let all = store.actions(None, 10).unwrap();
            assert_eq!(all.len(), 2);
            assert_eq!(all[0].user, "budi");
            assert_eq!(all[1].target.as_deref(), Some("r2"));
            assert_eq!(store.actions(Some("r1"), 10).unwrap().len(), 1);
        });
    }
}
