//! One delivery attempt of a formatted message over SMTP (lettre, tokio, rustls).
//!
//! The whole envelope goes in one transaction. When the server refuses it for good
//! and there are several recipients, each recipient is tried on its own, so one
//! mistyped address does not keep the report from everybody else. Every answer is
//! sorted into accepted, refused for good (5xx) or "try later" (4xx, no connection,
//! timeout, TLS or login trouble), with the server's own words.

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as LettreTls, TlsParameters};
use lettre::transport::smtp::response::Response;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{secret_variable, SmtpSettings, Tls};

/// What the server did with the recipients of one attempt.
#[derive(Debug, Default)]
pub(crate) struct Answers {
    /// Recipients the server accepted, with its answer.
    pub accepted: Vec<(String, String)>,
    /// Recipients refused for good, with the server's answer.
    pub refused: Vec<(String, String)>,
    /// Recipients to try again later, with the reason.
    pub later: Vec<(String, String)>,
}

/// Answers about authentication (RFC 4954) and required encryption.
const LOGIN_CODES: [&str; 4] = ["530", "534", "535", "538"];

enum Verdict {
    Accepted(String),
    Refused(String),
    /// The settings do not fit the server: refused for every recipient at once.
    Misconfigured(String),
    Later(String),
}

/// Sends `message` from `from` to `to` (bare addresses).
pub(crate) async fn send(
    settings: &SmtpSettings,
    from: &str,
    to: &[String],
    message: &[u8],
) -> Answers {
    let mut answers = Answers::default();
    let transport = match transport(settings) {
        Ok(t) => t,
        Err(reason) => {
            answers.later = to.iter().map(|r| (r.clone(), reason.clone())).collect();
            return answers;
        }
    };
    let whole = attempt(settings, &transport, from, to, message).await;
    let split = matches!(whole, Verdict::Refused(_)) && to.len() > 1;
    if !split {
        for rcpt in to {
            match &whole {
                Verdict::Accepted(a) => answers.accepted.push((rcpt.clone(), a.clone())),
                Verdict::Refused(a) | Verdict::Misconfigured(a) => {
                    answers.refused.push((rcpt.clone(), a.clone()))
                }
                Verdict::Later(a) => answers.later.push((rcpt.clone(), a.clone())),
            }
        }
        return answers;
    }
    for rcpt in to {
        match attempt(
            settings,
            &transport,
            from,
            std::slice::from_ref(rcpt),
            message,
        )
        .await
        {
            Verdict::Accepted(a) => answers.accepted.push((rcpt.clone(), a)),
            Verdict::Refused(a) | Verdict::Misconfigured(a) => {
                answers.refused.push((rcpt.clone(), a))
            }
            Verdict::Later(a) => answers.later.push((rcpt.clone(), a)),
        }
    }
    answers
}

async fn attempt(
    settings: &SmtpSettings,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &str,
    to: &[String],
    message: &[u8],
) -> Verdict {
    let envelope = match envelope(from, to) {
        Ok(e) => e,
        Err(reason) => return Verdict::Refused(reason),
    };
    match transport.send_raw(&envelope, message).await {
        Ok(response) => Verdict::Accepted(answer(&response)),
        Err(e) => match e.status() {
            // A refused login or a demand for TLS is about the settings, not the
            // message: it waits until a person fixes them.
            Some(code) if LOGIN_CODES.contains(&code.to_string().as_str()) => Verdict::Later(
                format!("the server refused the login: {} (check mail.smtp.username and the password secret)", server_words(code, &e)),
            ),
            Some(code) if e.is_permanent() => Verdict::Refused(server_words(code, &e)),
            Some(code) => Verdict::Later(server_words(code, &e)),
            // A server without STARTTLS will not grow it by waiting: the settings
            // are wrong, so the message is refused now (and kept in failed/ for
            // `juru mail retry` once they are fixed), not retried for days.
            None if chain(&e).contains("STARTTLS is not supported") => Verdict::Misconfigured(format!(
                "configuration error: {} does not offer STARTTLS, and mail.smtp.tls = \"starttls\" needs it; use tls = \"tls\" for a server that speaks TLS from the start (port 465), or ask for STARTTLS on the server",
                settings.server()
            )),
            None if e.is_timeout() => Verdict::Later(format!(
                "no answer from {} within {}s",
                settings.server(),
                settings.timeout.as_secs()
            )),
            None => Verdict::Later(format!(
                "cannot connect to {}: {}",
                settings.server(),
                plain(&chain(&e))
            )),
        },
    }
}

fn envelope(from: &str, to: &[String]) -> Result<Envelope, String> {
    let parse = |a: &str| {
        a.parse::<Address>()
            .map_err(|e| format!("\"{a}\" is not a mail address: {e}"))
    };
    let to = to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(parse(from)?), to).map_err(|e| e.to_string())
}

fn transport(s: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
        .port(s.port)
        .timeout(Some(s.timeout));
    builder = match s.tls {
        Tls::None => builder.tls(LettreTls::None),
        Tls::StartTls => builder.tls(LettreTls::Required(tls_parameters(s)?)),
        Tls::Implicit => builder.tls(LettreTls::Wrapper(tls_parameters(s)?)),
    };
    if let Some(user) = &s.username {
        let password = match &s.password_secret {
            None => String::new(),
            Some(name) => {
                let var = secret_variable(name);
                std::env::var(&var).map_err(|_| {
                    format!("the SMTP password secret \"{name}\" is not set: set the environment variable {var}")
                })?
            }
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

fn tls_parameters(s: &SmtpSettings) -> Result<TlsParameters, String> {
    let mut params = TlsParameters::builder(s.host.clone());
    if let Some(path) = &s.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read mail.smtp.ca_file {}: {e}", path.display()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            format!(
                "mail.smtp.ca_file {} holds no PEM certificate: {e}",
                path.display()
            )
        })?;
        params = params.add_root_certificate(cert);
    }
    params.build_rustls().map_err(|e| chain(&e))
}

fn answer(response: &Response) -> String {
    let text: Vec<&str> = response.message().collect();
    format!("{} {}", response.code(), text.join(" "))
        .trim()
        .to_string()
}

/// `550 5.1.1 <x@y>: Recipient address rejected`: the code and the server's text.
fn server_words(
    code: lettre::transport::smtp::response::Code,
    e: &lettre::transport::smtp::Error,
) -> String {
    match std::error::Error::source(e) {
        Some(text) => format!("{code} {text}"),
        None => code.to_string(),
    }
}

/// lettre's and the system's words made plain: `Connection error: Connection
/// refused (os error 111)` → `connection refused`.
fn plain(text: &str) -> String {
    let text = text
        .trim_start_matches("Connection error: ")
        .trim_start_matches("connection error: ");
    let text = match text.find(" (os error ") {
        Some(i) => {
            let rest = &text[i..];
            let end = rest.find(')').map_or(text.len(), |j| i + j + 1);
            format!("{}{}", &text[..i], &text[end..])
        }
        None => text.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// An error with its causes, `outer: inner: innermost`, without repeats.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        source = s.source();
    }
    text
}
