//! Read-only queries for the agent's `/metrics` (Prometheus): every run with the
//! schedule fires that started it, and the ended items of chosen runs, as plain rows
//! the caller adds up. Standard SQL only; nothing here writes or changes the schema.
//! Blocking, like every store call.

use super::db::{args, DbError, Value};
use super::{gate, Store, StoreError};

/// How many run ids one item query names at most.
const IDS_PER_QUERY: usize = 500;

/// One run as the metrics count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRun {
    pub id: String,
    pub bot: String,
    /// The state people see ([`super::RunRecord::shown_state`]): a run left
    /// `running` by a process that is gone is `interrupted`.
    pub state: String,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// The schedule fires that started it: (schedule, scheduled_for RFC 3339).
    pub fires: Vec<(String, String)>,
}

/// One ended item (not `pending`, not `in_progress`) of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricItem {
    pub run_id: String,
    pub state: String,
    /// When its last attempt started and ended (RFC 3339), when known.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl Store {
    /// Every run, with the fires that started it (one query).
    pub fn metric_runs(&self) -> Result<Vec<MetricRun>, StoreError> {
        let read = || -> Result<Vec<MetricRun>, DbError> {
            let rows = self.db.query(
                "SELECT r.id, r.bot, r.state, r.pid, r.owner, r.started_at, f.schedule, f.scheduled_for,
                        (SELECT max(l.until) FROM leases l WHERE l.owner = r.owner)
                 FROM runs r LEFT JOIN fires f ON f.run_id = r.id
                 ORDER BY r.id",
                args![],
            )?;
            let mut out: Vec<MetricRun> = Vec::new();
            for r in rows {
                let id: String = r.get(0)?;
                let fire = match (r.get::<Option<String>>(6)?, r.get::<Option<String>>(7)?) {
                    (Some(s), Some(at)) => Some((s, at)),
                    _ => None,
                };
                if let Some(last) = out.last_mut().filter(|l| l.id == id) {
                    last.fires.extend(fire);
                    continue;
                }
                let state: String = r.get(2)?;
                let pid: Option<i64> = r.get(3)?;
                let owner: Option<String> = r.get(4)?;
                let lease: Option<i64> = r.get(8)?;
                let state =
                    if state == "running" && !gate::owner_alive(pid, owner.as_deref(), lease) {
                        "interrupted".to_string()
                    } else {
                        state
                    };
                out.push(MetricRun {
                    id,
                    bot: r.get(1)?,
                    state,
                    started_at: r.get(5)?,
                    fires: fire.into_iter().collect(),
                });
            }
            Ok(out)
        };
        read().map_err(|e| self.err("reading the runs for metrics", e))
    }

    /// The ended items of the runs `ids` (one query per [`IDS_PER_QUERY`] runs).
    pub fn metric_items(&self, ids: &[&str]) -> Result<Vec<MetricItem>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
            let values: Vec<Value> = chunk.iter().map(|id| Value::from(*id)).collect();
            let rows = self
                .db
                .query(
                    &format!(
                        "SELECT run_id, state, started_at, finished_at FROM items
                         WHERE run_id IN ({}) AND state NOT IN ('pending', 'in_progress')",
                        marks.join(", ")
                    ),
                    &values,
                )
                .and_then(|rows| {
                    rows.iter()
                        .map(|r| {
                            Ok(MetricItem {
                                run_id: r.get(0)?,
                                state: r.get(1)?,
                                started_at: r.get(2)?,
                                finished_at: r.get(3)?,
                            })
                        })
                        .collect::<Result<Vec<_>, DbError>>()
                })
                .map_err(|e| self.err("reading the items for metrics", e))?;
            out.extend(rows);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fires::fire_state;
    use super::super::{state, ItemEnd, NewItem, NewRun, Store};

    fn item(row: i64) -> NewItem {
        NewItem {
            row,
            data: "[]".into(),
            submitted: false,
        }
    }

    #[test]
    fn runs_come_with_their_fires_and_items_with_their_times() {
        crate::store::each_backend(|path| {
            let mut s = Store::open(&path).unwrap();
            assert!(s.metric_runs().unwrap().is_empty());
            s.claim_fire(
                "pagi",
                "2026-11-27T00:00:00+00:00",
                fire_state::QUEUED,
                None,
            )
            .unwrap();
            let run = |id, bot, fire| NewRun {
                id,
                bot,
                trigger: "t",
                input: "in.xlsx",
                dir: "d",
                started_at: "2026-11-27T00:05:00+00:00",
                headers: "[]",
                vars: "{}",
                fire,
                ..NewRun::default()
            };
            s.begin_run(
                &run("r1", "izin", Some(("pagi", "2026-11-27T00:00:00+00:00"))),
                &[item(2), item(3), item(4)],
            )
            .unwrap();
            s.begin_run(&run("r2", "surat", None), &[item(2)]).unwrap();
            s.item_started("r1", 0, "2026-11-27T00:05:01+00:00", 1)
                .unwrap();
            s.item_finished(
                "r1",
                0,
                &ItemEnd {
                    state: state::DONE,
                    outputs: "{}",
                    finished_at: "2026-11-27T00:05:04+00:00",
                    ..ItemEnd::default()
                },
            )
            .unwrap();
            s.item_started("r1", 1, "2026-11-27T00:05:05+00:00", 1)
                .unwrap();
            s.finish_run("r1", "finished", None, "2026-11-27T00:06:00+00:00")
                .unwrap();

            let runs = s.metric_runs().unwrap();
            assert_eq!(runs.len(), 2);
            assert_eq!(
                (
                    runs[0].id.as_str(),
                    runs[0].bot.as_str(),
                    runs[0].state.as_str()
                ),
                ("r1", "izin", "finished")
            );
            assert_eq!(
                runs[0].fires,
                vec![("pagi".to_string(), "2026-11-27T00:00:00+00:00".to_string())]
            );
            // Begun by this live process: still running.
            assert_eq!(runs[1].state, "running");
            assert!(runs[1].fires.is_empty());

            // Only ended items: the one in progress and the pending one are left out.
            let items = s.metric_items(&["r1", "r2"]).unwrap();
            assert_eq!(items.len(), 1, "{items:?}");
            assert_eq!(items[0].state, "done");
            assert_eq!(
                items[0].started_at.as_deref(),
                Some("2026-11-27T00:05:01+00:00")
            );
            assert!(s.metric_items(&[]).unwrap().is_empty());
            // More runs than one query names.
            let many: Vec<String> = (0..1200).map(|i| format!("x{i}")).collect();
            let mut ids: Vec<&str> = many.iter().map(String::as_str).collect();
            ids.push("r1");
            assert_eq!(s.metric_items(&ids).unwrap().len(), 1);
        });
    }
}
