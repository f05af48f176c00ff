//! The durable outbox: every message is on disk before any delivery attempt, and
//! where it is tells what became of it.
//!
//! ```text
//! outbox/pending/<id>.eml  <id>.json   waiting: not tried yet, or the server said "later"
//! outbox/sent/<id>.eml     <id>.json   accepted (the .json has the server's answer)
//! outbox/failed/<id>.eml   <id>.json   refused for good (the .json has the server's answer)
//! ```
//!
//! The `.eml` is the message exactly as it is sent (so a retry sends the same bytes,
//! the same `Message-ID`); the `.json` ([`Entry`]) holds the envelope and the
//! history: attempts, the last error, the next attempt, who accepted and who refused.
//! The `.eml` decides the state: it is moved only after the `.json` for its new
//! folder is written, and files are written to a temporary name, synced and renamed,
//! so a crash leaves either the old state or the new one.
//!
//! Deliveries take an exclusive lock on `outbox/.lock`, so two juru processes (a
//! run and `juru mail flush`, or the agent) never send the same message twice.
//! Reading and writing files is blocking and quick; delivering is async.

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::retry::{Retry, RetryPolicy};
use super::{build, smtp, Mail, MailError, Settings, Transport};

/// The three folders of the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Folder {
    #[default]
    Pending,
    Sent,
    Failed,
}

impl Folder {
    pub const ALL: [Folder; 3] = [Folder::Pending, Folder::Sent, Folder::Failed];

    pub fn name(self) -> &'static str {
        match self {
            Folder::Pending => "pending",
            Folder::Sent => "sent",
            Folder::Failed => "failed",
        }
    }
}

/// A recipient and what the server answered for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub address: String,
    pub answer: String,
}

/// One delivery attempt of a message, as `<id>.json` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tried {
    pub at: DateTime<Utc>,
    /// `host:port`, or `file`.
    pub server: String,
    /// Recipients that took it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<String>,
    /// Recipients that refused it for good, with the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Recipient>,
    /// Recipients to try again, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later: Vec<Recipient>,
}

/// One message of the outbox: its envelope and delivery history (`<id>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// What the message is, e.g. `summary`, `exceptions`, `alert`, `script`.
    pub kind: String,
    /// The run that wrote it, if any.
    #[serde(default)]
    pub run: Option<String>,
    pub subject: String,
    /// Envelope sender (bare address).
    pub from: String,
    /// Recipients still to deliver to (bare addresses); empty once done.
    pub to: Vec<String>,
    /// Recipients the server accepted.
    #[serde(default)]
    pub delivered: Vec<Recipient>,
    /// Recipients the server refused for good (5xx); never tried again.
    #[serde(default)]
    pub refused: Vec<Recipient>,
    pub queued_at: DateTime<Utc>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_attempt: Option<DateTime<Utc>>,
    /// Why the last attempt did not deliver to every recipient.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the agent tries again (pending messages only).
    #[serde(default)]
    pub next_attempt: Option<DateTime<Utc>>,
    /// The server of the last attempt (`host:port`), or `file`.
    #[serde(default)]
    pub server: Option<String>,
    /// Every delivery attempt, oldest first; kept when the message is retried.
    #[serde(default)]
    pub history: Vec<Tried>,
    /// Which folder the entry was read from.
    #[serde(skip)]
    pub folder: Folder,
}

/// What one delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every remaining recipient accepted it (`entry.refused` may still name some
    /// refused before); the server's last answer.
    Sent { server: String, answer: String },
    /// The file transport: the message is in `sent/`.
    Written,
    /// Some or all recipients could not take it now; it stays pending.
    Waiting {
        reason: String,
        next_attempt: Option<DateTime<Utc>>,
    },
    /// Every remaining recipient refused it for good; it is in `failed/`.
    Refused { answer: String },
    /// It kept failing for longer than the retry policy allows; it is in `failed/`.
    GaveUp { reason: String },
    /// It was no longer pending (another juru delivered it meanwhile).
    NotPending,
}

/// A message and what its delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub entry: Entry,
    pub outcome: Outcome,
    /// Where the `.eml` is now.
    pub path: PathBuf,
}

/// Which pending messages a flush tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush<'a> {
    /// Every pending message, whatever its next attempt time (a person asked).
    All,
    /// The messages whose next attempt is due at `now` (the agent's loop); those
    /// that waited longer than the retry policy allows are given up.
    Due(DateTime<Utc>),
    /// The pending messages of one run.
    Run(&'a str),
}

/// The outbox folder.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
    policy: RetryPolicy,
    /// The zone of the messages' `Date:` header (UTC when not set).
    time_zone: Option<chrono_tz::Tz>,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> Outbox {
        Outbox {
            dir: dir.into(),
            policy: RetryPolicy::default(),
            time_zone: None,
        }
    }

    /// Dates the messages it queues in `zone` (the agent's), as a person there
    /// would write them: `Date: Mon, 30 Nov 2026 09:00:00 +0700`.
    pub fn with_time_zone(mut self, zone: chrono_tz::Tz) -> Outbox {
        self.time_zone = Some(zone);
        self
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Outbox {
        self.policy = policy;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `.eml` of `id` in `folder`.
    pub fn eml(&self, folder: Folder, id: &str) -> PathBuf {
        self.dir.join(folder.name()).join(format!("{id}.eml"))
    }

    fn json(&self, folder: Folder, id: &str) -> PathBuf {
        self.dir.join(folder.name()).join(format!("{id}.json"))
    }

    /// Builds `mail` and writes it to `pending/` under a new id made from `name`
    /// (`<name>.eml`, or `<name>-2.eml` when taken). Nothing is sent yet.
    ///
    /// The message gets `Message-ID: <id@sender's domain>`, derived from its outbox
    /// id, so every retry of it carries the same id (and mail clients thread or
    /// drop duplicates), and a `Date:` in the outbox's time zone.
    pub fn enqueue(
        &self,
        from: &str,
        mail: &Mail,
        name: &str,
        kind: &str,
        run: Option<&str>,
    ) -> Result<Entry, MailError> {
        let message = build(from, mail)?;
        let envelope = message.envelope();
        let mut entry = Entry {
            id: String::new(),
            kind: kind.to_string(),
            run: run.map(str::to_string),
            subject: mail.subject.clone(),
            from: envelope.from().map(|a| a.to_string()).unwrap_or_default(),
            to: envelope.to().iter().map(|a| a.to_string()).collect(),
            delivered: Vec::new(),
            refused: Vec::new(),
            queued_at: Utc::now(),
            attempts: 0,
            last_attempt: None,
            last_error: None,
            next_attempt: None,
            server: None,
            history: Vec::new(),
            folder: Folder::Pending,
        };
        let base = safe_id(name);
        let pending = self.dir.join(Folder::Pending.name());
        for n in 1u32.. {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            if Folder::ALL.iter().any(|f| self.eml(*f, &id).exists()) {
                continue;
            }
            entry.id = id.clone();
            // Claim the id with the .json (no overwrite), then write the message.
            match write_file(&self.json(Folder::Pending, &id), &to_json(&entry), false) {
                Ok(()) => {}
                Err(WriteError::Exists) => continue,
                Err(WriteError::Io(reason)) => {
                    return Err(MailError::Write {
                        path: pending.join(format!("{id}.json")),
                        reason,
                    })
                }
            }
            let eml = self.eml(Folder::Pending, &id);
            let date = match self.time_zone {
                Some(zone) => entry.queued_at.with_timezone(&zone).to_rfc2822(),
                None => entry.queued_at.to_rfc2822(),
            };
            let bytes = stamp(&message.formatted(), &message_id(&id, &entry.from), &date);
            write_file(&eml, &bytes, true).map_err(|e| MailError::Write {
                path: eml.clone(),
                reason: e.to_string(),
            })?;
            break;
        }
        Ok(entry)
    }

    /// The messages in `folder`, oldest first.
    pub fn entries(&self, folder: Folder) -> Result<Vec<Entry>, MailError> {
        let dir = self.dir.join(folder.name());
        let read = match std::fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(MailError::Read {
                    path: dir,
                    reason: e.to_string(),
                })
            }
        };
        let mut entries = Vec::new();
        for file in read.filter_map(|e| e.ok()) {
            let name = file.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".eml")) else {
                continue;
            };
            entries.push(self.read_entry(folder, id)?);
        }
        entries.sort_by(|a, b| (a.queued_at, &a.id).cmp(&(b.queued_at, &b.id)));
        Ok(entries)
    }

    /// The message `id`, wherever it is.
    pub fn find(&self, id: &str) -> Result<Option<Entry>, MailError> {
        for folder in Folder::ALL {
            if self.eml(folder, id).is_file() {
                return self.read_entry(folder, id).map(Some);
            }
        }
        Ok(None)
    }

    fn read_entry(&self, folder: Folder, id: &str) -> Result<Entry, MailError> {
        let path = self.json(folder, id);
        let text = std::fs::read_to_string(&path).map_err(|e| MailError::Read {
            path: path.clone(),
            reason: format!("{e} (every .eml in the outbox needs its .json beside it)"),
        })?;
        let mut entry: Entry = serde_json::from_str(&text).map_err(|e| MailError::Read {
            path,
            reason: e.to_string(),
        })?;
        entry.folder = folder;
        Ok(entry)
    }

    /// Tries to deliver the pending message `id` once.
    pub async fn deliver(&self, settings: &Settings, id: &str) -> Result<Attempt, MailError> {
        let _lock = self.lock().await?;
        self.deliver_locked(settings, id, None).await
    }

    /// Tries the pending messages that `which` selects, one after the other, and
    /// says what became of each.
    pub async fn flush(
        &self,
        settings: &Settings,
        which: Flush<'_>,
    ) -> Result<Vec<Result<Attempt, MailError>>, MailError> {
        let _lock = self.lock().await?;
        let mut done = Vec::new();
        for entry in self.entries(Folder::Pending)? {
            let now = match which {
                Flush::All => None,
                Flush::Run(run) => {
                    if entry.run.as_deref() != Some(run) {
                        continue;
                    }
                    None
                }
                Flush::Due(now) => {
                    if entry.next_attempt.is_some_and(|at| at > now) {
                        continue;
                    }
                    Some(now)
                }
            };
            done.push(self.deliver_locked(settings, &entry.id, now).await);
        }
        Ok(done)
    }

    /// One attempt, the lock held. `give_up_at`: apply the give-up rule at this time.
    async fn deliver_locked(
        &self,
        settings: &Settings,
        id: &str,
        give_up_at: Option<DateTime<Utc>>,
    ) -> Result<Attempt, MailError> {
        let eml = self.eml(Folder::Pending, id);
        if !eml.is_file() {
            let entry = self
                .find(id)?
                .ok_or_else(|| MailError::Unknown(id.into()))?;
            let path = self.eml(entry.folder, id);
            return Ok(Attempt {
                entry,
                outcome: Outcome::NotPending,
                path,
            });
        }
        let mut entry = self.read_entry(Folder::Pending, id)?;
        let now = Utc::now();
        entry.attempts += 1;
        entry.last_attempt = Some(now);

        let (server, answers) = match &settings.transport {
            Transport::File => {
                let answers = smtp::Answers {
                    accepted: entry
                        .to
                        .iter()
                        .map(|a| (a.clone(), "written to the outbox".to_string()))
                        .collect(),
                    ..smtp::Answers::default()
                };
                ("file".to_string(), answers)
            }
            Transport::Smtp(s) => {
                let bytes = std::fs::read(&eml).map_err(|e| MailError::Read {
                    path: eml.clone(),
                    reason: e.to_string(),
                })?;
                let answers = if entry.to.is_empty() {
                    smtp::Answers::default()
                } else {
                    smtp::send(s, &entry.from, &entry.to, &bytes).await
                };
                (s.server(), answers)
            }
        };
        entry.server = Some(server.clone());
        let pair = |(address, answer): &(String, String)| Recipient {
            address: address.clone(),
            answer: answer.clone(),
        };
        entry.history.push(Tried {
            at: now,
            server: server.clone(),
            accepted: answers.accepted.iter().map(|(a, _)| a.clone()).collect(),
            refused: answers.refused.iter().map(pair).collect(),
            later: answers.later.iter().map(pair).collect(),
        });
        let last_answer = answers.accepted.last().map(|(_, a)| a.clone());
        for (address, answer) in answers.accepted {
            entry.delivered.push(Recipient { address, answer });
        }
        let refused_now = answers.refused.last().map(|(_, a)| a.clone());
        for (address, answer) in answers.refused {
            entry.refused.push(Recipient { address, answer });
        }
        entry.to = answers.later.iter().map(|(a, _)| a.clone()).collect();

        if let Some((_, reason)) = answers.later.first() {
            // Some recipients must be tried again.
            entry.last_error = Some(reason.clone());
            let retry = self
                .policy
                .after_failure(entry.attempts, entry.queued_at, now);
            match (give_up_at, retry) {
                (Some(_), Retry::GiveUp) => {
                    let reason = format!(
                        "given up after {} attempts since {}; last answer: {reason}",
                        entry.attempts,
                        entry.queued_at.to_rfc3339()
                    );
                    entry.last_error = Some(reason.clone());
                    entry.next_attempt = None;
                    let path = self.move_to(&entry, Folder::Failed)?;
                    return Ok(self.attempt(
                        entry,
                        Folder::Failed,
                        Outcome::GaveUp { reason },
                        path,
                    ));
                }
                (_, Retry::At(at)) => entry.next_attempt = Some(at),
                (None, Retry::GiveUp) => entry.next_attempt = Some(now),
            }
            let reason = reason.clone();
            let next_attempt = entry.next_attempt;
            self.write_entry(Folder::Pending, &entry)?;
            return Ok(self.attempt(
                entry,
                Folder::Pending,
                Outcome::Waiting {
                    reason,
                    next_attempt,
                },
                eml,
            ));
        }
        entry.next_attempt = None;
        if entry.delivered.is_empty() {
            let answer = refused_now
                .or_else(|| entry.refused.last().map(|r| r.answer.clone()))
                .unwrap_or_else(|| "the message has no recipient".to_string());
            entry.last_error = Some(answer.clone());
            let path = self.move_to(&entry, Folder::Failed)?;
            return Ok(self.attempt(entry, Folder::Failed, Outcome::Refused { answer }, path));
        }
        entry.last_error = refused_now.map(|a| format!("some recipients refused it: {a}"));
        let path = self.move_to(&entry, Folder::Sent)?;
        let outcome = match settings.transport {
            Transport::File => Outcome::Written,
            Transport::Smtp(_) => Outcome::Sent {
                server,
                answer: last_answer.unwrap_or_default(),
            },
        };
        Ok(self.attempt(entry, Folder::Sent, outcome, path))
    }

    fn attempt(
        &self,
        mut entry: Entry,
        folder: Folder,
        outcome: Outcome,
        path: PathBuf,
    ) -> Attempt {
        entry.folder = folder;
        Attempt {
            entry,
            outcome,
            path,
        }
    }

    fn write_entry(&self, folder: Folder, entry: &Entry) -> Result<(), MailError> {
        let path = self.json(folder, &entry.id);
        write_file(&path, &to_json(entry), true).map_err(|e| MailError::Write {
            path,
            reason: e.to_string(),
        })
    }

    /// Moves a pending message to `folder`: its new `.json` first, then the `.eml`.
    fn move_to(&self, entry: &Entry, folder: Folder) -> Result<PathBuf, MailError> {
        self.write_entry(folder, entry)?;
        let (from, to) = (
            self.eml(Folder::Pending, &entry.id),
            self.eml(folder, &entry.id),
        );
        std::fs::rename(&from, &to).map_err(|e| MailError::Write {
            path: to.clone(),
            reason: e.to_string(),
        })?;
        sync_dir(&self.dir.join(folder.name()));
        let _ = std::fs::remove_file(self.json(Folder::Pending, &entry.id));
        Ok(to)
    }

    /// The delivered messages that some recipients refused for good (in `sent/`,
    /// with `refused` addresses): `juru mail list` shows them beside `failed/`.
    pub fn partly_refused(&self) -> Result<Vec<Entry>, MailError> {
        Ok(self
            .entries(Folder::Sent)?
            .into_iter()
            .filter(|e| !e.refused.is_empty())
            .collect())
    }

    /// Puts a refused message back into `pending/`, to be tried again for the
    /// recipients that refused it and only them (after the address was fixed on
    /// the server): a message of `failed/`, or one of `sent/` that some
    /// recipients refused. Its history is kept.
    pub fn requeue(&self, id: &str) -> Result<Entry, MailError> {
        let folder = if self.eml(Folder::Failed, id).is_file() {
            Folder::Failed
        } else if self.eml(Folder::Sent, id).is_file()
            && !self.read_entry(Folder::Sent, id)?.refused.is_empty()
        {
            Folder::Sent
        } else {
            return Err(MailError::Unknown(id.into()));
        };
        let mut entry = self.read_entry(folder, id)?;
        entry.to.extend(entry.refused.drain(..).map(|r| r.address));
        entry.attempts = 0;
        entry.next_attempt = None;
        entry.last_error = None;
        entry.queued_at = Utc::now();
        self.write_entry(Folder::Pending, &entry)?;
        let to = self.eml(Folder::Pending, id);
        std::fs::rename(self.eml(folder, id), &to).map_err(|e| MailError::Write {
            path: to,
            reason: e.to_string(),
        })?;
        let _ = std::fs::remove_file(self.json(folder, id));
        entry.folder = Folder::Pending;
        Ok(entry)
    }

    /// Exclusive lock on `outbox/.lock` until the file is dropped.
    async fn lock(&self) -> Result<File, MailError> {
        let path = self.dir.join(".lock");
        let p = path.clone();
        let locked = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
            std::fs::create_dir_all(p.parent().unwrap_or(Path::new(".")))?;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&p)?;
            lock_exclusive(&file)?;
            Ok(file)
        })
        .await;
        match locked {
            Ok(Ok(file)) => Ok(file),
            Ok(Err(e)) => Err(MailError::Write {
                path,
                reason: format!("cannot lock the outbox: {e}"),
            }),
            Err(e) => Err(MailError::Write {
                path,
                reason: format!("cannot lock the outbox: {e}"),
            }),
        }
    }
}

/// Waits for an exclusive `flock` on `file` (released when it is closed).
fn lock_exclusive(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor that `file` owns for the whole call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `<id@domain>`: the `Message-ID` of the outbox message `id` sent by `from`
/// (a bare address; `localhost` when it has no domain).
pub fn message_id(id: &str, from: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .filter(|d| !d.is_empty())
        .unwrap_or("localhost");
    format!("<{id}@{domain}>")
}

/// The formatted message with its `Message-ID` and `Date` headers replaced (the
/// header block ends at the first empty line; neither header is folded).
fn stamp(formatted: &[u8], message_id: &str, date: &str) -> Vec<u8> {
    let end = formatted
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(formatted.len(), |p| p + 2);
    let (head, body) = formatted.split_at(end);
    let mut out = format!("Message-ID: {message_id}\r\nDate: {date}\r\n").into_bytes();
    for line in head.split_inclusive(|b| *b == b'\n') {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with(b"message-id:") || lower.starts_with(b"date:") {
            continue;
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(body);
    out
}

/// Letters, digits, `-`, `_` and `.` of `name`; anything else becomes `-`.
fn safe_id(name: &str) -> String {
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let id = id.trim_matches(['-', '.']);
    if id.is_empty() {
        "message".into()
    } else {
        id.chars().take(120).collect()
    }
}

fn to_json(entry: &Entry) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(entry).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

enum WriteError {
    Exists,
    Io(String),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Exists => f.write_str("the file exists already"),
            WriteError::Io(e) => f.write_str(e),
        }
    }
}

/// Writes a temporary file beside `path`, syncs it and renames it into place
/// (`overwrite: false`: fails with `Exists` when `path` is there).
fn write_file(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), WriteError> {
    let io = |e: std::io::Error| WriteError::Io(e.to_string());
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    if overwrite {
        tmp.persist(path).map_err(|e| io(e.error))?;
    } else {
        match tmp.persist_noclobber(path) {
            Ok(_) => {}
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(WriteError::Exists)
            }
            Err(e) => return Err(io(e.error)),
        }
    }
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
