//! What juru writes for people and for other programs: results survive a reader
//! that goes away (`juru runs list | head -1`), log lines carry no colour codes off
//! a terminal, and `juru check` warns about a calendar that ran out of holidays.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Project;

/// `juru ARGS` in the project with standard output and error piped.
fn command(p: &Project, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_juru"));
    cmd.args(args)
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A project with `n` hourly schedules of the demo bot.
fn many_schedules(n: usize) -> Project {
    let p = Project::with_demo_bot();
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "[jadwal-{i:03}]\nbot = \"demo-perizinan\"\ncron = \"{} * * * *\"\n",
            i % 60
        ));
    }
    p.write("config/schedules.toml", &text);
    p
}

#[test]
fn a_reader_that_stops_after_one_line_ends_the_output_quietly() {
    // 60 schedules x 100 fires: far more than a pipe holds, so juru is still
    // writing when the reader goes away.
    let p = many_schedules(60);
    let mut child = command(&p, &["schedules", "--count", "100"])
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader (and the pipe's only read end) is gone now.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        first.starts_with("jadwal-000: bot demo-perizinan, cron \"0 * * * *\""),
        "{first}"
    );
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn every_listing_survives_a_closed_pipe() {
    let p = many_schedules(3);
    // The outbox holds a message to list.
    let outbox = juru::mail::Outbox::new(p.path("var/outbox"));
    let mail = juru::mail::Mail {
        to: vec!["kabid@example.go.id".into()],
        subject: "uji".into(),
        text: "uji".into(),
        html: "<p>uji</p>".into(),
        ..Default::default()
    };
    outbox
        .enqueue("juru <juru@localhost>", &mail, "uji", "summary", None)
        .unwrap();
    for args in [
        &["schedules"][..],
        &["schedules", "--count", "100"],
        &["runs", "list"],
        &["mail", "list", "--all"],
        &["check"],
    ] {
        let mut child = command(&p, args).spawn().unwrap();
        // Close the read end before juru writes anything: its first write fails.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "juru {}: stderr:\n{stderr}",
            args.join(" ")
        );
        assert!(
            !stderr.contains("panicked"),
            "juru {}: {stderr}",
            args.join(" ")
        );
    }
}

#[test]
fn log_lines_have_no_colour_codes_off_a_terminal() {
    let p = Project::new();
    let log = p.path("agent.log");
    // NO_COLOR unset: only "standard error is not a terminal" keeps colours out.
    let mut child = Command::new(env!("CARGO_BIN_EXE_juru"))
        .arg("agent")
        .current_dir(p.dir.path())
        .env("TMPDIR", p.path("tmp"))
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read().contains("agent started") {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the agent did not start:\n{}", read());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let text = read();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains("INFO"), "{text}");
    assert!(text.contains("agent stopped"), "{text}");
    assert!(
        !text.contains("\x1b["),
        "colour codes in the log:\n{text:?}"
    );
}

#[test]
fn check_warns_about_a_calendar_without_this_years_holidays() {
    let p = Project::with_demo_bot();
    p.write(
        "config/calendars/lama.toml",
        "description = \"only 2025\"\n[holidays]\n2025-01-01 = \"Tahun Baru 2025\"\n2025-12-25 = \"Natal\"\n",
    );
    p.write(
        "config/calendars/tua.toml",
        "[holidays]\n2024-01-01 = \"Tahun Baru 2024\"\n",
    );
    p.write(
        "config/schedules.toml",
        "[harian]\nbot = \"demo-perizinan\"\ncron = \"30 7 * * 1-5\"\ncalendar = \"lama\"\n\
         [mati]\nbot = \"demo-perizinan\"\ncron = \"0 9 * * 1\"\ncalendar = \"tua\"\nenabled = false\n",
    );
    let run = p.juru(&["check"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(run.stdout().starts_with("ok: "), "{run}");
    let stderr = run.stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{run}");
    let w = warnings[0];
    assert!(
        w.starts_with(
            "warning: config/calendars/lama.toml: calendar \"lama\" lists no holidays for 2026"
        ),
        "{w}"
    );
    assert!(w.contains("; schedule \"harian\" would run on "), "{w}");
    assert!(
        w.ends_with("(national holidays and cuti bersama, from the SKB 3 Menteri) now"),
        "{w}"
    );
    // The disabled schedule's calendar is not warned about.
    assert!(!stderr.contains("tua"), "{run}");
}
