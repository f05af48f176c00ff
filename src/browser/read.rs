//! Reading the page and waiting for it: text, values, tables (with pagination), and
//! conditions such as "this text appeared" or "the spinner is gone".

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Value};

use super::js;
use super::session::{Backoff, Found, POLL};
use super::{Browser, BrowserError};

/// A table read from the page: header texts and one map per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableData {
    pub headers: Vec<String>,
    pub rows: Vec<BTreeMap<String, String>>,
}

impl Browser {
    /// The text a person sees in the element (WebDriver's Get Element Text, see
    /// [`js::VISIBLE`]), once it is shown; for a `<select>`, the label of the chosen
    /// option (one line per option of a multiple select). One round trip.
    pub async fn text(&self, selector: &str) -> Result<String, BrowserError> {
        let found = self.until_ready(selector, "text", Value::Null).await?;
        Ok(found["text"].as_str().unwrap_or_default().to_string())
    }

    /// The current value of a form field, also of a disabled, read-only or hidden
    /// one: waits only until the element is on the page.
    pub async fn value(&self, selector: &str) -> Result<String, BrowserError> {
        let found = self.until_ready(selector, "value", Value::Null).await?;
        Ok(found["value"].as_str().unwrap_or_default().to_string())
    }

    /// The value of the attribute `name` of the element (waiting until it is on the
    /// page, shown or not); `None` when the element has no such attribute.
    pub async fn attribute(
        &self,
        selector: &str,
        name: &str,
    ) -> Result<Option<String>, BrowserError> {
        let found = self.until_ready(selector, "attribute", json!(name)).await?;
        Ok(found["value"].as_str().map(str::to_string))
    }

    /// The text a person sees in the element if it is on the page now, else `""`
    /// (also `""` when it is hidden). Does not wait.
    pub async fn text_if_present(&self, selector: &str) -> Result<String, BrowserError> {
        match self.element_op(selector, "peek", Value::Null).await? {
            Found::Ready(v) => Ok(v["text"].as_str().unwrap_or_default().to_string()),
            Found::NotYet(_) => Ok(String::new()),
        }
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

    /// Waits until an element matches `selector` and is visible.
    pub async fn wait_for(&self, selector: &str) -> Result<(), BrowserError> {
        self.until_ready(selector, "visible", Value::Null)
            .await
            .map(|_| ())
    }

    /// Waits until a form field has a non-empty value (filled late by the page) and
    /// returns it.
    pub async fn wait_for_value(&self, selector: &str) -> Result<String, BrowserError> {
        let mut wait = Backoff::new(format!("a value in `{selector}`"));
        loop {
            if let Found::Ready(v) = self.element_op(selector, "value", Value::Null).await? {
                let value = v["value"].as_str().unwrap_or_default();
                if !value.trim().is_empty() {
                    return Ok(value.to_string());
                }
            }
            if wait.elapsed() >= self.timeout {
                return Err(BrowserError::NotReady {
                    selector: selector.to_string(),
                    state: "empty".into(),
                    waited: self.timeout,
                });
            }
            wait.pause().await;
        }
    }

    /// Waits until no shown element matches `selector` (a spinner, an overlay):
    /// missing, hidden, or an `<input type=hidden>`. Waits inside the page.
    pub async fn wait_gone(&self, selector: &str) -> Result<(), BrowserError> {
        self.until_ready(selector, "gone", Value::Null)
            .await
            .map(|_| ())
    }

    /// Waits until the page's visible text contains `text` (waiting inside the page).
    pub async fn wait_for_text(&self, text: &str) -> Result<(), BrowserError> {
        let start = Instant::now();
        loop {
            let left = self.timeout.saturating_sub(start.elapsed());
            let budget = left.min(super::session::WAIT_SLICE).as_millis() as u64;
            let found = self
                .js_async(
                    || format!("looking for the text \"{text}\""),
                    &js::TEXT_WAIT,
                    vec![json!(text), json!(budget)],
                )
                .await?;
            if let Some(title) = found.as_ref().and_then(|f| f["errorpage"].as_str()) {
                return Err(BrowserError::ErrorPage {
                    url: found
                        .as_ref()
                        .and_then(|f| f["url"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                    title: title.to_string(),
                });
            }
            if found.and_then(|f| f.as_bool()) == Some(true) {
                return Ok(());
            }
            if start.elapsed() >= self.timeout {
                return Err(BrowserError::TextNotFound {
                    text: text.to_string(),
                    waited: self.timeout,
                });
            }
            if budget == 0 {
                tokio::time::sleep(POLL).await;
            }
        }
    }

    /// Reads a table into rows keyed by header text, in one round trip.
    pub async fn table(&self, selector: &str) -> Result<TableData, BrowserError> {
        self.table_after(selector, "").await
    }

    async fn table_after(
        &self,
        selector: &str,
        stale_mark: &str,
    ) -> Result<TableData, BrowserError> {
        let mut wait = Backoff::new(format!("the table `{selector}`"));
        loop {
            let found = self
                .js(
                    || format!("reading the table `{selector}`"),
                    js::TABLE,
                    vec![json!(selector), json!(stale_mark)],
                )
                .await?;
            match found["state"].as_str().unwrap_or("missing") {
                "ready" => return Ok(table_data(&found)),
                "invalid" => {
                    return Err(BrowserError::Io(format!(
                        "`{selector}` is not a valid CSS selector: {}",
                        found["message"].as_str().unwrap_or_default()
                    )))
                }
                state if wait.elapsed() >= self.timeout => {
                    return Err(if state == "stale" {
                        BrowserError::NotReady {
                            selector: selector.to_string(),
                            state: "the same table as before (the next page never came)".into(),
                            waited: self.timeout,
                        }
                    } else {
                        self.not_ready(selector, state)
                    })
                }
                _ => wait.pause().await,
            }
        }
    }

    /// Reads a table over several pages: reads it, clicks `next` (a selector for the
    /// "next page" link) while there is one, up to `max_pages` pages. Returns the rows
    /// of all pages and how many pages were read.
    pub async fn table_pages(
        &self,
        selector: &str,
        next: &str,
        max_pages: usize,
    ) -> Result<(TableData, usize), BrowserError> {
        let mut all = self.table(selector).await?;
        let mut pages = 1;
        while pages < max_pages.max(1) {
            if !self.exists(next).await? {
                break;
            }
            let mark = format!("page-{pages}");
            self.js(
                || format!("marking the table `{selector}`"),
                js::MARK_TABLE,
                vec![json!(selector), json!(mark)],
            )
            .await?;
            self.click(next).await?;
            let page = self.table_after(selector, &mark).await?;
            if all.headers.is_empty() {
                all.headers = page.headers.clone();
            }
            all.rows.extend(page.rows);
            pages += 1;
        }
        Ok((all, pages))
    }
}

fn table_data(found: &Value) -> TableData {
    let headers: Vec<String> = found["headers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let rows = found["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    headers
                        .iter()
                        .map(|h| (h.clone(), r[h].as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    TableData { headers, rows }
}
