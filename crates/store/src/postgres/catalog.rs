//! [`Catalog`]: the built-in catalog's products, the links a custom matcher adds, and the applied galleries
//! the read API serves.

use super::PostgresStore;
use super::conn::{column, read_tx, rows, write_tx};
use super::products::{add_links_in, delete_product, insert_products, is_claimed};
use super::shared::{
    LIVE, enqueue_sku, from_json, load_gallery, parse_sku, product_exists, sort_entries,
};
use crate::{Catalog, ProductStatus, StoreResult};
use async_trait::async_trait;
use domain::{AppliedEntry, DesiredLink, Sku};
use std::collections::BTreeMap;

#[async_trait]
impl Catalog for PostgresStore {
    async fn upsert_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool> {
        Ok(write_tx!(self, |tx| {
            let created = !insert_products(&tx, std::slice::from_ref(sku), None, now_ms)
                .await?
                .is_empty();
            // Known before: the caller says the product exists now (it may have been missing on the
            // platform), so a claimed product's gallery is written again.
            if !created && is_claimed(&tx, sku.as_str()).await? {
                enqueue_sku(&tx, sku.as_str(), now_ms, now_ms, LIVE).await?;
            }
            created
        }))
    }

    async fn upsert_products(&self, skus: &[Sku], now_ms: i64) -> StoreResult<Vec<Sku>> {
        self.add_products(skus, None, now_ms).await
    }

    async fn add_products(
        &self,
        skus: &[Sku],
        product_call: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> StoreResult<Vec<Sku>> {
        Ok(write_tx!(self, |tx| {
            insert_products(&tx, skus, product_call, now_ms).await?
        }))
    }

    async fn remove_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool> {
        Ok(write_tx!(self, |tx| {
            delete_product(&tx, sku, now_ms).await?
        }))
    }

    async fn add_links(&self, links: &[DesiredLink], now_ms: i64) -> StoreResult<()> {
        write_tx!(self, |tx| {
            add_links_in(&tx, links, now_ms).await?;
        });
        Ok(())
    }

    async fn all_galleries(&self) -> StoreResult<Vec<(Sku, Vec<AppliedEntry>)>> {
        let (products, entries) = read_tx!(self, |tx| {
            (
                column::<String>(&tx, "SELECT sku FROM products", &[]).await?,
                rows(&tx, "SELECT sku, entry FROM gallery", &[]).await?,
            )
        });
        let mut galleries: BTreeMap<String, Vec<AppliedEntry>> = BTreeMap::new();
        for sku in products {
            galleries.entry(sku).or_default();
        }
        for row in entries {
            let (sku, entry): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            galleries.entry(sku).or_default().push(from_json(&entry)?);
        }
        galleries
            .into_iter()
            .map(|(sku, mut entries)| {
                sort_entries(&mut entries);
                Ok((parse_sku(&sku)?, entries))
            })
            .collect()
    }

    async fn gallery(&self, sku: &Sku) -> StoreResult<Option<Vec<AppliedEntry>>> {
        Ok(read_tx!(self, |tx| {
            let entries = load_gallery(&tx, sku.as_str()).await?;
            let exists = product_exists(&tx, sku.as_str()).await?;
            (exists || !entries.is_empty()).then_some(entries)
        }))
    }

    async fn product_status(&self, sku: &Sku) -> StoreResult<Option<ProductStatus>> {
        Ok(read_tx!(self, |tx| {
            super::product_calls::load_product_status(&tx, sku.clone()).await?
        }))
    }

    async fn products_page(
        &self,
        prefix: &str,
        after: Option<&Sku>,
        limit: i64,
    ) -> StoreResult<Vec<Sku>> {
        let after = after.map_or("", |s| s.as_str());
        let skus: Vec<String> = read_tx!(self, |tx| {
            column(
                &tx,
                "SELECT sku FROM products
                 WHERE sku >= $1 AND sku < $1 || chr(1114111) AND sku > $2
                 ORDER BY sku LIMIT $3",
                &[&prefix, &after, &limit],
            )
            .await?
        });
        skus.iter().map(|s| parse_sku(s)).collect()
    }
}
