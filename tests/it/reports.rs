//! What officers receive, through a real SMTP server (aiosmtpd, see `mail.rs`) and
//! a real browser on the demo portal: `exceptions.xlsx` with the screenshots
//! embedded (on disk and in the mail's attachment), rows named by their key
//! columns, no server paths and a plain sentence for a system exception, and a
//! `Message-ID` that stays the same when delivery is retried.

use std::io::Read;

use mail_parser::Message;

use crate::mail::{free_port, smtp_config, ServerOptions, SmtpServer};
use crate::support::{PortalHandle, Project};

const NOTIFY: &str =
    "officers = [\"Loket <loket@dinas.example.go.id>\"]\nkey_columns = [\"NIK\", \"Nama\"]\n";

/// A bot over three rows (No, NIK, Nama) that opens a page of the portal first,
/// so a failure leaves a screenshot: row 3 is a business exception (short NIK),
/// row 4 a system exception (a missing element), row 2 is done.
fn officer_bot(p: &Project, notify: &str) {
    p.write(
        "bots/loket/bot.toml",
        &format!(
            "name = \"loket\"\n[input]\nworkbook = \"masuk.xlsx\"\nrequired = [\"NIK\", \"Nama\"]\n[run]\nmax_retries = 0\n[notify]\n{notify}"
        ),
    );
    p.write(
        "bots/loket/main.rhai",
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/tabel`);
    if item["NIK"].len() != 16 { fail_business(`NIK ${item["NIK"]} tidak 16 digit`); }
    if item["Nama"] == "Citra" {
        browser.open(`${vars.portal_url}/lab/basi`);
        browser.click("#tidak-ada-di-halaman");
    }
    item.output("Diperiksa", true);
}
"##,
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["No", "NIK", "Nama"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (i, (nik, nama)) in [
        ("3201010101010001", "Ani"),
        ("32010101", "Budi"),
        ("3201010101010003", "Citra"),
    ]
    .iter()
    .enumerate()
    {
        let r = i as u32 + 1;
        ws.write_number(r, 0, f64::from(r)).unwrap();
        ws.write_string(r, 1, *nik).unwrap();
        ws.write_string(r, 2, *nama).unwrap();
    }
    wb.save(p.path("bots/loket/masuk.xlsx")).unwrap();
}

fn config(port: u16) -> String {
    format!(
        "[browser]\nheadless = true\ntimeout = \"3s\"\n{}",
        smtp_config(port)
    )
}

fn parse(raw: &[u8]) -> Message<'_> {
    mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a MIME message")
}

/// The names of the pictures inside an .xlsx (a zip), and the drawing's links.
fn xlsx_media(bytes: &[u8]) -> (Vec<String>, String) {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an xlsx is a zip");
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let media: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with("xl/media/"))
        .cloned()
        .collect();
    let mut rels = String::new();
    for n in names.iter().filter(|n| n.starts_with("xl/drawings/_rels/")) {
        zip.by_name(n).unwrap().read_to_string(&mut rels).unwrap();
    }
    (media, rels)
}

fn run_id(p: &Project) -> String {
    p.run_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn exceptions_reach_officers_with_screenshots_embedded_and_no_server_detail() {
    let portal = PortalHandle::start();
    let p = Project::new();
    officer_bot(&p, NOTIFY);
    let server = SmtpServer::start(&p.path("smtp"));
    p.write("config/agent.toml", &config(server.port));
    let var = format!("portal_url={}", portal.url());
    let run = p.juru(&["run", "loket", "--var", &var]);
    assert_eq!(run.code(), 0, "{run}");
    let dir = p.run_dir();
    let id = run_id(&p);

    // On disk: both failed rows' screenshots are inside the workbook, and each
    // thumbnail leads to its full-size copy on the screenshots sheet.
    let workbook = std::fs::read(dir.join("exceptions.xlsx")).unwrap();
    let (media, rels) = xlsx_media(&workbook);
    assert_eq!(media.len(), 2, "{media:?}");
    assert!(rels.contains("#'Tangkapan Layar'!A"), "{rels}");
    for shot in ["screenshots/row-0003.png", "screenshots/row-0004.png"] {
        assert!(dir.join(shot).is_file(), "{shot}");
    }
    let exc = juru::sheet::read(&dir.join("exceptions.xlsx"), Some("Pengecualian")).unwrap();
    assert_eq!(
        exc.headers[..6],
        ["Baris", "No", "NIK", "Nama", "Jenis", "Alasan"]
    );
    let reasons: Vec<String> = exc.rows.iter().map(|r| r.cells[5].to_text()).collect();
    assert_eq!(
        reasons,
        [
            "NIK 32010101 tidak 16 digit",
            "Kesalahan sistem pada bot; tim TI sudah diberi tahu"
        ]
    );

    // The officers' mail: the same workbook attached, pictures and all.
    let raws = server.messages();
    assert_eq!(raws.len(), 1, "{run}");
    let mail = parse(&raws[0]);
    let attachment = mail.attachments().next().expect("the workbook");
    assert_eq!(attachment.contents(), workbook);
    assert_eq!(xlsx_media(attachment.contents()).0.len(), 2);

    // Rows named by No and key columns; no server path; the system error in plain words.
    let text = mail.body_text(0).unwrap();
    assert!(
        text.contains("- Baris 3 (No 2) · NIK 32010101, Nama Budi: NIK 32010101 tidak 16 digit (Pengecualian bisnis)\n"),
        "{text}"
    );
    assert!(
        text.contains("- Baris 4 (No 3) · NIK 3201010101010003, Nama Citra: Kesalahan sistem pada bot; tim TI sudah diberi tahu (Pengecualian sistem)\n"),
        "{text}"
    );
    let home = p.dir.path().to_string_lossy().into_owned();
    let html = mail.body_html(0).unwrap();
    for body in [text.as_ref(), html.as_ref()] {
        assert!(!body.contains(&home), "a server path: {body}");
        assert!(
            !body.contains("tidak-ada-di-halaman"),
            "technical detail: {body}"
        );
    }
    assert!(
        text.contains("Berkas masukan         masuk.xlsx\n"),
        "{text}"
    );
    assert!(text.contains("Nomor proses           "), "{text}");

    // The detail stays for IT staff in output.xlsx.
    let out = juru::sheet::read(&dir.join("output.xlsx"), Some("Hasil")).unwrap();
    let message = out.column("Keterangan").unwrap();
    assert!(
        out.rows[2].cells[message]
            .to_text()
            .contains("tidak-ada-di-halaman"),
        "{:?}",
        out.rows[2]
    );

    // Message-ID from the outbox id and the sender's domain; Date in WIB.
    assert_eq!(
        mail.message_id(),
        Some(format!("{id}.exceptions@dinas.example.go.id").as_str())
    );
    let raw = String::from_utf8_lossy(&raws[0]);
    let date = raw
        .lines()
        .find(|l| l.starts_with("Date: "))
        .expect("a Date header");
    assert!(date.ends_with(" +0700"), "{date}");
}

#[test]
fn the_message_id_stays_the_same_when_delivery_is_retried() {
    let p = Project::new();
    crate::mail::mail_bot(
        &p,
        "officers = [\"loket@dinas.example.go.id\"]\nsupervisors = [\"kabid@dinas.example.go.id\"]\n",
    );
    // Nobody listens yet: the run's mail waits in the outbox.
    let port = free_port();
    p.write("config/agent.toml", &config(port));
    let run = p.juru(&["run", "surat"]);
    assert_eq!(run.code(), 0, "{run}");
    let id = run_id(&p);
    let pending = p.path(&format!("var/outbox/pending/{id}.exceptions.eml"));
    let queued = std::fs::read(&pending).expect("the report waits in pending/");
    let header = |raw: &[u8]| {
        String::from_utf8_lossy(raw)
            .lines()
            .find(|l| l.starts_with("Message-ID: "))
            .map(str::to_string)
            .expect("a Message-ID header")
    };
    let want = format!("Message-ID: <{id}.exceptions@dinas.example.go.id>");
    assert_eq!(header(&queued), want);

    // The server comes up; a flush delivers the very same message.
    let server = SmtpServer::with(
        &p.path("smtp"),
        ServerOptions {
            port: Some(port),
            ..ServerOptions::default()
        },
    );
    let flush = p.juru(&["mail", "flush"]);
    assert_eq!(flush.code(), 0, "{flush}");
    let got = server.messages();
    assert_eq!(got.len(), 2, "{flush}");
    let report = got
        .iter()
        .find(|m| String::from_utf8_lossy(m).contains("laporan pengecualian"))
        .expect("the exception report");
    assert_eq!(header(report), want);
    let ids: Vec<String> = got.iter().map(|m| header(m)).collect();
    assert_ne!(ids[0], ids[1], "each message has its own id");
}

/// The envelope recipients of a stored message (aiosmtpd's X-RcptTo header).
fn rcpt_to(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .lines()
        .find_map(|l| l.strip_prefix("X-RcptTo: "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn a_recipient_that_refused_is_listed_and_retried_alone() {
    let p = Project::new();
    let gone = "tidak.ada@dinas.example.go.id";
    crate::mail::mail_bot(
        &p,
        &format!("officers = [\"loket@dinas.example.go.id\", \"{gone}\"]\n"),
    );
    let port = free_port();
    let refusing = SmtpServer::with(
        &p.path("smtp-1"),
        ServerOptions {
            port: Some(port),
            refuse: vec![gone.to_string()],
            ..ServerOptions::default()
        },
    );
    p.write("config/agent.toml", &config(port));
    let run = p.juru(&["run", "surat"]);
    assert_eq!(run.code(), 0, "{run}");
    let id = format!("{}.exceptions", run_id(&p));
    let got = refusing.messages();
    assert_eq!(got.len(), 1, "{run}");
    assert_eq!(rcpt_to(&got[0]), "loket@dinas.example.go.id");

    // Delivered to one officer, refused by the other: listed, not hidden in sent/.
    let list = p.juru(&["mail", "list"]);
    assert_eq!(list.code(), 0, "{list}");
    let out = list.stdout();
    assert!(
        out.contains("sent but refused by some recipients (1)"),
        "{list}"
    );
    assert!(out.contains(&format!("  {id}  ")), "{list}");
    assert!(
        out.contains(&format!("REFUSED for {gone}: 550 5.1.1")),
        "{list}"
    );
    // A plain flush has nothing to do; --strict says something waits for a person.
    assert_eq!(p.juru(&["mail", "flush"]).code(), 0);
    let strict = p.juru(&["mail", "flush", "--strict"]);
    assert_eq!(strict.code(), 1, "{strict}");
    assert!(
        strict
            .stdout()
            .contains("1 sent message(s) refused by some recipients"),
        "{strict}"
    );
    drop(refusing);

    // The address is fixed on the server: the retry goes to that recipient only.
    let fixed = SmtpServer::with(
        &p.path("smtp-2"),
        ServerOptions {
            port: Some(port),
            ..ServerOptions::default()
        },
    );
    let retry = p.juru(&["mail", "retry", &id]);
    assert_eq!(retry.code(), 0, "{retry}");
    assert!(
        retry
            .stdout()
            .contains(&format!("{id}: back in the outbox for {gone}")),
        "{retry}"
    );
    let got = fixed.messages();
    assert_eq!(got.len(), 1, "{retry}");
    assert_eq!(rcpt_to(&got[0]), gone);
    assert_eq!(fixed.rcpt_log(), [format!("250 {gone}")]);

    // Nothing left to retry; the record keeps both attempts.
    let list = p.juru(&["mail", "list"]);
    assert!(
        list.stdout()
            .contains("sent but refused by some recipients (0)"),
        "{list}"
    );
    assert_eq!(p.juru(&["mail", "flush", "--strict"]).code(), 0);
    let again = p.juru(&["mail", "retry", &id]);
    assert_eq!(again.code(), 2, "{again}");
    assert!(
        again.stderr().contains("there is no failed message"),
        "{again}"
    );
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p.path(&format!("var/outbox/sent/{id}.json"))).unwrap(),
    )
    .unwrap();
    let history = record["history"].as_array().expect("a history");
    assert_eq!(history.len(), 2, "{record}");
    assert_eq!(history[0]["accepted"][0], "loket@dinas.example.go.id");
    assert_eq!(history[0]["refused"][0]["address"], gone);
    assert_eq!(history[1]["accepted"][0], gone);
    let delivered: Vec<&str> = record["delivered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(delivered, ["loket@dinas.example.go.id", gone]);
}

#[test]
fn a_resumed_run_reports_both_parts() {
    let portal = PortalHandle::start();
    let p = Project::new();
    crate::support::lab_bot(
        &p,
        r##"fn process(item) {
    browser.open(`${vars.portal_url}/lab/lambat?detik=1`);
    item.output("Hasil", browser.text("#selesai"));
}"##,
        &format!(
            "[notify]\nsupervisors = [\"kabid@dinas.example.go.id\"]\n[vars]\nportal_url = \"{}\"",
            portal.url()
        ),
        6,
    );
    let started = std::time::Instant::now();
    let mut child = p.spawn(&["run", "lab"], false);
    let deadline = started + std::time::Duration::from_secs(90);
    let done = |p: &Project| {
        juru::store::Store::open(p.path("var/juru.db"))
            .ok()
            .and_then(|s| s.runs(None, 1).ok())
            .and_then(|r| r.first().map(|r| (r.id.clone(), r.done)))
    };
    // Killed after two rows (and a few seconds, so the first part is clearly one).
    let id = loop {
        if let Some((id, n)) = done(&p).filter(|(_, n)| *n >= 2) {
            if n < 6 && started.elapsed() > std::time::Duration::from_secs(3) {
                break id;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run did not get going"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    let left = juru::store::Store::open(p.path("var/juru.db"))
        .unwrap()
        .run(&id)
        .unwrap()
        .unwrap()
        .pending;
    assert!(left > 0, "the run ended before it was killed");

    let resumed = p.juru(&["runs", "resume", &id]);
    assert_eq!(resumed.code(), 0, "{resumed}");
    let out = resumed.stdout();
    // The commands are divided by this part's rows, not all six.
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("duration"))
        .expect("a duration line");
    assert!(line.contains("(2 parts: this one for "), "{out}");
    assert!(
        line.contains(" s since the first start, pause included)"),
        "{out}"
    );
    let commands = out
        .lines()
        .find(|l| l.trim_start().starts_with("webdriver commands"))
        .expect("a commands line");
    let total: f64 = commands.split_whitespace().nth(2).unwrap().parse().unwrap();
    let per: f64 = commands
        .split('(')
        .nth(1)
        .and_then(|x| x.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let rows = line
        .split("this one for ")
        .nth(1)
        .and_then(|x| x.split_whitespace().next())
        .unwrap()
        .parse::<f64>()
        .unwrap();
    // Commands that started browsers belong to no item.
    let starts: f64 = commands
        .split("; ")
        .nth(1)
        .and_then(|x| x.split_whitespace().next())
        .map_or(0.0, |n| n.parse().unwrap());
    assert!(
        (per - (total - starts) / rows).abs() < 0.1,
        "{total} commands ({starts} starting browsers) over {rows} rows: {commands}"
    );

    // The summary mail says the same in Indonesian.
    let mail = std::fs::read_to_string(p.path(&format!("var/outbox/sent/{id}.summary.eml")))
        .expect("the summary mail");
    let text = parse(mail.as_bytes()).body_text(0).unwrap().into_owned();
    assert!(text.contains("Durasi                 2 bagian: "), "{text}");
    assert!(
        text.contains(" sejak mulai pertama, termasuk jeda"),
        "{text}"
    );
}
