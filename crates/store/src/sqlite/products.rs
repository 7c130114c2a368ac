//! Products and what their arrival starts, each in the transaction that changes the catalog: a new product's
//! queued gallery and product-to-asset call, a removed product's dropped links, a matcher's added links.

use super::conn::{execute, optional};
use super::shared::{LIVE, enqueue_sku, mark_pending, to_json};
use crate::StoreResult;
use domain::{DesiredLink, Sku};
use rusqlite::Connection;
use serde_json::Value;

/// Inserts the products that are new, queues the gallery of each new one that assets already claim, and (with
/// `product_call`) queues its product-to-asset call. Returns the new ones.
pub(super) fn insert_products(
    conn: &Connection,
    skus: &[Sku],
    product_call: Option<&Value>,
    now_ms: i64,
) -> StoreResult<Vec<Sku>> {
    let mut created = Vec::new();
    for sku in skus {
        let inserted = execute(
            conn,
            "INSERT INTO products (sku, created_ms) VALUES (?, ?) ON CONFLICT (sku) DO NOTHING",
            (sku.as_str(), now_ms),
        )?;
        if inserted == 0 {
            // Known: served again if it was found missing (the caller serves it now).
            super::cluster::product_served_again(conn, sku.as_str())?;
            continue;
        }
        super::cluster::gallery_changed(conn, sku.as_str(), true)?;
        created.push(sku.clone());
        if is_claimed(conn, sku.as_str())? {
            enqueue_sku(conn, sku.as_str(), now_ms, now_ms, LIVE)?;
        }
        if let Some(event_data) = product_call {
            super::product_calls::queue_call(conn, sku, event_data, now_ms)?;
        }
    }
    Ok(created)
}

/// Whether an asset claims the product.
pub(super) fn is_claimed(conn: &Connection, sku: &str) -> StoreResult<bool> {
    Ok(optional::<i64>(conn, "SELECT 1 FROM claims WHERE sku = ? LIMIT 1", [sku])?.is_some())
}

/// Removes a product from the catalog and queues its gallery when it has entries or claims (so its links are
/// dropped); its product-to-asset call goes with it. Returns whether it was known.
pub(super) fn delete_product(conn: &Connection, sku: &Sku, now_ms: i64) -> StoreResult<bool> {
    let removed = execute(conn, "DELETE FROM products WHERE sku = ?", [sku.as_str()])? > 0;
    super::cluster::gallery_changed(conn, sku.as_str(), false)?;
    execute(
        conn,
        "DELETE FROM product_calls WHERE sku = ?",
        [sku.as_str()],
    )?;
    let linked = optional::<i64>(
        conn,
        "SELECT 1 FROM gallery WHERE sku = ?1 UNION ALL SELECT 1 FROM claims WHERE sku = ?1 LIMIT 1",
        [sku.as_str()],
    )?
    .is_some();
    if linked {
        enqueue_sku(conn, sku.as_str(), now_ms, now_ms, LIVE)?;
    }
    Ok(removed)
}

/// Adds a custom matcher's product-to-asset links (see [`crate::Catalog::add_links`]).
pub(super) fn add_links_in(
    conn: &Connection,
    links: &[DesiredLink],
    now_ms: i64,
) -> StoreResult<()> {
    for link in links {
        let (asset, sku) = (link.asset_id.as_str(), link.sku.as_str());
        execute(
            conn,
            "INSERT INTO claims (sku, asset_id, link) VALUES (?, ?, ?)
             ON CONFLICT (sku, asset_id) DO UPDATE SET link = excluded.link",
            (sku, asset, to_json(link)?),
        )?;
        execute(
            conn,
            "INSERT INTO assets (asset_id, status, processing_ms, eligible, waiting_since_ms)
             VALUES (?1, 'Waiting', ?2, 1, ?2)
             ON CONFLICT (asset_id) DO UPDATE SET status = 'Waiting', eligible = 1, unlinked_ms = NULL,
                 waiting_since_ms = COALESCE(waiting_since_ms, ?2)",
            (asset, now_ms),
        )?;
        let generation = enqueue_sku(conn, sku, now_ms, now_ms, LIVE)?;
        mark_pending(conn, asset, sku, generation)?;
    }
    Ok(())
}
