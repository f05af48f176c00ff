//! A page script chosen by the caller, for tools that study a page (`juru inspect`):
//! one round trip, behind the same address guard as every other page script.

use serde_json::Value;

use super::{Browser, BrowserError};

impl Browser {
    /// Runs `script` (a function body; its `arguments` are `args`) in the current
    /// frame and returns what it returned, as JSON. Like every page script juru runs,
    /// it is refused on a page that is not an http(s) page of an allowed host; an
    /// unexpected dialog in the way is handled by the dialog policy first.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, BrowserError> {
        self.js(|| "running a page script".into(), script, args)
            .await
    }
}
