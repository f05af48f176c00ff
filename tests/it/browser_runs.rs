//! The demo bot against the bundled portal through real chromedriver + Chromium:
//! what the portal stored, what the workbooks hold, what the mail carries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use calamine::{open_workbook_auto, Data, DataType, Reader};
use mail_parser::MimeHeaders;

use crate::support::{PortalHandle, Project};

/// The rows of the demo workbook the portal refuses: `No` → the portal's message.
const REFUSED: [(i64, &str); 5] = [
    (4, "NIK harus terdiri dari 16 digit angka."),
    (9, "NIK tidak ditemukan di data kependudukan."),
    (13, "Tanggal pengajuan tidak boleh melewati hari ini."),
    (
        17,
        "Izin Usaha Industri tidak dapat diajukan untuk usaha skala Mikro.",
    ),
    (
        22,
        "Permohonan dengan NIK dan jenis izin yang sama sudah terdaftar.",
    ),
];

struct InputRow {
    no: i64,
    nik: String,
    jenis: String,
}

/// The demo input, read independently of juru.
fn demo_input() -> Vec<InputRow> {
    let path = Path::new(crate::support::REPO).join("bots/demo-perizinan/input/permohonan.xlsx");
    let rows = sheet_rows(&path, "Permohonan");
    let col = |name: &str| rows[0].iter().position(|h| *h == name).unwrap();
    let (no, nik, jenis) = (col("No"), col("NIK"), col("Jenis Izin"));
    rows[1..]
        .iter()
        .map(|r| InputRow {
            no: r[no]
                .as_i64()
                .or_else(|| r[no].as_f64().map(|f| f as i64))
                .unwrap(),
            nik: r[nik].to_string(),
            jenis: r[jenis].to_string(),
        })
        .collect()
}

fn sheet_rows(path: &Path, sheet: &str) -> Vec<Vec<Data>> {
    let mut wb = open_workbook_auto(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let range = wb
        .worksheet_range(sheet)
        .unwrap_or_else(|e| panic!("{sheet}: {e}"));
    range.rows().map(|r| r.to_vec()).collect()
}

fn header_index(rows: &[Vec<Data>]) -> BTreeMap<String, usize> {
    rows[0]
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_string(), i))
        .collect()
}

fn secrets(p: &mut Project) {
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
}

#[test]
fn demo_bot_registers_valid_rows_and_reports_the_refused_ones() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    secrets(&mut p);
    let var = format!("portal_url={}", portal.url());
    let run = p.juru(&["run", "demo-perizinan", "--var", &var]);
    assert_eq!(run.code(), 0, "{run}");

    // The portal holds exactly the valid rows, once each.
    let input = demo_input();
    let refused: BTreeMap<i64, &str> = REFUSED.into_iter().collect();
    let expected: BTreeSet<(String, String)> = input
        .iter()
        .filter(|r| !refused.contains_key(&r.no))
        .map(|r| (r.nik.clone(), r.jenis.clone()))
        .collect();
    let records = portal.records();
    let stored: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.nik.clone(), r.jenis_izin.clone()))
        .collect();
    assert_eq!(stored.len(), 20, "{stored:?}");
    assert_eq!(stored.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let no_reg: BTreeMap<(String, String), String> = records
        .iter()
        .map(|r| ((r.nik.clone(), r.jenis_izin.clone()), r.no_reg.clone()))
        .collect();

    // output.xlsx: every row, in input order, with status, number and message.
    let dir = p.run_dir();
    let out = sheet_rows(&dir.join("output.xlsx"), "Hasil");
    let h = header_index(&out);
    assert_eq!(out.len(), 26);
    for (row, want) in out[1..].iter().zip(&input) {
        let no = row[h["No"]].as_f64().unwrap() as i64;
        assert_eq!(no, want.no);
        assert!(
            matches!(row[h["NIK"]], Data::String(_)),
            "NIK stays text: {:?}",
            row[h["NIK"]]
        );
        assert!(
            matches!(row[h["Tanggal Pengajuan"]], Data::DateTime(_)),
            "dates stay dates: {:?}",
            row[h["Tanggal Pengajuan"]]
        );
        match refused.get(&no) {
            Some(message) => {
                assert_eq!(row[h["Status"]].to_string(), "Pengecualian bisnis");
                assert_eq!(row[h["Keterangan"]].to_string(), *message);
                assert_eq!(row[h["Nomor Registrasi"]], Data::Empty);
            }
            None => {
                assert_eq!(row[h["Status"]].to_string(), "Selesai");
                let key = (want.nik.clone(), want.jenis.clone());
                assert_eq!(row[h["Nomor Registrasi"]].to_string(), no_reg[&key]);
            }
        }
    }

    // exceptions.xlsx: the refused rows with the portal's message and a screenshot.
    let exc = sheet_rows(&dir.join("exceptions.xlsx"), "Pengecualian");
    let h = header_index(&exc);
    assert_eq!(exc.len(), 6, "{exc:?}");
    for (row, (no, message)) in exc[1..].iter().zip(REFUSED) {
        assert_eq!(row[h["No"]].as_f64().unwrap() as i64, no);
        assert_eq!(row[h["Alasan"]].to_string(), message);
        assert_eq!(row[h["Jenis"]].to_string(), "Pengecualian bisnis");
        let shot = row[h["Tangkapan Layar"]].to_string();
        let png = std::fs::read(dir.join(&shot)).unwrap_or_else(|e| panic!("{shot}: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
    let summary = sheet_rows(&dir.join("exceptions.xlsx"), "Ringkasan");
    assert!(summary
        .iter()
        .any(|r| r[0] == "Pengecualian bisnis" && r[1].as_f64() == Some(5.0)));

    // The mail (file transport: var/outbox/sent/): the summary to the supervisor,
    // the exception report with the workbook attached byte for byte to the officer.
    let id = dir.file_name().unwrap().to_str().unwrap();
    let read =
        |kind: &str| std::fs::read(p.path(&format!("var/outbox/sent/{id}.{kind}.eml"))).unwrap();
    let raw = read("summary");
    let summary = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("a MIME message");
    assert_eq!(
        summary.subject(),
        Some(format!("[juru] demo-perizinan: 20 selesai, 5 perlu tindakan (run {id})").as_str())
    );
    let to = summary
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap();
    assert_eq!(to, "kabid.pelayanan@dpmptsp.example.go.id");
    let raw = read("exceptions");
    let mail = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("a MIME message");
    assert_eq!(
        mail.subject(),
        Some(
            format!("[juru] demo-perizinan: laporan pengecualian, 5 perlu tindakan (run {id})")
                .as_str()
        )
    );
    let to = mail
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap();
    assert_eq!(to, "loket.izin@dpmptsp.example.go.id");
    let text = mail.body_text(0).unwrap();
    // Rows are named by the sheet's No and the key columns (the first two required).
    assert!(
        text.lines().any(|l| l.starts_with("- Baris 5 (No ")
            && l.contains(" · NIK ")
            && l.contains(", Nama Pemohon ")
            && l.ends_with(": NIK harus terdiri dari 16 digit angka. (Pengecualian bisnis)")),
        "{text}"
    );
    let html = mail.body_html(0).unwrap();
    assert!(html.contains("<table"), "{html}");
    let attachment = mail.attachments().next().expect("an attachment");
    assert_eq!(attachment.attachment_name(), Some("exceptions.xlsx"));
    assert_eq!(
        attachment.contents(),
        std::fs::read(dir.join("exceptions.xlsx")).unwrap()
    );

    // The store accounts for every row.
    let store = juru::store::Store::open(p.path("var/juru.db")).unwrap();
    let run_id = dir.file_name().unwrap().to_str().unwrap();
    let items = store.items(run_id).unwrap();
    assert_eq!(items.len(), 25);
    assert_eq!(items.iter().filter(|i| i.state == "done").count(), 20);
    assert_eq!(
        items
            .iter()
            .filter(|i| i.state == "business_exception")
            .count(),
        5
    );
    assert_eq!(store.run(run_id).unwrap().unwrap().state, "finished");

    // Nothing left running.
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
}

#[test]
fn system_exception_takes_a_screenshot_restarts_the_browser_and_goes_on() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    secrets(&mut p);
    p.write("config/agent.toml", "[browser]\ntimeout = \"2s\"\n");
    let script = std::fs::read_to_string(p.path("bots/demo-perizinan/main.rhai")).unwrap();
    let script = script.replace(
        "fn process(item) {",
        "fn process(item) {\n    if item[\"No\"] == 3 { browser.open(`${vars.portal_url}/menu`); browser.click(\"#tidak-ada\"); }",
    );
    p.write("bots/demo-perizinan/main.rhai", &script);
    let var = format!("portal_url={}", portal.url());
    let run = p.juru(&["run", "demo-perizinan", "--var", &var]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        run.stderr().contains("restarting the browser session"),
        "{run}"
    );

    // Row No 3 failed; every later valid row still reached the portal (after a new login).
    assert_eq!(portal.records().len(), 19);
    let dir = p.run_dir();
    let exc = sheet_rows(&dir.join("exceptions.xlsx"), "Pengecualian");
    let h = header_index(&exc);
    let row = exc
        .iter()
        .find(|r| r[h["No"]].as_f64() == Some(3.0))
        .expect("row No 3 listed");
    assert_eq!(row[h["Jenis"]].to_string(), "Pengecualian sistem");
    // Officers read a plain sentence; the detail is in output.xlsx for IT staff.
    assert_eq!(
        row[h["Alasan"]].to_string(),
        "Kesalahan sistem pada bot; tim TI sudah diberi tahu"
    );
    let shot = row[h["Tangkapan Layar"]].to_string();
    let out = sheet_rows(&dir.join("output.xlsx"), "Hasil");
    let oh = header_index(&out);
    let row = out
        .iter()
        .find(|r| r[oh["No"]].as_f64() == Some(3.0))
        .expect("row No 3 in output.xlsx");
    let reason = row[oh["Keterangan"]].to_string();
    assert!(
        reason.contains("no element matches `#tidak-ada` after waiting 2 s"),
        "{reason}"
    );
    assert!(
        reason.contains("/menu"),
        "the page URL is in the reason: {reason}"
    );
    assert!(dir.join(shot).is_file());
    assert!(
        run.stdout().contains("system exceptions           1"),
        "{run}"
    );
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
}

#[test]
fn juru_demo_runs_portal_driver_and_bot_in_one_command() {
    let p = Project::with_demo_bot();
    let run = p.juru(&["demo"]);
    assert_eq!(run.code(), 0, "{run}");
    let out = run.stdout();
    for line in [
        "rows                       25",
        "done                       20",
        "business exceptions         5",
        "system exceptions           0",
        "20 record(s) saved by the portal",
    ] {
        assert!(out.contains(line), "missing {line:?}\n{run}");
    }
    let dir = p.run_dir();
    assert!(dir.join("output.xlsx").is_file() && dir.join("exceptions.xlsx").is_file());
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
}

#[test]
fn missing_chromedriver_says_what_to_install() {
    let p = Project::with_demo_bot();
    p.write(
        "config/agent.toml",
        "[browser]\nchromedriver = \"/nonexistent/chromedriver\"\n",
    );
    let run = p.juru(&["demo"]);
    assert_eq!(run.code(), 1, "{run}");
    assert!(
        run.stdout().contains("chromedriver was not found at \"/nonexistent/chromedriver\": install Debian's packages (apt-get install chromium chromium-driver)"),
        "{run}"
    );
}

#[test]
fn sigterm_stops_the_run_cleanly() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    secrets(&mut p);
    let var = format!("portal_url={}", portal.url());
    let mut child = p.spawn(&["run", "demo-perizinan", "--var", &var], true);
    // Wait (bounded) until the portal has stored a few rows, then stop the run.
    let deadline = Instant::now() + Duration::from_secs(120);
    while portal.records().len() < 3 {
        assert!(Instant::now() < deadline, "the run never got going");
        assert!(child.try_wait().unwrap().is_none(), "juru exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(": cancelled"), "{stdout}");

    let store = juru::store::Store::open(p.path("var/juru.db")).unwrap();
    let dir = p.run_dir();
    let run_id = dir.file_name().unwrap().to_str().unwrap();
    assert_eq!(store.run(run_id).unwrap().unwrap().state, "cancelled");
    // The item in flight was allowed to finish: what the store calls done is exactly
    // what the portal holds, and the rest waits as pending.
    let items = store.items(run_id).unwrap();
    let done = items.iter().filter(|i| i.state == "done").count();
    let pending = items.iter().filter(|i| i.state == "pending").count();
    assert!(done >= 3 && pending > 0, "{items:?}");
    assert_eq!(done + pending, 25, "{items:?}");
    assert_eq!(portal.records().len(), done);
    assert!(dir.join("output.xlsx").is_file());
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
}

/// The README tutorial: `cek-permohonan` looks up what `demo-perizinan` registered.
#[test]
fn tutorial_bot_finds_what_the_demo_bot_registered() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    crate::support::copy_dir(
        &Path::new(crate::support::REPO).join("bots/cek-permohonan"),
        &p.path("bots/cek-permohonan"),
    );
    secrets(&mut p);
    let var = format!("portal_url={}", portal.url());
    let run = p.juru(&["run", "demo-perizinan", "--var", &var]);
    assert_eq!(run.code(), 0, "{run}");
    let run = p.juru(&["run", "cek-permohonan", "--var", &var]);
    assert_eq!(run.code(), 0, "{run}");

    let records = portal.records();
    let out_path = std::fs::read_dir(p.path("var/runs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|d| d.to_string_lossy().ends_with("cek-permohonan"))
        .expect("the tutorial bot's run folder")
        .join("output.xlsx");
    let out = sheet_rows(&out_path, "Hasil");
    let h = header_index(&out);
    let mut business = 0;
    for row in &out[1..] {
        let nik = row[h["NIK"]].to_string();
        let found: Vec<_> = records.iter().filter(|r| r.nik.contains(&nik)).collect();
        if found.is_empty() {
            business += 1;
            assert_eq!(row[h["Status"]].to_string(), "Pengecualian bisnis");
            assert_eq!(
                row[h["Keterangan"]].to_string(),
                format!("NIK {nik} belum terdaftar")
            );
        } else {
            assert_eq!(row[h["Status"]].to_string(), "Selesai");
            assert_eq!(
                row[h["Jumlah Permohonan"]].as_f64(),
                Some(found.len() as f64)
            );
            assert_eq!(
                row[h["Nomor Registrasi Pertama"]].to_string(),
                found[0].no_reg
            );
        }
    }
    assert_eq!(
        business, 4,
        "the four refused NIKs that were never registered"
    );
}
