//! A full sync's page of assets stored with set-based statements: the page is bound once as a JSON array and
//! read with `json_each`, so a page of hundreds of assets costs a dozen statements, each walking indexes by
//! the page's own keys (never a whole table: the cost of a page does not grow with the catalog).
//!
//! It does what storing the page asset by asset does (`fullsync::store_bulk_asset`): the claims that changed
//! are replaced, each SKU is queued once for all its changes (its generation moves by their number), each
//! changed claim's asset is marked pending on the generation its own change made, and each asset is
//! recorded, settled and marked seen by the sync. A page listing one asset twice is stored asset by asset
//! instead (the later listing must see what the earlier one wrote).

use super::conn::{execute, rows};
use super::shared::{BULK, to_json};
use crate::{BulkAsset, StoreResult};
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The claims held now by the page's assets.
pub(super) const OLD_CLAIMS: &str = "SELECT c.asset_id, c.sku, c.link
     FROM json_each(?1) j JOIN claims c ON c.asset_id = j.value";
/// Since when each of the page's assets waits (the first queuing time of the SKU work it causes).
pub(super) const WAITING_SINCE: &str = "SELECT a.asset_id, a.waiting_since_ms
     FROM json_each(?1) j JOIN assets a ON a.asset_id = j.value";
/// Drops the claims the page's assets no longer make (`[asset, sku]` pairs).
pub(super) const DELETE_CLAIMS: &str = "DELETE FROM claims WHERE rowid IN (
     SELECT c.rowid FROM json_each(?1) j
     JOIN claims c ON c.sku = j.value ->> 1 AND c.asset_id = j.value ->> 0)";
/// Writes the claims that are new or changed (`[asset, sku, link]`).
pub(super) const UPSERT_CLAIMS: &str = "INSERT INTO claims (sku, asset_id, link)
     SELECT j.value ->> 1, j.value ->> 0, j.value ->> 2 FROM json_each(?1) j WHERE true
     ON CONFLICT (sku, asset_id) DO UPDATE SET link = excluded.link";
/// Queues each changed SKU (`[sku, changes, first_ms]`) as `shared::enqueue_sku` would once per change, in
/// three statements (first [`BUMP_SKUS`], then [`HASTEN_SKUS`], then this one): an upsert that names the
/// queue's times in its `SET` rewrites their index entries even when their values stay, four random index
/// pages per SKU already queued.
pub(super) const ENQUEUE_SKUS: &str =
    "INSERT INTO sku_work (sku, generation, run_at_ms, attempt, first_enqueued_ms, priority)
     SELECT j.value ->> 0, j.value ->> 1, ?2, 0, j.value ->> 2, ?3 FROM json_each(?1) j WHERE true
     ON CONFLICT (sku) DO NOTHING";
/// Moves the generation of each queued SKU of `[sku, changes, first_ms]` by its changes (not indexed).
pub(super) const BUMP_SKUS: &str = "UPDATE sku_work SET generation = generation + (j.value ->> 1)
     FROM json_each(?1) j WHERE sku_work.sku = j.value ->> 0";
/// Brings forward the queued SKUs of `[sku, changes, first_ms]` whose time, first time or priority the new
/// change lowers; the others' index entries are left alone.
pub(super) const HASTEN_SKUS: &str = "UPDATE sku_work SET run_at_ms = MIN(run_at_ms, ?2),
         first_enqueued_ms = MIN(first_enqueued_ms, j.value ->> 2), priority = MIN(priority, ?3)
     FROM json_each(?1) j
     WHERE sku_work.sku = j.value ->> 0
       AND (run_at_ms > ?2 OR first_enqueued_ms > j.value ->> 2 OR priority > ?3)";
/// Marks each changed `[asset, sku, before_last]` pending on the SKU generation its change made (the new
/// generation less the changes after it on the page).
pub(super) const MARK_PENDING: &str = "INSERT INTO asset_pending (asset_id, sku, generation)
     SELECT j.value ->> 0, j.value ->> 1, w.generation - (j.value ->> 2)
     FROM json_each(?1) j JOIN sku_work w ON w.sku = j.value ->> 1 WHERE true
     ON CONFLICT (asset_id, sku) DO UPDATE SET generation = excluded.generation";
/// Records each asset's evaluation (`[asset, eligible, warnings, unlinked]`), as `assets::store_links` does.
pub(super) const UPSERT_ASSETS: &str =
    "INSERT INTO assets (asset_id, status, processing_ms, eligible, warnings, unlinked_ms)
     SELECT j.value ->> 0, 'Waiting', ?2, j.value ->> 1, j.value ->> 2,
            CASE WHEN j.value ->> 3 THEN ?2 END
     FROM json_each(?1) j WHERE true
     ON CONFLICT (asset_id) DO UPDATE SET processing_ms = ?2, eligible = excluded.eligible,
         warnings = excluded.warnings, status = 'Waiting', last_error = NULL, failure_kind = NULL,
         waiting_since_ms = COALESCE(waiting_since_ms, ?2),
         unlinked_ms = CASE WHEN excluded.unlinked_ms IS NULL THEN NULL
                            ELSE COALESCE(unlinked_ms, excluded.unlinked_ms) END";
/// `shared::settle_asset` for every asset of a JSON array of ids (`+status`: found by id, never through the
/// index of every asset in a status).
pub(super) const SETTLE_ASSETS: &str = "UPDATE assets SET status = 'Success', dispatched_ms = ?2,
         last_latency_ms = ?2 - COALESCE(waiting_since_ms, ?2), waiting_since_ms = NULL,
         last_error = NULL, failure_kind = NULL
     WHERE asset_id IN (SELECT value FROM json_each(?1))
       AND (+status = 'Waiting' OR (+status = 'Failed' AND failure_kind IN ('sku', 'refused')))
       AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM refused_entries r WHERE r.asset_id = assets.asset_id)";
/// `partial::mark_refused` for every asset of a JSON array of ids.
pub(super) const MARK_REFUSED: &str = "UPDATE assets SET status = 'Failed', failure_kind = 'refused',
         processing_ms = ?2, waiting_since_ms = NULL,
         last_error = (SELECT 'commerce refused the entry on ' || r.sku || ': ' || r.message
                       FROM refused_entries r WHERE r.asset_id = assets.asset_id ORDER BY r.at_ms DESC LIMIT 1)
     WHERE asset_id IN (SELECT value FROM json_each(?1))
       AND EXISTS (SELECT 1 FROM refused_entries r WHERE r.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = assets.asset_id)
       AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = assets.asset_id)";
/// Marks the invalid assets (`[asset, error]`) Failed, keeping their links.
pub(super) const UPSERT_INVALID: &str =
    "INSERT INTO assets (asset_id, status, processing_ms, last_error, failure_kind)
     SELECT j.value ->> 0, 'Failed', ?2, j.value ->> 1, 'asset' FROM json_each(?1) j WHERE true
     ON CONFLICT (asset_id) DO UPDATE SET status = 'Failed', processing_ms = ?2,
         last_error = excluded.last_error, failure_kind = 'asset'";
/// Marks every asset of the page seen by the sync.
pub(super) const MARK_SEEN: &str =
    "UPDATE assets SET seen_sync = ?2 WHERE asset_id IN (SELECT value FROM json_each(?1))";

/// An asset of the page with its links: id, eligible, warnings, and the link (JSON) of each SKU.
type Linked<'a> = (&'a str, bool, &'a [String], BTreeMap<&'a str, String>);

/// Whether the page lists an asset more than once (then it is stored asset by asset).
pub(super) fn has_repeats(assets: &[BulkAsset]) -> bool {
    let mut seen = HashSet::with_capacity(assets.len());
    !assets.iter().all(|asset| seen.insert(asset_id(asset)))
}

fn asset_id(asset: &BulkAsset) -> &str {
    match asset {
        BulkAsset::Links { asset_id, .. } | BulkAsset::Invalid { asset_id, .. } => {
            asset_id.as_str()
        }
    }
}

/// Stores a page whose assets are all different (see the module's documentation) for the full sync `id`.
pub(super) fn store_page(
    conn: &Connection,
    id: i64,
    assets: &[BulkAsset],
    now_ms: i64,
) -> StoreResult<()> {
    let mut linked: Vec<Linked<'_>> = Vec::new();
    let mut invalid = Vec::new();
    for asset in assets {
        match asset {
            BulkAsset::Links {
                asset_id,
                links,
                eligible,
                warnings,
            } => {
                // Later links of one SKU win, as in `store_links`.
                let mut new = BTreeMap::new();
                for link in links {
                    new.insert(link.sku.as_str(), to_json(link)?);
                }
                linked.push((asset_id.as_str(), *eligible, warnings, new));
            }
            BulkAsset::Invalid { asset_id, error } => {
                invalid.push(json!([asset_id.as_str(), error]));
            }
        }
    }
    if !linked.is_empty() {
        store_linked(conn, &linked, now_ms)?;
    }
    if !invalid.is_empty() {
        execute(conn, UPSERT_INVALID, (to_json(&invalid)?, now_ms))?;
    }
    let all: Vec<&str> = assets.iter().map(asset_id).collect();
    execute(conn, MARK_SEEN, (to_json(&all)?, id))?;
    Ok(())
}

/// Replaces the claims of the page's assets with their links, queues the SKUs whose claims changed, and
/// records and settles the assets.
fn store_linked(conn: &Connection, linked: &[Linked<'_>], now_ms: i64) -> StoreResult<()> {
    let ids = to_json(&linked.iter().map(|a| a.0).collect::<Vec<_>>())?;
    let mut old: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for (asset, sku, link) in rows(conn, OLD_CLAIMS, [&ids], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
    })? {
        old.entry(asset).or_default().insert(sku, link);
    }
    let waiting: HashMap<String, Option<i64>> =
        rows(conn, WAITING_SINCE, [&ids], |r| Ok((r.get(0)?, r.get(1)?)))?
            .into_iter()
            .collect();
    let none = BTreeMap::new();
    let (mut dropped, mut written, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    // Per SKU: how many claims on it changed, and the earliest time one of their assets started waiting.
    let mut skus: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut assets = Vec::with_capacity(linked.len());
    for (asset, eligible, warnings, new) in linked {
        let old = old.get(*asset).unwrap_or(&none);
        let first_ms = waiting.get(*asset).copied().flatten().unwrap_or(now_ms);
        let mut change = |sku: &str| {
            let (changes, first) = skus.entry(sku.to_owned()).or_insert((0, first_ms));
            *changes += 1;
            *first = (*first).min(first_ms);
            changed.push((*asset, sku.to_owned(), *changes));
        };
        for sku in old.keys() {
            if !new.contains_key(sku.as_str()) {
                dropped.push(json!([asset, sku]));
                change(sku);
            }
        }
        for (sku, link) in new {
            if old.get(*sku) != Some(link) {
                written.push(json!([asset, sku, link]));
                change(sku);
            }
        }
        assets.push(json!([
            asset,
            i64::from(*eligible),
            to_json(warnings)?,
            i64::from(new.is_empty())
        ]));
    }
    if !dropped.is_empty() {
        execute(conn, DELETE_CLAIMS, [to_json(&dropped)?])?;
    }
    if !written.is_empty() {
        execute(conn, UPSERT_CLAIMS, [to_json(&written)?])?;
    }
    if !skus.is_empty() {
        let queued: Vec<Value> = skus
            .iter()
            .map(|(sku, (changes, first))| json!([sku, changes, first]))
            .collect();
        let queued = to_json(&queued)?;
        execute(conn, BUMP_SKUS, [&queued])?;
        execute(conn, HASTEN_SKUS, (&queued, now_ms, BULK))?;
        execute(conn, ENQUEUE_SKUS, (&queued, now_ms, BULK))?;
        // The n-th of a SKU's k changes waits on the generation its queuing returned: k - n before the last.
        let pending: Vec<Value> = changed
            .iter()
            .map(|(asset, sku, nth)| {
                let changes = skus.get(sku).map_or(*nth, |(changes, _)| *changes);
                json!([asset, sku, changes - nth])
            })
            .collect();
        execute(conn, MARK_PENDING, [to_json(&pending)?])?;
    }
    execute(conn, UPSERT_ASSETS, (to_json(&assets)?, now_ms))?;
    settle_assets(conn, &ids, now_ms)
}

/// Settles every asset of `ids` (a JSON array), as `shared::settle_asset` does for one.
pub(super) fn settle_assets(conn: &Connection, ids: &str, now_ms: i64) -> StoreResult<()> {
    execute(conn, SETTLE_ASSETS, (ids, now_ms))?;
    execute(conn, MARK_REFUSED, (ids, now_ms))?;
    Ok(())
}

/// The page's assets whose outcome was stored at or after `read_ms` (live work that may have read newer
/// metadata than the page did).
const CHANGED_SINCE: &str = "SELECT asset_id FROM assets
     WHERE asset_id IN (SELECT value FROM json_each(?1)) AND processing_ms >= ?2";
/// Queues each asset of a JSON array of ids to be read again, and marks it seen by the sync `?3`.
const REQUEUE: &str = "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
     SELECT value, 1, 0, ?2, 0 FROM json_each(?1) WHERE true
     ON CONFLICT (asset_id) DO UPDATE SET generation = generation + 1";

/// The assets of the page to store: those whose outcome was stored since the page's reading began
/// (`read_ms`) are left as they are and queued to be read again (seen by the sync `id`), so that a page read
/// before a change never overwrites what live work stored after it.
pub(super) fn requeue_changed_since(
    conn: &Connection,
    id: i64,
    assets: &[BulkAsset],
    read_ms: i64,
    now_ms: i64,
) -> StoreResult<Vec<BulkAsset>> {
    let ids = Value::from(assets.iter().map(asset_id).collect::<Vec<_>>()).to_string();
    let changed: HashSet<String> = rows(conn, CHANGED_SINCE, (&ids, read_ms), |r| r.get(0))?
        .into_iter()
        .collect();
    if changed.is_empty() {
        return Ok(assets.to_vec());
    }
    let requeued = Value::from(changed.iter().map(String::as_str).collect::<Vec<_>>()).to_string();
    execute(conn, REQUEUE, (&requeued, now_ms))?;
    execute(conn, MARK_SEEN, (&requeued, id))?;
    Ok(assets
        .iter()
        .filter(|asset| !changed.contains(asset_id(asset)))
        .cloned()
        .collect())
}
