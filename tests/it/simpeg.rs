//! The repository's SIMPEG bot (`bots/simpeg-mutasi`, no loops of its own) against
//! the demo portal's staffing system with faults switched on: sessions that expire,
//! server errors before and after the save. juru is killed with SIGKILL in the
//! middle and the run resumed; then the same workbook runs again. Counted where it
//! lands: every valid row is stored in SIMPEG exactly once, the two refused rows are
//! business exceptions with SIMPEG's own message, hasil.csv says so row by row.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use juru::demo::PortalOptions;

use crate::agent::{runs, store};
use crate::support::{copy_dir, PortalHandle, Project};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn simpeg_project(portal: &PortalHandle) -> Project {
    let mut p = Project::new();
    copy_dir(
        &std::path::Path::new(REPO).join("bots/simpeg-mutasi"),
        &p.path("bots/simpeg-mutasi"),
    );
    let manifest = std::fs::read_to_string(p.path("bots/simpeg-mutasi/bot.toml")).unwrap();
    p.write(
        "bots/simpeg-mutasi/bot.toml",
        &manifest.replace("http://127.0.0.1:8765", &portal.url()),
    );
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
    p
}

/// Live proposals per (NIP, type, decree date).
fn live(portal: &PortalHandle) -> BTreeMap<(String, String, String), usize> {
    let mut m = BTreeMap::new();
    for u in portal
        .simpeg_proposals()
        .into_iter()
        .filter(|u| u.status == "Diproses")
    {
        *m.entry((u.nip, u.jenis, u.tanggal_sk)).or_default() += 1;
    }
    m
}

#[test]
fn the_simpeg_bot_saves_every_row_once_through_faults_a_kill_and_a_rerun() {
    let portal = PortalHandle::start_with(PortalOptions {
        simpeg_faults: 8,
        ..PortalOptions::default()
    });
    let p = simpeg_project(&portal);
    let script = std::fs::read_to_string(p.path("bots/simpeg-mutasi/main.rhai")).unwrap();
    assert!(script.lines().count() <= 50, "the bot stays short");
    assert!(
        !script.contains("loop") && !script.contains("while") && !script.contains("for "),
        "the bot has no retry loops of its own"
    );

    // Killed with SIGKILL once a few proposals are stored.
    let mut child = p.spawn_logged(&["run", "simpeg-mutasi"], "run1.log");
    let t0 = Instant::now();
    while live(&portal).len() < 4 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "juru ended before the kill ({status}):\n{}",
                std::fs::read_to_string(p.path("run1.log")).unwrap_or_default()
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "no progress:\n{}",
            std::fs::read_to_string(p.path("run1.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let run = runs(&p).into_iter().next().expect("the run is recorded");
    let resumed = p.juru(&["runs", "resume", &run.id]);
    assert_eq!(resumed.code(), 0, "{resumed}");

    let items = store(&p).items(&run.id).unwrap();
    let states: Vec<&str> = items.iter().map(|i| i.state.as_str()).collect();
    let valid = 11;
    assert_eq!(
        states.iter().filter(|s| **s == "done").count(),
        valid,
        "{items:#?}"
    );
    let business: Vec<String> = items
        .iter()
        .filter(|i| i.state == "business_exception")
        .map(|i| i.reason.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        business,
        vec![
            "NIP tidak ditemukan".to_string(),
            "Pegawai sudah pensiun; usulan mutasi tidak dapat diajukan".to_string()
        ],
        "{items:#?}"
    );
    // Stored exactly once each, the refused seed record notwithstanding.
    let stored = live(&portal);
    assert_eq!(stored.len(), valid, "{stored:#?}");
    assert!(stored.values().all(|n| *n == 1), "{stored:#?}");
    let faults = portal.simpeg_faults();
    assert!(!faults.is_empty(), "the portal injected faults");

    // hasil.csv: every row, in the office's words, with the proposal number.
    let dir = p.path(&run.dir);
    let csv = std::fs::read_to_string(dir.join("hasil.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "no,nip,status,no_usulan,pesan");
    assert_eq!(lines.len(), 14, "{csv}");
    assert!(
        lines[6].starts_with("6,199912312024011001,GAGAL,,NIP tidak ditemukan"),
        "{csv}"
    );
    for line in lines[1..].iter().filter(|l| l.contains("BERHASIL")) {
        assert!(line.contains(",MUT/"), "{line}");
    }

    // The same workbook again: verify_first finds every saved row, nothing is typed.
    let again = p.juru(&["run", "simpeg-mutasi"]);
    assert_eq!(again.code(), 0, "{again}");
    assert_eq!(live(&portal), stored);

    let left = p.processes();
    assert!(left.is_empty(), "left behind: {left:#?}");
    eprintln!("faults injected: {faults:?}");
}
