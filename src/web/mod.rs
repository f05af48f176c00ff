//! The dashboard: server-rendered HTML pages for supervisors and officers, served
//! with axum by `juru agent` (when `[web] enabled = true`) or by `juru web`.
//!
//! Pages: Today, Schedules, Runs (and one run), Exceptions, Trends, Fleet, Users (admin). Every
//! page needs a login ([`users`]: `config/users.toml`, argon2 hashes); the session
//! is a random token in an HttpOnly, SameSite=Strict cookie (`Secure` when a trusted
//! proxy says the client came over https), kept in memory (a restart logs everyone
//! out). Every request checks the session against the current users.toml: a user
//! who is gone, or whose role or password changed, is logged out. Every form
//! carries the session's CSRF token and a form without it is refused.
//!
//! Logins are limited: each attempt is counted before the password is checked, per
//! user name (a few failures lock that name for a while) and, more loosely, per
//! client address (taken from `X-Forwarded-For` only when the connection comes from
//! a `[web] trusted_proxy`). Unknown names cost the same argon2 work as known ones.
//!
//! Run files (workbooks, screenshots) are served only from inside the run's folder,
//! only regular files with one link ([`files`]). Uploads are authenticated before
//! their body is read, streamed to disk with a size cap, checked as the bot's
//! workbook and removed after [`upload::KEEP`] ([`upload`]). Every answer carries a
//! strict Content-Security-Policy (no inline script), `X-Frame-Options: DENY`,
//! `nosniff`, `Referrer-Policy: same-origin` and `Cache-Control: no-store`; errors of
//! the web framework (bad forms, unknown pages) get the dashboard's own page.
//!
//! Actions people take (resolve or re-queue an exception, pause, resume or run a
//! schedule) are recorded with who and when in the store's `actions` table. A
//! re-queued item becomes a new run started by this process with
//! [`crate::run::retry`]; "run now" leaves a request for the agent.
//!
//! `GET /metrics` ([`metrics`]) is the one address without a login: the numbers
//! for Prometheus (counts and names of bots and schedules, no row data), served
//! unless `[web] metrics = false`.
//!
//! Store calls are blocking and run on blocking threads; each request opens the
//! store. Pages speak Indonesian by default, English when the user or session
//! chooses it.

mod files;
mod fleet;
mod metrics;
mod pages;
mod trends;
mod upload;
pub mod users;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::http::HeaderMap;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::agent::Paths;
use crate::config::AgentConfig;
use crate::run::Stop;

pub use users::Role;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "juru_session";
/// The cookie that carries the login form's CSRF token before there is a session.
pub const LOGIN_COOKIE: &str = "juru_login";
/// A session unused for this long is gone.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// At most this many login attempts per user name that did not succeed ...
pub const MAX_FAILURES: usize = 5;
/// ... and this many per client address ...
pub const MAX_ADDRESS_FAILURES: usize = 20;
/// ... within this window.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A logged-in user's session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub user: String,
    pub role: Role,
    /// The user's password hash at login: a new password ends the session.
    pub hash: String,
    pub csrf: String,
    pub english: bool,
    pub last: Instant,
}

/// Who sent a request: the client's address and whether it came over https, as
/// the connection says or, for a connection from a trusted proxy, as the proxy says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Client {
    pub ip: IpAddr,
    pub https: bool,
}

/// The client of a request that came over a connection from `peer`.
/// `X-Forwarded-For` and `X-Forwarded-Proto` count only when `peer` is one of the
/// `trusted` proxies; the client is then the right-most forwarded address that is
/// not itself a trusted proxy (the left part of the header is whatever the client
/// sent, and can be forged).
pub(crate) fn client(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> Client {
    let is_trusted = |ip: IpAddr| {
        trusted
            .iter()
            .any(|t| t.to_canonical() == ip.to_canonical())
    };
    let peer_ip = peer.ip().to_canonical();
    if !is_trusted(peer_ip) {
        return Client {
            ip: peer_ip,
            https: false,
        };
    }
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    };
    let mut ip = peer_ip;
    for hop in values("x-forwarded-for").iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(hop) if is_trusted(hop) => ip = hop.to_canonical(),
            Ok(hop) => {
                ip = hop.to_canonical();
                break;
            }
            // Not an address: nothing further left can be believed.
            Err(_) => break,
        }
    }
    let https = values("x-forwarded-proto")
        .last()
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Client { ip, https }
}

/// A login attempt counted before its password is checked.
#[derive(Debug)]
pub(crate) struct Attempt {
    keys: [String; 2],
    at: Instant,
}

pub(crate) struct App {
    pub paths: Paths,
    pub config: AgentConfig,
    /// `config/users.toml`, read again when it changes.
    pub users: users::Book,
    pub sessions: Mutex<HashMap<String, Session>>,
    /// Login CSRF tokens handed out, with when.
    pub login_tokens: Mutex<HashMap<String, Instant>>,
    /// Login attempts that did not succeed (or are being checked), per key.
    pub failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    pub stop: Stop,
    /// What `/metrics` keeps between scrapes.
    pub metrics: metrics::Cache,
    _stop_senders: (watch::Sender<bool>, watch::Sender<bool>),
}

pub(crate) type Shared = Arc<App>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A random token: 32 bytes as hex.
pub(crate) fn token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two tokens in time independent of where they differ.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie's value from the request headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl App {
    /// The session of this request, refreshed; `None` when not logged in. A
    /// session ends when it was idle too long, or when its user is no longer in
    /// users.toml with the role and the password it logged in with.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let users = self.users.users();
        let mut sessions = lock(&self.sessions);
        let s = sessions.get_mut(&id)?;
        let current = match users.as_ref() {
            Ok(users) => users.get(&s.user),
            Err(_) => None,
        };
        let same = current.is_some_and(|u| u.role == s.role && u.password_hash == s.hash);
        if !same {
            tracing::info!(user = %s.user, "dashboard: session ended (the user, role or password changed)");
            sessions.remove(&id);
            return None;
        }
        if s.last.elapsed() > SESSION_IDLE {
            sessions.remove(&id);
            return None;
        }
        s.last = Instant::now();
        Some(s.clone())
    }

    /// Starts a login attempt for `user` from `ip`: counted at once, before the
    /// (slow) password check, so parallel guesses cannot pass the limit. `None`
    /// when the name or the address has too many attempts that did not succeed.
    pub fn begin_attempt(&self, user: &str, ip: IpAddr) -> Option<Attempt> {
        // Names that cannot be users share one key: they lock no one.
        let name = if users::valid_name(user) { user } else { "?" };
        let keys = [format!("user:{name}"), format!("ip:{ip}")];
        let limits = [MAX_FAILURES, MAX_ADDRESS_FAILURES];
        let mut failures = lock(&self.failures);
        if failures.len() > 10_000 {
            failures.retain(|_, l| l.back().is_some_and(|t| t.elapsed() <= FAILURE_WINDOW));
        }
        for (key, limit) in keys.iter().zip(limits) {
            let list = failures.entry(key.clone()).or_default();
            while list.front().is_some_and(|t| t.elapsed() > FAILURE_WINDOW) {
                list.pop_front();
            }
            if list.len() >= limit {
                return None;
            }
        }
        let at = Instant::now();
        for key in &keys {
            failures.entry(key.clone()).or_default().push_back(at);
        }
        Some(Attempt { keys, at })
    }

    /// The attempt succeeded: it no longer counts.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut failures = lock(&self.failures);
        for key in &attempt.keys {
            if let Some(list) = failures.get_mut(key) {
                if let Some(i) = list.iter().position(|t| *t == attempt.at) {
                    list.remove(i);
                }
            }
        }
    }
}

/// Why the dashboard could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("the dashboard cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running dashboard server.
pub struct Dashboard {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    /// Dropped with the dashboard: the clean-up of old uploads ends.
    _cleaner_stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Dashboard {
    /// Listens on `addr` (port 0: a free port) and serves until [`Dashboard::stop`].
    pub async fn start(
        addr: SocketAddr,
        paths: Paths,
        config: AgentConfig,
    ) -> Result<Dashboard, WebError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| WebError::Listen { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| WebError::Listen { addr, source })?;
        let (stop, finish, abort) = Stop::new();
        let users = users::Book::new(paths.config.join("users.toml"));
        let uploads = paths.data.join("uploads");
        let app: Shared = Arc::new(App {
            paths,
            config,
            users,
            sessions: Mutex::new(HashMap::new()),
            login_tokens: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            stop,
            metrics: metrics::Cache::default(),
            _stop_senders: (finish, abort),
        });
        let router = pages::router(app);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "the dashboard stopped");
            }
        });
        let (cleaner_stop, mut stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let dir = uploads.clone();
                if let Ok(n) = tokio::task::spawn_blocking(move || upload::remove_old(&dir)).await {
                    if n > 0 {
                        tracing::info!(removed = n, "dashboard: removed old uploads");
                    }
                }
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tokio::time::sleep(upload::CLEAN_EVERY) => {}
                }
            }
        });
        tracing::info!(%addr, "dashboard listening");
        Ok(Dashboard {
            addr,
            shutdown: Some(tx),
            _cleaner_stop: cleaner_stop,
            task,
        })
    }

    /// `http://127.0.0.1:PORT` (loopback when listening on every address).
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for open requests to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// The dashboard of `juru agent` when `[web] enabled = true`; it stops when the
/// returned value is dropped. A dashboard that cannot listen is logged, and the
/// agent goes on firing its schedules.
pub async fn serve_for_agent(paths: &Paths, config: &AgentConfig) -> Option<Dashboard> {
    if !config.web.enabled {
        return None;
    }
    match Dashboard::start(config.web.listen, paths.clone(), config.clone()).await {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::error!(error = %e, "the dashboard is not served");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token(&a, &a[..63]));
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        h.append("x-forwarded-proto", "https".parse().unwrap());
        let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let local = IpAddr::from([127, 0, 0, 1]);
        let direct = client(proxy, &h, &[]);
        assert_eq!(
            direct,
            Client {
                ip: local,
                https: false
            }
        );
        let via = client(proxy, &h, &[local]);
        assert_eq!(via.ip, IpAddr::from([203, 0, 113, 7]), "the right-most hop");
        assert!(via.https);
        // A chain of trusted proxies is passed over; garbage stops the walk.
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "198.51.100.1, 127.0.0.1".parse().unwrap(),
        );
        assert_eq!(
            client(proxy, &h, &[local]).ip,
            IpAddr::from([198, 51, 100, 1])
        );
        h.insert("x-forwarded-for", "198.51.100.1, nonsense".parse().unwrap());
        assert_eq!(client(proxy, &h, &[local]).ip, local);
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        h.insert("x-forwarded-for", "198.51.100.9".parse().unwrap());
        assert_eq!(
            client(mapped, &h, &[local]).ip,
            IpAddr::from([198, 51, 100, 9])
        );
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "a=1; juru_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
