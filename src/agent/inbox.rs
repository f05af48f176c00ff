//! A schedule's inbox folder: the newest file matching its pattern is the run's
//! input. It moves to `processing/` in the inbox before its run begins (so no later
//! fire, and no restart, can take it again), and to `processed/` once its run has
//! ended for good; a run that could not begin puts it back, and so does the next
//! start of the agent for a file no run holds (the agent died in between).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Whether `name` matches `pattern`: `*` any run of characters, `?` one character,
/// anything else itself (case-sensitive, like the file system).
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// The newest file (by modification time, then name) in `folder` matching
/// `pattern`; `None` when none does or the folder does not exist.
pub fn newest(folder: &Path, pattern: &str) -> std::io::Result<Option<PathBuf>> {
    let entries = match std::fs::read_dir(folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut best: Option<(SystemTime, String, PathBuf)> = None;
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(meta) = e.metadata() else { continue };
        if !meta.is_file() || name.starts_with('.') || !matches(pattern, &name) {
            continue;
        }
        let at = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if best.as_ref().is_none_or(|(t, n, _)| (at, &name) > (*t, n)) {
            best = Some((at, name, e.path()));
        }
    }
    Ok(best.map(|(_, _, p)| p))
}

/// Moves `file` into `<folder>/<sub>/` (a name already there gets a time stamp);
/// where it went.
fn move_into(file: &Path, folder: &Path, sub: &str) -> std::io::Result<PathBuf> {
    let to_dir = folder.join(sub);
    std::fs::create_dir_all(&to_dir)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut to = to_dir.join(&name);
    if to.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
        to = to_dir.join(format!("{stamp}-{name}"));
    }
    std::fs::rename(file, &to)?;
    Ok(to)
}

/// Takes an inbox file for a run: moves it to `<folder>/processing/`.
pub fn take(file: &Path, folder: &Path) -> std::io::Result<PathBuf> {
    move_into(file, folder, "processing")
}

/// Puts a taken file back into the inbox (its run did not begin).
pub fn put_back(file: &Path, folder: &Path) -> std::io::Result<PathBuf> {
    let name = file.file_name().unwrap_or_default();
    let mut to = folder.join(name);
    if to.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
        to = folder.join(format!("{stamp}-{}", name.to_string_lossy()));
    }
    std::fs::rename(file, &to)?;
    Ok(to)
}

/// Moves the input of a run that ended for good to `<folder>/processed/`.
pub fn processed(file: &Path, folder: &Path) -> std::io::Result<PathBuf> {
    move_into(file, folder, "processed")
}

/// Files in `<folder>/processing/` (taken by a run that may have died).
pub fn taken(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder.join("processing")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_a_shell() {
        assert!(matches("*.xlsx", "izin.xlsx"));
        assert!(!matches("*.xlsx", "izin.xlsx.tmp"));
        assert!(matches("izin-??.csv", "izin-01.csv"));
        assert!(!matches("izin-??.csv", "izin-1.csv"));
        assert!(matches("*", "x"));
        assert!(matches("a*b*c", "aXbYbZc"));
    }

    #[test]
    fn the_newest_match_is_taken_and_moved() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(newest(&dir.path().join("none"), "*.xlsx").unwrap(), None);
        let old = dir.path().join("a.xlsx");
        std::fs::write(&old, "1").unwrap();
        let f = std::fs::File::options().write(true).open(&old).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000))
            .unwrap();
        std::fs::write(dir.path().join("b.xlsx"), "2").unwrap();
        std::fs::write(dir.path().join("c.txt"), "3").unwrap();
        let got = newest(dir.path(), "*.xlsx").unwrap().unwrap();
        assert_eq!(got, dir.path().join("b.xlsx"));
        // Taken: no longer in the inbox, so no later fire sees it.
        let taken = take(&got, dir.path()).unwrap();
        assert_eq!(taken, dir.path().join("processing/b.xlsx"));
        assert_eq!(newest(dir.path(), "*.xlsx").unwrap(), Some(old.clone()));
        assert_eq!(super::taken(dir.path()), vec![taken.clone()]);
        // Put back when its run could not begin; taken again; processed at the end.
        let back = put_back(&taken, dir.path()).unwrap();
        assert_eq!(back, got);
        let taken = take(&back, dir.path()).unwrap();
        let to = processed(&taken, dir.path()).unwrap();
        assert_eq!(to, dir.path().join("processed/b.xlsx"));
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "2");
        assert!(super::taken(dir.path()).is_empty());
        assert_eq!(newest(dir.path(), "*.xlsx").unwrap(), Some(old));
    }
}
