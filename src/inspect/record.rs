//! `juru record BOT`: a person clicks through one item by hand in a headed browser
//! (logged in by the bot's `login()`), and juru drafts the bot's `process(item)`
//! from what they did.
//!
//! The recorder (`record.js`, after the selector rules of `select.js`) is put into
//! every new document of a window through the DevTools protocol
//! (`Page.addScriptToEvaluateOnNewDocument`, which also reaches same-origin frames),
//! and into the documents already open. It queues each action in the tab's
//! sessionStorage (a popup's go to its opener's tab); juru reads it every 300 ms in
//! each open window (one command a window, plus one to list the windows), and the
//! next read removes what the last one returned, so events survive the page's own
//! navigations and a read that a dialog interrupted. Recording ends when the person closes the browser, presses Enter in
//! the terminal, or standard input ends; Ctrl-C and SIGTERM end it too.
//!
//! What is recorded: clicks on buttons and links, text typed into a field (its final
//! value), select choices, checkboxes, radio buttons, dates, files chosen for an
//! upload, Enter that sends a form, the frame each action happened in, popup windows
//! and the dialogs (alert, confirm, prompt) with the answer given, and pages opened
//! by hand. Frames of another origin cannot be recorded.
//!
//! Errors: no display, an output file that exists, a bad address or workbook are the
//! user's (exit 2); a browser that cannot start, or a login that fails, exit 1.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use fantoccini::wd::{WebDriverCompatibleCommand, WindowHandle};
use fantoccini::Client;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::bot::Bot;
use crate::cli::outln;
use crate::config::AgentConfig;

use super::skeleton::{lit, open_expr};
use super::{session, SELECT_JS};

/// The recorder's own rules (see `record.js`).
const RECORD_JS: &str = include_str!("record.js");

/// How often the windows are drained.
const TICK: Duration = Duration::from_millis(300);

/// What `juru record` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: Option<String>,
    pub input: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub force: bool,
    /// Where to write the WebDriver address and session (for tests that act as
    /// the person through a session of their own).
    pub session_file: Option<PathBuf>,
}

/// One recorded action, as `record.js` queues it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub frame: Option<Vec<String>>,
    pub url: String,
    pub title: String,
    pub selector: String,
    pub positional: bool,
    pub label: String,
    pub name: String,
    pub field_id: String,
    pub referrer: String,
    #[serde(rename = "type")]
    pub field_type: String,
    pub value: Value,
    pub checked: bool,
    pub text: String,
    pub unique: bool,
    pub target: String,
    pub files: Vec<String>,
    pub dialog: String,
    pub answer: Value,
    pub how: String,
    /// When it happened (milliseconds since 1970, the page's clock).
    pub t: f64,
    /// It happened in a popup and was queued in its opener's tab.
    pub popup: bool,
    /// The event (a click on a calendar's day) this one stands for.
    pub replaces: String,
    /// Which window it happened in: 0 is the first, others are popups (set by juru).
    #[serde(skip)]
    pub window: usize,
    /// That window's title when juru last drained it (set by juru).
    #[serde(skip)]
    pub window_title: String,
}

/// The input workbook's columns and the values of its first rows, to name the
/// values typed.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub headers: Vec<String>,
    /// Per row, per column: the cell as text, in the forms a person may type it.
    pub rows: Vec<Vec<Vec<String>>>,
}

impl Columns {
    fn from_table(table: &crate::sheet::Table) -> Columns {
        let rows = table
            .rows
            .iter()
            .take(5)
            .map(|r| r.cells.iter().map(cell_forms).collect())
            .collect();
        Columns {
            headers: table.headers.clone(),
            rows,
        }
    }

    /// The column whose first rows hold `value`, else whose header is `names`.
    fn find(&self, value: &str, names: &[&str]) -> Option<String> {
        let wanted = norm(value);
        if !wanted.is_empty() {
            for row in &self.rows {
                for (i, forms) in row.iter().enumerate() {
                    // A file chosen for an upload is named without its folder.
                    let file = |f: &String| norm(f.rsplit(['/', '\\']).next().unwrap_or(f));
                    if forms.iter().any(|f| norm(f) == wanted || file(f) == wanted) {
                        return self.headers.get(i).cloned();
                    }
                }
            }
        }
        for name in names {
            let n = norm(name);
            if n.is_empty() {
                continue;
            }
            if let Some(h) = self.headers.iter().find(|h| norm(h) == n) {
                return Some(h.clone());
            }
        }
        None
    }
}

fn norm(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn cell_forms(cell: &crate::sheet::Cell) -> Vec<String> {
    use crate::sheet::Cell;
    match cell {
        Cell::Date(d) => vec![
            d.format("%d/%m/%Y").to_string(),
            d.format("%Y-%m-%d").to_string(),
            d.format("%d-%m-%Y").to_string(),
        ],
        Cell::DateTime(d) => vec![
            d.format("%d/%m/%Y").to_string(),
            d.format("%Y-%m-%d").to_string(),
        ],
        c if c.is_empty() => Vec::new(),
        c => vec![c.to_string()],
    }
}

/// `juru record BOT`: see the module documentation. Returns the exit code.
pub async fn run(config: AgentConfig, bot: Bot, options: Options) -> ExitCode {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    if !has_display {
        eprintln!(
            "error: juru record opens a browser window for a person and needs a display: run it in a desktop (X) session, or under a virtual one: xvfb-run juru record {}",
            bot.name
        );
        return ExitCode::from(2);
    }
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| bot.dir.join("main.draft.rhai"));
    if out.exists() && !options.force {
        eprintln!(
            "error: {} already exists; pass --force to overwrite it, or --out FILE to write elsewhere",
            out.display()
        );
        return ExitCode::from(2);
    }
    let url = match options.url.clone().or_else(|| start_var(&bot)) {
        Some(u) => u.trim().to_string(),
        None => {
            eprintln!(
                "error: bot {} has no vars.portal_url (nor another vars.*_url) in {}; pass the page to start at with --url",
                bot.name,
                bot.dir.join("bot.toml").display()
            );
            return ExitCode::from(2);
        }
    };
    if let Err(e) = super::check_url(&url) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let columns = match &options.input {
        Some(path) => {
            let (p, read) = (path.clone(), bot.input.read.clone());
            match tokio::task::spawn_blocking(move || crate::sheet::read_with(&p, &read)).await {
                Ok(Ok(table)) => Some(Columns::from_table(&table)),
                Ok(Err(e)) => {
                    eprintln!("error: --input {}: {e}", path.display());
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("error: reading --input failed: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        None => None,
    };

    let signals = Signals::listen();
    let settings = session::settings(&config, Some(&bot), true);
    let driver = match session::start_driver(&settings).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let browser = match session::open_logged_in(&config, &bot, &settings, &driver).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            driver.stop().await;
            return ExitCode::from(1);
        }
    };
    let recorded = record(
        &browser,
        driver.url(),
        &url,
        options.session_file.as_deref(),
        signals,
    )
    .await;
    browser.close().await;
    driver.stop().await;
    let events = match recorded {
        Ok(events) => events,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };

    let vars = session::string_vars(Some(&bot));
    let draft = draft(&events, &vars, columns.as_ref());
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    }
    if let Err(e) = std::fs::write(&out, &draft.text) {
        eprintln!("error: cannot write {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let shown = out.display().to_string();
    outln!(
        "{} action{} recorded; draft written to {shown}",
        draft.actions,
        if draft.actions == 1 { "" } else { "s" }
    );
    match crate::script::compile_text(&draft.text, &shown) {
        Ok(_) => outln!("the draft compiles."),
        Err(p) => outln!("the draft does not compile: {p}"),
    }
    outln!(
        "next: review it (the item[\"...\"] columns, the selectors), add item.submitted() after the step that saves and a verify(item), then copy it into main.rhai and run `juru check`."
    );
    ExitCode::SUCCESS
}

/// The page to start at: `vars.portal_url`, else the first `vars.*_url` that holds
/// a web address.
fn start_var(bot: &Bot) -> Option<String> {
    let text = |name: &str| bot.vars.get(name).and_then(|v| v.as_str());
    text("portal_url").map(str::to_string).or_else(|| {
        bot.vars
            .iter()
            .filter(|(k, _)| k.ends_with("_url"))
            .filter_map(|(_, v)| v.as_str())
            .find(|v| v.starts_with("http://") || v.starts_with("https://"))
            .map(str::to_string)
    })
}

/// A DevTools command through chromedriver: POST `/session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"cmd": self.cmd, "params": self.params}).to_string()),
        )
    }
}

/// The recorder as one statement: installs itself once per document.
fn recorder_source() -> String {
    format!("(function () {{\nif (window.__juruRec) return;\n{SELECT_JS}\n{RECORD_JS}\n}})();")
}

/// Puts the recorder into the current window: its future documents (DevTools) and
/// the documents open now (the page and its same-origin frames).
async fn install(client: &Client, source: &str) {
    on_new_documents(client, source).await;
    install_now(client, source).await;
}

/// The recorder in every document the current window loads from now on.
async fn on_new_documents(client: &Client, source: &str) {
    let _ = client
        .issue_cmd(Cdp {
            cmd: "Page.addScriptToEvaluateOnNewDocument",
            params: json!({ "source": source }),
        })
        .await;
}

/// The recorder in the documents the current window shows now.
async fn install_now(client: &Client, source: &str) {
    let script = "const src = arguments[0];
const put = w => { try { if (!w.__juruRec) w.eval(src); for (let i = 0; i < w.frames.length; i++) put(w.frames[i]); } catch (e) {} };
put(window.top);
return true;";
    let _ = client.execute(script, vec![json!(source)]).await;
}

/// Reads the queued events of the current window, and its title. The queue keeps
/// them until a later read acknowledges them (`ack`, the ids of the last read): a
/// read whose answer is lost (a dialog opened while it ran) loses nothing.
async fn drain(client: &Client, ack: &[String]) -> Option<(Vec<Event>, String)> {
    let script = "const k = '__juru_rec', ack = new Set(arguments[0]);
let list = [];
try {
  list = JSON.parse(sessionStorage.getItem(k) || '[]').filter(e => !ack.has(e.id));
  if (list.length) sessionStorage.setItem(k, JSON.stringify(list)); else sessionStorage.removeItem(k);
} catch (e) {}
return [list, document.title];";
    let v = client.execute(script, vec![json!(ack)]).await.ok()?;
    let events = v
        .get(0)
        .and_then(|l| l.as_array())
        .map(|l| {
            l.iter()
                .filter_map(|e| serde_json::from_value::<Event>(e.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let title = v
        .get(1)
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_string();
    Some((events, title))
}

/// Ctrl-C and SIGTERM, listened to from the start (a signal that comes while the
/// browser opens ends the recording as soon as it begins, cleanly).
struct Signals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

impl Signals {
    fn listen() -> Signals {
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }
}

async fn next(signal: &mut Option<Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// What ends a recording besides the browser closing: Enter (or the end of the
/// input), Ctrl-C, SIGTERM.
async fn stop_requested(mut signals: Signals) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let _ = std::thread::Builder::new()
        .name("juru-record-stdin".into())
        .spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            let _ = tx.send(());
        });
    tokio::select! {
        _ = rx => {},
        _ = next(&mut signals.interrupt) => {},
        _ = next(&mut signals.terminate) => {},
    }
}

/// Opens `url` with the recorder in place and collects events until the person
/// ends the recording. The browser is left open (the caller closes it).
async fn record(
    browser: &crate::browser::Browser,
    driver_url: &str,
    url: &str,
    session_file: Option<&Path>,
    signals: Signals,
) -> Result<Vec<Event>, String> {
    let client = browser.client();
    let source = recorder_source();
    let first = client
        .window()
        .await
        .map_err(|e| format!("the browser does not answer: {e}"))?;
    on_new_documents(client, &source).await;
    browser
        .goto(url)
        .await
        .map_err(|e| format!("cannot open {url}: {e}"))?;
    install_now(client, &source).await;
    if let Some(path) = session_file {
        let session = client.session_id().await.ok().flatten().unwrap_or_default();
        let debugger = client
            .capabilities()
            .and_then(|c| c.get("goog:chromeOptions"))
            .and_then(|o| o.get("debuggerAddress"))
            .cloned()
            .unwrap_or(Value::Null);
        let text =
            json!({"webdriver": driver_url, "session": session, "debugger_address": debugger});
        // Written whole, then renamed: whoever waits for it never reads half.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text.to_string())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    eprintln!(
        "juru record: recording in the browser window. Do one item by hand; then close the browser, or press Enter here."
    );

    let mut known: Vec<WindowHandle> = vec![first.clone()];
    let mut current = first;
    let mut seen: HashSet<String> = HashSet::new();
    // Per window (as `known`), the ids of its last read.
    let mut acks: Vec<Vec<String>> = vec![Vec::new()];
    let mut events: Vec<Event> = Vec::new();
    let mut failures = 0;
    let stop = stop_requested(signals);
    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(TICK);
    let mut stopping = false;
    loop {
        if !stopping {
            tokio::select! {
                _ = &mut stop => stopping = true,
                _ = ticker.tick() => {},
            }
        }
        let handles = match client.windows().await {
            Ok(h) if !h.is_empty() => {
                failures = 0;
                h
            }
            Ok(_) => break,
            Err(_) => {
                // The person closed the browser (or it is gone).
                failures += 1;
                if failures >= 3 || stopping {
                    break;
                }
                continue;
            }
        };
        for h in &handles {
            if !known.contains(h) {
                if client.switch_to_window(h.clone()).await.is_ok() {
                    current = h.clone();
                    install(client, &source).await;
                }
                known.push(h.clone());
                acks.push(Vec::new());
            }
        }
        for (index, h) in known.iter().enumerate() {
            if !handles.contains(h) {
                continue;
            }
            if *h != current {
                if client.switch_to_window(h.clone()).await.is_err() {
                    continue;
                }
                current = h.clone();
            }
            if let Some((batch, title)) = drain(client, &acks[index]).await {
                acks[index] = batch.iter().map(|e| e.id.clone()).collect();
                for mut e in batch {
                    if e.id.is_empty() || seen.insert(e.id.clone()) {
                        e.window = index;
                        e.window_title = title.clone();
                        events.push(e);
                    }
                }
            }
        }
        if stopping {
            break;
        }
    }
    let mut events = arrange(events);
    // The first page is the address juru opened (a redirect happens again in a run).
    if let Some(first) = events
        .iter_mut()
        .find(|e| e.kind == "load" && e.window == 0)
    {
        first.url = url.to_string();
    }
    Ok(events)
}

/// Puts the events of all windows in the order they happened, numbers the popups
/// by their titles (0 is the first window) and drops the clicks a date stands for.
pub fn arrange(mut events: Vec<Event>) -> Vec<Event> {
    let replaced: HashSet<String> = events
        .iter()
        .filter(|e| !e.replaces.is_empty())
        .map(|e| e.replaces.clone())
        .collect();
    // A date stands where the click it replaces was (it is noticed a moment later).
    let when: BTreeMap<String, f64> = events
        .iter()
        .filter(|e| replaced.contains(&e.id))
        .map(|e| (e.id.clone(), e.t))
        .collect();
    for e in &mut events {
        if let Some(t) = when.get(&e.replaces) {
            e.t = *t;
        }
    }
    events.retain(|e| !replaced.contains(&e.id));
    events.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut popups: Vec<String> = Vec::new();
    for e in &mut events {
        if !e.popup && e.window == 0 {
            continue;
        }
        let title = if e.title.is_empty() {
            e.window_title.clone()
        } else {
            e.title.clone()
        };
        let index = match popups.iter().position(|t| *t == title) {
            Some(i) => i,
            None => {
                popups.push(title.clone());
                popups.len() - 1
            }
        };
        e.window = index + 1;
        e.window_title = title;
    }
    events
}

/// A drafted script and how many actions it holds.
#[derive(Debug, Clone)]
pub struct Draft {
    pub text: String,
    pub actions: usize,
}

/// One line of the draft, with the window and frame it runs in.
struct Step {
    window: usize,
    window_title: String,
    frame: Vec<String>,
    line: String,
}

/// Writes `process(item)` from the recorded events.
pub fn draft(
    events: &[Event],
    vars: &BTreeMap<String, String>,
    columns: Option<&Columns>,
) -> Draft {
    let events = collapse(events);
    let mut steps: Vec<Step> = Vec::new();
    let mut opened = false;
    for (i, e) in events.iter().enumerate() {
        let step = |line: String| Step {
            window: e.window,
            window_title: e.window_title.clone(),
            frame: e.frame.clone().unwrap_or_default(),
            line,
        };
        let sel = lit(&e.selector);
        let fragile = if e.positional {
            "  // selector by position: check it"
        } else {
            ""
        };
        let value_text = match &e.value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => v.to_string(),
        };
        let placeholder = |value: &str| {
            let names = [e.label.as_str(), e.name.as_str(), e.field_id.as_str()];
            let column = match columns {
                Some(c) => c.find(value, &names),
                None => None,
            }
            .or_else(|| {
                names
                    .iter()
                    .find(|n| !n.trim().is_empty())
                    .map(|n| n.trim().to_string())
            })
            .unwrap_or_else(|| "Kolom".into());
            format!("item[{}]", lit(&column))
        };
        match e.kind.as_str() {
            "load" => {
                // The first page, and pages the person opened by hand: a link, a form
                // or a script leave a referrer, a typed address does not.
                let by_hand = e.referrer.is_empty();
                if e.window != 0 {
                    continue;
                }
                if e.how == "back_forward" && opened {
                    steps.push(step("browser.back();  // or browser.forward()".into()));
                } else if e.how == "reload" && opened {
                    steps.push(step("browser.refresh();".into()));
                } else if !opened || by_hand {
                    steps.push(step(format!("browser.open({});", open_expr(&e.url, vars))));
                }
                opened = true;
            }
            "fill" if e.field_type == "password" => {
                steps.push(step(format!(
                    "browser.fill({sel}, secret(\"password\"));{fragile}"
                )));
            }
            "fill" => {
                let p = placeholder(&value_text);
                // The value's shape only: what a person types while recording is
                // often a real citizen's data, and drafts end up in repositories.
                steps.push(step(format!(
                    "browser.fill({sel}, {p});  // typed: {}{}",
                    shape(&value_text),
                    fragile.replace("  //", ";")
                )));
            }
            "date" => {
                let p = placeholder(&value_text);
                steps.push(step(format!(
                    "browser.set_date({sel}, {p});  // a date chosen{}",
                    fragile.replace("  //", ";")
                )));
            }
            "select" | "radio" => {
                let shown = value_text.clone();
                let matched = columns.and_then(|c| c.find(&shown, &[&e.label, &e.name]));
                let value = match matched {
                    Some(col) => format!("item[{}]", lit(&col)),
                    None => lit(&shown),
                };
                let what = if e.kind == "radio" {
                    format!("radio \"{}\"", e.text)
                } else {
                    "option".to_string()
                };
                steps.push(step(format!(
                    "browser.fill({sel}, {value});  // {what} chosen: {}{}",
                    lit(&shown),
                    fragile.replace("  //", ";")
                )));
            }
            "check" => {
                steps.push(step(format!(
                    "browser.fill({sel}, {});{fragile}",
                    e.checked
                )));
            }
            "upload" => {
                let name = e.files.first().cloned().unwrap_or_default();
                let p = placeholder(&name);
                steps.push(step(format!(
                    "browser.upload({sel}, {p});  // chosen: {} (a path in the bot folder){}",
                    lit(&name),
                    fragile.replace("  //", ";")
                )));
            }
            "enter" => {
                steps.push(step(format!("browser.press({sel}, \"Enter\");{fragile}")));
            }
            "click" | "link" => {
                // A click answered by a confirm() becomes one step.
                let answered = events[i + 1..]
                    .iter()
                    .find(|n| n.window == e.window)
                    .filter(|n| n.kind == "dialog" && n.dialog == "confirm");
                let line = match answered {
                    Some(d) => format!(
                        "browser.click({sel}, #{{ confirm: {} }});  // confirm: {}",
                        d.answer.as_bool().unwrap_or(false),
                        lit(&d.text)
                    ),
                    None if e.kind == "link" && e.positional && e.unique => {
                        format!("browser.click_link({});", lit(&e.text))
                    }
                    None => format!(
                        "browser.click({sel});{}",
                        if e.positional {
                            fragile.to_string()
                        } else if !e.text.is_empty() {
                            format!("  // \"{}\"", e.text.replace('\n', " "))
                        } else {
                            String::new()
                        }
                    ),
                };
                steps.push(step(line));
            }
            "dialog" => {
                let prev = events[..i].iter().rev().find(|p| p.window == e.window);
                let handled = e.dialog == "confirm"
                    && prev.is_some_and(|p| matches!(p.kind.as_str(), "click" | "link"));
                if handled {
                    continue;
                }
                let line = match e.dialog.as_str() {
                    "prompt" => match &e.answer {
                        Value::String(a) => format!(
                            "browser.answer_prompt({});  // asked: {}",
                            lit(a),
                            lit(&e.text)
                        ),
                        _ => format!("browser.dismiss_dialog();  // asked: {}", lit(&e.text)),
                    },
                    "confirm" if e.answer.as_bool() != Some(true) => {
                        format!("browser.dismiss_dialog();  // {}", lit(&e.text))
                    }
                    _ => format!("browser.accept_dialog();  // {}", lit(&e.text)),
                };
                steps.push(step(line));
            }
            _ => {}
        }
    }
    let actions = steps.len();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "// Drafted by `juru record` from one item done by hand. Review it: the item[\"...\"]\n// columns, the selectors, what must be waited for; add item.submitted() after the\n// step that saves, and a verify(item) (see docs/bot-reference.md)."
    );
    text.push_str("fn process(item) {\n");
    let mut i = 0;
    while i < steps.len() {
        let s = &steps[i];
        if s.window != 0 {
            // A popup: its steps in one in_window block.
            let mut j = i;
            while j < steps.len() && steps[j].window == s.window {
                j += 1;
            }
            let wanted = if s.window_title.is_empty() {
                "<its title>".to_string()
            } else {
                s.window_title.clone()
            };
            let _ = writeln!(text, "    browser.in_window({}, || {{", lit(&wanted));
            write_frames(&mut text, &steps[i..j], 2);
            text.push_str("    });\n");
            i = j;
        } else {
            let mut j = i;
            while j < steps.len() && steps[j].window == 0 {
                j += 1;
            }
            write_frames(&mut text, &steps[i..j], 1);
            i = j;
        }
    }
    if actions == 0 {
        text.push_str("    // nothing was recorded\n");
    }
    text.push_str("}\n");
    Draft { text, actions }
}

/// Steps of one window, grouped into `in_frame` blocks.
fn write_frames(text: &mut String, steps: &[Step], depth: usize) {
    let pad = "    ".repeat(depth);
    let mut i = 0;
    while i < steps.len() {
        let frame = &steps[i].frame;
        let mut j = i;
        while j < steps.len() && steps[j].frame == *frame {
            j += 1;
        }
        if frame.is_empty() {
            for s in &steps[i..j] {
                let _ = writeln!(text, "{pad}{}", s.line);
            }
        } else {
            let _ = writeln!(
                text,
                "{pad}browser.in_frame({}, || {{",
                lit(&frame.join(" > "))
            );
            for s in &steps[i..j] {
                let _ = writeln!(text, "{pad}    {}", s.line);
            }
            let _ = writeln!(text, "{pad}}});");
        }
        i = j;
    }
}

/// What a typed value looked like, without the value: "18 digits", "12 characters".
fn shape(value: &str) -> String {
    let n = value.chars().count();
    if n == 0 {
        "nothing (the field was cleared)".into()
    } else if value.chars().all(|c| c.is_ascii_digit()) {
        format!("{n} digit{}", if n == 1 { "" } else { "s" })
    } else {
        format!("{n} character{}", if n == 1 { "" } else { "s" })
    }
}

/// Keeps one `fill` per field: the last value typed into it before anything else
/// happened.
fn collapse(events: &[Event]) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for e in events {
        if matches!(e.kind.as_str(), "fill" | "date") {
            let same = |p: &Event| {
                p.kind == e.kind
                    && p.selector == e.selector
                    && p.frame == e.frame
                    && p.window == e.window
            };
            // Replace an earlier value of the same field, if only fills came between.
            if let Some(pos) = out.iter().rposition(same) {
                if out[pos + 1..].iter().all(|p| {
                    matches!(
                        p.kind.as_str(),
                        "fill" | "date" | "check" | "select" | "radio"
                    )
                }) {
                    out.remove(pos);
                }
            }
        }
        out.push(e.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, selector: &str, value: &str) -> Event {
        Event {
            kind: kind.into(),
            selector: selector.into(),
            value: json!(value),
            ..Event::default()
        }
    }

    #[test]
    fn events_are_put_in_order_and_popups_numbered_by_title() {
        let at = |id: &str, t: f64, e: Event| Event {
            id: id.into(),
            t,
            ..e
        };
        let events = vec![
            at(
                "a-2",
                20.0,
                Event {
                    replaces: "a-1".into(),
                    ..ev("date", "#tanggal", "05/11/2026")
                },
            ),
            at("a-1", 10.0, ev("link", "#kalender a", "")),
            at("a-3", 15.0, ev("fill", "#nip", "1")),
            at(
                "b-1",
                30.0,
                Event {
                    popup: true,
                    title: "Tanda Terima".into(),
                    ..ev("click", "#tutup", "")
                },
            ),
            at(
                "c-1",
                40.0,
                Event {
                    window: 2,
                    title: "Bantuan".into(),
                    ..ev("click", "#ok", "")
                },
            ),
        ];
        let out = arrange(events);
        let order: Vec<(&str, usize)> = out.iter().map(|e| (e.id.as_str(), e.window)).collect();
        // The calendar's click is gone; its date stands where the click was.
        assert_eq!(order, [("a-2", 0), ("a-3", 0), ("b-1", 1), ("c-1", 2)]);
        assert_eq!(out[2].window_title, "Tanda Terima");
    }

    #[test]
    fn drafts_verbs_frames_windows_and_placeholders() {
        let mut events = vec![
            Event {
                url: "http://127.0.0.1:9/lab/formulir".into(),
                how: "navigate".into(),
                ..ev("load", "", "")
            },
            Event {
                label: "Nomor Induk Berusaha".into(),
                ..ev("fill", "#nib", "12")
            },
            Event {
                label: "Nomor Induk Berusaha".into(),
                ..ev("fill", "#nib", "1234")
            },
            Event {
                label: "Kecamatan".into(),
                ..ev("select", "#kecamatan", "Wonorejo")
            },
            Event {
                checked: true,
                ..ev("check", "#setuju", "")
            },
            Event {
                frame: Some(vec!["ringkasan".into()]),
                text: "Lab".into(),
                ..ev("link", "a[href=\"/lab\"]", "")
            },
            ev("click", "#hapus", ""),
            Event {
                dialog: "confirm".into(),
                text: "Hapus?".into(),
                answer: json!(true),
                ..ev("dialog", "", "")
            },
        ];
        events.push(Event {
            label: "Skala Usaha".into(),
            text: "Kecil".into(),
            ..ev("radio", "input[name=skala]", "Kecil")
        });
        events.push(Event {
            field_type: "password".into(),
            ..ev("fill", "#pass", "rahasia123")
        });
        events.push(Event {
            dialog: "prompt".into(),
            text: "Alasan?".into(),
            answer: Value::Null,
            ..ev("dialog", "", "")
        });
        let mut popup = Event {
            window: 1,
            window_title: "Petunjuk".into(),
            ..ev("click", "#tutup", "")
        };
        popup.text = "Tutup".into();
        events.push(popup);
        let vars = BTreeMap::from([("portal_url".to_string(), "http://127.0.0.1:9".to_string())]);
        let columns = Columns {
            headers: vec!["NIB".into(), "Kec".into()],
            rows: vec![vec![vec!["1234".into()], vec!["Wonorejo".into()]]],
        };
        let d = draft(&events, &vars, Some(&columns));
        let t = &d.text;
        assert!(
            t.contains("browser.open(`${vars.portal_url}/lab/formulir`);"),
            "{t}"
        );
        // The typed value's shape, never the value (a citizen's data).
        assert!(
            t.contains("browser.fill(\"#nib\", item[\"NIB\"]);  // typed: 4 digits"),
            "{t}"
        );
        assert!(!t.contains("1234"), "{t}");
        assert!(!t.contains("\"12\""), "{t}");
        assert!(
            t.contains("browser.fill(\"#kecamatan\", item[\"Kec\"]);"),
            "{t}"
        );
        assert!(t.contains("browser.fill(\"#setuju\", true);"), "{t}");
        assert!(t.contains("browser.in_frame(\"ringkasan\", || {"), "{t}");
        assert!(
            t.contains("browser.click(\"#hapus\", #{ confirm: true });"),
            "{t}"
        );
        assert!(t.contains("browser.in_window(\"Petunjuk\", || {"), "{t}");
        assert!(
            t.contains("browser.fill(\"input[name=skala]\", \"Kecil\");"),
            "{t}"
        );
        assert!(
            t.contains("browser.fill(\"#pass\", secret(\"password\"));"),
            "{t}"
        );
        assert!(!t.contains("rahasia123"), "{t}");
        assert!(
            t.contains("browser.dismiss_dialog();  // asked: \"Alasan?\""),
            "{t}"
        );
        assert!(crate::script::compile_text(t, "draft").is_ok(), "{t}");
        // Without a workbook the columns are named after the labels.
        let d = draft(&events, &vars, None);
        assert!(
            d.text.contains("item[\"Nomor Induk Berusaha\"]"),
            "{}",
            d.text
        );
        assert!(
            d.text
                .contains("browser.fill(\"#kecamatan\", \"Wonorejo\");"),
            "{}",
            d.text
        );
    }
}
