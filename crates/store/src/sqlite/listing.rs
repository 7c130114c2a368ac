//! The Sync Status listing and an asset's history on SQLite (the statement is built by
//! [`crate::listing::list_sql`]; `plans.rs` checks every filter and order uses an index).

use super::SqliteStore;
use super::conn::rows;
use super::shared::parse_sku;
use crate::listing::{Bound, Dialect, into_page, list_sql, split_skus};
use crate::{AssetEvent, AssetListQuery, AssetPage, AssetRow, StoreError, StoreResult, SyncStatus};
use domain::AssetId;
use rusqlite::Connection;

/// The raw columns of one listed row.
type Raw = (
    String,
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// The events received for an asset, newest first (the index `events_by_asset`).
pub(super) const ASSET_HISTORY: &str = "SELECT event_id, event_type, received_ms FROM events
     WHERE asset_id = ?1 ORDER BY received_ms DESC LIMIT ?2";

impl SqliteStore {
    pub(super) async fn list_assets_page(&self, query: &AssetListQuery) -> StoreResult<AssetPage> {
        let query = query.clone();
        self.db
            .read(move |conn| {
                let rows = list_in(conn, &query)?;
                Ok(into_page(rows, &query))
            })
            .await
    }

    pub(super) async fn asset_events(
        &self,
        asset_id: &AssetId,
        limit: i64,
    ) -> StoreResult<Vec<AssetEvent>> {
        let asset_id = asset_id.clone();
        self.db
            .read(move |conn| {
                rows(conn, ASSET_HISTORY, (asset_id.as_str(), limit), |r| {
                    Ok(AssetEvent {
                        event_id: r.get(0)?,
                        event_type: r.get(1)?,
                        received_ms: r.get(2)?,
                    })
                })
            })
            .await
    }
}

fn list_in(conn: &Connection, query: &AssetListQuery) -> StoreResult<Vec<AssetRow>> {
    let (sql, params) = list_sql(query, Dialect::Sqlite);
    let values: Vec<rusqlite::types::Value> = params
        .into_iter()
        .map(|p| match p {
            Bound::Text(text) => rusqlite::types::Value::Text(text),
            Bound::Int(n) => rusqlite::types::Value::Integer(n),
        })
        .collect();
    let raw: Vec<Raw> = rows(conn, &sql, rusqlite::params_from_iter(values), |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        ))
    })?;
    raw.into_iter().map(into_row).collect()
}

fn into_row(raw: Raw) -> StoreResult<AssetRow> {
    let (asset_id, name, status, processing_ms, dispatched_ms, latency_ms, linked, last_error) =
        raw;
    Ok(AssetRow {
        asset_id: AssetId::parse(&asset_id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        name,
        status: SyncStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown asset status {status:?}")))?,
        processing_ms,
        dispatched_ms,
        latency_ms,
        linked_skus: split_skus(linked.as_deref())
            .iter()
            .map(|s| parse_sku(s))
            .collect::<StoreResult<_>>()?,
        last_error,
    })
}
