//! A bot: the folder `bots/<name>/` with its manifest `bot.toml` and its script
//! `main.rhai`, loaded, validated and compiled before anything runs.
//!
//! Loading collects every problem in the manifest and the script at once (file,
//! line and key). Blocking and cheap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::{self, Located};
use crate::script::Source;
use crate::{Problem, Problems};

pub mod output;
pub use output::{ColumnSource, CsvEncoding, ResultColumn, ResultFile, ResultFormat};

/// A loaded, valid bot.
#[derive(Debug, Clone)]
pub struct Bot {
    pub name: String,
    pub description: String,
    /// The bot folder.
    pub dir: PathBuf,
    pub input: Input,
    pub timeout_per_item: Duration,
    /// `notify.officers`: the exception report, when there are exceptions.
    pub officers: Vec<String>,
    /// `notify.supervisors`: the run summary, on every run.
    pub supervisors: Vec<String>,
    /// `notify.cc`: copied on every mail of the run.
    pub cc: Vec<String>,
    /// `notify.attachment_name`: the file name of the attached exceptions workbook.
    pub attachment_name: Option<String>,
    /// `notify.key_columns`: input columns that say who a row is about, shown
    /// with the row number to officers (default: the first two required columns).
    pub key_columns: Vec<String>,
    /// `notify.max_mail_mb`: the largest mail with the exceptions workbook, in
    /// bytes (screenshots beyond it are left out of the workbook).
    pub max_mail_bytes: u64,
    /// `[vars]`: values the script reads as `vars.NAME`.
    pub vars: BTreeMap<String, toml::Value>,
    /// `main.rhai`, checked to compile and to define `process(item)`.
    pub script: Source,
    /// `[browser]`: this bot's overrides of the agent's browser settings.
    pub browser: BrowserOverrides,
    /// `[login] detect`: a selector only the login page has; seeing it after a
    /// failure means the session expired.
    pub login_detect: String,
    /// `[login.http]`, if the system asks for an HTTP login.
    pub login_http: Option<LoginHttp>,
    /// `[run]`: how items are worked through.
    pub run: RunSettings,
    /// `[rules]`: failures that are the data's fault, not the system's.
    pub rules: Rules,
    /// `[[output.files]]`: result files in the office's own shape.
    pub result_files: Vec<ResultFile>,
}

/// How a bot's items are worked through (`[run]` in bot.toml).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Browser sessions working in parallel (capped by agent.toml `[limits] max_browsers`).
    pub workers: usize,
    /// The most items of this bot in browsers at once, across all its runs and, on
    /// a fleet's store, every agent (the legacy system's limit of sessions for the
    /// bot's account), if set.
    pub max_browsers: Option<usize>,
    /// How often an item is retried after a system exception.
    pub max_retries: u32,
    /// After this many system exceptions in a row the run stops (0 = never).
    pub circuit_breaker: usize,
    /// At most this many items start per minute, if set.
    pub rate_per_minute: Option<f64>,
    /// The whole run may take at most this long, if set.
    pub timeout: Option<Duration>,
    /// Runs over different inputs may go on at the same time (runs over the same
    /// input never do). Off by default: one run of the bot at a time.
    pub parallel_runs: bool,
    /// Every item is looked up with the script's `verify(item)` before
    /// `process(item)`: an item already in the system is done without typing it
    /// again (re-runs of the same workbook create nothing twice).
    pub verify_first: bool,
    /// `[login] attempts`: how many times `login()` is tried, each in a fresh
    /// browser session, before the run gives up.
    pub login_attempts: u32,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            workers: 1,
            max_browsers: None,
            max_retries: 2,
            circuit_breaker: 5,
            rate_per_minute: None,
            timeout: None,
            parallel_runs: false,
            verify_first: false,
            login_attempts: 3,
        }
    }
}

/// Rules that turn a failure into a business exception (`[rules]` in bot.toml).
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// When this element is visible on the page after a failure, its text is the
    /// business reason (the portal's own error message).
    pub business_when_visible: Option<String>,
    /// A failure whose message contains one of these is a business exception.
    pub business_messages: Vec<String>,
}

/// Browser settings a bot may set for its own site.
#[derive(Debug, Clone, Default)]
pub struct BrowserOverrides {
    pub timeout: Option<Duration>,
    pub page_load_timeout: Option<Duration>,
    pub unexpected_dialog: Option<crate::browser::DialogPolicy>,
    /// `allowed_hosts`: the only hosts the browser may go to (empty: any).
    pub allowed_hosts: Vec<String>,
}

impl BrowserOverrides {
    /// The agent's settings with this bot's overrides applied.
    pub fn apply(&self, mut settings: crate::browser::Settings) -> crate::browser::Settings {
        if let Some(t) = self.timeout {
            settings.timeout = t;
        }
        if let Some(t) = self.page_load_timeout {
            settings.page_load_timeout = t;
        }
        if let Some(p) = self.unexpected_dialog {
            settings.unexpected_dialog = p;
        }
        if !self.allowed_hosts.is_empty() {
            settings.allowed_hosts = self.allowed_hosts.clone();
        }
        settings
    }
}

/// The login page detector when bot.toml does not set one.
pub const DEFAULT_LOGIN_DETECT: &str = "input[type=password]";

#[derive(Debug, Clone)]
pub struct Input {
    /// The workbook, relative to the bot folder unless absolute.
    pub workbook: PathBuf,
    /// How to read it: sheet, header row, renames, date columns, filter,
    /// required columns, CSV settings (`[input]` keys other than `workbook`).
    pub read: crate::sheet::ReadOptions,
    /// `attachments`: folders (besides the input workbook's own) the script may read
    /// and upload files from; relative to the bot folder unless absolute.
    pub attachments: Vec<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BotFile {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    input: InputFile,
    #[serde(default)]
    run: RunFile,
    #[serde(default)]
    notify: NotifyFile,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
    #[serde(default)]
    browser: BotBrowserFile,
    #[serde(default)]
    login: LoginFile,
    #[serde(default)]
    output: output::OutputFile,
    #[serde(default)]
    rules: RulesFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BotBrowserFile {
    timeout: Option<Spanned<String>>,
    page_load_timeout: Option<Spanned<String>>,
    unexpected_dialog: Option<Spanned<String>>,
    allowed_hosts: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginFile {
    detect: Option<String>,
    attempts: Option<Spanned<i64>>,
    http: Option<Spanned<LoginHttpFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginHttpFile {
    user: String,
    password: String,
    hosts: Vec<String>,
}

/// `[login.http]`: an HTTP Basic or Digest login the browser answers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginHttp {
    /// The secret holding the user name.
    pub user_secret: String,
    /// The secret holding the password.
    pub password_secret: String,
    /// The hosts the credentials are for (lower case).
    pub hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    workbook: Spanned<String>,
    /// A sheet name or its 1-based position.
    sheet: Option<Spanned<toml::Value>>,
    header_row: Option<Spanned<toml::Value>>,
    #[serde(default)]
    required: Vec<String>,
    /// Header in the workbook -> the name the bot uses.
    #[serde(default)]
    rename: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    dates: Vec<String>,
    /// Column -> the value (or values) a row must have to be a work item.
    #[serde(default)]
    filter: BTreeMap<String, Spanned<toml::Value>>,
    trim: Option<bool>,
    #[serde(default)]
    csv: InputCsvFile,
    #[serde(default)]
    attachments: Vec<Spanned<String>>,
    /// Column -> its declared type (`"nik"`, `"date"`, `"rupiah"`…).
    #[serde(default)]
    columns: BTreeMap<String, Spanned<toml::Value>>,
    /// Rows hidden by a filter or by hand are passed over.
    visible_only: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputCsvFile {
    delimiter: Option<Spanned<toml::Value>>,
    encoding: Option<Spanned<toml::Value>>,
}

impl InputFile {
    /// The `[input]` keys other than `workbook` as read options; every problem
    /// goes to `problems`.
    fn read_options(self, at: &Located, problems: &mut Problems) -> crate::sheet::ReadOptions {
        use crate::sheet::{parse_delimiter, Encoding, ReadOptions, SheetRef};
        let mut options = ReadOptions {
            required: self.required,
            dates: self.dates,
            trim: self.trim.unwrap_or(true),
            visible_only: self.visible_only.unwrap_or(false),
            ..ReadOptions::default()
        };
        if let Some(sheet) = &self.sheet {
            match sheet.get_ref() {
                toml::Value::String(name) if !name.trim().is_empty() => {
                    options.sheet = Some(SheetRef::Name(name.clone()));
                }
                toml::Value::Integer(i) if *i >= 1 => {
                    options.sheet =
                        Some(SheetRef::Index(usize::try_from(*i).unwrap_or(usize::MAX)));
                }
                _ => problems.0.push(at.problem(
                    sheet,
                    "input.sheet",
                    "expected a sheet name (\"Permohonan\") or its position (1 = the first sheet)",
                )),
            }
        }
        if let Some(row) = &self.header_row {
            let number = row
                .get_ref()
                .as_integer()
                .and_then(|i| u32::try_from(i).ok());
            match number {
                Some(r) if (1..=1_048_576).contains(&r) => options.header_row = Some(r),
                _ => problems.0.push(at.problem(
                    row,
                    "input.header_row",
                    format!(
                        "{} is not a row number; expected the header's row as Excel shows it (1 = the first row)",
                        row.get_ref()
                    ),
                )),
            }
        }
        for (from, to) in self.rename {
            match to.get_ref().as_str() {
                Some(name) if !name.trim().is_empty() => {
                    options.rename.push((from, name.to_string()));
                }
                _ => problems.0.push(at.problem(
                    &to,
                    &format!("input.rename.\"{from}\""),
                    "expected the name the bot uses for this column, as text",
                )),
            }
        }
        for (column, value) in self.filter {
            let values = match value.get_ref() {
                toml::Value::Array(items) if !items.is_empty() => {
                    items.iter().map(filter_text).collect::<Option<Vec<_>>>()
                }
                toml::Value::Array(_) => None,
                single => filter_text(single).map(|v| vec![v]),
            };
            match values {
                Some(values) => options.filter.push((column, values)),
                None => problems.0.push(at.problem(
                    &value,
                    &format!("input.filter.\"{column}\""),
                    "expected the value a row must have (\"BARU\"), or a list of values ([\"BARU\", \"ULANG\"])",
                )),
            }
        }
        for (column, ty) in self.columns {
            let parsed = match ty.get_ref().as_str() {
                Some(name) => crate::sheet::ColumnType::parse(name),
                None => Err(format!(
                    "expected the column's type as text, one of {}",
                    crate::sheet::TYPE_NAMES
                )),
            };
            match parsed {
                Ok(t) => options.columns.push((column, t)),
                Err(m) => {
                    problems
                        .0
                        .push(at.problem(&ty, &format!("input.columns.\"{column}\""), m))
                }
            }
        }
        if let Some(d) = &self.csv.delimiter {
            match parse_delimiter(&value_text(d.get_ref())) {
                Ok(delimiter) => options.csv.delimiter = delimiter,
                Err(m) => problems.0.push(at.problem(d, "input.csv.delimiter", m)),
            }
        }
        if let Some(e) = &self.csv.encoding {
            match Encoding::parse(&value_text(e.get_ref())) {
                Ok(encoding) => options.csv.encoding = encoding,
                Err(m) => problems.0.push(at.problem(e, "input.csv.encoding", m)),
            }
        }
        options
    }
}

/// A string as it is, any other value as TOML writes it (for messages).
fn value_text(value: &toml::Value) -> String {
    match value.as_str() {
        Some(s) => s.to_string(),
        None => value.to_string(),
    }
}

/// A filter value as the text a cell must show; `None` for tables and arrays.
fn filter_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(crate::sheet::Cell::Float(*f).to_text()),
        toml::Value::Boolean(b) => Some(crate::sheet::Cell::Bool(*b).to_text()),
        toml::Value::Datetime(d) => Some(match (d.date, d.time) {
            // A date as cells show dates (dd/mm/yyyy).
            (Some(day), None) => format!("{:02}/{:02}/{:04}", day.day, day.month, day.year),
            _ => d.to_string(),
        }),
        toml::Value::Array(_) | toml::Value::Table(_) => None,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile {
    timeout_per_item: Option<Spanned<String>>,
    workers: Option<Spanned<i64>>,
    max_browsers: Option<Spanned<i64>>,
    max_retries: Option<Spanned<i64>>,
    circuit_breaker: Option<Spanned<i64>>,
    rate_per_minute: Option<Spanned<f64>>,
    timeout: Option<Spanned<String>>,
    parallel_runs: Option<bool>,
    verify_first: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    business_when_visible: Option<String>,
    #[serde(default)]
    business_messages: Vec<String>,
}

/// `(line, column)` of a location `file:line:col` (zeros without them).
fn line_and_column(location: &str) -> (u64, u64) {
    let mut parts = location
        .rsplit(':')
        .filter_map(|p| p.trim().parse::<u64>().ok());
    let col = parts.next().unwrap_or(0);
    let line = parts.next().unwrap_or(0);
    (line, col)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyFile {
    #[serde(default)]
    officers: Vec<Spanned<String>>,
    #[serde(default)]
    supervisors: Vec<Spanned<String>>,
    #[serde(default)]
    cc: Vec<Spanned<String>>,
    attachment_name: Option<Spanned<String>>,
    key_columns: Option<Vec<String>>,
    max_mail_mb: Option<Spanned<i64>>,
}

/// The names of the bot folders under `bots_dir` (folders holding a bot.toml), sorted.
pub fn list(bots_dir: &Path) -> Result<Vec<String>, Problem> {
    let entries = std::fs::read_dir(bots_dir).map_err(|e| {
        Problem::new(
            bots_dir.display().to_string(),
            format!("cannot read the bots folder: {e}"),
        )
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("bot.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Loads `bots_dir/<name>`: manifest and script, every problem at once.
pub fn load(bots_dir: &Path, name: &str) -> Result<Bot, Problems> {
    let dir = bots_dir.join(name);
    let manifest = dir.join("bot.toml");
    let script_path = dir.join("main.rhai");
    if !manifest.is_file() {
        let known = list(bots_dir).unwrap_or_default();
        let hint = if known.is_empty() {
            format!("there are no bots in {}", bots_dir.display())
        } else {
            format!("the bots are: {}", known.join(", "))
        };
        return Err(Problem::new(
            manifest.display().to_string(),
            format!("no bot named \"{name}\" (missing bot.toml); {hint}"),
        )
        .into());
    }
    let shown = manifest.display().to_string();
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| Problem::new(&shown, format!("cannot read the manifest: {e}")))?;
    // Every unknown key and wrong type of the manifest; what is left is validated.
    let mut parsed = config::parse_all::<BotFile>(&shown, &text);
    let file = parsed.value.take();
    let mut problems = Problems::default();
    let script_shown = script_path.display().to_string();
    let mut defines_verify = true;
    let script = match Source::load(&script_path, &script_shown)
        .and_then(|source| source.compile().map(|compiled| (source, compiled)))
    {
        Ok((source, compiled)) => {
            if !compiled.defines("process", 1) {
                problems.push(
                    &script_shown,
                    "the script must define `fn process(item)`, called once for each work item",
                );
            }
            defines_verify = compiled.defines("verify", 1);
            Some(source)
        }
        Err(p) => {
            problems.0.push(p);
            None
        }
    };
    let at = Located {
        shown: &shown,
        text: &text,
    };
    let mut validation = Problems::default();
    let bot = file.map(|f| f.validate(name, &dir, &at, &mut validation));
    if bot.as_ref().is_some_and(|b| b.run.verify_first) && !defines_verify {
        problems.push(
            &script_shown,
            "run.verify_first = true in bot.toml needs `fn verify(item)` in the script, returning true when the item is already in the system",
        );
    }
    let mut all = parsed.with(validation);
    all.extend(problems);
    let problems = all;
    match (bot, script, problems.is_empty()) {
        (Some(mut bot), Some(script), true) => {
            bot.script = script;
            Ok(bot)
        }
        _ => Err(problems),
    }
}

impl BotFile {
    fn validate(self, folder: &str, dir: &Path, at: &Located, problems: &mut Problems) -> Bot {
        if self.name.get_ref() != folder {
            problems.0.push(at.problem(
                &self.name,
                "name",
                format!(
                    "\"{}\" differs from the folder name \"{folder}\"; they must be the same",
                    self.name.get_ref()
                ),
            ));
        }
        if self.input.workbook.get_ref().trim().is_empty() {
            problems.0.push(at.problem(
                &self.input.workbook,
                "input.workbook",
                "must name the input workbook, e.g. \"inbox/permohonan.xlsx\"",
            ));
        }
        let defaults = RunSettings::default();
        let mut whole =
            |v: &Option<Spanned<i64>>, key: &str, min: i64, max: i64, default: i64| -> i64 {
                match v {
                    None => default,
                    Some(n) if (min..=max).contains(n.get_ref()) => *n.get_ref(),
                    Some(n) => {
                        problems.0.push(at.problem(
                            n,
                            key,
                            format!(
                                "expected a whole number from {min} to {max}, got {}",
                                n.get_ref()
                            ),
                        ));
                        default
                    }
                }
            };
        let run = RunSettings {
            parallel_runs: self.run.parallel_runs.unwrap_or(false),
            verify_first: self.run.verify_first.unwrap_or(false),
            login_attempts: whole(
                &self.login.attempts,
                "login.attempts",
                1,
                10,
                defaults.login_attempts as i64,
            ) as u32,
            workers: whole(&self.run.workers, "run.workers", 1, 16, 1) as usize,
            max_browsers: self
                .run
                .max_browsers
                .as_ref()
                .map(|_| whole(&self.run.max_browsers, "run.max_browsers", 1, 64, 1) as usize),
            max_retries: whole(
                &self.run.max_retries,
                "run.max_retries",
                0,
                10,
                defaults.max_retries as i64,
            ) as u32,
            circuit_breaker: whole(
                &self.run.circuit_breaker,
                "run.circuit_breaker",
                0,
                1000,
                defaults.circuit_breaker as i64,
            ) as usize,
            timeout: self.run.timeout.as_ref().map(|v| {
                config::duration_field(
                    &Some(v.clone()),
                    "run.timeout",
                    Duration::from_secs(3600),
                    at,
                    problems,
                )
            }),
            rate_per_minute: match &self.run.rate_per_minute {
                None => None,
                Some(r) if *r.get_ref() > 0.0 && r.get_ref().is_finite() => Some(*r.get_ref()),
                Some(r) => {
                    problems.0.push(at.problem(
                        r,
                        "run.rate_per_minute",
                        format!(
                            "expected a number of items per minute above 0, got {}",
                            r.get_ref()
                        ),
                    ));
                    None
                }
            },
        };
        let rules = Rules {
            business_when_visible: self
                .rules
                .business_when_visible
                .filter(|s| !s.trim().is_empty()),
            business_messages: self
                .rules
                .business_messages
                .into_iter()
                .filter(|s| !s.trim().is_empty())
                .collect(),
        };
        let timeout_per_item = match &self.run.timeout_per_item {
            None => Duration::from_secs(180),
            Some(v) => config::parse_duration(v.get_ref()).unwrap_or_else(|m| {
                problems.0.push(at.problem(v, "run.timeout_per_item", m));
                Duration::from_secs(180)
            }),
        };
        let first = problems.0.len();
        let mut addresses = |list: Vec<Spanned<String>>, key: &str| -> Vec<String> {
            list.into_iter()
                .filter_map(|a| match crate::mail::parse_mailbox(a.get_ref()) {
                    Ok(_) => Some(a.into_inner()),
                    Err(m) => {
                        problems.0.push(at.problem(&a, key, m));
                        None
                    }
                })
                .collect()
        };
        let officers = addresses(self.notify.officers, "notify.officers");
        let supervisors = addresses(self.notify.supervisors, "notify.supervisors");
        let cc = addresses(self.notify.cc, "notify.cc");
        // In the order of the file, whatever the order of the keys.
        problems.0[first..].sort_by_key(|p| line_and_column(&p.location));
        let attachment_name = self.notify.attachment_name.map(|n| {
            let name = n.get_ref().trim();
            if name.is_empty() || name.contains(['/', '\\']) || !name.to_lowercase().ends_with(".xlsx") {
                problems.0.push(at.problem(
                    &n,
                    "notify.attachment_name",
                    format!("expected a file name ending in .xlsx without folders, such as \"Laporan Pengecualian.xlsx\", got \"{}\"", n.get_ref()),
                ));
            }
            name.to_string()
        });
        let key_columns: Vec<String> = match self.notify.key_columns {
            Some(list) => list
                .into_iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
            None => self.input.required.iter().take(2).cloned().collect(),
        };
        let max_mail_mb = match &self.notify.max_mail_mb {
            None => crate::report::DEFAULT_MAX_MAIL_MB,
            Some(v) => match u64::try_from(*v.get_ref()) {
                Ok(n) if (1..=1024).contains(&n) => n,
                _ => {
                    problems.0.push(at.problem(
                        v,
                        "notify.max_mail_mb",
                        format!(
                            "expected a whole number of megabytes from 1 to 1024, got {}",
                            v.get_ref()
                        ),
                    ));
                    crate::report::DEFAULT_MAX_MAIL_MB
                }
            },
        };
        let browser = BrowserOverrides {
            timeout: self.browser.timeout.as_ref().map(|v| {
                config::duration_field(
                    &Some(v.clone()),
                    "browser.timeout",
                    Duration::from_secs(30),
                    at,
                    problems,
                )
            }),
            page_load_timeout: self.browser.page_load_timeout.as_ref().map(|v| {
                config::duration_field(
                    &Some(v.clone()),
                    "browser.page_load_timeout",
                    Duration::from_secs(60),
                    at,
                    problems,
                )
            }),
            unexpected_dialog: config::dialog_policy(
                &self.browser.unexpected_dialog,
                "browser.unexpected_dialog",
                at,
                problems,
            ),
            allowed_hosts: allowed_hosts(&self.browser.allowed_hosts, at, problems),
        };
        let login_detect = self
            .login
            .detect
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_LOGIN_DETECT.to_string());
        let result_files = self.output.validate(at, problems);
        let login_http = self.login.http.as_ref().and_then(|h| {
            let v = h.get_ref();
            let mut ok = true;
            for (key, name) in [("user", &v.user), ("password", &v.password)] {
                if name.trim().is_empty() {
                    ok = false;
                    problems.0.push(at.problem(
                        h,
                        &format!("login.http.{key}"),
                        "must name a secret (set as JURU_SECRET_<NAME> or in config/secrets.toml), e.g. \"portal_user\"",
                    ));
                }
            }
            let mut hosts = Vec::new();
            for host in &v.hosts {
                match crate::browser::host_pattern(host) {
                    Ok(p) => hosts.push(p),
                    Err(e) => {
                        ok = false;
                        problems.0.push(at.problem(h, "login.http.hosts", e));
                    }
                }
            }
            if v.hosts.is_empty() {
                ok = false;
                problems.0.push(at.problem(
                    h,
                    "login.http.hosts",
                    "must name the hosts the user name and password are for, e.g. [\"simpeg.example.go.id\"]; they are given to no other",
                ));
            }
            ok.then(|| LoginHttp {
                user_secret: v.user.trim().to_string(),
                password_secret: v.password.trim().to_string(),
                hosts,
            })
        });
        Bot {
            run,
            rules,
            result_files,
            browser,
            login_detect,
            login_http,
            name: folder.to_string(),
            description: self.description,
            dir: dir.to_path_buf(),
            input: Input {
                workbook: PathBuf::from(self.input.workbook.get_ref()),
                attachments: attachment_dirs(&self.input.attachments, dir, at, problems),
                read: self.input.read_options(at, problems),
            },
            timeout_per_item,
            officers,
            supervisors,
            cc,
            attachment_name,
            key_columns,
            max_mail_bytes: max_mail_mb * 1024 * 1024,
            vars: self.vars,
            script: Source {
                text: String::new(),
                shown: String::new(),
            },
        }
    }
}

/// `[browser] allowed_hosts`, each entry checked ([`crate::browser::host_pattern`]).
fn allowed_hosts(
    value: &Option<Spanned<Vec<Spanned<String>>>>,
    at: &config::Located,
    problems: &mut Problems,
) -> Vec<String> {
    let Some(list) = value else {
        return Vec::new();
    };
    if list.get_ref().is_empty() {
        problems.0.push(at.problem(
            list,
            "browser.allowed_hosts",
            "expected at least one host name; leave the key out to let the bot go to any host",
        ));
    }
    let mut hosts = Vec::new();
    for host in list.get_ref() {
        match crate::browser::host_pattern(host.get_ref()) {
            Ok(h) => hosts.push(h),
            Err(m) => problems
                .0
                .push(at.problem(host, "browser.allowed_hosts", m)),
        }
    }
    hosts
}

impl Bot {
    /// The input workbook path: `override_path` if given, else the manifest's, taken
    /// relative to the bot folder.
    /// The folders the script may read and upload files from besides its own and
    /// the run's: the input workbook's folder (and, for a workbook an inbox moved to
    /// `processing/`, the inbox itself, where attachments sent with it wait), then
    /// `[input] attachments`.
    pub fn input_dirs(&self, input: &Path) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(folder) = input.parent().filter(|p| !p.as_os_str().is_empty()) {
            dirs.push(folder.to_path_buf());
            if folder.file_name().is_some_and(|n| n == "processing") {
                if let Some(inbox) = folder.parent() {
                    dirs.push(inbox.to_path_buf());
                }
            }
        }
        dirs.extend(self.input.attachments.iter().cloned());
        dirs
    }

    pub fn input_path(&self, override_path: Option<&Path>) -> PathBuf {
        match override_path {
            Some(p) => p.to_path_buf(),
            None if self.input.workbook.is_absolute() => self.input.workbook.clone(),
            None => self.dir.join(&self.input.workbook),
        }
    }
}

/// `[input] attachments`: existing folders, relative to the bot folder unless absolute.
fn attachment_dirs(
    list: &[Spanned<String>],
    dir: &Path,
    at: &Located,
    problems: &mut Problems,
) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for entry in list {
        let path = Path::new(entry.get_ref().trim());
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            dir.join(path)
        };
        if entry.get_ref().trim().is_empty() || !full.is_dir() {
            problems.0.push(at.problem(
                entry,
                "input.attachments",
                format!(
                    "\"{}\" is not a folder ({} does not exist or is not a folder); expected folders the script may read and upload files from",
                    entry.get_ref(),
                    full.display()
                ),
            ));
            continue;
        }
        dirs.push(full);
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot_dir(manifest: &str, script: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("izin");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("bot.toml"), manifest).unwrap();
        std::fs::write(b.join("main.rhai"), script).unwrap();
        dir
    }

    const OK: &str = "name = \"izin\"\n[input]\nworkbook = \"in.xlsx\"\nrequired = [\"NIK\"]\n[notify]\nofficers = [\"loket@example.go.id\"]\n[vars]\nportal_url = \"http://127.0.0.1:1\"\n";

    #[test]
    fn loads_a_valid_bot() {
        let dir = bot_dir(OK, "fn process(item) { log(item[\"NIK\"]); }\n");
        let bot = load(dir.path(), "izin").unwrap();
        assert_eq!(bot.officers, vec!["loket@example.go.id".to_string()]);
        assert_eq!(bot.input.read.required, vec!["NIK".to_string()]);
        assert_eq!(bot.input_path(None), dir.path().join("izin/in.xlsx"));
        assert!(bot.vars.contains_key("portal_url"));
    }

    #[test]
    fn input_keys_become_read_options() {
        use crate::sheet::{Encoding, SheetRef};
        let manifest = OK.replace(
            "required = [\"NIK\"]\n",
            "required = [\"NIK\"]\nsheet = 2\nheader_row = 3\nrename = { \"No KTP\" = \"NIK\" }\ndates = [\"Tanggal Lahir\"]\nfilter = { Status = \"BARU\", Tahun = [2024, 2025], Tanggal = 2024-01-05 }\ntrim = false\ncsv = { delimiter = \";\", encoding = \"windows-1252\" }\n",
        );
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let bot = load(dir.path(), "izin").unwrap();
        let read = &bot.input.read;
        assert_eq!(read.sheet, Some(SheetRef::Index(2)));
        assert_eq!(read.header_row, Some(3));
        assert_eq!(read.rename, vec![("No KTP".to_string(), "NIK".to_string())]);
        assert_eq!(read.dates, vec!["Tanggal Lahir".to_string()]);
        assert_eq!(
            read.filter,
            vec![
                ("Status".to_string(), vec!["BARU".to_string()]),
                (
                    "Tahun".to_string(),
                    vec!["2024".to_string(), "2025".to_string()]
                ),
                ("Tanggal".to_string(), vec!["05/01/2024".to_string()]),
            ]
        );
        assert!(!read.trim);
        assert_eq!(read.csv.delimiter, Some(b';'));
        assert_eq!(read.csv.encoding, Encoding::Windows1252);

        let manifest = OK.replace("required", "sheet = \"Data\"\nrequired");
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let bot = load(dir.path(), "izin").unwrap();
        assert_eq!(bot.input.read.sheet, Some(SheetRef::Name("Data".into())));
        assert!(bot.input.read.trim);
    }

    #[test]
    fn bad_input_keys_are_all_reported_with_lines() {
        let manifest = OK.replace(
            "required = [\"NIK\"]\n",
            "sheet = 0\nheader_row = -1\nrename = { \"No KTP\" = \" \" }\nfilter = { Status = [] }\ncsv = { delimiter = \"::\", encoding = \"ebcdic\" }\n",
        );
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let all = load(dir.path(), "izin").unwrap_err().to_string();
        for expected in [
            "bot.toml:4:9: input.sheet: expected a sheet name",
            "bot.toml:5:14: input.header_row: -1 is not a row number",
            "bot.toml:6:23: input.rename.\"No KTP\": expected the name the bot uses for this column, as text",
            "bot.toml:7:21: input.filter.\"Status\": expected the value a row must have",
            "bot.toml:8:21: input.csv.delimiter: \"::\" is not a delimiter",
            "bot.toml:8:38: input.csv.encoding: \"ebcdic\" is not an encoding",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }

        let manifest = OK.replace("required", "colums = []\nrequired");
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let all = load(dir.path(), "izin").unwrap_err().to_string();
        assert!(
            all.contains("bot.toml:4:1: input.colums: unknown field `colums`"),
            "{all}"
        );
    }

    #[test]
    fn declared_column_types() {
        use crate::sheet::ColumnType;
        let manifest = OK.replace(
            "required = [\"NIK\"]\n",
            "required = [\"NIK\"]\n[input.columns]\nNIK = \"nik\"\n\"Gaji Pokok\" = \"Rupiah\"\n",
        );
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let bot = load(dir.path(), "izin").unwrap();
        assert_eq!(
            bot.input.read.columns,
            vec![
                ("Gaji Pokok".to_string(), ColumnType::Rupiah),
                ("NIK".to_string(), ColumnType::Nik),
            ]
        );
        let manifest = OK.replace(
            "required = [\"NIK\"]\n",
            "required = [\"NIK\"]\n[input.columns]\nNIK = \"ktp\"\nUmur = 3\n",
        );
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let all = load(dir.path(), "izin").unwrap_err().to_string();
        for expected in [
            "bot.toml:6:7: input.columns.\"NIK\": \"ktp\" is not a column type juru knows; expected \"text\", \"nik\"",
            "bot.toml:7:8: input.columns.\"Umur\": expected the column's type as text",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
    }

    #[test]
    fn every_unknown_key_and_wrong_type_is_reported_with_the_other_problems() {
        let manifest = OK
            .replace(
                "required = [\"NIK\"]\n",
                "required = [\"NIK\"]\nsheeet = \"Data\"\ntrim = \"ya\"\n",
            )
            .replace("[notify]\n", "[notify]\nofficer = []\n")
            .replace(
                "[vars]",
                "[run]\nworkers = \"dua\"\ntimeout_per_item = \"2 menit\"\n[vars]",
            )
            .replace("loket@example.go.id", "loket at example");
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let problems = load(dir.path(), "izin").unwrap_err();
        let all: Vec<String> = problems.0.iter().map(|p| p.to_string()).collect();
        let shown = dir.path().join("izin/bot.toml").display().to_string();
        for expected in [
            format!("{shown}:5:1: input.sheeet: unknown field `sheeet`"),
            format!("{shown}:6:8: input.trim: invalid type: string \"ya\", expected a boolean"),
            format!("{shown}:8:1: notify.officer: unknown field `officer`"),
            format!("{shown}:11:11: run.workers: invalid type: string \"dua\", expected i64"),
            format!("{shown}:9:13: notify.officers: \"loket at example\" is not a mail address"),
            format!("{shown}:12:20: run.timeout_per_item: expected a duration"),
        ] {
            assert!(
                all.iter().any(|p| p.starts_with(&expected)),
                "missing {expected:?} in {all:#?}"
            );
        }
        assert_eq!(all.len(), 6, "{all:#?}");
    }

    #[test]
    fn reports_manifest_and_script_problems_together() {
        let manifest = OK
            .replace("[notify]", "[notify]\nofficer = []")
            .replace("name = \"izin\"", "name = \"izn\"");
        let dir = bot_dir(&manifest, "fn process(item) {\n  let x = ;\n}\n");
        let problems = load(dir.path(), "izin").unwrap_err();
        let all = problems.to_string();
        assert!(
            all.contains("bot.toml:6:1: notify: unknown field `officer`")
                || all.contains("unknown field `officer`"),
            "{all}"
        );
        assert!(all.contains("main.rhai:2:"), "{all}");
    }

    #[test]
    fn notify_cc_and_attachment_name() {
        let manifest = OK.replace(
            "[vars]",
            "supervisors = [\"kabid@example.go.id\"]\ncc = [\"Arsip <arsip@example.go.id>\"]\nattachment_name = \"Laporan Pengecualian – Dinas Perizinan.xlsx\"\n[vars]",
        );
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let bot = load(dir.path(), "izin").unwrap();
        assert_eq!(bot.supervisors, vec!["kabid@example.go.id".to_string()]);
        assert_eq!(bot.cc, vec!["Arsip <arsip@example.go.id>".to_string()]);
        assert_eq!(
            bot.attachment_name.as_deref(),
            Some("Laporan Pengecualian – Dinas Perizinan.xlsx")
        );

        let manifest = OK.replace(
            "[vars]",
            "cc = [\"arsip at example\"]\nattachment_name = \"laporan/x.pdf\"\n[vars]",
        );
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let all = load(dir.path(), "izin").unwrap_err().to_string();
        assert!(
            all.contains("bot.toml:7:7: notify.cc: \"arsip at example\" is not a mail address"),
            "{all}"
        );
        assert!(
            all.contains(
                "bot.toml:8:19: notify.attachment_name: expected a file name ending in .xlsx"
            ),
            "{all}"
        );
    }

    #[test]
    fn address_problems_in_plain_words_and_file_order() {
        let manifest = "name = \"izin\"\n[input]\nworkbook = \"in.xlsx\"\n[notify]\ncc = [\"arsip@\"]\nsupervisors = [\"Kabid <kabid@x.id\"]\nofficers = [\"loket at example\", \"a b@x.id\"]\nkey_columns = [\"NIK\"]\nmax_mail_mb = 0\n";
        let dir = bot_dir(manifest, "fn process(item) {}\n");
        let err = load(dir.path(), "izin").unwrap_err();
        let all = err.to_string();
        assert!(!all.contains("Invalid input"), "{all}");
        let lines: Vec<&str> = all.lines().filter(|l| l.contains("notify.")).collect();
        assert_eq!(lines.len(), 5, "{all}");
        assert!(
            lines[0].contains(
                ":5:7: notify.cc: \"arsip@\" is not a mail address (no domain comes after the @)"
            ),
            "{all}"
        );
        assert!(lines[1].contains(":6:16: notify.supervisors: \"Kabid <kabid@x.id\" is not a mail address (its < and > do not match)"), "{all}");
        assert!(
            lines[2].contains(
                ":7:13: notify.officers: \"loket at example\" is not a mail address (it has no @)"
            ),
            "{all}"
        );
        assert!(
            lines[3].contains(
                ":7:33: notify.officers: \"a b@x.id\" is not a mail address (it holds a space)"
            ),
            "{all}"
        );
        assert!(lines[4].contains(":9:15: notify.max_mail_mb: expected a whole number of megabytes from 1 to 1024, got 0"), "{all}");
    }

    #[test]
    fn missing_process_and_bad_address() {
        let manifest = OK.replace("loket@example.go.id", "loket at example");
        let dir = bot_dir(&manifest, "fn init() {}\n");
        let all = load(dir.path(), "izin").unwrap_err().to_string();
        assert!(all.contains("must define `fn process(item)`"), "{all}");
        assert!(
            all.contains("notify.officers: \"loket at example\" is not a mail address"),
            "{all}"
        );
        assert!(all.contains("bot.toml:6:"), "{all}");
    }

    #[test]
    fn browser_allowed_hosts() {
        let manifest = format!(
            "{OK}[browser]\nallowed_hosts = [\"Portal.Example.go.id\", \"*.dinas.go.id\"]\n"
        );
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let bot = load(dir.path(), "izin").unwrap();
        assert_eq!(
            bot.browser.allowed_hosts,
            vec![
                "portal.example.go.id".to_string(),
                "*.dinas.go.id".to_string()
            ]
        );
        let settings = bot.browser.apply(crate::browser::Settings::default());
        assert_eq!(settings.allowed_hosts, bot.browser.allowed_hosts);

        let manifest = format!(
            "{OK}[browser]\nallowed_hosts = [\"https://portal.example.go.id/\", \"ok.go.id\"]\n"
        );
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let all = load(dir.path(), "izin").unwrap_err().to_string();
        assert!(
            all.contains("bot.toml:10:18: browser.allowed_hosts: \"https://portal.example.go.id/\" is not a host name"),
            "{all}"
        );
        let manifest = format!("{OK}[browser]\nallowed_hosts = []\n");
        let dir = bot_dir(&manifest, "fn process(item) {}\n");
        let all = load(dir.path(), "izin").unwrap_err().to_string();
        assert!(
            all.contains("browser.allowed_hosts: expected at least one host name"),
            "{all}"
        );
    }

    #[test]
    fn unknown_bot_lists_known_ones() {
        let dir = bot_dir(OK, "fn process(item) {}\n");
        let all = load(dir.path(), "izn").unwrap_err().to_string();
        assert!(all.contains("no bot named \"izn\""), "{all}");
        assert!(all.contains("the bots are: izin"), "{all}");
    }
}
