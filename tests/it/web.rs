//! The dashboard (`juru web`): every page and action over real HTTP, the role
//! rules, CSRF rejection, path traversal, the login rate limit, and one end-to-end
//! walk in a real browser driven by juru's own browser layer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use juru::store::{ItemEnd, NewRun, Store};
use juru::web::{users, Role};

use crate::support::Project;

/// `juru web` running in a project folder on a free port; killed on drop.
pub(crate) struct WebServer {
    pub child: Child,
    pub addr: SocketAddr,
}

impl WebServer {
    pub fn start(p: &Project) -> WebServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_juru"))
            .args(["web", "--listen", "127.0.0.1:0"])
            .current_dir(p.path(""))
            .env("TMPDIR", p.path("tmp"))
            // For the demo bot's re-queued runs.
            .env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
            .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("juru web starts");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("first line");
        let url = line
            .trim()
            .strip_prefix("dashboard: http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let addr: SocketAddr = url.parse().expect("address");
        // Keep reading stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = out.read_to_string(&mut sink);
        });
        WebServer { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A line of the server's /proc/PID/status in kB (`VmRSS`, `VmHWM`).
    pub fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server runs");
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in {status}"))
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request, sent verbatim (the path is not normalized).
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: &str,
    form: Option<&str>,
) -> Resp {
    http_with(addr, method, path, cookie, &[], form)
}

/// [`http`] with extra request headers.
pub(crate) fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: &str,
    extra: &[(&str, &str)],
    form: Option<&str>,
) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        req.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = form.unwrap_or("");
    if form.is_some() {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// The value of `name="csrf"` in a page.
pub(crate) fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field");
    page[at + 19..at + 19 + 64].to_string()
}

/// A logged-in user: the session cookie and the page CSRF token.
pub(crate) struct Login {
    pub cookie: String,
    pub csrf: String,
}

pub(crate) fn login(addr: SocketAddr, user: &str, password: &str) -> Result<Login, Resp> {
    login_with(addr, user, password, &[])
}

/// A fresh login form: its cookie and its CSRF token.
pub(crate) fn login_form(addr: SocketAddr, extra: &[(&str, &str)]) -> (String, String) {
    let page = http_with(addr, "GET", "/login", "", extra, None);
    assert_eq!(page.status, 200);
    let set = page.header("set-cookie").expect("login cookie").to_string();
    (
        set.split(';').next().unwrap().to_string(),
        csrf_of(&page.text()),
    )
}

/// [`login`] with extra request headers (`X-Forwarded-For` ...).
pub(crate) fn login_with(
    addr: SocketAddr,
    user: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> Result<Login, Resp> {
    let page = http_with(addr, "GET", "/login", "", extra, None);
    assert_eq!(page.status, 200);
    let set = page.header("set-cookie").expect("login cookie").to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let login_cookie = set.split(';').next().unwrap().to_string();
    let token = csrf_of(&page.text());
    let r = http_with(
        addr,
        "POST",
        "/login",
        &login_cookie,
        extra,
        Some(&format!("csrf={token}&user={user}&password={password}")),
    );
    if r.status != 303 {
        return Err(r);
    }
    let set = r.header("set-cookie").expect("session cookie").to_string();
    assert!(set.starts_with("juru_session="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let home = http(addr, "GET", "/", &cookie, None);
    assert_eq!(home.status, 200, "{}", home.text());
    Ok(Login {
        csrf: csrf_of(&home.text()),
        cookie,
    })
}

impl Login {
    pub fn get(&self, addr: SocketAddr, path: &str) -> Resp {
        http(addr, "GET", path, &self.cookie, None)
    }

    pub fn post(&self, addr: SocketAddr, path: &str, form: &str) -> Resp {
        let body = if form.is_empty() {
            format!("csrf={}", self.csrf)
        } else {
            format!("csrf={}&{form}", self.csrf)
        };
        http(addr, "POST", path, &self.cookie, Some(&body))
    }
}

pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really an image";

/// A project with three users, one schedule and one finished run (r1) holding a
/// done item and a business exception with a screenshot.
pub(crate) fn dashboard_project() -> Project {
    let p = Project::new();
    for (name, role) in [
        ("siti", Role::Officer),
        ("budi", Role::Supervisor),
        ("ani", Role::Admin),
    ] {
        users::add(
            &p.path("config/users.toml"),
            name,
            role,
            &format!("sandi-{name}-123"),
        )
        .unwrap();
    }
    p.write(
        "bots/lab/bot.toml",
        "name = \"lab\"\n[input]\nworkbook = \"masuk.xlsx\"\n",
    );
    p.write("bots/lab/main.rhai", "fn process(item) { }\n");
    p.write(
        "config/schedules.toml",
        "[lab-pagi]\nbot = \"lab\"\ncron = \"30 7 * * *\"\n",
    );
    let mut store = Store::open(p.path("var/juru.db")).unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    store
        .begin_run(
            &NewRun {
                id: "r1",
                bot: "lab",
                trigger: "cli",
                input: "masuk.xlsx",
                dir: "var/runs/r1",
                started_at: &now,
                headers: "[\"No\",\"Nama\"]",
                vars: "{}",
                parent: None,
                only_input: None,
                fire: None,
            },
            &[item(2, "[1,\"Ani\"]"), item(3, "[2,\"Budi Santoso\"]")],
        )
        .unwrap();
    store
        .item_finished(
            "r1",
            0,
            &ItemEnd {
                state: "done",
                outputs: "{}",
                finished_at: &now,
                ..Default::default()
            },
        )
        .unwrap();
    store
        .item_finished(
            "r1",
            1,
            &ItemEnd {
                state: "business_exception",
                outputs: "{}",
                reason: Some("NIK tidak terdaftar"),
                screenshot: Some("screenshots/row-0003.png"),
                finished_at: &now,
                ..Default::default()
            },
        )
        .unwrap();
    store.finish_run("r1", "finished", None, &now).unwrap();
    std::fs::create_dir_all(p.path("var/runs/r1/screenshots")).unwrap();
    std::fs::write(p.path("var/runs/r1/screenshots/row-0003.png"), PNG).unwrap();
    std::fs::write(p.path("var/runs/r1/output.xlsx"), b"PK workbook").unwrap();
    std::fs::write(p.path("secret.txt"), b"top secret").unwrap();
    std::os::unix::fs::symlink(p.path("secret.txt"), p.path("var/runs/r1/escape.png")).unwrap();
    p
}

#[test]
fn pages_need_a_login_and_show_the_store() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    for path in [
        "/",
        "/schedules",
        "/runs",
        "/runs/r1",
        "/exceptions",
        "/users",
    ] {
        let r = http(a, "GET", path, "", None);
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.header("location"), Some("/login"), "{path}");
    }
    let r = http(a, "GET", "/files/r1/screenshots/row-0003.png", "", None);
    assert_eq!(r.status, 401);
    assert!(!r.body.starts_with(b"\x89PNG"));

    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    let today = siti.get(a, "/").text();
    assert!(
        today.contains("Hari ini") && today.contains("lab-pagi"),
        "{today}"
    );
    assert!(today.contains("Tidak ada proses yang berjalan"), "{today}");

    let sched = siti.get(a, "/schedules").text();
    assert!(
        sched.contains("lab-pagi") && sched.contains("aktif"),
        "{sched}"
    );
    assert_eq!(
        sched.matches("07:30 WIB<br>").count(),
        5,
        "five next fires: {sched}"
    );
    assert!(
        !sched.contains("class=\"pause\""),
        "an officer gets no pause button"
    );

    let runs = siti.get(a, "/runs").text();
    assert!(runs.contains("/runs/r1"), "{runs}");
    assert!(!siti
        .get(a, "/runs?state=failed")
        .text()
        .contains("/runs/r1"));
    assert!(siti
        .get(a, "/runs?bot=lab&state=finished")
        .text()
        .contains("/runs/r1"));
    assert!(!siti.get(a, "/runs?bot=lain").text().contains("/runs/r1"));
    assert!(!siti
        .get(a, "/runs?date=2001-01-01")
        .text()
        .contains("/runs/r1"));

    let run = siti.get(a, "/runs/r1").text();
    assert!(
        run.contains("Budi Santoso") && run.contains("NIK tidak terdaftar"),
        "{run}"
    );
    assert!(run.contains("href=\"/files/r1/output.xlsx\""), "{run}");
    assert!(
        !run.contains("exceptions.xlsx"),
        "only files that exist are linked"
    );
    assert_eq!(siti.get(a, "/runs/nope").status, 404);

    let exc = siti.get(a, "/exceptions").text();
    assert!(
        exc.contains("<h2>NIK tidak terdaftar"),
        "grouped by reason: {exc}"
    );
    assert!(
        exc.contains("<b>Nama</b>: Budi Santoso"),
        "item data with its headers: {exc}"
    );
    assert!(
        exc.contains("src=\"/files/r1/screenshots/row-0003.png\""),
        "{exc}"
    );
    let shot = siti.get(a, "/files/r1/screenshots/row-0003.png");
    assert_eq!(shot.status, 200);
    assert_eq!(shot.header("content-type"), Some("image/png"));
    assert_eq!(shot.body, PNG);
    let out = siti.get(a, "/files/r1/output.xlsx");
    assert_eq!(out.body, b"PK workbook");

    // Language per session.
    let r = siti.post(a, "/language", "lang=en");
    assert_eq!(r.status, 303);
    let today = siti.get(a, "/").text();
    assert!(
        today.contains("<h1>Today</h1>") && today.contains("No run in progress"),
        "{today}"
    );

    // Logout ends the session (and needs the token).
    assert_eq!(
        http(a, "POST", "/logout", &siti.cookie, Some("csrf=")).status,
        403
    );
    assert_eq!(siti.post(a, "/logout", "").status, 303);
    assert_eq!(siti.get(a, "/").status, 303);
}

#[test]
fn files_are_served_only_from_inside_the_run_folder() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    for path in [
        "/files/r1/../../../secret.txt",
        "/files/r1/screenshots/../../../../secret.txt",
        "/files/r1/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/files/r1/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
        "/files/r1/..%2F..%2F..%2Fsecret.txt",
        "/files/r1/%2Fetc%2Fpasswd",
        "/files/r1//etc/passwd",
        "/files/r1/..%5c..%5csecret.txt",
        "/files/r1/escape.png",
        "/files/r1/screenshots",
        "/files/nope/output.xlsx",
    ] {
        let r = siti.get(a, path);
        assert!(
            matches!(r.status, 400 | 404),
            "{path}: status {} {}",
            r.status,
            r.text()
        );
        assert!(!r.text().contains("top secret"), "{path}");
        assert!(!r.text().contains("root:"), "{path}");
    }
}

#[test]
fn forms_without_the_csrf_token_are_refused() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let budi = login(a, "budi", "sandi-budi-123").unwrap();
    for (path, form) in [
        ("/schedules/lab-pagi/pause", ""),
        ("/schedules/lab-pagi/run", ""),
        ("/exceptions/resolve", "run=r1&idx=1"),
        ("/exceptions/requeue", "run=r1&idx=1"),
        ("/language", "lang=en"),
    ] {
        let r = http(a, "POST", path, &budi.cookie, Some(form));
        assert_eq!(r.status, 403, "{path} without a token");
        let wrong = format!("csrf={}&{form}", "0".repeat(64));
        let r = http(a, "POST", path, &budi.cookie, Some(&wrong));
        assert_eq!(r.status, 403, "{path} with a wrong token");
    }
    // Nothing happened.
    let store = Store::open(p.path("var/juru.db")).unwrap();
    assert!(!store.is_paused("lab-pagi").unwrap());
    assert!(store.actions(None, 10).unwrap().is_empty());
    // A login form without its token is refused too.
    let r = http(
        a,
        "POST",
        "/login",
        "",
        Some("user=budi&password=sandi-budi-123"),
    );
    assert_eq!(r.status, 403);
    assert!(r.header("set-cookie").is_none());
}

#[test]
fn roles_decide_who_pauses_schedules_and_sees_users() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    let budi = login(a, "budi", "sandi-budi-123").unwrap();
    let ani = login(a, "ani", "sandi-ani-123").unwrap();

    assert_eq!(siti.post(a, "/schedules/lab-pagi/pause", "").status, 403);
    assert_eq!(siti.post(a, "/schedules/lab-pagi/run", "").status, 403);
    assert_eq!(siti.get(a, "/users").status, 403);
    assert_eq!(budi.get(a, "/users").status, 403);
    assert!(!budi.get(a, "/").text().contains("href=\"/users\""));
    let users_page = ani.get(a, "/users").text();
    assert!(
        users_page.contains("siti") && users_page.contains("supervisor"),
        "{users_page}"
    );
    assert!(!users_page.contains("argon2"), "hashes are never shown");

    let store = Store::open(p.path("var/juru.db")).unwrap();
    assert!(!store.is_paused("lab-pagi").unwrap());

    assert_eq!(budi.post(a, "/schedules/lab-pagi/pause", "").status, 303);
    assert!(store.is_paused("lab-pagi").unwrap());
    let sched = budi.get(a, "/schedules").text();
    assert!(
        sched.contains("dijeda") && sched.contains("class=\"resume\""),
        "{sched}"
    );
    assert_eq!(budi.post(a, "/schedules/lab-pagi/resume", "").status, 303);
    assert!(!store.is_paused("lab-pagi").unwrap());
    assert_eq!(budi.post(a, "/schedules/lab-pagi/run", "").status, 303);
    assert_eq!(budi.post(a, "/schedules/tidak-ada/pause", "").status, 404);

    let actions = store.actions(None, 10).unwrap();
    let kinds: Vec<(&str, &str, Option<&str>)> = actions
        .iter()
        .map(|x| (x.user.as_str(), x.action.as_str(), x.target.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("budi", "run_now", Some("lab-pagi")),
            ("budi", "resumed", Some("lab-pagi")),
            ("budi", "paused", Some("lab-pagi")),
        ]
    );
    // The run-now request waits for the agent.
    let mut store = store;
    let requests = store.take_requests().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].bot, "lab");
}

#[test]
fn resolving_an_exception_records_who_and_closes_it() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    assert_eq!(
        siti.post(a, "/exceptions/resolve", "run=r1&idx=7").status,
        404
    );
    assert_eq!(
        siti.post(a, "/exceptions/resolve", "run=r1&idx=1").status,
        303
    );
    let exc = siti.get(a, "/exceptions").text();
    assert!(exc.contains("Tidak ada pengecualian terbuka"), "{exc}");
    let store = Store::open(p.path("var/juru.db")).unwrap();
    let actions = store.actions(Some("r1"), 10).unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].user, "siti");
    assert_eq!(actions[0].action, "resolved");
    assert_eq!(actions[0].item_idx, Some(1));
    assert!(chrono::DateTime::parse_from_rfc3339(&actions[0].at).is_ok());
    let run = siti.get(a, "/runs/r1").text();
    assert!(
        run.contains("diselesaikan manual") && run.contains("siti"),
        "{run}"
    );
    // A second click records nothing more.
    assert_eq!(
        siti.post(a, "/exceptions/resolve", "run=r1&idx=1").status,
        303
    );
    assert_eq!(store.actions(Some("r1"), 10).unwrap().len(), 1);
}

#[test]
fn failed_logins_are_rate_limited() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    for _ in 0..5 {
        let r = login(a, "siti", "salah-sekali").err().expect("refused");
        assert_eq!(r.status, 401);
        assert!(r.text().contains("salah"), "{}", r.text());
        assert!(r
            .header("set-cookie")
            .is_some_and(|c| c.starts_with("juru_login=")));
    }
    // Now even the right password waits.
    let r = login(a, "siti", "sandi-siti-123").err().expect("limited");
    assert_eq!(r.status, 429);
    assert!(r.text().contains("15"), "{}", r.text());
    // The lock is on the name: another user of the same address logs in.
    assert!(login(a, "budi", "sandi-budi-123").is_ok());
}

#[test]
fn users_add_reads_the_password_from_stdin_and_writes_only_its_hash() {
    let p = Project::new();
    crate::web_attacks::users_add(&p, "siti", "officer", "kata-sandi-siti");
    let text = std::fs::read_to_string(p.path("config/users.toml")).unwrap();
    assert!(
        text.contains("[siti]") && text.contains("role = \"officer\""),
        "{text}"
    );
    assert!(!text.contains("kata-sandi"), "{text}");
    let users = users::load(&p.path("config/users.toml")).unwrap();
    assert!(users::verify_password(
        &users["siti"].password_hash,
        "kata-sandi-siti"
    ));

    let bad = p.juru(&["users", "add", "budi", "--role", "kepala"]);
    assert_eq!(bad.code(), 2, "{bad}");
    assert!(
        bad.stderr()
            .contains("--role kepala: expected admin, supervisor or officer"),
        "{bad}"
    );
    assert!(!std::fs::read_to_string(p.path("config/users.toml"))
        .unwrap()
        .contains("budi"));
}

/// Polls `f` every 100 ms until it gives `Some`, or panics after `secs` seconds.
pub(crate) fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The tiny bot of the end-to-end test: row No 2 is a business exception (with the
/// screenshot juru takes of it), the others pass.
fn exception_bot(p: &Project) {
    p.write(
        "bots/lab/bot.toml",
        "name = \"lab\"\n[input]\nworkbook = \"masuk.xlsx\"\n",
    );
    p.write(
        "bots/lab/main.rhai",
        r##"fn process(item) {
    browser.open(vars.portal_url);
    if item["No"] == 2 { fail_business("NIK tidak terdaftar di portal"); }
    item.output("Hasil", "ok");
}
"##,
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "No").unwrap();
    ws.write_string(0, 1, "Nama").unwrap();
    for (r, name) in [(1u32, "Ani"), (2, "Budi Santoso"), (3, "Citra")] {
        ws.write_number(r, 0, r as f64).unwrap();
        ws.write_string(r, 1, name).unwrap();
    }
    wb.save(p.path("bots/lab/masuk.xlsx")).unwrap();
}

/// Where the end-to-end walk leaves its page screenshots: `JURU_WEB_SCREENSHOTS`
/// (e.g. docs/img to refresh the README's pictures) or the project's folder.
fn screenshot_dir(p: &Project) -> std::path::PathBuf {
    match std::env::var_os("JURU_WEB_SCREENSHOTS") {
        Some(d) => std::path::PathBuf::from(d),
        None => p.path("shots"),
    }
}

async fn log_in(
    b: &juru::browser::Browser,
    url: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<()> {
    b.goto(&format!("{url}/login")).await?;
    b.type_text("#user", user).await?;
    b.type_text("#password", password).await?;
    b.click("#login").await?;
    b.wait_for("#logout").await?;
    Ok(())
}

/// Reloads `page` until `selector` holds `text`, for at most `secs` seconds.
async fn reload_until(
    b: &juru::browser::Browser,
    page: &str,
    selector: &str,
    text: &str,
    secs: u64,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        b.goto(page).await?;
        if b.exists(selector).await? && b.text(selector).await?.contains(text) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{page}: {selector} never showed {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn walk(
    b: &juru::browser::Browser,
    url: &str,
    parent: &str,
    shots: &std::path::Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(shots)?;
    // The officer opens the exception and sees its screenshot.
    log_in(b, url, "siti", "sandi-siti-123").await?;
    b.screenshot(&shots.join("dashboard-today.png")).await?;
    b.click_link("Pengecualian").await?;
    b.wait_for("table.exceptions").await?;
    let table = b.text("table.exceptions").await?;
    anyhow::ensure!(table.contains("Budi Santoso"), "item data: {table}");
    anyhow::ensure!(
        table.contains("NIK tidak terdaftar di portal"),
        "message: {table}"
    );
    // The thumbnail shows the screenshot, with no size label under it.
    anyhow::ensure!(b.exists("img.thumb").await?, "a thumbnail: {table}");
    anyhow::ensure!(!b.exists(".shot-size").await?, "no size label");
    b.screenshot(&shots.join("dashboard-exceptions.png"))
        .await?;
    // Fixed, re-queue: a new run of just that item, linked to its run.
    b.click("button.requeue").await?;
    b.wait_for("#none").await?;
    reload_until(b, &format!("{url}/runs/{parent}"), "#children", "lab", 30).await?;
    let children = b.table("#children").await?;
    anyhow::ensure!(children.rows.len() == 1, "one new run: {children:?}");
    let child = format!(
        "/runs/{}",
        children.rows[0].get("Proses").cloned().unwrap_or_default()
    );
    anyhow::ensure!(child != format!("/runs/{parent}"), "{child}");
    reload_until(b, &format!("{url}{child}"), "#state", "selesai", 120).await?;
    let items = b.text("#items").await?;
    anyhow::ensure!(
        items.contains("Budi Santoso") && !items.contains("Citra"),
        "only the re-queued item: {items}"
    );
    b.goto(&format!("{url}/runs/{parent}")).await?;
    b.screenshot(&shots.join("dashboard-run.png")).await?;
    b.click("#logout").await?;
    b.wait_for("#login").await?;

    // The supervisor pauses the schedule.
    log_in(b, url, "budi", "sandi-budi-123").await?;
    b.click_link("Jadwal").await?;
    b.click("#schedule-lab-pagi button.pause").await?;
    b.wait_for("#schedule-lab-pagi button.resume").await?;
    let status = b.text("#schedule-lab-pagi .status").await?;
    anyhow::ensure!(status == "dijeda", "status: {status}");
    b.screenshot(&shots.join("dashboard-schedules.png")).await?;
    Ok(())
}

#[test]
fn officer_requeues_an_exception_and_supervisor_pauses_in_a_real_browser() {
    let portal = crate::support::PortalHandle::start();
    let p = dashboard_project();
    exception_bot(&p);
    let var = format!("portal_url={}", portal.url());
    let run = p.juru(&["run", "lab", "--var", &var]);
    assert_eq!(run.code(), 0, "{run}");
    let parent = wait_for(5, "the run in the store", || {
        let store = Store::open(p.path("var/juru.db")).ok()?;
        store
            .runs(Some("lab"), 10)
            .ok()?
            .into_iter()
            .find(|r| r.id != "r1")
            .map(|r| r.id)
    });
    // The example run r1 of the project is closed first, so only the bot's exception is open.
    let store = Store::open(p.path("var/juru.db")).unwrap();
    store
        .record_action(&juru::store::actions::NewAction {
            user: "siti",
            action: "resolved",
            run_id: Some("r1"),
            item_idx: Some(1),
            ..Default::default()
        })
        .unwrap();

    let web = WebServer::start(&p);
    let shots = screenshot_dir(&p);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        let settings = juru::browser::Settings {
            window_size: (1100, 720),
            ..Default::default()
        };
        let driver = juru::browser::Driver::start(&settings, None).await?;
        let browser = match juru::browser::Browser::open(driver.url(), &settings, None).await {
            Ok(b) => b,
            Err(e) => {
                driver.stop().await;
                return Err(e.into());
            }
        };
        let walked = walk(&browser, &web.url(), &parent, &shots).await;
        browser.close().await;
        driver.stop().await;
        walked
    });
    result.unwrap();

    // What the store recorded: who re-queued what into which run, and the pause.
    let actions = store.actions(None, 10).unwrap();
    let requeue = actions
        .iter()
        .find(|x| x.action == "requeued")
        .expect("re-queue recorded");
    assert_eq!(requeue.user, "siti");
    assert_eq!(requeue.run_id.as_deref(), Some(parent.as_str()));
    let child = requeue.target.clone().expect("the new run is recorded");
    let child_run = store.run(&child).unwrap().unwrap();
    assert_eq!(child_run.parent.as_deref(), Some(parent.as_str()));
    assert_eq!(child_run.state, "finished");
    assert_eq!(child_run.total, 1);
    assert!(store.is_paused("lab-pagi").unwrap());
    assert!(actions
        .iter()
        .any(|x| x.action == "paused" && x.user == "budi"));
    for name in ["today", "exceptions", "run", "schedules"] {
        let png = std::fs::read(shots.join(format!("dashboard-{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}");
        assert!(png.len() < 300_000, "{name}: {} bytes", png.len());
    }
}

#[test]
fn the_agent_serves_the_dashboard_when_enabled() {
    let p = dashboard_project();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    p.write(
        "config/agent.toml",
        &format!(
            "[browser]\nheadless = true\n[web]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    );
    let mut agent = Command::new(env!("CARGO_BIN_EXE_juru"))
        .arg("agent")
        .current_dir(p.path(""))
        .env("TMPDIR", p.path("tmp"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let served = std::panic::catch_unwind(|| {
        wait_for(20, "the agent's dashboard", || {
            TcpStream::connect(addr).ok()?;
            Some(())
        });
        let siti = login(addr, "siti", "sandi-siti-123").unwrap();
        siti.get(addr, "/exceptions").text()
    });
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    let status = agent.wait().unwrap();
    let page = served.unwrap();
    assert!(page.contains("NIK tidak terdaftar"), "{page}");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn today_shows_runs_in_progress_and_refreshes_itself() {
    let p = dashboard_project();
    let mut store = Store::open(p.path("var/juru.db")).unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    store
        .begin_run(
            &NewRun {
                id: "r2",
                bot: "lab",
                trigger: "schedule:lab-pagi",
                input: "masuk.xlsx",
                dir: "var/runs/r2",
                started_at: &now,
                headers: "[\"No\"]",
                vars: "{}",
                parent: None,
                only_input: None,
                fire: None,
            },
            &[item(2, "[1]"), item(3, "[2]"), item(4, "[3]")],
        )
        .unwrap();
    store
        .item_finished(
            "r2",
            0,
            &ItemEnd {
                state: "done",
                outputs: "{}",
                finished_at: &now,
                ..Default::default()
            },
        )
        .unwrap();
    let web = WebServer::start(&p);
    let siti = login(web.addr, "siti", "sandi-siti-123").unwrap();
    let today = siti.get(web.addr, "/").text();
    assert!(today.contains("/runs/r2"), "{today}");
    assert!(today.contains("1/3"), "one of three items done: {today}");
    assert!(
        today.contains("data-live=\"5\"")
            && today.contains("<meta http-equiv=\"refresh\" content=\"5\">"),
        "{today}"
    );
    // Without a run in progress the page stays still.
    store.finish_run("r2", "finished", None, &now).unwrap();
    let today = siti.get(web.addr, "/").text();
    assert!(!today.contains("http-equiv=\"refresh\""), "{today}");
}

/// Posts a workbook as multipart/form-data, the way a browser's file field does.
pub(crate) fn upload(
    addr: SocketAddr,
    login: &Login,
    schedule: &str,
    csrf: &str,
    file: &str,
    data: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--XYZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--XYZ\r\nContent-Disposition: form-data; name=\"input\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(b"\r\n--XYZ--\r\n");
    let head = format!(
        "POST /schedules/{schedule}/upload HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {}\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {}\r\n\r\n",
        login.cookie,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let status = String::from_utf8_lossy(&raw[..12.min(raw.len())])
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Resp {
        status,
        headers: Vec::new(),
        body: raw,
    }
}

#[test]
fn run_now_with_an_uploaded_workbook() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let budi = login(a, "budi", "sandi-budi-123").unwrap();
    let page = budi.get(a, "/schedules").text();
    assert!(page.contains("enctype=\"multipart/form-data\""), "{page}");
    let workbook = &workbook_bytes(&["No", "Nama"], &[&["1", "Ani"]]);

    // Without the form's token, as an officer, or not a workbook: refused.
    assert_eq!(
        upload(a, &budi, "lab-pagi", "salah", "masuk.xlsx", workbook).status,
        403
    );
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    assert_eq!(
        upload(a, &siti, "lab-pagi", &siti.csrf, "masuk.xlsx", workbook).status,
        403
    );
    assert_eq!(
        upload(a, &budi, "lab-pagi", &budi.csrf, "skrip.sh", b"rm -rf /").status,
        400
    );
    assert!(!p.path("var/uploads").exists() || p.files("var/uploads").is_empty());

    // A supervisor's upload is kept and handed to the agent with the request.
    let r = upload(
        a,
        &budi,
        "lab-pagi",
        &budi.csrf,
        "../Permohonan Maret.xlsx",
        workbook,
    );
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    let kept = p.files("var/uploads");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].ends_with("-Permohonan_Maret.xlsx"), "{kept:?}");
    assert_eq!(&std::fs::read(p.path(&kept[0])).unwrap(), workbook);
    let mut store = Store::open(p.path("var/juru.db")).unwrap();
    let requests = store.take_requests().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].bot, "lab");
    assert!(requests[0]
        .input
        .as_deref()
        .unwrap()
        .ends_with("-Permohonan_Maret.xlsx"));
}

/// An .xlsx workbook with `headers` and text `rows`, as bytes.
pub(crate) fn workbook_bytes(headers: &[&str], rows: &[&[&str]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

pub(crate) fn item(row: i64, data: &str) -> juru::store::NewItem {
    juru::store::NewItem {
        row,
        data: data.into(),
        submitted: false,
    }
}

/// An officer re-queues an item the bot could not confirm although it was saved:
/// the new run looks it up with `verify(item)` first and types nothing again; while
/// another run of the bot goes on, the re-queue is refused and the item stays open.
#[test]
fn a_requeued_item_that_was_saved_is_verified_not_typed_again() {
    let portal = crate::crash::forgiving_portal();
    let mut p = crate::crash::demo_project(&portal);
    p.env("JURU_SECRET_PORTAL_USER", juru::demo::DEMO_USER)
        .env("JURU_SECRET_PORTAL_PASSWORD", juru::demo::DEMO_PASSWORD);
    users::add(
        &p.path("config/users.toml"),
        "siti",
        Role::Officer,
        "sandi-siti-123",
    )
    .unwrap();
    let first = p.juru(&["run", "demo-perizinan", "--json"]);
    assert_eq!(first.code(), 0, "{first}");
    let saved = portal.records().len();
    let summary: serde_json::Value = serde_json::from_str(first.stdout().trim()).unwrap();
    let id = summary["run"].as_str().unwrap().to_string();
    let mut store = Store::open(p.path("var/juru.db")).unwrap();
    // Row 2 was saved, but the bot could not confirm it: a person must look.
    let row2 = store.items(&id).unwrap()[0].clone();
    assert!(row2.state == "done" && row2.submitted, "{row2:#?}");
    store
        .item_finished(
            &id,
            0,
            &ItemEnd {
                state: "needs_verification",
                outputs: "{}",
                reason: Some("the save was not confirmed"),
                finished_at: "2026-11-29T10:00:00Z",
                ..Default::default()
            },
        )
        .unwrap();

    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();

    // Another run of the bot goes on (held by this test process): refused.
    let now = chrono::Utc::now().to_rfc3339();
    store
        .begin_run(
            &NewRun {
                id: "busy",
                bot: "demo-perizinan",
                trigger: "cli",
                input: "x.xlsx",
                dir: "var/runs/busy",
                started_at: &now,
                headers: "[]",
                vars: "{}",
                parent: None,
                only_input: None,
                fire: None,
            },
            &[item(2, "[]")],
        )
        .unwrap();
    let refused = siti.post(a, "/exceptions/requeue", &format!("run={id}&idx=0"));
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert!(refused.text().contains("busy"), "{}", refused.text());
    assert!(store.actions(None, 10).unwrap().is_empty());
    store.finish_run("busy", "finished", None, &now).unwrap();

    // Now the re-queue runs: verify(item) finds the record, nothing is typed again.
    let r = siti.post(a, "/exceptions/requeue", &format!("run={id}&idx=0"));
    assert_eq!(r.status, 303, "{}", r.text());
    let child = wait_for(180, "the re-queued run to finish", || {
        let s = Store::open(p.path("var/juru.db")).ok()?;
        let target = s
            .actions(None, 10)
            .ok()?
            .into_iter()
            .find(|x| x.action == "requeued")?
            .target?;
        let run = s.run(&target).ok()??;
        (run.state == "finished").then_some(run)
    });
    assert_eq!((child.total, child.done), (1, 1), "{child:#?}");
    let items = store.items(&child.id).unwrap();
    assert!(
        items[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("verify(item)")),
        "{items:#?}"
    );
    assert_eq!(portal.records().len(), saved, "typed twice");
}
