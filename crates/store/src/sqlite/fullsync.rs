//! [`FullSyncs`]: at most one full sync runs and one waits; the running one resumes from its cursor. A page of
//! assets is stored in one call through the bulk path (its SKU work yields to live work).

use super::SqliteStore;
use super::assets::store_links;
use super::bulk;
use super::conn::{Durability, execute, optional, row};
use super::products::insert_products;
use super::shared::{BULK, count, counter, settle_asset};
use crate::{
    BulkAsset, FullSync, FullSyncPhase, FullSyncState, FullSyncs, StoreError, StoreResult,
};
use async_trait::async_trait;
use domain::Sku;
use rusqlite::Connection;

#[async_trait]
impl FullSyncs for SqliteStore {
    async fn request_full_sync(&self, reason: &str, now_ms: i64) -> StoreResult<i64> {
        let reason = reason.to_owned();
        self.db
            .write(Durability::Full, move |conn| {
                super::config::request_full_sync_in(conn, &reason, now_ms)
            })
            .await
    }

    async fn begin_full_sync(&self, now_ms: i64) -> StoreResult<Option<FullSync>> {
        self.db
            .write(Durability::Normal, move |conn| {
                let running: Option<i64> = optional(
                    conn,
                    "SELECT id FROM full_syncs WHERE state = 'running' LIMIT 1",
                    [],
                )?;
                let id = match running {
                    Some(id) => Some(id),
                    None => optional(
                        conn,
                        "UPDATE full_syncs SET state = 'running', started_ms = ?
                         WHERE id = (SELECT id FROM full_syncs WHERE state = 'waiting' ORDER BY id LIMIT 1)
                         RETURNING id",
                        [now_ms],
                    )?,
                };
                match id {
                    Some(id) => load_full_sync(conn, id),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn full_sync(&self, id: i64) -> StoreResult<Option<FullSync>> {
        self.db.read(move |conn| load_full_sync(conn, id)).await
    }

    async fn store_full_sync_page(
        &self,
        id: i64,
        assets: &[BulkAsset],
        next_cursor: Option<&str>,
        total: i64,
        read_ms: i64,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (all, next_cursor) = (assets.to_vec(), next_cursor.map(str::to_owned));
        self.db
            .write(Durability::Normal, move |conn| {
                let assets = bulk::requeue_changed_since(conn, id, &all, read_ms, now_ms)?;
                if bulk::has_repeats(&assets) {
                    for asset in &assets {
                        store_bulk_asset(conn, id, asset, now_ms)?;
                    }
                } else {
                    bulk::store_page(conn, id, &assets, now_ms)?;
                }
                let errors = invalid_count(&assets);
                execute(
                    conn,
                    "UPDATE full_syncs SET cursor = ?2, done = done + ?3, total = MAX(?4, done + ?3),
                         errors = errors + ?5
                     WHERE id = ?1",
                    (
                        id,
                        next_cursor,
                        i64::try_from(all.len()).unwrap_or(i64::MAX),
                        total,
                        errors,
                    ),
                )?;
                Ok(())
            })
            .await
    }

    async fn finish_full_sync_assets(&self, id: i64, now_ms: i64) -> StoreResult<u64> {
        self.db
            .write(Durability::Normal, move |conn| {
                let queued = execute(
                    conn,
                    "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
                     SELECT DISTINCT c.asset_id, 1, 0, ?2, 0 FROM claims c JOIN assets a ON a.asset_id = c.asset_id
                     WHERE a.seen_sync IS NULL OR a.seen_sync != ?1
                     ON CONFLICT (asset_id) DO UPDATE SET generation = generation + 1",
                    (id, now_ms),
                )?;
                execute(
                    conn,
                    "UPDATE full_syncs SET phase = 'products', cursor = NULL WHERE id = ?",
                    [id],
                )?;
                Ok(count(queued))
            })
            .await
    }

    async fn store_full_sync_products(
        &self,
        id: i64,
        skus: &[Sku],
        next_cursor: Option<&str>,
        product_call: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> StoreResult<Vec<Sku>> {
        let (skus, next_cursor, product_call) = (
            skus.to_vec(),
            next_cursor.map(str::to_owned),
            product_call.cloned(),
        );
        self.db
            .write(Durability::Normal, move |conn| {
                let created = insert_products(conn, &skus, product_call.as_ref(), now_ms)?;
                execute(
                    conn,
                    "UPDATE full_syncs SET cursor = ? WHERE id = ?",
                    (next_cursor, id),
                )?;
                Ok(created)
            })
            .await
    }

    async fn set_full_sync_phase(&self, id: i64, phase: FullSyncPhase) -> StoreResult<()> {
        self.db
            .write(Durability::Normal, move |conn| {
                execute(
                    conn,
                    "UPDATE full_syncs SET phase = ?, cursor = NULL WHERE id = ?",
                    (phase.as_str(), id),
                )?;
                Ok(())
            })
            .await
    }

    async fn bulk_sku_work(&self) -> StoreResult<i64> {
        self.db.read(|conn| counter(conn, "bulk_sku_work")).await
    }

    async fn complete_full_sync(
        &self,
        id: i64,
        error: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<()> {
        let error = error.map(str::to_owned);
        self.db
            .write(Durability::Normal, move |conn| {
                execute(
                    conn,
                    "UPDATE full_syncs SET state = CASE WHEN ?2 IS NULL THEN 'done' ELSE 'failed' END,
                         phase = 'done', finished_ms = ?3, last_error = ?2 WHERE id = ?1",
                    (id, error, now_ms),
                )?;
                Ok(())
            })
            .await
    }
}

/// How many assets of a page break the contract (the sync's errors).
fn invalid_count(assets: &[BulkAsset]) -> i64 {
    let invalid = assets
        .iter()
        .filter(|asset| matches!(asset, BulkAsset::Invalid { .. }))
        .count();
    i64::try_from(invalid).unwrap_or(i64::MAX)
}

/// Stores one asset of a full sync's page and marks it seen by this sync (a page that lists an asset twice).
pub(super) fn store_bulk_asset(
    conn: &Connection,
    id: i64,
    asset: &BulkAsset,
    now_ms: i64,
) -> StoreResult<()> {
    let asset_id = match asset {
        BulkAsset::Links {
            asset_id,
            links,
            eligible,
            warnings,
        } => {
            store_links(
                conn,
                asset_id.as_str(),
                links,
                *eligible,
                warnings,
                now_ms,
                BULK,
            )?;
            settle_asset(conn, asset_id.as_str(), now_ms)?;
            asset_id
        }
        BulkAsset::Invalid { asset_id, error } => {
            execute(
                conn,
                "INSERT INTO assets (asset_id, status, processing_ms, last_error, failure_kind)
                 VALUES (?1, 'Failed', ?2, ?3, 'asset')
                 ON CONFLICT (asset_id) DO UPDATE SET status = 'Failed', processing_ms = ?2,
                     last_error = ?3, failure_kind = 'asset'",
                (asset_id.as_str(), now_ms, error),
            )?;
            asset_id
        }
    };
    execute(
        conn,
        "UPDATE assets SET seen_sync = ? WHERE asset_id = ?",
        (id, asset_id.as_str()),
    )?;
    Ok(())
}

fn load_full_sync(conn: &Connection, id: i64) -> StoreResult<Option<FullSync>> {
    type Raw = (
        String,
        String,
        String,
        Option<String>,
        [i64; 4],
        Option<i64>,
        Option<i64>,
        Option<String>,
    );
    let raw: Option<Raw> = row(
        conn,
        "SELECT state, reason, phase, cursor, done, total, errors, created_ms, started_ms, finished_ms,
                last_error
         FROM full_syncs WHERE id = ?",
        [id],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        },
    )?;
    let Some((
        state,
        reason,
        phase,
        cursor,
        [done, total, errors, created_ms],
        started,
        finished,
        last_error,
    )) = raw
    else {
        return Ok(None);
    };
    Ok(Some(FullSync {
        id,
        state: FullSyncState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown full sync state {state:?}")))?,
        reason,
        phase: FullSyncPhase::parse(&phase)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown full sync phase {phase:?}")))?,
        cursor,
        done,
        total,
        errors,
        created_ms,
        started_ms: started,
        finished_ms: finished,
        last_error,
    }))
}
