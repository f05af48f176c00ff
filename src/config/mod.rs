//! The agent's configuration: `config/agent.toml`, and `config/schedules.toml` with
//! its calendars (in [`schedules`]).
//!
//! Parse first, validate second: the file is read into plain serde structs that deny
//! unknown keys, then one validation pass turns it into typed settings for each
//! capability and collects *every* problem, each with file, line and key path. A
//! missing `agent.toml` means all defaults. Everything here is synchronous and cheap.

pub mod schedules;
mod toml_file;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::browser;
use crate::mail;
use crate::{Problem, Problems};

pub use schedules::{ScheduleConfig, ScheduleInput, Schedules};
pub use toml_file::{
    key_location, line_col, load as load_toml, parse as parse_toml, parse_all, parse_all_as, Parsed,
};

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
    /// Where run history lives (`[store]`).
    pub store: StoreSettings,
    /// At most this many browser sessions at once on this machine (`[limits]`).
    pub max_browsers: usize,
    /// At most this many runs at once in `juru agent` (`[limits]`).
    pub max_concurrent_runs: usize,
    /// Secrets from `secrets.toml` beside agent.toml (environment variables
    /// `JURU_SECRET_<NAME>` win over them).
    pub secrets: std::collections::BTreeMap<String, String>,
    /// The dashboard (`[web]`).
    pub web: WebSettings,
    /// `[agent] resume_on_start`: at start the agent continues the runs a crash or
    /// a stop left with items (default true).
    pub resume_on_start: bool,
    /// `[agent] name`: the agent's name in a fleet (default the host name).
    pub agent_name: String,
}

/// `[store]` of agent.toml: a SQLite file (`path`, relative to the data folder) or
/// a PostgreSQL database shared by a fleet (`url`, with the password from the
/// secret `password_secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub path: PathBuf,
    pub url: Option<String>,
    pub password_secret: Option<String>,
    /// `files`: where run folders go (default `runs` in the data folder); a fleet
    /// puts them on a file system every agent mounts at the same path.
    pub files: Option<PathBuf>,
}

impl AgentConfig {
    /// The folder of run folders, for a data folder `data`.
    pub fn runs_dir(&self, data: &Path) -> PathBuf {
        match &self.store.files {
            Some(f) => data.join(f),
            None => data.join("runs"),
        }
    }

    /// Where the store is, for a data folder `data`.
    pub fn store_location(&self, data: &Path) -> crate::store::Location {
        match &self.store.url {
            Some(url) => crate::store::Location::Postgres {
                url: url.clone(),
                password: self
                    .store
                    .password_secret
                    .as_ref()
                    .and_then(|name| self.secret(name)),
            },
            None => crate::store::Location::File(data.join(&self.store.path)),
        }
    }
}

impl AgentConfig {
    /// The secret `name`: the environment variable `JURU_SECRET_<NAME>` first,
    /// then `secrets.toml`.
    pub fn secret(&self, name: &str) -> Option<String> {
        std::env::var(crate::mail::secret_variable(name))
            .ok()
            .or_else(|| self.secrets.get(name).cloned())
    }
}

/// Where the agent serves the dashboard (`[web]` of agent.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSettings {
    /// Off by default: `enabled = true` makes `juru agent` serve it.
    pub enabled: bool,
    /// Address and port, `127.0.0.1:8080` by default.
    pub listen: std::net::SocketAddr,
    /// `trusted_proxy`: the reverse proxies (an address or a list) whose
    /// `X-Forwarded-For` and `X-Forwarded-Proto` headers juru believes; none by default.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `metrics`: serve `GET /metrics` (Prometheus, no login) beside the dashboard;
    /// on by default.
    pub metrics: bool,
}

impl Default for WebSettings {
    fn default() -> WebSettings {
        WebSettings {
            enabled: false,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            trusted_proxies: Vec::new(),
            metrics: true,
        }
    }
}

impl AgentConfig {
    /// Loads `<dir>/agent.toml`; defaults when the file does not exist.
    pub fn load(dir: &Path) -> Result<AgentConfig, Problems> {
        let path = dir.join("agent.toml");
        let shown = path.display().to_string();
        let config = match std::fs::read_to_string(&path) {
            Ok(text) => AgentConfig::parse(&shown, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                AgentFile::default().validate(&Located {
                    shown: &shown,
                    text: "",
                })
            }
            Err(e) => Err(Problem::new(&shown, format!("cannot read the file: {e}")).into()),
        };
        let secrets = load_secrets(&dir.join("secrets.toml"));
        match (config, secrets) {
            (Ok(mut c), Ok(secrets)) => {
                c.secrets = secrets;
                Ok(c)
            }
            (c, s) => {
                let mut problems = Problems::default();
                if let Err(p) = c {
                    problems.extend(p);
                }
                if let Err(p) = s {
                    problems.extend(p);
                }
                Err(problems)
            }
        }
    }

    /// Parses agent.toml text (as `shown`) and validates it: every problem of
    /// the file at once, unknown keys and wrong types included.
    pub fn parse(shown: &str, text: &str) -> Result<AgentConfig, Problems> {
        parse_all::<AgentFile>(shown, text).then(|file| file.validate(&Located { shown, text }))
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
    limits: LimitsFile,
    web: WebFile,
    agent: AgentSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct AgentSection {
    resume_on_start: Option<bool>,
    name: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WebFile {
    enabled: Option<bool>,
    listen: Option<Spanned<String>>,
    /// An address or a list of addresses.
    trusted_proxy: Option<Spanned<toml::Value>>,
    metrics: Option<bool>,
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
    unexpected_dialog: Option<Spanned<String>>,
    driver_log: Option<bool>,
    grid_wait: Option<Spanned<String>>,
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
    port: Option<Spanned<i64>>,
    tls: Option<Spanned<String>>,
    username: Option<Spanned<String>>,
    password_secret: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LimitsFile {
    max_browsers: Option<Spanned<i64>>,
    max_concurrent_runs: Option<Spanned<i64>>,
}

/// Reads `secrets.toml` (name = "value" lines); refuses a file other users can read.
fn load_secrets(path: &Path) -> Result<std::collections::BTreeMap<String, String>, Problems> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => {
            return Err(Problem::new(&shown, format!("cannot read the secrets file: {e}")).into())
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Problem::new(
            &shown,
            format!(
                "other users of this machine can read the secrets file (mode {mode:o}); make it readable by the agent's user only: chmod 600 {shown}"
            ),
        )
        .into());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(&shown, format!("cannot read the secrets file: {e}")))?;
    parse_toml::<std::collections::BTreeMap<String, String>>(&shown, &text)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct StoreFile {
    path: Option<String>,
    url: Option<Spanned<String>>,
    password_secret: Option<Spanned<String>>,
    files: Option<String>,
}

impl StoreFile {
    fn validate(self, at: &Located, problems: &mut Problems) -> StoreSettings {
        let url = self.url.as_ref().and_then(|u| {
            let text = u.get_ref().trim();
            let postgres = text.starts_with("postgres://") || text.starts_with("postgresql://");
            match crate::store::tls::Address::parse(text) {
                Ok(_) if postgres => Some(text.to_string()),
                Err(crate::store::tls::AddressError::Tls(message)) if postgres => {
                    problems.0.push(at.problem(u, "store.url", message));
                    None
                }
                Err(crate::store::tls::AddressError::NotAnAddress(reason)) if postgres => {
                    problems.0.push(at.problem(
                        u,
                        "store.url",
                        format!("expected a PostgreSQL address such as \"postgres://juru@db.example:5432/juru\" (the password goes in store.password_secret); this one is refused: {reason}"),
                    ));
                    None
                }
                _ => {
                    problems.0.push(at.problem(
                        u,
                        "store.url",
                        "expected a PostgreSQL address such as \"postgres://juru@db.example:5432/juru\" (the password goes in store.password_secret)",
                    ));
                    None
                }
            }
        });
        if self.url.is_some() && self.path.is_some() {
            if let Some(u) = &self.url {
                problems.0.push(at.problem(
                    u,
                    "store.url",
                    "set either store.url (a PostgreSQL database) or store.path (a SQLite file), not both",
                ));
            }
        }
        if let Some(p) = &self.password_secret {
            if !valid_secret_name(p.get_ref()) {
                problems.0.push(at.problem(
                    p,
                    "store.password_secret",
                    format!(
                        "expected the name of a secret such as \"store_password\" (letters, digits, `_`, `-`, `.`), got \"{}\"; the password itself never goes in this file",
                        p.get_ref()
                    ),
                ));
            }
        }
        StoreSettings {
            path: PathBuf::from(self.path.unwrap_or_else(|| "juru.db".into())),
            url,
            password_secret: self.password_secret.map(|p| p.into_inner()),
            files: self.files.map(PathBuf::from),
        }
    }
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
        let store = self.store.validate(at, &mut problems);
        let agent_name = match &self.agent.name {
            None => crate::store::fleet::host_name(),
            Some(n) => {
                let name = n.get_ref().trim();
                let ok = !name.is_empty()
                    && name.len() <= 64
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !ok {
                    problems.0.push(at.problem(
                        n,
                        "agent.name",
                        format!(
                            "expected a name of up to 64 letters, digits, `-`, `_` or `.` (e.g. \"kanwil-1\"), got \"{}\"",
                            n.get_ref()
                        ),
                    ));
                }
                name.to_string()
            }
        };
        let max_browsers = match &self.limits.max_browsers {
            None => 4,
            Some(n) if (1..=64).contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => {
                problems.0.push(at.problem(
                    n,
                    "limits.max_browsers",
                    format!("expected a whole number from 1 to 64, got {}", n.get_ref()),
                ));
                4
            }
        };
        let max_concurrent_runs = match &self.limits.max_concurrent_runs {
            None => 2,
            Some(n) if (1..=64).contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => {
                problems.0.push(at.problem(
                    n,
                    "limits.max_concurrent_runs",
                    format!("expected a whole number from 1 to 64, got {}", n.get_ref()),
                ));
                2
            }
        };

        let mut web = WebSettings {
            enabled: self.web.enabled.unwrap_or(false),
            metrics: self.web.metrics.unwrap_or(true),
            ..WebSettings::default()
        };
        if let Some(listen) = &self.web.listen {
            match listen.get_ref().parse::<std::net::SocketAddr>() {
                Ok(addr) => web.listen = addr,
                Err(_) => problems.0.push(at.problem(
                    listen,
                    "web.listen",
                    format!(
                        "\"{}\" is not an address with a port, expected e.g. \"127.0.0.1:8080\"",
                        listen.get_ref()
                    ),
                )),
            }
        }
        if let Some(proxy) = &self.web.trusted_proxy {
            let expected = "expected an IP address such as \"127.0.0.1\" or a list of them";
            let values = match proxy.get_ref() {
                toml::Value::Array(list) => list.iter().collect(),
                one => vec![one],
            };
            for v in values {
                match v.as_str().map(|s| s.trim().parse::<std::net::IpAddr>()) {
                    Some(Ok(ip)) => web.trusted_proxies.push(ip),
                    Some(Err(_)) => problems.0.push(at.problem(
                        proxy,
                        "web.trusted_proxy",
                        format!(
                            "\"{}\" is not an IP address; {expected}",
                            v.as_str().unwrap_or_default()
                        ),
                    )),
                    None => problems.0.push(at.problem(
                        proxy,
                        "web.trusted_proxy",
                        format!("{v} is not text; {expected}"),
                    )),
                }
            }
        }

        problems.into_result(AgentConfig {
            time_zone,
            language,
            browser,
            mail,
            store,
            max_browsers,
            max_concurrent_runs,
            secrets: Default::default(),
            web,
            resume_on_start: self.agent.resume_on_start.unwrap_or(true),
            agent_name,
        })
    }
}

/// A duration field with its default, reporting a bad value into `problems`.
pub fn duration_field(
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
        let unexpected_dialog = dialog_policy(
            &self.unexpected_dialog,
            "browser.unexpected_dialog",
            at,
            problems,
        )
        .unwrap_or(defaults.unexpected_dialog);
        browser::Settings {
            driver,
            unexpected_dialog,
            driver_log: self.driver_log.unwrap_or(false),
            allowed_hosts: Vec::new(),
            http_auth: None,
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
            grid_wait: duration_field(
                &self.grid_wait,
                "browser.grid_wait",
                defaults.grid_wait,
                at,
                problems,
            ),
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
            Some(h)
                if h.get_ref().contains("://")
                    || h.get_ref().trim().contains(char::is_whitespace) =>
            {
                problems.0.push(at.problem(
                    h,
                    "mail.smtp.host",
                    format!(
                        "\"{}\" is not a host name; expected a name or address such as \"mail.example.go.id\" (the port goes in mail.smtp.port)",
                        h.get_ref()
                    ),
                ));
                String::new()
            }
            Some(h)
                if h.get_ref().contains(':')
                    && h.get_ref()
                        .trim()
                        .trim_matches(['[', ']'])
                        .parse::<std::net::Ipv6Addr>()
                        .is_err() =>
            {
                let (name, port) = h.get_ref().trim().rsplit_once(':').unwrap_or_default();
                problems.0.push(at.problem(
                    h,
                    "mail.smtp.host",
                    format!(
                        "\"{}\" holds a port; expected the host name alone (host = \"{name}\") and the port in mail.smtp.port (port = {port})",
                        h.get_ref()
                    ),
                ));
                String::new()
            }
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
        let default_port = match tls {
            mail::Tls::Implicit => 465,
            mail::Tls::StartTls => 587,
            mail::Tls::None => 25,
        };
        let port = match &self.port {
            None => default_port,
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(n) if n > 0 => n,
                _ => {
                    problems.0.push(at.problem(
                        p,
                        "mail.smtp.port",
                        format!(
                            "expected a port number from 1 to 65535 (usually 587 for STARTTLS, 465 for TLS), got {}",
                            p.get_ref()
                        ),
                    ));
                    default_port
                }
            },
        };
        match (&self.username, &self.password_secret) {
            (Some(u), None) => problems.0.push(at.problem(
                u,
                "mail.smtp.username",
                "needs mail.smtp.password_secret, the name of the secret holding the password (e.g. \"smtp_password\", read from JURU_SECRET_SMTP_PASSWORD)",
            )),
            (None, Some(p)) => problems.0.push(at.problem(
                p,
                "mail.smtp.password_secret",
                "needs mail.smtp.username, the account to log in with",
            )),
            (_, Some(p)) if !valid_secret_name(p.get_ref()) => problems.0.push(at.problem(
                p,
                "mail.smtp.password_secret",
                format!(
                    "expected the name of a secret such as \"smtp_password\" (letters, digits, `_`, `-`, `.`), got \"{}\"; the password itself never goes in this file",
                    p.get_ref()
                ),
            )),
            _ => {}
        }
        let ca_file = self.ca_file.as_ref().map(|c| {
            let base = Path::new(at.shown).parent().unwrap_or(Path::new(""));
            let path = base.join(c.get_ref());
            if !path.is_file() {
                problems.0.push(at.problem(
                    c,
                    "mail.smtp.ca_file",
                    format!(
                        "{} is not a file; expected a PEM certificate, relative to the folder of this file",
                        path.display()
                    ),
                ));
            } else if tls == mail::Tls::None {
                problems.0.push(at.problem(
                    c,
                    "mail.smtp.ca_file",
                    "is used only with tls = \"starttls\" or \"tls\"",
                ));
            }
            path
        });
        mail::SmtpSettings {
            host,
            port,
            tls,
            username: self.username.as_ref().map(|u| u.get_ref().clone()),
            password_secret: self
                .password_secret
                .as_ref()
                .map(|p| p.get_ref().trim().to_string()),
            ca_file,
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

/// `"dismiss"` or `"accept"`; `None` when not set (or wrong, reported into `problems`).
pub fn dialog_policy(
    value: &Option<Spanned<String>>,
    key: &str,
    at: &Located,
    problems: &mut Problems,
) -> Option<browser::DialogPolicy> {
    let v = value.as_ref()?;
    match v.get_ref().as_str() {
        "dismiss" => Some(browser::DialogPolicy::Dismiss),
        "accept" => Some(browser::DialogPolicy::Accept),
        other => {
            problems.0.push(at.problem(
                v,
                key,
                format!("unknown policy \"{other}\", expected \"dismiss\" or \"accept\""),
            ));
            None
        }
    }
}

/// A secret name as `secret(name)` takes it: letters, digits, `_`, `-`, `.`.
fn valid_secret_name(name: &str) -> bool {
    let name = name.trim();
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
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

/// Parses `"500ms"`, `"30s"`, `"5m"`, `"2h"` or a combination such as `"1m30s"`;
/// spaces between number and unit, and between parts, are allowed (`"30 s"`).
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
        // "30 s" as juru writes durations in its messages, and "1m 30s".
        let unit = rest[..unit_len].trim();
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
        assert_eq!(parse_duration("30 s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
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
    fn metrics_are_served_unless_turned_off() {
        assert!(AgentConfig::parse("agent.toml", "").unwrap().web.metrics);
        let c = AgentConfig::parse("agent.toml", "[web]\nmetrics = false\n").unwrap();
        assert!(!c.web.metrics);
        let err = AgentConfig::parse("config/agent.toml", "[web]\nmetrics = \"ya\"\n").unwrap_err();
        assert!(err.to_string().contains("web.metrics"), "{err}");
    }

    #[test]
    fn web_section_is_off_by_default_and_checks_its_address() {
        let c = AgentConfig::parse("agent.toml", "").unwrap();
        assert_eq!(c.web, WebSettings::default());
        let c = AgentConfig::parse(
            "agent.toml",
            "[web]\nenabled = true\nlisten = \"127.0.0.1:9090\"\n",
        )
        .unwrap();
        assert!(c.web.enabled);
        assert_eq!(c.web.listen.port(), 9090);
        let err =
            AgentConfig::parse("config/agent.toml", "[web]\nlisten = \"localhost\"\n").unwrap_err();
        assert_eq!(err.0[0].location, "config/agent.toml:2:10");
        assert!(
            err.0[0]
                .message
                .starts_with("web.listen: \"localhost\" is not an address"),
            "{err}"
        );
    }

    #[test]
    fn web_trusted_proxy_is_an_address_or_a_list() {
        let c = AgentConfig::parse("agent.toml", "[web]\ntrusted_proxy = \"127.0.0.1\"\n").unwrap();
        assert_eq!(
            c.web.trusted_proxies,
            vec![std::net::IpAddr::from([127, 0, 0, 1])]
        );
        let c = AgentConfig::parse(
            "agent.toml",
            "[web]\ntrusted_proxy = [\"10.0.0.2\", \"::1\"]\n",
        )
        .unwrap();
        assert_eq!(c.web.trusted_proxies.len(), 2);
        let err = AgentConfig::parse(
            "config/agent.toml",
            "[web]\ntrusted_proxy = [\"proxy.local\", 7]\n",
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert!(
            err.0[0]
                .message
                .starts_with("web.trusted_proxy: \"proxy.local\" is not an IP address"),
            "{err}"
        );
        assert!(err.0[1].message.contains("7 is not text"), "{err}");
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
    fn every_unknown_key_and_wrong_type_with_the_other_problems() {
        let text = "time_zone = \"Asia/Jakrta\"\nlanguag = \"en\"\n[browser]\nheadless = \"ya\"\ntimeot = \"10s\"\ntimeout = \"10 detik\"\n[limits]\nmax_browsers = \"dua\"\n[mail.smtp]\nhost = 25\n";
        let err = AgentConfig::parse("config/agent.toml", text).unwrap_err();
        let all: Vec<String> = err.0.iter().map(|p| p.to_string()).collect();
        for expected in [
            "config/agent.toml:2:1: languag: unknown field `languag`",
            "config/agent.toml:4:12: browser.headless: invalid type: string \"ya\", expected a boolean",
            "config/agent.toml:5:1: browser.timeot: unknown field `timeot`",
            "config/agent.toml:8:16: limits.max_browsers: invalid type: string \"dua\", expected i64",
            "config/agent.toml:10:8: mail.smtp.host: invalid type: integer `25`, expected a string",
            "config/agent.toml:1:13: time_zone: unknown time zone \"Asia/Jakrta\"",
            "config/agent.toml:6:11: browser.timeout: expected a duration",
        ] {
            assert!(
                all.iter().any(|p| p.starts_with(expected)),
                "missing {expected:?} in {all:#?}"
            );
        }
        assert_eq!(all.len(), 7, "one problem for each, none twice: {all:#?}");
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
    fn smtp_host_with_a_port_and_bad_ports_are_named() {
        for (text, want) in [
            (
                "host = \"smtp.x:587\"",
                "config/agent.toml:4:8: mail.smtp.host: \"smtp.x:587\" holds a port; expected the host name alone (host = \"smtp.x\") and the port in mail.smtp.port (port = 587)",
            ),
            (
                "host = \"smtp.x\"\nport = 0",
                "config/agent.toml:5:8: mail.smtp.port: expected a port number from 1 to 65535 (usually 587 for STARTTLS, 465 for TLS), got 0",
            ),
            (
                "host = \"smtp.x\"\nport = 99999",
                "config/agent.toml:5:8: mail.smtp.port: expected a port number from 1 to 65535 (usually 587 for STARTTLS, 465 for TLS), got 99999",
            ),
        ] {
            let toml = format!("[mail]\ntransport = \"smtp\"\n[mail.smtp]\n{text}\n");
            let all = AgentConfig::parse("config/agent.toml", &toml)
                .unwrap_err()
                .to_string();
            assert!(all.contains(want), "{all}");
        }
        let ok = "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"::1\"\ntls = \"none\"\n";
        assert!(AgentConfig::parse("config/agent.toml", ok).is_ok());
    }

    #[test]
    fn smtp_login_secret_and_ca_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
        let shown = dir.path().join("agent.toml").display().to_string();
        let ok = "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"mail.example.go.id\"\nusername = \"juru\"\npassword_secret = \"smtp_password\"\nca_file = \"ca.pem\"\n";
        let c = AgentConfig::parse(&shown, ok).unwrap();
        match c.mail.transport {
            mail::Transport::Smtp(s) => {
                assert_eq!((s.port, s.tls), (587, mail::Tls::StartTls));
                assert_eq!(s.password_secret.as_deref(), Some("smtp_password"));
                assert_eq!(s.ca_file, Some(dir.path().join("ca.pem")));
            }
            other => panic!("{other:?}"),
        }

        let bad = "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"smtp://mail.example.go.id:587\"\nusername = \"juru\"\nca_file = \"tidak-ada.pem\"\n";
        let err = AgentConfig::parse("config/agent.toml", bad).unwrap_err();
        let all = err.to_string();
        assert_eq!(err.len(), 3, "{all}");
        assert!(
            all.contains("config/agent.toml:4:8: mail.smtp.host: \"smtp://mail.example.go.id:587\" is not a host name"),
            "{all}"
        );
        assert!(
            all.contains(
                "config/agent.toml:5:12: mail.smtp.username: needs mail.smtp.password_secret"
            ),
            "{all}"
        );
        assert!(
            all.contains(
                "config/agent.toml:6:11: mail.smtp.ca_file: config/tidak-ada.pem is not a file"
            ),
            "{all}"
        );

        let password_in_file = "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"m.example.go.id\"\nusername = \"juru\"\npassword_secret = \"rahasia 123!\"\n";
        let err = AgentConfig::parse("a.toml", password_in_file).unwrap_err();
        assert!(
            err.to_string()
                .contains("a.toml:6:19: mail.smtp.password_secret: expected the name of a secret"),
            "{err}"
        );
        let old_key = "[mail.smtp]\nhost = \"m\"\npassword_env = \"X\"\n";
        let err = AgentConfig::parse("a.toml", old_key).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `password_env`"),
            "{err}"
        );
    }

    #[test]
    fn remote_and_local_driver_conflict() {
        let text = "[browser]\nchromedriver = \"/usr/bin/chromedriver\"\nwebdriver_url = \"http://127.0.0.1:4444\"\n";
        let err = AgentConfig::parse("a.toml", text).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
    }

    #[test]
    fn grid_wait_is_a_duration() {
        let text = "[browser]\nwebdriver_url = \"http://127.0.0.1:4444\"\ngrid_wait = \"90s\"\n";
        let c = AgentConfig::parse("a.toml", text).unwrap();
        assert_eq!(c.browser.grid_wait, std::time::Duration::from_secs(90));
        let c = AgentConfig::parse("a.toml", "").unwrap();
        assert_eq!(c.browser.grid_wait, std::time::Duration::from_secs(600));
        let err =
            AgentConfig::parse("a.toml", "[browser]\ngrid_wait = \"sebentar\"\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("a.toml:2:13: browser.grid_wait: expected a duration"),
            "{err}"
        );
    }

    #[test]
    fn store_url_tls_values_are_checked() {
        let bad = "[store]\nurl = \"postgres://juru@db.example/juru?sslmode=sometimes\"\n";
        let err = AgentConfig::parse("config/agent.toml", bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config/agent.toml:2:7: store.url: sslmode \"sometimes\" is not a TLS mode; expected disable, prefer, require, verify-ca or verify-full"
        );
        let unreadable =
            "[store]\nurl = \"postgres://juru@db/juru?sslmode=verify-full&sslrootcert=/tidak/ada.pem\"\n";
        let err = AgentConfig::parse("config/agent.toml", unreadable).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "config/agent.toml:2:7: store.url: sslrootcert /tidak/ada.pem cannot be read ("
            ),
            "{err}"
        );
        let client_cert =
            "[store]\nurl = \"postgres://juru@db/juru?sslmode=verify-full&sslcert=/c.pem\"\n";
        let err = AgentConfig::parse("config/agent.toml", client_cert).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "this one is refused: invalid connection string: unknown option `sslcert`"
            ),
            "{err}"
        );
        let ok = "[store]\nurl = \"postgres://juru@db/juru?sslmode=require&application_name=x\"\n";
        let c = AgentConfig::parse("config/agent.toml", ok).unwrap();
        assert_eq!(
            c.store.url.as_deref(),
            Some("postgres://juru@db/juru?sslmode=require&application_name=x")
        );
    }
}
