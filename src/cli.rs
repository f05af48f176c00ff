//! The `juru` command line: parses arguments, wires config, bots, the run engine and
//! the demo portal together, prints results and maps them to exit codes
//! (0 done, 1 the run failed, 2 usage or configuration error).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::bot;
use crate::config::AgentConfig;
use crate::demo;
use crate::run::{self, MailStatus, RunError, RunOptions, RunState, RunSummary, Stop};
use crate::Problems;

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
    #[command(subcommand)]
    pub command: Command,
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
    /// Check config/agent.toml and every bot (bot.toml and main.rhai) without running anything.
    ///
    /// Lists every problem with its file and line or key, and exits 2 if there is any.
    Check,
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
    runtime.block_on(async move {
        match cli.command {
            Command::Check => check(&cli.dirs),
            Command::Run {
                bot,
                input,
                vars,
                headed,
            } => {
                let vars = vars.into_iter().collect();
                run_bot(&cli.dirs, &bot, input, vars, BTreeMap::new(), headed, "cli").await
            }
            Command::Demo {
                serve: true, port, ..
            } => serve_demo(port.unwrap_or(8765)).await,
            Command::Demo { port, headed, .. } => {
                run_demo(&cli.dirs, port.unwrap_or(0), headed).await
            }
        }
    })
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
    if let Err(p) = AgentConfig::load(&dirs.config) {
        problems.extend(p);
    }
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
    if !problems.is_empty() {
        return print_problems(&problems);
    }
    println!(
        "ok: {} and {} bot{} ({}) are valid",
        dirs.config.join("agent.toml").display(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    ExitCode::SUCCESS
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

async fn run_bot(
    dirs: &Dirs,
    name: &str,
    input: Option<PathBuf>,
    vars: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    headed: bool,
    trigger: &str,
) -> ExitCode {
    let config = AgentConfig::load(&dirs.config);
    let bot = bot::load(&dirs.bots, name);
    let (mut config, bot) = match (config, bot) {
        (Ok(c), Ok(b)) => (c, b),
        (c, b) => {
            let mut problems = Problems::default();
            if let Err(p) = c {
                problems.extend(p);
            }
            if let Err(p) = b {
                problems.extend(p);
            }
            return print_problems(&problems);
        }
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
    };
    match run::run(bot, opts, stop_on_signals()).await {
        Ok(summary) => {
            print_summary(&summary);
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
    }
}

fn print_summary(s: &RunSummary) {
    let c = &s.counts;
    let state = match &s.state {
        RunState::Finished => "finished".to_string(),
        RunState::Failed(reason) => format!("FAILED: {reason}"),
        RunState::Cancelled => "cancelled".to_string(),
    };
    let per_item = if c.total > c.pending && c.total > 0 {
        format!(
            " ({:.1} per item)",
            s.commands as f64 / (c.total - c.pending) as f64
        )
    } else {
        String::new()
    };
    println!();
    println!("run {} of bot {}: {state}", s.id, s.bot);
    println!("  {:<22} {:>6}", "rows", c.total);
    println!("  {:<22} {:>6}", "done", c.done);
    println!("  {:<22} {:>6}", "business exceptions", c.business);
    println!("  {:<22} {:>6}", "system exceptions", c.system);
    if c.pending > 0 {
        println!("  {:<22} {:>6}", "not processed", c.pending);
    }
    println!("  {:<22} {:>6.1} s", "duration", s.duration.as_secs_f64());
    println!("  {:<22} {:>6}{per_item}", "webdriver commands", s.commands);
    println!("  {:<22} {}", "run folder", s.dir.display());
    println!("  {:<22} {}", "output", s.output.display());
    println!("  {:<22} {}", "exceptions", s.exceptions.display());
    let mail = match &s.mail {
        MailStatus::Delivered(run::Delivery::Written(p)) => format!("written to {}", p.display()),
        MailStatus::Delivered(run::Delivery::Sent { server, .. }) => format!("sent via {server}"),
        MailStatus::NoRecipients => "not sent: bot.toml [notify] names nobody".to_string(),
        MailStatus::Failed(e) => format!("NOT SENT: {e}"),
    };
    println!("  {:<22} {mail}", "mail");
}

async fn run_demo(dirs: &Dirs, port: u16, headed: bool) -> ExitCode {
    let portal = match demo::Portal::start(SocketAddr::from(([127, 0, 0, 1], port))).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the demo portal cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "demo portal: {} (user {}, password {})",
        portal.url(),
        demo::DEMO_USER,
        demo::DEMO_PASSWORD
    );
    let vars = BTreeMap::from([("portal_url".to_string(), portal.url())]);
    let secrets = demo_secrets();
    let code = run_bot(dirs, DEMO_BOT, None, vars, secrets, headed, "demo").await;
    let saved = portal.records().len();
    println!(
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

async fn serve_demo(port: u16) -> ExitCode {
    let portal = match demo::Portal::start(SocketAddr::from(([127, 0, 0, 1], port))).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the demo portal cannot listen on 127.0.0.1:{port}: {e} (choose another with --port)");
            return ExitCode::from(1);
        }
    };
    println!("demo portal: {}", portal.url());
    println!(
        "log in as {} / {}; Ctrl-C stops it",
        demo::DEMO_USER,
        demo::DEMO_PASSWORD
    );
    let _ = tokio::signal::ctrl_c().await;
    portal.stop().await;
    ExitCode::SUCCESS
}
