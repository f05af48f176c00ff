//! A fleet: three `juru agent` processes, each with its own folders and name, share
//! one PostgreSQL store (a throwaway cluster) and one Selenium Grid, and work one
//! 60-row run of the demo bot together (`workers = 3`). One agent is killed with SIGKILL right after it marked
//! an item submitted; the portal's duplicate check is off, so a second save would be
//! stored and counted. Every row must be saved exactly once, the dead agent's item
//! finished by another agent, and the outputs and mail made once, by the run's owner.
//!
//! Also: a run whose owner died is taken over; an agent frozen (SIGSTOP) in the
//! middle of an item, past its submitted mark, for longer than its lease sends
//! nothing more once it wakes (another agent saved the row); the owner starts the
//! browsers the other agents leave unused; a bot's `[run] max_browsers` holds across
//! processes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use juru::store::{Location, RunRecord, Store};

use crate::agent::Agent;
use crate::crash::forgiving_portal;
use crate::support::{PortalHandle, Project};

const ROWS: u32 = 60;

/// The fleet tests start several agents and browsers each: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn nik(i: u32) -> String {
    format!("332601120385{i:04}")
}

/// The demo bot with `workers = 3` over a 60-row workbook, on the shared store,
/// with browsers from `grid` (a WebDriver URL) or local ones.
fn member(portal: &PortalHandle, url: &str, name: &str, grid: Option<&str>) -> Project {
    member_with(portal, url, name, grid, ROWS, 3)
}

/// [`member`] with `rows` rows and `workers` workers.
fn member_with(
    portal: &PortalHandle,
    url: &str,
    name: &str,
    grid: Option<&str>,
    rows: u32,
    workers: usize,
) -> Project {
    let p = Project::with_demo_bot();
    let manifest = std::fs::read_to_string(p.path("bots/demo-perizinan/bot.toml")).unwrap();
    let manifest = manifest
        .replace("http://127.0.0.1:8765", &portal.url())
        .replace("[run]\n", &format!("[run]\nworkers = {workers}\n"));
    p.write("bots/demo-perizinan/bot.toml", &manifest);
    p.write(
        "config/agent.toml",
        &format!(
            "[browser]\nheadless = true\n{}[agent]\nname = \"{name}\"\n[store]\nurl = \"{url}\"\n[limits]\nmax_browsers = 2\n",
            grid.map(|g| format!("webdriver_url = \"{g}\"\n"))
                .unwrap_or_default()
        ),
    );
    permohonan(
        &p.path("bots/demo-perizinan/input/permohonan.xlsx"),
        1,
        rows,
    );
    p
}

/// The demo bot's workbook with `rows` rows, NIKs from number `first` on.
fn permohonan(path: &Path, first: u32, rows: u32) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Permohonan").unwrap();
    let date = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    for (c, h) in [
        "No",
        "NIK",
        "Nama Pemohon",
        "Jenis Izin",
        "Skala Usaha",
        "Tanggal Pengajuan",
        "Alamat",
        "Telepon",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for i in first..first + rows {
        let r = i - first + 1;
        ws.write_number(r, 0, i as f64).unwrap();
        ws.write_string(r, 1, nik(i)).unwrap();
        ws.write_string(r, 2, format!("Pemohon {i}")).unwrap();
        ws.write_string(r, 3, "Surat Izin Usaha Perdagangan")
            .unwrap();
        ws.write_string(r, 4, "Kecil").unwrap();
        let at = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 2, (i % 28 + 1) as u8).unwrap();
        ws.write_datetime_with_format(r, 5, &at, &date).unwrap();
        ws.write_string(r, 6, format!("Jl. Contoh No. {i}"))
            .unwrap();
        ws.write_string(r, 7, "081234567890").unwrap();
    }
    wb.save(path).unwrap();
}

fn wait<T>(what: &str, secs: u64, agents: &[&Agent], mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = agents.iter().map(|a| a.log()).collect();
            panic!(
                "timed out waiting for {what}; agent logs:\n{}",
                logs.join("\n-----\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn live(agents: &[Option<Agent>]) -> Vec<&Agent> {
    agents.iter().flatten().collect()
}

/// Files under `dir` whose name ends with `suffix`.
fn files_ending(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found
}

/// A fleet for one test: a fresh database on the shared throwaway cluster, and a
/// project and a running agent for each name.
struct Fleet {
    projects: Vec<Project>,
    agents: Vec<Option<Agent>>,
    store: Store,
}

impl Fleet {
    /// Starts an agent for each of `names` (their projects made by `member` from
    /// the database's address and the name) and waits until all are alive.
    fn start(db: &str, names: &[&str], member: impl Fn(&str, &str) -> Project) -> Fleet {
        let cluster = juru::store::throwaway::Cluster::shared().unwrap_or_else(|e| panic!("{e}"));
        let location = cluster.fresh_database(db).unwrap();
        let Location::Postgres { url, .. } = &location else {
            unreachable!()
        };
        let projects: Vec<Project> = names.iter().map(|n| member(url, n)).collect();
        let agents = projects
            .iter()
            .enumerate()
            .map(|(i, p)| Some(Agent::start(p, i)))
            .collect();
        let store = Store::open(location).unwrap();
        let fleet = Fleet {
            projects,
            agents,
            store,
        };
        fleet.wait("every agent alive", 60, || {
            let alive = fleet
                .store
                .agents()
                .ok()?
                .iter()
                .filter(|a| a.alive)
                .count();
            (alive == names.len()).then_some(())
        });
        fleet
    }

    fn wait<T>(&self, what: &str, secs: u64, check: impl FnMut() -> Option<T>) -> T {
        wait(what, secs, &live(&self.agents), check)
    }

    /// `juru trigger` of the demo bot from the first project; the run it started.
    fn trigger(&self) -> RunRecord {
        let trigger = self.projects[0].juru(&["trigger", "demo-perizinan"]);
        assert_eq!(trigger.code(), 0, "{trigger}");
        self.wait("the run", 60, || {
            self.store
                .runs(Some("demo-perizinan"), 10)
                .ok()?
                .into_iter()
                .next()
        })
    }

    /// Waits until `run` ended; how.
    fn ended(&self, run: &RunRecord) -> RunRecord {
        self.wait("the run to end", 300, || {
            let r = self.store.run(&run.id).ok()??;
            (r.state != "running").then_some(r)
        })
    }

    /// The index of the agent whose process is `pid`.
    fn agent_of(&self, pid: Option<i64>) -> usize {
        self.agents
            .iter()
            .position(|a| a.as_ref().is_some_and(|a| Some(a.child.id() as i64) == pid))
            .expect("an agent with that process")
    }

    /// Output workbooks of every project.
    fn outputs(&self) -> usize {
        self.projects
            .iter()
            .map(|p| files_ending(&p.path("var"), "output.xlsx").len())
            .sum()
    }

    /// Kills agent `n` (SIGKILL).
    fn kill(&mut self, n: usize) {
        if let Some(mut a) = self.agents[n].take() {
            let _ = a.child.kill();
            let _ = a.child.wait();
        }
    }

    /// Stops the agents still running; each must exit 0.
    fn stop(mut self) {
        for a in self.agents.iter_mut() {
            if let Some(a) = a.take() {
                let (code, log) = a.stop();
                assert_eq!(code, 0, "{log}");
            }
        }
    }
}

/// How many times the portal saved each NIK.
fn saved(portal: &PortalHandle) -> BTreeMap<String, usize> {
    let mut saved: BTreeMap<String, usize> = BTreeMap::new();
    for r in portal.records() {
        *saved.entry(r.nik).or_default() += 1;
    }
    saved
}

/// Every NIK of `expected` saved exactly once, and nothing else.
fn saved_once(portal: &PortalHandle, expected: usize) {
    let saved = saved(portal);
    assert_eq!(saved.len(), expected, "{saved:?}");
    assert!(saved.values().all(|n| *n == 1), "saved twice: {saved:?}");
}

/// A portal that stores duplicates (so a second save shows) and whose NIK check
/// takes `ms`.
fn portal_with_nik_check(ms: u64) -> PortalHandle {
    PortalHandle::start_with(juru::demo::PortalOptions {
        allow_duplicates: true,
        nik_check_ms: (ms, ms),
        ..juru::demo::PortalOptions::default()
    })
}

#[test]
fn three_agents_share_a_run_and_a_killed_agent_loses_no_row_and_doubles_none() {
    let _serial = one_at_a_time();
    let portal = forgiving_portal();
    // Browsers from one Selenium Grid (a slot more than the run needs: the killed
    // agent's session stays open on the Grid until the Grid times it out).
    let grid = crate::grid::Grid::standalone_with(
        4,
        &["--override-max-sessions", "true", "--max-sessions", "4"],
    );
    let names = ["kanwil-a", "kanwil-b", "kanwil-c"];
    let mut fleet = Fleet::start("fleet_run", &names, |url, n| {
        member(&portal, url, n, Some(&grid.url))
    });
    let run = fleet.trigger();
    assert_eq!(run.total, ROWS as i64);

    // Work spreads over the agents; then kill an agent that does not own the run
    // right after one of its items was marked submitted (the save is under way or
    // done, not yet recorded).
    let owner = fleet.agent_of(run.pid);
    let (victim, victim_row) = fleet.wait("a submitted item of a helping agent", 180, || {
        let items = fleet.store.items(&run.id).ok()?;
        items.iter().find_map(|i| {
            let n = names.iter().position(|n| Some(*n) == i.agent.as_deref())?;
            (n != owner && i.state == "in_progress" && i.submitted).then_some((n, i.row_number))
        })
    });
    fleet.kill(victim);

    let done = fleet.ended(&run);
    assert_eq!(done.state, "finished", "{done:?}");
    assert_eq!(
        (
            done.done,
            done.pending,
            done.system,
            done.needs_verification
        ),
        (ROWS as i64, 0, 0, 0),
        "{done:?}"
    );

    // Every row is in the portal exactly once.
    let expected: BTreeSet<String> = (1..=ROWS).map(nik).collect();
    assert_eq!(
        saved(&portal).keys().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    saved_once(&portal, ROWS as usize);

    // The killed agent's item was finished by another agent, after a look-up.
    let items = fleet.store.items(&run.id).unwrap();
    let taken = items.iter().find(|i| i.row_number == victim_row).unwrap();
    assert_ne!(taken.agent.as_deref(), Some(names[victim]), "{taken:?}");
    assert_eq!(taken.state, "done");
    let workers: BTreeSet<&str> = items.iter().filter_map(|i| i.agent.as_deref()).collect();
    assert!(workers.len() >= 2, "one agent did everything: {workers:?}");

    // One output workbook and one set of mail, from the run's owner.
    let folder = fleet
        .projects
        .iter()
        .position(|p| Path::new(&run.dir).starts_with(p.path("var")))
        .expect("the run folder is in one agent's data folder");
    assert_eq!(folder, owner);
    assert_eq!(fleet.outputs(), 1);
    let mails: Vec<usize> = fleet
        .projects
        .iter()
        .map(|p| files_ending(&p.path("var/outbox"), ".eml").len())
        .collect();
    assert!(mails[owner] >= 1, "{mails:?}");
    assert_eq!(mails.iter().sum::<usize>(), mails[owner], "{mails:?}");
    fleet.stop();
}

#[test]
fn a_run_whose_owner_died_is_taken_over_and_ended_once() {
    let _serial = one_at_a_time();
    let portal = forgiving_portal();
    let names = ["kanwil-a", "kanwil-b"];
    let mut fleet = Fleet::start("fleet_takeover", &names, |url, n| {
        member(&portal, url, n, None)
    });
    let run = fleet.trigger();
    // Kill the run's owner right after one of its items was marked submitted.
    let owner = fleet.agent_of(run.pid);
    let row = fleet.wait("a submitted item of the owner", 180, || {
        let items = fleet.store.items(&run.id).ok()?;
        items.iter().find_map(|i| {
            (i.agent.as_deref() == Some(names[owner]) && i.state == "in_progress" && i.submitted)
                .then_some(i.row_number)
        })
    });
    fleet.kill(owner);
    let done = fleet.ended(&run);
    assert_eq!(done.state, "finished", "{done:?}");
    assert_eq!((done.done, done.pending), (ROWS as i64, 0), "{done:?}");
    saved_once(&portal, ROWS as usize);
    let items = fleet.store.items(&run.id).unwrap();
    let item = items.iter().find(|i| i.row_number == row).unwrap();
    assert_eq!(item.state, "done");
    assert_ne!(item.agent.as_deref(), Some(names[owner]), "{item:?}");
    // The outputs and the mail, once, by the agent that took the run over.
    assert_eq!(fleet.outputs(), 1);
    let survivor = 1 - owner;
    assert!(!files_ending(&fleet.projects[survivor].path("var/outbox"), ".eml").is_empty());
    assert!(files_ending(&fleet.projects[owner].path("var/outbox"), ".eml").is_empty());
    fleet.stop();
}

#[test]
fn an_agent_frozen_past_its_lease_sends_nothing_more_once_it_wakes() {
    const ROWS: u32 = 8;
    let _serial = one_at_a_time();
    // A slow NIK check: the save button waits for it, so an agent frozen right
    // after `item.submitted()` is frozen before its click.
    let portal = portal_with_nik_check(3000);
    let names = ["kanwil-a", "kanwil-b"];
    let fleet = Fleet::start("fleet_frozen", &names, |url, n| {
        member_with(&portal, url, n, None, ROWS, 2)
    });
    let run = fleet.trigger();
    let helper = 1 - fleet.agent_of(run.pid);
    let helper_pid = fleet.agents[helper].as_ref().unwrap().child.id() as i32;

    // Freeze the helper right after it marked an item submitted, while its click
    // on "Simpan" waits for the NIK check. Should the save have gone out already
    // (a slow machine), wake it and wait for its next item.
    let (row, frozen_nik) = loop {
        let (row, nik) = fleet.wait("a submitted item of the helping agent", 180, || {
            let items = fleet.store.items(&run.id).ok()?;
            items.iter().find_map(|i| {
                (i.agent.as_deref() == Some(names[helper])
                    && i.state == "in_progress"
                    && i.submitted)
                    .then(|| (i.row_number, nik(i.row_number as u32 - 1)))
            })
        });
        // SAFETY: signals our own child.
        unsafe { libc::kill(helper_pid, libc::SIGSTOP) };
        if portal.records().iter().all(|r| r.nik != nik) {
            break (row, nik);
        }
        unsafe { libc::kill(helper_pid, libc::SIGCONT) };
        fleet.wait("that item to end", 60, || {
            let items = fleet.store.items(&run.id).ok()?;
            let i = items.iter().find(|i| i.row_number == row)?;
            (i.state != "in_progress").then_some(())
        });
    };

    // Its lease runs out; the owner takes the item over, looks it up (not there)
    // and saves it.
    let taken = fleet.wait("the owner to finish the frozen item", 180, || {
        let items = fleet.store.items(&run.id).ok()?;
        let i = items.iter().find(|i| i.row_number == row)?;
        (i.state == "done").then(|| i.clone())
    });
    assert_eq!(taken.agent.as_deref(), Some(names[1 - helper]), "{taken:?}");
    assert_eq!(saved(&portal).get(&frozen_nik), Some(&1));

    // The helper wakes up: its click is withheld, it lets go of the run.
    unsafe { libc::kill(helper_pid, libc::SIGCONT) };
    let woken = fleet.agents[helper].as_ref().unwrap();
    fleet.wait("the woken agent to leave the run", 120, || {
        woken
            .log()
            .contains("this agent stops working on the run")
            .then_some(())
    });
    let done = fleet.ended(&run);
    assert_eq!(done.state, "finished", "{done:?}");
    assert_eq!((done.done, done.pending), (ROWS as i64, 0), "{done:?}");
    // Give a late click every chance to arrive: the woken agent's browser is
    // still open on the form until its part ended.
    fleet.wait("the woken agent's part to end", 120, || {
        woken
            .log()
            .contains("this agent left the run to the fleet")
            .then_some(())
    });
    saved_once(&portal, ROWS as usize);
    assert_eq!(fleet.outputs(), 1);
    fleet.stop();
}

#[test]
fn the_owner_starts_the_browsers_the_other_agents_leave_unused() {
    const ROWS: u32 = 16;
    let _serial = one_at_a_time();
    let portal = portal_with_nik_check(700);
    // Two live agents, but only the first has the bot: the run's owner starts half
    // of `workers = 2`, and nobody takes up the other half.
    let names = ["kanwil-a", "kanwil-b"];
    let fleet = Fleet::start("fleet_grow", &names, |url, n| {
        let p = member_with(&portal, url, n, None, ROWS, 2);
        if n == names[1] {
            std::fs::remove_dir_all(p.path("bots/demo-perizinan")).unwrap();
        }
        p
    });
    // The agent without the bot leaves the request to the one that has it.
    let run = fleet.trigger();
    let done = fleet.ended(&run);
    assert_eq!(done.state, "finished", "{done:?}");
    assert_eq!((done.done, done.pending), (ROWS as i64, 0), "{done:?}");
    let items = fleet.store.items(&run.id).unwrap();
    assert!(
        items.iter().all(|i| i.agent.as_deref() == Some(names[0])),
        "{items:?}"
    );
    let log = fleet.agents[0].as_ref().unwrap().log();
    assert!(
        items.iter().any(|i| i.worker == Some(2)),
        "the owner never started a second worker:\n{log}"
    );
    assert!(log.contains("this agent starts another worker"), "{log}");
    saved_once(&portal, ROWS as usize);
    fleet.stop();
}

/// A bot's `[run] max_browsers` holds across its runs and processes: two `juru run`
/// processes on one store work two runs of the bot (over two workbooks, with
/// `parallel_runs`) with `workers = 2` each, and never more than two items of the
/// bot are in browsers at once.
#[test]
fn a_bots_max_browsers_holds_across_two_runs_in_two_processes() {
    const ROWS: u32 = 6;
    let _serial = one_at_a_time();
    let cluster = juru::store::throwaway::Cluster::shared().unwrap_or_else(|e| panic!("{e}"));
    let location = cluster.fresh_database("fleet_bot_max").unwrap();
    let Location::Postgres { url, .. } = &location else {
        unreachable!()
    };
    let portal = portal_with_nik_check(400);
    let mut p = member_with(&portal, url, "kanwil-a", None, ROWS, 2);
    let manifest = std::fs::read_to_string(p.path("bots/demo-perizinan/bot.toml")).unwrap();
    p.write(
        "bots/demo-perizinan/bot.toml",
        &manifest.replace("[run]\n", "[run]\nparallel_runs = true\nmax_browsers = 2\n"),
    );
    permohonan(&p.path("bots/demo-perizinan/input/kedua.xlsx"), 101, ROWS);
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
    let mut first = p.spawn_logged(&["run", "demo-perizinan"], "run-1.log");
    let mut second = p.spawn_logged(
        &[
            "run",
            "demo-perizinan",
            "--input",
            "bots/demo-perizinan/input/kedua.xlsx",
        ],
        "run-2.log",
    );
    for (child, log) in [(&mut first, "run-1.log"), (&mut second, "run-2.log")] {
        let status = child.wait().unwrap();
        let text = std::fs::read_to_string(p.path(log)).unwrap_or_default();
        assert!(status.success(), "{log}:\n{text}");
    }
    let store = Store::open(location.clone()).unwrap();
    let runs = store.runs(Some("demo-perizinan"), 10).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let mut items = Vec::new();
    for run in &runs {
        assert_eq!(
            (run.state.as_str(), run.done),
            ("finished", ROWS as i64),
            "{run:?}"
        );
        items.extend(store.items(&run.id).unwrap());
    }
    // The runs went on at the same time...
    let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    let (starts, ends): (Vec<_>, Vec<_>) = runs
        .iter()
        .map(|r| (at(&r.started_at), at(r.finished_at.as_deref().unwrap())))
        .unzip();
    assert!(starts[0] < ends[1] && starts[1] < ends[0], "{runs:?}");
    // ...and never had more than two items in browsers together.
    let most = crate::support::most_at_once(&items);
    assert!(
        most <= 2,
        "{most} items of the bot were in browsers at once"
    );
    saved_once(&portal, 2 * ROWS as usize);
}
