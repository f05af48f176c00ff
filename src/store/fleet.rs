//! Who is alive in a store several machines share: leases and agents by name.
//!
//! On one machine a run's owner is a process, and whether it lives is asked of the
//! kernel ([`super::owner_alive`]). Across machines that question cannot be asked,
//! so every process that works on a shared (PostgreSQL) store holds a **lease**: a
//! row `leases(owner, agent, host, until)` that a heartbeat thread renews every
//! [`HEARTBEAT`]; an owner on another machine is alive while its lease has not
//! run out ([`LEASE`] after the last beat). Clocks of a fleet must agree to within
//! a few seconds (NTP).
//!
//! An agent also takes its **name** (`[agent] name`, the host name by default): the
//! row `agents(name, …)` is its per-name lease, so two agents with one name (which
//! would both run every schedule) cannot both start, and the dashboard shows the
//! fleet from this table.
//!
//! A process also watches **its own lease** ([`lease_state`]): when its beats have
//! not reached the store for [`LEASE`] less [`CLOCK_SKEW`], the others may soon
//! take it for dead and take over its items, so its workers stop acting on the
//! legacy system at once (fencing: the store refuses item writes from a process
//! that no longer holds the item, and the run engine checks the lease before every
//! browser command).

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use super::db::{args, DbError};
use super::{gate, Location, Store, StoreError};

/// How often a process on a shared store renews its lease.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a lease lasts after the last beat.
pub const LEASE: Duration = Duration::from_secs(20);

/// How far the clocks of a fleet may disagree: a process stops trusting its own
/// lease this long before the others would see it run out.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5);

static AGENT_NAME: OnceLock<String> = OnceLock::new();
static BEATING: OnceLock<()> = OnceLock::new();
static OWN: Mutex<OwnLease> = Mutex::new(OwnLease {
    renewed: None,
    lapses: 0,
});

/// This process's own lease, as its beats left it.
struct OwnLease {
    /// When the last beat that reached the store began (monotonic and wall clock:
    /// a frozen or suspended process must see the time it lost on either).
    renewed: Option<(Instant, SystemTime)>,
    /// How many times a beat reached the store only after the lease could have run
    /// out in the eyes of the others.
    lapses: u64,
}

impl OwnLease {
    fn since_renewed(&self) -> Option<Duration> {
        let (mono, wall) = self.renewed?;
        let wall = SystemTime::now().duration_since(wall).unwrap_or_default();
        Some(mono.elapsed().max(wall))
    }

    fn stale(&self) -> bool {
        self.since_renewed()
            .is_some_and(|d| d >= LEASE.saturating_sub(CLOCK_SKEW))
    }

    fn state(&self) -> LeaseState {
        match self.since_renewed() {
            None => LeaseState::None,
            Some(d) if self.stale() => LeaseState::Stale(d),
            Some(_) => LeaseState::Fresh {
                lapses: self.lapses,
            },
        }
    }

    /// A beat that began at `began` reached the store.
    fn renew(&mut self, began: (Instant, SystemTime)) {
        if self.stale() {
            self.lapses += 1;
        }
        self.renewed = Some(began);
    }
}

/// Whether this process may still act as the holder of what it claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// This process holds no lease (a store on one machine): nothing to check.
    None,
    /// The lease holds; the number of lapses so far (a change means the lease ran
    /// out in between, and what this process held may have been taken over).
    Fresh { lapses: u64 },
    /// No beat reached the store for this long: the others may take over soon.
    Stale(Duration),
}

/// This process's own lease now ([`LeaseState`]).
pub fn lease_state() -> LeaseState {
    OWN.lock().unwrap_or_else(|p| p.into_inner()).state()
}

/// How many times this process's lease ran out in between so far ([`LeaseState`]).
pub fn lapses() -> u64 {
    OWN.lock().unwrap_or_else(|p| p.into_inner()).lapses
}

fn renewed(began: (Instant, SystemTime)) {
    OWN.lock().unwrap_or_else(|p| p.into_inner()).renew(began);
}

/// This process's agent name: set by the agent at start, else the host name.
pub fn agent_name() -> String {
    AGENT_NAME.get().cloned().unwrap_or_else(host_name)
}

/// Sets this process's agent name (once; later calls are ignored).
pub fn set_agent_name(name: &str) {
    let _ = AGENT_NAME.set(name.to_string());
}

/// The machine's host name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Whether a lease that runs until `until` (Unix seconds) still holds.
pub fn lease_holds(until: Option<i64>) -> bool {
    until.is_some_and(|u| u > unix_now())
}

/// One agent of the fleet, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub name: String,
    pub host: String,
    pub pid: i64,
    pub started_at: String,
    pub heartbeat_at: String,
    /// The lease still holds (the agent beat within [`LEASE`]).
    pub alive: bool,
    /// Its dashboard address, when it serves one.
    pub web: Option<String>,
    /// Items of running runs its workers hold now.
    pub items_in_progress: i64,
}

/// Why an agent may not start under its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTaken {
    pub name: String,
    pub host: String,
    pub pid: i64,
}

impl std::fmt::Display for NameTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "an agent named {} already runs (process {} on {}); two agents with one name would run every schedule twice: give this one another `[agent] name` in agent.toml, or stop that one first",
            self.name, self.pid, self.host
        )
    }
}

impl Store {
    /// Renews this process's lease now; on a shared store, also starts the
    /// heartbeat thread that renews it (and the agent row) from then on. Called by
    /// [`Store::open`] on PostgreSQL, so a run begun right after has a live owner.
    pub(super) fn start_lease(&self) -> Result<(), StoreError> {
        if !self.location.shared() {
            return Ok(());
        }
        self.beat()
            .map_err(|e| self.err("renewing this process's lease", e))?;
        if BEATING.set(()).is_ok() {
            let location = self.location.clone();
            let spawned = std::thread::Builder::new()
                .name("juru-lease".into())
                .spawn(move || heartbeat(location));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the lease heartbeat");
            }
        }
        Ok(())
    }

    fn beat(&self) -> Result<(), DbError> {
        let Some(me) = gate::me() else {
            return Ok(());
        };
        let began = (Instant::now(), SystemTime::now());
        let until = unix_now() + LEASE.as_secs() as i64;
        self.db.execute(
            "INSERT INTO leases (owner, agent, host, until) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (owner) DO UPDATE SET until = ?4, agent = ?2",
            args![me.as_str(), AGENT_NAME.get().cloned(), host_name(), until],
        )?;
        if let Some(name) = AGENT_NAME.get() {
            self.db.execute(
                "UPDATE agents SET heartbeat_at = ?3, until = ?4 WHERE name = ?1 AND owner = ?2",
                args![
                    name.as_str(),
                    me.as_str(),
                    chrono::Utc::now().to_rfc3339(),
                    until
                ],
            )?;
        }
        renewed(began);
        // Leases that ran out long ago are history nobody asks about.
        self.db.execute(
            "DELETE FROM leases WHERE until < ?1",
            args![unix_now() - 86_400],
        )?;
        Ok(())
    }

    /// Takes the agent name `name` for this process: refused while another live
    /// agent holds it. `web` is the dashboard address it serves, if any.
    pub fn agent_started(
        &self,
        name: &str,
        web: Option<&str>,
    ) -> Result<Result<(), NameTaken>, StoreError> {
        set_agent_name(name);
        let me = gate::me().unwrap_or_else(|| format!("pid:{}", std::process::id()));
        let now = chrono::Utc::now().to_rfc3339();
        let until = unix_now() + LEASE.as_secs() as i64;
        let local_boot = gate::boot_id();
        self.db
            .deciding(|db| {
                if let Some(row) = db.query_opt(
                    "SELECT owner, host, pid, until FROM agents WHERE name = ?1",
                    args![name],
                )? {
                    let (owner, host, pid, until): (String, String, i64, i64) =
                        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
                    let same_machine =
                        local_boot.as_deref().is_some_and(|b| owner.starts_with(b));
                    let alive = owner != me
                        && if same_machine {
                            gate::owner_alive(Some(pid), Some(&owner), None)
                        } else {
                            lease_holds(Some(until))
                        };
                    if alive {
                        return Ok(Err(NameTaken {
                            name: name.to_string(),
                            host,
                            pid,
                        }));
                    }
                }
                db.execute(
                    "INSERT INTO agents (name, owner, host, pid, started_at, heartbeat_at, until, web)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)
                     ON CONFLICT (name) DO UPDATE SET owner = ?2, host = ?3, pid = ?4, started_at = ?5,
                         heartbeat_at = ?5, until = ?6, web = ?7",
                    args![name, me.as_str(), host_name(), std::process::id() as i64, now.as_str(), until, web],
                )?;
                Ok(Ok(()))
            })
            .map_err(|e| self.err("recording the agent", e))
    }

    /// Gives up this process's agent name (a clean stop).
    pub fn agent_stopped(&self) -> Result<(), StoreError> {
        let me = gate::me().unwrap_or_else(|| format!("pid:{}", std::process::id()));
        self.db
            .execute(
                "UPDATE agents SET until = 0, pid = 0 WHERE owner = ?1",
                args![me.as_str()],
            )
            .and_then(|_| {
                self.db
                    .execute("DELETE FROM leases WHERE owner = ?1", args![me.as_str()])
            })
            .map(|_| ())
            .map_err(|e| self.err("removing the agent", e))
    }

    /// The agents that ever worked on this store, by name, with whether each is
    /// alive now.
    pub fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        let local_boot = gate::boot_id();
        let rows = self
            .db
            .query(
                "SELECT a.name, a.host, a.pid, a.started_at, a.heartbeat_at, a.until, a.owner, a.web,
                        (SELECT count(*) FROM items i JOIN runs r ON r.id = i.run_id
                         WHERE i.agent = a.name AND i.state = 'in_progress' AND r.state = 'running')
                 FROM agents a ORDER BY a.name",
                args![],
            )
            .map_err(|e| self.err("listing agents", e))?;
        rows.iter()
            .map(|r| {
                let owner: String = r.get(6)?;
                let pid: i64 = r.get(2)?;
                let until: i64 = r.get(5)?;
                let same_machine = local_boot.as_deref().is_some_and(|b| owner.starts_with(b));
                let alive = until > 0
                    && if same_machine {
                        gate::owner_alive(Some(pid), Some(&owner), None)
                    } else {
                        lease_holds(Some(until))
                    };
                Ok(AgentRecord {
                    name: r.get(0)?,
                    host: r.get(1)?,
                    pid,
                    started_at: r.get(3)?,
                    heartbeat_at: r.get(4)?,
                    alive,
                    web: r.get(7)?,
                    items_in_progress: r.get(8)?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()
            .map_err(|e| self.err("listing agents", e))
    }

    /// Whether any agent is alive to take requests (`juru trigger`).
    pub fn any_agent_alive(&self) -> Result<bool, StoreError> {
        Ok(self.agents()?.iter().any(|a| a.alive))
    }
}

/// Renews the lease of this process every [`HEARTBEAT`] on its own connection,
/// for as long as the process lives.
fn heartbeat(location: Location) {
    let mut store: Option<Store> = None;
    loop {
        std::thread::sleep(HEARTBEAT);
        if store.is_none() {
            store = Store::connect(location.clone())
                .map_err(|e| tracing::warn!(error = %e, "lease heartbeat: cannot connect"))
                .ok();
        }
        if let Some(s) = &store {
            if let Err(e) = s.beat() {
                tracing::warn!(store = %location, error = %e, "lease heartbeat failed; trying a new connection");
                store = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ago(secs: u64) -> (Instant, SystemTime) {
        let d = Duration::from_secs(secs);
        (
            Instant::now().checked_sub(d).unwrap(),
            SystemTime::now() - d,
        )
    }

    #[test]
    fn a_lease_goes_stale_before_the_others_see_it_run_out_and_a_late_beat_counts_a_lapse() {
        let mut own = OwnLease {
            renewed: None,
            lapses: 0,
        };
        assert_eq!(own.state(), LeaseState::None);
        own.renew(ago(0));
        assert_eq!(own.state(), LeaseState::Fresh { lapses: 0 });
        // Beats every few seconds keep it fresh, and are no lapse.
        own.renew(ago(6));
        own.renew(ago(0));
        assert_eq!(own.state(), LeaseState::Fresh { lapses: 0 });
        // 15 s without a beat: stale (the others see it run out at 20 s).
        own.renewed = Some(ago(LEASE.as_secs() - CLOCK_SKEW.as_secs()));
        assert!(matches!(own.state(), LeaseState::Stale(d) if d >= Duration::from_secs(15)));
        // The next beat renews it, but counts a lapse: what the process held may
        // have been taken over meanwhile.
        own.renew(ago(0));
        assert_eq!(own.state(), LeaseState::Fresh { lapses: 1 });
        // A wall clock that jumped (a suspended machine) counts as well.
        own.renewed = Some((Instant::now(), SystemTime::now() - Duration::from_secs(30)));
        assert!(matches!(own.state(), LeaseState::Stale(_)));
    }
}
