//! What a bot script cannot reach: each test performs an attack through the real
//! surface (a bot script run with `juru run` against the demo portal, real
//! chromedriver + Chromium) and checks that it fails safely and leaves nothing behind.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use calamine::{open_workbook_auto, Reader};
use juru::store::ItemRecord;

use crate::support::{lab_bot, run_lab, PortalHandle, Project, Run};

/// The first line of /etc/passwd on every Linux machine.
const PASSWD: &str = "root:x:0:0";

fn items(p: &Project) -> Vec<juru::store::ItemRecord> {
    p.run_items()
}

/// The item's outputs (stored as `[[name, value], ...]`).
fn outputs(item: &ItemRecord) -> BTreeMap<String, serde_json::Value> {
    let pairs: Vec<(String, serde_json::Value)> =
        serde_json::from_str(&item.outputs).unwrap_or_default();
    pairs.into_iter().collect()
}

/// Every file under var/ as text (the cells of workbooks too), with its path.
fn everything_left(p: &Project) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for file in p.files("var") {
        let bytes = std::fs::read(p.path(&file)).unwrap();
        all.push((file.clone(), String::from_utf8_lossy(&bytes).into_owned()));
        if file.ends_with(".xlsx") {
            let mut wb = open_workbook_auto(p.path(&file)).unwrap();
            let mut cells = String::new();
            for name in wb.sheet_names() {
                for row in wb.worksheet_range(&name).unwrap().rows() {
                    for cell in row {
                        cells.push_str(&cell.to_string());
                        cells.push('\n');
                    }
                }
            }
            all.push((format!("{file} (cells)"), cells));
        }
    }
    all
}

/// Asserts that none of `needles` is in what the run printed or left under var/.
fn assert_nowhere(p: &Project, run: &Run, needles: &[&str]) {
    let mut places = everything_left(p);
    places.push(("stdout".into(), run.stdout()));
    places.push(("stderr".into(), run.stderr()));
    for (place, text) in &places {
        for needle in needles {
            assert!(!text.contains(needle), "{place} holds {needle:?}\n{run}");
        }
    }
}

fn private_secrets(p: &Project, toml: &str) {
    p.write("config/secrets.toml", toml);
    std::fs::set_permissions(
        p.path("config/secrets.toml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

#[test]
fn browser_open_refuses_anything_but_web_addresses() {
    let portal = PortalHandle::start();
    let p = Project::new();
    private_secrets(&p, "kunci_portal = \"Sandi-Rahasia-4321\"\n");
    let secrets = p.path("config/secrets.toml").display().to_string();
    let script = r##"
const TARGETS = [
    "file:///etc/passwd",
    "file:///",
    `file://${vars.secrets}`,
    "FILE:///etc/passwd",
    "chrome://version",
    "data:text/html,<h1>HALAMAN-DATA</h1>",
    "javascript:document.body.innerText",
    `view-source:${vars.portal_url}/lab`,
    "about:blank",
];
fn process(item) {
    browser.open(TARGETS[item.index]);
    item.output("Alamat", browser.url());
    item.output("Isi", browser.text_if_present("body"));
}
"##;
    // Every row fails: the circuit breaker would stop the run after five.
    lab_bot(&p, script, "[run]\ncircuit_breaker = 0", 9);
    let var = format!("secrets={secrets}");
    let run = run_lab(&p, &portal, &["--var", &var]);
    assert_eq!(run.code(), 0, "{run}");
    let items = items(&p);
    assert_eq!(items.len(), 9, "{run}");
    let refused = [
        "file:///etc/passwd".to_string(),
        "file:///".to_string(),
        format!("file://{secrets}"),
        "FILE:///etc/passwd".to_string(),
        "chrome://version".to_string(),
        "data:text/html,<h1>HALAMAN-DATA</h1>".to_string(),
        "javascript:document.body.innerText".to_string(),
        format!("view-source:{}/lab", portal.url()),
    ];
    for (item, url) in items.iter().zip(&refused) {
        assert_eq!(item.state, "system_exception", "{url}: {item:?}");
        assert_eq!(item.kind.as_deref(), Some("address"), "{item:?}");
        assert_eq!(
            item.attempts, 1,
            "a refused address is not tried again: {item:?}"
        );
        let reason = item.reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with(&format!(
                "browser.open: only http and https addresses may be opened, not {url}"
            )),
            "{reason}"
        );
    }
    assert_eq!(items[8].state, "done", "about:blank may be opened");
    assert_eq!(outputs(&items[8])["Alamat"], "about:blank");
    // Nothing was read, listed or downloaded.
    let downloads = p.files("var/runs");
    assert!(
        !downloads.iter().any(|f| f.contains("/downloads/")),
        "{downloads:?}"
    );
    assert_nowhere(&p, &run, &[PASSWD, "Sandi-Rahasia-4321"]);
}

#[test]
fn pages_cannot_lead_the_browser_out_of_the_web() {
    let portal = PortalHandle::start();
    let p = Project::new();
    // Each row tries one door of /lab/pintu, then reads what the browser shows.
    let script = r##"
fn read(item) {
    item.output("Alamat", browser.url());
    item.output("Isi", browser.text_if_present("body"));
}
fn process(item) {
    browser.open(`${vars.portal_url}/lab/pintu`);
    switch item.index {
        0 => { browser.click("#berkas"); read(item); }
        1 => { browser.click("#folder"); read(item); }
        2 => { browser.click("#data"); read(item); }
        3 => { browser.click("#alihkan"); browser.wait_gone("#judul"); read(item); }
        4 => { browser.click("#lokasi"); read(item); }
        5 => {
            browser.click("#jendela");
            item.output("Jendela", browser.in_window("", || `${browser.url()} ${browser.text_if_present("body")}`));
        }
        6 => { item.output("Bingkai", browser.in_frame("bingkai", || browser.text_if_present("body"))); }
        7 => { item.output("Bingkai", browser.in_frame("bingkai-data", || browser.text_if_present("body"))); }
        8 => { browser.open(`${vars.portal_url}/lab/alihkan?ke=file:///etc/passwd`); read(item); }
    }
}
"##;
    lab_bot(
        &p,
        script,
        "[browser]\ntimeout = \"4s\"\n[run]\nmax_retries = 0\ncircuit_breaker = 0",
        9,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let items = items(&p);
    assert_eq!(items.len(), 9, "{run}");
    let summary = items
        .iter()
        .map(|i| format!("{}: {} {:?} {}", i.idx, i.state, i.reason, i.outputs))
        .collect::<Vec<_>>()
        .join("\n");
    // Links and scripts to file: and data: pages leave the page where it was.
    for i in [0, 1, 2, 4] {
        let out = outputs(&items[i]);
        assert_eq!(items[i].state, "done", "{summary}");
        assert_eq!(
            out["Alamat"],
            format!("{}/lab/pintu", portal.url()),
            "{summary}"
        );
        assert!(
            out["Isi"]
                .as_str()
                .unwrap_or_default()
                .contains("Pintu Keluar"),
            "{summary}"
        );
    }
    // A redirect to file: ends on the browser's error page, which is not read.
    for i in [3, 8] {
        assert_eq!(items[i].state, "system_exception", "{summary}");
        assert_eq!(items[i].kind.as_deref(), Some("error_page"), "{summary}");
        assert!(
            items[i].reason.as_deref().unwrap_or_default().starts_with(
                "the browser could not load the page (it shows its own error page, chrome-error://"
            ),
            "{summary}"
        );
    }
    // window.open of a file: opens no window.
    assert_eq!(
        items[5].kind.as_deref(),
        Some("window_missing"),
        "{summary}"
    );
    // Frames of file: and data: pages are not entered.
    for (i, src) in [(6, "file:///etc/passwd"), (7, "data:text/html;base64,")] {
        assert_eq!(items[i].kind.as_deref(), Some("address"), "{summary}");
        assert!(
            items[i]
                .reason
                .as_deref()
                .unwrap_or_default()
                .starts_with(src),
            "{summary}"
        );
        assert!(outputs(&items[i]).is_empty(), "{summary}");
    }
    assert_nowhere(
        &p,
        &run,
        &[PASSWD, "HALAMAN-DATA-RAHASIA", "HALAMAN-DATA-BINGKAI"],
    );
}

#[test]
fn allowed_hosts_keep_the_bot_on_its_portal() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let script = r##"
fn process(item) {
    let other = vars.portal_url;
    other.replace("127.0.0.1", "localhost");
    switch item.index {
        0 => { browser.open(`${vars.portal_url}/lab/tabel`); item.output("Baris", browser.table("#penduduk").len()); }
        1 => { browser.open(`${other}/lab/tabel`); item.output("Baris", browser.table("#penduduk").len()); }
        2 => { browser.open(`${vars.portal_url}/lab/pintu`); browser.click("#luar"); item.output("Judul", browser.text("h2")); }
        3 => { browser.open(`${vars.portal_url}/lab/alihkan?ke=${other}/lab/tabel`); item.output("Judul", browser.text("h2")); }
        4 => { browser.open(`${vars.portal_url}/lab/pintu`); browser.click("#pulang"); item.output("Baris", browser.table("#penduduk").len()); }
    }
}
"##;
    lab_bot(
        &p,
        script,
        "[browser]\nallowed_hosts = [\"127.0.0.1\"]\n[run]\nmax_retries = 2",
        5,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let items = items(&p);
    let shown: Vec<_> = items
        .iter()
        .map(|i| (i.state.clone(), i.reason.clone(), i.outputs.clone()))
        .collect();
    assert_eq!(items[0].state, "done", "{shown:?}");
    assert_eq!(outputs(&items[0])["Baris"], 10);
    assert_eq!(items[4].state, "done", "a link on the same host: {shown:?}");
    let not_allowed = "localhost is not one of the bot's allowed hosts ([browser] allowed_hosts: 127.0.0.1); the address was http://localhost:";
    for (i, prefix) in [(1, "browser.open: "), (2, ""), (3, "browser.open: ")] {
        let item = &items[i];
        assert_eq!(item.state, "system_exception", "{shown:?}");
        assert_eq!(item.kind.as_deref(), Some("address"), "{shown:?}");
        assert_eq!(item.attempts, 1, "not tried again: {shown:?}");
        let reason = item.reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with(prefix) && reason.contains(not_allowed),
            "{reason}"
        );
        assert!(
            outputs(item).is_empty(),
            "nothing was read there: {shown:?}"
        );
    }

    // A host that is not a host name is refused by `juru check`.
    lab_bot(
        &p,
        script,
        "[browser]\nallowed_hosts = [\"https://portal.example.go.id/\"]",
        1,
    );
    let check = p.juru(&["check"]);
    assert_eq!(check.code(), 2, "{check}");
    assert!(
        check.stderr().contains(
            "bots/lab/bot.toml:5:18: browser.allowed_hosts: \"https://portal.example.go.id/\" is not a host name"
        ),
        "{check}"
    );
}

#[test]
fn downloaded_files_are_not_writable_by_others() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"fn process(item) {
    browser.open(`${vars.portal_url}/lab/ekspor`);
    item.output("Berkas", browser.download("#unduh"));
}"##,
        "",
        1,
    );
    // With a umask that lets everyone write, as a careless service might have.
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_juru"))
        .args([
            "run",
            "lab",
            "--var",
            &format!("portal_url={}", portal.url()),
        ])
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let run = Run {
        command: "umask 000; juru run lab".into(),
        output: out,
    };
    assert_eq!(run.code(), 0, "{run}");
    let run_dir = p.run_dir();
    let file = run_dir.join("downloads/daftar-permohonan.csv");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
    let folder = std::fs::metadata(&run_dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(folder, 0o777, "the run folder follows the umask");
    assert_eq!(mode & 0o022, 0, "{mode:o}: group or others may write");
    assert_eq!(mode, 0o644, "{mode:o}: the run folder's read permissions");
}

#[test]
fn a_script_that_eats_memory_fails_its_item_and_the_run_goes_on() {
    let p = Project::new();
    let script = r##"
fn dig(s, n) { let t = s + "!"; dig(t, n + 1) }
fn process(item) {
    switch item.index {
        0 => { let s = "juru"; loop { s += s; } }
        1 => { let s = "x"; s.pad(1000000, 'x'); dig(s, 0); }
        2 => {
            let m = #{};
            let s = "x"; s.pad(500000, 'x');
            let i = 0;
            loop { m[`k${i}`] = s + i; i += 1; }
        }
    }
    item.output("Hasil", "baik");
}
"##;
    lab_bot(&p, script, "[run]\nmax_retries = 2", 4);
    // Run through a parent that reports the largest resident size of its children
    // (juru starts no browser here, so that is juru's own).
    let out = Command::new("python3")
        .arg("-c")
        .arg("import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:])\nprint('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\nsys.exit(r.returncode)")
        .arg(env!("CARGO_BIN_EXE_juru"))
        .args(["run", "lab"])
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let run = Run {
        command: "python3 (peak memory) juru run lab".into(),
        output: out,
    };
    assert_eq!(run.code(), 0, "{run}");
    let peak_kb: u64 = run
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("PEAK_KB "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak reported\n{run}"));
    eprintln!("juru's peak resident memory: {} MiB", peak_kb / 1024);
    assert!(
        peak_kb < 320 * 1024,
        "juru's peak memory was {} MiB\n{run}",
        peak_kb / 1024
    );
    let items = items(&p);
    for (i, limit) in [
        (0, "1 MiB (1048576 bytes)"),
        (1, "function calls nested more than 32 levels deep"),
        (2, "it held more than 128 MiB of memory in one call"),
    ] {
        let item = &items[i];
        assert_eq!(item.state, "system_exception", "{item:?}");
        assert_eq!(item.kind.as_deref(), Some("limit"), "{item:?}");
        assert_eq!(item.attempts, 1, "not tried again: {item:?}");
        let reason = item.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("the script went past a limit") && reason.contains(limit),
            "{reason}"
        );
    }
    assert_eq!(items[3].state, "done", "the run went on: {:?}", items[3]);
    assert_eq!(outputs(&items[3])["Hasil"], "baik");
}

#[test]
fn imports_are_refused_by_check_and_run() {
    let p = Project::new();
    let evil = p.path("tmp/evil.rhai");
    std::fs::write(&evil, "fn boom() { \"EVIL-CODE-RAN\" }\n").unwrap();
    p.write("bots/lab/helper.rhai", "fn boom() { \"HELPER-RAN\" }\n");
    for import in [
        format!("import \"{}\" as evil;", evil.with_extension("").display()),
        "import \"helper\" as evil;".to_string(),
    ] {
        let script =
            format!("{import}\nfn process(item) {{ item.output(\"X\", evil::boom()); }}\n");
        lab_bot(&p, &script, "", 1);
        let check = p.juru(&["check"]);
        assert_eq!(check.code(), 2, "{check}");
        assert!(
            check.stderr().contains(
                "bots/lab/main.rhai:1:1: imports are not allowed; put the code in main.rhai"
            ),
            "{check}"
        );
        let run = p.juru(&["run", "lab"]);
        assert_eq!(run.code(), 2, "{run}");
        assert!(run.stderr().contains("imports are not allowed"), "{run}");
        assert!(
            !run.stdout().contains("RAN") && !run.stderr().contains("RAN"),
            "{run}"
        );
        p.assert_nothing_written();
    }
}

#[test]
fn secrets_are_hidden_in_addresses_and_in_encoded_forms() {
    let portal = PortalHandle::start();
    let p = Project::new();
    p.write("config/agent.toml", "[browser]\ndriver_log = true\n");
    let secret = "Kunci Rahasia@\"Dédé\"-77";
    private_secrets(&p, "kunci = \"Kunci Rahasia@\\\"Dédé\\\"-77\"\n");
    let script = r##"
fn process(item) {
    let k = secret("kunci");
    log(`mencoba ${k}`);
    // The address holds it (the browser encodes some characters of it, not others).
    browser.open(`${vars.portal_url}/lab/dialog?token=${k}`);
    browser.fill("#catatan", k);
    item.output("Alamat", browser.url());
    item.output("Judul", browser.title());
    // As a form encodes it, as JSON escapes it.
    let form = k; form.replace("@", "%40"); form.replace(" ", "+");
    let json = k; json.replace("\"", "\\\""); json.replace("é", "\\u00e9");
    let url = k; url.replace(" ", "%20"); url.replace("\"", "%22"); url.replace("é", "%c3%a9");
    item.output("Form", form);
    item.output("Json", json);
    log(`form ${form} json ${json} url ${url}`);
    throw `ditolak: ${form} / ${json} / ${url}`;
}
"##;
    lab_bot(
        &p,
        script,
        "[notify]\nofficers = [\"loket@dinas.example.go.id\"]",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let items = items(&p);
    let item = &items[0];
    assert_eq!(item.state, "system_exception", "{item:?}");
    let page_url = item.page_url.as_deref().unwrap_or_default();
    assert!(page_url.ends_with("/lab/dialog?token=••••••"), "{page_url}");
    let reason = item.reason.as_deref().unwrap_or_default();
    assert!(
        reason
            .starts_with("bots/lab/main.rhai:17: script threw: ditolak: •••••• / •••••• / ••••••"),
        "{reason}"
    );
    let out = outputs(item);
    for column in ["Alamat", "Form", "Json"] {
        assert!(
            out[column].as_str().unwrap_or_default().contains("••••••"),
            "{out:?}"
        );
    }
    // The chromedriver log had the secret (the address, the typed text) and hides it.
    let driver_log = std::fs::read_to_string(p.run_dir().join("chromedriver.log")).unwrap();
    assert!(driver_log.contains("token=••••••"), "{driver_log}");
    let forms = [
        secret,
        "Kunci+Rahasia%40\"Dédé\"-77",
        "Kunci Rahasia@\\\"D\\u00e9d\\u00e9\\\"-77",
        "Kunci Rahasia@\\\"Dédé\\\"-77",
        "Kunci%20Rahasia@%22D%C3%A9d%C3%A9%22-77",
        "Kunci%20Rahasia@%22D%c3%a9d%c3%a9%22-77",
        // Pieces of it would say that a form slipped through.
        "Kunci Rahasia",
        "Kunci+Rahasia",
        "Kunci%20Rahasia",
        "Rahasia@",
        "Rahasia%40",
    ];
    assert_nowhere(&p, &run, &forms);
}

#[test]
fn what_a_script_logs_cannot_forge_log_lines() {
    let p = Project::new();
    lab_bot(
        &p,
        r##"fn process(item) {
    log("data diperiksa\nERROR juru: the agent was compromised");
    print("merah \u001b[31mALARM\u001b[0m\r\nINFO juru: forged");
    debug("x\ny");
    item.output("Hasil", "baik");
}"##,
        "",
        1,
    );
    let run = p.juru(&["run", "lab"]);
    assert_eq!(run.code(), 0, "{run}");
    let stderr = run.stderr();
    for line in stderr.lines() {
        assert!(
            !line.trim_start().starts_with("ERROR juru: the agent")
                && !line.trim_start().starts_with("INFO juru: forged")
                && !line.contains('\u{1b}'),
            "a forged line: {line:?}\n{run}"
        );
    }
    assert!(
        stderr.contains("data diperiksa\\nERROR juru: the agent was compromised"),
        "{run}"
    );
    assert!(
        stderr.contains("merah \\x1b[31mALARM\\x1b[0m\\r\\nINFO juru: forged"),
        "{run}"
    );
    let items = items(&p);
    let log = items[0].log.as_deref().unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines,
        vec![
            "data diperiksa\\nERROR juru: the agent was compromised",
            "merah \\x1b[31mALARM\\x1b[0m\\r\\nINFO juru: forged",
            "debug at line 4: \"x\\ny\"",
        ],
        "{log:?}"
    );
}
