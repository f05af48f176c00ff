//! Finding one's way in a legacy web system: `juru inspect` studies a page through
//! juru's own browser layer (the same chromedriver and Chromium settings as bots,
//! the same http(s)-only address guard) and lists its frames, forms, fields,
//! buttons, links, tables and popups, each with the shortest stable selector, then
//! writes a Rhai skeleton that fills the page's main form; `juru shell` ([`shell`])
//! evaluates script statements one at a time in a bot's logged-in browser.
//!
//! Studying a page is async (the browser); a bot's `login()` runs in its script
//! host on a blocking thread ([`session`]). Errors are one sentence each: a bad
//! address or frame path is the user's ([`InspectError::Usage`], exit 2), a browser
//! or page failure is a runtime one ([`InspectError::Failed`], exit 1).

pub mod record;
pub mod session;
pub mod shell;
mod skeleton;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::browser::{Browser, BrowserError};

pub use skeleton::skeleton;

/// The selector and label rules `juru inspect` and `juru record` share.
pub(crate) const SELECT_JS: &str = include_str!("select.js");
/// The page script that studies one document (see `page.js`).
const PAGE_JS: &str = concat!(include_str!("select.js"), include_str!("page.js"));

/// At most this many documents (the page and its frames, nested) are studied.
const MAX_SCOPES: usize = 24;
/// Frames nested deeper than this are listed but not entered.
const MAX_DEPTH: usize = 4;

/// Why inspecting failed.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The command was given something it cannot use (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The browser or the page failed (exit 1).
    #[error("{0}")]
    Failed(String),
}

/// A `select` option or a radio button: what is sent and what a person reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// A frame or iframe of a document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Frame {
    pub tag: String,
    pub name: String,
    pub id: String,
    pub src: String,
    pub url: String,
    /// The `in_frame` path that reaches it from the top (`None`: it has neither a
    /// name nor an id, so scripts cannot enter it).
    pub in_frame: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Form {
    pub index: i64,
    pub name: String,
    pub id: String,
    pub action: String,
    pub method: String,
    pub selector: String,
    /// The selector counts siblings (nothing stabler was unique).
    pub positional: bool,
}

/// An input, select or textarea (a radio group is one field).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Field {
    pub tag: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub id: String,
    /// The text a person reads beside it.
    pub label: String,
    pub required: bool,
    pub disabled: bool,
    pub readonly: bool,
    pub visible: bool,
    /// Index of its form in the document, -1 outside any form.
    pub form: i64,
    pub selector: String,
    pub positional: bool,
    /// Options of a select, buttons of a radio group.
    pub options: Vec<Choice>,
    pub multiple: bool,
    /// A date field or calendar widget: set it with `browser.set_date`.
    pub date: bool,
    /// The (hidden) field a read-only calendar box writes its date to.
    pub date_target: Option<String>,
}

/// A window another element opens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Popup {
    /// `window.open`, `target=_blank` or `target=NAME`.
    pub how: String,
    pub url: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Button {
    pub text: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub name: String,
    pub disabled: bool,
    pub visible: bool,
    /// Its click asks `confirm()`.
    pub confirm: bool,
    pub popup: Option<Popup>,
    pub form: i64,
    pub selector: String,
    pub positional: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Link {
    pub text: String,
    pub href: String,
    pub target: String,
    pub popup: Option<Popup>,
    pub confirm: bool,
    /// No other link has this text (so `browser.click_link(text)` finds it).
    pub text_unique: bool,
    pub visible: bool,
    pub selector: String,
    pub positional: bool,
}

/// A table with header cells.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: u64,
    pub selector: String,
    pub positional: bool,
}

/// What one document holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Page {
    pub url: String,
    pub title: String,
    pub heading: String,
    pub frames: Vec<Frame>,
    pub forms: Vec<Form>,
    pub fields: Vec<Field>,
    pub buttons: Vec<Button>,
    pub links: Vec<Link>,
    pub tables: Vec<Table>,
}

/// One document: the page, or a frame reached by `in_frame`.
#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    /// The frame path from the top (`""` for the page itself).
    pub in_frame: String,
    #[serde(skip)]
    pub path: Vec<String>,
    pub page: Option<Page>,
    /// Why it could not be studied (a frame that shows no web page, …).
    pub error: Option<String>,
}

/// Everything `juru inspect` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The address that was opened.
    pub url: String,
    pub scopes: Vec<Scope>,
    /// Dialogs (alert, confirm, prompt) that opened while the page loaded, by their
    /// text; they were answered by the dialog policy (dismissed by default).
    pub dialogs: Vec<String>,
    /// A `main.rhai` draft that fills the main form.
    pub skeleton: String,
}

/// Splits a frame path `"main > detail"` into its names.
pub fn frame_path(text: &str) -> Result<Vec<String>, InspectError> {
    let names: Vec<String> = text.split('>').map(|s| s.trim().to_string()).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(InspectError::Usage(format!(
            "--frame \"{text}\" is not a frame path; expected frame names separated by '>', e.g. \"main > detail\""
        )));
    }
    Ok(names)
}

/// Checks that `url` is an absolute http(s) address before any browser starts.
pub fn check_url(url: &str) -> Result<(), InspectError> {
    match url::Url::parse(url.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(u) => Err(InspectError::Usage(format!(
            "\"{url}\" is a {}: address; juru inspects only http:// and https:// pages",
            u.scheme()
        ))),
        Err(e) => Err(InspectError::Usage(format!(
            "\"{url}\" is not a web address ({e}); expected e.g. http://127.0.0.1:8765/login"
        ))),
    }
}

/// `juru inspect`: starts a browser (logged in by `bot`'s `login()` when given),
/// studies `url` (inside the frame path `base`) and drafts the script. The browser
/// and its driver are stopped before this returns, whatever happened.
pub async fn inspect(
    config: &crate::config::AgentConfig,
    bot: Option<&crate::bot::Bot>,
    url: &str,
    base: &[String],
    headed: bool,
) -> Result<Report, InspectError> {
    let settings = session::settings(config, bot, headed);
    let driver = session::start_driver(&settings).await?;
    let browser = match bot {
        Some(bot) => session::open_logged_in(config, bot, &settings, &driver).await,
        None => session::open(&driver, &settings).await,
    };
    let mut dialogs = Vec::new();
    let studied = match browser {
        Ok(browser) => {
            browser.take_dialogs();
            let studied = study(&browser, url.trim(), base).await;
            dialogs = browser.take_dialogs();
            browser.close().await;
            studied
        }
        Err(e) => Err(e),
    };
    driver.stop().await;
    let scopes = studied?;
    let skeleton = skeleton(url.trim(), &scopes, &session::string_vars(bot));
    Ok(Report {
        url: url.trim().to_string(),
        scopes,
        dialogs,
        skeleton,
    })
}

/// Opens `url` and studies the page and every frame in it (below `base`, a frame
/// path, when given). The browser is back at the top when this returns.
pub async fn study(
    browser: &Browser,
    url: &str,
    base: &[String],
) -> Result<Vec<Scope>, InspectError> {
    browser
        .goto(url)
        .await
        .map_err(|e| InspectError::Failed(format!("cannot open {url}: {e}")))?;
    settle(browser).await;
    let mut scopes = Vec::new();
    let mut todo = VecDeque::from([base.to_vec()]);
    while let Some(path) = todo.pop_front() {
        if scopes.len() >= MAX_SCOPES {
            break;
        }
        let studied = study_one(browser, &path).await;
        let _ = browser.leave_frames(usize::MAX).await;
        match studied {
            Ok(mut page) => {
                for frame in &mut page.frames {
                    let key = if !frame.name.is_empty() {
                        &frame.name
                    } else {
                        &frame.id
                    };
                    if key.is_empty() || key.contains('>') {
                        continue;
                    }
                    let mut sub = path.clone();
                    sub.push(key.clone());
                    frame.in_frame = Some(sub.join(" > "));
                    if sub.len() <= MAX_DEPTH {
                        todo.push_back(sub);
                    }
                }
                scopes.push(Scope {
                    in_frame: path.join(" > "),
                    path,
                    page: Some(page),
                    error: None,
                });
            }
            Err(e) if path == base && !base.is_empty() => {
                return Err(InspectError::Usage(format!(
                    "--frame \"{}\": {e}",
                    base.join(" > ")
                )))
            }
            Err(e) if path == base => {
                return Err(InspectError::Failed(format!("cannot study {url}: {e}")))
            }
            Err(e) => scopes.push(Scope {
                in_frame: path.join(" > "),
                path,
                page: None,
                error: Some(e.to_string()),
            }),
        }
    }
    Ok(scopes)
}

async fn study_one(browser: &Browser, path: &[String]) -> Result<Page, BrowserError> {
    if !path.is_empty() {
        browser.enter_frames(&path.join(" > ")).await?;
    }
    ready(browser).await;
    let answer = browser.execute(PAGE_JS, vec![]).await?;
    serde_json::from_value(answer).map_err(|e| {
        BrowserError::Io(format!(
            "the page study answered in an unexpected form: {e}"
        ))
    })
}

/// Waits (within the browser's timeout) until the current document has loaded.
async fn ready(browser: &Browser) {
    let until = Instant::now() + browser.timeout();
    while Instant::now() < until {
        match browser.execute("return document.readyState;", vec![]).await {
            Ok(v) if v == "complete" => return,
            Err(e) if e.kind() == "address" || e.kind() == "error_page" => return,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits until the page has loaded and stopped moving (a page that sends itself
/// elsewhere by script, as framed pages opened alone often do).
async fn settle(browser: &Browser) {
    let until = Instant::now() + browser.timeout();
    let mut last = String::new();
    while Instant::now() < until {
        let now = browser
            .execute("return [location.href, document.readyState];", vec![])
            .await;
        match now {
            Ok(v) if v[1] == "complete" => {
                let href = v[0].as_str().unwrap_or_default().to_string();
                if href == last {
                    return;
                }
                last = href;
            }
            Err(e) if e.kind() == "address" || e.kind() == "error_page" => return,
            _ => last.clear(),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The report as text for people.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("juru inspect {}", report.url));
    for d in &report.dialogs {
        line(format!(
            "dialog while the page loaded (answered by [browser] unexpected_dialog): \"{d}\""
        ));
    }
    for scope in &report.scopes {
        line(String::new());
        let Some(page) = &scope.page else {
            line(format!(
                "== frame \"{}\": not studied: {}",
                scope.in_frame,
                scope.error.as_deref().unwrap_or("unknown")
            ));
            continue;
        };
        if scope.in_frame.is_empty() {
            line(format!("== page \"{}\" at {}", page.title, page.url));
        } else {
            line(format!(
                "== frame \"{}\" (browser.in_frame(\"{}\", || ...)): \"{}\" at {}",
                scope.in_frame, scope.in_frame, page.title, page.url
            ));
        }
        if !page.heading.is_empty() {
            line(format!("heading: {}", page.heading));
        }
        if !page.frames.is_empty() {
            line("frames:".into());
            for f in &page.frames {
                let reach = match &f.in_frame {
                    Some(p) => format!("in_frame(\"{p}\")"),
                    None => "no name or id: scripts cannot enter it".into(),
                };
                line(format!("  {} {}  src {}", f.tag, reach, f.src));
            }
        }
        for form in &page.forms {
            let fields: Vec<&Field> = page
                .fields
                .iter()
                .filter(|f| f.form == form.index)
                .collect();
            let buttons: Vec<&Button> = page
                .buttons
                .iter()
                .filter(|b| b.form == form.index)
                .collect();
            let what = if form.name.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", form.name)
            };
            line(format!(
                "form{what} {}  ({} {})",
                shown_selector(&form.selector, form.positional),
                form.method,
                if form.action.is_empty() {
                    "(this page)"
                } else {
                    &form.action
                }
            ));
            for f in fields {
                line(format!("  field {}", describe_field(f)));
            }
            for b in buttons {
                line(format!("  button {}", describe_button(b)));
            }
        }
        let loose: Vec<&Field> = page.fields.iter().filter(|f| f.form < 0).collect();
        let loose_buttons: Vec<&Button> = page.buttons.iter().filter(|b| b.form < 0).collect();
        if !loose.is_empty() || !loose_buttons.is_empty() {
            line("outside any form:".into());
            for f in loose {
                line(format!("  field {}", describe_field(f)));
            }
            for b in loose_buttons {
                line(format!("  button {}", describe_button(b)));
            }
        }
        for t in &page.tables {
            line(format!(
                "table {}  {} row{}; headers: {}  (browser.table({}))",
                shown_selector(&t.selector, t.positional),
                t.rows,
                if t.rows == 1 { "" } else { "s" },
                t.headers.join(" | "),
                skeleton::lit(&t.selector)
            ));
        }
        if !page.links.is_empty() {
            line("links:".into());
            for l in &page.links {
                let mut notes = Vec::new();
                if l.text_unique {
                    notes.push(format!("browser.click_link({})", skeleton::lit(&l.text)));
                }
                match l.target.as_str() {
                    _ if l.popup.is_some() => {}
                    "" | "_self" => {}
                    "_top" | "_parent" => notes.push("replaces the whole page".into()),
                    frame => notes.push(format!("opens in frame \"{frame}\"")),
                }
                if let Some(p) = &l.popup {
                    notes.push(format!("POPUP ({}): use browser.in_window", p.how));
                }
                if l.confirm {
                    notes.push("asks confirm()".into());
                }
                if !l.visible {
                    notes.push("hidden".into());
                }
                line(format!(
                    "  \"{}\" {}  -> {}{}",
                    l.text,
                    shown_selector(&l.selector, l.positional),
                    l.href,
                    if notes.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", notes.join("; "))
                    }
                ));
            }
        }
        let popups: Vec<String> = page
            .links
            .iter()
            .filter_map(|l| l.popup.as_ref().map(|p| (l.selector.as_str(), &l.text, p)))
            .chain(
                page.buttons
                    .iter()
                    .filter_map(|b| b.popup.as_ref().map(|p| (b.selector.as_str(), &b.text, p))),
            )
            .map(|(sel, text, p)| {
                format!(
                    "  `{sel}` \"{text}\" opens a window ({}{}): browser.click({}); then browser.in_window(\"<its title>\", || ...)",
                    p.how,
                    if p.url.is_empty() { String::new() } else { format!(" {}", p.url) },
                    skeleton::lit(sel)
                )
            })
            .collect();
        if !popups.is_empty() {
            line("popups:".into());
            for p in popups {
                line(p);
            }
        }
    }
    line(String::new());
    line(
        "== skeleton for main.rhai (rename the item[\"...\"] columns to your workbook's headers):"
            .into(),
    );
    out.push_str(&report.skeleton);
    out
}

fn shown_selector(selector: &str, positional: bool) -> String {
    if positional {
        format!("`{selector}` (by position: fragile)")
    } else {
        format!("`{selector}`")
    }
}

fn describe_field(f: &Field) -> String {
    let label = if f.label.is_empty() {
        "(no label)".to_string()
    } else {
        format!("\"{}\"", f.label)
    };
    let mut notes = vec![f.kind.clone()];
    if f.required {
        notes.push("required".into());
    }
    if f.disabled {
        notes.push("disabled".into());
    }
    if f.readonly {
        notes.push("read-only".into());
    }
    if !f.visible && f.kind != "hidden" {
        notes.push("hidden".into());
    }
    if f.date {
        let target = f.date_target.as_deref().unwrap_or(&f.selector);
        notes.push(format!("date: browser.set_date(\"{target}\", ...)"));
    }
    if !f.options.is_empty() {
        let shown: Vec<String> = f
            .options
            .iter()
            .map(|o| {
                if o.value == o.label {
                    format!("\"{}\"", o.label)
                } else {
                    format!("\"{}\" = \"{}\"", o.value, o.label)
                }
            })
            .collect();
        notes.push(format!("options: {}", shown.join(", ")));
    }
    format!(
        "{label} {}  [{}]",
        shown_selector(&f.selector, f.positional),
        notes.join("; ")
    )
}

fn describe_button(b: &Button) -> String {
    let mut notes = vec![b.kind.clone()];
    if b.disabled {
        notes.push("disabled now: juru waits until it is enabled".into());
    }
    if b.confirm {
        notes.push("asks confirm(): browser.click(sel, #{ confirm: true })".into());
    }
    if let Some(p) = &b.popup {
        notes.push(format!("POPUP ({})", p.how));
    }
    if !b.visible {
        notes.push("hidden".into());
    }
    format!(
        "\"{}\" {}  [{}]",
        b.text,
        shown_selector(&b.selector, b.positional),
        notes.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_a_browser_starts() {
        assert!(check_url("http://127.0.0.1:8765/login").is_ok());
        assert!(check_url("https://portal.example.go.id").is_ok());
        let e = check_url("file:///etc/passwd").unwrap_err().to_string();
        assert!(e.contains("only http:// and https://"), "{e}");
        let e = check_url("portal/login").unwrap_err().to_string();
        assert!(e.contains("is not a web address"), "{e}");
    }

    #[test]
    fn frame_paths() {
        assert_eq!(frame_path("main > detail").unwrap(), ["main", "detail"]);
        assert_eq!(frame_path("main").unwrap(), ["main"]);
        assert!(frame_path("main >").is_err());
        assert!(frame_path("").is_err());
    }
}
