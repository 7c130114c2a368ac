//! The connections. One writer thread owns the only read-write connection and runs each call as one
//! `BEGIN IMMEDIATE` transaction with cached prepared statements: a batch of hundreds of outcomes is one call
//! into the database, not one round trip per statement. Reader threads own read-only connections (WAL lets
//! them read while the writer writes); an in-memory database has none and reads through the writer.

use super::checkpoint::{Checkpointer, WRITER_BACKSTOP_PAGES};
use super::queue::{Job, JobQueue, Lane, job_queue};
use crate::{StoreError, StoreResult};
use rusqlite::types::FromSql;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Params, Row, TransactionBehavior};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;

/// How a write must reach the disk before it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// `synchronous=NORMAL`: survives a crash of the process; the last commits may be lost on power loss.
    Normal,
    /// `synchronous=FULL`: the WAL is synced before the commit returns (what precedes an acknowledgement).
    Full,
}

/// Prepared statements kept per connection (every statement the store runs fits).
const STATEMENT_CACHE: usize = 256;
/// `PRAGMA synchronous` values.
const NORMAL: u8 = 1;
const FULL: u8 = 2;
/// Reader threads of a file database.
const READERS: usize = 3;
/// The writer's page cache, in KiB (`PRAGMA cache_size` takes a negative number for KiB). SQLite's default
/// of 2 MiB holds a few hundred pages: at a million assets every random key of a batch then misses the
/// cache and is read again from the file (a system call and a copy per page).
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// The writer and reader threads of one database.
pub(crate) struct Connections {
    writer: JobQueue,
    readers: Option<JobQueue>,
    /// The writer's `synchronous` setting now (only the writer thread changes it).
    synchronous: Arc<AtomicU8>,
    /// Checkpoints the WAL beside the writer (a file database only).
    _checkpointer: Option<Checkpointer>,
}

impl Connections {
    /// Opens the writer connection at `path` (`None`: an in-memory database) and its readers.
    pub(crate) fn open(path: Option<&str>) -> StoreResult<Self> {
        let writer = match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        configure(&writer)?;
        writer.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        writer.pragma_update(None, "foreign_keys", true)?;
        writer.pragma_update(None, "wal_autocheckpoint", WRITER_BACKSTOP_PAGES)?;
        let writer = spawn("assetsync-sqlite-writer", vec![writer])?;
        let readers = match path {
            Some(path) => {
                let connections = (0..READERS)
                    .map(|_| {
                        let conn = Connection::open_with_flags(
                            path,
                            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )?;
                        configure(&conn)?;
                        Ok(conn)
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                Some(spawn("assetsync-sqlite-reader", connections)?)
            }
            None => None,
        };
        let checkpointer = path.map(Checkpointer::start).transpose()?;
        Ok(Self {
            writer,
            readers,
            synchronous: Arc::new(AtomicU8::new(NORMAL)),
            _checkpointer: checkpointer,
        })
    }

    /// Runs `work` in one write transaction on the writer thread; commits when it returns `Ok`, rolls back
    /// otherwise. A commit that precedes an acknowledgement (`Full`) goes before queued background batches.
    pub(crate) async fn write<R, F>(&self, durability: Durability, work: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let lane = match durability {
            Durability::Full => Lane::Urgent,
            Durability::Normal => Lane::Normal,
        };
        self.write_in(lane, durability, work).await
    }

    /// Runs a claim of work: a short write that goes before queued background batches, since how soon the
    /// workers get their next items sets the pace of every queue.
    pub(crate) async fn claim<R, F>(&self, work: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        self.write_in(Lane::Urgent, Durability::Normal, work).await
    }

    async fn write_in<R, F>(&self, lane: Lane, durability: Durability, work: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let synchronous = self.synchronous.clone();
        call(&self.writer, lane, move |conn| {
            set_durability(conn, &synchronous, durability)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }

    /// Runs `work` in one read transaction (one snapshot) on a reader thread.
    pub(crate) async fn read<R, F>(&self, work: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let queue = self.readers.as_ref().unwrap_or(&self.writer);
        call(queue, Lane::Normal, move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The temporary store stays SQLite's default (a file, written only past its in-memory part): a statement
    // journal is then kept in one chunk of `SQLITE_STMTJRNL_SPILL` bytes (16 MiB, set for the bundled SQLite
    // in `.cargo/config.toml`), where `temp_store = MEMORY` keeps it in 1 KiB chunks, five allocations per
    // page a set-based statement changes.
    Ok(())
}

/// Makes the writer's next commit as durable as asked (the pragma applies to the connection; `current`
/// remembers it, so that an unchanged setting costs nothing).
fn set_durability(
    conn: &Connection,
    current: &AtomicU8,
    durability: Durability,
) -> StoreResult<()> {
    let wanted = match durability {
        Durability::Normal => NORMAL,
        Durability::Full => FULL,
    };
    if current.load(Ordering::Relaxed) != wanted {
        conn.pragma_update(None, "synchronous", wanted)?;
        current.store(wanted, Ordering::Relaxed);
    }
    Ok(())
}

/// Starts one thread per connection, all taking jobs from one queue.
fn spawn(name: &str, connections: Vec<Connection>) -> StoreResult<JobQueue> {
    let (queue, source) = job_queue();
    for mut conn in connections {
        let source = source();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while let Some(job) = source.next() {
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start a database thread: {e}")))?;
    }
    Ok(queue)
}

/// Sends `work` to a connection thread and waits for its answer.
async fn call<R, F>(queue: &JobQueue, lane: Lane, work: F) -> StoreResult<R>
where
    R: Send + 'static,
    F: FnOnce(&mut Connection) -> StoreResult<R> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job: Job = Box::new(move |conn| {
        let _ = reply.send(work(conn));
    });
    if !queue.push(lane, job) {
        return Err(StoreError::Closed);
    }
    answer.await.map_err(|_| StoreError::Closed)?
}

/// Runs one statement (prepared once per connection); returns the rows changed.
pub(crate) fn execute(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// The first column of the one row a statement returns.
pub(crate) fn one<T: FromSql>(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<T> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params, |row| row.get(0))?)
}

/// The first column of the row a statement returns, if any.
pub(crate) fn optional<T: FromSql>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> StoreResult<Option<T>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params, |row| row.get(0))
        .optional()?)
}

/// The first column of every row a statement returns.
pub(crate) fn column<T: FromSql>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> StoreResult<Vec<T>> {
    rows(conn, sql, params, |row| row.get(0))
}

/// Every row a statement returns, mapped.
pub(crate) fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mapped = statement.query_map(params, map)?;
    Ok(mapped.collect::<Result<Vec<_>, _>>()?)
}

/// The row a statement returns, if any, mapped.
pub(crate) fn row<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params, map)
        .optional()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::{Connections, column};

    /// The bundled SQLite is built with the statement-journal chunk `.cargo/config.toml` sets; without it a
    /// set-based statement's journal would be kept in 1 KiB chunks or spill to a file past 64 KiB.
    #[tokio::test]
    async fn the_bundled_sqlite_keeps_a_statement_journal_in_one_16_mib_chunk() {
        let db = Connections::open(None).unwrap();
        let options: Vec<String> = db
            .read(|conn| column(conn, "PRAGMA compile_options", []))
            .await
            .unwrap();
        assert!(
            options.iter().any(|o| o == "STMTJRNL_SPILL=16777216"),
            "compile options: {options:?}"
        );
        let temp_store: i64 = db
            .read(|conn| super::one(conn, "PRAGMA temp_store", []))
            .await
            .unwrap();
        assert_eq!(temp_store, 0, "temp_store = MEMORY would keep 1 KiB chunks");
    }
}
