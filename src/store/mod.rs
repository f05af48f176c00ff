//! Run history and per-item checkpoints: a SQLite file (`var/juru.db` by default)
//! on one machine, or a PostgreSQL database a fleet of agents shares (`[store] url`).
//!
//! Every state change of an item is written before the next one starts, so after a
//! crash the store says exactly how far a run got: `done` items are never redone, and
//! an item left `in_progress` is known to be "maybe submitted" when its `submitted`
//! mark is set. Store calls are blocking: use the store from a blocking thread. One
//! [`Store`] is one connection; several workers share one behind a mutex.
//!
//! The store knows runs and items as plain records (JSON text for row data, outputs
//! and variables); it knows nothing of bots, browsers or workbooks. Callers never ask
//! which backend they talk to: what differs lives in [`db`] and [`schema`].

use std::path::{Path, PathBuf};

pub mod actions;
pub mod copy;
pub(crate) mod db;
pub mod fires;
pub mod fleet;
pub mod gate;
pub mod metrics;
pub mod notices;
pub mod passed;
pub mod queue;
pub mod schema;
#[doc(hidden)]
pub mod throwaway;
pub mod tls;
pub mod trends;

use db::{args, Db, DbError, Row};
pub use gate::{owner_alive, BeginError, Refusal};

#[derive(Debug, thiserror::Error)]
#[error("store {place}: {message}")]
pub struct StoreError {
    /// The file, or the database address without its password.
    pub place: String,
    pub message: String,
    /// The write was refused because this process no longer holds what it wrote
    /// to: its lease ran out and another agent of the fleet took the item or the
    /// run over ([`fleet`]). Not a failure of the store: this process must stop
    /// acting on it.
    pub lost: bool,
}

/// Where a store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database: `postgres://user@host:port/db` (a password in the
    /// address is allowed but `password` from a secret is better).
    Postgres {
        url: String,
        password: Option<String>,
    },
}

impl Location {
    /// A store address as written in agent.toml or on the command line: a
    /// `postgres://` or `postgresql://` URL, else a file path (relative to `base`).
    pub fn parse(text: &str, base: &Path) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres {
                url: text.to_string(),
                password: None,
            }
        } else {
            Location::File(base.join(text))
        }
    }

    /// Whether several machines can share the store.
    pub fn shared(&self) -> bool {
        matches!(self, Location::Postgres { .. })
    }

    /// The SQLite file, when the store is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(p) => Some(p),
            Location::Postgres { .. } => None,
        }
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Location {
        Location::File(p.to_path_buf())
    }
}
impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Location {
        Location::File(p.clone())
    }
}
impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Location {
        Location::File(p)
    }
}
impl From<&Location> for Location {
    fn from(l: &Location) -> Location {
        l.clone()
    }
}

/// Shows a location without any password.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Postgres { url, .. } => match url::Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    write!(f, "{u}")
                }
                Err(_) => f.write_str("postgres://(an address that does not parse)"),
            },
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Location({self})")
    }
}

/// States an item goes through.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const IN_PROGRESS: &str = "in_progress";
    pub const DONE: &str = "done";
    pub const BUSINESS_EXCEPTION: &str = "business_exception";
    pub const SYSTEM_EXCEPTION: &str = "system_exception";
    pub const NEEDS_VERIFICATION: &str = "needs_verification";
    pub const SKIPPED: &str = "skipped";
}

/// A new run.
#[derive(Debug, Clone, Default)]
pub struct NewRun<'a> {
    pub id: &'a str,
    pub bot: &'a str,
    pub trigger: &'a str,
    pub input: &'a str,
    pub dir: &'a str,
    pub started_at: &'a str,
    /// The input's column headers (JSON array).
    pub headers: &'a str,
    /// Variable overrides the run was started with (JSON object).
    pub vars: &'a str,
    /// The run this one retries items of.
    pub parent: Option<&'a str>,
    /// `Some(input)` when the bot lets runs over different inputs go on at the same
    /// time (`[run] parallel_runs`): only runs over this input then stand in the way.
    pub only_input: Option<&'a str>,
    /// The schedule fire (schedule, scheduled_for) that starts this run: it gets the
    /// run's id in the same transaction.
    pub fire: Option<(&'a str, &'a str)>,
}

/// One item of a new run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// The row number in the input.
    pub row: i64,
    /// The row data (JSON).
    pub data: String,
    /// The item may already be in the legacy system (an earlier run submitted it):
    /// it is looked up with `verify(item)` before anything else.
    pub submitted: bool,
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
    /// The item's last log lines.
    pub log: Option<&'a str>,
    pub commands: i64,
    pub finished_at: &'a str,
}

/// One run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: String,
    pub bot: String,
    pub trigger: String,
    pub input: String,
    pub dir: String,
    pub state: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    pub headers: String,
    pub vars: String,
    pub parent: Option<String>,
    pub pid: Option<i64>,
    /// Which process owns the run (boot and start time of `pid`), so a recycled pid
    /// is not taken for the owner.
    pub owner: Option<String>,
    pub total: i64,
    pub done: i64,
    pub business: i64,
    pub system: i64,
    pub needs_verification: i64,
    pub pending: i64,
    /// Until when (Unix seconds) the owner's lease in a shared store runs: an owner
    /// on another machine is alive while its lease lasts ([`fleet`]).
    pub lease_until: Option<i64>,
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
    pub page_url: Option<String>,
    pub page_title: Option<String>,
    pub log: Option<String>,
    pub attempts: i64,
    pub worker: Option<i64>,
    pub submitted: bool,
    pub commands: i64,
    pub finished_at: Option<String>,
    /// The agent whose worker last took the item.
    pub agent: Option<String>,
    /// When its last attempt began.
    pub started_at: Option<String>,
}

pub struct Store {
    db: Db,
    location: Location,
}

const RUN_COLUMNS: &str = "r.id, r.bot, r.trigger, r.input, r.dir, r.state, r.started_at, r.finished_at, r.error, r.headers, r.vars, r.parent, r.pid, r.owner,
    (SELECT count(*) FROM items i WHERE i.run_id = r.id),
    (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state = 'done'),
    (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state = 'business_exception'),
    (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state = 'system_exception'),
    (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state = 'needs_verification'),
    (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state IN ('pending', 'in_progress')),
    (SELECT max(l.until) FROM leases l WHERE l.owner = r.owner)";

const ITEM_COLUMNS: &str = "idx, row_number, state, data, outputs, reason, kind, screenshot, page_url, page_title, log, attempts, worker, submitted, commands, finished_at, agent, started_at";

fn run_record(r: &Row) -> Result<RunRecord, DbError> {
    Ok(RunRecord {
        id: r.get(0)?,
        bot: r.get(1)?,
        trigger: r.get(2)?,
        input: r.get(3)?,
        dir: r.get(4)?,
        state: r.get(5)?,
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
        error: r.get(8)?,
        headers: r.get(9)?,
        vars: r.get(10)?,
        parent: r.get(11)?,
        pid: r.get(12)?,
        owner: r.get(13)?,
        total: r.get(14)?,
        done: r.get(15)?,
        business: r.get(16)?,
        system: r.get(17)?,
        needs_verification: r.get(18)?,
        pending: r.get(19)?,
        lease_until: r.get(20)?,
    })
}

fn item_record(r: &Row) -> Result<ItemRecord, DbError> {
    Ok(ItemRecord {
        idx: r.get(0)?,
        row_number: r.get(1)?,
        state: r.get(2)?,
        data: r.get(3)?,
        outputs: r.get(4)?,
        reason: r.get(5)?,
        kind: r.get(6)?,
        screenshot: r.get(7)?,
        page_url: r.get(8)?,
        page_title: r.get(9)?,
        log: r.get(10)?,
        attempts: r.get(11)?,
        worker: r.get(12)?,
        submitted: r.get(13)?,
        commands: r.get(14)?,
        finished_at: r.get(15)?,
        agent: r.get(16)?,
        started_at: r.get(17)?,
    })
}

impl Store {
    /// Opens a store: a SQLite file (created when needed, in WAL mode) or a
    /// PostgreSQL database, and brings its schema up to date ([`schema`]).
    pub fn open(location: impl Into<Location>) -> Result<Store, StoreError> {
        let store = Store::connect(location.into())?;
        schema::migrate(&store.db).map_err(|e| store.err("preparing the schema", e))?;
        store.start_lease()?;
        Ok(store)
    }

    /// Opens a store without touching its schema (`juru store migrate` reports
    /// before it changes anything).
    pub fn connect(location: Location) -> Result<Store, StoreError> {
        let fail = |message: String| StoreError {
            place: location.to_string(),
            message,
            lost: false,
        };
        let db = match &location {
            Location::File(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| fail(format!("cannot create its folder: {e}")))?;
                }
                let conn = rusqlite::Connection::open(path)
                    .map_err(|e| fail(format!("cannot open: {e}")))?;
                conn.busy_timeout(std::time::Duration::from_secs(10))
                    .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
                    .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
                    .and_then(|_| conn.pragma_update(None, "foreign_keys", "ON"))
                    .map_err(|e| fail(format!("cannot prepare the connection: {e}")))?;
                Db::Sqlite(conn)
            }
            Location::Postgres { url, password } => {
                let mut address = tls::Address::parse(url).map_err(|e| fail(e.to_string()))?;
                let config = &mut address.config;
                if let Some(p) = password {
                    config.password(p);
                }
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(std::time::Duration::from_secs(10));
                }
                config.application_name("juru");
                let client = tls::connect(&address).map_err(fail)?;
                Db::Postgres(std::mem::ManuallyDrop::new(std::sync::Mutex::new(client)))
            }
        };
        Ok(Store { db, location })
    }

    /// Where the store lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The SQLite file, when the store is one.
    pub fn path(&self) -> Option<&Path> {
        self.location.file()
    }

    fn err(&self, what: &str, e: DbError) -> StoreError {
        StoreError {
            place: self.location.to_string(),
            message: format!("{what}: {e}"),
            lost: false,
        }
    }

    /// Whether a run with this id exists.
    pub fn has_run(&self, id: &str) -> Result<bool, StoreError> {
        self.db
            .query_opt("SELECT 1 FROM runs WHERE id = ?1", args![id])
            .map(|r| r.is_some())
            .map_err(|e| self.err("looking up a run", e))
    }

    /// Records a new run and its items (all `pending`) in one transaction, owned by
    /// this process: the gate every start of a run passes ([`gate`]). Refused while
    /// another run of the bot goes on or waits to be resumed.
    pub fn begin_run(&mut self, run: &NewRun, items: &[NewItem]) -> Result<(), BeginError> {
        let fail =
            |e: DbError| BeginError::Store(self.err(&format!("recording run {}", run.id), e));
        self.db
            .deciding(|db| {
                if let Some(refusal) =
                    gate::refusal(db, run.bot, run.only_input, Some(run.input), run.parent)?
                {
                    return Ok(Err(refusal));
                }
                db.execute(
                    "INSERT INTO runs (id, bot, trigger, input, dir, state, started_at, headers, vars, parent, pid, owner)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8, ?9, ?10, ?11)",
                    args![
                        run.id,
                        run.bot,
                        run.trigger,
                        run.input,
                        run.dir,
                        run.started_at,
                        run.headers,
                        run.vars,
                        run.parent,
                        std::process::id() as i64,
                        gate::me()
                    ],
                )?;
                for (idx, item) in items.iter().enumerate() {
                    db.execute(
                        "INSERT INTO items (run_id, idx, row_number, state, data, submitted) VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
                        args![run.id, idx, item.row, item.data.as_str(), item.submitted],
                    )?;
                }
                if let Some((schedule, at)) = run.fire {
                    db.execute(
                        "UPDATE fires SET state = 'started', run_id = ?3, recorded_at = ?4
                         WHERE schedule = ?1 AND scheduled_for = ?2",
                        args![schedule, at, run.id, chrono::Utc::now().to_rfc3339()],
                    )?;
                }
                Ok::<_, DbError>(Ok(()))
            })
            .map_err(fail)?
            .map_err(BeginError::Refused)
    }

    /// Takes over an unfinished run for this process (resume): state `running`,
    /// this process its owner, no end yet. Refused while the run or another run of
    /// its bot goes on in a live process.
    pub fn claim_run(&mut self, id: &str) -> Result<(), BeginError> {
        let fail = |e: DbError| BeginError::Store(self.err(&format!("claiming run {id}"), e));
        self.db
            .deciding(|db| {
                let Some(row) = db.query_opt("SELECT bot FROM runs WHERE id = ?1", args![id])?
                else {
                    return Err(DbError(format!("there is no run {id}")));
                };
                let bot: String = row.get(0)?;
                if let Some(refusal) = gate::busy(db, &bot, id)? {
                    return Ok(Err(refusal));
                }
                db.execute(
                    "UPDATE runs SET state = 'running', pid = ?2, owner = ?3, finished_at = NULL, error = NULL WHERE id = ?1",
                    args![id, std::process::id() as i64, gate::me()],
                )?;
                Ok(Ok(()))
            })
            .map_err(fail)?
            .map_err(BeginError::Refused)
    }

    /// Marks an item `in_progress` for one more attempt by `worker`. The item's
    /// submitted mark stays: only `verify(item)` finding nothing clears it
    /// ([`Store::item_not_submitted`]).
    ///
    /// This and the other writes to an item are fenced: refused (with
    /// [`StoreError::lost`]) when another process of the fleet claimed the item
    /// since this one did.
    pub fn item_started(
        &self,
        run_id: &str,
        idx: usize,
        at: &str,
        worker: usize,
    ) -> Result<(), StoreError> {
        self.item_write(
            "recording an item start",
            "state = 'in_progress', attempts = attempts + 1, started_at = ?4, worker = ?5, agent = ?6",
            run_id,
            idx,
            args![at, worker, fleet::agent_name()],
        )
    }

    /// Records that the item reached the system (the script's `item.submitted()`).
    pub fn item_submitted(&self, run_id: &str, idx: usize) -> Result<(), StoreError> {
        self.item_write(
            "recording a submission",
            "submitted = 1",
            run_id,
            idx,
            args![],
        )
    }

    /// Records that `verify(item)` looked the item up and did not find it in the
    /// system: it may be done again.
    pub fn item_not_submitted(&self, run_id: &str, idx: usize) -> Result<(), StoreError> {
        self.item_write(
            "recording a verification",
            "submitted = 0",
            run_id,
            idx,
            args![],
        )
    }

    /// Puts an item back to `pending` (a retry waits, or the run stopped before it);
    /// its submitted mark stays.
    pub fn item_pending(&self, run_id: &str, idx: usize) -> Result<(), StoreError> {
        self.item_write(
            "recording a pending item",
            "state = 'pending'",
            run_id,
            idx,
            args![],
        )
    }

    /// Records how an item ended.
    pub fn item_finished(&self, run_id: &str, idx: usize, end: &ItemEnd) -> Result<(), StoreError> {
        self.item_write(
            "recording an item end",
            "state = ?4, outputs = ?5, reason = ?6, kind = ?7, screenshot = ?8, page_url = ?9,
                 page_title = ?10, log = ?11, commands = commands + ?12, finished_at = ?13",
            run_id,
            idx,
            args![
                end.state,
                end.outputs,
                end.reason,
                end.kind,
                end.screenshot,
                end.page_url,
                end.page_title,
                end.log,
                end.commands,
                end.finished_at
            ],
        )
    }

    /// `UPDATE items SET {set}` for one item, if this process may write it: nobody
    /// claimed it (a run on one machine) or this process did. `set` numbers its
    /// parameters from `?4` (`?1` run, `?2` index, `?3` this process).
    fn item_write(
        &self,
        what: &str,
        set: &str,
        run_id: &str,
        idx: usize,
        rest: &[db::Value],
    ) -> Result<(), StoreError> {
        let me = gate::me().unwrap_or_else(|| format!("pid:{}", std::process::id()));
        let mut all = args![run_id, idx, me.as_str()].to_vec();
        all.extend_from_slice(rest);
        let n = self
            .db
            .execute(
                &format!(
                    "UPDATE items SET {set} WHERE run_id = ?1 AND idx = ?2 AND (owner IS NULL OR owner = ?3)"
                ),
                &all,
            )
            .map_err(|e| self.err(what, e))?;
        if n == 0 {
            return Err(StoreError {
                place: self.location.to_string(),
                message: format!(
                    "{what}: item {} of run {run_id} is no longer held by this agent: its lease ran out and another agent of the fleet took the item over",
                    idx + 1
                ),
                lost: true,
            });
        }
        Ok(())
    }

    /// Records how the run ended (`finished`, `failed`, `cancelled`). Fenced like
    /// the item writes: refused with [`StoreError::lost`] when another process
    /// took the run over since this one began it.
    pub fn finish_run(
        &self,
        run_id: &str,
        state: &str,
        error: Option<&str>,
        at: &str,
    ) -> Result<(), StoreError> {
        let me = gate::me().unwrap_or_else(|| format!("pid:{}", std::process::id()));
        let n = self
            .db
            .execute(
                "UPDATE runs SET state = ?2, error = ?3, finished_at = ?4, pid = NULL, owner = NULL
                 WHERE id = ?1 AND (owner IS NULL OR owner = ?5)",
                args![run_id, state, error, at, me.as_str()],
            )
            .map_err(|e| self.err("recording the run end", e))?;
        if n == 0 && self.has_run(run_id)? {
            return Err(StoreError {
                place: self.location.to_string(),
                message: format!("recording the run end: run {run_id} is no longer this agent's: its lease ran out and another agent of the fleet took the run over"),
                lost: true,
            });
        }
        Ok(())
    }

    /// A run with its item counts.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.db
            .query_opt(
                &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.id = ?1"),
                args![id],
            )
            .and_then(|r| r.as_ref().map(run_record).transpose())
            .map_err(|e| self.err("reading a run", e))
    }

    /// The newest runs first, optionally of one bot.
    pub fn runs(&self, bot: Option<&str>, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let rows = match bot {
            Some(bot) => self.db.query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs r WHERE r.bot = ?1 ORDER BY r.started_at DESC, r.id DESC LIMIT ?2"
                ),
                args![bot, limit],
            ),
            None => self.db.query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs r ORDER BY r.started_at DESC, r.id DESC LIMIT ?1"
                ),
                args![limit],
            ),
        };
        rows.and_then(|rows| rows.iter().map(run_record).collect())
            .map_err(|e| self.err("listing runs", e))
    }

    /// The items of a run in input order.
    pub fn items(&self, run_id: &str) -> Result<Vec<ItemRecord>, StoreError> {
        self.db
            .query(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE run_id = ?1 ORDER BY idx"),
                args![run_id],
            )
            .and_then(|rows| rows.iter().map(item_record).collect())
            .map_err(|e| self.err("reading items", e))
    }
}

/// Runs a store test once on a SQLite file and once on a fresh database of the
/// throwaway PostgreSQL cluster, so both backends pass the same tests.
#[cfg(test)]
pub(crate) fn each_backend(test: impl Fn(Location)) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    test(Location::File(dir.path().join("juru.db")));
    let cluster = throwaway::Cluster::shared().unwrap_or_else(|e| panic!("{e}"));
    test(
        cluster
            .fresh_database("store_test")
            .unwrap_or_else(|e| panic!("{e}")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(store: &mut Store, id: &str) {
        let run = NewRun {
            id,
            bot: "demo",
            trigger: "cli",
            input: "in.xlsx",
            dir: "runs/r1",
            started_at: "2026-11-27T10:00:00Z",
            headers: "[\"NIK\"]",
            vars: "{}",
            parent: None,
            only_input: None,
            fire: None,
        };
        let item = |row: i64, data: &str| NewItem {
            row,
            data: data.into(),
            submitted: false,
        };
        store
            .begin_run(&run, &[item(2, "[\"1\"]"), item(3, "[\"2\"]")])
            .unwrap();
    }

    #[test]
    fn run_lifecycle_is_recorded() {
        each_backend(|path| {
            let mut store = Store::open(&path).unwrap();
            begin(&mut store, "r1");
            assert!(store.has_run("r1").unwrap());
            store.item_started("r1", 0, "t", 1).unwrap();
            store.item_submitted("r1", 0).unwrap();
            store
                .item_finished(
                    "r1",
                    0,
                    &ItemEnd {
                        state: state::DONE,
                        outputs: "{\"No\":\"1\"}",
                        commands: 7,
                        finished_at: "t2",
                        ..ItemEnd::default()
                    },
                )
                .unwrap();
            store.item_started("r1", 1, "t", 2).unwrap();
            store
                .item_finished(
                    "r1",
                    1,
                    &ItemEnd {
                        state: state::BUSINESS_EXCEPTION,
                        outputs: "{}",
                        reason: Some("NIK salah"),
                        kind: Some("business"),
                        log: Some("membuka formulir"),
                        finished_at: "t3",
                        ..ItemEnd::default()
                    },
                )
                .unwrap();
            store.finish_run("r1", "finished", None, "t4").unwrap();
            let r = store.run("r1").unwrap().unwrap();
            assert_eq!(
                (r.total, r.done, r.business, r.system, r.pending),
                (2, 1, 1, 0, 0)
            );
            assert_eq!(r.state, "finished");
            assert_eq!(r.headers, "[\"NIK\"]");
            let items = store.items("r1").unwrap();
            assert_eq!(items[1].reason.as_deref(), Some("NIK salah"));
            assert_eq!(items[1].log.as_deref(), Some("membuka formulir"));
            assert_eq!(
                (items[0].worker, items[0].submitted, items[0].commands),
                (Some(1), true, 7)
            );
            assert_eq!(items[0].row_number, 2);
            assert_eq!(items[0].agent, Some(fleet::agent_name()));

            // Reopening the store sees the same history.
            drop(store);
            let store = Store::open(&path).unwrap();
            assert_eq!(store.items("r1").unwrap().len(), 2);
            assert_eq!(store.runs(Some("demo"), 10).unwrap().len(), 1);
            assert_eq!(store.runs(Some("lain"), 10).unwrap().len(), 0);
            assert_eq!(store.runs(None, 10).unwrap().len(), 1);
        });
    }

    #[test]
    fn the_submitted_mark_stays_until_verify_clears_it() {
        each_backend(|path| {
            let mut store = Store::open(&path).unwrap();
            begin(&mut store, "r1");
            store.item_started("r1", 0, "t", 1).unwrap();
            store.item_submitted("r1", 0).unwrap();
            store.item_pending("r1", 0).unwrap();
            store.item_started("r1", 0, "t", 1).unwrap();
            let item = &store.items("r1").unwrap()[0];
            assert_eq!(
                (item.attempts, item.submitted, item.state.as_str()),
                (2, true, "in_progress")
            );
            store.item_not_submitted("r1", 0).unwrap();
            assert!(!store.items("r1").unwrap()[0].submitted);
            assert_eq!(store.run("r1").unwrap().unwrap().pending, 2);
        });
    }

    #[test]
    fn a_newer_schema_is_refused() {
        each_backend(|path| {
            let store = Store::open(&path).unwrap();
            store
                .db
                .batch("UPDATE schema_version SET version = 99")
                .unwrap();
            drop(store);
            let err = Store::open(&path).err().unwrap();
            assert!(err.to_string().contains("newer juru"), "{err}");
        });
    }

    #[test]
    fn a_store_address_hides_its_password() {
        let l = Location::parse("postgres://juru:rahasia@db:5432/juru", Path::new("/var"));
        assert!(l.shared());
        assert_eq!(l.to_string(), "postgres://juru:***@db:5432/juru");
        assert_eq!(
            Location::parse("juru.db", Path::new("/var")),
            Location::File(PathBuf::from("/var/juru.db"))
        );
    }
}
