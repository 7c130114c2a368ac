//! [`AssetQueue`]: assets to re-read from the DAM (one row per asset, coalescing every hint that arrives
//! before it is read), their desired links (claims) and their sync status.

use super::SqliteStore;
use super::conn::{Durability, column, execute, optional, row, rows};
use super::shared::{
    LIVE, LeaseKey, check_lease, count, each_fenced, enqueue_sku, from_json, mark_asset_failed,
    mark_pending, parse_sku, settle_asset, to_json,
};
use crate::{
    AssetOutcome, AssetQueue, AssetStatus, AssetWork, StoreError, StoreResult, SyncStatus,
};
use async_trait::async_trait;
use domain::{AssetId, DesiredLink};
use rusqlite::Connection;
use std::collections::BTreeMap;

#[async_trait]
impl AssetQueue for SqliteStore {
    async fn claim_asset_work(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<AssetWork>> {
        let claimed = self
            .db
            .claim(move |conn| {
                rows(
                    conn,
                    "UPDATE asset_work SET lease_until_ms = ?1 + ?3, attempt = attempt + 1
                     WHERE asset_id IN (SELECT asset_id FROM asset_work
                                        WHERE run_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?1)
                                        ORDER BY run_at_ms LIMIT ?2)
                     RETURNING asset_id, generation, deleted, attempt, missing_once, lease_until_ms",
                    (now_ms, limit, lease_ms),
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                        ))
                    },
                )
            })
            .await?;
        claimed
            .into_iter()
            .map(
                |(raw, generation, deleted, attempt, missing_once, lease_until_ms)| {
                    Ok(AssetWork {
                        asset_id: AssetId::parse(&raw)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        generation,
                        deleted,
                        attempt,
                        missing_once,
                        lease_until_ms,
                    })
                },
            )
            .collect()
    }

    async fn complete_assets(
        &self,
        items: Vec<(AssetWork, AssetOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>> {
        self.db
            .write(Durability::Normal, move |conn| {
                each_fenced(items, |(work, outcome)| {
                    complete_asset_in(conn, &work, outcome, now_ms)
                })
            })
            .await
    }

    async fn requeue_stalest_assets(&self, limit: i64, now_ms: i64) -> StoreResult<u64> {
        self.db
            .write(Durability::Normal, move |conn| {
                Ok(count(execute(conn, REQUEUE_STALEST, (limit, now_ms))?))
            })
            .await
    }

    async fn asset_status(&self, asset_id: &AssetId) -> StoreResult<Option<AssetStatus>> {
        let asset_id = asset_id.clone();
        self.db.read(move |conn| load_status(conn, asset_id)).await
    }

    async fn asset_claims(&self, asset_id: &AssetId) -> StoreResult<Vec<DesiredLink>> {
        let asset_id = asset_id.clone();
        self.db
            .read(move |conn| {
                column::<String>(
                    conn,
                    "SELECT link FROM claims WHERE asset_id = ? ORDER BY sku",
                    [asset_id.as_str()],
                )?
                .iter()
                .map(|text| from_json(text))
                .collect()
            })
            .await
    }

    async fn all_claims(&self) -> StoreResult<Vec<DesiredLink>> {
        self.db
            .read(|conn| {
                column::<String>(conn, "SELECT link FROM claims ORDER BY asset_id, sku", [])?
                    .iter()
                    .map(|text| from_json(text))
                    .collect()
            })
            .await
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
pub(super) const REQUEUE_STALEST: &str =
    "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
     SELECT asset_id, 1, 0, ?2, 0 FROM assets a
     WHERE NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = a.asset_id)
     ORDER BY COALESCE(processing_ms, 0), asset_id LIMIT ?1
     ON CONFLICT (asset_id) DO NOTHING";

fn load_status(conn: &Connection, asset_id: AssetId) -> StoreResult<Option<AssetStatus>> {
    type Head = (
        String,
        Option<i64>,
        Option<i64>,
        bool,
        String,
        Option<String>,
        Option<i64>,
    );
    let head: Option<Head> = row(
        conn,
        "SELECT status, processing_ms, dispatched_ms, eligible, warnings, last_error, last_latency_ms
         FROM assets WHERE asset_id = ?",
        [asset_id.as_str()],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        },
    )?;
    let Some((status, processing_ms, dispatched_ms, eligible, warnings, last_error, latency)) =
        head
    else {
        return Ok(None);
    };
    let linked = rows(
        conn,
        "SELECT sku, entry FROM gallery WHERE asset_id = ? ORDER BY sku",
        [asset_id.as_str()],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )?;
    let mut warnings: Vec<String> = from_json(&warnings)?;
    for (sku, entry) in &linked {
        let entry: domain::AppliedEntry = from_json(entry)?;
        warnings.extend(entry.store_view_warning(&parse_sku(sku)?));
    }
    let waiting = column::<String>(
        conn,
        "SELECT c.sku FROM claims c JOIN missing_products m ON m.sku = c.sku WHERE c.asset_id = ? ORDER BY c.sku",
        [asset_id.as_str()],
    )?;
    Ok(Some(AssetStatus {
        status: SyncStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown asset status {status:?}")))?,
        processing_ms,
        dispatched_ms,
        eligible,
        linked_skus: linked
            .iter()
            .map(|(s, _)| parse_sku(s))
            .collect::<StoreResult<_>>()?,
        waiting_for_products: waiting
            .iter()
            .map(|s| parse_sku(s))
            .collect::<StoreResult<_>>()?,
        warnings,
        last_error,
        last_latency_ms: latency,
        asset_id,
    }))
}

/// One asset's completion inside a write transaction (see [`AssetQueue::complete_asset`]).
fn complete_asset_in(
    conn: &Connection,
    work: &AssetWork,
    outcome: AssetOutcome,
    now_ms: i64,
) -> StoreResult<()> {
    let asset = work.asset_id.as_str();
    check_lease(conn, LeaseKey::Asset(asset), work.lease_until_ms)?;
    match outcome {
        AssetOutcome::Links {
            links,
            eligible,
            warnings,
            note,
        } => {
            let mut all_warnings = warnings;
            all_warnings.extend(note);
            store_links(conn, asset, &links, eligible, &all_warnings, now_ms, LIVE)?;
            finish_asset_work(conn, work, None, now_ms)?;
            settle_asset(conn, asset, now_ms)?;
        }
        AssetOutcome::Failed { error, retry_at_ms } => {
            mark_asset_failed(conn, asset, &error, now_ms)?;
            finish_asset_work(conn, work, retry_at_ms, now_ms)?;
        }
        AssetOutcome::Paused { error, retry_at_ms } => {
            mark_asset_failed(conn, asset, &error, now_ms)?;
            execute(
                conn,
                "UPDATE asset_work SET attempt = MAX(attempt - 1, 0) WHERE asset_id = ?",
                [asset],
            )?;
            finish_asset_work(conn, work, Some(retry_at_ms), now_ms)?;
        }
        AssetOutcome::Kept { note } => {
            execute(
                conn,
                "UPDATE assets SET processing_ms = ?2, warnings = ?3 WHERE asset_id = ?1",
                (asset, now_ms, to_json(&[note])?),
            )?;
            finish_asset_work(conn, work, None, now_ms)?;
            settle_asset(conn, asset, now_ms)?;
        }
        AssetOutcome::MissingOnce { retry_at_ms } => {
            execute(
                conn,
                "UPDATE asset_work SET lease_until_ms = NULL, missing_once = 1,
                     run_at_ms = CASE WHEN generation = ?2 THEN ?3 ELSE ?4 END
                 WHERE asset_id = ?1",
                (asset, work.generation, retry_at_ms, now_ms),
            )?;
            execute(
                conn,
                "UPDATE assets SET processing_ms = ?2 WHERE asset_id = ?1",
                (asset, now_ms),
            )?;
        }
    }
    Ok(())
}

/// Replaces an asset's claims with `links`, queues work (at `priority`) for every SKU whose claim changed,
/// and records the asset's evaluation (with since when it has no link, for retention). The caller settles
/// the asset.
pub(super) fn store_links(
    conn: &Connection,
    asset: &str,
    links: &[DesiredLink],
    eligible: bool,
    warnings: &[String],
    now_ms: i64,
    priority: i64,
) -> StoreResult<()> {
    let old: BTreeMap<String, String> = rows(
        conn,
        "SELECT sku, link FROM claims WHERE asset_id = ?",
        [asset],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .into_iter()
    .collect();
    let mut new = BTreeMap::new();
    for link in links {
        new.insert(link.sku.as_str().to_owned(), to_json(link)?);
    }
    let first_ms: Option<i64> = optional::<Option<i64>>(
        conn,
        "SELECT waiting_since_ms FROM assets WHERE asset_id = ?",
        [asset],
    )?
    .flatten();
    let first_ms = first_ms.unwrap_or(now_ms);
    for sku in old.keys() {
        if !new.contains_key(sku) {
            execute(
                conn,
                "DELETE FROM claims WHERE sku = ? AND asset_id = ?",
                (sku, asset),
            )?;
            let generation = enqueue_sku(conn, sku, now_ms, first_ms, priority)?;
            mark_pending(conn, asset, sku, generation)?;
        }
    }
    for (sku, link) in &new {
        if old.get(sku) == Some(link) {
            continue;
        }
        execute(
            conn,
            "INSERT INTO claims (sku, asset_id, link) VALUES (?, ?, ?)
             ON CONFLICT (sku, asset_id) DO UPDATE SET link = excluded.link",
            (sku, asset, link),
        )?;
        let generation = enqueue_sku(conn, sku, now_ms, first_ms, priority)?;
        mark_pending(conn, asset, sku, generation)?;
    }
    execute(
        conn,
        "INSERT INTO assets (asset_id, status, processing_ms, eligible, warnings, unlinked_ms)
         VALUES (?1, 'Waiting', ?2, ?3, ?4, ?5)
         ON CONFLICT (asset_id) DO UPDATE SET processing_ms = ?2, eligible = ?3, warnings = ?4,
             status = 'Waiting', last_error = NULL, failure_kind = NULL,
             waiting_since_ms = COALESCE(waiting_since_ms, ?2),
             unlinked_ms = CASE WHEN ?5 IS NULL THEN NULL ELSE COALESCE(unlinked_ms, ?5) END",
        (
            asset,
            now_ms,
            eligible,
            to_json(&warnings)?,
            links.is_empty().then_some(now_ms),
        ),
    )?;
    Ok(())
}

/// Finishes an asset's work item: deleted when no newer hint came (and no retry is due), else released.
fn finish_asset_work(
    conn: &Connection,
    work: &AssetWork,
    retry_at_ms: Option<i64>,
    now_ms: i64,
) -> StoreResult<()> {
    let asset = work.asset_id.as_str();
    if let Some(at) = retry_at_ms {
        execute(
            conn,
            "UPDATE asset_work SET lease_until_ms = NULL, run_at_ms = CASE WHEN generation = ?2 THEN ?3 ELSE ?4 END
             WHERE asset_id = ?1",
            (asset, work.generation, at, now_ms),
        )?;
        return Ok(());
    }
    let deleted = execute(
        conn,
        "DELETE FROM asset_work WHERE asset_id = ? AND generation = ?",
        (asset, work.generation),
    )?;
    if deleted == 0 {
        execute(
            conn,
            "UPDATE asset_work SET lease_until_ms = NULL, attempt = 0, missing_once = 0 WHERE asset_id = ?",
            [asset],
        )?;
    }
    Ok(())
}
