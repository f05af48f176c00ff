//! The dashboard: server-rendered HTML pages for supervisors and officers, served
//! with axum by `juru agent` (when `[web] enabled = true`) or by `juru web`.
//!
//! Pages: Today, Schedules, Runs (and one run), Exceptions, Users (admin). Every
//! page needs a login ([`users`]: `config/users.toml`, argon2 hashes); the session
//! is a random token in an HttpOnly, SameSite=Strict cookie, kept in memory (a
//! restart logs everyone out). Every form carries the session's CSRF token and a
//! form without it is refused. Failed logins are limited per user name and per
//! client address. Run files (workbooks, screenshots) are served only from inside
//! the run's folder ([`files`]).
//!
//! Actions people take (resolve or re-queue an exception, pause, resume or run a
//! schedule) are recorded with who and when in the store's `actions` table. A
//! re-queued item becomes a new run started by this process with
//! [`crate::run::retry`]; "run now" leaves a request for the agent.
//!
//! Store calls are blocking and run on blocking threads; each request opens the
//! store. Pages speak Indonesian by default, English when the user or session
//! chooses it.

mod files;
mod pages;
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
/// At most this many failed logins per user name and per address ...
pub const MAX_FAILURES: usize = 5;
/// ... within this window.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A logged-in user's session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub english: bool,
    pub last: Instant,
}

pub(crate) struct App {
    pub paths: Paths,
    pub config: AgentConfig,
    pub sessions: Mutex<HashMap<String, Session>>,
    /// Login CSRF tokens handed out, with when.
    pub login_tokens: Mutex<HashMap<String, Instant>>,
    pub failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    pub stop: Stop,
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
    /// The session of this request, refreshed; `None` when not logged in.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let mut sessions = lock(&self.sessions);
        let s = sessions.get_mut(&id)?;
        if s.last.elapsed() > SESSION_IDLE {
            sessions.remove(&id);
            return None;
        }
        s.last = Instant::now();
        Some(s.clone())
    }

    /// Whether `key` (a user name or an address) may try to log in again.
    pub fn may_try(&self, key: &str) -> bool {
        let mut failures = lock(&self.failures);
        if failures.len() > 10_000 {
            failures.retain(|_, l| l.back().is_some_and(|t| t.elapsed() <= FAILURE_WINDOW));
        }
        let list = failures.entry(key.to_string()).or_default();
        while list.front().is_some_and(|t| t.elapsed() > FAILURE_WINDOW) {
            list.pop_front();
        }
        list.len() < MAX_FAILURES
    }

    pub fn failed(&self, key: &str) {
        lock(&self.failures)
            .entry(key.to_string())
            .or_default()
            .push_back(Instant::now());
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
        let app: Shared = Arc::new(App {
            paths,
            config,
            sessions: Mutex::new(HashMap::new()),
            login_tokens: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            stop,
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
        tracing::info!(%addr, "dashboard listening");
        Ok(Dashboard {
            addr,
            shutdown: Some(tx),
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
