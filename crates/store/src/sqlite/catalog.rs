//! [`Catalog`]: the built-in catalog's products, the links a custom matcher adds, and the applied galleries
//! the read API serves.

use super::SqliteStore;
use super::conn::{Durability, column, rows};
use super::products::{add_links_in, delete_product, insert_products, is_claimed};
use super::shared::{
    LIVE, enqueue_sku, from_json, load_gallery, parse_sku, product_exists, sort_entries,
};
use crate::{Catalog, ProductStatus, StoreResult};
use async_trait::async_trait;
use domain::{AppliedEntry, DesiredLink, Sku};
use std::collections::BTreeMap;

#[async_trait]
impl Catalog for SqliteStore {
    async fn upsert_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool> {
        let sku = sku.clone();
        self.db
            .write(Durability::Normal, move |conn| {
                let created =
                    !insert_products(conn, std::slice::from_ref(&sku), None, now_ms)?.is_empty();
                // Known before: the caller says the product exists now (it may have been missing on the
                // platform), so a claimed product's gallery is written again.
                if !created && is_claimed(conn, sku.as_str())? {
                    enqueue_sku(conn, sku.as_str(), now_ms, now_ms, LIVE)?;
                }
                Ok(created)
            })
            .await
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
        let (skus, product_call) = (skus.to_vec(), product_call.cloned());
        self.db
            .write(Durability::Normal, move |conn| {
                insert_products(conn, &skus, product_call.as_ref(), now_ms)
            })
            .await
    }

    async fn remove_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool> {
        let sku = sku.clone();
        self.db
            .write(Durability::Normal, move |conn| {
                delete_product(conn, &sku, now_ms)
            })
            .await
    }

    async fn add_links(&self, links: &[DesiredLink], now_ms: i64) -> StoreResult<()> {
        let links = links.to_vec();
        self.db
            .write(Durability::Normal, move |conn| {
                add_links_in(conn, &links, now_ms)
            })
            .await
    }

    async fn all_galleries(&self) -> StoreResult<Vec<(Sku, Vec<AppliedEntry>)>> {
        self.db
            .read(|conn| {
                let mut galleries: BTreeMap<String, Vec<AppliedEntry>> = BTreeMap::new();
                for sku in column::<String>(conn, "SELECT sku FROM products", [])? {
                    galleries.entry(sku).or_default();
                }
                let entries = rows(conn, "SELECT sku, entry FROM gallery", [], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                for (sku, entry) in entries {
                    galleries.entry(sku).or_default().push(from_json(&entry)?);
                }
                galleries
                    .into_iter()
                    .map(|(sku, mut entries)| {
                        sort_entries(&mut entries);
                        Ok((parse_sku(&sku)?, entries))
                    })
                    .collect()
            })
            .await
    }

    async fn gallery(&self, sku: &Sku) -> StoreResult<Option<Vec<AppliedEntry>>> {
        let sku = sku.clone();
        self.db
            .read(move |conn| {
                let entries = load_gallery(conn, sku.as_str())?;
                let exists = product_exists(conn, sku.as_str())?;
                Ok((exists || !entries.is_empty()).then_some(entries))
            })
            .await
    }

    async fn product_status(&self, sku: &Sku) -> StoreResult<Option<ProductStatus>> {
        let sku = sku.clone();
        self.db
            .read(move |conn| super::product_calls::load_product_status(conn, sku))
            .await
    }

    async fn products_page(
        &self,
        prefix: &str,
        after: Option<&Sku>,
        limit: i64,
    ) -> StoreResult<Vec<Sku>> {
        let prefix = prefix.to_owned();
        let after = after.map_or_else(String::new, |s| s.as_str().to_owned());
        let skus: Vec<String> = self
            .db
            .read(move |conn| {
                column(
                    conn,
                    "SELECT sku FROM products
                     WHERE sku >= ?1 AND sku < ?1 || char(1114111) AND sku > ?2
                     ORDER BY sku LIMIT ?3",
                    (prefix, after, limit),
                )
            })
            .await?;
        skus.iter().map(|s| parse_sku(s)).collect()
    }
}
