//! The WAL checkpointer: a thread of its own copies committed pages from the WAL back into the database
//! file (`PRAGMA wal_checkpoint(PASSIVE)`, which never blocks the writer or the readers), so that the writer
//! does not stall on a checkpoint in the middle of the commits everyone waits for. The writer keeps a large
//! automatic checkpoint as a backstop, should this thread fall behind.

use crate::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::mpsc;
use std::time::Duration;

/// How often the WAL is checkpointed.
const INTERVAL: Duration = Duration::from_millis(250);
/// The writer's own automatic checkpoint, in WAL pages (4 KiB each: 1 GiB). Under a steady stream of
/// commits beside busy readers this thread never finds the WAL fully copied at the moment the writer begins,
/// so the WAL only starts again from its beginning after a checkpoint by the writer itself, once it holds
/// this many pages. That checkpoint syncs the WAL and the database file on the writer's thread, tens to
/// hundreds of milliseconds while this thread's copies are written out, once per fill of the WAL: a full
/// sync of 1,000,000 assets writes ~190 MB of WAL a second, and at 65,536 pages (a checkpoint every ~1.4 s)
/// the writer waited in `fsync` a tenth to a fifth of its time. A larger WAL costs disk space only: readers
/// search only the part not yet copied.
pub(crate) const WRITER_BACKSTOP_PAGES: i64 = 262_144;

/// Stops the checkpointer when dropped.
pub(crate) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` every [`INTERVAL`].
    pub(crate) fn start(path: &str) -> StoreResult<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(1))?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("assetsync-sqlite-checkpoint".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        row.get::<_, i64>(0)
                    });
                    if let Err(error) = done {
                        tracing::warn!(%error, "WAL checkpoint failed; the writer's own checkpoint stands in");
                    }
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Self { _stop: stop })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::conn::{Connections, Durability, execute};
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
}
