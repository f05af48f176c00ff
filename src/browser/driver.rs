//! The chromedriver process: started on a free loopback port in its own process
//! group, waited for until `/status` says ready, and stopped with everything it
//! started (Chromium stays in chromedriver's process group) on every exit path.
//!
//! Also when juru itself dies without cleaning up (`kill -9`, the OOM killer): a
//! [`Guard`] process per chromedriver kills the group and removes juru's browser
//! profile folders, and chromedriver has `PR_SET_PDEATHSIG`. A run starts its
//! chromedriver only when the script first uses the browser ([`LazyDriver`]).

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::{BrowserError, DriverKind, Settings};

/// A WebDriver endpoint: a chromedriver juru started, or a remote URL.
#[derive(Debug)]
pub struct Driver {
    url: String,
    child: Option<Child>,
    guard: Option<Guard>,
}

impl Driver {
    /// Starts chromedriver (or takes the remote URL) and waits until it is ready.
    /// `log` receives chromedriver's own log when given.
    pub async fn start(settings: &Settings, log: Option<&Path>) -> Result<Driver, BrowserError> {
        match &settings.driver {
            DriverKind::Remote { url } => Ok(Driver {
                url: url.trim_end_matches('/').to_string(),
                child: None,
                guard: None,
            }),
            DriverKind::Local { chromedriver, .. } => {
                start_local(chromedriver, log, settings.startup_timeout).await
            }
        }
    }

    /// The WebDriver URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chromedriver process id, when juru started one.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Writes the driver's process group to `path`, so that a later process can stop
    /// what is left of it if this one is killed ([`Driver::kill_recorded`]).
    pub fn record_pid(&self, path: &Path) {
        if let Some(pid) = self.pid() {
            let _ = std::fs::write(path, pid.to_string());
        }
    }

    /// Stops the chromedriver process group recorded in `path` (left behind by a
    /// juru that was killed) and removes the file.
    pub fn kill_recorded(path: &Path) {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        {
            tracing::info!(pid, "stopping the browser a killed run left behind");
            signal_group(pid, libc::SIGKILL);
        }
        let _ = std::fs::remove_file(path);
    }

    /// Stops chromedriver and every process it started (its process group), then
    /// lets the guard go.
    pub async fn stop(mut self) {
        self.kill_group().await;
        if let Some(guard) = self.guard.take() {
            guard.release().await;
        }
    }

    async fn kill_group(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            signal_group(pid, libc::SIGTERM);
            let exited = tokio::time::timeout(Duration::from_secs(3), child.wait()).await;
            // Chromium children may outlive a chromedriver that exited on SIGTERM.
            signal_group(pid, libc::SIGKILL);
            if exited.is_err() {
                let _ = child.wait().await;
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            if let Some(pid) = child.id() {
                signal_group(pid, libc::SIGKILL);
            }
        }
        if let Some(guard) = self.guard.as_mut() {
            guard.dismiss();
        }
    }
}

/// A run's chromedriver: started when the first of the run's workers needs a
/// browser, then shared by all of them, and stopped at the end of the run
/// ([`LazyDriver::stop`], or when dropped). A run whose script never uses the browser
/// starts none. While it runs, its process group is recorded in `pid_file`.
#[derive(Debug)]
pub struct LazyDriver {
    settings: Settings,
    log: Option<PathBuf>,
    pid_file: PathBuf,
    slot: tokio::sync::Mutex<Slot>,
}

#[derive(Debug)]
enum Slot {
    Idle,
    Up(Box<Driver>),
    /// It could not start; the message is given to every later caller.
    Failed(String),
    Stopped,
}

impl LazyDriver {
    pub fn new(settings: Settings, log: Option<PathBuf>, pid_file: PathBuf) -> LazyDriver {
        LazyDriver {
            settings,
            log,
            pid_file,
            slot: tokio::sync::Mutex::new(Slot::Idle),
        }
    }

    /// The WebDriver URL, starting chromedriver first when it is not running yet.
    /// Callers that come while it starts wait for it. Dropping the future while it
    /// starts stops what was started; a later call starts it again.
    pub async fn url(&self) -> Result<String, BrowserError> {
        let mut slot = self.slot.lock().await;
        match &*slot {
            Slot::Up(driver) => return Ok(driver.url().to_string()),
            Slot::Failed(reason) => return Err(BrowserError::Unavailable(reason.clone())),
            Slot::Stopped => {
                return Err(BrowserError::Unavailable(
                    "the run's browser driver was already stopped".into(),
                ))
            }
            Slot::Idle => {}
        }
        match Driver::start(&self.settings, self.log.as_deref()).await {
            Ok(driver) => {
                if let Some(pid) = driver.pid() {
                    tracing::info!(pid, "chromedriver started");
                }
                driver.record_pid(&self.pid_file);
                let url = driver.url().to_string();
                *slot = Slot::Up(Box::new(driver));
                Ok(url)
            }
            Err(e) => {
                *slot = Slot::Failed(e.to_string());
                Err(e)
            }
        }
    }

    /// Whether chromedriver was started (and is not stopped yet).
    pub async fn started(&self) -> bool {
        matches!(*self.slot.lock().await, Slot::Up(_))
    }

    /// Stops chromedriver and its browsers if it was started, and removes the pid file.
    pub async fn stop(&self) {
        let mut slot = self.slot.lock().await;
        if let Slot::Up(driver) = std::mem::replace(&mut *slot, Slot::Stopped) {
            driver.stop().await;
            let _ = std::fs::remove_file(&self.pid_file);
        }
    }
}

fn signal_group(pid: u32, signal: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) with a negative pid signals the process group we created for
    // this chromedriver (process_group(0) below); it has no memory-safety effects.
    unsafe {
        libc::kill(-pid, signal);
    }
}

/// What the guard runs: `$1` chromedriver's process group, `$2` the temp folder,
/// `$3` juru's pid. It ignores the signals a terminal or a service manager sends to
/// juru's group and waits for a line on its standard input, a pipe whose only writer
/// is juru. `done` means juru stopped chromedriver itself. End of file means juru
/// died (the kernel closed the pipe): kill the group, wait (bounded) until it is
/// gone, and remove juru's profile folders.
const GUARD_SCRIPT: &str = r#"trap '' HUP INT TERM PIPE
IFS= read -r word
[ "$word" = done ] && exit 0
kill -s KILL -- "-$1" 2>/dev/null
n=0
while kill -s 0 -- "-$1" 2>/dev/null && [ "$n" -lt 50 ]; do
  sleep 0.1
  n=$((n + 1))
done
rm -rf -- "$2"/juru-chromium-"$3"-*
"#;

/// A small `/bin/sh` process that outlives juru to clean up after it: see
/// [`GUARD_SCRIPT`]. It is in its own process group (Ctrl-C in a terminal does not
/// reach it), and the write end of its pipe is close-on-exec, so no other process
/// juru starts holds it open.
#[derive(Debug)]
struct Guard {
    child: Child,
    pipe: Option<std::fs::File>,
}

impl Guard {
    /// Starts a guard for chromedriver's process group `group`.
    fn start(group: u32) -> std::io::Result<Guard> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two descriptors on success; O_CLOEXEC keeps them out
        // of every other child juru starts.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(GUARD_SCRIPT)
            .arg("juru-guard")
            .arg(group.to_string())
            .arg(std::env::temp_dir())
            .arg(std::process::id().to_string())
            .stdin(Stdio::from(read))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // The command (and the read end in it) is dropped right after the spawn, so
        // only the guard holds the read end.
        let child = cmd.spawn()?;
        Ok(Guard {
            child,
            pipe: Some(std::fs::File::from(write)),
        })
    }

    /// Tells the guard that juru stopped chromedriver itself: it exits doing nothing.
    fn dismiss(&mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(b"done\n");
        }
    }

    /// Dismisses the guard and waits (bounded) until it has exited.
    async fn release(mut self) {
        self.dismiss();
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Starts `cmd` from a thread that lives as long as juru does. `PR_SET_PDEATHSIG`
/// fires when the *thread* that forked the child ends, not the process, and tokio's
/// threads come and go (an idle blocking thread ends after a few seconds): forked
/// from one of them, chromedriver would be stopped in the middle of a run.
async fn spawn_kept(cmd: Command) -> std::io::Result<Child> {
    type Job = Box<dyn FnOnce() + Send>;
    static KEEPER: OnceLock<Option<std::sync::mpsc::Sender<Job>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("juru-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .ok()
            .map(|_| tx)
    });
    let handle = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut cmd = cmd;
    let job: Job = Box::new(move || {
        // The child is reaped by this runtime, whichever thread forked it.
        let _runtime = handle.enter();
        let _ = tx.send(cmd.spawn());
    });
    match keeper {
        Some(keeper) => {
            if let Err(std::sync::mpsc::SendError(job)) = keeper.send(job) {
                job();
            }
        }
        None => job(),
    }
    rx.await
        .unwrap_or_else(|_| Err(std::io::Error::other("the spawner thread stopped")))
}

async fn start_local(
    chromedriver: &Path,
    log: Option<&Path>,
    startup_timeout: Duration,
) -> Result<Driver, BrowserError> {
    let port = free_port().map_err(|e| BrowserError::DriverStart {
        path: chromedriver.to_path_buf(),
        reason: format!("no free port on 127.0.0.1: {e}"),
    })?;
    let mut cmd = Command::new(chromedriver);
    cmd.arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(log) = log {
        cmd.arg(format!("--log-path={}", log.display()));
    }
    // Should juru die without cleaning up, the kernel stops chromedriver (the guard
    // below takes care of Chromium). The forking thread is juru's spawner thread,
    // which lives as long as juru ([`spawn_kept`]).
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid are async-signal-safe; they only
    // ask the kernel to stop chromedriver when juru is gone, and check that juru did
    // not die before the request was in place.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if libc::getppid() != parent {
                return Err(std::io::Error::other("juru exited"));
            }
            Ok(())
        });
    }
    let child = spawn_kept(cmd).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BrowserError::DriverNotFound {
            path: chromedriver.to_path_buf(),
        },
        _ => BrowserError::DriverStart {
            path: chromedriver.to_path_buf(),
            reason: e.to_string(),
        },
    })?;
    let guard = match child.id().map(Guard::start) {
        Some(Ok(guard)) => Some(guard),
        Some(Err(e)) => {
            tracing::warn!("cannot start the process that stops the browser should juru be killed (/bin/sh): {e}");
            None
        }
        None => None,
    };
    let mut driver = Driver {
        url: format!("http://127.0.0.1:{port}"),
        child: Some(child),
        guard,
    };
    let deadline = Instant::now() + startup_timeout;
    loop {
        if status_ready(port).await {
            return Ok(driver);
        }
        if let Some(child) = driver.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                driver.child = None;
                return Err(BrowserError::DriverStart {
                    path: chromedriver.to_path_buf(),
                    reason: format!("it exited at once ({status})"),
                });
            }
        }
        if Instant::now() >= deadline {
            driver.kill_group().await;
            return Err(BrowserError::DriverStart {
                path: chromedriver.to_path_buf(),
                reason: format!(
                    "it did not answer on port {port} within {} s",
                    startup_timeout.as_secs()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `GET /status` answered with `"ready": true`.
async fn status_ready(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream
            .write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        // Read until the answer says whether it is ready (the server may keep the
        // connection open, so do not wait for its end).
        let mut body = Vec::new();
        let mut chunk = [0u8; 2048];
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return Some(false);
            }
            body.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&body).replace(' ', "");
            if text.contains("\"ready\":true") {
                return Some(true);
            }
            if text.contains("\"ready\":false") {
                return Some(false);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Where Debian puts Chromium, used when the config does not name a binary.
pub(super) fn default_chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}
