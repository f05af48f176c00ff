//! The dashboard's routes: each handler checks the session (and for forms the CSRF
//! token and the role), reads the store on a blocking thread and renders HTML.
//! One middleware ([`guard`]) works out who the client is, adds the security
//! headers to every answer and replaces the web framework's plain-text errors with
//! the dashboard's own page.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::extract::{ConnectInfo, Extension, Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Deserialize;

use super::files::{self, Refused};
use super::upload::{self, Event};
use super::users::{self, Role};
use super::{lock, same_token, token, App, Client, Session, Shared, LOGIN_COOKIE, SESSION_COOKIE};
use crate::config::{Language, Schedules};
use crate::run::{self, RunOptions, Selection};
use crate::schedule::{self, Occurrence};
use crate::store::actions::{kind, NewAction};
use crate::store::{state, ItemRecord, Refusal, RunRecord, Store, StoreError};

pub(super) fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(today))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/language", post(language))
        .route("/schedules", get(schedules_page))
        .route("/schedules/{name}/{action}", post(schedule_action))
        .route("/schedules/{name}/upload", post(schedule_upload))
        .route("/runs", get(runs_page))
        .route("/runs/{id}", get(run_page))
        .route("/files/{id}/{*path}", get(run_file))
        .route("/exceptions", get(exceptions_page))
        .route("/exceptions.xlsx", get(exceptions_export))
        .route("/trends", get(super::trends::trends_page))
        .route("/fleet", get(super::fleet::fleet_page))
        .route("/exceptions/{action}", post(exception_action))
        .route("/users", get(users_page))
        .route("/metrics", get(super::metrics::metrics))
        .route("/static/juru.css", get(style_sheet))
        .route("/static/juru.js", get(script))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// The Content-Security-Policy of every answer: nothing inline, nothing from
/// elsewhere, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Around every request: works out the client ([`super::client`], put in the
/// request for the handlers), gives the framework's own errors (plain text in
/// English) the dashboard's page in the user's language, and adds the security
/// headers; cookies get `Secure` when the client came over https.
async fn guard(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let client = super::client(peer, req.headers(), &app.config.web.trusted_proxies);
    req.extensions_mut().insert(client);
    let headers = req.headers().clone();
    let assets = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let code = resp.status();
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if (code.is_client_error() || code.is_server_error()) && !html {
        let said = axum::body::to_bytes(std::mem::take(resp.body_mut()), 4096)
            .await
            .unwrap_or_default();
        tracing::info!(status = code.as_u16(), said = %String::from_utf8_lossy(&said), "dashboard: refused a request");
        let s = app.session(&headers);
        resp = error_page(s.as_ref(), code, &framework_error(s.as_ref(), code));
    }
    let h = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("x-content-type-options", "nosniff"),
        (
            "cache-control",
            if assets { "max-age=3600" } else { "no-store" },
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if client.https {
        let cookies: Vec<HeaderValue> = h
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| {
                if v.contains("; Secure") {
                    HeaderValue::from_str(v).ok()
                } else {
                    HeaderValue::from_str(&format!("{v}; Secure")).ok()
                }
            })
            .collect();
        h.remove(header::SET_COOKIE);
        for c in cookies {
            h.append(header::SET_COOKIE, c);
        }
    }
    resp
}

/// What to tell a person about an error of the web framework (its own text is
/// technical English; it goes to the log).
fn framework_error(s: Option<&Session>, code: StatusCode) -> String {
    let say = |id: &str, en: &str| match s {
        Some(s) => t(s.english, id, en).to_string(),
        None => format!("{id} / {en}"),
    };
    match code {
        StatusCode::BAD_REQUEST
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::UNSUPPORTED_MEDIA_TYPE => say(
            "Permintaan tidak sah: isian formulir atau alamat halaman salah.",
            "Bad request: a form field or the page address has a wrong value.",
        ),
        StatusCode::NOT_FOUND => say("Halaman tidak ditemukan.", "No such page."),
        StatusCode::METHOD_NOT_ALLOWED => say(
            "Halaman ini tidak menerima permintaan semacam ini.",
            "This page does not take this kind of request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => say(
            "Data yang dikirim terlalu besar.",
            "What was sent is too large.",
        ),
        StatusCode::FORBIDDEN => say(
            "Anda tidak berhak melakukan ini.",
            "You are not allowed to do this.",
        ),
        other => {
            let code = other.as_u16();
            say(
                &format!("Terjadi kesalahan (kode {code})."),
                &format!("Something went wrong (code {code})."),
            )
        }
    }
}

async fn not_found() -> StatusCode {
    // The guard gives it the dashboard's page.
    StatusCode::NOT_FOUND
}

async fn style_sheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// The dashboard's only script, served as a file (the Content-Security-Policy
/// allows no inline script). Nothing needs it at present; the file stays so that
/// pages keep one place for behaviour.
const SCRIPT: &str = "// juru dashboard\n";

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

// ---- small helpers ----

/// Indonesian or English text.
pub(super) fn t<'a>(en: bool, id: &'a str, english: &'a str) -> &'a str {
    if en {
        english
    } else {
        id
    }
}

/// HTML-escapes text.
pub(super) fn esc(s: &str) -> String {
    crate::report::escape_html(s)
}

/// Percent-encodes one URL path segment or query value.
pub(super) fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An error page for someone not logged in (both languages are in `text`).
fn status_page(code: StatusCode, text: &str) -> Response {
    (
        code,
        Html(format!(
            "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>juru</title><link rel=\"stylesheet\" href=\"/static/juru.css\"></head>\
<body><header><strong>juru</strong></header><main><p class=\"bad\" id=\"error\">{}</p><p><a href=\"/\">juru</a></p></main></body></html>",
            esc(text)
        )),
    )
        .into_response()
}

/// An error page: in the user's language and with the menu when logged in.
fn error_page(s: Option<&Session>, code: StatusCode, text: &str) -> Response {
    let Some(s) = s else {
        return status_page(code, text);
    };
    let title = format!("{} {}", t(s.english, "Galat", "Error"), code.as_u16());
    let body = format!(
        "<p class=\"bad\" id=\"error\">{}</p><p><a href=\"/\">{}</a></p>",
        esc(text),
        t(s.english, "Kembali ke Hari ini", "Back to Today")
    );
    (code, layout(s, "", &title, &body)).into_response()
}

fn forbidden(s: &Session) -> Response {
    error_page(
        Some(s),
        StatusCode::FORBIDDEN,
        t(
            s.english,
            "Anda tidak berhak melakukan ini.",
            "You are not allowed to do this.",
        ),
    )
}

/// The session of a form post: logged in (else to the login page) and carrying the
/// session's CSRF token (else refused).
fn form_session(app: &Shared, headers: &HeaderMap, csrf: &str) -> Result<Session, Box<Response>> {
    let Some(s) = app.session(headers) else {
        return Err(Box::new(to_login()));
    };
    if !same_token(&s.csrf, csrf) {
        return Err(Box::new(bad_csrf(Some(&s))));
    }
    Ok(s)
}

fn bad_csrf(s: Option<&Session>) -> Response {
    let text = match s {
        Some(s) => t(
            s.english,
            "Formulir kedaluwarsa atau tidak sah (token CSRF). Muat ulang halaman dan coba lagi.",
            "The form is stale or forged (CSRF token). Reload the page and try again.",
        ),
        None => "Formulir kedaluwarsa atau tidak sah (token CSRF). Muat ulang halaman dan coba lagi. / The form is stale or forged (CSRF token). Reload the page and try again.",
    };
    error_page(s, StatusCode::FORBIDDEN, text)
}

pub(super) fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

/// Runs `f` on the store on a blocking thread.
pub(super) async fn with_store<T: Send + 'static>(
    app: &Shared,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    let location = app.config.store_location(&app.paths.data);
    let joined = tokio::task::spawn_blocking(move || {
        let mut store = Store::open(location)?;
        f(&mut store)
    })
    .await;
    match joined {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "dashboard: store error");
            Err(status_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            ))
        }
        Err(e) => Err(status_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
        )),
    }
}

fn load_schedules(app: &App) -> Result<Schedules, String> {
    Schedules::load(&app.paths.config, app.config.time_zone, None).map_err(|p| p.to_string())
}

pub(super) fn local(app: &App, at: &str) -> String {
    DateTime::parse_from_rfc3339(at)
        .map(|t| {
            t.with_timezone(&app.config.time_zone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| at.to_string())
}

fn duration(en: bool, start: &str, end: Option<&str>) -> String {
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let (Some(a), b) = (parse(start), end.and_then(parse)) else {
        return String::new();
    };
    let secs = (b.unwrap_or_else(Utc::now) - a).num_seconds().max(0) as u64;
    crate::report::human_duration(secs, if en { Language::En } else { Language::Id })
}

/// `Sen 30/11/2026 07:30 WIB` on Indonesian pages, `Mon 30/11/2026 07:30 WIB` on
/// English ones.
fn wall<T: chrono::TimeZone>(en: bool, t: &DateTime<T>) -> String
where
    T::Offset: std::fmt::Display,
{
    use chrono::Datelike;
    const HARI: [&str; 7] = ["Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"];
    let day = if en {
        t.format("%a").to_string()
    } else {
        HARI[t.weekday().num_days_from_monday() as usize].to_string()
    };
    let seconds = if chrono::Timelike::second(t) == 0 {
        ""
    } else {
        ":%S"
    };
    format!("{day} {}", t.format(&format!("%d/%m/%Y %H:%M{seconds} %Z")))
}

/// A naive local wall time with its weekday, as [`wall`] (no zone).
fn wall_naive(en: bool, t: &chrono::NaiveDateTime) -> String {
    use chrono::Datelike;
    const HARI: [&str; 7] = ["Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"];
    let day = if en {
        t.format("%a").to_string()
    } else {
        HARI[t.weekday().num_days_from_monday() as usize].to_string()
    };
    format!("{day} {}", t.format("%d/%m/%Y %H:%M"))
}

/// What an officer or supervisor reads for an item: a system exception's
/// technical text only for admins (the IT staff), a plain sentence for others.
fn shown_reason(s: &Session, state_name: &str, reason: Option<&str>) -> String {
    if state_name == state::SYSTEM_EXCEPTION && s.role != Role::Admin {
        return t(
            s.english,
            crate::report::SYSTEM_REASON_ID,
            crate::report::SYSTEM_REASON_EN,
        )
        .to_string();
    }
    reason.unwrap_or("").to_string()
}

fn state_word(en: bool, s: &str) -> &'static str {
    match s {
        "running" => t(en, "berjalan", "running"),
        "finished" => t(en, "selesai", "finished"),
        "failed" => t(en, "gagal", "failed"),
        "cancelled" => t(en, "dihentikan", "cancelled"),
        "interrupted" => t(en, "terputus", "interrupted"),
        "closed" => t(en, "ditutup", "closed"),
        state::DONE => t(en, "berhasil", "done"),
        state::PENDING => t(en, "menunggu", "pending"),
        state::IN_PROGRESS => t(en, "diproses", "in progress"),
        state::BUSINESS_EXCEPTION => t(en, "pengecualian bisnis", "business exception"),
        state::SYSTEM_EXCEPTION => t(en, "pengecualian sistem", "system exception"),
        state::NEEDS_VERIFICATION => t(en, "perlu verifikasi", "needs verification"),
        state::SKIPPED => t(en, "dilewati", "skipped"),
        _ => "?",
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
header{background:#14426b;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none}header a.on{text-decoration:underline}
header form{display:inline;margin:0}header .me{margin-left:auto}
main{padding:1em 1.4em}table{border-collapse:collapse;background:#fff;margin:.5em 0 1.2em}
th,td{border:1px solid #d5dbe3;padding:.3em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#e8eef5}.bad{color:#a31515}.ok{color:#146b2e}.muted{color:#6b7785}
button{cursor:pointer}img.thumb{width:160px;border:1px solid #ccc}.shot-size{display:block;font-size:.8em}
.card{display:inline-block;background:#fff;border:1px solid #d5dbe3;padding:.5em 1em;margin:0 .6em .6em 0}
.flash{background:#fff7d6;border:1px solid #e6c95c;padding:.4em .8em}";

/// The page frame with the menu.
pub(super) fn layout(s: &Session, here: &str, title: &str, body: &str) -> Response {
    layout_with(s, here, title, "", body)
}

/// The page frame with the menu and `head` added to the page's head.
fn layout_with(s: &Session, here: &str, title: &str, head: &str, body: &str) -> Response {
    let en = s.english;
    let mut nav = String::new();
    let mut items = vec![
        ("/", t(en, "Hari ini", "Today")),
        ("/schedules", t(en, "Jadwal", "Schedules")),
        ("/runs", t(en, "Proses", "Runs")),
        ("/exceptions", t(en, "Pengecualian", "Exceptions")),
        ("/trends", t(en, "Tren", "Trends")),
        ("/fleet", t(en, "Armada", "Fleet")),
    ];
    if s.role == Role::Admin {
        items.push(("/users", t(en, "Pengguna", "Users")));
    }
    for (href, label) in items {
        let on = if href == here { " class=\"on\"" } else { "" };
        let _ = write!(nav, "<a href=\"{href}\"{on}>{label}</a>");
    }
    let csrf = esc(&s.csrf);
    let other = if en {
        ("id", "Bahasa Indonesia")
    } else {
        ("en", "English")
    };
    Html(format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{title} · juru</title><link rel=\"stylesheet\" href=\"/static/juru.css\"><script src=\"/static/juru.js\" defer></script>{head}</head><body>\
<header><strong>juru</strong>{nav}<span class=\"me\">{user} ({role})</span>\
<form method=\"post\" action=\"/language\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{ol}\"><button id=\"language\">{olabel}</button></form>\
<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button id=\"logout\">{logout}</button></form></header>\
<main><h1>{title}</h1>{body}</main></body></html>",
        lang = if en { "en" } else { "id" },
        title = esc(title),
        user = esc(&s.user),
        role = s.role.word(),
        ol = other.0,
        olabel = other.1,
        logout = t(en, "Keluar", "Log out"),
    ))
    .into_response()
}

fn hidden_csrf(s: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&s.csrf)
    )
}

// ---- login ----

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// At most this many unanswered login forms are remembered.
const MAX_LOGIN_FORMS: usize = 10_000;

fn login_html(csrf: &str, message: Option<&str>) -> String {
    let message = message
        .map(|m| format!("<p class=\"bad\" id=\"message\">{}</p>", esc(m)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>Masuk · juru</title><link rel=\"stylesheet\" href=\"/static/juru.css\"></head>\
<body><header><strong>juru</strong></header><main><h1>Masuk / Log in</h1>{message}\
<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<p><label>Nama pengguna / User <input name=\"user\" id=\"user\" autocomplete=\"username\"></label></p>\
<p><label>Kata sandi / Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\"></label></p>\
<p><button id=\"login\">Masuk</button></p></form></main></body></html>",
        csrf = esc(csrf)
    )
}

/// A login form with a fresh CSRF token in a cookie and in the form.
fn login_response(app: &App, code: StatusCode, message: Option<&str>) -> Response {
    let csrf = token();
    {
        let mut tokens = lock(&app.login_tokens);
        tokens.retain(|_, at| at.elapsed() < super::SESSION_IDLE);
        if tokens.len() >= MAX_LOGIN_FORMS {
            // A flood of login pages: the oldest forms stop working, memory stays bounded.
            tokens.clear();
        }
        tokens.insert(csrf.clone(), std::time::Instant::now());
    }
    (
        code,
        [(
            header::SET_COOKIE,
            format!("{LOGIN_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict"),
        )],
        Html(login_html(&csrf, message)),
    )
        .into_response()
}

async fn login_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if app.session(&headers).is_some() {
        return Redirect::to("/").into_response();
    }
    login_response(&app, StatusCode::OK, None)
}

async fn login(
    State(app): State<Shared>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let cookie_token = super::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let known = lock(&app.login_tokens).remove(&form.csrf).is_some();
    if form.csrf.is_empty() || !known || !same_token(&cookie_token, &form.csrf) {
        return bad_csrf(None);
    }
    // Counted before the password is checked: parallel guesses wait here.
    let Some(attempt) = app.begin_attempt(&form.user, client.ip) else {
        tracing::info!(user = %form.user, ip = %client.ip, "dashboard: login refused (too many failed attempts)");
        return login_response(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Terlalu banyak percobaan gagal; coba lagi dalam 15 menit. / Too many failed attempts; try again in 15 minutes."),
        );
    };
    let users = app.users.users();
    let (name, password) = (form.user.clone(), form.password);
    let checked = tokio::task::spawn_blocking(move || match users.as_ref() {
        Ok(users) => Ok(users::authenticate(users, &name, &password)),
        Err(e) => Err(e.clone()),
    })
    .await;
    let user = match checked {
        Ok(Ok(u)) => u,
        Ok(Err(e)) => return status_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
        Err(e) => return status_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let Some(user) = user else {
        tracing::info!(user = %form.user, ip = %client.ip, "dashboard: failed login");
        return login_response(
            &app,
            StatusCode::UNAUTHORIZED,
            Some("Nama pengguna atau kata sandi salah. / Wrong user name or password."),
        );
    };
    app.succeeded(attempt);
    let id = token();
    {
        let mut sessions = lock(&app.sessions);
        sessions.retain(|_, s| s.last.elapsed() <= super::SESSION_IDLE);
        sessions.insert(
            id.clone(),
            Session {
                user: user.name.clone(),
                role: user.role,
                hash: user.password_hash.clone(),
                csrf: token(),
                english: user.english,
                last: std::time::Instant::now(),
            },
        );
    }
    tracing::info!(user = %user.name, ip = %client.ip, "dashboard: logged in");
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict"),
            ),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
}

async fn logout(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = form_session(&app, &headers, &form.csrf) {
        return *r;
    }
    if let Some(id) = super::cookie(&headers, SESSION_COOKIE) {
        lock(&app.sessions).remove(&id);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
            ),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}

async fn language(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = form_session(&app, &headers, &form.csrf) {
        return *r;
    }
    if let Some(id) = super::cookie(&headers, SESSION_COOKIE) {
        if let Some(s) = lock(&app.sessions).get_mut(&id) {
            s.english = form.lang == "en";
        }
    }
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .map(|u| u.path().to_string())
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    Redirect::to(&back).into_response()
}

// ---- pages ----

fn run_row(app: &App, en: bool, r: &RunRecord) -> String {
    let state_class = if r.state == "failed" { "bad" } else { "" };
    format!(
        "<tr><td><a href=\"/runs/{id_enc}\">{id}</a></td><td>{bot}</td><td>{trigger}</td><td class=\"{state_class}\">{state}</td><td>{started}</td><td>{dur}</td><td>{done}/{total}</td><td>{exc}</td></tr>",
        id_enc = enc(&r.id),
        id = esc(&r.id),
        bot = esc(&r.bot),
        trigger = esc(&r.trigger),
        state = state_word(en, r.shown_state()),
        started = local(app, &r.started_at),
        dur = duration(en, &r.started_at, r.finished_at.as_deref()),
        done = r.done,
        total = r.total,
        exc = r.business + r.system + r.needs_verification,
    )
}

fn runs_table(app: &App, en: bool, runs: &[RunRecord], id: &str) -> String {
    if runs.is_empty() {
        return format!(
            "<p class=\"muted\" id=\"{id}\">{}</p>",
            t(en, "Tidak ada.", "None.")
        );
    }
    let mut out = format!(
        "<table id=\"{id}\"><tr><th>{}</th><th>Bot</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        t(en, "Proses", "Run"),
        t(en, "Pemicu", "Trigger"),
        t(en, "Status", "State"),
        t(en, "Mulai", "Started"),
        t(en, "Durasi", "Duration"),
        t(en, "Selesai/total", "Done/total"),
        t(en, "Pengecualian", "Exceptions"),
    );
    for r in runs {
        out.push_str(&run_row(app, en, r));
    }
    out.push_str("</table>");
    out
}

async fn today(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    let schedules = load_schedules(&app);
    let names: Vec<String> = schedules
        .as_ref()
        .map(|sc| sc.schedules.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let (runs, paused) = match with_store(&app, move |st| {
        let runs = st.runs(None, 500)?;
        let paused = names
            .iter()
            .map(|n| Ok((n.clone(), st.is_paused(n)?)))
            .collect::<Result<BTreeMap<_, _>, StoreError>>()?;
        Ok((runs, paused))
    })
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut body = String::new();
    let running: Vec<RunRecord> = runs
        .iter()
        .filter(|r| r.shown_state() == "running")
        .cloned()
        .collect();
    let _ = write!(body, "<h2>{}</h2>", t(en, "Sedang berjalan", "In progress"));
    if running.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"running\">{}</p>",
            t(en, "Tidak ada proses yang berjalan.", "No run in progress.")
        );
    } else {
        body.push_str("<div id=\"running\" data-live=\"5\">");
        for r in &running {
            let finished = r.total - r.pending;
            let secs = DateTime::parse_from_rfc3339(&r.started_at)
                .map(|a| (Utc::now() - a.with_timezone(&Utc)).num_seconds().max(1))
                .unwrap_or(1);
            let _ = write!(
                body,
                "<div class=\"card\"><a href=\"/runs/{}\">{}</a><br>{} {finished}/{} · {:.1} {} · {} {}</div>",
                enc(&r.id),
                esc(&r.bot),
                t(en, "item", "items"),
                r.total,
                finished as f64 * 60.0 / secs as f64,
                t(en, "item/menit", "items/min"),
                r.business + r.system + r.needs_verification,
                t(en, "pengecualian", "exceptions"),
            );
        }
        body.push_str("</div>");
    }
    let _ = write!(
        body,
        "<h2>{}</h2>",
        t(en, "Jadwal berikutnya", "Next fires")
    );
    match &schedules {
        Err(e) => {
            let _ = write!(body, "<p class=\"bad\">{}</p>", esc(e));
        }
        Ok(sc) if sc.schedules.is_empty() => {
            let _ = write!(
                body,
                "<p class=\"muted\">{}</p>",
                t(en, "Belum ada jadwal.", "No schedules yet.")
            );
        }
        Ok(sc) => {
            let _ = write!(
                body,
                "<table id=\"next\"><tr><th>{}</th><th>Bot</th><th>{}</th></tr>",
                t(en, "Jadwal", "Schedule"),
                t(en, "Berikutnya", "Next")
            );
            for c in &sc.schedules {
                let next = if !c.enabled {
                    t(en, "nonaktif", "disabled").to_string()
                } else if paused.get(&c.name).copied().unwrap_or(false) {
                    t(en, "dijeda", "paused").to_string()
                } else {
                    c.schedule
                        .next_after(Utc::now())
                        .map(|f| schedule::format_local(c.schedule.local(f.at)))
                        .unwrap_or_else(|| "-".into())
                };
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&c.name),
                    esc(&c.bot),
                    esc(&next)
                );
            }
            body.push_str("</table>");
        }
    }
    let week_ago = Utc::now() - chrono::Duration::days(7);
    let failed: Vec<RunRecord> = runs
        .into_iter()
        .filter(|r| r.state == "failed")
        .filter(|r| {
            DateTime::parse_from_rfc3339(&r.started_at)
                .map(|a| a.with_timezone(&Utc) >= week_ago)
                .unwrap_or(false)
        })
        .collect();
    let _ = write!(
        body,
        "<h2>{}</h2>",
        t(en, "Proses gagal (7 hari)", "Failed runs (7 days)")
    );
    body.push_str(&runs_table(&app, en, &failed, "failed"));
    // Live progress without script: the page reloads itself while runs work.
    let head = if running.is_empty() {
        ""
    } else {
        "<meta http-equiv=\"refresh\" content=\"5\">"
    };
    layout_with(&s, "/", t(en, "Hari ini", "Today"), head, &body)
}

async fn schedules_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    let sc = match load_schedules(&app) {
        Ok(sc) => sc,
        Err(e) => {
            return layout(
                &s,
                "/schedules",
                t(en, "Jadwal", "Schedules"),
                &format!("<p class=\"bad\">{}</p>", esc(&e)),
            )
        }
    };
    let names: Vec<String> = sc.schedules.iter().map(|c| c.name.clone()).collect();
    let state = match with_store(&app, move |st| {
        names
            .iter()
            .map(|n| Ok((n.clone(), (st.is_paused(n)?, st.fires(Some(n), 5)?))))
            .collect::<Result<BTreeMap<_, _>, StoreError>>()
    })
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let may = s.role >= Role::Supervisor;
    let mut body = String::new();
    if sc.schedules.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\">{}</p>",
            t(
                en,
                "Belum ada jadwal di config/schedules.toml.",
                "No schedules in config/schedules.toml yet."
            )
        );
    }
    let _ = write!(
        body,
        "<table id=\"schedules\"><tr><th>{}</th><th>Bot</th><th>Status</th><th>{}</th><th>{}</th><th></th></tr>",
        t(en, "Jadwal", "Schedule"),
        t(en, "5 jadwal berikutnya (waktu setempat)", "Next 5 fires (local time)"),
        t(en, "Riwayat", "History"),
    );
    for c in &sc.schedules {
        let (paused, fires) = state.get(&c.name).cloned().unwrap_or_default();
        let status = if !c.enabled {
            t(en, "nonaktif", "disabled")
        } else if paused {
            t(en, "dijeda", "paused")
        } else {
            t(en, "aktif", "active")
        };
        let mut next = String::new();
        // A disabled schedule never fires: no times to list.
        let upcoming = if c.enabled {
            c.schedule.upcoming(Utc::now(), 5)
        } else {
            let _ = write!(next, "<span class=\"muted\">—</span>");
            Vec::new()
        };
        for o in upcoming {
            match o {
                Occurrence::Fire(f) => {
                    let _ = write!(next, "{}<br>", esc(&wall(en, &c.schedule.local(f.at))));
                }
                Occurrence::Skipped {
                    wall: at, reason, ..
                } => {
                    let _ = write!(
                        next,
                        "<span class=\"muted\">{} — {}</span><br>",
                        esc(&wall_naive(en, &at)),
                        esc(&reason.to_string())
                    );
                }
            }
        }
        let mut history = String::new();
        for f in &fires {
            let run = f
                .run_id
                .as_ref()
                .map(|r| format!(" <a href=\"/runs/{}\">{}</a>", enc(r), esc(r)))
                .unwrap_or_default();
            let _ = write!(
                history,
                "{} {}{run}<br>",
                esc(&local(&app, &f.scheduled_for)),
                esc(&f.state)
            );
        }
        let actions = if may && c.enabled {
            let (action, label) = if paused {
                ("resume", t(en, "Lanjutkan", "Resume"))
            } else {
                ("pause", t(en, "Jeda", "Pause"))
            };
            format!(
                "<form method=\"post\" action=\"/schedules/{n}/{action}\">{csrf}<button class=\"{action}\">{label}</button></form>\
<form method=\"post\" action=\"/schedules/{n}/run\">{csrf}<button class=\"run\">{run}</button></form>\
<form method=\"post\" action=\"/schedules/{n}/upload\" enctype=\"multipart/form-data\">{csrf}<input type=\"file\" name=\"input\" accept=\".xlsx,.xlsm,.xls,.xlsb,.ods,.csv\"><button class=\"upload\">{with}</button></form>",
                n = enc(&c.name),
                csrf = hidden_csrf(&s),
                run = t(en, "Jalankan sekarang", "Run now"),
                with = t(en, "Jalankan dengan berkas ini", "Run with this workbook"),
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr id=\"schedule-{id}\"><td>{name}</td><td>{bot}</td><td class=\"status\">{status}</td><td>{next}</td><td>{history}</td><td>{actions}</td></tr>",
            id = esc(&c.name),
            name = esc(&c.name),
            bot = esc(&c.bot),
        );
    }
    body.push_str("</table>");
    layout(&s, "/schedules", t(en, "Jadwal", "Schedules"), &body)
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    run: String,
    #[serde(default)]
    idx: Option<i64>,
}

async fn schedule_action(
    State(app): State<Shared>,
    UrlPath((name, action)): UrlPath<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    let s = match form_session(&app, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let bot = match schedule_bot(&app, &s, &name) {
        Ok(bot) => bot,
        Err(r) => return *r,
    };
    let user = s.user.clone();
    let done = with_store(&app, move |st| {
        let kind = match action.as_str() {
            "pause" => {
                st.set_paused(&name, true)?;
                kind::PAUSED
            }
            "resume" => {
                st.set_paused(&name, false)?;
                kind::RESUMED
            }
            "run" => {
                st.request_run(&bot)?;
                kind::RUN_NOW
            }
            _ => return Ok(false),
        };
        st.record_action(&NewAction {
            user: &user,
            action: kind,
            target: Some(&name),
            ..Default::default()
        })?;
        Ok(true)
    })
    .await;
    match done {
        Ok(true) => Redirect::to("/schedules").into_response(),
        Ok(false) => error_page(
            Some(&s),
            StatusCode::NOT_FOUND,
            t(s.english, "Tindakan tidak dikenal.", "No such action."),
        ),
        Err(r) => r,
    }
}

/// The bot of schedule `name`, for a supervisor (or admin); else the answer to send.
fn schedule_bot(app: &App, s: &Session, name: &str) -> Result<String, Box<Response>> {
    if s.role < Role::Supervisor {
        return Err(Box::new(forbidden(s)));
    }
    let sc = load_schedules(app)
        .map_err(|e| Box::new(error_page(Some(s), StatusCode::INTERNAL_SERVER_ERROR, &e)))?;
    sc.schedules
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.bot.clone())
        .ok_or_else(|| {
            Box::new(error_page(
                Some(s),
                StatusCode::NOT_FOUND,
                t(s.english, "Jadwal tidak dikenal.", "No such schedule."),
            ))
        })
}

/// "Run now" with an uploaded workbook. The login and the role are checked before
/// the body is read; the body is streamed to a temporary file in `<data>/uploads/`
/// (at most [`upload::MAX_BODY`] bytes), the form's CSRF token is checked, the
/// file is read as the bot reads its input (its `[input]` options, its required
/// columns), and only then kept under a unique name and handed to the agent with
/// the request. Whatever is refused leaves nothing behind.
async fn schedule_upload(
    State(app): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    let bot = match schedule_bot(&app, &s, &name) {
        Ok(bot) => bot,
        Err(r) => return *r,
    };
    let too_large = || {
        error_page(
            Some(&s),
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "{} {} MB.",
                t(
                    en,
                    "Berkas terlalu besar; paling besar",
                    "The file is too large; at most"
                ),
                upload::MAX_UPLOAD / (1024 * 1024)
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > upload::MAX_BODY as u64) {
        return too_large();
    }
    let Some(boundary) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(upload::boundary)
    else {
        return error_page(
            Some(&s),
            StatusCode::BAD_REQUEST,
            t(
                en,
                "Formulir unggah tidak sah (multipart/form-data diharapkan).",
                "Not an upload form (multipart/form-data expected).",
            ),
        );
    };
    let bad_form = |why: &str| {
        error_page(
            Some(&s),
            StatusCode::BAD_REQUEST,
            &format!(
                "{}: {why}",
                t(en, "Formulir unggah rusak", "The upload form is damaged")
            ),
        )
    };
    let uploads = app.paths.data.join("uploads");
    if let Err(e) = tokio::fs::create_dir_all(&uploads).await {
        return error_page(
            Some(&s),
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("{}: cannot create: {e}", uploads.display()),
        );
    }
    let cannot_keep = |e: std::io::Error| {
        error_page(
            Some(&s),
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot keep the upload in {}: {e}", uploads.display()),
        )
    };

    // The body, chunk by chunk: the CSRF token is checked as soon as it arrives,
    // the file goes to a temporary file (removed when dropped).
    let mut reader = upload::Reader::new(&boundary);
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    let mut csrf_ok = false;
    let mut file: Option<(String, tempfile::NamedTempFile, tokio::fs::File)> = None;
    let mut file_done = false;
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(error = %e, "dashboard: an upload broke off");
                return bad_form(t(en, "unggahan terputus", "the upload broke off"));
            }
        };
        total += chunk.len();
        if total > upload::MAX_BODY {
            return too_large();
        }
        let events = match reader.push(&chunk) {
            Ok(e) => e,
            Err(upload::Malformed(why)) => return bad_form(why),
        };
        for event in events {
            match event {
                Event::Field { name, value } if name == "csrf" => {
                    if !same_token(&s.csrf, &value) {
                        return bad_csrf(Some(&s));
                    }
                    csrf_ok = true;
                }
                Event::Field { .. } => {}
                Event::FileStart { name, file_name } => {
                    if file.is_some() {
                        file_done = true;
                    }
                    if name != "input" || file_name.is_empty() || file.is_some() {
                        continue;
                    }
                    // Refused before its bytes are written: not a kind of workbook.
                    if let Err(why) = upload::destination(&app.paths.data, &file_name, "", "") {
                        return error_page(Some(&s), StatusCode::BAD_REQUEST, &why);
                    }
                    let tmp = match tempfile::Builder::new()
                        .prefix(".upload-")
                        .suffix(&format!(".{}", upload::extension(&file_name)))
                        .tempfile_in(&uploads)
                    {
                        Ok(t) => t,
                        Err(e) => return cannot_keep(e),
                    };
                    let handle = match tmp.reopen() {
                        Ok(h) => tokio::fs::File::from_std(h),
                        Err(e) => return cannot_keep(e),
                    };
                    file = Some((file_name, tmp, handle));
                }
                Event::FileData(data) => {
                    if let (Some((_, _, handle)), false) = (file.as_mut(), file_done) {
                        size += data.len();
                        if size > upload::MAX_UPLOAD {
                            return too_large();
                        }
                        if let Err(e) = tokio::io::AsyncWriteExt::write_all(handle, &data).await {
                            return cannot_keep(e);
                        }
                    }
                }
            }
        }
    }
    if let Err(upload::Malformed(why)) = reader.finish() {
        return bad_form(why);
    }
    if !csrf_ok {
        return bad_csrf(Some(&s));
    }
    let Some((file_name, tmp, mut handle)) = file else {
        return error_page(
            Some(&s),
            StatusCode::BAD_REQUEST,
            t(
                en,
                "Pilih berkas workbook terlebih dahulu.",
                "Choose a workbook first.",
            ),
        );
    };
    if let Err(e) = tokio::io::AsyncWriteExt::flush(&mut handle).await {
        return cannot_keep(e);
    }
    drop(handle);

    // Read as the bot reads its input; kept only when that works.
    let bots = app.paths.bots.clone();
    let (bot_name, shown) = (bot.clone(), file_name.clone());
    let data_dir = app.paths.data.clone();
    let checked =
        tokio::task::spawn_blocking(move || -> Result<PathBuf, Result<String, String>> {
            let loaded = crate::bot::load(&bots, &bot_name).map_err(|p| Err(p.to_string()))?;
            let read = crate::sheet::read_with(tmp.path(), &loaded.input.read);
            let tmp_shown = tmp.path().display().to_string();
            match read {
                Err(e) => Err(Ok(e
                    .to_string()
                    .replace(&tmp_shown, &format!("\"{shown}\"")))),
                Ok(table) if table.rows.is_empty() => Err(Ok(format!(
                    "\"{shown}\" has no rows to process under its header{}",
                    if table.filtered > 0 {
                        format!(" ({} left out by input.filter)", table.filtered)
                    } else {
                        String::new()
                    }
                ))),
                Ok(_) => {
                    let stamp = Utc::now().format("%Y%m%d-%H%M%S").to_string();
                    let unique = &token()[..8];
                    let dest =
                        upload::destination(&data_dir, &shown, &stamp, unique).map_err(Ok)?;
                    tmp.persist_noclobber(&dest).map_err(|e| {
                        Err(format!(
                            "cannot keep the upload as {}: {}",
                            dest.display(),
                            e.error
                        ))
                    })?;
                    Ok(dest)
                }
            }
        })
        .await;
    let path = match checked {
        Ok(Ok(p)) => p,
        Ok(Err(Ok(why))) => {
            tracing::info!(user = %s.user, bot = %bot, file = %file_name, why = %why, "dashboard: upload refused");
            return error_page(
                Some(&s),
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "{} {why}",
                    t(
                        en,
                        "Berkas ini tidak dapat dipakai bot ini dan tidak disimpan:",
                        "This file cannot be used by this bot and was not kept:"
                    )
                ),
            );
        }
        Ok(Err(Err(e))) => return error_page(Some(&s), StatusCode::INTERNAL_SERVER_ERROR, &e),
        Err(e) => return error_page(Some(&s), StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let user = s.user.clone();
    let input = path.display().to_string();
    let done = with_store(&app, move |st| {
        st.request_run_with(&bot, Some(&input))?;
        st.record_action(&NewAction {
            user: &user,
            action: kind::RUN_NOW,
            target: Some(&name),
            note: Some(&input),
            ..Default::default()
        })?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => Redirect::to("/schedules").into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize, Default)]
struct RunFilter {
    #[serde(default)]
    bot: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    date: String,
}

async fn runs_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(f): Query<RunFilter>,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    let bot = (!f.bot.is_empty()).then(|| f.bot.clone());
    let runs = match with_store(&app, move |st| st.runs(bot.as_deref(), 500)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let runs: Vec<RunRecord> = runs
        .into_iter()
        .filter(|r| f.state.is_empty() || r.state == f.state)
        .filter(|r| f.date.is_empty() || local(&app, &r.started_at).starts_with(&f.date))
        .collect();
    let mut body = String::new();
    let opt = |v: &str, label: &str| {
        format!(
            "<option value=\"{v}\"{}>{label}</option>",
            if f.state == v { " selected" } else { "" }
        )
    };
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/runs\" id=\"filter\">Bot <input name=\"bot\" value=\"{}\"> Status <select name=\"state\">{}{}{}{}</select> \
{} <input name=\"date\" type=\"date\" value=\"{}\"> <button>{}</button></form>",
        esc(&f.bot),
        opt("", t(en, "semua", "all")),
        opt("running", state_word(en, "running")),
        opt("finished", state_word(en, "finished")),
        opt("failed", state_word(en, "failed")),
        t(en, "Tanggal", "Date"),
        esc(&f.date),
        t(en, "Saring", "Filter"),
    );
    body.push_str(&runs_table(&app, en, &runs, "runs"));
    layout(&s, "/runs", t(en, "Proses", "Runs"), &body)
}

/// A cell as the store keeps it (JSON) as a person reads it: dates `15/01/2026`,
/// date-times `15/01/2026 08:30:00`, links by their text.
fn cell_text(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(o) => {
            if let Some(d) = o.get("date").and_then(Value::as_str) {
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_else(|_| d.to_string())
            } else if let Some(d) = o.get("datetime").and_then(Value::as_str) {
                chrono::NaiveDateTime::parse_from_str(d, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|d| d.format("%d/%m/%Y %H:%M:%S").to_string())
                    .unwrap_or_else(|_| d.to_string())
            } else if let Some(f) = o.get("float").and_then(Value::as_f64) {
                f.to_string()
            } else if let Some(link) = o.get("link").and_then(Value::as_str) {
                o.get("text")
                    .and_then(Value::as_str)
                    .unwrap_or(link)
                    .to_string()
            } else {
                v.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// An item's outputs (`[["Nomor", "503/1"], ...]` or an object) as `name: value` lines.
fn item_outputs(outputs: &str) -> String {
    let pairs: Vec<(String, String)> = match serde_json::from_str::<serde_json::Value>(outputs) {
        Ok(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|pair| Some((pair.get(0)?.as_str()?.to_string(), cell_text(pair.get(1)?))))
            .collect(),
        Ok(serde_json::Value::Object(map)) => {
            map.iter().map(|(k, v)| (k.clone(), cell_text(v))).collect()
        }
        _ => Vec::new(),
    };
    pairs
        .iter()
        .map(|(k, v)| format!("<b>{}</b>: {}", esc(k), esc(v)))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// An item's row as `header: value` lines (`headers` and `data` are JSON arrays).
fn item_data(headers: &str, data: &str) -> String {
    let headers: Vec<String> = serde_json::from_str(headers).unwrap_or_default();
    let cell = cell_text;
    let pairs: Vec<(String, String)> = match serde_json::from_str::<serde_json::Value>(data) {
        Ok(serde_json::Value::Array(cells)) => cells
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    headers
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", i + 1)),
                    cell(v),
                )
            })
            .collect(),
        Ok(serde_json::Value::Object(map)) => {
            map.iter().map(|(k, v)| (k.clone(), cell(v))).collect()
        }
        _ => return esc(data),
    };
    pairs
        .iter()
        .map(|(k, v)| format!("<b>{}</b>: {}", esc(k), esc(v)))
        .collect::<Vec<_>>()
        .join("<br>")
}

fn action_word(en: bool, a: &str) -> &str {
    match a {
        kind::RESOLVED => t(en, "diselesaikan manual", "resolved manually"),
        kind::REQUEUED => t(en, "diperbaiki, diulang", "fixed, re-queued"),
        kind::PAUSED => t(en, "dijeda", "paused"),
        kind::RESUMED => t(en, "dilanjutkan", "resumed"),
        kind::RUN_NOW => t(en, "dijalankan sekarang", "run now"),
        other => other,
    }
}

fn screenshot_link(run: &str, shot: Option<&str>) -> String {
    match shot {
        Some(p) => {
            let href = format!(
                "/files/{}/{}",
                enc(run),
                p.split('/').map(enc).collect::<Vec<_>>().join("/")
            );
            format!("<a href=\"{href}\" target=\"_blank\" rel=\"noopener\"><img class=\"thumb\" src=\"{href}\" alt=\"screenshot\"></a>")
        }
        None => String::new(),
    }
}

async fn run_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    let rid = id.clone();
    let found = match with_store(&app, move |st| {
        let Some(run) = st.run(&rid)? else {
            return Ok(None);
        };
        let items = st.items(&rid)?;
        let actions = st.actions(Some(&rid), 200)?;
        let passed = st.passed(&rid)?;
        let children: Vec<RunRecord> = st
            .runs(Some(&run.bot), 500)?
            .into_iter()
            .filter(|r| r.parent.as_deref() == Some(rid.as_str()))
            .collect();
        Ok(Some((run, items, actions, children, passed)))
    })
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some((run, items, actions, children, passed)) = found else {
        return error_page(
            Some(&s),
            StatusCode::NOT_FOUND,
            t(en, "Proses tidak dikenal.", "No such run."),
        );
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<p><span class=\"card\">Bot: {}</span><span class=\"card\" id=\"state\">{}</span><span class=\"card\">{}: {}</span><span class=\"card\">{}: {}</span></p>",
        esc(&run.bot),
        state_word(en, run.shown_state()),
        t(en, "Mulai", "Started"),
        local(&app, &run.started_at),
        t(en, "Durasi", "Duration"),
        duration(en, &run.started_at, run.finished_at.as_deref()),
    );
    let _ = write!(
        body,
        "<p id=\"counts\"><span class=\"card\">total {}</span><span class=\"card ok\">{} {}</span><span class=\"card bad\">{} {}</span><span class=\"card bad\">{} {}</span><span class=\"card\">{} {}</span><span class=\"card\">{} {}</span></p>",
        run.total,
        state_word(en, state::DONE), run.done,
        state_word(en, state::BUSINESS_EXCEPTION), run.business,
        state_word(en, state::SYSTEM_EXCEPTION), run.system,
        state_word(en, state::NEEDS_VERIFICATION), run.needs_verification,
        state_word(en, state::PENDING), run.pending,
    );
    if let Some(e) = &run.error {
        let e = if s.role == Role::Admin {
            e.clone()
        } else {
            crate::report::strip_paths(e)
        };
        let _ = write!(body, "<p class=\"bad\">{}</p>", esc(&e));
    }
    if let Some(p) = &run.parent {
        let _ = write!(
            body,
            "<p>{} <a href=\"/runs/{}\">{}</a></p>",
            t(en, "Mengulang item dari", "Retries items of"),
            enc(p),
            esc(p)
        );
    }
    let dir = PathBuf::from(&run.dir);
    let mut links = Vec::new();
    for (file, label) in [
        ("output.xlsx", "output.xlsx"),
        ("exceptions.xlsx", "exceptions.xlsx"),
    ] {
        if dir.join(file).is_file() {
            links.push(format!(
                "<a id=\"{}\" href=\"/files/{}/{file}\">{label}</a>",
                file.replace('.', "-"),
                enc(&run.id)
            ));
        }
    }
    if !links.is_empty() {
        let _ = write!(
            body,
            "<p>{}: {}</p>",
            t(en, "Unduh", "Download"),
            links.join(" · ")
        );
    }
    if !children.is_empty() {
        let _ = write!(body, "<h2>{}</h2>", t(en, "Proses ulang", "Re-runs"));
        body.push_str(&runs_table(&app, en, &children, "children"));
    }
    // The agent of each item, when the run's items name another agent than this one.
    let show_agents = items
        .iter()
        .filter_map(|i| i.agent.as_deref())
        .any(|a| a != app.config.agent_name);
    let _ = write!(
        body,
        "<h2>Item</h2><table id=\"items\"><tr><th>{}</th><th>Status</th>{}<th>Data</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        t(en, "Baris", "Row"),
        if show_agents {
            format!("<th>{}</th>", t(en, "Agen", "Agent"))
        } else {
            String::new()
        },
        t(en, "Hasil", "Outputs"),
        t(en, "Pesan", "Message"),
        t(en, "Tangkapan layar", "Screenshot"),
    );
    for i in &items {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td>{}<td>{}</td><td class=\"outputs\">{}</td><td>{}</td><td>{}</td></tr>",
            i.row_number,
            state_word(en, &i.state),
            if show_agents {
                format!(
                    "<td class=\"agent\">{}</td>",
                    esc(i.agent.as_deref().unwrap_or("-"))
                )
            } else {
                String::new()
            },
            item_data(&run.headers, &i.data),
            item_outputs(&i.outputs),
            esc(&shown_reason(&s, &i.state, i.reason.as_deref())),
            screenshot_link(&run.id, i.screenshot.as_deref()),
        );
    }
    body.push_str("</table>");
    if !passed.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2><ul id=\"passed-over\">",
            t(en, "Baris yang dilewati", "Rows passed over")
        );
        for p in &passed {
            let text = match crate::sheet::Pass::from_code(&p.reason) {
                Some(why) => crate::sheet::PassedOver {
                    first: u32::try_from(p.first).unwrap_or(0),
                    last: u32::try_from(p.last).unwrap_or(0),
                    why,
                }
                .describe(en),
                None => format!("{}–{}: {}", p.first, p.last, p.reason),
            };
            let _ = write!(body, "<li>{}</li>", esc(&text));
        }
        body.push_str("</ul>");
    }
    if !actions.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2><table id=\"actions\">",
            t(en, "Tindakan", "Actions")
        );
        for a in &actions {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                local(&app, &a.at),
                esc(&a.user),
                esc(action_word(en, &a.action)),
                a.item_idx.map(|i| i.to_string()).unwrap_or_default(),
                a.target
                    .as_deref()
                    .map(|r| format!("<a href=\"/runs/{}\">{}</a>", enc(r), esc(r)))
                    .unwrap_or_default(),
            );
        }
        body.push_str("</table>");
    }
    let title = format!("{} {}", t(en, "Proses", "Run"), run.id);
    layout(&s, "/runs", &title, &body)
}

async fn run_file(
    State(app): State<Shared>,
    headers: HeaderMap,
    UrlPath((id, path)): UrlPath<(String, String)>,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return status_page(
            StatusCode::UNAUTHORIZED,
            "Silakan masuk dulu. / Please log in first.",
        );
    };
    let rid = id.clone();
    let run = match with_store(&app, move |st| st.run(&rid)).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error_page(
                Some(&s),
                StatusCode::NOT_FOUND,
                t(s.english, "Proses tidak dikenal.", "No such run."),
            )
        }
        Err(r) => return r,
    };
    let missing = || {
        error_page(
            Some(&s),
            StatusCode::NOT_FOUND,
            t(s.english, "Berkas tidak ada.", "No such file."),
        )
    };
    let dir = PathBuf::from(&run.dir);
    let wanted = path.clone();
    let read = tokio::task::spawn_blocking(move || {
        files::open(&dir, &wanted).map(|(full, mut file)| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).map(|_| (full, bytes))
        })
    })
    .await;
    match read {
        Ok(Ok(Ok((full, bytes)))) => {
            let name = full
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("file")
                .replace(['"', '\\'], "");
            let disposition = HeaderValue::from_str(&format!("inline; filename=\"{name}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("inline"));
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(files::content_type(&full)),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(Err(Refused::Unsafe)) => {
            tracing::warn!(user = %s.user, run = %id, path = %path, "dashboard: refused a file path");
            error_page(
                Some(&s),
                StatusCode::BAD_REQUEST,
                t(s.english, "Jalur berkas tidak sah.", "Invalid file path."),
            )
        }
        Ok(Err(Refused::Missing)) => {
            tracing::info!(user = %s.user, run = %id, path = %path, "dashboard: no such file, or not one that is served");
            missing()
        }
        Ok(Ok(Err(_))) | Err(_) => missing(),
    }
}

/// The open exceptions: items of the newest runs in an exception state that nobody
/// resolved or re-queued yet.
fn open_exceptions(st: &mut Store) -> Result<Vec<(RunRecord, ItemRecord)>, StoreError> {
    let handled = st.handled_items()?;
    let mut out = Vec::new();
    for run in st.runs(None, 200)? {
        if run.business + run.system + run.needs_verification == 0 {
            continue;
        }
        for item in st.items(&run.id)? {
            if is_exception(&item.state) && !handled.contains(&(run.id.clone(), item.idx)) {
                out.push((run.clone(), item));
            }
        }
    }
    Ok(out)
}

/// The `[notify] key_columns` of each bot (a bot that does not load has none).
async fn key_columns(app: &Shared, mut bots: Vec<String>) -> BTreeMap<String, Vec<String>> {
    bots.sort();
    bots.dedup();
    let dir = app.paths.bots.clone();
    tokio::task::spawn_blocking(move || {
        bots.into_iter()
            .filter_map(|b| {
                let keys = crate::bot::load(&dir, &b).ok()?.key_columns;
                Some((b, keys))
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// `NIK 3201…, Nama Ani`: the key columns of an item that have a value.
fn who(headers: &str, data: &str, keys: &[String]) -> String {
    let headers: Vec<String> = serde_json::from_str(headers).unwrap_or_default();
    let cells: Vec<serde_json::Value> = serde_json::from_str(data).unwrap_or_default();
    let norm = |h: &str| {
        h.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    keys.iter()
        .filter_map(|k| {
            let c = headers.iter().position(|h| norm(h) == norm(k))?;
            let v = cell_text(cells.get(c)?);
            (!v.trim().is_empty()).then(|| format!("{} {}", headers[c], v.trim()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which open exceptions the page (and its export) shows.
#[derive(Deserialize, Default)]
struct ExceptionFilter {
    #[serde(default)]
    bot: String,
    /// Part of the reason, any case.
    #[serde(default)]
    reason: String,
    /// First and last day (`YYYY-MM-DD`, local) of the run's start.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// 1-based page.
    #[serde(default)]
    page: Option<usize>,
}

/// Open exceptions per page.
const EXCEPTIONS_PAGE: usize = 50;

impl ExceptionFilter {
    fn keeps(&self, app: &App, s: &Session, r: &RunRecord, i: &ItemRecord) -> bool {
        let day = local(app, &r.started_at);
        let day = day.get(..10).unwrap_or("");
        (self.bot.trim().is_empty() || r.bot == self.bot.trim())
            && (self.reason.trim().is_empty()
                || shown_reason(s, &i.state, i.reason.as_deref())
                    .to_lowercase()
                    .contains(&self.reason.trim().to_lowercase()))
            && (self.from.is_empty() || day >= self.from.as_str())
            && (self.to.is_empty() || day <= self.to.as_str())
    }

    /// The filter as a query string (without the page).
    fn query(&self) -> String {
        format!(
            "bot={}&reason={}&from={}&to={}",
            enc(&self.bot),
            enc(&self.reason),
            enc(&self.from),
            enc(&self.to)
        )
    }
}

/// The open exceptions the filter keeps, newest run first.
async fn filtered_exceptions(
    app: &Shared,
    s: &Session,
    f: &ExceptionFilter,
) -> Result<Vec<(RunRecord, ItemRecord)>, Response> {
    let open = with_store(app, open_exceptions).await?;
    Ok(open
        .into_iter()
        .filter(|(r, i)| f.keeps(app, s, r, i))
        .collect())
}

/// The (filtered) open exceptions as a workbook: run, bot, row, status, reason
/// (as the user may read it), time, then the row's data.
async fn exceptions_export(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(f): Query<ExceptionFilter>,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    let list = match filtered_exceptions(&app, &s, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut data_headers: Vec<String> = Vec::new();
    for (r, _) in &list {
        for h in serde_json::from_str::<Vec<String>>(&r.headers).unwrap_or_default() {
            if !data_headers.contains(&h) {
                data_headers.push(h);
            }
        }
    }
    let mut sheet_headers: Vec<String> = [
        t(en, "Proses", "Run"),
        "Bot",
        t(en, "Baris", "Row"),
        "Status",
        t(en, "Alasan", "Reason"),
        t(en, "Waktu", "Time"),
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    sheet_headers.extend(data_headers.iter().cloned());
    let rows = list
        .iter()
        .map(|(r, i)| {
            let own: Vec<String> = serde_json::from_str(&r.headers).unwrap_or_default();
            let values: Vec<serde_json::Value> = serde_json::from_str(&i.data).unwrap_or_default();
            let mut cells = vec![
                crate::sheet::Cell::Text(r.id.clone()),
                crate::sheet::Cell::Text(r.bot.clone()),
                crate::sheet::Cell::Int(i.row_number),
                crate::sheet::Cell::Text(state_word(en, &i.state).to_string()),
                crate::sheet::Cell::Text(shown_reason(&s, &i.state, i.reason.as_deref())),
                crate::sheet::Cell::Text(
                    i.finished_at
                        .as_deref()
                        .map(|t| local(&app, t))
                        .unwrap_or_default(),
                ),
            ];
            for h in &data_headers {
                let v = own
                    .iter()
                    .position(|o| o == h)
                    .and_then(|c| values.get(c))
                    .map(cell_text)
                    .unwrap_or_default();
                cells.push(crate::sheet::Cell::Text(v));
            }
            crate::sheet::OutRow { cells, tone: None }
        })
        .collect();
    let sheet = crate::sheet::OutSheet {
        name: t(en, "Pengecualian", "Exceptions").into(),
        headers: sheet_headers,
        rows,
        tone_column: None,
    };
    let dir = app.paths.data.clone();
    let written = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let tmp = tempfile::Builder::new()
            .prefix(".export-")
            .tempdir_in(&dir)
            .map_err(|e| e.to_string())?;
        let path = tmp.path().join("pengecualian.xlsx");
        crate::sheet::write(&path, &[sheet]).map_err(|e| e.to_string())?;
        std::fs::read(&path).map_err(|e| e.to_string())
    })
    .await;
    match written {
        Ok(Ok(bytes)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(crate::mail::content_type_for("x.xlsx")),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"pengecualian.xlsx\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!("dashboard: cannot write the exceptions export: {e}");
            error_page(
                Some(&s),
                StatusCode::INTERNAL_SERVER_ERROR,
                t(en, "Ekspor gagal.", "The export failed."),
            )
        }
        Err(e) => {
            tracing::error!("dashboard: the exceptions export failed: {e}");
            error_page(
                Some(&s),
                StatusCode::INTERNAL_SERVER_ERROR,
                t(en, "Ekspor gagal.", "The export failed."),
            )
        }
    }
}

async fn exceptions_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(f): Query<ExceptionFilter>,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    let open = match filtered_exceptions(&app, &s, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let total = open.len();
    let pages = total.div_ceil(EXCEPTIONS_PAGE).max(1);
    let page = f.page.unwrap_or(1).clamp(1, pages);
    let open: Vec<(RunRecord, ItemRecord)> = open
        .into_iter()
        .skip((page - 1) * EXCEPTIONS_PAGE)
        .take(EXCEPTIONS_PAGE)
        .collect();
    let keys = key_columns(&app, open.iter().map(|(r, _)| r.bot.clone()).collect()).await;
    let mut groups: BTreeMap<String, Vec<(RunRecord, ItemRecord)>> = BTreeMap::new();
    for (r, i) in open {
        let reason = shown_reason(&s, &i.state, i.reason.as_deref());
        let reason = if reason.trim().is_empty() {
            format!(
                "{} ({})",
                state_word(en, &i.state),
                t(en, "tanpa alasan", "no reason given")
            )
        } else {
            reason
        };
        groups.entry(reason).or_default().push((r, i));
    }
    let mut body = String::new();
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/exceptions\" id=\"filter\">Bot <input name=\"bot\" value=\"{}\"> {} <input name=\"reason\" value=\"{}\"> {} <input name=\"from\" type=\"date\" value=\"{}\"> {} <input name=\"to\" type=\"date\" value=\"{}\"> <button>{}</button></form>\
<p><a id=\"export\" href=\"/exceptions.xlsx?{}\">{}</a> <span class=\"muted\" id=\"total\">{total} {}</span></p>",
        esc(&f.bot),
        t(en, "Alasan", "Reason"),
        esc(&f.reason),
        t(en, "Dari", "From"),
        esc(&f.from),
        t(en, "Sampai", "To"),
        esc(&f.to),
        t(en, "Saring", "Filter"),
        f.query(),
        t(en, "Unduh sebagai xlsx", "Download as xlsx"),
        t(en, "pengecualian terbuka", "open exceptions"),
    );
    if groups.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"none\">{}</p>",
            t(en, "Tidak ada pengecualian terbuka.", "No open exceptions.")
        );
    }
    for (reason, list) in &groups {
        let _ = write!(
            body,
            "<h2>{} <span class=\"muted\">({})</span></h2>",
            esc(reason),
            list.len()
        );
        let _ = write!(
            body,
            "<table class=\"exceptions\"><tr><th>{}</th><th>{}</th><th>Data</th><th>{}</th><th>{}</th><th></th></tr>",
            t(en, "Proses", "Run"),
            t(en, "Baris", "Row"),
            t(en, "Pesan", "Message"),
            t(en, "Tangkapan layar", "Screenshot"),
        );
        for (r, i) in list {
            let _ = write!(
                body,
                "<tr id=\"item-{rid}-{idx}\"><td><a href=\"/runs/{rurl}\">{rid}</a><br>{bot}</td><td>{row}</td><td>{data}</td><td>{msg}</td><td>{shot}</td><td>\
<form method=\"post\" action=\"/exceptions/resolve\">{csrf}<input type=\"hidden\" name=\"run\" value=\"{rid}\"><input type=\"hidden\" name=\"idx\" value=\"{idx}\"><button class=\"resolve\">{resolve}</button></form>\
<form method=\"post\" action=\"/exceptions/requeue\">{csrf}<input type=\"hidden\" name=\"run\" value=\"{rid}\"><input type=\"hidden\" name=\"idx\" value=\"{idx}\"><button class=\"requeue\">{requeue}</button></form></td></tr>",
                rid = esc(&r.id),
                rurl = enc(&r.id),
                idx = i.idx,
                bot = esc(&r.bot),
                row = match who(&r.headers, &i.data, keys.get(&r.bot).map(Vec::as_slice).unwrap_or_default()) {
                    w if w.is_empty() => i.row_number.to_string(),
                    w => format!("{}<br><span class=\"who\">{}</span>", i.row_number, esc(&w)),
                },
                data = item_data(&r.headers, &i.data),
                msg = esc(&format!("{} — {}", state_word(en, &i.state), shown_reason(&s, &i.state, i.reason.as_deref()))),
                shot = screenshot_link(&r.id, i.screenshot.as_deref()),
                csrf = hidden_csrf(&s),
                resolve = t(en, "Sudah diselesaikan manual", "Resolved manually"),
                requeue = t(en, "Sudah diperbaiki, ulangi", "Fixed, re-queue"),
            );
        }
        body.push_str("</table>");
    }
    if pages > 1 {
        let mut nav = Vec::new();
        for n in 1..=pages {
            if n == page {
                nav.push(format!("<b>{n}</b>"));
            } else {
                nav.push(format!(
                    "<a href=\"/exceptions?{}&page={n}\">{n}</a>",
                    f.query()
                ));
            }
        }
        let _ = write!(
            body,
            "<p id=\"pages\">{} {}</p>",
            t(en, "Halaman", "Page"),
            nav.join(" ")
        );
    }
    layout(
        &s,
        "/exceptions",
        t(en, "Pengecualian", "Exceptions"),
        &body,
    )
}

/// Why an exception action is refused.
enum ActionRefused {
    NotException(String),
    Busy(Refusal),
}

/// Whether an item in `state` is an exception a person may resolve or re-queue.
fn is_exception(state: &str) -> bool {
    matches!(
        state,
        state::BUSINESS_EXCEPTION | state::SYSTEM_EXCEPTION | state::NEEDS_VERIFICATION
    )
}

async fn exception_action(
    State(app): State<Shared>,
    UrlPath(action): UrlPath<String>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    let s = match form_session(&app, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let kind = match action.as_str() {
        "resolve" => kind::RESOLVED,
        "requeue" => kind::REQUEUED,
        _ => {
            return error_page(
                Some(&s),
                StatusCode::NOT_FOUND,
                t(s.english, "Tindakan tidak dikenal.", "No such action."),
            )
        }
    };
    let Some(idx) = form.idx else {
        return error_page(
            Some(&s),
            StatusCode::BAD_REQUEST,
            t(s.english, "Item tidak disebut.", "No item given."),
        );
    };
    let (run_id, user) = (form.run.clone(), s.user.clone());
    let recorded = with_store(&app, move |st| {
        let Some(item) = st.items(&run_id)?.into_iter().find(|i| i.idx == idx) else {
            return Ok(None);
        };
        // Only an exception is resolved or re-queued; a done, pending or
        // running item is not a person's to close.
        if !is_exception(&item.state) {
            return Ok(Some(Err(ActionRefused::NotException(item.state))));
        }
        // A re-queue is a new run of the bot: it waits while another run of the bot
        // goes on or waits to be resumed.
        if kind == kind::REQUEUED {
            if let Some(run) = st.run(&run_id)? {
                if let Some(refusal) =
                    st.admission(&run.bot, None, Some(&run.input), Some(&run.id))?
                {
                    return Ok(Some(Err(ActionRefused::Busy(refusal))));
                }
            }
        }
        let id = st.handle_item(&NewAction {
            user: &user,
            action: kind,
            run_id: Some(&run_id),
            item_idx: Some(idx),
            ..Default::default()
        })?;
        Ok(Some(Ok((id.unwrap_or(0), item.row_number, id.is_some()))))
    })
    .await;
    let (action_id, row, fresh) = match recorded {
        Ok(Some(Ok(v))) => v,
        Ok(Some(Err(ActionRefused::NotException(state)))) => {
            return error_page(
                Some(&s),
                StatusCode::CONFLICT,
                &format!(
                    "{} ({}). {}",
                    t(
                        s.english,
                        "Item ini bukan pengecualian",
                        "This item is not an exception"
                    ),
                    state_word(s.english, &state),
                    t(
                        s.english,
                        "Hanya pengecualian dan item yang perlu verifikasi yang dapat diselesaikan atau diulang.",
                        "Only exceptions and items that need verification can be resolved or re-queued."
                    )
                ),
            );
        }
        Ok(Some(Err(ActionRefused::Busy(refusal)))) => {
            let text = match refusal {
                Refusal::Busy { run, .. } => format!(
                    "{} {run}. {}",
                    t(
                        s.english,
                        "Bot ini sedang berjalan:",
                        "This bot is running now:"
                    ),
                    t(
                        s.english,
                        "Antrikan ulang setelah run itu selesai.",
                        "Re-queue the item after that run ends."
                    )
                ),
                Refusal::Unfinished { run, .. } => format!(
                    "{} {run}. {}",
                    t(
                        s.english,
                        "Bot ini punya run yang belum selesai:",
                        "This bot has an unfinished run:"
                    ),
                    t(
                        s.english,
                        "Run itu dilanjutkan dulu (oleh agen, atau juru runs resume).",
                        "That run is continued first (by the agent, or juru runs resume)."
                    )
                ),
            };
            return error_page(Some(&s), StatusCode::CONFLICT, &text);
        }
        Ok(None) => {
            return error_page(
                Some(&s),
                StatusCode::NOT_FOUND,
                t(s.english, "Item tidak dikenal.", "No such item."),
            )
        }
        Err(r) => return r,
    };
    if fresh && kind == kind::REQUEUED {
        let app2 = app.clone();
        let parent = form.run.clone();
        let trigger = format!("dashboard:{}", s.user);
        tokio::spawn(async move {
            let opts = RunOptions {
                config: app2.config.clone(),
                data_dir: app2.paths.data.clone(),
                input: None,
                vars: BTreeMap::new(),
                secrets: BTreeMap::new(),
                trigger,
                progress: false,
                fire: None,
            };
            match run::retry(
                &parent,
                &Selection::Rows(vec![row]),
                false,
                &app2.paths.bots,
                opts,
                app2.stop.clone(),
            )
            .await
            {
                Ok(summary) => {
                    let id = summary.id.clone();
                    let _ = with_store(&app2, move |st| st.set_action_target(action_id, &id)).await;
                }
                Err(e) => {
                    tracing::warn!(run = %parent, error = %e, "dashboard: re-queue failed");
                    // The item is an open exception again.
                    if with_store(&app2, move |st| st.undo_action(action_id))
                        .await
                        .is_err()
                    {
                        tracing::error!(run = %parent, "dashboard: cannot reopen the item");
                    }
                }
            }
        });
    }
    Redirect::to("/exceptions").into_response()
}

async fn users_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let Some(s) = app.session(&headers) else {
        return to_login();
    };
    let en = s.english;
    if s.role != Role::Admin {
        return forbidden(&s);
    }
    let book = app.users.users();
    let Ok(users) = book.as_ref() else {
        // The session was just checked against this file: it can be read.
        return error_page(
            Some(&s),
            StatusCode::INTERNAL_SERVER_ERROR,
            "users.toml cannot be read",
        );
    };
    let mut body = format!(
        "<table id=\"users\"><tr><th>{}</th><th>{}</th></tr>",
        t(en, "Nama", "Name"),
        t(en, "Peran", "Role")
    );
    for u in users.values() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&u.name),
            u.role.word()
        );
    }
    let _ = write!(
        body,
        "</table><p class=\"muted\">{} <code>juru users add NAMA --role officer</code></p>",
        t(
            en,
            "Menambah pengguna atau mengganti kata sandi:",
            "To add a user or set a password:"
        )
    );
    layout(&s, "/users", t(en, "Pengguna", "Users"), &body)
}
