//! Lease renewal: a worker's leases are extended while its work runs, fenced on the lease value it holds.

use super::{SqliteStore, Tx};
use crate::{HeldLease, StoreResult, WorkKey};

impl SqliteStore {
    pub(super) async fn renew_held_leases(
        &self,
        held: &[HeldLease],
        until_ms: i64,
    ) -> StoreResult<Vec<bool>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let mut renewed = Vec::with_capacity(held.len());
        for lease in held {
            renewed.push(renew_one(&mut tx, lease, until_ms).await?);
        }
        tx.commit().await?;
        Ok(renewed)
    }
}

async fn renew_one(tx: &mut Tx<'_>, lease: &HeldLease, until_ms: i64) -> StoreResult<bool> {
    let (sql, key) = match &lease.key {
        WorkKey::Asset(id) => (
            "UPDATE asset_work SET lease_until_ms = ?1 WHERE asset_id = ?2 AND lease_until_ms = ?3",
            id.as_str(),
        ),
        WorkKey::Sku(sku) => (
            "UPDATE sku_work SET lease_until_ms = ?1 WHERE sku = ?2 AND lease_until_ms = ?3",
            sku.as_str(),
        ),
        WorkKey::ProductCall(sku) => (
            "UPDATE product_calls SET lease_until_ms = ?1 WHERE sku = ?2 AND lease_until_ms = ?3",
            sku.as_str(),
        ),
    };
    let changed = sqlx::query(sql)
        .bind(until_ms)
        .bind(key)
        .bind(lease.lease_until_ms)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(changed > 0)
}
