//! The dashboard shows the fleet: the agents recorded in the store (alive or not,
//! their last heartbeat, their dashboards, the items they hold), the runs going on
//! with the items each agent finished and holds, and the agent of each item on a
//! run's page. Agents of other machines are written into the store the way their
//! heartbeats leave them.

use juru::store::{ItemEnd, NewRun, Store};

use crate::web::{dashboard_project, http, item, login, wait_for, WebServer};

/// The part of `page` from the tag with `id="{id}"` to the end of its row.
fn row<'a>(page: &'a str, id: &str) -> &'a str {
    page.split(&format!("id=\"{id}\""))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("no row {id} in {page}"))
}

#[test]
fn fleet_page_lists_agents_and_who_works_on_the_runs() {
    let p = dashboard_project();
    p.write("config/agent.toml", "[agent]\nname = \"pc-1\"\n");
    // r2 runs now (its owner is this test process): four rows, three taken.
    let mut store = Store::open(p.path("var/juru.db")).unwrap();
    let now = chrono::Utc::now();
    let stamp = now.to_rfc3339();
    store
        .begin_run(
            &NewRun {
                id: "r2",
                bot: "lab",
                trigger: "schedule:lab-pagi",
                input: "masuk.xlsx",
                dir: "var/runs/r2",
                started_at: &stamp,
                headers: "[\"No\"]",
                vars: "{}",
                parent: None,
                only_input: None,
                fire: None,
            },
            &[
                item(2, "[1]"),
                item(3, "[2]"),
                item(4, "[3]"),
                item(5, "[4]"),
            ],
        )
        .unwrap();
    for idx in [0, 1] {
        store
            .item_finished(
                "r2",
                idx,
                &ItemEnd {
                    state: "done",
                    outputs: "{}",
                    finished_at: &stamp,
                    ..Default::default()
                },
            )
            .unwrap();
    }
    drop(store);

    let db = rusqlite::Connection::open(p.path("var/juru.db")).unwrap();
    let unix = now.timestamp();
    let beat = |secs_ago: i64| (now - chrono::Duration::seconds(secs_ago)).to_rfc3339();
    // Owners of other machines: alive while their lease (`until`) holds.
    for (name, host, pid, heartbeat, until, web) in [
        ("pc-1", "pc-1.local", 101, beat(2), unix + 600, None),
        (
            "pc-2",
            "pc-2.local",
            202,
            beat(3),
            unix + 600,
            Some("10.0.0.2:8080"),
        ),
        ("<b>x</b>", "pc-3.local", 303, beat(125), unix - 105, None),
    ] {
        db.execute(
            "INSERT INTO agents (name, owner, host, pid, started_at, heartbeat_at, until, web)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                name,
                format!("other-boot:{pid}"),
                host,
                pid,
                beat(3600),
                heartbeat,
                until,
                web
            ],
        )
        .unwrap();
    }
    // Row 2 finished by <b>x</b>, row 3 by pc-2, row 4 in pc-2's hands, row 5 waits.
    for (idx, state, agent) in [
        (0, "done", "<b>x</b>"),
        (1, "done", "pc-2"),
        (2, "in_progress", "pc-2"),
    ] {
        db.execute(
            "UPDATE items SET state = ?1, agent = ?2 WHERE run_id = 'r2' AND idx = ?3",
            rusqlite::params![state, agent, idx],
        )
        .unwrap();
    }
    drop(db);

    let web = WebServer::start(&p);
    let a = web.addr;
    // Without a login: to the login page.
    let anonymous = http(a, "GET", "/fleet", "", None);
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), Some("/login"));
    let siti = login(a, "siti", "sandi-siti-123").unwrap();

    // Indonesian by default; every role may read it, the menu links it.
    let fleet = siti.get(a, "/fleet");
    assert_eq!(fleet.status, 200);
    let fleet = fleet.text();
    assert!(
        fleet.contains("<a href=\"/fleet\" class=\"on\">Armada</a>"),
        "{fleet}"
    );
    let me = row(&fleet, "agent-pc-1");
    assert!(
        me.contains("pc-1 <span class=\"muted this\">(ini)</span>"),
        "{me}"
    );
    assert!(
        me.contains("pc-1.local") && me.contains("<td>101</td>"),
        "{me}"
    );
    assert!(me.contains("<td class=\"ok\">hidup</td>"), "{me}");
    assert!(me.contains(" dtk lalu)"), "{me}");
    let two = row(&fleet, "agent-pc-2");
    assert!(!two.contains("(ini)"), "{two}");
    assert!(two.contains("<td class=\"ok\">hidup</td>"), "{two}");
    assert!(
        two.contains("<a href=\"http://10.0.0.2:8080\">10.0.0.2:8080</a>"),
        "{two}"
    );
    assert!(two.ends_with("<td>1</td>"), "pc-2 holds one item: {two}");
    // A name is text, never markup; its lease ran out two minutes ago.
    assert!(!fleet.contains("<b>x</b>"), "{fleet}");
    let gone = row(&fleet, "agent-%3Cb%3Ex%3C%2Fb%3E");
    assert!(gone.contains("<td>&lt;b&gt;x&lt;/b&gt;</td>"), "{gone}");
    assert!(
        gone.contains("<td class=\"bad\">tidak hidup</td>"),
        "{gone}"
    );
    // 125 s before the page was asked for (and a slow machine adds seconds).
    assert!(
        gone.contains("(2 mnt ") && gone.contains(" dtk lalu)"),
        "{gone}"
    );
    assert!(gone.ends_with("<td>0</td>"), "{gone}");

    // The run going on: 2 of 4 finished; per agent finished and in progress.
    let run = fleet
        .split("id=\"run-r2\"")
        .nth(1)
        .and_then(|r| r.split("</table>").next())
        .expect("the running run");
    assert!(run.contains("<td rowspan=\"2\">2/4</td>"), "{run}");
    assert!(
        run.contains("<td class=\"agent\">&lt;b&gt;x&lt;/b&gt;</td><td>1</td><td>0</td>"),
        "{run}"
    );
    assert!(
        run.contains("<td class=\"agent\">pc-2</td><td>1</td><td>1</td>"),
        "{run}"
    );
    assert!(
        !fleet.contains("id=\"run-r1\""),
        "a finished run is not listed: {fleet}"
    );

    // The run's page names the agent of each item; a run done here alone does not.
    let page = siti.get(a, "/runs/r2").text();
    assert!(page.contains("<th>Agen</th>"), "{page}");
    assert!(
        page.contains("<td class=\"agent\">&lt;b&gt;x&lt;/b&gt;</td>")
            && page.contains("<td class=\"agent\">pc-2</td>")
            && page.contains("<td class=\"agent\">-</td>"),
        "{page}"
    );
    assert!(!page.contains("<b>x</b>"), "{page}");
    let alone = siti.get(a, "/runs/r1").text();
    assert!(!alone.contains("<th>Agen</th>"), "{alone}");
    // The exceptions page and its export keep working.
    let exc = siti.get(a, "/exceptions");
    assert_eq!(exc.status, 200);
    assert!(exc.text().contains("NIK tidak terdaftar"));
    let export = siti.get(a, "/exceptions.xlsx");
    assert_eq!(export.status, 200);
    assert!(export.body.starts_with(b"PK"));

    // English with the language switch.
    assert_eq!(siti.post(a, "/language", "lang=en").status, 303);
    let fleet = siti.get(a, "/fleet").text();
    assert!(
        fleet.contains("<a href=\"/fleet\" class=\"on\">Fleet</a>"),
        "{fleet}"
    );
    assert!(row(&fleet, "agent-pc-1").contains("(this one)"), "{fleet}");
    let gone = row(&fleet, "agent-%3Cb%3Ex%3C%2Fb%3E");
    assert!(gone.contains("<td class=\"bad\">not alive</td>"), "{gone}");
    assert!(gone.contains(" s ago)"), "{gone}");
    let page = siti.get(a, "/runs/r2").text();
    assert!(page.contains("<th>Agent</th>"), "{page}");
}

#[test]
fn a_store_without_agents_says_so() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let budi = login(web.addr, "budi", "sandi-budi-123").unwrap();
    let fleet = budi.get(web.addr, "/fleet");
    assert_eq!(fleet.status, 200);
    let fleet = fleet.text();
    assert!(
        fleet.contains("<p class=\"muted\" id=\"agents\">Belum ada agen yang tercatat"),
        "{fleet}"
    );
    assert!(
        fleet.contains("<p class=\"muted\" id=\"running\">Tidak ada proses yang berjalan.</p>"),
        "{fleet}"
    );
}

/// `juru agent` on one machine (SQLite): the page shows it, alive, as this agent
/// with its dashboard; after a clean stop the store holds it as not alive.
#[test]
fn a_single_agent_shows_itself() {
    let p = dashboard_project();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    p.write(
        "config/agent.toml",
        &format!(
            "[browser]\nheadless = true\n[agent]\nname = \"kantor-1\"\n[web]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    );
    let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_juru"))
        .arg("agent")
        .current_dir(p.path(""))
        .env("TMPDIR", p.path("tmp"))
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let served = std::panic::catch_unwind(|| {
        wait_for(30, "the agent's dashboard", || {
            std::net::TcpStream::connect(addr).ok()?;
            Some(())
        });
        let siti = login(addr, "siti", "sandi-siti-123").unwrap();
        siti.get(addr, "/fleet").text()
    });
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    let status = agent.wait().unwrap();
    let page = served.unwrap();
    assert_eq!(status.code(), Some(0));
    let me = row(&page, "agent-kantor-1");
    assert!(
        me.contains("kantor-1 <span class=\"muted this\">(ini)</span>"),
        "{me}"
    );
    assert!(me.contains("<td class=\"ok\">hidup</td>"), "{me}");
    assert!(
        me.contains(&format!(
            "<a href=\"http://127.0.0.1:{port}\">127.0.0.1:{port}</a>"
        )),
        "{me}"
    );
    assert_eq!(page.matches("<tr id=\"agent-").count(), 1, "{page}");
    let agents = Store::open(p.path("var/juru.db"))
        .unwrap()
        .agents()
        .unwrap();
    assert_eq!(agents.len(), 1);
    assert!(!agents[0].alive, "stopped: {agents:?}");
}
