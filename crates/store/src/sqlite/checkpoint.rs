//! The WAL checkpointer: a thread of its own copies committed pages from the WAL back into the database
//! file (`PRAGMA wal_checkpoint(PASSIVE)`, which never blocks the writer or the readers), so that the writer
//! does not stall on a checkpoint in the middle of the commits everyone waits for.
//!
//! Copying is not enough to keep the WAL small: SQLite only starts the WAL again from its beginning when a
//! writer finds it wholly copied and no reader on it, which a steady stream of commits beside busy readers
//! never allows. So once the WAL holds [`RESTART_PAGES`], this thread asks the writer to restart it: the
//! writer runs `PRAGMA wal_checkpoint(RESTART)` between two transactions, which copies the little this thread
//! has not yet copied, waits (briefly) for the readers still on the WAL, and starts it again. The writer's own
//! automatic checkpoint stays as a backstop, should this thread fall behind.

use crate::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How often the WAL is checkpointed.
const INTERVAL: Duration = Duration::from_millis(250);
/// WAL pages (4 KiB each: 64 MiB) past which the writer is asked to restart the WAL.
pub(crate) const RESTART_PAGES: i64 = 16_384;
/// How long a restart waits for readers still on the WAL before it gives up (to be asked again).
const RESTART_WAIT: Duration = Duration::from_millis(100);
/// The writer's own automatic checkpoint, in WAL pages (256 MiB). Past this size SQLite has the writer run a
/// checkpoint after every commit, syncing the WAL and the database file on its own thread (two `fsync`s per
/// commit: a quarter of the writer's time during a full sync when it was 10,000 pages and the WAL was never
/// restarted). With restarts at [`RESTART_PAGES`] it is not reached.
pub(crate) const WRITER_BACKSTOP_PAGES: i64 = 65_536;

/// Set by the checkpointer when the WAL has grown past its restart size; taken by the writer.
#[derive(Clone, Default)]
pub(crate) struct RestartWanted(Arc<AtomicBool>);

impl RestartWanted {
    fn ask(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once per request.
    pub(crate) fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

/// Stops the checkpointer when dropped.
pub(crate) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` every [`INTERVAL`]; asks for a restart through `restart`
    /// once the WAL holds `restart_pages`.
    pub(crate) fn start(path: &str, restart_pages: i64, restart: RestartWanted) -> StoreResult<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(1))?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("assetsync-sqlite-checkpoint".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    // (blocked, pages in the WAL, pages copied)
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        row.get::<_, i64>(1)
                    });
                    match done {
                        Ok(pages) if pages >= restart_pages => restart.ask(),
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(%error, "WAL checkpoint failed; the writer's own checkpoint stands in")
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Self { _stop: stop })
    }
}

/// Restarts the WAL from its beginning; run by the writer between two transactions. Readers still on the
/// WAL are waited for at most [`RESTART_WAIT`]; then the writer goes on and the checkpointer asks again.
pub(crate) fn restart_wal(conn: &Connection, busy_timeout: Duration) -> StoreResult<()> {
    conn.busy_timeout(RESTART_WAIT)?;
    let blocked = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
        row.get::<_, i64>(0)
    });
    conn.busy_timeout(busy_timeout)?;
    if blocked? != 0 {
        tracing::debug!("the WAL could not be restarted yet: a reader is still on it");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::conn::{Connections, Durability, execute, one};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn committed_pages_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("c.db");
        let path = path.to_str().unwrap();
        let db = Connections::open(Some(path)).unwrap();
        db.write(Durability::Normal, |conn| {
            execute(conn, "CREATE TABLE t (v BLOB)", [])?;
            for _ in 0..256 {
                execute(conn, "INSERT INTO t (v) VALUES (zeroblob(4000))", [])?;
            }
            Ok(())
        })
        .await
        .unwrap();
        // About 260 pages sit in the WAL: far below the writer's own automatic checkpoint, so only the
        // checkpointer can have copied them into the database file.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            if size > 256 * 4000 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the database file is still {size} bytes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn the_wal_starts_again_from_its_beginning_under_steady_commits_and_busy_readers() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("r.db");
        let path = path.to_str().unwrap();
        // Restarted at 256 pages (1 MiB), far below the writer's own automatic checkpoint.
        let db = Arc::new(Connections::open_restarting_at(Some(path), 256).unwrap());
        db.write(Durability::Normal, |conn| {
            execute(conn, "CREATE TABLE t (v BLOB)", [])?;
            Ok(())
        })
        .await
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (db, stop) = (db.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        db.read(|conn| one::<Option<i64>>(conn, "SELECT max(rowid) FROM t", []))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        // Commits one after the other for two seconds, four pages each.
        let mut pages = 0_u64;
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            db.write(Durability::Normal, |conn| {
                for _ in 0..4 {
                    execute(conn, "INSERT INTO t (v) VALUES (zeroblob(4000))", [])?;
                }
                Ok(())
            })
            .await
            .unwrap();
            pages += 4;
        }
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            reader.await.unwrap();
        }
        let written = pages * 4096;
        assert!(
            written > 8 << 20,
            "only {written} bytes were written: too few to tell"
        );
        // Started again, the WAL file keeps the size it reached between two restarts.
        let wal = std::fs::metadata(format!("{path}-wal")).unwrap().len();
        assert!(
            wal < written / 2,
            "the WAL file is {wal} bytes after {written} bytes were committed: it was never started again"
        );
    }
}
