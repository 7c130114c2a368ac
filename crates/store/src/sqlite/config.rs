//! [`Configuration`]: the integration's configuration (its secrets sealed at rest), its history, and the work
//! a change starts, committed with it.

use super::SqliteStore;
use super::conn::{Durability, column, execute, one, optional, rows};
use super::shared::{BULK, count, enqueue_sku, from_json, to_json};
use crate::{ConfigChange, ConfigFollowUps, Configuration, StoreResult};
use async_trait::async_trait;
use domain::config::{FieldChange, IntegrationConfig};
use rusqlite::Connection;

#[async_trait]
impl Configuration for SqliteStore {
    async fn integration_config(&self) -> StoreResult<Option<IntegrationConfig>> {
        let stored: Option<String> = self
            .db
            .read(|conn| {
                optional(
                    conn,
                    "SELECT value FROM settings WHERE key = 'integration'",
                    [],
                )
            })
            .await?;
        stored
            .map(|text| Self::opened_config(&self.secrets, &text))
            .transpose()
    }

    async fn save_integration_config(
        &self,
        config: &IntegrationConfig,
        changes: &[FieldChange],
        now_ms: i64,
    ) -> StoreResult<()> {
        self.save_config_with_follow_ups(config, changes, &ConfigFollowUps::default(), now_ms)
            .await
            .map(|_| ())
    }

    async fn save_config_with_follow_ups(
        &self,
        config: &IntegrationConfig,
        changes: &[FieldChange],
        follow_ups: &ConfigFollowUps,
        now_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let sealed = self.sealed_config(config)?;
        let (changes, follow_ups) = (changes.to_vec(), follow_ups.clone());
        self.db
            .write(Durability::Full, move |conn| {
                save_config_in(conn, &sealed, &changes, now_ms)?;
                let full_sync = match &follow_ups.full_sync {
                    Some(reason) => Some(request_full_sync_in(conn, reason, now_ms)?),
                    None => None,
                };
                if follow_ups.requeue_galleries {
                    requeue_galleries_in(conn, now_ms)?;
                }
                Ok(full_sync)
            })
            .await
    }

    async fn config_history(&self, limit: i64) -> StoreResult<Vec<ConfigChange>> {
        let stored = self
            .db
            .read(move |conn| {
                rows(
                    conn,
                    "SELECT at_ms, changes FROM config_history ORDER BY id DESC LIMIT ?",
                    [limit],
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
                )
            })
            .await?;
        stored
            .into_iter()
            .map(|(at_ms, changes)| {
                Ok(ConfigChange {
                    at_ms,
                    changes: from_json(&changes)?,
                })
            })
            .collect()
    }
}

/// Saves the configuration (already sealed: its secrets encrypted) and one history record when something
/// changed.
fn save_config_in(
    conn: &Connection,
    sealed: &str,
    changes: &[FieldChange],
    now_ms: i64,
) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO settings (key, value) VALUES ('integration', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [sealed],
    )?;
    super::cluster::bump_config_version(conn)?;
    if !changes.is_empty() {
        execute(
            conn,
            "INSERT INTO config_history (at_ms, changes) VALUES (?, ?)",
            (now_ms, to_json(changes)?),
        )?;
    }
    Ok(())
}

/// Asks for a full sync (see [`crate::FullSyncs::request_full_sync`]).
pub(super) fn request_full_sync_in(
    conn: &Connection,
    reason: &str,
    now_ms: i64,
) -> StoreResult<i64> {
    let waiting: Option<i64> = optional(
        conn,
        "SELECT id FROM full_syncs WHERE state = 'waiting' LIMIT 1",
        [],
    )?;
    match waiting {
        Some(id) => Ok(id),
        None => one(
            conn,
            "INSERT INTO full_syncs (state, reason, phase, created_ms) VALUES ('waiting', ?, 'assets', ?)
             RETURNING id",
            (reason, now_ms),
        ),
    }
}

/// Queues every product with a gallery, claims or hand-made records (bulk priority).
pub(super) fn requeue_galleries_in(conn: &Connection, now_ms: i64) -> StoreResult<u64> {
    let skus: Vec<String> = column(
        conn,
        "SELECT sku FROM gallery UNION SELECT sku FROM claims UNION SELECT sku FROM handmade_entries
         UNION SELECT sku FROM manual_links",
        [],
    )?;
    for sku in &skus {
        enqueue_sku(conn, sku, now_ms, now_ms, BULK)?;
    }
    Ok(count(skus.len()))
}
