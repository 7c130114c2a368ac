//! [`LeaseKeeper`]: a worker's leases are extended while its work runs, fenced on the lease value it holds.
//! One statement per queue renews all the leases held on it.

use super::PostgresStore;
use super::conn::{execute, rows, write_tx};
use crate::{HeldLease, LeaseKeeper, StoreResult, WorkKey};
use async_trait::async_trait;
use std::collections::HashSet;

#[async_trait]
impl LeaseKeeper for PostgresStore {
    async fn renew_leases(&self, held: &[HeldLease], until_ms: i64) -> StoreResult<Vec<bool>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let of = |table: u8| -> (Vec<&str>, Vec<i64>) {
            held.iter()
                .filter_map(|lease| match (&lease.key, table) {
                    (WorkKey::Asset(id), 0) => Some((id.as_str(), lease.lease_until_ms)),
                    (WorkKey::Sku(sku), 1) => Some((sku.as_str(), lease.lease_until_ms)),
                    (WorkKey::ProductCall(sku), 2) => Some((sku.as_str(), lease.lease_until_ms)),
                    _ => None,
                })
                .unzip()
        };
        const RENEW: [&str; 3] = [
            "UPDATE asset_work w SET lease_until_ms = $1 FROM UNNEST($2::TEXT[], $3::BIGINT[]) AS h(k, l)
             WHERE w.asset_id = h.k AND w.lease_until_ms = h.l RETURNING h.k, h.l",
            "UPDATE sku_work w SET lease_until_ms = $1 FROM UNNEST($2::TEXT[], $3::BIGINT[]) AS h(k, l)
             WHERE w.sku = h.k AND w.lease_until_ms = h.l RETURNING h.k, h.l",
            "UPDATE product_calls w SET lease_until_ms = $1 FROM UNNEST($2::TEXT[], $3::BIGINT[]) AS h(k, l)
             WHERE w.sku = h.k AND w.lease_until_ms = h.l RETURNING h.k, h.l",
        ];
        // Each (item, lease value) renewed; an item held twice under one value is renewed once, as one
        // statement after the other would.
        let mut renewed: [HashSet<(String, i64)>; 3] = write_tx!(self, |tx| {
            let mut renewed: [HashSet<(String, i64)>; 3] = Default::default();
            for (table, sql) in RENEW.iter().enumerate() {
                let (keys, leases) = of(u8::try_from(table).unwrap_or(u8::MAX));
                if !keys.is_empty() {
                    for row in rows(&tx, sql, &[&until_ms, &keys, &leases]).await? {
                        renewed[table].insert((row.try_get(0)?, row.try_get(1)?));
                    }
                }
            }
            renewed
        });
        Ok(held
            .iter()
            .map(|lease| {
                let (table, key) = match &lease.key {
                    WorkKey::Asset(id) => (0, id.as_str()),
                    WorkKey::Sku(sku) => (1, sku.as_str()),
                    WorkKey::ProductCall(sku) => (2, sku.as_str()),
                };
                renewed[table].remove(&(key.to_owned(), lease.lease_until_ms))
            })
            .collect())
    }

    async fn release_all_leases(&self) -> StoreResult<()> {
        write_tx!(self, |tx| {
            for sql in [
                "UPDATE asset_work SET lease_until_ms = NULL WHERE lease_until_ms IS NOT NULL",
                "UPDATE sku_work SET lease_until_ms = NULL WHERE lease_until_ms IS NOT NULL",
                "UPDATE product_calls SET lease_until_ms = NULL WHERE lease_until_ms IS NOT NULL",
            ] {
                execute(&tx, sql, &[]).await?;
            }
        });
        Ok(())
    }
}
