//! The two backends under one small SQL interface: SQLite (a file, the default) and
//! PostgreSQL (a server a fleet of agents shares).
//!
//! Queries are written once, in the SQL both understand, with `?1`-style parameters
//! (turned into `$1` for PostgreSQL). Values cross as [`Value`]: whole numbers, text
//! or NULL, whatever integer width a column has. What differs between the two lives
//! here and nowhere else: creating tables (identity columns), taking the write lock
//! of a transaction that decides something (SQLite's `BEGIN IMMEDIATE`, a
//! transaction-wide advisory lock on PostgreSQL), and reading a table's columns.

use std::sync::Mutex;

/// A value going into or coming out of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::Int(v as i64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(v as i64)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}
impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Value {
        v.as_deref().into()
    }
}

/// Parameters of a query: `args![a, b]`.
macro_rules! args {
    () => { &[] as &[$crate::store::db::Value] };
    ($($v:expr),+ $(,)?) => { &[$($crate::store::db::Value::from($v)),+] as &[$crate::store::db::Value] };
}
pub(crate) use args;

/// A value read from a row.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}
impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(*i),
            Value::Text(t) => t.parse().ok(),
            Value::Null => None,
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Option<String> {
        match v {
            Value::Text(t) => Some(t.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Null => None,
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Option<bool> {
        i64::from_value(v).map(|i| i != 0)
    }
}
impl FromValue for Value {
    fn from_value(v: &Value) -> Option<Value> {
        Some(v.clone())
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Option<T>> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a result.
#[derive(Debug, Clone)]
pub struct Row(Vec<Value>);

impl Row {
    /// Column `i` as `T`; a NULL or a value of another kind where `T` does not allow
    /// it is an error naming the column.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, DbError> {
        let v = self
            .0
            .get(i)
            .ok_or_else(|| DbError(format!("no column {i}")))?;
        T::from_value(v).ok_or_else(|| DbError(format!("column {i} holds an unexpected {v:?}")))
    }
}

/// An error of either backend, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError(pub String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError(e.to_string())
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        // The server's own message (with its detail) says more than "db error".
        match e.as_db_error() {
            Some(db) => DbError(match db.detail() {
                Some(d) => format!("{} ({d})", db.message()),
                None => db.message().to_string(),
            }),
            None => DbError(e.to_string()),
        }
    }
}

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One connection.
pub enum Db {
    Sqlite(rusqlite::Connection),
    /// Dropped through [`blocking_pg`]: closing the client blocks too.
    Postgres(std::mem::ManuallyDrop<Mutex<postgres::Client>>),
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres(client) = self {
            // SAFETY: the client is dropped once, here, and never used again.
            blocking_pg(|| unsafe { std::mem::ManuallyDrop::drop(client) });
        }
    }
}

/// Runs a blocking PostgreSQL call. The client drives its connection on a small
/// runtime of its own, which cannot start on a thread that drives tokio tasks: on
/// such a thread the call runs in `block_in_place` (store calls are meant for
/// blocking threads, but a command may make a quick one from async code).
pub(crate) fn blocking_pg<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A lock key every deciding transaction on PostgreSQL takes ("juru" in ASCII).
const WRITE_LOCK: i64 = 0x6a75_7275;

impl Db {
    pub fn kind(&self) -> Kind {
        match self {
            Db::Sqlite(_) => Kind::Sqlite,
            Db::Postgres(_) => Kind::Postgres,
        }
    }

    fn pg(&self) -> Option<std::sync::MutexGuard<'_, postgres::Client>> {
        match self {
            Db::Postgres(c) => Some(c.lock().unwrap_or_else(|p| p.into_inner())),
            Db::Sqlite(_) => None,
        }
    }

    /// Runs one statement; how many rows it changed.
    pub fn execute(&self, sql: &str, args: &[Value]) -> Result<u64, DbError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let n = stmt.execute(rusqlite::params_from_iter(args.iter().map(sqlite_value)))?;
                Ok(n as u64)
            }
            Db::Postgres(_) => {
                let mut c = self.pg().expect("postgres");
                let refs = pg_args(args);
                Ok(blocking_pg(|| c.execute(pg_sql(sql).as_str(), &refs))?)
            }
        }
    }

    /// Runs a query; its rows.
    pub fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let n = stmt.column_count();
                let rows = stmt.query_map(
                    rusqlite::params_from_iter(args.iter().map(sqlite_value)),
                    |r| {
                        (0..n)
                            .map(|i| {
                                Ok(match r.get_ref(i)? {
                                    rusqlite::types::ValueRef::Null => Value::Null,
                                    rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                                    rusqlite::types::ValueRef::Real(f) => Value::Int(f as i64),
                                    rusqlite::types::ValueRef::Text(t) => {
                                        Value::Text(String::from_utf8_lossy(t).into_owned())
                                    }
                                    rusqlite::types::ValueRef::Blob(b) => {
                                        Value::Text(String::from_utf8_lossy(b).into_owned())
                                    }
                                })
                            })
                            .collect::<rusqlite::Result<Vec<_>>>()
                            .map(Row)
                    },
                )?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Db::Postgres(_) => {
                let mut c = self.pg().expect("postgres");
                let refs = pg_args(args);
                let rows = blocking_pg(|| c.query(pg_sql(sql).as_str(), &refs))?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get::<_, PgValue>(i).map(|v| v.0))
                            .collect::<Result<Vec<_>, _>>()
                            .map(Row)
                            .map_err(DbError::from)
                    })
                    .collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt(&self, sql: &str, args: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// The first row of a query, which must be there.
    pub fn query_one(&self, sql: &str, args: &[Value]) -> Result<Row, DbError> {
        self.query_opt(sql, args)?
            .ok_or_else(|| DbError("the query returned no row".into()))
    }

    /// Runs statements separated by `;`, without parameters.
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(_) => {
                let mut c = self.pg().expect("postgres");
                Ok(blocking_pg(|| c.batch_execute(sql))?)
            }
        }
    }

    /// Runs `f` in one transaction that holds the store's write lock from its start,
    /// so what it reads cannot change before it writes: two processes (or two agents
    /// of a fleet) deciding the same thing are served one after the other. Commits
    /// when `f` returns `Ok`, rolls back otherwise.
    pub fn deciding<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Db::Sqlite(_) => self.batch("BEGIN IMMEDIATE")?,
            Db::Postgres(_) => {
                self.batch("BEGIN")?;
                if let Err(e) = self.execute("SELECT pg_advisory_xact_lock(?1)", args![WRITE_LOCK])
                {
                    let _ = self.batch("ROLLBACK");
                    return Err(e.into());
                }
            }
        }
        self.end(f(self))
    }

    /// Ends the open transaction: commits after `done` succeeded, else rolls back.
    fn end<T, E: From<DbError>>(&self, done: Result<T, E>) -> Result<T, E> {
        let committed = match done {
            Ok(v) => self.batch("COMMIT").map(|()| v),
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                return Err(e);
            }
        };
        committed.map_err(|e| {
            let _ = self.batch("ROLLBACK");
            e.into()
        })
    }

    /// Runs `f` in one transaction (several writes that belong together).
    pub fn transaction<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, E>,
    ) -> Result<T, E> {
        self.batch("BEGIN")?;
        self.end(f(self))
    }

    /// Creates tables written in SQLite's words: on PostgreSQL an `INTEGER PRIMARY
    /// KEY AUTOINCREMENT` becomes an identity column and `INTEGER` a `BIGINT`.
    pub fn create(&self, ddl: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(_) => self.batch(ddl),
            Db::Postgres(_) => self.batch(&pg_ddl(ddl)),
        }
    }

    /// Whether `table` has a column `column`.
    pub fn has_column(&self, table: &str, column: &str) -> Result<bool, DbError> {
        let sql = match self {
            Db::Sqlite(_) => "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
            Db::Postgres(_) => {
                "SELECT 1 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = ?1 AND column_name = ?2"
            }
        };
        Ok(self.query_opt(sql, args![table, column])?.is_some())
    }

    /// Whether the table exists.
    pub fn has_table(&self, table: &str) -> Result<bool, DbError> {
        let sql = match self {
            Db::Sqlite(_) => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            Db::Postgres(_) => {
                "SELECT 1 FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_name = ?1"
            }
        };
        Ok(self.query_opt(sql, args![table])?.is_some())
    }
}

fn sqlite_value(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
    }
}

fn pg_args(args: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    args.iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

/// `?1` → `$1`, outside quoted text.
pub(crate) fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        if c == '\'' {
            quoted = !quoted;
        }
        out.push(if c == '?' && !quoted { '$' } else { c });
    }
    out
}

/// SQLite's table words in PostgreSQL's.
pub(crate) fn pg_ddl(ddl: &str) -> String {
    ddl.replace(
        "INTEGER PRIMARY KEY AUTOINCREMENT",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    )
    .replace("INTEGER", "BIGINT")
}

mod pg_types {
    use postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

    use super::Value;

    type BoxError = Box<dyn std::error::Error + Sync + Send>;

    /// Sends a value as whatever type the server expects for the parameter.
    impl ToSql for Value {
        fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
            match self {
                Value::Null => Ok(IsNull::Yes),
                Value::Int(i) => match *ty {
                    Type::INT8 => i.to_sql(ty, out),
                    Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                    Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                    Type::BOOL => (*i != 0).to_sql(ty, out),
                    Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                    _ => i.to_string().to_sql(&Type::TEXT, out),
                },
                Value::Text(t) => match *ty {
                    Type::INT8 => t.parse::<i64>()?.to_sql(ty, out),
                    Type::INT4 => t.parse::<i32>()?.to_sql(ty, out),
                    _ => t.as_str().to_sql(&Type::TEXT, out),
                },
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    /// Reads any integer, boolean or text column.
    pub(super) struct PgValue(pub Value);

    impl<'a> FromSql<'a> for PgValue {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<PgValue, BoxError> {
            Ok(PgValue(match *ty {
                Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
                Type::INT4 => Value::Int(i32::from_sql(ty, raw)? as i64),
                Type::INT2 => Value::Int(i16::from_sql(ty, raw)? as i64),
                Type::BOOL => Value::Int(bool::from_sql(ty, raw)? as i64),
                Type::FLOAT8 => Value::Int(f64::from_sql(ty, raw)? as i64),
                Type::FLOAT4 => Value::Int(f32::from_sql(ty, raw)? as i64),
                _ => Value::Text(String::from_utf8_lossy(raw).into_owned()),
            }))
        }

        fn from_sql_null(_: &Type) -> Result<PgValue, BoxError> {
            Ok(PgValue(Value::Null))
        }

        fn accepts(_: &Type) -> bool {
            true
        }
    }
}

use pg_types::PgValue;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_tables_in_postgres_words() {
        assert_eq!(
            pg_sql("SELECT '?' FROM t WHERE a = ?1 AND b = ?2"),
            "SELECT '?' FROM t WHERE a = $1 AND b = $2"
        );
        assert_eq!(
            pg_ddl("id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL"),
            "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL"
        );
    }

    /// The run engine and the CLI use stores in async code: opening, using and
    /// dropping one on a runtime worker must not start the client's runtime there.
    #[test]
    fn a_store_is_used_and_dropped_on_a_runtime_worker() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        crate::store::each_backend(|location| {
            runtime.block_on(async move {
                tokio::spawn(async move {
                    let store = crate::store::Store::open(location).expect("the store");
                    assert!(store.runs(None, 5).expect("runs").is_empty());
                    drop(store);
                })
                .await
                .expect("no panic");
            });
        });
    }
}
