//! The one gate every start of a run passes: a schedule's fire, a missed fire caught
//! up, `juru run`, `juru trigger`, the dashboard's "run now" and re-queue, `juru runs
//! retry` and every resume. The rule, decided inside the transaction that records
//! the run ([`Store::begin_run`], [`Store::claim_run`]), so two processes can never
//! both pass:
//!
//! - a run of a bot does not start while another run of the same bot goes on in a
//!   live process (**busy**): two runs over one workbook would type its rows twice;
//! - nor while a run of the bot waits to be resumed (**unfinished**: its process died
//!   or it was stopped with items left): the resume must come first, because a new
//!   run would redo the rows that run may already have saved;
//! - nor over the same input as a run of the bot that failed with items left (the
//!   circuit breaker, `run.timeout`): `juru runs resume` continues that one, or
//!   `juru runs close` gives it up (a retry of that run's own items may go on);
//! - a bot with `[run] parallel_runs = true` is held back only by runs over the same
//!   input.
//!
//! A resume is held back only by a run that goes on. A run's owner is its process,
//! known by pid *and* that process's start (boot id and start time), so a pid the
//! system gave to another program after a crash or reboot is not mistaken for it.
//! An owner on another machine (a fleet sharing one PostgreSQL store) is alive
//! while its lease holds ([`super::fleet`]).

use super::db::{args, Db, DbError};
use super::{fleet, RunRecord, StoreError};

/// Why a run may not start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another run of the bot goes on in a live process.
    Busy {
        bot: String,
        run: String,
        pid: Option<i64>,
    },
    /// A run of the bot stopped with items left and waits to be resumed.
    Unfinished {
        bot: String,
        run: String,
        state: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Busy { bot, run, pid } => write!(
                f,
                "bot {bot} is already running: run {run}{} goes on, and two runs of one bot never overlap",
                pid.map(|p| format!(" (process {p})")).unwrap_or_default()
            ),
            Refusal::Unfinished { bot, run, state } => write!(
                f,
                "bot {bot} has an unfinished run {run} ({state}) that must come first: `juru runs resume {run}` continues it (the agent does so when it starts), or `juru runs close {run}` gives up its remaining items"
            ),
        }
    }
}

/// Why a run could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum BeginError {
    #[error("{0}")]
    Refused(Refusal),
    #[error("{0}")]
    Store(StoreError),
}

impl From<StoreError> for BeginError {
    fn from(e: StoreError) -> Self {
        BeginError::Store(e)
    }
}

/// This process as a run's owner: `boot-id:start-time`.
pub(crate) fn me() -> Option<String> {
    identity(std::process::id() as i64)
}

/// This machine's boot id (changes at every boot).
pub(crate) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|b| b.trim().to_string())
}

/// A process as `boot-id:pid:start-time`: unique on a machine (two processes can
/// start in the same clock tick, so the start time alone is not), and never equal
/// to a process of another boot.
fn identity(pid: i64) -> Option<String> {
    let boot = boot_id()?;
    Some(format!("{boot}:{pid}:{}", start_time(pid)?))
}

/// When the process started, in clock ticks since boot.
fn start_time(pid: i64) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().nth(19)?.to_string())
}

/// Whether the process that owns a run is still there. On this machine (the
/// owner's boot id is ours, or no owner was recorded): `pid` exists and is the same
/// process (not a recycled pid). Elsewhere, or before the last boot: its lease,
/// which runs until `lease_until`, still holds.
pub fn owner_alive(pid: Option<i64>, owner: Option<&str>, lease_until: Option<i64>) -> bool {
    if let Some(o) = owner {
        let here = boot_id().is_some_and(|b| o.starts_with(&format!("{b}:")));
        if !here {
            return fleet::lease_holds(lease_until);
        }
    }
    let Some(pid) = pid.filter(|p| *p > 0 && *p <= i32::MAX as i64) else {
        return false;
    };
    // SAFETY: signal 0 only asks whether the process exists.
    let exists = unsafe { libc::kill(pid as i32, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    match owner {
        // Stores written before the pid was part of it hold `boot-id:start-time`.
        Some(o) => match (boot_id(), start_time(pid)) {
            (Some(boot), Some(start)) => {
                o == format!("{boot}:{pid}:{start}") || o == format!("{boot}:{start}")
            }
            _ => true,
        },
        None => true,
    }
}

impl RunRecord {
    /// The state to show people: a run left `running` by a process that is gone is
    /// `interrupted`.
    pub fn shown_state(&self) -> &str {
        if self.state == "running"
            && !owner_alive(self.pid, self.owner.as_deref(), self.lease_until)
        {
            "interrupted"
        } else {
            &self.state
        }
    }

    /// Whether the run stopped with items left, so a resume can continue it.
    pub fn unfinished(&self) -> bool {
        self.pending > 0 && matches!(self.shown_state(), "interrupted" | "cancelled")
    }
}

/// The runs of `bot` (over `only_input`, when given) that stand in the way of a new
/// run over `input` (when known) that retries items of `parent` (when it does), the
/// first reason found.
pub(super) fn refusal(
    db: &Db,
    bot: &str,
    only_input: Option<&str>,
    input: Option<&str>,
    parent: Option<&str>,
) -> Result<Option<Refusal>, DbError> {
    let select = "SELECT r.id, r.state, r.pid, r.owner, r.input,
                (SELECT count(*) FROM items i WHERE i.run_id = r.id AND i.state IN ('pending', 'in_progress')),
                (SELECT max(l.until) FROM leases l WHERE l.owner = r.owner)
         FROM runs r
         WHERE r.bot = ?1 AND r.state IN ('running', 'interrupted', 'cancelled', 'failed')";
    let rows = match only_input {
        Some(only) => db.query(
            &format!("{select} AND r.input = ?2 ORDER BY r.started_at"),
            args![bot, only],
        )?,
        None => db.query(&format!("{select} ORDER BY r.started_at"), args![bot])?,
    };
    let mut unfinished = None;
    for row in rows {
        let (run, state, pid, owner, run_input, left, lease): (
            String,
            String,
            Option<i64>,
            Option<String>,
            String,
            i64,
            Option<i64>,
        ) = (
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
        );
        if state == "running" && owner_alive(pid, owner.as_deref(), lease) {
            return Ok(Some(Refusal::Busy {
                bot: bot.to_string(),
                run,
                pid,
            }));
        }
        let stands = match state.as_str() {
            "failed" => input == Some(run_input.as_str()) && parent != Some(run.as_str()),
            _ => true,
        };
        if left > 0 && stands && unfinished.is_none() {
            let state = if state == "running" {
                "interrupted".to_string()
            } else {
                state
            };
            unfinished = Some(Refusal::Unfinished {
                bot: bot.to_string(),
                run,
                state,
            });
        }
    }
    Ok(unfinished)
}

/// A run that goes on in a live process and stands in the way of resuming `run`
/// (the run itself, or another run of its bot).
pub(super) fn busy(db: &Db, bot: &str, run: &str) -> Result<Option<Refusal>, DbError> {
    let own = db.query_opt(
        "SELECT r.state, r.pid, r.owner, (SELECT max(l.until) FROM leases l WHERE l.owner = r.owner)
         FROM runs r WHERE r.id = ?1",
        args![run],
    )?;
    if let Some(row) = own {
        let (state, pid, owner, lease): (String, Option<i64>, Option<String>, Option<i64>) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        if state == "running" && owner_alive(pid, owner.as_deref(), lease) {
            return Ok(Some(Refusal::Busy {
                bot: bot.to_string(),
                run: run.to_string(),
                pid,
            }));
        }
    }
    Ok(refusal(db, bot, None, None, None)?
        .filter(|r| matches!(r, Refusal::Busy { run: other, .. } if other != run)))
}

impl super::Store {
    /// Whether a new run of `bot` (over `only_input`, see [`NewRun`]; over `input`
    /// when known; retrying items of `parent`) could start now; a look only, the
    /// decision is [`Store::begin_run`]'s.
    ///
    /// [`NewRun`]: super::NewRun
    /// [`Store::begin_run`]: super::Store::begin_run
    pub fn admission(
        &self,
        bot: &str,
        only_input: Option<&str>,
        input: Option<&str>,
        parent: Option<&str>,
    ) -> Result<Option<Refusal>, StoreError> {
        refusal(&self.db, bot, only_input, input, parent)
            .map_err(|e| self.err("checking the runs", e))
    }

    /// Marks runs left `running` by a process that is gone as `interrupted`; the
    /// runs so marked.
    pub fn mark_interrupted(&self) -> Result<Vec<String>, StoreError> {
        let runs = self.runs(None, 100_000)?;
        let mut marked = Vec::new();
        for r in runs
            .iter()
            .filter(|r| r.shown_state() == "interrupted" && r.state == "running")
        {
            self.db
                .execute(
                    "UPDATE runs SET state = 'interrupted', error = 'its process stopped without ending it' WHERE id = ?1 AND state = 'running'",
                    args![&r.id],
                )
                .map_err(|e| self.err("marking an interrupted run", e))?;
            marked.push(r.id.clone());
        }
        Ok(marked)
    }

    /// Gives up an unfinished run: its remaining items are not done (they stay
    /// `pending` in its history) and it no longer holds back new runs of its bot.
    pub fn close_run(&self, id: &str, at: &str) -> Result<bool, StoreError> {
        self.db
            .execute(
                "UPDATE runs SET state = 'closed', finished_at = ?2, pid = NULL, owner = NULL,
                     error = coalesce(error, 'closed by hand with items left')
                 WHERE id = ?1 AND state IN ('interrupted', 'cancelled', 'running', 'failed')",
                args![id, at],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err("closing a run", e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{state, NewItem, NewRun, Store};
    use super::*;

    fn new_run<'a>(id: &'a str, input: &'a str, parallel: bool) -> NewRun<'a> {
        NewRun {
            id,
            bot: "demo",
            trigger: "cli",
            input,
            dir: "runs/x",
            started_at: "2026-11-29T10:00:00Z",
            headers: "[]",
            vars: "{}",
            parent: None,
            only_input: parallel.then_some(input),
            fire: None,
        }
    }

    fn items() -> Vec<NewItem> {
        vec![NewItem {
            row: 2,
            data: "[]".into(),
            submitted: false,
        }]
    }

    #[test]
    fn one_run_of_a_bot_at_a_time_across_connections() {
        crate::store::each_backend(|path| {
            let mut a = Store::open(&path).unwrap();
            let mut b = Store::open(&path).unwrap();
            a.begin_run(&new_run("r1", "in.xlsx", false), &items())
                .unwrap();
            // The same process owns r1 and is alive: busy, for any input.
            match b.begin_run(&new_run("r2", "other.xlsx", false), &items()) {
                Err(BeginError::Refused(Refusal::Busy { run, .. })) => assert_eq!(run, "r1"),
                other => panic!("expected busy, got {other:?}"),
            }
            assert!(!b.has_run("r2").unwrap());
            // A bot that allows parallel runs is held back only by the same input.
            assert!(b
                .begin_run(&new_run("r3", "other.xlsx", true), &items())
                .is_ok());
            assert!(matches!(
                b.begin_run(&new_run("r4", "in.xlsx", true), &items()),
                Err(BeginError::Refused(Refusal::Busy { .. }))
            ));
            // Finished runs hold nothing back.
            a.finish_run("r1", "finished", None, "t").unwrap();
            a.finish_run("r3", "finished", None, "t").unwrap();
            assert!(b
                .begin_run(&new_run("r5", "in.xlsx", false), &items())
                .is_ok());
        });
    }

    #[test]
    fn a_dead_run_must_be_resumed_or_closed_first() {
        crate::store::each_backend(|path| {
            let mut s = Store::open(&path).unwrap();
            s.begin_run(&new_run("r1", "in.xlsx", false), &items())
                .unwrap();
            // Its owner is gone: a pid that does not exist.
            s.db.batch("UPDATE runs SET pid = 2147483000 WHERE id = 'r1'")
                .unwrap();
            assert_eq!(s.run("r1").unwrap().unwrap().shown_state(), "interrupted");
            match s.begin_run(&new_run("r2", "in.xlsx", false), &items()) {
                Err(BeginError::Refused(r @ Refusal::Unfinished { .. })) => {
                    assert!(r.to_string().contains("juru runs resume r1"), "{r}")
                }
                other => panic!("expected unfinished, got {other:?}"),
            }
            assert_eq!(s.mark_interrupted().unwrap(), vec!["r1".to_string()]);
            assert_eq!(s.run("r1").unwrap().unwrap().state, "interrupted");
            // A resume takes it over; a second claim from a live owner is refused.
            s.claim_run("r1").unwrap();
            assert!(matches!(
                s.claim_run("r1"),
                Err(BeginError::Refused(Refusal::Busy { .. }))
            ));
            // Cancelled with items left: still unfinished; closed: out of the way.
            s.finish_run("r1", "cancelled", None, "t").unwrap();
            assert!(s.run("r1").unwrap().unwrap().unfinished());
            assert!(s.admission("demo", None, None, None).unwrap().is_some());
            assert!(s.close_run("r1", "t2").unwrap());
            assert_eq!(s.admission("demo", None, None, None).unwrap(), None);
            assert_eq!(s.items("r1").unwrap()[0].state, state::PENDING);
        });
    }

    #[test]
    fn a_failed_run_with_items_left_holds_back_its_own_input_only() {
        crate::store::each_backend(|path| {
            let mut s = Store::open(&path).unwrap();
            s.begin_run(&new_run("r1", "in.xlsx", false), &items())
                .unwrap();
            s.finish_run("r1", "failed", Some("circuit breaker"), "t")
                .unwrap();
            match s.begin_run(&new_run("r2", "in.xlsx", false), &items()) {
                Err(BeginError::Refused(Refusal::Unfinished { run, state, .. })) => {
                    assert_eq!((run.as_str(), state.as_str()), ("r1", "failed"))
                }
                other => panic!("expected unfinished, got {other:?}"),
            }
            // Another input may run; a retry of r1's own items too.
            assert_eq!(
                s.admission("demo", None, Some("next.xlsx"), None).unwrap(),
                None
            );
            assert_eq!(
                s.admission("demo", None, Some("in.xlsx"), Some("r1"))
                    .unwrap(),
                None
            );
            s.begin_run(&new_run("r3", "next.xlsx", false), &items())
                .unwrap();
        });
    }

    #[test]
    fn a_recycled_pid_is_not_the_owner() {
        let me = std::process::id() as i64;
        assert!(owner_alive(Some(me), me_identity().as_deref(), None));
        let boot = boot_id().unwrap();
        assert!(!owner_alive(Some(me), Some(&format!("{boot}:1")), None));
        assert!(!owner_alive(None, None, None));
        // An owner elsewhere (another machine, or before a reboot): its lease decides.
        let later = chrono::Utc::now().timestamp() + 60;
        assert!(owner_alive(Some(me), Some("another-boot:1"), Some(later)));
        assert!(!owner_alive(
            Some(me),
            Some("another-boot:1"),
            Some(later - 120)
        ));
        assert!(!owner_alive(Some(me), Some("another-boot:1"), None));
    }

    fn me_identity() -> Option<String> {
        me()
    }
}
