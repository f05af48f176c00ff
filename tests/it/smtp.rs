//! The summary mail through a real SMTP server on loopback (Python's aiosmtpd,
//! installed by `.ci/install --tests`), parsed with a real MIME parser.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mail_parser::MimeHeaders;

use crate::support::Project;

struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    fn start(maildir: &Path) -> SmtpServer {
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let mut server = SmtpServer {
            child,
            port,
            maildir: maildir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the SMTP server exited ({status}): is aiosmtpd installed? run .ci/install --tests");
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Every message the server stored.
    fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                for e in entries.filter_map(|e| e.ok()) {
                    out.push(std::fs::read(e.path()).expect("read message"));
                }
            }
        }
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A bot that needs no web page: it checks the NIK length itself.
fn mail_bot(p: &Project) {
    p.write(
        "bots/surat/bot.toml",
        "name = \"surat\"\n[input]\nworkbook = \"masuk.xlsx\"\nrequired = [\"NIK\"]\n[notify]\nofficers = [\"Loket <loket@dinas.example.go.id>\"]\nsupervisors = [\"kabid@dinas.example.go.id\"]\n",
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

fn smtp_config(port: u16) -> String {
    format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"juru <juru@dinas.example.go.id>\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ntimeout = \"10s\"\n"
    )
}

#[test]
fn summary_mail_reaches_a_real_smtp_server() {
    let p = Project::new();
    mail_bot(&p);
    let server = SmtpServer::start(&p.path("maildir"));
    p.write("config/agent.toml", &smtp_config(server.port));
    let run = p.juru(&["run", "surat"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        run.stdout()
            .contains(&format!("sent via 127.0.0.1:{}", server.port)),
        "{run}"
    );

    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{run}");
    let mail = mail_parser::MessageParser::default()
        .parse(&messages[0])
        .expect("MIME");
    assert_eq!(
        mail.subject(),
        Some("[juru] surat: 2 selesai, 1 perlu tindakan")
    );
    let rcpt = mail.header_raw("X-RcptTo").unwrap_or_default();
    assert!(
        rcpt.contains("loket@dinas.example.go.id") && rcpt.contains("kabid@dinas.example.go.id"),
        "{rcpt}"
    );
    assert!(mail
        .body_text(0)
        .unwrap()
        .contains("NIK 32010101 tidak 16 digit"));
    assert!(mail
        .body_html(0)
        .unwrap()
        .contains("NIK 32010101 tidak 16 digit"));
    let attachment = mail.attachments().next().expect("attachment");
    assert_eq!(attachment.attachment_name(), Some("exceptions.xlsx"));
    let dir = p.run_dir();
    assert_eq!(
        attachment.contents(),
        std::fs::read(dir.join("exceptions.xlsx")).unwrap()
    );

    // The copy moved to outbox/sent once the server took it.
    let id = dir.file_name().unwrap().to_str().unwrap().to_string();
    assert!(p.path(&format!("var/outbox/sent/{id}.eml")).is_file());
    assert!(!p.path(&format!("var/outbox/{id}.eml")).exists());
}

#[test]
fn smtp_server_down_keeps_the_message_in_the_outbox() {
    let p = Project::new();
    mail_bot(&p);
    p.write("config/agent.toml", &smtp_config(free_port()));
    let run = p.juru(&["run", "surat"]);
    assert_eq!(run.code(), 0, "a mail failure does not fail the run: {run}");
    assert!(run.stdout().contains("NOT SENT"), "{run}");
    let id = p
        .run_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let kept = std::fs::read(p.path(&format!("var/outbox/{id}.eml"))).expect("message kept");
    let mail = mail_parser::MessageParser::default()
        .parse(&kept)
        .expect("MIME");
    assert_eq!(
        mail.subject(),
        Some("[juru] surat: 2 selesai, 1 perlu tindakan")
    );
}
