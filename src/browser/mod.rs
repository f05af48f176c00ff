//! One WebDriver browser: the chromedriver process juru owns (or a remote WebDriver
//! URL), and a session whose actions wait for their elements themselves.
//!
//! Everything here is async (tokio owns the sockets and the driver process). Verbs
//! follow WebDriver's: `goto`, `find`, `click`. Every action waits until its element
//! is shown and enabled, up to [`Settings::timeout`]; reading a value or an attribute
//! waits only until it is present. "Shown" and the visible text follow WebDriver's
//! own rules (Is Element Displayed, Get Element Text: see `js::VISIBLE`). A wait that
//! runs out is an error naming the selector and what it was still waiting for, or
//! what the page has instead ([`BrowserError::is_miss`] tells "element never came"
//! apart from other failures); a wait that sees a server error page fails at once.
//!
//! The browser goes to web pages only: navigations are `http:`/`https:` (and
//! `about:blank`), within [`Settings::allowed_hosts`] when set, and every script
//! juru runs in a page first checks that the page is one (`address`); files it
//! downloads are never writable by group or others.
//!
//! This module knows nothing of bots, runs or items.

mod actions;
mod address;
mod driver;
mod frames;
mod grid;
mod http_auth;
mod in_use;
mod js;
mod page;
mod read;
mod session;

use std::path::PathBuf;
use std::time::Duration;

pub use address::{host_matches, host_pattern};
pub use driver::{Driver, LazyDriver};
pub use frames::WindowScope;
pub use http_auth::HttpAuth;
pub use in_use::sessions_in_use;
pub use page::WindowInfo;
pub use read::TableData;
pub use session::{sweep_profiles, ActGuard, Browser, FieldValue};

/// What to do with a dialog (alert, confirm, prompt) that no action expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialogPolicy {
    /// Press Cancel (the default: nothing is confirmed behind the bot's back).
    #[default]
    Dismiss,
    /// Press OK.
    Accept,
}

/// How to reach a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverKind {
    /// Start `chromedriver` (a path or a name on PATH) on a free loopback port.
    Local {
        chromedriver: PathBuf,
        /// The Chromium binary; `None` lets chromedriver look (Debian: /usr/bin/chromium).
        chromium: Option<PathBuf>,
    },
    /// Use a WebDriver server that is already running (Selenium Grid, a cloud grid).
    Remote { url: String },
}

/// Browser settings (from `[browser]` in agent.toml).
#[derive(Debug, Clone)]
pub struct Settings {
    pub driver: DriverKind,
    pub headless: bool,
    /// Extra Chromium command-line arguments.
    pub args: Vec<String>,
    /// How long an action waits for its element (present, visible, enabled).
    pub timeout: Duration,
    /// How long a page may take to load.
    pub page_load_timeout: Duration,
    /// How long chromedriver and Chromium may take to start.
    pub startup_timeout: Duration,
    pub window_size: (u32, u32),
    /// Dialogs no action expected: dismissed (default) or accepted, and logged.
    pub unexpected_dialog: DialogPolicy,
    /// Keep chromedriver's own log in the run folder (it records what was typed,
    /// so juru hides the secrets in it when the run ends).
    pub driver_log: bool,
    /// Hosts the browser may go to (a bot's `[browser] allowed_hosts`, lower case;
    /// `*.example.go.id` for every name under a domain). Empty: any host. Either
    /// way only `http:` and `https:` pages (and `about:blank`) are used.
    pub allowed_hosts: Vec<String>,
    /// HTTP Basic/Digest credentials the browser answers challenges of these hosts
    /// with (`[login.http]` of a bot).
    pub http_auth: Option<HttpAuth>,
    /// With a remote WebDriver: how long to wait for a free browser when every slot
    /// of the Grid is busy (the Grid queues the request meanwhile).
    pub grid_wait: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            driver: DriverKind::Local {
                chromedriver: PathBuf::from("chromedriver"),
                chromium: None,
            },
            headless: true,
            args: Vec::new(),
            timeout: Duration::from_secs(30),
            page_load_timeout: Duration::from_secs(60),
            startup_timeout: Duration::from_secs(30),
            window_size: (1366, 900),
            unexpected_dialog: DialogPolicy::Dismiss,
            driver_log: false,
            allowed_hosts: Vec::new(),
            http_auth: None,
            grid_wait: Duration::from_secs(600),
        }
    }
}

/// What went wrong in the browser. Messages are whole sentences for the run log and
/// the exception report.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("chromedriver was not found at \"{}\": install Debian's packages (apt-get install chromium chromium-driver) or set browser.chromedriver in config/agent.toml", path.display())]
    DriverNotFound { path: PathBuf },
    #[error("chromedriver \"{}\" could not start: {reason}", path.display())]
    DriverStart { path: PathBuf, reason: String },
    #[error("chromedriver and the browser do not match: {message}; install matching versions (apt-get install chromium chromium-driver)")]
    VersionMismatch { message: String },
    #[error("the browser could not start: {reason}")]
    Session { reason: String },
    /// Every slot of the Grid stayed busy for all of `Settings::grid_wait`.
    #[error("no browser became free within {}: {line}", secs(*waited))]
    GridBusy { line: String, waited: Duration },
    /// The remote browser session is gone: the Grid cannot reach the node that held
    /// it (the node died) or no longer knows the session. A new session may work.
    #[error("{action} failed: the browser session on the grid at {grid} is gone (its node stopped, or the grid ended the session): {detail}")]
    GridLost {
        action: String,
        grid: String,
        detail: String,
    },
    /// An earlier start failed (the same message), or the driver was stopped.
    #[error("{0}")]
    Unavailable(String),
    /// The run withheld the command ([`session::ActGuard`]): this process may no
    /// longer act on the system.
    #[error("the command was not sent: this agent may no longer act on the system (its lease in the fleet's store could run out)")]
    Withheld,
    /// `hint` says what the page has instead (starting with "; "), or is empty.
    #[error("no element matches `{selector}` after waiting {}{hint}", secs(*waited))]
    NotFound {
        selector: String,
        waited: Duration,
        hint: String,
    },
    #[error("element `{selector}` is still {state} after waiting {}", secs(*waited))]
    NotReady {
        selector: String,
        state: String,
        waited: Duration,
    },
    #[error("the text \"{text}\" did not appear on the page after waiting {}", secs(*waited))]
    TextNotFound { text: String, waited: Duration },
    #[error("no dialog (alert/confirm/prompt) appeared after waiting {}", secs(*waited))]
    NoDialog { waited: Duration },
    #[error("`{selector}` is read-only: a person cannot type into it either; for a calendar widget use browser.set_date(selector, date)")]
    ReadOnly { selector: String },
    #[error("\"{value}\" is not a date for `{selector}`; expected dd/mm/yyyy or yyyy-mm-dd")]
    BadDate { selector: String, value: String },
    /// The page's title or address never became what a wait asked for.
    #[error("the page {what} did not {how} \"{wanted}\" after waiting {}; it is \"{found}\"", secs(*waited))]
    PageNotReached {
        what: &'static str,
        how: &'static str,
        wanted: String,
        found: String,
        waited: Duration,
    },
    #[error("no window whose title or address contains \"{wanted}\" opened within {}{open}", secs(*waited))]
    NoWindow {
        wanted: String,
        waited: Duration,
        /// The other windows that are open (starting with "; ").
        open: String,
    },
    #[error("the page {url} did not load within {}", secs(*waited))]
    PageLoad { url: String, waited: Duration },
    #[error("the server answered with an error page \"{title}\" at {url}")]
    ErrorPage { url: String, title: String },
    #[error("clicking `{selector}` downloaded no complete file within {}", secs(*waited))]
    Download { selector: String, waited: Duration },
    #[error("`{selector}` has no option \"{option}\"; its options are: {available}")]
    NoOption {
        selector: String,
        option: String,
        available: String,
    },
    #[error("{action} failed: {source}")]
    Command {
        action: String,
        #[source]
        source: fantoccini::error::CmdError,
    },
    #[error("{0}")]
    Io(String),
    /// A verb was asked to open an address that is not an http(s) one.
    #[error("only http and https addresses may be opened, not {url}")]
    NotWeb { url: String },
    /// The browser shows a document that is not a web page (a `file:` listing, a
    /// browser error page): juru does not read it or act on it.
    #[error("{url} is not an http or https page: juru neither reads it nor acts on it")]
    NotWebPage { url: String },
    /// The browser shows its own error page: the last page could not be loaded (the
    /// network, a refused redirect). Another try may work.
    #[error("the browser could not load the page (it shows its own error page, {url})")]
    NotLoaded { url: String },
    /// An address or page outside the bot's `[browser] allowed_hosts`.
    #[error("{host} is not one of the bot's allowed hosts ([browser] allowed_hosts: {allowed}); the address was {url}")]
    HostNotAllowed {
        host: String,
        url: String,
        allowed: String,
    },
    /// The server answered the `[login.http]` credentials with 401 again.
    #[error("the server refused the user name and password of [login.http] (HTTP 401 at {url}); check the secrets it names")]
    HttpLoginRefused { url: String },
}

impl BrowserError {
    /// The element (or text, or dialog) never came.
    pub fn is_miss(&self) -> bool {
        matches!(
            self,
            BrowserError::NotFound { .. }
                | BrowserError::NotReady { .. }
                | BrowserError::TextNotFound { .. }
                | BrowserError::NoDialog { .. }
                | BrowserError::NoWindow { .. }
                | BrowserError::PageNotReached { .. }
        )
    }

    /// The browser or driver cannot be used at all (start-up failures).
    pub fn is_startup(&self) -> bool {
        matches!(
            self,
            BrowserError::DriverNotFound { .. }
                | BrowserError::DriverStart { .. }
                | BrowserError::VersionMismatch { .. }
                | BrowserError::Session { .. }
                | BrowserError::GridBusy { .. }
                | BrowserError::Unavailable(_)
        )
    }

    /// A stable word for history and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            BrowserError::DriverNotFound { .. }
            | BrowserError::DriverStart { .. }
            | BrowserError::VersionMismatch { .. }
            | BrowserError::Session { .. }
            | BrowserError::Unavailable(_) => "browser_start",
            BrowserError::GridBusy { .. } => "grid_busy",
            BrowserError::Withheld => "withheld",
            BrowserError::GridLost { .. } => "browser_lost",
            BrowserError::NotFound { .. } | BrowserError::NotReady { .. } => "element_missing",
            BrowserError::TextNotFound { .. } => "text_missing",
            BrowserError::NoDialog { .. } => "dialog_missing",
            BrowserError::NoOption { .. } => "option_missing",
            BrowserError::ReadOnly { .. } | BrowserError::BadDate { .. } => "field",
            BrowserError::NoWindow { .. } => "window_missing",
            BrowserError::PageNotReached { .. } => "page_missing",
            BrowserError::PageLoad { .. } => "page_timeout",
            BrowserError::ErrorPage { .. } | BrowserError::NotLoaded { .. } => "error_page",
            BrowserError::Download { .. } => "download",
            BrowserError::Command { source, .. } if source.is_unexpected_alert_open() => {
                "unexpected_dialog"
            }
            BrowserError::Command { .. } => "webdriver",
            BrowserError::Io(_) => "io",
            BrowserError::NotWeb { .. }
            | BrowserError::NotWebPage { .. }
            | BrowserError::HostNotAllowed { .. } => "address",
            BrowserError::HttpLoginRefused { .. } => "login_refused",
        }
    }
}

fn secs(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
