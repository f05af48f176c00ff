//! A fleet on one PostgreSQL store (a throwaway cluster of the test process):
//! `juru store migrate` and `juru store copy`, two agents that may not share a
//! name, and a seconds schedule that fires once per tick across two agents.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use juru::store::throwaway::Cluster;
use juru::store::{Location, Store};

use crate::agent::{wait_for, Agent};
use crate::support::{lab_bot, Project};

/// A fresh database of the test cluster and its address.
fn database(prefix: &str) -> (Location, String) {
    let cluster = Cluster::shared().unwrap_or_else(|e| panic!("the test cluster: {e}"));
    let location = cluster
        .fresh_database(prefix)
        .unwrap_or_else(|e| panic!("a test database: {e}"));
    let url = match &location {
        Location::Postgres { url, .. } => url.clone(),
        Location::File(_) => unreachable!("fresh_database gives a PostgreSQL database"),
    };
    (location, url)
}

/// A project whose store is the PostgreSQL database `url`, under agent `name`.
fn pg_project(url: &str, name: Option<&str>) -> Project {
    let p = Project::new();
    let agent = name.map_or(String::new(), |n| format!("[agent]\nname = \"{n}\"\n"));
    p.write(
        "config/agent.toml",
        &format!("[browser]\nheadless = true\n[store]\nurl = \"{url}\"\n{agent}"),
    );
    p
}

fn json(run: &crate::support::Run) -> serde_json::Value {
    serde_json::from_str(run.stdout().trim()).unwrap_or_else(|e| panic!("{e}: {run}"))
}

/// A SQLite store of schema 2 (runs with their owner, and items), as juru wrote
/// it before fires and agents were in the store: one finished run of one item.
fn schema_2_store(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, bot TEXT NOT NULL, trigger TEXT NOT NULL,
            input TEXT NOT NULL, dir TEXT NOT NULL, state TEXT NOT NULL, started_at TEXT NOT NULL,
            finished_at TEXT, error TEXT, headers TEXT NOT NULL DEFAULT '[]',
            vars TEXT NOT NULL DEFAULT '{}', parent TEXT, pid INTEGER, owner TEXT);
         CREATE TABLE items (run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL,
            row_number INTEGER NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL,
            outputs TEXT NOT NULL DEFAULT '{}', reason TEXT, kind TEXT, screenshot TEXT,
            page_url TEXT, page_title TEXT, log TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            worker INTEGER, submitted INTEGER NOT NULL DEFAULT 0, commands INTEGER NOT NULL DEFAULT 0,
            started_at TEXT, finished_at TEXT, PRIMARY KEY (run_id, idx));
         INSERT INTO runs (id, bot, trigger, input, dir, state, started_at, finished_at)
            VALUES ('20261101-080000-lama', 'lama', 'cli', 'masuk.xlsx', 'runs/20261101-080000-lama',
                    'finished', '2026-11-01T01:00:00+00:00', '2026-11-01T01:01:00+00:00');
         INSERT INTO items (run_id, idx, row_number, state, data, attempts)
            VALUES ('20261101-080000-lama', 0, 2, 'done', '{\"No\":1}', 1);
         PRAGMA user_version = 2;",
    )
    .unwrap();
}

#[test]
fn store_migrate_on_an_empty_postgres_database_and_an_old_sqlite_file() {
    // PostgreSQL: every step, then nothing.
    let (_, url) = database("migrate");
    let p = pg_project(&url, None);
    let first = p.juru(&["store", "migrate"]);
    assert_eq!(first.code(), 0, "{first}");
    let out = first.stdout();
    assert!(
        out.contains(&format!("store {url}: empty (schema 0)")),
        "{first}"
    );
    for step in [
        "applied step 1: runs and items",
        "applied step 2: the owner of a run",
        "applied step 3: schedule fires",
    ] {
        assert!(out.contains(step), "{step}: {first}");
    }
    assert!(out.contains("now at schema 3"), "{first}");
    let again = p.juru(&["store", "migrate"]);
    assert_eq!(again.code(), 0, "{again}");
    assert!(
        again.stdout().contains("schema 3")
            && again
                .stdout()
                .contains("already at schema 3: nothing to do"),
        "{again}"
    );
    let j = json(&p.juru(&["store", "migrate", "--json"]));
    assert_eq!(j["found"], 3);
    assert_eq!(j["schema"], 3);
    assert_eq!(j["applied"], serde_json::json!([]));
    // The migrated database is a working store.
    let store = Store::open(Location::Postgres {
        url: url.clone(),
        password: None,
    })
    .unwrap();
    assert_eq!(store.schema_version().unwrap(), 3);
    assert!(store.runs(None, 10).unwrap().is_empty());

    // SQLite of schema 2: only step 3; the old run is kept.
    let q = Project::new();
    schema_2_store(&q.path("var/juru.db"));
    let run = q.juru(&["store", "migrate", "--json"]);
    assert_eq!(run.code(), 0, "{run}");
    let j = json(&run);
    assert_eq!(j["found"], 2, "{run}");
    assert_eq!(j["schema"], 3, "{run}");
    assert_eq!(j["applied"].as_array().map(Vec::len), Some(1), "{run}");
    assert_eq!(j["applied"][0]["version"], 3, "{run}");
    let again = q.juru(&["store", "migrate"]);
    assert_eq!(again.code(), 0, "{again}");
    assert!(
        again
            .stdout()
            .contains("already at schema 3: nothing to do"),
        "{again}"
    );
    let store = Store::open(q.path("var/juru.db")).unwrap();
    let runs = store.runs(None, 10).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].id, "20261101-080000-lama");
    assert_eq!(runs[0].done, 1);
    drop(store);

    // A store written by a newer juru is refused, and left as it is.
    let conn = rusqlite::Connection::open(q.path("var/juru.db")).unwrap();
    conn.execute("UPDATE schema_version SET version = 9", [])
        .unwrap();
    drop(conn);
    let newer = q.juru(&["store", "migrate"]);
    assert_eq!(newer.code(), 1, "{newer}");
    assert!(
        newer
            .stderr()
            .contains("was written by a newer juru (schema 9; this juru knows schema 3)"),
        "{newer}"
    );

    // A store address that is not PostgreSQL's is a configuration error.
    let bad = Project::new();
    bad.write(
        "config/agent.toml",
        "[store]\nurl = \"mysql://juru@db/juru\"\n",
    );
    let run = bad.juru(&["store", "migrate"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr()
            .contains("store.url: expected a PostgreSQL address"),
        "{run}"
    );
    bad.assert_nothing_written();
}

/// A lab bot that needs no browser: each item outputs twice its number, and row 3
/// is a business exception.
fn no_browser_lab(p: &Project, rows: u32) {
    lab_bot(
        p,
        r##"fn process(item) {
    if item["No"] == 3 { fail_business("nomor 3 ditolak"); }
    item.output("Dua", `${item["No"] * 2}`);
}"##,
        "",
        rows,
    );
}

#[test]
fn store_copy_moves_a_sqlite_history_into_postgres_once_and_merges_two_machines() {
    let (_, url) = database("copy");
    let a = Project::new();
    no_browser_lab(&a, 4);
    let run = a.juru(&["run", "lab", "--json"]);
    assert_eq!(run.code(), 0, "{run}");
    let id = json(&run)["run"].as_str().unwrap().to_string();

    let copy = a.juru(&["store", "copy", "--to", &url]);
    assert_eq!(copy.code(), 0, "{copy}");
    let out = copy.stdout();
    assert!(out.contains(&format!("into {url}")), "{copy}");
    let row = |table: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
    };
    assert_eq!(row("runs").as_deref(), Some("1 1"), "{copy}");
    assert_eq!(row("items").as_deref(), Some("4 4"), "{copy}");

    // The PostgreSQL store shows the same run and items as the SQLite one.
    let pg = pg_project(&url, None);
    let here = json(&a.juru(&["runs", "show", &id, "--json"]));
    let there = pg.juru(&["runs", "show", &id, "--json"]);
    assert_eq!(there.code(), 0, "{there}");
    let there = json(&there);
    assert_eq!(there, here);
    assert_eq!(there["run"], serde_json::json!(id));
    assert_eq!(there["state"], "finished");
    assert_eq!(there["done"], 3, "{there}");
    assert_eq!(there["business_exceptions"], 1, "{there}");
    let items = there["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[3]["outputs"],
        serde_json::json!([["Dua", "8"]]),
        "{there}"
    );
    assert_eq!(items[2]["reason"], "nomor 3 ditolak", "{there}");
    let listed = pg.juru(&["runs", "list"]);
    assert_eq!(listed.code(), 0, "{listed}");
    assert!(listed.stdout().contains(&id), "{listed}");

    // Again: nothing new.
    let twice = a.juru(&["store", "copy", "--to", &url, "--json"]);
    assert_eq!(twice.code(), 0, "{twice}");
    let j = json(&twice);
    assert_eq!(j["added"], 0, "{twice}");
    assert!(j["read"].as_u64().unwrap() >= 5, "{twice}");

    // A second machine's store merges into the same database.
    let b = Project::new();
    no_browser_lab(&b, 2);
    let run = b.juru(&["run", "lab", "--json"]);
    assert_eq!(run.code(), 0, "{run}");
    let id_b = json(&run)["run"].as_str().unwrap().to_string();
    let copy = b.juru(&["store", "copy", "--to", &url, "--json"]);
    assert_eq!(copy.code(), 0, "{copy}");
    let j = json(&copy);
    let runs_row = j["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "runs")
        .cloned()
        .unwrap();
    // Run ids are the start time and the bot: runs of one second are one row.
    assert_eq!(runs_row["added"], if id == id_b { 0 } else { 1 }, "{copy}");
    let store = Store::open(Location::Postgres {
        url: url.clone(),
        password: None,
    })
    .unwrap();
    let ids: BTreeSet<String> = store
        .runs(None, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .filter(|r| *r == id || *r == id_b)
        .collect();
    if id == id_b {
        // Both runs started in the same second: one id, the first copy's row stays.
        assert_eq!(ids.len(), 1, "{ids:?}");
    } else {
        assert_eq!(ids, BTreeSet::from([id.clone(), id_b.clone()]));
    }

    // A run on the PostgreSQL store itself goes into the same history.
    no_browser_lab(&pg, 2);
    let run = pg.juru(&["run", "lab", "--json"]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(json(&run)["done"], 2, "{run}");
    let id_pg = json(&run)["run"].as_str().unwrap().to_string();
    let listed = pg.juru(&["runs", "list"]);
    assert_eq!(listed.code(), 0, "{listed}");
    assert!(
        listed.stdout().contains(&id) && listed.stdout().contains(&id_pg),
        "{listed}"
    );

    // Usage errors: a target that is the store itself, an unknown secret.
    let own = a.juru(&["store", "copy", "--to", "var/juru.db"]);
    assert_eq!(own.code(), 2, "{own}");
    assert!(
        own.stderr().contains("is the configured store itself"),
        "{own}"
    );
    let secret = a.juru(&[
        "store",
        "copy",
        "--to",
        &url,
        "--password-secret",
        "pg_pass",
    ]);
    assert_eq!(secret.code(), 2, "{secret}");
    assert!(
        secret.stderr().contains(
            "there is no secret \"pg_pass\": set the environment variable JURU_SECRET_PG_PASS"
        ),
        "{secret}"
    );
    let bad = a.juru(&[
        "store",
        "copy",
        "--to",
        "postgres://juru@127.0.0.1:notaport/x",
    ]);
    assert_eq!(bad.code(), 2, "{bad}");
    assert!(
        bad.stderr().contains("--to: not a PostgreSQL address"),
        "{bad}"
    );
}

/// Starts `juru agent` in project `p`, log `agent-n.log`.
fn agent(p: &Project, n: usize) -> Agent {
    Agent::start(p, n)
}

/// Waits until `agent` exits; its exit code.
fn exited(agent: &mut Agent, secs: u64) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = agent.child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not exit:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The live agents of the store, by name, with their pids.
fn alive(store: &Store) -> BTreeMap<String, i64> {
    store
        .agents()
        .unwrap()
        .into_iter()
        .filter(|a| a.alive)
        .map(|a| (a.name, a.pid))
        .collect()
}

#[test]
fn two_agents_with_one_name_refuse_and_a_name_is_free_again_after_its_agent_died() {
    let (location, url) = database("names");
    let one = pg_project(&url, Some("kanwil-1"));
    let two = pg_project(&url, Some("kanwil-1"));
    let store = Store::open(location).unwrap();

    let mut first = agent(&one, 1);
    let pid = first.child.id() as i64;
    wait_for("kanwil-1 to be alive", 120, &first, || {
        (alive(&store).get("kanwil-1") == Some(&pid)).then_some(())
    });

    // The same name from another data folder: refused, naming the first one.
    let mut second = agent(&two, 1);
    let code = exited(&mut second, 120);
    assert_ne!(code, 0, "{}", second.log());
    let host = juru::store::fleet::host_name();
    assert!(
        second.log().contains(&format!(
            "an agent named kanwil-1 already runs (process {pid} on {host})"
        )),
        "{}",
        second.log()
    );
    assert_eq!(alive(&store).get("kanwil-1"), Some(&pid));

    // Another name: both run, and `juru agents` lists them.
    two.write(
        "config/agent.toml",
        &format!(
            "[browser]\nheadless = true\n[store]\nurl = \"{url}\"\n[agent]\nname = \"kanwil-2\"\n"
        ),
    );
    let other = agent(&two, 2);
    let other_pid = other.child.id() as i64;
    wait_for("kanwil-2 to be alive", 120, &other, || {
        (alive(&store).get("kanwil-2") == Some(&other_pid)).then_some(())
    });
    assert!(first.child.try_wait().unwrap().is_none(), "{}", first.log());
    let listed = two.juru(&["agents", "--json"]);
    assert_eq!(listed.code(), 0, "{listed}");
    let j = json(&listed);
    let names: Vec<(&str, bool)> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["alive"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("kanwil-1", true), ("kanwil-2", true)], "{listed}");
    let table = two.juru(&["agents"]);
    assert!(
        table.stdout().lines().any(|l| l.starts_with("kanwil-1")
            && l.contains(&pid.to_string())
            && l.contains("yes")),
        "{table}"
    );

    // kill -9: the name is free once its holder is known dead (here by its process,
    // on another machine when its lease ran out); a new agent under it then starts.
    first.signal(libc::SIGKILL);
    exited(&mut first, 30);
    let deadline = Instant::now() + juru::store::fleet::LEASE + Duration::from_secs(90);
    let (mut again, tries) = {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut next = agent(&one, 10 + tries);
            let next_pid = next.child.id() as i64;
            let started = || alive(&store).get("kanwil-1") == Some(&next_pid);
            let outcome = loop {
                if started() {
                    break true;
                }
                if next.child.try_wait().unwrap().is_some() {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(200));
            };
            if outcome {
                break (next, tries);
            }
            assert!(
                next.log().contains("an agent named kanwil-1 already runs"),
                "{}",
                next.log()
            );
            assert!(
                Instant::now() < deadline,
                "kanwil-1 never became free: {}",
                next.log()
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    };
    assert!(tries >= 1);
    assert!(again.child.try_wait().unwrap().is_none(), "{}", again.log());
    let (code, log) = other.stop();
    assert_eq!(code, 0, "{log}");
    again.signal(libc::SIGTERM);
    assert_eq!(exited(&mut again, 60), 0, "{}", again.log());
    // A clean stop gives the name up at once.
    assert!(alive(&store).is_empty(), "{:?}", store.agents());
}

#[test]
fn a_seconds_schedule_fires_once_per_tick_across_two_agents() {
    const FIRES: usize = 20;
    let (location, url) = database("fires");
    let projects: Vec<Project> = ["kanwil-1", "kanwil-2"]
        .iter()
        .map(|name| {
            let p = pg_project(&url, Some(name));
            p.write(
                "bots/tik/bot.toml",
                "name = \"tik\"\n[input]\nworkbook = \"masuk.xlsx\"\n",
            );
            p.write(
                "bots/tik/main.rhai",
                "fn process(item) { log(`tik ${item[\"No\"]}`); }\n",
            );
            let mut wb = rust_xlsxwriter::Workbook::new();
            let ws = wb.add_worksheet();
            ws.write_string(0, 0, "No").unwrap();
            ws.write_number(1, 0, 1.0).unwrap();
            ws.write_number(2, 0, 2.0).unwrap();
            wb.save(p.path("bots/tik/masuk.xlsx")).unwrap();
            p.write(
                "config/schedules.toml",
                "[tik]\nbot = \"tik\"\ncron = \"*/3 * * * * *\"\ntime_zone = \"UTC\"\n",
            );
            p
        })
        .collect();
    let store = Store::open(location).unwrap();
    let agents: Vec<Agent> = projects.iter().map(|p| agent(p, 1)).collect();
    for (a, name) in agents.iter().zip(["kanwil-1", "kanwil-2"]) {
        wait_for(&format!("{name} to be alive"), 120, a, || {
            alive(&store).contains_key(name).then_some(())
        });
    }
    // The first FIRES ticks that both agents watched, each ended.
    let both_since = chrono::Utc::now();
    let ended = |f: &juru::store::fires::FireRecord| {
        ["done", "failed", "skipped"].contains(&f.state.as_str())
    };
    let fires = wait_for(
        "the fires to end",
        60 + 6 * FIRES as u64,
        &agents[0],
        || {
            let mut fires: Vec<_> = store
                .fires(Some("tik"), 10_000)
                .unwrap()
                .into_iter()
                .filter(|f| {
                    chrono::DateTime::parse_from_rfc3339(&f.scheduled_for)
                        .is_ok_and(|t| t > both_since)
                })
                .collect();
            fires.sort_by(|a, b| a.scheduled_for.cmp(&b.scheduled_for));
            fires.truncate(FIRES);
            (fires.len() == FIRES && fires.iter().all(ended)).then_some(fires)
        },
    );
    let logs: Vec<String> = agents
        .into_iter()
        .map(|a| {
            let (code, log) = a.stop();
            assert_eq!(code, 0, "{log}");
            log
        })
        .collect();
    let context = format!("{fires:#?}\n{}", logs.join("\n-----\n"));

    // Each tick once (3 s apart), claimed by one of the two agents.
    let keys: BTreeSet<&str> = fires.iter().map(|f| f.scheduled_for.as_str()).collect();
    assert_eq!(keys.len(), FIRES, "{context}");
    for pair in fires.windows(2) {
        let t = |f: &juru::store::fires::FireRecord| {
            chrono::DateTime::parse_from_rfc3339(&f.scheduled_for).unwrap()
        };
        assert_eq!((t(&pair[1]) - t(&pair[0])).num_seconds(), 3, "{context}");
    }
    for f in &fires {
        assert!(
            matches!(f.agent.as_deref(), Some("kanwil-1" | "kanwil-2")),
            "{context}"
        );
    }
    // Every fire that ran has a run of its own, whose items were each done once.
    let runs = store.runs(Some("tik"), 10_000).unwrap();
    let ran: Vec<_> = fires.iter().filter(|f| f.state != "skipped").collect();
    assert!(ran.len() >= FIRES / 2, "most ticks ran: {context}");
    let mut seen = BTreeSet::new();
    for f in &ran {
        assert_eq!(f.state, "done", "{context}");
        let id = f.run_id.as_deref().unwrap_or_else(|| panic!("{context}"));
        assert!(seen.insert(id), "run {id} of two fires: {context}");
        let run = runs
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("run {id}: {context}"));
        assert_eq!(run.trigger, "schedule:tik");
        assert_eq!(run.state, "finished", "{run:?}");
        let items = store.items(id).unwrap();
        assert_eq!(items.len(), 2, "{items:?}");
        for i in &items {
            assert_eq!(i.state, "done", "{items:?}");
            assert_eq!(i.attempts, 1, "{items:?}");
        }
    }
    // A skipped tick (the previous run still went on) has no run.
    for f in fires.iter().filter(|f| f.state == "skipped") {
        assert_eq!(f.run_id, None, "{context}");
    }
    // No run of the schedule outside the fires that claimed it.
    let in_window: Vec<_> = runs
        .iter()
        .filter(|r| {
            fires
                .iter()
                .any(|f| f.run_id.as_deref() == Some(r.id.as_str()))
        })
        .collect();
    assert_eq!(in_window.len(), ran.len(), "{context}");
    let by_agent: BTreeMap<&str, usize> = fires.iter().fold(BTreeMap::new(), |mut m, f| {
        *m.entry(f.agent.as_deref().unwrap_or("?")).or_default() += 1;
        m
    });
    eprintln!("fires by agent: {by_agent:?}");
}

#[test]
fn a_name_held_on_another_machine_is_free_once_its_lease_ran_out() {
    let (location, url) = database("lease");
    let p = pg_project(&url, Some("kanwil-1"));
    // Migrated by opening; then an agent of another machine (another boot id)
    // holds kanwil-1 with a lease of LEASE from now, and dies at once.
    drop(Store::open(location).unwrap());
    let lease = juru::store::fleet::LEASE.as_secs() as i64;
    let until = chrono::Utc::now().timestamp() + lease;
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    db.execute(
        "INSERT INTO agents (name, owner, host, pid, started_at, heartbeat_at, until)
         VALUES ('kanwil-1', 'another-boot:12345', 'kanwil-srv9', 777, $1, $1, $2)",
        &[&chrono::Utc::now().to_rfc3339(), &until],
    )
    .unwrap();

    // While the lease holds, kanwil-1 is taken; after it ran out, an agent starts.
    let deadline = Instant::now() + Duration::from_secs(lease as u64 + 90);
    let mut refused = 0;
    let mut tries = 0;
    let mut agent = loop {
        tries += 1;
        let mut next = Agent::start(&p, tries);
        let outcome = loop {
            if next.log().contains("agent started") {
                break true;
            }
            if next.child.try_wait().unwrap().is_some() {
                break false;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        if outcome {
            break next;
        }
        assert!(
            next.log()
                .contains("an agent named kanwil-1 already runs (process 777 on kanwil-srv9)"),
            "{}",
            next.log()
        );
        refused += 1;
        assert!(
            Instant::now() < deadline,
            "kanwil-1 never became free: {}",
            next.log()
        );
        // The next try after a second (the lease is counted in whole seconds).
        let _ = exited(&mut next, 30);
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(
        refused >= 1,
        "the first start was refused while the lease held"
    );
    assert!(
        chrono::Utc::now().timestamp() >= until,
        "started {} s before the lease ran out",
        until - chrono::Utc::now().timestamp()
    );
    let row = db
        .query_one("SELECT host, pid FROM agents WHERE name = 'kanwil-1'", &[])
        .unwrap();
    assert_eq!(row.get::<_, i64>(1), agent.child.id() as i64);
    assert_eq!(row.get::<_, String>(0), juru::store::fleet::host_name());
    agent.signal(libc::SIGTERM);
    assert_eq!(exited(&mut agent, 60), 0, "{}", agent.log());
}
