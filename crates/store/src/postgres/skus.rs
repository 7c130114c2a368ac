//! [`GalleryQueue`]: products whose gallery must be brought to the desired state (one row per SKU, whose
//! generation each change bumps), the applied galleries, and how the work on a SKU ended.

use super::PostgresStore;
use super::conn::{Tx, column, execute, one, read_tx, rows, write_tx};
use super::partial::{self, Written};
use super::shared::{
    LIVE, LeaseKey, check_lease, enqueue_sku, fenced, from_json, in_item_order, load_gallery,
    parse_sku, product_exists, settle_asset, to_json,
};
use crate::{GalleryQueue, SkuOutcome, SkuState, SkuWork, StoreResult};
use async_trait::async_trait;
use domain::{AppliedEntry, AssetId, DesiredLink, Sku};

#[async_trait]
impl GalleryQueue for PostgresStore {
    async fn claim_sku_work(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<SkuWork>> {
        let claimed = write_tx!(self, |tx| {
            rows(
                &tx,
                "WITH due AS (
                     SELECT sku FROM sku_work
                     WHERE run_at_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms < $1)
                     ORDER BY priority, run_at_ms, sku LIMIT $2
                     FOR UPDATE SKIP LOCKED),
                 claimed AS (
                     UPDATE sku_work w SET lease_until_ms = $1::BIGINT + $3::BIGINT, attempt = w.attempt + 1
                     FROM due WHERE w.sku = due.sku
                     RETURNING w.sku, w.generation, w.attempt, w.first_enqueued_ms, w.lease_until_ms,
                               w.priority, w.run_at_ms)
                 SELECT sku, generation, attempt, first_enqueued_ms, lease_until_ms FROM claimed
                 ORDER BY priority, run_at_ms, sku",
                &[&now_ms, &limit, &lease_ms],
            )
            .await?
        });
        claimed
            .iter()
            .map(|row| {
                let sku: String = row.try_get(0)?;
                Ok(SkuWork {
                    sku: parse_sku(&sku)?,
                    generation: row.try_get(1)?,
                    attempt: row.try_get(2)?,
                    first_enqueued_ms: row.try_get(3)?,
                    lease_until_ms: row.try_get(4)?,
                })
            })
            .collect()
    }

    async fn sku_state(&self, sku: &Sku) -> StoreResult<SkuState> {
        let sku = sku.as_str();
        Ok(read_tx!(self, |tx| {
            SkuState {
                product_exists: product_exists(&tx, sku).await?,
                claims: column::<String>(&tx, "SELECT link FROM claims WHERE sku = $1", &[&sku])
                    .await?
                    .iter()
                    .map(|text| from_json::<DesiredLink>(text))
                    .collect::<StoreResult<_>>()?,
                applied: load_gallery(&tx, sku).await?,
                refused: partial::refused_of(&tx, sku).await?,
                manual: super::manual::manual_links_of(&tx, sku).await?,
            }
        }))
    }

    async fn complete_skus(
        &self,
        items: Vec<(SkuWork, SkuOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>> {
        // In key order, so that concurrent batches lock rows in one order (fewer deadlocks); the results go
        // back in the items' order.
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|a, b| items[*a].0.sku.as_str().cmp(items[*b].0.sku.as_str()));
        let (sorted, resolved) = write_tx!(self, |tx| {
            let mut results = Vec::with_capacity(items.len());
            let mut resolved = Vec::new();
            // By reference: a transaction aborted as a deadlock victim runs again with the same items.
            for &index in &order {
                let (work, outcome) = &items[index];
                fenced(
                    &mut results,
                    complete_sku_in(&tx, work, outcome.clone(), now_ms, &mut resolved).await,
                )?;
            }
            (results, resolved)
        });
        // Settled again now that the batch is committed: two batches that each cleared one of an asset's last
        // two pending SKUs saw each other's row still there (read committed), and the asset would stay
        // Waiting. Whichever commits last sees both deletions here.
        self.settle_again(resolved, now_ms).await?;
        Ok(in_item_order(&order, sorted))
    }

    async fn forget_applied(&self, sku: &Sku, asset_id: &AssetId, now_ms: i64) -> StoreResult<()> {
        write_tx!(self, |tx| {
            execute(
                &tx,
                "DELETE FROM gallery WHERE sku = $1 AND asset_id = $2",
                &[&sku.as_str(), &asset_id.as_str()],
            )
            .await?;
            enqueue_sku(&tx, sku.as_str(), now_ms, now_ms, LIVE).await?;
        });
        Ok(())
    }

    async fn requeue_galleries(&self, now_ms: i64) -> StoreResult<u64> {
        Ok(write_tx!(self, |tx| {
            super::config::requeue_galleries_in(&tx, now_ms).await?
        }))
    }
}

/// One SKU's completion inside a write transaction (see [`GalleryQueue::complete_sku`]).
async fn complete_sku_in(
    tx: &Tx<'_>,
    work: &SkuWork,
    outcome: SkuOutcome,
    now_ms: i64,
    resolved: &mut Vec<String>,
) -> StoreResult<()> {
    let sku = work.sku.as_str();
    check_lease(tx, LeaseKey::Sku(sku), work.lease_until_ms).await?;
    let retry_at = match outcome {
        SkuOutcome::Applied(entries) => {
            replace_gallery(tx, sku, &entries).await?;
            resolve_pending(tx, work, now_ms, resolved).await?;
            None
        }
        SkuOutcome::PartlyApplied {
            entries,
            refused,
            reread,
            cleared,
            failure,
        } => {
            partial::complete_partly_applied(
                tx,
                work,
                Written {
                    entries: &entries,
                    refused: &refused,
                    reread: &reread,
                    cleared: &cleared,
                },
                failure,
                now_ms,
                resolved,
            )
            .await?
        }
        SkuOutcome::ProductMissing => {
            // The product is gone (or never was): so are its entries.
            execute(tx, "DELETE FROM gallery WHERE sku = $1", &[&sku]).await?;
            execute(
                tx,
                "INSERT INTO missing_products (sku, since_ms) VALUES ($1, $2) ON CONFLICT (sku) DO NOTHING",
                &[&sku, &now_ms],
            )
            .await?;
            super::cluster::galleries_changed(tx, &[sku], false).await?;
            resolve_pending(tx, work, now_ms, resolved).await?;
            None
        }
        SkuOutcome::Failed { error, retry_at_ms } => {
            record_sku_failure(tx, work, &error, retry_at_ms, now_ms).await?
        }
        SkuOutcome::Deferred { retry_at_ms } => {
            execute(
                tx,
                "UPDATE sku_work SET attempt = GREATEST(attempt - 1, 0) WHERE sku = $1",
                &[&sku],
            )
            .await?;
            Some(retry_at_ms)
        }
    };
    match retry_at {
        Some(at) => {
            execute(
                tx,
                "UPDATE sku_work SET lease_until_ms = NULL,
                     run_at_ms = CASE WHEN generation = $2 THEN $3::BIGINT ELSE $4::BIGINT END
                 WHERE sku = $1",
                &[&sku, &work.generation, &at, &now_ms],
            )
            .await?;
        }
        None => {
            let deleted = execute(
                tx,
                "DELETE FROM sku_work WHERE sku = $1 AND generation = $2",
                &[&sku, &work.generation],
            )
            .await?;
            if deleted == 0 {
                execute(
                    tx,
                    "UPDATE sku_work SET lease_until_ms = NULL, attempt = 0 WHERE sku = $1",
                    &[&sku],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Records a failure of a SKU's work: the assets waiting on it say Failed, the error joins the history, and
/// work given up (`retry_at_ms` = `None`) becomes a dead letter. Returns when to run it again.
pub(super) async fn record_sku_failure(
    tx: &Tx<'_>,
    work: &SkuWork,
    error: &str,
    retry_at_ms: Option<i64>,
    now_ms: i64,
) -> StoreResult<Option<i64>> {
    let sku = work.sku.as_str();
    // 'sku' (retried) clears once the SKU is written; 'sku_final' (given up) stays until the asset
    // is read again, and is never downgraded by another SKU's retryable failure.
    execute(
        tx,
        "UPDATE assets SET status = 'Failed', last_error = $2,
             failure_kind = CASE WHEN $3 THEN 'sku' ELSE 'sku_final' END
         WHERE asset_id IN (SELECT asset_id FROM asset_pending WHERE sku = $1)
           AND NOT (status = 'Failed' AND COALESCE(failure_kind, '') = 'sku_final')",
        &[&sku, &error, &retry_at_ms.is_some()],
    )
    .await?;
    let history: String = one(tx, "SELECT errors FROM sku_work WHERE sku = $1", &[&sku]).await?;
    let mut history: Vec<serde_json::Value> = from_json(&history)?;
    history.push(serde_json::json!({ "at_ms": now_ms, "error": error }));
    let excess = history.len().saturating_sub(20);
    history.drain(..excess);
    execute(
        tx,
        "UPDATE sku_work SET last_error = $2, errors = $3 WHERE sku = $1",
        &[&sku, &error, &to_json(&history)?],
    )
    .await?;
    if retry_at_ms.is_none() {
        execute(
            tx,
            "INSERT INTO dead_letters (sku, attempts, errors, created_ms)
             SELECT sku, attempt, errors, $2 FROM sku_work WHERE sku = $1 AND generation = $3",
            &[&sku, &now_ms, &work.generation],
        )
        .await?;
        execute(
            tx,
            "DELETE FROM asset_pending WHERE sku = $1 AND generation <= $2",
            &[&sku, &work.generation],
        )
        .await?;
    }
    Ok(retry_at_ms)
}

/// Replaces the product's applied gallery with `entries` (one statement for all of them); the product exists
/// (it is no longer missing).
pub(super) async fn replace_gallery(
    tx: &Tx<'_>,
    sku: &str,
    entries: &[AppliedEntry],
) -> StoreResult<()> {
    execute(tx, "DELETE FROM gallery WHERE sku = $1", &[&sku]).await?;
    if !entries.is_empty() {
        let assets: Vec<&str> = entries.iter().map(|e| e.entry.asset_id.as_str()).collect();
        let texts = entries
            .iter()
            .map(to_json)
            .collect::<StoreResult<Vec<String>>>()?;
        execute(
            tx,
            "INSERT INTO gallery (sku, asset_id, entry)
             SELECT $1, a, e FROM UNNEST($2::TEXT[], $3::TEXT[]) AS g(a, e)",
            &[&sku, &assets, &texts],
        )
        .await?;
    }
    execute(tx, "DELETE FROM missing_products WHERE sku = $1", &[&sku]).await?;
    super::cluster::galleries_changed(tx, &[sku], true).await?;
    Ok(())
}

/// Clears what assets waited for on this SKU (up to the claimed generation) and settles those assets; notes
/// them in `resolved` to be settled again once the batch is committed (see [`GalleryQueue::complete_skus`]).
pub(super) async fn resolve_pending(
    tx: &Tx<'_>,
    work: &SkuWork,
    now_ms: i64,
    resolved: &mut Vec<String>,
) -> StoreResult<()> {
    let mut assets: Vec<String> = column(
        tx,
        "DELETE FROM asset_pending WHERE sku = $1 AND generation <= $2 RETURNING asset_id",
        &[&work.sku.as_str(), &work.generation],
    )
    .await?;
    assets.sort_unstable();
    for asset in &assets {
        settle_asset(tx, asset, now_ms).await?;
    }
    resolved.extend(assets);
    Ok(())
}
