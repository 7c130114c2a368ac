//! A SKU's work that applied some operations and not others ([`SkuOutcome::PartlyApplied`]), and the
//! entries the commerce platform refused (`refused_entries`).
//!
//! [`SkuOutcome::PartlyApplied`]: crate::SkuOutcome::PartlyApplied

use super::conn::{Tx, execute, rows};
use super::shared::{LIVE, count_len, enqueue_sku, from_json, mark_pending, settle_asset, to_json};
use super::skus::{record_sku_failure, replace_gallery, resolve_pending};
use crate::{SkuFailure, SkuWork, StoreResult};
use domain::gallery::RefusedEntry;
use domain::{AppliedEntry, AssetId};

/// What a partly applied SKU wrote and left (see [`crate::SkuOutcome::PartlyApplied`]).
pub(super) struct Written<'a> {
    pub entries: &'a [AppliedEntry],
    pub refused: &'a [RefusedEntry],
    pub reread: &'a [AssetId],
    pub cleared: &'a [AssetId],
}

/// Stores a partly applied SKU inside the completion's transaction (see the SQLite store's `partial`).
/// Returns when to run the SKU again (`None`: its work is done).
pub(super) async fn complete_partly_applied(
    tx: &Tx<'_>,
    work: &SkuWork,
    written: Written<'_>,
    failure: Option<SkuFailure>,
    now_ms: i64,
    resolved: &mut Vec<String>,
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
        execute(
            tx,
            "DELETE FROM refused_entries WHERE sku = $1 AND asset_id = $2",
            &[&sku, &asset.as_str()],
        )
        .await?;
        settle_asset(tx, asset.as_str(), now_ms).await?;
    }
    for refusal in refused {
        let asset = refusal.entry.asset_id.as_str();
        execute(
            tx,
            "INSERT INTO refused_entries (sku, asset_id, entry, message, at_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (sku, asset_id) DO UPDATE SET entry = EXCLUDED.entry, message = EXCLUDED.message,
                 at_ms = EXCLUDED.at_ms",
            &[&sku, &asset, &to_json(&refusal.entry)?, &refusal.message, &now_ms],
        )
        .await?;
        execute(
            tx,
            "DELETE FROM asset_pending WHERE asset_id = $1 AND sku = $2",
            &[&asset, &sku],
        )
        .await?;
        mark_refused(tx, asset, now_ms).await?;
    }
    for asset in reread {
        execute(
            tx,
            "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
             VALUES ($1, 1, FALSE, $2, 0)
             ON CONFLICT (asset_id) DO UPDATE SET generation = asset_work.generation + 1,
                 run_at_ms = LEAST(asset_work.run_at_ms, EXCLUDED.run_at_ms)",
            &[&asset.as_str(), &now_ms],
        )
        .await?;
    }
    match failure {
        Some(failure) => {
            record_sku_failure(tx, work, &failure.error, failure.retry_at_ms, now_ms).await
        }
        None => {
            resolve_pending(tx, work, now_ms, resolved).await?;
            Ok(None)
        }
    }
}

/// An asset with a refused entry (and nothing else pending) says Failed, with the platform's message.
pub(super) async fn mark_refused(tx: &Tx<'_>, asset: &str, now_ms: i64) -> StoreResult<()> {
    execute(
        tx,
        "UPDATE assets SET status = 'Failed', failure_kind = 'refused', processing_ms = $2,
             waiting_since_ms = NULL,
             last_error = (SELECT 'commerce refused the entry on ' || r.sku || ': ' || r.message
                           FROM refused_entries r WHERE r.asset_id = $1 ORDER BY r.at_ms DESC LIMIT 1)
         WHERE asset_id = $1 AND EXISTS (SELECT 1 FROM refused_entries r WHERE r.asset_id = $1)
           AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = $1)
           AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = $1)",
        &[&asset, &now_ms],
    )
    .await?;
    Ok(())
}

/// The product's refused entries.
pub(super) async fn refused_of(tx: &Tx<'_>, sku: &str) -> StoreResult<Vec<RefusedEntry>> {
    rows(
        tx,
        "SELECT entry, message FROM refused_entries WHERE sku = $1 ORDER BY asset_id",
        &[&sku],
    )
    .await?
    .iter()
    .map(|row| {
        let entry: String = row.try_get(0)?;
        Ok(RefusedEntry {
            entry: from_json(&entry)?,
            message: row.try_get(1)?,
        })
    })
    .collect()
}

/// Replays every refusal (an operator's "replay all"): each refused asset waits for its product again and the
/// product is queued, so the refused entries are sent once more. Returns how many products.
pub(super) async fn replay_refusals(tx: &Tx<'_>, now_ms: i64) -> StoreResult<u64> {
    let mut refused: Vec<(String, String)> = Vec::new();
    for row in rows(
        tx,
        "DELETE FROM refused_entries RETURNING sku, asset_id",
        &[],
    )
    .await?
    {
        refused.push((row.try_get(0)?, row.try_get(1)?));
    }
    refused.sort_unstable();
    let mut skus = std::collections::BTreeSet::new();
    for (sku, asset) in &refused {
        let generation = enqueue_sku(tx, sku, now_ms, now_ms, LIVE).await?;
        mark_pending(tx, asset, sku, generation).await?;
        execute(
            tx,
            "UPDATE assets SET status = 'Waiting', failure_kind = NULL,
                 waiting_since_ms = COALESCE(waiting_since_ms, $2)
             WHERE asset_id = $1 AND status = 'Failed' AND failure_kind = 'refused'",
            &[&asset, &now_ms],
        )
        .await?;
        skus.insert(sku.as_str());
    }
    Ok(count_len(skus.len()))
}
