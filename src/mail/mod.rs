//! Mail: building messages (plain text + HTML, attachments) and handing them to a
//! transport.
//!
//! Two transports: `file` (the default) writes each message as an `.eml` file into
//! the outbox folder, where any mail client can open it; `smtp` writes it there
//! first, sends it with lettre over tokio, and moves it to `outbox/sent/` once the
//! server accepted it, so a message the server did not take stays in the outbox.
//! Sending is async; building is pure. Errors name the server and its answer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as LettreAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

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
    /// Write `.eml` files to the outbox folder.
    File,
    Smtp(SmtpSettings),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS (port 587).
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
    pub username: Option<String>,
    /// Name of the environment variable that holds the password.
    pub password_env: Option<String>,
    pub timeout: Duration,
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
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Where a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Written to this `.eml` file (the file transport).
    Written(PathBuf),
    /// Accepted by the SMTP server; a copy is at this path.
    Sent { server: String, copy: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail address \"{address}\" is not valid: {reason}")]
    Address { address: String, reason: String },
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("the SMTP password variable {0} is not set in the environment")]
    Password(String),
    #[error("SMTP server {server} did not take the message (it stays in {}): {reason}", kept.display())]
    Smtp {
        server: String,
        reason: String,
        kept: PathBuf,
    },
}

/// Checks one address (`name <user@host>` or `user@host`).
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    text.trim().parse::<Mailbox>().map_err(|e| {
        format!("\"{text}\" is not a mail address ({e}); expected \"user@host\" or \"Name <user@host>\"")
    })
}

fn mailbox(text: &str) -> Result<Mailbox, MailError> {
    text.trim()
        .parse::<Mailbox>()
        .map_err(|e| MailError::Address {
            address: text.to_string(),
            reason: e.to_string(),
        })
}

/// Builds the RFC 5322 message.
pub fn build(from: &str, mail: &Mail) -> Result<Message, MailError> {
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
            let ct = ContentType::parse(&a.content_type)
                .map_err(|e| MailError::Build(format!("content type {}: {e}", a.content_type)))?;
            mixed =
                mixed.singlepart(LettreAttachment::new(a.name.clone()).body(a.bytes.clone(), ct));
        }
        builder.multipart(mixed)
    };
    message.map_err(|e| MailError::Build(e.to_string()))
}

/// Writes the message to `<outbox>/<name>.eml`, then delivers it by the transport.
pub async fn send(
    settings: &Settings,
    outbox: &Path,
    name: &str,
    mail: &Mail,
) -> Result<Delivery, MailError> {
    let message = build(&settings.from, mail)?;
    let path = outbox.join(format!("{name}.eml"));
    write_atomic(&path, &message.formatted())?;
    match &settings.transport {
        Transport::File => Ok(Delivery::Written(path)),
        Transport::Smtp(smtp) => {
            let server = format!("{}:{}", smtp.host, smtp.port);
            send_smtp(smtp, message)
                .await
                .map_err(|reason| MailError::Smtp {
                    server: server.clone(),
                    reason,
                    kept: path.clone(),
                })?;
            let sent = outbox.join("sent").join(format!("{name}.eml"));
            let moved = std::fs::create_dir_all(outbox.join("sent"))
                .and_then(|_| std::fs::rename(&path, &sent));
            Ok(Delivery::Sent {
                server,
                copy: if moved.is_ok() { sent } else { path },
            })
        }
    }
}

async fn send_smtp(smtp: &SmtpSettings, message: Message) -> Result<(), String> {
    let builder = match smtp.tls {
        Tls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            .map_err(|e| e.to_string())?,
        Tls::Implicit => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| e.to_string())?
        }
        Tls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
    if let Some(user) = &smtp.username {
        let password = match &smtp.password_env {
            Some(var) => {
                std::env::var(var).map_err(|_| MailError::Password(var.clone()).to_string())?
            }
            None => String::new(),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MailError> {
    let fail = |e: std::io::Error| MailError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_multipart_with_attachment() {
        let mail = Mail {
            to: vec!["Loket Izin <loket@example.go.id>".into()],
            cc: vec!["kabid@example.go.id".into()],
            subject: "[juru] demo: 2 selesai".into(),
            text: "Halo".into(),
            html: "<p>Halo</p>".into(),
            attachments: vec![Attachment {
                name: "exceptions.xlsx".into(),
                content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    .into(),
                bytes: b"PK\x03\x04".to_vec(),
            }],
        };
        let raw =
            String::from_utf8(build("juru <juru@localhost>", &mail).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("To: \"Loket Izin\" <loket@example.go.id>")
                || raw.contains("To: Loket Izin <loket@example.go.id>"),
            "{raw}"
        );
        assert!(raw.contains("Cc: kabid@example.go.id"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("filename=\"exceptions.xlsx\""), "{raw}");
    }

    #[test]
    fn bad_address_is_named() {
        let mail = Mail {
            to: vec!["loket at example".into()],
            ..Mail::default()
        };
        let err = build("juru@localhost", &mail).unwrap_err();
        assert!(err.to_string().contains("\"loket at example\""), "{err}");
    }
}
