//! Readiness notifications for systemd (`Type=notify` in `config/juru.service`).
//!
//! systemd passes the path of a unix datagram socket in `$NOTIFY_SOCKET` (a name in
//! the abstract namespace when it starts with `@`); the agent sends one datagram per
//! state change: `READY=1` once it fires schedules, `RELOADING=1` while SIGHUP
//! reloads the configuration (then `READY=1` again), `STOPPING=1` when it begins to
//! shut down. Without the variable (not started by systemd) nothing is sent.
//!
//! Synchronous and cheap: one `sendto` on a socket that never blocks for long. A
//! failure is logged at debug level and otherwise ignored: the agent works the same
//! whether or not anyone listens.

use std::io;
use std::path::Path;

/// The environment variable systemd sets for a `Type=notify` service.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// The agent is up and fires schedules.
pub fn ready() {
    notify("READY=1");
}

/// The agent is shutting down (it may take up to the stop grace period).
pub fn stopping() {
    notify("STOPPING=1");
}

/// The agent is reloading its configuration; [`ready`] follows when it is done.
pub fn reloading() {
    notify(&reloading_message());
}

/// `RELOADING=1` with the time the reload began, which systemd wants with it.
fn reloading_message() -> String {
    format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec())
}

/// Sends `message` to `$NOTIFY_SOCKET`, if it is set.
fn notify(message: &str) {
    let Some(socket) = std::env::var_os(NOTIFY_SOCKET).filter(|s| !s.is_empty()) else {
        return;
    };
    if let Err(e) = send_to(Path::new(&socket), message) {
        tracing::debug!(socket = %Path::new(&socket).display(), "cannot notify systemd ({message}): {e}");
    }
}

/// Sends one datagram to the notification socket at `socket`: a file system path, or
/// an abstract socket name when it starts with `@`.
pub fn send_to(socket: &Path, message: &str) -> io::Result<()> {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let sender = UnixDatagram::unbound()?;
    let bytes = socket.as_os_str().as_encoded_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => abstract_addr(name)?,
        None => SocketAddr::from_pathname(socket)?,
    };
    let sent = sender.send_to_addr(message.as_bytes(), &addr)?;
    if sent != message.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", message.len()),
        ));
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn abstract_addr(name: &[u8]) -> io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name)
}

#[cfg(not(target_os = "linux"))]
fn abstract_addr(_name: &[u8]) -> io::Result<std::os::unix::net::SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract sockets exist only on Linux",
    ))
}

/// `CLOCK_MONOTONIC` in microseconds, as systemd wants it with `RELOADING=1`.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if r != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    use super::*;

    fn receive(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn a_message_reaches_a_socket_in_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        send_to(&path, "READY=1").unwrap();
        assert_eq!(receive(&socket), "READY=1");
        send_to(&path, "STOPPING=1").unwrap();
        assert_eq!(receive(&socket), "STOPPING=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_name_with_at_is_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("juru-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        send_to(Path::new(&format!("@{name}")), "READY=1").unwrap();
        assert_eq!(receive(&socket), "READY=1");
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let before = monotonic_usec();
        assert!(before > 0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        send_to(&path, &reloading_message()).unwrap();
        let got = receive(&socket);
        let usec: u64 = got
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected message {got:?}"));
        assert!(usec >= before, "{usec} < {before}");
    }

    #[test]
    fn no_listener_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nobody.sock");
        assert!(send_to(&missing, "READY=1").is_err());
    }
}
