//! A WebDriver session and its actions.
//!
//! Round trips are what makes a browser bot slow, so waiting is done with one small
//! script per poll that finds the element and checks that it is visible and enabled,
//! and reads (text of a missing element, page text) are single scripts too.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::elements::{Element, ElementRef};
use fantoccini::error::{CmdError, NewSessionError};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use super::driver::default_chromium;
use super::{BrowserError, DriverKind, Settings};

const POLL: Duration = Duration::from_millis(50);
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Finds `arguments[0]`, reports why it is not usable yet, or returns it. For a
/// radio button with a wanted value (`arguments[1]`), returns the radio of the same
/// group that has that value.
const PROBE: &str = r#"
const sel = arguments[0], want = arguments[1];
let el;
try { el = document.querySelector(sel); } catch (e) { return {state: "invalid", message: String(e.message)}; }
if (!el) return {state: "missing"};
const tag = el.tagName.toLowerCase(), type = (el.getAttribute("type") || "").toLowerCase();
if (tag === "input" && type === "radio" && want !== null && el.value !== want) {
  const group = el.form ? el.form.querySelectorAll("input[type=radio]") : document.querySelectorAll("input[type=radio]");
  const match = Array.from(group).find(r => r.name === el.name && r.value === want);
  if (!match) return {state: "nooption", options: Array.from(group).filter(r => r.name === el.name).map(r => r.value)};
  el = match;
}
const style = window.getComputedStyle(el);
const box = el.getBoundingClientRect();
const shown = style.visibility !== "hidden" && style.display !== "none" && (box.width > 0 || box.height > 0 || el.getClientRects().length > 0);
if (!shown && type !== "hidden") return {state: "hidden"};
if (el.disabled) return {state: "disabled"};
return {state: "ready", el: el, tag: tag, type: type, checked: !!el.checked};
"#;

/// A value for [`Browser::set`]: text for inputs, textareas and selects (by visible
/// text), the wanted value for a radio group, on/off for a checkbox.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    Flag(bool),
}

/// One browser session. Cheap to share behind a reference; not `Clone`.
pub struct Browser {
    client: Client,
    timeout: Duration,
    commands: Arc<AtomicU64>,
    _profile: Option<tempfile::TempDir>,
}

struct Ready {
    element: Element,
    tag: String,
    kind: String,
    checked: bool,
}

impl Browser {
    /// Opens a new session on `webdriver_url` with the settings' browser options.
    pub async fn open(webdriver_url: &str, settings: &Settings) -> Result<Browser, BrowserError> {
        let profile = tempfile::Builder::new()
            .prefix("juru-chromium-")
            .tempdir()
            .map_err(|e| BrowserError::Session {
                reason: format!("cannot create a browser profile folder: {e}"),
            })?;
        let mut args: Vec<String> = Vec::new();
        if settings.headless {
            args.push("--headless=new".into());
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
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
            "--disable-features=Translate,MediaRouter,OptimizationHints",
            "--password-store=basic",
        ] {
            args.push(flag.into());
        }
        let (w, h) = settings.window_size;
        args.push(format!("--window-size={w},{h}"));
        let remote = matches!(settings.driver, DriverKind::Remote { .. });
        if !remote {
            args.push(format!("--user-data-dir={}", profile.path().display()));
        }
        args.extend(settings.args.iter().cloned());

        let mut chrome = json!({ "args": args });
        if let DriverKind::Local { chromium, .. } = &settings.driver {
            if let Some(bin) = chromium.clone().or_else(default_chromium) {
                chrome["binary"] = json!(bin.display().to_string());
            }
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "pageLoadStrategy": "normal",
            "timeouts": {
                "pageLoad": settings.page_load_timeout.as_millis() as u64,
                "script": 30_000,
                "implicit": 0,
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!("capabilities are an object literal")
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        let connect = builder.connect(webdriver_url);
        let client = match tokio::time::timeout(settings.startup_timeout, connect).await {
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
        };
        Ok(Browser {
            client,
            timeout: settings.timeout,
            commands: Arc::new(AtomicU64::new(1)),
            _profile: Some(profile),
        })
    }

    /// How many WebDriver commands this session has sent.
    pub fn commands(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    fn count(&self, n: u64) {
        self.commands.fetch_add(n, Ordering::Relaxed);
    }

    /// Runs one script in the page (one round trip); `action` names it in errors.
    async fn js(
        &self,
        action: impl FnOnce() -> String,
        script: &str,
        args: Vec<Value>,
    ) -> Result<Value, BrowserError> {
        self.count(1);
        self.client
            .execute(script, args)
            .await
            .map_err(|e| command(action(), e))
    }

    /// The default wait for elements.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Ends the session (closing the browser). Never hangs on an open dialog: a
    /// dialog is dismissed first, and the whole close is bounded in time.
    pub async fn close(self) {
        let client = self.client;
        let _ = tokio::time::timeout(Duration::from_secs(10), async move {
            let _ = client.dismiss_alert().await;
            let _ = client.close().await;
        })
        .await;
    }

    // ---- navigation -------------------------------------------------------------

    /// Loads `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.count(1);
        self.client
            .goto(url)
            .await
            .map_err(|e| command(format!("opening {url}"), e))
    }

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

    // ---- waiting ----------------------------------------------------------------

    async fn probe(
        &self,
        selector: &str,
        want: Option<&str>,
    ) -> Result<Result<Ready, String>, BrowserError> {
        let found = self
            .js(
                || format!("looking for `{selector}`"),
                PROBE,
                vec![json!(selector), json!(want)],
            )
            .await?;
        let state = found["state"].as_str().unwrap_or("missing").to_string();
        match state.as_str() {
            "ready" => {
                let id = found["el"][ELEMENT_KEY]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                Ok(Ok(Ready {
                    element: Element::from_element_id(self.client.clone(), ElementRef::from(id)),
                    tag: found["tag"].as_str().unwrap_or_default().to_string(),
                    kind: found["type"].as_str().unwrap_or_default().to_string(),
                    checked: found["checked"].as_bool().unwrap_or(false),
                }))
            }
            "invalid" => Err(BrowserError::Io(format!(
                "`{selector}` is not a valid CSS selector: {}",
                found["message"].as_str().unwrap_or_default()
            ))),
            "nooption" => Err(BrowserError::NoOption {
                selector: selector.to_string(),
                option: want.unwrap_or_default().to_string(),
                available: quote_list(&found["options"]),
            }),
            _ => Ok(Err(state)),
        }
    }

    /// Waits until `selector` is present, visible and enabled.
    async fn ready(&self, selector: &str, want: Option<&str>) -> Result<Ready, BrowserError> {
        let start = Instant::now();
        loop {
            match self.probe(selector, want).await? {
                Ok(ready) => return Ok(ready),
                Err(state) if start.elapsed() >= self.timeout => {
                    return Err(if state == "missing" {
                        BrowserError::NotFound {
                            selector: selector.to_string(),
                            waited: self.timeout,
                        }
                    } else {
                        BrowserError::NotReady {
                            selector: selector.to_string(),
                            state,
                            waited: self.timeout,
                        }
                    })
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Waits until an element matches `selector` and is visible.
    pub async fn wait_for(&self, selector: &str) -> Result<(), BrowserError> {
        self.ready(selector, None).await.map(|_| ())
    }

    /// Waits until the page's visible text contains `text`.
    pub async fn wait_for_text(&self, text: &str) -> Result<(), BrowserError> {
        let start = Instant::now();
        loop {
            let found = self
                .js(
                    || format!("looking for the text \"{text}\""),
                    "return !!document.body && document.body.innerText.includes(arguments[0]);",
                    vec![json!(text)],
                )
                .await?;
            if found.as_bool() == Some(true) {
                return Ok(());
            }
            if start.elapsed() >= self.timeout {
                return Err(BrowserError::TextNotFound {
                    text: text.to_string(),
                    waited: self.timeout,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    // ---- actions ----------------------------------------------------------------

    /// Clicks the element once it is visible and enabled.
    pub async fn click(&self, selector: &str) -> Result<(), BrowserError> {
        let ready = self.ready(selector, None).await?;
        self.count(1);
        ready
            .element
            .click()
            .await
            .map_err(|e| command(format!("clicking `{selector}`"), e))
    }

    /// Clicks the link whose visible text is `text`.
    pub async fn click_link(&self, text: &str) -> Result<(), BrowserError> {
        let start = Instant::now();
        loop {
            self.count(1);
            match self.client.find(Locator::LinkText(text)).await {
                Ok(link) => {
                    self.count(1);
                    return link
                        .click()
                        .await
                        .map_err(|e| command(format!("clicking the link \"{text}\""), e));
                }
                Err(e) if e.is_no_such_element() => {
                    if start.elapsed() >= self.timeout {
                        return Err(BrowserError::NotFound {
                            selector: format!("link \"{text}\""),
                            waited: self.timeout,
                        });
                    }
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => return Err(command(format!("finding the link \"{text}\""), e)),
            }
        }
    }

    /// Sets a form field: types into text inputs and textareas (replacing what was
    /// there), chooses a `<select>` option by visible text (or by value), picks the
    /// radio button of the group with the given value, ticks or clears a checkbox.
    pub async fn set(&self, selector: &str, value: &FieldValue) -> Result<(), BrowserError> {
        let want = match value {
            FieldValue::Text(t) => Some(t.as_str()),
            FieldValue::Flag(_) => None,
        };
        let ready = self.ready(selector, want).await?;
        match (ready.tag.as_str(), ready.kind.as_str(), value) {
            ("select", _, FieldValue::Text(text)) => {
                self.choose(selector, &ready.element, text).await
            }
            ("input", "radio", FieldValue::Text(_))
            | ("input", "radio", FieldValue::Flag(true)) => {
                if ready.checked {
                    return Ok(());
                }
                self.count(1);
                ready
                    .element
                    .click()
                    .await
                    .map_err(|e| command(format!("choosing `{selector}`"), e))
            }
            ("input", "checkbox", value) => {
                let on = match value {
                    FieldValue::Flag(on) => *on,
                    FieldValue::Text(t) => truthy(t),
                };
                if ready.checked == on {
                    return Ok(());
                }
                self.count(1);
                ready
                    .element
                    .click()
                    .await
                    .map_err(|e| command(format!("ticking `{selector}`"), e))
            }
            (_, _, value) => {
                let text = match value {
                    FieldValue::Text(t) => t.clone(),
                    FieldValue::Flag(b) => b.to_string(),
                };
                self.count(2);
                ready
                    .element
                    .clear()
                    .await
                    .map_err(|e| command(format!("clearing `{selector}`"), e))?;
                ready
                    .element
                    .send_keys(&text)
                    .await
                    .map_err(|e| command(format!("typing into `{selector}`"), e))
            }
        }
    }

    async fn choose(
        &self,
        selector: &str,
        select: &Element,
        text: &str,
    ) -> Result<(), BrowserError> {
        // One script: find the option by visible text (then by value), select it and
        // fire the events a page listens to; report the options when none matches.
        let result = self
            .js(
                || format!("choosing \"{text}\" in `{selector}`"),
                r#"
const sel = arguments[0], want = arguments[1].trim();
const opts = Array.from(sel.options);
const norm = s => s.replace(/\s+/g, " ").trim();
const opt = opts.find(o => norm(o.text) === norm(want)) || opts.find(o => o.value === want)
  || opts.find(o => norm(o.text).toLowerCase() === norm(want).toLowerCase());
if (!opt) return {ok: false, options: opts.map(o => norm(o.text))};
if (!opt.selected) {
  sel.focus();
  opt.selected = true;
  sel.dispatchEvent(new Event("input", {bubbles: true}));
  sel.dispatchEvent(new Event("change", {bubbles: true}));
}
return {ok: true};
"#,
                vec![element_json(select), json!(text)],
            )
            .await?;
        if result["ok"].as_bool() == Some(true) {
            Ok(())
        } else {
            Err(BrowserError::NoOption {
                selector: selector.to_string(),
                option: text.to_string(),
                available: quote_list(&result["options"]),
            })
        }
    }

    // ---- reading ----------------------------------------------------------------

    /// The visible text of the element, once it is visible.
    pub async fn text(&self, selector: &str) -> Result<String, BrowserError> {
        let ready = self.ready(selector, None).await?;
        self.count(1);
        ready
            .element
            .text()
            .await
            .map(|t| t.trim().to_string())
            .map_err(|e| command(format!("reading `{selector}`"), e))
    }

    /// The visible text of the element if it is on the page now, else `""`. Does not wait.
    pub async fn text_if_present(&self, selector: &str) -> Result<String, BrowserError> {
        let text = self
            .js(
                || format!("reading `{selector}`"),
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
                vec![json!(selector)],
            )
            .await?;
        Ok(text.as_str().unwrap_or_default().trim().to_string())
    }

    /// Whether an element matches `selector` now. Does not wait.
    pub async fn exists(&self, selector: &str) -> Result<bool, BrowserError> {
        let found = self
            .js(
                || format!("looking for `{selector}`"),
                "return document.querySelector(arguments[0]) !== null;",
                vec![json!(selector)],
            )
            .await?;
        Ok(found.as_bool() == Some(true))
    }

    /// The current value of a form field.
    pub async fn value(&self, selector: &str) -> Result<String, BrowserError> {
        let ready = self.ready(selector, None).await?;
        self.count(1);
        ready
            .element
            .prop("value")
            .await
            .map(|v| v.unwrap_or_default())
            .map_err(|e| command(format!("reading the value of `{selector}`"), e))
    }

    // ---- dialogs ----------------------------------------------------------------

    async fn dialog(&self, within: Duration) -> Result<String, BrowserError> {
        let start = Instant::now();
        loop {
            self.count(1);
            match self.client.get_alert_text().await {
                Ok(text) => return Ok(text),
                Err(e) if e.is_no_such_alert() => {
                    if start.elapsed() >= within {
                        return Err(BrowserError::NoDialog { waited: within });
                    }
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => return Err(command("reading the dialog", e)),
            }
        }
    }

    /// Waits for an alert/confirm/prompt, accepts it (OK) and returns its text.
    pub async fn accept_dialog(&self) -> Result<String, BrowserError> {
        let text = self.dialog(self.timeout).await?;
        self.count(1);
        self.client
            .accept_alert()
            .await
            .map_err(|e| command("accepting the dialog", e))?;
        Ok(text)
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

    /// Saves a PNG of the whole page (as far as the window shows it) to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        self.count(1);
        let png = self
            .client
            .screenshot()
            .await
            .map_err(|e| command("taking a screenshot", e))?;
        write_file(path, &png)
    }

    /// Saves a PNG of one element to `path`.
    pub async fn screenshot_element(
        &self,
        selector: &str,
        path: &Path,
    ) -> Result<(), BrowserError> {
        let ready = self.ready(selector, None).await?;
        self.count(1);
        let png = ready
            .element
            .screenshot()
            .await
            .map_err(|e| command(format!("taking a screenshot of `{selector}`"), e))?;
        write_file(path, &png)
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BrowserError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| BrowserError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, bytes)
        .map_err(|e| BrowserError::Io(format!("cannot write {}: {e}", path.display())))
}

fn element_json(element: &Element) -> Value {
    json!({ ELEMENT_KEY: element.element_id().to_string() })
}

fn quote_list(values: &Value) -> String {
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

fn truthy(text: &str) -> bool {
    matches!(
        text.trim().to_lowercase().as_str(),
        "1" | "true" | "ya" | "y" | "yes" | "x" | "on" | "v"
    )
}

fn command(action: impl Into<String>, source: CmdError) -> BrowserError {
    BrowserError::Command {
        action: action.into(),
        source,
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
