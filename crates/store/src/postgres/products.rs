//! Products and what their arrival starts, each in the transaction that changes the catalog: a new product's
//! queued gallery and product-to-asset call, a removed product's dropped links, a matcher's added links.

use super::conn::{Tx, column, execute, optional};
use super::shared::{LIVE, enqueue_sku, mark_pending, parse_sku, to_json};
use crate::StoreResult;
use domain::{DesiredLink, Sku};
use serde_json::Value;
use std::collections::HashSet;

/// Inserts the products that are new (one statement), queues the gallery of each new one that assets already
/// claim, and (with `product_call`) queues its product-to-asset call. Returns the new ones, in the order
/// given.
pub(super) async fn insert_products(
    tx: &Tx<'_>,
    skus: &[Sku],
    product_call: Option<&Value>,
    now_ms: i64,
) -> StoreResult<Vec<Sku>> {
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    let mut names: Vec<&str> = skus.iter().map(Sku::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let inserted: HashSet<String> = column::<String>(
        tx,
        "INSERT INTO products (sku, created_ms) SELECT s, $2 FROM UNNEST($1::TEXT[]) AS p(s)
         ON CONFLICT (sku) DO NOTHING RETURNING sku",
        &[&names, &now_ms],
    )
    .await?
    .into_iter()
    .collect();
    let (new, known): (Vec<&str>, Vec<&str>) = names
        .iter()
        .copied()
        .partition(|sku| inserted.contains(*sku));
    // Known ones are served again if they were found missing (the caller serves them now).
    super::cluster::products_served_again(tx, &known).await?;
    if new.is_empty() {
        return Ok(Vec::new());
    }
    super::cluster::galleries_changed(tx, &new, true).await?;
    let claimed: Vec<String> = column(
        tx,
        "SELECT DISTINCT sku FROM claims WHERE sku = ANY($1::TEXT[]) ORDER BY sku",
        &[&new],
    )
    .await?;
    for sku in &claimed {
        enqueue_sku(tx, sku, now_ms, now_ms, LIVE).await?;
    }
    if let Some(event_data) = product_call {
        for sku in &new {
            super::product_calls::queue_call(tx, &parse_sku(sku)?, event_data, now_ms).await?;
        }
    }
    let mut seen = HashSet::new();
    Ok(skus
        .iter()
        .filter(|sku| inserted.contains(sku.as_str()) && seen.insert(sku.as_str()))
        .cloned()
        .collect())
}

/// Whether an asset claims the product.
pub(super) async fn is_claimed(tx: &Tx<'_>, sku: &str) -> StoreResult<bool> {
    Ok(
        optional::<i32>(tx, "SELECT 1 FROM claims WHERE sku = $1 LIMIT 1", &[&sku])
            .await?
            .is_some(),
    )
}

/// Removes a product from the catalog and queues its gallery when it has entries or claims (so its links are
/// dropped); its product-to-asset call goes with it. Returns whether it was known.
pub(super) async fn delete_product(tx: &Tx<'_>, sku: &Sku, now_ms: i64) -> StoreResult<bool> {
    let sku = sku.as_str();
    let removed = execute(tx, "DELETE FROM products WHERE sku = $1", &[&sku]).await? > 0;
    super::cluster::galleries_changed(tx, &[sku], false).await?;
    execute(tx, "DELETE FROM product_calls WHERE sku = $1", &[&sku]).await?;
    let linked = optional::<i32>(
        tx,
        "SELECT 1 FROM gallery WHERE sku = $1 UNION ALL SELECT 1 FROM claims WHERE sku = $1 LIMIT 1",
        &[&sku],
    )
    .await?
    .is_some();
    if linked {
        enqueue_sku(tx, sku, now_ms, now_ms, LIVE).await?;
    }
    Ok(removed)
}

/// Adds a custom matcher's product-to-asset links (see [`crate::Catalog::add_links`]).
pub(super) async fn add_links_in(
    tx: &Tx<'_>,
    links: &[DesiredLink],
    now_ms: i64,
) -> StoreResult<()> {
    for link in links {
        let (asset, sku) = (link.asset_id.as_str(), link.sku.as_str());
        execute(
            tx,
            "INSERT INTO claims (sku, asset_id, link) VALUES ($1, $2, $3)
             ON CONFLICT (sku, asset_id) DO UPDATE SET link = EXCLUDED.link",
            &[&sku, &asset, &to_json(link)?],
        )
        .await?;
        execute(
            tx,
            "INSERT INTO assets (asset_id, status, processing_ms, eligible, waiting_since_ms)
             VALUES ($1, 'Waiting', $2, TRUE, $2)
             ON CONFLICT (asset_id) DO UPDATE SET status = 'Waiting', eligible = TRUE, unlinked_ms = NULL,
                 waiting_since_ms = COALESCE(assets.waiting_since_ms, $2)",
            &[&asset, &now_ms],
        )
        .await?;
        let generation = enqueue_sku(tx, sku, now_ms, now_ms, LIVE).await?;
        mark_pending(tx, asset, sku, generation).await?;
    }
    Ok(())
}
