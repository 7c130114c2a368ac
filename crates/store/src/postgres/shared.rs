//! Statements shared by the roles: queuing a SKU, an asset waiting on a SKU, settling an asset, fencing a
//! lease (the work row locked), loading a gallery, and stored-value conversions.

use super::conn::{Tx, column, execute, one, optional, write_tx};
use crate::{StoreError, StoreResult};
use domain::{AppliedEntry, Sku};

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

pub(super) fn count_len(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

pub(super) fn sort_entries(entries: &mut [AppliedEntry]) {
    entries.sort_by(|a, b| {
        (a.entry.position, &a.entry.asset_id).cmp(&(b.entry.position, &b.entry.asset_id))
    });
}

/// Queues (or re-arms) the work of one SKU and returns its new generation.
pub(super) async fn enqueue_sku(
    tx: &Tx<'_>,
    sku: &str,
    now_ms: i64,
    first_ms: i64,
    priority: i64,
) -> StoreResult<i64> {
    one(
        tx,
        "INSERT INTO sku_work (sku, generation, run_at_ms, attempt, first_enqueued_ms, priority)
         VALUES ($1, 1, $2, 0, $3, $4)
         ON CONFLICT (sku) DO UPDATE SET generation = sku_work.generation + 1,
             run_at_ms = LEAST(sku_work.run_at_ms, EXCLUDED.run_at_ms),
             first_enqueued_ms = LEAST(sku_work.first_enqueued_ms, EXCLUDED.first_enqueued_ms),
             priority = LEAST(sku_work.priority, EXCLUDED.priority)
         RETURNING generation",
        &[&sku, &now_ms, &first_ms, &priority],
    )
    .await
}

/// Records that `asset` waits for the SKU's work of `generation`.
pub(super) async fn mark_pending(
    tx: &Tx<'_>,
    asset: &str,
    sku: &str,
    generation: i64,
) -> StoreResult<()> {
    execute(
        tx,
        "INSERT INTO asset_pending (asset_id, sku, generation) VALUES ($1, $2, $3)
         ON CONFLICT (asset_id, sku) DO UPDATE SET generation = EXCLUDED.generation",
        &[&asset, &sku, &generation],
    )
    .await?;
    Ok(())
}

/// Marks an asset Failed for a reason of its own (its DAM read or its metadata), keeping its links.
pub(super) async fn mark_asset_failed(
    tx: &Tx<'_>,
    asset: &str,
    error: &str,
    now_ms: i64,
) -> StoreResult<()> {
    execute(
        tx,
        "UPDATE assets SET status = 'Failed', last_error = $2, failure_kind = 'asset', processing_ms = $3
         WHERE asset_id = $1",
        &[&asset, &error, &now_ms],
    )
    .await?;
    Ok(())
}

/// Turns an asset to Success when nothing about it is pending any more; an entry of it that commerce
/// refused keeps it Failed, with the platform's message.
pub(super) async fn settle_asset(tx: &Tx<'_>, asset_id: &str, now_ms: i64) -> StoreResult<()> {
    execute(
        tx,
        "UPDATE assets SET status = 'Success', dispatched_ms = $2,
             last_latency_ms = $2 - COALESCE(waiting_since_ms, $2), waiting_since_ms = NULL,
             last_error = NULL, failure_kind = NULL
         WHERE asset_id = $1
           AND (status = 'Waiting' OR (status = 'Failed' AND failure_kind IN ('sku', 'refused')))
           AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = $1)
           AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = $1)
           AND NOT EXISTS (SELECT 1 FROM refused_entries r WHERE r.asset_id = $1)",
        &[&asset_id, &now_ms],
    )
    .await?;
    super::partial::mark_refused(tx, asset_id, now_ms).await
}

/// A leased work item, by table.
#[derive(Clone, Copy)]
pub(super) enum LeaseKey<'a> {
    Asset(&'a str),
    Sku(&'a str),
    ProductCall(&'a str),
}

/// Checks, inside the write transaction, that `lease_until_ms` is still the item's current lease, and locks
/// the work row until the commit: another process's claim or completion of it waits, so a stale lease
/// writes nothing.
pub(super) async fn check_lease(
    tx: &Tx<'_>,
    key: LeaseKey<'_>,
    lease_until_ms: i64,
) -> StoreResult<()> {
    let (sql, key) = match key {
        LeaseKey::Asset(id) => (
            "SELECT lease_until_ms FROM asset_work WHERE asset_id = $1 FOR UPDATE",
            id,
        ),
        LeaseKey::Sku(sku) => (
            "SELECT lease_until_ms FROM sku_work WHERE sku = $1 FOR UPDATE",
            sku,
        ),
        LeaseKey::ProductCall(sku) => (
            "SELECT lease_until_ms FROM product_calls WHERE sku = $1 FOR UPDATE",
            sku,
        ),
    };
    let current: Option<Option<i64>> = optional(tx, sql, &[&key]).await?;
    if current.flatten() == Some(lease_until_ms) {
        Ok(())
    } else {
        Err(StoreError::LeaseLost)
    }
}

/// One product's applied entries, in gallery order.
pub(super) async fn load_gallery(tx: &Tx<'_>, sku: &str) -> StoreResult<Vec<AppliedEntry>> {
    let mut entries = column::<String>(tx, "SELECT entry FROM gallery WHERE sku = $1", &[&sku])
        .await?
        .iter()
        .map(|text| from_json::<AppliedEntry>(text))
        .collect::<StoreResult<Vec<_>>>()?;
    sort_entries(&mut entries);
    Ok(entries)
}

/// Whether the catalog holds the product.
pub(super) async fn product_exists(tx: &Tx<'_>, sku: &str) -> StoreResult<bool> {
    Ok(
        optional::<i32>(tx, "SELECT 1 FROM products WHERE sku = $1", &[&sku])
            .await?
            .is_some(),
    )
}

/// A named counter's value (0 when never set).
pub(super) async fn counter(tx: &Tx<'_>, name: &str) -> StoreResult<i64> {
    one(
        tx,
        "SELECT COALESCE(MAX(value), 0)::BIGINT FROM counters WHERE name = $1",
        &[&name],
    )
    .await
}

/// Adds `by` to a named counter.
pub(super) async fn bump_counter(tx: &Tx<'_>, name: &str, by: i64) -> StoreResult<()> {
    if by != 0 {
        execute(
            tx,
            "INSERT INTO counters (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = counters.value + EXCLUDED.value",
            &[&name, &by],
        )
        .await?;
    }
    Ok(())
}

/// Whether a batch item's error fails it alone (its lease was lost: it wrote nothing) or the whole batch.
pub(super) fn fenced(
    results: &mut Vec<StoreResult<()>>,
    outcome: StoreResult<()>,
) -> StoreResult<()> {
    match outcome {
        Err(StoreError::LeaseLost) => results.push(Err(StoreError::LeaseLost)),
        Err(other) => return Err(other),
        Ok(()) => results.push(Ok(())),
    }
    Ok(())
}

/// Results computed in `order` (indexes of the items), put back in the items' order.
pub(super) fn in_item_order<T>(order: &[usize], sorted: Vec<T>) -> Vec<T> {
    let mut placed: Vec<(usize, T)> = order.iter().copied().zip(sorted).collect();
    placed.sort_by_key(|(index, _)| *index);
    placed.into_iter().map(|(_, result)| result).collect()
}

impl super::PostgresStore {
    /// Settles `assets` again in a transaction of its own, after the one that cleared what they waited for has
    /// committed. Under read committed, two transactions that each remove one of an asset's last two reasons to
    /// wait (a pending SKU, its asset work) each see the other's row still there, and the asset would stay
    /// Waiting; whichever commits last sees both here. Settling an asset with nothing to settle changes nothing.
    pub(super) async fn settle_again(
        &self,
        mut assets: Vec<String>,
        now_ms: i64,
    ) -> StoreResult<()> {
        if assets.is_empty() {
            return Ok(());
        }
        assets.sort_unstable();
        assets.dedup();
        write_tx!(self, |tx| {
            for asset in &assets {
                settle_asset(&tx, asset, now_ms).await?;
            }
        });
        Ok(())
    }
}
