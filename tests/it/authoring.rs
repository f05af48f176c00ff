//! What a bot author no longer writes by hand, against the real parts: retries a
//! script asks for (`fail_system`), a login that falters, a saved row whose login
//! fails after the fault (looked up at resume, never typed twice), idempotent
//! re-runs (`verify_first`), a value the page does not offer, `finish(run)` and
//! result files in the office's shape, attachments beside the input workbook.

use juru::store::ItemRecord;

use crate::agent::{runs, store};
use crate::support::{lab_bot, run_lab, PortalHandle, Project};

const LOGIN: &str = r##"
fn login() {
    browser.open(`${vars.portal_url}/login`);
    browser.fill_form(#{ "#user": "petugas", "#pass": "rahasia123" });
    browser.click("input[value=Masuk]");
    browser.wait_for_text("Selamat datang");
}
"##;

/// The items of the only (or last) run.
fn items(p: &Project) -> (String, Vec<ItemRecord>) {
    let run = runs(p).into_iter().next().expect("a run");
    let items = store(p).items(&run.id).unwrap();
    (run.id, items)
}

#[test]
fn fail_system_is_retried_and_a_value_the_page_lacks_is_the_datas_fault() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let script = format!(
        r##"{LOGIN}
fn process(item) {{
    if item["No"] == 1 {{
        fail_system("server menolak sementara");
    }}
    browser.open(`${{vars.portal_url}}/utama?hal=baru`);
    browser.in_frame("main", || {{
        browser.fill("#jenis", "Izin Terbang Layang");
    }});
}}
"##
    );
    lab_bot(
        &p,
        &script,
        "[run]\nmax_retries = 1\n[vars]\nportal_url = \"unused\"",
        2,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let (_, items) = items(&p);
    let first = &items[0];
    assert_eq!(first.state, "system_exception", "{first:?}");
    assert_eq!(first.attempts, 2, "{first:?}");
    assert_eq!(first.kind.as_deref(), Some("reported"));
    let reason = first.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("server menolak sementara") && reason.contains("after 2 attempts"),
        "{reason}"
    );
    let second = &items[1];
    assert_eq!(second.state, "business_exception", "{second:?}");
    assert_eq!(
        second.attempts, 1,
        "no retry can make the page offer it: {second:?}"
    );
    let reason = second.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("Izin Terbang Layang") && reason.contains("Izin Usaha Mikro"),
        "the reason names the value and what the page offers: {reason}"
    );
}

/// A lab bot typing each row's name into the portal's archive page, and looking it
/// up there in `verify(item)`.
fn archive_bot(p: &Project, after_save: &str, manifest: &str, rows: u32) {
    let script = format!(
        r##"{LOGIN}
fn process(item) {{
    browser.open(`${{vars.portal_url}}/lab/arsip`);
    browser.fill("#nama", `Pemohon ${{item["No"]}}`);
    item.submitted();
    browser.click("#simpan");
    browser.wait_for("#arsip");
    {after_save}
    item.output("Tersimpan", "ya");
}}

fn verify(item) {{
    browser.open(`${{vars.portal_url}}/lab/arsip`);
    let names = browser.table("#arsip").map(|r| r["Nama"]);
    if names.contains(`Pemohon ${{item["No"]}}`) {{
        item.output("Tersimpan", "ya (dicek)");
        return true;
    }}
    false
}}
"##
    );
    lab_bot(
        p,
        &script,
        &format!("[browser]\ntimeout = \"15 s\"\n{manifest}\n[vars]\nportal_url = \"unused\""),
        rows,
    );
}

#[test]
fn a_faltering_login_is_tried_again_in_a_new_session() {
    let portal = PortalHandle::start();
    let p = Project::new();
    // Row 1 makes the next two logins fail, then fails itself (before any save):
    // the restart's login fails twice and gets through the third time.
    let script = format!(
        r##"{LOGIN}
fn process(item) {{
    if item["No"] == 1 {{
        browser.open(`${{vars.portal_url}}/lab/tutup?kali=2&kunci=satu`);
        if browser.text("#tutup").starts_with("2 ") {{
            fail_system("sistem sibuk");
        }}
    }}
    browser.open(`${{vars.portal_url}}/lab/arsip`);
    browser.fill("#nama", `Pemohon ${{item["No"]}}`);
    browser.click("#simpan");
    browser.wait_for("#arsip");
}}
"##
    );
    lab_bot(
        &p,
        &script,
        "[browser]\ntimeout = \"15 s\"\n[vars]\nportal_url = \"unused\"",
        2,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        run.stderr()
            .matches("trying again in a new browser session")
            .count(),
        2,
        "{run}"
    );
    let (_, items) = items(&p);
    assert!(items.iter().all(|i| i.state == "done"), "{items:?}");
    assert_eq!(portal.archive(), vec!["Pemohon 1", "Pemohon 2"]);
}

#[test]
fn a_saved_row_whose_next_login_fails_is_looked_up_at_resume_not_typed_again() {
    let portal = PortalHandle::start();
    let p = Project::new();
    // After the save the portal falters: an error, and the next two logins fail.
    archive_bot(
        &p,
        r#"if item["No"] == 1 {
        browser.open(`${vars.portal_url}/lab/tutup?kali=2&kunci=simpan`);
        fail_system("halaman hasil tidak muncul");
    }"#,
        "[login]\nattempts = 2",
        2,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 1, "the run stops: login() failed twice\n{run}");
    assert!(run.stderr().contains("login() failed 2 times"), "{run}");
    let (id, items) = items(&p);
    // Not "needs verification": nobody looked yet, and the next resume will.
    assert_eq!(items[0].state, "pending", "{:?}", items[0]);
    assert!(items[0].submitted, "{:?}", items[0]);
    assert_eq!(portal.archive(), vec!["Pemohon 1"]);

    // A resume reads the bot's own [vars].
    let manifest = std::fs::read_to_string(p.path("bots/lab/bot.toml")).unwrap();
    p.write(
        "bots/lab/bot.toml",
        &manifest.replace("\"unused\"", &format!("\"{}\"", portal.url())),
    );
    let resumed = p.juru(&["runs", "resume", &id]);
    assert_eq!(resumed.code(), 0, "{resumed}");
    let items = store(&p).items(&id).unwrap();
    assert_eq!(items[0].state, "done", "{:?}", items[0]);
    assert!(
        items[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("found in the system by verify(item)"),
        "{:?}",
        items[0]
    );
    assert_eq!(items[1].state, "done", "{:?}", items[1]);
    // Saved once each, whatever happened.
    assert_eq!(portal.archive(), vec!["Pemohon 1", "Pemohon 2"]);
}

#[test]
fn with_verify_first_a_second_run_of_the_same_workbook_types_nothing() {
    let portal = PortalHandle::start();
    let p = Project::new();
    archive_bot(&p, "", "[run]\nverify_first = true", 3);
    let first = run_lab(&p, &portal, &[]);
    assert_eq!(first.code(), 0, "{first}");
    assert_eq!(portal.archive().len(), 3);
    let second = run_lab(&p, &portal, &[]);
    assert_eq!(second.code(), 0, "{second}");
    assert_eq!(portal.archive().len(), 3, "nothing typed twice");
    let (_, items) = items(&p);
    for i in &items {
        assert_eq!(i.state, "done", "{i:?}");
        assert!(
            i.reason
                .as_deref()
                .unwrap_or_default()
                .contains("already in the system"),
            "{i:?}"
        );
        assert!(i.outputs.contains("ya (dicek)"), "{i:?}");
    }

    // verify_first without verify(item) is refused before anything runs.
    p.write(
        "bots/lab/main.rhai",
        "fn process(item) { log(item[\"No\"]); }\n",
    );
    let check = p.juru(&["check"]);
    assert_eq!(check.code(), 2, "{check}");
    assert!(
        check.stderr().contains("run.verify_first = true")
            && check.stderr().contains("fn verify(item)"),
        "{check}"
    );
}

#[test]
fn finish_sees_every_item_and_result_files_take_the_offices_shape() {
    let p = Project::new();
    let script = r##"
fn process(item) {
    if item["No"] == 2 {
        fail_business("NIP tidak dikenal, periksa \"berkas\"");
    }
    item.output("Nomor Registrasi", `REG-${item["No"]}`);
}

fn finish(run) {
    log(`selesai ${run.done} bisnis ${run.business} dari ${run.items.len()}`);
    for i in run.items {
        log(`baris ${i.row}: ${i.status} ${i.outputs["Nomor Registrasi"] ?? "-"} ${i.message}`);
    }
}
"##;
    let manifest = r#"
[[output.files]]
file = "hasil.csv"
columns = [
  { header = "no", from = "No" },
  { header = "status", from = "@status" },
  { header = "no_registrasi", from = "Nomor Registrasi" },
  { header = "pesan", from = "@message" },
]
status = { done = "BERHASIL", business = "GAGAL", system = "GAGAL" }

[[output.files]]
file = "gagal.xlsx"
only = ["business", "system"]
columns = [{ header = "Baris", from = "@row" }, { header = "Alasan", from = "@message" }]
"#;
    lab_bot(&p, script, manifest, 3);
    let run = p.juru(&["run", "lab"]);
    assert_eq!(run.code(), 0, "{run}");
    let log = run.stderr();
    assert!(log.contains("selesai 2 bisnis 1 dari 3"), "{log}");
    // Rows are the workbook's own row numbers (the header is row 1).
    assert!(log.contains("baris 4: done REG-3"), "{log}");
    assert!(
        log.contains("baris 3: business - NIP tidak dikenal"),
        "{log}"
    );

    let dir = p.run_dir();
    let csv = std::fs::read_to_string(dir.join("hasil.csv")).unwrap();
    assert_eq!(
        csv,
        "no,status,no_registrasi,pesan\r\n\
         1,BERHASIL,REG-1,\r\n\
         2,GAGAL,,\"NIP tidak dikenal, periksa \"\"berkas\"\"\"\r\n\
         3,BERHASIL,REG-3,\r\n"
    );
    let mut wb = calamine::open_workbook_auto(dir.join("gagal.xlsx")).unwrap();
    let range = calamine::Reader::worksheet_range(&mut wb, "Hasil").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["Baris".to_string(), "Alasan".into()],
            vec!["3".into(), "NIP tidak dikenal, periksa \"berkas\"".into()],
        ]
    );

    // Mistakes in [[output.files]] are named before anything runs.
    p.write(
        "bots/lab/bot.toml",
        "name = \"lab\"\n[input]\nworkbook = \"masuk.xlsx\"\n\n[[output.files]]\nfile = \"../hasil.csv\"\ncolumns = [{ header = \"x\", from = \"@nomor\" }]\n\n[[output.files]]\nfile = \"hasil.json\"\ncolumns = []\n",
    );
    let check = p.juru(&["check"]);
    assert_eq!(check.code(), 2, "{check}");
    let err = check.stderr();
    assert!(err.contains("output.files[1].file"), "{err}");
    assert!(err.contains("output.files[2].file"), "{err}");
    assert!(err.contains("must end in .csv or .xlsx"), "{err}");
}

#[test]
fn attachments_beside_the_input_workbook_upload_but_juru_files_never_do() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let script = r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/unggah`);
    browser.upload("#berkas", item["Berkas"]);
    browser.click("#kirim");
    browser.wait_for_text("diterima");
}
"##;
    lab_bot(&p, script, "[vars]\nportal_url = \"unused\"", 1);
    // The clerk's delivery: a workbook and its attachments in one folder, which
    // also (carelessly) holds a copy of the secrets file and a hidden file.
    std::fs::create_dir_all(p.path("kiriman")).unwrap();
    p.write("kiriman/surat-kuasa.txt", "surat kuasa Budi\n");
    p.write("kiriman/secrets.toml", "portal_password = \"rahasia\"\n");
    p.write("kiriman/.bash_history", "ls\n");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "Berkas").unwrap();
    for (r, name) in [
        "surat-kuasa.txt",
        "secrets.toml",
        ".bash_history",
        "../config/agent.toml",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(r as u32 + 1, 0, *name).unwrap();
    }
    wb.save(p.path("kiriman/masuk.xlsx")).unwrap();

    let run = run_lab(&p, &portal, &["--input", "kiriman/masuk.xlsx"]);
    assert_eq!(run.code(), 0, "{run}");
    let uploads = portal.uploads();
    assert_eq!(uploads.len(), 1, "{run}");
    assert_eq!(uploads[0].0, "surat-kuasa.txt");
    assert_eq!(uploads[0].1, b"surat kuasa Budi\n");
    let (_, items) = items(&p);
    assert_eq!(items[0].state, "done", "{:?}", items[0]);
    for i in &items[1..] {
        assert_eq!(i.state, "system_exception", "{i:?}");
        assert_eq!(i.kind.as_deref(), Some("path_outside"), "{i:?}");
        assert_eq!(i.attempts, 1, "not retried: {i:?}");
    }
}

#[test]
fn http_basic_and_digest_logins_are_answered_by_the_browser_with_secrets() {
    let portal = PortalHandle::start();
    let mut p = Project::new();
    let script = r##"
fn process(item) {
    let page = if item["No"] == 1 { "http-basic" } else { "http-digest" };
    browser.open(`${vars.portal_url}/lab/${page}`);
    item.output("Sambutan", browser.text("#sambutan"));
    item.output("Alamat", browser.url());
}
"##;
    lab_bot(
        &p,
        script,
        "[browser]\ntimeout = \"15s\"\n[login.http]\nuser = \"intranet_user\"\npassword = \"intranet_password\"\nhosts = [\"127.0.0.1\"]\n[vars]\nportal_url = \"unused\"",
        2,
    );
    // Without the secrets the run does not begin.
    let missing = run_lab(&p, &portal, &[]);
    assert_eq!(missing.code(), 2, "{missing}");
    assert!(
        missing.stderr().contains("login.http.user")
            && missing.stderr().contains("JURU_SECRET_INTRANET_USER"),
        "{missing}"
    );
    assert!(runs(&p).is_empty());

    p.env("JURU_SECRET_INTRANET_USER", juru::demo::HTTP_USER)
        .env("JURU_SECRET_INTRANET_PASSWORD", juru::demo::HTTP_PASSWORD);
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let (_, done) = items(&p);
    assert!(done[0].outputs.contains("(Basic)"), "{:?}", done[0]);
    assert!(done[1].outputs.contains("(Digest)"), "{:?}", done[1]);
    // Never in an address, the log or a file juru wrote; the profile holding the
    // browser's copy is gone.
    for i in &done {
        assert!(
            !i.outputs.contains("budi@") && !i.outputs.contains("rahasia"),
            "{i:?}"
        );
    }
    assert!(!run.stderr().contains(juru::demo::HTTP_PASSWORD), "{run}");
    let left = p.files("tmp");
    assert!(left.is_empty(), "{left:?}");

    // Wrong credentials: the server's refusal stops the run at once (every item
    // would be refused, and each try counts against the account).
    p.env("JURU_SECRET_INTRANET_PASSWORD", "salah");
    let wrong = run_lab(&p, &portal, &[]);
    assert_eq!(wrong.code(), 1, "{wrong}");
    assert!(
        wrong
            .stderr()
            .contains("the server refused the user name and password of [login.http]"),
        "{wrong}"
    );
    let (_, refused) = items(&p);
    for i in &refused {
        assert_eq!(i.state, "pending", "{i:?}");
    }
}
