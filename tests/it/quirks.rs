//! One test per quirk of the legacy systems juru drives, against the demo portal's
//! pages through real chromedriver + Chromium: what the script read, what the
//! portal stored.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use calamine::{open_workbook_auto, Data, Reader};

use crate::support::{PortalHandle, Project, Run};

fn lab_bot(p: &Project, script: &str, manifest: &str) {
    crate::support::lab_bot(p, script, manifest, 1);
}

fn run_lab(p: &Project, portal: &PortalHandle) -> Run {
    crate::support::run_lab(p, portal, &[])
}

/// The one output row of the lab bot: header → value.
fn output_row(p: &Project) -> BTreeMap<String, String> {
    let mut wb = open_workbook_auto(p.run_dir().join("output.xlsx")).unwrap();
    let range = wb.worksheet_range("Hasil").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    rows[0]
        .iter()
        .zip(&rows[1])
        .map(|(h, v)| (h.to_string(), shown(v)))
        .collect()
}

/// A cell as a person sees it (dates as dd/mm/yyyy).
fn shown(v: &Data) -> String {
    match v {
        Data::DateTime(d) => d
            .as_datetime()
            .map(|d| d.format("%d/%m/%Y").to_string())
            .unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}

fn login_fn() -> &'static str {
    r##"
fn login() {
    browser.open(`${vars.portal_url}/login`);
    browser.fill_form(#{ "#user": "petugas", "#pass": "rahasia123" });
    browser.click("input[value=Masuk]");
    browser.wait_for_text("Selamat datang");
}
"##
}

#[test]
fn frames_are_addressed_by_path_and_left_behind() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let script = format!(
        "{}{}",
        login_fn(),
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/utama`);
    browser.in_frame("menu", || browser.click_link("Daftar Permohonan"));
    item.output("Judul", browser.in_frame("main", || browser.text("h2")));
    item.output("Di atas", browser.exists("frameset"));
}
"##
    );
    lab_bot(&p, &script, "");
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(out["Status"], "Selesai", "{out:?}\n{run}");
    assert_eq!(out["Judul"], "Daftar Permohonan");
    assert_eq!(
        out["Di atas"], "true",
        "back at the top after the frame scope"
    );
}

#[test]
fn a_frame_left_before_opening_a_page_costs_no_command() {
    let portal = PortalHandle::start();
    let p = Project::new();
    p.write("config/agent.toml", "[browser]\ndriver_log = true\n");
    let script = format!(
        "{}{}",
        login_fn(),
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/utama?hal=baru`);
    let first = browser.in_frame("main", || browser.text("h2"));
    // Still in the frame as far as the browser knows: the navigation starts at the top.
    browser.open(`${vars.portal_url}/utama`);
    browser.in_frame("menu", || browser.click_link("Daftar Permohonan"));
    item.output("Judul", `${first} / ${browser.in_frame("main", || browser.text("h2"))}`);
    // Not a navigation: the pending switch to the top is sent first.
    item.output("Di atas", browser.exists("frameset"));
}
"##
    );
    crate::support::lab_bot(&p, &script, "", 2);
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(out["Status"], "Selesai", "{out:?}\n{run}");
    assert_eq!(
        out["Judul"],
        "Entri Permohonan Izin Baru / Daftar Permohonan"
    );
    assert_eq!(out["Di atas"], "true");
    // Per row: three frames entered, and two switches to the top (before entering
    // "main" after "menu", and before `exists`); none before a navigation.
    let log = std::fs::read_to_string(p.run_dir().join("chromedriver.log")).unwrap();
    let commands: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split(" COMMAND ").nth(1))
        .filter_map(|c| c.split_whitespace().next())
        .collect();
    let count = |name: &str| commands.iter().filter(|c| **c == name).count();
    assert_eq!(count("SwitchToParentFrame"), 0, "{commands:?}");
    assert_eq!(count("SwitchToFrame"), 2 * 5, "{commands:?}");
    assert!(
        commands
            .windows(2)
            .all(|w| !(w[0].starts_with("Switch") && w[1] == "Navigate")),
        "{commands:?}"
    );
}

#[test]
fn alert_confirm_and_prompt() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/dialog`);
    browser.click("#tombol-alert");
    item.output("Alert", browser.accept_dialog());
    browser.wait_for_text("Tercatat: alert");
    browser.click("#tombol-konfirmasi", #{ confirm: false });
    browser.wait_for_text("Tercatat: tidak");
    browser.click("#tombol-prompt");
    item.output("Prompt", browser.answer_prompt("Data tidak lengkap"));
    browser.wait_for_text("Tercatat: Data tidak lengkap");
}
"##,
        "",
    );
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(out["Status"], "Selesai", "{out:?}\n{run}");
    assert_eq!(out["Alert"], "Data berhasil dikirim");
    assert_eq!(out["Prompt"], "Alasan penolakan:");
    assert_eq!(
        portal.answers(),
        vec!["alert", "tidak", "Data tidak lengkap"]
    );
}

#[test]
fn unexpected_alert_is_dismissed_and_logged_and_never_hangs_the_close() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/dialog?kejutan=1`);
    browser.fill("#catatan", "lanjut");
    item.output("Catatan", browser.value("#catatan"));
    browser.click("#tombol-alert");   // left open: closing the browser must not hang
}
"##,
        "",
    );
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(output_row(&p)["Catatan"], "lanjut");
    assert!(
        run.stderr()
            .contains("Pengumuman: sistem akan dihentikan pukul 16.00"),
        "the unexpected dialog is in the log: {run}"
    );
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
}

#[test]
fn late_content_is_waited_for() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let script = format!(
        "{}{}",
        login_fn(),
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/utama?hal=baru`);
    browser.in_frame("main", || {
        browser.fill("#nik", "3326011203850001");     // starts a slow check; Simpan is disabled meanwhile
        browser.wait_gone("#memuat");
        item.output("Cek", browser.text("#cek-nik"));
        item.output("Simpan aktif", browser.exists("#simpan:enabled"));
    });
}
"##
    );
    lab_bot(&p, &script, "");
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(out["Cek"], "NIK tercatat", "{out:?}\n{run}");
    assert_eq!(out["Simpan aktif"], "true");
}

#[test]
fn date_widget_is_set_through_its_hidden_field() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let script = format!(
        "{}{}",
        login_fn(),
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/utama?hal=baru`);
    browser.in_frame("main", || {
        browser.set_date("#tanggal", "2026-03-05");
        item.output("Tersimpan", browser.value("#tanggal"));
        item.output("Tampil", browser.value("#tanggal-tampil"));
        browser.fill("#tanggal-tampil", "06/03/2026");   // read-only: a clear error
    });
}
"##
    );
    lab_bot(&p, &script, "");
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(out["Status"], "Pengecualian sistem", "{out:?}");
    assert!(
        out["Keterangan"].contains("`#tanggal-tampil` is read-only"),
        "{out:?}"
    );
    let store = juru::store::Store::open(p.path("var/juru.db")).unwrap();
    let id = p
        .run_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let items = store.items(&id).unwrap();
    assert_eq!(items[0].state, "system_exception");
    // set_date gave both fields dd/mm/yyyy: check through a second bot run.
    let p2 = Project::new();
    let script = format!(
        "{}{}",
        login_fn(),
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/utama?hal=baru`);
    browser.in_frame("main", || {
        browser.set_date("#tanggal", "2026-03-05");
        item.output("Tersimpan", browser.value("#tanggal"));
        item.output("Tampil", browser.value("#tanggal-tampil"));
    });
}
"##
    );
    lab_bot(&p2, &script, "");
    let run = run_lab(&p2, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p2);
    assert_eq!(out["Tersimpan"], "05/03/2026", "{out:?}");
    assert_eq!(
        out["Tampil"], "05/03/2026",
        "the widget's own change handler ran"
    );
}

fn exception_row(p: &Project) -> BTreeMap<String, String> {
    let mut wb = open_workbook_auto(p.run_dir().join("exceptions.xlsx")).unwrap();
    let range = wb.worksheet_range("Pengecualian").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    rows[0]
        .iter()
        .zip(&rows[1])
        .map(|(h, v)| (h.to_string(), v.to_string()))
        .collect()
}

#[test]
fn upload_takes_files_from_the_bot_folder_only() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/unggah`);
    browser.upload("#berkas", "lampiran/surat pengantar.txt");
    browser.click("#kirim");
    item.output("Berkas", browser.text("#nama-berkas"));
    item.output("Ukuran", browser.text("#ukuran"));
    browser.open(`${vars.portal_url}/lab/unggah`);
    browser.upload("#berkas", "../../../etc/hostname");
}
"##,
        "",
    );
    let contents = "Surat pengantar dari desa Sukamaju.\n";
    p.write("bots/lab/lampiran/surat pengantar.txt", contents);
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(out["Berkas"], "surat pengantar.txt", "{out:?}");
    assert_eq!(out["Ukuran"], contents.len().to_string());
    assert_eq!(out["Status"], "Pengecualian sistem");
    assert!(
        out["Keterangan"].contains("must be a relative path inside the bot folder"),
        "{out:?}"
    );
    assert_eq!(
        portal.uploads(),
        vec![(
            "surat pengantar.txt".to_string(),
            contents.as_bytes().to_vec()
        )]
    );
}

#[test]
fn download_in_headless_mode_gives_the_finished_file() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let script = format!(
        "{}{}",
        login_fn(),
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/ekspor`);
    item.output("Berkas", browser.download("#unduh"));
}
"##
    );
    lab_bot(&p, &script, "");
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(
        out["Berkas"], "downloads/daftar-permohonan.csv",
        "{out:?}\n{run}"
    );
    let csv = std::fs::read_to_string(p.run_dir().join("downloads/daftar-permohonan.csv")).unwrap();
    assert!(
        csv.starts_with("No. Registrasi;NIK;Nama Pemohon;Jenis Izin\r\n"),
        "{csv}"
    );
}

#[test]
fn tables_are_read_across_pages_with_a_cap() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/tabel`);
    let all = browser.table_pages("#penduduk", "#berikutnya", 10);
    item.output("Jumlah", all.len());
    item.output("Pertama", all[0]["Nama"]);
    item.output("Terakhir", all[all.len() - 1]["Nama"]);
    item.output("Desa", all[4]["Desa"]);
    browser.open(`${vars.portal_url}/lab/tabel`);
    item.output("Dua halaman", browser.table_pages("#penduduk", "#berikutnya", 2).len());
    item.output("Satu halaman", browser.table("#penduduk").len());
}
"##,
        "",
    );
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(out["Jumlah"], "23", "{out:?}\n{run}");
    assert_eq!(out["Pertama"], "Ahmad");
    assert_eq!(out["Terakhir"], "Zainal");
    assert_eq!(out["Desa"], "Wonorejo");
    assert_eq!(out["Dua halaman"], "20");
    assert_eq!(out["Satu halaman"], "10");
}

#[test]
fn windows_1252_pages_keep_names_intact() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/arsip`);
    item.output("Lama", browser.table("#arsip")[0]["Nama"]);
    browser.fill("#nama", "Ñoño Müller – Dédé");
    browser.click("#simpan");
    browser.wait_for_text("Ñoño Müller");
    let rows = browser.table("#arsip");
    item.output("Baru", rows[rows.len() - 1]["Nama"]);
}
"##,
        "",
    );
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(out["Lama"], "José Dédé", "{out:?}\n{run}");
    assert_eq!(out["Baru"], "Ñoño Müller – Dédé");
    assert_eq!(portal.archive(), vec!["Ñoño Müller – Dédé".to_string()]);
}

#[test]
fn error_pages_and_slow_pages_are_system_exceptions_with_title_and_url() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/lambat?detik=1`);   // slow but within the limit
    item.output("Lambat", browser.text("#selesai"));
    browser.open(`${vars.portal_url}/lab/rusak`);
}
"##,
        "",
    );
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let out = output_row(&p);
    assert_eq!(out["Status"], "Pengecualian sistem", "{out:?}");
    assert_eq!(
        out["Lambat"], "Halaman selesai dimuat setelah 1 detik.",
        "what the script learned before failing is kept"
    );
    let reason = &out["Keterangan"];
    assert!(
        reason.contains("error page \"500 Internal Server Error\""),
        "{reason}"
    );
    assert!(reason.contains("/lab/rusak"), "{reason}");

    let p = Project::new();
    lab_bot(
        &p,
        r##"fn process(item) { browser.open(`${vars.portal_url}/lab/lambat?detik=5`); }"##,
        "[browser]\npage_load_timeout = \"2s\"",
    );
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let reason = output_row(&p)["Keterangan"].clone();
    assert!(
        reason.contains("/lab/lambat?detik=5 did not load within 2 s"),
        "{reason}"
    );
}

#[test]
fn a_replaced_element_is_found_again() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/basi`);
    browser.click("#proses");
    browser.wait_for_text("Jumlah klik: 1");
    browser.click("#proses");
    browser.wait_for_text("Jumlah klik: 2");
    item.output("Klik", browser.text("#jumlah"));
}
"##,
        "",
    );
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(output_row(&p)["Klik"], "2", "{run}");
    assert_eq!(portal.clicks(), 2);
}

#[test]
fn screenshots_cover_the_whole_page_and_single_elements() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/tabel`);
    item.output("Tabel", browser.screenshot("#penduduk", "tabel"));
    browser.open(`${vars.portal_url}/lab/basi`);
    fail_business("halaman panjang");
}
"##,
        "",
    );
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    let dir = p.run_dir();
    let exc = exception_row(&p);
    let (w, h) = png_size(&dir.join(&exc["Tangkapan Layar"]));
    assert!(
        h > 1600,
        "the failure screenshot shows the whole 1600+ px page, not the {w}x{h} window"
    );
    let shots: Vec<_> = std::fs::read_dir(dir.join("screenshots"))
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    let table = shots
        .iter()
        .find(|e| e.file_name().to_string_lossy().starts_with("tabel"))
        .expect("the element screenshot");
    let (tw, th) = png_size(&table.path());
    assert!(tw < 1000 && th < 600, "only the table: {tw}x{th}");
}

fn png_size(path: &Path) -> (u32, u32) {
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", path.display());
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn expired_session_logs_in_again_and_retries_the_row() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let script = format!(
        "{}{}",
        login_fn(),
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/menu`);
    item.output("Sambutan", browser.text("#sambutan"));
    if item["No"] == 1 {
        browser.open(`${vars.portal_url}/lab/kedaluwarsa`);   // the session times out here
    }
}
"##
    );
    crate::support::lab_bot(&p, &script, "[browser]\ntimeout = \"3s\"", 2);
    let run = run_lab(&p, &portal);
    assert_eq!(run.code(), 0, "{run}");
    assert!(run.stderr().contains("the session expired"), "{run}");
    assert!(
        run.stdout().contains("done                        2"),
        "{run}"
    );
    assert_eq!(
        portal.logins(),
        2,
        "logged in at the start and once more after the expiry"
    );
}

#[test]
fn a_session_expiring_around_a_save_never_saves_a_row_twice() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
    let manifest = std::fs::read_to_string(p.path("bots/demo-perizinan/bot.toml")).unwrap();
    p.write(
        "bots/demo-perizinan/bot.toml",
        &format!("{manifest}\n[browser]\ntimeout = \"5s\"\n"),
    );
    let var = format!("portal_url={}", portal.url());
    let mut child = p.spawn(&["run", "demo-perizinan", "--var", &var], true);
    let deadline = Instant::now() + Duration::from_secs(180);
    while portal.records().len() < 3 {
        assert!(Instant::now() < deadline, "the run never got going");
        assert!(child.try_wait().unwrap().is_none(), "juru exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    portal.expire_sessions();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Every valid row reached the portal exactly once. A row whose save had already
    // gone through when the session ran out is reported for a person to check, not
    // saved again.
    let records = portal.records();
    assert_eq!(records.len(), 20, "{stdout}\n{stderr}");
    let store = juru::store::Store::open(p.path("var/juru.db")).unwrap();
    let id = p
        .run_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let items = store.items(&id).unwrap();
    let done = items.iter().filter(|i| i.state == "done").count();
    let unsure: Vec<_> = items
        .iter()
        .filter(|i| i.state == "system_exception")
        .collect();
    assert_eq!(done + unsure.len(), 20, "{items:?}");
    for i in &unsure {
        let reason = i.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("failed after the item was submitted"),
            "{reason}"
        );
    }
    let mut keys: Vec<_> = records
        .iter()
        .map(|r| (r.nik.clone(), r.jenis_izin.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 20, "no row was saved twice");
}

#[test]
fn a_remote_webdriver_url_works_instead_of_a_local_driver() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut driver = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    p.write(
        "config/agent.toml",
        &format!("[browser]\nwebdriver_url = \"http://127.0.0.1:{port}\"\nargs = [\"--user-data-dir={}\"]\n", p.path("tmp/remote-profile").display()),
    );
    lab_bot(
        &p,
        r##"fn process(item) { browser.open(`${vars.portal_url}/lab/tabel`); item.output("Baris", browser.table("#penduduk").len()); }"##,
        "",
    );
    let run = run_lab(&p, &portal);
    let _ = driver.kill();
    let _ = driver.wait();
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(output_row(&p)["Baris"], "10", "{run}");
}
