//! Mail through a real SMTP server on loopback (Python's aiosmtpd, installed by
//! `.ci/install --tests`, started from `smtp_server.py` beside this file), parsed
//! with two real MIME parsers (the `mail-parser` crate and Python's `email`):
//! the run's reports, the durable outbox and `juru mail flush`, permanent
//! refusals, STARTTLS / implicit TLS with AUTH, and a script's own mail.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mail_parser::{Message, MimeHeaders};

use crate::support::{Project, REPO};

const NON_ASCII_NAME: &str = "Laporan Pengecualian – Dinas Perizinan.xlsx";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// How to start the test server.
#[derive(Default, Clone)]
pub(crate) struct ServerOptions {
    pub(crate) port: Option<u16>,
    pub(crate) refuse: Vec<String>,
    pub(crate) later: Vec<String>,
    /// `starttls` or `implicit`, with the server's certificate and key files.
    pub(crate) tls: Option<(&'static str, PathBuf, PathBuf)>,
    pub(crate) auth: Option<(String, String)>,
}

pub(crate) struct SmtpServer {
    child: Child,
    pub(crate) port: u16,
    maildir: PathBuf,
    log: PathBuf,
}

impl SmtpServer {
    pub(crate) fn start(dir: &Path) -> SmtpServer {
        SmtpServer::with(dir, ServerOptions::default())
    }

    pub(crate) fn with(dir: &Path, o: ServerOptions) -> SmtpServer {
        let port = o.port.unwrap_or_else(free_port);
        std::fs::create_dir_all(dir).expect("server folder");
        let errors = dir.join("smtp.err");
        let maildir = dir.join("maildir");
        let log = dir.join("smtp.log");
        let mut cmd = Command::new("python3");
        cmd.arg(Path::new(REPO).join("tests/it/smtp_server.py"))
            .arg("--port")
            .arg(port.to_string())
            .arg("--maildir")
            .arg(&maildir)
            .arg("--log")
            .arg(&log);
        for a in &o.refuse {
            cmd.args(["--refuse", a]);
        }
        for a in &o.later {
            cmd.args(["--later", a]);
        }
        if let Some((mode, cert, key)) = &o.tls {
            cmd.args(["--tls", mode])
                .arg("--cert")
                .arg(cert)
                .arg("--key")
                .arg(key);
        }
        if let Some((user, password)) = &o.auth {
            cmd.arg("--auth").arg(format!("{user}:{password}"));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&errors).expect("server log"))
            .spawn()
            .expect("python3 runs");
        let mut server = SmtpServer {
            child,
            port,
            maildir,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "the SMTP server exited ({status}): is aiosmtpd installed? run .ci/install --tests\n{}",
                    std::fs::read_to_string(&errors).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The files of every message the server stored.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                out.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        }
        out.sort();
        out
    }

    pub(crate) fn messages(&self) -> Vec<Vec<u8>> {
        self.files()
            .iter()
            .map(|p| std::fs::read(p).expect("read message"))
            .collect()
    }

    /// The RCPT answers the server gave, one line each: `250 addr`, `550 addr`.
    pub(crate) fn rcpt_log(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn parse(raw: &[u8]) -> Message<'_> {
    mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a MIME message")
}

/// The envelope recipients the server saw (aiosmtpd's X-RcptTo header).
fn rcpt_to(m: &Message) -> String {
    m.header_raw("X-RcptTo")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// What Python's `email` package reads from each file: subject, To, Cc and the
/// attachments' names, under both the modern and the legacy (compat32) policy.
fn python_view(files: &[PathBuf]) -> Vec<serde_json::Value> {
    let script = r#"
import email, email.policy, json, sys
out = []
for path in sys.argv[1:]:
    raw = open(path, 'rb').read()
    modern = email.message_from_bytes(raw, policy=email.policy.default)
    legacy = email.message_from_bytes(raw)
    out.append({
        'subject': str(modern['subject']),
        'to': str(modern['to']),
        'cc': str(modern['cc'] or ''),
        'names': [p.get_filename() for p in modern.iter_attachments()],
        'legacy_names': [p.get_filename() for p in legacy.walk() if p.get_filename()],
        'types': [p.get_content_type() for p in modern.iter_attachments()],
    })
print(json.dumps(out))
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json")
}

/// A bot that needs no web page: it checks the NIK length itself. `notify` is
/// the body of its `[notify]` table.
pub(crate) fn mail_bot(p: &Project, notify: &str) {
    p.write(
        "bots/surat/bot.toml",
        &format!("name = \"surat\"\n[input]\nworkbook = \"masuk.xlsx\"\nrequired = [\"NIK\"]\n[notify]\n{notify}"),
    );
    p.write(
        "bots/surat/main.rhai",
        "fn process(item) {\n  if item[\"NIK\"].len() != 16 { fail_business(`NIK ${item[\"NIK\"]} tidak 16 digit`); }\n  item.output(\"Diperiksa\", true);\n}\n",
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "NIK").unwrap();
    for (i, nik) in ["3201010101010001", "32010101", "3201010101010002"]
        .iter()
        .enumerate()
    {
        ws.write_string(i as u32 + 1, 0, *nik).unwrap();
    }
    wb.save(p.path("bots/surat/masuk.xlsx")).unwrap();
}

const NOTIFY: &str = "officers = [\"Loket <loket@dinas.example.go.id>\"]\nsupervisors = [\"kabid@dinas.example.go.id\"]\n";

pub(crate) fn smtp_config(port: u16) -> String {
    format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"juru <juru@dinas.example.go.id>\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ntimeout = \"10s\"\n"
    )
}

fn run_id(p: &Project) -> String {
    p.run_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

fn eml_files(p: &Project, folder: &str) -> Vec<String> {
    p.files(&format!("var/outbox/{folder}"))
        .into_iter()
        .filter(|f| f.ends_with(".eml"))
        .collect()
}

#[test]
fn run_reports_reach_supervisors_and_officers_through_a_real_server() {
    let p = Project::new();
    mail_bot(
        &p,
        &format!("{NOTIFY}cc = [\"arsip@dinas.example.go.id\"]\nattachment_name = \"{NON_ASCII_NAME}\"\n"),
    );
    let server = SmtpServer::start(&p.path("smtp"));
    p.write("config/agent.toml", &smtp_config(server.port));
    let run = p.juru(&["run", "surat"]);
    assert_eq!(run.code(), 0, "{run}");
    let sent_via = format!("sent via 127.0.0.1:{}", server.port);
    assert_eq!(run.stdout().matches(&sent_via).count(), 2, "{run}");
    let id = run_id(&p);

    let raws = server.messages();
    assert_eq!(raws.len(), 2, "{run}");
    let mails: Vec<Message> = raws.iter().map(|r| parse(r)).collect();
    let find = |who: &str| {
        mails
            .iter()
            .find(|m| rcpt_to(m).contains(who))
            .unwrap_or_else(|| panic!("no message for {who}"))
    };

    // The summary: supervisors (and cc), every run, no attachment.
    let summary = find("kabid@dinas.example.go.id");
    assert_eq!(
        summary.subject(),
        Some(format!("[juru] surat: 2 selesai, 1 perlu tindakan (run {id})").as_str())
    );
    let rcpt = rcpt_to(summary);
    assert!(rcpt.contains("arsip@dinas.example.go.id"), "{rcpt}");
    assert!(!rcpt.contains("loket@"), "{rcpt}");
    assert!(summary
        .body_text(0)
        .unwrap()
        .contains("Bot surat telah memproses 3 baris"));
    assert_eq!(summary.attachment_count(), 0);

    // The exception report: officers (and cc), with the workbook under its name.
    let report = find("loket@dinas.example.go.id");
    assert_eq!(
        report.subject(),
        Some(format!("[juru] surat: laporan pengecualian, 1 perlu tindakan (run {id})").as_str())
    );
    let to = report.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.address(), Some("loket@dinas.example.go.id"));
    assert_eq!(to.name(), Some("Loket"));
    let cc = report.cc().and_then(|a| a.first()).unwrap();
    assert_eq!(cc.address(), Some("arsip@dinas.example.go.id"));
    let text = report.body_text(0).unwrap();
    assert!(
        text.contains(
            "- Baris 3 · NIK 32010101: NIK 32010101 tidak 16 digit (Pengecualian bisnis)"
        ),
        "{text}"
    );
    assert!(text.contains(NON_ASCII_NAME), "{text}");
    let html = report.body_html(0).unwrap();
    assert!(
        html.contains("<td style=\"border:1px solid #ccc\">NIK 32010101 tidak 16 digit</td>"),
        "{html}"
    );
    let attachment = report.attachments().next().expect("attachment");
    assert_eq!(attachment.attachment_name(), Some(NON_ASCII_NAME));
    let ct = attachment.content_type().unwrap();
    assert_eq!(
        format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()),
        XLSX
    );
    assert_eq!(
        attachment.contents(),
        std::fs::read(p.run_dir().join("exceptions.xlsx")).unwrap()
    );

    // Python's email package reads the same name, with either policy.
    for m in python_view(&server.files()) {
        if m["to"].as_str().unwrap().contains("loket@") {
            assert_eq!(m["names"], serde_json::json!([NON_ASCII_NAME]), "{m}");
            assert_eq!(
                m["legacy_names"],
                serde_json::json!([NON_ASCII_NAME]),
                "{m}"
            );
            assert_eq!(m["types"], serde_json::json!([XLSX]), "{m}");
            assert_eq!(m["cc"], "arsip@dinas.example.go.id", "{m}");
        } else {
            assert_eq!(m["names"], serde_json::json!([]), "{m}");
        }
    }

    // The outbox: both in sent/ with the server's answer, nothing pending.
    assert_eq!(
        eml_files(&p, "sent"),
        vec![
            format!("var/outbox/sent/{id}.exceptions.eml"),
            format!("var/outbox/sent/{id}.summary.eml"),
        ]
    );
    assert!(eml_files(&p, "pending").is_empty());
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p.path(&format!("var/outbox/sent/{id}.summary.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["attempts"], 1, "{record}");
    assert!(
        record["delivered"][0]["answer"]
            .as_str()
            .unwrap()
            .starts_with("250"),
        "{record}"
    );
}

#[test]
fn server_down_during_the_run_then_flush_delivers_exactly_once() {
    let p = Project::new();
    mail_bot(&p, NOTIFY);
    let port = free_port();
    p.write("config/agent.toml", &smtp_config(port));
    let run = p.juru(&["run", "surat"]);
    assert_eq!(run.code(), 0, "a mail failure does not fail the run: {run}");
    assert_eq!(run.stdout().matches("NOT SENT yet").count(), 2, "{run}");
    assert!(run.stdout().contains("juru mail flush"), "{run}");
    let id = run_id(&p);
    assert_eq!(
        eml_files(&p, "pending"),
        vec![
            format!("var/outbox/pending/{id}.exceptions.eml"),
            format!("var/outbox/pending/{id}.summary.eml"),
        ]
    );
    let kept = std::fs::read(p.path(&format!("var/outbox/pending/{id}.summary.eml"))).unwrap();
    assert_eq!(
        parse(&kept).subject(),
        Some(format!("[juru] surat: 2 selesai, 1 perlu tindakan (run {id})").as_str())
    );

    // Listed as pending with the reason; a flush while the server is still down
    // keeps them and says so (exit 1).
    let list = p.juru(&["mail", "list"]);
    assert_eq!(list.code(), 0, "{list}");
    assert!(list.stdout().contains("pending (2)"), "{list}");
    assert!(list.stdout().contains("last attempt: "), "{list}");
    let flush = p.juru(&["mail", "flush"]);
    assert_eq!(flush.code(), 1, "{flush}");
    assert!(
        flush
            .stdout()
            .contains("2 pending message(s): 0 sent, 2 still waiting, 0 refused"),
        "{flush}"
    );

    // The server comes up: one flush delivers each message once.
    let server = SmtpServer::with(
        &p.path("smtp"),
        ServerOptions {
            port: Some(port),
            ..ServerOptions::default()
        },
    );
    let flush = p.juru(&["mail", "flush"]);
    assert_eq!(flush.code(), 0, "{flush}");
    assert!(
        flush
            .stdout()
            .contains("2 pending message(s): 2 sent, 0 still waiting, 0 refused"),
        "{flush}"
    );
    let again = p.juru(&["mail", "flush"]);
    assert_eq!(again.code(), 0, "{again}");
    assert!(again.stdout().contains("0 pending message(s)"), "{again}");

    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    let mut rcpts: Vec<String> = messages.iter().map(|m| rcpt_to(&parse(m))).collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        vec!["kabid@dinas.example.go.id", "loket@dinas.example.go.id"]
    );
    assert_eq!(server.rcpt_log().len(), 2, "{:?}", server.rcpt_log());
    assert!(eml_files(&p, "pending").is_empty());
    assert_eq!(eml_files(&p, "sent").len(), 2);
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p.path(&format!("var/outbox/sent/{id}.summary.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["attempts"], 3, "{record}");
}

#[test]
fn a_permanent_refusal_is_recorded_with_the_server_text_and_not_retried() {
    let p = Project::new();
    let gone = "tidak.ada@dinas.example.go.id";
    mail_bot(
        &p,
        &format!(
            "officers = [\"loket@dinas.example.go.id\", \"{gone}\"]\nsupervisors = [\"kabid@dinas.example.go.id\"]\n"
        ),
    );
    let server = SmtpServer::with(
        &p.path("smtp"),
        ServerOptions {
            refuse: vec![gone.to_string()],
            ..ServerOptions::default()
        },
    );
    p.write("config/agent.toml", &smtp_config(server.port));
    let run = p.juru(&["run", "surat"]);
    assert_eq!(run.code(), 0, "{run}");
    // The report still reached the other officer; the refusal is shown.
    assert!(
        run.stdout().contains(&format!(
            "REFUSED for {gone}: 550 5.1.1 <{gone}>: Recipient address rejected"
        )),
        "{run}"
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    assert!(messages
        .iter()
        .any(|m| rcpt_to(&parse(m)) == "loket@dinas.example.go.id"));
    let id = run_id(&p);
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p.path(&format!("var/outbox/sent/{id}.exceptions.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["refused"][0]["address"], gone, "{record}");

    // A message nobody accepts goes to failed/ with the server's words.
    let outbox = juru::mail::Outbox::new(p.path("var/outbox"));
    let only_gone = juru::mail::Mail {
        to: vec![gone.to_string()],
        subject: "Hanya untuk yang tidak ada".into(),
        text: "x".into(),
        html: "<p>x</p>".into(),
        ..juru::mail::Mail::default()
    };
    let entry = outbox
        .enqueue(
            "juru@dinas.example.go.id",
            &only_gone,
            "tunggal",
            "script",
            None,
        )
        .unwrap();
    let flush = p.juru(&["mail", "flush"]);
    assert_eq!(flush.code(), 1, "{flush}");
    assert!(
        flush.stdout().contains(&format!(
            "REFUSED   tunggal  to {gone}: 550 5.1.1 <{gone}>: Recipient address rejected: User unknown"
        )),
        "{flush}"
    );
    assert!(p.path("var/outbox/failed/tunggal.eml").is_file());
    let list = p.juru(&["mail", "list"]);
    assert!(list.stdout().contains("failed (1)"), "{list}");
    assert!(
        list.stdout()
            .contains(&format!("REFUSED for {gone}: 550 5.1.1")),
        "{list}"
    );
    assert_eq!(entry.id, "tunggal");

    // Not retried: later flushes do not talk to the server about it again.
    let refusals = |s: &SmtpServer| s.rcpt_log().iter().filter(|l| l.starts_with("550")).count();
    let before = refusals(&server);
    let again = p.juru(&["mail", "flush"]);
    assert_eq!(again.code(), 0, "{again}");
    assert!(again.stdout().contains("0 pending message(s)"), "{again}");
    assert_eq!(refusals(&server), before);
    assert_eq!(server.messages().len(), 2);
}

/// A CA and a server certificate for 127.0.0.1: (CA file, cert file, key file).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "juru test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    (paths.0, paths.1, paths.2)
}

pub(crate) fn queue_one(p: &Project, name: &str) {
    let mail = juru::mail::Mail {
        to: vec!["Loket <loket@dinas.example.go.id>".into()],
        subject: format!("Uji {name}"),
        text: "Halo".into(),
        html: "<p>Halo</p>".into(),
        attachments: vec![juru::mail::Attachment::new(
            "data.csv",
            b"NIK\n1\n".to_vec(),
        )],
        ..juru::mail::Mail::default()
    };
    juru::mail::Outbox::new(p.path("var/outbox"))
        .enqueue("juru@dinas.example.go.id", &mail, name, "script", None)
        .unwrap();
}

#[test]
fn starttls_and_implicit_tls_with_auth_and_the_password_from_a_secret() {
    let mut p = Project::new();
    let (ca, cert, key) = certificates(&p.path("tls"));
    std::fs::copy(&ca, p.path("config/smtp-ca.pem")).unwrap();
    let auth = Some(("juru".to_string(), "sandi-rahasia".to_string()));
    let starttls = SmtpServer::with(
        &p.path("smtp-starttls"),
        ServerOptions {
            tls: Some(("starttls", cert.clone(), key.clone())),
            auth: auth.clone(),
            ..ServerOptions::default()
        },
    );
    let config = |port: u16, tls: &str, ca: bool| {
        format!(
            "[mail]\ntransport = \"smtp\"\nfrom = \"juru <juru@dinas.example.go.id>\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"{tls}\"\nusername = \"juru\"\npassword_secret = \"smtp_password\"\ntimeout = \"10s\"\n{}",
            if ca { "ca_file = \"smtp-ca.pem\"\n" } else { "" }
        )
    };

    // Without our CA the certificate is not trusted: the message waits.
    queue_one(&p, "satu");
    p.env("JURU_SECRET_SMTP_PASSWORD", "sandi-rahasia");
    p.write(
        "config/agent.toml",
        &config(starttls.port, "starttls", false),
    );
    let flush = p.juru(&["mail", "flush"]);
    assert_eq!(flush.code(), 1, "{flush}");
    assert!(flush.stdout().contains("WAITING   satu"), "{flush}");
    assert!(
        flush.stdout().to_lowercase().contains("certificate"),
        "{flush}"
    );

    // A wrong password: the login is refused, the message still waits (a person
    // fixes the secret, it is not the message's fault).
    p.write(
        "config/agent.toml",
        &config(starttls.port, "starttls", true),
    );
    p.env("JURU_SECRET_SMTP_PASSWORD", "salah");
    let flush = p.juru(&["mail", "flush"]);
    assert_eq!(flush.code(), 1, "{flush}");
    assert!(flush.stdout().contains("WAITING   satu"), "{flush}");
    assert!(flush.stdout().contains("535"), "{flush}");
    assert!(starttls.messages().is_empty());

    // The right one, over STARTTLS.
    p.env("JURU_SECRET_SMTP_PASSWORD", "sandi-rahasia");
    let flush = p.juru(&["mail", "flush"]);
    assert_eq!(flush.code(), 0, "{flush}");
    assert!(flush.stdout().contains("sent      satu"), "{flush}");
    let got = starttls.messages();
    assert_eq!(got.len(), 1);
    let m = parse(&got[0]);
    assert_eq!(m.subject(), Some("Uji satu"));
    assert_eq!(m.attachments().next().unwrap().contents(), b"NIK\n1\n");

    // Implicit TLS (port 465 style).
    let implicit = SmtpServer::with(
        &p.path("smtp-implicit"),
        ServerOptions {
            tls: Some(("implicit", cert, key)),
            auth,
            ..ServerOptions::default()
        },
    );
    queue_one(&p, "dua");
    p.write("config/agent.toml", &config(implicit.port, "tls", true));
    let flush = p.juru(&["mail", "flush"]);
    assert_eq!(flush.code(), 0, "{flush}");
    assert_eq!(implicit.messages().len(), 1);
    assert_eq!(parse(&implicit.messages()[0]).subject(), Some("Uji dua"));
    assert_eq!(starttls.messages().len(), 1, "sent once only");
}

#[test]
fn a_script_mails_a_file_of_its_run_and_may_not_attach_others() {
    let p = Project::new();
    mail_bot(&p, "");
    p.write(
        "bots/surat/main.rhai",
        r#"
fn process(item) {
    if item.row == 2 {
        let shot = browser.screenshot("bukti");
        let id = send_mail(["Loket <loket@dinas.example.go.id>"], `Bukti NIK ${item["NIK"]}`,
            "Terlampir bukti pendaftaran.\nSalam.",
            [#{ path: shot, name: "Bukti – NIK.png" }]);
        item.output("Surat", id);
    } else if item.row == 3 {
        send_mail("loket@dinas.example.go.id", "Basis data", "x", ["../../juru.db"]);
    }
}
"#,
    );
    let server = SmtpServer::start(&p.path("smtp"));
    p.write("config/agent.toml", &smtp_config(server.port));
    let run = p.juru(&["run", "surat"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        run.stdout()
            .contains("script to loket@dinas.example.go.id: sent via"),
        "{run}"
    );
    assert!(
        run.stdout().contains("system exceptions           1"),
        "{run}"
    );
    assert!(
        run.stderr()
            .contains("must be a path inside the run's folder"),
        "{run}"
    );

    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{run}");
    let m = parse(&messages[0]);
    assert_eq!(m.subject(), Some("Bukti NIK 3201010101010001"));
    assert_eq!(
        m.body_text(0).unwrap().trim_end(),
        "Terlampir bukti pendaftaran.\nSalam."
    );
    let a = m.attachments().next().unwrap();
    assert_eq!(a.attachment_name(), Some("Bukti – NIK.png"));
    let shot = std::fs::read_dir(p.run_dir().join("screenshots"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("bukti"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .expect("the script's screenshot");
    assert!(shot.starts_with(b"\x89PNG"));
    assert_eq!(a.contents(), shot);
    let id = run_id(&p);
    assert_eq!(
        eml_files(&p, "sent"),
        vec![format!("var/outbox/sent/{id}.mail.eml")]
    );
}
