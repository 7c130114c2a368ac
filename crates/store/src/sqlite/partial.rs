//! A SKU's work that applied some operations and not others ([`SkuOutcome::PartlyApplied`]), and the
//! entries the commerce platform refused (`refused_entries`).
//!
//! [`SkuOutcome::PartlyApplied`]: crate::SkuOutcome::PartlyApplied

use super::{
    LIVE, Tx, enqueue_sku, from_json, mark_pending, record_sku_failure, replace_gallery,
    resolve_pending, settle_asset, to_json,
};
use crate::{SkuFailure, SkuWork, StoreResult};
use domain::gallery::RefusedEntry;
use domain::{AppliedEntry, AssetId, Sku};

/// What a partly applied SKU wrote and left (see [`crate::SkuOutcome::PartlyApplied`]).
pub(super) struct Written<'a> {
    pub entries: &'a [AppliedEntry],
    pub refused: &'a [RefusedEntry],
    pub reread: &'a [AssetId],
    pub cleared: &'a [AssetId],
}

/// Stores a partly applied SKU inside the completion's transaction: the gallery as the platform holds it,
/// the refusals that no longer apply forgotten, each new refusal (its asset fails alone), a re-read of each
/// asset whose binary is gone, and the failure (if any). Returns when to run the SKU again (`None`: its work is done).
pub(super) async fn complete_partly_applied(
    tx: &mut Tx<'_>,
    work: &SkuWork,
    written: Written<'_>,
    failure: Option<SkuFailure>,
    now_ms: i64,
) -> StoreResult<Option<i64>> {
    let Written {
        entries,
        refused,
        reread,
        cleared,
    } = written;
    let sku = work.sku.as_str();
    replace_gallery(tx, sku, entries).await?;
    for asset in cleared {
        clear_refusal(tx, sku, asset.as_str()).await?;
        settle_asset(tx, asset.as_str(), now_ms).await?;
    }
    for refusal in refused {
        let asset = refusal.entry.asset_id.as_str();
        sqlx::query(
            "INSERT INTO refused_entries (sku, asset_id, entry, message, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (sku, asset_id) DO UPDATE SET entry = excluded.entry, message = excluded.message,
                 at_ms = excluded.at_ms",
        )
        .bind(sku)
        .bind(asset)
        .bind(to_json(&refusal.entry)?)
        .bind(&refusal.message)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM asset_pending WHERE asset_id = ? AND sku = ?")
            .bind(asset)
            .bind(sku)
            .execute(&mut **tx)
            .await?;
        mark_refused(tx, asset, now_ms).await?;
    }
    for asset in reread {
        sqlx::query(
            "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt) VALUES (?1, 1, 0, ?2, 0)
             ON CONFLICT (asset_id) DO UPDATE SET generation = generation + 1,
                 run_at_ms = MIN(run_at_ms, excluded.run_at_ms)",
        )
        .bind(asset.as_str())
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    }
    match failure {
        Some(failure) => {
            record_sku_failure(tx, work, &failure.error, failure.retry_at_ms, now_ms).await
        }
        None => {
            resolve_pending(tx, work, now_ms).await?;
            Ok(None)
        }
    }
}

/// An asset with a refused entry (and nothing else pending) says Failed, with the platform's message.
pub(super) async fn mark_refused(tx: &mut Tx<'_>, asset: &str, now_ms: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE assets SET status = 'Failed', failure_kind = 'refused', processing_ms = ?2,
             waiting_since_ms = NULL,
             last_error = (SELECT 'commerce refused the entry on ' || r.sku || ': ' || r.message
                           FROM refused_entries r WHERE r.asset_id = ?1 ORDER BY r.at_ms DESC LIMIT 1)
         WHERE asset_id = ?1 AND EXISTS (SELECT 1 FROM refused_entries r WHERE r.asset_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = ?1)",
    )
    .bind(asset)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The product's refused entries.
pub(super) async fn refused_of(tx: &mut Tx<'_>, sku: &Sku) -> StoreResult<Vec<RefusedEntry>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT entry, message FROM refused_entries WHERE sku = ? ORDER BY asset_id",
    )
    .bind(sku.as_str())
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|(entry, message)| {
            Ok(RefusedEntry {
                entry: from_json(&entry)?,
                message,
            })
        })
        .collect()
}

/// Forgets a refusal: what the asset asks for on the product changed (it was tried again).
pub(super) async fn clear_refusal(tx: &mut Tx<'_>, sku: &str, asset: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM refused_entries WHERE sku = ? AND asset_id = ?")
        .bind(sku)
        .bind(asset)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replays every refusal (an operator's "replay all"): each refused asset waits for its product again and the
/// product is queued, so the refused entries are sent once more. Returns how many products.
pub(super) async fn replay_refusals(tx: &mut Tx<'_>, now_ms: i64) -> StoreResult<u64> {
    let refused: Vec<(String, String)> =
        sqlx::query_as("DELETE FROM refused_entries RETURNING sku, asset_id")
            .fetch_all(&mut **tx)
            .await?;
    let mut skus = std::collections::BTreeSet::new();
    for (sku, asset) in &refused {
        let generation = enqueue_sku(tx, sku, now_ms, now_ms, LIVE).await?;
        mark_pending(tx, asset, sku, generation).await?;
        sqlx::query(
            "UPDATE assets SET status = 'Waiting', failure_kind = NULL,
                 waiting_since_ms = COALESCE(waiting_since_ms, ?2)
             WHERE asset_id = ?1 AND status = 'Failed' AND failure_kind = 'refused'",
        )
        .bind(asset)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        skus.insert(sku.as_str());
    }
    Ok(u64::try_from(skus.len()).unwrap_or(u64::MAX))
}
