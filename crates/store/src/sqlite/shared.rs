//! Statements shared by the roles: queuing a SKU, an asset waiting on a SKU, settling an asset, fencing a
//! lease, loading a gallery, and stored-value conversions.

use super::conn::{column, execute, one, optional};
use crate::{StoreError, StoreResult};
use domain::{AppliedEntry, Sku};
use rusqlite::Connection;

/// Priority of live work (events, products); bulk work (a full sync) yields to it.
pub(super) const LIVE: i64 = 0;
/// Priority of a full sync's work.
pub(super) const BULK: i64 = 1;

pub(super) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{e}: {text:.200}")))
}

pub(super) fn parse_sku(raw: &str) -> StoreResult<Sku> {
    Sku::parse(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Queues (or re-arms) the work of one SKU and returns its new generation. Queued work keeps its place: a
/// new change never pushes it back (a product changed more often than the queue drains would wait forever);
/// it only brings forward work waiting for a retry.
pub(super) fn enqueue_sku(
    conn: &Connection,
    sku: &str,
    now_ms: i64,
    first_ms: i64,
    priority: i64,
) -> StoreResult<i64> {
    // An upsert naming the queue's times in its `SET` would rewrite their index entries even when their
    // values stay: a SKU already queued moves its generation, and its times only when they come forward.
    let bumped: Option<i64> = optional(
        conn,
        "UPDATE sku_work SET generation = generation + 1 WHERE sku = ?1 RETURNING generation",
        [sku],
    )?;
    let Some(generation) = bumped else {
        return one(
            conn,
            "INSERT INTO sku_work (sku, generation, run_at_ms, attempt, first_enqueued_ms, priority)
             VALUES (?1, 1, ?2, 0, ?3, ?4) RETURNING generation",
            (sku, now_ms, first_ms, priority),
        );
    };
    execute(
        conn,
        "UPDATE sku_work SET run_at_ms = MIN(run_at_ms, ?2),
             first_enqueued_ms = MIN(first_enqueued_ms, ?3), priority = MIN(priority, ?4)
         WHERE sku = ?1 AND (run_at_ms > ?2 OR first_enqueued_ms > ?3 OR priority > ?4)",
        (sku, now_ms, first_ms, priority),
    )?;
    Ok(generation)
}

/// Records that `asset` waits for the SKU's work of `generation`.
pub(super) fn mark_pending(
    conn: &Connection,
    asset: &str,
    sku: &str,
    generation: i64,
) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO asset_pending (asset_id, sku, generation) VALUES (?, ?, ?)
         ON CONFLICT (asset_id, sku) DO UPDATE SET generation = excluded.generation",
        (asset, sku, generation),
    )?;
    Ok(())
}

/// Marks an asset Failed for a reason of its own (its DAM read or its metadata), keeping its links.
pub(super) fn mark_asset_failed(
    conn: &Connection,
    asset: &str,
    error: &str,
    now_ms: i64,
) -> StoreResult<()> {
    execute(
        conn,
        "UPDATE assets SET status = 'Failed', last_error = ?2, failure_kind = 'asset', processing_ms = ?3
         WHERE asset_id = ?1",
        (asset, error, now_ms),
    )?;
    Ok(())
}

/// Turns an asset to Success when nothing about it is pending any more; an entry of it that commerce
/// refused keeps it Failed, with the platform's message.
pub(super) fn settle_asset(conn: &Connection, asset_id: &str, now_ms: i64) -> StoreResult<()> {
    execute(
        conn,
        "UPDATE assets SET status = 'Success', dispatched_ms = ?2,
             last_latency_ms = ?2 - COALESCE(waiting_since_ms, ?2), waiting_since_ms = NULL,
             last_error = NULL, failure_kind = NULL
         WHERE asset_id = ?1
           AND (status = 'Waiting' OR (status = 'Failed' AND failure_kind IN ('sku', 'refused')))
           AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM refused_entries r WHERE r.asset_id = ?1)",
        (asset_id, now_ms),
    )?;
    super::partial::mark_refused(conn, asset_id, now_ms)
}

/// A leased work item, by table.
#[derive(Clone, Copy)]
pub(super) enum LeaseKey<'a> {
    Asset(&'a str),
    Sku(&'a str),
    ProductCall(&'a str),
}

/// Checks, inside the write transaction, that `lease_until_ms` is still the item's current lease.
pub(super) fn check_lease(
    conn: &Connection,
    key: LeaseKey<'_>,
    lease_until_ms: i64,
) -> StoreResult<()> {
    let (sql, key) = match key {
        LeaseKey::Asset(id) => (
            "SELECT lease_until_ms FROM asset_work WHERE asset_id = ?",
            id,
        ),
        LeaseKey::Sku(sku) => ("SELECT lease_until_ms FROM sku_work WHERE sku = ?", sku),
        LeaseKey::ProductCall(sku) => (
            "SELECT lease_until_ms FROM product_calls WHERE sku = ?",
            sku,
        ),
    };
    let current: Option<Option<i64>> = optional(conn, sql, [key])?;
    if current.flatten() == Some(lease_until_ms) {
        Ok(())
    } else {
        Err(StoreError::LeaseLost)
    }
}

/// One product's applied entries, in gallery order.
pub(super) fn load_gallery(conn: &Connection, sku: &str) -> StoreResult<Vec<AppliedEntry>> {
    let mut entries = column::<String>(conn, "SELECT entry FROM gallery WHERE sku = ?", [sku])?
        .iter()
        .map(|text| from_json::<AppliedEntry>(text))
        .collect::<StoreResult<Vec<_>>>()?;
    sort_entries(&mut entries);
    Ok(entries)
}

pub(super) fn sort_entries(entries: &mut [AppliedEntry]) {
    entries.sort_by(|a, b| {
        (a.entry.position, &a.entry.asset_id).cmp(&(b.entry.position, &b.entry.asset_id))
    });
}

/// Whether the catalog holds the product.
pub(super) fn product_exists(conn: &Connection, sku: &str) -> StoreResult<bool> {
    Ok(optional::<i64>(conn, "SELECT 1 FROM products WHERE sku = ?", [sku])?.is_some())
}

/// A named counter's value (0 when never set).
pub(super) fn counter(conn: &Connection, name: &str) -> StoreResult<i64> {
    one(
        conn,
        "SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = ?",
        [name],
    )
}

/// Adds `by` to a named counter.
pub(super) fn bump_counter(conn: &Connection, name: &str, by: i64) -> StoreResult<()> {
    if by != 0 {
        execute(
            conn,
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )?;
    }
    Ok(())
}

/// Completes a batch item by item inside one transaction: an item whose lease was lost wrote nothing and
/// fails alone; any other error fails the whole batch (the transaction rolls back).
pub(super) fn each_fenced<T>(
    items: Vec<T>,
    mut complete: impl FnMut(T) -> StoreResult<()>,
) -> StoreResult<Vec<StoreResult<()>>> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        match complete(item) {
            Err(StoreError::LeaseLost) => results.push(Err(StoreError::LeaseLost)),
            Err(other) => return Err(other),
            Ok(()) => results.push(Ok(())),
        }
    }
    Ok(results)
}
