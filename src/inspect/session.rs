//! A browser for `juru inspect` and `juru shell`, opened the way a run opens one:
//! the agent's browser settings with the bot's `[browser]` overrides, a chromedriver
//! juru starts (and stops with everything it started), and, for a bot, its script
//! host on a thread of its own whose `login()` runs in the new session.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::bot::Bot;
use crate::browser::{self, Browser, Driver};
use crate::config::AgentConfig;
use crate::script::{Host, HostContext, Redactor, ScriptError, Sessions};

use super::InspectError;

/// The browser settings for `bot` (or the agent's alone), headed when asked.
pub fn settings(config: &AgentConfig, bot: Option<&Bot>, headed: bool) -> browser::Settings {
    let mut s = match bot {
        Some(b) => b.browser.apply(config.browser.clone()),
        None => config.browser.clone(),
    };
    if headed {
        s.headless = false;
    }
    s
}

/// Starts chromedriver (or takes the remote WebDriver URL).
pub async fn start_driver(settings: &browser::Settings) -> Result<Driver, InspectError> {
    Driver::start(settings, None)
        .await
        .map_err(|e| InspectError::Failed(format!("the browser could not start: {e}")))
}

/// Opens a plain session (no bot).
pub async fn open(driver: &Driver, settings: &browser::Settings) -> Result<Browser, InspectError> {
    Browser::open(driver.url(), settings, None)
        .await
        .map_err(|e| InspectError::Failed(e.to_string()))
}

/// Opens sessions for a host; remembers why the last one could not be used.
struct Opener {
    handle: Handle,
    url: String,
    settings: browser::Settings,
    downloads: PathBuf,
    failure: Arc<Mutex<Option<String>>>,
}

impl Sessions for Opener {
    fn open(&mut self) -> Result<Browser, ScriptError> {
        self.handle
            .block_on(Browser::open(
                &self.url,
                &self.settings,
                Some(&self.downloads),
            ))
            .map_err(|e| ScriptError::System {
                message: e.to_string(),
                kind: e.kind().to_string(),
            })
    }

    fn stop_requested(&self) -> bool {
        false
    }

    fn failed(&mut self, reason: String) {
        if let Ok(mut f) = self.failure.lock() {
            *f = Some(reason);
        }
    }

    // `login()` is tried once (the default): a person is waiting for the answer.

    fn discard(&mut self, browser: Browser) {
        self.handle.block_on(browser.close());
    }
}

/// A bot's script host with its browser open (and `login()` done when the script
/// defines it). Lives on the thread that made it.
pub struct BotHost {
    pub host: Host,
    /// Hides the secrets in what is shown of the host's values and errors.
    pub redactor: Redactor,
}

/// Makes `bot`'s host on the current (blocking) thread, opens its browser through
/// `driver_url` and runs `login()`. `work_dir` receives screenshots and downloads;
/// `cancel` becoming true ends what the script is doing.
#[allow(clippy::too_many_arguments)]
pub fn bot_host(
    handle: Handle,
    cancel: watch::Receiver<bool>,
    config: &AgentConfig,
    bot: &Bot,
    settings: &browser::Settings,
    driver_url: &str,
    work_dir: &Path,
) -> Result<BotHost, InspectError> {
    let context = HostContext {
        handle: handle.clone(),
        cancel,
        work_dir: work_dir.to_path_buf(),
        bot_dir: bot.dir.clone(),
        vars: bot.vars.clone(),
        secrets: config.secrets.clone(),
        bot: bot.name.clone(),
        top_level_limit: crate::script::TOP_LEVEL_LIMIT,
        redactor: Redactor::new(config.secrets.values()),
    };
    let mut host = Host::new(&bot.script, context).map_err(|e| {
        InspectError::Failed(format!(
            "the script of bot {} failed: {}",
            bot.name,
            e.message()
        ))
    })?;
    let failure = Arc::new(Mutex::new(None));
    host.set_sessions(Box::new(Opener {
        handle: handle.clone(),
        url: driver_url.to_string(),
        settings: settings.clone(),
        downloads: work_dir.join("downloads"),
        failure: failure.clone(),
    }));
    let limit = bot.timeout_per_item.max(Duration::from_secs(10));
    let opened = host.open_browser(limit);
    let reason = failure.lock().ok().and_then(|mut f| f.take());
    if opened.is_err() || reason.is_some() {
        // A session left open by a login() that failed or was interrupted.
        if let Some(browser) = host.set_browser(None) {
            handle.block_on(browser.close());
        }
    }
    match (opened, reason) {
        (Ok(()), None) => Ok(BotHost {
            host,
            redactor: Redactor::new(config.secrets.values()),
        }),
        (_, Some(reason)) => Err(InspectError::Failed(format!("bot {}: {reason}", bot.name))),
        (Err(e), None) => Err(InspectError::Failed(format!(
            "bot {}: {}",
            bot.name,
            e.message()
        ))),
    }
}

/// Opens `bot`'s browser and logs in with its `login()` on a thread of its own,
/// and hands the logged-in session back.
pub async fn open_logged_in(
    config: &AgentConfig,
    bot: &Bot,
    settings: &browser::Settings,
    driver: &Driver,
) -> Result<Browser, InspectError> {
    let work = tempfile::Builder::new()
        .prefix("juru-inspect-")
        .tempdir()
        .map_err(|e| InspectError::Failed(format!("cannot create a temporary folder: {e}")))?;
    let (config, bot, settings) = (config.clone(), bot.clone(), settings.clone());
    let (url, dir) = (driver.url().to_string(), work.path().to_path_buf());
    let handle = Handle::current();
    let opened = tokio::task::spawn_blocking(move || {
        let (_keep, cancel) = watch::channel(false);
        let bot_host = bot_host(handle, cancel, &config, &bot, &settings, &url, &dir)?;
        bot_host
            .host
            .set_browser(None)
            .ok_or_else(|| InspectError::Failed("the bot's browser did not open".into()))
    })
    .await
    .map_err(|e| InspectError::Failed(format!("the login thread failed: {e}")))?;
    drop(work);
    opened
}

/// The bot's `[vars]` that are strings (for the draft's addresses).
pub fn string_vars(bot: Option<&Bot>) -> BTreeMap<String, String> {
    bot.map(|b| {
        b.vars
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect()
    })
    .unwrap_or_default()
}
