//! Serving a run's files (workbooks, screenshots, logs) safely: the wanted path
//! must be relative, without `..`, must name a file inside the run's folder with
//! no symlink on the way, and the file must be a regular file with exactly one
//! link (a hard link is another name of a file that may live anywhere on the
//! disk). The file is opened without following a link, and checked on the open
//! handle, so what is checked is what is read.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// Why a file is not served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// `..`, an absolute path, a backslash or a NUL byte.
    Unsafe,
    /// No such file, or it resolves outside the run folder, or it is not a
    /// regular file with one link.
    Missing,
}

/// `wanted` inside `base`, opened for reading, with its path.
pub fn open(base: &Path, wanted: &str) -> Result<(PathBuf, File), Refused> {
    let full = resolve(base, wanted)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        // O_NONBLOCK: a FIFO put there does not hang the request.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&full)
        .map_err(|_| Refused::Missing)?;
    let meta = file.metadata().map_err(|_| Refused::Missing)?;
    if !meta.file_type().is_file() || meta.nlink() != 1 {
        return Err(Refused::Missing);
    }
    Ok((full, file))
}

/// The real path of `wanted` inside `base`: no part of `wanted` may be a symlink.
fn resolve(base: &Path, wanted: &str) -> Result<PathBuf, Refused> {
    if wanted.is_empty() || wanted.contains('\\') || wanted.contains('\0') {
        return Err(Refused::Unsafe);
    }
    let rel = Path::new(wanted);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Refused::Unsafe);
    }
    let base = base.canonicalize().map_err(|_| Refused::Missing)?;
    let full = base.join(rel);
    let real = full.canonicalize().map_err(|_| Refused::Missing)?;
    if real != full || !real.starts_with(&base) {
        return Err(Refused::Missing);
    }
    Ok(real)
}

/// The content type of a served file.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv" => "text/csv; charset=utf-8",
        "html" | "htm" => "text/plain; charset=utf-8",
        "log" | "txt" | "json" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_folder() {
        let root = tempfile::tempdir().unwrap();
        let run = root.path().join("run");
        std::fs::create_dir_all(run.join("screenshots")).unwrap();
        std::fs::write(run.join("screenshots/a.png"), b"png").unwrap();
        std::fs::write(root.path().join("secret.txt"), b"no").unwrap();
        std::os::unix::fs::symlink(root.path().join("secret.txt"), run.join("link.txt")).unwrap();
        std::fs::hard_link(root.path().join("secret.txt"), run.join("hard.txt")).unwrap();
        std::os::unix::fs::symlink(run.join("screenshots"), run.join("shots")).unwrap();
        let refused = |wanted: &str| open(&run, wanted).map(|_| ()).unwrap_err();
        let (path, file) = open(&run, "screenshots/a.png").unwrap();
        assert!(path.ends_with("run/screenshots/a.png"));
        assert_eq!(file.metadata().unwrap().len(), 3);
        assert_eq!(refused("../secret.txt"), Refused::Unsafe);
        assert_eq!(refused("screenshots/../../secret.txt"), Refused::Unsafe);
        assert_eq!(refused("/etc/passwd"), Refused::Unsafe);
        assert_eq!(refused("..\\secret.txt"), Refused::Unsafe);
        assert_eq!(refused("link.txt"), Refused::Missing);
        assert_eq!(refused("hard.txt"), Refused::Missing, "a hard link");
        assert_eq!(
            refused("shots/a.png"),
            Refused::Missing,
            "a symlinked folder"
        );
        assert_eq!(refused("screenshots"), Refused::Missing);
        assert_eq!(refused("nothing.png"), Refused::Missing);
    }
}
