//! [`AssetQueue`]: assets to re-read from the DAM (one row per asset, coalescing every hint that arrives
//! before it is read), their desired links (claims) and their sync status.

use super::PostgresStore;
use super::conn::{Tx, column, execute, optional, read_tx, row, rows, write_tx};
use super::shared::{
    LIVE, LeaseKey, check_lease, enqueue_sku, fenced, from_json, in_item_order, mark_asset_failed,
    mark_pending, parse_sku, settle_asset, to_json,
};
use crate::{
    AssetOutcome, AssetQueue, AssetStatus, AssetWork, StoreError, StoreResult, SyncStatus,
};
use async_trait::async_trait;
use domain::{AssetId, DesiredLink};
use std::collections::BTreeMap;

#[async_trait]
impl AssetQueue for PostgresStore {
    async fn claim_asset_work(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<AssetWork>> {
        let claimed = write_tx!(self, |tx| {
            // Rows another process is claiming or completing are skipped, not waited for.
            rows(
                &tx,
                "WITH due AS (
                     SELECT asset_id FROM asset_work
                     WHERE run_at_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms < $1)
                     ORDER BY run_at_ms, asset_id LIMIT $2
                     FOR UPDATE SKIP LOCKED),
                 claimed AS (
                     UPDATE asset_work w SET lease_until_ms = $1::BIGINT + $3::BIGINT, attempt = w.attempt + 1
                     FROM due WHERE w.asset_id = due.asset_id
                     RETURNING w.asset_id, w.generation, w.deleted, w.attempt, w.missing_once,
                               w.lease_until_ms, w.run_at_ms)
                 SELECT asset_id, generation, deleted, attempt, missing_once, lease_until_ms FROM claimed
                 ORDER BY run_at_ms, asset_id",
                &[&now_ms, &limit, &lease_ms],
            )
            .await?
        });
        claimed
            .iter()
            .map(|row| {
                let raw: String = row.try_get(0)?;
                Ok(AssetWork {
                    asset_id: AssetId::parse(&raw)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    generation: row.try_get(1)?,
                    deleted: row.try_get(2)?,
                    attempt: row.try_get(3)?,
                    missing_once: row.try_get(4)?,
                    lease_until_ms: row.try_get(5)?,
                })
            })
            .collect()
    }

    async fn complete_assets(
        &self,
        items: Vec<(AssetWork, AssetOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>> {
        // In key order, so that concurrent batches lock rows in one order (fewer deadlocks); the results go
        // back in the items' order.
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|a, b| {
            items[*a]
                .0
                .asset_id
                .as_str()
                .cmp(items[*b].0.asset_id.as_str())
        });
        let sorted = write_tx!(self, |tx| {
            let mut results = Vec::with_capacity(items.len());
            // By reference: a transaction aborted as a deadlock victim runs again with the same items.
            for &index in &order {
                let (work, outcome) = &items[index];
                fenced(
                    &mut results,
                    complete_asset_in(&tx, work, outcome.clone(), now_ms).await,
                )?;
            }
            results
        });
        // The asset's own work row is gone now: settled again once that is committed (see `settle_again`).
        let completed: Vec<String> = order
            .iter()
            .zip(&sorted)
            .filter(|(_, result)| result.is_ok())
            .map(|(index, _)| items[*index].0.asset_id.as_str().to_owned())
            .collect();
        self.settle_again(completed, now_ms).await?;
        Ok(in_item_order(&order, sorted))
    }

    async fn requeue_stalest_assets(&self, limit: i64, now_ms: i64) -> StoreResult<u64> {
        Ok(write_tx!(self, |tx| {
            execute(&tx, REQUEUE_STALEST, &[&limit, &now_ms]).await?
        }))
    }

    async fn asset_status(&self, asset_id: &AssetId) -> StoreResult<Option<AssetStatus>> {
        Ok(read_tx!(self, |tx| {
            load_status(&tx, asset_id.clone()).await?
        }))
    }

    async fn asset_claims(&self, asset_id: &AssetId) -> StoreResult<Vec<DesiredLink>> {
        let stored = read_tx!(self, |tx| {
            column::<String>(
                &tx,
                "SELECT link FROM claims WHERE asset_id = $1 ORDER BY sku",
                &[&asset_id.as_str()],
            )
            .await?
        });
        stored.iter().map(|text| from_json(text)).collect()
    }

    async fn all_claims(&self) -> StoreResult<Vec<DesiredLink>> {
        let stored = read_tx!(self, |tx| {
            column::<String>(&tx, "SELECT link FROM claims ORDER BY asset_id, sku", &[]).await?
        });
        stored.iter().map(|text| from_json(text)).collect()
    }

    async fn list_assets(&self, query: &crate::AssetListQuery) -> StoreResult<crate::AssetPage> {
        self.list_assets_page(query).await
    }

    async fn asset_history(
        &self,
        asset_id: &AssetId,
        limit: i64,
    ) -> StoreResult<Vec<crate::AssetEvent>> {
        self.asset_events(asset_id, limit).await
    }
}

/// Queues a re-read of the assets read longest ago (the anti-entropy slice), walking the index on when each
/// was read.
const REQUEUE_STALEST: &str =
    "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
     SELECT asset_id, 1, FALSE, $2, 0 FROM assets a
     WHERE NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = a.asset_id)
     ORDER BY COALESCE(processing_ms, 0), asset_id LIMIT $1
     ON CONFLICT (asset_id) DO NOTHING";

async fn load_status(tx: &Tx<'_>, asset_id: AssetId) -> StoreResult<Option<AssetStatus>> {
    let Some(head) = row(
        tx,
        "SELECT status, processing_ms, dispatched_ms, eligible, warnings, last_error, last_latency_ms
         FROM assets WHERE asset_id = $1",
        &[&asset_id.as_str()],
    )
    .await?
    else {
        return Ok(None);
    };
    let linked = rows(
        tx,
        "SELECT sku, entry FROM gallery WHERE asset_id = $1 ORDER BY sku",
        &[&asset_id.as_str()],
    )
    .await?;
    let waiting = column::<String>(
        tx,
        "SELECT c.sku FROM claims c JOIN missing_products m ON m.sku = c.sku WHERE c.asset_id = $1
         ORDER BY c.sku",
        &[&asset_id.as_str()],
    )
    .await?;
    let status: String = head.try_get(0)?;
    let mut warnings: Vec<String> = from_json(&head.try_get::<_, String>(4)?)?;
    let mut linked_skus = Vec::with_capacity(linked.len());
    for row in &linked {
        let sku = parse_sku(&row.try_get::<_, String>(0)?)?;
        let entry: domain::AppliedEntry = from_json(&row.try_get::<_, String>(1)?)?;
        warnings.extend(entry.store_view_warning(&sku));
        linked_skus.push(sku);
    }
    Ok(Some(AssetStatus {
        status: SyncStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown asset status {status:?}")))?,
        processing_ms: head.try_get(1)?,
        dispatched_ms: head.try_get(2)?,
        eligible: head.try_get(3)?,
        linked_skus,
        waiting_for_products: waiting
            .iter()
            .map(|s| parse_sku(s))
            .collect::<StoreResult<_>>()?,
        warnings,
        last_error: head.try_get(5)?,
        last_latency_ms: head.try_get(6)?,
        asset_id,
    }))
}

/// One asset's completion inside a write transaction (see [`AssetQueue::complete_asset`]).
async fn complete_asset_in(
    tx: &Tx<'_>,
    work: &AssetWork,
    outcome: AssetOutcome,
    now_ms: i64,
) -> StoreResult<()> {
    let asset = work.asset_id.as_str();
    check_lease(tx, LeaseKey::Asset(asset), work.lease_until_ms).await?;
    match outcome {
        AssetOutcome::Links {
            links,
            eligible,
            warnings,
            note,
        } => {
            let mut all_warnings = warnings;
            all_warnings.extend(note);
            store_links(tx, asset, &links, eligible, &all_warnings, now_ms, LIVE).await?;
            finish_asset_work(tx, work, None, now_ms).await?;
            settle_asset(tx, asset, now_ms).await?;
        }
        AssetOutcome::Failed { error, retry_at_ms } => {
            mark_asset_failed(tx, asset, &error, now_ms).await?;
            finish_asset_work(tx, work, retry_at_ms, now_ms).await?;
        }
        AssetOutcome::Paused { error, retry_at_ms } => {
            mark_asset_failed(tx, asset, &error, now_ms).await?;
            execute(
                tx,
                "UPDATE asset_work SET attempt = GREATEST(attempt - 1, 0) WHERE asset_id = $1",
                &[&asset],
            )
            .await?;
            finish_asset_work(tx, work, Some(retry_at_ms), now_ms).await?;
        }
        AssetOutcome::Kept { note } => {
            execute(
                tx,
                "UPDATE assets SET processing_ms = $2, warnings = $3 WHERE asset_id = $1",
                &[&asset, &now_ms, &to_json(&[note])?],
            )
            .await?;
            finish_asset_work(tx, work, None, now_ms).await?;
            settle_asset(tx, asset, now_ms).await?;
        }
        AssetOutcome::MissingOnce { retry_at_ms } => {
            execute(
                tx,
                "UPDATE asset_work SET lease_until_ms = NULL, missing_once = TRUE,
                     run_at_ms = CASE WHEN generation = $2 THEN $3::BIGINT ELSE $4::BIGINT END
                 WHERE asset_id = $1",
                &[&asset, &work.generation, &retry_at_ms, &now_ms],
            )
            .await?;
            execute(
                tx,
                "UPDATE assets SET processing_ms = $2 WHERE asset_id = $1",
                &[&asset, &now_ms],
            )
            .await?;
        }
    }
    Ok(())
}

/// Replaces an asset's claims with `links`, queues work (at `priority`) for every SKU whose claim changed,
/// and records the asset's evaluation (with since when it has no link, for retention). The caller settles
/// the asset.
pub(super) async fn store_links(
    tx: &Tx<'_>,
    asset: &str,
    links: &[DesiredLink],
    eligible: bool,
    warnings: &[String],
    now_ms: i64,
    priority: i64,
) -> StoreResult<()> {
    let mut old: BTreeMap<String, String> = BTreeMap::new();
    for row in rows(
        tx,
        "SELECT sku, link FROM claims WHERE asset_id = $1",
        &[&asset],
    )
    .await?
    {
        old.insert(row.try_get(0)?, row.try_get(1)?);
    }
    let mut new = BTreeMap::new();
    for link in links {
        new.insert(link.sku.as_str().to_owned(), to_json(link)?);
    }
    let first_ms: Option<i64> = optional::<Option<i64>>(
        tx,
        "SELECT waiting_since_ms FROM assets WHERE asset_id = $1",
        &[&asset],
    )
    .await?
    .flatten();
    let first_ms = first_ms.unwrap_or(now_ms);
    let gone: Vec<&str> = old
        .keys()
        .filter(|sku| !new.contains_key(*sku))
        .map(String::as_str)
        .collect();
    if !gone.is_empty() {
        execute(
            tx,
            "DELETE FROM claims WHERE asset_id = $1 AND sku = ANY($2::TEXT[])",
            &[&asset, &gone],
        )
        .await?;
    }
    let changed: Vec<(&str, &str)> = new
        .iter()
        .filter(|(sku, link)| old.get(*sku) != Some(*link))
        .map(|(sku, link)| (sku.as_str(), link.as_str()))
        .collect();
    if !changed.is_empty() {
        let skus: Vec<&str> = changed.iter().map(|(sku, _)| *sku).collect();
        let texts: Vec<&str> = changed.iter().map(|(_, link)| *link).collect();
        execute(
            tx,
            "INSERT INTO claims (sku, asset_id, link)
             SELECT s, $1, l FROM UNNEST($2::TEXT[], $3::TEXT[]) AS c(s, l)
             ON CONFLICT (sku, asset_id) DO UPDATE SET link = EXCLUDED.link",
            &[&asset, &skus, &texts],
        )
        .await?;
    }
    // Every SKU whose claim went or changed, in key order (one lock order for concurrent writers).
    let mut touched: Vec<&str> = gone;
    touched.extend(changed.iter().map(|(sku, _)| *sku));
    touched.sort_unstable();
    for sku in touched {
        let generation = enqueue_sku(tx, sku, now_ms, first_ms, priority).await?;
        mark_pending(tx, asset, sku, generation).await?;
    }
    let unlinked: Option<i64> = links.is_empty().then_some(now_ms);
    execute(
        tx,
        "INSERT INTO assets (asset_id, status, processing_ms, eligible, warnings, unlinked_ms)
         VALUES ($1, 'Waiting', $2, $3, $4, $5)
         ON CONFLICT (asset_id) DO UPDATE SET processing_ms = $2, eligible = $3, warnings = $4,
             status = 'Waiting', last_error = NULL, failure_kind = NULL,
             waiting_since_ms = COALESCE(assets.waiting_since_ms, $2),
             unlinked_ms = CASE WHEN $5::BIGINT IS NULL THEN NULL
                                ELSE COALESCE(assets.unlinked_ms, $5::BIGINT) END",
        &[&asset, &now_ms, &eligible, &to_json(&warnings)?, &unlinked],
    )
    .await?;
    Ok(())
}

/// Finishes an asset's work item: deleted when no newer hint came (and no retry is due), else released.
async fn finish_asset_work(
    tx: &Tx<'_>,
    work: &AssetWork,
    retry_at_ms: Option<i64>,
    now_ms: i64,
) -> StoreResult<()> {
    let asset = work.asset_id.as_str();
    if let Some(at) = retry_at_ms {
        execute(
            tx,
            "UPDATE asset_work SET lease_until_ms = NULL,
                 run_at_ms = CASE WHEN generation = $2 THEN $3::BIGINT ELSE $4::BIGINT END
             WHERE asset_id = $1",
            &[&asset, &work.generation, &at, &now_ms],
        )
        .await?;
        return Ok(());
    }
    let deleted = execute(
        tx,
        "DELETE FROM asset_work WHERE asset_id = $1 AND generation = $2",
        &[&asset, &work.generation],
    )
    .await?;
    if deleted == 0 {
        execute(
            tx,
            "UPDATE asset_work SET lease_until_ms = NULL, attempt = 0, missing_once = FALSE
             WHERE asset_id = $1",
            &[&asset],
        )
        .await?;
    }
    Ok(())
}
