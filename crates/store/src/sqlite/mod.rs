//! The SQLite implementation of the storage traits: WAL, `synchronous=NORMAL` (`FULL` for the commits that
//! precede an acknowledgement), one writer thread whose every call is one `BEGIN IMMEDIATE` transaction, and
//! reader threads. One module per role; shared statements in `shared`.

mod accounts;
mod assets;
mod bulk;
mod bulk_skus;
mod catalog;
mod checkpoint;
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
mod queue;
pub mod seed;
mod shared;
mod skus;

#[cfg(test)]
mod bulk_skus_tests;
#[cfg(test)]
mod bulk_tests;
#[cfg(test)]
mod plans;
#[cfg(test)]
use crate::migrations::migrate_sqlite_in as migrate_in;

use crate::secrets::SecretKey;
use crate::{StoreError, StoreResult};
use conn::{Connections, Durability};
use domain::config::IntegrationConfig;
use shared::{from_json, to_json};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// The embedded SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Connections>,
    /// An exclusive lock on `<database>.lock`, held while the store lives: one process per SQLite file.
    _process_lock: Option<Arc<File>>,
    /// Seals the configuration's secrets at rest.
    secrets: Arc<SecretKey>,
    /// The duties this process leads ([`crate::Cluster::try_lead`]).
    duties: Arc<coordination::Duties>,
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `sqlite://PATH` and applies pending migrations. Secrets
    /// are sealed with the key in `<database>.key` (created, mode 0600, when missing).
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with_key(url, None).await
    }

    /// [`Self::open`] with secrets sealed by `key` (from `ASSETSYNC_SECRET_KEY`); `None`: the key file beside
    /// the database (a random key for an in-memory database). A plaintext secret stored before is sealed now.
    pub async fn open_with_key(url: &str, key: Option<SecretKey>) -> StoreResult<Self> {
        Self::open_in(url, key, true).await
    }

    /// [`Self::open_with_key`] without taking the process lock: for short commands that only touch their own
    /// tables (the `user` commands' [`crate::Accounts`]) while `serve` holds the database. WAL and the busy
    /// timeout let their few writes wait for the service's writer.
    pub async fn open_beside_service(url: &str, key: Option<SecretKey>) -> StoreResult<Self> {
        Self::open_in(url, key, false).await
    }

    async fn open_in(url: &str, key: Option<SecretKey>, exclusive: bool) -> StoreResult<Self> {
        let path = database_path(url);
        if let Some(path) = path {
            create_parent(path)?;
        }
        let process_lock = if exclusive {
            lock_database_file(path)?
        } else {
            None
        };
        let secrets = match (key, path) {
            (Some(key), _) => key,
            (None, Some(path)) => SecretKey::load_or_create(Path::new(&format!("{path}.key")))?,
            (None, None) => SecretKey::random()?,
        };
        // Migrate on a connection of its own before the readers open: they need the schema.
        let db = match path {
            Some(path) => {
                let conn = rusqlite::Connection::open(path)?;
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                crate::migrations::migrate_sqlite(&conn)?;
                drop(conn);
                Connections::open(Some(path))?
            }
            None => {
                let db = Connections::open(None)?;
                db.write(Durability::Full, crate::migrations::migrate_sqlite_in)
                    .await?;
                db
            }
        };
        let store = Self {
            db: Arc::new(db),
            _process_lock: process_lock,
            secrets: Arc::new(secrets),
            duties: Arc::default(),
        };
        store.seal_stored_secrets().await?;
        Ok(store)
    }

    /// Seals a secret stored in plain text (by a version that did not seal them), and checks that the stored
    /// ones open with this key.
    async fn seal_stored_secrets(&self) -> StoreResult<()> {
        let secrets = self.secrets.clone();
        let sealed = self
            .db
            .write(Durability::Full, move |conn| {
                let stored: Option<String> = conn::optional(
                    conn,
                    "SELECT value FROM settings WHERE key = 'integration'",
                    [],
                )?;
                let Some(stored) = stored else {
                    return Ok(false);
                };
                let mut value: serde_json::Value = from_json(&stored)?;
                let mut opened = value.clone();
                secrets.open_fields(&mut opened)?;
                if !secrets.seal_fields(&mut value)? {
                    return Ok(false);
                }
                conn::execute(
                    conn,
                    "UPDATE settings SET value = ? WHERE key = 'integration'",
                    [to_json(&value)?],
                )?;
                Ok(true)
            })
            .await?;
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
    fn opened_config(secrets: &SecretKey, stored: &str) -> StoreResult<IntegrationConfig> {
        let mut value: serde_json::Value = from_json(stored)?;
        secrets.open_fields(&mut value)?;
        serde_json::from_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// The file of a file database (`None` for in-memory databases).
fn database_path(url: &str) -> Option<&str> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(':')).then_some(path)
}

/// Creates the directory a new database file goes into.
fn create_parent(path: &str) -> StoreResult<()> {
    match Path::new(path).parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.exists() => {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", parent.display()))
            })
        }
        _ => Ok(()),
    }
}

/// Takes the exclusive lock file beside a file database (`None` for in-memory databases).
fn lock_database_file(path: Option<&str>) -> StoreResult<Option<Arc<File>>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Corrupt(format!("cannot open {lock_path}: {e}")))?;
    file.try_lock()
        .map_err(|_| StoreError::InUse(path.to_owned()))?;
    Ok(Some(Arc::new(file)))
}
