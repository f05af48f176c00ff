//! `juru schedules pause|resume NAME` and `juru trigger BOT`: commands that talk to
//! a running agent through the store.

use std::process::ExitCode;
use std::time::Duration;

use super::Paths;
use crate::bot;
use crate::config::{AgentConfig, Schedules};
use crate::store::Store;
use crate::Problems;

/// How long `juru trigger` waits for an agent to take its request.
pub const TAKE_WITHIN: Duration = Duration::from_secs(10);

fn problems(p: &Problems) -> ExitCode {
    for p in &p.0 {
        eprintln!("error: {p}");
    }
    ExitCode::from(2)
}

fn open(paths: &Paths, config: &AgentConfig) -> Result<Store, ExitCode> {
    Store::open(config.store_location(&paths.data)).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })
}

/// Pauses (or resumes) a schedule of schedules.toml: the agent skips its fires
/// while it is paused, recording them as skipped.
pub fn pause(paths: &Paths, name: &str, paused: bool) -> ExitCode {
    let config = match AgentConfig::load(&paths.config) {
        Ok(c) => c,
        Err(p) => return problems(&p),
    };
    let schedules = match Schedules::load(&paths.config, config.time_zone, None) {
        Ok(s) => s,
        Err(p) => return problems(&p),
    };
    if !schedules.schedules.iter().any(|s| s.name == name) {
        let known: Vec<&str> = schedules
            .schedules
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        eprintln!(
            "error: {}: there is no schedule \"{name}\"; expected one of: {}",
            schedules.path.display(),
            if known.is_empty() {
                "(none)".to_string()
            } else {
                known.join(", ")
            }
        );
        return ExitCode::from(2);
    }
    let store = match open(paths, &config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match store.set_paused(name, paused) {
        Ok(()) => {
            if paused {
                crate::cli::outln!("{name}: paused; the agent skips its fires until `juru schedules resume {name}`");
            } else {
                crate::cli::outln!("{name}: resumed; it fires again from its next fire time");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Asks a running agent to run `bot` now (trigger `manual`); waits until the agent
/// took the request.
pub async fn trigger(paths: &Paths, bot_name: &str) -> ExitCode {
    let config = match AgentConfig::load(&paths.config) {
        Ok(c) => c,
        Err(p) => return problems(&p),
    };
    if let Err(p) = bot::load(&paths.bots, bot_name) {
        return problems(&p);
    }
    let store = match open(paths, &config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let alive = match store.any_agent_alive() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if !alive {
        eprintln!(
            "error: no juru agent is running on {} (start one with `juru agent`, or run the bot now with `juru run {bot_name}`)",
            store.location()
        );
        return ExitCode::from(1);
    }
    let id = match store.request_run(bot_name) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let deadline = tokio::time::Instant::now() + TAKE_WITHIN;
    loop {
        let answer = store
            .request_taken(id)
            .and_then(|taken| Ok((taken, store.request_result(id)?)));
        match answer {
            Ok((true, Some(result))) => {
                return match result.strip_prefix("refused: ") {
                    Some(why) => {
                        eprintln!("error: the agent did not start bot {bot_name}: {why}");
                        ExitCode::from(1)
                    }
                    None => {
                        crate::cli::outln!(
                            "the agent started bot {bot_name} (trigger manual); `juru runs list` shows the run"
                        );
                        ExitCode::SUCCESS
                    }
                };
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            eprintln!(
                "error: no agent took the request within {} s; it stays in {} and runs when an agent reads it",
                TAKE_WITHIN.as_secs(),
                store.location()
            );
            return ExitCode::from(1);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
