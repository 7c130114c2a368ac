//! [`Maintenance`], [`DeadLetters`] and [`HandmadeEntries`]: retention, size, queue depths (from counters
//! kept by triggers and indexed counts: nothing here scans a whole table), work given up, and the prior
//! state of hand-made entries.

use super::SqliteStore;
use super::conn::{Durability, column, execute, one, rows};
use super::partial::replay_refusals;
use super::shared::{
    LIVE, count, counter, enqueue_sku, from_json, mark_pending, parse_sku, to_json,
};
use crate::{Backlog, DeadLetter, DeadLetters, HandmadeEntries, Maintenance, StoreResult};
use async_trait::async_trait;
use domain::Sku;
use domain::gallery::HandmadeRecord;
use rusqlite::Connection;

/// Retention: delivered events, finished full syncs, and the statuses of assets that left every product.
pub(super) const PRUNE_EVENTS: &str = "DELETE FROM events WHERE received_ms < ?1";
pub(super) const PRUNE_FULL_SYNCS: &str =
    "DELETE FROM full_syncs WHERE state IN ('done', 'failed') AND finished_ms < ?1";
pub(super) const PRUNE_ASSETS: &str =
    "DELETE FROM assets WHERE unlinked_ms < ?1 AND status = 'Success'
       AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM gallery g WHERE g.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = assets.asset_id)";
/// Assets by status, and since when the longest-waiting one waits.
pub(super) const ASSETS_IN_STATUS: &str = "SELECT COUNT(*) FROM assets WHERE status = ?1";
pub(super) const OLDEST_WAITING: &str =
    "SELECT MIN(waiting_since_ms) FROM assets WHERE status = 'Waiting'";
pub(super) const OLDEST_SKU_WORK: &str = "SELECT MIN(first_enqueued_ms) FROM sku_work";

#[async_trait]
impl Maintenance for SqliteStore {
    async fn prune(&self, before_ms: i64) -> StoreResult<u64> {
        self.db
            .write(Durability::Normal, move |conn| {
                let mut removed = 0;
                for sql in [PRUNE_EVENTS, PRUNE_FULL_SYNCS, PRUNE_ASSETS] {
                    removed += count(execute(conn, sql, [before_ms])?);
                }
                Ok(removed)
            })
            .await
    }

    async fn database_bytes(&self) -> StoreResult<i64> {
        self.db
            .read(|conn| {
                let pages: i64 = one(conn, "PRAGMA page_count", [])?;
                let size: i64 = one(conn, "PRAGMA page_size", [])?;
                Ok(pages * size)
            })
            .await
    }

    async fn backlog(&self) -> StoreResult<Backlog> {
        self.db.read(load_backlog).await
    }

    async fn sync_latencies(&self) -> StoreResult<Vec<i64>> {
        self.db
            .read(|conn| {
                column(
                    conn,
                    "SELECT last_latency_ms FROM assets WHERE last_latency_ms IS NOT NULL",
                    [],
                )
            })
            .await
    }
}

fn load_backlog(conn: &Connection) -> StoreResult<Backlog> {
    Ok(Backlog {
        asset_work: counter(conn, "asset_work")?,
        sku_work: counter(conn, "sku_work")?,
        waiting_assets: one(conn, ASSETS_IN_STATUS, ["Waiting"])?,
        failed_assets: one(conn, ASSETS_IN_STATUS, ["Failed"])?,
        events: counter(conn, "events_stored")?,
        unused_events: counter(conn, "unused_events")?,
        bulk_sku_work: counter(conn, "bulk_sku_work")?,
        dead_letters: counter(conn, "dead_letters")?,
        oldest_sku_work_ms: one(conn, OLDEST_SKU_WORK, [])?,
        oldest_waiting_ms: one(conn, OLDEST_WAITING, [])?,
    })
}

#[async_trait]
impl DeadLetters for SqliteStore {
    async fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>> {
        let stored = self
            .db
            .read(|conn| {
                rows(
                    conn,
                    "SELECT id, sku, attempts, errors, created_ms FROM dead_letters ORDER BY id",
                    [],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, i64>(4)?,
                        ))
                    },
                )
            })
            .await?;
        stored
            .into_iter()
            .map(|(id, sku, attempts, errors, created_ms)| {
                Ok(DeadLetter {
                    id,
                    sku: parse_sku(&sku)?,
                    attempts,
                    errors: from_json(&errors)?,
                    created_ms,
                })
            })
            .collect()
    }

    async fn replay_dead_letters(&self, id: Option<i64>, now_ms: i64) -> StoreResult<u64> {
        self.db
            .write(Durability::Normal, move |conn| {
                let skus: Vec<String> = column(
                    conn,
                    "DELETE FROM dead_letters WHERE ?1 IS NULL OR id = ?1 RETURNING sku",
                    [id],
                )?;
                for sku in &skus {
                    replay_sku(conn, sku, now_ms)?;
                }
                let refusals = match id {
                    None => replay_refusals(conn, now_ms)?,
                    Some(_) => 0,
                };
                Ok(count(skus.len()).saturating_add(refusals))
            })
            .await
    }
}

/// Queues a dead-lettered SKU again from attempt 1; the assets that failed with it wait for it again.
fn replay_sku(conn: &Connection, sku: &str, now_ms: i64) -> StoreResult<()> {
    let generation = enqueue_sku(conn, sku, now_ms, now_ms, LIVE)?;
    execute(
        conn,
        "UPDATE sku_work SET attempt = 0, errors = '[]' WHERE sku = ?",
        [sku],
    )?;
    let assets: Vec<String> = column(
        conn,
        "UPDATE assets SET status = 'Waiting', failure_kind = NULL,
             waiting_since_ms = COALESCE(waiting_since_ms, ?2)
         WHERE status = 'Failed' AND failure_kind = 'sku_final'
           AND asset_id IN (SELECT asset_id FROM claims WHERE sku = ?1 UNION SELECT asset_id FROM gallery WHERE sku = ?1)
         RETURNING asset_id",
        (sku, now_ms),
    )?;
    for asset in assets {
        mark_pending(conn, &asset, sku, generation)?;
    }
    Ok(())
}

#[async_trait]
impl HandmadeEntries for SqliteStore {
    async fn handmade_records(&self, sku: &Sku) -> StoreResult<Vec<HandmadeRecord>> {
        let sku = sku.clone();
        let stored = self
            .db
            .read(move |conn| {
                rows(
                    conn,
                    "SELECT entry_id, prior_disabled, prior_roles FROM handmade_entries WHERE sku = ?
                     ORDER BY entry_id",
                    [sku.as_str()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, bool>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
            })
            .await?;
        stored
            .into_iter()
            .map(|(entry_id, prior_disabled, roles)| {
                Ok(HandmadeRecord {
                    entry_id,
                    prior_disabled,
                    prior_roles: from_json(&roles)?,
                })
            })
            .collect()
    }

    async fn remember_handmade(&self, sku: &Sku, record: &HandmadeRecord) -> StoreResult<()> {
        let (sku, record) = (sku.clone(), record.clone());
        self.db
            .write(Durability::Normal, move |conn| {
                execute(
                    conn,
                    "INSERT INTO handmade_entries (sku, entry_id, prior_disabled, prior_roles)
                     VALUES (?, ?, ?, ?)
                     ON CONFLICT (sku, entry_id) DO NOTHING",
                    (
                        sku.as_str(),
                        &record.entry_id,
                        record.prior_disabled,
                        to_json(&record.prior_roles)?,
                    ),
                )?;
                Ok(())
            })
            .await
    }

    async fn forget_handmade(&self, sku: &Sku, entry_id: &str) -> StoreResult<()> {
        let (sku, entry_id) = (sku.clone(), entry_id.to_owned());
        self.db
            .write(Durability::Normal, move |conn| {
                execute(
                    conn,
                    "DELETE FROM handmade_entries WHERE sku = ? AND entry_id = ?",
                    (sku.as_str(), entry_id),
                )?;
                Ok(())
            })
            .await
    }
}
