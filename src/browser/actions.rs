//! Actions on the page: clicks, form fields, dates, uploads and downloads. Each
//! waits for its element (present, visible, enabled) by itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};

use super::grid;
use super::js;
use super::session::{command, Backoff, Found, Raw, POLL};
use super::{Browser, BrowserError, FieldValue};

impl Browser {
    /// Clicks the element once it is visible and enabled (a real mouse click). If
    /// the page replaces the element between finding and clicking, finds it again.
    /// With `allowed_hosts`, the page must still be of one of them afterwards.
    pub async fn click(&self, selector: &str) -> Result<(), BrowserError> {
        for attempt in 0..3 {
            let ready = self.ready(selector).await?;
            self.act(1)?;
            match ready.element.click().await {
                Ok(()) => return self.check_location().await,
                Err(e) if attempt < 2 && e.is_stale_element_reference() => {
                    tracing::debug!("`{selector}` was replaced before the click; finding it again");
                }
                Err(e) if attempt < 2 && e.is_unexpected_alert_open() => {
                    self.settle().await;
                }
                Err(e) if attempt < 2 && e.to_string().contains("not clickable") => {
                    // Covered for a moment (a spinner, an overlay): wait and try again.
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => return Err(command(format!("clicking `{selector}`"), e)),
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Clicks the link whose visible text is `text` (in a web page only: the link is
    /// found by a page script, so the guard of [`super::address`] applies).
    pub async fn click_link(&self, text: &str) -> Result<(), BrowserError> {
        let mut wait = Backoff::new(format!("the link \"{text}\""));
        self.leave_now().await?;
        loop {
            self.act(1)?;
            match self.client.find(Locator::LinkText(text)).await {
                Ok(link) => {
                    self.act(1)?;
                    match link.click().await {
                        Ok(()) => return self.check_location().await,
                        Err(e) if e.is_stale_element_reference() => continue,
                        Err(e) => return Err(command(format!("clicking the link \"{text}\""), e)),
                    }
                }
                Err(e) if e.is_no_such_element() => {
                    if wait.elapsed() >= self.timeout {
                        return Err(BrowserError::NotFound {
                            selector: format!("link \"{text}\""),
                            waited: self.timeout,
                            hint: self.hint("links").await,
                        });
                    }
                    wait.pause().await;
                }
                Err(e) if e.is_unexpected_alert_open() => {
                    self.settle().await;
                }
                Err(e) => return Err(command(format!("finding the link \"{text}\""), e)),
            }
        }
    }

    /// Sets a form field as a person would, in one round trip: replaces the text of
    /// inputs and textareas, chooses a `<select>` option by visible text (or value),
    /// picks the radio button of the group with the given value, ticks or clears a
    /// checkbox; and fires the input/change/blur events the page listens to.
    pub async fn set(&self, selector: &str, value: &FieldValue) -> Result<(), BrowserError> {
        self.until_ready(selector, "set", value.json())
            .await
            .map(|_| ())
    }

    /// [`Browser::set`] for several fields, in one round trip when the form is ready.
    /// Fields the page fills or enables late (after another field changed) are set
    /// as soon as they are ready, whatever their order.
    pub async fn fill_form(&self, fields: &[(String, FieldValue)]) -> Result<(), BrowserError> {
        let pairs = Value::Array(fields.iter().map(|(s, v)| json!([s, v.json()])).collect());
        let mut todo: Vec<usize> = (0..fields.len()).collect();
        let mut progress_at = Instant::now();
        let mut wait = Backoff::new("the fields of a form");
        while !todo.is_empty() {
            let answer = self
                .js(
                    || "filling the form".into(),
                    &js::FILL_FORM_FULL,
                    vec![pairs.clone(), json!(todo)],
                )
                .await?;
            match answer["state"].as_str() {
                Some("ready") => return Ok(()),
                Some("pending") => {
                    let pending: Vec<usize> = answer["pending"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|i| i.as_u64().map(|i| i as usize))
                                .collect()
                        })
                        .unwrap_or_default();
                    if pending.len() < todo.len() {
                        progress_at = Instant::now();
                        wait.reset();
                    } else if progress_at.elapsed() >= self.timeout {
                        let first = pending.first().copied().unwrap_or(0);
                        let state = answer["states"][0].as_str().unwrap_or("missing");
                        let state = if state == "empty" {
                            "without options"
                        } else {
                            state
                        };
                        return Err(self.not_ready(&fields[first.min(fields.len() - 1)].0, state));
                    }
                    todo = pending;
                    wait.pause().await;
                }
                _ => {
                    let index = answer["index"].as_u64().unwrap_or(0) as usize;
                    let (selector, value) = &fields[index.min(fields.len() - 1)];
                    self.found(selector, &value.json(), answer)?;
                    return Err(BrowserError::Io(format!("`{selector}` could not be set")));
                }
            }
        }
        Ok(())
    }

    /// Types `text` with real key events (clearing the field first), for pages that
    /// react to key presses.
    pub async fn type_text(&self, selector: &str, text: &str) -> Result<(), BrowserError> {
        self.send_text(selector, text, true).await
    }

    /// Types `text` with real key events after what the field holds.
    pub async fn append_text(&self, selector: &str, text: &str) -> Result<(), BrowserError> {
        self.send_text(selector, text, false).await
    }

    async fn send_text(&self, selector: &str, text: &str, clear: bool) -> Result<(), BrowserError> {
        let ready = self.ready(selector).await?;
        if clear {
            self.act(1)?;
            ready
                .element
                .clear()
                .await
                .map_err(|e| command(format!("clearing `{selector}`"), e))?;
        }
        self.act(1)?;
        ready
            .element
            .send_keys(text)
            .await
            .map_err(|e| command(format!("typing into `{selector}`"), e))
    }

    /// Presses keys on the element (once it is shown and enabled) with real key
    /// events: `keys` names one key or several separated by spaces, each with
    /// modifiers joined by `+` ("Tab", "Enter", "Shift+Tab", "Control+a", "ArrowDown
    /// ArrowDown Enter"). See [`key_sequence`] for the names.
    pub async fn press(&self, selector: &str, keys: &str) -> Result<(), BrowserError> {
        let sequence = key_sequence(keys)?;
        let ready = self.ready(selector).await?;
        self.act(1)?;
        ready
            .element
            .send_keys(&sequence)
            .await
            .map_err(|e| command(format!("pressing {keys} on `{selector}`"), e))?;
        self.check_location().await
    }

    /// Presses keys on the element that has the focus (the page's body when none
    /// has), as [`Browser::press`].
    pub async fn keys(&self, keys: &str) -> Result<(), BrowserError> {
        let sequence = key_sequence(keys)?;
        let found = self
            .js(
                || "finding the focused element".into(),
                "return document.activeElement || document.body;",
                vec![],
            )
            .await?;
        let Some(id) = found[super::session::ELEMENT_KEY].as_str() else {
            return Err(BrowserError::Io(
                "the page has no element to press keys on".into(),
            ));
        };
        let element = fantoccini::elements::Element::from_element_id(
            self.client.clone(),
            fantoccini::elements::ElementRef::from(id.to_string()),
        );
        self.act(1)?;
        element
            .send_keys(&sequence)
            .await
            .map_err(|e| command(format!("pressing {keys}"), e))?;
        self.check_location().await
    }

    /// Chooses the option at `index` (from 0) of a `<select>`; in a multiple select
    /// it is added to the chosen ones. Fires input and change.
    pub async fn select_index(&self, selector: &str, index: usize) -> Result<(), BrowserError> {
        self.until_ready(selector, "select_index", json!(index))
            .await
            .map(|_| ())
    }

    /// Clears the option with the label (or value) `option` of a multiple select,
    /// or every option when `None`. Fires input and change.
    pub async fn deselect(&self, selector: &str, option: Option<&str>) -> Result<(), BrowserError> {
        self.until_ready(selector, "deselect", json!(option))
            .await
            .map(|_| ())
    }

    /// Sets a date on a date field, also a read-only or hidden one (the usual
    /// calendar widget keeps its real value in a hidden input). `date` is
    /// `dd/mm/yyyy` or `yyyy-mm-dd`; the field gets `dd/mm/yyyy`, or `yyyy-mm-dd` for
    /// `<input type=date>`, with the input and change events.
    pub async fn set_date(&self, selector: &str, date: &str) -> Result<(), BrowserError> {
        let mut wait = Backoff::new(format!("`{selector}`"));
        loop {
            match self.element_op(selector, "date", json!(date)).await? {
                Found::Ready(_) => return Ok(()),
                Found::NotYet(state) if wait.elapsed() >= self.timeout => {
                    return Err(self.not_ready(selector, &state))
                }
                Found::NotYet(_) => wait.pause().await,
            }
        }
    }

    /// Puts the files at `paths` (already checked by the caller) into a file field,
    /// in one step (several only for a field with the `multiple` attribute).
    pub async fn upload(&self, selector: &str, paths: &[PathBuf]) -> Result<(), BrowserError> {
        let ready = self.ready(selector).await?;
        if ready.kind != "file" {
            return Err(BrowserError::Io(format!(
                "`{selector}` is a {} field, not a file field (<input type=file>)",
                if ready.kind.is_empty() {
                    ready.tag.as_str()
                } else {
                    ready.kind.as_str()
                }
            )));
        }
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        self.act(1)?;
        ready
            .element
            .send_keys(&names.join("\n"))
            .await
            .map_err(|e| {
                let what = if names.len() == 1 {
                    names[0].clone()
                } else {
                    format!("{} files", names.len())
                };
                let text = e.to_string();
                if names.len() > 1 && text.contains("multiple") {
                    BrowserError::Io(format!(
                        "`{selector}` takes one file (it has no `multiple` attribute); {} were given",
                        names.len()
                    ))
                } else {
                    command(format!("uploading {what} into `{selector}`"), e)
                }
            })
    }

    /// Clicks `selector` and waits until the file it downloads has arrived whole;
    /// returns its path.
    pub async fn download(&self, selector: &str) -> Result<PathBuf, BrowserError> {
        let Some(dir) = self.downloads.clone() else {
            return Err(BrowserError::Io(
                "downloads are not enabled for this browser session".into(),
            ));
        };
        if let Some(grid) = &self.grid {
            if !self.grid_downloads {
                return Err(BrowserError::Io(format!(
                    "the grid at {grid} does not keep the files its browsers download, so `{selector}` cannot be downloaded: start its nodes with --enable-managed-downloads true"
                )));
            }
            return self.download_from_grid(selector, &dir).await;
        }
        let before = complete_files(&dir);
        self.click(selector).await?;
        let limit = self.page_load_timeout.max(self.timeout);
        let start = Instant::now();
        let mut last: Option<(PathBuf, u64)> = None;
        loop {
            let new: Vec<PathBuf> = complete_files(&dir).difference(&before).cloned().collect();
            if let Some(file) = new.first() {
                let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
                // Done when no partial file is left and the size held still for a poll.
                if !has_partial(&dir) && last.as_ref() == Some(&(file.clone(), size)) {
                    settle_downloads(&dir);
                    return Ok(file.clone());
                }
                last = Some((file.clone(), size));
            }
            if start.elapsed() >= limit {
                return Err(BrowserError::Download {
                    selector: selector.to_string(),
                    waited: limit,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Browser {
    /// The files the remote browser downloaded in this session (Grid managed
    /// downloads: `GET /session/{id}/se/files`).
    async fn grid_files(&self) -> Result<Vec<String>, BrowserError> {
        self.act(1)?;
        self.client
            .issue_cmd(Raw {
                path: "se/files",
                body: Value::Null,
            })
            .await
            .map(|v| grid::file_names(&v))
            .map_err(|e| command("listing the files the browser downloaded on the grid", e))
    }

    /// [`Browser::download`] on a Selenium Grid: the file stays on the node, so juru
    /// waits until the Grid lists it whole, then fetches it into `dir`.
    async fn download_from_grid(
        &self,
        selector: &str,
        dir: &Path,
    ) -> Result<PathBuf, BrowserError> {
        let before: BTreeSet<String> = self.grid_files().await?.into_iter().collect();
        self.click(selector).await?;
        let limit = self.page_load_timeout.max(self.timeout);
        let start = Instant::now();
        let mut last: Option<Vec<String>> = None;
        loop {
            let names = self.grid_files().await?;
            let new: Vec<String> = names
                .iter()
                .filter(|n| !before.contains(*n))
                .cloned()
                .collect();
            let whole: Vec<&String> = new.iter().filter(|n| !grid::is_partial(n)).collect();
            // Done when a new file is whole, nothing is partial, and the list held
            // still for a poll.
            if let Some(name) = whole.first() {
                if whole.len() == new.len() && last.as_ref() == Some(&names) {
                    self.act(1)?;
                    let answer = self
                        .client
                        .issue_cmd(Raw {
                            path: "se/files",
                            body: json!({ "name": name }),
                        })
                        .await
                        .map_err(|e| {
                            command(
                                format!("fetching the downloaded file \"{name}\" from the grid"),
                                e,
                            )
                        })?;
                    let path = grid::unpack(&answer, name, dir)?;
                    settle_downloads(dir);
                    return Ok(path);
                }
            }
            last = Some(names);
            if start.elapsed() >= limit {
                return Err(BrowserError::Download {
                    selector: selector.to_string(),
                    waited: limit,
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Gives the complete files in the download folder `dir` the permissions of the run
/// folder around it, for reading only, and never write access for group or others
/// (a run folder of mode 0750 makes them 0640; 0755 makes 0644). Chromium creates
/// them as its umask allows, up to 0666.
pub(super) fn settle_downloads(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let folder = dir.parent().unwrap_or(dir);
    let Ok(meta) = std::fs::metadata(folder) else {
        return;
    };
    let mode = (meta.permissions().mode() & 0o644) | 0o600;
    for file in complete_files(dir) {
        let Ok(meta) = std::fs::symlink_metadata(&file) else {
            continue;
        };
        if !meta.is_file() || meta.permissions().mode() & 0o7777 == mode {
            continue;
        }
        if let Err(e) = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)) {
            tracing::warn!(
                "cannot set the permissions of the downloaded file {}: {e}",
                file.display()
            );
        }
    }
}

/// Finished files in the download folder (Chromium writes `*.crdownload` until done).
fn complete_files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file() && !is_partial(p))
                .collect()
        })
        .unwrap_or_default()
}

fn is_partial(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.ends_with(".crdownload")
        || name.ends_with(".tmp")
        || name.starts_with(".com.google.Chrome")
}

fn has_partial(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| is_partial(&e.path()))
        })
        .unwrap_or(false)
}

/// The WebDriver key string for `keys`: key names separated by spaces, each with
/// modifiers joined by `+`. Names: Tab, Enter, Return, Escape (Esc), Backspace,
/// Delete, Insert, Space, ArrowUp/Down/Left/Right (Up, Down, Left, Right), Home, End,
/// PageUp, PageDown, F1–F12, and the modifiers Shift, Control (Ctrl), Alt, Meta; any
/// single character stands for itself.
pub(super) fn key_sequence(keys: &str) -> Result<String, BrowserError> {
    let mut out = String::new();
    let mut any = false;
    for chord in keys.split_whitespace() {
        let parts: Vec<&str> = if chord == "+" {
            vec!["+"]
        } else {
            chord.split('+').collect()
        };
        let mut modifiers = false;
        for (i, part) in parts.iter().enumerate() {
            let code = key_code(part).ok_or_else(|| {
                BrowserError::Io(format!(
                    "\"{part}\" is not a key name; expected Tab, Enter, Escape, Backspace, Delete, Space, ArrowUp, ArrowDown, ArrowLeft, ArrowRight, Home, End, PageUp, PageDown, F1–F12, Shift, Control, Alt, Meta or one character, joined by + for a combination (\"Shift+Tab\")"
                ))
            })?;
            if i + 1 < parts.len() {
                if !matches!(code, '\u{E008}' | '\u{E009}' | '\u{E00A}' | '\u{E03D}') {
                    return Err(BrowserError::Io(format!(
                        "in \"{chord}\", only the last key may be other than Shift, Control, Alt or Meta"
                    )));
                }
                modifiers = true;
            }
            out.push(code);
        }
        if modifiers {
            // Releases the modifiers.
            out.push('\u{E000}');
        }
        any = true;
    }
    if !any {
        return Err(BrowserError::Io("no key was named".into()));
    }
    Ok(out)
}

fn key_code(name: &str) -> Option<char> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(c);
    }
    let code = match name.to_ascii_lowercase().as_str() {
        "tab" => '\u{E004}',
        "enter" | "return" => '\u{E007}',
        "escape" | "esc" => '\u{E00C}',
        "backspace" => '\u{E003}',
        "delete" | "del" => '\u{E017}',
        "insert" => '\u{E016}',
        "space" => '\u{E00D}',
        "arrowup" | "up" => '\u{E013}',
        "arrowdown" | "down" => '\u{E015}',
        "arrowleft" | "left" => '\u{E012}',
        "arrowright" | "right" => '\u{E014}',
        "home" => '\u{E011}',
        "end" => '\u{E010}',
        "pageup" => '\u{E00E}',
        "pagedown" => '\u{E00F}',
        "shift" => '\u{E008}',
        "control" | "ctrl" => '\u{E009}',
        "alt" => '\u{E00A}',
        "meta" => '\u{E03D}',
        f if f.len() <= 3 && f.starts_with('f') => {
            let n: u32 = f[1..].parse().ok().filter(|n| (1..=12).contains(n))?;
            char::from_u32(0xE031 + n - 1)?
        }
        _ => return None,
    };
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::key_sequence;

    #[test]
    fn key_names_become_webdriver_keys() {
        assert_eq!(key_sequence("Tab").unwrap(), "\u{E004}");
        assert_eq!(
            key_sequence("Shift+Tab").unwrap(),
            "\u{E008}\u{E004}\u{E000}"
        );
        assert_eq!(
            key_sequence("ArrowDown down Enter").unwrap(),
            "\u{E015}\u{E015}\u{E007}"
        );
        assert_eq!(key_sequence("Control+a").unwrap(), "\u{E009}a\u{E000}");
        assert_eq!(key_sequence("F5").unwrap(), "\u{E035}");
        assert_eq!(key_sequence("x").unwrap(), "x");
        assert!(key_sequence("Tabb").is_err());
        assert!(key_sequence("a+Tab").is_err());
        assert!(key_sequence("  ").is_err());
        assert!(key_sequence("F13").is_err());
    }
}
