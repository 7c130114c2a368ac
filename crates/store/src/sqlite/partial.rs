//! A SKU's work that applied some operations and not others ([`SkuOutcome::PartlyApplied`]), and the
//! entries the commerce platform refused (`refused_entries`).
//!
//! [`SkuOutcome::PartlyApplied`]: crate::SkuOutcome::PartlyApplied

use super::conn::{execute, rows};
use super::shared::{LIVE, count, enqueue_sku, from_json, mark_pending, settle_asset, to_json};
use super::skus::{record_sku_failure, replace_gallery, resolve_pending};
use crate::{SkuFailure, SkuWork, StoreResult};
use domain::gallery::RefusedEntry;
use domain::{AppliedEntry, AssetId};
use rusqlite::Connection;

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
pub(super) fn complete_partly_applied(
    conn: &Connection,
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
    replace_gallery(conn, sku, entries)?;
    for asset in cleared {
        clear_refusal(conn, sku, asset.as_str())?;
        settle_asset(conn, asset.as_str(), now_ms)?;
    }
    for refusal in refused {
        let asset = refusal.entry.asset_id.as_str();
        execute(
            conn,
            "INSERT INTO refused_entries (sku, asset_id, entry, message, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (sku, asset_id) DO UPDATE SET entry = excluded.entry, message = excluded.message,
                 at_ms = excluded.at_ms",
            (sku, asset, to_json(&refusal.entry)?, &refusal.message, now_ms),
        )?;
        execute(
            conn,
            "DELETE FROM asset_pending WHERE asset_id = ? AND sku = ?",
            (asset, sku),
        )?;
        mark_refused(conn, asset, now_ms)?;
    }
    for asset in reread {
        execute(
            conn,
            "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt) VALUES (?1, 1, 0, ?2, 0)
             ON CONFLICT (asset_id) DO UPDATE SET generation = generation + 1,
                 run_at_ms = MIN(run_at_ms, excluded.run_at_ms)",
            (asset.as_str(), now_ms),
        )?;
    }
    match failure {
        Some(failure) => {
            record_sku_failure(conn, work, &failure.error, failure.retry_at_ms, now_ms)
        }
        None => {
            resolve_pending(conn, work, now_ms)?;
            Ok(None)
        }
    }
}

/// An asset with a refused entry (and nothing else pending) says Failed, with the platform's message.
pub(super) fn mark_refused(conn: &Connection, asset: &str, now_ms: i64) -> StoreResult<()> {
    execute(
        conn,
        "UPDATE assets SET status = 'Failed', failure_kind = 'refused', processing_ms = ?2,
             waiting_since_ms = NULL,
             last_error = (SELECT 'commerce refused the entry on ' || r.sku || ': ' || r.message
                           FROM refused_entries r WHERE r.asset_id = ?1 ORDER BY r.at_ms DESC LIMIT 1)
         WHERE asset_id = ?1 AND EXISTS (SELECT 1 FROM refused_entries r WHERE r.asset_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = ?1)",
        (asset, now_ms),
    )?;
    Ok(())
}

/// The product's refused entries.
pub(super) fn refused_of(conn: &Connection, sku: &str) -> StoreResult<Vec<RefusedEntry>> {
    rows(
        conn,
        "SELECT entry, message FROM refused_entries WHERE sku = ? ORDER BY asset_id",
        [sku],
        |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
    )?
    .into_iter()
    .map(|(entry, message)| {
        Ok(RefusedEntry {
            entry: from_json(&entry)?,
            message,
        })
    })
    .collect()
}

/// Forgets a refusal: what the asset asks for on the product changed (it was tried again).
fn clear_refusal(conn: &Connection, sku: &str, asset: &str) -> StoreResult<()> {
    execute(
        conn,
        "DELETE FROM refused_entries WHERE sku = ? AND asset_id = ?",
        (sku, asset),
    )?;
    Ok(())
}

/// Replays every refusal (an operator's "replay all"): each refused asset waits for its product again and the
/// product is queued, so the refused entries are sent once more. Returns how many products.
pub(super) fn replay_refusals(conn: &Connection, now_ms: i64) -> StoreResult<u64> {
    let refused: Vec<(String, String)> = rows(
        conn,
        "DELETE FROM refused_entries RETURNING sku, asset_id",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let mut skus = std::collections::BTreeSet::new();
    for (sku, asset) in &refused {
        let generation = enqueue_sku(conn, sku, now_ms, now_ms, LIVE)?;
        mark_pending(conn, asset, sku, generation)?;
        execute(
            conn,
            "UPDATE assets SET status = 'Waiting', failure_kind = NULL,
                 waiting_since_ms = COALESCE(waiting_since_ms, ?2)
             WHERE asset_id = ?1 AND status = 'Failed' AND failure_kind = 'refused'",
            (asset, now_ms),
        )?;
        skus.insert(sku.as_str());
    }
    Ok(count(skus.len()))
}
