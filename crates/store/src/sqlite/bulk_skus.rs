//! SKU outcomes that applied a whole gallery, completed together with set-based statements: a run of them is
//! bound once as a JSON array and read with `json_each`, so a group commit of dozens costs ten statements,
//! each searching by the run's own keys.
//!
//! It does what completing them one by one does (`skus::complete_sku_in` for `SkuOutcome::Applied`): each
//! item whose lease is no longer current fails alone and writes nothing; the others replace their galleries,
//! clear what assets waited for on them (up to the claimed generation), settle those assets, and finish their
//! work (deleted, or released when a newer change came). The run's SKUs are all different, so no item sees
//! what another wrote.

use super::bulk::settle_assets;
use super::conn::{column, execute, rows};
use super::shared::to_json;
use crate::{SkuWork, StoreError, StoreResult};
use domain::AppliedEntry;
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet};

/// The current lease of each SKU of a JSON array.
pub(super) const LEASES: &str = "SELECT w.sku, w.lease_until_ms
     FROM json_each(?1) j JOIN sku_work w ON w.sku = j.value";
/// Empties the galleries of a JSON array of SKUs.
pub(super) const CLEAR_GALLERIES: &str =
    "DELETE FROM gallery WHERE sku IN (SELECT value FROM json_each(?1))";
/// Writes the entries (`[sku, asset, entry]`).
pub(super) const INSERT_ENTRIES: &str = "INSERT INTO gallery (sku, asset_id, entry)
     SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM json_each(?1) j";
/// The products exist: they are no longer missing.
pub(super) const FOUND_PRODUCTS: &str =
    "DELETE FROM missing_products WHERE sku IN (SELECT value FROM json_each(?1))";
/// Clears what assets waited for on each `[sku, generation]` (up to that generation); returns the assets.
pub(super) const RESOLVE_PENDING: &str = "DELETE FROM asset_pending WHERE rowid IN (
     SELECT p.rowid FROM json_each(?1) j
     JOIN asset_pending p ON p.sku = j.value ->> 0 AND p.generation <= j.value ->> 1)
     RETURNING asset_id";
/// Deletes the work of each `[sku, generation]` no newer change came to; returns those SKUs.
pub(super) const FINISH_WORK: &str = "DELETE FROM sku_work WHERE rowid IN (
     SELECT w.rowid FROM json_each(?1) j
     JOIN sku_work w ON w.sku = j.value ->> 0 AND w.generation = j.value ->> 1)
     RETURNING sku";
/// Releases the work of a JSON array of SKUs that changed again while they were written.
pub(super) const RELEASE_WORK: &str = "UPDATE sku_work SET lease_until_ms = NULL, attempt = 0
     WHERE sku IN (SELECT value FROM json_each(?1))";

/// Completes a run of applied galleries of different SKUs; one result per item, in order.
pub(super) fn complete_applied(
    conn: &Connection,
    run: &[(&SkuWork, &[AppliedEntry])],
    now_ms: i64,
) -> StoreResult<Vec<StoreResult<()>>> {
    let skus = to_json(&run.iter().map(|(w, _)| w.sku.as_str()).collect::<Vec<_>>())?;
    let leases: HashMap<String, Option<i64>> =
        rows(conn, LEASES, [&skus], |r| Ok((r.get(0)?, r.get(1)?)))?
            .into_iter()
            .collect();
    let held = |work: &SkuWork| {
        leases.get(work.sku.as_str()).copied().flatten() == Some(work.lease_until_ms)
    };
    let kept: Vec<_> = run.iter().filter(|(work, _)| held(work)).collect();
    let results = run
        .iter()
        .map(|(work, _)| {
            if held(work) {
                Ok(())
            } else {
                Err(StoreError::LeaseLost)
            }
        })
        .collect();
    if kept.is_empty() {
        return Ok(results);
    }
    let skus = to_json(&kept.iter().map(|(w, _)| w.sku.as_str()).collect::<Vec<_>>())?;
    execute(conn, CLEAR_GALLERIES, [&skus])?;
    let mut entries = Vec::new();
    for (work, applied) in &kept {
        for entry in *applied {
            entries.push(json!([
                work.sku.as_str(),
                entry.entry.asset_id.as_str(),
                to_json(entry)?
            ]));
        }
    }
    if !entries.is_empty() {
        execute(conn, INSERT_ENTRIES, [to_json(&entries)?])?;
    }
    execute(conn, FOUND_PRODUCTS, [&skus])?;
    execute(conn, super::cluster::GALLERIES_CHANGED, [&skus])?;
    let claimed: Vec<Value> = kept
        .iter()
        .map(|(work, _)| json!([work.sku.as_str(), work.generation]))
        .collect();
    let claimed = to_json(&claimed)?;
    let waited: BTreeSet<String> = column::<String>(conn, RESOLVE_PENDING, [&claimed])?
        .into_iter()
        .collect();
    if !waited.is_empty() {
        settle_assets(conn, &to_json(&waited)?, now_ms)?;
    }
    let finished: HashSet<String> = column::<String>(conn, FINISH_WORK, [&claimed])?
        .into_iter()
        .collect();
    let changed: Vec<&str> = kept
        .iter()
        .map(|(work, _)| work.sku.as_str())
        .filter(|sku| !finished.contains(*sku))
        .collect();
    if !changed.is_empty() {
        execute(conn, RELEASE_WORK, [to_json(&changed)?])?;
    }
    Ok(results)
}
