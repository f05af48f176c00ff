//! One agent per data folder: the agent holds an exclusive lock on
//! `<data>/agent.lock` for as long as it runs (the kernel releases it when the
//! process ends, however it ends), so a second agent on the same folder, which
//! would run every schedule a second time, refuses to start.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// The held lock; released when dropped or when the process ends.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

impl DataLock {
    /// Takes the lock, or says which agent holds it.
    pub fn acquire(data: &Path) -> Result<DataLock, String> {
        std::fs::create_dir_all(data)
            .map_err(|e| format!("cannot create the data folder {}: {e}", data.display()))?;
        let path = data.join("agent.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(format!(
                    "another juru agent{} already works on the data folder {}; two agents on one folder would run every schedule twice: stop that one first",
                    if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" (process {holder})")
                    },
                    data.display()
                ));
            }
            return Err(format!("cannot lock {}: {err}", path.display()));
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(file, "{}", std::process::id());
        Ok(DataLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataLock::acquire(dir.path()).unwrap();
        let err = DataLock::acquire(dir.path()).unwrap_err();
        assert!(
            err.contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("another juru agent"), "{err}");
        drop(first);
        assert!(DataLock::acquire(dir.path()).is_ok());
    }
}
