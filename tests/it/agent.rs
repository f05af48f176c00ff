//! `juru agent` as a child process: schedules fire real runs against the demo
//! portal, fires are recorded once, overlaps are skipped, an invalid reload keeps
//! the old schedules, `juru trigger` and `juru schedules pause` reach the agent, an
//! idle agent does not wake up and still delivers mail queued meanwhile.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use juru::store::fires::FireRecord;
use juru::store::{RunRecord, Store};

use crate::support::{PortalHandle, Project};

/// A running `juru agent`, its log in the project's `agent-N.log`.
pub(crate) struct Agent {
    pub(crate) child: Child,
    log: std::path::PathBuf,
}

impl Agent {
    pub(crate) fn start(p: &Project, n: usize) -> Agent {
        let log = p.path(&format!("agent-{n}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_juru"))
            .arg("agent")
            .current_dir(p.dir.path())
            .env("TMPDIR", p.path("tmp"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
            .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Agent { child, log }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: sends a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// SIGTERM, then the exit code (within the stop grace period).
    pub(crate) fn stop(mut self) -> (i32, String) {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `check` until it gives a value or `secs` passed.
pub(crate) fn wait_for<T>(
    what: &str,
    secs: u64,
    agent: &Agent,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; agent log:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn store(p: &Project) -> Store {
    Store::open(p.path("var/juru.db")).unwrap()
}

pub(crate) fn fires(p: &Project) -> Vec<FireRecord> {
    if !p.path("var/juru.db").exists() {
        return Vec::new();
    }
    store(p).fires(None, 1000).unwrap()
}

pub(crate) fn runs(p: &Project) -> Vec<RunRecord> {
    store(p).runs(None, 1000).unwrap()
}

/// A small bot over a one-row workbook that logs in to the portal.
pub(crate) fn small_bot(p: &Project, portal_url: &str) {
    small_bot_named(p, portal_url, "kecil", 1, "");
}

/// [`small_bot`] named `name` over `rows` rows, with `run` (lines of its `[run]`).
pub(crate) fn small_bot_named(p: &Project, portal_url: &str, name: &str, rows: u32, run: &str) {
    p.write(
        &format!("bots/{name}/bot.toml"),
        &format!("name = \"{name}\"\n[input]\nworkbook = \"masuk.xlsx\"\n[run]\n{run}[vars]\nportal_url = \"{portal_url}\"\n"),
    );
    p.write(
        &format!("bots/{name}/main.rhai"),
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/login`);
    browser.fill_form(#{ "#user": secret("portal_user"), "#pass": secret("portal_password") });
    browser.click("input[value=Masuk]");
    browser.wait_for_text("Selamat datang");
    item.output("Judul", browser.title());
}
"##,
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "No").unwrap();
    for i in 1..=rows {
        ws.write_number(i, 0, i as f64).unwrap();
    }
    wb.save(p.path(&format!("bots/{name}/masuk.xlsx"))).unwrap();
}

/// A cron (with seconds, UTC) firing once, `ahead` seconds from now.
pub(crate) fn cron_in(ahead: i64) -> (String, String) {
    let at = Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::seconds(ahead);
    (
        format!(
            "{} {} {} {} {} *",
            at.second(),
            at.minute(),
            at.hour(),
            at.format("%-d"),
            at.format("%-m")
        ),
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    )
}

#[test]
fn a_schedule_runs_the_demo_bot_once_across_a_restart() {
    let portal = PortalHandle::start();
    let p = Project::with_demo_bot();
    let manifest = p.path("bots/demo-perizinan/bot.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("http://127.0.0.1:8765", &portal.url());
    std::fs::write(&manifest, text).unwrap();
    let (cron, key) = cron_in(5);
    p.write(
        "config/schedules.toml",
        &format!("[izin]\nbot = \"demo-perizinan\"\ncron = \"{cron}\"\ntime_zone = \"UTC\"\n"),
    );

    let agent = Agent::start(&p, 1);
    let fire = wait_for("the fire to end", 180, &agent, || {
        fires(&p)
            .into_iter()
            .find(|f| f.state == "done" || f.state == "failed")
    });
    assert_eq!(fire.schedule, "izin");
    assert_eq!(fire.scheduled_for, key);
    assert_eq!(fire.state, "done", "{fire:?}\n{}", agent.log());
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");

    let all = runs(&p);
    assert_eq!(all.len(), 1, "{all:?}");
    let run = &all[0];
    assert_eq!(Some(&run.id), fire.run_id.as_ref());
    assert_eq!(run.trigger, "schedule:izin");
    assert_eq!(run.state, "finished");
    assert_eq!(run.total, 25);
    assert_eq!(run.pending, 0);
    assert!(run.done > 0, "{run:?}");
    assert_eq!(portal.records().len() as i64, run.done);
    // The output workbook holds one row per input row, below its header.
    let output = p.dir.path().join(Path::new(&run.dir)).join("output.xlsx");
    let mut wb = calamine::open_workbook_auto(&output).unwrap();
    let sheet = calamine::Reader::sheet_names(&wb)[0].clone();
    let range = calamine::Reader::worksheet_range(&mut wb, &sheet).unwrap();
    assert_eq!(range.rows().count(), 26, "{}", output.display());

    // A restart within a minute of the tick does not fire it again.
    let again = Agent::start(&p, 2);
    wait_for("the agent to catch up", 30, &again, || {
        again.log().contains("caught up").then_some(())
    });
    let (code, log) = again.stop();
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("schedule fires"), "{log}");
    assert_eq!(fires(&p).len(), 1);
    assert_eq!(runs(&p).len(), 1);
}

#[test]
fn overlapping_fires_are_skipped_pause_holds_and_trigger_runs_a_bot() {
    let portal = PortalHandle::start();
    let p = Project::new();
    small_bot(&p, &portal.url());
    p.write(
        "config/schedules.toml",
        "[tiap-detik]\nbot = \"kecil\"\ncron = \"* * * * * *\"\ntime_zone = \"UTC\"\noverlap = \"skip\"\n",
    );
    let agent = Agent::start(&p, 1);
    wait_for(
        "a finished scheduled run and a skipped overlapping fire",
        120,
        &agent,
        || {
            let f = fires(&p);
            let done = f.iter().any(|f| f.state == "done");
            let skipped = f.iter().any(|f| {
                f.state == "skipped"
                    && f.reason
                        .as_deref()
                        .unwrap_or("")
                        .contains("previous run still goes on")
            });
            (done && skipped).then_some(())
        },
    );

    let paused = p.juru(&["schedules", "pause", "tiap-detik"]);
    assert_eq!(paused.code(), 0, "{paused}");
    let listed = p.juru(&["schedules", "--count", "1"]);
    assert!(
        listed
            .stdout()
            .contains("paused, its fires are skipped until `juru schedules resume tiap-detik`"),
        "{listed}"
    );
    wait_for("a fire skipped as paused", 60, &agent, || {
        fires(&p)
            .iter()
            .any(|f| {
                f.state == "skipped" && f.reason.as_deref().unwrap_or("").starts_with("paused")
            })
            .then_some(())
    });

    // A scheduled run that began before the pause still goes on for a while, and
    // a trigger meanwhile is refused (two runs of one bot never overlap).
    wait_for("the last scheduled run to end", 120, &agent, || {
        runs(&p).iter().all(|r| r.state != "running").then_some(())
    });
    let trigger = p.juru(&["trigger", "kecil"]);
    assert_eq!(trigger.code(), 0, "{trigger}");
    let manual = wait_for("the manual run to finish", 120, &agent, || {
        runs(&p)
            .into_iter()
            .find(|r| r.trigger == "manual" && r.state != "running")
    });
    assert_eq!(manual.state, "finished", "{manual:?}");
    assert_eq!(manual.done, 1);

    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
    // Every scheduled run belongs to exactly one recorded fire.
    let f = fires(&p);
    for r in runs(&p)
        .iter()
        .filter(|r| r.trigger == "schedule:tiap-detik")
    {
        assert_eq!(
            f.iter()
                .filter(|f| f.run_id.as_deref() == Some(r.id.as_str()))
                .count(),
            1,
            "{r:?}\n{f:?}"
        );
    }

    // With no agent running, trigger says so.
    let none = p.juru(&["trigger", "kecil"]);
    assert_eq!(none.code(), 1, "{none}");
    assert!(none.stderr().contains("no juru agent is running"), "{none}");
}

#[test]
fn an_invalid_reload_keeps_the_old_schedules() {
    let p = Project::new();
    small_bot(&p, "http://127.0.0.1:9");
    p.write(
        "config/schedules.toml",
        "[tiap-detik]\nbot = \"kecil\"\ncron = \"* * * * * *\"\ntime_zone = \"UTC\"\n",
    );
    // Paused from the start: its fires are recorded as skipped, no browser starts.
    let paused = p.juru(&["schedules", "pause", "tiap-detik"]);
    assert_eq!(paused.code(), 0, "{paused}");
    let agent = Agent::start(&p, 1);
    wait_for("the agent to catch up", 30, &agent, || {
        agent.log().contains("caught up").then_some(())
    });

    p.write(
        "config/schedules.toml",
        "[tiap-detik]\nbot = \"kecil\"\ncron = \"61 * * * *\"\ntime_zone = \"UTC\"\n",
    );
    wait_for("the reload to be refused", 30, &agent, || {
        agent
            .log()
            .contains("the new configuration is refused")
            .then_some(())
    });
    let log = agent.log();
    assert!(log.contains("schedules.toml"), "{log}");
    assert!(log.contains("cron"), "{log}");
    let refused_at = Utc::now();

    // The old schedule still fires (recorded as skipped while paused).
    wait_for(
        "a fire of the old schedule after the refused reload",
        30,
        &agent,
        || {
            fires(&p)
                .iter()
                .filter(|f| f.reason.as_deref().unwrap_or("").starts_with("paused"))
                .any(|f| {
                    chrono::DateTime::parse_from_rfc3339(&f.scheduled_for).unwrap() > refused_at
                })
                .then_some(())
        },
    );

    // SIGHUP with the file still invalid: refused again, the agent goes on.
    agent.signal(libc::SIGHUP);
    wait_for("the SIGHUP reload to be refused", 30, &agent, || {
        (agent
            .log()
            .matches("the new configuration is refused")
            .count()
            >= 2)
            .then_some(())
    });
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
    assert!(runs(&p).is_empty());
    assert!(fires(&p).iter().all(|f| f.state == "skipped"));
}

/// Context switches of all the agent's threads: each wake-up of a thread is one.
fn wakeups(agent: &Agent) -> u64 {
    let tasks = format!("/proc/{}/task", agent.child.id());
    let mut total = 0;
    for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some((key, value)) = line.split_once(':') {
                if key.ends_with("ctxt_switches") {
                    total += value.trim().parse::<u64>().unwrap_or(0);
                }
            }
        }
    }
    total
}

#[test]
fn an_idle_agent_does_not_wake_up_and_delivers_mail_queued_meanwhile() {
    let p = Project::new();
    let server = crate::mail::SmtpServer::start(&p.path("smtp"));
    crate::mail::mail_bot(&p, "officers = [\"loket@dinas.example.go.id\"]\n");
    p.write("config/agent.toml", &crate::mail::smtp_config(server.port));
    // Fires once a year, on 1 January.
    p.write(
        "config/schedules.toml",
        "[tahunan]\nbot = \"surat\"\ncron = \"0 0 1 1 *\"\ntime_zone = \"UTC\"\n",
    );
    let agent = Agent::start(&p, 1);
    wait_for("the agent to start", 30, &agent, || {
        agent.log().contains("agent started").then_some(())
    });

    // Once its start-up work is done, nothing wakes it: no polling.
    let mut last = (wakeups(&agent), Instant::now());
    wait_for("the agent to settle", 30, &agent, || {
        let now = wakeups(&agent);
        if now != last.0 {
            last = (now, Instant::now());
        }
        (last.1.elapsed() >= Duration::from_secs(1)).then_some(())
    });
    let before = wakeups(&agent);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        wakeups(&agent) <= before,
        "the idle agent woke up {} times in 3 s",
        wakeups(&agent) - before
    );

    // Mail queued by another process (a `juru run` whose server was down) is
    // noticed and delivered without waiting for a timer.
    crate::mail::queue_one(&p, "antrian");
    wait_for("the queued mail to arrive", 60, &agent, || {
        (server.messages().len() == 1).then_some(())
    });
    wait_for("the message to move to sent/", 30, &agent, || {
        p.files("var/outbox/sent")
            .iter()
            .any(|f| f.ends_with("antrian.eml"))
            .then_some(())
    });
    assert!(p.files("var/outbox/pending").is_empty());
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
}

/// `[limits] max_browsers` holds for the agent, not for each run: two bots with
/// `workers = 2` run at the same time under `max_browsers = 2`, and no more than two
/// items are ever in a browser at once; the second run's workers wait for seats.
#[test]
fn max_browsers_holds_across_the_concurrent_runs_of_an_agent() {
    let portal = PortalHandle::start();
    let p = Project::new();
    p.write(
        "config/agent.toml",
        "[browser]\nheadless = true\n[limits]\nmax_browsers = 2\nmax_concurrent_runs = 2\n",
    );
    for name in ["kecil-a", "kecil-b"] {
        small_bot_named(&p, &portal.url(), name, 8, "workers = 2\n");
    }
    let agent = Agent::start(&p, 1);
    wait_for("the agent to take a trigger", 60, &agent, || {
        (p.juru(&["trigger", "kecil-a"]).code() == 0).then_some(())
    });
    let t = p.juru(&["trigger", "kecil-b"]);
    assert_eq!(t.code(), 0, "{t}");
    let ended = wait_for("both runs to end", 300, &agent, || {
        let r = runs(&p);
        (r.len() == 2 && r.iter().all(|r| r.state != "running")).then_some(r)
    });
    let store = Store::open(p.path("var/juru.db")).unwrap();
    let mut items = Vec::new();
    for run in &ended {
        assert_eq!((run.state.as_str(), run.done), ("finished", 8), "{run:?}");
        items.extend(store.items(&run.id).unwrap());
    }
    let most = crate::support::most_at_once(&items);
    assert!(most <= 2, "{most} items were in browsers at once");
    assert!(
        agent
            .log()
            .contains("waiting for a browser: all 2 of [limits] max_browsers are in use"),
        "{}",
        agent.log()
    );
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
}
