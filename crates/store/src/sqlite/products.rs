//! Products and what their arrival starts, each in the transaction that changes the catalog: a commerce
//! product event with its deduplication record, a new product with its queued product-to-asset call.

use super::{LIVE, SqliteStore, Tx, enqueue_sku, mark_pending, to_json};
use crate::{NewEvent, ProductChange, ProductEventRecorded, StoreResult};
use domain::{DesiredLink, Sku};
use serde_json::Value;

impl SqliteStore {
    pub(super) async fn add_products_with_calls(
        &self,
        skus: &[Sku],
        product_call: Option<&Value>,
        now_ms: i64,
    ) -> StoreResult<Vec<Sku>> {
        let mut tx = self.begin_write().await?;
        let created = insert_products(&mut tx, skus, product_call, now_ms).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub(super) async fn record_product_event_in_one(
        &self,
        event: &NewEvent,
        change: &ProductChange,
        product_call: Option<&Value>,
    ) -> StoreResult<ProductEventRecorded> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO events (event_id, event_type, asset_id, received_ms) VALUES (?, ?, NULL, ?)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.event_id)
        .bind(&event.event_type)
        .bind(event.received_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(ProductEventRecorded::Duplicate);
        }
        sqlx::query(
            "INSERT INTO counters (name, value) VALUES ('events_stored', 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1",
        )
        .execute(&mut *tx)
        .await?;
        let recorded = match change {
            ProductChange::Saved(sku) => {
                let created = insert_products(
                    &mut tx,
                    std::slice::from_ref(sku),
                    product_call,
                    event.received_ms,
                )
                .await?;
                ProductEventRecorded::Saved {
                    created: !created.is_empty(),
                }
            }
            ProductChange::Deleted(sku) => ProductEventRecorded::Deleted {
                removed: delete_product(&mut tx, sku, event.received_ms).await?,
            },
        };
        tx.commit().await?;
        Ok(recorded)
    }
}

/// Inserts the products that are new, queues the gallery of each new one that assets already claim, and (with
/// `product_call`) queues its product-to-asset call. Returns the new ones.
pub(super) async fn insert_products(
    tx: &mut Tx<'_>,
    skus: &[Sku],
    product_call: Option<&Value>,
    now_ms: i64,
) -> StoreResult<Vec<Sku>> {
    let mut created = Vec::new();
    for sku in skus {
        let inserted = sqlx::query(
            "INSERT INTO products (sku, created_ms) VALUES (?, ?) ON CONFLICT (sku) DO NOTHING",
        )
        .bind(sku.as_str())
        .bind(now_ms)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            continue;
        }
        created.push(sku.clone());
        let claimed = sqlx::query("SELECT 1 FROM claims WHERE sku = ? LIMIT 1")
            .bind(sku.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        if claimed {
            enqueue_sku(tx, sku.as_str(), now_ms, now_ms, LIVE).await?;
        }
        if let Some(event_data) = product_call {
            super::product_calls::queue_call(tx, sku, event_data, now_ms).await?;
        }
    }
    Ok(created)
}

/// Removes a product from the catalog and queues its gallery when it has entries or claims (so its links are
/// dropped); its product-to-asset call goes with it. Returns whether it was known.
pub(super) async fn delete_product(tx: &mut Tx<'_>, sku: &Sku, now_ms: i64) -> StoreResult<bool> {
    let removed = sqlx::query("DELETE FROM products WHERE sku = ?")
        .bind(sku.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected()
        > 0;
    sqlx::query("DELETE FROM product_calls WHERE sku = ?")
        .bind(sku.as_str())
        .execute(&mut **tx)
        .await?;
    let linked = sqlx::query(
        "SELECT 1 FROM gallery WHERE sku = ?1 UNION ALL SELECT 1 FROM claims WHERE sku = ?1 LIMIT 1",
    )
    .bind(sku.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .is_some();
    if linked {
        enqueue_sku(tx, sku.as_str(), now_ms, now_ms, LIVE).await?;
    }
    Ok(removed)
}

/// Adds a custom matcher's product-to-asset links inside `tx` (see [`Store::add_links`]).
pub(super) async fn add_links_in(
    tx: &mut Tx<'_>,
    links: &[DesiredLink],
    now_ms: i64,
) -> StoreResult<()> {
    for link in links {
        let (asset, sku) = (link.asset_id.as_str(), link.sku.as_str());
        sqlx::query(
            "INSERT INTO claims (sku, asset_id, link) VALUES (?, ?, ?)
             ON CONFLICT (sku, asset_id) DO UPDATE SET link = excluded.link",
        )
        .bind(sku)
        .bind(asset)
        .bind(to_json(link)?)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO assets (asset_id, status, processing_ms, eligible, waiting_since_ms)
             VALUES (?1, 'Waiting', ?2, 1, ?2)
             ON CONFLICT (asset_id) DO UPDATE SET status = 'Waiting', eligible = 1,
                 waiting_since_ms = COALESCE(waiting_since_ms, ?2)",
        )
        .bind(asset)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        let generation = enqueue_sku(tx, sku, now_ms, now_ms, LIVE).await?;
        mark_pending(tx, asset, sku, generation).await?;
    }
    Ok(())
}
