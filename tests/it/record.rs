//! `juru record` under a virtual display (Xvfb) against the demo portal's SIMPEG
//! (a frameset, a look-up on blur, selects, a calendar widget, an upload, a
//! `confirm()` before saving, a receipt popup). The test acts as the person through
//! a WebDriver session of its own attached to the same browser (real input events),
//! ends the recording by closing juru's standard input, and checks the draft: its
//! verbs, selectors, frame and window blocks and the `item["…"]` columns of the
//! workbook; that it compiles; and that a bot made of it saves one row in SIMPEG.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::support::{copy_dir, PortalHandle, Project, REPO};

/// A virtual X display started for one test, stopped (by its PID) when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .any(|d| d.join("Xvfb").is_file());
        assert!(
            found,
            "Xvfb is not installed: the juru record tests need a virtual display (run .ci/install --tests, which installs Debian's xvfb)"
        );
        // Xvfb chooses a free display number itself and writes it to standard
        // output once it accepts clients (-displayfd): no race with other tests.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "1280x1024x24",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| std::io::BufReader::new(out).read_line(&mut line));
        let number = line.trim().to_string();
        if !matches!(read, Some(Ok(n)) if n > 0) || number.parse::<u32>().is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Xvfb did not start (it said {line:?})");
        }
        Xvfb {
            child,
            display: format!(":{number}"),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it answers `Some`, for up to two minutes.
async fn until<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "waited two minutes for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    until(css, || async { c.find(Locator::Css(css)).await.ok() }).await
}

async fn xfind(c: &Client, xpath: &str) -> fantoccini::elements::Element {
    until(xpath, || async { c.find(Locator::XPath(xpath)).await.ok() }).await
}

/// Whether the current document has the recorder.
async fn recording(c: &Client, extra: &str) -> bool {
    let script = format!(
        "try {{ return !!window.__juruRec && !!({extra}); }} catch (e) {{ return false; }}"
    );
    c.execute(&script, vec![]).await.ok() == Some(json!(true))
}

const NIP: &str = "198803052010121004";

fn rekam_project(portal: &PortalHandle, date: &str) -> Project {
    let mut p = Project::new();
    copy_dir(
        &Path::new(REPO).join("bots/simpeg-mutasi"),
        &p.path("bots/rekam"),
    );
    p.write(
        "bots/rekam/bot.toml",
        &format!(
            "name = \"rekam\"\n[input]\nworkbook = \"input/satu.xlsx\"\n[browser]\ntimeout = \"15s\"\n[vars]\nsimpeg_url = \"{}\"\n",
            portal.url()
        ),
    );
    // Only login() of the repository's bot: the recording drafts process(item).
    let script = std::fs::read_to_string(p.path("bots/rekam/main.rhai")).expect("script");
    let login: String = script
        .split("fn process(item)")
        .next()
        .expect("login part")
        .to_string();
    p.write("bots/rekam/login.rhai", &login);
    p.write(
        "bots/rekam/main.rhai",
        &format!("{login}\nfn process(item) {{}}\n"),
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let row = [
        ("NIP", NIP),
        ("Nama", "Dewi Lestari"),
        ("Jenis Usulan", "Kenaikan Pangkat"),
        ("Unit Baru", "Sekretariat"),
        ("Tanggal SK", date),
        ("Berkas SK", "input/sk-01.pdf"),
    ];
    for (c, (h, v)) in row.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("header");
        ws.write_string(1, c as u16, *v).expect("cell");
    }
    wb.save(p.path("bots/rekam/input/satu.xlsx"))
        .expect("workbook");
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
    p
}

fn live(portal: &PortalHandle) -> Vec<juru::demo::Usulan> {
    portal
        .simpeg_proposals()
        .into_iter()
        .filter(|u| u.nip == NIP && u.status == "Diproses")
        .collect()
}

/// The person: fills SIMPEG's form in frame "isi", picks a date in its calendar,
/// chooses the decree, saves (answering the confirm), opens the receipt popup and
/// closes it.
async fn act(c: &Client, upload: &Path) {
    until("the recorder in SIMPEG's frame", || async {
        recording(
            c,
            "window.frames['isi'].__juruRec && window.frames['isi'].document.getElementById('nip')",
        )
        .await
        .then_some(())
    })
    .await;
    let main = c.window().await.expect("the main window");
    find(c, "frame[name=isi]")
        .await
        .enter_frame()
        .await
        .expect("into frame isi");
    let nip = find(c, "#nip").await;
    nip.click().await.expect("click NIP");
    nip.send_keys(NIP).await.expect("type NIP");
    // Leaving the field starts the look-up.
    find(c, "#nama").await.click().await.expect("click Nama");
    xfind(c, "//select[@id='jenis']/option[.='Kenaikan Pangkat']")
        .await
        .click()
        .await
        .expect("choose Jenis");
    xfind(c, "//select[@id='unit']/option[.='Sekretariat']")
        .await
        .click()
        .await
        .expect("choose Unit");
    find(c, "#tanggal-tampil")
        .await
        .click()
        .await
        .expect("open the calendar");
    xfind(c, "//div[@id='kalender']/a[.='5']")
        .await
        .click()
        .await
        .expect("pick day 5");
    find(c, "#berkas")
        .await
        .send_keys(&upload.display().to_string())
        .await
        .expect("choose the decree");
    let save = find(c, "#simpan").await;
    until("Simpan enabled after the look-up", || async {
        save.is_enabled().await.ok().filter(|e| *e)
    })
    .await;
    save.click().await.expect("click Simpan");
    let question = until("the confirm", || async { c.get_alert_text().await.ok() }).await;
    assert_eq!(question, "Simpan usulan mutasi?");
    c.accept_alert().await.expect("OK");
    find(c, "#cetak").await.click().await.expect("click Cetak");
    let popup = until("the receipt window", || async {
        let handles = c.windows().await.ok()?;
        handles.into_iter().find(|h| *h != main)
    })
    .await;
    c.switch_to_window(popup).await.expect("into the popup");
    until("the recorder in the receipt", || async {
        recording(c, "document.getElementById('tutup')")
            .await
            .then_some(())
    })
    .await;
    // The click closes the window it is in: chromedriver may answer with an error.
    let _ = find(c, "#tutup").await.click().await;
    let _ = c.switch_to_window(main).await;
}

#[test]
fn a_recording_of_one_simpeg_proposal_drafts_a_bot_that_saves_one() {
    let xvfb = Xvfb::start();
    let portal = PortalHandle::start();
    let date = chrono::Local::now().format("05/%m/%Y").to_string();
    let mut p = rekam_project(&portal, &date);
    p.env("DISPLAY", &xvfb.display);
    let session_file = p.path("tmp/session.json");

    // Refused before anything starts: a draft that exists, without --force.
    p.write("bots/rekam/main.draft.rhai", "// mine\n");
    let run = p.juru(&["record", "rekam"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr().contains("already exists; pass --force"),
        "{run}"
    );
    std::fs::remove_file(p.path("bots/rekam/main.draft.rhai")).expect("rm");

    let start = format!("{}/simpeg", portal.url());
    let log = std::fs::File::create(p.path("record.log")).expect("log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_juru"));
    cmd.args([
        "record",
        "rekam",
        "--url",
        &start,
        "--input",
        "bots/rekam/input/satu.xlsx",
        "--session-file",
    ])
    .arg(&session_file)
    .current_dir(p.dir.path())
    .env("TMPDIR", p.path("tmp"))
    .env("NO_COLOR", "1")
    .env("DISPLAY", &xvfb.display)
    .env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
    .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD)
    .stdin(Stdio::piped())
    .stdout(log.try_clone().expect("log"))
    .stderr(log);
    let mut child = cmd.spawn().expect("juru record starts");
    let shown_log = || std::fs::read_to_string(p.path("record.log")).unwrap_or_default();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let session: Value = loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("juru record ended early ({status}):\n{}", shown_log());
        }
        let read = std::fs::read_to_string(&session_file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        if let Some(v) = read {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no session file after two minutes:\n{}",
            shown_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let webdriver = session["webdriver"]
        .as_str()
        .expect("webdriver")
        .to_string();
    let debugger = session["debugger_address"]
        .as_str()
        .unwrap_or_else(|| panic!("no debugger address in {session}"))
        .to_string();
    rt.block_on(async {
        let caps = json!({"goog:chromeOptions": {"debuggerAddress": debugger}});
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        let person = builder
            .connect(&webdriver)
            .await
            .expect("attach to the browser");
        act(&person, &p.path("bots/rekam/input/sk-01.pdf")).await;
    });
    assert_eq!(live(&portal).len(), 1, "the person's proposal is saved");

    // Enter (here: the end of the input) ends the recording.
    drop(child.stdin.take());
    let until_exit = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > until_exit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("juru record did not end:\n{}", shown_log());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = shown_log();
    assert!(status.success(), "{log}");
    assert!(
        log.contains("draft written to bots/rekam/main.draft.rhai"),
        "{log}"
    );
    assert!(log.contains("the draft compiles"), "{log}");
    let draft = std::fs::read_to_string(p.path("bots/rekam/main.draft.rhai")).expect("draft");
    let wanted = [
        "fn process(item) {",
        "browser.open(`${vars.simpeg_url}/simpeg`);",
        "browser.in_frame(\"isi\", || {",
        "browser.fill(\"#nip\", item[\"NIP\"]);",
        "browser.fill(\"#jenis\", item[\"Jenis Usulan\"]);",
        "browser.fill(\"#unit\", item[\"Unit Baru\"]);",
        "browser.set_date(\"#tanggal\", item[\"Tanggal SK\"]);",
        "browser.upload(\"#berkas\", item[\"Berkas SK\"]);",
        "browser.click(\"#simpan\", #{ confirm: true });",
        "browser.click(\"#cetak\");",
        "browser.in_window(\"Tanda Terima\", || {",
        "browser.click(\"#tutup\");",
    ];
    let mut at = 0;
    for w in wanted {
        let found = draft[at..]
            .find(w)
            .unwrap_or_else(|| panic!("no `{w}` (in this order) in the draft:\n{draft}\n{log}"));
        at += found + w.len();
    }
    // The calendar's day is a date, not a click; the person's values are columns.
    assert!(!draft.contains("#kalender"), "{draft}");
    assert!(!draft.contains("#nama"), "{draft}");
    assert_eq!(draft.matches("browser.").count(), 11, "{draft}");
    let leftover = p.processes();
    assert!(leftover.is_empty(), "left running: {leftover:?}");

    // A bot made of the draft saves the workbook's row.
    let login = std::fs::read_to_string(p.path("bots/rekam/login.rhai")).expect("login");
    p.write("bots/rekam/main.rhai", &format!("{login}\n{draft}"));
    let run = p.juru(&["run", "rekam"]);
    assert_eq!(run.code(), 0, "{run}\n{draft}");
    let saved = live(&portal);
    assert_eq!(saved.len(), 2, "{saved:?}\n{run}");
    let last = &saved[1];
    assert_eq!(
        (
            last.jenis.as_str(),
            last.unit.as_str(),
            last.tanggal_sk.as_str(),
            last.berkas.as_str()
        ),
        (
            "Kenaikan Pangkat",
            "Sekretariat",
            date.as_str(),
            "sk-01.pdf"
        )
    );
    let _ = std::io::stdout().flush();
}

#[test]
fn record_without_a_display_says_so() {
    let portal = PortalHandle::start();
    let mut p = rekam_project(&portal, "05/01/2026");
    p.env("DISPLAY", "").env("WAYLAND_DISPLAY", "");
    let run = p.juru(&["record", "rekam"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("needs a display"), "{run}");
    assert!(run.stderr().contains("xvfb-run juru record rekam"), "{run}");
    assert!(!p.path("bots/rekam/main.draft.rhai").exists());
}

/// A bot `lab` without login(), its start page in `vars.portal_url`.
fn lab_project(portal: &PortalHandle) -> Project {
    let p = Project::new();
    p.write(
        "bots/lab/bot.toml",
        &format!(
            "name = \"lab\"\n[input]\nworkbook = \"masuk.xlsx\"\n[vars]\nportal_url = \"{}\"\n",
            portal.url()
        ),
    );
    p.write("bots/lab/main.rhai", "fn process(item) {}\n");
    p
}

/// Whether juru has drained the current window's queue.
async fn drained(c: &Client) -> bool {
    c.execute(
        "return sessionStorage.getItem('__juru_rec') === null;",
        vec![],
    )
    .await
    .ok()
        == Some(json!(true))
}

#[test]
fn dialogs_typed_addresses_fields_and_a_tab_are_recorded_until_the_browser_closes() {
    let xvfb = Xvfb::start();
    let portal = PortalHandle::start();
    let p = lab_project(&portal);
    let session_file = p.path("tmp/session.json");
    let start = format!("{}/lab/dialog", portal.url());
    let log = std::fs::File::create(p.path("record.log")).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_juru"))
        .args([
            "record",
            "lab",
            "--url",
            &start,
            "--out",
            "drafts/lab.rhai",
            "--session-file",
        ])
        .arg(&session_file)
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("NO_COLOR", "1")
        .env("DISPLAY", &xvfb.display)
        // Standard input stays open: closing the browser ends the recording.
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("juru record starts");
    let shown_log = || std::fs::read_to_string(p.path("record.log")).unwrap_or_default();
    let started = Instant::now();
    let session: Value = loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("juru record ended early ({status}):\n{}", shown_log());
        }
        if let Some(v) = std::fs::read_to_string(&session_file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
        {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}",
            shown_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let formulir = format!("{}/lab/formulir", portal.url());
    rt.block_on(async {
        let caps = json!({"goog:chromeOptions": {"debuggerAddress": session["debugger_address"]}});
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        let c = builder
            .connect(session["webdriver"].as_str().expect("webdriver"))
            .await
            .expect("attach to the browser");
        until("the recorder", || async {
            recording(&c, "document.getElementById('catatan')")
                .await
                .then_some(())
        })
        .await;
        let catatan = find(&c, "#catatan").await;
        catatan.click().await.expect("click");
        catatan.send_keys("catatan uji").await.expect("type");
        find(&c, "#tombol-alert")
            .await
            .click()
            .await
            .expect("alert");
        until("the alert", || async { c.get_alert_text().await.ok() }).await;
        c.accept_alert().await.expect("OK");
        find(&c, "#tombol-konfirmasi")
            .await
            .click()
            .await
            .expect("confirm");
        until("the confirm", || async { c.get_alert_text().await.ok() }).await;
        c.dismiss_alert().await.expect("Cancel");
        find(&c, "#tombol-prompt")
            .await
            .click()
            .await
            .expect("prompt");
        until("the prompt", || async { c.get_alert_text().await.ok() }).await;
        c.send_alert_text("Data tidak lengkap")
            .await
            .expect("answer");
        c.accept_alert().await.expect("OK");
        until("the answer stored", || async {
            portal
                .answers()
                .contains(&"Data tidak lengkap".to_string())
                .then_some(())
        })
        .await;

        // An address typed by hand.
        c.goto(&formulir).await.expect("goto");
        until("the recorder in the form", || async {
            recording(&c, "document.getElementById('nib')")
                .await
                .then_some(())
        })
        .await;
        let main = c.window().await.expect("window");
        let nib = find(&c, "#nib").await;
        nib.click().await.expect("click");
        nib.send_keys("9120001234567").await.expect("type");
        let nama = find(&c, "input[name=nama_usaha]").await;
        nama.click().await.expect("click");
        nama.send_keys("Toko Maju").await.expect("type");
        xfind(&c, "//select[@id='kecamatan']/option[.='Wonorejo']")
            .await
            .click()
            .await
            .expect("choose");
        find(&c, "#tgl-berdiri")
            .await
            .click()
            .await
            .expect("calendar");
        find(&c, "#setuju").await.click().await.expect("tick");
        // A tab opened by target=_blank (no opener): juru drains it where it is.
        find(&c, "a[target=_blank]")
            .await
            .click()
            .await
            .expect("tab");
        let tab = until("the new tab", || async {
            let handles = c.windows().await.ok()?;
            handles.into_iter().find(|h| *h != main)
        })
        .await;
        c.switch_to_window(tab).await.expect("into the tab");
        until("the recorder in the tab", || async {
            recording(&c, "document.getElementById('petunjuk')")
                .await
                .then_some(())
        })
        .await;
        find(&c, "#petunjuk").await;
        xfind(&c, "//a[.='Lab']").await.click().await.expect("link");
        until("the tab drained", || async {
            (recording(&c, "location.pathname === '/lab'").await && drained(&c).await).then_some(())
        })
        .await;
        c.close_window().await.expect("close the tab");
        c.switch_to_window(main).await.expect("back");
        // Enter in a field sends the form.
        find(&c, "#nib")
            .await
            .send_keys("\u{E007}")
            .await
            .expect("Enter");
        until("the form sent", || async {
            let url = c.current_url().await.ok()?;
            url.as_str().contains("nib=9120001234567").then_some(())
        })
        .await;
        until("the recorder after sending", || async {
            (recording(&c, "document.getElementById('nib')").await && drained(&c).await)
                .then_some(())
        })
        .await;
        // The person closes the browser.
        let _ = c.close_window().await;
    });
    let until_exit = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > until_exit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "closing the browser did not end juru record:\n{}",
                shown_log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = shown_log();
    assert!(status.success(), "{log}");
    assert!(log.contains("draft written to drafts/lab.rhai"), "{log}");
    assert!(log.contains("the draft compiles"), "{log}");
    let draft = std::fs::read_to_string(p.path("drafts/lab.rhai")).expect("draft");
    let wanted = [
        "browser.open(`${vars.portal_url}/lab/dialog`);",
        "browser.fill(\"#catatan\", item[\"catatan\"]);",
        "browser.click(\"#tombol-alert\");",
        "browser.accept_dialog();",
        "browser.click(\"#tombol-konfirmasi\", #{ confirm: false });",
        "browser.click(\"#tombol-prompt\");",
        "browser.answer_prompt(\"Data tidak lengkap\");",
        "browser.open(`${vars.portal_url}/lab/formulir`);",
        "browser.fill(\"#nib\", item[\"Nomor Induk Berusaha\"]);",
        "browser.fill(\"input[name=nama_usaha]\", item[\"Nama Usaha\"]);",
        "browser.fill(\"#kecamatan\", \"Wonorejo\");",
        "browser.set_date(\"#tgl-berdiri\", item[\"Tanggal Berdiri\"]);",
        "browser.fill(\"#setuju\", true);",
        "browser.click(\"a[href=\\\"/lab/jendela\\\"]\");",
        "browser.in_window(\"Petunjuk Pengisian",
        "browser.click",
        // Enter sends the form through its default button (a click, for Chrome).
        "browser.click(\"input[value=Kirim]\");",
    ];
    let mut at = 0;
    for w in wanted {
        let found = draft[at..]
            .find(w)
            .unwrap_or_else(|| panic!("no `{w}` (in this order) in the draft:\n{draft}\n{log}"));
        at += found + w.len();
    }
    assert_eq!(draft.matches("browser.open(").count(), 2, "{draft}");
    let until_gone = Instant::now() + Duration::from_secs(30);
    while !p.processes().is_empty() && Instant::now() < until_gone {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
    drop(child);
}

#[test]
fn ctrl_c_ends_a_recording_and_writes_the_draft() {
    let xvfb = Xvfb::start();
    let portal = PortalHandle::start();
    let mut p = lab_project(&portal);
    p.env("DISPLAY", &xvfb.display);
    // Usage errors, before any browser starts.
    let run = p.juru(&["record", "lab", "--url", "file:///etc/passwd"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("only http:// and https://"), "{run}");
    let run = p.juru(&["record", "lab", "--input", "missing.xlsx"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("--input missing.xlsx"), "{run}");
    assert!(p.processes().is_empty(), "{:?}", p.processes());

    let session_file = p.path("tmp/session.json");
    let log = std::fs::File::create(p.path("record.log")).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_juru"))
        .args(["record", "lab", "--session-file"])
        .arg(&session_file)
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("NO_COLOR", "1")
        .env("DISPLAY", &xvfb.display)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("juru record starts");
    let shown_log = || std::fs::read_to_string(p.path("record.log")).unwrap_or_default();
    let started = Instant::now();
    while !session_file.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("juru record ended early ({status}):\n{}", shown_log());
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}",
            shown_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let until_exit = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > until_exit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Ctrl-C did not end juru record:\n{}", shown_log());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = shown_log();
    assert!(status.success(), "{log}");
    assert!(
        log.contains("1 action recorded; draft written to bots/lab/main.draft.rhai"),
        "{log}"
    );
    let draft = std::fs::read_to_string(p.path("bots/lab/main.draft.rhai")).expect("draft");
    // The start page: the bot's vars.portal_url (which sends the browser on to /login).
    assert!(
        draft.contains("browser.open(`${vars.portal_url}`);"),
        "{draft}"
    );
    let until_gone = Instant::now() + Duration::from_secs(30);
    while !p.processes().is_empty() && Instant::now() < until_gone {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
}
