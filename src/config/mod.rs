//! The agent's configuration: `config/agent.toml` (and, later, schedules).
//!
//! Parse first, validate second: the file is read into plain serde structs that deny
//! unknown keys, then one validation pass turns it into typed settings for each
//! capability and collects *every* problem, each with file, line and key path. A
//! missing `agent.toml` means all defaults. Everything here is synchronous and cheap.

mod toml_file;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::browser;
use crate::mail;
use crate::{Problem, Problems};

pub use toml_file::{line_col, load as load_toml, parse as parse_toml};

/// Language of reports and mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Bahasa Indonesia (the default).
    Id,
    /// English.
    En,
}

/// The validated agent configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Default IANA time zone for schedules and report times.
    pub time_zone: chrono_tz::Tz,
    pub language: Language,
    pub browser: browser::Settings,
    pub mail: mail::Settings,
    /// SQLite file of run history, relative paths taken from the data dir.
    pub store_path: PathBuf,
}

impl AgentConfig {
    /// Loads `<dir>/agent.toml`; defaults when the file does not exist.
    pub fn load(dir: &Path) -> Result<AgentConfig, Problems> {
        let path = dir.join("agent.toml");
        let shown = path.display().to_string();
        let file: AgentFile = load_toml(&path)?.unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        file.validate(&Located {
            shown: &shown,
            text: &text,
        })
    }

    /// Parses agent.toml text (as `shown`) and validates it.
    pub fn parse(shown: &str, text: &str) -> Result<AgentConfig, Problems> {
        let file: AgentFile = parse_toml(shown, text)?;
        file.validate(&Located { shown, text })
    }
}

/// Where a value came from, to point problems at its line.
pub struct Located<'a> {
    pub shown: &'a str,
    pub text: &'a str,
}

impl Located<'_> {
    /// `file:line:col` of a spanned value.
    pub fn at<T>(&self, value: &Spanned<T>) -> String {
        let (line, col) = line_col(self.text, value.span().start);
        format!("{}:{line}:{col}", self.shown)
    }

    pub fn problem<T>(&self, value: &Spanned<T>, key: &str, message: impl AsRef<str>) -> Problem {
        Problem::new(self.at(value), format!("{key}: {}", message.as_ref()))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct AgentFile {
    time_zone: Option<Spanned<String>>,
    language: Option<Spanned<String>>,
    browser: BrowserFile,
    mail: MailFile,
    store: StoreFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct BrowserFile {
    chromedriver: Option<String>,
    chromium: Option<String>,
    webdriver_url: Option<Spanned<String>>,
    headless: Option<bool>,
    args: Vec<String>,
    timeout: Option<Spanned<String>>,
    page_load_timeout: Option<Spanned<String>>,
    startup_timeout: Option<Spanned<String>>,
    window_size: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct MailFile {
    transport: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    outbox: Option<String>,
    smtp: Option<Spanned<SmtpFile>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmtpFile {
    host: Option<Spanned<String>>,
    port: Option<u16>,
    tls: Option<Spanned<String>>,
    username: Option<String>,
    password_env: Option<String>,
    timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct StoreFile {
    path: Option<String>,
}

impl AgentFile {
    fn validate(self, at: &Located) -> Result<AgentConfig, Problems> {
        let mut problems = Problems::default();

        let time_zone = match &self.time_zone {
            None => chrono_tz::Asia::Jakarta,
            Some(tz) => tz.get_ref().parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
                problems.0.push(at.problem(
                    tz,
                    "time_zone",
                    format!(
                        "unknown time zone \"{}\", expected an IANA name such as \"Asia/Jakarta\"",
                        tz.get_ref()
                    ),
                ));
                chrono_tz::Asia::Jakarta
            }),
        };

        let language = match self.language.as_ref().map(|l| (l, l.get_ref().as_str())) {
            None | Some((_, "id")) => Language::Id,
            Some((_, "en")) => Language::En,
            Some((l, other)) => {
                problems.0.push(at.problem(
                    l,
                    "language",
                    format!("unknown language \"{other}\", expected \"id\" or \"en\""),
                ));
                Language::Id
            }
        };

        let browser = self.browser.validate(at, &mut problems);
        let mail = self.mail.validate(at, &mut problems);
        let store_path = PathBuf::from(self.store.path.unwrap_or_else(|| "juru.db".into()));

        problems.into_result(AgentConfig {
            time_zone,
            language,
            browser,
            mail,
            store_path,
        })
    }
}

/// A duration field with its default, reporting a bad value into `problems`.
fn duration_field(
    value: &Option<Spanned<String>>,
    key: &str,
    default: Duration,
    at: &Located,
    problems: &mut Problems,
) -> Duration {
    match value {
        None => default,
        Some(v) => parse_duration(v.get_ref()).unwrap_or_else(|message| {
            problems.0.push(at.problem(v, key, message));
            default
        }),
    }
}

impl BrowserFile {
    fn validate(self, at: &Located, problems: &mut Problems) -> browser::Settings {
        let defaults = browser::Settings::default();
        let driver = match (self.webdriver_url, self.chromedriver) {
            (Some(url), Some(_)) => {
                problems.0.push(at.problem(
                    &url,
                    "browser.webdriver_url",
                    "set either browser.webdriver_url (a remote WebDriver) or browser.chromedriver (a local driver), not both",
                ));
                defaults.driver.clone()
            }
            (Some(url), None) => {
                let u = url.get_ref();
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    problems.0.push(at.problem(
                        &url,
                        "browser.webdriver_url",
                        format!("expected an http:// or https:// URL, got \"{u}\""),
                    ));
                } else if u.starts_with("https://") {
                    problems.0.push(at.problem(
                        &url,
                        "browser.webdriver_url",
                        "https WebDriver URLs are not supported by this build; use http:// (for example through a TLS-terminating proxy on the same host)",
                    ));
                }
                browser::DriverKind::Remote { url: u.clone() }
            }
            (None, chromedriver) => browser::DriverKind::Local {
                chromedriver: chromedriver
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("chromedriver")),
                chromium: self.chromium.map(PathBuf::from),
            },
        };
        let window_size = match &self.window_size {
            None => defaults.window_size,
            Some(v) => parse_size(v.get_ref()).unwrap_or_else(|| {
                problems.0.push(at.problem(
                    v,
                    "browser.window_size",
                    format!(
                        "expected WIDTHxHEIGHT such as \"1366x768\", got \"{}\"",
                        v.get_ref()
                    ),
                ));
                defaults.window_size
            }),
        };
        browser::Settings {
            driver,
            headless: self.headless.unwrap_or(defaults.headless),
            args: self.args,
            timeout: duration_field(
                &self.timeout,
                "browser.timeout",
                defaults.timeout,
                at,
                problems,
            ),
            page_load_timeout: duration_field(
                &self.page_load_timeout,
                "browser.page_load_timeout",
                defaults.page_load_timeout,
                at,
                problems,
            ),
            startup_timeout: duration_field(
                &self.startup_timeout,
                "browser.startup_timeout",
                defaults.startup_timeout,
                at,
                problems,
            ),
            window_size,
        }
    }
}

impl MailFile {
    fn validate(self, at: &Located, problems: &mut Problems) -> mail::Settings {
        let defaults = mail::Settings::default();
        let from = match &self.from {
            None => defaults.from.clone(),
            Some(v) => match mail::parse_mailbox(v.get_ref()) {
                Ok(_) => v.get_ref().clone(),
                Err(e) => {
                    problems.0.push(at.problem(v, "mail.from", e));
                    defaults.from.clone()
                }
            },
        };
        let outbox = PathBuf::from(self.outbox.unwrap_or_else(|| "outbox".into()));
        let transport = match self.transport.as_ref().map(|t| (t, t.get_ref().as_str())) {
            None | Some((_, "file")) => mail::Transport::File,
            Some((t, "smtp")) => match &self.smtp {
                None => {
                    problems.0.push(at.problem(
                        t,
                        "mail.transport",
                        "transport \"smtp\" needs a [mail.smtp] table with at least `host`",
                    ));
                    mail::Transport::File
                }
                Some(smtp) => mail::Transport::Smtp(smtp.get_ref().validate(smtp, at, problems)),
            },
            Some((t, other)) => {
                problems.0.push(at.problem(
                    t,
                    "mail.transport",
                    format!("unknown transport \"{other}\", expected \"file\" or \"smtp\""),
                ));
                mail::Transport::File
            }
        };
        mail::Settings {
            from,
            transport,
            outbox,
        }
    }
}

impl SmtpFile {
    fn validate(
        &self,
        table: &Spanned<SmtpFile>,
        at: &Located,
        problems: &mut Problems,
    ) -> mail::SmtpSettings {
        let host = match &self.host {
            Some(h) if !h.get_ref().trim().is_empty() => h.get_ref().trim().to_string(),
            Some(h) => {
                problems
                    .0
                    .push(at.problem(h, "mail.smtp.host", "must not be empty"));
                String::new()
            }
            None => {
                problems.0.push(at.problem(
                    table,
                    "mail.smtp.host",
                    "missing: the SMTP server's host name is required",
                ));
                String::new()
            }
        };
        let tls = match self.tls.as_ref().map(|t| (t, t.get_ref().as_str())) {
            None | Some((_, "starttls")) => mail::Tls::StartTls,
            Some((_, "tls")) => mail::Tls::Implicit,
            Some((_, "none")) => mail::Tls::None,
            Some((t, other)) => {
                problems.0.push(at.problem(
                    t,
                    "mail.smtp.tls",
                    format!(
                        "unknown TLS mode \"{other}\", expected \"starttls\", \"tls\" or \"none\""
                    ),
                ));
                mail::Tls::StartTls
            }
        };
        if tls == mail::Tls::None && !host.is_empty() && !is_loopback(&host) {
            if let Some(t) = &self.tls {
                problems.0.push(at.problem(
                    t,
                    "mail.smtp.tls",
                    format!("\"none\" (no encryption) is allowed only for a server on this machine (127.0.0.1, ::1, localhost), not \"{host}\""),
                ));
            }
        }
        let port = self.port.unwrap_or(match tls {
            mail::Tls::Implicit => 465,
            mail::Tls::StartTls => 587,
            mail::Tls::None => 25,
        });
        mail::SmtpSettings {
            host,
            port,
            tls,
            username: self.username.clone(),
            password_env: self.password_env.clone(),
            timeout: duration_field(
                &self.timeout,
                "mail.smtp.timeout",
                Duration::from_secs(30),
                at,
                problems,
            ),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn parse_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.trim().split_once(['x', 'X'])?;
    let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

/// Parses `"500ms"`, `"30s"`, `"5m"`, `"2h"` or a combination such as `"1m30s"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad =
        || format!("expected a duration such as \"500ms\", \"30s\", \"5m\" or \"1h\", got \"{s}\"");
    let text = s.trim();
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return Err(bad()),
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("30 sec").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let c = AgentConfig::parse("agent.toml", "").unwrap();
        assert_eq!(c.time_zone, chrono_tz::Asia::Jakarta);
        assert_eq!(c.language, Language::Id);
        assert!(c.browser.headless);
        assert!(matches!(c.mail.transport, mail::Transport::File));
    }

    #[test]
    fn wrong_type_points_at_line_and_key() {
        let err =
            AgentConfig::parse("config/agent.toml", "[browser]\nheadless = \"yes\"\n").unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err.0[0].location, "config/agent.toml:2:12");
        assert!(
            err.0[0]
                .message
                .starts_with("browser.headless: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn all_semantic_problems_at_once() {
        let text = "time_zone = \"Asia/Jakrta\"\nlanguage = \"fr\"\n[browser]\ntimeout = \"10 sec\"\n[mail]\ntransport = \"smtp\"\nfrom = \"not an address\"\n[mail.smtp]\ntls = \"ssl\"\n";
        let err = AgentConfig::parse("config/agent.toml", text).unwrap_err();
        let all = err.to_string();
        assert_eq!(err.len(), 6, "{all}");
        assert!(
            all.contains("config/agent.toml:1:13: time_zone: unknown time zone \"Asia/Jakrta\""),
            "{all}"
        );
        assert!(all.contains("config/agent.toml:2:12: language:"), "{all}");
        assert!(
            all.contains("config/agent.toml:4:11: browser.timeout:"),
            "{all}"
        );
        assert!(all.contains("mail.from:"), "{all}");
        assert!(all.contains("mail.smtp.host: missing"), "{all}");
        assert!(
            all.contains("config/agent.toml:9:7: mail.smtp.tls: unknown TLS mode \"ssl\""),
            "{all}"
        );
    }

    #[test]
    fn plain_smtp_only_on_loopback() {
        let ok = "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\n";
        let c = AgentConfig::parse("a.toml", ok).unwrap();
        match c.mail.transport {
            mail::Transport::Smtp(s) => assert_eq!((s.port, s.tls), (2525, mail::Tls::None)),
            other => panic!("{other:?}"),
        }
        let bad = ok.replace("127.0.0.1", "mail.example.go.id");
        let err = AgentConfig::parse("a.toml", &bad).unwrap_err();
        assert!(
            err.to_string()
                .contains("only for a server on this machine"),
            "{err}"
        );
    }

    #[test]
    fn remote_and_local_driver_conflict() {
        let text = "[browser]\nchromedriver = \"/usr/bin/chromedriver\"\nwebdriver_url = \"http://127.0.0.1:4444\"\n";
        let err = AgentConfig::parse("a.toml", text).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
    }
}
