//! The `juru` command line: parses arguments, wires config, bots, the run engine and
//! the demo portal together, prints results and maps them to exit codes
//! (0 done, 1 the run failed, 2 usage or configuration error).
//!
//! Results go to standard output through [`outln!`], which treats a reader that went
//! away (`juru runs list | head -1`) as the end of the output, not as an error: the
//! command finishes quietly with its own exit code. SIGPIPE stays ignored (Rust's
//! default), so a socket closed under the agent is an error to handle, never a
//! signal that kills it.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use clap::{Args, Parser, Subcommand};

use crate::bot;
use crate::config::{AgentConfig, Schedules};
use crate::demo;
use crate::mail;
use crate::run::{self, MailStatus, RunError, RunOptions, RunState, RunSummary, Stop};
use crate::schedule;
use crate::Problems;

mod fleet;

/// The name of the bundled example bot that `juru demo` runs.
pub const DEMO_BOT: &str = "demo-perizinan";

#[derive(Debug, Parser)]
#[command(
    name = "juru",
    version,
    about = "juru: a robotic-process-automation agent for government back offices",
    long_about = "juru runs scripted bots that read spreadsheets, drive legacy web systems through \
                  WebDriver (chromedriver + Chromium), write result workbooks and mail officers the \
                  items that need a person.\n\nExit codes: 0 the run completed (business exceptions \
                  are a normal outcome), 1 the run failed, 2 usage or configuration error."
)]
pub struct Cli {
    #[command(flatten)]
    pub dirs: Dirs,
    /// How log lines look on standard error: `text` for people, `json` (one object a
    /// line) for log collectors. `RUST_LOG` sets the level (default `info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Sets up `tracing` for the process: to standard error, in the chosen format, in
/// colour only when standard error is a terminal and `NO_COLOR` is unset or empty.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_color = std::env::var_os("NO_COLOR");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(std::io::stderr().is_terminal(), no_color.as_deref()))
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Whether log lines get colours: only on a terminal, and not when `NO_COLOR` is set
/// to anything but the empty string (<https://no-color.org>).
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Set once standard output cannot be written any more.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// Why standard output failed, when it was not because its reader went away.
static STDOUT_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Writes one line to standard output (use [`outln!`]). After the first failure
/// nothing more is written: a reader that went away (`BrokenPipe`) just ends the
/// output; any other error is reported when the command ends ([`finish_output`]).
#[doc(hidden)]
pub fn print_line(args: std::fmt::Arguments) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        output_failed(e);
    }
}

fn output_failed(e: std::io::Error) {
    STDOUT_GONE.store(true, Ordering::Relaxed);
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        let mut error = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
        error.get_or_insert_with(|| e.to_string());
    }
}

/// `println!` for command results: a closed pipe ends the output quietly instead of
/// panicking (see [`print_line`]).
macro_rules! outln {
    () => {
        $crate::cli::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::print_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Flushes standard output at the end of a command: exit 1 (with the reason) when
/// it could not be written for another reason than its reader going away.
fn finish_output(code: ExitCode) -> ExitCode {
    if !STDOUT_GONE.load(Ordering::Relaxed) {
        if let Err(e) = std::io::stdout().lock().flush() {
            output_failed(e);
        }
    }
    let error = STDOUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match error {
        Some(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            ExitCode::from(1)
        }
        None => code,
    }
}

#[derive(Debug, Clone, Args)]
pub struct Dirs {
    /// Folder with agent.toml.
    #[arg(long, global = true, value_name = "DIR", default_value = "config")]
    pub config: PathBuf,
    /// Folder with one sub-folder per bot (bot.toml + main.rhai).
    #[arg(long, global = true, value_name = "DIR", default_value = "bots")]
    pub bots: PathBuf,
    /// Folder for the store, run outputs and the mail outbox.
    #[arg(long, global = true, value_name = "DIR", default_value = "var")]
    pub data: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the bundled demo portal and run the example bot `demo-perizinan` against it.
    ///
    /// The portal listens on 127.0.0.1 (a free port unless --port is given). Without
    /// --serve the demo runs the bot once over its input workbook, prints a summary and
    /// exits; with --serve it only keeps the portal running so you can try it by hand
    /// or point your own bot at it.
    Demo {
        /// Only serve the portal until Ctrl-C (for writing and trying bots).
        #[arg(long)]
        serve: bool,
        /// Port for the portal (default: a free port; 8765 with --serve).
        #[arg(long)]
        port: Option<u16>,
        /// Show the browser window instead of running headless.
        #[arg(long)]
        headed: bool,
    },
    /// Check config/agent.toml, config/schedules.toml with its calendars and every bot (bot.toml and main.rhai) without running anything.
    ///
    /// Lists every problem with its file and line or key, and exits 2 if there is any.
    Check,
    /// List each schedule of config/schedules.toml with its next fire times, in its own time zone.
    ///
    /// Days the schedule's calendar skips are listed with the reason ("libur: ..."),
    /// and a run moved to the next working day says where it came from. Exits 2 if
    /// the schedules, a calendar or agent.toml has a problem.
    Schedules {
        /// How many fire times to list per schedule.
        #[arg(long, short = 'n', value_name = "N", default_value_t = 5,
              value_parser = clap::value_parser!(u16).range(1..=100))]
        count: u16,
        /// List from this local date or time instead of from now: YYYY-MM-DD or
        /// YYYY-MM-DDTHH:MM, read in each schedule's own time zone.
        #[arg(long, value_name = "WHEN", value_parser = parse_when)]
        from: Option<chrono::NaiveDateTime>,
        #[command(subcommand)]
        action: Option<SchedulesCommand>,
    },
    /// Run the agent: fire the schedules of config/schedules.toml until SIGTERM or Ctrl-C.
    ///
    /// Every fire is recorded in the store; runs left unfinished by a dead process
    /// are resumed at start-up; SIGHUP or a changed config file reloads the
    /// configuration (an invalid one is refused and the old schedules keep running);
    /// pending mail is retried. Exits 2 if the configuration has a problem at start.
    Agent,
    /// Ask the running agent to run a bot now (its trigger is `manual`).
    ///
    /// Exits 1 when no agent runs on this data folder.
    Trigger {
        /// The bot's folder name under --bots.
        bot: String,
    },
    /// Run one bot once over its input workbook.
    Run {
        /// The bot's folder name under --bots.
        bot: String,
        /// Use this workbook instead of the one in bot.toml.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Override a value of the bot's [vars] (repeatable), e.g. --var portal_url=http://127.0.0.1:8765
        #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
        vars: Vec<(String, String)>,
        /// Show the browser window instead of running headless.
        #[arg(long)]
        headed: bool,
        /// Print the final summary as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
    /// The history of runs: list them, show one, resume one that did not end, or
    /// retry chosen items of one in a new run.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// The mail outbox: list, deliver and retry messages.
    ///
    /// Every message juru writes waits in the outbox (`<data>/outbox/pending/`)
    /// until the mail server accepted it (then it is in `sent/`) or refused it for
    /// good (then it is in `failed/`, with the server's answer).
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Serve the dashboard alone (without firing schedules) until Ctrl-C.
    ///
    /// Listens on `[web] listen` of agent.toml (127.0.0.1:8080 by default) unless
    /// --listen is given; users log in with the accounts of config/users.toml.
    Web {
        /// Address and port, e.g. 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Dashboard users (config/users.toml).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Study a page of a web system before writing a bot for it: its frames, forms,
    /// fields, buttons, links, tables and popups with the selectors that find them,
    /// and a main.rhai draft that fills its main form.
    ///
    /// The page is opened in juru's own browser (the settings of config/agent.toml).
    /// Exits 2 for a bad address or frame path, 1 when the page cannot be opened.
    Inspect {
        /// The page's address: http:// or https://.
        url: String,
        /// Study only inside this frame path (frame names from the top separated by
        /// '>', as for browser.in_frame), e.g. "main > detail".
        #[arg(long, value_name = "PATH")]
        frame: Option<String>,
        /// First log in with this bot's login() (its folder name under --bots), in
        /// the browser settings of that bot.
        #[arg(long, value_name = "BOT")]
        login: Option<String>,
        /// Print what was found as one JSON object.
        #[arg(long)]
        json: bool,
        /// Show the browser window instead of running headless.
        #[arg(long)]
        headed: bool,
    },
    /// Try script statements in a bot's browser: opens it (logged in by the bot's
    /// login()), reads Rhai statements from standard input, one a line (a block
    /// goes on while braces are open), and prints each result or error.
    ///
    /// `browser`, `vars`, `secret()`, `log` and the script's own functions are
    /// there. The end of the input (Ctrl-D) closes the browser; exit 0, or 1 when
    /// the browser could not open or login() failed, 130 after Ctrl-C or SIGTERM.
    Shell {
        /// The bot's folder name under --bots.
        bot: String,
        /// Show the browser window instead of running headless.
        #[arg(long)]
        headed: bool,
    },
    /// Record one item done by hand and draft the bot's script from it: opens a
    /// browser window (logged in by the bot's login()) where a person clicks through
    /// one item; juru writes process(item) with the steps they took.
    ///
    /// Needs a display (an X session, or xvfb-run). Ends when the browser is closed
    /// or Enter is pressed here. Exits 2 without a display, for an output file that
    /// exists (without --force), a bad address or input workbook.
    Record {
        /// The bot's folder name under --bots.
        bot: String,
        /// The page to start at (default: the bot's vars.portal_url, else its first
        /// vars.*_url).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// A workbook of the bot's input: typed values found in its first rows
        /// become item["Column"] of that column.
        #[arg(long, value_name = "WORKBOOK")]
        input: Option<PathBuf>,
        /// Where to write the draft (default: bots/BOT/main.draft.rhai).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
        /// Write the WebDriver address and session here (for tests).
        #[arg(long, value_name = "FILE", hide = true)]
        session_file: Option<PathBuf>,
    },
    /// The store itself: bring its schema up to date, or copy its history into
    /// another store (a PostgreSQL database a fleet shares, or a SQLite file).
    Store {
        #[command(subcommand)]
        command: fleet::StoreCommand,
    },
    /// The agents that work on the store (`[agent] name`): host, process, whether
    /// each is alive, its last heartbeat and the items it holds now.
    Agents {
        /// Print the agents as one JSON array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user, or set an existing user's role and password. The password is
    /// read from standard input (one line, at least 8 characters); only its argon2
    /// hash is written.
    Add {
        /// The user name: a-z, 0-9, '.', '_' and '-'.
        name: String,
        /// admin, supervisor or officer.
        #[arg(long, value_name = "ROLE")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first: bot, trigger, start, duration, counts, state.
    List {
        /// Only the runs of this bot.
        #[arg(long)]
        bot: Option<String>,
        /// How many runs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show one run: its counts and every item that did not end `done`.
    Show {
        /// The run id (see `juru runs list`).
        id: String,
        /// List every item, also the done ones.
        #[arg(long)]
        all: bool,
        /// Print the run, every item and the input rows passed over as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Continue a run that did not end (killed, power loss, Ctrl-C): done items are
    /// never redone; an item that was being saved is looked up with the bot's
    /// `verify(item)` first (without one it is left for a person to check).
    Resume {
        id: String,
        #[arg(long)]
        headed: bool,
        #[arg(long)]
        json: bool,
    },
    /// Run chosen items of an earlier run again, as a new run linked to it (after an
    /// officer fixed the data).
    Retry {
        id: String,
        /// Which items: business, system, verify, failed (all three), or row numbers
        /// such as 5,7,12.
        #[arg(long, value_name = "WHICH")]
        items: run::Selection,
        /// A person looked in the system: the chosen items that were submitted
        /// before are not there, so they are done again without `verify(item)`.
        #[arg(long)]
        checked: bool,
        #[arg(long)]
        headed: bool,
        #[arg(long)]
        json: bool,
    },
    /// Give up an unfinished run (interrupted, or stopped with items left): its
    /// remaining items are not done, and new runs of its bot may start again.
    Close { id: String },
}

#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// Pause a schedule: the agent records its fires as skipped until it is resumed.
    Pause { name: String },
    /// Resume a paused schedule.
    Resume { name: String },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Deliver every pending message now, whatever its next attempt time.
    ///
    /// Exits 0 when nothing is left pending or refused by this flush, 1 otherwise;
    /// with --strict also 1 while refused messages wait for `juru mail retry`.
    Flush {
        /// Also fail (exit 1) while messages refused earlier sit in failed/, or
        /// sent messages have recipients that refused them.
        #[arg(long)]
        strict: bool,
    },
    /// List the pending and failed messages (with --all, the sent ones too).
    List {
        /// Also list the sent messages.
        #[arg(long)]
        all: bool,
    },
    /// Put refused messages back into the outbox for their refused recipients
    /// only (after the address was fixed on the mail server), then flush them:
    /// messages of failed/, and sent messages that some recipients refused.
    Retry {
        /// The message ids, as `juru mail list` shows them.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got \"{s}\"")),
    }
}

/// Runs the parsed command and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Check => check(&cli.dirs),
            Command::Schedules {
                action: Some(action),
                ..
            } => schedules_action(&cli.dirs, action),
            Command::Schedules { count, from, .. } => schedules(&cli.dirs, count.into(), from),
            Command::Agent => agent(&cli.dirs).await,
            Command::Trigger { bot } => crate::agent::trigger(&agent_paths(&cli.dirs), &bot).await,
            Command::Run {
                bot,
                input,
                vars,
                headed,
                json,
            } => {
                let vars = vars.into_iter().collect();
                run_bot(
                    &cli.dirs,
                    &bot,
                    input,
                    vars,
                    BTreeMap::new(),
                    headed,
                    "cli",
                    json,
                )
                .await
            }
            Command::Runs { command } => runs_command(&cli.dirs, command).await,
            Command::Demo {
                serve: true, port, ..
            } => serve_demo(port.unwrap_or(8765)).await,
            Command::Demo { port, headed, .. } => {
                run_demo(&cli.dirs, port.unwrap_or(0), headed).await
            }
            Command::Mail { command } => mail_command(&cli.dirs, command).await,
            Command::Web { listen } => web(&cli.dirs, listen).await,
            Command::Users {
                command: UsersCommand::Add { name, role },
            } => users_add(&cli.dirs, &name, &role),
            Command::Inspect {
                url,
                frame,
                login,
                json,
                headed,
            } => {
                inspect(
                    &cli.dirs,
                    &url,
                    frame.as_deref(),
                    login.as_deref(),
                    json,
                    headed,
                )
                .await
            }
            Command::Shell { bot, headed } => shell(&cli.dirs, &bot, headed).await,
            Command::Record {
                bot,
                url,
                input,
                out,
                force,
                session_file,
            } => {
                let options = crate::inspect::record::Options {
                    url,
                    input,
                    out,
                    force,
                    session_file,
                };
                record(&cli.dirs, &bot, options).await
            }
            Command::Store { command } => fleet::store_command(&cli.dirs, command),
            Command::Agents { json } => fleet::agents(&cli.dirs, json),
        }
    });
    finish_output(code)
}

fn print_problems(problems: &Problems) -> ExitCode {
    for p in &problems.0 {
        eprintln!("error: {p}");
    }
    let n = problems.len();
    eprintln!("{n} problem{} found", if n == 1 { "" } else { "s" });
    ExitCode::from(2)
}

/// `juru check`: every problem in config and bots, all at once.
pub fn check(dirs: &Dirs) -> ExitCode {
    let mut problems = Problems::default();
    let zone = match AgentConfig::load(&dirs.config) {
        Ok(c) => c.time_zone,
        Err(p) => {
            problems.extend(p);
            chrono_tz::Asia::Jakarta
        }
    };
    let names = match bot::list(&dirs.bots) {
        Ok(n) => n,
        Err(p) => {
            problems.0.push(p);
            Vec::new()
        }
    };
    for name in &names {
        if let Err(p) = bot::load(&dirs.bots, name) {
            problems.extend(p);
        }
    }
    let bots_known = dirs.bots.is_dir().then_some(names.as_slice());
    let mut warnings = Vec::new();
    let schedules = match Schedules::load(&dirs.config, zone, bots_known) {
        Ok(s) if s.exists => {
            warnings = calendar_warnings(&s, &dirs.config, zone);
            format!(
                ", {} ({} schedule{})",
                s.path.display(),
                s.schedules.len(),
                if s.schedules.len() == 1 { "" } else { "s" }
            )
        }
        Ok(_) => String::new(),
        Err(p) => {
            problems.extend(p);
            String::new()
        }
    };
    let users_path = dirs.config.join("users.toml");
    let users = match crate::web::users::load(&users_path) {
        Ok(u) if users_path.is_file() => format!(
            ", {} ({} user{})",
            users_path.display(),
            u.len(),
            if u.len() == 1 { "" } else { "s" }
        ),
        Ok(_) => String::new(),
        Err(p) => {
            problems.extend(p);
            String::new()
        }
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if !problems.is_empty() {
        return print_problems(&problems);
    }
    outln!(
        "ok: {}{schedules}{users} and {} bot{} ({}) are valid",
        dirs.config.join("agent.toml").display(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    ExitCode::SUCCESS
}

/// Today's warnings about calendars of enabled schedules that run out of holidays
/// (see [`schedule::holiday_gaps`]), today being the date in `zone`.
fn calendar_warnings(
    schedules: &Schedules,
    config_dir: &std::path::Path,
    zone: chrono_tz::Tz,
) -> Vec<String> {
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let enabled = schedules
        .schedules
        .iter()
        .filter(|s| s.enabled)
        .map(|s| (s.name.as_str(), &s.schedule));
    schedule::holiday_gaps(enabled, today)
        .iter()
        .map(|gap| {
            let file = config_dir
                .join("calendars")
                .join(format!("{}.toml", gap.calendar));
            gap.message(&file.display().to_string())
        })
        .collect()
}

/// `juru schedules`: each schedule's next `count` fires after `from` (or now), in
/// its own time zone, with the days its calendar skips.
pub fn schedules(dirs: &Dirs, count: usize, from: Option<chrono::NaiveDateTime>) -> ExitCode {
    use chrono::Datelike;
    let mut problems = Problems::default();
    let (zone, store) = match AgentConfig::load(&dirs.config) {
        Ok(c) => (c.time_zone, Some(c.store_location(&dirs.data))),
        Err(p) => {
            problems.extend(p);
            (chrono_tz::Asia::Jakarta, None)
        }
    };
    // Paused schedules are in the store; without one (no agent ever ran) none is.
    let store = store
        .filter(|l| l.file().is_none_or(|f| f.is_file()))
        .and_then(|l| crate::store::Store::open(l).ok());
    let paused = |name: &str| {
        store
            .as_ref()
            .is_some_and(|s| s.is_paused(name).unwrap_or(false))
    };
    let bots = bot::list(&dirs.bots).ok();
    let loaded = match Schedules::load(&dirs.config, zone, bots.as_deref()) {
        Ok(s) if problems.is_empty() => s,
        Ok(_) => return print_problems(&problems),
        Err(p) => {
            problems.extend(p);
            return print_problems(&problems);
        }
    };
    if !loaded.exists || loaded.schedules.is_empty() {
        outln!("no schedules in {}", loaded.path.display());
        return ExitCode::SUCCESS;
    }
    let now = chrono::Utc::now();
    for (i, s) in loaded.schedules.iter().enumerate() {
        let sched = &s.schedule;
        let mut head = format!(
            "{}: bot {}, cron \"{}\" in {}",
            s.name,
            s.bot,
            sched.cron,
            sched.zone.name()
        );
        if let Some(cal) = &sched.calendar {
            let policy = match sched.on_holiday {
                schedule::OnHoliday::Skip => "skip",
                schedule::OnHoliday::NextWorkingDay => "next working day",
            };
            head.push_str(&format!(
                ", calendar {} (on a day off: {policy})",
                cal.name()
            ));
        }
        if i > 0 {
            outln!();
        }
        if !s.enabled {
            outln!("{head}: disabled (enabled = false), does not fire");
            continue;
        }
        if paused(&s.name) {
            outln!(
                "{head}: paused, its fires are skipped until `juru schedules resume {}`",
                s.name
            );
        } else {
            outln!("{head}");
        }
        let after = from.map_or(now, |w| {
            schedule::instant_of(sched.zone, w) - chrono::Duration::seconds(1)
        });
        let upcoming = sched.upcoming(after, count);
        if !upcoming
            .iter()
            .any(|o| matches!(o, schedule::Occurrence::Fire(_)))
        {
            outln!("  no fire ahead");
        }
        for o in &upcoming {
            outln!("  {}", o.describe(sched.zone));
        }
        if let Some(cal) = &sched.calendar {
            let mut years: Vec<i32> = upcoming
                .iter()
                .map(|o| match o {
                    schedule::Occurrence::Fire(f) => sched.local(f.at).year(),
                    schedule::Occurrence::Skipped { at, .. } => sched.local(*at).year(),
                })
                .filter(|y| !cal.covers_year(*y))
                .collect();
            years.sort_unstable();
            years.dedup();
            for y in years {
                outln!(
                    "  note: calendar {} lists no holidays in {y}, so only its weekends are skipped then; add that year's days to {}",
                    cal.name(),
                    dirs.config.join("calendars").join(format!("{}.toml", cal.name())).display()
                );
            }
        }
    }
    ExitCode::SUCCESS
}

fn agent_paths(dirs: &Dirs) -> crate::agent::Paths {
    crate::agent::Paths {
        config: dirs.config.clone(),
        bots: dirs.bots.clone(),
        data: dirs.data.clone(),
    }
}

/// `juru schedules pause|resume NAME`.
fn schedules_action(dirs: &Dirs, action: SchedulesCommand) -> ExitCode {
    match action {
        SchedulesCommand::Pause { name } => crate::agent::pause(&agent_paths(dirs), &name, true),
        SchedulesCommand::Resume { name } => crate::agent::pause(&agent_paths(dirs), &name, false),
    }
}

/// `juru agent`: runs until SIGTERM or Ctrl-C.
async fn agent(dirs: &Dirs) -> ExitCode {
    match crate::agent::run(agent_paths(dirs)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(crate::agent::AgentError::Invalid(p)) => print_problems(&p),
        Err(crate::agent::AgentError::Failed(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--from`: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` or the same with a space.
fn parse_when(s: &str) -> Result<chrono::NaiveDateTime, String> {
    let s = s.trim();
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(chrono::NaiveTime::MIN))
    })
    .ok_or_else(|| format!("expected YYYY-MM-DD or YYYY-MM-DDTHH:MM, got \"{s}\""))
}

/// How long the current item may go on after Ctrl-C or SIGTERM before it is aborted.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Ctrl-C or SIGTERM lets the current item finish (up to [`STOP_GRACE`]) and starts no
/// other; a second signal, or the end of the grace period, aborts it.
fn stop_on_signals() -> Stop {
    let (stop, finish, abort) = Stop::new();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut signal = async move || match term.as_mut() {
            Some(t) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = t.recv() => {},
            },
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        signal().await;
        tracing::warn!(
            "stopping: the current item may finish within {} s (signal again to abort it); no new item starts",
            STOP_GRACE.as_secs()
        );
        let _ = finish.send(true);
        tokio::select! {
            _ = signal() => {},
            _ = tokio::time::sleep(STOP_GRACE) => {},
        }
        tracing::warn!("aborting the current item");
        let _ = abort.send(true);
    });
    stop
}

#[allow(clippy::too_many_arguments)]
async fn run_bot(
    dirs: &Dirs,
    name: &str,
    input: Option<PathBuf>,
    vars: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    headed: bool,
    trigger: &str,
    json: bool,
) -> ExitCode {
    let (mut config, bot) = match config_and_bot(dirs, Some(name)) {
        Ok((c, Some(b))) => (c, b),
        Ok((_, None)) => return ExitCode::from(2),
        Err(code) => return code,
    };
    if headed {
        config.browser.headless = false;
    }
    let opts = RunOptions {
        config,
        data_dir: dirs.data.clone(),
        input,
        vars,
        secrets,
        trigger: trigger.to_string(),
        progress: !json,
        fire: None,
    };
    ended(run::run(bot, opts, stop_on_signals()).await, json)
}

/// Prints how a run ended and gives its exit code.
fn ended(result: Result<RunSummary, RunError>, json: bool) -> ExitCode {
    match result {
        Ok(summary) => {
            if json {
                outln!("{}", summary_json(&summary));
            } else {
                print_summary(&summary);
            }
            match summary.state {
                RunState::Finished => ExitCode::SUCCESS,
                RunState::Failed(_) | RunState::Cancelled => ExitCode::from(1),
            }
        }
        Err(RunError::Invalid(p)) => print_problems(&p),
        Err(RunError::Failed(reason)) => {
            eprintln!("error: {reason}");
            ExitCode::from(1)
        }
        Err(RunError::Refused(refusal)) => {
            eprintln!("error: {refusal}");
            ExitCode::from(1)
        }
        Err(e @ RunError::Lost(_)) => {
            eprintln!("error: {e}; `juru runs resume` or any agent of the fleet goes on with it");
            ExitCode::from(1)
        }
    }
}

/// The run summary as one JSON object.
pub fn summary_json(s: &RunSummary) -> String {
    let c = &s.counts;
    serde_json::json!({
        "run": s.id,
        "bot": s.bot,
        "state": s.state.word(),
        "error": match &s.state { RunState::Failed(r) => Some(r.clone()), _ => None },
        "rows": c.total,
        "done": c.done,
        "business_exceptions": c.business,
        "system_exceptions": c.system,
        "needs_verification": c.verify,
        "not_processed": c.pending,
        "seconds": (s.duration.as_secs_f64() * 10.0).round() / 10.0,
        "webdriver_commands": s.commands,
        "webdriver_start_commands": s.start_commands,
        "folder": s.dir.display().to_string(),
        "output": s.output.display().to_string(),
        "exceptions": s.exceptions.display().to_string(),
    })
    .to_string()
}

/// The agent configuration, every problem printed (exit 2) when it is not valid.
fn load_config(dirs: &Dirs, headed: bool) -> Result<AgentConfig, ExitCode> {
    match AgentConfig::load(&dirs.config) {
        Ok(mut c) => {
            if headed {
                c.browser.headless = false;
            }
            Ok(c)
        }
        Err(p) => Err(print_problems(&p)),
    }
}

/// The agent configuration and the run history it names.
fn open_store(dirs: &Dirs) -> Result<(AgentConfig, crate::store::Store), ExitCode> {
    let config = load_config(dirs, false)?;
    match crate::store::Store::open(config.store_location(&dirs.data)) {
        Ok(store) => Ok((config, store)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(1))
        }
    }
}

async fn runs_command(dirs: &Dirs, command: RunsCommand) -> ExitCode {
    let options = |config: AgentConfig, json: bool| RunOptions {
        config,
        data_dir: dirs.data.clone(),
        input: None,
        vars: BTreeMap::new(),
        secrets: BTreeMap::new(),
        trigger: "cli".into(),
        progress: !json,
        fire: None,
    };
    match command {
        RunsCommand::Resume { id, headed, json } => {
            let config = match load_config(dirs, headed) {
                Ok(c) => c,
                Err(code) => return code,
            };
            ended(
                run::resume(&id, &dirs.bots, options(config, json), stop_on_signals()).await,
                json,
            )
        }
        RunsCommand::Retry {
            id,
            items,
            checked,
            headed,
            json,
        } => {
            let config = match load_config(dirs, headed) {
                Ok(c) => c,
                Err(code) => return code,
            };
            ended(
                run::retry(
                    &id,
                    &items,
                    checked,
                    &dirs.bots,
                    options(config, json),
                    stop_on_signals(),
                )
                .await,
                json,
            )
        }
        RunsCommand::List { bot, limit } => {
            let (config, store) = match open_store(dirs) {
                Ok(v) => v,
                Err(code) => return code,
            };
            match store.runs(bot.as_deref(), limit) {
                Ok(runs) => {
                    print_runs(&runs, config.time_zone);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        RunsCommand::Close { id } => {
            let (_, store) = match open_store(dirs) {
                Ok(v) => v,
                Err(code) => return code,
            };
            close_run(&store, &id)
        }
        RunsCommand::Show { id, all, json } => {
            let (config, store) = match open_store(dirs) {
                Ok(v) => v,
                Err(code) => return code,
            };
            match (store.run(&id), store.items(&id)) {
                (Ok(Some(run)), Ok(items)) => {
                    let passed = store.passed(&id).unwrap_or_default();
                    if json {
                        outln!("{}", run_json(&run, &items, &passed));
                    } else {
                        print_run(&run, &items, all, config.time_zone);
                        print_passed(&passed);
                    }
                    ExitCode::SUCCESS
                }
                (Ok(None), _) => {
                    eprintln!("error: there is no run \"{id}\"; `juru runs list` shows the runs");
                    ExitCode::from(2)
                }
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// `juru runs close ID`: only a run that stopped with items left, never one that
/// goes on.
fn close_run(store: &crate::store::Store, id: &str) -> ExitCode {
    let run = match store.run(id) {
        Ok(Some(r)) => r,
        Ok(None) => {
            eprintln!("error: there is no run \"{id}\"; `juru runs list` shows the runs");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if run.shown_state() == "running" {
        eprintln!(
            "error: run {id} is still running (process {}); stop it first",
            run.pid.unwrap_or_default()
        );
        return ExitCode::from(2);
    }
    if run.pending == 0 {
        eprintln!(
            "error: run {id} has nothing left to give up (it is {})",
            run.state
        );
        return ExitCode::from(2);
    }
    match store.close_run(id, &chrono::Utc::now().to_rfc3339()) {
        Ok(true) => {
            outln!(
                "run {id} closed: its {} remaining items are not done; new runs of bot {} may start",
                run.pending, run.bot
            );
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("error: run {id} is {} and cannot be closed", run.state);
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn local_time(t: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_else(|_| t.to_string())
}

fn duration_text(start: &str, end: Option<&str>) -> String {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (parse(start), end.and_then(parse)) {
        (Some(a), Some(b)) => {
            let secs = (b - a).num_seconds().max(0);
            format!("{}m{:02}s", secs / 60, secs % 60)
        }
        _ => "-".into(),
    }
}

fn print_runs(runs: &[crate::store::RunRecord], tz: chrono_tz::Tz) {
    if runs.is_empty() {
        outln!("no runs yet");
        return;
    }
    outln!(
        "{:<40} {:<18} {:<16} {:>8} {:>5} {:>5} {:>5} {:>5} {:>6}  state",
        "run",
        "trigger",
        "started",
        "took",
        "rows",
        "done",
        "bus.",
        "sys.",
        "verify"
    );
    for r in runs {
        outln!(
            "{:<40} {:<18} {:<16} {:>8} {:>5} {:>5} {:>5} {:>5} {:>6}  {}",
            r.id,
            r.trigger.chars().take(18).collect::<String>(),
            local_time(&r.started_at, tz),
            duration_text(&r.started_at, r.finished_at.as_deref()),
            r.total,
            r.done,
            r.business,
            r.system,
            r.needs_verification,
            if r.pending > 0 && !matches!(r.shown_state(), "running" | "closed") {
                format!(
                    "{} ({} left: juru runs resume {})",
                    r.shown_state(),
                    r.pending,
                    r.id
                )
            } else {
                r.shown_state().to_string()
            }
        );
    }
}

/// `juru runs show --json`: the run, its items and the input rows passed over.
fn run_json(
    run: &crate::store::RunRecord,
    items: &[crate::store::ItemRecord],
    passed: &[crate::store::passed::PassedRows],
) -> String {
    let parse = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).unwrap_or(serde_json::Value::Null)
    };
    serde_json::json!({
        "run": run.id,
        "bot": run.bot,
        "state": run.shown_state(),
        "error": run.error,
        "input": run.input,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "folder": run.dir,
        "headers": parse(&run.headers),
        "rows": run.total,
        "done": run.done,
        "business_exceptions": run.business,
        "system_exceptions": run.system,
        "needs_verification": run.needs_verification,
        "not_processed": run.pending,
        "items": items.iter().map(|i| serde_json::json!({
            "row": i.row_number,
            "state": i.state,
            "data": parse(&i.data),
            "outputs": parse(&i.outputs),
            "reason": i.reason,
            "kind": i.kind,
            "attempts": i.attempts,
        })).collect::<Vec<_>>(),
        "passed_over": passed.iter().map(|p| serde_json::json!({
            "first_row": p.first,
            "last_row": p.last,
            "reason": p.reason,
            "text": passed_text(p),
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

/// `rows 12–19: below the table`.
fn passed_text(p: &crate::store::passed::PassedRows) -> String {
    match crate::sheet::Pass::from_code(&p.reason) {
        Some(why) => crate::sheet::PassedOver {
            first: u32::try_from(p.first).unwrap_or(0),
            last: u32::try_from(p.last).unwrap_or(0),
            why,
        }
        .describe(true),
        None => format!("rows {}–{}: {}", p.first, p.last, p.reason),
    }
}

/// The input rows a run passed over, under `juru runs show`.
fn print_passed(passed: &[crate::store::passed::PassedRows]) {
    if passed.is_empty() {
        return;
    }
    outln!();
    outln!("input rows passed over (not work items):");
    for p in passed {
        outln!("  {}", passed_text(p));
    }
}

fn print_run(
    run: &crate::store::RunRecord,
    items: &[crate::store::ItemRecord],
    all: bool,
    tz: chrono_tz::Tz,
) {
    outln!("run {} of bot {}: {}", run.id, run.bot, run.shown_state());
    if run.unfinished() {
        outln!(
            "  {:<22} juru runs resume {} (or give up its {} remaining items: juru runs close {})",
            "to continue",
            run.id,
            run.pending,
            run.id
        );
    }
    outln!("  {:<22} {}", "trigger", run.trigger);
    if let Some(parent) = &run.parent {
        outln!("  {:<22} {parent}", "retry of");
    }
    outln!("  {:<22} {}", "input", run.input);
    outln!("  {:<22} {}", "started", local_time(&run.started_at, tz));
    outln!(
        "  {:<22} {}",
        "took",
        duration_text(&run.started_at, run.finished_at.as_deref())
    );
    outln!(
        "  {:<22} {} rows: {} done, {} business, {} system, {} to verify, {} left",
        "items",
        run.total,
        run.done,
        run.business,
        run.system,
        run.needs_verification,
        run.pending
    );
    if let Some(e) = &run.error {
        outln!("  {:<22} {e}", "stopped because");
    }
    outln!("  {:<22} {}", "folder", run.dir);
    let shown: Vec<_> = items.iter().filter(|i| all || i.state != "done").collect();
    if shown.is_empty() {
        return;
    }
    outln!();
    outln!("{:>5}  {:<20} {:>8}  reason", "row", "state", "attempts");
    for i in shown {
        outln!(
            "{:>5}  {:<20} {:>8}  {}{}",
            i.row_number,
            i.state,
            i.attempts,
            i.reason.as_deref().unwrap_or(""),
            i.screenshot
                .as_deref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default()
        );
        if i.state != "done" {
            for line in i
                .log
                .as_deref()
                .unwrap_or_default()
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                outln!("{:>5}  {:<20} {:>8}  | {line}", "", "", "");
            }
        }
    }
}

fn print_summary(s: &RunSummary) {
    let c = &s.counts;
    let state = match &s.state {
        RunState::Finished => "finished".to_string(),
        RunState::Failed(reason) => format!("FAILED: {reason}"),
        RunState::Cancelled => "cancelled".to_string(),
    };
    // A resumed run's commands are this part's: per item of this part.
    let worked = match s.resumed {
        Some((rows, _)) => rows,
        None => c.total - c.pending,
    };
    let in_items = s.commands.saturating_sub(s.start_commands);
    let starts = if s.start_commands > 0 {
        format!("; {} of them started browsers", s.start_commands)
    } else {
        String::new()
    };
    let per_item = if worked > 0 {
        format!(" ({:.1} per item{starts})", in_items as f64 / worked as f64)
    } else if !starts.is_empty() {
        format!(" ({})", &starts[2..])
    } else {
        String::new()
    };
    outln!();
    outln!("run {} of bot {}: {state}", s.id, s.bot);
    outln!("  {:<22} {:>6}", "rows", c.total);
    outln!("  {:<22} {:>6}", "done", c.done);
    outln!("  {:<22} {:>6}", "business exceptions", c.business);
    outln!("  {:<22} {:>6}", "system exceptions", c.system);
    if c.verify > 0 {
        outln!("  {:<22} {:>6}", "needs verification", c.verify);
    }
    if c.pending > 0 {
        outln!(
            "  {:<22} {:>6}   (continue with: juru runs resume {})",
            "not processed",
            c.pending,
            s.id
        );
    }
    match s.resumed {
        None => outln!("  {:<22} {:>6.1} s", "duration", s.duration.as_secs_f64()),
        Some((rows, since_first)) => outln!(
            "  {:<22} {:>6.1} s   (2 parts: this one for {rows} rows; {:.1} s since the first start, pause included)",
            "duration",
            s.duration.as_secs_f64(),
            since_first.as_secs_f64()
        ),
    }
    outln!("  {:<22} {:>6}{per_item}", "webdriver commands", s.commands);
    outln!("  {:<22} {}", "run folder", s.dir.display());
    outln!("  {:<22} {}", "output", s.output.display());
    outln!("  {:<22} {}", "exceptions", s.exceptions.display());
    print_mail(&s.mail);
}

/// The run's mail lines of the summary.
fn print_mail(status: &MailStatus) {
    let mut lines: Vec<String> = status
        .messages
        .iter()
        .map(|a| {
            let what = match &a.outcome {
                mail::Outcome::Written => format!("written to {}", a.path.display()),
                mail::Outcome::Sent { server, .. } => format!("sent via {server}"),
                mail::Outcome::Waiting { reason, .. } => format!(
                    "NOT SENT yet: {reason}; it waits in {} (`juru mail flush` sends it)",
                    a.path.display()
                ),
                mail::Outcome::Refused { answer } | mail::Outcome::GaveUp { reason: answer } => {
                    format!("NOT SENT, refused: {answer} (kept in {})", a.path.display())
                }
                mail::Outcome::NotPending => format!("already delivered ({})", a.path.display()),
            };
            format!(
                "{} to {}: {what}{}",
                a.entry.kind,
                recipients(&a.entry),
                refusals(&a.entry, &a.outcome)
            )
        })
        .collect();
    lines.extend(status.errors.iter().map(|e| format!("NOT SENT: {e}")));
    if let Some(note) = &status.note {
        lines.push(format!("none: {note}"));
    }
    if status.older_pending > 0 {
        lines.push(format!(
            "{} older message(s) wait in the outbox: `juru mail flush` sends them",
            status.older_pending
        ));
    }
    for (i, line) in lines.iter().enumerate() {
        outln!("  {:<22} {line}", if i == 0 { "mail" } else { "" });
    }
}

/// Everyone a message is addressed to: delivered, waiting and refused.
fn recipients(e: &mail::Entry) -> String {
    let mut all: Vec<&str> = e.delivered.iter().map(|r| r.address.as_str()).collect();
    all.extend(e.to.iter().map(String::as_str));
    all.extend(e.refused.iter().map(|r| r.address.as_str()));
    all.join(", ")
}

/// `; refused for x: 550 ...` when some (not all) recipients refused a sent message.
fn refusals(e: &mail::Entry, outcome: &mail::Outcome) -> String {
    if e.refused.is_empty() || matches!(outcome, mail::Outcome::Refused { .. }) {
        return String::new();
    }
    e.refused
        .iter()
        .map(|r| format!("; REFUSED for {}: {}", r.address, r.answer))
        .collect()
}

/// `juru mail flush|list|retry`.
async fn mail_command(dirs: &Dirs, command: MailCommand) -> ExitCode {
    let config = match AgentConfig::load(&dirs.config) {
        Ok(c) => c,
        Err(p) => return print_problems(&p),
    };
    let outbox = mail::Outbox::new(dirs.data.join(&config.mail.outbox));
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&config.time_zone)
            .format("%d/%m/%Y %H:%M:%S")
            .to_string()
    };
    match command {
        MailCommand::List { all } => {
            let mut folders = vec![mail::Folder::Pending, mail::Folder::Failed];
            if all {
                folders.push(mail::Folder::Sent);
            }
            for folder in folders {
                let entries = match outbox.entries(folder) {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(1);
                    }
                };
                outln!("{} ({})", folder.name(), entries.len());
                for e in &entries {
                    outln!("  {}  {}", e.id, e.subject);
                    outln!(
                        "      to {}; queued {}, {} attempt(s)",
                        recipients(e),
                        local(e.queued_at),
                        e.attempts
                    );
                    for r in &e.refused {
                        outln!("      REFUSED for {}: {}", r.address, r.answer);
                    }
                    if folder == mail::Folder::Pending {
                        if let Some(err) = &e.last_error {
                            outln!("      last attempt: {err}");
                        }
                    } else if folder == mail::Folder::Failed && e.refused.is_empty() {
                        if let Some(err) = &e.last_error {
                            outln!("      {err}");
                        }
                    }
                }
            }
            if !all {
                // Delivered, but not to everybody: as much a person's job as failed/.
                let partly = match outbox.partly_refused() {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(1);
                    }
                };
                outln!("sent but refused by some recipients ({})", partly.len());
                for e in &partly {
                    outln!("  {}  {}", e.id, e.subject);
                    let delivered: Vec<&str> =
                        e.delivered.iter().map(|r| r.address.as_str()).collect();
                    outln!("      delivered to {}", delivered.join(", "));
                    for r in &e.refused {
                        outln!("      REFUSED for {}: {}", r.address, r.answer);
                    }
                }
                if !partly.is_empty() {
                    outln!(
                        "  `juru mail retry ID` sends them again to the refused recipients only"
                    );
                }
                let sent = outbox
                    .entries(mail::Folder::Sent)
                    .map(|e| e.len())
                    .unwrap_or(0);
                outln!("sent ({sent}): `juru mail list --all` lists them");
            }
            ExitCode::SUCCESS
        }
        MailCommand::Retry { ids } => {
            for id in &ids {
                match outbox.requeue(id) {
                    Ok(e) => outln!("{}: back in the outbox for {}", e.id, e.to.join(", ")),
                    Err(mail::MailError::Unknown(id)) => {
                        eprintln!(
                            "error: {}: there is no failed message \"{id}\" and no sent one that a recipient refused (`juru mail list` shows them)",
                            outbox.dir().display()
                        );
                        return ExitCode::from(2);
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(1);
                    }
                }
            }
            flush(&config, &outbox, &local).await
        }
        MailCommand::Flush { strict } => {
            let code = flush(&config, &outbox, &local).await;
            if !strict || code != ExitCode::SUCCESS {
                return code;
            }
            let failed = outbox.entries(mail::Folder::Failed).map_or(0, |e| e.len());
            let partly = outbox.partly_refused().map_or(0, |e| e.len());
            if failed + partly > 0 {
                outln!(
                    "--strict: {failed} message(s) in failed/ and {partly} sent message(s) refused by some recipients wait for `juru mail retry`"
                );
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

async fn flush(
    config: &AgentConfig,
    outbox: &mail::Outbox,
    local: &dyn Fn(chrono::DateTime<chrono::Utc>) -> String,
) -> ExitCode {
    let attempts = match outbox.flush(&config.mail, mail::outbox::Flush::All).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let (mut sent, mut waiting, mut refused) = (0, 0, 0);
    for attempt in &attempts {
        let a = match attempt {
            Ok(a) => a,
            Err(e) => {
                waiting += 1;
                outln!("ERROR     {e}");
                continue;
            }
        };
        let to = recipients(&a.entry);
        match &a.outcome {
            mail::Outcome::Sent { server, answer } => {
                sent += 1;
                outln!(
                    "sent      {}  to {to}  via {server}: {answer}{}",
                    a.entry.id,
                    refusals(&a.entry, &a.outcome)
                );
            }
            mail::Outcome::Written => {
                sent += 1;
                outln!("written   {}  to {to}  {}", a.entry.id, a.path.display());
            }
            mail::Outcome::Waiting {
                reason,
                next_attempt,
            } => {
                waiting += 1;
                let next = next_attempt
                    .map(|t| format!("; next attempt after {}", local(t)))
                    .unwrap_or_default();
                outln!("WAITING   {}  to {to}: {reason}{next}", a.entry.id);
            }
            mail::Outcome::Refused { answer } | mail::Outcome::GaveUp { reason: answer } => {
                refused += 1;
                outln!(
                    "REFUSED   {}  to {to}: {answer} (kept in {})",
                    a.entry.id,
                    a.path.display()
                );
            }
            mail::Outcome::NotPending => {}
        }
    }
    outln!(
        "{} pending message(s): {sent} sent, {waiting} still waiting, {refused} refused",
        attempts.len()
    );
    if waiting + refused > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

async fn run_demo(dirs: &Dirs, port: u16, headed: bool) -> ExitCode {
    let portal = match demo::Portal::start(SocketAddr::from(([127, 0, 0, 1], port))).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the demo portal cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::from(1);
        }
    };
    outln!(
        "demo portal: {} (user {}, password {})",
        portal.url(),
        demo::DEMO_USER,
        demo::DEMO_PASSWORD
    );
    // An earlier `juru demo` that was stopped left its run unfinished, but its portal
    // (and what it saved) is gone: that run cannot be continued, so it is closed.
    if let Ok((_, store)) = open_store(dirs) {
        let runs = store.runs(Some(DEMO_BOT), 1000).unwrap_or_default();
        for r in runs
            .iter()
            .filter(|r| r.trigger == "demo" && r.unfinished())
        {
            if let Ok(true) = store.close_run(&r.id, &chrono::Utc::now().to_rfc3339()) {
                outln!(
                    "  closed the unfinished demo run {} (its portal is gone)",
                    r.id
                );
            }
        }
    }
    let vars = BTreeMap::from([("portal_url".to_string(), portal.url())]);
    let secrets = demo_secrets();
    let code = run_bot(dirs, DEMO_BOT, None, vars, secrets, headed, "demo", false).await;
    let saved = portal.records().len();
    outln!(
        "  {:<22} {saved} record(s) saved by the portal",
        "demo portal"
    );
    portal.stop().await;
    code
}

/// The demo portal's credentials, used unless the environment sets other ones.
pub fn demo_secrets() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("portal_user".to_string(), demo::DEMO_USER.to_string()),
        (
            "portal_password".to_string(),
            demo::DEMO_PASSWORD.to_string(),
        ),
    ])
}

/// `juru web`: the dashboard until Ctrl-C.
async fn web(dirs: &Dirs, listen: Option<SocketAddr>) -> ExitCode {
    let config = match load_config(dirs, false) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let addr = listen.unwrap_or(config.web.listen);
    let dashboard = match crate::web::Dashboard::start(addr, agent_paths(dirs), config).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e} (choose another with --listen)");
            return ExitCode::from(1);
        }
    };
    outln!("dashboard: {}", dashboard.url());
    outln!("Ctrl-C stops it");
    let _ = tokio::signal::ctrl_c().await;
    dashboard.stop().await;
    ExitCode::SUCCESS
}

/// `juru users add NAME --role ROLE`: the password comes from standard input.
fn users_add(dirs: &Dirs, name: &str, role: &str) -> ExitCode {
    let Some(role) = crate::web::Role::parse(role) else {
        eprintln!("error: --role {role}: expected admin, supervisor or officer");
        return ExitCode::from(2);
    };
    let mut password = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut password) {
        eprintln!("error: cannot read the password from standard input: {e}");
        return ExitCode::from(2);
    }
    let password = password.trim_end_matches(['\r', '\n']);
    let path = dirs.config.join("users.toml");
    match crate::web::users::add(&path, name, role, password) {
        Ok(()) => {
            outln!("{}: user {name} ({}) saved", path.display(), role.word());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn serve_demo(port: u16) -> ExitCode {
    let portal = match demo::Portal::start(SocketAddr::from(([127, 0, 0, 1], port))).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the demo portal cannot listen on 127.0.0.1:{port}: {e} (choose another with --port)");
            return ExitCode::from(1);
        }
    };
    outln!("demo portal: {}", portal.url());
    outln!(
        "log in as {} / {}; Ctrl-C stops it",
        demo::DEMO_USER,
        demo::DEMO_PASSWORD
    );
    let _ = tokio::signal::ctrl_c().await;
    portal.stop().await;
    ExitCode::SUCCESS
}

/// The agent configuration and, when named, a bot, every problem printed (exit 2).
fn config_and_bot(
    dirs: &Dirs,
    name: Option<&str>,
) -> Result<(AgentConfig, Option<bot::Bot>), ExitCode> {
    let config = AgentConfig::load(&dirs.config);
    let bot = name.map(|n| bot::load(&dirs.bots, n)).transpose();
    match (config, bot) {
        (Ok(c), Ok(b)) => Ok((c, b)),
        (c, b) => {
            let mut problems = Problems::default();
            if let Err(p) = c {
                problems.extend(p);
            }
            if let Err(p) = b {
                problems.extend(p);
            }
            Err(print_problems(&problems))
        }
    }
}

/// `juru inspect URL`: see [`crate::inspect`].
async fn inspect(
    dirs: &Dirs,
    url: &str,
    frame: Option<&str>,
    login: Option<&str>,
    json: bool,
    headed: bool,
) -> ExitCode {
    use crate::inspect::{self, InspectError};
    let checked = inspect::check_url(url).and_then(|()| frame.map(inspect::frame_path).transpose());
    let base = match checked {
        Ok(base) => base.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (config, bot) = match config_and_bot(dirs, login) {
        Ok(v) => v,
        Err(code) => return code,
    };
    match inspect::inspect(&config, bot.as_ref(), url, &base, headed).await {
        Ok(report) if json => {
            outln!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            for line in inspect::render(&report).lines() {
                outln!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e @ InspectError::Usage(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `juru shell BOT`: see [`crate::inspect::shell`].
async fn shell(dirs: &Dirs, name: &str, headed: bool) -> ExitCode {
    let (config, bot) = match config_and_bot(dirs, Some(name)) {
        Ok((c, Some(b))) => (c, b),
        Ok(_) => return ExitCode::from(2),
        Err(code) => return code,
    };
    crate::inspect::shell::run(config, bot, headed, dirs.data.clone()).await
}

/// `juru record BOT`: see [`crate::inspect::record`].
async fn record(dirs: &Dirs, name: &str, options: crate::inspect::record::Options) -> ExitCode {
    let (config, bot) = match config_and_bot(dirs, Some(name)) {
        Ok((c, Some(b))) => (c, b),
        Ok(_) => return ExitCode::from(2),
        Err(code) => return code,
    };
    crate::inspect::record::run(config, bot, options).await
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
        assert!(!colour(false, Some(OsStr::new(""))));
    }
}
