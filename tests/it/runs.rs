//! Runs that never lose or double an item: retries, verification, the circuit
//! breaker, parallel browsers, resume after SIGKILL, retry runs, secrets.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::{lab_bot, run_lab, PortalHandle, Project};

fn items(p: &Project) -> Vec<juru::store::ItemRecord> {
    p.run_items()
}

#[test]
fn a_system_exception_is_retried_after_a_browser_restart() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"fn process(item) {
    browser.open(`${vars.portal_url}/lab/kadang?kunci=${item["No"]}`);   // 503 the first time
    item.output("Hasil", browser.text("#hasil"));
}"##,
        "",
        2,
    );
    let run = run_lab(&p, &portal, &["--json", "--log-format", "json"]);
    assert_eq!(run.code(), 0, "{run}");
    let summary: serde_json::Value =
        serde_json::from_str(run.stdout().trim()).expect("JSON summary");
    for line in run.stderr().lines().filter(|l| !l.trim().is_empty()) {
        let log: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            log["level"].is_string() && log["fields"].is_object(),
            "{line}"
        );
    }
    assert_eq!(summary["done"], 2, "{run}");
    assert_eq!(summary["system_exceptions"], 0);
    let items = items(&p);
    assert!(
        items.iter().all(|i| i.state == "done" && i.attempts == 2),
        "{items:?}"
    );
    assert!(run.stderr().contains("503 Service Unavailable"), "{run}");
}

#[test]
fn a_failure_after_submitted_without_verify_needs_a_person() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"fn process(item) {
    browser.open(`${vars.portal_url}/lab/dialog`);
    item.submitted();
    browser.click("#tidak-ada");
}"##,
        "[browser]\ntimeout = \"1s\"",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let items = items(&p);
    assert_eq!(items[0].state, "needs_verification", "{items:?}");
    assert_eq!(items[0].attempts, 1, "never retried blindly");
    assert!(
        run.stdout().contains("needs verification          1"),
        "{run}"
    );
    let show = p.juru(&[
        "runs",
        "show",
        p.run_dir().file_name().unwrap().to_str().unwrap(),
    ]);
    assert!(show.stdout().contains("needs_verification"), "{show}");
    assert!(
        show.stdout()
            .contains("check in the system whether it arrived"),
        "{show}"
    );
}

#[test]
fn the_circuit_breaker_stops_a_run_against_a_system_that_is_down() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"fn process(item) { browser.open(`${vars.portal_url}/lab/rusak`); }"##,
        "[run]\nmax_retries = 0\ncircuit_breaker = 3\n[notify]\nofficers = [\"loket@dinas.example.go.id\"]",
        8,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 1, "{run}");
    assert!(
        run.stdout().contains("the system is probably down"),
        "{run}"
    );
    let items = items(&p);
    assert_eq!(
        items
            .iter()
            .filter(|i| i.state == "system_exception")
            .count(),
        3,
        "{items:?}"
    );
    assert_eq!(
        items.iter().filter(|i| i.state == "pending").count(),
        5,
        "{items:?}"
    );
    // The alert says why.
    let sent = p.files("var/outbox");
    let alert = sent
        .iter()
        .find(|f| f.contains("alert"))
        .unwrap_or_else(|| panic!("{sent:?}"));
    let raw = std::fs::read(p.path(alert)).unwrap();
    let mail = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert!(
        mail.body_text(0)
            .unwrap()
            .contains("the system is probably down"),
        "{:?}",
        mail.body_text(0)
    );
}

#[test]
fn two_browsers_share_the_items_and_keep_the_input_order() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
    let manifest = std::fs::read_to_string(p.path("bots/demo-perizinan/bot.toml")).unwrap();
    p.write(
        "bots/demo-perizinan/bot.toml",
        &manifest.replace("[run]\n", "[run]\nworkers = 2\n"),
    );
    let var = format!("portal_url={}", portal.url());
    let run = p.juru(&["run", "demo-perizinan", "--var", &var]);
    assert_eq!(run.code(), 0, "{run}");
    let records = portal.records();
    let keys: BTreeSet<_> = records
        .iter()
        .map(|r| (r.nik.clone(), r.jenis_izin.clone()))
        .collect();
    assert_eq!(
        (records.len(), keys.len()),
        (20, 20),
        "each valid row exactly once"
    );
    let items = items(&p);
    let workers: BTreeSet<_> = items.iter().filter_map(|i| i.worker).collect();
    assert_eq!(workers, BTreeSet::from([1, 2]), "both browsers worked");
    // output.xlsx keeps the input order, each row with its own number.
    use calamine::{open_workbook_auto, Reader};
    let mut wb = open_workbook_auto(p.run_dir().join("output.xlsx")).unwrap();
    let range = wb.worksheet_range("Hasil").unwrap();
    let rows: Vec<_> = range.rows().map(|r| r.to_vec()).collect();
    let col = |name: &str| rows[0].iter().position(|h| *h == name).unwrap();
    for (i, row) in rows[1..].iter().enumerate() {
        assert_eq!(row[col("No")].to_string(), (i + 1).to_string());
        if row[col("Status")] == "Selesai" {
            let nik = row[col("NIK")].to_string();
            let jenis = row[col("Jenis Izin")].to_string();
            let rec = records
                .iter()
                .find(|r| r.nik == nik && r.jenis_izin == jenis)
                .unwrap();
            assert_eq!(row[col("Nomor Registrasi")].to_string(), rec.no_reg);
        }
    }
}

#[test]
fn killed_again_and_again_then_resumed_never_loses_or_doubles_a_row() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
    let var = format!("portal_url={}", portal.url());
    let spawn = |args: &[&str]| p.spawn(args, false);
    // Kill points spread over the run: after the portal saved a few more rows, and
    // sometimes right after a (re)start.
    let mut child = spawn(&["run", "demo-perizinan", "--var", &var]);
    let mut kills = 0;
    let mut seed: u64 = 0x5eed_1234;
    let mut finished = false;
    let deadline = Instant::now() + Duration::from_secs(600);
    while !finished {
        assert!(Instant::now() < deadline, "the run never finished");
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let wait_rows = portal.records().len() + (seed >> 33) as usize % 3;
        let wait_ms = 300 + (seed >> 40) % 1500;
        let t0 = Instant::now();
        // Wait (bounded) until the portal has a few more rows or some time passed.
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success() || kills >= 10,
                    "juru failed on its own: {status}"
                );
                finished = status.success();
                break;
            }
            if kills < 10
                && (portal.records().len() >= wait_rows
                    && t0.elapsed() >= Duration::from_millis(wait_ms))
            {
                let _ = child.kill(); // SIGKILL
                let _ = child.wait();
                kills += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !finished && kills <= 10 {
            let store = juru::store::Store::open(p.path("var/juru.db")).unwrap();
            let id = p
                .run_dir()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if store.run(&id).unwrap().unwrap().pending == 0 {
                break;
            }
            child = spawn(&["runs", "resume", &id]);
        }
    }
    let _ = child.wait();
    assert!(kills >= 10, "killed {kills} times");

    // Every valid row is in the portal exactly once; the store accounts for all 25.
    let records = portal.records();
    let keys: BTreeSet<_> = records
        .iter()
        .map(|r| (r.nik.clone(), r.jenis_izin.clone()))
        .collect();
    assert_eq!(keys.len(), records.len(), "no row saved twice: {records:?}");
    assert_eq!(records.len(), 20, "every valid row saved");
    let items = items(&p);
    let count = |s: &str| items.iter().filter(|i| i.state == s).count();
    assert_eq!(count("done"), 20, "{items:?}");
    assert_eq!(count("business_exception"), 5, "{items:?}");
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
}

#[test]
fn runs_are_listed_shown_and_retried() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"fn process(item) {
    if item["No"] % 2 == 0 { fail_business(`nomor ${item["No"]} genap`); }
    item.output("Ganjil", true);
}"##,
        "",
        4,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let first = p
        .run_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let list = p.juru(&["runs", "list"]);
    assert!(list.stdout().contains(&first), "{list}");
    let retry = p.juru(&["runs", "retry", &first, "--items", "business", "--json"]);
    assert_eq!(retry.code(), 0, "{retry}");
    let summary: serde_json::Value = serde_json::from_str(retry.stdout().trim()).unwrap();
    assert_eq!(
        (
            summary["rows"].as_u64(),
            summary["business_exceptions"].as_u64()
        ),
        (Some(2), Some(2))
    );
    let second = summary["run"].as_str().unwrap().to_string();
    let show = p.juru(&["runs", "show", &second]);
    assert!(
        show.stdout()
            .contains(&format!("retry of               {first}")),
        "{show}"
    );
    assert!(show.stdout().contains("nomor 4 genap"), "{show}");
    let bad = p.juru(&["runs", "retry", &first, "--items", "semua"]);
    assert_eq!(bad.code(), 2, "{bad}");
}

#[test]
fn secrets_never_reach_logs_reports_or_the_store() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let secret = "Sangat-Rahasia-9876";
    p.write(
        "config/secrets.toml",
        &format!("kunci_portal = \"{secret}\"\n"),
    );
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(p.path("config/secrets.toml"))
            .unwrap()
            .permissions(),
        0o600,
    );
    let mut perms = std::fs::metadata(p.path("config/secrets.toml"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(p.path("config/secrets.toml"), perms).unwrap();
    lab_bot(
        &p,
        r##"fn process(item) {
    let k = secret("kunci_portal");
    log(`mencoba masuk dengan ${k}`);
    browser.open(`${vars.portal_url}/lab/arsip`);
    browser.fill("#nama", k);          // the page shows what was typed
    browser.click("#simpan");
    browser.wait_for_text(k);
    item.output("Terlihat", browser.table("#arsip")[2]["Nama"]);
    fail_business(`ditolak untuk ${k}`);
}"##,
        "[notify]\nofficers = [\"loket@dinas.example.go.id\"]",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        !run.stdout().contains(secret) && !run.stderr().contains(secret),
        "{run}"
    );
    for file in p.files("var") {
        let bytes = std::fs::read(p.path(&file)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(secret), "{file} holds the secret");
        // Workbooks are zipped: look inside them too.
        if file.ends_with(".xlsx") {
            use calamine::{open_workbook_auto, Reader};
            let mut wb = open_workbook_auto(p.path(&file)).unwrap();
            for name in wb.sheet_names() {
                let range = wb.worksheet_range(&name).unwrap();
                for row in range.rows() {
                    for cell in row {
                        assert!(
                            !cell.to_string().contains(secret),
                            "{file} {name} holds the secret"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(
        portal.archive(),
        vec![secret.to_string()],
        "the secret did reach the portal"
    );

    // A secrets file other users can read is refused.
    let mut perms = std::fs::metadata(p.path("config/secrets.toml"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(p.path("config/secrets.toml"), perms).unwrap();
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("chmod 600"), "{run}");
}
