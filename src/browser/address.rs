//! Where the browser may go: web pages only (`http:` and `https:`, and the empty
//! `about:blank`), and, when the bot lists `allowed_hosts`, only pages of those hosts.
//!
//! Checked three ways: before every navigation juru is asked for ([`check_open`]);
//! on the page's address after a navigation, a click and a switch to another window
//! ([`check_page`]); and inside the page before every script juru runs there (the
//! [`guard`] prefix), so that nothing is read from, or typed into, a document that is
//! not a web page (a `file:` listing, a browser error page) or, at the top, a page of
//! another host.

use super::BrowserError;

/// The address a verb was asked to open, checked before anything is sent.
pub(super) fn check_open(url: &str, hosts: &[String]) -> Result<(), BrowserError> {
    let parsed =
        url::Url::parse(url.trim()).map_err(|_| BrowserError::NotWeb { url: shown(url) })?;
    if is_blank(&parsed) {
        return Ok(());
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(BrowserError::NotWeb { url: shown(url) });
    }
    check_host(&parsed, url, hosts)
}

/// The address of the page the browser shows now (after a navigation or a click).
pub(super) fn check_page(url: &str, hosts: &[String]) -> Result<(), BrowserError> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Err(BrowserError::NotWebPage { url: shown(url) });
    };
    if is_blank(&parsed) {
        return Ok(());
    }
    if parsed.scheme() == "chrome-error" {
        return Err(BrowserError::NotLoaded { url: shown(url) });
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(BrowserError::NotWebPage { url: shown(url) });
    }
    check_host(&parsed, url, hosts)
}

/// The address of a frame (its `src`) before juru enters it: a web page, or
/// `about:blank` / `about:srcdoc`, of any host (a frame is not a navigation).
pub(super) fn check_frame(src: &str) -> Result<(), BrowserError> {
    match url::Url::parse(src) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        Ok(u) if u.scheme() == "about" && matches!(u.path(), "blank" | "srcdoc") => Ok(()),
        _ => Err(BrowserError::NotWebPage { url: shown(src) }),
    }
}

fn is_blank(url: &url::Url) -> bool {
    url.scheme() == "about" && url.path() == "blank"
}

fn check_host(parsed: &url::Url, url: &str, hosts: &[String]) -> Result<(), BrowserError> {
    if hosts.is_empty() {
        return Ok(());
    }
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    if hosts.iter().any(|p| host_matches(p, &host)) {
        return Ok(());
    }
    Err(BrowserError::HostNotAllowed {
        host,
        url: shown(url),
        allowed: hosts.join(", "),
    })
}

/// Whether `host` (lower case) is allowed by `pattern`: the same name, or, for
/// `*.example.go.id`, any name ending in `.example.go.id` (not `example.go.id` itself).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => host == pattern,
    }
}

/// An `allowed_hosts` entry as juru compares it (lower case), or why it is not one.
pub fn host_pattern(text: &str) -> Result<String, String> {
    let p = text.trim().to_ascii_lowercase();
    let name = p.strip_prefix("*.").unwrap_or(&p);
    let ip6 = name.starts_with('[') && name.ends_with(']');
    let good = !name.is_empty()
        && (ip6
            || name.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            }));
    if good && (ip6 || url::Host::parse(name).is_ok()) {
        Ok(p)
    } else {
        Err(format!(
            "\"{text}\" is not a host name; expected a name such as \"portal.example.go.id\", \"*.example.go.id\" (any name under it) or an address such as \"10.1.2.3\", without scheme, port or path"
        ))
    }
}

/// An address as shown in a message: at most 200 characters.
fn shown(url: &str) -> String {
    let url = url.trim();
    if url.is_empty() {
        return "(an address that cannot be read)".into();
    }
    if url.chars().count() > 200 {
        format!("{}…", url.chars().take(200).collect::<String>())
    } else {
        url.to_string()
    }
}

/// What juru puts before every script it runs in a page: a page that is not a web
/// page, or whose top document is of a host not in `hosts`, answers
/// `{juru_refused: href, host}` instead of running the script (see
/// [`refusal`]). `asynchronous` scripts answer through their callback.
pub(super) fn guard(hosts: &[String], asynchronous: bool) -> String {
    let hosts = serde_json::to_string(hosts).unwrap_or_else(|_| "[]".into());
    let answer = if asynchronous {
        "{ arguments[arguments.length - 1](juruRefused); return; }"
    } else {
        "return juruRefused;"
    };
    format!(
        r#"const juruRefused = (function (hosts) {{
  const href = String(location.href), p = location.protocol;
  const web = p === "http:" || p === "https:";
  if (!web) return href === "about:blank" || href === "about:srcdoc" ? null : {{juru_refused: href}};
  if (!hosts.length || window !== window.top) return null;
  const h = location.hostname.toLowerCase();
  const ok = hosts.some(x => x.startsWith("*.") ? (h.endsWith(x.slice(1)) && h.length > x.length - 1) : h === x);
  return ok ? null : {{juru_refused: href, host: h}};
}})({hosts});
if (juruRefused) {answer}
"#
    )
}

/// The error for a page script's answer that is a refusal by the [`guard`].
pub(super) fn refusal(answer: &serde_json::Value, hosts: &[String]) -> Option<BrowserError> {
    let href = answer.get("juru_refused")?.as_str()?;
    Some(match answer.get("host").and_then(|h| h.as_str()) {
        Some(host) => BrowserError::HostNotAllowed {
            host: host.to_string(),
            url: shown(href),
            allowed: hosts.join(", "),
        },
        None if href.starts_with("chrome-error:") => BrowserError::NotLoaded { url: shown(href) },
        None => BrowserError::NotWebPage { url: shown(href) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|h| host_pattern(h).unwrap()).collect()
    }

    #[test]
    fn only_web_addresses_may_be_opened() {
        for ok in [
            "http://127.0.0.1:8080/login",
            "https://portal.example.go.id/a?b=c",
            "about:blank",
            "HTTP://Portal.Example.go.id/",
        ] {
            assert!(check_open(ok, &[]).is_ok(), "{ok}");
        }
        for bad in [
            "file:///etc/passwd",
            "FILE:///etc/passwd",
            " file:///etc/passwd",
            "file://localhost/etc/passwd",
            "chrome://settings",
            "view-source:http://127.0.0.1/",
            "javascript:alert(1)",
            "data:text/html,<h1>x</h1>",
            "blob:http://127.0.0.1/x",
            "about:version",
            "ftp://example.go.id/",
            "/login",
            "portal.example.go.id/login",
            "",
        ] {
            let e = check_open(bad, &[]).unwrap_err();
            assert_eq!(e.kind(), "address", "{bad}");
            assert!(
                e.to_string()
                    .starts_with("only http and https addresses may be opened, not"),
                "{e}"
            );
        }
        assert_eq!(
            check_open("file:///etc/passwd", &[])
                .unwrap_err()
                .to_string(),
            "only http and https addresses may be opened, not file:///etc/passwd"
        );
    }

    #[test]
    fn allowed_hosts_limit_where_the_browser_goes() {
        let allowed = hosts(&["portal.example.go.id", "*.dinas.go.id", "127.0.0.1"]);
        for ok in [
            "https://portal.example.go.id/login",
            "https://PORTAL.example.go.id:8443/",
            "http://a.dinas.go.id/",
            "http://a.b.dinas.go.id/",
            "http://127.0.0.1:3000/x",
            "about:blank",
        ] {
            assert!(check_open(ok, &allowed).is_ok(), "{ok}");
            assert!(check_page(ok, &allowed).is_ok(), "{ok}");
        }
        for bad in [
            "https://dinas.go.id/",
            "https://evil-dinas.go.id/",
            "https://portal.example.go.id.evil.com/",
            "http://localhost:3000/",
            "https://example.go.id/",
        ] {
            let e = check_open(bad, &allowed).unwrap_err();
            assert_eq!(e.kind(), "address");
            assert!(e.to_string().contains("allowed_hosts"), "{e}");
        }
        let e = check_page("https://evil.example.com/x", &allowed).unwrap_err();
        assert!(e.to_string().starts_with("evil.example.com "), "{e}");
        let e = check_page("chrome-error://chromewebdata/", &[]).unwrap_err();
        assert_eq!(
            e.kind(),
            "error_page",
            "a page that did not load may load next time"
        );
        let e = check_page("file:///etc/", &[]).unwrap_err();
        assert_eq!(e.kind(), "address");
        assert!(check_frame("https://maps.example.com/embed").is_ok());
        assert!(check_frame("about:srcdoc").is_ok());
        for bad in [
            "file:///etc/passwd",
            "data:text/html,x",
            "javascript:1",
            "chrome://version",
        ] {
            assert_eq!(check_frame(bad).unwrap_err().kind(), "address", "{bad}");
        }
    }

    #[test]
    fn host_patterns_are_checked() {
        assert_eq!(
            host_pattern(" Portal.Example.go.id ").unwrap(),
            "portal.example.go.id"
        );
        assert_eq!(host_pattern("*.example.go.id").unwrap(), "*.example.go.id");
        assert_eq!(host_pattern("10.1.2.3").unwrap(), "10.1.2.3");
        assert_eq!(host_pattern("[::1]").unwrap(), "[::1]");
        for bad in [
            "",
            "*",
            "https://portal.example.go.id",
            "portal.example.go.id:8080",
            "portal.example.go.id/login",
            "a.*.go.id",
            "a b",
            "a..b",
        ] {
            assert!(host_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_match_names_under_the_domain_only() {
        assert!(host_matches("*.go.id", "a.go.id"));
        assert!(!host_matches("*.go.id", "go.id"));
        assert!(!host_matches("*.go.id", "ago.id"));
        assert!(host_matches("go.id", "go.id"));
        assert!(!host_matches("go.id", "a.go.id"));
    }
}
