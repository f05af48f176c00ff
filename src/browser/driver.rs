//! The chromedriver process: started on a free loopback port in its own process
//! group, waited for until `/status` says ready, and stopped with everything it
//! started (Chromium included) on every exit path.

use std::path::{Path, PathBuf};
use std::process::Stdio;
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
}

impl Driver {
    /// Starts chromedriver (or takes the remote URL) and waits until it is ready.
    /// `log` receives chromedriver's own log when given.
    pub async fn start(settings: &Settings, log: Option<&Path>) -> Result<Driver, BrowserError> {
        match &settings.driver {
            DriverKind::Remote { url } => Ok(Driver {
                url: url.trim_end_matches('/').to_string(),
                child: None,
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

    /// Stops chromedriver and every process it started (its process group).
    pub async fn stop(mut self) {
        self.kill_group().await;
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
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and only asks the kernel to
    // stop chromedriver if juru itself dies without cleaning up.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BrowserError::DriverNotFound {
            path: chromedriver.to_path_buf(),
        },
        _ => BrowserError::DriverStart {
            path: chromedriver.to_path_buf(),
            reason: e.to_string(),
        },
    })?;
    let mut driver = Driver {
        url: format!("http://127.0.0.1:{port}"),
        child: Some(child),
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
