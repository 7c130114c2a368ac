//! [`ManualLinks`] on SQLite: the `manual_links` table (migration 13). A change queues the SKU's gallery in
//! its own transaction.

use super::SqliteStore;
use super::conn::{Durability, execute, rows};
use super::shared::{LIVE, enqueue_sku, from_json, to_json};
use crate::{ManualLinks, StoreResult};
use async_trait::async_trait;
use domain::{AssetId, ManualLink, Sku};
use rusqlite::Connection;

#[async_trait]
impl ManualLinks for SqliteStore {
    async fn put_manual_link(&self, link: &ManualLink, now_ms: i64) -> StoreResult<bool> {
        let link = link.clone();
        self.db
            .write(Durability::Normal, move |conn| {
                let sku = link.link.sku.as_str();
                let asset = link.link.asset_id.as_str();
                let known = !rows(
                    conn,
                    "SELECT 1 FROM manual_links WHERE sku = ? AND asset_id = ?",
                    (sku, asset),
                    |r| r.get::<_, i64>(0),
                )?
                .is_empty();
                execute(
                    conn,
                    "INSERT INTO manual_links (sku, asset_id, link, linked_ms) VALUES (?, ?, ?, ?)
                     ON CONFLICT (sku, asset_id) DO UPDATE SET link = excluded.link,
                         linked_ms = excluded.linked_ms",
                    (sku, asset, to_json(&link.link)?, link.linked_ms),
                )?;
                enqueue_sku(conn, sku, now_ms, now_ms, LIVE)?;
                Ok(!known)
            })
            .await
    }

    async fn remove_manual_link(
        &self,
        sku: &Sku,
        asset_id: &AssetId,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (sku, asset_id) = (sku.clone(), asset_id.clone());
        self.db
            .write(Durability::Normal, move |conn| {
                let removed = execute(
                    conn,
                    "DELETE FROM manual_links WHERE sku = ? AND asset_id = ?",
                    (sku.as_str(), asset_id.as_str()),
                )? > 0;
                if removed {
                    enqueue_sku(conn, sku.as_str(), now_ms, now_ms, LIVE)?;
                }
                Ok(removed)
            })
            .await
    }

    async fn manual_links(&self, sku: &Sku) -> StoreResult<Vec<ManualLink>> {
        let sku = sku.clone();
        self.db
            .read(move |conn| manual_links_of(conn, sku.as_str()))
            .await
    }

    async fn manual_links_of_asset(&self, asset_id: &AssetId) -> StoreResult<Vec<ManualLink>> {
        let asset_id = asset_id.clone();
        self.db
            .read(move |conn| {
                let stored = rows(
                    conn,
                    "SELECT link, linked_ms FROM manual_links WHERE asset_id = ? ORDER BY sku",
                    [asset_id.as_str()],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                )?;
                parse(stored)
            })
            .await
    }
}

/// The manual links of one SKU, by asset id (also read by `sku_state`).
pub(super) fn manual_links_of(conn: &Connection, sku: &str) -> StoreResult<Vec<ManualLink>> {
    let stored = rows(
        conn,
        "SELECT link, linked_ms FROM manual_links WHERE sku = ? ORDER BY asset_id",
        [sku],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
    )?;
    parse(stored)
}

fn parse(stored: Vec<(String, i64)>) -> StoreResult<Vec<ManualLink>> {
    stored
        .into_iter()
        .map(|(link, linked_ms)| {
            Ok(ManualLink {
                link: from_json(&link)?,
                linked_ms,
            })
        })
        .collect()
}
