//! HTTP Basic and Digest logins (`[login.http]` of a bot): the browser answers the
//! server's challenge itself, with the user name and password juru hands it through
//! a small extension written into the session's own profile folder (readable by
//! this user only, removed with the profile). The credentials never appear in an
//! address, a log line or a command juru sends, and they are given only to the
//! hosts the bot names; a challenge answered once and asked again (wrong
//! credentials) is cancelled, so the server's refusal shows instead of a loop.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::json;

/// The credentials and the hosts they are for.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpAuth {
    pub user: String,
    pub password: String,
    /// Host names or addresses (lower case); `*.example.go.id` for every name under
    /// a domain.
    pub hosts: Vec<String>,
}

impl fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpAuth")
            .field("user", &"…")
            .field("password", &"…")
            .field("hosts", &self.hosts)
            .finish()
    }
}

/// The folder in the profile that holds the extension.
const FOLDER: &str = "juru-http-login";

/// The URL patterns an extension uses for `hosts` (any scheme, port and path).
fn patterns(hosts: &[String]) -> Vec<String> {
    hosts
        .iter()
        .flat_map(|h| {
            let h = h.trim().to_lowercase();
            // A match pattern's host has no port; an IPv6 address goes in brackets.
            let host = if h.contains(':') && !h.starts_with('[') {
                format!("[{h}]")
            } else {
                h
            };
            ["http", "https"].map(|s| format!("{s}://{host}/*"))
        })
        .collect()
}

/// Writes the extension into `profile` and returns its folder (for
/// `--load-extension`).
pub(super) fn write_extension(profile: &Path, auth: &HttpAuth) -> std::io::Result<PathBuf> {
    let dir = profile.join(FOLDER);
    std::fs::create_dir_all(&dir)?;
    let urls = patterns(&auth.hosts);
    let manifest = json!({
        "manifest_version": 3,
        "name": "juru HTTP login",
        "version": "1.0",
        "permissions": ["webRequest", "webRequestAuthProvider"],
        "host_permissions": urls,
        "background": { "service_worker": "login.js" },
    });
    // The values go in as JSON strings: no quote or backslash can break out.
    let script = format!(
        r#"const user = {user}, password = {password}, answered = new Set();
chrome.webRequest.onAuthRequired.addListener((details, reply) => {{
  if (details.isProxy || answered.has(details.requestId)) {{ reply({{cancel: true}}); return; }}
  answered.add(details.requestId);
  reply({{authCredentials: {{username: user, password: password}}}});
}}, {{urls: {urls}}}, ["asyncBlocking"]);
chrome.webRequest.onCompleted.addListener(d => answered.delete(d.requestId), {{urls: {urls}}});
chrome.webRequest.onErrorOccurred.addListener(d => answered.delete(d.requestId), {{urls: {urls}}});
"#,
        user = serde_json::to_string(&auth.user).unwrap_or_default(),
        password = serde_json::to_string(&auth.password).unwrap_or_default(),
        urls = serde_json::to_string(&urls).unwrap_or_default(),
    );
    write_private(&dir.join("manifest.json"), manifest.to_string().as_bytes())?;
    write_private(&dir.join("login.js"), script.as_bytes())?;
    Ok(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_holds_the_values_as_json_and_only_for_the_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let auth = HttpAuth {
            user: "budi".into(),
            password: "r\"a\\h\nasia".into(),
            hosts: vec![
                "simpeg.example.go.id".into(),
                "*.bkd.go.id".into(),
                "::1".into(),
            ],
        };
        let ext = write_extension(dir.path(), &auth).unwrap();
        let js = std::fs::read_to_string(ext.join("login.js")).unwrap();
        assert!(js.contains(r#"password = "r\"a\\h\nasia""#), "{js}");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(ext.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(
            manifest["host_permissions"],
            json!([
                "http://simpeg.example.go.id/*",
                "https://simpeg.example.go.id/*",
                "http://*.bkd.go.id/*",
                "https://*.bkd.go.id/*",
                "http://[::1]/*",
                "https://[::1]/*"
            ])
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ext.join("login.js"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
        assert!(!format!("{auth:?}").contains("budi"));
    }
}
