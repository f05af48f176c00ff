//! What wakes an idle agent besides its next fire and signals. The kernel (inotify)
//! tells it about:
//!
//! - a changed file in the config folder or its `calendars/`: the agent reloads;
//! - a write to the store's database by another process (`juru trigger`, the
//!   dashboard's "run now"): the agent reads the run requests;
//! - a new or rewritten message in `outbox/pending/`: the agent plans its next mail
//!   retry.
//!
//! So between fires the agent polls nothing and uses no CPU. Where inotify cannot be
//! used (a file system without it, the per-user watch limit reached) the agent looks
//! every [`TICK`](super::TICK) instead, and says so in its log.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use inotify::{EventMask, EventStream, Inotify, WatchDescriptor, WatchMask};

use super::TICK;

/// What may have changed since the last wake-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub config: bool,
    pub store: bool,
    pub outbox: bool,
}

impl Changes {
    const ALL: Changes = Changes {
        config: true,
        store: true,
        outbox: true,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config,
    Calendars,
    Store,
    Pending,
}

/// Watches the config folder, the store's folder and the outbox.
pub struct Watcher {
    stream: Option<EventStream<Vec<u8>>>,
    kinds: HashMap<WatchDescriptor, Kind>,
    calendars: PathBuf,
    /// The database and its journal files: only their changes matter in the
    /// store's folder.
    store_files: Vec<OsString>,
    /// Used instead of inotify when it is not available.
    fallback: tokio::time::Interval,
}

const FILES: WatchMask = WatchMask::CLOSE_WRITE
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::CREATE)
    .union(WatchMask::DELETE);

impl Watcher {
    /// Watches `config` (and `config/calendars`), the folder of the database file
    /// `store` (none for a store on a server: the agent looks at it every few
    /// seconds instead) and `outbox/pending` (created when missing).
    pub fn new(config: &Path, store: Option<&Path>, outbox: &Path) -> Watcher {
        let mut fallback = tokio::time::interval(TICK);
        fallback.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let store_files = match store.and_then(|s| s.file_name()) {
            Some(name) => ["", "-wal", "-journal"]
                .iter()
                .map(|suffix| {
                    let mut n = name.to_os_string();
                    n.push(suffix);
                    n
                })
                .collect(),
            None => Vec::new(),
        };
        let mut watcher = Watcher {
            stream: None,
            kinds: HashMap::new(),
            calendars: config.join("calendars"),
            store_files,
            fallback,
        };
        let pending = outbox.join("pending");
        let _ = std::fs::create_dir_all(&pending);
        let store_dir = store.map(|s| match s.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        });
        let started = Inotify::init().and_then(|inotify| {
            let mut watches: Vec<(&Path, WatchMask, Kind)> = vec![
                (config, FILES, Kind::Config),
                (&pending, FILES, Kind::Pending),
            ];
            if let Some(dir) = &store_dir {
                watches.push((dir, FILES | WatchMask::MODIFY, Kind::Store));
            }
            for (path, mask, kind) in watches {
                let wd = inotify.watches().add(path, mask).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                })?;
                watcher.kinds.insert(wd, kind);
            }
            inotify.into_event_stream(vec![0u8; 4096])
        });
        match started {
            Ok(stream) => {
                watcher.stream = Some(stream);
                watcher.watch_calendars();
            }
            Err(e) => {
                watcher.kinds.clear();
                tracing::warn!(
                    "cannot watch the config folder, the store and the outbox for changes ({e}); looking every {} s instead",
                    TICK.as_secs()
                );
            }
        }
        watcher
    }

    /// Whether the kernel reports the changes (not the every-TICK fallback).
    pub fn is_watching(&self) -> bool {
        self.stream.is_some()
    }

    fn watch_calendars(&mut self) {
        let Some(stream) = &self.stream else { return };
        if !self.calendars.is_dir() {
            return;
        }
        match stream.watches().add(&self.calendars, FILES) {
            Ok(wd) => {
                self.kinds.insert(wd, Kind::Calendars);
            }
            Err(e) => tracing::warn!("cannot watch {} for changes: {e}", self.calendars.display()),
        }
    }

    /// Waits until something may have changed. Cancel-safe: no event is lost when
    /// another branch of a `select!` wins.
    pub async fn changed(&mut self) -> Changes {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                self.fallback.tick().await;
                return Changes::ALL;
            };
            let event = match stream.next().await {
                Some(Ok(event)) => event,
                Some(Err(e)) => {
                    tracing::warn!(
                        "watching for changes failed ({e}); looking every {} s instead",
                        TICK.as_secs()
                    );
                    self.stream = None;
                    self.fallback.reset();
                    return Changes::ALL;
                }
                None => {
                    self.stream = None;
                    return Changes::ALL;
                }
            };
            if event.mask.contains(EventMask::Q_OVERFLOW) {
                return Changes::ALL;
            }
            let Some(kind) = self.kinds.get(&event.wd).copied() else {
                continue;
            };
            if event.mask.contains(EventMask::IGNORED) {
                // The watched folder itself went away.
                self.kinds.remove(&event.wd);
                return Changes::ALL;
            }
            let name = event.name.as_deref();
            match kind {
                Kind::Config => {
                    if name.is_some_and(|n| n == "calendars")
                        && event.mask.contains(EventMask::ISDIR)
                    {
                        self.watch_calendars();
                    }
                    return Changes {
                        config: true,
                        ..Changes::default()
                    };
                }
                Kind::Calendars => {
                    return Changes {
                        config: true,
                        ..Changes::default()
                    }
                }
                Kind::Store => {
                    if name.is_some_and(|n| self.store_files.iter().any(|f| f == n)) {
                        return Changes {
                            store: true,
                            ..Changes::default()
                        };
                    }
                }
                Kind::Pending => {
                    return Changes {
                        outbox: true,
                        ..Changes::default()
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Everything the watcher reports for what was already written. The kernel
    /// queues an event during the write itself, so a short quiet spell ends it.
    async fn drain(w: &mut Watcher) -> Changes {
        let mut all = Changes::default();
        while let Ok(c) = tokio::time::timeout(Duration::from_millis(200), w.changed()).await {
            all.config |= c.config;
            all.store |= c.store;
            all.outbox |= c.outbox;
        }
        all
    }

    fn only(config: bool, store: bool, outbox: bool) -> Changes {
        Changes {
            config,
            store,
            outbox,
        }
    }

    #[tokio::test]
    async fn reports_config_store_and_outbox_changes_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        let (config, data) = (root.path().join("config"), root.path().join("data"));
        std::fs::create_dir_all(&config).unwrap();
        std::fs::create_dir_all(data.join("runs")).unwrap();
        let store = data.join("juru.db");
        std::fs::write(&store, b"").unwrap();
        let mut w = Watcher::new(&config, Some(&store), &data.join("outbox"));
        assert!(w.is_watching());
        assert!(data.join("outbox/pending").is_dir());

        // Files beside the database that are not the database, and run folders.
        std::fs::write(data.join("agent.log"), b"x").unwrap();
        std::fs::write(data.join("runs").join("a.txt"), b"x").unwrap();
        assert_eq!(drain(&mut w).await, Changes::default());

        std::fs::write(config.join("agent.toml"), b"x = 1").unwrap();
        assert_eq!(drain(&mut w).await, only(true, false, false));
        std::fs::write(data.join("juru.db-wal"), b"x").unwrap();
        assert_eq!(drain(&mut w).await, only(false, true, false));
        std::fs::write(data.join("outbox/pending/m.json"), b"{}").unwrap();
        assert_eq!(drain(&mut w).await, only(false, false, true));

        // A calendars folder made later is watched too.
        std::fs::create_dir(config.join("calendars")).unwrap();
        assert_eq!(drain(&mut w).await, only(true, false, false));
        std::fs::write(config.join("calendars/libur.toml"), b"").unwrap();
        assert_eq!(drain(&mut w).await, only(true, false, false));
    }
}
