//! The workers of a run: each one a blocking thread with its own script host and
//! browser session, taking items from the run's queue until it is empty or the run
//! is told to stop.
//!
//! A worker runs the script's `init()` before its first item; its browser session
//! opens only when the script first uses `browser` (the run's chromedriver starts
//! then too), and `login()` runs in every session that opens. A restart after a
//! system exception closes the session; the next use opens a new one.
//!
//! For every item a worker writes each state change to the store before the next
//! one starts (`in_progress`, `submitted`, then how it ended). A system exception is
//! retried after a browser restart, up to `max_retries`, but only where that is safe:
//! once the script called `item.submitted()`, the item may already be in the legacy
//! system, so the script's `verify(item)` decides, and without one a person does
//! (`needs_verification`). Consecutive system exceptions across all workers open the
//! circuit breaker and stop the run.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::runtime::Handle;

use super::cells;
use super::Stop;
use crate::browser::{self, Browser, LazyDriver};
use crate::script::{
    Host, HostContext, ItemInput, Redactor, ScriptError, ScriptMail, Sessions, Source,
};
use crate::sheet::Cell;
use crate::store::{self, ItemEnd, Store, StoreError};

/// One item as a worker gets it.
#[derive(Debug, Clone)]
pub(super) struct WorkItem {
    pub idx: usize,
    pub row: u32,
    pub cells: Vec<Cell>,
    /// Left `in_progress` after `item.submitted()` by a run that died: maybe in the
    /// system already.
    pub maybe_submitted: bool,
}

/// Everything the workers of one run share.
pub(super) struct Job {
    pub script: Source,
    pub headers: Vec<String>,
    pub items: Vec<WorkItem>,
    pub queue: Mutex<VecDeque<usize>>,
    pub store: Mutex<Store>,
    pub run_id: String,
    pub work_dir: PathBuf,
    pub bot_dir: PathBuf,
    pub handle: Handle,
    pub stop: Stop,
    pub settings: browser::Settings,
    /// The run's chromedriver, started on the first browser use.
    pub driver: Arc<LazyDriver>,
    pub vars: std::collections::BTreeMap<String, toml::Value>,
    pub secrets: std::collections::BTreeMap<String, String>,
    pub redactor: Redactor,
    pub bot: String,
    pub timeout: Duration,
    pub mail: ScriptMail,
    pub login_detect: String,
    /// Folders besides the bot's and the run's the script may read files from.
    pub input_dirs: Vec<PathBuf>,
    /// `[login] attempts`.
    pub login_attempts: u32,
    /// `[run] verify_first`: every item is looked up before it is typed.
    pub verify_first: bool,
    pub rules: crate::bot::Rules,
    pub max_retries: u32,
    pub breaker_limit: usize,
    /// When the whole run must stop (`[run] timeout`), if ever.
    pub deadline: Option<(Instant, Duration)>,
    /// Least time between two item starts (a rate limit), if any.
    pub spacing: Option<Duration>,
    pub next_start: Mutex<Instant>,
    /// System exceptions in a row, across workers.
    pub consecutive: AtomicUsize,
    /// Why the run must stop early (circuit breaker, store failure), if it must.
    pub failure: Mutex<Option<String>>,
    pub commands: AtomicU64,
    /// Of `commands`, those that started browser sessions (not part of any item).
    pub start_commands: AtomicU64,
    pub progress: Progress,
    /// Workers still taking items.
    pub active: AtomicUsize,
    /// On a store a fleet shares: items are claimed from the store, not from
    /// `queue`, by the workers of every agent taking part in the run.
    pub fleet: Option<FleetRole>,
    /// `[limits] max_browsers`: browser seats of this process, across its runs.
    pub max_browsers: usize,
    /// The bot's `[run] max_browsers`: its items in browsers at once, across its
    /// runs (and, on a fleet, every agent).
    pub bot_max_browsers: Option<usize>,
    /// Items claimed from the store that carried a submitted mark.
    pub claimed_submitted: Mutex<std::collections::HashSet<usize>>,
    /// On a fleet: why this process stopped working on the run because its lease
    /// could run out (or ran out), if it did. Nothing more is typed or recorded;
    /// the run is left to the fleet ([`crate::store::Store::let_go`]).
    pub lost: Mutex<Option<String>>,
    /// The lapses of this process's lease when the run began here: another one
    /// since means the lease ran out in between.
    pub lapses: u64,
}

/// How this process takes part in a run whose items the fleet shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FleetRole {
    /// This process owns the run: its workers wait for the items other agents
    /// hold, and it writes the outputs once every item ended. A process that
    /// only takes part stops when no item is free.
    pub owns_run: bool,
}

/// How long an owner's idle worker waits before it looks for free items again.
const FLEET_LOOK: Duration = Duration::from_secs(1);

/// Counters for the progress line.
#[derive(Debug, Default)]
pub(super) struct Progress {
    pub done: AtomicUsize,
    pub exceptions: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Job {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn fail_run(&self, reason: String) {
        let mut f = lock(&self.failure);
        if f.is_none() {
            tracing::error!("the run stops: {reason}");
            *f = Some(reason);
        }
    }

    /// Stops the run (from outside the workers).
    pub fn fail_run_now(&self, reason: String) {
        self.fail_run(reason);
    }

    pub fn failed(&self) -> Option<String> {
        lock(&self.failure).clone()
    }

    pub(super) fn stopping(&self) -> bool {
        *self.stop.finish.borrow()
            || *self.stop.abort.borrow()
            || self.failed().is_some()
            || self.lost_reason().is_some()
    }

    /// On a fleet: the run's items in progress anywhere and free now.
    pub(super) fn fleet_use(&self) -> Option<(i64, i64)> {
        self.fleet?;
        self.store().run_use(&self.run_id).ok()
    }

    /// Counts one more worker, unless every worker already stopped (then the run
    /// is ending, and `false`).
    pub(super) fn add_worker(&self) -> bool {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n > 0).then_some(n + 1)
            })
            .is_ok()
    }

    /// Why this process stopped working on a fleet's run, if it did ([`Job::lost`]).
    pub fn lost_reason(&self) -> Option<String> {
        lock(&self.lost).clone()
    }

    /// This process stops working on the run: it may no longer hold what it
    /// claimed.
    fn lose(&self, why: String) {
        let mut lost = lock(&self.lost);
        if lost.is_none() {
            tracing::error!(
                "this agent stops working on the run and sends nothing more to the browser: {why}; the items it held go back to the fleet (those it had submitted are looked up first with verify(item))"
            );
            *lost = Some(why);
        }
    }

    /// Whether this process may still act on the run's items: always on one
    /// machine; on a fleet, while its own lease holds and has not run out since
    /// the run began here. Asked before every item and every browser command.
    pub(super) fn hold(&self) -> bool {
        if self.fleet.is_none() {
            return true;
        }
        if self.lost_reason().is_some() {
            return false;
        }
        match store::fleet::lease_state() {
            store::fleet::LeaseState::None => true,
            store::fleet::LeaseState::Fresh { lapses } if lapses == self.lapses => true,
            store::fleet::LeaseState::Fresh { .. } => {
                self.lose("its lease ran out for a while (the store could not be reached, or the process was held up), so other agents may have taken over its items".into());
                false
            }
            store::fleet::LeaseState::Stale(d) => {
                self.lose(format!(
                    "no heartbeat of this agent reached the store for {} s, so other agents may soon take it for dead and take over its items",
                    d.as_secs()
                ));
                false
            }
        }
    }

    fn next(&self) -> Option<usize> {
        if let Some((at, limit)) = self.deadline {
            if Instant::now() >= at {
                self.fail_run(format!(
                    "the run reached its time limit of {} min (run.timeout); the remaining items stay pending: `juru runs resume {}` continues",
                    limit.as_secs() / 60,
                    self.run_id
                ));
            }
        }
        if self.stopping() {
            return None;
        }
        let Some(role) = self.fleet else {
            return lock(&self.queue).pop_front();
        };
        loop {
            if !self.hold() {
                return None;
            }
            let claimed = self
                .store()
                .claim_item_within(&self.run_id, self.bot_max_browsers);
            match claimed {
                Ok(Some((idx, submitted))) => {
                    if submitted {
                        lock(&self.claimed_submitted).insert(idx);
                    }
                    return Some(idx);
                }
                Ok(None) => {}
                Err(e) => {
                    self.fail_run(e.to_string());
                    return None;
                }
            }
            if !role.owns_run {
                return None;
            }
            // Items held by other agents may still come back (an agent that dies
            // loses its lease): the owner waits until every item ended.
            let left = self.store().items_left(&self.run_id);
            match left {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    self.fail_run(e.to_string());
                    return None;
                }
            }
            self.sleep(FLEET_LOOK);
            if self.stopping() {
                return None;
            }
        }
    }

    /// Puts back an item this worker took but did not try.
    fn give_back(&self, idx: usize) {
        match self.fleet {
            None => lock(&self.queue).push_front(idx),
            Some(_) => {
                let r = self.store().release_item(&self.run_id, idx);
                self.record("giving back an item", r);
            }
        }
    }

    /// Whether the item may already be in the legacy system (an earlier attempt,
    /// a dead run or a dead agent left it after `item.submitted()`).
    fn maybe_submitted(&self, idx: usize) -> bool {
        self.items[idx].maybe_submitted || lock(&self.claimed_submitted).contains(&idx)
    }

    /// Waits for the rate limit's next slot (cancellable).
    fn pace(&self) {
        let Some(spacing) = self.spacing else { return };
        let wait = {
            let mut next = lock(&self.next_start);
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + spacing;
            at - now
        };
        self.sleep(wait);
    }

    /// Sleeps, waking early when the run is told to stop.
    fn sleep(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        let mut finish = self.stop.finish.clone();
        self.handle.block_on(async {
            tokio::select! {
                _ = tokio::time::sleep(d) => {},
                _ = finish.wait_for(|s| *s) => {},
            }
        });
    }

    fn record(&self, what: &str, r: Result<(), StoreError>) {
        match r {
            Ok(()) => {}
            // Fenced: another agent holds the item now.
            Err(e) if e.lost => self.lose(e.message),
            Err(e) => self.fail_run(format!("{what}: {e}")),
        }
    }
}

/// How one attempt at an item ended, before deciding what comes next.
enum Attempt {
    Done(Vec<(String, Cell)>),
    Failed {
        error: ScriptError,
        submitted: bool,
        outputs: Vec<(String, Cell)>,
    },
}

/// Runs one worker until the queue is empty or the run stops. Returns the WebDriver
/// commands it sent.
pub(super) fn work(job: Arc<Job>, worker: usize) {
    let context = HostContext {
        handle: job.handle.clone(),
        cancel: job.stop.abort.clone(),
        work_dir: job.work_dir.clone(),
        bot_dir: job.bot_dir.clone(),
        vars: job.vars.clone(),
        secrets: job.secrets.clone(),
        bot: job.bot.clone(),
        top_level_limit: crate::script::TOP_LEVEL_LIMIT,
        redactor: job.redactor.clone(),
    };
    let mut host = match Host::new(&job.script, context) {
        Ok(h) => h,
        Err(e) => {
            job.fail_run(format!(
                "the script failed before the first item: {}",
                e.message()
            ));
            return;
        }
    };
    host.set_mail(Some(job.mail.clone()));
    host.set_input_dirs(job.input_dirs.clone());
    let current: Arc<Mutex<Option<usize>>> = Arc::new(Mutex::new(None));
    {
        let job = job.clone();
        let current = current.clone();
        host.set_submitted_hook(Box::new(move || {
            if let Some(idx) = *lock(&current) {
                let r = job.store().item_submitted(&job.run_id, idx);
                job.record("recording a submission", r);
            }
        }));
    }
    let counts = Counts::default();
    host.set_sessions(Box::new(Opener {
        job: job.clone(),
        starts: counts.starts.clone(),
    }));
    let mut session = Session {
        initialized: false,
        counts,
    };
    // A browser seat of the agent (`[limits] max_browsers` across its runs), held
    // until this worker stops.
    let seat = {
        let (mut finish, mut abort) = (job.stop.finish.clone(), job.stop.abort.clone());
        let max = job.max_browsers;
        job.handle.block_on(async {
            let take = async {
                let agent = super::seats::take(super::seats::AGENT, max, || {
                    tracing::info!(
                        worker,
                        "waiting for a browser: all {max} of [limits] max_browsers are in use by other runs of this agent"
                    )
                })
                .await;
                let bot = match job.bot_max_browsers {
                    Some(limit) => Some(
                        super::seats::take(&job.bot, limit, || {
                            tracing::info!(
                                worker,
                                "waiting for a browser: all {limit} of the bot's [run] max_browsers are in use by its other runs"
                            )
                        })
                        .await,
                    ),
                    None => None,
                };
                (agent, bot)
            };
            // A run that fails meanwhile (its other workers hit the circuit
            // breaker, its time limit) needs no seat: look now and then.
            let failed = async {
                loop {
                    tokio::time::sleep(FLEET_LOOK).await;
                    if job.stopping() {
                        break;
                    }
                }
            };
            tokio::select! {
                seats = take => Some(seats),
                _ = finish.wait_for(|s| *s) => None,
                _ = abort.wait_for(|s| *s) => None,
                _ = failed => None,
            }
        })
    };
    let next = || seat.as_ref().and_then(|_| job.next());
    while let Some(idx) = next() {
        if !session.initialized {
            if let Err(reason) = session.init(&mut host, &job) {
                // Put the item back: it was never tried.
                job.give_back(idx);
                if let Some(reason) = reason {
                    job.fail_run(reason);
                }
                break;
            }
        }
        if (job.maybe_submitted(idx) || job.verify_first) && host.defines("verify", 1) {
            // verify(item) comes first for this item: open the browser (and log in)
            // before its start is recorded, so a stop or a failing login leaves it
            // untouched.
            if host.open_browser(job.timeout).is_err() || job.stopping() {
                job.give_back(idx);
                break;
            }
        }
        *lock(&current) = Some(idx);
        handle_item(&mut host, &job, &mut session, worker, idx);
        *lock(&current) = None;
    }
    // The last worker to stop calls the script's finish() once for the run.
    let last = job.active.fetch_sub(1, Ordering::AcqRel) == 1;
    let owner = job.fleet.is_none_or(|r| r.owns_run);
    if last && owner && job.failed().is_none() && !job.stopping() && session.initialized {
        let records = job.store().items(&job.run_id);
        let items = match records {
            Ok(records) => super::results::finished_items(&job.headers, &records),
            Err(e) => {
                tracing::warn!("cannot read the run's items for finish(run): {e}");
                Vec::new()
            }
        };
        if let Err(e) = host.finish(&job.run_id, &items, job.timeout) {
            tracing::warn!(
                "the script's finish() failed: {}",
                job.redactor.redact(&e.message())
            );
        }
    }
    session.close(&host, &job);
}

struct Session {
    /// The script's `init()` ran.
    initialized: bool,
    counts: Counts,
}

/// The worker's WebDriver commands beyond those of its current browser session.
#[derive(Default, Clone)]
struct Counts {
    /// Sent by the sessions this worker closed (restarts).
    closed: std::rc::Rc<std::cell::Cell<u64>>,
    /// Sent to start sessions (new session, download folder): counted apart from
    /// the items that happened to open them.
    starts: Arc<AtomicU64>,
}

impl Counts {
    /// Commands that belong to items: all the worker sent, less session starts.
    fn of_items(&self, host: &Host) -> u64 {
        (self.closed.get() + commands_of(host)).saturating_sub(self.starts.load(Ordering::Relaxed))
    }
}

impl Session {
    /// Runs the script's `init()` once, before the worker's first item. `Err(None)`:
    /// the run was stopped meanwhile (the item is not started); `Err(Some(reason))`:
    /// the run must stop.
    fn init(&mut self, host: &mut Host, job: &Job) -> Result<(), Option<String>> {
        match host.call_optional("init", job.timeout) {
            Ok(_) => {}
            // Also when login() failed in a browser init() opened: the reason is
            // already the run's.
            Err(ScriptError::Cancelled) => return Err(None),
            Err(e) => {
                return Err(Some(format!(
                    "the script's init() failed: {}",
                    job.redactor.redact(&e.message())
                )))
            }
        }
        self.initialized = true;
        if job.stopping() {
            return Err(None);
        }
        Ok(())
    }

    /// Restarts the browser session after a system exception: closes it; the next
    /// use of `browser` opens a new one and runs `login()` in it. (A browser that
    /// cannot open then stops the run, so this itself does not fail.)
    fn restart(&mut self, host: &mut Host, job: &Job) -> Result<(), String> {
        self.close(host, job);
        Ok(())
    }

    fn close(&mut self, host: &Host, job: &Job) {
        if let Some(b) = host.set_browser(None) {
            job.commands.fetch_add(b.commands(), Ordering::Relaxed);
            self.counts
                .closed
                .set(self.counts.closed.get() + b.commands());
            job.handle.block_on(b.close());
        }
    }
}

/// Opens a worker's browser sessions when its script first uses `browser`.
struct Opener {
    job: Arc<Job>,
    starts: Arc<AtomicU64>,
}

impl Sessions for Opener {
    fn open(&mut self) -> Result<Browser, ScriptError> {
        let job = &self.job;
        let downloads = job.work_dir.join("downloads");
        let mut abort = job.stop.abort.clone();
        let opened = job.handle.block_on(async {
            let open = async {
                let url = job.driver.url().await?;
                Browser::open(&url, &job.settings, Some(&downloads)).await
            };
            tokio::select! {
                r = open => Some(r),
                _ = abort.wait_for(|a| *a) => None,
            }
        });
        match opened {
            Some(Ok(browser)) => {
                if job.fleet.is_some() {
                    // On a fleet: no command acts on the system once this process
                    // may have lost what it holds (the job is not kept alive by it).
                    let weak = Arc::downgrade(job);
                    browser
                        .set_act_guard(Arc::new(move || weak.upgrade().is_none_or(|j| j.hold())));
                }
                self.starts
                    .fetch_add(browser.start_commands(), Ordering::Relaxed);
                job.start_commands
                    .fetch_add(browser.start_commands(), Ordering::Relaxed);
                Ok(browser)
            }
            Some(Err(e)) => Err(ScriptError::System {
                message: e.to_string(),
                kind: e.kind().to_string(),
            }),
            None => Err(ScriptError::Cancelled),
        }
    }

    fn stop_requested(&self) -> bool {
        self.job.stopping()
    }

    fn may_act(&self) -> bool {
        self.job.hold()
    }

    fn failed(&mut self, reason: String) {
        self.job.fail_run(reason);
    }

    fn login_attempts(&self) -> u32 {
        self.job.login_attempts
    }

    fn discard(&mut self, browser: Browser) {
        self.job
            .commands
            .fetch_add(browser.commands(), Ordering::Relaxed);
        self.job.handle.block_on(browser.close());
    }
}

fn commands_of(host: &Host) -> u64 {
    host.browser().as_ref().map_or(0, |b| b.commands())
}

fn input_of(job: &Job, item: &WorkItem) -> ItemInput {
    ItemInput {
        index: item.idx,
        row: item.row,
        fields: job
            .headers
            .iter()
            .cloned()
            .zip(item.cells.iter().cloned())
            .collect(),
    }
}

/// Is the browser looking at the login page? Then log in again.
fn relogin_if_expired(host: &mut Host, job: &Job, row: u32) -> bool {
    if !host.defines("login", 0) {
        return false;
    }
    let on_login_page = {
        let browser = host.browser();
        let Some(browser) = browser.as_ref() else {
            return false;
        };
        job.handle.block_on(async {
            let _ = browser.clear_dialog().await;
            browser.exists(&job.login_detect).await.unwrap_or(false)
        })
    };
    if !on_login_page {
        return false;
    }
    tracing::warn!(
        row,
        "the session expired (the login page is showing): logging in again and retrying the item"
    );
    match host.call_optional("login", job.timeout) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(
                row,
                "the script's login() failed: {}",
                job.redactor.redact(&e.message())
            );
            false
        }
    }
}

/// One try of `process(item)`, with one more after a re-login when the session had
/// expired (and nothing was submitted yet).
fn attempt(host: &mut Host, job: &Job, item: &WorkItem) -> Attempt {
    let input = input_of(job, item);
    let mut result = host.process(input.clone(), job.timeout);
    if matches!(
        result,
        Err(ScriptError::System { .. }) | Err(ScriptError::TimedOut { .. })
    ) && !host.last_submitted()
        && relogin_if_expired(host, job, item.row)
    {
        result = host.process(input, job.timeout);
    }
    match result {
        Ok(r) => Attempt::Done(r.outputs),
        Err(error) => Attempt::Failed {
            error,
            submitted: host.last_submitted(),
            outputs: host.last_outputs(),
        },
    }
}

/// The screenshot and where the page was, bounded in time.
fn evidence(
    host: &Host,
    job: &Job,
    row: u32,
    attempt: u32,
) -> (Option<String>, Option<String>, Option<String>) {
    let browser = host.browser();
    let Some(browser) = browser.as_ref() else {
        return (None, None, None);
    };
    let relative = if attempt > 1 {
        format!("screenshots/row-{row:04}-{attempt}.png")
    } else {
        format!("screenshots/row-{row:04}.png")
    };
    let full = job.work_dir.join(&relative);
    job.handle.block_on(async {
        let grab = async {
            if let Some(text) = browser.clear_dialog().await {
                tracing::warn!(row, "dismissed an open dialog: {text}");
            }
            let shot = browser
                .screenshot(&full)
                .await
                .ok()
                .map(|_| relative.clone());
            // Recorded with secrets hidden (a script may put one in an address).
            let url = browser.url().await.ok().map(|u| job.redactor.redact(&u));
            let title = browser.title().await.ok().map(|t| job.redactor.redact(&t));
            (shot, url, title)
        };
        tokio::time::timeout(Duration::from_secs(20), grab)
            .await
            .unwrap_or((None, None, None))
    })
}

/// What `verify(item)` found.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    /// The item is in the system.
    Found,
    /// It is not.
    Absent,
    /// Nobody can tell: no `verify`, or it failed (why).
    Unknown(String),
    /// The run stopped before `verify` could look (aborted, or no browser could be
    /// opened or logged in): the item stays pending, its submitted mark kept, so
    /// the next resume looks first.
    Stopped,
}

/// `verify(item)` for an item that may be in the system already.
fn verify(host: &mut Host, job: &Job, item: &WorkItem) -> Verdict {
    if !host.defines("verify", 1) {
        return Verdict::Unknown("the script has no verify(item)".into());
    }
    match host.verify(input_of(job, item), job.timeout) {
        Ok(found) => {
            tracing::info!(row = item.row, found, "verify(item) looked the item up");
            if found {
                Verdict::Found
            } else {
                Verdict::Absent
            }
        }
        Err(ScriptError::Cancelled) => Verdict::Stopped,
        Err(e) => {
            let reason = job.redactor.redact(&e.message());
            tracing::warn!(row = item.row, "verify(item) failed: {reason}");
            Verdict::Unknown(reason)
        }
    }
}

struct End {
    state: &'static str,
    outputs: Vec<(String, Cell)>,
    reason: Option<String>,
    kind: Option<String>,
    evidence: (Option<String>, Option<String>, Option<String>),
}

fn handle_item(host: &mut Host, job: &Job, session: &mut Session, worker: usize, idx: usize) {
    let mut item = job.items[idx].clone();
    item.maybe_submitted = job.maybe_submitted(idx);
    let t0 = Instant::now();
    let counts = session.counts.clone();
    let before = counts.of_items(host);
    let now = || Utc::now().to_rfc3339();
    let end = |host: &Host, e: End| {
        let commands = counts.of_items(host).saturating_sub(before);
        finish(job, host, idx, &item, t0, commands, e)
    };

    // An item a dead run left after `item.submitted()` (or any item, with
    // `[run] verify_first`): look before doing it again.
    if item.maybe_submitted || job.verify_first {
        let r = job.store().item_started(&job.run_id, idx, &now(), worker);
        job.record("recording an item start", r);
        if job.lost_reason().is_some() {
            return;
        }
        match verify(host, job, &item) {
            Verdict::Found => {
                let reason = if item.maybe_submitted {
                    "found in the system by verify(item) after an interrupted run"
                } else {
                    "already in the system (verify(item) found it before typing): not typed again"
                };
                return end(
                    host,
                    End {
                        state: store::state::DONE,
                        outputs: host.last_outputs(),
                        reason: Some(reason.into()),
                        kind: None,
                        evidence: (None, None, None),
                    },
                );
            }
            Verdict::Absent => {
                // Not in the system: it may be done now.
                if item.maybe_submitted {
                    let r = job.store().item_not_submitted(&job.run_id, idx);
                    job.record("recording a verification", r);
                }
            }
            Verdict::Stopped => {
                let r = job.store().item_pending(&job.run_id, idx);
                job.record("recording a pending item", r);
                return;
            }
            Verdict::Unknown(why) if item.maybe_submitted => {
                return end(host, End {
                    state: store::state::NEEDS_VERIFICATION,
                    outputs: Vec::new(),
                    reason: Some(format!("this item may already be in the system (it was submitted before a run stopped or failed), and verify(item) could not look it up ({why}): check in the system whether it arrived")),
                    kind: Some("interrupted".into()),
                    evidence: (None, None, None),
                });
            }
            Verdict::Unknown(why) => {
                count_system(job);
                return end(host, End {
                    state: store::state::SYSTEM_EXCEPTION,
                    outputs: Vec::new(),
                    reason: Some(format!("verify(item) could not look the item up before typing it (run.verify_first), so it was not typed: {why}")),
                    kind: Some("verify".into()),
                    evidence: (None, None, None),
                });
            }
        }
    }

    let mut tries = 0u32;
    loop {
        tries += 1;
        job.pace();
        let r = job.store().item_started(&job.run_id, idx, &now(), worker);
        job.record("recording an item start", r);
        if job.failed().is_some() || job.lost_reason().is_some() {
            return;
        }
        let outcome = attempt(host, job, &item);
        for text in host
            .browser()
            .as_ref()
            .map(|b| b.take_dialogs())
            .unwrap_or_default()
        {
            tracing::warn!(
                row = item.row,
                "an unexpected dialog was handled by policy: {}",
                job.redactor.redact(&text)
            );
        }
        let (error, submitted, outputs) = match outcome {
            Attempt::Done(outputs) => {
                job.consecutive.store(0, Ordering::Relaxed);
                return end(
                    host,
                    End {
                        state: store::state::DONE,
                        outputs,
                        reason: None,
                        kind: None,
                        evidence: (None, None, None),
                    },
                );
            }
            Attempt::Failed {
                error,
                submitted,
                outputs,
            } => (error, submitted, outputs),
        };
        let error = business_by_rule(host, job, error);
        // The HTTP login was refused: every item would be, and each try counts
        // against the account. The run stops; the item was not tried.
        if error.kind() == "login_refused" && !submitted {
            let r = job.store().item_pending(&job.run_id, idx);
            job.record("recording a pending item", r);
            job.fail_run(job.redactor.redact(&error.message()));
            return;
        }
        if error == ScriptError::Cancelled {
            // Aborted mid-item: a later resume picks it up (as "maybe submitted" when
            // it had been submitted).
            if !submitted {
                let r = job.store().item_pending(&job.run_id, idx);
                job.record("recording a pending item", r);
            }
            return;
        }
        let evidence = evidence(host, job, item.row, tries);
        let mut reason = job.redactor.redact(&error.message());
        if let ScriptError::Business { .. } = error {
            job.consecutive.store(0, Ordering::Relaxed);
            return end(
                host,
                End {
                    state: store::state::BUSINESS_EXCEPTION,
                    outputs,
                    reason: Some(reason),
                    kind: Some("business".into()),
                    evidence,
                },
            );
        }
        if let (Some(url), Some(title)) = (&evidence.1, &evidence.2) {
            if !reason.contains(url.as_str()) {
                reason = format!("{reason} (page \"{title}\" at {url})");
            }
        }
        let kind = error.kind().to_string();
        // A mistake in the script, a path it may not use, a missing secret: trying
        // again cannot help.
        let hopeless = matches!(
            kind.as_str(),
            "script"
                | "path"
                | "path_outside"
                | "secret_missing"
                | "field"
                | "workbook"
                | "mail"
                | "limit"
                | "address"
        );
        let last = tries > job.max_retries || job.stopping() || hopeless;
        tracing::warn!(
            row = item.row,
            attempt = tries,
            "system exception: {reason}"
        );

        // Restart the browser before anything else touches the system.
        tracing::info!(
            row = item.row,
            "restarting the browser session after a system exception"
        );
        let restarted = session.restart(host, job);
        if let Err(e) = &restarted {
            tracing::error!(row = item.row, "the browser could not be restarted: {e}");
        }

        if submitted {
            let verdict = if restarted.is_ok() {
                verify(host, job, &item)
            } else {
                Verdict::Unknown("the browser could not be restarted".into())
            };
            if verdict == Verdict::Absent {
                let r = job.store().item_not_submitted(&job.run_id, idx);
                job.record("recording a verification", r);
            }
            match verdict {
                Verdict::Found => {
                    job.consecutive.store(0, Ordering::Relaxed);
                    let mut outputs = outputs;
                    for (name, value) in host.last_outputs() {
                        match outputs.iter_mut().find(|(n, _)| *n == name) {
                            Some(slot) => slot.1 = value,
                            None => outputs.push((name, value)),
                        }
                    }
                    return end(
                        host,
                        End {
                            state: store::state::DONE,
                            outputs,
                            reason: Some(format!(
                                "found in the system by verify(item) after: {reason}"
                            )),
                            kind: None,
                            evidence,
                        },
                    );
                }
                // The run stops before verify(item) could look (the new session's
                // login() failed, or a stop): the item stays pending with its
                // submitted mark, and `juru runs resume` looks first.
                Verdict::Stopped => {
                    tracing::warn!(
                        row = item.row,
                        "the run stops before verify(item) could look the item up; `juru runs resume` looks first: {reason}"
                    );
                    let r = job.store().item_pending(&job.run_id, idx);
                    job.record("recording a pending item", r);
                    return;
                }
                Verdict::Absent if !last && restarted.is_ok() => {}
                verdict => {
                    let absent = verdict == Verdict::Absent;
                    let state = if absent {
                        store::state::SYSTEM_EXCEPTION
                    } else {
                        store::state::NEEDS_VERIFICATION
                    };
                    let reason = if absent {
                        reason
                    } else {
                        format!("failed after the item was submitted, so it was not retried: check in the system whether it arrived ({reason})")
                    };
                    count_system(job);
                    return end(
                        host,
                        End {
                            state,
                            outputs,
                            reason: Some(reason),
                            kind: Some(kind),
                            evidence,
                        },
                    );
                }
            }
        } else if last || restarted.is_err() {
            count_system(job);
            return end(
                host,
                End {
                    state: store::state::SYSTEM_EXCEPTION,
                    outputs,
                    reason: Some(if tries > 1 {
                        format!("{reason} (after {tries} attempts)")
                    } else {
                        reason
                    }),
                    kind: Some(kind),
                    evidence,
                },
            );
        }
        if restarted.is_err() {
            job.fail_run("the browser could not be restarted after a system exception".into());
            return;
        }
        // Back off before the retry: 1 s, 2 s, 4 s…
        job.sleep(Duration::from_secs(1u64 << (tries - 1).min(5)));
        if job.stopping() {
            let r = job.store().item_pending(&job.run_id, idx);
            job.record("recording a pending item", r);
            return;
        }
    }
}

/// `[rules]` of bot.toml: a failure the page explains (its error message is showing)
/// or whose message the bot lists is the data's fault, a business exception.
fn business_by_rule(host: &Host, job: &Job, error: ScriptError) -> ScriptError {
    let ScriptError::System { message, kind } = &error else {
        return error;
    };
    // A value the page does not offer (a select option, a radio button): no retry
    // can make the page offer it; the data must change.
    if kind == "option_missing" {
        return ScriptError::Business {
            message: message.clone(),
        };
    }
    if job
        .rules
        .business_messages
        .iter()
        .any(|m| message.contains(m.as_str()))
    {
        return ScriptError::Business {
            message: message.clone(),
        };
    }
    if let Some(selector) = &job.rules.business_when_visible {
        let browser = host.browser();
        if let Some(browser) = browser.as_ref() {
            let text = job
                .handle
                .block_on(async {
                    let _ = browser.clear_dialog().await;
                    browser.text_if_present(selector).await
                })
                .unwrap_or_default();
            if !text.is_empty() {
                return ScriptError::Business { message: text };
            }
        }
    }
    error
}

fn count_system(job: &Job) {
    let n = job.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
    if job.breaker_limit > 0 && n >= job.breaker_limit {
        job.fail_run(format!(
            "{n} items in a row ended in a system exception, so the run stopped (the system is probably down); the remaining items stay pending"
        ));
    }
}

fn finish(
    job: &Job,
    host: &Host,
    idx: usize,
    item: &WorkItem,
    t0: Instant,
    commands: u64,
    end: End,
) {
    let log: Vec<String> = host.item_log();
    let tail = log
        .iter()
        .rev()
        .take(20)
        .rev()
        .map(|l| job.redactor.redact(l))
        .collect::<Vec<_>>()
        .join("\n");
    let outputs: Vec<(String, Cell)> = end
        .outputs
        .into_iter()
        .map(|(n, c)| match c {
            Cell::Text(t) => (n, Cell::Text(job.redactor.redact(&t))),
            other => (n, other),
        })
        .collect();
    let r = job.store().item_finished(
        &job.run_id,
        idx,
        &ItemEnd {
            state: end.state,
            outputs: &cells::outputs_to_json(&outputs),
            reason: end.reason.as_deref(),
            kind: end.kind.as_deref(),
            screenshot: end.evidence.0.as_deref(),
            page_url: end.evidence.1.as_deref(),
            page_title: end.evidence.2.as_deref(),
            log: (!tail.is_empty()).then_some(tail.as_str()),
            commands: commands as i64,
            finished_at: &Utc::now().to_rfc3339(),
        },
    );
    job.record("recording an item end", r);
    if end.state == store::state::DONE {
        job.progress.done.fetch_add(1, Ordering::Relaxed);
    } else {
        job.progress.exceptions.fetch_add(1, Ordering::Relaxed);
    }
    let took = t0.elapsed().as_secs_f64();
    let word = end.state.replace('_', " ");
    match &end.reason {
        Some(reason) if end.state != store::state::DONE => {
            tracing::info!(row = item.row, commands, "{word} in {took:.1} s: {reason}")
        }
        _ => tracing::info!(row = item.row, commands, "{word} in {took:.1} s"),
    }
}
