//! The SQLite implementation of [`Store`]: WAL, `synchronous=NORMAL`, one writer connection whose every
//! transaction starts with `BEGIN IMMEDIATE`, and a small pool of readers.

mod config;
mod leases;
mod product_calls;
mod products;

use crate::secrets::SecretKey;
use crate::{
    AssetOutcome, AssetStatus, AssetWork, Backlog, BulkAsset, ConfigChange, DeadLetter, FullSync,
    NewEvent, Recorded, SkuOutcome, SkuState, SkuWork, Store, StoreError, StoreResult,
};
use async_trait::async_trait;
use domain::config::{FieldChange, IntegrationConfig};
use domain::events::EventKind;
use domain::gallery::HandmadeRecord;
use domain::{AppliedEntry, AssetId, DesiredLink, Sku};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Migrations, applied in order; the version is the position in this list, plus one.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_foundation.sql"),
    include_str!("../migrations/sqlite/0002_configuration.sql"),
    include_str!("../migrations/sqlite/0003_full_sync.sql"),
    include_str!("../migrations/sqlite/0004_handmade_entries.sql"),
    include_str!("../migrations/sqlite/0005_dead_letters.sql"),
    include_str!("../migrations/sqlite/0006_dot_segment_skus.sql"),
    include_str!("../migrations/sqlite/0007_product_calls.sql"),
    include_str!("../migrations/sqlite/0008_refused_entries.sql"),
];

/// The embedded SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    /// An exclusive lock on `<database>.lock`, held while the store lives: one process per SQLite file.
    _process_lock: Option<Arc<File>>,
    /// Seals the configuration's secrets at rest.
    secrets: Arc<SecretKey>,
}

type Tx<'a> = Transaction<'a, Sqlite>;

mod partial;

impl SqliteStore {
    /// Opens (creating when missing) the database at `sqlite://PATH` and applies pending migrations. Secrets
    /// are sealed with the key in `<database>.key` (created, mode 0600, when missing).
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with_key(url, None).await
    }

    /// [`Self::open`] with secrets sealed by `key` (from `ASSETSYNC_SECRET_KEY`); `None`: the key file beside
    /// the database (a random key for an in-memory database). A plaintext secret stored before is sealed now.
    pub async fn open_with_key(url: &str, key: Option<SecretKey>) -> StoreResult<Self> {
        let process_lock = lock_database_file(url)?;
        let secrets = match (key, database_path(url)) {
            (Some(key), _) => key,
            (None, Some(path)) => SecretKey::load_or_create(Path::new(&format!("{path}.key")))?,
            (None, None) => SecretKey::random()?,
        };
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let store = Self {
            readers: SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options.read_only(true))
                .await?,
            writer,
            _process_lock: process_lock,
            secrets: Arc::new(secrets),
        };
        store.migrate().await?;
        store.seal_stored_secrets().await?;
        Ok(store)
    }

    /// Seals a secret stored in plain text (by a version that did not seal them), and checks that the stored
    /// ones open with this key.
    async fn seal_stored_secrets(&self) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = 'integration'")
                .fetch_optional(&mut *tx)
                .await?;
        let Some(stored) = stored else {
            return Ok(());
        };
        let mut value: serde_json::Value = from_json(&stored)?;
        let mut opened = value.clone();
        self.secrets.open_fields(&mut opened)?;
        if self.secrets.seal_fields(&mut value)? {
            sqlx::query("UPDATE settings SET value = ? WHERE key = 'integration'")
                .bind(to_json(&value)?)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
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

    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER)")
            .execute(&mut *tx)
            .await?;
        let applied: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await?;
        for (index, sql) in MIGRATIONS.iter().enumerate() {
            let version = i64::try_from(index).unwrap_or(i64::MAX) + 1;
            if version <= applied {
                continue;
            }
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_ms) VALUES (?, 0)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn begin_write(&self) -> StoreResult<Tx<'static>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
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

/// Takes the exclusive lock file beside a file database (`None` for in-memory databases).
fn lock_database_file(url: &str) -> StoreResult<Option<Arc<File>>> {
    let Some(path) = database_path(url) else {
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

/// Checks, inside the write transaction, that `lease_until_ms` is still the item's current lease.
async fn check_lease(
    tx: &mut Tx<'_>,
    table_key: LeaseKey<'_>,
    lease_until_ms: i64,
) -> StoreResult<()> {
    let current: Option<Option<i64>> = match table_key {
        LeaseKey::Asset(id) => {
            sqlx::query_scalar("SELECT lease_until_ms FROM asset_work WHERE asset_id = ?")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
        }
        LeaseKey::Sku(sku) => {
            sqlx::query_scalar("SELECT lease_until_ms FROM sku_work WHERE sku = ?")
                .bind(sku)
                .fetch_optional(&mut **tx)
                .await?
        }
    };
    if current.flatten() == Some(lease_until_ms) {
        Ok(())
    } else {
        Err(StoreError::LeaseLost)
    }
}

#[derive(Clone, Copy)]
enum LeaseKey<'a> {
    Asset(&'a str),
    Sku(&'a str),
}

fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{e}: {text:.200}")))
}

fn parse_sku(raw: &str) -> StoreResult<Sku> {
    Sku::parse(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Queues (or re-arms) the work of one SKU and returns its new generation.
/// Priority of live work (events, products); bulk work (a full sync) yields to it.
const LIVE: i64 = 0;
/// Priority of a full sync's work.
const BULK: i64 = 1;

async fn enqueue_sku(
    tx: &mut Tx<'_>,
    sku: &str,
    now_ms: i64,
    first_ms: i64,
    priority: i64,
) -> StoreResult<i64> {
    let generation: i64 = sqlx::query_scalar(
        "INSERT INTO sku_work (sku, generation, run_at_ms, attempt, first_enqueued_ms, priority)
         VALUES (?1, 1, ?2, 0, ?3, ?4)
         ON CONFLICT (sku) DO UPDATE SET generation = generation + 1, run_at_ms = excluded.run_at_ms,
             first_enqueued_ms = MIN(first_enqueued_ms, excluded.first_enqueued_ms),
             priority = MIN(priority, excluded.priority)
         RETURNING generation",
    )
    .bind(sku)
    .bind(now_ms)
    .bind(first_ms)
    .bind(priority)
    .fetch_one(&mut **tx)
    .await?;
    Ok(generation)
}

/// Marks an asset Failed for a reason of its own (its DAM read or its metadata), keeping its links.
async fn mark_asset_failed(
    tx: &mut Tx<'_>,
    asset: &str,
    error: &str,
    now_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE assets SET status = 'Failed', last_error = ?2, failure_kind = 'asset', processing_ms = ?3
         WHERE asset_id = ?1",
    )
    .bind(asset)
    .bind(error)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Turns an asset to Success when nothing about it is pending any more.
async fn settle_asset(tx: &mut Tx<'_>, asset_id: &str, now_ms: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE assets SET status = 'Success', dispatched_ms = ?2,
             last_latency_ms = ?2 - COALESCE(waiting_since_ms, ?2), waiting_since_ms = NULL,
             last_error = NULL, failure_kind = NULL
         WHERE asset_id = ?1
           AND (status = 'Waiting' OR (status = 'Failed' AND failure_kind IN ('sku', 'refused')))
           AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM refused_entries r WHERE r.asset_id = ?1)",
    )
    .bind(asset_id)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    // An entry of it that commerce refused keeps it Failed, with the platform's message.
    partial::mark_refused(tx, asset_id, now_ms).await
}

#[async_trait]
impl Store for SqliteStore {
    async fn record_events(&self, events: &[NewEvent]) -> StoreResult<Vec<Recorded>> {
        let mut tx = self.begin_write().await?;
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            let inserted = sqlx::query(
                "INSERT INTO events (event_id, event_type, asset_id, received_ms) VALUES (?, ?, ?, ?)
                 ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&event.event_id)
            .bind(&event.event_type)
            .bind(event.asset_id.as_ref().map(AssetId::as_str))
            .bind(event.received_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                outcomes.push(Recorded::Duplicate);
                continue;
            }
            outcomes.push(Recorded::Stored);
            sqlx::query(
                "INSERT INTO counters (name, value) VALUES ('events_stored', 1)
                 ON CONFLICT (name) DO UPDATE SET value = value + 1",
            )
            .execute(&mut *tx)
            .await?;
            match (event.kind, &event.asset_id) {
                (EventKind::AssetChanged | EventKind::AssetDeleted, Some(asset_id)) => {
                    sqlx::query(
                        "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
                         VALUES (?1, 1, ?2, ?3, 0)
                         ON CONFLICT (asset_id) DO UPDATE SET generation = generation + 1,
                             deleted = MAX(deleted, excluded.deleted), run_at_ms = excluded.run_at_ms",
                    )
                    .bind(asset_id.as_str())
                    .bind(event.kind == EventKind::AssetDeleted)
                    .bind(event.received_ms)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO assets (asset_id, status, waiting_since_ms) VALUES (?1, 'Waiting', ?2)
                         ON CONFLICT (asset_id) DO UPDATE SET status = 'Waiting',
                             waiting_since_ms = COALESCE(waiting_since_ms, excluded.waiting_since_ms)",
                    )
                    .bind(asset_id.as_str())
                    .bind(event.occurred_ms.map_or(event.received_ms, |t| t.min(event.received_ms)))
                    .execute(&mut *tx)
                    .await?;
                }
                (EventKind::ProductSaved | EventKind::ProductDeleted, _) => {}
                _ => {
                    sqlx::query(
                        "INSERT INTO counters (name, value) VALUES ('unused_events', 1)
                         ON CONFLICT (name) DO UPDATE SET value = value + 1",
                    )
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn claim_asset_work(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<AssetWork>> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "UPDATE asset_work SET lease_until_ms = ?1 + ?3, attempt = attempt + 1
             WHERE asset_id IN (SELECT asset_id FROM asset_work
                                WHERE run_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?1)
                                ORDER BY run_at_ms LIMIT ?2)
             RETURNING asset_id, generation, deleted, attempt, missing_once, lease_until_ms",
        )
        .bind(now_ms)
        .bind(limit)
        .bind(lease_ms)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let raw: String = row.try_get("asset_id")?;
                Ok(AssetWork {
                    asset_id: AssetId::parse(&raw)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    generation: row.try_get("generation")?,
                    deleted: row.try_get("deleted")?,
                    attempt: row.try_get("attempt")?,
                    missing_once: row.try_get("missing_once")?,
                    lease_until_ms: row.try_get("lease_until_ms")?,
                })
            })
            .collect()
    }

    async fn complete_assets(
        &self,
        items: Vec<(AssetWork, AssetOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>> {
        let mut tx = self.begin_write().await?;
        let mut results = Vec::with_capacity(items.len());
        for (work, outcome) in items {
            match complete_asset_in(&mut tx, &work, outcome, now_ms).await {
                Err(StoreError::LeaseLost) => results.push(Err(StoreError::LeaseLost)),
                Err(other) => return Err(other),
                Ok(()) => results.push(Ok(())),
            }
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn claim_sku_work(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<SkuWork>> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "UPDATE sku_work SET lease_until_ms = ?1 + ?3, attempt = attempt + 1
             WHERE sku IN (SELECT sku FROM sku_work
                           WHERE run_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?1)
                           ORDER BY priority, run_at_ms LIMIT ?2)
             RETURNING sku, generation, attempt, first_enqueued_ms, lease_until_ms",
        )
        .bind(now_ms)
        .bind(limit)
        .bind(lease_ms)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(SkuWork {
                    sku: parse_sku(row.try_get("sku")?)?,
                    generation: row.try_get("generation")?,
                    attempt: row.try_get("attempt")?,
                    first_enqueued_ms: row.try_get("first_enqueued_ms")?,
                    lease_until_ms: row.try_get("lease_until_ms")?,
                })
            })
            .collect()
    }

    async fn sku_state(&self, sku: &Sku) -> StoreResult<SkuState> {
        let mut tx = self.readers.begin().await?;
        let product_exists = sqlx::query("SELECT 1 FROM products WHERE sku = ?")
            .bind(sku.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        let claims = sqlx::query_scalar::<_, String>("SELECT link FROM claims WHERE sku = ?")
            .bind(sku.as_str())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|text| from_json::<DesiredLink>(text))
            .collect::<StoreResult<_>>()?;
        let applied = load_gallery(&mut tx, sku).await?;
        let refused = partial::refused_of(&mut tx, sku).await?;
        tx.commit().await?;
        Ok(SkuState {
            product_exists,
            claims,
            applied,
            refused,
        })
    }

    async fn complete_skus(
        &self,
        items: Vec<(SkuWork, SkuOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>> {
        let mut tx = self.begin_write().await?;
        let mut results = Vec::with_capacity(items.len());
        for (work, outcome) in items {
            match complete_sku_in(&mut tx, &work, outcome, now_ms).await {
                Err(StoreError::LeaseLost) => results.push(Err(StoreError::LeaseLost)),
                Err(other) => return Err(other),
                Ok(()) => results.push(Ok(())),
            }
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn upsert_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let created = sqlx::query(
            "INSERT INTO products (sku, created_ms) VALUES (?, ?) ON CONFLICT (sku) DO NOTHING",
        )
        .bind(sku.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        // New or known: the caller says the product exists now (it may have been missing on the platform),
        // so a claimed product's gallery is written again.
        let claimed = sqlx::query("SELECT 1 FROM claims WHERE sku = ? LIMIT 1")
            .bind(sku.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if claimed {
            enqueue_sku(&mut tx, sku.as_str(), now_ms, now_ms, LIVE).await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn upsert_products(&self, skus: &[Sku], now_ms: i64) -> StoreResult<Vec<Sku>> {
        self.add_products_with_calls(skus, None, now_ms).await
    }

    async fn remove_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let removed = products::delete_product(&mut tx, sku, now_ms).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn asset_status(&self, asset_id: &AssetId) -> StoreResult<Option<AssetStatus>> {
        let mut tx = self.readers.begin().await?;
        let Some(row) = sqlx::query(
            "SELECT status, processing_ms, dispatched_ms, eligible, warnings, last_error, last_latency_ms
             FROM assets WHERE asset_id = ?",
        )
        .bind(asset_id.as_str())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let linked: Vec<String> =
            sqlx::query_scalar("SELECT sku FROM gallery WHERE asset_id = ? ORDER BY sku")
                .bind(asset_id.as_str())
                .fetch_all(&mut *tx)
                .await?;
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT c.sku FROM claims c JOIN missing_products m ON m.sku = c.sku WHERE c.asset_id = ? ORDER BY c.sku",
        )
        .bind(asset_id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let warnings: String = row.try_get("warnings")?;
        Ok(Some(AssetStatus {
            asset_id: asset_id.clone(),
            status: row.try_get("status")?,
            processing_ms: row.try_get("processing_ms")?,
            dispatched_ms: row.try_get("dispatched_ms")?,
            eligible: row.try_get("eligible")?,
            linked_skus: linked
                .iter()
                .map(|s| parse_sku(s))
                .collect::<StoreResult<_>>()?,
            waiting_for_products: waiting
                .iter()
                .map(|s| parse_sku(s))
                .collect::<StoreResult<_>>()?,
            warnings: from_json(&warnings)?,
            last_error: row.try_get("last_error")?,
            last_latency_ms: row.try_get("last_latency_ms")?,
        }))
    }

    async fn all_galleries(&self) -> StoreResult<Vec<(Sku, Vec<AppliedEntry>)>> {
        let mut tx = self.readers.begin().await?;
        let products: Vec<String> = sqlx::query_scalar("SELECT sku FROM products")
            .fetch_all(&mut *tx)
            .await?;
        let rows = sqlx::query("SELECT sku, entry FROM gallery")
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut galleries: BTreeMap<String, Vec<AppliedEntry>> = BTreeMap::new();
        for sku in products {
            galleries.entry(sku).or_default();
        }
        for row in rows {
            let entry: String = row.try_get("entry")?;
            galleries
                .entry(row.try_get("sku")?)
                .or_default()
                .push(from_json(&entry)?);
        }
        galleries
            .into_iter()
            .map(|(sku, mut entries)| {
                sort_entries(&mut entries);
                Ok((parse_sku(&sku)?, entries))
            })
            .collect()
    }

    async fn gallery(&self, sku: &Sku) -> StoreResult<Option<Vec<AppliedEntry>>> {
        let mut tx = self.readers.begin().await?;
        let entries = load_gallery(&mut tx, sku).await?;
        let exists = sqlx::query("SELECT 1 FROM products WHERE sku = ?")
            .bind(sku.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        tx.commit().await?;
        Ok((exists || !entries.is_empty()).then_some(entries))
    }

    async fn renew_leases(
        &self,
        held: &[crate::HeldLease],
        until_ms: i64,
    ) -> StoreResult<Vec<bool>> {
        self.renew_held_leases(held, until_ms).await
    }

    async fn add_products(
        &self,
        skus: &[Sku],
        product_call: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> StoreResult<Vec<Sku>> {
        self.add_products_with_calls(skus, product_call, now_ms)
            .await
    }

    async fn record_product_event(
        &self,
        event: &NewEvent,
        change: &crate::ProductChange,
        product_call: Option<&serde_json::Value>,
    ) -> StoreResult<crate::ProductEventRecorded> {
        self.record_product_event_in_one(event, change, product_call)
            .await
    }

    async fn save_config_with_follow_ups(
        &self,
        config: &IntegrationConfig,
        changes: &[FieldChange],
        follow_ups: &crate::ConfigFollowUps,
        now_ms: i64,
    ) -> StoreResult<Option<i64>> {
        self.save_config_and_follow_ups(config, changes, follow_ups, now_ms)
            .await
    }

    async fn claim_product_calls(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<crate::ProductCall>> {
        self.claim_calls(now_ms, limit, lease_ms).await
    }

    async fn complete_product_call(
        &self,
        call: &crate::ProductCall,
        outcome: crate::ProductCallOutcome,
        now_ms: i64,
    ) -> StoreResult<()> {
        self.complete_call(call, outcome, now_ms).await
    }

    async fn product_status(&self, sku: &Sku) -> StoreResult<Option<crate::ProductStatus>> {
        self.load_product_status(sku).await
    }

    async fn release_all_leases(&self) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE asset_work SET lease_until_ms = NULL")
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sku_work SET lease_until_ms = NULL")
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE product_calls SET lease_until_ms = NULL")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn backlog(&self) -> StoreResult<Backlog> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM asset_work) AS asset_work,
                    (SELECT COUNT(*) FROM sku_work) AS sku_work,
                    (SELECT COUNT(*) FROM assets WHERE status = 'Waiting') AS waiting_assets,
                    (SELECT COUNT(*) FROM assets WHERE status = 'Failed') AS failed_assets,
                    (SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = 'events_stored') AS events,
                    (SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = 'unused_events') AS unused_events,
                    (SELECT COUNT(*) FROM sku_work WHERE priority > 0) AS bulk_sku_work,
                    (SELECT COUNT(*) FROM dead_letters) AS dead_letters,
                    (SELECT MIN(first_enqueued_ms) FROM sku_work) AS oldest_sku_work_ms,
                    (SELECT MIN(waiting_since_ms) FROM assets WHERE status = 'Waiting') AS oldest_waiting_ms",
        )
        .fetch_one(&self.readers)
        .await?;
        Ok(Backlog {
            asset_work: row.try_get("asset_work")?,
            sku_work: row.try_get("sku_work")?,
            waiting_assets: row.try_get("waiting_assets")?,
            failed_assets: row.try_get("failed_assets")?,
            events: row.try_get("events")?,
            unused_events: row.try_get("unused_events")?,
            bulk_sku_work: row.try_get("bulk_sku_work")?,
            dead_letters: row.try_get("dead_letters")?,
            oldest_sku_work_ms: row.try_get("oldest_sku_work_ms")?,
            oldest_waiting_ms: row.try_get("oldest_waiting_ms")?,
        })
    }

    async fn integration_config(&self) -> StoreResult<Option<IntegrationConfig>> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = 'integration'")
                .fetch_optional(&self.readers)
                .await?;
        value.map(|text| self.opened_config(&text)).transpose()
    }

    async fn save_integration_config(
        &self,
        config: &IntegrationConfig,
        changes: &[FieldChange],
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let sealed = self.sealed_config(config)?;
        config::save_config_in(&mut tx, &sealed, changes, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn config_history(&self, limit: i64) -> StoreResult<Vec<ConfigChange>> {
        sqlx::query("SELECT at_ms, changes FROM config_history ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.readers)
            .await?
            .iter()
            .map(|row| {
                let changes: String = row.try_get("changes")?;
                Ok(ConfigChange {
                    at_ms: row.try_get("at_ms")?,
                    changes: from_json(&changes)?,
                })
            })
            .collect()
    }

    async fn request_full_sync(&self, reason: &str, now_ms: i64) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        let id = config::request_full_sync_in(&mut tx, reason, now_ms).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn begin_full_sync(&self, now_ms: i64) -> StoreResult<Option<FullSync>> {
        let mut tx = self.begin_write().await?;
        let running: Option<i64> =
            sqlx::query_scalar("SELECT id FROM full_syncs WHERE state = 'running' LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let id = match running {
            Some(id) => Some(id),
            None => {
                sqlx::query_scalar(
                    "UPDATE full_syncs SET state = 'running', started_ms = ?
                     WHERE id = (SELECT id FROM full_syncs WHERE state = 'waiting' ORDER BY id LIMIT 1)
                     RETURNING id",
                )
                .bind(now_ms)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        match id {
            Some(id) => self.full_sync(id).await,
            None => Ok(None),
        }
    }

    async fn full_sync(&self, id: i64) -> StoreResult<Option<FullSync>> {
        let Some(row) = sqlx::query("SELECT * FROM full_syncs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.writer)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(FullSync {
            id: row.try_get("id")?,
            state: row.try_get("state")?,
            reason: row.try_get("reason")?,
            phase: row.try_get("phase")?,
            cursor: row.try_get("cursor")?,
            done: row.try_get("done")?,
            total: row.try_get("total")?,
            errors: row.try_get("errors")?,
            created_ms: row.try_get("created_ms")?,
            started_ms: row.try_get("started_ms")?,
            finished_ms: row.try_get("finished_ms")?,
            last_error: row.try_get("last_error")?,
        }))
    }

    async fn store_full_sync_page(
        &self,
        id: i64,
        assets: &[BulkAsset],
        next_cursor: Option<&str>,
        total: i64,
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut errors = 0;
        for asset in assets {
            match asset {
                BulkAsset::Links {
                    asset_id,
                    links,
                    eligible,
                    warnings,
                } => {
                    store_links(
                        &mut tx,
                        asset_id.as_str(),
                        links,
                        *eligible,
                        warnings,
                        now_ms,
                        BULK,
                    )
                    .await?;
                    settle_asset(&mut tx, asset_id.as_str(), now_ms).await?;
                }
                BulkAsset::Invalid { asset_id, error } => {
                    errors += 1;
                    sqlx::query(
                        "INSERT INTO assets (asset_id, status, processing_ms, last_error, failure_kind)
                         VALUES (?1, 'Failed', ?2, ?3, 'asset')
                         ON CONFLICT (asset_id) DO UPDATE SET status = 'Failed', processing_ms = ?2,
                             last_error = ?3, failure_kind = 'asset'",
                    )
                    .bind(asset_id.as_str())
                    .bind(now_ms)
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            let asset_id = match asset {
                BulkAsset::Links { asset_id, .. } | BulkAsset::Invalid { asset_id, .. } => asset_id,
            };
            sqlx::query("UPDATE assets SET seen_sync = ? WHERE asset_id = ?")
                .bind(id)
                .bind(asset_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE full_syncs SET cursor = ?2, done = done + ?3, total = MAX(?4, done + ?3), errors = errors + ?5
             WHERE id = ?1",
        )
        .bind(id)
        .bind(next_cursor)
        .bind(i64::try_from(assets.len()).unwrap_or(i64::MAX))
        .bind(total)
        .bind(errors)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn finish_full_sync_assets(&self, id: i64, now_ms: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let queued = sqlx::query(
            "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
             SELECT DISTINCT c.asset_id, 1, 0, ?2, 0 FROM claims c JOIN assets a ON a.asset_id = c.asset_id
             WHERE a.seen_sync IS NULL OR a.seen_sync != ?1
             ON CONFLICT (asset_id) DO UPDATE SET generation = generation + 1",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE full_syncs SET phase = 'products', cursor = NULL WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(queued)
    }

    async fn store_full_sync_products(
        &self,
        id: i64,
        skus: &[Sku],
        next_cursor: Option<&str>,
        product_call: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> StoreResult<Vec<Sku>> {
        let mut tx = self.begin_write().await?;
        let created = products::insert_products(&mut tx, skus, product_call, now_ms).await?;
        sqlx::query("UPDATE full_syncs SET cursor = ? WHERE id = ?")
            .bind(next_cursor)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn add_links(&self, links: &[DesiredLink], now_ms: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        products::add_links_in(&mut tx, links, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_full_sync_phase(&self, id: i64, phase: &str) -> StoreResult<()> {
        sqlx::query("UPDATE full_syncs SET phase = ?, cursor = NULL WHERE id = ?")
            .bind(phase)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn complete_full_sync(
        &self,
        id: i64,
        error: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE full_syncs SET state = CASE WHEN ?2 IS NULL THEN 'done' ELSE 'failed' END,
                 phase = 'done', finished_ms = ?3, last_error = ?2 WHERE id = ?1",
        )
        .bind(id)
        .bind(error)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn handmade_records(&self, sku: &Sku) -> StoreResult<Vec<HandmadeRecord>> {
        sqlx::query("SELECT entry_id, prior_disabled, prior_roles FROM handmade_entries WHERE sku = ? ORDER BY entry_id")
            .bind(sku.as_str())
            .fetch_all(&self.writer)
            .await?
            .iter()
            .map(|row| {
                let roles: String = row.try_get("prior_roles")?;
                Ok(HandmadeRecord {
                    entry_id: row.try_get("entry_id")?,
                    prior_disabled: row.try_get("prior_disabled")?,
                    prior_roles: from_json(&roles)?,
                })
            })
            .collect()
    }

    async fn remember_handmade(&self, sku: &Sku, record: &HandmadeRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO handmade_entries (sku, entry_id, prior_disabled, prior_roles) VALUES (?, ?, ?, ?)
             ON CONFLICT (sku, entry_id) DO NOTHING",
        )
        .bind(sku.as_str())
        .bind(&record.entry_id)
        .bind(record.prior_disabled)
        .bind(to_json(&record.prior_roles)?)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn forget_handmade(&self, sku: &Sku, entry_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM handmade_entries WHERE sku = ? AND entry_id = ?")
            .bind(sku.as_str())
            .bind(entry_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn requeue_galleries(&self, now_ms: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let queued = config::requeue_galleries_in(&mut tx, now_ms).await?;
        tx.commit().await?;
        Ok(queued)
    }

    async fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>> {
        sqlx::query("SELECT id, sku, attempts, errors, created_ms FROM dead_letters ORDER BY id")
            .fetch_all(&self.readers)
            .await?
            .iter()
            .map(|row| {
                let errors: String = row.try_get("errors")?;
                Ok(DeadLetter {
                    id: row.try_get("id")?,
                    sku: parse_sku(row.try_get("sku")?)?,
                    attempts: row.try_get("attempts")?,
                    errors: from_json(&errors)?,
                    created_ms: row.try_get("created_ms")?,
                })
            })
            .collect()
    }

    async fn replay_dead_letters(&self, id: Option<i64>, now_ms: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let skus: Vec<String> = sqlx::query_scalar(
            "DELETE FROM dead_letters WHERE ?1 IS NULL OR id = ?1 RETURNING sku",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        for sku in &skus {
            let generation = enqueue_sku(&mut tx, sku, now_ms, now_ms, LIVE).await?;
            sqlx::query("UPDATE sku_work SET attempt = 0, errors = '[]' WHERE sku = ?")
                .bind(sku)
                .execute(&mut *tx)
                .await?;
            // The assets that failed with this SKU wait for it again.
            let assets: Vec<String> = sqlx::query_scalar(
                "UPDATE assets SET status = 'Waiting', failure_kind = NULL,
                     waiting_since_ms = COALESCE(waiting_since_ms, ?2)
                 WHERE status = 'Failed' AND failure_kind = 'sku_final'
                   AND asset_id IN (SELECT asset_id FROM claims WHERE sku = ?1 UNION SELECT asset_id FROM gallery WHERE sku = ?1)
                 RETURNING asset_id",
            )
            .bind(sku)
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
            for asset in assets {
                mark_pending(&mut tx, &asset, sku, generation).await?;
            }
        }
        let refusals = match id {
            None => partial::replay_refusals(&mut tx, now_ms).await?,
            Some(_) => 0,
        };
        tx.commit().await?;
        Ok(u64::try_from(skus.len())
            .unwrap_or(u64::MAX)
            .saturating_add(refusals))
    }

    async fn prune(&self, before_ms: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let mut removed = sqlx::query("DELETE FROM events WHERE received_ms < ?")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        removed += sqlx::query(
            "DELETE FROM full_syncs WHERE state IN ('done', 'failed') AND finished_ms < ?",
        )
        .bind(before_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        removed += sqlx::query(
            "DELETE FROM assets WHERE status = 'Success' AND COALESCE(dispatched_ms, processing_ms, 0) < ?1
               AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.asset_id = assets.asset_id)
               AND NOT EXISTS (SELECT 1 FROM gallery g WHERE g.asset_id = assets.asset_id)
               AND NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = assets.asset_id)
               AND NOT EXISTS (SELECT 1 FROM asset_pending p WHERE p.asset_id = assets.asset_id)",
        )
        .bind(before_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }

    async fn database_bytes(&self) -> StoreResult<i64> {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&self.readers)
            .await?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&self.readers)
            .await?;
        Ok(pages * size)
    }

    async fn all_claims(&self) -> StoreResult<Vec<DesiredLink>> {
        sqlx::query_scalar::<_, String>("SELECT link FROM claims ORDER BY asset_id, sku")
            .fetch_all(&self.readers)
            .await?
            .iter()
            .map(|text| from_json(text))
            .collect()
    }

    async fn asset_claims(&self, asset_id: &AssetId) -> StoreResult<Vec<DesiredLink>> {
        sqlx::query_scalar::<_, String>("SELECT link FROM claims WHERE asset_id = ? ORDER BY sku")
            .bind(asset_id.as_str())
            .fetch_all(&self.readers)
            .await?
            .iter()
            .map(|text| from_json(text))
            .collect()
    }

    async fn forget_applied(&self, sku: &Sku, asset_id: &AssetId, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM gallery WHERE sku = ? AND asset_id = ?")
            .bind(sku.as_str())
            .bind(asset_id.as_str())
            .execute(&mut *tx)
            .await?;
        enqueue_sku(&mut tx, sku.as_str(), now_ms, now_ms, LIVE).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn journal_position(&self) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = 'journal_position'")
                .fetch_optional(&self.writer)
                .await?,
        )
    }

    async fn set_journal_position(&self, position: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ('journal_position', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(position)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn requeue_stalest_assets(&self, limit: i64, now_ms: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let queued = sqlx::query(
            "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
             SELECT asset_id, 1, 0, ?2, 0 FROM assets a
             WHERE NOT EXISTS (SELECT 1 FROM asset_work w WHERE w.asset_id = a.asset_id)
             ORDER BY COALESCE(processing_ms, 0), asset_id LIMIT ?1
             ON CONFLICT (asset_id) DO NOTHING",
        )
        .bind(limit)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(queued)
    }

    async fn sync_latencies(&self) -> StoreResult<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT last_latency_ms FROM assets WHERE last_latency_ms IS NOT NULL",
        )
        .fetch_all(&self.readers)
        .await?)
    }
}

/// One SKU's completion inside a write transaction (see [`Store::complete_sku`]).
async fn complete_sku_in(
    tx: &mut Tx<'_>,
    work: &SkuWork,
    outcome: SkuOutcome,
    now_ms: i64,
) -> StoreResult<()> {
    let sku = work.sku.as_str();
    check_lease(tx, LeaseKey::Sku(sku), work.lease_until_ms).await?;
    let retry_at = match outcome {
        SkuOutcome::Applied(entries) => {
            replace_gallery(tx, sku, &entries).await?;
            resolve_pending(tx, work, now_ms).await?;
            None
        }
        SkuOutcome::PartlyApplied {
            entries,
            refused,
            reread,
            cleared,
            failure,
        } => {
            partial::complete_partly_applied(
                tx,
                work,
                partial::Written {
                    entries: &entries,
                    refused: &refused,
                    reread: &reread,
                    cleared: &cleared,
                },
                failure,
                now_ms,
            )
            .await?
        }
        SkuOutcome::ProductMissing => {
            // The product is gone (or never was): so are its entries.
            sqlx::query("DELETE FROM gallery WHERE sku = ?")
                .bind(sku)
                .execute(&mut **tx)
                .await?;
            sqlx::query("INSERT INTO missing_products (sku, since_ms) VALUES (?, ?) ON CONFLICT (sku) DO NOTHING")
                    .bind(sku)
                    .bind(now_ms)
                    .execute(&mut **tx)
                    .await?;
            resolve_pending(tx, work, now_ms).await?;
            None
        }
        SkuOutcome::Failed { error, retry_at_ms } => {
            record_sku_failure(tx, work, &error, retry_at_ms, now_ms).await?
        }
        SkuOutcome::Deferred { retry_at_ms } => {
            sqlx::query("UPDATE sku_work SET attempt = MAX(attempt - 1, 0) WHERE sku = ?")
                .bind(sku)
                .execute(&mut **tx)
                .await?;
            Some(retry_at_ms)
        }
    };
    match retry_at {
        Some(at) => {
            sqlx::query(
                "UPDATE sku_work SET lease_until_ms = NULL,
                         run_at_ms = CASE WHEN generation = ?2 THEN ?3 ELSE ?4 END
                     WHERE sku = ?1",
            )
            .bind(sku)
            .bind(work.generation)
            .bind(at)
            .bind(now_ms)
            .execute(&mut **tx)
            .await?;
        }
        None => {
            let deleted = sqlx::query("DELETE FROM sku_work WHERE sku = ? AND generation = ?")
                .bind(sku)
                .bind(work.generation)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                sqlx::query("UPDATE sku_work SET lease_until_ms = NULL, attempt = 0 WHERE sku = ?")
                    .bind(sku)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Records a failure of a SKU's work: the assets waiting on it say Failed, the error joins the history, and
/// work given up (`retry_at_ms` = `None`) becomes a dead letter. Returns when to run it again.
async fn record_sku_failure(
    tx: &mut Tx<'_>,
    work: &SkuWork,
    error: &str,
    retry_at_ms: Option<i64>,
    now_ms: i64,
) -> StoreResult<Option<i64>> {
    let sku = work.sku.as_str();
    // 'sku' (retried) clears once the SKU is written; 'sku_final' (given up) stays until the asset
    // is read again, and is never downgraded by another SKU's retryable failure.
    sqlx::query(
        "UPDATE assets SET status = 'Failed', last_error = ?2,
                     failure_kind = CASE WHEN ?3 THEN 'sku' ELSE 'sku_final' END
                 WHERE asset_id IN (SELECT asset_id FROM asset_pending WHERE sku = ?1)
                   AND NOT (status = 'Failed' AND COALESCE(failure_kind, '') = 'sku_final')",
    )
    .bind(sku)
    .bind(error)
    .bind(retry_at_ms.is_some())
    .execute(&mut **tx)
    .await?;
    let history: String = sqlx::query_scalar("SELECT errors FROM sku_work WHERE sku = ?")
        .bind(sku)
        .fetch_one(&mut **tx)
        .await?;
    let mut history: Vec<serde_json::Value> = from_json(&history)?;
    history.push(serde_json::json!({ "at_ms": now_ms, "error": error }));
    let excess = history.len().saturating_sub(20);
    history.drain(..excess);
    sqlx::query("UPDATE sku_work SET last_error = ?2, errors = ?3 WHERE sku = ?1")
        .bind(sku)
        .bind(error)
        .bind(to_json(&history)?)
        .execute(&mut **tx)
        .await?;
    if retry_at_ms.is_none() {
        sqlx::query(
                    "INSERT INTO dead_letters (sku, attempts, errors, created_ms)
                     SELECT sku, attempt, errors, ?2 FROM sku_work WHERE sku = ?1 AND generation = ?3",
                )
                .bind(sku)
                .bind(now_ms)
                .bind(work.generation)
                .execute(&mut **tx)
                .await?;
    }
    if retry_at_ms.is_none() {
        sqlx::query("DELETE FROM asset_pending WHERE sku = ? AND generation <= ?")
            .bind(sku)
            .bind(work.generation)
            .execute(&mut **tx)
            .await?;
    }
    Ok(retry_at_ms)
}

/// Replaces the product's applied gallery with `entries`; the product exists (it is no longer missing).
async fn replace_gallery(tx: &mut Tx<'_>, sku: &str, entries: &[AppliedEntry]) -> StoreResult<()> {
    sqlx::query("DELETE FROM gallery WHERE sku = ?")
        .bind(sku)
        .execute(&mut **tx)
        .await?;
    for entry in entries {
        sqlx::query("INSERT INTO gallery (sku, asset_id, entry) VALUES (?, ?, ?)")
            .bind(sku)
            .bind(entry.entry.asset_id.as_str())
            .bind(to_json(entry)?)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("DELETE FROM missing_products WHERE sku = ?")
        .bind(sku)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One asset's completion inside a write transaction (see [`Store::complete_asset`]).
async fn complete_asset_in(
    tx: &mut Tx<'_>,
    work: &AssetWork,
    outcome: AssetOutcome,
    now_ms: i64,
) -> StoreResult<()> {
    let asset = work.asset_id.as_str();
    check_lease(tx, LeaseKey::Asset(asset), work.lease_until_ms).await?;
    match outcome {
        AssetOutcome::Links {
            links,
            eligible,
            warnings,
            note,
        } => {
            let mut all_warnings = warnings;
            all_warnings.extend(note);
            store_links(tx, asset, &links, eligible, &all_warnings, now_ms, LIVE).await?;
            finish_asset_work(tx, work, None, now_ms).await?;
            settle_asset(tx, asset, now_ms).await?;
        }
        AssetOutcome::Failed { error, retry_at_ms } => {
            mark_asset_failed(tx, asset, &error, now_ms).await?;
            finish_asset_work(tx, work, retry_at_ms, now_ms).await?;
        }
        AssetOutcome::Paused { error, retry_at_ms } => {
            mark_asset_failed(tx, asset, &error, now_ms).await?;
            sqlx::query("UPDATE asset_work SET attempt = MAX(attempt - 1, 0) WHERE asset_id = ?")
                .bind(asset)
                .execute(&mut **tx)
                .await?;
            finish_asset_work(tx, work, Some(retry_at_ms), now_ms).await?;
        }
        AssetOutcome::Kept { note } => {
            sqlx::query("UPDATE assets SET processing_ms = ?2, warnings = ?3 WHERE asset_id = ?1")
                .bind(asset)
                .bind(now_ms)
                .bind(to_json(&[note])?)
                .execute(&mut **tx)
                .await?;
            finish_asset_work(tx, work, None, now_ms).await?;
            settle_asset(tx, asset, now_ms).await?;
        }
        AssetOutcome::MissingOnce { retry_at_ms } => {
            sqlx::query(
                "UPDATE asset_work SET lease_until_ms = NULL, missing_once = 1,
                         run_at_ms = CASE WHEN generation = ?2 THEN ?3 ELSE ?4 END
                     WHERE asset_id = ?1",
            )
            .bind(asset)
            .bind(work.generation)
            .bind(retry_at_ms)
            .bind(now_ms)
            .execute(&mut **tx)
            .await?;
            sqlx::query("UPDATE assets SET processing_ms = ?2 WHERE asset_id = ?1")
                .bind(asset)
                .bind(now_ms)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// Replaces an asset's claims with `links`, queues work (at `priority`) for every SKU whose claim changed,
/// and records the asset's evaluation. The caller settles the asset.
async fn store_links(
    tx: &mut Tx<'_>,
    asset: &str,
    links: &[DesiredLink],
    eligible: bool,
    warnings: &[String],
    now_ms: i64,
    priority: i64,
) -> StoreResult<()> {
    let old: BTreeMap<String, String> =
        sqlx::query("SELECT sku, link FROM claims WHERE asset_id = ?")
            .bind(asset)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("sku")?, row.try_get("link")?)))
            .collect::<StoreResult<_>>()?;
    let mut new = BTreeMap::new();
    for link in links {
        new.insert(link.sku.as_str().to_owned(), to_json(link)?);
    }
    let first_ms: Option<i64> =
        sqlx::query_scalar("SELECT waiting_since_ms FROM assets WHERE asset_id = ?")
            .bind(asset)
            .fetch_optional(&mut **tx)
            .await?
            .flatten();
    for sku in old.keys() {
        if !new.contains_key(sku) {
            sqlx::query("DELETE FROM claims WHERE sku = ? AND asset_id = ?")
                .bind(sku)
                .bind(asset)
                .execute(&mut **tx)
                .await?;
            let generation =
                enqueue_sku(tx, sku, now_ms, first_ms.unwrap_or(now_ms), priority).await?;
            mark_pending(tx, asset, sku, generation).await?;
        }
    }
    for (sku, link) in &new {
        if old.get(sku) == Some(link) {
            continue;
        }
        sqlx::query(
            "INSERT INTO claims (sku, asset_id, link) VALUES (?, ?, ?)
             ON CONFLICT (sku, asset_id) DO UPDATE SET link = excluded.link",
        )
        .bind(sku)
        .bind(asset)
        .bind(link)
        .execute(&mut **tx)
        .await?;
        let generation = enqueue_sku(tx, sku, now_ms, first_ms.unwrap_or(now_ms), priority).await?;
        mark_pending(tx, asset, sku, generation).await?;
    }
    sqlx::query(
        "INSERT INTO assets (asset_id, status, processing_ms, eligible, warnings)
         VALUES (?1, 'Waiting', ?2, ?3, ?4)
         ON CONFLICT (asset_id) DO UPDATE SET processing_ms = ?2, eligible = ?3, warnings = ?4,
             status = 'Waiting', last_error = NULL, failure_kind = NULL,
             waiting_since_ms = COALESCE(waiting_since_ms, ?2)",
    )
    .bind(asset)
    .bind(now_ms)
    .bind(eligible)
    .bind(to_json(&warnings)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn mark_pending(tx: &mut Tx<'_>, asset: &str, sku: &str, generation: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO asset_pending (asset_id, sku, generation) VALUES (?, ?, ?)
         ON CONFLICT (asset_id, sku) DO UPDATE SET generation = excluded.generation",
    )
    .bind(asset)
    .bind(sku)
    .bind(generation)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Finishes an asset's work item: deleted when no newer hint came (and no retry is due), else released.
async fn finish_asset_work(
    tx: &mut Tx<'_>,
    work: &AssetWork,
    retry_at_ms: Option<i64>,
    now_ms: i64,
) -> StoreResult<()> {
    let asset = work.asset_id.as_str();
    if let Some(at) = retry_at_ms {
        sqlx::query(
            "UPDATE asset_work SET lease_until_ms = NULL, run_at_ms = CASE WHEN generation = ?2 THEN ?3 ELSE ?4 END
             WHERE asset_id = ?1",
        )
        .bind(asset)
        .bind(work.generation)
        .bind(at)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        return Ok(());
    }
    let deleted = sqlx::query("DELETE FROM asset_work WHERE asset_id = ? AND generation = ?")
        .bind(asset)
        .bind(work.generation)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        sqlx::query("UPDATE asset_work SET lease_until_ms = NULL, attempt = 0, missing_once = 0 WHERE asset_id = ?")
            .bind(asset)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Clears what assets waited for on this SKU (up to the claimed generation) and settles those assets.
async fn resolve_pending(tx: &mut Tx<'_>, work: &SkuWork, now_ms: i64) -> StoreResult<()> {
    let assets: Vec<String> = sqlx::query_scalar(
        "DELETE FROM asset_pending WHERE sku = ? AND generation <= ? RETURNING asset_id",
    )
    .bind(work.sku.as_str())
    .bind(work.generation)
    .fetch_all(&mut **tx)
    .await?;
    for asset in assets {
        settle_asset(tx, &asset, now_ms).await?;
    }
    Ok(())
}

async fn load_gallery(tx: &mut Tx<'_>, sku: &Sku) -> StoreResult<Vec<AppliedEntry>> {
    let mut entries = sqlx::query_scalar::<_, String>("SELECT entry FROM gallery WHERE sku = ?")
        .bind(sku.as_str())
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|text| from_json::<AppliedEntry>(text))
        .collect::<StoreResult<Vec<_>>>()?;
    sort_entries(&mut entries);
    Ok(entries)
}

fn sort_entries(entries: &mut [AppliedEntry]) {
    entries.sort_by(|a, b| {
        (a.entry.position, &a.entry.asset_id).cmp(&(b.entry.position, &b.entry.asset_id))
    });
}
