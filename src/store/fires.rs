//! What the agent records besides runs: schedule fires under their unique
//! (schedule, scheduled_for) key, the paused state of schedules, requests to run a
//! bot now (`juru trigger`) and the agents that are alive to answer them.
//!
//! Insert-or-ignore on the fire key decides who fires a tick: the first writer
//! wins, across restarts and across agents sharing one database (the unique key is
//! the same on SQLite and PostgreSQL).

use super::db::{args, DbError};
use super::{Store, StoreError};

/// States of a fire.
pub mod fire_state {
    /// Claimed, waiting for the previous run of its schedule or for a free slot.
    pub const QUEUED: &str = "queued";
    pub const STARTED: &str = "started";
    pub const SKIPPED: &str = "skipped";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
    /// The agent stopped or died before the fire's run ended; a resumed run ends it.
    pub const INTERRUPTED: &str = "interrupted";
}

/// One recorded fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireRecord {
    pub schedule: String,
    /// UTC, RFC 3339 with seconds (`2026-11-27T07:30:00+00:00`).
    pub scheduled_for: String,
    pub state: String,
    pub reason: Option<String>,
    pub run_id: Option<String>,
    /// The agent that claimed it.
    pub agent: Option<String>,
}

/// A request to run a bot now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: i64,
    pub bot: String,
    /// A workbook to use instead of the bot's own (uploaded with "run now").
    pub input: Option<String>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// The key text of a fire time: whole seconds in UTC.
pub fn fire_key(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

impl Store {
    /// When the agent first looked after `schedule` (recording `now` the first
    /// time): fires before it were never the agent's to run.
    pub fn watched_since(&self, schedule: &str, now: &str) -> Result<String, StoreError> {
        self.db
            .execute(
                "INSERT INTO schedule_watch (schedule, watched_since) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                args![schedule, now],
            )
            .and_then(|_| {
                self.db
                    .query_one(
                        "SELECT watched_since FROM schedule_watch WHERE schedule = ?1",
                        args![schedule],
                    )?
                    .get(0)
            })
            .map_err(|e| self.err("reading when a schedule was first watched", e))
    }

    /// After a stop or a crash: fires that were waiting or started but got no run
    /// become `interrupted`, and so do fires whose run was cut short (they end
    /// when the resumed run ends, [`Store::end_fires_of_run`]); fires whose run did
    /// end take its outcome. How many fires changed.
    ///
    /// Only this agent's fires (or those of an agent that is gone) are touched.
    pub fn settle_fires(&self) -> Result<usize, StoreError> {
        let at = now();
        // Fires this agent claimed, or an agent that is gone: another live agent's
        // fire that waits for its run is its own business.
        let mine = "(agent IS NULL OR agent = ?2 OR agent NOT IN (SELECT name FROM agents WHERE until > ?3))";
        let (me, unix) = (super::fleet::agent_name(), chrono::Utc::now().timestamp());
        let settle = || -> Result<usize, DbError> {
            let mut n = self.db.execute(
                &format!("UPDATE fires SET state = 'interrupted', reason = 'the agent stopped before the run began', recorded_at = ?1
                 WHERE state IN ('queued', 'started') AND run_id IS NULL AND {mine}"),
                args![at.as_str(), me.as_str(), unix],
            )?;
            n += self.db.execute(
                "UPDATE fires SET state = CASE (SELECT state FROM runs WHERE id = fires.run_id)
                        WHEN 'finished' THEN 'done' ELSE 'failed' END,
                    reason = (SELECT error FROM runs WHERE id = fires.run_id), recorded_at = ?1
                 WHERE state IN ('queued', 'started', 'interrupted') AND run_id IS NOT NULL
                   AND (SELECT state FROM runs WHERE id = fires.run_id) IN ('finished', 'failed', 'closed')",
                args![at.as_str()],
            )?;
            n += self.db.execute(
                &format!("UPDATE fires SET state = 'interrupted', reason = 'the run was cut short; it ends when it is resumed', recorded_at = ?1
                 WHERE state IN ('queued', 'started') AND run_id IS NOT NULL AND {mine}
                   AND (SELECT state FROM runs WHERE id = fires.run_id) <> 'running'"),
                args![at.as_str(), me.as_str(), unix],
            )?;
            Ok(n as usize)
        };
        settle().map_err(|e| self.err("settling fires", e))
    }

    /// A run ended: the fires it belongs to take its outcome.
    pub fn end_fires_of_run(
        &self,
        run_id: &str,
        state: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE fires SET state = ?2, reason = ?3, recorded_at = ?4 WHERE run_id = ?1",
                args![run_id, state, reason, now()],
            )
            .map(|_| ())
            .map_err(|e| self.err("ending the fires of a run", e))
    }

    /// Records a fire unless one with the same key exists; `true` when this call
    /// recorded it (and so owns the tick).
    pub fn claim_fire(
        &self,
        schedule: &str,
        scheduled_for: &str,
        state: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.db
            .execute(
                "INSERT INTO fires (schedule, scheduled_for, state, reason, recorded_at, agent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                args![
                    schedule,
                    scheduled_for,
                    state,
                    reason,
                    now(),
                    super::fleet::agent_name()
                ],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err("recording a fire", e))
    }

    /// Changes the state (and reason, run) of a recorded fire.
    pub fn update_fire(
        &self,
        schedule: &str,
        scheduled_for: &str,
        state: &str,
        reason: Option<&str>,
        run_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE fires SET state = ?3, reason = ?4, run_id = coalesce(?5, run_id), recorded_at = ?6
                 WHERE schedule = ?1 AND scheduled_for = ?2",
                args![schedule, scheduled_for, state, reason, run_id, now()],
            )
            .map(|_| ())
            .map_err(|e| self.err("updating a fire", e))
    }

    /// The latest recorded fire time of a schedule.
    pub fn last_fire(&self, schedule: &str) -> Result<Option<String>, StoreError> {
        self.db
            .query_one(
                "SELECT max(scheduled_for) FROM fires WHERE schedule = ?1",
                args![schedule],
            )
            .and_then(|r| r.get(0))
            .map_err(|e| self.err("reading the last fire", e))
    }

    /// The recorded fires, newest first (of one schedule, or all).
    pub fn fires(
        &self,
        schedule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FireRecord>, StoreError> {
        const COLUMNS: &str =
            "SELECT schedule, scheduled_for, state, reason, run_id, agent FROM fires";
        let rows = match schedule {
            Some(s) => self.db.query(
                &format!("{COLUMNS} WHERE schedule = ?1 ORDER BY scheduled_for DESC LIMIT ?2"),
                args![s, limit],
            ),
            None => self.db.query(
                &format!("{COLUMNS} ORDER BY scheduled_for DESC LIMIT ?1"),
                args![limit],
            ),
        };
        rows.and_then(|rows| {
            rows.iter()
                .map(|r| {
                    Ok(FireRecord {
                        schedule: r.get(0)?,
                        scheduled_for: r.get(1)?,
                        state: r.get(2)?,
                        reason: r.get(3)?,
                        run_id: r.get(4)?,
                        agent: r.get(5)?,
                    })
                })
                .collect()
        })
        .map_err(|e| self.err("listing fires", e))
    }

    /// Pauses or resumes a schedule.
    pub fn set_paused(&self, schedule: &str, paused: bool) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO schedule_state (schedule, paused, changed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (schedule) DO UPDATE SET paused = ?2, changed_at = ?3",
                args![schedule, paused, now()],
            )
            .map(|_| ())
            .map_err(|e| self.err("pausing a schedule", e))
    }

    /// Whether a schedule is paused.
    pub fn is_paused(&self, schedule: &str) -> Result<bool, StoreError> {
        self.db
            .query_opt(
                "SELECT paused FROM schedule_state WHERE schedule = ?1",
                args![schedule],
            )
            .and_then(|r| r.map(|r| r.get::<bool>(0)).transpose())
            .map(|p| p.unwrap_or(false))
            .map_err(|e| self.err("reading the schedule state", e))
    }

    /// Asks a running agent to run `bot` now; the request id.
    pub fn request_run(&self, bot: &str) -> Result<i64, StoreError> {
        self.request_run_with(bot, None)
    }

    /// Asks a running agent to run `bot` now over the workbook `input` (a path);
    /// the request id.
    pub fn request_run_with(&self, bot: &str, input: Option<&str>) -> Result<i64, StoreError> {
        self.db
            .query_one(
                "INSERT INTO requests (bot, input, requested_at) VALUES (?1, ?2, ?3) RETURNING id",
                args![bot, input, now()],
            )
            .and_then(|r| r.get(0))
            .map_err(|e| self.err("recording a request", e))
    }

    /// Whether a request was taken by an agent yet.
    pub fn request_taken(&self, id: i64) -> Result<bool, StoreError> {
        self.db
            .query_opt("SELECT taken_at FROM requests WHERE id = ?1", args![id])
            .and_then(|r| r.map(|r| r.get::<Option<String>>(0)).transpose())
            .map(|t| t.flatten().is_some())
            .map_err(|e| self.err("reading a request", e))
    }

    /// What the agent did with a request (`started`, or `refused: why`), once it
    /// decided.
    pub fn request_result(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.db
            .query_opt("SELECT result FROM requests WHERE id = ?1", args![id])
            .and_then(|r| r.map(|r| r.get::<Option<String>>(0)).transpose())
            .map(Option::flatten)
            .map_err(|e| self.err("reading a request", e))
    }

    /// Records what the agent did with a request.
    pub fn set_request_result(&self, id: i64, result: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE requests SET result = ?2 WHERE id = ?1",
                args![id, result],
            )
            .map(|_| ())
            .map_err(|e| self.err("recording a request's result", e))
    }

    /// Takes every open request for this process, oldest first: on a shared
    /// store, the agent that takes a request first runs it.
    pub fn take_requests(&mut self) -> Result<Vec<Request>, StoreError> {
        self.take_requests_of(None)
    }

    /// [`Store::take_requests`], only those for the bots named in `bots`: on a
    /// fleet's store an agent leaves the requests for bots it does not have to the
    /// agents that have them.
    pub fn take_requests_for(&mut self, bots: &[String]) -> Result<Vec<Request>, StoreError> {
        self.take_requests_of(Some(bots))
    }

    fn take_requests_of(&mut self, bots: Option<&[String]>) -> Result<Vec<Request>, StoreError> {
        self.db
            .deciding(|db| {
                let open = db
                    .query(
                        "SELECT id, bot, input FROM requests WHERE taken_at IS NULL ORDER BY id",
                        args![],
                    )?
                    .iter()
                    .map(|r| {
                        Ok(Request {
                            id: r.get(0)?,
                            bot: r.get(1)?,
                            input: r.get(2)?,
                        })
                    })
                    .collect::<Result<Vec<_>, DbError>>()?;
                let open: Vec<Request> = open
                    .into_iter()
                    .filter(|r| bots.is_none_or(|b| b.contains(&r.bot)))
                    .collect();
                for r in &open {
                    db.execute(
                        "UPDATE requests SET taken_by = ?2, taken_at = ?3 WHERE id = ?1",
                        args![r.id, std::process::id() as i64, now()],
                    )?;
                }
                Ok(open)
            })
            .map_err(|e: DbError| self.err("taking requests", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fire_key_is_claimed_once_across_connections() {
        crate::store::each_backend(|path| {
            let a = Store::open(&path).unwrap();
            let b = Store::open(&path).unwrap();
            let key = "2026-11-27T00:30:00+00:00";
            assert!(a
                .claim_fire("pagi", key, fire_state::STARTED, None)
                .unwrap());
            assert!(!b
                .claim_fire("pagi", key, fire_state::STARTED, None)
                .unwrap());
            b.update_fire("pagi", key, fire_state::DONE, None, Some("run-1"))
                .unwrap();
            let fires = a.fires(Some("pagi"), 10).unwrap();
            assert_eq!(fires.len(), 1);
            assert_eq!(fires[0].state, "done");
            assert_eq!(fires[0].run_id.as_deref(), Some("run-1"));
            assert_eq!(a.last_fire("pagi").unwrap().as_deref(), Some(key));
            assert_eq!(a.last_fire("sore").unwrap(), None);
        });
    }

    #[test]
    fn pause_and_requests_round_trip() {
        crate::store::each_backend(|path| {
            let mut s = Store::open(&path).unwrap();
            assert!(!s.is_paused("pagi").unwrap());
            s.set_paused("pagi", true).unwrap();
            assert!(s.is_paused("pagi").unwrap());
            s.set_paused("pagi", false).unwrap();
            assert!(!s.is_paused("pagi").unwrap());
            let id = s.request_run("lab").unwrap();
            assert!(!s.request_taken(id).unwrap());
            let taken = s.take_requests().unwrap();
            assert_eq!(
                taken,
                vec![Request {
                    id,
                    bot: "lab".into(),
                    input: None,
                }]
            );
            assert!(s.request_taken(id).unwrap());
            assert!(s.take_requests().unwrap().is_empty());
        });
    }

    #[test]
    fn fires_left_by_a_crash_end_with_their_run() {
        crate::store::each_backend(|path| {
            use crate::store::{NewItem, NewRun};
            let mut s = Store::open(&path).unwrap();
            // Claimed, then the agent died before the run began.
            s.claim_fire("pagi", "t1", fire_state::QUEUED, None)
                .unwrap();
            // Claimed and tied to a run that was cut short.
            s.claim_fire("pagi", "t2", fire_state::QUEUED, None)
                .unwrap();
            s.begin_run(
                &NewRun {
                    id: "r2",
                    bot: "demo",
                    trigger: "schedule:pagi",
                    input: "in.xlsx",
                    dir: "runs/r2",
                    started_at: "t2",
                    headers: "[]",
                    vars: "{}",
                    parent: None,
                    only_input: None,
                    fire: Some(("pagi", "t2")),
                },
                &[NewItem {
                    row: 2,
                    data: "[]".into(),
                    submitted: false,
                }],
            )
            .unwrap();
            let by_key = |s: &Store, k: &str| {
                s.fires(Some("pagi"), 10)
                    .unwrap()
                    .into_iter()
                    .find(|f| f.scheduled_for == k)
                    .unwrap()
            };
            assert_eq!(by_key(&s, "t2").run_id.as_deref(), Some("r2"));
            assert_eq!(by_key(&s, "t2").state, "started");
            // The agent dies: its run's owner is gone.
            s.db.batch("UPDATE runs SET pid = 2147483000 WHERE id = 'r2'")
                .unwrap();
            assert_eq!(s.mark_interrupted().unwrap(), vec!["r2".to_string()]);
            s.settle_fires().unwrap();
            assert_eq!(by_key(&s, "t1").state, "interrupted");
            assert_eq!(by_key(&s, "t2").state, "interrupted");
            // The resumed run ends: so does its fire.
            s.end_fires_of_run("r2", fire_state::DONE, None).unwrap();
            assert_eq!(by_key(&s, "t2").state, "done");
            // A run that ended while no agent watched: settled from the run.
            s.claim_fire("pagi", "t3", fire_state::STARTED, None)
                .unwrap();
            s.update_fire("pagi", "t3", fire_state::STARTED, None, Some("r2"))
                .unwrap();
            s.finish_run("r2", "finished", None, "t9").unwrap();
            s.settle_fires().unwrap();
            assert_eq!(by_key(&s, "t3").state, "done");
        });
    }

    #[test]
    fn a_schedule_is_watched_from_its_first_sight() {
        crate::store::each_backend(|path| {
            let s = Store::open(&path).unwrap();
            assert_eq!(
                s.watched_since("pagi", "2026-01-01T00:00:00Z").unwrap(),
                "2026-01-01T00:00:00Z"
            );
            assert_eq!(
                s.watched_since("pagi", "2026-06-01T00:00:00Z").unwrap(),
                "2026-01-01T00:00:00Z"
            );
        });
    }

    #[test]
    fn an_agent_takes_only_the_requests_for_its_bots() {
        crate::store::each_backend(|path| {
            let mut s = Store::open(&path).unwrap();
            let a = s.request_run("izin").unwrap();
            let b = s.request_run("pajak").unwrap();
            let mine = s.take_requests_for(&["pajak".to_string()]).unwrap();
            assert_eq!(mine.iter().map(|r| r.id).collect::<Vec<_>>(), vec![b]);
            assert!(s.request_taken(b).unwrap());
            assert!(!s.request_taken(a).unwrap());
            assert!(s.take_requests_for(&[]).unwrap().is_empty());
            let rest = s.take_requests().unwrap();
            assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
        });
    }
}
