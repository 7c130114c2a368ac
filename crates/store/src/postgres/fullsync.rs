//! [`FullSyncs`]: at most one full sync runs and one waits; the running one resumes from its cursor. A page of
//! assets is stored in one call through the bulk path (its SKU work yields to live work).

use super::PostgresStore;
use super::assets::store_links;
use super::conn::{Tx, execute, one, optional, read_tx, row, rows, write_tx};
use super::products::insert_products;
use super::shared::{BULK, settle_asset};
use crate::{
    BulkAsset, FullSync, FullSyncPhase, FullSyncState, FullSyncs, StoreError, StoreResult,
};
use async_trait::async_trait;
use domain::Sku;

#[async_trait]
impl FullSyncs for PostgresStore {
    async fn request_full_sync(&self, reason: &str, now_ms: i64) -> StoreResult<i64> {
        Ok(write_tx!(self, |tx| {
            super::config::request_full_sync_in(&tx, reason, now_ms).await?
        }))
    }

    async fn begin_full_sync(&self, now_ms: i64) -> StoreResult<Option<FullSync>> {
        Ok(write_tx!(self, |tx| {
            // One process at a time decides which sync runs.
            execute(
                &tx,
                "SELECT pg_advisory_xact_lock(hashtext('assetsync full sync ' || COALESCE(current_schema(), '')))",
                &[],
            )
            .await?;
            let running: Option<i64> = optional(
                &tx,
                "SELECT id FROM full_syncs WHERE state = 'running' ORDER BY id LIMIT 1",
                &[],
            )
            .await?;
            let id = match running {
                Some(id) => Some(id),
                None => {
                    optional(
                        &tx,
                        "UPDATE full_syncs SET state = 'running', started_ms = $1
                         WHERE id = (SELECT id FROM full_syncs WHERE state = 'waiting' ORDER BY id LIMIT 1)
                         RETURNING id",
                        &[&now_ms],
                    )
                    .await?
                }
            };
            match id {
                Some(id) => load_full_sync(&tx, id).await?,
                None => None,
            }
        }))
    }

    async fn full_sync(&self, id: i64) -> StoreResult<Option<FullSync>> {
        Ok(read_tx!(self, |tx| { load_full_sync(&tx, id).await? }))
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
        write_tx!(self, |tx| {
            let mut errors = 0_i64;
            let ids: Vec<&str> = assets.iter().map(|a| bulk_asset_id(a).as_str()).collect();
            // Assets whose outcome was stored since the page's reading began keep it and are read again.
            let changed: Vec<String> = rows(
                &tx,
                "SELECT asset_id FROM assets WHERE asset_id = ANY($1::TEXT[]) AND processing_ms >= $2",
                &[&ids as &(dyn tokio_postgres::types::ToSql + Sync), &read_ms],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
            if !changed.is_empty() {
                execute(
                    &tx,
                    "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
                     SELECT a, 1, FALSE, $2::BIGINT, 0 FROM UNNEST($1::TEXT[]) a ORDER BY a
                     ON CONFLICT (asset_id) DO UPDATE SET generation = asset_work.generation + 1",
                    &[&changed, &now_ms],
                )
                .await?;
                execute(
                    &tx,
                    "UPDATE assets SET seen_sync = $1 WHERE asset_id = ANY($2::TEXT[])",
                    &[&id, &changed],
                )
                .await?;
            }
            for asset in assets {
                if !changed.iter().any(|c| c == bulk_asset_id(asset).as_str()) {
                    store_bulk_asset(&tx, id, asset, now_ms, &mut errors).await?;
                }
            }
            let stored = i64::try_from(assets.len()).unwrap_or(i64::MAX);
            execute(
                &tx,
                "UPDATE full_syncs SET cursor = $2, done = done + $3, total = GREATEST($4, done + $3),
                     errors = errors + $5
                 WHERE id = $1",
                &[&id, &next_cursor, &stored, &total, &errors],
            )
            .await?;
        });
        let linked = assets
            .iter()
            .filter_map(|asset| match asset {
                BulkAsset::Links { asset_id, .. } => Some(asset_id.as_str().to_owned()),
                BulkAsset::Invalid { .. } => None,
            })
            .collect();
        self.settle_again(linked, now_ms).await
    }

    async fn finish_full_sync_assets(&self, id: i64, now_ms: i64) -> StoreResult<u64> {
        Ok(write_tx!(self, |tx| {
            let queued = execute(
                &tx,
                "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
                 SELECT DISTINCT c.asset_id, 1, FALSE, $2::BIGINT, 0
                 FROM claims c JOIN assets a ON a.asset_id = c.asset_id
                 WHERE a.seen_sync IS NULL OR a.seen_sync != $1
                 ORDER BY c.asset_id
                 ON CONFLICT (asset_id) DO UPDATE SET generation = asset_work.generation + 1",
                &[&id, &now_ms],
            )
            .await?;
            execute(
                &tx,
                "UPDATE full_syncs SET phase = 'products', cursor = NULL WHERE id = $1",
                &[&id],
            )
            .await?;
            queued
        }))
    }

    async fn store_full_sync_products(
        &self,
        id: i64,
        skus: &[Sku],
        next_cursor: Option<&str>,
        product_call: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> StoreResult<Vec<Sku>> {
        Ok(write_tx!(self, |tx| {
            let created = insert_products(&tx, skus, product_call, now_ms).await?;
            execute(
                &tx,
                "UPDATE full_syncs SET cursor = $1 WHERE id = $2",
                &[&next_cursor, &id],
            )
            .await?;
            created
        }))
    }

    async fn set_full_sync_phase(&self, id: i64, phase: FullSyncPhase) -> StoreResult<()> {
        write_tx!(self, |tx| {
            execute(
                &tx,
                "UPDATE full_syncs SET phase = $1, cursor = NULL WHERE id = $2",
                &[&phase.as_str(), &id],
            )
            .await?;
        });
        Ok(())
    }

    async fn bulk_sku_work(&self) -> StoreResult<i64> {
        Ok(read_tx!(self, |tx| {
            one::<i64>(&tx, "SELECT COUNT(*) FROM sku_work WHERE priority > 0", &[]).await?
        }))
    }

    async fn complete_full_sync(
        &self,
        id: i64,
        error: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            execute(
                &tx,
                "UPDATE full_syncs SET state = CASE WHEN $2::TEXT IS NULL THEN 'done' ELSE 'failed' END,
                     phase = 'done', finished_ms = $3, last_error = $2 WHERE id = $1",
                &[&id, &error, &now_ms],
            )
            .await?;
        });
        Ok(())
    }
}

/// Stores one asset of a full sync's page and marks it seen by this sync.
fn bulk_asset_id(asset: &BulkAsset) -> &domain::AssetId {
    match asset {
        BulkAsset::Links { asset_id, .. } | BulkAsset::Invalid { asset_id, .. } => asset_id,
    }
}

async fn store_bulk_asset(
    tx: &Tx<'_>,
    id: i64,
    asset: &BulkAsset,
    now_ms: i64,
    errors: &mut i64,
) -> StoreResult<()> {
    let asset_id = match asset {
        BulkAsset::Links {
            asset_id,
            links,
            eligible,
            warnings,
        } => {
            store_links(
                tx,
                asset_id.as_str(),
                links,
                *eligible,
                warnings,
                now_ms,
                BULK,
            )
            .await?;
            settle_asset(tx, asset_id.as_str(), now_ms).await?;
            asset_id
        }
        BulkAsset::Invalid { asset_id, error } => {
            *errors += 1;
            execute(
                tx,
                "INSERT INTO assets (asset_id, status, processing_ms, last_error, failure_kind)
                 VALUES ($1, 'Failed', $2, $3, 'asset')
                 ON CONFLICT (asset_id) DO UPDATE SET status = 'Failed', processing_ms = $2,
                     last_error = $3, failure_kind = 'asset'",
                &[&asset_id.as_str(), &now_ms, &error],
            )
            .await?;
            asset_id
        }
    };
    execute(
        tx,
        "UPDATE assets SET seen_sync = $1 WHERE asset_id = $2",
        &[&id, &asset_id.as_str()],
    )
    .await?;
    Ok(())
}

async fn load_full_sync(tx: &Tx<'_>, id: i64) -> StoreResult<Option<FullSync>> {
    let Some(r) = row(
        tx,
        "SELECT state, reason, phase, cursor, done, total, errors, created_ms, started_ms, finished_ms,
                last_error
         FROM full_syncs WHERE id = $1",
        &[&id],
    )
    .await?
    else {
        return Ok(None);
    };
    let (state, phase): (String, String) = (r.try_get(0)?, r.try_get(2)?);
    Ok(Some(FullSync {
        id,
        state: FullSyncState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown full sync state {state:?}")))?,
        reason: r.try_get(1)?,
        phase: FullSyncPhase::parse(&phase)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown full sync phase {phase:?}")))?,
        cursor: r.try_get(3)?,
        done: r.try_get(4)?,
        total: r.try_get(5)?,
        errors: r.try_get(6)?,
        created_ms: r.try_get(7)?,
        started_ms: r.try_get(8)?,
        finished_ms: r.try_get(9)?,
        last_error: r.try_get(10)?,
    }))
}
