//! The bundled demo portal: a small legacy-style Indonesian permit-application
//! web system ("Layanan Perizinan – Dinas Penanaman Modal dan PTSP Kabupaten
//! Contoh"), served by juru itself with axum.
//!
//! It exists so that the example bot (`bots/demo-perizinan`) and the browser
//! tests have a realistic target to drive over WebDriver without any outside
//! system: a login form with a `PHPSESSID` session cookie, a menu, an entry form
//! with a select, radio buttons without labels, a textarea and a JavaScript
//! `confirm()` before saving, server-side business rules with error messages,
//! a result page with a registration number and a list page.
//!
//! All state is in memory and belongs to one [`Portal`]; several portals can run
//! side by side. Log in with [`DEMO_USER`] / [`DEMO_PASSWORD`].

mod http_login;
mod lab;
mod pages;
mod rules;
mod simpeg;

pub use http_login::{HTTP_PASSWORD, HTTP_USER};
pub use simpeg::Usulan;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use rules::Permohonan;

/// User name accepted by the demo portal's login form.
pub const DEMO_USER: &str = "petugas";
/// Password accepted by the demo portal's login form.
pub const DEMO_PASSWORD: &str = "rahasia123";

const SESSION_COOKIE: &str = "PHPSESSID";

/// A saved permit application.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Record {
    /// Registration number `503/IZN/NNNNN/YYYY`.
    pub no_reg: String,
    pub nik: String,
    pub nama: String,
    /// The permit type's visible text, e.g. `Izin Usaha Industri`.
    pub jenis_izin: String,
    /// `Mikro`, `Kecil` or `Menengah`.
    pub skala: String,
    #[serde(serialize_with = "serialize_date")]
    pub tanggal: chrono::NaiveDate,
    pub alamat: String,
    pub telepon: String,
}

fn serialize_date<S: serde::Serializer>(d: &chrono::NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&d.format("%Y-%m-%d"))
}

/// How the portal behaves; [`PortalOptions::default`] is what `juru demo` serves.
#[derive(Debug, Clone)]
pub struct PortalOptions {
    /// A session unused for this long is gone: the next page is the login page.
    pub session_idle: Duration,
    /// The NIK check on the entry form answers after a delay in this range
    /// (milliseconds), like a slow population-registry lookup.
    pub nik_check_ms: (u64, u64),
    /// Saves a second application with the same NIK and permit type, as most
    /// legacy systems would (off by default: the portal refuses it). Tests that
    /// must see a double save turn it on.
    pub allow_duplicates: bool,
    /// SIMPEG (`/simpeg`) injects a fault in about this percentage of its form
    /// openings (the session expires) and saves (a server error before, or after,
    /// the proposal was stored). 0 (default): none.
    pub simpeg_faults: u32,
}

impl Default for PortalOptions {
    fn default() -> Self {
        PortalOptions {
            session_idle: Duration::from_secs(15 * 60),
            nik_check_ms: (200, 1500),
            allow_duplicates: false,
            simpeg_faults: 0,
        }
    }
}

struct Session {
    user: String,
    last_seen: Instant,
}

#[derive(Default)]
struct Inner {
    /// Session id -> user and last use.
    sessions: HashMap<String, Session>,
    /// Saved records; the record with result id `N` is at index `N - 1`.
    records: Vec<Record>,
    /// Names saved through the windows-1252 archive page.
    archive: Vec<String>,
    /// Files uploaded: (file name, bytes).
    uploads: Vec<(String, Vec<u8>)>,
    /// Answers given on the dialog page (confirm/prompt), in order.
    answers: Vec<String>,
    /// Clicks counted on the page whose button keeps being replaced.
    clicks: u32,
    /// Successful logins.
    logins: u32,
    /// The next this many logins answer with a server error (`/lab/tutup`).
    failing_logins: u32,
    /// The staffing system's proposals and faults.
    simpeg: simpeg::Simpeg,
}

struct PortalState {
    inner: Mutex<Inner>,
    options: PortalOptions,
}

type Shared = Arc<PortalState>;

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state
        .inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running demo portal.
pub struct Portal {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal").field("addr", &self.addr).finish()
    }
}

impl Portal {
    /// Binds `addr` (port 0 = a free port) and serves on the current tokio runtime.
    ///
    /// Dropping the portal without [`Portal::stop`] also shuts the server down,
    /// just without waiting for it.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Portal> {
        Portal::start_with(addr, PortalOptions::default()).await
    }

    /// [`Portal::start`] with other options.
    pub async fn start_with(addr: SocketAddr, options: PortalOptions) -> std::io::Result<Portal> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(PortalState {
            inner: Mutex::new(Inner::default()),
            options,
        });
        let app = router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // Either a stop request or the Portal being dropped.
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "portal demo berhenti dengan galat");
            }
        });
        let portal = Portal {
            addr,
            state,
            shutdown: Some(tx),
            task,
        };
        tracing::info!(url = %portal.url(), "portal demo berjalan");
        Ok(portal)
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    /// An unspecified bind address (0.0.0.0 / ::) is given as loopback.
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every record saved so far, in save order.
    pub fn records(&self) -> Vec<Record> {
        lock(&self.state).records.clone()
    }

    /// Ends every session now, as an idle timeout would: the next page a browser
    /// asks for is the login page.
    pub fn expire_sessions(&self) {
        lock(&self.state).sessions.clear();
    }

    /// SIMPEG's proposals, the seeded refused one first.
    pub fn simpeg_proposals(&self) -> Vec<Usulan> {
        lock(&self.state).simpeg.usulan.clone()
    }

    /// The faults SIMPEG injected, in order: `sesi`, `500-sebelum`, `500-sesudah`.
    pub fn simpeg_faults(&self) -> Vec<String> {
        lock(&self.state).simpeg.faults.clone()
    }

    /// Names saved through the windows-1252 archive page (`/lab/arsip`).
    pub fn archive(&self) -> Vec<String> {
        lock(&self.state).archive.clone()
    }

    /// Files uploaded on `/lab/unggah`: (file name, contents).
    pub fn uploads(&self) -> Vec<(String, Vec<u8>)> {
        lock(&self.state).uploads.clone()
    }

    /// Answers given on `/lab/dialog`, in order.
    pub fn answers(&self) -> Vec<String> {
        lock(&self.state).answers.clone()
    }

    /// How many times someone logged in.
    pub fn logins(&self) -> u32 {
        lock(&self.state).logins
    }

    /// Clicks counted on `/lab/basi`.
    pub fn clicks(&self) -> u32 {
        lock(&self.state).clicks
    }

    /// Shuts the server down gracefully and waits for it (at most a few seconds,
    /// after which lingering connections are dropped).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let task = &mut self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut *task)
            .await
            .is_err()
        {
            task.abort();
            let _ = task.await;
        }
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/login") }))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", get(logout))
        .route("/menu", get(menu))
        .route("/permohonan/baru", get(form_page))
        .route("/permohonan", get(daftar).post(simpan))
        .route("/permohonan/hasil", get(hasil))
        .route("/permohonan/detail", get(detail))
        .route("/permohonan/tanda-terima", get(tanda_terima))
        .route("/utama", get(utama))
        .route("/menu-kiri", get(menu_kiri))
        .route("/api/cek-nik", get(cek_nik))
        .merge(lab::routes())
        .merge(simpeg::routes())
        .merge(http_login::routes())
        .fallback(not_found)
        .with_state(state)
}

/// Picks the session id out of the request's cookies.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
}

/// The logged-in user, if the request carries a session that has not been idle
/// for too long (using it keeps it alive).
fn current_user(state: &Shared, headers: &HeaderMap) -> Option<String> {
    let sid = session_id(headers)?;
    let idle = state.options.session_idle;
    let mut inner = lock(state);
    let session = inner.sessions.get_mut(&sid)?;
    if session.last_seen.elapsed() > idle {
        inner.sessions.remove(&sid);
        return None;
    }
    session.last_seen = Instant::now();
    Some(session.user.clone())
}

fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

/// A fresh random session id (32 hex digits).
fn new_session_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::io::Read;

    let mut bytes = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !from_os {
        // Fall back on the std hasher's randomly keyed SipHash.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(nanos);
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn field(map: &HashMap<String, String>, name: &str) -> String {
    map.get(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

async fn login_page() -> Html<String> {
    Html(pages::login("", false))
}

async fn login_submit(
    State(state): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    {
        let mut inner = lock(&state);
        if inner.failing_logins > 0 {
            inner.failing_logins -= 1;
            tracing::debug!("portal demo: login gagal (server sibuk)");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>Server sibuk, silakan coba lagi.</p></body></html>".to_string()),
            )
                .into_response();
        }
    }
    let user = field(&form, "user");
    let pass = form.get("pass").map(String::as_str).unwrap_or_default();
    if user != DEMO_USER || pass != DEMO_PASSWORD {
        tracing::debug!("portal demo: login ditolak");
        return Html(pages::login(&user, true)).into_response();
    }
    let sid = new_session_id();
    lock(&state).logins += 1;
    lock(&state).sessions.insert(
        sid.clone(),
        Session {
            user,
            last_seen: Instant::now(),
        },
    );
    let cookie = format!("{SESSION_COOKIE}={sid}; Path=/; HttpOnly");
    let mut resp = Redirect::to("/menu").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    resp
}

async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(sid) = session_id(&headers) {
        lock(&state).sessions.remove(&sid);
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("PHPSESSID=; Path=/; HttpOnly; Max-Age=0"),
    );
    resp
}

async fn menu(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match current_user(&state, &headers) {
        Some(user) => Html(pages::menu(&user)).into_response(),
        None => to_login(),
    }
}

async fn form_page(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match current_user(&state, &headers) {
        Some(user) => Html(pages::form(&user, &Permohonan::default(), None)).into_response(),
        None => to_login(),
    }
}

async fn simpan(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(user) = current_user(&state, &headers) else {
        return to_login();
    };
    let p = Permohonan {
        nik: field(&form, "nik"),
        nama: field(&form, "nama"),
        jenis: field(&form, "jenis"),
        skala: field(&form, "skala"),
        tanggal: field(&form, "tanggal"),
        alamat: field(&form, "alamat"),
        telepon: field(&form, "telepon"),
    };
    let today = chrono::Local::now().date_naive();
    let mut inner = lock(&state);
    let existing: &[Record] = if state.options.allow_duplicates {
        &[]
    } else {
        &inner.records
    };
    match rules::check(&p, existing, today) {
        Err(msg) => {
            drop(inner);
            tracing::debug!(nik = %p.nik, pesan = msg, "portal demo: permohonan ditolak");
            Html(pages::form(&user, &p, Some(msg))).into_response()
        }
        Ok(ok) => {
            let id = inner.records.len() + 1;
            let record = Record {
                no_reg: format!("503/IZN/{id:05}/{}", ok.tanggal.format("%Y")),
                nik: p.nik,
                nama: p.nama,
                jenis_izin: ok.jenis.to_string(),
                skala: ok.skala.to_string(),
                tanggal: ok.tanggal,
                alamat: p.alamat,
                telepon: p.telepon,
            };
            tracing::debug!(no_reg = %record.no_reg, "portal demo: permohonan disimpan");
            inner.records.push(record);
            drop(inner);
            Redirect::to(&format!("/permohonan/hasil?id={id}")).into_response()
        }
    }
}

async fn hasil(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = current_user(&state, &headers) else {
        return to_login();
    };
    let record = field(&query, "id")
        .parse::<usize>()
        .ok()
        .and_then(|id| id.checked_sub(1))
        .and_then(|i| lock(&state).records.get(i).cloned());
    match record {
        Some(r) => Html(pages::hasil(&user, id_of(&query), &r)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(pages::tidak_ditemukan(Some(&user))),
        )
            .into_response(),
    }
}

fn id_of(query: &HashMap<String, String>) -> usize {
    field(query, "id").parse::<usize>().unwrap_or(0)
}

fn record_of(state: &Shared, query: &HashMap<String, String>) -> Option<Record> {
    id_of(query)
        .checked_sub(1)
        .and_then(|i| lock(state).records.get(i).cloned())
}

/// A page about one record (`?id=N`), for logged-in users.
fn record_page(
    state: &Shared,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    render: fn(&Record) -> String,
) -> Response {
    if current_user(state, headers).is_none() {
        return to_login();
    }
    match record_of(state, query) {
        Some(r) => Html(render(&r)).into_response(),
        None => (StatusCode::NOT_FOUND, Html(pages::tidak_ditemukan(None))).into_response(),
    }
}

async fn detail(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    record_page(&state, &headers, &query, pages::detail)
}

async fn tanda_terima(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    record_page(&state, &headers, &query, pages::tanda_terima)
}

async fn utama(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if current_user(&state, &headers).is_none() {
        return to_login();
    }
    let main = match field(&query, "hal").as_str() {
        "baru" => "/permohonan/baru",
        "daftar" => "/permohonan",
        _ => "/menu",
    };
    Html(pages::utama(main)).into_response()
}

async fn menu_kiri(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match current_user(&state, &headers) {
        Some(user) => Html(pages::menu_kiri(&user)).into_response(),
        None => to_login(),
    }
}

/// The entry form's NIK check: answers after a delay, like a slow registry.
async fn cek_nik(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if current_user(&state, &headers).is_none() {
        return (StatusCode::UNAUTHORIZED, "Sesi berakhir").into_response();
    }
    let nik = field(&query, "nik");
    let (lo, hi) = state.options.nik_check_ms;
    let spread = hi.saturating_sub(lo).max(1);
    let hash = nik
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    tokio::time::sleep(Duration::from_millis(lo + hash % spread)).await;
    let text = if nik.len() == 16 && nik.bytes().all(|b| b.is_ascii_digit()) {
        "NIK tercatat"
    } else {
        "Periksa kembali NIK"
    };
    text.into_response()
}

async fn daftar(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = current_user(&state, &headers) else {
        return to_login();
    };
    let filter = field(&query, "nik");
    let inner = lock(&state);
    let shown: Vec<&Record> = inner
        .records
        .iter()
        .filter(|r| filter.is_empty() || r.nik.contains(&filter))
        .collect();
    Html(pages::daftar(&user, &shown, &filter)).into_response()
}

async fn not_found(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match current_user(&state, &headers) {
        Some(user) => (
            StatusCode::NOT_FOUND,
            Html(pages::tidak_ditemukan(Some(&user))),
        )
            .into_response(),
        None => to_login(),
    }
}

#[cfg(test)]
mod tests;
