//! [`ManualLinks`] on PostgreSQL: the `manual_links` table (migration 13). A change queues the SKU's gallery
//! in its own transaction.

use super::PostgresStore;
use super::conn::{Tx, execute, read_tx, rows, write_tx};
use super::shared::{LIVE, enqueue_sku, from_json, to_json};
use crate::{ManualLinks, StoreResult};
use async_trait::async_trait;
use domain::{AssetId, ManualLink, Sku};
use tokio_postgres::Row;

#[async_trait]
impl ManualLinks for PostgresStore {
    async fn put_manual_link(&self, link: &ManualLink, now_ms: i64) -> StoreResult<bool> {
        let sku = link.link.sku.as_str();
        let asset = link.link.asset_id.as_str();
        let text = to_json(&link.link)?;
        Ok(write_tx!(self, |tx| {
            // `xmax = 0` only for a row this statement inserted (not one it updated).
            let inserted: bool = rows(
                &tx,
                "INSERT INTO manual_links (sku, asset_id, link, linked_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (sku, asset_id) DO UPDATE SET link = EXCLUDED.link,
                     linked_ms = EXCLUDED.linked_ms
                 RETURNING (xmax = 0)",
                &[&sku, &asset, &text, &link.linked_ms],
            )
            .await?
            .first()
            .map(|r| r.try_get::<_, bool>(0))
            .transpose()?
            .unwrap_or(false);
            enqueue_sku(&tx, sku, now_ms, now_ms, LIVE).await?;
            inserted
        }))
    }

    async fn remove_manual_link(
        &self,
        sku: &Sku,
        asset_id: &AssetId,
        now_ms: i64,
    ) -> StoreResult<bool> {
        Ok(write_tx!(self, |tx| {
            let removed = execute(
                &tx,
                "DELETE FROM manual_links WHERE sku = $1 AND asset_id = $2",
                &[&sku.as_str(), &asset_id.as_str()],
            )
            .await?
                > 0;
            if removed {
                enqueue_sku(&tx, sku.as_str(), now_ms, now_ms, LIVE).await?;
            }
            removed
        }))
    }

    async fn manual_links(&self, sku: &Sku) -> StoreResult<Vec<ManualLink>> {
        Ok(read_tx!(self, |tx| {
            manual_links_of(&tx, sku.as_str()).await?
        }))
    }

    async fn manual_links_of_asset(&self, asset_id: &AssetId) -> StoreResult<Vec<ManualLink>> {
        let stored = read_tx!(self, |tx| {
            rows(
                &tx,
                "SELECT link, linked_ms FROM manual_links WHERE asset_id = $1 ORDER BY sku",
                &[&asset_id.as_str()],
            )
            .await?
        });
        parse(&stored)
    }
}

/// The manual links of one SKU, by asset id (also read by `sku_state`).
pub(super) async fn manual_links_of(tx: &Tx<'_>, sku: &str) -> StoreResult<Vec<ManualLink>> {
    let stored = rows(
        tx,
        "SELECT link, linked_ms FROM manual_links WHERE sku = $1 ORDER BY asset_id",
        &[&sku],
    )
    .await?;
    parse(&stored)
}

fn parse(stored: &[Row]) -> StoreResult<Vec<ManualLink>> {
    stored
        .iter()
        .map(|r| {
            let link: String = r.try_get(0)?;
            Ok(ManualLink {
                link: from_json(&link)?,
                linked_ms: r.try_get(1)?,
            })
        })
        .collect()
}
