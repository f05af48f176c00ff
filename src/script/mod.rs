//! The Rhai host: compiles a bot's `main.rhai` and runs its functions with the host
//! API (the browser, the item, logging, secrets, variables).
//!
//! Rhai is synchronous, so a [`Host`] lives on one blocking thread and reaches the
//! async browser through a tokio runtime handle. The sandbox: scripts see only what
//! this module registers (no files but through its functions, no processes, no
//! `eval`, no `import`), and every evaluation is bounded by the item's deadline and
//! the run's cancel signal, both checked between script operations and around every
//! browser call, and by the limits of [`sandbox`] on what one evaluation may build
//! (string and container sizes, call depth, operations). What a script logs is
//! redacted ([`Redactor`]) and has its control characters shown escaped.
//!
//! Errors come back as [`ScriptError`]: `Business` (the script said the data is
//! wrong), `System` (anything else), `TimedOut` and `Cancelled`.
//!
//! The browser opens on demand: the first time a script names `browser` and no
//! session is open, the host asks the run for one ([`Sessions`]) and runs the
//! script's `login()` in it before the script goes on.
//!
//! The bot-author reference for everything registered here is
//! `docs/bot-reference.md`; a test checks that it names every registered function.

mod api;
mod memory;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, EvalContext, Scope, AST};
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::browser::{Browser, BrowserError};
use crate::sheet::Cell;
use crate::Problem;

pub use api::Failure;

/// One item of a finished run, as the script's `finish(run)` sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedItem {
    /// The item's row number in the input.
    pub row: i64,
    /// `done`, `business`, `system`, `verify` or `pending`.
    pub status: String,
    /// Why it ended as it did (empty for most done items).
    pub message: String,
    /// The input row, column by column in workbook order.
    pub data: Vec<(String, Cell)>,
    /// What the script set with `item.output(name, value)`.
    pub outputs: Vec<(String, Cell)>,
}

/// A script's text and the path it came from: plain data, free to send between
/// threads (a compiled [`Script`] is not).
#[derive(Debug, Clone)]
pub struct Source {
    pub text: String,
    /// The path as shown to people, e.g. `bots/izin/main.rhai`.
    pub shown: String,
}

impl Source {
    /// Reads a script file.
    pub fn load(path: &Path, shown: &str) -> Result<Source, Problem> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Problem::new(shown, format!("cannot read the script: {e}")))?;
        Ok(Source {
            text,
            shown: shown.to_string(),
        })
    }

    /// Compiles it; a syntax error is `path:LINE:COL: message`.
    pub fn compile(&self) -> Result<Script, Problem> {
        compile_text(&self.text, &self.shown)
    }
}

/// A compiled script (stays on the thread that compiled it).
#[derive(Debug, Clone)]
pub struct Script {
    pub ast: AST,
    /// The path as shown to people, e.g. `bots/izin/main.rhai`.
    pub shown: String,
}

impl Script {
    /// Whether the script defines `name` with `arity` parameters.
    pub fn defines(&self, name: &str, arity: usize) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == name && f.params.len() == arity)
    }
}

/// Compiles script text shown as `shown`.
pub fn compile_text(text: &str, shown: &str) -> Result<Script, Problem> {
    let engine = sandbox();
    let ast = engine.compile(text).map_err(|e| {
        let pos = e.position();
        let location = match (pos.line(), pos.position()) {
            (Some(l), Some(c)) => format!("{shown}:{l}:{c}"),
            (Some(l), None) => format!("{shown}:{l}"),
            _ => shown.to_string(),
        };
        // Rhai's words for the slips people make most, in plain words.
        let message = match &*e.0 {
            rhai::ParseErrorType::Reserved(word) if word == "import" => {
                "imports are not allowed; put the code in main.rhai".to_string()
            }
            rhai::ParseErrorType::Reserved(word) if word == "$" => {
                "`${…}` works only inside back-ticks: write `NIK ${item[\"NIK\"]}` (with back-ticks), or join with +: \"NIK \" + item[\"NIK\"]".to_string()
            }
            rhai::ParseErrorType::BadInput(rhai::LexError::MalformedChar(text)) => format!(
                "'{text}': single quotes hold one character; text goes in double quotes \"…\", or in back-ticks `…` when it has ${{…}} inside"
            ),
            rhai::ParseErrorType::MissingToken(token, _) if token == "}" => {
                "a `{` opened before here is never closed: a `}` is missing".to_string()
            }
            rhai::ParseErrorType::MissingToken(token, _) if token == ")" => {
                "a `(` opened before here is never closed: a `)` is missing".to_string()
            }
            other => other.to_string(),
        };
        Problem::new(location, message)
    })?;
    Ok(Script {
        ast,
        shown: shown.to_string(),
    })
}

/// The longest string a script may build, in bytes (1 MiB). Rhai counts all the
/// text held in one array or map (nested ones included) against it too.
pub const MAX_STRING_BYTES: usize = 1024 * 1024;
/// The most values one array may hold (nested arrays and maps included).
pub const MAX_ARRAY_VALUES: usize = 100_000;
/// The most entries one map may hold (nested maps included: an array of row maps
/// counts every cell).
pub const MAX_MAP_ENTRIES: usize = 100_000;
/// How deep script functions may call one another (recursion included).
pub const MAX_CALL_LEVELS: usize = 32;
/// How many operations one call of a script function (or the top level) may take.
pub const MAX_OPERATIONS: u64 = 200_000_000;
/// How much memory one call of a script function (or the top level) may hold, as
/// counted on the script's thread ([`memory`]).
pub const MAX_MEMORY_BYTES: i64 = 128 * 1024 * 1024;
/// What one `log` line keeps of a longer message, in characters.
pub const MAX_LOG_LINE: usize = 4096;
/// How many log lines of one item are kept for its record (the last ones).
pub const MAX_ITEM_LOG_LINES: usize = 200;

/// An engine with the sandbox limits and nothing registered: no `eval`, no modules
/// (`import` does not compile, and nothing could be loaded anyway), bounded sizes,
/// call depth and operations. A script going past a limit fails the item (a system
/// exception that is not retried, kind `limit`).
fn sandbox() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(128, 64)
        .set_max_string_size(MAX_STRING_BYTES)
        .set_max_array_size(MAX_ARRAY_VALUES)
        .set_max_map_size(MAX_MAP_ENTRIES)
        .set_max_operations(MAX_OPERATIONS)
        .set_max_modules(0)
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
        .disable_symbol("eval")
        .disable_symbol("import");
    engine
}

/// What a Rhai limit error means, for the item's reason.
fn limit_message(err: &EvalAltResult) -> Option<String> {
    let what = match err {
        EvalAltResult::ErrorDataTooLarge(what, _) if what.starts_with("Length of string") => format!(
            "a string, or the text held in one array or map, longer than {} ({MAX_STRING_BYTES} bytes)",
            mib(MAX_STRING_BYTES)
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) if what.starts_with("Size of array") => {
            format!("an array of more than {MAX_ARRAY_VALUES} values")
        }
        EvalAltResult::ErrorDataTooLarge(what, _) if what.starts_with("Size of object map") => {
            format!("a map of more than {MAX_MAP_ENTRIES} entries (the maps inside it counted)")
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("{what} (a size limit)"),
        EvalAltResult::ErrorStackOverflow(_) => {
            format!("function calls nested more than {MAX_CALL_LEVELS} levels deep")
        }
        EvalAltResult::ErrorTooManyOperations(_) => {
            format!("more than {MAX_OPERATIONS} operations in one call")
        }
        EvalAltResult::ErrorTooManyModules(_) => {
            "imports are not allowed; put the code in main.rhai".to_string()
        }
        _ => return None,
    };
    Some(format!("the script went past a limit: {what}"))
}

fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// How an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptError {
    /// The data or the rules are wrong; a person must act. Never retried.
    Business { message: String },
    /// Anything else: browser trouble, a script bug, a missing element.
    System { message: String, kind: String },
    /// The item's time ran out.
    TimedOut { after: Duration },
    /// The run was asked to stop.
    Cancelled,
}

impl ScriptError {
    pub fn message(&self) -> String {
        match self {
            ScriptError::Business { message } | ScriptError::System { message, .. } => {
                message.clone()
            }
            ScriptError::TimedOut { after } => {
                format!("the item took longer than its {} s limit", after.as_secs())
            }
            ScriptError::Cancelled => "the run was stopped".into(),
        }
    }

    /// A stable word for history and reports.
    pub fn kind(&self) -> &str {
        match self {
            ScriptError::Business { .. } => "business",
            ScriptError::System { kind, .. } => kind,
            ScriptError::TimedOut { .. } => "timeout",
            ScriptError::Cancelled => "cancelled",
        }
    }
}

/// What a host needs from the run.
pub struct HostContext {
    pub handle: Handle,
    /// Becomes `true` when the run must stop.
    pub cancel: watch::Receiver<bool>,
    /// Folder of the run's files; screenshots go to `screenshots/` in it.
    pub work_dir: PathBuf,
    /// The bot's folder (scripts may read files from it).
    pub bot_dir: PathBuf,
    /// `[vars]` of bot.toml, with overrides.
    pub vars: BTreeMap<String, toml::Value>,
    /// Secrets that are not in the environment (e.g. the demo portal's).
    pub secrets: BTreeMap<String, String>,
    pub bot: String,
    /// How long the script's top level may run ([`TOP_LEVEL_LIMIT`]).
    pub top_level_limit: Duration,
    /// Hides secrets in what the script logs.
    pub redactor: Redactor,
}

/// Hides secret values in text that leaves the script (logs, reasons, outputs,
/// page addresses): as they are, and in the forms they take in addresses and in
/// JSON or HTML (see [`Redactor::redact`]).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

/// What a hidden secret looks like.
const MASK: &str = "••••••";

impl Redactor {
    /// Hides these values (and every `JURU_SECRET_*` variable of the environment).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a String>) -> Redactor {
        let mut secrets: Vec<String> = values
            .into_iter()
            .cloned()
            .chain(
                std::env::vars()
                    .filter(|(k, _)| k.starts_with("JURU_SECRET_"))
                    .map(|(_, v)| v),
            )
            .filter(|v| v.chars().count() >= 3)
            .collect();
        // Longest first, so a secret that contains another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every secret value replaced by `••••••`. Each character of a
    /// secret is also recognised written as a URL writes it (`%40`, `%C3%A9` in
    /// either case; `+` or `%20` for a space), as JSON writes it (`\"`, `\\`,
    /// `\/`, `\n`, `\u00e9`) or as HTML writes it (`&quot;`, `&#64;`, `&#x40;`),
    /// mixed freely: a browser encodes some characters of an address and not others.
    pub fn redact(&self, text: &str) -> String {
        if self.secrets.is_empty() {
            return text.to_string();
        }
        let bytes = text.as_bytes();
        let secrets: Vec<Vec<char>> = self.secrets.iter().map(|s| s.chars().collect()).collect();
        let mut out = String::with_capacity(text.len());
        let (mut i, mut copied) = (0, 0);
        while i < bytes.len() {
            if text.is_char_boundary(i) {
                if let Some(end) = secrets
                    .iter()
                    .find_map(|s| redact::match_secret(bytes, i, s, &mut 10_000))
                {
                    out.push_str(&text[copied..i]);
                    out.push_str(MASK);
                    i = end;
                    copied = end;
                    continue;
                }
            }
            i += 1;
        }
        out.push_str(&text[copied..]);
        out
    }
}

/// Matching a secret in its encoded forms.
mod redact {
    /// The end of `secret` written at `at` in `text` (each character in any of its
    /// forms), if it is there. `budget` bounds the backtracking.
    pub(super) fn match_secret(
        text: &[u8],
        at: usize,
        secret: &[char],
        budget: &mut u32,
    ) -> Option<usize> {
        let Some((&c, rest)) = secret.split_first() else {
            return Some(at);
        };
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let mut ends = [0usize; 8];
        let n = char_forms(text, at, c, &mut ends);
        // The longest form first: `%25` is a `%` written out before it is a `%`.
        ends[..n].sort_unstable_by(|a, b| b.cmp(a));
        ends[..n]
            .iter()
            .find_map(|&end| match_secret(text, end, rest, budget))
    }

    /// Where the forms of `c` that start at `at` end (written into `ends`; how many).
    fn char_forms(text: &[u8], at: usize, c: char, ends: &mut [usize; 8]) -> usize {
        let mut n = 0;
        let mut push = |end: Option<usize>| {
            if let Some(end) = end {
                if n < ends.len() && !ends[..n].contains(&end) {
                    ends[n] = end;
                    n += 1;
                }
            }
        };
        let rest = &text[at.min(text.len())..];
        let mut utf8 = [0u8; 4];
        let raw = c.encode_utf8(&mut utf8).as_bytes();
        push(rest.starts_with(raw).then_some(at + raw.len()));
        let Some(&first) = rest.first() else {
            return n;
        };
        match first {
            b'+' if c == ' ' => push(Some(at + 1)),
            b'%' => push(percent(rest, raw).map(|len| at + len)),
            b'\\' => push(json(rest, c).map(|len| at + len)),
            b'&' => push(html(rest, c).map(|len| at + len)),
            _ => {}
        }
        n
    }

    fn hex_at(text: &[u8], at: usize, digits: usize) -> Option<u32> {
        let part = text.get(at..at + digits)?;
        if !part.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(part).ok()?, 16).ok()
    }

    /// `%HH` for each byte of the character's UTF-8.
    fn percent(text: &[u8], raw: &[u8]) -> Option<usize> {
        let mut at = 0;
        for &b in raw {
            if text.get(at) != Some(&b'%') || hex_at(text, at + 1, 2)? != u32::from(b) {
                return None;
            }
            at += 3;
        }
        Some(at)
    }

    /// A JSON escape of the character: `\"`, `\uXXXX` (a pair beyond U+FFFF), ….
    fn json(text: &[u8], c: char) -> Option<usize> {
        let short = match c {
            '"' => Some(b'"'),
            '\\' => Some(b'\\'),
            '/' => Some(b'/'),
            '\n' => Some(b'n'),
            '\r' => Some(b'r'),
            '\t' => Some(b't'),
            '\u{8}' => Some(b'b'),
            '\u{c}' => Some(b'f'),
            _ => None,
        };
        if short.is_some() && text.get(1).copied() == short {
            return Some(2);
        }
        let mut units = [0u16; 2];
        let mut at = 0;
        for &unit in c.encode_utf16(&mut units).iter() {
            if text.get(at) != Some(&b'\\') || text.get(at + 1) != Some(&b'u') {
                return None;
            }
            if hex_at(text, at + 2, 4)? != u32::from(unit) {
                return None;
            }
            at += 6;
        }
        Some(at)
    }

    /// An HTML character reference: `&quot;`, `&amp;`, `&lt;`, `&gt;`, `&#39;`,
    /// `&#NN;` or `&#xHH;`.
    fn html(text: &[u8], c: char) -> Option<usize> {
        let named: &[u8] = match c {
            '"' => b"&quot;",
            '&' => b"&amp;",
            '<' => b"&lt;",
            '>' => b"&gt;",
            '\'' => b"&apos;",
            _ => b"",
        };
        if !named.is_empty() && text.starts_with(named) {
            return Some(named.len());
        }
        if text.get(1) != Some(&b'#') {
            return None;
        }
        let (digits_at, radix) = match text.get(2) {
            Some(b'x' | b'X') => (3, 16),
            _ => (2, 10),
        };
        let len = text[digits_at.min(text.len())..]
            .iter()
            .take_while(|b| {
                if radix == 16 {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        let end = digits_at + len;
        if len == 0 || len > 8 || text.get(end) != Some(&b';') {
            return None;
        }
        let number =
            u32::from_str_radix(std::str::from_utf8(&text[digits_at..end]).ok()?, radix).ok()?;
        (number == u32::from(c)).then_some(end + 1)
    }
}

/// What the script's `send_mail` needs from the run (see [`Host::set_mail`]).
#[derive(Debug, Clone)]
pub struct ScriptMail {
    /// The outbox folder.
    pub outbox: PathBuf,
    /// The sender (`[mail] from`).
    pub from: String,
    /// The run, which delivers the message when it ends.
    pub run_id: String,
}

/// Where a host gets a browser session when the script first uses `browser` and none
/// is open (the run's workers give one; without it `browser` calls fail with "the
/// browser is not open").
pub trait Sessions {
    /// Opens a new browser session, starting the browser driver first if needed.
    /// `Err(ScriptError::Cancelled)` when the run was aborted meanwhile; any other
    /// error means no browser can be had.
    fn open(&mut self) -> Result<Browser, ScriptError>;
    /// Whether the run was asked to stop: an item whose session only opened after
    /// that is given back instead of going on.
    fn stop_requested(&self) -> bool;
    /// No browser could be opened, or `login()` failed in it: the run must stop with
    /// this reason.
    fn failed(&mut self, reason: String);
    /// How many times `login()` is tried, each in a fresh session, before the run
    /// gives up (`[login] attempts`).
    fn login_attempts(&self) -> u32 {
        1
    }
    /// Closes a session whose `login()` failed, before the next try.
    fn discard(&mut self, browser: Browser) {
        drop(browser);
    }
    /// Whether the script may still send commands to the browser: asked before
    /// every browser call. `false` when this process may no longer act on what it
    /// holds (on a fleet, its lease ran out): the call ends the script's function
    /// as cancelled, and no try/catch of the script can go on past it.
    fn may_act(&self) -> bool {
        true
    }
}

/// State shared by the registered functions of one host.
pub(crate) struct Shared {
    handle: Handle,
    cancel: watch::Receiver<bool>,
    browser: RefCell<Option<Browser>>,
    deadline: RefCell<Option<(Instant, Duration)>>,
    work_dir: PathBuf,
    bot_dir: PathBuf,
    /// Folders besides the bot's and the run's that a script may read files from
    /// (the input workbook's folder, `[input] attachments`).
    input_dirs: RefCell<Vec<PathBuf>>,
    secrets: BTreeMap<String, String>,
    bot: String,
    item_log: RefCell<Vec<String>>,
    screenshots: RefCell<u32>,
    /// Constants declared at the script's top level, visible inside its functions.
    constants: RefCell<BTreeMap<String, Dynamic>>,
    /// The run's outbox for `send_mail`; `None` outside a run.
    mail: RefCell<Option<ScriptMail>>,
    /// Called when the script says `item.submitted()`.
    submitted_hook: RefCell<Option<Box<dyn Fn()>>>,
    redactor: Redactor,
    /// Opens browser sessions on demand; `None` outside a run.
    sessions: RefCell<Option<Box<dyn Sessions>>>,
    /// The script defines `login()`.
    has_login: bool,
    /// The script's path as shown to people.
    shown: String,
    /// Opening a session or `login()` failed: the script may not go on using `browser`.
    session_failed: std::cell::Cell<bool>,
    /// The script function the host is calling (`process`, `verify`, `init`, …).
    calling: RefCell<String>,
    /// What this thread held when the current call began ([`memory::live_bytes`]).
    memory_base: std::cell::Cell<i64>,
}

impl Shared {
    /// Runs a browser future to completion on the runtime, bounded by the item's
    /// deadline and the run's cancel signal.
    fn block_on<T>(
        &self,
        f: impl AsyncFnOnce(&Browser) -> Result<T, BrowserError>,
    ) -> Result<T, Box<EvalAltResult>> {
        self.block_on_named("", f)
    }

    /// [`Shared::block_on`] for the verb `verb` (e.g. `browser.open`), which names
    /// itself in a refused address.
    fn block_on_named<T>(
        &self,
        verb: &str,
        f: impl AsyncFnOnce(&Browser) -> Result<T, BrowserError>,
    ) -> Result<T, Box<EvalAltResult>> {
        let browser = self.browser.borrow();
        let Some(browser) = browser.as_ref() else {
            return Err(Failure::system("no_browser", "the browser is not open").into());
        };
        if self
            .sessions
            .borrow()
            .as_ref()
            .is_some_and(|s| !s.may_act())
        {
            return Err(stop_error(Failure::cancelled()));
        }
        let deadline = *self.deadline.borrow();
        let mut cancel = self.cancel.clone();
        let result = self.handle.block_on(async {
            let limit = async {
                match deadline {
                    Some((at, _)) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = f(browser) => Some(r),
                _ = limit => None,
                _ = cancel.wait_for(|stop| *stop) => None,
            }
        });
        match result {
            Some(Ok(v)) => Ok(v),
            // The run withheld a command: the function ends as cancelled, past any
            // try/catch of the script.
            Some(Err(BrowserError::Withheld)) => Err(stop_error(Failure::cancelled())),
            Some(Err(e)) if e.kind() == "address" && !verb.is_empty() => {
                Err(Failure::system(e.kind(), format!("{verb}: {e}")).into())
            }
            Some(Err(e)) => Err(Failure::from_browser(&e).into()),
            None if *self.cancel.borrow() => Err(stop_error(Failure::cancelled())),
            None => Err(stop_error(Failure::timed_out(
                deadline.map(|(_, d)| d).unwrap_or_default(),
            ))),
        }
    }

    /// The script named `browser`: see [`Shared::open_on_demand`]. A session that
    /// opened after the run was asked to stop is not used for an item:
    /// `process(item)` ends as cancelled (the item is given back untouched).
    fn browser_on_demand(&self, ctx: &mut EvalContext) -> Result<(), Box<EvalAltResult>> {
        let opened = self.open_on_demand(&mut || {
            ctx.call_fn_raw("login", false, false, &mut [])
                .map(|_| ())
                .map_err(|e| classify(&self.shown, &e))
        });
        match opened {
            Ok(false) => Ok(()),
            Ok(true) => {
                let in_process = self.calling.borrow().as_str() == "process";
                let stop = in_process
                    && self
                        .sessions
                        .borrow()
                        .as_ref()
                        .is_some_and(|s| s.stop_requested());
                if stop {
                    tracing::warn!(
                        bot = %self.bot,
                        "the run was asked to stop while the browser opened: the item is given back untouched"
                    );
                    return Err(stop_error(Failure::cancelled()));
                }
                Ok(())
            }
            Err(_) => Err(stop_error(Failure::cancelled())),
        }
    }

    /// When no session is open and the run can open one ([`Sessions`]), opens it and
    /// runs the script's `login()` in it (through `login`); `Ok(true)` when it did.
    /// The browser start and `login()` do not count against the time limit of the
    /// call that needed them; `login()` gets a limit of the same length of its own.
    /// `Err(Cancelled)` when the run was aborted meanwhile, or when no browser could
    /// be opened or `login()` failed: then the run was told to stop
    /// ([`Sessions::failed`]) and `browser` cannot be used any more.
    fn open_on_demand(
        &self,
        login: &mut dyn FnMut() -> Result<(), ScriptError>,
    ) -> Result<bool, ScriptError> {
        if self.session_failed.get() {
            return Err(ScriptError::Cancelled);
        }
        if self.browser.borrow().is_some() {
            return Ok(false);
        }
        // Out of its cell while in use: `login()` names `browser` again (and finds it open).
        let Some(mut sessions) = self.sessions.borrow_mut().take() else {
            return Ok(false);
        };
        let paused = self.deadline.take();
        let t0 = Instant::now();
        let result = self.open_session(sessions.as_mut(), login, paused.map(|(_, d)| d));
        *self.deadline.borrow_mut() = paused.map(|(at, d)| (at + t0.elapsed(), d));
        *self.sessions.borrow_mut() = Some(sessions);
        result.map(|()| true)
    }

    fn open_session(
        &self,
        sessions: &mut dyn Sessions,
        login: &mut dyn FnMut() -> Result<(), ScriptError>,
        limit: Option<Duration>,
    ) -> Result<(), ScriptError> {
        if *self.cancel.borrow() {
            return Err(ScriptError::Cancelled);
        }
        self.start_session(sessions)?;
        if !self.has_login {
            return Ok(());
        }
        let attempts = sessions.login_attempts().max(1);
        let mut tried = 1;
        loop {
            *self.deadline.borrow_mut() = limit.map(|d| (Instant::now() + d, d));
            let reason = match login() {
                Ok(()) => return Ok(()),
                Err(ScriptError::Cancelled) => return Err(ScriptError::Cancelled),
                Err(ScriptError::TimedOut { after }) => {
                    format!("it took longer than {} s", after.as_secs())
                }
                Err(other) => self.redactor.redact(&other.message()),
            };
            if tried >= attempts || sessions.stop_requested() {
                let reason = if tried > 1 {
                    format!("the script's login() failed {tried} times, the last time: {reason}")
                } else {
                    format!("the script's login() failed: {reason}")
                };
                self.session_failed.set(true);
                sessions.failed(reason);
                return Err(ScriptError::Cancelled);
            }
            // A login page that answered with an error or was slow for a moment: a
            // fresh session after a pause (2 s, 4 s, 8 s…) usually gets through.
            let pause = Duration::from_secs(2u64 << (tried - 1).min(4));
            tracing::warn!(
                bot = %self.bot,
                attempt = tried,
                "the script's login() failed: {reason}; trying again in a new browser session in {} s",
                pause.as_secs()
            );
            if let Some(old) = self.browser.replace(None) {
                sessions.discard(old);
            }
            let mut cancel = self.cancel.clone();
            let stopped = self.handle.block_on(async {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => false,
                    _ = cancel.wait_for(|stop| *stop) => true,
                }
            });
            if stopped {
                return Err(ScriptError::Cancelled);
            }
            self.start_session(sessions)?;
            tried += 1;
        }
    }

    /// Opens one browser session and makes it the script's. A browser that cannot
    /// be opened stops the run ([`Sessions::failed`]); either way `Err(Cancelled)`.
    fn start_session(&self, sessions: &mut dyn Sessions) -> Result<(), ScriptError> {
        let browser = match sessions.open() {
            Ok(b) => b,
            Err(ScriptError::Cancelled) => return Err(ScriptError::Cancelled),
            Err(e) => {
                self.session_failed.set(true);
                sessions.failed(e.message());
                return Err(ScriptError::Cancelled);
            }
        };
        tracing::info!(bot = %self.bot, "the browser opened");
        self.browser.replace(Some(browser));
        Ok(())
    }

    /// A file a script may read: `path` relative to the bot folder, the run's work
    /// dir, or one of the input folders (tried in that order), which must exist and
    /// stay inside that folder. From an input folder juru's own files (its
    /// configuration, secrets, users, store) and hidden files are never given.
    pub(crate) fn readable_path(&self, path: &str) -> Result<PathBuf, Failure> {
        plain_relative(path)?;
        let mut outside = None;
        for base in [&self.bot_dir, &self.work_dir] {
            match inside(base, path) {
                Ok(p) => return Ok(p),
                Err(e) if e.kind() == "path_outside" => outside = Some(e),
                Err(_) => {}
            }
        }
        let input_dirs = self.input_dirs.borrow();
        for base in input_dirs.iter() {
            match inside(base, path) {
                Ok(p) if juru_own_file(&p) => {
                    return Err(Failure::system(
                        "path_outside",
                        format!("\"{path}\" is one of juru's own files (configuration, secrets, users or store) or a hidden file, which scripts may not use"),
                    ))
                }
                Ok(p) => return Ok(p),
                Err(e) if e.kind() == "path_outside" => outside = Some(e),
                Err(_) => {}
            }
        }
        let places = if input_dirs.is_empty() {
            "the bot folder or the run's folder"
        } else {
            "the bot folder, the run's folder or the input workbook's folder"
        };
        Err(outside.unwrap_or_else(|| {
            Failure::system("path", format!("\"{path}\" does not exist in {places}"))
        }))
    }

    /// A file a script may write: `path` relative to the run's work dir, not leaving it.
    pub(crate) fn writable_path(&self, path: &str) -> Result<PathBuf, Failure> {
        plain_relative(path)?;
        Ok(self.work_dir.join(path))
    }

    /// `path` as the script should see it: relative to the run's work dir when inside.
    pub(crate) fn relative_to_work_dir(&self, path: &Path) -> String {
        let base = self
            .work_dir
            .canonicalize()
            .unwrap_or_else(|_| self.work_dir.clone());
        let full = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        full.strip_prefix(&base)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| full.display().to_string())
    }

    pub(crate) fn submitted(&self) {
        if let Some(hook) = self.submitted_hook.borrow().as_ref() {
            hook();
        }
    }

    /// A line the script logs: secrets hidden, control characters shown escaped
    /// (a script cannot start a line of its own in the log), at most
    /// [`MAX_LOG_LINE`] characters; the item keeps its last [`MAX_ITEM_LOG_LINES`].
    pub(crate) fn log(&self, message: &str) {
        let message = escape_controls(&self.redactor.redact(&shorten(message)));
        tracing::info!(bot = %self.bot, "{message}");
        let mut log = self.item_log.borrow_mut();
        if log.len() >= MAX_ITEM_LOG_LINES {
            log.remove(0);
        }
        log.push(message);
    }
}

/// At most [`MAX_LOG_LINE`] characters of `message` (with a note of its length).
fn shorten(message: &str) -> std::borrow::Cow<'_, str> {
    match message.char_indices().nth(MAX_LOG_LINE) {
        None => message.into(),
        Some((cut, _)) => {
            format!("{}… (cut: {} bytes in all)", &message[..cut], message.len()).into()
        }
    }
}

/// `text` with control characters written out: `\n`, `\r`, `\t`, `\x1b`, `\u{2028}`.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_control(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
fn is_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// A relative path without `..` or a root: the only kind scripts may name.
fn plain_relative(path: &str) -> Result<(), Failure> {
    let relative = Path::new(path);
    if path.trim().is_empty()
        || relative.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    {
        return Err(Failure::system(
            "path_outside",
            format!("\"{path}\" must be a relative path inside the bot folder or the run's folder (no \"..\", no leading \"/\")"),
        ));
    }
    Ok(())
}

/// A file of juru's own (or a hidden one) that a script never gets from an input
/// folder, whatever folder the clerk's workbook came from.
fn juru_own_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let in_config = path
        .parent()
        .is_some_and(|d| d.join("agent.toml").exists() || d.join("schedules.toml").exists());
    name.starts_with('.')
        || in_config
        || [
            "agent.toml",
            "schedules.toml",
            "secrets.toml",
            "users.toml",
            "bot.toml",
            "agent.lock",
        ]
        .contains(&name.as_str())
        || [
            ".db",
            ".db-wal",
            ".db-shm",
            ".db-journal",
            ".sqlite",
            ".sqlite3",
        ]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// `base/path` if it exists and, after resolving links, is still inside `base`.
fn inside(base: &Path, path: &str) -> Result<PathBuf, Failure> {
    let base = base
        .canonicalize()
        .map_err(|e| Failure::system("path", format!("{}: {e}", base.display())))?;
    let full = base
        .join(path)
        .canonicalize()
        .map_err(|e| Failure::system("path", format!("\"{path}\": {e}")))?;
    if !full.starts_with(&base) {
        return Err(Failure::system(
            "path_outside",
            format!("\"{path}\" leads outside the bot folder and the run's folder (through a link); scripts may only use files inside them"),
        ));
    }
    Ok(full)
}

fn stop_error(f: Failure) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorTerminated(
        Dynamic::from(f),
        rhai::Position::NONE,
    ))
}

/// How long a script's top level (constants, setup outside functions) may run by default.
pub const TOP_LEVEL_LIMIT: Duration = Duration::from_secs(10);

/// One script host: an engine with the API registered, the compiled script, and
/// the browser it drives. Lives on one thread.
pub struct Host {
    engine: Engine,
    script: Script,
    scope: Scope<'static>,
    shared: Rc<Shared>,
    last_outputs: Vec<(String, Cell)>,
    last_submitted: bool,
}

/// One work item as the script sees it.
#[derive(Debug, Clone)]
pub struct ItemInput {
    pub index: usize,
    pub row: u32,
    pub fields: Vec<(String, Cell)>,
}

/// What a successful `process(item)` produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemResult {
    /// Output columns in the order the script set them.
    pub outputs: Vec<(String, Cell)>,
    pub log: Vec<String>,
}

impl Host {
    /// Compiles `source` and prepares the engine; runs the script's top level once.
    pub fn new(source: &Source, ctx: HostContext) -> Result<Host, ScriptError> {
        let script = source.compile().map_err(|p| ScriptError::System {
            message: p.to_string(),
            kind: "script".into(),
        })?;
        let shared = Rc::new(Shared {
            handle: ctx.handle,
            cancel: ctx.cancel,
            browser: RefCell::new(None),
            deadline: RefCell::new(None),
            work_dir: ctx.work_dir,
            bot_dir: ctx.bot_dir,
            input_dirs: RefCell::new(Vec::new()),
            secrets: ctx.secrets,
            bot: ctx.bot,
            item_log: RefCell::new(Vec::new()),
            screenshots: RefCell::new(0),
            constants: RefCell::new(BTreeMap::new()),
            mail: RefCell::new(None),
            submitted_hook: RefCell::new(None),
            redactor: ctx.redactor.clone(),
            sessions: RefCell::new(None),
            has_login: script.defines("login", 0),
            shown: script.shown.clone(),
            session_failed: std::cell::Cell::new(false),
            calling: RefCell::new(String::new()),
            memory_base: std::cell::Cell::new(memory::live_bytes()),
        });
        let mut engine = sandbox();
        let vars = ctx
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_dynamic(v)))
            .collect();
        api::register(&mut engine, &shared, vars);
        let s = shared.clone();
        engine.on_progress(move |_| {
            if *s.cancel.borrow() {
                return Some(Dynamic::from(Failure::cancelled()));
            }
            if memory::live_bytes() - s.memory_base.get() > MAX_MEMORY_BYTES {
                return Some(Dynamic::from(Failure::system(
                    "limit",
                    format!(
                        "{}: the script went past a limit: it held more than {} of memory in one call",
                        s.shown,
                        mib(MAX_MEMORY_BYTES as usize)
                    ),
                )));
            }
            match *s.deadline.borrow() {
                Some((at, limit)) if Instant::now() >= at => {
                    Some(Dynamic::from(Failure::timed_out(limit)))
                }
                _ => None,
            }
        });
        let mut host = Host {
            engine,
            script,
            scope: Scope::new(),
            shared,
            last_outputs: Vec::new(),
            last_submitted: false,
        };
        // Top-level statements (constants, setup) run once, within a time limit.
        let ast = host.script.ast.clone();
        let limit = ctx.top_level_limit;
        *host.shared.deadline.borrow_mut() = Some((Instant::now() + limit, limit));
        host.shared.memory_base.set(memory::live_bytes());
        let top = host.engine.run_ast_with_scope(&mut host.scope, &ast);
        *host.shared.deadline.borrow_mut() = None;
        top.map_err(|e| top_level_error(&host.script.shown, &e, limit))?;
        *host.shared.constants.borrow_mut() = host
            .scope
            .iter()
            .filter(|(_, constant, _)| *constant)
            .map(|(name, _, value)| (name.to_string(), value))
            .collect();
        Ok(host)
    }

    /// The engine with the full API, for documentation checks.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Called (on this thread) the moment the script says `item.submitted()`, so the
    /// run can record it before the script goes on.
    pub fn set_submitted_hook(&self, hook: Box<dyn Fn()>) {
        self.shared.submitted_hook.replace(Some(hook));
    }

    /// Calls `verify(item)`: did an item whose saving failed arrive after all?
    pub fn verify(&mut self, input: ItemInput, limit: Duration) -> Result<bool, ScriptError> {
        let item = api::Item::new(input);
        let found = self.call_value("verify", (Dynamic::from(item.clone()),), limit)?;
        self.last_outputs = item.outputs();
        found.as_bool().map_err(|t| ScriptError::System {
            message: format!(
                "{}: verify(item) must return true (the item is in the system) or false, not a {t}",
                self.script.shown
            ),
            kind: "script".into(),
        })
    }

    /// Lets the script's `send_mail` write to the run's outbox.
    pub fn set_mail(&self, mail: Option<ScriptMail>) {
        self.shared.mail.replace(mail);
    }

    /// Folders besides the bot's and the run's that the script may read files from
    /// and upload (the input workbook's folder, `[input] attachments`).
    pub fn set_input_dirs(&self, dirs: Vec<PathBuf>) {
        self.shared.input_dirs.replace(dirs);
    }

    /// Lets the host open a browser session when the script first uses `browser`.
    pub fn set_sessions(&self, sessions: Box<dyn Sessions>) {
        self.shared.sessions.replace(Some(sessions));
    }

    /// Opens a browser session now, as the script's first use of `browser` would
    /// (with `login()` within `limit`), unless one is open or the host cannot open
    /// one. `Err(Cancelled)`: the run was aborted, or it was told to stop because
    /// no browser could be opened or `login()` failed.
    pub fn open_browser(&mut self, limit: Duration) -> Result<(), ScriptError> {
        let shared = self.shared.clone();
        shared
            .open_on_demand(&mut || self.call("login", (), limit))
            .map(|_| ())
    }

    /// Gives the host a browser session (closing none).
    pub fn set_browser(&self, browser: Option<Browser>) -> Option<Browser> {
        self.shared.browser.replace(browser)
    }

    pub fn browser(&self) -> std::cell::Ref<'_, Option<Browser>> {
        self.shared.browser.borrow()
    }

    pub fn defines(&self, name: &str, arity: usize) -> bool {
        self.script.defines(name, arity)
    }

    /// Calls a function without arguments if the script defines it (`init`, `finish`).
    pub fn call_optional(&mut self, name: &str, limit: Duration) -> Result<bool, ScriptError> {
        if !self.defines(name, 0) {
            return Ok(false);
        }
        self.call(name, (), limit).map(|_| true)
    }

    /// Calls the script's `finish(run)` with every item of the run (or `finish()`),
    /// if it defines one; `Ok(true)` when it did.
    pub fn finish(
        &mut self,
        run_id: &str,
        items: &[FinishedItem],
        limit: Duration,
    ) -> Result<bool, ScriptError> {
        if !self.defines("finish", 1) {
            return self.call_optional("finish", limit);
        }
        let pairs = |cells: &[(String, Cell)]| -> rhai::Map {
            cells
                .iter()
                .map(|(n, c)| (n.as_str().into(), api::item::cell_to_dynamic(c)))
                .collect()
        };
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        let list: rhai::Array = items
            .iter()
            .map(|i| {
                *counts.entry(i.status.as_str()).or_default() += 1;
                let mut m = rhai::Map::new();
                m.insert("row".into(), Dynamic::from(i.row));
                m.insert("status".into(), Dynamic::from(i.status.clone()));
                m.insert("message".into(), Dynamic::from(i.message.clone()));
                m.insert("data".into(), Dynamic::from_map(pairs(&i.data)));
                m.insert("outputs".into(), Dynamic::from_map(pairs(&i.outputs)));
                Dynamic::from_map(m)
            })
            .collect();
        let mut run = rhai::Map::new();
        run.insert("id".into(), Dynamic::from(run_id.to_string()));
        run.insert("bot".into(), Dynamic::from(self.shared.bot.clone()));
        for word in ["done", "business", "system", "verify", "pending"] {
            run.insert(word.into(), Dynamic::from(*counts.get(word).unwrap_or(&0)));
        }
        run.insert("items".into(), Dynamic::from_array(list));
        self.call("finish", (Dynamic::from_map(run),), limit)
            .map(|_| true)
    }

    /// Calls `process(item)`.
    pub fn process(
        &mut self,
        input: ItemInput,
        limit: Duration,
    ) -> Result<ItemResult, ScriptError> {
        let item = api::Item::new(input);
        self.shared.item_log.borrow_mut().clear();
        let called = self.call("process", (Dynamic::from(item.clone()),), limit);
        self.last_outputs = item.outputs();
        self.last_submitted = item.was_submitted();
        called?;
        Ok(ItemResult {
            outputs: item.outputs(),
            log: self.shared.item_log.borrow().clone(),
        })
    }

    /// The outputs the last `process(item)` had set, also when it failed (what it
    /// learned before failing helps the officer, e.g. a number already issued).
    pub fn last_outputs(&self) -> Vec<(String, Cell)> {
        self.last_outputs.clone()
    }

    /// Whether the last `process(item)` had called `item.submitted()`: past that
    /// point a failure may have left the item in the system already.
    pub fn last_submitted(&self) -> bool {
        self.last_submitted
    }

    /// The log lines the current item wrote so far.
    pub fn item_log(&self) -> Vec<String> {
        self.shared.item_log.borrow().clone()
    }

    /// Evaluates statements typed by a person (`juru shell`) at the script's top
    /// level, within `limit`: the script's functions and constants, `browser`,
    /// `vars`, `secret()` and `log` are there, and variables it declares stay for
    /// the next call. Returns the value of the last statement. An error names the
    /// input as `shown` (with the line).
    pub fn eval(
        &mut self,
        code: &str,
        shown: &str,
        limit: Duration,
    ) -> Result<Dynamic, ScriptError> {
        if *self.shared.cancel.borrow() {
            return Err(ScriptError::Cancelled);
        }
        let typed = self
            .engine
            .compile_with_scope(&self.scope, code)
            .map_err(|e| ScriptError::System {
                message: format!("{}: {}", at(shown, e.position()), e.0),
                kind: "script".into(),
            })?;
        let ast = self.script.ast.clone_functions_only().merge(&typed);
        *self.shared.deadline.borrow_mut() = Some((Instant::now() + limit, limit));
        *self.shared.calling.borrow_mut() = "shell".to_string();
        self.shared.memory_base.set(memory::live_bytes());
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &ast);
        *self.shared.deadline.borrow_mut() = None;
        self.shared.calling.borrow_mut().clear();
        result.map_err(|e| classify(shown, &e))
    }

    fn call(
        &mut self,
        name: &str,
        args: impl rhai::FuncArgs,
        limit: Duration,
    ) -> Result<(), ScriptError> {
        self.call_value(name, args, limit).map(|_| ())
    }

    fn call_value(
        &mut self,
        name: &str,
        args: impl rhai::FuncArgs,
        limit: Duration,
    ) -> Result<Dynamic, ScriptError> {
        if *self.shared.cancel.borrow() {
            return Err(ScriptError::Cancelled);
        }
        *self.shared.deadline.borrow_mut() = Some((Instant::now() + limit, limit));
        *self.shared.calling.borrow_mut() = name.to_string();
        self.shared.memory_base.set(memory::live_bytes());
        let options = rhai::CallFnOptions::new()
            .eval_ast(false)
            .rewind_scope(true);
        let result = self.engine.call_fn_with_options::<Dynamic>(
            options,
            &mut self.scope,
            &self.script.ast,
            name,
            args,
        );
        *self.shared.deadline.borrow_mut() = None;
        self.shared.calling.borrow_mut().clear();
        result.map_err(|e| classify(&self.script.shown, &e))
    }
}

/// Turns a Rhai error into a [`ScriptError`], looking through function-call frames.
fn classify(shown: &str, err: &EvalAltResult) -> ScriptError {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => classify(shown, inner),
        EvalAltResult::ErrorRuntime(value, pos) | EvalAltResult::ErrorTerminated(value, pos) => {
            match value.clone().try_cast::<Failure>() {
                Some(f) => f.into_error(),
                None => ScriptError::System {
                    message: format!("{}: script threw: {value}", at(shown, *pos)),
                    kind: "script".into(),
                },
            }
        }
        other => match limit_message(other.unwrap_inner()) {
            Some(message) => ScriptError::System {
                message: format!("{}: {message}", at(shown, other.position())),
                kind: "limit".into(),
            },
            None => ScriptError::System {
                message: format!("{}: {}", at(shown, other.position()), other.unwrap_inner()),
                kind: "script".into(),
            },
        },
    }
}

/// An error of the script's top level. Running out of time there is no item's
/// fault but the script's (an endless loop, most likely): it names the file and
/// the line the script was at.
fn top_level_error(shown: &str, err: &EvalAltResult, limit: Duration) -> ScriptError {
    match classify(shown, err) {
        ScriptError::TimedOut { .. } => {
            let mut inner = err;
            while let EvalAltResult::ErrorInFunctionCall(_, _, e, _) = inner {
                inner = e;
            }
            let limit = if limit.as_secs() > 0 {
                format!("{} s", limit.as_secs())
            } else {
                format!("{} ms", limit.as_millis())
            };
            ScriptError::System {
                message: format!(
                    "{}: the script's top level (the statements outside any function) ran longer than its {limit} limit; is there an endless loop? Work for each item belongs in process(item), setup in init()",
                    at(shown, inner.position())
                ),
                kind: "script".into(),
            }
        }
        other => other,
    }
}

fn toml_to_dynamic(v: &toml::Value) -> Dynamic {
    match v {
        toml::Value::String(s) => Dynamic::from(s.clone()),
        toml::Value::Integer(i) => Dynamic::from(*i),
        toml::Value::Float(f) => Dynamic::from(*f),
        toml::Value::Boolean(b) => Dynamic::from(*b),
        toml::Value::Datetime(d) => Dynamic::from(d.to_string()),
        toml::Value::Array(a) => Dynamic::from_array(a.iter().map(toml_to_dynamic).collect()),
        toml::Value::Table(t) => Dynamic::from_map(
            t.iter()
                .map(|(k, v)| (k.as_str().into(), toml_to_dynamic(v)))
                .collect(),
        ),
    }
}

fn at(shown: &str, pos: rhai::Position) -> String {
    match pos.line() {
        Some(l) => format!("{shown}:{l}"),
        None => shown.to_string(),
    }
}

#[cfg(test)]
mod tests;
