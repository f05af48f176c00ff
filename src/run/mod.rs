//! The run engine: one execution of one bot over the rows of its input workbook.
//!
//! Before anything starts, the input is read and checked (a missing file or column
//! is a [`RunError::Invalid`] and leaves nothing behind). Then the run gets its folder
//! `runs/<run-id>/` and its rows in the store, the browser starts, and every row
//! becomes a work item handed to the script's `process(item)` on a blocking thread.
//! Each item ends `done`, `business_exception` (the script called `fail_business`)
//! or `system_exception` (anything else: a screenshot is taken, the browser session
//! is restarted and the run goes on with the next item), and the store records it
//! before the next item starts. At the end come `output.xlsx`, `exceptions.xlsx`
//! and the summary mail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::bot::Bot;
use crate::browser::{self, Browser, Driver};
use crate::config::AgentConfig;
pub use crate::mail::Delivery;
use crate::mail::{self, Attachment};
use crate::report::{Counts, ItemReport, Outcome, RunReport};
use crate::script::{Host, HostContext, ItemInput, ScriptError, Source};
use crate::sheet::{self, Cell, Table};
use crate::store::{self, ItemEnd, NewRun, Store};
use crate::{Problem, Problems};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailStatus {
    Delivered(Delivery),
    /// The bot's `[notify]` names nobody.
    NoRecipients,
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input or the bot is not usable; nothing was started.
    #[error("{0}")]
    Invalid(Problems),
    /// The run could not be set up (store, folders).
    #[error("{0}")]
    Failed(String),
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

/// Runs `bot` once, until every item ended or `stop` says so.
pub async fn run(bot: Bot, opts: RunOptions, stop: Stop) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let started_at = Utc::now();
    let input_path = bot.input_path(opts.input.as_deref());
    let table = read_input(&bot, input_path.clone()).await?;

    // The run's identity, folder and store rows.
    let store_path = opts.data_dir.join(&opts.config.store_path);
    let mut store = blocking(move || Store::open(&store_path))
        .await?
        .map_err(|e| RunError::Failed(e.to_string()))?;
    let runs_dir = opts.data_dir.join("runs");
    let id = new_run_id(
        &store,
        &runs_dir,
        &bot.name,
        started_at,
        opts.config.time_zone,
    )?;
    let dir = runs_dir.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| {
        RunError::Failed(format!(
            "cannot create the run folder {}: {e}",
            dir.display()
        ))
    })?;
    let rows: Vec<(i64, String)> = table
        .rows
        .iter()
        .map(|r| (r.number as i64, row_json(&table.headers, &r.cells)))
        .collect();
    let run_dir_text = dir.display().to_string();
    let input_text = input_path.display().to_string();
    store
        .begin_run(
            &NewRun {
                id: &id,
                bot: &bot.name,
                trigger: &opts.trigger,
                input: &input_text,
                dir: &run_dir_text,
                started_at: &started_at.to_rfc3339(),
            },
            &rows,
        )
        .map_err(|e| RunError::Failed(e.to_string()))?;
    tracing::info!(run = %id, bot = %bot.name, items = table.rows.len(), "run started");

    // The browser, then the items on a blocking thread.
    let work = match Driver::start(&opts.config.browser, Some(&dir.join("chromedriver.log"))).await
    {
        Err(e) => WorkDone {
            outcomes: Vec::new(),
            state: RunState::Failed(e.to_string()),
            store,
            commands: 0,
        },
        Ok(driver) => {
            let job = Job {
                script: bot.script.clone(),
                table: table.clone(),
                store,
                run_id: id.clone(),
                work_dir: dir.clone(),
                handle: Handle::current(),
                stop: stop.clone(),
                settings: opts.config.browser.clone(),
                driver_url: driver.url().to_string(),
                vars: script_vars(&bot.vars, &opts.vars),
                secrets: opts.secrets.clone(),
                bot: bot.name.clone(),
                timeout: bot.timeout_per_item,
            };
            let done = tokio::task::spawn_blocking(move || work(job)).await;
            driver.stop().await;
            done.map_err(|e| RunError::Failed(format!("the run's worker thread failed: {e}")))?
        }
    };

    // Outputs.
    let finished_at = Utc::now();
    let report = build_report(
        &bot,
        &opts,
        &id,
        &input_text,
        &table,
        &work,
        started_at,
        finished_at,
    );
    let output = dir.join("output.xlsx");
    let exceptions = dir.join("exceptions.xlsx");
    let (out_sheet, exc_sheets) = (report.output_sheet(), report.exception_sheets());
    let (o, e) = (output.clone(), exceptions.clone());
    blocking(move || -> Result<(), sheet::SheetError> {
        sheet::write(&o, &[out_sheet])?;
        sheet::write(&e, &exc_sheets)
    })
    .await?
    .map_err(|e| RunError::Failed(e.to_string()))?;

    let counts = report.counts();
    let mail = send_summary(&bot, &opts, &report, &id, &exceptions, counts).await;

    let WorkDone {
        state,
        store,
        commands,
        ..
    } = work;
    let error = match &state {
        RunState::Failed(reason) => Some(reason.clone()),
        _ => None,
    };
    let word = state.word();
    let (rid, at) = (id.clone(), finished_at.to_rfc3339());
    blocking(move || store.finish_run(&rid, word, error.as_deref(), &at))
        .await?
        .map_err(|e| RunError::Failed(e.to_string()))?;
    tracing::info!(run = %id, state = word, done = counts.done, business = counts.business, system = counts.system, "run ended");

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
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RunError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RunError::Failed(format!("a worker thread failed: {e}")))
}

/// Reads the input and checks the required columns; every problem is `Invalid`.
async fn read_input(bot: &Bot, path: PathBuf) -> Result<Table, RunError> {
    let sheet_name = bot.input.sheet.clone();
    let p = path.clone();
    let table = blocking(move || sheet::read(&p, sheet_name.as_deref()))
        .await?
        .map_err(|e| RunError::Invalid(Problem::new("", e.to_string()).into()))?;
    let missing = table.missing(&bot.input.required);
    if !missing.is_empty() {
        let quote = |v: &[String]| {
            v.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(RunError::Invalid(
            Problem::new(
                "",
                format!(
                    "input workbook {} (sheet \"{}\") lacks the required column{} {} listed in {}: input.required; its columns are {}",
                    path.display(),
                    table.sheet,
                    if missing.len() > 1 { "s" } else { "" },
                    quote(&missing),
                    bot.dir.join("bot.toml").display(),
                    quote(&table.headers)
                ),
            )
            .into(),
        ));
    }
    Ok(table)
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

fn row_json(headers: &[String], cells: &[Cell]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .zip(cells)
        .map(|(h, c)| (h.clone(), serde_json::Value::String(c.to_text())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn outputs_json(outputs: &[(String, Cell)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(h, c)| (h.clone(), serde_json::Value::String(c.to_text())))
        .collect();
    serde_json::Value::Object(map).to_string()
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

// ---- the worker ---------------------------------------------------------------------

struct Job {
    script: Source,
    table: Table,
    store: Store,
    run_id: String,
    work_dir: PathBuf,
    handle: Handle,
    stop: Stop,
    settings: browser::Settings,
    driver_url: String,
    vars: BTreeMap<String, toml::Value>,
    secrets: BTreeMap<String, String>,
    bot: String,
    timeout: Duration,
}

struct ItemOutcome {
    outcome: Outcome,
    outputs: Vec<(String, Cell)>,
    reason: Option<String>,
    screenshot: Option<String>,
    finished_at: DateTime<Utc>,
}

struct WorkDone {
    outcomes: Vec<ItemOutcome>,
    state: RunState,
    store: Store,
    commands: u64,
}

/// Opens a browser session, hands it to the host and calls the script's `init()`.
fn start_session(host: &mut Host, job: &Job) -> Result<(), String> {
    let old = host.set_browser(None);
    if let Some(old) = old {
        job.handle.block_on(old.close());
    }
    let browser = job
        .handle
        .block_on(Browser::open(&job.driver_url, &job.settings))
        .map_err(|e| e.to_string())?;
    host.set_browser(Some(browser));
    host.call_optional("init", job.timeout)
        .map(|_| ())
        .map_err(|e| format!("the script's init() failed: {}", e.message()))
}

fn commands_of(host: &Host) -> u64 {
    host.browser().as_ref().map_or(0, |b| b.commands())
}

/// The failure screenshot and where the page was, bounded in time.
fn evidence(host: &Host, job: &Job, row: u32) -> (Option<String>, Option<String>, Option<String>) {
    let browser = host.browser();
    let Some(browser) = browser.as_ref() else {
        return (None, None, None);
    };
    let relative = format!("screenshots/row-{row:04}.png");
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
            let url = browser.url().await.ok();
            let title = browser.title().await.ok();
            (shot, url, title)
        };
        tokio::time::timeout(Duration::from_secs(20), grab)
            .await
            .unwrap_or((None, None, None))
    })
}

fn work(job: Job) -> WorkDone {
    let mut outcomes: Vec<ItemOutcome> = Vec::new();
    let mut commands = 0;
    let context = HostContext {
        handle: job.handle.clone(),
        cancel: job.stop.abort.clone(),
        work_dir: job.work_dir.clone(),
        vars: job.vars.clone(),
        secrets: job.secrets.clone(),
        bot: job.bot.clone(),
        top_level_limit: crate::script::TOP_LEVEL_LIMIT,
    };
    let mut host = match Host::new(&job.script, context) {
        Ok(h) => h,
        Err(e) => {
            return WorkDone {
                outcomes,
                state: RunState::Failed(format!(
                    "the script failed before the first item: {}",
                    e.message()
                )),
                store: job.store,
                commands,
            }
        }
    };
    let fail = |host: &Host, outcomes, reason: String, store| {
        if let Some(b) = host.set_browser(None) {
            job.handle.block_on(b.close());
        }
        WorkDone {
            outcomes,
            state: RunState::Failed(reason),
            store,
            commands: 0,
        }
    };
    if let Err(reason) = start_session(&mut host, &job) {
        let c = commands_of(&host);
        let mut done = fail(&host, outcomes, reason, job.store);
        done.commands = c;
        return done;
    }

    let mut state = RunState::Finished;
    for (index, row) in job.table.rows.iter().enumerate() {
        if *job.stop.finish.borrow() || *job.stop.abort.borrow() {
            state = RunState::Cancelled;
            break;
        }
        if let Err(e) = job
            .store
            .item_started(&job.run_id, index, &Utc::now().to_rfc3339())
        {
            commands += commands_of(&host);
            let mut done = fail(&host, outcomes, e.to_string(), job.store);
            done.commands = commands;
            return done;
        }
        let input = ItemInput {
            index,
            row: row.number,
            fields: job
                .table
                .headers
                .iter()
                .cloned()
                .zip(row.cells.iter().cloned())
                .collect(),
        };
        let t0 = Instant::now();
        let result = host.process(input, job.timeout);
        let (outcome, restart) = match result {
            Ok(r) => (
                ItemOutcome {
                    outcome: Outcome::Done,
                    outputs: r.outputs,
                    reason: None,
                    screenshot: None,
                    finished_at: Utc::now(),
                },
                false,
            ),
            Err(e) => {
                let (screenshot, url, title) = evidence(&host, &job, row.number);
                let business = matches!(e, ScriptError::Business { .. });
                if e == ScriptError::Cancelled {
                    state = RunState::Cancelled;
                }
                let mut reason = e.message();
                if !business {
                    if let (Some(url), Some(title)) = (&url, &title) {
                        reason = format!("{reason} (page \"{title}\" at {url})");
                    }
                }
                let end = ItemEnd {
                    state: if business {
                        store::state::BUSINESS_EXCEPTION
                    } else {
                        store::state::SYSTEM_EXCEPTION
                    },
                    outputs: "{}",
                    reason: Some(&reason),
                    kind: Some(e.kind()),
                    screenshot: screenshot.as_deref(),
                    page_url: url.as_deref(),
                    page_title: title.as_deref(),
                    finished_at: &Utc::now().to_rfc3339(),
                };
                if let Err(err) = job.store.item_finished(&job.run_id, index, &end) {
                    tracing::error!("{err}");
                }
                (
                    ItemOutcome {
                        outcome: if business {
                            Outcome::Business
                        } else {
                            Outcome::System
                        },
                        outputs: Vec::new(),
                        reason: Some(reason),
                        screenshot,
                        finished_at: Utc::now(),
                    },
                    !business && state != RunState::Cancelled,
                )
            }
        };
        if outcome.outcome == Outcome::Done {
            let end = ItemEnd {
                state: store::state::DONE,
                outputs: &outputs_json(&outcome.outputs),
                finished_at: &Utc::now().to_rfc3339(),
                ..ItemEnd::default()
            };
            if let Err(e) = job.store.item_finished(&job.run_id, index, &end) {
                outcomes.push(outcome);
                commands += commands_of(&host);
                let mut done = fail(&host, outcomes, e.to_string(), job.store);
                done.commands = commands;
                return done;
            }
        }
        let word = match outcome.outcome {
            Outcome::Done => "done",
            Outcome::Business => "business exception",
            _ => "system exception",
        };
        match &outcome.reason {
            Some(reason) => tracing::info!(
                row = row.number,
                "{word} in {:.1} s: {reason}",
                t0.elapsed().as_secs_f64()
            ),
            None => tracing::info!(
                row = row.number,
                "{word} in {:.1} s",
                t0.elapsed().as_secs_f64()
            ),
        }
        outcomes.push(outcome);
        if state == RunState::Cancelled {
            break;
        }
        if restart && !*job.stop.finish.borrow() {
            commands += commands_of(&host);
            tracing::info!(
                row = row.number,
                "restarting the browser session after a system exception"
            );
            if let Err(reason) = start_session(&mut host, &job) {
                let mut done = fail(
                    &host,
                    outcomes,
                    format!(
                        "the browser could not be restarted after a system exception: {reason}"
                    ),
                    job.store,
                );
                done.commands = commands;
                return done;
            }
        }
    }

    if state == RunState::Finished {
        if let Err(e) = host.call_optional("finish", job.timeout) {
            tracing::warn!("the script's finish() failed: {}", e.message());
        }
    }
    commands += commands_of(&host);
    if let Some(b) = host.set_browser(None) {
        job.handle.block_on(b.close());
    }
    WorkDone {
        outcomes,
        state,
        store: job.store,
        commands,
    }
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    bot: &Bot,
    opts: &RunOptions,
    id: &str,
    input: &str,
    table: &Table,
    work: &WorkDone,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
) -> RunReport {
    let items = table
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| match work.outcomes.get(i) {
            Some(o) => ItemReport {
                row: row.number,
                cells: row.cells.clone(),
                outcome: o.outcome,
                outputs: o.outputs.clone(),
                reason: o.reason.clone(),
                screenshot: o.screenshot.clone(),
                finished_at: o.finished_at,
            },
            None => ItemReport {
                row: row.number,
                cells: row.cells.clone(),
                outcome: Outcome::Pending,
                outputs: Vec::new(),
                reason: None,
                screenshot: None,
                finished_at,
            },
        })
        .collect();
    RunReport {
        run_id: id.to_string(),
        bot: bot.name.clone(),
        description: bot.description.clone(),
        input: input.to_string(),
        headers: table.headers.clone(),
        items,
        started_at,
        finished_at,
        error: match &work.state {
            RunState::Failed(reason) => Some(reason.clone()),
            RunState::Cancelled => Some("cancelled".into()),
            RunState::Finished => None,
        },
        time_zone: opts.config.time_zone,
        language: opts.config.language,
    }
}

async fn send_summary(
    bot: &Bot,
    opts: &RunOptions,
    report: &RunReport,
    id: &str,
    exceptions: &Path,
    counts: Counts,
) -> MailStatus {
    if bot.officers.is_empty() && bot.supervisors.is_empty() {
        return MailStatus::NoRecipients;
    }
    let (to, cc) = if bot.officers.is_empty() {
        (bot.supervisors.clone(), Vec::new())
    } else {
        (bot.officers.clone(), bot.supervisors.clone())
    };
    let mut mail = report.mail(&to, &cc);
    if counts.exceptions() > 0 {
        match std::fs::read(exceptions) {
            Ok(bytes) => mail.attachments.push(Attachment {
                name: "exceptions.xlsx".into(),
                content_type: XLSX.into(),
                bytes,
            }),
            Err(e) => {
                return MailStatus::Failed(format!("cannot attach {}: {e}", exceptions.display()))
            }
        }
    }
    let outbox = opts.data_dir.join(&opts.config.mail.outbox);
    match mail::send(&opts.config.mail, &outbox, id, &mail).await {
        Ok(d) => MailStatus::Delivered(d),
        Err(e) => {
            tracing::error!("{e}");
            MailStatus::Failed(e.to_string())
        }
    }
}
