//! [`GalleryQueue`]: products whose gallery must be brought to the desired state (one row per SKU, so one
//! write at a time per SKU), what is applied, and how each write ended.

use super::SqliteStore;
use super::bulk_skus;
use super::conn::{Durability, column, execute, one, rows};
use super::partial::{self, Written};
use super::shared::{
    LIVE, LeaseKey, check_lease, each_fenced, enqueue_sku, from_json, load_gallery, parse_sku,
    product_exists, settle_asset, to_json,
};
use crate::{GalleryQueue, SkuOutcome, SkuState, SkuWork, StoreResult};
use async_trait::async_trait;
use domain::{AppliedEntry, AssetId, DesiredLink, Sku};
use rusqlite::Connection;

#[async_trait]
impl GalleryQueue for SqliteStore {
    async fn claim_sku_work(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<SkuWork>> {
        let claimed = self
            .db
            .claim(move |conn| {
                rows(
                    conn,
                    "UPDATE sku_work SET lease_until_ms = ?1 + ?3, attempt = attempt + 1
                     WHERE sku IN (SELECT sku FROM sku_work
                                   WHERE run_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?1)
                                   ORDER BY priority, run_at_ms LIMIT ?2)
                     RETURNING sku, generation, attempt, first_enqueued_ms, lease_until_ms",
                    (now_ms, limit, lease_ms),
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                        ))
                    },
                )
            })
            .await?;
        claimed
            .into_iter()
            .map(
                |(sku, generation, attempt, first_enqueued_ms, lease_until_ms)| {
                    Ok(SkuWork {
                        sku: parse_sku(&sku)?,
                        generation,
                        attempt,
                        first_enqueued_ms,
                        lease_until_ms,
                    })
                },
            )
            .collect()
    }

    async fn sku_state(&self, sku: &Sku) -> StoreResult<SkuState> {
        let sku = sku.clone();
        self.db
            .read(move |conn| {
                let sku = sku.as_str();
                Ok(SkuState {
                    product_exists: product_exists(conn, sku)?,
                    claims: column::<String>(conn, "SELECT link FROM claims WHERE sku = ?", [sku])?
                        .iter()
                        .map(|text| from_json::<DesiredLink>(text))
                        .collect::<StoreResult<_>>()?,
                    applied: load_gallery(conn, sku)?,
                    refused: partial::refused_of(conn, sku)?,
                    manual: super::manual::manual_links_of(conn, sku)?,
                })
            })
            .await
    }

    async fn complete_skus(
        &self,
        items: Vec<(SkuWork, SkuOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>> {
        self.db
            .write(Durability::Normal, move |conn| {
                complete_batch(conn, items, now_ms)
            })
            .await
    }

    async fn forget_applied(&self, sku: &Sku, asset_id: &AssetId, now_ms: i64) -> StoreResult<()> {
        let (sku, asset_id) = (sku.clone(), asset_id.clone());
        self.db
            .write(Durability::Normal, move |conn| {
                execute(
                    conn,
                    "DELETE FROM gallery WHERE sku = ? AND asset_id = ?",
                    (sku.as_str(), asset_id.as_str()),
                )?;
                enqueue_sku(conn, sku.as_str(), now_ms, now_ms, LIVE)?;
                Ok(())
            })
            .await
    }

    async fn requeue_galleries(&self, now_ms: i64) -> StoreResult<u64> {
        self.db
            .write(Durability::Normal, move |conn| {
                super::config::requeue_galleries_in(conn, now_ms)
            })
            .await
    }
}

/// Completes a batch in order: each run of applied galleries of different SKUs together
/// ([`bulk_skus::complete_applied`]), every other outcome on its own.
pub(super) fn complete_batch(
    conn: &Connection,
    items: Vec<(SkuWork, SkuOutcome)>,
    now_ms: i64,
) -> StoreResult<Vec<StoreResult<()>>> {
    let mut results = Vec::with_capacity(items.len());
    let mut rest = items.as_slice();
    while let Some(((work, outcome), after)) = rest.split_first() {
        let run = applied_run(rest);
        if !run.is_empty() {
            results.extend(bulk_skus::complete_applied(conn, &run, now_ms)?);
            rest = &rest[run.len()..];
            continue;
        }
        results.extend(each_fenced(
            vec![(work, outcome.clone())],
            |(work, outcome)| complete_sku_in(conn, work, outcome, now_ms),
        )?);
        rest = after;
    }
    Ok(results)
}

/// The applied galleries of different SKUs at the head of `items`.
fn applied_run(items: &[(SkuWork, SkuOutcome)]) -> Vec<(&SkuWork, &[AppliedEntry])> {
    let mut seen = std::collections::HashSet::new();
    items
        .iter()
        .map_while(|(work, outcome)| match outcome {
            SkuOutcome::Applied(entries) if seen.insert(work.sku.as_str()) => {
                Some((work, entries.as_slice()))
            }
            _ => None,
        })
        .collect()
}

/// One SKU's completion inside a write transaction (see [`GalleryQueue::complete_sku`]).
pub(super) fn complete_sku_in(
    conn: &Connection,
    work: &SkuWork,
    outcome: SkuOutcome,
    now_ms: i64,
) -> StoreResult<()> {
    let sku = work.sku.as_str();
    check_lease(conn, LeaseKey::Sku(sku), work.lease_until_ms)?;
    let retry_at = match outcome {
        SkuOutcome::Applied(entries) => {
            replace_gallery(conn, sku, &entries)?;
            resolve_pending(conn, work, now_ms)?;
            None
        }
        SkuOutcome::PartlyApplied {
            entries,
            refused,
            reread,
            cleared,
            failure,
        } => partial::complete_partly_applied(
            conn,
            work,
            Written {
                entries: &entries,
                refused: &refused,
                reread: &reread,
                cleared: &cleared,
            },
            failure,
            now_ms,
        )?,
        SkuOutcome::ProductMissing => {
            // The product is gone (or never was): so are its entries.
            execute(conn, "DELETE FROM gallery WHERE sku = ?", [sku])?;
            execute(
                conn,
                "INSERT INTO missing_products (sku, since_ms) VALUES (?, ?) ON CONFLICT (sku) DO NOTHING",
                (sku, now_ms),
            )?;
            super::cluster::gallery_changed(conn, sku, false)?;
            resolve_pending(conn, work, now_ms)?;
            None
        }
        SkuOutcome::Failed { error, retry_at_ms } => {
            record_sku_failure(conn, work, &error, retry_at_ms, now_ms)?
        }
        SkuOutcome::Deferred { retry_at_ms } => {
            execute(
                conn,
                "UPDATE sku_work SET attempt = MAX(attempt - 1, 0) WHERE sku = ?",
                [sku],
            )?;
            Some(retry_at_ms)
        }
    };
    match retry_at {
        Some(at) => {
            execute(
                conn,
                "UPDATE sku_work SET lease_until_ms = NULL,
                     run_at_ms = CASE WHEN generation = ?2 THEN ?3 ELSE ?4 END
                 WHERE sku = ?1",
                (sku, work.generation, at, now_ms),
            )?;
        }
        None => {
            let deleted = execute(
                conn,
                "DELETE FROM sku_work WHERE sku = ? AND generation = ?",
                (sku, work.generation),
            )?;
            if deleted == 0 {
                execute(
                    conn,
                    "UPDATE sku_work SET lease_until_ms = NULL, attempt = 0 WHERE sku = ?",
                    [sku],
                )?;
            }
        }
    }
    Ok(())
}

/// Records a failure of a SKU's work: the assets waiting on it say Failed, the error joins the history, and
/// work given up (`retry_at_ms` = `None`) becomes a dead letter. Returns when to run it again.
pub(super) fn record_sku_failure(
    conn: &Connection,
    work: &SkuWork,
    error: &str,
    retry_at_ms: Option<i64>,
    now_ms: i64,
) -> StoreResult<Option<i64>> {
    let sku = work.sku.as_str();
    // 'sku' (retried) clears once the SKU is written; 'sku_final' (given up) stays until the asset
    // is read again, and is never downgraded by another SKU's retryable failure.
    execute(
        conn,
        "UPDATE assets SET status = 'Failed', last_error = ?2,
             failure_kind = CASE WHEN ?3 THEN 'sku' ELSE 'sku_final' END
         WHERE asset_id IN (SELECT asset_id FROM asset_pending WHERE sku = ?1)
           AND NOT (status = 'Failed' AND COALESCE(failure_kind, '') = 'sku_final')",
        (sku, error, retry_at_ms.is_some()),
    )?;
    let history: String = one(conn, "SELECT errors FROM sku_work WHERE sku = ?", [sku])?;
    let mut history: Vec<serde_json::Value> = from_json(&history)?;
    history.push(serde_json::json!({ "at_ms": now_ms, "error": error }));
    let excess = history.len().saturating_sub(20);
    history.drain(..excess);
    execute(
        conn,
        "UPDATE sku_work SET last_error = ?2, errors = ?3 WHERE sku = ?1",
        (sku, error, to_json(&history)?),
    )?;
    if retry_at_ms.is_none() {
        execute(
            conn,
            "INSERT INTO dead_letters (sku, attempts, errors, created_ms)
             SELECT sku, attempt, errors, ?2 FROM sku_work WHERE sku = ?1 AND generation = ?3",
            (sku, now_ms, work.generation),
        )?;
        execute(
            conn,
            "DELETE FROM asset_pending WHERE sku = ? AND generation <= ?",
            (sku, work.generation),
        )?;
    }
    Ok(retry_at_ms)
}

/// Replaces the product's applied gallery with `entries`; the product exists (it is no longer missing).
pub(super) fn replace_gallery(
    conn: &Connection,
    sku: &str,
    entries: &[AppliedEntry],
) -> StoreResult<()> {
    execute(conn, "DELETE FROM gallery WHERE sku = ?", [sku])?;
    for entry in entries {
        execute(
            conn,
            "INSERT INTO gallery (sku, asset_id, entry) VALUES (?, ?, ?)",
            (sku, entry.entry.asset_id.as_str(), to_json(entry)?),
        )?;
    }
    execute(conn, "DELETE FROM missing_products WHERE sku = ?", [sku])?;
    super::cluster::gallery_changed(conn, sku, true)?;
    Ok(())
}

/// Clears what assets waited for on this SKU (up to the claimed generation) and settles those assets.
pub(super) fn resolve_pending(conn: &Connection, work: &SkuWork, now_ms: i64) -> StoreResult<()> {
    let assets: Vec<String> = column(
        conn,
        "DELETE FROM asset_pending WHERE sku = ? AND generation <= ? RETURNING asset_id",
        (work.sku.as_str(), work.generation),
    )?;
    for asset in assets {
        settle_asset(conn, &asset, now_ms)?;
    }
    Ok(())
}
