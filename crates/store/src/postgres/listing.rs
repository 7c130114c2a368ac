//! The Sync Status listing and an asset's history on PostgreSQL (the statement is built by
//! [`crate::listing::list_sql`], the same filters, orders and cursor as on SQLite).

use super::PostgresStore;
use super::conn::{read_tx, rows};
use super::shared::parse_sku;
use crate::listing::{Bound, Dialect, into_page, list_sql, split_skus};
use crate::{AssetEvent, AssetListQuery, AssetPage, AssetRow, StoreError, StoreResult, SyncStatus};
use domain::AssetId;
use tokio_postgres::types::ToSql;

impl PostgresStore {
    pub(super) async fn list_assets_page(&self, query: &AssetListQuery) -> StoreResult<AssetPage> {
        let (sql, params) = list_sql(query, Dialect::Postgres);
        let values: Vec<Box<dyn ToSql + Sync + Send>> = params
            .into_iter()
            .map(|p| -> Box<dyn ToSql + Sync + Send> {
                match p {
                    Bound::Text(text) => Box::new(text),
                    Bound::Int(n) => Box::new(n),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let found = read_tx!(self, |tx| { rows(&tx, &sql, &refs).await? });
        let listed = found
            .iter()
            .map(|r| {
                let asset_id: String = r.try_get(0)?;
                let status: String = r.try_get(2)?;
                let linked: Option<String> = r.try_get(6)?;
                Ok(AssetRow {
                    asset_id: AssetId::parse(&asset_id)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    name: r.try_get(1)?,
                    status: SyncStatus::parse(&status).ok_or_else(|| {
                        StoreError::Corrupt(format!("unknown asset status {status:?}"))
                    })?,
                    processing_ms: r.try_get(3)?,
                    dispatched_ms: r.try_get(4)?,
                    latency_ms: r.try_get(5)?,
                    linked_skus: split_skus(linked.as_deref())
                        .iter()
                        .map(|s| parse_sku(s))
                        .collect::<StoreResult<_>>()?,
                    last_error: r.try_get(7)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(into_page(listed, query))
    }

    pub(super) async fn asset_events(
        &self,
        asset_id: &AssetId,
        limit: i64,
    ) -> StoreResult<Vec<AssetEvent>> {
        let found = read_tx!(self, |tx| {
            rows(
                &tx,
                "SELECT event_id, event_type, received_ms FROM events
                 WHERE asset_id = $1 ORDER BY received_ms DESC LIMIT $2",
                &[&asset_id.as_str(), &limit],
            )
            .await?
        });
        found
            .iter()
            .map(|r| {
                Ok(AssetEvent {
                    event_id: r.try_get(0)?,
                    event_type: r.try_get(1)?,
                    received_ms: r.try_get(2)?,
                })
            })
            .collect()
    }
}
