//! A small harness: a temp project (config/, bots/, var/), the juru binary run in it,
//! and on failure everything needed to see why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A temporary project folder with `config/`, `bots/` and `var/`.
pub struct Project {
    pub dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

/// What a juru command did.
pub struct Run {
    pub command: String,
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nexit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

impl Project {
    /// An empty project with a headless agent.toml.
    pub fn new() -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        for d in ["config", "bots", "var", "tmp"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        let p = Project {
            dir,
            env: BTreeMap::new(),
        };
        p.write("config/agent.toml", "[browser]\nheadless = true\n");
        p
    }

    /// A project holding a copy of the repository's demo bot.
    pub fn with_demo_bot() -> Project {
        let p = Project::new();
        copy_dir(
            &Path::new(REPO).join("bots/demo-perizinan"),
            &p.path("bots/demo-perizinan"),
        );
        p
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Runs `juru ARGS` in the project folder. Temp files (browser profiles) go to
    /// the project's own `tmp/`, so a test can look for processes left behind.
    pub fn juru(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_juru"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TMPDIR", self.path("tmp"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("juru binary runs");
        Run {
            command: format!("juru {}", args.join(" ")),
            output,
        }
    }

    /// Starts `juru ARGS` in the project folder and returns at once (for tests that
    /// signal or kill it). With `capture`, standard output and error are piped (read
    /// them, or the child may block); without, they are dropped.
    pub fn spawn(&self, args: &[&str], capture: bool) -> std::process::Child {
        let out = || {
            if capture {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            }
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_juru"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TMPDIR", self.path("tmp"))
            .stdout(out())
            .stderr(out());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("juru starts")
    }

    /// Starts `juru ARGS` in the project folder with its output (both streams) in
    /// the project's file `log`; returns at once.
    pub fn spawn_logged(&self, args: &[&str], log: &str) -> std::process::Child {
        let file = std::fs::File::create(self.path(log)).expect("log file");
        let err = file.try_clone().expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_juru"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TMPDIR", self.path("tmp"))
            .env("NO_COLOR", "1")
            .stdout(file)
            .stderr(err);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("juru starts")
    }

    /// Files under `relative`, for failure messages and "nothing left behind" checks.
    pub fn files(&self, relative: &str) -> Vec<String> {
        let mut out = Vec::new();
        walk(
            &self.path(relative),
            &self.dir.path().to_path_buf(),
            &mut out,
        );
        out.sort();
        out
    }

    /// Asserts that the data folder is still empty (a refused command wrote nothing).
    pub fn assert_nothing_written(&self) {
        let files = self.files("var");
        assert!(files.is_empty(), "left behind: {files:?}");
    }

    /// The items of the project's only run, as its store holds them.
    pub fn run_items(&self) -> Vec<juru::store::ItemRecord> {
        let store = juru::store::Store::open(self.path("var/juru.db")).expect("the store");
        let dir = self.run_dir();
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a run folder name");
        store.items(id).expect("the run's items")
    }

    /// The only run folder under var/runs.
    pub fn run_dir(&self) -> PathBuf {
        let runs: Vec<_> = std::fs::read_dir(self.path("var/runs"))
            .expect("var/runs exists")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        assert_eq!(runs.len(), 1, "expected one run folder, found {runs:?}");
        runs[0].clone()
    }

    /// Processes whose command line mentions this project's folder (browsers and
    /// drivers started for it).
    pub fn processes(&self) -> Vec<String> {
        let needle = self.dir.path().display().to_string();
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return found;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
            else {
                continue;
            };
            if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                if cmdline.contains(&needle) && !cmdline.contains("juru-it") {
                    found.push(format!("{pid}: {cmdline}"));
                }
            }
        }
        found
    }
}

fn walk(dir: &Path, root: &PathBuf, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, root, out);
        } else {
            out.push(p.strip_prefix(root).unwrap_or(&p).display().to_string());
        }
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from)
        .expect("read dir")
        .filter_map(|e| e.ok())
    {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A tokio runtime with the demo portal running on 127.0.0.1:0.
pub struct PortalHandle {
    pub rt: tokio::runtime::Runtime,
    pub portal: Option<juru::demo::Portal>,
}

impl PortalHandle {
    pub fn start() -> PortalHandle {
        PortalHandle::start_with(juru::demo::PortalOptions::default())
    }

    pub fn start_with(options: juru::demo::PortalOptions) -> PortalHandle {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let portal = rt
            .block_on(juru::demo::Portal::start_with(
                "127.0.0.1:0".parse().expect("addr"),
                options,
            ))
            .expect("portal starts");
        PortalHandle {
            rt,
            portal: Some(portal),
        }
    }
}

impl std::ops::Deref for PortalHandle {
    type Target = juru::demo::Portal;

    fn deref(&self) -> &juru::demo::Portal {
        self.portal.as_ref().expect("the portal is running")
    }
}

impl Drop for PortalHandle {
    fn drop(&mut self) {
        if let Some(p) = self.portal.take() {
            self.rt.block_on(p.stop());
        }
    }
}

/// A bot named `lab` over `rows` rows (one column `No`: 1, 2, …) whose script is
/// `script`, with `manifest` appended to its bot.toml.
pub fn lab_bot(p: &Project, script: &str, manifest: &str, rows: u32) {
    p.write(
        "bots/lab/bot.toml",
        &format!("name = \"lab\"\n[input]\nworkbook = \"masuk.xlsx\"\n{manifest}\n"),
    );
    p.write("bots/lab/main.rhai", script);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "No").expect("header");
    for r in 1..=rows {
        ws.write_number(r, 0, r as f64).expect("row");
    }
    wb.save(p.path("bots/lab/masuk.xlsx")).expect("workbook");
}

/// Runs the `lab` bot against `portal` with `extra` arguments.
pub fn run_lab(p: &Project, portal: &PortalHandle, extra: &[&str]) -> Run {
    let var = format!("portal_url={}", portal.url());
    let mut args = vec!["run", "lab", "--var", &var];
    args.extend_from_slice(extra);
    p.juru(&args)
}

/// The most items that were in browsers at the same time, from when each item's
/// last attempt began to when it ended.
pub fn most_at_once(items: &[juru::store::ItemRecord]) -> i32 {
    let at = |t: &Option<String>| {
        chrono::DateTime::parse_from_rfc3339(t.as_deref().expect("a started and ended item"))
            .expect("an RFC 3339 time")
    };
    let mut events: Vec<_> = items
        .iter()
        .flat_map(|i| [(at(&i.started_at), 1), (at(&i.finished_at), -1)])
        .collect();
    // At one instant, an end comes before a start.
    events.sort();
    let (mut now, mut most) = (0, 0);
    for (_, d) in events {
        now += d;
        most = most.max(now);
    }
    most
}
