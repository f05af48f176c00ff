//! Dashboard users: `config/users.toml`, one table per user with a role and an
//! argon2 password hash (never the password itself).
//!
//! ```toml
//! [siti]
//! role = "officer"          # "admin", "supervisor" or "officer"
//! password_hash = "$argon2id$v=19$..."
//! language = "id"           # optional: "id" (default) or "en"
//! ```
//!
//! `juru users add NAME --role ROLE` reads the password from standard input and
//! writes the hash. Hashing is slow on purpose (blocking): call it from a blocking
//! thread in async code.
//!
//! The dashboard keeps the file in a [`Book`] that reads it again whenever its size,
//! modification time or inode change, so every request sees the current users: a
//! session whose user is gone, or whose role or password changed, ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::{Problem, Problems};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Sees every page and handles exceptions.
    Officer,
    /// Also pauses, resumes and runs schedules.
    Supervisor,
    /// Also sees and edits users.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "officer" => Some(Role::Officer),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

/// One validated user.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    /// `true` for English pages; Indonesian otherwise.
    pub english: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    role: String,
    password_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    language: Option<String>,
}

/// Whether `name` can be a user name: 1 to 64 of `a-z 0-9 . _ -`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// Loads and validates `users.toml`; no users when the file does not exist.
/// Every problem is reported at once, each at its file:line:col.
pub fn load(path: &Path) -> Result<BTreeMap<String, User>, Problems> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Problem::new(&shown, format!("cannot read the file: {e}")).into()),
    };
    let at = |keys: &[&str]| crate::config::key_location(&shown, &text, keys);
    crate::config::parse_all::<BTreeMap<String, UserFile>>(&shown, &text)
        .then(|file| validate(file, &at))
}

fn validate(
    file: BTreeMap<String, UserFile>,
    at: &dyn Fn(&[&str]) -> String,
) -> Result<BTreeMap<String, User>, Problems> {
    let mut problems = Problems::default();
    let mut users = BTreeMap::new();
    for (name, u) in file {
        let role = Role::parse(&u.role);
        if role.is_none() {
            problems.0.push(Problem::new(
                at(&[&name, "role"]),
                format!("{name}.role: unknown role \"{}\", expected \"admin\", \"supervisor\" or \"officer\"", u.role),
            ));
        }
        if !valid_name(&name) {
            problems.0.push(Problem::new(
                at(&[&name]),
                format!("[{name}]: a user name is 1 to 64 of a-z, 0-9, '.', '_' and '-'"),
            ));
        }
        if PasswordHash::new(&u.password_hash).is_err() {
            problems.0.push(Problem::new(
                at(&[&name, "password_hash"]),
                format!("{name}.password_hash: not an argon2 hash; set it with `juru users add {name} --role ROLE`"),
            ));
        }
        let english = match u.language.as_deref() {
            None | Some("id") => false,
            Some("en") => true,
            Some(other) => {
                problems.0.push(Problem::new(
                    at(&[&name, "language"]),
                    format!(
                        "{name}.language: unknown language \"{other}\", expected \"id\" or \"en\""
                    ),
                ));
                false
            }
        };
        if let Some(role) = role {
            users.insert(
                name.clone(),
                User {
                    name,
                    role,
                    password_hash: u.password_hash,
                    english,
                },
            );
        }
    }
    problems.into_result(users)
}

/// The argon2id hash of a password, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    #[cfg(test)]
    VERIFIED.with(|n| n.set(n.get() + 1));
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
thread_local! {
    /// How many argon2 verifications this thread ran (unit tests count them).
    static VERIFIED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The hash an unknown user name is checked against, so that a wrong name costs the
/// same argon2 work as a wrong password and the answer's timing does not tell which
/// names exist. Made once (with the same parameters as every user's hash).
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut secret = [0u8; 32];
        argon2::password_hash::rand_core::RngCore::fill_bytes(&mut OsRng, &mut secret);
        let password: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        // Hashing a 64-character password with a fresh salt cannot fail; this fixed
        // hash of a discarded password keeps the work the same if it ever did.
        hash_password(&password).unwrap_or_else(|_| FALLBACK_DUMMY.to_string())
    })
}

const FALLBACK_DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Qm1bQmQ0M7vtbYHz8w2m0N9jOQ1nA7gqVqPjvQ3nZ5Y";

/// The user `name` when `password` is theirs. Always runs one argon2 verification,
/// against a dummy hash for a name that is not a user. Blocking (slow on purpose).
pub fn authenticate(users: &BTreeMap<String, User>, name: &str, password: &str) -> Option<User> {
    match users.get(name) {
        Some(u) => verify_password(&u.password_hash, password).then(|| u.clone()),
        None => {
            let _ = verify_password(dummy_hash(), password);
            None
        }
    }
}

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
    device: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        inode: m.ino(),
        device: m.dev(),
    })
}

/// The users of `users.toml` as they are now: read again when the file changed
/// (size, modification time or inode; `juru users add` replaces the file, so it
/// gets a new inode). Checking costs one `stat`.
pub struct Book {
    path: PathBuf,
    cached: Mutex<(Option<Stamp>, Users)>,
}

/// The users of a [`Book`], or why `users.toml` cannot be read.
pub type Users = Arc<Result<BTreeMap<String, User>, String>>;

impl Book {
    /// Reads `path` now; later calls of [`Book::users`] read it again when it changed.
    pub fn new(path: PathBuf) -> Book {
        let users = Arc::new(load(&path).map_err(|p| p.to_string()));
        Book {
            cached: Mutex::new((stamp(&path), users)),
            path,
        }
    }

    /// The current users, or why `users.toml` cannot be read.
    pub fn users(&self) -> Users {
        let now = stamp(&self.path);
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 != now || cached.0.is_none() {
            let users = load(&self.path).map_err(|p| p.to_string());
            if let Err(e) = &users {
                tracing::warn!(error = %e, "dashboard: users.toml cannot be read; no one is logged in");
            }
            *cached = (now, Arc::new(users));
        }
        cached.1.clone()
    }
}

/// Adds a user to `users.toml`, or sets the role and password of an existing one.
/// The file is replaced in one step (written beside it, then renamed); a new user
/// is appended so the file's comments stay.
pub fn add(path: &Path, name: &str, role: Role, password: &str) -> Result<(), String> {
    let shown = path.display().to_string();
    if !valid_name(name) {
        return Err(format!(
            "user name \"{name}\": expected 1 to 64 of a-z, 0-9, '.', '_' and '-'"
        ));
    }
    if password.chars().count() < 8 {
        return Err("the password must have at least 8 characters".into());
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{shown}: cannot read: {e}")),
    };
    let mut file: BTreeMap<String, UserFile> =
        crate::config::parse_toml(&shown, &text).map_err(|p| p.to_string())?;
    let hash = hash_password(password)?;
    let new_text = match file.get_mut(name) {
        Some(u) => {
            u.role = role.word().to_string();
            u.password_hash = hash;
            toml::to_string(&file).map_err(|e| format!("{shown}: cannot write: {e}"))?
        }
        None => {
            let mut t = text;
            if !t.is_empty() && !t.ends_with('\n') {
                t.push('\n');
            }
            t.push_str(&format!(
                "\n[{name}]\nrole = \"{}\"\npassword_hash = \"{hash}\"\n",
                role.word()
            ));
            t
        }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("{}: cannot write: {e}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, new_text.as_bytes())
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    tmp.persist(path)
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_load_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        std::fs::write(&path, "# dashboard users\n").unwrap();
        add(&path, "siti", Role::Officer, "rahasia-siti").unwrap();
        add(&path, "budi", Role::Supervisor, "rahasia-budi").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# dashboard users\n"));
        assert!(!text.contains("rahasia"));
        let users = load(&path).unwrap();
        assert_eq!(users["siti"].role, Role::Officer);
        assert!(verify_password(
            &users["siti"].password_hash,
            "rahasia-siti"
        ));
        assert!(!verify_password(
            &users["siti"].password_hash,
            "rahasia-budi"
        ));
        add(&path, "siti", Role::Admin, "baru-sekali").unwrap();
        let users = load(&path).unwrap();
        assert_eq!(users["siti"].role, Role::Admin);
        assert!(verify_password(&users["siti"].password_hash, "baru-sekali"));
        assert_eq!(users.len(), 2);
    }

    #[test]
    fn bad_entries_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        std::fs::write(
            &path,
            "[siti]\nrole = \"boss\"\npassword_hash = \"secret\"\n",
        )
        .unwrap();
        let err = load(&path).unwrap_err().to_string();
        let shown = path.display();
        assert!(
            err.contains(&format!("{shown}:2:8: siti.role: unknown role \"boss\"")),
            "{err}"
        );
        assert!(
            err.contains("siti.password_hash: not an argon2 hash"),
            "{err}"
        );
        assert!(add(&path, "../x", Role::Admin, "longenough").is_err());
        assert!(add(&path, "ok", Role::Admin, "short").is_err());
    }

    /// Unknown names cost one argon2 verification like known ones, against a hash
    /// made with the same parameters: the answer's timing does not tell which
    /// names exist.
    #[test]
    fn unknown_names_cost_the_same_argon2_work() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        add(&path, "siti", Role::Officer, "rahasia-siti").unwrap();
        let users = load(&path).unwrap();
        let count = || VERIFIED.with(|n| n.get());
        let before = count();
        assert!(authenticate(&users, "siti", "rahasia-siti").is_some());
        assert_eq!(count(), before + 1);
        assert!(authenticate(&users, "siti", "salah").is_none());
        assert_eq!(count(), before + 2);
        assert!(authenticate(&users, "nobody", "rahasia-siti").is_none());
        assert_eq!(count(), before + 3, "an unknown name is verified too");
        let params = |h: &str| {
            let h = PasswordHash::new(h).unwrap();
            (
                h.algorithm.to_string(),
                h.version,
                h.params.to_string(),
                h.hash.map(|o| o.len()),
            )
        };
        assert_eq!(params(dummy_hash()), params(&users["siti"].password_hash));
        assert_eq!(params(FALLBACK_DUMMY), params(&users["siti"].password_hash));
    }

    #[test]
    fn the_book_sees_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let book = Book::new(path.clone());
        assert!(book.users().as_ref().as_ref().unwrap().is_empty());
        add(&path, "siti", Role::Officer, "rahasia-siti").unwrap();
        let first = book.users();
        let first = first.as_ref().as_ref().unwrap();
        assert_eq!(first["siti"].role, Role::Officer);
        // A new role within the same second: the size and the inode tell.
        add(&path, "siti", Role::Admin, "rahasia-siti").unwrap();
        assert_eq!(
            book.users().as_ref().as_ref().unwrap()["siti"].role,
            Role::Admin
        );
        std::fs::write(&path, "# nobody\n").unwrap();
        assert!(book.users().as_ref().as_ref().unwrap().is_empty());
        std::fs::write(&path, "[x]\nrole = 1\n").unwrap();
        assert!(book.users().is_err());
    }
}
