//! Crashes, restarts and stops against the real parts: the agent firing the demo bot
//! is killed with SIGKILL at random moments (also right after the portal saved a row)
//! and started again, `juru trigger` is fired at random moments, saved rows are
//! retried; the demo portal's own duplicate check is off, so a double save would be
//! stored and counted. Also: a second agent on one data folder, what `juru runs
//! list` says of a run whose process is gone, a trigger refused while the bot runs.

use std::time::{Duration, Instant};

use juru::demo::PortalOptions;

use crate::agent::{fires, runs, store, wait_for, Agent};
use crate::support::{PortalHandle, Project};

/// A portal that saves duplicates like most legacy systems, and answers fast.
pub(crate) fn forgiving_portal() -> PortalHandle {
    PortalHandle::start_with(PortalOptions {
        allow_duplicates: true,
        nik_check_ms: (0, 80),
        ..PortalOptions::default()
    })
}

/// The demo bot pointed at `portal`, reading its rows from `var/inbox/`: the
/// schedule takes the file from there, and the bot's own workbook is the same file,
/// so a run that should not have started would type the same rows again.
pub(crate) fn demo_project(portal: &PortalHandle) -> Project {
    let p = Project::with_demo_bot();
    let manifest = std::fs::read_to_string(p.path("bots/demo-perizinan/bot.toml")).unwrap();
    let manifest = manifest
        .replace("http://127.0.0.1:8765", &portal.url())
        .replace(
            "workbook = \"input/permohonan.xlsx\"",
            "workbook = \"../../var/inbox/permohonan.xlsx\"",
        );
    p.write("bots/demo-perizinan/bot.toml", &manifest);
    std::fs::create_dir_all(p.path("var/inbox")).unwrap();
    std::fs::copy(
        p.path("bots/demo-perizinan/input/permohonan.xlsx"),
        p.path("var/inbox/permohonan.xlsx"),
    )
    .unwrap();
    p
}

/// A small deterministic random source (the test must be repeatable).
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

/// A lab bot whose items take a second each (a slow page of the portal).
const SLOW: &str = r##"fn process(item) {
    browser.open(`${vars.portal_url}/lab/lambat?detik=1`);
    item.output("Hasil", browser.text("#selesai"));
}"##;

fn kill9(agent: &mut Agent) {
    let _ = agent.child.kill();
    let _ = agent.child.wait();
}

/// The bot's runs with items, oldest first.
fn bot_runs(p: &Project) -> Vec<juru::store::RunRecord> {
    let mut r: Vec<_> = runs(p)
        .into_iter()
        .filter(|r| r.bot == "demo-perizinan" && r.total > 0)
        .collect();
    r.reverse();
    r
}

fn finished(p: &Project) -> bool {
    bot_runs(p)
        .iter()
        .any(|r| r.state == "finished" && r.pending == 0)
}

/// Polls until no process of this project is left (browsers, drivers, guards).
fn no_processes_left(p: &Project, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !p.processes().is_empty() {
        assert!(
            Instant::now() < deadline,
            "left running: {:#?}",
            p.processes()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_agent_killed_at_random_moments_saves_every_row_once_and_never_overlaps_runs() {
    let portal = forgiving_portal();
    let p = demo_project(&portal);
    p.write(
        "config/schedules.toml",
        "[chaos]\nbot = \"demo-perizinan\"\ncron = \"*/3 * * * * *\"\ninbox = \"var/inbox\"\n",
    );
    let mut dice = Dice(0x00c0_ffee);
    let mut n = 0;
    let mut agent = Agent::start(&p, n);
    let mut triggers = Vec::new();
    let mut kills = 0;
    while kills < 20 && !finished(&p) {
        // Wait for a moment to kill at: right after the portal saved a row (the
        // worst one: saved, not yet recorded), or a random time after the (re)start,
        // which falls into browser start, login, filling a form or waiting.
        let saved = portal.records().len();
        let t0 = Instant::now();
        let (after_save, wait) = (
            dice.next(2) == 0,
            Duration::from_millis(300 + dice.next(3000)),
        );
        let deadline = t0 + Duration::from_secs(90);
        loop {
            if finished(&p) || Instant::now() > deadline {
                break;
            }
            if after_save && portal.records().len() > saved {
                break;
            }
            if !after_save && t0.elapsed() >= wait {
                break;
            }
            // Now and then somebody runs the bot by hand while its run goes on.
            if dice.next(40) == 0
                && bot_runs(&p).iter().any(|r| r.pending >= 3)
                && triggers.len() < 6
            {
                let log = format!("trigger-{}.log", triggers.len());
                triggers.push(p.spawn_logged(&["trigger", "demo-perizinan"], &log));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if finished(&p) {
            break;
        }
        kill9(&mut agent);
        kills += 1;
        n += 1;
        agent = Agent::start(&p, n);
    }
    eprintln!("killed the agent {kills} times");
    assert!(kills >= 15, "only {kills} kills before the run finished");

    // The last agent finishes the run and moves the input away.
    wait_for("the run to finish", 400, &agent, || {
        finished(&p).then_some(())
    });
    wait_for("the input to move to processed/", 30, &agent, || {
        p.path("var/inbox/processed/permohonan.xlsx")
            .exists()
            .then_some(())
    });
    // A few more fires find no input.
    let fires_before = fires(&p).len();
    wait_for("two more fires", 30, &agent, || {
        (fires(&p).len() >= fires_before + 2).then_some(())
    });
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
    for mut t in triggers {
        let _ = t.wait();
    }

    // One run did all the rows: each valid row is in the portal exactly once (the
    // portal here also saves the workbook's repeated application, so 21 of 25), each
    // saved record is the one done item that got its number, every refused row is
    // reported once.
    let runs = bot_runs(&p);
    assert_eq!(runs.len(), 1, "one run over the workbook: {runs:#?}");
    let items = store(&p).items(&runs[0].id).unwrap();
    let count = |s: &str| items.iter().filter(|i| i.state == s).count();
    assert_eq!(count("done"), 21, "{items:#?}");
    assert_eq!(count("business_exception"), 4, "{items:#?}");
    let records = portal.records();
    assert_eq!(records.len(), 21, "a row was saved twice: {records:#?}");
    for r in &records {
        let holders = items
            .iter()
            .filter(|i| i.state == "done" && i.outputs.contains(&r.no_reg))
            .count();
        assert_eq!(holders, 1, "{} belongs to {holders} items", r.no_reg);
    }
    let reports: Vec<_> = p
        .files("var/outbox/sent")
        .into_iter()
        .filter(|f| f.ends_with(".eml") && f.contains("exceptions"))
        .collect();
    assert_eq!(reports.len(), 1, "one exception report: {reports:?}");

    // No two runs of the bot overlapped (any run at all, triggered ones included).
    let all: Vec<_> = crate::agent::runs(&p)
        .into_iter()
        .filter(|r| r.bot == "demo-perizinan")
        .collect();
    for a in &all {
        for b in &all {
            if a.id < b.id {
                let ends = |r: &juru::store::RunRecord| {
                    r.finished_at.clone().unwrap_or_else(|| "9999".into())
                };
                assert!(
                    ends(a) <= b.started_at || ends(b) <= a.started_at,
                    "runs overlapped: {a:#?} {b:#?}"
                );
            }
        }
    }

    // Every fire ended, with its run where it had one.
    let fires = fires(&p);
    assert!(!fires.is_empty());
    for f in &fires {
        assert!(
            ["done", "failed", "skipped", "interrupted"].contains(&f.state.as_str()),
            "a fire did not end: {f:#?}"
        );
        if f.state == "done" {
            assert_eq!(f.run_id.as_deref(), Some(runs[0].id.as_str()), "{f:#?}");
        }
    }
    assert!(fires.iter().any(|f| f.state == "done"), "{fires:#?}");

    // No browser outlives the last stop.
    no_processes_left(&p, 30);

    // Retrying saved rows looks them up first: nothing is saved again.
    let retry = p.juru(&["runs", "retry", &runs[0].id, "--items", "2,3,4"]);
    assert!(!retry.stderr().contains("panicked"), "{retry}");
    assert_eq!(portal.records().len(), 21, "{retry}");
}

#[test]
fn a_retry_of_saved_rows_verifies_first_unless_a_person_checked() {
    let portal = forgiving_portal();
    let mut p = demo_project(&portal);
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
    let first = p.juru(&["run", "demo-perizinan", "--json"]);
    assert_eq!(first.code(), 0, "{first}");
    // The portal here also saves the workbook's repeated application: 21 of 25.
    assert_eq!(portal.records().len(), 21);
    let run: serde_json::Value = serde_json::from_str(first.stdout().trim()).unwrap();
    let id = run["run"].as_str().unwrap().to_string();

    // Rows 2 and 3 were saved: a retry finds them with verify(item) and saves nothing.
    let again = p.juru(&["runs", "retry", &id, "--items", "2,3", "--json"]);
    assert_eq!(again.code(), 0, "{again}");
    assert_eq!(portal.records().len(), 21, "saved twice: {again}");
    let summary: serde_json::Value = serde_json::from_str(again.stdout().trim()).unwrap();
    assert_eq!(summary["done"], 2, "{again}");
    let retry_id = summary["run"].as_str().unwrap().to_string();
    let items = store(&p).items(&retry_id).unwrap();
    assert!(
        items.iter().all(|i| i
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("verify(item)"))),
        "{items:#?}"
    );

    // `--items verify` of a row that needs verification: the same look-up first.
    store(&p)
        .item_finished(
            &id,
            4,
            &juru::store::ItemEnd {
                state: "needs_verification",
                outputs: "{}",
                reason: Some("the save was not confirmed"),
                finished_at: "2026-11-29T10:00:00Z",
                ..Default::default()
            },
        )
        .unwrap();
    let verify = p.juru(&["runs", "retry", &id, "--items", "verify"]);
    assert_eq!(verify.code(), 0, "{verify}");
    assert_eq!(portal.records().len(), 21, "saved twice: {verify}");

    // A person says the rows are not in the system: they are typed again.
    let checked = p.juru(&["runs", "retry", &id, "--items", "2", "--checked"]);
    assert_eq!(checked.code(), 0, "{checked}");
    assert_eq!(portal.records().len(), 22, "{checked}");
}

#[test]
fn a_second_agent_on_one_data_folder_refuses_to_start() {
    let p = Project::new();
    let first = Agent::start(&p, 0);
    wait_for("the first agent to start", 60, &first, || {
        first.log().contains("agent started").then_some(())
    });
    let second = p.juru(&["agent"]);
    assert_eq!(second.code(), 1, "{second}");
    assert!(
        second.stderr().contains("another juru agent")
            && second
                .stderr()
                .contains(&format!("process {}", first.child.id())),
        "{second}"
    );
    let (code, log) = first.stop();
    assert_eq!(code, 0, "{log}");
    // Once it stopped, the folder is free.
    let third = Agent::start(&p, 1);
    wait_for("the next agent to start", 60, &third, || {
        third.log().contains("agent started").then_some(())
    });
    let (code, log) = third.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn a_killed_run_is_listed_as_interrupted_and_holds_back_new_runs_until_resumed() {
    let portal = PortalHandle::start();
    let p = Project::new();
    crate::support::lab_bot(
        &p,
        SLOW,
        &format!("[vars]\nportal_url = \"{}\"", portal.url()),
        8,
    );
    let mut child = p.spawn(&["run", "lab"], false);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = p.path("var/juru.db").exists()
            && store(&p)
                .runs(None, 5)
                .unwrap()
                .first()
                .is_some_and(|r| r.done >= 2);
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let id = store(&p).runs(None, 5).unwrap()[0].id.clone();

    let list = p.juru(&["runs", "list"]);
    assert!(
        list.stdout().contains(&format!(
            "interrupted ({}",
            store(&p).run(&id).unwrap().unwrap().pending
        )) && list.stdout().contains(&format!("juru runs resume {id}")),
        "{list}"
    );
    let again = p.juru(&["run", "lab"]);
    assert_eq!(again.code(), 1, "{again}");
    assert!(
        again.stderr().contains(&format!("unfinished run {id}"))
            && again.stderr().contains("juru runs resume"),
        "{again}"
    );
    let resumed = p.juru(&["runs", "resume", &id]);
    assert_eq!(resumed.code(), 0, "{resumed}");
    let r = store(&p).run(&id).unwrap().unwrap();
    assert_eq!((r.state.as_str(), r.done, r.pending), ("finished", 8, 0));
    let after = p.juru(&["run", "lab"]);
    assert_eq!(after.code(), 0, "{after}");
}

#[test]
fn a_trigger_while_the_bot_runs_is_refused_and_says_why() {
    let portal = PortalHandle::start();
    let p = Project::new();
    crate::support::lab_bot(
        &p,
        SLOW,
        &format!("[vars]\nportal_url = \"{}\"", portal.url()),
        20,
    );
    let agent = Agent::start(&p, 0);
    wait_for("the agent to start", 60, &agent, || {
        agent.log().contains("agent started").then_some(())
    });
    let first = p.juru(&["trigger", "lab"]);
    assert_eq!(first.code(), 0, "{first}");
    wait_for("the run to begin", 60, &agent, || {
        runs(&p).iter().any(|r| r.done >= 1).then_some(())
    });
    let second = p.juru(&["trigger", "lab"]);
    assert_eq!(second.code(), 1, "{second}");
    assert!(
        second.stderr().contains("did not start bot lab")
            && second.stderr().contains("already running"),
        "{second}"
    );
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(
        runs(&p).iter().filter(|r| r.bot == "lab").count(),
        1,
        "{log}"
    );
}

#[test]
fn two_stop_signals_abort_at_once_and_the_next_start_resumes_the_stopped_run() {
    let portal = PortalHandle::start();
    let p = Project::new();
    let slow = SLOW.replace("detik=1", "detik=4");
    crate::support::lab_bot(
        &p,
        &slow,
        &format!("[vars]\nportal_url = \"{}\"", portal.url()),
        4,
    );
    let agent = Agent::start(&p, 0);
    wait_for("the agent to start", 60, &agent, || {
        agent.log().contains("agent started").then_some(())
    });
    let trigger = p.juru(&["trigger", "lab"]);
    assert_eq!(trigger.code(), 0, "{trigger}");
    wait_for("an item under way", 90, &agent, || {
        let db = p.path("var/juru.db");
        (db.exists()
            && store(&p)
                .runs(None, 5)
                .unwrap()
                .iter()
                .any(|r| r.pending > 0 && r.done >= 1))
        .then_some(())
    });
    // Stop, and stop again: the second signal aborts the item under way instead of
    // letting it finish.
    agent.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    agent.signal(libc::SIGTERM);
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("second stop signal: aborting"), "{log}");
    let run = runs(&p).into_iter().find(|r| r.bot == "lab").unwrap();
    assert_eq!(run.state, "cancelled", "{log}");
    assert!(run.pending > 0 && run.done < 4, "{run:#?}");
    // Its log lines say which run and bot they belong to.
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("run{{run={}", run.id)) && l.contains("bot=lab")),
        "{log}"
    );

    // The next start continues it (as after a crash) and finishes it.
    let agent = Agent::start(&p, 1);
    wait_for("the stopped run to be finished", 120, &agent, || {
        let r = store(&p).run(&run.id).unwrap().unwrap();
        (r.state == "finished").then_some(r)
    });
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("resuming an unfinished run"), "{log}");
    let r = store(&p).run(&run.id).unwrap().unwrap();
    assert_eq!((r.done, r.pending), (4, 0), "{log}");
    assert_eq!(runs(&p).len(), 1, "no second run: {log}");
}

#[test]
fn fires_from_before_the_first_start_never_run_and_missed_fires_are_recorded() {
    let p = Project::new();
    crate::support::lab_bot(&p, "fn process(item) { }", "", 1);
    // An hourly schedule whose last fire was ten minutes ago.
    let now = chrono::Utc::now();
    let at = now - chrono::Duration::minutes(10);
    p.write(
        "config/schedules.toml",
        &format!(
            "[jam]\nbot = \"lab\"\ncron = \"{} {} * * * *\"\n",
            chrono::Timelike::second(&at),
            chrono::Timelike::minute(&at)
        ),
    );
    // A fresh store: that fire is from before the agent looked after the schedule.
    let agent = Agent::start(&p, 0);
    wait_for("the catch-up", 60, &agent, || {
        agent.log().contains("caught up").then_some(())
    });
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
    assert!(fires(&p).is_empty(), "{:#?}", fires(&p));
    assert!(runs(&p).is_empty());

    // The agent has looked after it for three hours (and was down): the fires of
    // the last three hours were missed; none runs, each is recorded as skipped.
    let three_hours_ago = (now - chrono::Duration::hours(3)).to_rfc3339();
    let db = rusqlite::Connection::open(p.path("var/juru.db")).unwrap();
    db.execute(
        "UPDATE schedule_watch SET watched_since = ?1 WHERE schedule = 'jam'",
        [&three_hours_ago],
    )
    .unwrap();
    drop(db);
    let agent = Agent::start(&p, 1);
    wait_for("the catch-up", 60, &agent, || {
        agent.log().contains("caught up").then_some(())
    });
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "{log}");
    let fires = fires(&p);
    assert_eq!(fires.len(), 3, "{fires:#?}");
    assert!(
        fires.iter().all(|f| f.state == "skipped"
            && f.reason.as_deref() == Some("missed: the agent was not running")),
        "{fires:#?}"
    );
    assert!(runs(&p).is_empty());
}
