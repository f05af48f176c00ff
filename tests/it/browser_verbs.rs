//! What a bot reads is what a person sees, and the verbs bot authors reach for:
//! lab pages of the demo portal driven through real chromedriver + Chromium. The
//! conformance tests read the same pages through juru's verbs and through raw
//! WebDriver calls (fantoccini against the same chromedriver) and expect the same.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use calamine::{open_workbook_auto, Data, Reader};

use crate::support::{lab_bot, run_lab, PortalHandle, Project};

/// The rows of the lab bot's output workbook: header → value.
fn output_rows(p: &Project) -> Vec<BTreeMap<String, String>> {
    let mut wb = open_workbook_auto(p.run_dir().join("output.xlsx")).unwrap();
    let range = wb.worksheet_range("Hasil").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    rows[1..]
        .iter()
        .map(|row| {
            rows[0]
                .iter()
                .zip(row)
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn items(p: &Project) -> Vec<juru::store::ItemRecord> {
    p.run_items()
}

// ---- what a person sees --------------------------------------------------------------

#[test]
fn reads_give_what_a_person_sees() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/baca`);
    // The reference's own pattern: a hidden error message is no error.
    if browser.text_if_present(".pesan-error") != "" { fail_business("pesan tersembunyi terbaca"); }
    item.output("Tak terlihat", browser.text_if_present("#tak-terlihat"));
    item.output("Transparan", browser.text_if_present("#transparan"));
    item.output("Tidak ada", browser.text_if_present("#tidak-ada"));
    item.output("Nominal", browser.text("#nominal"));
    item.output("Paragraf", browser.text("#paragraf"));
    item.output("Rincian", browser.text("#rincian"));
    item.output("Campur", browser.text("#campur"));
    item.output("Total", browser.value("#total"));
    item.output("Kode", browser.value("#kode"));
    item.output("Tanggal", browser.value("#tanggal-asli"));
    item.output("Tampil", browser.value("#tanggal-tampil"));
    item.output("Jenis", browser.text("#jenis"));
    item.output("Jenis nilai", browser.value("#jenis"));
    item.output("Terpilih", browser.text("#jenis option:checked"));
    item.output("Banyak", browser.text("#banyak"));
    item.output("Kosong", browser.text("#kosong"));
    item.output("Atribut", browser.attribute("#rincian", "cellspacing"));
    item.output("Atribut kosong", type_of(browser.attribute("#kode", "readonly")));
    item.output("Tanpa atribut", type_of(browser.attribute("#total", "data-x")));
    // An <input type=hidden> is never shown: nothing to wait for.
    browser.wait_gone("#tanggal-asli");
    browser.wait_gone(".pesan-error");
    browser.wait_gone("#tidak-ada");
}
"##,
        "",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let out = &output_rows(&p)[0];
    assert_eq!(out["Status"], "Selesai", "{out:?}\n{run}");
    assert_eq!(out["Tak terlihat"], "");
    assert_eq!(out["Transparan"], "");
    assert_eq!(out["Tidak ada"], "");
    assert_eq!(
        out["Nominal"], "Jumlah: Rp 1.500.000",
        "NBSP reads as a space"
    );
    assert_eq!(
        out["Paragraf"], "Baris pertama\nBaris kedua dengan spasi\nBaris  ketiga\nsambungan",
        "one line per block, spaces collapsed, hidden parts left out"
    );
    // As WebDriver reads it: cells end in a space, and a no-break space at the edge
    // of a cell is kept (as a plain space).
    assert_eq!(out["Rincian"], "Nama Nilai\nNIK  3201 0101 ");
    assert_eq!(out["Campur"], "Status: Aktif");
    assert_eq!(out["Total"], "1.500.000", "a disabled field is read");
    assert_eq!(out["Kode"], "A-17", "a read-only field is read");
    assert_eq!(out["Tanggal"], "2026-11-29", "a hidden input is read");
    assert_eq!(out["Tampil"], "", "a field hidden by CSS is read");
    assert_eq!(out["Jenis"], "Izin Mendirikan Bangunan", "the chosen label");
    assert_eq!(out["Jenis nilai"], "2");
    assert_eq!(out["Terpilih"], "Izin Mendirikan Bangunan");
    assert_eq!(out["Banyak"], "Satu\nTiga");
    assert_eq!(out["Kosong"], "-- pilih --");
    assert_eq!(out["Atribut"], "0");
    assert_eq!(
        out["Atribut kosong"], "string",
        "present without a value: \"\""
    );
    assert_eq!(out["Tanpa atribut"], "()");
}

#[test]
fn failed_waits_say_what_the_page_has() {
    let portal = PortalHandle::start();
    let p = Project::new();
    p.write(
        "config/agent.toml",
        "[browser]\nheadless = true\ntimeout = \"2s\"\n",
    );
    lab_bot(
        &p,
        r##"
fn process(item) {
    switch item["No"] {
        1 => { browser.open(`${vars.portal_url}/lab/baca`); browser.wait_gone("#nominal"); }
        2 => { browser.open(`${vars.portal_url}/lab/nip`); browser.fill("#nik", "1"); }
        _ => { browser.open(`${vars.portal_url}/lab/alat`); browser.in_frame("peta", || 1); }
    }
}
"##,
        "[run]\nmax_retries = 0\n",
        3,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let rows = output_rows(&p);
    for row in &rows {
        assert_eq!(row["Status"], "Pengecualian sistem", "{rows:?}\n{run}");
    }
    assert!(
        rows[0]["Keterangan"].contains("element `#nominal` is still shown after waiting 2 s"),
        "{rows:?}"
    );
    assert!(!rows[0]["Keterangan"].contains("still still"), "{rows:?}");
    // A missing element: the message says what the page has instead.
    assert!(
        rows[1]["Keterangan"].contains(
            "no element matches `#nik` after waiting 2 s; fields on this page: `#buka-sembulan`, `#nip` (\"NIP\"), `#nama`"
        ),
        "{rows:?}"
    );
    assert!(
        rows[2]["Keterangan"].contains(
            "no element matches `frame \"peta\"` after waiting 2 s; frames on this page: `0` (\"/lab/bingkai-isi?n=1\"), `1`"
        ),
        "{rows:?}"
    );
}

// ---- dialogs on load -----------------------------------------------------------------

#[test]
fn an_alert_on_load_is_left_for_the_script() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    if item["No"] == 1 {
        // Opened by address: the greeting waits for the script.
        browser.open(`${vars.portal_url}/lab/dialog?kejutan=1`);
        item.output("Teks", browser.dialog_text());
        item.output("Sapa", browser.accept_dialog());
        browser.fill("#catatan", "sudah dibaca");
        item.output("Catatan", browser.value("#catatan"));
    } else {
        // Reached by a click: the same.
        browser.open(`${vars.portal_url}/lab/alat`);
        browser.click("#ke-sapa");
        item.output("Sapa", browser.dismiss_dialog());
        item.output("Judul", browser.text("h2"));
    }
}
"##,
        "",
        2,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let rows = output_rows(&p);
    let greeting = "Pengumuman: sistem akan dihentikan pukul 16.00 untuk pemeliharaan.";
    assert_eq!(rows[0]["Status"], "Selesai", "{rows:?}\n{run}");
    assert_eq!(rows[0]["Teks"], greeting);
    assert_eq!(rows[0]["Sapa"], greeting);
    assert_eq!(rows[0]["Catatan"], "sudah dibaca");
    assert_eq!(rows[1]["Status"], "Selesai", "{rows:?}\n{run}");
    assert_eq!(rows[1]["Sapa"], greeting);
    assert_eq!(rows[1]["Judul"], "Dialog");
    assert!(
        !run.stderr().contains("unexpected dialog"),
        "the script handled both: {run}"
    );
}

// ---- the verbs -----------------------------------------------------------------------

#[test]
fn frames_selects_keys_and_typing() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/alat`);
    item.output("Bingkai 0", browser.in_frame(0, || browser.text("#isi")));
    item.output("Bingkai css", browser.in_frame("iframe.kedua", || browser.text("#isi")));
    item.output("Bingkai 1", browser.in_frame("1", || browser.text("#isi")));
    item.output("Di atas", browser.text("#judul"));

    browser.select_index("#pilihan", 2);
    browser.select_index("#pilihan", 3);
    browser.deselect("#pilihan", "Beta");
    item.output("Pilihan", browser.text("#pilihan"));
    browser.deselect_all("#pilihan");
    item.output("Pilihan kosong", browser.text("#pilihan"));
    browser.select_index("#tunggal", 2);
    item.output("Tunggal", `${browser.text("#tunggal")}=${browser.value("#tunggal")}`);

    browser.append("#ketik", " dunia");
    item.output("Ditambah", browser.value("#ketik"));
    browser.type("#ketik", "ABCD", #{ clear: false });
    browser.press("#ketik", "Backspace Backspace");
    item.output("Dihapus", browser.value("#ketik"));
    browser.press("#ketik", "Enter");
    item.output("Tombol", browser.text("#tombol-terakhir"));
    browser.press("#ketik", "Tab");
    item.output("Fokus", browser.text("#fokus"));
    browser.keys("x y");
    item.output("Berikut", browser.value("#berikut"));
    browser.type("#ketik", "baru");
    item.output("Diganti", browser.value("#ketik"));
}
"##,
        "",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let out = &output_rows(&p)[0];
    assert_eq!(out["Status"], "Selesai", "{out:?}\n{run}");
    assert_eq!(out["Bingkai 0"], "Isi bingkai 1");
    assert_eq!(out["Bingkai css"], "Isi bingkai 2");
    assert_eq!(out["Bingkai 1"], "Isi bingkai 2");
    assert_eq!(out["Di atas"], "Alat");
    assert_eq!(out["Pilihan"], "Gama\nDelta");
    assert_eq!(out["Pilihan kosong"], "");
    assert_eq!(out["Tunggal"], "Dua=2");
    assert_eq!(out["Ditambah"], "Halo dunia");
    assert_eq!(out["Dihapus"], "Halo duniaAB");
    assert_eq!(out["Tombol"], "Enter");
    assert_eq!(out["Fokus"], "berikut");
    assert_eq!(out["Berikut"], "xy");
    assert_eq!(out["Diganti"], "baru");
}

#[test]
fn page_verbs_title_address_windows_history_source_and_execute() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/alat`);
    item.output("Kode", browser.attribute("#tautan", "data-kode"));
    item.output("Sumber", browser.source().contains(`id="tautan"`));
    item.output("Skrip", browser.execute("return [arguments[0] * 2, document.title.length > 0, {a: arguments[1]}];", [21, "x"]));
    browser.click("#ganti-judul");
    item.output("Judul", browser.wait_for_title("Selesai"));
    item.output("Alamat", browser.wait_for_url("/selesai=\\d$/"));
    browser.click("#buka-jendela");
    browser.in_window("tabel", || browser.text("h2"));
    browser.click("#buka-jendela");
    let list = browser.in_window("tabel", || browser.windows());
    let here = list.filter(|w| w.current);
    let main = list.filter(|w| !w.current);
    item.output("Jendela", `${list.len()} ${here[0].url.contains("/lab/tabel")} ${main[0].title}`);
    item.output("Sesudah", browser.windows().len());
    browser.open(`${vars.portal_url}/lab/tabel`);
    browser.back();
    item.output("Kembali", browser.url());
    browser.forward();
    item.output("Maju", browser.url());
    browser.refresh();
    item.output("Muat ulang", browser.text("h2"));
}
"##,
        "",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let out = &output_rows(&p)[0];
    assert_eq!(out["Status"], "Selesai", "{out:?}\n{run}");
    assert_eq!(out["Kode"], "K-42");
    assert_eq!(out["Sumber"], "true");
    assert_eq!(out["Skrip"], "[42, true, #{\"a\": \"x\"}]");
    assert_eq!(out["Judul"], "Selesai diproses");
    assert!(out["Alamat"].ends_with("/lab/alat?selesai=1"), "{out:?}");
    assert_eq!(out["Jendela"], "2 true Selesai diproses", "{out:?}");
    assert_eq!(out["Sesudah"], "1", "the window scope closed its window");
    assert!(out["Kembali"].ends_with("/lab/alat?selesai=1"), "{out:?}");
    assert!(out["Maju"].ends_with("/lab/tabel"), "{out:?}");
    assert_eq!(out["Muat ulang"], "Data Penduduk (halaman 1 dari 3)");
}

#[test]
fn several_files_in_one_upload() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/unggah?banyak=1`);
    browser.upload("#berkas", ["lampiran/ktp.txt", "lampiran/kk.txt"]);
    browser.click("#kirim");
    item.output("Berkas", browser.text("#berkas-diterima"));
    browser.open(`${vars.portal_url}/lab/unggah`);
    browser.upload("#berkas", ["lampiran/ktp.txt", "lampiran/kk.txt"]);
}
"##,
        "[run]\nmax_retries = 0\n",
        1,
    );
    p.write("bots/lab/lampiran/ktp.txt", "KTP\n");
    p.write("bots/lab/lampiran/kk.txt", "Kartu Keluarga\n");
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let out = &output_rows(&p)[0];
    assert_eq!(
        out["Berkas"], "ktp.txt (4 byte)\nkk.txt (15 byte)",
        "{out:?}"
    );
    assert_eq!(out["Status"], "Pengecualian sistem");
    assert!(
        out["Keterangan"].contains("`#berkas` takes one file"),
        "{out:?}"
    );
    let names: Vec<String> = portal.uploads().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["ktp.txt", "kk.txt"]);
}

#[test]
fn history_and_execute_do_not_get_around_allowed_hosts() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/alat`);
    if item["No"] == 1 {
        // A script that leads the browser to another host: checked like a click.
        browser.execute("location.href = 'http://localhost:' + location.port + '/lab/tabel';");
    } else {
        browser.open(`${vars.portal_url}/lab/pintu`);
        try { browser.click("#luar"); } catch (e) { item.output("Klik", "ditolak"); }
        browser.back();
        item.output("Kembali", browser.text("h2"));
        browser.forward();
    }
}
"##,
        "[browser]\nallowed_hosts = [\"127.0.0.1\"]\n[run]\nmax_retries = 0\n",
        2,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let rows = output_rows(&p);
    for row in &rows {
        assert_eq!(row["Status"], "Pengecualian sistem", "{rows:?}\n{run}");
        assert!(
            row["Keterangan"].contains("localhost is not one of the bot's allowed hosts"),
            "{rows:?}"
        );
    }
    assert!(
        rows[0]["Keterangan"].contains("browser.execute"),
        "{rows:?}"
    );
    assert!(
        rows[1]["Keterangan"].contains("browser.forward"),
        "{rows:?}"
    );
}

// ---- failures that are noticed at once, and what they cost ---------------------------

#[test]
fn an_error_page_after_a_click_fails_the_wait_at_once() {
    let portal = PortalHandle::start();
    let p = Project::new();
    p.write(
        "config/agent.toml",
        "[browser]\nheadless = true\ntimeout = \"60s\"\n",
    );
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/alat`);
    browser.click("#ke-rusak");
    switch item["No"] {
        1 => browser.wait_for("#hasil"),
        2 => browser.wait_for_text("Tersimpan"),
        _ => browser.wait_for_title("Selesai"),
    }
}
"##,
        "[run]\nmax_retries = 0\n",
        3,
    );
    let started = Instant::now();
    let run = run_lab(&p, &portal, &[]);
    let took = started.elapsed();
    assert_eq!(run.code(), 0, "{run}");
    for row in output_rows(&p) {
        assert_eq!(row["Status"], "Pengecualian sistem", "{row:?}\n{run}");
        assert!(
            row["Keterangan"]
                .contains("the server answered with an error page \"500 Internal Server Error\""),
            "{row:?}"
        );
    }
    assert!(
        took < Duration::from_secs(50),
        "three waits of 60 s noticed the error page at once: {took:?}"
    );
}

#[test]
fn waits_for_missing_windows_and_frames_are_cheap_and_counted() {
    let portal = PortalHandle::start();
    let p = Project::new();
    p.write(
        "config/agent.toml",
        "[browser]\nheadless = true\ntimeout = \"5s\"\n",
    );
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/alat`);
    switch item["No"] {
        1 => browser.in_window("tidak ada", || 1),
        2 => browser.in_frame("tidak-ada", || 1),
        3 => browser.accept_dialog(),
        _ => browser.text("#judul"),
    }
}
"##,
        "[run]\nmax_retries = 0\n",
        4,
    );
    let mut p = p;
    p.env("RUST_LOG", "info,juru::browser=debug");
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let items = items(&p);
    let states: Vec<&str> = items.iter().map(|i| i.state.as_str()).collect();
    assert_eq!(
        states,
        vec![
            "system_exception",
            "system_exception",
            "system_exception",
            "done"
        ],
        "{run}"
    );
    for item in &items[..3] {
        // open (2) + a 5 s wait that backs off + the failure's evidence: about 20
        // (a wait that polled every 50 ms cost 65 to 150).
        assert!(
            item.commands > 2 && item.commands <= 25,
            "item {} sent {} commands\n{run}",
            item.idx,
            item.commands
        );
    }
    assert!(items[3].commands <= 6, "{}", items[3].commands);
    let reason = items[0].reason.clone().unwrap_or_default();
    assert!(
        reason.contains("no window whose title or address contains \"tidak ada\" opened within 5 s; no other window is open"),
        "{reason}"
    );
    // The browser starts are counted apart, and said so.
    let sum: i64 = items.iter().map(|i| i.commands).sum();
    let summary = run.stdout();
    let line = summary
        .lines()
        .find(|l| l.contains("webdriver commands"))
        .expect("a commands line");
    let total: i64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(line.contains("of them started browsers"), "{line}");
    let starts: i64 = line
        .split("; ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        starts >= 2 * 4,
        "a start per item after each failure: {line}"
    );
    assert!(
        total - starts >= sum,
        "items {sum} + starts {starts} within the total {total}: {line}"
    );
    assert!(
        run.stderr().contains("polls="),
        "long waits are in the debug log: {run}"
    );
}

// ---- fill as a person types ----------------------------------------------------------

#[test]
fn fill_fires_a_persons_events_even_after_a_popup_closed() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/nip`);
    browser.click("#buka-sembulan");
    item.output("Petunjuk", browser.in_window("Petunjuk", || browser.text("#petunjuk")));
    // The page's keypress filter drops what is not a digit, as for a person.
    browser.fill("#nip", "19800101 2005011001");
    item.output("Nama", browser.wait_for_value("#nama"));
    item.output("Peristiwa", browser.text("#peristiwa"));
}
"##,
        "",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let out = &output_rows(&p)[0];
    assert_eq!(out["Status"], "Selesai", "{out:?}\n{run}");
    assert_eq!(out["Petunjuk"], "NIP terdiri dari 18 angka.");
    assert_eq!(
        out["Nama"], "Siti Aminah",
        "the look-up on blur ran, for the digits"
    );
    assert_eq!(out["Peristiwa"], "focus,keydown,input,keyup,change,blur");
}

// ---- conformance with WebDriver ------------------------------------------------------

/// Reads `/lab/baca` through juru's verbs and through raw WebDriver calls (Find
/// Element + Get Element Text / Is Element Displayed) on the same chromedriver.
#[test]
fn visible_text_and_visibility_agree_with_webdriver() {
    let portal = PortalHandle::start();
    let url = format!("{}/lab/baca", portal.url());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let settings = juru::browser::Settings {
            timeout: Duration::from_secs(2),
            ..Default::default()
        };
        let driver = juru::browser::Driver::start(&settings, None).await.unwrap();
        let juru_side = juru::browser::Browser::open(driver.url(), &settings, None)
            .await
            .unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,900"]}),
        );
        let raw = fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(driver.url())
            .await
            .unwrap();
        let checked = conformance(&juru_side, &raw, &url).await;
        juru_side.close().await;
        let _ = raw.close().await;
        driver.stop().await;
        checked.unwrap();
    });
}

async fn conformance(
    juru_side: &juru::browser::Browser,
    raw: &fantoccini::Client,
    url: &str,
) -> anyhow::Result<()> {
    use fantoccini::Locator;
    juru_side.goto(url).await?;
    raw.goto(url).await?;
    // Shown elements: the same text.
    for sel in [
        "#nominal",
        "#paragraf",
        "#rincian",
        "#campur",
        "h2",
        "#total",
        "#pra",
        "#kapital",
        "#anak",
        "#daftar",
    ] {
        let ours = juru_side.text(sel).await?;
        let theirs = raw.find(Locator::Css(sel)).await?.text().await?;
        anyhow::ensure!(ours == theirs, "{sel}: juru {ours:?}, WebDriver {theirs:?}");
    }
    // Shown or not: the same verdict, and hidden ones read as "".
    for sel in [
        ".pesan-error",
        "#tak-terlihat",
        "#transparan",
        "#nominal",
        "#tanggal-asli",
        "#tanggal-tampil",
        "#total",
        "#kode",
        "#jenis option:checked",
        "#induk",
        "#anak",
        "#nol",
        "#pra",
    ] {
        let element = raw.find(Locator::Css(sel)).await?;
        let displayed = element.is_displayed().await?;
        let theirs = element.text().await?;
        let ours = juru_side.text_if_present(sel).await?;
        let gone = tokio::time::timeout(Duration::from_secs(20), juru_side.wait_gone(sel))
            .await
            .map_err(|_| anyhow::anyhow!("{sel}: wait_gone hung"))?
            .is_ok();
        anyhow::ensure!(
            gone != displayed,
            "{sel}: WebDriver displayed {displayed}, juru gone {gone}"
        );
        if !sel.contains("option") {
            anyhow::ensure!(ours == theirs, "{sel}: juru {ours:?}, WebDriver {theirs:?}");
        }
        // Hidden reads as "", except a shown part inside it (`#induk` is
        // `visibility: hidden` around a `visibility: visible` child).
        if !displayed && sel != "#induk" {
            anyhow::ensure!(ours.is_empty(), "{sel}: hidden but juru read {ours:?}");
        }
    }
    // Disabled and read-only fields: both read the value.
    for sel in ["#total", "#kode", "#tanggal-asli"] {
        let ours = juru_side.value(sel).await?;
        let theirs = raw
            .find(Locator::Css(sel))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        anyhow::ensure!(ours == theirs, "{sel}: juru {ours:?}, WebDriver {theirs:?}");
    }
    // A dialog on load: both see it open after the navigation.
    let dialog = url.replace("/lab/baca", "/lab/dialog?kejutan=1");
    juru_side.goto(&dialog).await?;
    raw.goto(&dialog).await?;
    let theirs = raw.get_alert_text().await?;
    let ours = juru_side.accept_dialog().await?;
    anyhow::ensure!(
        ours == theirs,
        "dialog: juru {ours:?}, WebDriver {theirs:?}"
    );
    raw.accept_alert().await?;
    Ok(())
}
