//! Running juru as a service: the Debian package `cargo deb` builds (what it installs
//! where, its conffiles, maintainer scripts and dependencies; the packaged config
//! checks clean), the systemd unit, and the readiness notifications a real agent
//! sends to `$NOTIFY_SOCKET`.
//!
//! The package is made from the debug binary this test run already built (cargo-deb
//! wants it under `<target>/release/`, so it gets a private target folder holding a
//! link to it): no second build, a few seconds of packaging.

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, REPO};

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{shown} cannot start: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Whether `cargo deb` can run. Under CI (`CI` set) it must: `.ci/install --tests`
/// installs it.
fn cargo_deb_available() -> bool {
    let found = Command::new(cargo())
        .args(["deb", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "cargo-deb is missing; `.ci/install --tests` installs it (cargo install cargo-deb --locked)"
        );
        eprintln!(
            "\n!!! SKIPPED package::the_debian_package_installs_the_agent_as_a_service: cargo-deb is \
             not installed (cargo install cargo-deb --locked, or .ci/install --tests) !!!\n"
        );
    }
    found
}

/// Builds the package from the test run's binary into `dir`; its path.
fn build_package(dir: &Path) -> PathBuf {
    let release = dir.join("target/release");
    std::fs::create_dir_all(&release).unwrap();
    let binary = release.join("juru");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_juru"), &binary).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_juru"), &binary).unwrap();
    }
    let out_dir = dir.join("deb");
    std::fs::create_dir_all(&out_dir).unwrap();
    run(Command::new(cargo())
        .args(["deb", "--no-build", "--fast", "--offline", "--output"])
        .arg(&out_dir)
        .arg("--manifest-path")
        .arg(Path::new(REPO).join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", dir.join("target")));
    let debs: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "expected one .deb, found {debs:?}");
    debs[0].clone()
}

/// The files below /etc/juru that the package ships as conffiles.
const CONFFILES: [&str; 9] = [
    "/etc/juru/agent.toml",
    "/etc/juru/schedules.toml",
    "/etc/juru/users.toml",
    "/etc/juru/calendars/id-kerja.toml",
    "/etc/juru/bots/demo-perizinan/bot.toml",
    "/etc/juru/bots/demo-perizinan/main.rhai",
    "/etc/juru/bots/demo-perizinan/input/permohonan.xlsx",
    "/etc/juru/bots/cek-permohonan/bot.toml",
    "/etc/juru/bots/cek-permohonan/main.rhai",
];

#[test]
fn the_debian_package_installs_the_agent_as_a_service() {
    if !cargo_deb_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let deb = build_package(tmp.path());

    // Dependencies: the browser and its driver from Debian, adduser for the user.
    let depends = text(&run(Command::new("dpkg-deb")
        .arg("--field")
        .arg(&deb)
        .arg("Depends")));
    for wanted in ["chromium", "chromium-driver", "adduser"] {
        assert!(
            depends.split(',').any(|d| d.trim() == wanted),
            "Depends: {depends}"
        );
    }

    // Where the files go.
    let contents = text(&run(Command::new("dpkg-deb").arg("--contents").arg(&deb)));
    let listed: BTreeMap<String, String> = contents
        .lines()
        .filter_map(|l| {
            let mode = l.split_whitespace().next()?.to_string();
            let path = l.split_whitespace().last()?.trim_start_matches('.');
            Some((path.trim_end_matches('/').to_string(), mode))
        })
        .collect();
    assert_eq!(
        listed.get("/usr/bin/juru").map(String::as_str),
        Some("-rwxr-xr-x"),
        "{contents}"
    );
    for path in CONFFILES
        .iter()
        .copied()
        .chain(["/usr/lib/systemd/system/juru.service"])
    {
        assert!(listed.contains_key(path), "{path} missing:\n{contents}");
    }

    // Control files: conffiles, and maintainer scripts that are valid shell.
    let control = tmp.path().join("control");
    run(Command::new("dpkg-deb")
        .arg("--control")
        .arg(&deb)
        .arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    for path in CONFFILES {
        assert!(
            conffiles.lines().any(|l| l == path),
            "{path} is not a conffile:\n{conffiles}"
        );
    }
    for script in ["postinst", "prerm", "postrm"] {
        run(Command::new("sh").arg("-n").arg(control.join(script)));
    }
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    for wanted in [
        "adduser --system --quiet --ingroup juru --home /var/lib/juru",
        "install -d -o juru -g juru -m 0750 /var/lib/juru",
        "chown root:juru \"$dir\"",
        "deb-systemd-helper enable juru.service",
    ] {
        assert!(
            postinst.contains(wanted),
            "postinst lacks {wanted}:\n{postinst}"
        );
    }
    let postrm = std::fs::read_to_string(control.join("postrm")).unwrap();
    assert!(postrm.contains("rm -rf /var/lib/juru"), "{postrm}");

    // The files themselves: the unit as in the repository, naming the packaged paths.
    let root = tmp.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system/juru.service")).unwrap();
    assert_eq!(
        unit,
        std::fs::read_to_string(Path::new(REPO).join("config/juru.service")).unwrap()
    );
    let exec = unit_value(&unit, "ExecStart").expect("ExecStart");
    let args: Vec<&str> = exec.split_whitespace().collect();
    assert!(
        root.join(args[0].trim_start_matches('/')).is_file(),
        "{exec}"
    );
    let flag = |name: &str| {
        args.iter()
            .position(|a| *a == name)
            .and_then(|i| args.get(i + 1))
            .copied()
            .unwrap_or_else(|| panic!("{name} missing in {exec}"))
    };
    assert!(root
        .join(flag("--config").trim_start_matches('/'))
        .join("agent.toml")
        .is_file());
    assert!(root
        .join(flag("--bots").trim_start_matches('/'))
        .join("demo-perizinan/bot.toml")
        .is_file());
    assert_eq!(flag("--data"), "/var/lib/juru");
    assert_eq!(args.last(), Some(&"agent"));

    // The packaged configuration and bots check clean with the packaged binary.
    let juru = root.join("usr/bin/juru");
    let check = run(Command::new(&juru)
        .arg("--config")
        .arg(root.join("etc/juru"))
        .arg("--bots")
        .arg(root.join("etc/juru/bots"))
        .arg("--data")
        .arg(tmp.path().join("data"))
        .arg("check")
        .env("NO_COLOR", "1"));
    assert!(
        text(&check).contains("schedules.toml (2 schedules)") && text(&check).contains("3 bots"),
        "{}",
        text(&check)
    );

    // systemd's own reading of the unit, where systemd-analyze is installed (it
    // needs no running systemd). It checks that ExecStart exists: point it at the
    // extracted binary.
    if Command::new("systemd-analyze")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        let copy = tmp.path().join("verify/juru.service");
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::write(
            &copy,
            unit.replace(
                "ExecStart=/usr/bin/juru",
                &format!("ExecStart={}", juru.display()),
            ),
        )
        .unwrap();
        let verify = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&copy)
            .output()
            .unwrap();
        let complaints = String::from_utf8_lossy(&verify.stderr);
        // Every complaint about the unit names it; anything else is about the
        // machine (no systemd state to read), not about the unit.
        assert!(
            !complaints.contains("juru.service"),
            "systemd-analyze verify: {complaints}"
        );
        if !verify.status.success() {
            eprintln!(
                "systemd-analyze verify cannot run here ({}): {complaints}",
                verify.status
            );
        }
    } else {
        eprintln!("systemd-analyze is not installed: the unit is not verified by systemd");
    }
}

/// The value of the last `key=` line of a unit file.
fn unit_value<'a>(unit: &'a str, key: &str) -> Option<&'a str> {
    unit.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .next_back()
}

#[test]
fn the_unit_is_hardened_and_gives_juru_time_to_stop() {
    let unit = std::fs::read_to_string(Path::new(REPO).join("config/juru.service")).unwrap();
    for (key, value) in [
        ("Type", "notify"),
        ("User", "juru"),
        ("RestartPreventExitStatus", "2"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/juru"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("UMask", "0027"),
        ("KillMode", "mixed"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
    ] {
        assert_eq!(unit_value(&unit, key), Some(value), "{key}");
    }
    let env: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .collect();
    assert!(env.contains(&"HOME=/var/lib/juru"), "{env:?}");
    // Nothing below /etc is writable: the data folder is the only writable path.
    assert!(!unit.lines().any(|l| l.starts_with("ReadWritePaths=/etc")));
    let memory = unit_value(&unit, "MemoryMax").expect("MemoryMax");
    let gib: u64 = memory
        .strip_suffix('G')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("MemoryMax={memory}: expected whole gigabytes"));
    assert!(gib >= 1, "MemoryMax={memory}");
    let stop: u64 = unit_value(&unit, "TimeoutStopSec")
        .and_then(|s| s.parse().ok())
        .expect("TimeoutStopSec in seconds");
    assert!(
        stop >= juru::agent::STOP_GRACE.as_secs() * 2,
        "TimeoutStopSec={stop} leaves too little above the {} s stop grace",
        juru::agent::STOP_GRACE.as_secs()
    );
}

#[test]
fn the_packaged_schedules_are_the_examples_with_inboxes_under_the_data_folder() {
    let read = |rel: &str| -> toml::Table {
        toml::from_str(&std::fs::read_to_string(Path::new(REPO).join(rel)).unwrap()).unwrap()
    };
    let repo = read("config/schedules.toml");
    let packaged = read("packaging/etc/schedules.toml");
    assert_eq!(
        repo.keys().collect::<Vec<_>>(),
        packaged.keys().collect::<Vec<_>>()
    );
    for (name, table) in &packaged {
        let table = table.as_table().unwrap();
        let mut same = table.clone();
        let mut theirs = repo[name].as_table().unwrap().clone();
        // The package's differences: disabled, inboxes under /var/lib/juru.
        assert_eq!(table.get("enabled").and_then(|v| v.as_bool()), Some(false));
        if let Some(inbox) = table.get("inbox").and_then(|v| v.as_str()) {
            assert!(inbox.starts_with("/var/lib/juru/"), "{name}: {inbox}");
        }
        for key in ["enabled", "inbox"] {
            same.remove(key);
            theirs.remove(key);
        }
        assert_eq!(same, theirs, "schedule {name}");
    }
}

/// Receives one datagram, waiting up to `secs`.
fn receive(socket: &UnixDatagram, secs: u64, log: &Path) -> String {
    socket
        .set_read_timeout(Some(Duration::from_secs(secs)))
        .unwrap();
    let mut buf = [0u8; 512];
    match socket.recv(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(e) => panic!(
            "no notification within {secs} s ({e}); agent log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        ),
    }
}

#[test]
fn the_agent_tells_systemd_it_is_ready_reloading_and_stopping() {
    let p = Project::new();
    let socket_path = p.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let log = p.path("agent.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_juru"))
        .arg("agent")
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(receive(&socket, 60, &log), "READY=1");
        // SAFETY: signals our own child.
        unsafe { libc::kill(pid, libc::SIGHUP) };
        let reloading = receive(&socket, 60, &log);
        let usec = reloading
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .and_then(|n| n.parse::<u64>().ok());
        assert!(usec.is_some_and(|u| u > 0), "{reloading:?}");
        assert_eq!(receive(&socket, 60, &log), "READY=1");
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(receive(&socket, 60, &log), "STOPPING=1");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert_eq!(status.code(), Some(0));
                break;
            }
            assert!(Instant::now() < deadline, "the agent did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }));
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
