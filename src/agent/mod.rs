//! `juru agent`: the long-running daemon that fires schedules and runs bots while
//! nobody watches.
//!
//! The agent loads agent.toml, schedules.toml with its calendars and every bot once,
//! then sleeps until the earliest next fire of any enabled schedule, woken early by
//! signals, by a finished run, and by the kernel when a config file changes or
//! another process writes to the store (a `juru trigger` request) ([`wake`]): it
//! polls nothing, so it uses no CPU between fires. Each fire is recorded in the store under its
//! (schedule, scheduled_for) key before anything runs: insert-or-ignore decides who
//! fires a tick, so one tick never runs twice, across restarts and with two agents on
//! one database.
//!
//! - A schedule whose previous run still goes on skips the fire or queues it (one
//!   waiting run at most), by its `overlap`; `[limits] max_concurrent_runs` caps the
//!   runs of the whole agent (the rest wait for a free slot, oldest first).
//! - At start-up, runs left `running` by a dead process are resumed, and each
//!   schedule catches up at most one missed fire ([`Schedule::catch_up`]).
//! - SIGTERM or Ctrl-C stops firing and lets running runs finish their current item
//!   ([`STOP_GRACE`], then they are aborted); a second signal aborts at once.
//! - SIGHUP or a changed file in the config folder reloads everything, validating
//!   first: an invalid config is refused with its problems logged and the old one
//!   keeps running.
//! - Pending outbox mail is retried after each run and when a pending message's next
//!   attempt is due (at most every [`MAIL_GAP`]).
//!
//! [`Schedule::catch_up`]: crate::schedule::Schedule::catch_up

mod calendar_watch;
mod commands;
mod inbox;
mod lock;
mod notify;
mod signals;
mod wake;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use commands::{pause, trigger};

use crate::bot::{self, Bot};
use crate::config::{AgentConfig, ScheduleConfig, ScheduleInput, Schedules};
use crate::mail;
use crate::run::{self, RunError, RunOptions, RunState, RunSummary, Stop};
use crate::schedule::{Fire, Overlap, ON_TIME};
use crate::store::fires::{fire_key, fire_state};
use crate::store::{Store, StoreError};
use crate::Problems;

/// How often the agent looks for `juru trigger` requests and config changes where
/// the kernel cannot tell it ([`wake`]).
pub const TICK: Duration = Duration::from_secs(2);

/// The shortest time between two retries of pending outbox mail.
pub const MAIL_GAP: Duration = Duration::from_secs(10);

/// How long a changed config file must stay unchanged before the agent reloads it
/// (an editor writes a file in several steps).
const SETTLE: Duration = Duration::from_millis(300);

/// How often an agent on a shared store looks for run requests.
const SHARED_LOOK: Duration = Duration::from_secs(2);

/// The shortest time between two looks for run requests while the store is busy.
const REQUESTS_GAP: Duration = Duration::from_millis(500);

/// How long running items may go on after SIGTERM before they are aborted.
pub const STOP_GRACE: Duration = Duration::from_secs(30);

/// Where the agent finds its config, bots and data.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config: PathBuf,
    pub bots: PathBuf,
    pub data: PathBuf,
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration or a bot is not valid.
    #[error("{0}")]
    Invalid(Problems),
    /// The store cannot be used.
    #[error("{0}")]
    Failed(String),
}

/// Everything the agent loaded and validated.
struct Loaded {
    config: AgentConfig,
    schedules: Schedules,
    bots: BTreeMap<String, Bot>,
}

/// Loads agent.toml, schedules.toml, calendars and every bot; every problem at once.
fn load(paths: &Paths) -> Result<Loaded, Problems> {
    let mut problems = Problems::default();
    let config = AgentConfig::load(&paths.config)
        .map_err(|p| problems.extend(p))
        .ok();
    let zone = config
        .as_ref()
        .map_or(chrono_tz::Asia::Jakarta, |c| c.time_zone);
    let names = bot::list(&paths.bots).unwrap_or_else(|p| {
        problems.0.push(p);
        Vec::new()
    });
    let mut bots = BTreeMap::new();
    for name in &names {
        match bot::load(&paths.bots, name) {
            Ok(b) => {
                bots.insert(name.clone(), b);
            }
            Err(p) => problems.extend(p),
        }
    }
    let schedules = Schedules::load(&paths.config, zone, Some(&names))
        .map_err(|p| problems.extend(p))
        .ok();
    match (config, schedules) {
        (Some(config), Some(schedules)) if problems.is_empty() => Ok(Loaded {
            config,
            schedules,
            bots,
        }),
        _ => Err(problems),
    }
}

/// The config files whose change makes the agent reload: modification time and size.
fn fingerprint(config_dir: &Path) -> Vec<(PathBuf, Option<(SystemTime, u64)>)> {
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
    };
    let mut files: Vec<PathBuf> = ["agent.toml", "schedules.toml", "secrets.toml"]
        .iter()
        .map(|f| config_dir.join(f))
        .collect();
    if let Ok(entries) = std::fs::read_dir(config_dir.join("calendars")) {
        let mut cal: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        cal.sort();
        files.extend(cal);
    }
    files
        .into_iter()
        .map(|f| {
            let s = stamp(&f);
            (f, s)
        })
        .collect()
}

/// Sleeps until `at`; never wakes when there is no `at`.
async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs a store call on a blocking thread.
async fn db<T, F>(store: &Arc<Mutex<Store>>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    let place = store
        .lock()
        .map(|s| s.location().to_string())
        .unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    })
    .await
    .unwrap_or_else(|e| {
        Err(StoreError {
            place,
            message: format!("a store task stopped: {e}"),
            lost: false,
        })
    })
}

/// A run the agent is about to start.
#[derive(Debug, Clone)]
struct Job {
    /// The schedule and fire key, for scheduled runs.
    fire: Option<(String, String)>,
    bot: String,
    input: ScheduleInput,
    trigger: String,
    /// The `juru trigger` / "run now" request that asked for it.
    request: Option<i64>,
}

/// What a run task reports when it ends.
struct Ended {
    schedule: Option<String>,
    /// A fleet's run this agent took part in (or took over).
    fleet_run: Option<String>,
}

/// The agent's state between wake-ups.
struct Agent {
    paths: Paths,
    loaded: Loaded,
    store: Arc<Mutex<Store>>,
    /// Per schedule: fires at or before this instant are behind us.
    cursors: HashMap<String, DateTime<Utc>>,
    /// Schedules with a run going on or waiting for a free slot.
    busy: HashSet<String>,
    /// One fire per schedule waiting for the schedule's previous run to end.
    queued: HashMap<String, Job>,
    /// Jobs waiting for a free run slot, oldest first.
    waiting: VecDeque<Job>,
    running: usize,
    tasks: JoinSet<()>,
    ended: mpsc::UnboundedSender<Ended>,
    stop: Stop,
    /// Runs of the fleet this agent works on now (taking part or taken over).
    fleet_runs: HashSet<String>,
}

/// Runs the agent until SIGTERM or Ctrl-C.
pub async fn run(paths: Paths) -> Result<(), AgentError> {
    let loaded = load(&paths).map_err(AgentError::Invalid)?;
    let _lock = lock::DataLock::acquire(&paths.data).map_err(AgentError::Failed)?;
    let location = loaded.config.store_location(&paths.data);
    let name = loaded.config.agent_name.clone();
    let web = (loaded.config.web.enabled).then(|| loaded.config.web.listen.to_string());
    let store = tokio::task::spawn_blocking(move || {
        let s = Store::open(location)?;
        if let Err(taken) = s.agent_started(&name, web.as_deref())? {
            return Ok(Err(taken.to_string()));
        }
        for id in s.mark_interrupted()? {
            tracing::warn!(run = %id, "a run was interrupted: its process stopped without ending it");
        }
        s.settle_fires()?;
        Ok::<_, StoreError>(Ok(s))
    })
    .await
    .map_err(|e| AgentError::Failed(e.to_string()))?
    .map_err(|e| AgentError::Failed(e.to_string()))?
    .map_err(AgentError::Failed)?;
    let store = Arc::new(Mutex::new(store));
    crate::browser::sweep_profiles();
    let (stop, finish, abort) = Stop::new();
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
    // Signals are handled by a task of their own, at once, whatever the agent is
    // doing: the first stops every run from starting another item, the second
    // aborts the items under way.
    let mut signals = signals::listen(finish, abort).map_err(AgentError::Failed)?;
    let mut agent = Agent {
        paths,
        loaded,
        store,
        cursors: HashMap::new(),
        busy: HashSet::new(),
        queued: HashMap::new(),
        waiting: VecDeque::new(),
        running: 0,
        tasks: JoinSet::new(),
        ended: ended_tx,
        stop,
        fleet_runs: HashSet::new(),
    };
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| AgentError::Failed(format!("cannot listen for SIGHUP: {e}")))?;

    tracing::info!(
        pid = std::process::id(),
        schedules = agent.loaded.schedules.schedules.len(),
        bots = agent.loaded.bots.len(),
        "agent started"
    );
    let _dashboard = crate::web::serve_for_agent(&agent.paths, &agent.loaded.config).await;
    notify::ready();
    // Runs a crash or a stop left unfinished come first: a new fire of their
    // schedule then obeys its `overlap`, and the store's gate holds back any other
    // run of their bots until they end.
    agent.resume_unfinished_runs().await;
    agent.recover_inboxes().await;
    agent.catch_up().await;
    agent.flush_mail();
    calendar_watch::start(&agent);
    let mut seen = fingerprint(&agent.paths.config);
    let mut watcher = agent.watcher();
    if watcher.is_watching() {
        tracing::debug!("watching the config folder, the store and the outbox for changes");
    }
    let mut outbox = agent.outbox().dir().to_path_buf();
    let now = tokio::time::Instant::now;
    // Run requests made while no agent ran are read at once.
    let mut requests_at = Some(now());
    let mut last_requests = now();
    let mut reload_at: Option<tokio::time::Instant> = None;
    let mut last_mail = now();
    let mut mail_at = agent.next_mail(last_mail).await;
    // A store on a server (a fleet's PostgreSQL) cannot be watched: requests made
    // through it (`juru trigger`, another agent's dashboard) are looked for every
    // few seconds.
    let shared = agent.loaded.config.store.url.is_some();
    let mut shared_look = tokio::time::interval(SHARED_LOOK);
    shared_look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        let next = agent.next_fire();
        match &next {
            Some((name, f)) => {
                tracing::debug!(schedule = %name, at = %f.at, "sleeping until the next fire")
            }
            None => tracing::debug!("no fire ahead"),
        }
        let wake = next.as_ref().map(|(_, f)| {
            let wait = (f.at - Utc::now()).to_std().unwrap_or_default();
            tokio::time::Instant::now() + wait
        });
        tokio::select! {
            _ = until(wake) => {
                if let Some((name, fire)) = next {
                    agent.cursors.insert(name.clone(), fire.at);
                    agent.fire(&name, fire, false).await;
                }
            }
            _ = signals.stopping() => break,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                notify::reloading();
                agent.reload();
                notify::ready();
                seen = fingerprint(&agent.paths.config);
                reload_at = None;
            }
            _ = shared_look.tick(), if shared => {
                if requests_at.is_none() {
                    requests_at = Some(now());
                }
                agent.take_over_dead_runs().await;
                agent.take_part().await;
            }
            changes = watcher.changed() => {
                if changes.config {
                    reload_at = Some(now() + SETTLE);
                }
                if changes.store && requests_at.is_none() {
                    requests_at = Some((last_requests + REQUESTS_GAP).max(now()));
                }
                if changes.outbox {
                    mail_at = agent.next_mail(last_mail).await;
                }
            }
            _ = until(reload_at) => {
                reload_at = None;
                let now_seen = fingerprint(&agent.paths.config);
                if now_seen != seen {
                    seen = now_seen;
                    tracing::info!(dir = %agent.paths.config.display(), "the configuration changed: reloading");
                    agent.reload();
                }
            }
            _ = until(requests_at) => {
                requests_at = None;
                last_requests = now();
                agent.take_requests().await;
            }
            _ = until(mail_at) => {
                last_mail = now();
                agent.flush_mail();
                // The flush task ending plans the next retry.
                mail_at = None;
            }
            Some(e) = ended_rx.recv() => agent.run_ended(e).await,
            Some(_) = agent.tasks.join_next(), if !agent.tasks.is_empty() => {
                // A run or a mail flush ended: the outbox may hold new pending mail.
                mail_at = agent.next_mail(last_mail).await;
            }
        }
        // A reload may have moved the outbox.
        if agent.outbox().dir() != outbox {
            outbox = agent.outbox().dir().to_path_buf();
            watcher = agent.watcher();
        }
    }

    // Shutting down: no new fire, running runs finish their current item.
    notify::stopping();
    tracing::warn!(
        runs = agent.running,
        "stopping: no new run starts; running runs may finish their current item within {} s",
        STOP_GRACE.as_secs()
    );
    let left: Vec<Job> = agent
        .queued
        .drain()
        .map(|(_, j)| j)
        .chain(agent.waiting.drain(..))
        .collect();
    for job in left {
        if let Some((name, key)) = job.fire {
            record(
                &agent.store,
                &name,
                &key,
                fire_state::SKIPPED,
                Some("the agent stopped before it could start"),
                None,
            )
            .await;
        }
    }
    let grace = tokio::time::sleep(STOP_GRACE);
    tokio::pin!(grace);
    let mut aborted = false;
    while !agent.tasks.is_empty() {
        tokio::select! {
            _ = agent.tasks.join_next() => {}
            _ = &mut grace, if !aborted => {
                tracing::warn!("the stop grace is over: aborting the current items");
                signals.abort();
                aborted = true;
            }
        }
    }
    if let Err(e) = db(&agent.store, |s| s.agent_stopped()).await {
        tracing::warn!("{e}");
    }
    tracing::info!("agent stopped");
    Ok(())
}

/// Updates a recorded fire, logging a store error.
async fn record(
    store: &Arc<Mutex<Store>>,
    name: &str,
    key: &str,
    state: &'static str,
    reason: Option<&str>,
    run_id: Option<String>,
) {
    let (n, k, r) = (
        name.to_string(),
        key.to_string(),
        reason.map(str::to_string),
    );
    if let Err(e) = db(store, move |s| {
        s.update_fire(&n, &k, state, r.as_deref(), run_id.as_deref())
    })
    .await
    {
        tracing::error!(schedule = %name, "cannot record the fire: {e}");
    }
}

/// The fire state and reason for how a run ended.
fn fire_outcome(result: &Result<run::RunSummary, RunError>) -> (&'static str, Option<String>) {
    match result {
        Ok(s) => match &s.state {
            RunState::Finished => (fire_state::DONE, None),
            RunState::Failed(r) => (fire_state::FAILED, Some(r.clone())),
            RunState::Cancelled => (
                fire_state::INTERRUPTED,
                Some(
                    "the agent stopped during the run; it resumes when the agent starts again"
                        .into(),
                ),
            ),
        },
        Err(RunError::Refused(r)) => (fire_state::SKIPPED, Some(r.to_string())),
        // The run goes on under another agent, which ends the fire with it.
        Err(RunError::Lost(r)) => (fire_state::INTERRUPTED, Some(r.clone())),
        Err(e) => (fire_state::FAILED, Some(e.to_string())),
    }
}

/// A resumed run ended: the fires it belongs to take its outcome.
async fn end_fires(
    store: &Arc<Mutex<Store>>,
    run_id: &str,
    result: &Result<run::RunSummary, RunError>,
) {
    if matches!(result, Err(RunError::Refused(_) | RunError::Lost(_))) {
        // Not resumed now (or left to the fleet): its fires stay interrupted until
        // the run ends.
        return;
    }
    let (state, reason) = fire_outcome(result);
    let id = run_id.to_string();
    if let Err(e) = db(store, move |s| {
        s.end_fires_of_run(&id, state, reason.as_deref())
    })
    .await
    {
        tracing::error!(run = %run_id, "cannot record the fire: {e}");
    }
}

impl Agent {
    fn schedule(&self, name: &str) -> Option<&ScheduleConfig> {
        self.loaded
            .schedules
            .schedules
            .iter()
            .find(|s| s.name == name)
    }

    /// The earliest next fire of any enabled schedule.
    fn next_fire(&self) -> Option<(String, Fire)> {
        let now = Utc::now();
        self.loaded
            .schedules
            .schedules
            .iter()
            .filter(|s| s.enabled)
            .filter_map(|s| {
                let after = self.cursors.get(&s.name).copied().unwrap_or(now);
                s.schedule.next_after(after).map(|f| (s.name.clone(), f))
            })
            .min_by_key(|(_, f)| f.at)
    }

    /// Resumes the runs a crash or a stop left with items to do (`[agent]
    /// resume_on_start`), before any fire: each marks its schedule busy, so a fire
    /// of that schedule obeys `overlap` while the resumed run goes on.
    async fn resume_unfinished_runs(&mut self) {
        let runs = match db(&self.store, |s| s.runs(None, 10_000)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("cannot list the runs to resume: {e}");
                return;
            }
        };
        // Oldest first: a bot's runs resume in the order they began.
        for r in runs.into_iter().rev().filter(|r| r.unfinished()) {
            if !self.loaded.config.resume_on_start {
                tracing::warn!(run = %r.id, bot = %r.bot, left = r.pending, "an unfinished run waits: `juru runs resume {}` continues it ([agent] resume_on_start = false); new runs of its bot wait until it ends", r.id);
                continue;
            }
            if *self.stop.finish.borrow() {
                return;
            }
            tracing::info!(run = %r.id, bot = %r.bot, state = r.shown_state(), left = r.pending, "resuming an unfinished run");
            let schedule = r.trigger.strip_prefix("schedule:").map(str::to_string);
            if let Some(name) = &schedule {
                self.busy.insert(name.clone());
            }
            let inbox = schedule
                .as_deref()
                .and_then(|n| self.schedule(n))
                .and_then(|sc| match &sc.input {
                    ScheduleInput::Inbox { folder, .. } => Some(folder.clone()),
                    _ => None,
                });
            let opts = self.options(None, r.trigger.clone(), None);
            let (bots, stop, ended, store) = (
                self.paths.bots.clone(),
                self.stop.clone(),
                self.ended.clone(),
                self.store.clone(),
            );
            let outbox = self.outbox();
            let mail_settings = self.loaded.config.mail.clone();
            self.running += 1;
            self.tasks.spawn(async move {
                let result = run::resume(&r.id, &bots, opts, stop).await;
                if let Err(e) = &result {
                    tracing::error!(run = %r.id, bot = %r.bot, "cannot resume the run: {e}");
                }
                end_fires(&store, &r.id, &result).await;
                // An inbox file moves to processed/ once its run has ended for good.
                if let (Some(folder), Ok(s)) = (&inbox, &result) {
                    let file = PathBuf::from(&r.input);
                    if s.state != RunState::Cancelled && file.starts_with(folder) && file.is_file() {
                        match inbox::processed(&file, folder) {
                            Ok(to) => tracing::info!(from = %file.display(), to = %to.display(), "input moved"),
                            Err(e) => tracing::error!(file = %file.display(), "cannot move the input to processed/: {e}"),
                        }
                    }
                }
                flush(&outbox, &mail_settings).await;
                let _ = ended.send(Ended { schedule, fleet_run: None });
            });
        }
    }

    /// At start-up: files an inbox run had taken (moved to `processing/`) go back
    /// to their inbox when no run holds them (the agent died before the run began).
    async fn recover_inboxes(&mut self) {
        let folders: Vec<PathBuf> = self
            .loaded
            .schedules
            .schedules
            .iter()
            .filter_map(|s| match &s.input {
                ScheduleInput::Inbox { folder, .. } => Some(folder.clone()),
                _ => None,
            })
            .collect();
        let inputs: HashSet<String> = match db(&self.store, |s| s.runs(None, 10_000)).await {
            Ok(runs) => runs
                .into_iter()
                .filter(|r| r.shown_state() == "running" || r.unfinished())
                .map(|r| r.input)
                .collect(),
            Err(e) => {
                tracing::error!("cannot list the runs: {e}");
                return;
            }
        };
        for folder in folders {
            for file in inbox::taken(&folder) {
                if inputs.contains(&file.display().to_string()) {
                    continue;
                }
                match inbox::put_back(&file, &folder) {
                    Ok(to) => {
                        tracing::warn!(file = %to.display(), "an inbox file whose run never began is back in the inbox")
                    }
                    Err(e) => {
                        tracing::error!(file = %file.display(), "cannot put the file back into the inbox: {e}")
                    }
                }
            }
        }
    }

    /// At start-up: each enabled schedule runs at most one fire it missed (the
    /// rule is [`Schedule::catch_up`]'s), and every other missed fire is recorded
    /// as skipped. Fires from before the agent first looked after a schedule
    /// (a new schedule, a fresh store) were never its to run.
    async fn catch_up(&mut self) {
        let now = Utc::now();
        let list: Vec<(String, crate::schedule::Schedule, crate::schedule::Missed)> = self
            .loaded
            .schedules
            .schedules
            .iter()
            .filter(|s| s.enabled)
            .map(|s| (s.name.clone(), s.schedule.clone(), s.missed))
            .collect();
        for (name, schedule, missed) in list {
            let n = name.clone();
            let stamp = now.to_rfc3339();
            let since = match db(&self.store, move |s| {
                let watched = s.watched_since(&n, &stamp)?;
                Ok((s.last_fire(&n)?, watched))
            })
            .await
            {
                Ok((last, watched)) => {
                    let parse = |t: &str| {
                        DateTime::parse_from_rfc3339(t)
                            .ok()
                            .map(|t| t.with_timezone(&Utc))
                    };
                    let watched = parse(&watched).unwrap_or(now);
                    Some(
                        last.as_deref()
                            .and_then(parse)
                            .map_or(watched, |l| l.max(watched)),
                    )
                }
                Err(e) => {
                    tracing::error!(schedule = %name, "cannot read the last fire: {e}");
                    None
                }
            };
            self.cursors.insert(name.clone(), now);
            let Some(since) = since else { continue };
            let decision = schedule.catch_up(Some(since), now, missed);
            if !decision.missed.is_empty() {
                tracing::warn!(
                    schedule = %name,
                    missed = decision.missed.len(),
                    more = decision.more_missed,
                    first = %decision.missed[0].at,
                    "fires were missed while the agent was not running; they do not run"
                );
                let (n, keys) = (
                    name.clone(),
                    decision
                        .missed
                        .iter()
                        .map(|f| fire_key(f.at))
                        .collect::<Vec<_>>(),
                );
                if let Err(e) = db(&self.store, move |s| {
                    for k in keys {
                        s.claim_fire(
                            &n,
                            &k,
                            fire_state::SKIPPED,
                            Some("missed: the agent was not running"),
                        )?;
                    }
                    Ok(())
                })
                .await
                {
                    tracing::error!(schedule = %name, "cannot record the missed fires: {e}");
                }
            }
            if let Some(fire) = decision.run {
                tracing::info!(schedule = %name, at = %fire.at, "running a missed fire once");
                self.fire(&name, fire, true).await;
            }
        }
        tracing::info!("caught up: waiting for the next fire");
    }

    /// A schedule fires: record it, then run, queue or skip it.
    async fn fire(&mut self, name: &str, fire: Fire, catching_up: bool) {
        let Some(sc) = self.schedule(name).cloned() else {
            return;
        };
        let key = fire_key(fire.at);
        let late = Utc::now() - fire.at;
        let claim = |state: &'static str, reason: Option<String>| {
            let (n, k) = (name.to_string(), key.clone());
            let store = self.store.clone();
            async move {
                match db(&store, move |s| {
                    s.claim_fire(&n, &k, state, reason.as_deref())
                })
                .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!("cannot record the fire: {e}");
                        false
                    }
                }
            }
        };
        if !catching_up && late > chrono::Duration::from_std(ON_TIME).unwrap_or_default() {
            if claim(
                fire_state::SKIPPED,
                Some(format!(
                    "missed: the agent woke {} s late",
                    late.num_seconds()
                )),
            )
            .await
            {
                tracing::warn!(schedule = %name, at = %fire.at, "fire skipped: the agent woke too late");
            }
            return;
        }
        let n = name.to_string();
        let paused = db(&self.store, move |s| s.is_paused(&n))
            .await
            .unwrap_or_else(|e| {
                tracing::error!("{e}");
                false
            });
        if paused {
            if claim(
                fire_state::SKIPPED,
                Some("paused (juru schedules resume NAME)".into()),
            )
            .await
            {
                tracing::info!(schedule = %name, at = %fire.at, "fire skipped: the schedule is paused");
            }
            return;
        }
        let job = Job {
            fire: Some((name.to_string(), key.clone())),
            bot: sc.bot.clone(),
            input: sc.input.clone(),
            trigger: format!("schedule:{name}"),
            request: None,
        };
        if self.busy.contains(name) {
            match sc.overlap {
                Overlap::Queue if !self.queued.contains_key(name) => {
                    if claim(
                        fire_state::QUEUED,
                        Some("waiting for the previous run of the schedule".into()),
                    )
                    .await
                    {
                        tracing::info!(schedule = %name, at = %fire.at, "fire queued behind the previous run");
                        self.queued.insert(name.to_string(), job);
                    }
                }
                Overlap::Queue => {
                    if claim(
                        fire_state::SKIPPED,
                        Some("the previous run still goes on and a fire is already queued".into()),
                    )
                    .await
                    {
                        tracing::warn!(schedule = %name, at = %fire.at, "fire skipped: one is already queued");
                    }
                }
                Overlap::Skip => {
                    if claim(
                        fire_state::SKIPPED,
                        Some("the previous run still goes on (overlap = \"skip\")".into()),
                    )
                    .await
                    {
                        tracing::warn!(schedule = %name, at = %fire.at, "fire skipped: the previous run still goes on");
                    }
                }
            }
            return;
        }
        if !claim(fire_state::QUEUED, None).await {
            tracing::info!(schedule = %name, at = %fire.at, "fire already recorded (an earlier start or another agent): not run again");
            return;
        }
        tracing::info!(schedule = %name, bot = %sc.bot, at = %fire.at, "schedule fires");
        self.busy.insert(name.to_string());
        self.start_or_wait(job).await;
    }

    /// Starts a job now, or puts it in line for a free run slot.
    async fn start_or_wait(&mut self, job: Job) {
        if self.running >= self.loaded.config.max_concurrent_runs {
            tracing::info!(bot = %job.bot, running = self.running, "waiting for a free run slot (limits.max_concurrent_runs)");
            if let Some((name, key)) = &job.fire {
                record(
                    &self.store,
                    name,
                    key,
                    fire_state::QUEUED,
                    Some("waiting for a free run slot"),
                    None,
                )
                .await;
            }
            self.waiting.push_back(job);
            return;
        }
        self.start(job).await;
    }

    async fn start(&mut self, job: Job) {
        let schedule = job.fire.as_ref().map(|(n, _)| n.clone());
        let input = match &job.input {
            ScheduleInput::Bot => None,
            ScheduleInput::Workbook(p) => Some(p.clone()),
            ScheduleInput::Inbox { folder, pattern } => match inbox::newest(folder, pattern) {
                Ok(Some(p)) => Some(p),
                Ok(None) => {
                    self.not_started(
                        &job,
                        fire_state::SKIPPED,
                        format!(
                            "no input: no file matches {pattern} in {}",
                            folder.display()
                        ),
                    )
                    .await;
                    return;
                }
                Err(e) => {
                    self.not_started(
                        &job,
                        fire_state::FAILED,
                        format!("no input: cannot read {}: {e}", folder.display()),
                    )
                    .await;
                    return;
                }
            },
        };
        let Some(bot) = self.loaded.bots.get(&job.bot).cloned() else {
            self.not_started(
                &job,
                fire_state::FAILED,
                format!(
                    "there is no bot \"{}\" in {}",
                    job.bot,
                    self.paths.bots.display()
                ),
            )
            .await;
            return;
        };
        if *self.stop.finish.borrow() {
            self.not_started(
                &job,
                fire_state::SKIPPED,
                "the agent stopped before it could start".into(),
            )
            .await;
            return;
        }
        // An inbox file leaves the inbox before its run begins: no later fire, and
        // no restart after a crash, takes it a second time.
        let (input, moves) = match (&job.input, input) {
            (ScheduleInput::Inbox { folder, .. }, Some(file)) => match inbox::take(&file, folder) {
                Ok(taken) => (Some(taken.clone()), Some((taken, folder.clone()))),
                Err(e) => {
                    self.not_started(
                        &job,
                        fire_state::FAILED,
                        format!(
                            "no input: cannot move {} to processing/: {e}",
                            file.display()
                        ),
                    )
                    .await;
                    return;
                }
            },
            (_, input) => (input, None),
        };
        if let Some((name, key)) = &job.fire {
            record(&self.store, name, key, fire_state::STARTED, None, None).await;
        }
        let opts = self.options(input, job.trigger.clone(), job.fire.clone());
        let (store, stop, ended) = (self.store.clone(), self.stop.clone(), self.ended.clone());
        let outbox = self.outbox();
        let mail_settings = self.loaded.config.mail.clone();
        let (fire, request) = (job.fire.clone(), job.request);
        self.running += 1;
        tracing::info!(bot = %job.bot, trigger = %job.trigger, "run starting");
        self.tasks.spawn(async move {
            let result = run::run(bot, opts, stop).await;
            match &result {
                Ok(_) => {}
                Err(RunError::Refused(r)) => tracing::warn!("the run does not start: {r}"),
                Err(e) => tracing::error!("the run cannot start: {e}"),
            }
            let (state, reason) = fire_outcome(&result);
            match (&result, &fire) {
                // The run is tied to its fire in the store: end every fire of it.
                (Ok(s), _) => end_fires(&store, &s.id, &result).await,
                (Err(_), Some((name, key))) => {
                    record(&store, name, key, state, reason.as_deref(), None).await
                }
                (Err(_), None) => {}
            }
            if let (Some(id), Err(e)) = (request, &result) {
                let text = format!("refused: {e}");
                let _ = db(&store, move |s| s.set_request_result(id, &text)).await;
            }
            // An inbox file moves to processed/ once its run has ended for good (a
            // run stopped by the agent resumes over it at the next start), and back
            // to the inbox when its run did not begin.
            if let Some((file, folder)) = &moves {
                let moved = match &result {
                    Ok(s) if s.state == RunState::Cancelled => None,
                    Ok(_) => Some(inbox::processed(file, folder)),
                    Err(_) => Some(inbox::put_back(file, folder)),
                };
                match moved {
                    Some(Ok(to)) => {
                        tracing::info!(from = %file.display(), to = %to.display(), "input moved")
                    }
                    Some(Err(e)) => {
                        tracing::error!(file = %file.display(), "cannot move the input: {e}")
                    }
                    None => {}
                }
            }
            flush(&outbox, &mail_settings).await;
            let _ = ended.send(Ended {
                schedule,
                fleet_run: None,
            });
        });
    }

    /// A job that could not start: its fire records why.
    async fn not_started(&mut self, job: &Job, state: &'static str, reason: String) {
        tracing::warn!(bot = %job.bot, "{reason}");
        if let Some((name, key)) = &job.fire {
            record(&self.store, name, key, state, Some(&reason), None).await;
            self.busy.remove(name);
        }
    }

    /// A run ended: free its slot, start what waited for it.
    async fn run_ended(&mut self, e: Ended) {
        self.running = self.running.saturating_sub(1);
        if let Some(id) = &e.fleet_run {
            self.fleet_runs.remove(id);
        }
        if let Some(name) = e.schedule {
            self.busy.remove(&name);
            if let Some(job) = self.queued.remove(&name) {
                tracing::info!(schedule = %name, "starting the queued fire");
                self.busy.insert(name);
                self.waiting.push_back(job);
            }
        }
        while self.running < self.loaded.config.max_concurrent_runs {
            let Some(job) = self.waiting.pop_front() else {
                break;
            };
            self.start(job).await;
        }
    }

    /// On a shared store: takes part in the runs other agents own that have free
    /// items, with this agent's share of the bot's `run.workers` (the run's
    /// browsers across the fleet), within `max_concurrent_runs`.
    async fn take_part(&mut self) {
        if *self.stop.finish.borrow() || self.running >= self.loaded.config.max_concurrent_runs {
            return;
        }
        let found = db(&self.store, |s| Ok((s.open_runs()?, s.agents()?))).await;
        let (open, agents) = match found {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("cannot look for runs of the fleet: {e}");
                return;
            }
        };
        let alive = agents.iter().filter(|a| a.alive).count().max(1);
        for r in open {
            if self.running >= self.loaded.config.max_concurrent_runs {
                return;
            }
            if self.fleet_runs.contains(&r.id) {
                continue;
            }
            let Ok(bot) = bot::load(&self.paths.bots, &r.bot) else {
                continue;
            };
            let share = bot.run.workers.div_ceil(alive) as i64;
            let seats = (bot.run.workers as i64 - r.busy)
                .min(share)
                .min(r.free)
                .min(
                    self.loaded
                        .config
                        .max_browsers
                        .saturating_sub(run::browser_seats_taken()) as i64,
                )
                .min(
                    bot.run
                        .max_browsers
                        .map_or(i64::MAX, |m| m as i64 - r.bot_busy),
                );
            if seats <= 0 {
                continue;
            }
            tracing::info!(run = %r.id, bot = %r.bot, workers = seats, free = r.free, "taking part in a run of the fleet");
            self.spawn_fleet_run(r.id, move |id, bots, opts, stop| async move {
                run::join(&id, &bots, seats as usize, opts, stop).await
            });
        }
    }

    /// On a shared store: continues the runs whose owner died (its lease ran
    /// out). The store lets one agent claim each; the others are refused.
    async fn take_over_dead_runs(&mut self) {
        if *self.stop.finish.borrow() || self.running >= self.loaded.config.max_concurrent_runs {
            return;
        }
        let runs = match db(&self.store, |s| s.runs(None, 200)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("cannot look for runs of the fleet: {e}");
                return;
            }
        };
        for r in runs.into_iter().rev() {
            // Also a run whose items all ended but whose owner died before it wrote
            // the outputs: the resume writes them.
            if r.state != "running" || r.shown_state() != "interrupted" {
                continue;
            }
            if self.fleet_runs.contains(&r.id) || bot::load(&self.paths.bots, &r.bot).is_err() {
                continue;
            }
            if self.running >= self.loaded.config.max_concurrent_runs {
                return;
            }
            tracing::warn!(run = %r.id, bot = %r.bot, left = r.pending, "the agent that owned a run is gone: taking it over");
            self.spawn_fleet_run(r.id, |id, bots, opts, stop| async move {
                run::resume(&id, &bots, opts, stop).await
            });
        }
    }

    /// Runs a fleet run's part (`work`) as one of the agent's runs.
    fn spawn_fleet_run<F, Fut>(&mut self, id: String, work: F)
    where
        F: FnOnce(String, PathBuf, RunOptions, Stop) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<RunSummary, RunError>> + Send + 'static,
    {
        self.fleet_runs.insert(id.clone());
        self.running += 1;
        let opts = self.options(None, "fleet".into(), None);
        let (bots, stop, ended, store) = (
            self.paths.bots.clone(),
            self.stop.clone(),
            self.ended.clone(),
            self.store.clone(),
        );
        let outbox = self.outbox();
        let mail_settings = self.loaded.config.mail.clone();
        self.tasks.spawn(async move {
            let result = work(id.clone(), bots, opts, stop).await;
            match &result {
                Ok(s) if s.counts.total > 0 => end_fires(&store, &id, &result).await,
                Ok(_) => {}
                Err(RunError::Refused(r)) => {
                    tracing::debug!(run = %id, "another agent has the run: {r}")
                }
                Err(e) => tracing::error!(run = %id, "cannot work on the run: {e}"),
            }
            flush(&outbox, &mail_settings).await;
            let _ = ended.send(Ended {
                schedule: None,
                fleet_run: Some(id),
            });
        });
    }

    /// `juru trigger BOT` requests: run the bot now, as `manual`.
    async fn take_requests(&mut self) {
        // On a fleet's store, the requests for bots this agent does not have (or all
        // of them while it stops) are left to the other agents.
        let shared = self.loaded.config.store.url.is_some();
        let bots: Vec<String> = match *self.stop.finish.borrow() {
            true => Vec::new(),
            false => self.loaded.bots.keys().cloned().collect(),
        };
        let requests = match db(&self.store, move |s| match shared {
            true => s.take_requests_for(&bots),
            false => s.take_requests(),
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("cannot read trigger requests: {e}");
                return;
            }
        };
        for r in requests {
            tracing::info!(bot = %r.bot, request = r.id, "run requested (juru trigger)");
            let refused = if *self.stop.finish.borrow() {
                Some("the agent is stopping".to_string())
            } else if !self.loaded.bots.contains_key(&r.bot) {
                Some(format!(
                    "there is no bot \"{}\" in {}",
                    r.bot,
                    self.paths.bots.display()
                ))
            } else {
                let bot = r.bot.clone();
                match db(&self.store, move |s| s.admission(&bot, None, None, None)).await {
                    Ok(refusal) => refusal.map(|r| r.to_string()),
                    Err(e) => Some(e.to_string()),
                }
            };
            let id = r.id;
            let result = match &refused {
                Some(why) => {
                    tracing::warn!(bot = %r.bot, request = id, "request refused: {why}");
                    format!("refused: {why}")
                }
                None => "started".to_string(),
            };
            if let Err(e) = db(&self.store, move |s| s.set_request_result(id, &result)).await {
                tracing::error!("cannot record the request's result: {e}");
            }
            if refused.is_some() {
                continue;
            }
            let job = Job {
                fire: None,
                bot: r.bot,
                input: match r.input {
                    Some(path) => ScheduleInput::Workbook(PathBuf::from(path)),
                    None => ScheduleInput::Bot,
                },
                trigger: "manual".into(),
                request: Some(id),
            };
            self.start_or_wait(job).await;
        }
    }

    /// Loads the configuration again; keeps the old one when the new one is invalid.
    fn reload(&mut self) {
        match load(&self.paths) {
            Ok(loaded) => {
                let now = Utc::now();
                let names: Vec<String> = loaded
                    .schedules
                    .schedules
                    .iter()
                    .map(|s| s.name.clone())
                    .collect();
                // Fires from before the reload are not the new configuration's to run.
                self.cursors.retain(|n, _| names.contains(n));
                for n in names {
                    let c = self.cursors.entry(n).or_insert(now);
                    *c = (*c).max(now);
                }
                tracing::info!(
                    schedules = loaded.schedules.schedules.len(),
                    bots = loaded.bots.len(),
                    "configuration reloaded"
                );
                self.loaded = loaded;
            }
            Err(problems) => {
                for p in &problems.0 {
                    tracing::error!("{p}");
                }
                tracing::error!(
                    problems = problems.len(),
                    "the new configuration is refused; the old schedules keep running"
                );
            }
        }
    }

    fn options(
        &self,
        input: Option<PathBuf>,
        trigger: String,
        fire: Option<(String, String)>,
    ) -> RunOptions {
        RunOptions {
            fire,
            config: self.loaded.config.clone(),
            data_dir: self.paths.data.clone(),
            input,
            vars: BTreeMap::new(),
            secrets: BTreeMap::new(),
            trigger,
            progress: false,
        }
    }

    fn outbox(&self) -> mail::Outbox {
        mail::Outbox::new(self.paths.data.join(&self.loaded.config.mail.outbox))
    }

    /// Watches the config folder, the store and the outbox for changes.
    fn watcher(&self) -> wake::Watcher {
        let store = self
            .store
            .lock()
            .ok()
            .and_then(|s| s.path().map(Path::to_path_buf));
        wake::Watcher::new(&self.paths.config, store.as_deref(), self.outbox().dir())
    }

    /// When to retry pending outbox mail next: when the first pending message is
    /// due, but not sooner than [`MAIL_GAP`] after the last retry; `None` when
    /// nothing is pending.
    async fn next_mail(&self, last: tokio::time::Instant) -> Option<tokio::time::Instant> {
        let outbox = self.outbox();
        let pending = tokio::task::spawn_blocking(move || outbox.entries(mail::Folder::Pending))
            .await
            .ok()?;
        let due = match pending {
            Ok(entries) => entries
                .iter()
                .map(|e| e.next_attempt.unwrap_or(e.queued_at))
                .min()?,
            Err(e) => {
                tracing::warn!("cannot read the outbox: {e}");
                return None;
            }
        };
        let wait = (due - Utc::now()).to_std().unwrap_or_default();
        Some((tokio::time::Instant::now() + wait).max(last + MAIL_GAP))
    }

    /// Retries the pending mail that is due, in the background.
    fn flush_mail(&mut self) {
        let outbox = self.outbox();
        let settings = self.loaded.config.mail.clone();
        self.tasks
            .spawn(async move { flush(&outbox, &settings).await });
    }
}

/// Tries the pending messages whose next attempt is due; logs what became of them.
async fn flush(outbox: &mail::Outbox, settings: &mail::Settings) {
    if !outbox.dir().join("pending").is_dir() {
        return;
    }
    match outbox
        .flush(settings, mail::outbox::Flush::Due(Utc::now()))
        .await
    {
        Ok(attempts) => {
            for a in attempts {
                match a {
                    Ok(a) => match &a.outcome {
                        mail::Outcome::Sent { .. } | mail::Outcome::Written => {
                            tracing::info!(mail = %a.entry.id, "mail delivered")
                        }
                        mail::Outcome::Waiting { reason, .. } => {
                            tracing::warn!(mail = %a.entry.id, "mail still waits: {reason}")
                        }
                        mail::Outcome::Refused { answer }
                        | mail::Outcome::GaveUp { reason: answer } => {
                            tracing::error!(mail = %a.entry.id, "mail refused: {answer}")
                        }
                        mail::Outcome::NotPending => {}
                    },
                    Err(e) => tracing::error!("mail: {e}"),
                }
            }
        }
        Err(e) => tracing::error!("mail outbox: {e}"),
    }
}
