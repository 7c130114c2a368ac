//! [`LeaseKeeper`]: a worker's leases are extended while its work runs, fenced on the lease value it holds.

use super::SqliteStore;
use super::conn::{Durability, execute};
use crate::{HeldLease, LeaseKeeper, StoreResult, WorkKey};
use async_trait::async_trait;

#[async_trait]
impl LeaseKeeper for SqliteStore {
    async fn renew_leases(&self, held: &[HeldLease], until_ms: i64) -> StoreResult<Vec<bool>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let held = held.to_vec();
        self.db
            .write(Durability::Normal, move |conn| {
                held.iter()
                    .map(|lease| {
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
                        Ok(execute(conn, sql, (until_ms, key, lease.lease_until_ms))? > 0)
                    })
                    .collect()
            })
            .await
    }

    async fn release_all_leases(&self) -> StoreResult<()> {
        self.db
            .write(Durability::Normal, |conn| {
                conn.execute_batch(
                    "UPDATE asset_work SET lease_until_ms = NULL WHERE lease_until_ms IS NOT NULL;
                     UPDATE sku_work SET lease_until_ms = NULL WHERE lease_until_ms IS NOT NULL;
                     UPDATE product_calls SET lease_until_ms = NULL WHERE lease_until_ms IS NOT NULL;",
                )?;
                Ok(())
            })
            .await
    }
}
