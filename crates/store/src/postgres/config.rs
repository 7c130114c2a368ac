//! [`Configuration`]: the integration's configuration (its secrets sealed at rest), its history, and the work
//! a change starts, committed with it.

use super::PostgresStore;
use super::conn::{Tx, column, execute, one, optional, read_tx, rows, write_tx};
use super::shared::{BULK, count_len, from_json, to_json};
use crate::{ConfigChange, ConfigFollowUps, Configuration, StoreResult};
use async_trait::async_trait;
use domain::config::{FieldChange, IntegrationConfig};

#[async_trait]
impl Configuration for PostgresStore {
    async fn integration_config(&self) -> StoreResult<Option<IntegrationConfig>> {
        let stored: Option<String> = read_tx!(self, |tx| {
            optional(
                &tx,
                "SELECT value FROM settings WHERE key = 'integration'",
                &[],
            )
            .await?
        });
        stored.map(|text| self.opened_config(&text)).transpose()
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
        Ok(write_tx!(self, |tx| {
            save_config_in(&tx, &sealed, changes, now_ms).await?;
            let full_sync = match &follow_ups.full_sync {
                Some(reason) => Some(request_full_sync_in(&tx, reason, now_ms).await?),
                None => None,
            };
            if follow_ups.requeue_galleries {
                requeue_galleries_in(&tx, now_ms).await?;
            }
            full_sync
        }))
    }

    async fn config_history(&self, limit: i64) -> StoreResult<Vec<ConfigChange>> {
        let stored = read_tx!(self, |tx| {
            rows(
                &tx,
                "SELECT at_ms, changes FROM config_history ORDER BY id DESC LIMIT $1",
                &[&limit],
            )
            .await?
        });
        stored
            .iter()
            .map(|row| {
                let changes: String = row.try_get(1)?;
                Ok(ConfigChange {
                    at_ms: row.try_get(0)?,
                    changes: from_json(&changes)?,
                })
            })
            .collect()
    }
}

/// Saves the configuration (already sealed: its secrets encrypted) and one history record when something
/// changed.
async fn save_config_in(
    tx: &Tx<'_>,
    sealed: &str,
    changes: &[FieldChange],
    now_ms: i64,
) -> StoreResult<()> {
    execute(
        tx,
        "INSERT INTO settings (key, value) VALUES ('integration', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&sealed],
    )
    .await?;
    super::cluster::bump_config_version(tx).await?;
    if !changes.is_empty() {
        execute(
            tx,
            "INSERT INTO config_history (at_ms, changes) VALUES ($1, $2)",
            &[&now_ms, &to_json(changes)?],
        )
        .await?;
    }
    Ok(())
}

/// Asks for a full sync (see [`crate::FullSyncs::request_full_sync`]). Requests are serialised by an advisory
/// lock held until the commit, so two processes cannot both queue one.
pub(super) async fn request_full_sync_in(
    tx: &Tx<'_>,
    reason: &str,
    now_ms: i64,
) -> StoreResult<i64> {
    execute(
        tx,
        "SELECT pg_advisory_xact_lock(hashtext('assetsync full sync ' || COALESCE(current_schema(), '')))",
        &[],
    )
    .await?;
    let waiting: Option<i64> = optional(
        tx,
        "SELECT id FROM full_syncs WHERE state = 'waiting' ORDER BY id LIMIT 1",
        &[],
    )
    .await?;
    match waiting {
        Some(id) => Ok(id),
        None => {
            one(
                tx,
                "INSERT INTO full_syncs (state, reason, phase, created_ms)
                 VALUES ('waiting', $1, 'assets', $2) RETURNING id",
                &[&reason, &now_ms],
            )
            .await
        }
    }
}

/// Queues every product with a gallery, claims or hand-made records (bulk priority).
pub(super) async fn requeue_galleries_in(tx: &Tx<'_>, now_ms: i64) -> StoreResult<u64> {
    let skus: Vec<String> = column(
        tx,
        "SELECT sku FROM gallery UNION SELECT sku FROM claims UNION SELECT sku FROM handmade_entries
         UNION SELECT sku FROM manual_links ORDER BY 1",
        &[],
    )
    .await?;
    execute(
        tx,
        "INSERT INTO sku_work (sku, generation, run_at_ms, attempt, first_enqueued_ms, priority)
         SELECT s, 1, $2, 0, $2, $3 FROM UNNEST($1::TEXT[]) AS q(s)
         ON CONFLICT (sku) DO UPDATE SET generation = sku_work.generation + 1,
             run_at_ms = LEAST(sku_work.run_at_ms, EXCLUDED.run_at_ms),
             first_enqueued_ms = LEAST(sku_work.first_enqueued_ms, EXCLUDED.first_enqueued_ms),
             priority = LEAST(sku_work.priority, EXCLUDED.priority)",
        &[&skus, &now_ms, &BULK],
    )
    .await?;
    Ok(count_len(skus.len()))
}
