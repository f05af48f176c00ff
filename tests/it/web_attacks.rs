//! The dashboard under attack: each test performs one attack through real HTTP
//! requests to a running `juru web` and checks that it fails safely: sessions of
//! changed or deleted users, parallel password guesses, lock-outs, anonymous large
//! uploads, garbage uploads, timing of unknown names, hard links out of a run
//! folder, the security headers, resolving what is not an exception, upload names
//! and clean-up, and the framework's own error texts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use juru::store::Store;

use crate::support::Project;
use crate::web::{
    dashboard_project, http, http_with, login, login_form, login_with, upload, wait_for,
    workbook_bytes, Login, Resp, WebServer,
};

/// `juru users add NAME --role ROLE` with the password on standard input.
pub(crate) fn users_add(p: &Project, name: &str, role: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_juru"))
        .args(["users", "add", name, "--role", role])
        .current_dir(p.path(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn goes_to_login(r: &Resp) -> bool {
    r.status == 303 && r.header("location") == Some("/login")
}

#[test]
fn a_changed_or_deleted_user_loses_the_session_at_once() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let budi = login(a, "budi", "sandi-budi-123").unwrap();
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    let ani = login(a, "ani", "sandi-ani-123").unwrap();
    let store = Store::open(p.path("var/juru.db")).unwrap();

    // budi becomes an officer: his supervisor session can no longer pause.
    users_add(&p, "budi", "officer", "sandi-budi-123");
    let r = budi.post(a, "/schedules/lab-pagi/pause", "");
    assert!(goes_to_login(&r), "{} {}", r.status, r.text());
    assert!(!store.is_paused("lab-pagi").unwrap());
    assert!(goes_to_login(&budi.get(a, "/")));
    let budi = login(a, "budi", "sandi-budi-123").unwrap();
    assert_eq!(budi.post(a, "/schedules/lab-pagi/pause", "").status, 403);
    assert!(!store.is_paused("lab-pagi").unwrap());
    assert!(store.actions(None, 10).unwrap().is_empty());

    // ani gets a new password: her old session ends, the new password works.
    users_add(&p, "ani", "admin", "sandi-baru-ani-1");
    assert!(goes_to_login(&ani.get(a, "/users")));
    assert!(login(a, "ani", "sandi-ani-123").is_err());
    assert!(login(a, "ani", "sandi-baru-ani-1").is_ok());

    // siti is deleted from users.toml: no page, no file, no form.
    let path = p.path("config/users.toml");
    let mut users: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    users.remove("siti").expect("siti was a user");
    std::fs::write(&path, toml::to_string(&users).unwrap()).unwrap();
    assert!(goes_to_login(&siti.get(a, "/exceptions")));
    assert_eq!(
        siti.get(a, "/files/r1/screenshots/row-0003.png").status,
        401
    );
    assert!(goes_to_login(&siti.post(
        a,
        "/exceptions/resolve",
        "run=r1&idx=1"
    )));
    assert!(store.actions(None, 10).unwrap().is_empty());
    // budi and ani, unchanged since, stay logged in.
    assert_eq!(budi.get(a, "/").status, 200);
}

/// Sends `n` login posts for `user` at once, each with its own form, from one
/// address (or with `extra` headers); their status codes. A `{}` in `user` is
/// replaced by the post's number.
fn parallel_logins(
    addr: SocketAddr,
    n: usize,
    user: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> Vec<u16> {
    let forms: Vec<(String, String)> = (0..n).map(|_| login_form(addr, extra)).collect();
    let gate = Arc::new(Barrier::new(n));
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let threads: Vec<_> = forms
        .into_iter()
        .enumerate()
        .map(|(i, (cookie, csrf))| {
            let gate = gate.clone();
            let user = user.replace("{}", &i.to_string());
            let body = format!("csrf={csrf}&user={user}&password={password}");
            let extra = extra.clone();
            std::thread::spawn(move || {
                let extra: Vec<(&str, &str)> = extra
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                gate.wait();
                http_with(addr, "POST", "/login", &cookie, &extra, Some(&body)).status
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn parallel_guesses_cannot_pass_the_login_limit() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let codes = parallel_logins(a, 40, "siti", "tebakan-salah", &[]);
    let checked = codes.iter().filter(|c| **c == 401).count();
    let refused = codes.iter().filter(|c| **c == 429).count();
    assert_eq!(checked + refused, 40, "{codes:?}");
    assert_eq!(
        checked,
        juru::web::MAX_FAILURES,
        "{checked} passwords were checked: {codes:?}"
    );
    // siti's name is locked now, even for the right password.
    assert_eq!(
        login(a, "siti", "sandi-siti-123").err().unwrap().status,
        429
    );
}

#[test]
fn a_locked_name_does_not_lock_other_users_and_forged_addresses_do_not_help() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    // An attacker locks siti's name.
    for _ in 0..juru::web::MAX_FAILURES {
        assert_eq!(login(a, "siti", "salah-sekali").err().unwrap().status, 401);
    }
    assert_eq!(
        login(a, "siti", "sandi-siti-123").err().unwrap().status,
        429
    );
    // Everyone else of the same address (the office behind one proxy) logs in.
    assert!(login(a, "budi", "sandi-budi-123").is_ok());
    assert!(login(a, "ani", "sandi-ani-123").is_ok());

    // The looser limit per address: guessing many names from one address stops
    // too, and X-Forwarded-For is not believed without a trusted proxy.
    let mut codes = Vec::new();
    for i in 0..juru::web::MAX_ADDRESS_FAILURES + 2 {
        let forged = format!("198.51.100.{i}");
        let r = login_with(
            a,
            &format!("tamu{i}"),
            "salah",
            &[("X-Forwarded-For", &forged)],
        );
        codes.push(r.err().unwrap().status);
    }
    let checked = codes.iter().filter(|c| **c == 401).count();
    // siti's five failures count for the address as well.
    assert_eq!(
        checked,
        juru::web::MAX_ADDRESS_FAILURES - juru::web::MAX_FAILURES,
        "{codes:?}"
    );
    assert_eq!(codes.last(), Some(&429), "{codes:?}");
}

#[test]
fn behind_a_trusted_proxy_each_client_address_is_limited_alone() {
    let p = dashboard_project();
    p.write(
        "config/agent.toml",
        "[browser]\nheadless = true\n[web]\ntrusted_proxy = \"127.0.0.1\"\n",
    );
    let web = WebServer::start(&p);
    let a = web.addr;
    let attacker = [("X-Forwarded-For", "6.6.6.6, 203.0.113.7")];
    let office = [("X-Forwarded-For", "203.0.113.50")];
    // The attacker guesses many names (parallel too): only its own address stops.
    let mut codes = parallel_logins(a, 30, "tamu{}", "salah", &attacker);
    for i in 0..5 {
        codes.push(
            login_with(a, &format!("orang{i}"), "salah", &attacker)
                .err()
                .unwrap()
                .status,
        );
    }
    let checked = codes.iter().filter(|c| **c == 401).count();
    assert_eq!(checked, juru::web::MAX_ADDRESS_FAILURES, "{codes:?}");
    assert_eq!(codes.last(), Some(&429), "{codes:?}");
    assert_eq!(
        login_with(a, "budi", "sandi-budi-123", &attacker)
            .err()
            .unwrap()
            .status,
        429
    );
    // The office, behind the same proxy, is not locked out.
    assert!(login_with(a, "budi", "sandi-budi-123", &office).is_ok());
    assert!(login_with(a, "siti", "sandi-siti-123", &office).is_ok());
}

/// Posts an upload of `len` body bytes (`chunked` without a Content-Length) and
/// returns the status as soon as the answer comes, with how many body bytes were
/// sent by then (the body is sent from another thread; the connection is closed
/// once the answer is read).
fn big_upload(addr: SocketAddr, cookie: &str, len: usize, chunked: bool) -> (u16, usize) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let size = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {len}")
    };
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    let head = format!(
        "POST /schedules/lab-pagi/upload HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{cookie}Content-Type: multipart/form-data; boundary=XYZ\r\n{size}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut sent = 0usize;
        let mut part =
            b"--XYZ\r\nContent-Disposition: form-data; name=\"input\"; filename=\"a.xlsx\"\r\n\r\n"
                .to_vec();
        part.resize(64 * 1024, b'A');
        while sent < len {
            let n = part.len().min(len - sent);
            let ok = if chunked {
                w.write_all(format!("{n:x}\r\n").as_bytes())
                    .and_then(|_| w.write_all(&part[..n]))
                    .and_then(|_| w.write_all(b"\r\n"))
            } else {
                w.write_all(&part[..n])
            };
            if ok.is_err() {
                return sent;
            }
            sent += n;
        }
        if chunked {
            let _ = w.write_all(b"0\r\n\r\n");
        }
        sent
    });
    let mut first = [0u8; 12];
    let status = match s.read_exact(&mut first) {
        Ok(()) => String::from_utf8_lossy(&first)
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        Err(e) => panic!("no answer: {e}"),
    };
    // Close our side: a writer still blocked on a full socket stops.
    let _ = s.shutdown(std::net::Shutdown::Both);
    (status, writer.join().unwrap())
}

#[test]
fn large_uploads_are_refused_before_their_body_is_read() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    let budi = login(a, "budi", "sandi-budi-123").unwrap();
    let before = web.memory_kb("VmRSS");
    const BODY: usize = 20 * 1024 * 1024;
    // 60 anonymous posts of 20 MB each, and 20 from an officer (not allowed to
    // upload), 10 at a time.
    let mut results = Vec::new();
    for round in 0..8 {
        let threads: Vec<_> = (0..10)
            .map(|_| {
                let cookie = if round < 6 {
                    String::new()
                } else {
                    siti.cookie.clone()
                };
                std::thread::spawn(move || big_upload(a, &cookie, BODY, false))
            })
            .collect();
        results.extend(threads.into_iter().map(|t| t.join().unwrap()));
    }
    for (i, (status, _)) in results.iter().enumerate() {
        let expected = if i < 60 { 303 } else { 403 };
        assert_eq!(*status, expected, "request {i}: {results:?}");
    }
    // Each answer came before the body was taken: the server never read it (what
    // a writer got rid of sits in the kernel's socket buffers).
    assert!(
        results.iter().all(|(_, sent)| *sent < BODY),
        "a body was read whole before the answer: {results:?}"
    );
    // A supervisor's upload over the limit: refused by its declared size, and,
    // without one, once the stream passes the limit; nothing is kept.
    let (status, _) = big_upload(a, &budi.cookie, BODY + 1024 * 1024, false);
    assert_eq!(status, 413);
    let (status, _) = big_upload(a, &budi.cookie, BODY + 1024 * 1024, true);
    assert_eq!(status, 413);
    assert!(
        p.files("var/uploads").is_empty(),
        "{:?}",
        p.files("var/uploads")
    );

    let peak = web.memory_kb("VmHWM");
    let now = web.memory_kb("VmRSS");
    // The bodies add up to 1.6 GB; what they cost the server stays small.
    assert!(
        peak < before + 100 * 1024 && now < before + 100 * 1024,
        "memory: {before} kB before, {now} kB after, {peak} kB at the peak"
    );
    // The server still serves.
    assert_eq!(budi.get(a, "/schedules").status, 200);
}

#[test]
fn an_upload_must_be_the_bots_workbook() {
    let p = dashboard_project();
    p.write(
        "bots/lab/bot.toml",
        "name = \"lab\"\n[input]\nworkbook = \"masuk.xlsx\"\nrequired = [\"No\", \"Nama\"]\n",
    );
    let web = WebServer::start(&p);
    let a = web.addr;
    let budi = login(a, "budi", "sandi-budi-123").unwrap();
    let refused = |file: &str, data: &[u8]| {
        let r = upload(a, &budi, "lab-pagi", &budi.csrf, file, data);
        assert_eq!(r.status, 422, "{file}: {}", r.text());
        assert!(
            p.files("var/uploads").is_empty(),
            "{:?}",
            p.files("var/uploads")
        );
        let text = r.text();
        assert!(text.contains("tidak dapat dipakai"), "{text}");
        assert!(text.contains("id=\"logout\""), "with the menu: {text}");
        text
    };
    let garbage = refused("masuk.xlsx", b"PK\x03\x04 not a workbook at all");
    assert!(garbage.contains("&quot;masuk.xlsx&quot;"), "{garbage}");
    assert!(
        !garbage.contains(".upload-"),
        "no temporary path: {garbage}"
    );
    let html = refused(
        "masuk.xls",
        b"<html><table><tr><td>No</td></tr></table></html>",
    );
    assert!(html.contains("web page"), "{html}");
    let lacking = refused(
        "masuk.xlsx",
        &workbook_bytes(&["No", "Alamat"], &[&["1", "x"]]),
    );
    assert!(
        lacking.contains("lacks the required column &quot;Nama&quot;"),
        "{lacking}"
    );
    let empty = refused("masuk.csv", b"No,Nama\n");
    assert!(empty.contains("no rows"), "{empty}");

    // The right workbook, as .xlsx and as .csv, is kept and requested.
    let good = workbook_bytes(&["No", "Nama"], &[&["1", "Ani"], &["2", "Budi"]]);
    assert_eq!(
        upload(a, &budi, "lab-pagi", &budi.csrf, "masuk.xlsx", &good).status,
        303
    );
    assert_eq!(
        upload(
            a,
            &budi,
            "lab-pagi",
            &budi.csrf,
            "masuk.csv",
            b"No,Nama\n1,Ani\n"
        )
        .status,
        303
    );
    let kept = p.files("var/uploads");
    assert_eq!(kept.len(), 2, "{kept:?}");
    let mut store = Store::open(p.path("var/juru.db")).unwrap();
    assert_eq!(store.take_requests().unwrap().len(), 2);
}

#[test]
fn unknown_names_take_as_long_as_known_ones() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    // The least of three tries each: a busy machine only makes answers slower,
    // never faster. Without the dummy check an unknown name answers ~16x faster.
    let time = |user: &str| {
        (0..3)
            .map(|_| {
                let (cookie, csrf) = login_form(a, &[]);
                let body = format!("csrf={csrf}&user={user}&password=salah-sekali");
                let started = Instant::now();
                let r = http(a, "POST", "/login", &cookie, Some(&body));
                assert_eq!(r.status, 401);
                started.elapsed()
            })
            .min()
            .unwrap()
    };
    let known = time("siti");
    let unknown = time("tidak-ada");
    assert!(
        unknown * 4 >= known,
        "unknown name {unknown:?}, known name {known:?}"
    );
}

#[test]
fn a_hard_link_to_a_file_outside_is_not_served() {
    let p = dashboard_project();
    std::fs::hard_link(p.path("secret.txt"), p.path("var/runs/r1/hard.png")).unwrap();
    std::fs::hard_link(
        p.path("secret.txt"),
        p.path("var/runs/r1/screenshots/hard.txt"),
    )
    .unwrap();
    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    for path in [
        "/files/r1/hard.png",
        "/files/r1/screenshots/hard.txt",
        "/files/r1/escape.png",
    ] {
        let r = siti.get(a, path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(!r.text().contains("top secret"), "{path}");
    }
    // Ordinary files are still served.
    assert_eq!(siti.get(a, "/files/r1/output.xlsx").body, b"PK workbook");
}

/// The security headers every answer must carry.
fn assert_guarded(r: &Resp, what: &str) {
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"));
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline"),
        "{what}: {csp}"
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
    assert!(
        matches!(
            r.header("referrer-policy"),
            Some("no-referrer" | "same-origin")
        ),
        "{what}"
    );
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
}

/// No inline script in a page: every `<script` has a `src`, no `on...=` handler.
fn assert_no_inline_script(page: &str, what: &str) {
    let lower = page.to_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag = &lower[at..at + lower[at..].find('>').unwrap()];
        assert!(tag.contains(" src="), "{what}: inline script {tag}");
    }
    for handler in [
        " onload=",
        " onclick=",
        " onerror=",
        " onsubmit=",
        "javascript:",
    ] {
        assert!(!lower.contains(handler), "{what}: {handler}");
    }
}

#[test]
fn every_answer_carries_the_security_headers() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let login_page = http(a, "GET", "/login", "", None);
    assert_guarded(&login_page, "/login");
    assert_no_inline_script(&login_page.text(), "/login");
    assert_guarded(&http(a, "GET", "/", "", None), "/ anonymous");
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    for path in [
        "/",
        "/schedules",
        "/runs",
        "/runs/r1",
        "/exceptions",
        "/trends",
        "/fleet",
        "/nope",
    ] {
        let r = siti.get(a, path);
        assert_guarded(&r, path);
        assert_no_inline_script(&r.text(), path);
    }
    for path in [
        "/files/r1/output.xlsx",
        "/files/r1/screenshots/row-0003.png",
    ] {
        let r = siti.get(a, path);
        assert_eq!(r.status, 200, "{path}");
        assert_guarded(&r, path);
    }
    // The script the pages use is a file of the dashboard.
    let js = http(a, "GET", "/static/juru.js", "", None);
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.text().starts_with("// juru dashboard"));
    assert_eq!(http(a, "GET", "/static/juru.css", "", None).status, 200);
    // Plain http, no trusted proxy: a forged X-Forwarded-Proto changes nothing.
    let r = http_with(
        a,
        "GET",
        "/login",
        "",
        &[("X-Forwarded-Proto", "https")],
        None,
    );
    assert!(!r.header("set-cookie").unwrap().contains("Secure"));
}

#[test]
fn cookies_are_secure_when_the_trusted_proxy_says_https() {
    let p = dashboard_project();
    p.write(
        "config/agent.toml",
        "[browser]\nheadless = true\n[web]\ntrusted_proxy = [\"127.0.0.1\"]\n",
    );
    let web = WebServer::start(&p);
    let a = web.addr;
    let https = [
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-For", "203.0.113.9"),
    ];
    let page = http_with(a, "GET", "/login", "", &https, None);
    let set = page.header("set-cookie").unwrap().to_string();
    assert!(
        set.contains("; Secure") && set.contains("HttpOnly"),
        "{set}"
    );
    let login_cookie = set.split(';').next().unwrap().to_string();
    let r = http_with(
        a,
        "POST",
        "/login",
        &login_cookie,
        &https,
        Some(&format!(
            "csrf={}&user=siti&password=sandi-siti-123",
            crate::web::csrf_of(&page.text())
        )),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let session = r.headers_named("set-cookie");
    assert!(
        session
            .iter()
            .any(|c| c.starts_with("juru_session=") && c.contains("; Secure")),
        "{session:?}"
    );
    // Over the proxy's plain http the cookie is not marked.
    let plain = http_with(
        a,
        "GET",
        "/login",
        "",
        &[("X-Forwarded-Proto", "http")],
        None,
    );
    assert!(!plain.header("set-cookie").unwrap().contains("Secure"));
}

#[test]
fn only_exceptions_can_be_resolved_or_requeued() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    // Item 0 of r1 is done.
    for action in ["resolve", "requeue"] {
        let r = siti.post(a, &format!("/exceptions/{action}"), "run=r1&idx=0");
        assert_eq!(r.status, 409, "{action}: {}", r.text());
        assert!(r.text().contains("bukan pengecualian"), "{}", r.text());
    }
    let store = Store::open(p.path("var/juru.db")).unwrap();
    assert!(store.actions(None, 10).unwrap().is_empty());
    assert_eq!(store.runs(None, 10).unwrap().len(), 1, "no re-run started");
    // Item 1, a business exception, is.
    assert_eq!(
        siti.post(a, "/exceptions/resolve", "run=r1&idx=1").status,
        303
    );
    assert_eq!(store.actions(None, 10).unwrap().len(), 1);
}

#[test]
fn uploads_get_unique_names_and_old_ones_are_removed() {
    let p = dashboard_project();
    p.write("var/uploads/20250101-000000-aaaa-lama.xlsx", "old");
    p.write("var/uploads/20260101-000000-bbbb-baru.xlsx", "recent");
    let forty_days = Duration::from_secs(40 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(p.path("var/uploads/20250101-000000-aaaa-lama.xlsx"))
        .unwrap()
        .set_modified(std::time::SystemTime::now() - forty_days)
        .unwrap();
    let web = WebServer::start(&p);
    let a = web.addr;
    wait_for(30, "the old upload to go", || {
        (!p.path("var/uploads/20250101-000000-aaaa-lama.xlsx")
            .exists())
        .then_some(())
    });
    assert!(p
        .path("var/uploads/20260101-000000-bbbb-baru.xlsx")
        .exists());

    // Two uploads of one name at once: both kept, each under its own name.
    let budi = login(a, "budi", "sandi-budi-123").unwrap();
    let one = workbook_bytes(&["No"], &[&["1"]]);
    let two = workbook_bytes(&["No"], &[&["2"]]);
    let (c1, c2) = (budi.csrf.clone(), budi.csrf.clone());
    let b1 = Login {
        cookie: budi.cookie.clone(),
        csrf: c1.clone(),
    };
    let b2 = Login {
        cookie: budi.cookie.clone(),
        csrf: c2.clone(),
    };
    let t1 = std::thread::spawn(move || upload(a, &b1, "lab-pagi", &c1, "masuk.xlsx", &one).status);
    let t2 = std::thread::spawn(move || upload(a, &b2, "lab-pagi", &c2, "masuk.xlsx", &two).status);
    assert_eq!((t1.join().unwrap(), t2.join().unwrap()), (303, 303));
    let kept: Vec<String> = p
        .files("var/uploads")
        .into_iter()
        .filter(|f| f.ends_with("-masuk.xlsx"))
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let contents: std::collections::BTreeSet<Vec<u8>> = kept
        .iter()
        .map(|f| std::fs::read(p.path(f)).unwrap())
        .collect();
    assert_eq!(contents.len(), 2, "one upload overwrote the other");
}

#[test]
fn framework_errors_get_the_dashboards_page() {
    let p = dashboard_project();
    let web = WebServer::start(&p);
    let a = web.addr;
    let siti = login(a, "siti", "sandi-siti-123").unwrap();
    let page = |r: &Resp, code: u16, text: &str| {
        let body = r.text();
        assert_eq!(r.status, code, "{body}");
        assert!(
            r.header("content-type").unwrap().starts_with("text/html"),
            "{body}"
        );
        assert!(body.contains(text), "{body}");
        assert!(
            !body.contains("Failed to") && !body.contains("deserialize"),
            "{body}"
        );
    };
    let r = siti.post(a, "/exceptions/resolve", "run=r1&idx=abc");
    page(&r, 422, "Permintaan tidak sah");
    assert!(r.text().contains("id=\"logout\""), "with the menu");
    page(
        &siti.get(a, "/runs?bot=a&bot=b"),
        400,
        "Permintaan tidak sah",
    );
    page(&siti.get(a, "/tidak-ada"), 404, "Halaman tidak ditemukan");
    page(&siti.get(a, "/logout"), 405, "tidak menerima");
    page(
        &siti.post(a, "/schedules/lab-pagi/pause", ""),
        403,
        "tidak berhak",
    );
    let big = format!("lang=en&x={}", "a".repeat(3 * 1024 * 1024));
    page(&siti.post(a, "/language", &big), 413, "terlalu besar");
    // In English for an English session.
    assert_eq!(siti.post(a, "/language", "lang=en").status, 303);
    page(
        &siti.post(a, "/exceptions/requeue", "run=r1&idx=1.5"),
        422,
        "Bad request",
    );
    page(&siti.get(a, "/runs/nope"), 404, "No such run");
    // Someone not logged in gets the page in both languages.
    page(
        &http(a, "GET", "/tidak-ada", "", None),
        404,
        "Halaman tidak ditemukan. / No such page.",
    );
    // A login post that is not a form.
    page(
        &http(a, "POST", "/login", "", None),
        415,
        "Permintaan tidak sah",
    );
}
