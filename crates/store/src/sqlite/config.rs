//! The integration's configuration, and the work a change starts committed with it.

use super::{BULK, SqliteStore, Tx, enqueue_sku, to_json};
use crate::{ConfigFollowUps, StoreResult};
use domain::config::{FieldChange, IntegrationConfig};

impl SqliteStore {
    pub(super) async fn save_config_and_follow_ups(
        &self,
        config: &IntegrationConfig,
        changes: &[FieldChange],
        follow_ups: &ConfigFollowUps,
        now_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let sealed = self.sealed_config(config)?;
        let mut tx = self.begin_write().await?;
        save_config_in(&mut tx, &sealed, changes, now_ms).await?;
        let full_sync = match &follow_ups.full_sync {
            Some(reason) => Some(request_full_sync_in(&mut tx, reason, now_ms).await?),
            None => None,
        };
        if follow_ups.requeue_galleries {
            requeue_galleries_in(&mut tx, now_ms).await?;
        }
        tx.commit().await?;
        Ok(full_sync)
    }
}

/// Saves the configuration (already sealed: its secrets encrypted) and one history record when something
/// changed (inside `tx`).
pub(super) async fn save_config_in(
    tx: &mut Tx<'_>,
    sealed: &str,
    changes: &[FieldChange],
    now_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('integration', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(sealed)
    .execute(&mut **tx)
    .await?;
    if !changes.is_empty() {
        sqlx::query("INSERT INTO config_history (at_ms, changes) VALUES (?, ?)")
            .bind(now_ms)
            .bind(to_json(&changes)?)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Asks for a full sync inside `tx` (see [`Store::request_full_sync`]).
pub(super) async fn request_full_sync_in(
    tx: &mut Tx<'_>,
    reason: &str,
    now_ms: i64,
) -> StoreResult<i64> {
    let waiting: Option<i64> =
        sqlx::query_scalar("SELECT id FROM full_syncs WHERE state = 'waiting' LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    match waiting {
        Some(id) => Ok(id),
        None => Ok(sqlx::query_scalar(
            "INSERT INTO full_syncs (state, reason, phase, created_ms) VALUES ('waiting', ?, 'assets', ?)
             RETURNING id",
        )
        .bind(reason)
        .bind(now_ms)
        .fetch_one(&mut **tx)
        .await?),
    }
}

/// Queues every product with a gallery, claims or hand-made records inside `tx` (bulk priority).
pub(super) async fn requeue_galleries_in(tx: &mut Tx<'_>, now_ms: i64) -> StoreResult<u64> {
    let skus: Vec<String> = sqlx::query_scalar(
        "SELECT sku FROM gallery UNION SELECT sku FROM claims UNION SELECT sku FROM handmade_entries",
    )
    .fetch_all(&mut **tx)
    .await?;
    for sku in &skus {
        enqueue_sku(tx, sku, now_ms, now_ms, BULK).await?;
    }
    Ok(u64::try_from(skus.len()).unwrap_or(u64::MAX))
}
