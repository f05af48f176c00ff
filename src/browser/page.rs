//! The page as a whole: going back and forward, reloading, waiting for a title or an
//! address, its source, the open windows, and the script escape hatch (`execute`).
//!
//! Every navigation here ends with the same checks as `goto` and a click: the page
//! must be a web page of the allowed hosts ([`super::address::check_page`]), and a
//! server error page is a system failure. Scripts run behind the in-page guard.

use serde_json::{json, Value};

use super::address;
use super::js;
use super::session::{command, WAIT_SLICE};
use super::{Browser, BrowserError};

/// One open window (tab): its title and address, and whether the session is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowInfo {
    pub title: String,
    pub url: String,
    pub current: bool,
}

impl Browser {
    /// Goes one page back in the window's history (the browser's Back button).
    pub async fn back(&self) -> Result<(), BrowserError> {
        self.leave_now().await?;
        self.act(1)?;
        self.client
            .back()
            .await
            .map_err(|e| command("going back", e))?;
        self.after_history().await
    }

    /// Goes one page forward in the window's history.
    pub async fn forward(&self) -> Result<(), BrowserError> {
        self.leave_now().await?;
        self.act(1)?;
        self.client
            .forward()
            .await
            .map_err(|e| command("going forward", e))?;
        self.after_history().await
    }

    /// Loads the current page again (the browser's Reload button).
    pub async fn refresh(&self) -> Result<(), BrowserError> {
        self.leave_now().await?;
        self.act(1)?;
        self.client
            .refresh()
            .await
            .map_err(|e| command("reloading the page", e))?;
        self.after_history().await
    }

    /// After back, forward or reload: the page must be a web page of the allowed
    /// hosts (history can hold a page a click reached and juru then refused), and
    /// not a server error page. A dialog the page opened is left for the script.
    async fn after_history(&self) -> Result<(), BrowserError> {
        if let Ok(mut f) = self.frames.lock() {
            f.clear();
        }
        self.count(1);
        match self.client.current_url().await {
            Ok(url) => address::check_page(url.as_str(), &self.allowed_hosts)?,
            Err(e) if e.is_unexpected_alert_open() => return Ok(()),
            Err(e) => return Err(command("reading the page URL", e)),
        }
        self.check_opened_page().await
    }

    /// Waits until the page title contains `wanted` (or matches it, written
    /// `/pattern/flags` as a JavaScript regular expression); returns the title.
    pub async fn wait_for_title(&self, wanted: &str) -> Result<String, BrowserError> {
        self.wait_page("title", wanted).await
    }

    /// Waits until the page address contains `wanted` (or matches `/pattern/`);
    /// returns the address.
    pub async fn wait_for_url(&self, wanted: &str) -> Result<String, BrowserError> {
        self.wait_page("url", wanted).await
    }

    async fn wait_page(&self, what: &'static str, wanted: &str) -> Result<String, BrowserError> {
        let start = std::time::Instant::now();
        let mut last = String::new();
        loop {
            let left = self.timeout.saturating_sub(start.elapsed());
            let budget = left.min(WAIT_SLICE).as_millis() as u64;
            let answer = self
                .js_async(
                    || format!("waiting for the page {what}"),
                    &js::PAGE_WAIT,
                    vec![json!(what), json!(wanted), json!(budget)],
                )
                .await?;
            if let Some(a) = &answer {
                if let Some(message) = a["invalid"].as_str() {
                    return Err(BrowserError::Io(format!(
                        "\"{wanted}\" is not a valid pattern: {message}"
                    )));
                }
                if let Some(title) = a["errorpage"].as_str() {
                    return Err(BrowserError::ErrorPage {
                        url: a["url"].as_str().unwrap_or_default().to_string(),
                        title: title.to_string(),
                    });
                }
                last = a["value"].as_str().unwrap_or_default().to_string();
                if a["found"].as_bool() == Some(true) {
                    return Ok(last);
                }
            }
            if start.elapsed() >= self.timeout {
                let pattern = wanted.len() > 1 && wanted.starts_with('/');
                return Err(BrowserError::PageNotReached {
                    what: if what == "url" { "address" } else { "title" },
                    how: if pattern { "match" } else { "contain" },
                    wanted: wanted.to_string(),
                    found: last,
                    waited: self.timeout,
                });
            }
            if budget == 0 || answer.is_none() {
                tokio::time::sleep(super::session::POLL).await;
            }
        }
    }

    /// The HTML of the page (or of the frame the session is in) as it is now, after
    /// its scripts ran.
    pub async fn source(&self) -> Result<String, BrowserError> {
        let html = self
            .js(
                || "reading the page source".into(),
                "const d = document.doctype; return (d ? new XMLSerializer().serializeToString(d) + '\\n' : '') + document.documentElement.outerHTML;",
                vec![],
            )
            .await?;
        Ok(html.as_str().unwrap_or_default().to_string())
    }

    /// Runs `script` (the body of a JavaScript function; `arguments[0]`, … are
    /// `args`) in the page and returns what it returns, as JSON. Runs behind the same
    /// guard as juru's own scripts (web pages of the allowed hosts only), and a
    /// script that navigates is checked like a click.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, BrowserError> {
        let wrapped = format!("return (function () {{\n{script}\n}}).apply(null, arguments);");
        let value = self
            .js(
                || "running the script given to browser.execute".into(),
                &wrapped,
                args,
            )
            .await?;
        self.check_location().await?;
        Ok(value)
    }

    /// The open windows (tabs) of the session, in the browser's order. Other windows
    /// are looked at by switching to them and back.
    pub async fn windows(&self) -> Result<Vec<WindowInfo>, BrowserError> {
        self.count(2);
        let current = self
            .client
            .window()
            .await
            .map_err(|e| command("reading the current window", e))?;
        let handles = self
            .client
            .windows()
            .await
            .map_err(|e| command("listing the windows", e))?;
        // The current window first (no switch needed), then the others.
        let mine = WindowInfo {
            title: self.title().await.unwrap_or_default(),
            url: self.url().await.unwrap_or_default(),
            current: true,
        };
        let mut out = Vec::new();
        let mut moved = false;
        for handle in handles {
            if handle == current {
                out.push(mine.clone());
                continue;
            }
            self.count(1);
            if self.client.switch_to_window(handle.clone()).await.is_err() {
                continue;
            }
            moved = true;
            out.push(WindowInfo {
                title: self.title().await.unwrap_or_default(),
                url: self.url().await.unwrap_or_default(),
                current: false,
            });
        }
        if moved {
            self.count(1);
            self.client
                .switch_to_window(current)
                .await
                .map_err(|e| command("returning to the current window", e))?;
            self.leave_pending
                .store(false, std::sync::atomic::Ordering::Relaxed);
            // Back in the frames the session was in.
            let frames = self.frames.lock().map(|f| f.clone()).unwrap_or_default();
            for name in &frames {
                self.enter_one(name).await?;
            }
        }
        Ok(out)
    }
}
