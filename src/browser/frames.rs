//! Frames and windows. A frame path names frames from the top by their `name` (or
//! id), separated by `>`: `"main > detail"`. Scopes nest: leaving a frame scope
//! goes back to the top and into the frames of the scope around it.

use std::sync::atomic::Ordering;

use fantoccini::elements::Element;
use fantoccini::wd::WindowHandle;
use serde_json::json;

use super::session::{command, Backoff};
use super::{Browser, BrowserError};

/// Where a window scope came from, to go back there.
pub struct WindowScope {
    origin: WindowHandle,
    frames: Vec<String>,
}

/// Finds the frame `arguments[0]` in the current document: by `name`, then `id`,
/// then (digits) by index among its `frame`/`iframe` elements, then as a CSS
/// selector. Answers `{el, src}` or `null`.
const FIND_FRAME: &str = r#"
const part = arguments[0];
const frames = Array.from(document.querySelectorAll("frame, iframe"));
let f = frames.find(x => x.getAttribute("name") === part) || frames.find(x => x.id === part);
if (!f && /^\d+$/.test(part)) f = frames[Number(part)];
if (!f) { try { const e = document.querySelector(part); if (e && /^i?frame$/i.test(e.tagName)) f = e; } catch (e) {} }
return f ? {el: f, src: f.getAttribute("src") ? String(f.src) : ""} : null;
"#;

fn parse_path(path: &str) -> Vec<String> {
    path.split('>')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Browser {
    /// Enters the frames of `path` (relative to the current frame scope) and returns
    /// how many were entered.
    pub async fn enter_frames(&self, path: &str) -> Result<usize, BrowserError> {
        let names = parse_path(path);
        if names.is_empty() {
            return Err(BrowserError::Io(format!(
                "\"{path}\" is not a frame path; expected frame names separated by '>', e.g. \"main > detail\""
            )));
        }
        for name in &names {
            self.enter_one(name).await?;
            if let Ok(mut f) = self.frames.lock() {
                f.push(name.clone());
            }
        }
        Ok(names.len())
    }

    pub(super) async fn enter_one(&self, name: &str) -> Result<(), BrowserError> {
        let mut wait = Backoff::new(format!("the frame \"{name}\""));
        loop {
            // (`js` first goes to the top if the last scope left that pending.)
            let found = self
                .js(
                    || format!("looking for the frame \"{name}\""),
                    FIND_FRAME,
                    vec![json!(name)],
                )
                .await?;
            let id = found["el"]["element-6066-11e4-a52e-4f735466cecf"].as_str();
            if let Some(id) = id {
                // A frame that shows no web page is not entered (a `file:` frame
                // the browser refused can even hang the switch into it).
                let src = found["src"].as_str().unwrap_or_default();
                if !src.is_empty() {
                    super::address::check_frame(src)?;
                }
                let frame = Element::from_element_id(self.client.clone(), id.to_string().into());
                self.count(1);
                return frame
                    .enter_frame()
                    .await
                    .map_err(|e| command(format!("entering the frame \"{name}\""), e));
            }
            if wait.elapsed() >= self.timeout {
                return Err(BrowserError::NotFound {
                    selector: format!("frame \"{name}\""),
                    waited: self.timeout,
                    hint: self.hint("frames").await,
                });
            }
            wait.pause().await;
        }
    }

    /// Leaves the last `count` frames entered: up to the parent frame(s), or, when
    /// that fails, back to the top and into the frames of the outer scope again.
    /// Leaving to the top sends nothing yet: the next command that needs the top
    /// goes there first, and a navigation needs nothing (see `leave_pending`).
    pub async fn leave_frames(&self, count: usize) -> Result<(), BrowserError> {
        let (depth, outer): (usize, Vec<String>) = match self.frames.lock() {
            Ok(mut f) => {
                let depth = f.len();
                let keep = depth.saturating_sub(count);
                f.truncate(keep);
                (depth, f.clone())
            }
            Err(_) => (0, Vec::new()),
        };
        if outer.is_empty() {
            self.leave_pending.store(true, Ordering::Relaxed);
            return Ok(());
        }
        if count <= depth && count <= 2 {
            // Up to the parent frame(s): one command each, and it works as long as
            // the frames are still there.
            let mut up = Ok(());
            for _ in 0..count {
                self.count(1);
                if let Err(e) = self.client.enter_parent_frame().await {
                    up = Err(e);
                    break;
                }
            }
            if up.is_ok() {
                return Ok(());
            }
        }
        // A page that replaced its frames meanwhile: back to the top and in again.
        self.to_top().await?;
        for name in &outer {
            self.enter_one(name).await?;
        }
        Ok(())
    }

    /// Waits for another window whose title or URL contains `wanted`, switches to it
    /// (at its top frame) and returns how to come back. A window that shows no web
    /// page, or a page outside the allowed hosts, is refused (and closed).
    pub async fn enter_window(&self, wanted: &str) -> Result<WindowScope, BrowserError> {
        self.count(1);
        let origin = self
            .client
            .window()
            .await
            .map_err(|e| command("reading the current window", e))?;
        let frames = self.frames.lock().map(|f| f.clone()).unwrap_or_default();
        let mut wait = Backoff::new(format!("a window \"{wanted}\""));
        loop {
            self.count(1);
            let handles = self
                .client
                .windows()
                .await
                .map_err(|e| command("listing the windows", e))?;
            let mut moved = false;
            let mut seen = Vec::new();
            for handle in handles.into_iter().filter(|h| *h != origin) {
                self.count(1);
                moved = true;
                if self.client.switch_to_window(handle.clone()).await.is_err() {
                    continue;
                }
                // Another window starts at its top.
                self.leave_pending.store(false, Ordering::Relaxed);
                let title = self.title().await.unwrap_or_default();
                let url = self.url().await.unwrap_or_default();
                seen.push(format!("\"{title}\" ({url})"));
                if title.contains(wanted) || url.contains(wanted) {
                    // Only a web page of the allowed hosts: else that window is
                    // closed and the session goes back where it was.
                    if let Err(e) = super::address::check_page(&url, &self.allowed_hosts) {
                        let _ = self.leave_window(WindowScope { origin, frames }).await;
                        return Err(e);
                    }
                    if let Ok(mut f) = self.frames.lock() {
                        f.clear();
                    }
                    return Ok(WindowScope { origin, frames });
                }
            }
            if moved {
                self.count(1);
                let _ = self.client.switch_to_window(origin.clone()).await;
                self.leave_pending.store(false, Ordering::Relaxed);
            }
            if wait.elapsed() >= self.timeout {
                return Err(BrowserError::NoWindow {
                    wanted: wanted.to_string(),
                    waited: self.timeout,
                    open: if seen.is_empty() {
                        "; no other window is open".into()
                    } else {
                        format!("; the other windows: {}", seen.join(", "))
                    },
                });
            }
            wait.pause().await;
        }
    }

    /// Closes the window entered with [`Browser::enter_window`] (if it is still open)
    /// and goes back to where the scope began.
    pub async fn leave_window(&self, scope: WindowScope) -> Result<(), BrowserError> {
        self.count(2);
        let current = self.client.window().await.ok();
        if current.as_ref() != Some(&scope.origin) {
            let _ = self.client.close_window().await;
        }
        self.client
            .switch_to_window(scope.origin)
            .await
            .map_err(|e| command("returning to the first window", e))?;
        self.leave_pending.store(false, Ordering::Relaxed);
        if let Ok(mut f) = self.frames.lock() {
            f.clear();
        }
        for name in &scope.frames {
            self.enter_one(name).await?;
            if let Ok(mut f) = self.frames.lock() {
                f.push(name.clone());
            }
        }
        Ok(())
    }
}
