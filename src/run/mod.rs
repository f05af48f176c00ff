//! The run engine: one execution of one bot over the rows of its input workbook.
//!
//! Before anything starts, the input is read and checked (a missing file or column
//! is a [`RunError::Invalid`] and leaves nothing behind). Then the run gets its folder
//! `runs/<run-id>/` and its rows in the store, and every row becomes a work item
//! handed to the script's `process(item)` on a blocking thread (chromedriver and the
//! browser start when the script first uses `browser`).
//! Each item ends `done`, `business_exception` (the script called `fail_business`)
//! or `system_exception` (anything else: a screenshot is taken, the browser session
//! is restarted and the run goes on with the next item), and the store records it
//! before the next item starts. At the end come `output.xlsx`, `exceptions.xlsx`
//! and the summary mail.

mod cells;
mod progress;
mod results;
mod seats;
mod worker;

/// How often the owner of a fleet's run looks whether the fleet uses all of the
/// run's browsers (`run.workers`); two looks in a row that find fewer in use and
/// items waiting start another worker of its own.
const GROW_LOOK: Duration = Duration::from_secs(5);

/// Browser seats the workers of this process's runs hold now (`[limits]
/// max_browsers` is for all of them together).
pub fn browser_seats_taken() -> usize {
    seats::taken(seats::AGENT)
}

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::bot::{self, Bot};
use crate::browser::{Driver, LazyDriver};
use crate::config::AgentConfig;
use crate::mail;
use crate::report::{Counts, ItemReport, MailKind, Outcome, RunReport};
use crate::script::Redactor;
use crate::sheet::{self, Table};
use crate::store::{self, NewRun, Store};
use crate::{Problem, Problems};

/// What a run needs besides the bot.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: AgentConfig,
    /// The data folder (`var/`): store, runs, outbox.
    pub data_dir: PathBuf,
    /// Another input workbook than the manifest's.
    pub input: Option<PathBuf>,
    /// `--var NAME=VALUE` overrides of the manifest's `[vars]`.
    pub vars: BTreeMap<String, String>,
    /// Secrets that are not in the environment.
    pub secrets: BTreeMap<String, String>,
    /// Who started the run: `cli`, `demo`, a schedule name.
    pub trigger: String,
    /// Draw a progress line on standard error (when it is a terminal).
    pub progress: bool,
    /// The schedule fire (schedule, scheduled_for key) that starts the run: it is
    /// tied to the run when the run is recorded.
    pub fire: Option<(String, String)>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Every item ended in a known state (business exceptions are normal).
    Finished,
    /// The run stopped early; the reason.
    Failed(String),
    /// Stopped on request (Ctrl-C, SIGTERM).
    Cancelled,
}

impl RunState {
    pub fn word(&self) -> &'static str {
        match self {
            RunState::Finished => "finished",
            RunState::Failed(_) => "failed",
            RunState::Cancelled => "cancelled",
        }
    }
}

/// What a run left behind.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub id: String,
    pub bot: String,
    pub state: RunState,
    pub counts: Counts,
    pub duration: Duration,
    pub dir: PathBuf,
    pub output: PathBuf,
    pub exceptions: PathBuf,
    pub mail: MailStatus,
    /// WebDriver commands sent, and per processed item.
    pub commands: u64,
    /// A resumed run: the rows worked on in this part (`duration` and `commands`
    /// are this part's), and the time since the run's first start, pauses included.
    pub resumed: Option<(usize, Duration)>,
    /// Of `commands`, those that started browser sessions (the first and each
    /// restart): counted in no item.
    pub start_commands: u64,
}

/// What became of the run's mail: every message is written to the outbox, then
/// tried once; what the server did not take waits there for `juru mail flush`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailStatus {
    /// The run's messages (its reports and those its script queued), each after
    /// one delivery attempt.
    pub messages: Vec<mail::Attempt>,
    /// Messages that could not even be written to the outbox, and why.
    pub errors: Vec<String>,
    /// Why the run wrote no message, when it wrote none.
    pub note: Option<String>,
    /// Messages of earlier runs still waiting in the outbox.
    pub older_pending: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input or the bot is not usable; nothing was started.
    #[error("{0}")]
    Invalid(Problems),
    /// The run could not be set up (store, folders).
    #[error("{0}")]
    Failed(String),
    /// Another run of the bot goes on, or waits to be resumed ([`store::gate`]).
    #[error("{0}")]
    Refused(store::Refusal),
    /// On a fleet: this process stopped working on the run because its lease could
    /// run out; the run goes on under another agent (or this one, later).
    #[error("this agent left the run to the fleet: {0}")]
    Lost(String),
}

impl RunError {
    fn begin(e: store::BeginError) -> RunError {
        match e {
            store::BeginError::Refused(r) => RunError::Refused(r),
            store::BeginError::Store(e) => RunError::Failed(e.to_string()),
        }
    }
}

/// How a run is asked to stop: `finish` turning `true` lets the current item end and
/// starts no other; `abort` turning `true` stops the current item at once (between
/// script operations, or in the middle of a browser wait).
#[derive(Debug, Clone)]
pub struct Stop {
    pub finish: watch::Receiver<bool>,
    pub abort: watch::Receiver<bool>,
}

impl Stop {
    /// A stop signal that never fires (and the senders that would fire it).
    pub fn new() -> (Stop, watch::Sender<bool>, watch::Sender<bool>) {
        let (finish_tx, finish) = watch::channel(false);
        let (abort_tx, abort) = watch::channel(false);
        (Stop { finish, abort }, finish_tx, abort_tx)
    }
}

use worker::WorkItem;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `bot` once, until every item ended or `stop` says so.
pub async fn run(bot: Bot, opts: RunOptions, stop: Stop) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let started_at = Utc::now();
    login_secrets_set(&bot, &opts)?;
    let input_path = bot.input_path(opts.input.as_deref());
    let table = read_input(&bot, input_path.clone()).await?;

    // The run's identity, folder and store rows.
    let store_at = opts.config.store_location(&opts.data_dir);
    let mut store = blocking(move || Store::open(store_at))
        .await?
        .map_err(|e| RunError::Failed(e.to_string()))?;
    let input_text = input_path.display().to_string();
    let only_input = bot.run.parallel_runs.then_some(input_text.as_str());
    if let Some(refusal) = store
        .admission(&bot.name, only_input, Some(&input_text), None)
        .map_err(|e| RunError::Failed(e.to_string()))?
    {
        return Err(RunError::Refused(refusal));
    }
    let (id, dir) = new_run_folder(&store, &opts, &bot.name, started_at)?;
    let rows: Vec<store::NewItem> = table
        .rows
        .iter()
        .map(|r| store::NewItem {
            row: r.number as i64,
            data: cells::row_to_json(&r.cells),
            submitted: false,
        })
        .collect();
    let run_dir_text = dir.display().to_string();
    let vars_json = serde_json::to_string(&opts.vars).unwrap_or_else(|_| "{}".into());
    let begun = store.begin_run(
        &NewRun {
            id: &id,
            bot: &bot.name,
            trigger: &opts.trigger,
            input: &input_text,
            dir: &run_dir_text,
            started_at: &started_at.to_rfc3339(),
            headers: &cells::strings_to_json(&table.headers),
            vars: &vars_json,
            parent: None,
            only_input,
            fire: opts.fire.as_ref().map(|(s, k)| (s.as_str(), k.as_str())),
        },
        &rows,
    );
    if let Err(e) = begun {
        // Nothing of the run stays behind.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(RunError::begin(e));
    }
    let passed: Vec<store::passed::PassedRows> = table
        .passed_over
        .iter()
        .map(|p| store::passed::PassedRows {
            first: i64::from(p.first),
            last: i64::from(p.last),
            reason: p.why.code().to_string(),
        })
        .collect();
    if let Err(e) = store.record_passed(&id, &passed) {
        tracing::warn!(run = %id, error = %e, "the passed-over input rows were not recorded");
    }
    if !table.passed_over.is_empty() {
        tracing::info!(
            run = %id,
            passed_over = %sheet::describe_all(&table.passed_over, true),
            "input rows that are not work items"
        );
    }
    tracing::info!(run = %id, bot = %bot.name, items = table.rows.len(), "run started");
    let items: Vec<WorkItem> = table
        .rows
        .iter()
        .enumerate()
        .map(|(idx, r)| WorkItem {
            idx,
            row: r.number,
            cells: r.cells.clone(),
            maybe_submitted: false,
        })
        .collect();
    // Rows whose values are wrong (a formula error, an id Excel stored as a
    // number, a value of a declared column that fails its type) are business
    // exceptions from the start: the script never sees them.
    let english = opts.config.language == crate::config::Language::En;
    let mut todo = Vec::with_capacity(items.len());
    let finished_at = Utc::now().to_rfc3339();
    let no_outputs = cells::outputs_to_json(&[]);
    for (idx, row) in table.rows.iter().enumerate() {
        if row.problems.is_empty() {
            todo.push(idx);
            continue;
        }
        let reason = row
            .problems
            .iter()
            .map(|p| p.describe(english))
            .collect::<Vec<_>>()
            .join("; ");
        let recorded = store.item_finished(
            &id,
            idx,
            &store::ItemEnd {
                state: store::state::BUSINESS_EXCEPTION,
                outputs: &no_outputs,
                reason: Some(&reason),
                kind: Some("input"),
                finished_at: &finished_at,
                ..store::ItemEnd::default()
            },
        );
        match recorded {
            Ok(()) => {
                tracing::info!(run = %id, row = row.number, reason = %reason, "input row refused")
            }
            Err(e) => {
                tracing::warn!(run = %id, row = row.number, error = %e, "an input row's problem was not recorded");
                todo.push(idx);
            }
        }
    }
    let shared = store.location().shared();
    execute(
        Plan {
            bot,
            opts,
            id,
            dir,
            input_text,
            headers: table.headers,
            items,
            todo,
            store,
            started_at,
            started,
            fleet: shared.then_some(worker::FleetRole { owns_run: true }),
        },
        stop,
    )
    .await
}

/// A run ready to work: its items, which of them to do, and its store rows.
struct Plan {
    bot: Bot,
    opts: RunOptions,
    id: String,
    dir: PathBuf,
    input_text: String,
    headers: Vec<String>,
    items: Vec<WorkItem>,
    /// Indices of the items still to do.
    todo: Vec<usize>,
    store: Store,
    started_at: DateTime<Utc>,
    started: Instant,
    /// On a store a fleet shares: how this process takes part (items claimed from
    /// the store); `None` on one machine (items from the plan's `todo`).
    fleet: Option<worker::FleetRole>,
}

/// Starts the driver and the workers, waits for them, writes the outputs from the
/// store (so a resumed run reports every item, also those done before) and mails.
/// Every log line of the run, its workers' included, carries `run` and `bot`.
async fn execute(plan: Plan, stop: Stop) -> Result<RunSummary, RunError> {
    use tracing::Instrument;
    let span = tracing::info_span!("run", run = %plan.id, bot = %plan.bot.name);
    execute_in_span(plan, stop, span.clone())
        .instrument(span)
        .await
}

async fn execute_in_span(
    plan: Plan,
    stop: Stop,
    span: tracing::Span,
) -> Result<RunSummary, RunError> {
    let Plan {
        bot,
        opts,
        id,
        dir,
        input_text,
        headers,
        items,
        todo,
        store,
        started_at,
        started,
        fleet,
    } = plan;
    let commands;
    let todo_count = todo.len();
    let start_commands;
    // The agents of a fleet share the run folder: each keeps its own driver files.
    let own = match fleet {
        Some(_) => format!(".{}", store::fleet::agent_name()),
        None => String::new(),
    };
    let pid_file = dir.join(format!("chromedriver{own}.pid"));
    Driver::kill_recorded(&pid_file);
    crate::browser::sweep_profiles();
    let driver_log = dir.join(format!("chromedriver{own}.log"));
    // chromedriver starts when the script first uses the browser (shared by the workers).
    let driver = Arc::new(LazyDriver::new(
        opts.config.browser.clone(),
        opts.config.browser.driver_log.then(|| driver_log.clone()),
        pid_file.clone(),
    ));
    let lapses_at_start = store::fleet::lapses();
    let (state, store, lost) = {
        {
            // The owner of a fleet's run starts its share of the run's browsers;
            // the other live agents take part with theirs.
            let share = match fleet {
                Some(r) if r.owns_run => store
                    .agents()
                    .map(|a| a.iter().filter(|a| a.alive).count())
                    .unwrap_or(1)
                    .max(1),
                _ => 1,
            };
            let workers = bot
                .run
                .workers
                .div_ceil(share)
                .min(opts.config.max_browsers)
                .min(bot.run.max_browsers.unwrap_or(usize::MAX))
                .min(todo.len())
                .max(1);
            let spacing = bot
                .run
                .rate_per_minute
                .map(|r| Duration::from_secs_f64(60.0 / r));
            let mut secrets_seen: Vec<String> = opts.secrets.values().cloned().collect();
            secrets_seen.extend(opts.config.secrets.values().cloned());
            let mut secrets = opts.config.secrets.clone();
            secrets.extend(opts.secrets.clone());
            let mut settings = bot.browser.apply(opts.config.browser.clone());
            if let Some(http) = &bot.login_http {
                let auth = crate::browser::HttpAuth {
                    user: secret_value(&secrets, &http.user_secret)
                        .map_err(|e| RunError::Failed(format!("[login.http] user: {e}")))?,
                    password: secret_value(&secrets, &http.password_secret)
                        .map_err(|e| RunError::Failed(format!("[login.http] password: {e}")))?,
                    hosts: http.hosts.clone(),
                };
                secrets_seen.push(auth.user.clone());
                secrets_seen.push(auth.password.clone());
                settings.http_auth = Some(auth);
            }
            let job = Arc::new(worker::Job {
                script: bot.script.clone(),
                headers: headers.clone(),
                items: items.clone(),
                queue: Mutex::new(todo.iter().copied().collect::<VecDeque<_>>()),
                store: Mutex::new(store),
                run_id: id.clone(),
                work_dir: dir.clone(),
                bot_dir: bot.dir.clone(),
                handle: Handle::current(),
                stop: stop.clone(),
                settings,
                driver: driver.clone(),
                vars: script_vars(&bot.vars, &opts.vars),
                redactor: Redactor::new(secrets_seen.iter()),
                secrets,
                bot: bot.name.clone(),
                timeout: bot.timeout_per_item,
                mail: crate::script::ScriptMail {
                    outbox: opts.data_dir.join(&opts.config.mail.outbox),
                    from: opts.config.mail.from.clone(),
                    run_id: id.clone(),
                },
                login_detect: bot.login_detect.clone(),
                login_attempts: bot.run.login_attempts,
                input_dirs: bot.input_dirs(Path::new(&input_text)),
                verify_first: bot.run.verify_first,
                rules: bot.rules.clone(),
                max_retries: bot.run.max_retries,
                breaker_limit: bot.run.circuit_breaker,
                spacing,
                deadline: bot.run.timeout.map(|t| (Instant::now() + t, t)),
                next_start: Mutex::new(Instant::now()),
                consecutive: AtomicUsize::new(0),
                failure: Mutex::new(None),
                commands: AtomicU64::new(0),
                start_commands: AtomicU64::new(0),
                progress: worker::Progress::default(),
                active: AtomicUsize::new(workers),
                fleet,
                max_browsers: opts.config.max_browsers,
                bot_max_browsers: bot.run.max_browsers,
                claimed_submitted: Mutex::new(Default::default()),
                lost: Mutex::new(None),
                lapses: lapses_at_start,
            });
            tracing::info!(run = %id, workers, items = todo.len(), "working");
            let ticker = progress::spawn(job.clone(), todo.len(), opts.progress);
            let mut set = tokio::task::JoinSet::new();
            let spawn = |set: &mut tokio::task::JoinSet<()>, w: usize| {
                let job = job.clone();
                let span = span.clone();
                set.spawn_blocking(move || {
                    let _entered = span.enter();
                    worker::work(job, w)
                });
            };
            for w in 1..=workers {
                spawn(&mut set, w);
            }
            // The owner of a fleet's run started its share of the browsers; when the
            // other agents do not take up the rest (busy, or without the bot), it
            // starts them itself, one at a time.
            let cap = bot
                .run
                .workers
                .min(opts.config.max_browsers)
                .min(bot.run.max_browsers.unwrap_or(usize::MAX))
                .min(todo.len())
                .max(1);
            let grows = fleet.is_some_and(|r| r.owns_run);
            let mut started = workers;
            let mut short = 0;
            let mut look = tokio::time::interval(GROW_LOOK);
            look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            look.tick().await;
            loop {
                tokio::select! {
                    joined = set.join_next() => match joined {
                        None => break,
                        Some(Err(e)) => job.fail_run_now(format!("a worker thread failed: {e}")),
                        Some(Ok(())) => {}
                    },
                    _ = look.tick(), if grows && started < cap => {
                        let j = job.clone();
                        let used = tokio::task::spawn_blocking(move || j.fleet_use())
                            .await
                            .ok()
                            .flatten();
                        short = match used {
                            Some((busy, free)) if free > 0 && (busy as usize) < bot.run.workers => {
                                short + 1
                            }
                            _ => 0,
                        };
                        if short >= 2 && !job.stopping() && job.add_worker() {
                            started += 1;
                            short = 0;
                            tracing::info!(
                                run = %id,
                                workers = started,
                                "the other agents of the fleet leave browsers of the run unused: this agent starts another worker"
                            );
                            spawn(&mut set, started);
                        }
                    }
                }
            }
            // Wait until the ticker is gone: it holds the job, which must have no
            // other owner below.
            ticker.abort();
            let _ = ticker.await;
            progress::clear(opts.progress);
            driver.stop().await;
            let _ = std::fs::remove_file(&pid_file);
            // chromedriver logs what was typed: hide the secrets in its log.
            if let Ok(text) = std::fs::read_to_string(&driver_log) {
                let _ = std::fs::write(&driver_log, job.redactor.redact(&text));
            }
            commands = job.commands.load(Ordering::Relaxed);
            start_commands = job.start_commands.load(Ordering::Relaxed);
            let failure = job.failed();
            let lost = job.lost_reason();
            let left = match fleet {
                None => !lock(&job.queue).is_empty(),
                Some(_) => lock(&job.store).items_left(&id).map_or(true, |n| n > 0),
            };
            let job = Arc::try_unwrap(job)
                .map_err(|_| RunError::Failed("the run's workers did not all stop".into()))?;
            let store = job.store.into_inner().unwrap_or_else(|p| p.into_inner());
            let state = match failure {
                Some(reason) => RunState::Failed(reason),
                None if left || *stop.finish.borrow() || *stop.abort.borrow() => {
                    let pending = store.run(&id).ok().flatten().map_or(0, |r| r.pending);
                    if pending > 0 {
                        RunState::Cancelled
                    } else {
                        RunState::Finished
                    }
                }
                None => RunState::Finished,
            };
            (state, store, lost)
        }
    };

    // This process's lease ran out (or could have): what it held goes back to the
    // fleet, and the outputs are left to whoever ends the run.
    if let Some(why) = lost {
        let rid = id.clone();
        if let Err(e) = blocking(move || store.let_go(&rid)).await? {
            tracing::warn!(run = %id, "{e}");
        }
        return Err(RunError::Lost(why));
    }

    // A process that only took part in a fleet's run leaves the outputs to the
    // run's owner, and the items it holds but did not end (it was stopped) to the
    // other agents at once, rather than when its lease runs out.
    if fleet.is_some_and(|r| !r.owns_run) {
        let rid = id.clone();
        if let Err(e) = blocking(move || store.let_go(&rid)).await? {
            tracing::warn!(run = %id, "{e}");
        }
        tracing::info!(run = %id, commands, "no free item left in the run: this agent's part ended");
        return Ok(RunSummary {
            id,
            bot: bot.name.clone(),
            state,
            counts: Counts::default(),
            duration: started.elapsed(),
            output: dir.join("output.xlsx"),
            exceptions: dir.join("exceptions.xlsx"),
            dir,
            mail: MailStatus::default(),
            commands,
            resumed: None,
            start_commands,
        });
    }

    // On a fleet the outputs are made once: not by an owner whose lease could
    // have run out while its workers stopped (another agent may take the run over).
    if fleet.is_some() {
        let why = match store::fleet::lease_state() {
            store::fleet::LeaseState::Stale(d) => Some(format!(
                "no heartbeat of this agent reached the store for {} s before it wrote the run's outputs",
                d.as_secs()
            )),
            store::fleet::LeaseState::Fresh { lapses } if lapses != lapses_at_start => {
                Some("its lease ran out for a while before it wrote the run's outputs".into())
            }
            _ => None,
        };
        if let Some(why) = why {
            tracing::error!(run = %id, "this agent leaves the run to the fleet: {why}");
            let rid = id.clone();
            if let Err(e) = blocking(move || store.let_go(&rid)).await? {
                tracing::warn!(run = %id, "{e}");
            }
            return Err(RunError::Lost(why));
        }
    }

    // Outputs, from what the store holds for every item of the run.
    let finished_at = Utc::now();
    let records = {
        let rid = id.clone();
        let (records, passed, store) =
            blocking(move || (store.items(&rid), store.passed(&rid), store)).await?;
        let records = records.map_err(|e| RunError::Failed(e.to_string()))?;
        (records, passed.unwrap_or_default(), store)
    };
    let (records, passed, store) = records;
    // A resumed run started well before this part did: say both.
    let part_started_at =
        finished_at - chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    let resumed = (part_started_at - started_at > chrono::Duration::seconds(2))
        .then_some((part_started_at, todo_count));
    let mut report = report_from_store(
        &bot,
        &opts,
        &id,
        &input_text,
        &headers,
        &records,
        &state,
        started_at,
        finished_at,
    );
    report.resumed = resumed;
    report.passed_over = passed_texts(&passed, opts.config.language);
    let output = dir.join("output.xlsx");
    let exceptions = dir.join("exceptions.xlsx");
    let out_sheet = report.output_sheet();
    let (o, e, d, limit) = (
        output.clone(),
        exceptions.clone(),
        dir.clone(),
        bot.max_mail_bytes,
    );
    let report = blocking(move || -> Result<RunReport, sheet::SheetError> {
        sheet::write(&o, &[out_sheet])?;
        report.write_exceptions(&e, &d, limit)?;
        Ok(report)
    })
    .await?
    .map_err(|e| RunError::Failed(e.to_string()))?;

    // The bot's own result files, in the office's shape.
    if !bot.result_files.is_empty() {
        let items = results::finished_items(&headers, &records);
        let (d, files) = (dir.clone(), bot.result_files.clone());
        match blocking(move || results::write(&d, &files, &items)).await? {
            Ok(written) => {
                for path in written {
                    tracing::info!(file = %path.display(), "result file written");
                }
            }
            Err(e) => tracing::error!("a result file could not be written: {e}"),
        }
    }

    let counts = report.counts();
    let mail = send_summary(&bot, &opts, &report, &id, &exceptions, counts).await;

    let error = match &state {
        RunState::Failed(reason) => Some(reason.clone()),
        _ => None,
    };
    let word = state.word();
    let (rid, at) = (id.clone(), finished_at.to_rfc3339());
    blocking(move || store.finish_run(&rid, word, error.as_deref(), &at))
        .await?
        .map_err(|e| match e.lost {
            true => RunError::Lost(e.message),
            false => RunError::Failed(e.to_string()),
        })?;
    tracing::info!(run = %id, state = word, done = counts.done, business = counts.business, system = counts.system, commands, start_commands, "run ended");

    Ok(RunSummary {
        id,
        bot: bot.name.clone(),
        state,
        counts,
        duration: started.elapsed(),
        dir,
        output,
        exceptions,
        mail,
        commands,
        resumed: resumed.map(|(_, rows)| {
            (
                rows,
                (finished_at - started_at).to_std().unwrap_or_default(),
            )
        }),
        start_commands,
    })
}

/// The secrets `[login.http]` names are set (else the run does not begin: exit 2).
fn login_secrets_set(bot: &Bot, opts: &RunOptions) -> Result<(), RunError> {
    let Some(http) = &bot.login_http else {
        return Ok(());
    };
    let mut secrets = opts.config.secrets.clone();
    secrets.extend(opts.secrets.clone());
    for (key, name) in [
        ("user", &http.user_secret),
        ("password", &http.password_secret),
    ] {
        secret_value(&secrets, name).map_err(|e| {
            RunError::Invalid(
                Problem::new(
                    bot.dir.join("bot.toml").display().to_string(),
                    format!("login.http.{key}: {e}"),
                )
                .into(),
            )
        })?;
    }
    Ok(())
}

/// A secret's value as the script's `secret(name)` finds it: the environment
/// variable `JURU_SECRET_<NAME>` first, then `secrets`.
fn secret_value(secrets: &BTreeMap<String, String>, name: &str) -> Result<String, String> {
    let var = format!(
        "JURU_SECRET_{}",
        name.to_uppercase().replace(['-', '.', ' '], "_")
    );
    std::env::var(&var)
        .ok()
        .or_else(|| secrets.get(name).cloned())
        .ok_or_else(|| {
            format!("the secret \"{name}\" is not set: set the environment variable {var} or put it in config/secrets.toml")
        })
}

/// The report of a run from its store rows.
#[allow(clippy::too_many_arguments)]
fn report_from_store(
    bot: &Bot,
    opts: &RunOptions,
    id: &str,
    input: &str,
    headers: &[String],
    records: &[store::ItemRecord],
    state: &RunState,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
) -> RunReport {
    let items = records
        .iter()
        .map(|r| ItemReport {
            row: u32::try_from(r.row_number).unwrap_or(0),
            cells: cells::row_from_json(&r.data, headers.len()),
            outcome: match r.state.as_str() {
                store::state::DONE => Outcome::Done,
                store::state::BUSINESS_EXCEPTION => Outcome::Business,
                store::state::SYSTEM_EXCEPTION => Outcome::System,
                store::state::NEEDS_VERIFICATION => Outcome::NeedsVerification,
                _ => Outcome::Pending,
            },
            outputs: cells::outputs_from_json(&r.outputs),
            reason: r.reason.clone(),
            screenshot: r.screenshot.clone(),
            finished_at: r
                .finished_at
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(finished_at),
        })
        .collect();
    RunReport {
        run_id: id.to_string(),
        bot: bot.name.clone(),
        description: bot.description.clone(),
        input: input.to_string(),
        headers: headers.to_vec(),
        items,
        started_at,
        finished_at,
        error: match state {
            RunState::Failed(reason) => Some(reason.clone()),
            RunState::Cancelled => Some(crate::report::CANCELLED.into()),
            RunState::Finished => None,
        },
        time_zone: opts.config.time_zone,
        language: opts.config.language,
        key_columns: bot.key_columns.clone(),
        resumed: None,
        screenshots_left_out: 0,
        max_mail_bytes: bot.max_mail_bytes,
        passed_over: Vec::new(),
    }
}

/// The passed-over rows of a run, as the report says them in `language`.
fn passed_texts(
    passed: &[store::passed::PassedRows],
    language: crate::config::Language,
) -> Vec<String> {
    let english = language == crate::config::Language::En;
    passed
        .iter()
        .map(|p| match sheet::Pass::from_code(&p.reason) {
            Some(why) => sheet::PassedOver {
                first: u32::try_from(p.first).unwrap_or(0),
                last: u32::try_from(p.last).unwrap_or(0),
                why,
            }
            .describe(english),
            None => format!("{}–{}: {}", p.first, p.last, p.reason),
        })
        .collect()
}

/// Continues a run that did not end (killed, power loss, stopped): `done` items are
/// never redone, `pending` ones are done now, and an item left `in_progress` after
/// `item.submitted()` is looked up with `verify(item)` before anything else (without
/// `verify` a person must check it).
pub async fn resume(
    run_id: &str,
    bots_dir: &Path,
    opts: RunOptions,
    stop: Stop,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let store_at = opts.config.store_location(&opts.data_dir);
    let mut store = blocking(move || Store::open(store_at))
        .await?
        .map_err(|e| RunError::Failed(e.to_string()))?;
    let record = store
        .run(run_id)
        .map_err(|e| RunError::Failed(e.to_string()))?
        .ok_or_else(|| {
            RunError::Invalid(
                Problem::new(
                    "",
                    format!(
                        "there is no run \"{run_id}\" in {}; `juru runs` lists the runs",
                        store.location()
                    ),
                )
                .into(),
            )
        })?;
    if record.state == "closed" {
        return Err(RunError::Invalid(
            Problem::new(
                "",
                format!("run {run_id} was closed with its remaining items given up; `juru runs retry {run_id} --items ROWS` starts a new run of chosen rows"),
            )
            .into(),
        ));
    }
    // A run whose process died after its last item but before it wrote the
    // outputs is resumed to write them.
    if record.pending == 0 && record.shown_state() != "interrupted" {
        return Err(RunError::Invalid(
            Problem::new("", format!("run {run_id} has nothing left to do: every item ended ({} done, {} business, {} system, {} to verify)", record.done, record.business, record.system, record.needs_verification)).into(),
        ));
    }
    let bot = bot::load(bots_dir, &record.bot).map_err(RunError::Invalid)?;
    login_secrets_set(&bot, &opts)?;
    let (headers, items, todo) = stored_items(&store, &record)?;
    store.claim_run(run_id).map_err(RunError::begin)?;
    let opts = with_saved_vars(opts, &record.vars);
    tracing::info!(run = %run_id, items = todo.len(), "run resumed");
    let shared = store.location().shared();
    let fleet = shared.then_some(worker::FleetRole { owns_run: true });
    let plan = stored_plan(
        bot,
        opts,
        &record,
        (headers, items, todo),
        store,
        started,
        fleet,
    );
    execute(plan, stop).await
}

/// The plan of a run the store holds (resumed, or taken part in).
fn stored_plan(
    bot: Bot,
    opts: RunOptions,
    record: &store::RunRecord,
    (headers, items, todo): (Vec<String>, Vec<WorkItem>, Vec<usize>),
    store: Store,
    started: Instant,
    fleet: Option<worker::FleetRole>,
) -> Plan {
    Plan {
        bot,
        opts,
        id: record.id.clone(),
        dir: PathBuf::from(&record.dir),
        input_text: record.input.clone(),
        headers,
        items,
        todo,
        store,
        started_at: stored_start(record),
        started,
        fleet,
    }
}

/// Takes part in a run another agent of the fleet owns (a store on PostgreSQL):
/// this agent's workers claim the run's free items from the store until none is
/// left, with at most `workers` browsers here. The owner writes the outputs, the
/// report and the mail once every item ended.
pub async fn join(
    run_id: &str,
    bots_dir: &Path,
    workers: usize,
    opts: RunOptions,
    stop: Stop,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let store_at = opts.config.store_location(&opts.data_dir);
    let store = blocking(move || Store::open(store_at))
        .await?
        .map_err(|e| RunError::Failed(e.to_string()))?;
    let record = store
        .run(run_id)
        .map_err(|e| RunError::Failed(e.to_string()))?
        .ok_or_else(|| RunError::Failed(format!("there is no run {run_id} to take part in")))?;
    let mut bot = bot::load(bots_dir, &record.bot).map_err(RunError::Invalid)?;
    bot.run.workers = workers.max(1);
    login_secrets_set(&bot, &opts)?;
    let (headers, items, todo) = stored_items(&store, &record)?;
    let opts = with_saved_vars(opts, &record.vars);
    tracing::info!(run = %run_id, bot = %record.bot, workers, "taking part in a run of the fleet");
    let fleet = Some(worker::FleetRole { owns_run: false });
    let plan = stored_plan(
        bot,
        opts,
        &record,
        (headers, items, todo),
        store,
        started,
        fleet,
    );
    execute(plan, stop).await
}

/// A stored run's headers, its items as workers get them, and the items not ended.
type StoredItems = (Vec<String>, Vec<WorkItem>, Vec<usize>);

/// Reads a stored run's items. An item submitted by an earlier attempt, a parent
/// run or before a crash is looked up with `verify(item)` before anything else.
fn stored_items(store: &Store, record: &store::RunRecord) -> Result<StoredItems, RunError> {
    let headers = cells::strings_from_json(&record.headers);
    let records = store
        .items(&record.id)
        .map_err(|e| RunError::Failed(e.to_string()))?;
    let open = |r: &store::ItemRecord| {
        r.state == store::state::PENDING || r.state == store::state::IN_PROGRESS
    };
    let items = records
        .iter()
        .map(|r| WorkItem {
            idx: r.idx as usize,
            row: u32::try_from(r.row_number).unwrap_or(0),
            cells: cells::row_from_json(&r.data, headers.len()),
            maybe_submitted: r.submitted && open(r),
        })
        .collect();
    let todo = records
        .iter()
        .filter(|r| open(r))
        .map(|r| r.idx as usize)
        .collect();
    Ok((headers, items, todo))
}

/// When a stored run first started.
fn stored_start(record: &store::RunRecord) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&record.started_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// The options with the `--var` overrides an earlier run was started with (those
/// given now win).
fn with_saved_vars(mut opts: RunOptions, saved: &str) -> RunOptions {
    let saved: BTreeMap<String, String> = serde_json::from_str(saved).unwrap_or_default();
    for (k, v) in saved {
        opts.vars.entry(k).or_insert(v);
    }
    opts
}

/// Which items of an earlier run to do again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Items in these states (`business_exception`, `system_exception`, `needs_verification`).
    States(Vec<String>),
    /// Items of these input row numbers.
    Rows(Vec<i64>),
}

impl std::str::FromStr for Selection {
    type Err = String;

    fn from_str(s: &str) -> Result<Selection, String> {
        let words: Vec<&str> = s
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Err(
                "expected business, system, verify, failed or row numbers such as 5,7".into(),
            );
        }
        if let Ok(rows) = words
            .iter()
            .map(|w| w.parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
        {
            return Ok(Selection::Rows(rows));
        }
        let mut states = Vec::new();
        for w in words {
            match w {
                "business" => states.push(store::state::BUSINESS_EXCEPTION.to_string()),
                "system" => states.push(store::state::SYSTEM_EXCEPTION.to_string()),
                "verify" | "verification" => {
                    states.push(store::state::NEEDS_VERIFICATION.to_string())
                }
                "failed" => states.extend([
                    store::state::BUSINESS_EXCEPTION.to_string(),
                    store::state::SYSTEM_EXCEPTION.to_string(),
                    store::state::NEEDS_VERIFICATION.to_string(),
                ]),
                other => {
                    return Err(format!(
                        "\"{other}\" is not business, system, verify, failed or a row number"
                    ))
                }
            }
        }
        Ok(Selection::States(states))
    }
}

/// A new run of the chosen items of run `parent` (after an officer fixed the data
/// in the legacy system or the bot), linked to it. An item that was ever submitted
/// (it may be in the system already) is looked up with `verify(item)` first, and
/// without `verify` it goes to a person again, unless `checked`: a person looked
/// in the system and it is not there.
pub async fn retry(
    parent: &str,
    selection: &Selection,
    checked: bool,
    bots_dir: &Path,
    opts: RunOptions,
    stop: Stop,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let started_at = Utc::now();
    let store_at = opts.config.store_location(&opts.data_dir);
    let mut store = blocking(move || Store::open(store_at))
        .await?
        .map_err(|e| RunError::Failed(e.to_string()))?;
    let record = store
        .run(parent)
        .map_err(|e| RunError::Failed(e.to_string()))?
        .ok_or_else(|| {
            RunError::Invalid(
                Problem::new(
                    "",
                    format!("there is no run \"{parent}\"; `juru runs` lists the runs"),
                )
                .into(),
            )
        })?;
    let bot = bot::load(bots_dir, &record.bot).map_err(RunError::Invalid)?;
    login_secrets_set(&bot, &opts)?;
    let headers = cells::strings_from_json(&record.headers);
    let chosen: Vec<store::ItemRecord> = store
        .items(parent)
        .map_err(|e| RunError::Failed(e.to_string()))?
        .into_iter()
        .filter(|r| match selection {
            Selection::States(states) => states.contains(&r.state),
            Selection::Rows(rows) => rows.contains(&r.row_number),
        })
        .collect();
    if chosen.is_empty() {
        return Err(RunError::Invalid(
            Problem::new(
                "",
                format!("run {parent} has no items matching {selection:?}"),
            )
            .into(),
        ));
    }
    if let Some(refusal) = store
        .admission(&bot.name, None, Some(&record.input), Some(parent))
        .map_err(|e| RunError::Failed(e.to_string()))?
    {
        return Err(RunError::Refused(refusal));
    }
    let submitted = |r: &store::ItemRecord| {
        !checked && (r.submitted || r.state == store::state::NEEDS_VERIFICATION)
    };
    let (id, dir) = new_run_folder(&store, &opts, &bot.name, started_at)?;
    let rows: Vec<store::NewItem> = chosen
        .iter()
        .map(|r| store::NewItem {
            row: r.row_number,
            data: r.data.clone(),
            submitted: submitted(r),
        })
        .collect();
    let opts = with_saved_vars(opts, &record.vars);
    let trigger = format!("retry of {parent}");
    let begun = store.begin_run(
        &NewRun {
            id: &id,
            bot: &bot.name,
            trigger: &trigger,
            input: &record.input,
            dir: &dir.display().to_string(),
            started_at: &started_at.to_rfc3339(),
            headers: &record.headers,
            vars: &record.vars,
            parent: Some(parent),
            only_input: None,
            fire: None,
        },
        &rows,
    );
    if let Err(e) = begun {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(RunError::begin(e));
    }
    tracing::info!(run = %id, parent, items = chosen.len(), "retry run started");
    let items: Vec<WorkItem> = chosen
        .iter()
        .enumerate()
        .map(|(idx, r)| WorkItem {
            idx,
            row: u32::try_from(r.row_number).unwrap_or(0),
            cells: cells::row_from_json(&r.data, headers.len()),
            maybe_submitted: submitted(r),
        })
        .collect();
    let todo = (0..items.len()).collect();
    let shared = store.location().shared();
    execute(
        Plan {
            bot,
            opts,
            id,
            dir,
            input_text: record.input.clone(),
            headers,
            items,
            todo,
            store,
            started_at,
            started,
            fleet: shared.then_some(worker::FleetRole { owns_run: true }),
        },
        stop,
    )
    .await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RunError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RunError::Failed(format!("a worker thread failed: {e}")))
}

/// Reads the input as `[input]` says (sheet, header row, renames, dates, filter) and
/// checks the columns it names; every problem is `Invalid`.
async fn read_input(bot: &Bot, path: PathBuf) -> Result<Table, RunError> {
    let options = bot.input.read.clone();
    let p = path.clone();
    let table = blocking(move || sheet::read_with(&p, &options))
        .await?
        .map_err(|e| RunError::Invalid(input_problems(bot, e)))?;
    if !bot.input.read.filter.is_empty() {
        tracing::info!(
            kept = table.rows.len(),
            left_out = table.filtered,
            "input.filter chose the work items"
        );
    }
    Ok(table)
}

/// A problem with the input workbook, pointing at the bot.toml key to look at.
fn input_problems(bot: &Bot, error: sheet::SheetError) -> Problems {
    let manifest = bot.dir.join("bot.toml");
    match error {
        sheet::SheetError::Columns {
            path,
            sheet,
            headers,
            missing,
        } => Problems(
            missing
                .iter()
                .map(|m| {
                    let key = match m.used_for {
                        sheet::ColumnUse::Required => "input.required",
                        sheet::ColumnUse::Dates => "input.dates",
                        sheet::ColumnUse::Filter => "input.filter",
                        sheet::ColumnUse::Types => "input.columns",
                    };
                    Problem::new(
                        "",
                        format!(
                            "input workbook {} (sheet \"{sheet}\") {m} listed in {}: {key}; its columns are {}",
                            path.display(),
                            manifest.display(),
                            sheet::quoted(&headers)
                        ),
                    )
                })
                .collect(),
        ),
        e @ sheet::SheetError::HeaderRow { .. } => Problem::new(
            "",
            format!("{e} (input.header_row in {})", manifest.display()),
        )
        .into(),
        e @ sheet::SheetError::Hidden { .. } => Problem::new(
            "",
            format!("{e} (input.visible_only in {})", manifest.display()),
        )
        .into(),
        e @ sheet::SheetError::RenameClash { .. } => Problem::new(
            "",
            format!("{e} (input.rename in {})", manifest.display()),
        )
        .into(),
        e => Problem::new("", e.to_string()).into(),
    }
}

/// A new run's id and its folder (created).
fn new_run_folder(
    store: &Store,
    opts: &RunOptions,
    bot: &str,
    at: DateTime<Utc>,
) -> Result<(String, PathBuf), RunError> {
    // Kept absolute in the store: the agents of a fleet work in different folders
    // but find a run's files where its folder says.
    let runs_dir = opts.config.runs_dir(&opts.data_dir);
    let runs_dir = std::path::absolute(&runs_dir).unwrap_or(runs_dir);
    let id = new_run_id(store, &runs_dir, bot, at, opts.config.time_zone)?;
    let dir = runs_dir.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| {
        RunError::Failed(format!(
            "cannot create the run folder {}: {e}",
            dir.display()
        ))
    })?;
    Ok((id, dir))
}

/// `YYYYMMDD-HHMMSS-<bot>` in local time, with `-2`, `-3`… if taken.
fn new_run_id(
    store: &Store,
    runs_dir: &Path,
    bot: &str,
    at: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<String, RunError> {
    let base = format!("{}-{bot}", at.with_timezone(&tz).format("%Y%m%d-%H%M%S"));
    let mut id = base.clone();
    for n in 2.. {
        let taken = store
            .has_run(&id)
            .map_err(|e| RunError::Failed(e.to_string()))?
            || runs_dir.join(&id).exists();
        if !taken {
            break;
        }
        id = format!("{base}-{n}");
    }
    Ok(id)
}

/// The manifest's `[vars]` with `--var` overrides.
fn script_vars(
    manifest: &BTreeMap<String, toml::Value>,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, toml::Value> {
    let mut vars = manifest.clone();
    for (k, v) in overrides {
        vars.insert(k.clone(), toml::Value::String(v.clone()));
    }
    vars
}

/// The run's mail, by the rules of the bot's `[notify]`: a summary to the
/// supervisors on every run; the exception report (with the exceptions workbook) to
/// the officers when there are exceptions, or, without officers, the workbook on
/// the supervisors' summary; an alert to both when the run failed. `notify.cc` is
/// copied on each. Every message goes to the outbox first; then the run tries to
/// deliver its own messages once, including those its script queued.
async fn send_summary(
    bot: &Bot,
    opts: &RunOptions,
    report: &RunReport,
    id: &str,
    exceptions: &Path,
    counts: Counts,
) -> MailStatus {
    let mut status = MailStatus::default();
    let outbox = mail::Outbox::new(opts.data_dir.join(&opts.config.mail.outbox))
        .with_time_zone(opts.config.time_zone);
    let failed = report
        .error
        .as_deref()
        .is_some_and(|e| e != crate::report::CANCELLED);
    let with_exceptions = counts.exceptions() > 0;
    let mut plan: Vec<(MailKind, Vec<String>, bool)> = Vec::new();
    if failed {
        let mut everyone = bot.officers.clone();
        for s in &bot.supervisors {
            if !everyone.contains(s) {
                everyone.push(s.clone());
            }
        }
        plan.push((MailKind::Alert, everyone, with_exceptions));
    } else {
        plan.push((
            MailKind::Summary,
            bot.supervisors.clone(),
            with_exceptions && bot.officers.is_empty(),
        ));
        if with_exceptions {
            plan.push((MailKind::Exceptions, bot.officers.clone(), true));
        }
    }
    plan.retain(|(_, to, _)| !to.is_empty());
    if plan.is_empty() {
        status.note = Some(
            if bot.officers.is_empty() && bot.supervisors.is_empty() && bot.cc.is_empty() {
                "bot.toml [notify] names nobody".to_string()
            } else {
                "no exceptions for notify.officers, and no notify.supervisors for a summary"
                    .to_string()
            },
        );
    }
    let name = bot
        .attachment_name
        .clone()
        .unwrap_or_else(|| "exceptions.xlsx".to_string());
    let workbook = if plan.iter().any(|(_, _, attach)| *attach) {
        match tokio::fs::read(exceptions).await {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                status
                    .errors
                    .push(format!("cannot attach {}: {e}", exceptions.display()));
                None
            }
        }
    } else {
        None
    };
    for (kind, to, attach) in plan {
        let attachment = workbook.as_ref().filter(|_| attach);
        let cc: Vec<String> = bot.cc.iter().filter(|c| !to.contains(c)).cloned().collect();
        let mut message = match report.mail(kind, &to, &cc, attachment.map(|_| name.as_str())) {
            Ok(m) => m,
            Err(e) => {
                status.errors.push(e.to_string());
                continue;
            }
        };
        if let Some(bytes) = attachment {
            message
                .attachments
                .push(mail::Attachment::new(name.clone(), bytes.clone()));
        }
        let queued = outbox.enqueue(
            &opts.config.mail.from,
            &message,
            &format!("{id}.{}", kind.name()),
            kind.name(),
            Some(id),
        );
        if let Err(e) = queued {
            tracing::error!("{e}");
            status.errors.push(e.to_string());
        }
    }
    match outbox
        .flush(&opts.config.mail, mail::outbox::Flush::Run(id))
        .await
    {
        Ok(attempts) => {
            for attempt in attempts {
                match attempt {
                    Ok(a) => status.messages.push(a),
                    Err(e) => status.errors.push(e.to_string()),
                }
            }
        }
        Err(e) => status.errors.push(e.to_string()),
    }
    for a in &status.messages {
        match &a.outcome {
            mail::Outcome::Waiting { reason, .. } => {
                tracing::warn!(message = %a.entry.id, "mail not sent yet, it waits in the outbox: {reason}")
            }
            mail::Outcome::Refused { answer } => {
                tracing::error!(message = %a.entry.id, "mail refused by the server: {answer}")
            }
            _ => {}
        }
    }
    status.older_pending = outbox
        .entries(mail::Folder::Pending)
        .map(|e| e.iter().filter(|e| e.run.as_deref() != Some(id)).count())
        .unwrap_or(0);
    status
}
