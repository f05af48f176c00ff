//! A WebDriver session: opening and closing it, the one-round-trip page scripts
//! every action is built on, unexpected dialogs, and navigation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::elements::{Element, ElementRef};
use fantoccini::error::{CmdError, NewSessionError};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use super::address;
use super::driver::default_chromium;
use super::grid;
use super::js;
use super::{BrowserError, DialogPolicy, DriverKind, Settings};

pub(super) const POLL: Duration = Duration::from_millis(50);
/// The longest pause between two polls of a [`Backoff`].
const POLL_MAX: Duration = Duration::from_millis(500);

/// The pauses of a wait that polls the browser: 50 ms, then twice as long each time
/// up to half a second, so that a long wait costs a few commands, not one per 50 ms.
/// A wait that polled more than a few times says so in the debug log when it ends.
pub(super) struct Backoff {
    what: String,
    start: Instant,
    delay: Duration,
    polls: u32,
}

impl Backoff {
    pub(super) fn new(what: impl Into<String>) -> Backoff {
        Backoff {
            what: what.into(),
            start: Instant::now(),
            delay: POLL,
            polls: 0,
        }
    }

    /// Time since the wait began.
    pub(super) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Waits before the next poll.
    pub(super) async fn pause(&mut self) {
        self.polls += 1;
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(POLL_MAX);
    }

    /// Something changed (the wait made progress): poll soon again.
    pub(super) fn reset(&mut self) {
        self.delay = POLL;
    }
}

impl Drop for Backoff {
    fn drop(&mut self) {
        if self.polls > 3 {
            tracing::debug!(
                polls = self.polls,
                "waited {:.1} s for {}",
                self.start.elapsed().as_secs_f64(),
                self.what
            );
        }
    }
}
/// The longest a single in-page wait runs before answering.
pub(super) const WAIT_SLICE: Duration = Duration::from_secs(5);
pub(super) const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A value for [`Browser::set`]: text for inputs, textareas and selects (by visible
/// text), the wanted value for a radio group, on/off for a checkbox.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    Flag(bool),
}

impl FieldValue {
    pub(super) fn json(&self) -> Value {
        match self {
            FieldValue::Text(t) => json!(t),
            FieldValue::Flag(b) => json!(b),
        }
    }
}

/// Asked before every command that acts on the page (navigates, runs a page
/// script, clicks, types, answers a dialog): `false` and the session sends it not
/// ([`Browser::set_act_guard`]).
pub type ActGuard = Arc<dyn Fn() -> bool + Send + Sync>;

/// One browser session. Use it from one task at a time.
pub struct Browser {
    pub(super) client: Client,
    pub(super) timeout: Duration,
    pub(super) page_load_timeout: Duration,
    pub(super) policy: DialogPolicy,
    commands: Arc<AtomicU64>,
    /// Of `commands`, those that started the session.
    start_commands: u64,
    /// Dialogs that appeared when no action expected them (text), for the item log.
    dialogs: Mutex<Vec<String>>,
    /// The frame path the session is in (names from the top), for nested frame scopes.
    pub(super) frames: Mutex<Vec<String>>,
    /// The last frame scope ended at the top, but the browser is still in its frame:
    /// the switch to the top is sent before the next command that needs it, and not
    /// at all when that command is a navigation (which starts at the top anyway).
    pub(super) leave_pending: AtomicBool,
    pub(super) downloads: Option<PathBuf>,
    /// The remote WebDriver's URL (a Selenium Grid): downloads go through the Grid's
    /// managed downloads. `None` for a local chromedriver.
    pub(super) grid: Option<String>,
    /// The Grid keeps this session's downloads (`se:downloadsEnabled`).
    pub(super) grid_downloads: bool,
    /// `Settings::allowed_hosts`: empty for any host.
    pub(super) allowed_hosts: Vec<String>,
    /// The browser answers HTTP logins (`Settings::http_auth`).
    http_login: bool,
    /// What goes before every page script ([`address::guard`]), synchronous and not.
    guard_sync: String,
    guard_async: String,
    /// [`ActGuard`], when the run set one.
    act_guard: Mutex<Option<ActGuard>>,
    _profile: Option<tempfile::TempDir>,
    /// Counts the session as open ([`super::sessions_in_use`]) until it is dropped.
    _in_use: super::in_use::InUse,
}

/// Browser profile folders are `juru-chromium-<pid>-XXXXXX` in the temp folder, `<pid>`
/// being the juru process that made them.
const PROFILE_PREFIX: &str = "juru-chromium-";

/// Removes the browser profile folders in the temp folder that belong to juru
/// processes that no longer exist (a juru that was killed cannot remove its own; its
/// guard usually has). A folder of a running process is never touched. Returns how
/// many were removed.
pub fn sweep_profiles() -> usize {
    sweep_profiles_in(&std::env::temp_dir())
}

fn sweep_profiles_in(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(profile_owner) else {
            continue;
        };
        if process_exists(owner) {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_dir_all(&path) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(
                "cannot remove the browser profile folder {} a stopped juru left: {e}",
                path.display()
            ),
        }
    }
    if removed > 0 {
        tracing::info!(
            removed,
            "removed browser profile folders of stopped juru processes"
        );
    }
    removed
}

/// The pid in a profile folder's name `juru-chromium-<pid>-XXXXXX`.
fn profile_owner(name: &str) -> Option<u32> {
    let (pid, rest) = name.strip_prefix(PROFILE_PREFIX)?.split_once('-')?;
    if rest.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|p| *p > 0)
}

fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only asks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// An element that is present, visible and enabled.
pub(super) struct Ready {
    pub element: Element,
    pub tag: String,
    pub kind: String,
}

/// What [`Browser::element_op`] found.
pub(super) enum Found {
    Ready(Value),
    /// Not usable yet: missing, hidden, disabled.
    NotYet(String),
}

impl Browser {
    /// Opens a new session on `webdriver_url`. Files the page downloads go to
    /// `downloads` when given.
    pub async fn open(
        webdriver_url: &str,
        settings: &Settings,
        downloads: Option<&Path>,
    ) -> Result<Browser, BrowserError> {
        let remote = matches!(settings.driver, DriverKind::Remote { .. });
        // A local Chromium gets its own profile folder in the temp folder, named after
        // this juru process so that what a killed juru left can be told apart.
        let profile = if remote {
            None
        } else {
            Some(
                tempfile::Builder::new()
                    .prefix(&format!("{PROFILE_PREFIX}{}-", std::process::id()))
                    .tempdir()
                    .map_err(|e| BrowserError::Session {
                        reason: format!("cannot create a browser profile folder: {e}"),
                    })?,
            )
        };
        let mut args: Vec<String> = Vec::new();
        if settings.headless {
            args.push("--headless=new".into());
        }
        // SAFETY: geteuid has no preconditions.
        // A remote node's user is unknown: its Chromium gets --no-sandbox too, as
        // Chromium refuses to start as root without it (and Grid images run it so).
        if remote || unsafe { libc::geteuid() } == 0 {
            args.push("--no-sandbox".into());
        }
        for flag in [
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-popup-blocking",
            "--disable-features=Translate,MediaRouter,OptimizationHints,DownloadBubble,DownloadBubbleV2",
            "--password-store=basic",
        ] {
            args.push(flag.into());
        }
        let (w, h) = settings.window_size;
        args.push(format!("--window-size={w},{h}"));
        if let Some(profile) = &profile {
            args.push(format!("--user-data-dir={}", profile.path().display()));
        }
        if let Some(auth) = &settings.http_auth {
            let Some(profile) = &profile else {
                return Err(BrowserError::Session {
                    reason: "HTTP logins ([login.http] in bot.toml) need the local browser: a remote WebDriver cannot be handed the credentials".into(),
                });
            };
            let ext = super::http_auth::write_extension(profile.path(), auth).map_err(|e| {
                BrowserError::Session {
                    reason: format!("cannot prepare the HTTP login in the browser profile: {e}"),
                }
            })?;
            args.push(format!("--load-extension={}", ext.display()));
            args.push(format!("--disable-extensions-except={}", ext.display()));
        }
        args.extend(settings.args.iter().cloned());

        let mut chrome = json!({ "args": args });
        if let DriverKind::Local { chromium, .. } = &settings.driver {
            if let Some(bin) = chromium.clone().or_else(default_chromium) {
                chrome["binary"] = json!(bin.display().to_string());
            }
        }
        if let Some(dir) = downloads {
            std::fs::create_dir_all(dir).map_err(|e| BrowserError::Session {
                reason: format!("cannot create the download folder {}: {e}", dir.display()),
            })?;
        }
        if let (Some(dir), false) = (downloads, remote) {
            chrome["prefs"] = json!({
                "download.default_directory": dir.display().to_string(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "safebrowsing.enabled": false,
            });
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "pageLoadStrategy": "normal",
            // Dialogs nobody expected are handled by juru's policy (see `settle`).
            "unhandledPromptBehavior": "ignore",
            "timeouts": {
                "pageLoad": settings.page_load_timeout.as_millis() as u64,
                "script": 30_000,
                "implicit": 0,
            },
        });
        let Value::Object(mut caps) = caps else {
            unreachable!("capabilities are an object literal")
        };
        let mut grid_downloads = false;
        let client = if remote {
            // The Grid keeps downloaded files on the node when its nodes offer it;
            // juru fetches them after each download (`download`). Asked of a Grid
            // whose nodes do not, no slot would ever match.
            grid_downloads = downloads.is_some()
                && grid::slots(webdriver_url)
                    .await
                    .is_some_and(|s| s.downloads);
            if grid_downloads {
                caps.insert("se:downloadsEnabled".into(), json!(true));
            }
            connect_remote(webdriver_url, caps, settings).await?
        } else {
            let mut builder = ClientBuilder::new(HttpConnector::new());
            builder.capabilities(caps);
            let connect = builder.connect(webdriver_url);
            match tokio::time::timeout(settings.startup_timeout, connect).await {
                Err(_) => {
                    return Err(BrowserError::Session {
                        reason: format!(
                            "no session after {} s at {webdriver_url}",
                            settings.startup_timeout.as_secs()
                        ),
                    })
                }
                Ok(Err(e)) => return Err(session_error(e)),
                Ok(Ok(c)) => c,
            }
        };
        let mut browser = Browser {
            client,
            timeout: settings.timeout,
            page_load_timeout: settings.page_load_timeout,
            policy: settings.unexpected_dialog,
            commands: Arc::new(AtomicU64::new(1)),
            start_commands: 0,
            dialogs: Mutex::new(Vec::new()),
            frames: Mutex::new(Vec::new()),
            leave_pending: AtomicBool::new(false),
            downloads: downloads.map(Path::to_path_buf),
            grid: remote.then(|| webdriver_url.trim_end_matches('/').to_string()),
            grid_downloads,
            allowed_hosts: settings.allowed_hosts.clone(),
            http_login: settings.http_auth.is_some(),
            guard_sync: address::guard(&settings.allowed_hosts, false),
            guard_async: address::guard(&settings.allowed_hosts, true),
            act_guard: Mutex::new(None),
            _profile: profile,
            _in_use: super::in_use::InUse::new(),
        };
        if let (Some(dir), false) = (downloads, remote) {
            // Headless Chromium honours this more reliably than the profile prefs.
            let _ = browser
                .cdp(
                    "Browser.setDownloadBehavior",
                    json!({"behavior": "allow", "downloadPath": dir.display().to_string()}),
                )
                .await;
        }
        browser.start_commands = browser.commands();
        Ok(browser)
    }

    /// How many WebDriver commands this session has sent (counting the one that
    /// created it).
    pub fn commands(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Of [`Browser::commands`], those that started the session (creating it,
    /// setting its download folder).
    pub fn start_commands(&self) -> u64 {
        self.start_commands
    }

    /// Sets what is asked before every command that acts on the page.
    pub fn set_act_guard(&self, guard: ActGuard) {
        *self.act_guard.lock().unwrap_or_else(|p| p.into_inner()) = Some(guard);
    }

    /// Counts `n` commands that act on the page, after asking the [`ActGuard`].
    pub(super) fn act(&self, n: u64) -> Result<(), BrowserError> {
        let guard = self
            .act_guard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if guard.is_some_and(|may| !may()) {
            return Err(BrowserError::Withheld);
        }
        self.count(n);
        Ok(())
    }

    pub(super) fn count(&self, n: u64) {
        self.commands.fetch_add(n, Ordering::Relaxed);
    }

    /// The WebDriver client itself, for tools that speak WebDriver directly
    /// (`juru record` reads its recorder without juru's dialog policy).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The default wait for elements.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Takes the texts of the unexpected dialogs handled since the last call.
    pub fn take_dialogs(&self) -> Vec<String> {
        self.dialogs
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default()
    }

    /// Ends the session (closing the browser). Never hangs on an open dialog: a
    /// dialog is dismissed first, and the whole close is bounded in time. Files the
    /// session downloaded get the run folder's permissions (see
    /// [`super::actions::settle_downloads`]).
    pub async fn close(self) {
        let client = self.client;
        let _ = tokio::time::timeout(Duration::from_secs(10), async move {
            let _ = client.dismiss_alert().await;
            let _ = client.close().await;
        })
        .await;
        if let Some(dir) = &self.downloads {
            super::actions::settle_downloads(dir);
        }
    }

    // ---- dialogs nobody expected --------------------------------------------------

    /// Handles an open dialog by the policy (dismiss or accept), remembering its text.
    pub(super) async fn settle(&self) -> Option<String> {
        self.count(1);
        let text = self.client.get_alert_text().await.ok()?;
        self.count(1);
        let _ = match self.policy {
            DialogPolicy::Dismiss => self.client.dismiss_alert().await,
            DialogPolicy::Accept => self.client.accept_alert().await,
        };
        tracing::warn!("handled an unexpected dialog ({:?}): {text}", self.policy);
        if let Ok(mut d) = self.dialogs.lock() {
            d.push(text.clone());
        }
        Some(text)
    }

    /// Runs one script in the page (one round trip); `action` names it in errors. An
    /// unexpected dialog in the way is handled by the policy and the script runs again.
    pub(super) async fn js(
        &self,
        action: impl Fn() -> String,
        script: &str,
        args: Vec<Value>,
    ) -> Result<Value, BrowserError> {
        Ok(self
            .js_or_dialog(action, script, args, true)
            .await?
            .unwrap_or_default())
    }

    /// [`Browser::js`]; with `settle` false, an open dialog is left open and the
    /// answer is `None`.
    async fn js_or_dialog(
        &self,
        action: impl Fn() -> String,
        script: &str,
        args: Vec<Value>,
        settle: bool,
    ) -> Result<Option<Value>, BrowserError> {
        self.leave_now().await?;
        let script = format!("{}{script}", self.guard_sync);
        for attempt in 0..2 {
            self.act(1)?;
            match self.client.execute(&script, args.clone()).await {
                Ok(v) => return self.unless_refused(v).map(Some),
                Err(e) if e.is_unexpected_alert_open() && !settle => return Ok(None),
                Err(e) if attempt == 0 && e.is_unexpected_alert_open() => {
                    self.settle().await;
                }
                Err(e) => return Err(command(action(), e)),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// A page script's answer, or the error when the page refused to run it because
    /// it is not a web page or not of an allowed host ([`address::guard`]).
    fn unless_refused(&self, answer: Value) -> Result<Value, BrowserError> {
        match address::refusal(&answer, &self.allowed_hosts) {
            Some(e) => Err(e),
            None => Ok(answer),
        }
    }

    /// After a click: when the bot has `allowed_hosts`, the page the browser shows
    /// now must be of one of them. (Without them, the guard in every page script is
    /// enough, and the click costs no extra command.) A dialog the click opened is
    /// left for the script; the next page script checks the page.
    pub(super) async fn check_location(&self) -> Result<(), BrowserError> {
        if self.allowed_hosts.is_empty() {
            return Ok(());
        }
        self.count(1);
        match self.client.current_url().await {
            Ok(url) => address::check_page(url.as_str(), &self.allowed_hosts),
            Err(e) if e.is_unexpected_alert_open() => Ok(()),
            Err(e) => Err(command("reading the page URL", e)),
        }
    }

    /// One step on an element: finds it, checks it is ready, does `op`.
    pub(super) async fn element_op(
        &self,
        selector: &str,
        op: &str,
        value: Value,
    ) -> Result<Found, BrowserError> {
        let found = self
            .js(
                || format!("looking for `{selector}`"),
                &js::ELEMENT_FULL,
                vec![json!(selector), json!(op), value.clone()],
            )
            .await?;
        self.found(selector, &value, found)
    }

    /// Interprets what the element script answered.
    pub(super) fn found(
        &self,
        selector: &str,
        value: &Value,
        found: Value,
    ) -> Result<Found, BrowserError> {
        let state = found["state"].as_str().unwrap_or("missing").to_string();
        match state.as_str() {
            "ready" => Ok(Found::Ready(found)),
            "invalid" => Err(BrowserError::Io(format!(
                "`{selector}` is not a valid CSS selector: {}",
                found["message"].as_str().unwrap_or_default()
            ))),
            "nooption" => Err(BrowserError::NoOption {
                selector: selector.to_string(),
                option: value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string()),
                available: quote_list(&found["options"]),
            }),
            "readonly" => Err(BrowserError::ReadOnly {
                selector: selector.to_string(),
            }),
            "baddate" => Err(BrowserError::BadDate {
                selector: selector.to_string(),
                value: value.as_str().unwrap_or_default().to_string(),
            }),
            "file" => Err(BrowserError::Io(format!(
                "`{selector}` is a file field: use browser.upload(selector, path)"
            ))),
            "notselect" => Err(BrowserError::Io(format!(
                "`{selector}` is a <{}> element, not a <select>",
                found["tag"].as_str().unwrap_or("other")
            ))),
            "single" => Err(BrowserError::Io(format!(
                "`{selector}` is a single <select>: one option is always chosen; choose another with browser.fill or browser.select_index"
            ))),
            "errorpage" => Err(BrowserError::ErrorPage {
                url: found["url"].as_str().unwrap_or_default().to_string(),
                title: found["title"].as_str().unwrap_or_default().to_string(),
            }),
            _ => Ok(Found::NotYet(state)),
        }
    }

    /// Repeats `op` on `selector` until the element is ready, up to the timeout. The
    /// waiting happens inside the page, so a wait costs one round trip per few
    /// seconds rather than one per poll.
    pub(super) async fn until_ready(
        &self,
        selector: &str,
        op: &str,
        value: Value,
    ) -> Result<Value, BrowserError> {
        let start = Instant::now();
        loop {
            let left = self.timeout.saturating_sub(start.elapsed());
            let budget = left.min(WAIT_SLICE).as_millis() as u64;
            let answer = self
                .js_async(
                    || format!("looking for `{selector}`"),
                    &js::ELEMENT_WAIT,
                    vec![json!(selector), json!(op), value.clone(), json!(budget)],
                )
                .await?;
            let state = match answer {
                // The page went away while waiting (a navigation): ask the new one.
                None => "missing".to_string(),
                Some(found) => match self.found(selector, &value, found)? {
                    Found::Ready(v) => return Ok(v),
                    Found::NotYet(state) => state,
                },
            };
            if start.elapsed() >= self.timeout {
                if state == "missing" {
                    return Err(BrowserError::NotFound {
                        selector: selector.to_string(),
                        waited: self.timeout,
                        hint: self.hint("fields").await,
                    });
                }
                return Err(self.not_ready(selector, &state));
            }
            if budget == 0 {
                tokio::time::sleep(POLL).await;
            }
        }
    }

    /// An asynchronous page script. `None` when the page navigated away before it
    /// answered (the caller asks again).
    pub(super) async fn js_async(
        &self,
        action: impl Fn() -> String,
        script: &str,
        args: Vec<Value>,
    ) -> Result<Option<Value>, BrowserError> {
        self.leave_now().await?;
        let script = format!("{}{script}", self.guard_async);
        for attempt in 0..2 {
            self.act(1)?;
            match self.client.execute_async(&script, args.clone()).await {
                Ok(v) => return self.unless_refused(v).map(Some),
                Err(e) if attempt == 0 && e.is_unexpected_alert_open() => {
                    self.settle().await;
                }
                Err(e)
                    if e.is_javascript_error() || e.is_script_timeout() || e.is_no_such_frame() =>
                {
                    tokio::time::sleep(POLL).await;
                    return Ok(None);
                }
                Err(e) => return Err(command(action(), e)),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    pub(super) fn not_ready(&self, selector: &str, state: &str) -> BrowserError {
        let state = if state == "empty" {
            "without options"
        } else {
            state
        };
        if state == "missing" {
            BrowserError::NotFound {
                selector: selector.to_string(),
                waited: self.timeout,
                hint: String::new(),
            }
        } else {
            BrowserError::NotReady {
                selector: selector.to_string(),
                state: state.to_string(),
                waited: self.timeout,
            }
        }
    }

    /// What the page has instead of a missing element, for the error message:
    /// `"; fields on this page: …"` (`what`: `fields`, `links` or `frames`), and
    /// the page's frames when the element may be inside one. Empty when the page
    /// cannot be read.
    pub(super) async fn hint(&self, what: &str) -> String {
        let Ok(found) = self
            .js(
                || "describing the page".into(),
                &js::HINT_FULL,
                vec![json!(what)],
            )
            .await
        else {
            return String::new();
        };
        let mut hint = String::new();
        let listed: Vec<String> = found["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| {
                        let sel = i["sel"].as_str()?;
                        let label = i["label"].as_str().unwrap_or_default();
                        Some(if label.is_empty() {
                            format!("`{sel}`")
                        } else {
                            format!("`{sel}` (\"{label}\")")
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let noun = match what {
            "links" => "links",
            "frames" => "frames",
            _ => "fields",
        };
        if listed.is_empty() {
            hint.push_str(&format!("; the page has no {noun}"));
        } else {
            let more = found["more"].as_u64().unwrap_or(0);
            hint.push_str(&format!("; {noun} on this page: {}", listed.join(", ")));
            if more > 0 {
                hint.push_str(&format!(" and {more} more"));
            }
        }
        if what != "frames" {
            let frames = quote_list(&found["frames"]);
            if !frames.is_empty() {
                hint.push_str(&format!(
                    "; the page has frames ({frames}): reach what is inside one with browser.in_frame"
                ));
            }
        }
        hint
    }

    /// Waits until `selector` is present, visible and enabled, and returns it.
    pub(super) async fn ready(&self, selector: &str) -> Result<Ready, BrowserError> {
        let found = self.until_ready(selector, "probe", Value::Null).await?;
        let id = found["el"][ELEMENT_KEY]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok(Ready {
            element: Element::from_element_id(self.client.clone(), ElementRef::from(id)),
            tag: found["tag"].as_str().unwrap_or_default().to_string(),
            kind: found["type"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Sends a Chrome DevTools command through chromedriver (local Chromium only).
    pub(super) async fn cdp(&self, cmd: &str, params: Value) -> Result<Value, BrowserError> {
        self.act(1)?;
        self.client
            .issue_cmd(Raw {
                path: "goog/cdp/execute",
                body: json!({"cmd": cmd, "params": params}),
            })
            .await
            .map_err(|e| command(format!("the browser command {cmd}"), e))
    }

    /// Sends the switch to the top that ending a frame scope left pending.
    pub(super) async fn leave_now(&self) -> Result<(), BrowserError> {
        if self.leave_pending.load(Ordering::Relaxed) {
            self.to_top().await?;
        }
        Ok(())
    }

    /// Back to the top-level document of the current window.
    pub(super) async fn to_top(&self) -> Result<(), BrowserError> {
        self.leave_pending.store(false, Ordering::Relaxed);
        self.count(1);
        self.client
            .issue_cmd(Raw {
                path: "frame",
                body: json!({"id": null}),
            })
            .await
            .map(|_| ())
            .map_err(|e| command("returning to the top of the page", e))
    }

    // ---- navigation -------------------------------------------------------------

    /// Loads `url`, waits for the page to load, and refuses server error pages
    /// (an Apache-style "500 Internal Server Error" is a system failure, not a page).
    /// Only `http:`/`https:` addresses (and `about:blank`) of the allowed hosts are
    /// opened; the page it ends on (after redirects) must be one too.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        address::check_open(url, &self.allowed_hosts)?;
        let url = url.trim();
        // A navigation starts at the top of the window: no need to go there first.
        self.leave_pending.store(false, Ordering::Relaxed);
        for attempt in 0..2 {
            // Navigate directly (fantoccini's `goto` first asks for the current URL to
            // resolve relative ones: a round trip juru does not need).
            self.act(1)?;
            let sent = self
                .client
                .issue_cmd(Raw {
                    path: "url",
                    body: json!({ "url": url }),
                })
                .await;
            match sent {
                Ok(_) => break,
                Err(e) if e.is_timeout() => {
                    return Err(BrowserError::PageLoad {
                        url: url.to_string(),
                        waited: self.page_load_timeout,
                    })
                }
                Err(e) if attempt == 0 && e.is_unexpected_alert_open() => {
                    self.settle().await;
                }
                Err(e) => return Err(command(format!("opening {url}"), e)),
            }
        }
        self.check_opened_page().await
    }

    /// After a navigation: a system failure when the page is a server error page. A
    /// dialog the page opened while loading (an `alert()` on load) is left open for
    /// the script (`accept_dialog`, `dismiss_dialog`, `dialog_text`); the next other
    /// browser call handles it by the unexpected-dialog policy.
    pub(super) async fn check_opened_page(&self) -> Result<(), BrowserError> {
        let Some(page) = self
            .js_or_dialog(|| "reading the page".into(), js::PAGE, vec![], false)
            .await?
        else {
            tracing::debug!("the page opened a dialog while loading; left for the script");
            return Ok(());
        };
        self.page_failure(&page)
    }

    /// A system failure when the current page is a server error page.
    pub async fn check_error_page(&self) -> Result<(), BrowserError> {
        let page = self
            .js(|| "reading the page".into(), js::PAGE, vec![])
            .await?;
        self.page_failure(&page)
    }

    /// Reads the text of the dialog that is open (or opens within the timeout),
    /// leaving it open.
    pub async fn dialog_text(&self) -> Result<String, BrowserError> {
        self.dialog(self.timeout).await
    }
}

/// A system failure when the page read by [`js::PAGE`] is a server error page.
impl Browser {
    /// What the page read by `js::PAGE` says is wrong: an HTTP login the server
    /// refused again (trying again cannot help, and might lock the account), or a
    /// server error page.
    fn page_failure(&self, page: &Value) -> Result<(), BrowserError> {
        if self.http_login && page["status"].as_u64() == Some(401) {
            return Err(BrowserError::HttpLoginRefused {
                url: page["url"].as_str().unwrap_or_default().to_string(),
            });
        }
        error_page_of(page)
    }
}

fn error_page_of(page: &Value) -> Result<(), BrowserError> {
    let title = page["title"].as_str().unwrap_or_default();
    let heading = page["heading"].as_str().unwrap_or_default();
    if let Some(what) = error_page(title).or_else(|| error_page(heading)) {
        return Err(BrowserError::ErrorPage {
            url: page["url"].as_str().unwrap_or_default().to_string(),
            title: what,
        });
    }
    Ok(())
}

impl Browser {
    pub async fn url(&self) -> Result<String, BrowserError> {
        self.count(1);
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .map_err(|e| command("reading the page URL", e))
    }

    pub async fn title(&self) -> Result<String, BrowserError> {
        self.count(1);
        self.client
            .title()
            .await
            .map_err(|e| command("reading the page title", e))
    }

    // ---- dialogs the script expects ---------------------------------------------

    async fn dialog(&self, within: Duration) -> Result<String, BrowserError> {
        let mut wait = Backoff::new("a dialog");
        loop {
            self.count(1);
            match self.client.get_alert_text().await {
                Ok(text) => return Ok(text),
                Err(e) if e.is_no_such_alert() => {
                    if wait.elapsed() >= within {
                        return Err(BrowserError::NoDialog { waited: within });
                    }
                    wait.pause().await;
                }
                Err(e) => return Err(command("reading the dialog", e)),
            }
        }
    }

    /// Waits for an alert/confirm/prompt, accepts it (OK) and returns its text.
    pub async fn accept_dialog(&self) -> Result<String, BrowserError> {
        let text = self.dialog(self.timeout).await?;
        self.act(1)?;
        self.client
            .accept_alert()
            .await
            .map_err(|e| command("accepting the dialog", e))?;
        Ok(text)
    }

    /// Waits for a dialog and accepts it (OK), without reading its text: one round
    /// trip when the dialog is already open.
    pub async fn accept_dialog_quietly(&self) -> Result<(), BrowserError> {
        let mut wait = Backoff::new("a dialog to accept");
        loop {
            self.act(1)?;
            match self.client.accept_alert().await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_no_such_alert() => {
                    if wait.elapsed() >= self.timeout {
                        return Err(BrowserError::NoDialog {
                            waited: self.timeout,
                        });
                    }
                    wait.pause().await;
                }
                Err(e) => return Err(command("accepting the dialog", e)),
            }
        }
    }

    /// Waits for an alert/confirm/prompt, dismisses it (Cancel) and returns its text.
    pub async fn dismiss_dialog(&self) -> Result<String, BrowserError> {
        let text = self.dialog(self.timeout).await?;
        self.count(1);
        self.client
            .dismiss_alert()
            .await
            .map_err(|e| command("dismissing the dialog", e))?;
        Ok(text)
    }

    /// Waits for a prompt, types `answer`, accepts it and returns the prompt's text.
    pub async fn answer_prompt(&self, answer: &str) -> Result<String, BrowserError> {
        let text = self.dialog(self.timeout).await?;
        self.act(2)?;
        self.client
            .send_alert_text(answer)
            .await
            .map_err(|e| command("typing into the prompt", e))?;
        self.client
            .accept_alert()
            .await
            .map_err(|e| command("accepting the prompt", e))?;
        Ok(text)
    }

    /// Dismisses a dialog if one is open; returns its text. Used before screenshots
    /// and when closing, so an unexpected alert never hangs a run.
    pub async fn clear_dialog(&self) -> Option<String> {
        self.count(1);
        let text = self.client.get_alert_text().await.ok()?;
        self.count(1);
        let _ = self.client.dismiss_alert().await;
        Some(text)
    }

    // ---- screenshots ------------------------------------------------------------

    /// Saves a PNG of the whole page (beyond the window where the browser allows) to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        let png = match self.full_page_png().await {
            Some(png) => png,
            None => {
                self.count(1);
                self.client
                    .screenshot()
                    .await
                    .map_err(|e| command("taking a screenshot", e))?
            }
        };
        write_file(path, &png)
    }

    async fn full_page_png(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await.ok()?;
        let size = &metrics["cssContentSize"];
        let (w, h) = (size["width"].as_f64()?, size["height"].as_f64()?);
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": w.clamp(1.0, 4000.0), "height": h.clamp(1.0, 16000.0), "scale": 1},
                }),
            )
            .await
            .ok()?;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str()?)
            .ok()
    }

    /// Saves a PNG of one element to `path`.
    pub async fn screenshot_element(
        &self,
        selector: &str,
        path: &Path,
    ) -> Result<(), BrowserError> {
        let ready = self.ready(selector).await?;
        self.count(1);
        let png = ready
            .element
            .screenshot()
            .await
            .map_err(|e| command(format!("taking a screenshot of `{selector}`"), e))?;
        write_file(path, &png)
    }
}

/// A WebDriver command fantoccini has no method for: POST `/session/{id}/{path}`
/// with `body`, or GET when `body` is `null`.
#[derive(Debug)]
pub(super) struct Raw {
    pub path: &'static str,
    pub body: Value,
}

impl WebDriverCompatibleCommand for Raw {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        match &self.body {
            Value::Null => (http::Method::GET, None),
            body => (http::Method::POST, Some(body.to_string())),
        }
    }
}

/// What an error page calls itself, if `text` looks like one.
fn error_page(text: &str) -> Option<String> {
    let t = text.trim();
    let lower = t.to_lowercase();
    let phrases = [
        "internal server error",
        "service unavailable",
        "bad gateway",
        "gateway timeout",
        "gateway time-out",
        "server error",
    ];
    let code = t
        .split_whitespace()
        .next()
        .and_then(|w| w.parse::<u16>().ok());
    if matches!(code, Some(500..=599)) || phrases.iter().any(|p| lower.contains(p)) {
        Some(t.to_string())
    } else {
        None
    }
}

pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BrowserError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| BrowserError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, bytes)
        .map_err(|e| BrowserError::Io(format!("cannot write {}: {e}", path.display())))
}

pub(super) fn quote_list(values: &Value) -> String {
    values
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub(super) fn command(action: impl Into<String>, source: CmdError) -> BrowserError {
    if let Some(url) = remote_url() {
        if grid::is_lost(&source) {
            return BrowserError::GridLost {
                action: action.into(),
                grid: url,
                detail: source.to_string(),
            };
        }
    }
    BrowserError::Command {
        action: action.into(),
        source,
    }
}

/// The remote WebDriver this process opened sessions on (`[browser] webdriver_url`
/// is one per agent), for errors that name it.
static REMOTE: Mutex<Option<String>> = Mutex::new(None);

/// How long a new session on a Grid may take before juru looks whether it waits
/// for a free slot.
const GRID_START: Duration = Duration::from_secs(3);

/// When every slot of the Grid at `url` is busy: how many slots it has.
async fn full_grid(url: &str) -> Option<usize> {
    match grid::slots(url).await {
        Some(s) if s.total > 0 && s.busy >= s.total => Some(s.total),
        _ => None,
    }
}

fn remote_url() -> Option<String> {
    REMOTE.lock().ok().and_then(|r| r.clone())
}

/// Opens a session on a remote WebDriver (a Selenium Grid). When every slot is
/// busy the Grid queues the request: juru says so once in the log and waits up to
/// `Settings::grid_wait`, asking again when the Grid's own queue gives up first.
async fn connect_remote(
    url: &str,
    caps: serde_json::Map<String, Value>,
    settings: &Settings,
) -> Result<Client, BrowserError> {
    let url = url.trim_end_matches('/');
    if let Ok(mut r) = REMOTE.lock() {
        *r = Some(url.to_string());
    }
    let start = Instant::now();
    // How many slots the Grid has, once juru said it waits for one of them.
    let mut told: Option<usize> = None;
    // Marks this request in the Grid's queue (chromedriver ignores it).
    static REQUESTS: AtomicU64 = AtomicU64::new(0);
    let marker = format!(
        "{}-{}",
        std::process::id(),
        REQUESTS.fetch_add(1, Ordering::Relaxed)
    );
    let mut caps = caps;
    caps.insert(grid::MARKER.into(), json!(marker));
    loop {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps.clone());
        let connect = builder.connect(url);
        tokio::pin!(connect);
        let remaining = settings.grid_wait.saturating_sub(start.elapsed());
        let attempt = tokio::time::timeout(remaining, async {
            if told.is_none() {
                // A free slot starts a browser within a few seconds.
                tokio::select! {
                    r = &mut connect => return r,
                    _ = tokio::time::sleep(GRID_START) => {}
                }
                // Still in the Grid's queue, with every slot busy: it waits for a
                // slot. (A slow node starting this request's browser has taken it
                // out of the queue, and its slot counts as busy.)
                let queued = grid::queued(url, &marker).await;
                if queued != Some(false) {
                    if let Some(total) = full_grid(url).await {
                        if queued.is_none() {
                            // No queue to look at: the busy slot may be this
                            // request's own, whose answer then comes within a moment.
                            tokio::select! {
                                r = &mut connect => return r,
                                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            }
                        }
                        tracing::warn!("{}", grid::waiting_line(url, total));
                        told = Some(total);
                    }
                }
            }
            connect.await
        })
        .await;
        let busy = |told: Option<usize>| async move {
            let line = match told.or(full_grid(url).await) {
                Some(n) => grid::waiting_line(url, n),
                None => format!("waiting for a free browser on the grid at {url}"),
            };
            BrowserError::GridBusy {
                line,
                waited: settings.grid_wait,
            }
        };
        match attempt {
            Ok(Ok(client)) => {
                if told.is_some() {
                    tracing::info!(
                        "a browser on the grid at {url} became free after {:.0} s",
                        start.elapsed().as_secs_f64()
                    );
                }
                return Ok(client);
            }
            Err(_) => return Err(busy(told).await),
            Ok(Err(e)) => {
                let text = e.to_string();
                if grid::is_queue_timeout(&text) {
                    if start.elapsed() >= settings.grid_wait {
                        return Err(busy(told).await);
                    }
                    tracing::info!(
                        "the grid at {url} gave up on the request for a browser (its own queue timeout); asking again, {:.0} s of browser.grid_wait left",
                        settings.grid_wait.saturating_sub(start.elapsed()).as_secs_f64()
                    );
                    continue;
                }
                if matches!(
                    e,
                    NewSessionError::Failed(_)
                        | NewSessionError::FailedC(_)
                        | NewSessionError::Lost(_)
                ) {
                    return Err(BrowserError::Session {
                        reason: format!("the grid at {url} does not answer: {text}"),
                    });
                }
                return Err(session_error(e));
            }
        }
    }
}

fn session_error(e: NewSessionError) -> BrowserError {
    let text = e.to_string();
    if text.contains("only supports Chrome version") || text.contains("only supports Chromium") {
        return BrowserError::VersionMismatch { message: text };
    }
    if text.contains("cannot find Chrome binary") || text.contains("no chrome binary") {
        return BrowserError::Session {
            reason: format!("{text}; install Chromium (apt-get install chromium) or set browser.chromium in config/agent.toml"),
        };
    }
    BrowserError::Session { reason: text }
}

#[cfg(test)]
mod tests {
    use super::{error_page, profile_owner, sweep_profiles_in};

    #[test]
    fn recognises_error_pages() {
        assert!(error_page("500 Internal Server Error").is_some());
        assert!(error_page("503 Service Unavailable").is_some());
        assert!(error_page("Internal Server Error").is_some());
        assert!(error_page("Layanan Perizinan").is_none());
        assert!(error_page("2026 Laporan").is_none());
    }

    #[test]
    fn profile_folders_name_their_owner() {
        assert_eq!(profile_owner("juru-chromium-4242-a1B2c3"), Some(4242));
        assert_eq!(profile_owner("juru-chromium-4242-"), None);
        assert_eq!(profile_owner("juru-chromium-a1B2c3"), None, "older names");
        assert_eq!(profile_owner("juru-chromium-12x-a1B2c3"), None);
        assert_eq!(profile_owner("juru-chromium-0-a1B2c3"), None);
        assert_eq!(profile_owner("other-4242-a1B2c3"), None);
    }

    #[test]
    fn sweeping_removes_only_folders_of_processes_that_are_gone() {
        let tmp = tempfile::tempdir().unwrap();
        // A process that has exited (and was reaped): its pid names no process.
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        let dead = format!("juru-chromium-{}-dead01", gone.id());
        let live = format!("juru-chromium-{}-live01", std::process::id());
        for name in [
            &dead,
            &live,
            &"juru-chromium-old123".to_string(),
            &"andere".to_string(),
        ] {
            std::fs::create_dir_all(tmp.path().join(name).join("Default")).unwrap();
            std::fs::write(tmp.path().join(name).join("Default/Preferences"), "{}").unwrap();
        }
        assert_eq!(sweep_profiles_in(tmp.path()), 1);
        let mut left: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![
            live,
            "andere".to_string(),
            "juru-chromium-old123".to_string(),
        ];
        want.sort();
        assert_eq!(left, want);
    }
}
