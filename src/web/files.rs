//! Serving a run's files (workbooks, screenshots, logs) safely: the wanted path
//! must be relative, without `..`, and must resolve (after following symlinks)
//! to a file inside the run's folder.

use std::path::{Component, Path, PathBuf};

/// Why a file is not served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// `..`, an absolute path, a backslash or a NUL byte.
    Unsafe,
    /// No such file, or it resolves outside the run folder.
    Missing,
}

/// The real path of `wanted` inside `base`.
pub fn resolve(base: &Path, wanted: &str) -> Result<PathBuf, Refused> {
    if wanted.is_empty() || wanted.contains('\\') || wanted.contains('\0') {
        return Err(Refused::Unsafe);
    }
    let rel = Path::new(wanted);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Refused::Unsafe);
    }
    let base = base.canonicalize().map_err(|_| Refused::Missing)?;
    let full = base
        .join(rel)
        .canonicalize()
        .map_err(|_| Refused::Missing)?;
    if !full.starts_with(&base) || !full.is_file() {
        return Err(Refused::Missing);
    }
    Ok(full)
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
        assert!(resolve(&run, "screenshots/a.png").is_ok());
        assert_eq!(resolve(&run, "../secret.txt"), Err(Refused::Unsafe));
        assert_eq!(
            resolve(&run, "screenshots/../../secret.txt"),
            Err(Refused::Unsafe)
        );
        assert_eq!(resolve(&run, "/etc/passwd"), Err(Refused::Unsafe));
        assert_eq!(resolve(&run, "..\\secret.txt"), Err(Refused::Unsafe));
        assert_eq!(resolve(&run, "link.txt"), Err(Refused::Missing));
        assert_eq!(resolve(&run, "screenshots"), Err(Refused::Missing));
        assert_eq!(resolve(&run, "nothing.png"), Err(Refused::Missing));
    }
}
