//! A run's items as a queue that the workers of several agents share (a store on
//! PostgreSQL). A worker claims the next item by writing its process into the
//! item's `owner`; on PostgreSQL the pick is `FOR UPDATE SKIP LOCKED`, so workers on
//! other machines pass over each other's picks instead of waiting, on SQLite the
//! pick and the claim are one deciding transaction.
//!
//! An item is free when it is `pending` and nobody claimed it, or when the process
//! that claimed it lost its lease ([`super::fleet`]): its agent died, and the item
//! goes back to the queue with its submitted mark, so the next worker looks it up
//! with `verify(item)` before anything else.

use super::db::{args, Db, DbError, Kind};
use super::{fleet, gate, Store, StoreError};

/// The condition on an item `i` of run `run` being free, for this process `me`
/// at `now` (Unix seconds): SQL expressions or parameters.
fn free(run: &str, me: &str, now: &str) -> String {
    format!(
        "i.run_id = {run} AND (
       (i.state = 'pending' AND i.owner IS NULL)
    OR (i.state IN ('pending', 'in_progress') AND i.owner IS NOT NULL AND i.owner <> {me}
        AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.owner = i.owner AND l.until > {now})))"
    )
}

/// How many items of the bot of run `run` are in browsers now (claimed or in
/// progress, by a process whose lease holds at `now`), in every running run of it.
fn in_browsers(run: &str, now: &str) -> String {
    format!(
        "(SELECT count(*) FROM items bi JOIN runs br ON br.id = bi.run_id
          WHERE br.bot = (SELECT b.bot FROM runs b WHERE b.id = {run}) AND br.state = 'running'
            AND bi.state IN ('pending', 'in_progress') AND bi.owner IS NOT NULL
            AND EXISTS (SELECT 1 FROM leases bl WHERE bl.owner = bi.owner AND bl.until > {now}))"
    )
}

/// A run other agents may take part in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRun {
    pub id: String,
    pub bot: String,
    /// Free items now.
    pub free: i64,
    /// Items in progress now (one per busy worker).
    pub busy: i64,
    /// Items of the run's bot in browsers now, in all its running runs.
    pub bot_busy: i64,
}

fn me() -> String {
    gate::me().unwrap_or_else(|| format!("pid:{}", std::process::id()))
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Store {
    /// Claims the next free item of a run for this process: its index and whether
    /// it may already be in the legacy system (its submitted mark). A run that no
    /// longer goes on (stopped, failed) gives out no item.
    pub fn claim_item(&self, run_id: &str) -> Result<Option<(usize, bool)>, StoreError> {
        self.claim_item_within(run_id, None)
    }

    /// [`Store::claim_item`], while fewer than `bot_limit` items of the run's bot
    /// (in all its running runs, by every live process) are in browsers: the bot's
    /// `[run] max_browsers`, fleet-wide. The count and the claim are one deciding
    /// transaction, so two agents cannot both take the last place.
    pub fn claim_item_within(
        &self,
        run_id: &str,
        bot_limit: Option<usize>,
    ) -> Result<Option<(usize, bool)>, StoreError> {
        let me = me();
        let claim = |db: &Db| -> Result<Option<(usize, bool)>, DbError> {
            if let Some(limit) = bot_limit {
                let held: i64 = db
                    .query_one(
                        &format!("SELECT {}", in_browsers("?1", "?2")),
                        args![run_id, unix_now()],
                    )?
                    .get(0)?;
                if held >= limit as i64 {
                    return Ok(None);
                }
            }
            let lock = match db.kind() {
                Kind::Postgres => " FOR UPDATE OF i SKIP LOCKED",
                Kind::Sqlite => "",
            };
            let Some(row) = db.query_opt(
                &format!(
                    "SELECT i.idx, i.submitted FROM items i WHERE {}
                       AND EXISTS (SELECT 1 FROM runs r WHERE r.id = ?1 AND r.state = 'running')
                     ORDER BY i.idx LIMIT 1{lock}",
                    free("?1", "?2", "?3")
                ),
                args![run_id, me.as_str(), unix_now()],
            )?
            else {
                return Ok(None);
            };
            let (idx, submitted): (i64, bool) = (row.get(0)?, row.get(1)?);
            db.execute(
                "UPDATE items SET owner = ?3, agent = ?4 WHERE run_id = ?1 AND idx = ?2",
                args![run_id, idx, me.as_str(), fleet::agent_name()],
            )?;
            Ok(Some((idx as usize, submitted)))
        };
        match (self.db.kind(), bot_limit) {
            (Kind::Postgres, None) => self.db.transaction(claim),
            _ => self.db.deciding(claim),
        }
        .map_err(|e| self.err("claiming an item", e))
    }

    /// Gives back an item this process claimed but did not try: pending and free.
    pub fn release_item(&self, run_id: &str, idx: usize) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE items SET owner = NULL, state = 'pending' WHERE run_id = ?1 AND idx = ?2 AND owner = ?3",
                args![run_id, idx, me()],
            )
            .map(|_| ())
            .map_err(|e| self.err("giving back an item", e))
    }

    /// Lets go of a run this process can no longer work on (its lease ran out): the
    /// items it holds that did not end go back to the queue, their submitted marks
    /// kept, and when it owns the run, the run loses its owner, so any agent of the
    /// fleet (this one too, once its lease holds again) takes it over as it takes
    /// over the run of a dead agent: submitted items are looked up first.
    pub fn let_go(&self, run_id: &str) -> Result<(), StoreError> {
        let me = me();
        self.db
            .transaction(|db| {
                db.execute(
                    "UPDATE items SET owner = NULL, state = 'pending'
                     WHERE run_id = ?1 AND owner = ?2 AND state IN ('pending', 'in_progress')",
                    args![run_id, me.as_str()],
                )?;
                db.execute(
                    "UPDATE runs SET owner = NULL, pid = NULL WHERE id = ?1 AND owner = ?2 AND state = 'running'",
                    args![run_id, me.as_str()],
                )
            })
            .map(|_| ())
            .map_err(|e| self.err("letting go of a run", e))
    }

    /// How a run's items stand now across the fleet: (in progress, free).
    pub fn run_use(&self, run_id: &str) -> Result<(i64, i64), StoreError> {
        let me = me();
        self.db
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM items i WHERE i.run_id = ?1 AND i.state = 'in_progress'),
                            (SELECT count(*) FROM items i WHERE {})",
                    free("?1", "?2", "?3")
                ),
                args![run_id, me.as_str(), unix_now()],
            )
            .and_then(|r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err("looking at a run's items", e))
    }

    /// How many items of a run have not ended (pending or in progress anywhere).
    pub fn items_left(&self, run_id: &str) -> Result<i64, StoreError> {
        self.db
            .query_one(
                "SELECT count(*) FROM items WHERE run_id = ?1 AND state IN ('pending', 'in_progress')",
                args![run_id],
            )
            .and_then(|r| r.get(0))
            .map_err(|e| self.err("counting the items left", e))
    }

    /// Runs going on under another live process that have free items: what an
    /// agent of the fleet can take part in.
    pub fn open_runs(&self) -> Result<Vec<OpenRun>, StoreError> {
        let me = me();
        let runs = self
            .db
            .query(
                &format!(
                    "SELECT r.id, r.bot,
                        (SELECT count(*) FROM items i WHERE {}),
                        (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state = 'in_progress'),
                        {}
                     FROM runs r
                     WHERE r.state = 'running' AND r.owner IS NOT NULL AND r.owner <> ?1
                       AND EXISTS (SELECT 1 FROM leases l WHERE l.owner = r.owner AND l.until > ?2)
                     ORDER BY r.started_at",
                    free("r.id", "?1", "?2"),
                    in_browsers("r.id", "?2")
                ),
                args![me.as_str(), unix_now()],
            )
            .map_err(|e| self.err("looking for runs to take part in", e))?;
        runs.iter()
            .map(|r| {
                Ok(OpenRun {
                    id: r.get(0)?,
                    bot: r.get(1)?,
                    free: r.get(2)?,
                    busy: r.get(3)?,
                    bot_busy: r.get(4)?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()
            .map(|v| v.into_iter().filter(|r| r.free > 0).collect())
            .map_err(|e| self.err("looking for runs to take part in", e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{each_backend, state, ItemEnd, NewItem, NewRun, Store};

    /// How a done item ends.
    const DONE: ItemEnd<'static> = ItemEnd {
        state: state::DONE,
        outputs: "{}",
        reason: None,
        kind: None,
        screenshot: None,
        page_url: None,
        page_title: None,
        log: None,
        commands: 0,
        finished_at: "t",
    };

    /// Begins run `id` of `bot` over `input` with `n` pending items.
    fn begin(store: &mut Store, id: &str, bot: &str, input: &str, n: i64) {
        let items: Vec<NewItem> = (0..n)
            .map(|i| NewItem {
                row: i + 2,
                data: "[]".into(),
                submitted: false,
            })
            .collect();
        store
            .begin_run(
                &NewRun {
                    id,
                    bot,
                    trigger: "cli",
                    input,
                    dir: "d",
                    started_at: "t",
                    headers: "[]",
                    vars: "{}",
                    // Runs over different inputs may go on together (parallel_runs).
                    only_input: Some(input),
                    ..NewRun::default()
                },
                &items,
            )
            .unwrap();
    }

    #[test]
    fn items_are_claimed_once_and_come_back_when_their_owner_is_gone() {
        each_backend(|path| {
            let mut a = Store::open(&path).unwrap();
            let b = Store::open(&path).unwrap();
            begin(&mut a, "r1", "demo", "in.xlsx", 3);
            // Two connections of one process claim different items.
            assert_eq!(a.claim_item("r1").unwrap(), Some((0, false)));
            assert_eq!(b.claim_item("r1").unwrap(), Some((1, false)));
            a.item_started("r1", 0, "t", 1).unwrap();
            a.item_submitted("r1", 0).unwrap();
            // Item 1 is given back untried: free again.
            b.release_item("r1", 1).unwrap();
            assert_eq!(b.claim_item("r1").unwrap(), Some((1, false)));
            b.item_finished("r1", 1, &DONE).unwrap();
            assert_eq!(a.claim_item("r1").unwrap(), Some((2, false)));
            assert_eq!(a.claim_item("r1").unwrap(), None);
            assert_eq!(a.items_left("r1").unwrap(), 2);
            // The process that held item 0 dies (another owner with no lease):
            // item 0 comes back with its submitted mark.
            a.db.batch("UPDATE items SET owner = 'other-boot:1' WHERE run_id = 'r1' AND idx = 0")
                .unwrap();
            assert_eq!(b.claim_item("r1").unwrap(), Some((0, true)));
            // A live lease keeps an item where it is.
            let later = chrono::Utc::now().timestamp() + 60;
            a.db.batch(&format!(
                "INSERT INTO leases (owner, agent, host, until) VALUES ('other-boot:2', 'b', 'h', {later});
                 UPDATE items SET owner = 'other-boot:2' WHERE run_id = 'r1' AND idx = 0"
            ))
            .unwrap();
            assert_eq!(b.claim_item("r1").unwrap(), None);
            // A run that stopped gives out nothing.
            a.db.batch("UPDATE items SET owner = NULL WHERE run_id = 'r1' AND idx = 0")
                .unwrap();
            a.finish_run("r1", "cancelled", None, "t").unwrap();
            assert_eq!(b.claim_item("r1").unwrap(), None);
        });
    }

    #[test]
    fn an_item_or_run_another_process_took_over_refuses_this_process_writes() {
        each_backend(|path| {
            let mut store = Store::open(&path).unwrap();
            begin(&mut store, "r1", "demo", "in.xlsx", 2);
            assert_eq!(store.claim_item("r1").unwrap(), Some((0, false)));
            assert_eq!(store.claim_item("r1").unwrap(), Some((1, false)));
            store.item_started("r1", 0, "t", 1).unwrap();
            store.item_started("r1", 1, "t", 2).unwrap();
            // Another agent took item 0 over (this process's lease ran out).
            store
                .db
                .batch("UPDATE items SET owner = 'other-boot:7' WHERE run_id = 'r1' AND idx = 0")
                .unwrap();
            let end = DONE;
            for refused in [
                store.item_started("r1", 0, "t", 1),
                store.item_submitted("r1", 0),
                store.item_not_submitted("r1", 0),
                store.item_pending("r1", 0),
                store.item_finished("r1", 0, &end),
            ] {
                let e = refused.unwrap_err();
                assert!(e.lost, "{e}");
                assert!(e.message.contains("no longer held by this agent"), "{e}");
            }
            let item0 = &store.items("r1").unwrap()[0];
            assert_eq!((item0.state.as_str(), item0.attempts), ("in_progress", 1));
            // Its own item it still writes.
            store.item_submitted("r1", 1).unwrap();
            // Letting go of the run: its unfinished item goes back with its mark,
            // the other agent's stays where it is, and the run has no owner.
            store.let_go("r1").unwrap();
            let items = store.items("r1").unwrap();
            assert_eq!(
                (items[1].state.as_str(), items[1].submitted),
                ("pending", true)
            );
            assert_eq!(items[0].state, "in_progress");
            let run = store.run("r1").unwrap().unwrap();
            assert_eq!((run.pid, run.state.as_str()), (None, "running"));
            // Some other process took the run over: this one may not end it.
            store
                .db
                .batch("UPDATE runs SET owner = 'other-boot:7' WHERE id = 'r1'")
                .unwrap();
            let e = store.finish_run("r1", "finished", None, "t").unwrap_err();
            assert!(e.lost, "{e}");
            assert_eq!(store.run("r1").unwrap().unwrap().state, "running");
        });
    }

    #[test]
    fn a_bots_browser_limit_holds_across_its_runs() {
        each_backend(|path| {
            let mut store = Store::open(&path).unwrap();
            // On one machine (SQLite) nobody holds a lease: give this process one,
            // as a fleet's store does.
            let until = chrono::Utc::now().timestamp() + 60;
            let me = super::me();
            store
                .db
                .execute(
                    "INSERT INTO leases (owner, agent, host, until) VALUES (?1, 'a', 'h', ?2)
                     ON CONFLICT (owner) DO UPDATE SET until = ?2",
                    super::args![me.as_str(), until],
                )
                .unwrap();
            for (id, input, bot) in [
                ("r1", "a.xlsx", "izin"),
                ("r2", "b.xlsx", "izin"),
                ("r3", "c.xlsx", "pajak"),
            ] {
                begin(&mut store, id, bot, input, 3);
            }
            // Two places for the bot "izin", over both its runs.
            assert_eq!(
                store.claim_item_within("r1", Some(2)).unwrap(),
                Some((0, false))
            );
            assert_eq!(
                store.claim_item_within("r2", Some(2)).unwrap(),
                Some((0, false))
            );
            assert_eq!(store.claim_item_within("r1", Some(2)).unwrap(), None);
            assert_eq!(store.claim_item_within("r2", Some(2)).unwrap(), None);
            // Another bot has its own.
            assert_eq!(
                store.claim_item_within("r3", Some(1)).unwrap(),
                Some((0, false))
            );
            let open = store.open_runs().unwrap();
            assert!(
                open.is_empty(),
                "runs of this process are not offered: {open:?}"
            );
            // An item that ends frees its place.
            store.item_finished("r1", 0, &DONE).unwrap();
            assert_eq!(
                store.claim_item_within("r2", Some(2)).unwrap(),
                Some((1, false))
            );
            // Without a limit, claims go on.
            assert_eq!(store.claim_item("r1").unwrap(), Some((1, false)));
        });
    }
}
