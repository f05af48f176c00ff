//! `juru store migrate`, `juru store copy` and `juru agents`: the store itself and
//! the fleet of agents that shares it.
//!
//! Exit codes: 0 done, 1 the store could not be read or written (or was written by
//! a newer juru, or a run goes on), 2 a configuration or usage error.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use super::{load_config, outln, Dirs};
use crate::store::schema::{SCHEMA_VERSION, STEPS};
use crate::store::{Location, Store};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Bring the configured store's schema up to date: prints the version found and
    /// each step applied. Running it again changes nothing.
    ///
    /// Exits 1 when the store cannot be reached or was written by a newer juru.
    Migrate {
        /// Print what was found and done as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Copy the configured store's history (runs, items, fires, schedule states,
    /// dashboard actions, notices, rows passed over) into another store, which is
    /// created or brought up to date first. Rows the target has already are left as
    /// they are, so copying twice adds nothing, and copying the stores of two
    /// machines into one merges them.
    ///
    /// Refused while a run of the configured store goes on (exit 1).
    Copy {
        /// The target: a PostgreSQL address (postgres://user@host:port/db) or a
        /// SQLite file path.
        #[arg(long, value_name = "URL_OR_PATH")]
        to: String,
        /// The secret holding the target database's password (JURU_SECRET_<NAME>,
        /// else config/secrets.toml).
        #[arg(long, value_name = "NAME")]
        password_secret: Option<String>,
        /// Print the rows read and added per table as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `juru store migrate|copy`.
pub fn store_command(dirs: &Dirs, command: StoreCommand) -> ExitCode {
    match command {
        StoreCommand::Migrate { json } => migrate(dirs, json),
        StoreCommand::Copy {
            to,
            password_secret,
            json,
        } => copy(dirs, &to, password_secret.as_deref(), json),
    }
}

fn failed(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

fn usage(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// `juru store migrate`.
fn migrate(dirs: &Dirs, json: bool) -> ExitCode {
    let config = match load_config(dirs, false) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let location = config.store_location(&dirs.data);
    let store = match Store::connect(location.clone()) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let found = match store.schema_version() {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    if found > SCHEMA_VERSION {
        return failed(format!(
            "store {location} was written by a newer juru (schema {found}; this juru knows schema {SCHEMA_VERSION}): run that juru, or a newer one than this"
        ));
    }
    let steps: Vec<&(i64, &str)> = STEPS.iter().filter(|(v, _)| *v > found).collect();
    if !json {
        outln!(
            "store {location}: {}",
            match found {
                0 => "empty (schema 0)".to_string(),
                v => format!("schema {v}"),
            }
        );
    }
    let (before, after) = match store.migrate_schema() {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    // Another agent may have migrated between the first look and the lock.
    let applied: Vec<&(i64, &str)> = steps.into_iter().filter(|(v, _)| *v > before).collect();
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "store": location.to_string(),
                "found": found,
                "schema": after,
                "applied": applied
                    .iter()
                    .map(|(v, what)| serde_json::json!({"version": v, "what": what}))
                    .collect::<Vec<_>>(),
            })
        );
    } else if applied.is_empty() {
        outln!("already at schema {after}: nothing to do");
    } else {
        for (v, what) in &applied {
            outln!("  applied step {v}: {what}");
        }
        outln!("now at schema {after}");
    }
    ExitCode::SUCCESS
}

/// The target of `juru store copy --to`, with its password when one is named.
fn target(
    to: &str,
    secret: Option<&str>,
    config: &crate::config::AgentConfig,
) -> Result<Location, String> {
    let to = to.trim();
    if to.is_empty() {
        return Err("--to: expected a PostgreSQL address (postgres://user@host:port/db) or a SQLite file path, got nothing".into());
    }
    let mut location = Location::parse(to, Path::new(""));
    match &mut location {
        Location::Postgres { url, password } => {
            // Not echoed: the address may hold a password.
            if let Err(e) = crate::store::tls::Address::parse(url) {
                return Err(format!("--to: {e}"));
            }
            if let Some(name) = secret {
                match config.secret(name) {
                    Some(p) => *password = Some(p),
                    None => {
                        return Err(format!(
                            "--password-secret: there is no secret \"{name}\": set the environment variable {} or add `{name} = \"...\"` to {}",
                            crate::mail::secret_variable(name),
                            Path::new("config").join("secrets.toml").display()
                        ))
                    }
                }
            }
        }
        Location::File(path) => {
            if secret.is_some() {
                return Err(format!(
                    "--password-secret: the target {} is a SQLite file, which has no password",
                    path.display()
                ));
            }
            if path.is_dir() {
                return Err(format!(
                    "--to: {} is a folder; expected a SQLite file path such as {}",
                    path.display(),
                    path.join("juru.db").display()
                ));
            }
        }
    }
    Ok(location)
}

/// Whether two locations name one store (the same file, or the same database).
fn same_store(a: &Location, b: &Location) -> bool {
    match (a, b) {
        (Location::File(x), Location::File(y)) => {
            let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            canon(x) == canon(y)
        }
        (Location::Postgres { url: x, .. }, Location::Postgres { url: y, .. }) => {
            let config = |u: &str| crate::store::tls::Address::parse(u).map(|a| a.config);
            match (config(x), config(y)) {
                (Ok(x), Ok(y)) => {
                    format!("{:?}{:?}{:?}", x.get_hosts(), x.get_ports(), x.get_dbname())
                        == format!("{:?}{:?}{:?}", y.get_hosts(), y.get_ports(), y.get_dbname())
                }
                _ => x == y,
            }
        }
        _ => false,
    }
}

/// `juru store copy --to URL_OR_PATH`.
fn copy(dirs: &Dirs, to: &str, secret: Option<&str>, json: bool) -> ExitCode {
    let config = match load_config(dirs, false) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let from = config.store_location(&dirs.data);
    let to = match target(to, secret, &config) {
        Ok(t) => t,
        Err(message) => return usage(message),
    };
    if same_store(&from, &to) {
        return usage(format!(
            "--to: {to} is the configured store itself; name another store to copy into"
        ));
    }
    if let Some(file) = from.file() {
        if !file.is_file() {
            return failed(format!(
                "store {from}: there is no such file, so there is nothing to copy (is --data right?)"
            ));
        }
    }
    let source = match Store::open(from.clone()) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let target = match Store::open(to.clone()) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let report = match source.copy_into(&target) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let read: usize = report.tables.iter().map(|(_, r, _)| r).sum();
    let added: usize = report.tables.iter().map(|(_, _, a)| a).sum();
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "from": from.to_string(),
                "to": to.to_string(),
                "tables": report
                    .tables
                    .iter()
                    .map(|(t, r, a)| serde_json::json!({"table": t, "read": r, "added": a}))
                    .collect::<Vec<_>>(),
                "read": read,
                "added": added,
            })
        );
    } else {
        outln!("copied store {from} into {to}");
        let width = report
            .tables
            .iter()
            .map(|(t, _, _)| t.len())
            .max()
            .unwrap_or(5)
            .max(5);
        outln!("  {:<width$}  {:>8}  {:>8}", "table", "read", "added");
        for (table, r, a) in &report.tables {
            outln!("  {table:<width$}  {r:>8}  {a:>8}");
        }
        outln!("  {:<width$}  {read:>8}  {added:>8}", "total");
        if read == 0 {
            outln!("nothing to copy: the store holds no history yet");
        } else if added == 0 {
            outln!("nothing new: the target already held every row");
        }
    }
    ExitCode::SUCCESS
}

/// `juru agents`.
pub fn agents(dirs: &Dirs, json: bool) -> ExitCode {
    let config = match load_config(dirs, false) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let location = config.store_location(&dirs.data);
    if location.file().is_some_and(|f| !f.is_file()) {
        if json {
            outln!("[]");
        } else {
            outln!("no agent has worked on store {location} yet");
        }
        return ExitCode::SUCCESS;
    }
    let store = match Store::open(location.clone()) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let agents = match store.agents() {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    if json {
        outln!(
            "{}",
            serde_json::Value::Array(
                agents
                    .iter()
                    .map(|a| serde_json::json!({
                        "name": a.name,
                        "host": a.host,
                        "pid": a.pid,
                        "alive": a.alive,
                        "started_at": a.started_at,
                        "heartbeat_at": a.heartbeat_at,
                        "web": a.web,
                        "items_in_progress": a.items_in_progress,
                    }))
                    .collect()
            )
        );
        return ExitCode::SUCCESS;
    }
    if agents.is_empty() {
        outln!("no agent has worked on store {location} yet");
        return ExitCode::SUCCESS;
    }
    let zone = config.time_zone;
    let when = |at: &str| {
        chrono::DateTime::parse_from_rfc3339(at).map_or_else(
            |_| at.to_string(),
            |t| {
                t.with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            },
        )
    };
    let name_w = agents
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let host_w = agents
        .iter()
        .map(|a| a.host.len())
        .max()
        .unwrap_or(4)
        .max(4);
    outln!(
        "{:<name_w$}  {:<host_w$}  {:>7}  {:<5}  {:<23}  items",
        "name",
        "host",
        "pid",
        "alive",
        "last heartbeat"
    );
    for a in &agents {
        outln!(
            "{:<name_w$}  {:<host_w$}  {:>7}  {:<5}  {:<23}  {}",
            a.name,
            a.host,
            a.pid,
            if a.alive { "yes" } else { "no" },
            when(&a.heartbeat_at),
            a.items_in_progress
        );
    }
    ExitCode::SUCCESS
}
