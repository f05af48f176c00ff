//! Mail: messages (plain text + HTML from templates, attachments) and their durable
//! delivery through an outbox.
//!
//! Every message is first written to the outbox folder (`pending/<id>.eml` plus a
//! small `<id>.json` with its envelope and delivery history) and only then handed to
//! the transport; it moves to `sent/` once the server accepted it, to `failed/` when
//! the server refused it for good (a 5xx answer, kept with the server's text), and
//! stays in `pending/` when the server could not be reached or answered "try later"
//! (4xx, connection refused, timeout). Nothing is ever deleted, so no message is
//! lost: `juru mail flush` delivers what is pending. See [`outbox`].
//!
//! Two transports: `file` (the default) delivers by moving the `.eml` file to
//! `sent/`, where any mail client can open it; `smtp` sends it with lettre over tokio
//! (STARTTLS, implicit TLS, or plain on loopback only; AUTH PLAIN/LOGIN with the
//! password from a secret). Building and rendering are pure and synchronous; delivery
//! is async. [`retry`] decides when a temporary failure is tried again.
//!
//! Errors ([`MailError`]) are about this machine (a bad address, an unreadable
//! outbox); what a server answered is not an error but an [`outbox::Outcome`].

pub mod outbox;
pub mod retry;
mod smtp;
pub mod template;

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{ContentDisposition, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

pub use outbox::{Attempt, Entry, Folder, Outbox, Outcome, Tried};
pub use retry::{Retry, RetryPolicy};

/// Mail settings (from `[mail]` in agent.toml).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The sender, e.g. `"juru <juru@dpmptsp.example.go.id>"`.
    pub from: String,
    pub transport: Transport,
    /// The outbox folder (relative paths are taken from the data dir).
    pub outbox: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            from: "juru <juru@localhost>".into(),
            transport: Transport::File,
            outbox: PathBuf::from("outbox"),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Transport {
    /// Deliver by moving the `.eml` file to the outbox's `sent/` folder.
    File,
    Smtp(SmtpSettings),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS (port 587); refused without it.
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption; allowed only for a server on loopback.
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    /// AUTH user name; the password comes from [`SmtpSettings::password_secret`].
    pub username: Option<String>,
    /// Name of the secret holding the password: read from the environment
    /// variable `JURU_SECRET_<NAME>` (see [`secret_variable`]).
    pub password_secret: Option<String>,
    /// Extra trusted root certificate(s) in PEM, for a server with an internal CA.
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

impl SmtpSettings {
    /// `host:port`, as shown to people.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The environment variable that holds the secret `name`: `JURU_SECRET_` and the
/// name in upper case, with `-`, `.` and spaces as `_`.
pub fn secret_variable(name: &str) -> String {
    format!(
        "JURU_SECRET_{}",
        name.trim().to_uppercase().replace(['-', '.', ' '], "_")
    )
}

/// A message to send.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    /// The file name the recipient sees; any Unicode.
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// An attachment whose content type follows from the name's extension.
    pub fn new(name: impl Into<String>, bytes: Vec<u8>) -> Attachment {
        let name = name.into();
        Attachment {
            content_type: content_type_for(&name).into(),
            name,
            bytes,
        }
    }
}

/// The MIME type for a file name, by its extension (`application/octet-stream`
/// when unknown).
pub fn content_type_for(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsm" => "application/vnd.ms-excel.sheet.macroEnabled.12",
        "xls" => "application/vnd.ms-excel",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "csv" => "text/csv",
        "txt" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail address \"{address}\" is not valid: {reason}")]
    Address { address: String, reason: String },
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("the message has no recipient")]
    NoRecipient,
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("cannot read {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("the outbox has no message \"{0}\"")]
    Unknown(String),
}

/// Checks one address (`name <user@host>` or `user@host`).
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    text.trim().parse::<Mailbox>().map_err(|e| {
        format!(
            "\"{text}\" is not a mail address ({}); expected \"user@host\" or \"Name <user@host>\"",
            address_trouble(text, &e)
        )
    })
}

/// What is wrong with an address, in words a person can act on (lettre says
/// only "Invalid input").
fn address_trouble(text: &str, e: &lettre::address::AddressError) -> &'static str {
    use lettre::address::AddressError as A;
    let text = text.trim();
    if text.matches('<').count() != text.matches('>').count() {
        return "its < and > do not match";
    }
    let address = match (text.rfind('<'), text.rfind('>')) {
        (Some(a), Some(b)) if a < b => &text[a + 1..b],
        _ => text,
    };
    let Some((user, domain)) = address.rsplit_once('@') else {
        return "it has no @";
    };
    if user.trim().is_empty() {
        return "nothing comes before the @";
    }
    if domain.trim().is_empty() {
        return "no domain comes after the @";
    }
    if address.trim().contains(char::is_whitespace) {
        return "it holds a space";
    }
    match e {
        A::InvalidUser => "the part before the @ is not valid",
        A::InvalidDomain => "the domain after the @ is not valid",
        _ => "it holds a character an address cannot have",
    }
}

fn mailbox(text: &str) -> Result<Mailbox, MailError> {
    text.trim()
        .parse::<Mailbox>()
        .map_err(|e| MailError::Address {
            address: text.to_string(),
            reason: e.to_string(),
        })
}

/// Builds the RFC 5322 message: `multipart/alternative` (text, HTML), inside a
/// `multipart/mixed` when there are attachments.
pub fn build(from: &str, mail: &Mail) -> Result<Message, MailError> {
    if mail.to.is_empty() && mail.cc.is_empty() {
        return Err(MailError::NoRecipient);
    }
    let mut builder = Message::builder()
        .from(mailbox(from)?)
        .subject(mail.subject.clone());
    for to in &mail.to {
        builder = builder.to(mailbox(to)?);
    }
    for cc in &mail.cc {
        builder = builder.cc(mailbox(cc)?);
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(mail.text.clone()))
        .singlepart(SinglePart::html(mail.html.clone()));
    let message = if mail.attachments.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in &mail.attachments {
            mixed = mixed.singlepart(attachment_part(a)?);
        }
        builder.multipart(mixed)
    };
    message.map_err(|e| MailError::Build(e.to_string()))
}

/// One attachment. The name goes into `Content-Disposition` as RFC 2231
/// `filename*=utf-8''…` (lettre's encoding, which every current client reads) and,
/// for clients that only look at `Content-Type`, also as an RFC 2047 `name=`
/// parameter, which is what those clients read.
fn attachment_part(a: &Attachment) -> Result<SinglePart, MailError> {
    let name = a.name.replace(['"', '\\', '\r', '\n'], "_");
    let type_only = a.content_type.split(';').next().unwrap_or_default().trim();
    let with_name = format!("{type_only}; name=\"{}\"", encoded_word(&name));
    let content_type = ContentType::parse(&with_name)
        .or_else(|_| ContentType::parse(type_only))
        .map_err(|e| MailError::Build(format!("content type \"{}\": {e}", a.content_type)))?;
    Ok(SinglePart::builder()
        .header(content_type)
        .header(ContentDisposition::attachment(&name))
        .body(a.bytes.clone()))
}

/// `name` as one RFC 2047 encoded word (`=?utf-8?b?…?=`) unless it is plain ASCII.
fn encoded_word(name: &str) -> String {
    if name.is_ascii() {
        return name.to_string();
    }
    format!("=?utf-8?b?{}?=", base64(name.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
