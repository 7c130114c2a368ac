//! [`Maintenance`], [`DeadLetters`] and [`HandmadeEntries`]: retention, size, queue depths (indexed counts:
//! no counter row that every writer would update), work given up, and the prior state of hand-made entries.

use super::PostgresStore;
use super::conn::{Tx, column, execute, one, read_tx, rows, write_tx};
use super::partial::replay_refusals;
use super::shared::{
    LIVE, count_len, counter, enqueue_sku, from_json, mark_pending, parse_sku, to_json,
};
use crate::{Backlog, DeadLetter, DeadLetters, HandmadeEntries, Maintenance, StoreResult};
use async_trait::async_trait;
use domain::Sku;
use domain::gallery::HandmadeRecord;

/// Retention: delivered events, finished full syncs, and the statuses of assets that left every product.
const PRUNE: [&str; 3] = [
    "DELETE FROM events WHERE received_ms < $1",
    "DELETE FROM full_syncs WHERE state IN ('done', 'failed') AND finished_ms < $1",
    "DELETE FROM assets WHERE unlinked_ms < $1 AND status = 'Success'
       AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM gallery g WHERE g.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = assets.asset_id)",
];

#[async_trait]
impl Maintenance for PostgresStore {
    async fn prune(&self, before_ms: i64) -> StoreResult<u64> {
        Ok(write_tx!(self, |tx| {
            let mut removed = 0;
            for sql in PRUNE {
                removed += execute(&tx, sql, &[&before_ms]).await?;
            }
            removed
        }))
    }

    /// The size of the store's tables and their indexes (its schema: other schemas of the database are
    /// not the store's).
    async fn database_bytes(&self) -> StoreResult<i64> {
        Ok(read_tx!(self, |tx| {
            one(
                &tx,
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relkind = 'r'",
                &[],
            )
            .await?
        }))
    }

    async fn backlog(&self) -> StoreResult<Backlog> {
        Ok(read_tx!(self, |tx| { load_backlog(&tx).await? }))
    }

    async fn sync_latencies(&self) -> StoreResult<Vec<i64>> {
        Ok(read_tx!(self, |tx| {
            column(
                &tx,
                "SELECT last_latency_ms FROM assets WHERE last_latency_ms IS NOT NULL",
                &[],
            )
            .await?
        }))
    }
}

async fn load_backlog(tx: &Tx<'_>) -> StoreResult<Backlog> {
    let depths = rows(
        tx,
        "SELECT (SELECT COUNT(*) FROM asset_work),
                (SELECT COUNT(*) FROM sku_work),
                (SELECT COUNT(*) FROM assets WHERE status = 'Waiting'),
                (SELECT COUNT(*) FROM assets WHERE status = 'Failed'),
                (SELECT COUNT(*) FROM sku_work WHERE priority > 0),
                (SELECT COUNT(*) FROM dead_letters),
                (SELECT MIN(first_enqueued_ms) FROM sku_work),
                (SELECT MIN(waiting_since_ms) FROM assets WHERE status = 'Waiting')",
        &[],
    )
    .await?;
    let Some(d) = depths.first() else {
        return Ok(Backlog::default());
    };
    Ok(Backlog {
        asset_work: d.try_get(0)?,
        sku_work: d.try_get(1)?,
        waiting_assets: d.try_get(2)?,
        failed_assets: d.try_get(3)?,
        events: counter(tx, "events_stored").await?,
        unused_events: counter(tx, "unused_events").await?,
        bulk_sku_work: d.try_get(4)?,
        dead_letters: d.try_get(5)?,
        oldest_sku_work_ms: d.try_get(6)?,
        oldest_waiting_ms: d.try_get(7)?,
    })
}

#[async_trait]
impl DeadLetters for PostgresStore {
    async fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>> {
        let stored = read_tx!(self, |tx| {
            rows(
                &tx,
                "SELECT id, sku, attempts, errors, created_ms FROM dead_letters ORDER BY id",
                &[],
            )
            .await?
        });
        stored
            .iter()
            .map(|r| {
                let (sku, errors): (String, String) = (r.try_get(1)?, r.try_get(3)?);
                Ok(DeadLetter {
                    id: r.try_get(0)?,
                    sku: parse_sku(&sku)?,
                    attempts: r.try_get(2)?,
                    errors: from_json(&errors)?,
                    created_ms: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn replay_dead_letters(&self, id: Option<i64>, now_ms: i64) -> StoreResult<u64> {
        Ok(write_tx!(self, |tx| {
            let skus: Vec<String> = column(
                &tx,
                "DELETE FROM dead_letters WHERE $1::BIGINT IS NULL OR id = $1 RETURNING sku",
                &[&id],
            )
            .await?;
            for sku in &skus {
                replay_sku(&tx, sku, now_ms).await?;
            }
            let refusals = match id {
                None => replay_refusals(&tx, now_ms).await?,
                Some(_) => 0,
            };
            count_len(skus.len()).saturating_add(refusals)
        }))
    }
}

/// Queues a dead-lettered SKU again from attempt 1; the assets that failed with it wait for it again.
async fn replay_sku(tx: &Tx<'_>, sku: &str, now_ms: i64) -> StoreResult<()> {
    let generation = enqueue_sku(tx, sku, now_ms, now_ms, LIVE).await?;
    execute(
        tx,
        "UPDATE sku_work SET attempt = 0, errors = '[]' WHERE sku = $1",
        &[&sku],
    )
    .await?;
    let assets: Vec<String> = column(
        tx,
        "UPDATE assets SET status = 'Waiting', failure_kind = NULL,
             waiting_since_ms = COALESCE(waiting_since_ms, $2)
         WHERE status = 'Failed' AND failure_kind = 'sku_final'
           AND asset_id IN (SELECT asset_id FROM claims WHERE sku = $1
                            UNION SELECT asset_id FROM gallery WHERE sku = $1)
         RETURNING asset_id",
        &[&sku, &now_ms],
    )
    .await?;
    for asset in assets {
        mark_pending(tx, &asset, sku, generation).await?;
    }
    Ok(())
}

#[async_trait]
impl HandmadeEntries for PostgresStore {
    async fn handmade_records(&self, sku: &Sku) -> StoreResult<Vec<HandmadeRecord>> {
        let stored = read_tx!(self, |tx| {
            rows(
                &tx,
                "SELECT entry_id, prior_disabled, prior_roles FROM handmade_entries WHERE sku = $1
                 ORDER BY entry_id",
                &[&sku.as_str()],
            )
            .await?
        });
        stored
            .iter()
            .map(|r| {
                let roles: String = r.try_get(2)?;
                Ok(HandmadeRecord {
                    entry_id: r.try_get(0)?,
                    prior_disabled: r.try_get(1)?,
                    prior_roles: from_json(&roles)?,
                })
            })
            .collect()
    }

    async fn remember_handmade(&self, sku: &Sku, record: &HandmadeRecord) -> StoreResult<()> {
        write_tx!(self, |tx| {
            execute(
                &tx,
                "INSERT INTO handmade_entries (sku, entry_id, prior_disabled, prior_roles)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (sku, entry_id) DO NOTHING",
                &[
                    &sku.as_str(),
                    &record.entry_id,
                    &record.prior_disabled,
                    &to_json(&record.prior_roles)?,
                ],
            )
            .await?;
        });
        Ok(())
    }

    async fn forget_handmade(&self, sku: &Sku, entry_id: &str) -> StoreResult<()> {
        write_tx!(self, |tx| {
            execute(
                &tx,
                "DELETE FROM handmade_entries WHERE sku = $1 AND entry_id = $2",
                &[&sku.as_str(), &entry_id],
            )
            .await?;
        });
        Ok(())
    }
}
