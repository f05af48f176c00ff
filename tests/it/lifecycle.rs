//! When the browser starts and what is left when juru stops: chromedriver and Chromium
//! start on the script's first browser use (never for a bot without one), `login()`
//! runs in every session that opens, a stop during the browser start or `login()`
//! starts no item, and nothing of a killed juru (`kill -9`) outlives it: no Chromium,
//! no chromedriver, no browser profile folder.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{lab_bot, run_lab, PortalHandle, Project};

fn login_secrets(p: &mut Project) {
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
}

/// Polls `check` every 100 ms until it gives a value; panics with `what` and the
/// last `describe()` after `secs`.
fn wait_until<T>(
    what: &str,
    secs: u64,
    mut check: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}: {}",
            describe()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `/proc/<pid>/stat`: the state letter and the process group.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// The process has exited (a zombie waiting for its parent counts as exited).
fn exited(pid: i32) -> bool {
    stat(pid).is_none_or(|(state, _)| state == 'Z' || state == 'X')
}

/// Browser profile folders in the project's temp folder.
fn profiles(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.path("tmp"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("juru-chromium-"))
                .collect()
        })
        .unwrap_or_default()
}

fn pids_in(processes: &[String]) -> Vec<i32> {
    processes
        .iter()
        .filter_map(|l| l.split(':').next()?.parse().ok())
        .collect()
}

/// The pid juru recorded for the run's chromedriver.
fn recorded_driver(run_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(run_dir.join("chromedriver.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn store(p: &Project) -> juru::store::Store {
    juru::store::Store::open(p.path("var/juru.db")).unwrap()
}

fn run_id(p: &Project) -> String {
    p.run_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

/// The chromedriver and Chromium of a running juru (found by the project's temp
/// folder on their command lines), checked to be one process group led by the
/// recorded chromedriver, with one guard beside it. Returns the driver's pid.
fn assert_one_browser_group(p: &Project, run_dir: &Path) -> i32 {
    let driver = recorded_driver(run_dir).expect("chromedriver.pid is recorded");
    let all = p.processes();
    let guards: Vec<&String> = all.iter().filter(|l| l.contains("juru-guard")).collect();
    assert_eq!(guards.len(), 1, "one guard: {all:?}");
    let browsers: Vec<String> = all
        .iter()
        .filter(|l| !l.contains("juru-guard"))
        .cloned()
        .collect();
    assert!(
        browsers.iter().any(|l| l.contains("--user-data-dir=")),
        "a Chromium with a profile in the project's tmp/: {all:?}"
    );
    for pid in pids_in(&browsers) {
        if let Some((_, group)) = stat(pid) {
            assert_eq!(
                group, driver,
                "process {pid} is outside chromedriver's process group: {browsers:?}"
            );
        }
    }
    driver
}

/// After juru was killed: nothing of its browser is left, and its profile folders go.
fn assert_all_gone(p: &Project, driver: i32) {
    wait_until(
        "the browser processes of the killed juru to end",
        20,
        || p.processes().is_empty().then_some(()),
        || format!("still running: {:?}", p.processes()),
    );
    wait_until(
        "chromedriver to end",
        20,
        || exited(driver).then_some(()),
        || format!("chromedriver {driver}: {:?}", stat(driver)),
    );
    wait_until(
        "the profile folders to be removed",
        20,
        || profiles(p).is_empty().then_some(()),
        || format!("left: {:?}", profiles(p)),
    );
}

#[test]
fn a_bot_that_never_uses_the_browser_starts_none() {
    let p = Project::new();
    // No chromedriver at that path: it must not matter to this bot.
    p.write(
        "config/agent.toml",
        "[browser]\nchromedriver = \"/nonexistent/chromedriver\"\ndriver_log = true\n",
    );
    lab_bot(
        &p,
        r##"fn init() { log("init ran"); }
fn process(item) {
    item.output("Salinan", `nomor ${item["No"]}`);
    if item["No"] == 2 { fail_business("nomor dua ditolak"); }
}"##,
        "",
        3,
    );
    // Profile folders: one of a juru that is gone, one of a live process (this test).
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let dead = format!("juru-chromium-{}-a1b2c3", gone.id());
    let live = format!("juru-chromium-{}-d4e5f6", std::process::id());
    for name in [&dead, &live] {
        p.write(&format!("tmp/{name}/Default/Preferences"), "{}");
    }

    let run = p.juru(&["run", "lab", "--json"]);
    assert_eq!(run.code(), 0, "{run}");
    let summary: serde_json::Value = serde_json::from_str(run.stdout().trim()).expect("JSON");
    assert_eq!(summary["done"], 2, "{run}");
    assert_eq!(summary["business_exceptions"], 1, "{run}");
    assert_eq!(run.stderr().matches("init ran").count(), 1, "{run}");
    let dir = p.run_dir();
    assert!(
        !dir.join("chromedriver.log").exists(),
        "{:?}",
        p.files("var")
    );
    assert!(
        !dir.join("chromedriver.pid").exists(),
        "{:?}",
        p.files("var")
    );
    assert!(!run.stderr().contains("chromedriver"), "{run}");
    let items = store(&p).items(&run_id(&p)).unwrap();
    assert!(
        items.iter().all(|i| i.outputs.contains("nomor")),
        "{items:?}"
    );
    // A failure without a browser: no screenshot, and no error about it.
    assert_eq!(items[1].state, "business_exception", "{items:?}");
    assert_eq!(items[1].screenshot, None, "{items:?}");
    assert!(dir.join("exceptions.xlsx").is_file());
    // The run start removed the folder of the dead juru, and only that one.
    assert_eq!(profiles(&p), vec![live], "{run}");
}

#[test]
fn the_browser_starts_on_first_use_and_logs_in_once() {
    let portal = PortalHandle::start();
    let mut p = Project::new();
    login_secrets(&mut p);
    p.write("config/agent.toml", "[browser]\ndriver_log = true\n");
    lab_bot(
        &p,
        r##"fn login() {
    log("login runs");
    browser.open(`${vars.portal_url}/login`);
    browser.fill_form(#{ "#user": secret("portal_user"), "#pass": secret("portal_password") });
    browser.click("input[value=Masuk]");
    browser.wait_for_text("Selamat datang");
}
fn process(item) {
    if item["No"] < 3 {
        log(`row ${item["No"]} needs no browser`);
        return;
    }
    browser.open(`${vars.portal_url}/menu`);
    item.output("Sambutan", browser.text("#sambutan"));
}"##,
        "",
        4,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let err = run.stderr();
    let at = |text: &str| err.find(text).unwrap_or_else(|| panic!("{text}: {run}"));
    let (driver, opened) = (at("chromedriver started"), at("the browser opened"));
    assert!(driver < opened, "{run}");
    for row in ["row 1 needs no browser", "row 2 needs no browser"] {
        assert!(
            at(row) < driver,
            "{row} comes before the browser starts: {run}"
        );
    }
    assert_eq!(err.matches("login runs").count(), 1, "{run}");
    assert_eq!(portal.logins(), 1);
    let items = store(&p).items(&run_id(&p)).unwrap();
    for i in &items[2..] {
        assert!(i.outputs.contains("Selamat datang"), "{items:?}");
    }
    // Stopped at the end of the run: the log is there, the pid file and processes not.
    let dir = p.run_dir();
    assert!(dir.join("chromedriver.log").is_file());
    assert!(!dir.join("chromedriver.pid").exists());
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
    assert!(profiles(&p).is_empty(), "{:?}", profiles(&p));
}

#[test]
fn init_gets_a_logged_in_browser_and_runs_once_per_worker() {
    let portal = PortalHandle::start();
    let mut p = Project::new();
    login_secrets(&mut p);
    lab_bot(
        &p,
        r##"fn login() {
    log("login runs");
    browser.open(`${vars.portal_url}/login`);
    browser.fill_form(#{ "#user": secret("portal_user"), "#pass": secret("portal_password") });
    browser.click("input[value=Masuk]");
    browser.wait_for_text("Selamat datang");
}
fn init() {
    browser.open(`${vars.portal_url}/menu`);
    log(`init sees: ${browser.text("#sambutan")}`);
}
fn process(item) {
    item.output("Judul", browser.title());
}"##,
        "",
        3,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let err = run.stderr();
    assert_eq!(err.matches("login runs").count(), 1, "{run}");
    assert_eq!(err.matches("init sees: Selamat datang").count(), 1, "{run}");
    assert_eq!(portal.logins(), 1);
}

#[test]
fn verify_after_a_failed_save_gets_a_fresh_logged_in_browser() {
    let portal = PortalHandle::start();
    let mut p = Project::new();
    login_secrets(&mut p);
    lab_bot(
        &p,
        r##"fn login() {
    browser.open(`${vars.portal_url}/login`);
    browser.fill_form(#{ "#user": secret("portal_user"), "#pass": secret("portal_password") });
    browser.click("input[value=Masuk]");
    browser.wait_for_text("Selamat datang");
}
fn process(item) {
    browser.open(`${vars.portal_url}/lab/dialog`);
    item.submitted();
    browser.click("#tidak-ada");
}
fn verify(item) {
    browser.open(`${vars.portal_url}/menu`);
    item.output("Sambutan", browser.text("#sambutan"));
    true
}"##,
        "[browser]\ntimeout = \"2s\"",
        1,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let items = store(&p).items(&run_id(&p)).unwrap();
    assert_eq!(items[0].state, "done", "{items:?}\n{run}");
    assert!(items[0].outputs.contains("Selamat datang"), "{items:?}");
    assert!(
        run.stderr().contains("restarting the browser session"),
        "{run}"
    );
    // One login in the first session, one in the session verify(item) opened.
    assert_eq!(portal.logins(), 2, "{run}");
}

#[test]
fn a_failing_login_stops_the_run_and_gives_the_item_back() {
    let portal = PortalHandle::start();
    let p = Project::new();
    lab_bot(
        &p,
        r##"fn login() {
    browser.open(`${vars.portal_url}/login`);
    throw "the portal refused the password";
}
fn process(item) {
    browser.open(`${vars.portal_url}/menu`);
    item.output("Judul", browser.title());
}"##,
        "",
        2,
    );
    let run = run_lab(&p, &portal, &[]);
    assert_eq!(run.code(), 1, "{run}");
    assert!(
        // Tried [login] attempts times (3), each in a fresh session.
        run.stdout()
            .contains("the script's login() failed 3 times, the last time:")
            && run.stdout().contains("the portal refused the password"),
        "{run}"
    );
    let id = run_id(&p);
    let store = store(&p);
    assert_eq!(store.run(&id).unwrap().unwrap().state, "failed");
    let items = store.items(&id).unwrap();
    assert!(
        items.iter().all(|i| i.state == "pending" && !i.submitted),
        "{items:?}"
    );
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );
}

/// A juru started in the background, killed if a failing test leaves it running.
struct Spawned(std::process::Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Reads a child's standard error into a shared string, line by line.
fn collect_stderr(child: &mut Spawned) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let stderr = child.0.stderr.take().expect("piped stderr");
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut t = sink.lock().unwrap();
            t.push_str(&line);
            t.push('\n');
        }
    });
    text
}

fn signal(child: &Spawned, sig: i32) {
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.0.id() as i32, sig);
    }
}

/// Waits (bounded) for the child to exit by itself; its exit code and standard output.
fn exit_of(mut child: Spawned, secs: u64, log: &Arc<Mutex<String>>) -> (i32, String) {
    let mut stdout = child.0.stdout.take().expect("piped stdout");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let status = wait_until(
        "juru to exit by itself",
        secs,
        || child.0.try_wait().unwrap(),
        || log.lock().unwrap().clone(),
    );
    (status.code().unwrap_or(-1), out.join().unwrap())
}

#[test]
fn sigterm_during_a_slow_login_starts_no_item() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    login_secrets(&mut p);
    // The demo bot, with a login that takes a few seconds (a slow page first).
    let script = p.path("bots/demo-perizinan/main.rhai");
    let text = std::fs::read_to_string(&script).unwrap().replacen(
        "fn login() {\n",
        "fn login() {\n    log(\"login begins\");\n    browser.open(`${vars.portal_url}/lab/lambat?detik=4`);\n",
        1,
    );
    assert!(text.contains("login begins"));
    std::fs::write(&script, text).unwrap();
    let var = format!("portal_url={}", portal.url());
    let mut child = Spawned(p.spawn(&["run", "demo-perizinan", "--var", &var], true));
    let log = collect_stderr(&mut child);
    wait_until(
        "login() to begin",
        120,
        || log.lock().unwrap().contains("login begins").then_some(()),
        || log.lock().unwrap().clone(),
    );
    signal(&child, libc::SIGTERM);
    let (code, stdout) = exit_of(child, 120, &log);
    let log = log.lock().unwrap().clone();
    assert_eq!(code, 1, "{stdout}\n{log}");
    assert!(stdout.contains(": cancelled"), "{stdout}\n{log}");
    assert!(log.contains("the item is given back"), "{log}");

    let id = run_id(&p);
    let store = store(&p);
    assert_eq!(store.run(&id).unwrap().unwrap().state, "cancelled");
    let items = store.items(&id).unwrap();
    assert!(
        items.iter().all(|i| i.state == "pending" && !i.submitted),
        "{items:?}"
    );
    assert!(portal.records().is_empty(), "{:?}", portal.records());
    assert!(
        p.processes().is_empty(),
        "left running: {:?}",
        p.processes()
    );

    // The run goes on where it stopped, and saves every valid row once.
    let resumed = p.juru(&["runs", "resume", &id]);
    assert_eq!(resumed.code(), 0, "{resumed}");
    assert_eq!(store.run(&id).unwrap().unwrap().state, "finished");
    assert_eq!(portal.records().len(), 20);
}

#[test]
fn a_second_signal_interrupts_a_browser_start() {
    let mut p = Project::new();
    p.env("RUST_LOG", "info");
    // A "chromedriver" that never answers.
    p.write("fake-chromedriver", "#!/bin/sh\nsleep 300\nexit 0\n");
    let fake = p.path("fake-chromedriver");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p.write(
        "config/agent.toml",
        &format!(
            "[browser]\nchromedriver = \"{}\"\nstartup_timeout = \"5m\"\n",
            fake.display()
        ),
    );
    lab_bot(
        &p,
        r##"fn process(item) { log("item begins"); browser.open("about:blank"); }"##,
        "",
        2,
    );
    let mut child = Spawned(p.spawn(&["run", "lab"], true));
    let log = collect_stderr(&mut child);
    wait_until(
        "the fake chromedriver to start",
        60,
        || {
            let started = log.lock().unwrap().contains("item begins");
            (started
                && p.processes()
                    .iter()
                    .any(|l| l.contains("fake-chromedriver")))
            .then_some(())
        },
        || format!("{:?}\n{}", p.processes(), log.lock().unwrap()),
    );
    signal(&child, libc::SIGTERM);
    wait_until(
        "the first signal to be noted",
        30,
        || log.lock().unwrap().contains("stopping:").then_some(()),
        || log.lock().unwrap().clone(),
    );
    let t0 = Instant::now();
    signal(&child, libc::SIGTERM);
    let (code, stdout) = exit_of(child, 60, &log);
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "the abort took {:?}",
        t0.elapsed()
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains(": cancelled"), "{stdout}");
    let items = store(&p).items(&run_id(&p)).unwrap();
    assert!(items.iter().all(|i| i.state == "pending"), "{items:?}");
    wait_until(
        "the fake chromedriver to be stopped",
        20,
        || p.processes().is_empty().then_some(()),
        || format!("{:?}", p.processes()),
    );
}

#[test]
fn kill_9_of_a_run_leaves_no_browser_and_no_profile() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    login_secrets(&mut p);
    let var = format!("portal_url={}", portal.url());
    let mut child = Spawned(p.spawn(&["run", "demo-perizinan", "--var", &var], false));
    wait_until(
        "an item in the portal",
        180,
        || (!portal.records().is_empty()).then_some(()),
        || format!("{:?}", p.processes()),
    );
    let driver = assert_one_browser_group(&p, &p.run_dir());
    assert!(!profiles(&p).is_empty(), "a profile folder while it runs");
    let _ = child.0.kill(); // SIGKILL
    let _ = child.0.wait();
    assert_all_gone(&p, driver);
}

#[test]
fn kill_9_of_the_agent_leaves_no_browser_and_no_profile() {
    let portal = PortalHandle::start();
    let mut p = Project::with_demo_bot();
    login_secrets(&mut p);
    let manifest = p.path("bots/demo-perizinan/bot.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("http://127.0.0.1:8765", &portal.url());
    std::fs::write(&manifest, text).unwrap();
    p.write("config/schedules.toml", "");
    let mut agent = Spawned(p.spawn(&["agent"], false));
    let trigger = wait_until(
        "the agent to take a trigger",
        60,
        || {
            let t = p.juru(&["trigger", "demo-perizinan"]);
            (t.code() == 0).then_some(t)
        },
        || "juru trigger kept failing".into(),
    );
    wait_until(
        "an item in the portal",
        180,
        || (!portal.records().is_empty()).then_some(()),
        || format!("{trigger}\n{:?}", p.processes()),
    );
    let driver = assert_one_browser_group(&p, &p.run_dir());
    let _ = agent.0.kill(); // SIGKILL
    let _ = agent.0.wait();
    assert_all_gone(&p, driver);
}

/// Threads of this process with this name (`/proc/self/task/*/comm`).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| t.ok())
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim_end() == name)
                })
                .count()
        })
        .unwrap_or(0)
}

/// chromedriver is started from a blocking thread (as a worker does); tokio ends
/// such a thread when it idles. PR_SET_PDEATHSIG fires when the forking *thread*
/// ends, so chromedriver must be forked elsewhere or it dies mid-run.
#[test]
fn chromedriver_outlives_the_thread_that_started_it() {
    let name = "juru-it-idle";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .thread_keep_alive(Duration::from_millis(50))
        .enable_all()
        .build()
        .unwrap();
    let settings = juru::browser::Settings::default();
    let started = settings.clone();
    let driver = rt
        .block_on(async move {
            tokio::task::spawn_blocking(move || {
                tokio::runtime::Handle::current()
                    .block_on(juru::browser::Driver::start(&started, None))
            })
            .await
        })
        .unwrap()
        .expect("chromedriver starts");
    // The blocking thread ends once idle; the runtime's worker stays.
    wait_until(
        "the idle blocking thread to end",
        30,
        || (threads_named(name) == 1).then_some(()),
        || format!("{} threads named {name}", threads_named(name)),
    );
    let pid = driver.pid().expect("a local chromedriver") as i32;
    let browser = rt.block_on(juru::browser::Browser::open(driver.url(), &settings, None));
    assert!(
        !exited(pid),
        "chromedriver {pid} died with the thread that started it"
    );
    let browser = browser.expect("a session on the same chromedriver");
    rt.block_on(async {
        browser.close().await;
        driver.stop().await;
    });
    assert!(exited(pid) || stat(pid).is_none());
}
