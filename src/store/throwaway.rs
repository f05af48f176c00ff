//! A throwaway PostgreSQL cluster for juru's own tests and benchmarks: `initdb` in
//! a temporary folder, `postgres` on a free loopback port, gone when the process
//! that started it ends (the server gets SIGKILL through the parent-death signal;
//! the folder of a dead run is removed by the next one). It needs the PostgreSQL
//! server binaries (Debian's `postgresql-15` or newer, found under
//! `/usr/lib/postgresql/*/bin` or on `PATH`); run as root, it runs the server as
//! the `postgres` user, because PostgreSQL refuses to run as root. [`Cluster::start_tls`]
//! starts a cluster of its own that also serves TLS with a certificate the caller made.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::Location;

/// The certificate and key a cluster serves TLS with (PEM text).
pub struct ServerTls<'a> {
    pub cert: &'a str,
    pub key: &'a str,
}

/// A running cluster.
pub struct Cluster {
    port: u16,
    dir: PathBuf,
    pid: u32,
}

static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Cluster {
    /// The cluster of this process, started on first use.
    pub fn shared() -> Result<&'static Cluster, String> {
        SHARED
            .get_or_init(Cluster::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A cluster of its own that also serves TLS (`ssl = on`) with this certificate
    /// and key; the shared cluster stays plain. The role `juru` logs in as on the
    /// shared cluster (no password, TLS or not); any other role needs TLS and its
    /// password (`hostssl … scram-sha-256`). It ends with the process, as the shared
    /// one does.
    pub fn start_tls(tls: ServerTls) -> Result<Cluster, String> {
        Cluster::start_with(Some(tls))
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The cluster's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The address of database `name` (not created).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://juru@127.0.0.1:{}/{name}", self.port)
    }

    /// A new empty database with a name no other caller of this process gets.
    pub fn fresh_database(&self, prefix: &str) -> Result<Location, String> {
        let name = format!(
            "{}_{}_{}",
            prefix
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                })
                .collect::<String>(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .map_err(|e| format!("cannot connect to the test cluster: {e}"))?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| format!("cannot create database {name}: {e}"))?;
        Ok(Location::Postgres {
            url: self.url(&name),
            password: None,
        })
    }

    fn start() -> Result<Cluster, String> {
        Cluster::start_with(None)
    }

    fn start_with(tls: Option<ServerTls>) -> Result<Cluster, String> {
        let bin = bin_dir().ok_or(
            "the PostgreSQL server binaries (initdb, postgres) are not installed: apt-get install postgresql",
        )?;
        let owner = server_user()?;
        let root = std::env::temp_dir();
        remove_stale(&root);
        let dir = root.join(match tls {
            None => format!("juru-pg-{}", std::process::id()),
            Some(_) => format!(
                "juru-pg-{}-tls{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ),
        });
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("cannot hand {} to postgres: {e}", dir.display()))?;
        }
        let data = dir.join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "-U",
                "juru",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = owner {
            initdb.uid(uid).gid(gid);
        }
        let out = initdb
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let mut settings: Vec<String> = Vec::new();
        if let Some(tls) = tls {
            // In the data folder, owned by the server's user; the key readable by
            // it alone, as PostgreSQL demands.
            use std::os::unix::fs::PermissionsExt;
            for (name, text, mode) in [
                ("server.crt", tls.cert, 0o644),
                ("server.key", tls.key, 0o600),
            ] {
                let path = data.join(name);
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                        .map_err(|e| format!("cannot hand {} to postgres: {e}", path.display()))?;
                }
            }
            // First match wins: these lines go before initdb's.
            let hba = data.join("pg_hba.conf");
            let rest =
                std::fs::read_to_string(&hba).map_err(|e| format!("{}: {e}", hba.display()))?;
            std::fs::write(
                &hba,
                format!(
                    "host all juru 127.0.0.1/32 trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n{rest}"
                ),
            )
            .map_err(|e| format!("{}: {e}", hba.display()))?;
            settings.extend(
                [
                    "ssl=on",
                    "ssl_cert_file=server.crt",
                    "ssl_key_file=server.key",
                ]
                .iter()
                .flat_map(|s| ["-c".to_string(), s.to_string()]),
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        // Started from a thread that lives as long as the process, so that the
        // parent-death signal fires when the process ends, not when a test's
        // thread does.
        let (tx, rx) = std::sync::mpsc::channel();
        let (server_dir, server_data) = (dir.clone(), data.clone());
        std::thread::Builder::new()
            .name("juru-test-postgres".into())
            .spawn(move || {
                let mut cmd = Command::new(bin.join("postgres"));
                cmd.arg("-D")
                    .arg(&server_data)
                    .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
                    .arg(&server_dir)
                    .args([
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                        "-c",
                        "max_connections=300",
                    ])
                    .args(&settings)
                    .stdout(Stdio::null())
                    .stderr(Stdio::from(
                        std::fs::File::create(server_dir.join("server.log"))
                            .unwrap_or_else(|_| tempfile::tempfile().expect("a temporary file")),
                    ));
                if let Some((uid, gid)) = owner {
                    cmd.uid(uid).gid(gid);
                }
                // SAFETY: prctl only sets this child's parent-death signal; it runs
                // after the uid change (which would clear it) and before exec.
                unsafe {
                    cmd.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                match cmd.spawn() {
                    Ok(child) => {
                        let _ = tx.send(Ok(child.id()));
                        loop {
                            std::thread::park();
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("cannot start postgres: {e}")));
                    }
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        let pid = rx
            .recv()
            .map_err(|_| "the postgres thread ended".to_string())??;
        let cluster = Cluster { port, dir, pid };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match postgres::Client::connect(&cluster.url("postgres"), postgres::NoTls) {
                Ok(_) => return Ok(cluster),
                Err(e) if Instant::now() > deadline => {
                    let log =
                        std::fs::read_to_string(cluster.dir.join("server.log")).unwrap_or_default();
                    return Err(format!(
                        "postgres did not accept connections within 60 s: {e}\n{log}"
                    ));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

/// The folder of the newest PostgreSQL server binaries.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("postgres").is_file())
    })
}

/// The user to run the server as: `postgres` when this process is root.
fn server_user() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(None);
    }
    let name = std::ffi::CString::new("postgres").map_err(|e| e.to_string())?;
    // SAFETY: getpwnam reads the user database; the result is copied at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err("running as root, the test cluster needs the user `postgres` (created by Debian's postgresql packages)".into());
    }
    // SAFETY: pw is a valid pointer returned by getpwnam.
    Ok(Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) }))
}

/// Removes the folders of earlier test processes that are gone.
fn remove_stale(root: &Path) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("juru-pg-"))
            .and_then(|p| p.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
