//! `juru inspect` and `juru shell` against the demo portal through real chromedriver
//! and Chromium: the selectors it reports find the elements it names, its draft
//! compiles and fills the portal's form, and the shell evaluates piped statements
//! and leaves no browser behind.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{PortalHandle, Project, Run};

/// A bot `lab` whose login() logs in to the portal (its address in `vars.portal_url`).
fn login_bot(p: &Project, portal: &PortalHandle, manifest: &str, script: &str) {
    p.write(
        "bots/lab/bot.toml",
        &format!(
            "name = \"lab\"\n[input]\nworkbook = \"masuk.xlsx\"\n[vars]\nportal_url = \"{}\"\n{manifest}",
            portal.url()
        ),
    );
    p.write(
        "bots/lab/main.rhai",
        &format!(
            r##"
fn login() {{
    browser.open(`${{vars.portal_url}}/login`);
    browser.fill_form(#{{ "#user": "petugas", "#pass": "rahasia123" }});
    browser.click("input[value=Masuk]");
    browser.wait_for_text("Selamat datang");
}}
{script}
"##
        ),
    );
}

fn inspect_json(p: &Project, args: &[&str]) -> (Run, Value) {
    let mut all = vec!["inspect", "--json"];
    all.extend_from_slice(args);
    let run = p.juru(&all);
    assert_eq!(run.code(), 0, "{run}");
    let json: Value = serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}\n{run}"));
    (run, json)
}

/// The studied document at frame path `frame` ("" for the page).
fn scope<'a>(report: &'a Value, frame: &str) -> &'a Value {
    report["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .find(|s| s["in_frame"] == frame)
        .unwrap_or_else(|| panic!("no scope \"{frame}\" in {report:#}"))
        .get("page")
        .expect("page")
}

fn field<'a>(page: &'a Value, label: &str) -> &'a Value {
    page["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["label"] == label)
        .unwrap_or_else(|| panic!("no field labelled \"{label}\" in {page:#}"))
}

/// Looks every selector up in a fresh browser on `url` (inside `frame` when given)
/// and answers, for each, how many elements match and the first one's id and name.
fn look_up(url: &str, frame: Option<&str>, selectors: &[String]) -> Vec<(u64, String, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let settings = juru::browser::Settings::default();
        let driver = juru::browser::Driver::start(&settings, None)
            .await
            .expect("chromedriver starts");
        let browser = juru::browser::Browser::open(driver.url(), &settings, None)
            .await
            .expect("browser opens");
        let found = async {
            browser.goto(url).await?;
            if let Some(frame) = frame {
                browser.enter_frames(frame).await?;
            }
            let mut out = Vec::new();
            for sel in selectors {
                let v = browser
                    .execute(
                        "const all = document.querySelectorAll(arguments[0]); return [all.length, all.length ? (all[0].id || '') : '', all.length ? (all[0].getAttribute('name') || '') : ''];",
                        vec![Value::from(sel.as_str())],
                    )
                    .await?;
                out.push((
                    v[0].as_u64().unwrap_or(0),
                    v[1].as_str().unwrap_or_default().to_string(),
                    v[2].as_str().unwrap_or_default().to_string(),
                ));
            }
            Ok::<_, juru::browser::BrowserError>(out)
        }
        .await;
        browser.close().await;
        driver.stop().await;
        found.expect("the selectors are looked up")
    })
}

#[test]
fn inspect_names_each_field_of_the_lab_form_by_a_selector_that_finds_it_alone() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let url = format!("{}/lab/formulir", portal.url());
    let (_, report) = inspect_json(&p, &[&url]);
    let page = scope(&report, "");

    // The stablest selector each time: id, name, a unique attribute; labels of every kind.
    let expected = [
        ("Nomor Induk Berusaha", "#nib", "nib", "nib"),
        ("Nama Usaha", "input[name=nama_usaha]", "", "nama_usaha"),
        ("Kecamatan", "#kecamatan", "kecamatan", "kecamatan"),
        (
            "Tanggal Berdiri",
            "#tgl-berdiri",
            "tgl-berdiri",
            "tgl_berdiri",
        ),
        ("Data sudah benar", "#setuju", "setuju", "setuju"),
        ("Kode wilayah", "input[name=kode]", "", "kode"),
        ("Catatan", "input[placeholder=\"Catatan petugas\"]", "", ""),
    ];
    for (label, selector, _, _) in &expected {
        let f = field(page, label);
        assert_eq!(f["selector"], *selector, "{f:#}");
        assert_eq!(f["positional"], false, "{f:#}");
    }
    assert_eq!(field(page, "Nomor Induk Berusaha")["required"], true);
    assert_eq!(field(page, "Kode wilayah")["disabled"], true);
    let date = field(page, "Tanggal Berdiri");
    assert_eq!(
        (date["date"].clone(), date["readonly"].clone()),
        (true.into(), true.into())
    );
    let options: Vec<(String, String)> = field(page, "Kecamatan")["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| {
            (
                o["value"].as_str().unwrap().into(),
                o["label"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        options,
        [("", "-- Pilih --"), ("01", "Sukamaju"), ("02", "Wonorejo")]
            .map(|(v, l)| (v.to_string(), l.to_string()))
    );

    // Buttons, popups (window.open and target=_blank), the table, the frame.
    let buttons = page["buttons"].as_array().expect("buttons");
    let help = buttons
        .iter()
        .find(|b| b["text"] == "Bantuan")
        .expect("Bantuan");
    assert_eq!(help["popup"]["how"], "window.open", "{help:#}");
    assert_eq!(help["popup"]["url"], "/lab/jendela");
    let send = buttons
        .iter()
        .find(|b| b["text"] == "Kirim")
        .expect("Kirim");
    assert_eq!(send["selector"], "input[value=Kirim]");
    let links = page["links"].as_array().expect("links");
    let guide = links
        .iter()
        .find(|l| l["text"] == "Petunjuk pengisian")
        .expect("link");
    assert_eq!(guide["popup"]["how"], "target=_blank", "{guide:#}");
    let plain = links
        .iter()
        .find(|l| l["text"] == "Data penduduk")
        .expect("link");
    assert!(plain["popup"].is_null(), "{plain:#}");
    let tables = page["tables"].as_array().expect("tables");
    assert_eq!(
        tables.len(),
        1,
        "only the data table, not the layout: {tables:#?}"
    );
    assert_eq!(tables[0]["selector"], "#riwayat");
    assert_eq!(
        tables[0]["headers"],
        serde_json::json!(["Tanggal", "Petugas"])
    );
    assert_eq!(tables[0]["rows"], 2);
    assert_eq!(page["frames"][0]["in_frame"], "ringkasan");
    assert_eq!(scope(&report, "ringkasan")["heading"], "Petunjuk Pengisian");

    // Each selector finds exactly the element it was reported for, in a browser of its own.
    let selectors: Vec<String> = expected.iter().map(|e| e.1.to_string()).collect();
    let found = look_up(&url, None, &selectors);
    for ((label, selector, id, name), (count, found_id, found_name)) in expected.iter().zip(found) {
        assert_eq!(count, 1, "`{selector}` ({label}) must match one element");
        assert_eq!(
            (found_id.as_str(), found_name.as_str()),
            (*id, *name),
            "`{selector}` ({label})"
        );
    }

    // The draft compiles as a bot's script: `juru check` accepts it.
    let draft = report["skeleton"].as_str().expect("skeleton");
    assert!(
        draft.contains("browser.set_date(\"#tgl-berdiri\", item[\"Tanggal Berdiri\"]);"),
        "{draft}"
    );
    assert!(
        draft.contains("browser.click(\"input[value=Kirim]\");"),
        "{draft}"
    );
    p.write(
        "bots/draf/bot.toml",
        "name = \"draf\"\n[input]\nworkbook = \"masuk.xlsx\"\n",
    );
    p.write("bots/draf/main.rhai", draft);
    let check = p.juru(&["check"]);
    assert_eq!(check.code(), 0, "{check}\n{draft}");
}

#[test]
fn inspect_after_login_finds_the_frames_and_its_draft_registers_an_application() {
    let portal = PortalHandle::start();
    let p = Project::new();
    login_bot(&p, &portal, "", "fn process(item) {}\n");
    let url = format!("{}/utama?hal=baru", portal.url());
    let (_, report) = inspect_json(&p, &[&url, "--login", "lab"]);

    let top = scope(&report, "");
    let frames: Vec<&str> = top["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| f["in_frame"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(frames, ["menu", "main"]);
    let main = scope(&report, "main");
    assert_eq!(field(main, "NIK Pemohon")["selector"], "#nik");
    assert_eq!(field(main, "Jenis Izin")["selector"], "#jenis");
    let skala = field(main, "Skala Usaha");
    assert_eq!(skala["selector"], "input[name=skala]");
    assert_eq!(skala["options"][1]["label"], "Kecil");
    let tanggal = field(main, "Tanggal Pengajuan");
    assert_eq!(tanggal["date_target"], "#tanggal", "{tanggal:#}");
    let simpan = main["buttons"]
        .as_array()
        .expect("buttons")
        .iter()
        .find(|b| b["text"] == "Simpan")
        .expect("Simpan");
    assert_eq!(
        (simpan["selector"].clone(), simpan["confirm"].clone()),
        ("#simpan".into(), true.into())
    );

    // The draft, as it is (plus a wait for the result), registers a row in the portal.
    let draft = report["skeleton"].as_str().expect("skeleton");
    assert!(
        draft.contains("browser.open(`${vars.portal_url}/utama?hal=baru`);"),
        "{draft}"
    );
    assert!(draft.contains("browser.in_frame(\"main\", || {"), "{draft}");
    let draft = draft.replace(
        "// browser.wait_for(\"<what the result page shows>\");",
        "browser.wait_for(\"#hasil-ok\");",
    );
    login_bot(&p, &portal, "", &draft);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let row = [
        ("NIK Pemohon", "3326011203850001"),
        ("Nama Pemohon", "Budi Santoso"),
        ("Jenis Izin", "Surat Izin Usaha Perdagangan"),
        ("Skala Usaha", "Kecil"),
        ("Tanggal Pengajuan", "10/06/2026"),
        ("Alamat Usaha", "Jl. Merdeka No. 1"),
        ("No. Telepon", "081234567890"),
    ];
    for (i, (h, v)) in row.iter().enumerate() {
        ws.write_string(0, i as u16, *h).expect("header");
        ws.write_string(1, i as u16, *v).expect("value");
    }
    wb.save(p.path("bots/lab/masuk.xlsx")).expect("workbook");
    let run = p.juru(&["run", "lab"]);
    assert_eq!(run.code(), 0, "{run}\n{draft}");
    let records = portal.records();
    assert_eq!(records.len(), 1, "{run}\n{draft}");
    assert_eq!(records[0].nik, "3326011203850001");
    assert_eq!(records[0].jenis_izin, "Surat Izin Usaha Perdagangan");
    assert_eq!(records[0].skala, "Kecil");
    assert_eq!(
        records[0].tanggal.format("%d/%m/%Y").to_string(),
        "10/06/2026"
    );
}

#[test]
fn inspect_inside_a_frame_path_and_as_text() {
    let portal = PortalHandle::start();
    let p = Project::new();
    login_bot(&p, &portal, "", "fn process(item) {}\n");
    let url = format!("{}/utama?hal=baru", portal.url());
    let run = p.juru(&["inspect", &url, "--login", "lab", "--frame", "main"]);
    assert_eq!(run.code(), 0, "{run}");
    let out = run.stdout();
    assert!(out.contains("== frame \"main\""), "{out}");
    assert!(!out.contains("== page"), "only inside the frame: {out}");
    assert!(
        out.contains("field \"NIK Pemohon\" `#nik`  [text; required]"),
        "{out}"
    );
    assert!(out.contains("browser.in_frame(\"main\", || {"), "{out}");
}

#[test]
fn inspect_refuses_what_it_cannot_open_in_one_sentence_and_reports_dialogs() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let run = p.juru(&["inspect", "file:///etc/passwd"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr()
            .contains("juru inspects only http:// and https:// pages"),
        "{run}"
    );
    let run = p.juru(&["inspect", "portal/login"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("is not a web address"), "{run}");

    let url = format!("{}/lab/formulir", portal.url());
    let run = p.juru(&["inspect", &url, "--frame", "tidak-ada"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("--frame \"tidak-ada\""), "{run}");

    // A port nobody listens on: the page cannot be loaded.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let run = p.juru(&["inspect", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(run.code(), 1, "{run}");
    assert!(
        run.stderr()
            .contains("error: cannot open http://127.0.0.1:"),
        "{run}"
    );
    // A page that greets with an alert: the alert is reported, the page studied.
    let dialog = format!("{}/lab/dialog?kejutan=1", portal.url());
    let run = p.juru(&["inspect", &dialog]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        run.stdout().contains("dialog while the page loaded (answered by [browser] unexpected_dialog): \"Pengumuman: sistem akan dihentikan pukul 16.00 untuk pemeliharaan.\""),
        "{run}"
    );
    assert!(
        run.stdout()
            .contains("button \"Hapus\" `#tombol-konfirmasi`  [button; asks confirm()"),
        "{run}"
    );
    let run = p.juru(&["inspect", &url, "--login", "tidak-ada"]);
    assert_eq!(run.code(), 2, "{run}");
    wait_no_processes(&p);
}

fn wait_no_processes(p: &Project) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let left = p.processes();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < until, "left behind: {left:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `juru shell lab` with `input` on its standard input.
fn shell(p: &Project, input: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_juru"))
        .args(["shell", "lab"])
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("JURU_SECRET_KUNCI", "kata-sandi-rahasia")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("juru starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("statements written");
    let output = child.wait_with_output().expect("juru ends");
    Run {
        command: "juru shell lab".into(),
        output,
    }
}

#[test]
fn shell_evaluates_piped_statements_in_the_logged_in_browser_and_closes_it() {
    let portal = PortalHandle::start();
    let p = Project::new();
    login_bot(
        &p,
        &portal,
        "[browser]\ntimeout = \"2s\"\n",
        "fn process(item) {}\nfn judul() { browser.text(\"b\") }\n",
    );
    let input = r##"browser.open(`${vars.portal_url}/utama?hal=baru`);
browser.in_frame("main", || browser.text("h2"))
let x = 40;
x + 2
browser.text("#tidak-ada")
browser.in_frame("main", || {
    browser.fill("#nama", "Budi Santoso");
    browser.value("#nama")
})
browser.in_frame("menu", || judul())
`kunci: ${secret("kunci")}`
judul(
"##;
    let run = shell(&p, input);
    assert_eq!(run.code(), 0, "{run}");
    let lines: Vec<String> = run.stdout().lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            "Entri Permohonan Izin Baru",
            "42",
            "Budi Santoso",
            "SIMPEL 2.3",
            "kunci: ••••••"
        ],
        "{run}"
    );
    let err = run.stderr();
    assert!(
        err.contains("error: no element matches `#tidak-ada` after waiting 2 s"),
        "{run}"
    );
    // The last statement has no closing bracket before the end of the input.
    assert!(
        err.contains("error: stdin:13: Expecting ')' to close the arguments list of this function call 'judul'"),
        "{run}"
    );
    assert_eq!(portal.logins(), 1, "login() ran once: {run}");
    wait_no_processes(&p);
}

#[test]
fn shell_stopped_by_a_signal_interrupts_the_statement_and_leaves_nothing_behind() {
    let portal = PortalHandle::start();
    let p = Project::new();
    login_bot(
        &p,
        &portal,
        "[browser]\ntimeout = \"5m\"\n",
        "fn process(item) {}\n",
    );
    let log = std::fs::File::create(p.path("shell.log")).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_juru"))
        .args(["shell", "lab"])
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("juru starts");
    let until = Instant::now() + Duration::from_secs(120);
    while portal.logins() == 0 {
        assert!(Instant::now() < until, "login() never logged in");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A statement that would wait five minutes for an element that never comes.
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"browser.text(\"#tidak-ada\")\n")
        .expect("statement written");
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: signals the juru process this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let started = Instant::now();
    let status = child.wait().expect("juru ends");
    let log = std::fs::read_to_string(p.path("shell.log")).unwrap_or_default();
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(started.elapsed() < Duration::from_secs(60), "{log}");
    assert!(log.contains("interrupted: closing the browser"), "{log}");
    wait_no_processes(&p);
    let profiles: Vec<String> = p
        .files("tmp")
        .into_iter()
        .filter(|f| f.contains("juru-chromium-"))
        .collect();
    assert!(profiles.is_empty(), "profile left: {profiles:?}");
    drop(stdin);
}
