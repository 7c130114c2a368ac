//! The PostgreSQL implementation of the storage traits, for many processes sharing one database: a pool of
//! connections (deadpool), one transaction per trait call, claims that skip the rows other transactions
//! hold (`FOR UPDATE SKIP LOCKED`), completions that lock the work row they fence on (`SELECT … FOR
//! UPDATE`: a stale lease writes nothing), upserts (`ON CONFLICT`), and batches as array statements
//! (`UNNEST`). Queue depths are indexed counts, not counter rows every writer would update. One module per
//! role, as in `sqlite/`; shared statements in `shared`.
//!
//! The store lives in the connection's schema (its `search_path`, e.g. `?options=-c%20search_path%3Dname`).

mod accounts;
mod assets;
mod catalog;
mod cluster;
mod config;
mod conn;
mod coordination;
mod events;
mod fullsync;
mod leases;
mod listing;
mod maintenance;
mod manual;
mod partial;
mod product_calls;
mod products;
pub mod scratch;
mod shared;
mod skus;

use crate::secrets::SecretKey;
use crate::{StoreError, StoreResult};
use conn::{Db, execute, optional, write_tx};
use domain::config::IntegrationConfig;
use shared::{from_json, to_json};
use std::sync::Arc;

/// The shared PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    db: Arc<Db>,
    /// Seals the configuration's secrets at rest.
    secrets: Arc<SecretKey>,
}

impl PostgresStore {
    /// Opens the database at `postgres://…` (or `postgresql://…`; it must exist), applies pending migrations
    /// and seals the configuration's secrets with `key` (there is no file beside the database to keep a key
    /// in: without one this is [`StoreError::SecretKeyRequired`]). Errors never carry the URL's password.
    pub async fn open_with_key(url: &str, key: Option<SecretKey>) -> StoreResult<Self> {
        let secrets = key.ok_or(StoreError::SecretKeyRequired)?;
        let config: tokio_postgres::Config = url.parse()?;
        {
            let (mut client, connection) = config.connect(tokio_postgres::NoTls).await?;
            let connection = tokio::spawn(connection);
            let migrated = crate::migrations::migrate_postgres(&mut client).await;
            drop(client);
            // The connection ends once its client is gone.
            let _ = connection.await;
            migrated?;
        }
        let store = Self {
            db: Arc::new(Db::new(config)?),
            secrets: Arc::new(secrets),
        };
        store.seal_stored_secrets().await?;
        Ok(store)
    }

    /// Seals a secret stored in plain text, and checks that the stored ones open with this key.
    async fn seal_stored_secrets(&self) -> StoreResult<()> {
        let sealed = write_tx!(self, |tx| {
            let stored: Option<String> = optional(
                &tx,
                "SELECT value FROM settings WHERE key = 'integration' FOR UPDATE",
                &[],
            )
            .await?;
            match stored {
                None => false,
                Some(stored) => {
                    let mut value: serde_json::Value = from_json(&stored)?;
                    let mut opened = value.clone();
                    self.secrets.open_fields(&mut opened)?;
                    if self.secrets.seal_fields(&mut value)? {
                        execute(
                            &tx,
                            "UPDATE settings SET value = $1 WHERE key = 'integration'",
                            &[&to_json(&value)?],
                        )
                        .await?;
                        true
                    } else {
                        false
                    }
                }
            }
        });
        if sealed {
            tracing::info!("the stored matcher secret was in plain text; it is now encrypted");
        }
        Ok(())
    }

    /// The configuration as stored: its secrets sealed.
    fn sealed_config(&self, config: &IntegrationConfig) -> StoreResult<String> {
        let mut value =
            serde_json::to_value(config).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.secrets.seal_fields(&mut value)?;
        to_json(&value)
    }

    /// A stored configuration, its secrets opened.
    fn opened_config(&self, stored: &str) -> StoreResult<IntegrationConfig> {
        let mut value: serde_json::Value = from_json(stored)?;
        self.secrets.open_fields(&mut value)?;
        serde_json::from_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}
