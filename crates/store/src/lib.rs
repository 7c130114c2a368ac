//! Storage for assetsync behind one narrow trait, [`Store`], named after what the domain needs. This is the
//! only crate that speaks SQL. [`SqliteStore`] is the embedded default (WAL, one writer connection,
//! `BEGIN IMMEDIATE` for every write transaction).
//!
//! Every time is Unix milliseconds supplied by the caller, so the store itself never reads a clock.

pub mod secrets;
mod sqlite;

pub use sqlite::SqliteStore;

use async_trait::async_trait;
use domain::config::{FieldChange, IntegrationConfig};
use domain::events::EventKind;
use domain::gallery::{HandmadeRecord, RefusedEntry};
use domain::{AppliedEntry, AssetId, DesiredLink, Sku};

/// A storage failure. The caller retries or reports it; nothing is half-written (every method is one
/// transaction).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database url {0:?} (expected sqlite://PATH)")]
    UnsupportedUrl(String),
    #[error("another assetsync process uses the database {0} (one process per SQLite file)")]
    InUse(String),
    #[error("the lease on this work item expired and another worker took it; nothing was written")]
    LeaseLost,
    #[error("{0}")]
    Secret(#[from] secrets::SecretKeyError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A verified event, ready to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub kind: EventKind,
    pub asset_id: Option<AssetId>,
    pub received_ms: i64,
    /// When the event happened at its source (the CloudEvent's `time`), when given: an asset's wait (and so
    /// its event → applied latency) starts there, never after the receipt.
    pub occurred_ms: Option<i64>,
}

/// What recording an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored; asset work queued if it is an asset event.
    Stored,
    /// This event id was seen before: nothing changed.
    Duplicate,
}

/// An asset claimed for re-reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetWork {
    pub asset_id: AssetId,
    /// Bumped by every new hint; completing an older generation leaves the work queued.
    pub generation: i64,
    /// A `deleted` event arrived for it.
    pub deleted: bool,
    pub attempt: i64,
    /// Whether a first 404 was already seen (a second one confirms the asset is gone).
    pub missing_once: bool,
    /// The lease this claim holds; completing checks it is still the current one (fencing).
    pub lease_until_ms: i64,
}

/// How the reading of one asset ended.
#[derive(Debug, Clone)]
pub enum AssetOutcome {
    /// The asset's full set of desired links (empty when it must leave every product).
    Links {
        links: Vec<DesiredLink>,
        eligible: bool,
        warnings: Vec<String>,
        note: Option<String>,
    },
    /// The asset failed: status Failed with the reason, its links stay. `retry_at_ms` re-queues it.
    Failed {
        error: String,
        retry_at_ms: Option<i64>,
    },
    /// Read, and deliberately not acted on (its links stay as they are), with the reason on its status.
    Kept { note: String },
    /// A first 404: re-read at `retry_at_ms` to confirm before unlinking.
    MissingOnce { retry_at_ms: i64 },
    /// Not acted on because DAM reads are paused: status Failed with the reason, its links stay, read again
    /// at `retry_at_ms`, and no attempt is counted.
    Paused { error: String, retry_at_ms: i64 },
}

/// A SKU claimed for writing its gallery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuWork {
    pub sku: Sku,
    pub generation: i64,
    pub attempt: i64,
    pub first_enqueued_ms: i64,
    /// The lease this claim holds; completing checks it is still the current one (fencing).
    pub lease_until_ms: i64,
}

/// Everything needed to bring one SKU's gallery to the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuState {
    /// Whether the built-in catalog holds the product.
    pub product_exists: bool,
    /// Desired links of eligible assets on this SKU.
    pub claims: Vec<DesiredLink>,
    /// What is applied now.
    pub applied: Vec<AppliedEntry>,
    /// Entries the platform refused as they are: not tried again until they change.
    pub refused: Vec<RefusedEntry>,
}

/// How the work on one SKU ended.
#[derive(Debug, Clone)]
pub enum SkuOutcome {
    /// The gallery now holds exactly these entries.
    Applied(Vec<AppliedEntry>),
    /// The product does not exist: skipped and remembered until it appears.
    ProductMissing,
    /// A failure; `retry_at_ms` re-queues the SKU, `None` gives up on this generation.
    Failed {
        error: String,
        retry_at_ms: Option<i64>,
    },
    /// Not attempted (the sink is paused): the work is kept for `retry_at_ms`, no attempt is counted and no
    /// status changes.
    Deferred { retry_at_ms: i64 },
    /// Some operations were applied, others not. `entries` (what the platform holds now) is stored like
    /// `Applied`; each refused entry fails its asset alone (status Failed with the platform's message, not
    /// retried until it changes); each asset in `reread` is queued to be read from the DAM again; `failure`,
    /// when some operations are left, is handled like `Failed` (retried at its time, or given up). The engine
    /// also uses it for a full apply that makes earlier refusals obsolete (`cleared`).
    PartlyApplied {
        entries: Vec<AppliedEntry>,
        refused: Vec<RefusedEntry>,
        reread: Vec<AssetId>,
        /// Assets whose earlier refusal no longer applies (what they ask for changed and was tried again).
        cleared: Vec<AssetId>,
        failure: Option<SkuFailure>,
    },
}

/// Why a SKU's work failed, and when to try again (`None`: given up, dead-lettered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuFailure {
    pub error: String,
    pub retry_at_ms: Option<i64>,
}

/// The sync status of one asset (reference §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetStatus {
    pub asset_id: AssetId,
    /// `Success`, `Failed` or `Waiting`.
    pub status: String,
    pub processing_ms: Option<i64>,
    pub dispatched_ms: Option<i64>,
    pub eligible: bool,
    /// SKUs whose galleries hold the asset now.
    pub linked_skus: Vec<Sku>,
    /// SKUs the asset asks for that are not in the catalog yet.
    pub waiting_for_products: Vec<Sku>,
    pub warnings: Vec<String>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
}

/// A full sync and its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullSync {
    pub id: i64,
    /// `waiting`, `running`, `done` or `failed`.
    pub state: String,
    pub reason: String,
    /// `assets`, `products`, `applying` or `done`.
    pub phase: String,
    /// Where the current phase resumes (a search cursor, a product page).
    pub cursor: Option<String>,
    pub done: i64,
    pub total: i64,
    pub errors: i64,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// One asset as a full sync read it.
#[derive(Debug, Clone)]
pub enum BulkAsset {
    /// Its full set of desired links (empty: it leaves every product).
    Links {
        asset_id: AssetId,
        links: Vec<DesiredLink>,
        eligible: bool,
        warnings: Vec<String>,
    },
    /// Its metadata breaks the contract: status Failed, links kept.
    Invalid { asset_id: AssetId, error: String },
}

/// One saved configuration change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    pub at_ms: i64,
    pub changes: Vec<FieldChange>,
}

/// Queue depths and counters, for health and progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    pub asset_work: i64,
    pub sku_work: i64,
    pub waiting_assets: i64,
    pub failed_assets: i64,
    pub events: i64,
    pub unused_events: i64,
    /// SKU work queued by a full sync (yields to live work).
    pub bulk_sku_work: i64,
    /// Work given up, waiting for an operator.
    pub dead_letters: i64,
    /// When the oldest queued SKU work was first queued (Unix ms).
    pub oldest_sku_work_ms: Option<i64>,
    /// Since when the longest-waiting asset waits (Unix ms).
    pub oldest_waiting_ms: Option<i64>,
}

/// Work given up: its SKU, attempts and error history.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: i64,
    pub sku: Sku,
    pub attempts: i64,
    /// `[{"at_ms", "error"}]`, oldest first.
    pub errors: Vec<serde_json::Value>,
    pub created_ms: i64,
}

/// A leased work item, named by its queue and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WorkKey {
    Asset(AssetId),
    Sku(Sku),
    /// A product's product-to-asset call.
    ProductCall(Sku),
}

/// What a commerce product event does to the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductChange {
    Saved(Sku),
    Deleted(Sku),
}

/// What recording a commerce product event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductEventRecorded {
    /// This event id was seen before: nothing changed.
    Duplicate,
    /// Stored with its effect; `created` when the product is new.
    Saved { created: bool },
    /// Stored with its effect; `removed` when the product was known.
    Deleted { removed: bool },
}

/// What a configuration change starts, committed with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFollowUps {
    /// A full sync, with its reason (what matches changed).
    pub full_sync: Option<String>,
    /// Every gallery queued again (the visualization owner changed).
    pub requeue_galleries: bool,
}

/// A claimed product-to-asset call of a new product.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductCall {
    pub sku: Sku,
    /// The product event's `data` (or the source that found the product), sent as `eventData`.
    pub event_data: serde_json::Value,
    pub attempt: i64,
    /// The lease this claim holds; completing checks it is still the current one (fencing).
    pub lease_until_ms: i64,
}

/// How a product-to-asset call ended.
#[derive(Debug, Clone)]
pub enum ProductCallOutcome {
    /// The links it answered (of eligible assets), added beside the assets' other claims.
    Linked(Vec<DesiredLink>),
    /// It failed: retried at `retry_at_ms`, or given up (`None`) and shown on the product's status.
    Failed {
        error: String,
        retry_at_ms: Option<i64>,
    },
}

/// Whether a product's product-to-asset call waits or was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductCallState {
    Queued,
    Failed,
}

/// Queued work as a status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedWork {
    pub attempt: i64,
    pub run_at_ms: i64,
    pub last_error: Option<String>,
}

/// The sync status of one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductStatus {
    pub sku: Sku,
    /// In assetsync's catalog.
    pub known: bool,
    /// The last write found the product missing on the commerce side.
    pub missing: bool,
    /// Entries applied.
    pub entries: i64,
    /// Assets that claim the product.
    pub claims: i64,
    /// Its gallery's queued work, if any.
    pub gallery_work: Option<QueuedWork>,
    /// Its product-to-asset call, if one waits or was given up.
    pub product_call: Option<(ProductCallState, QueuedWork)>,
}

/// A lease a worker holds: the item and the lease value its claim (or last renewal) stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLease {
    pub key: WorkKey,
    pub lease_until_ms: i64,
}

/// The storage the engine and the API need.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records verified events in one transaction (group commit): deduplicates by event id, queues asset work
    /// for asset events, counts unused types. Returns one outcome per event, in order.
    async fn record_events(&self, events: &[NewEvent]) -> StoreResult<Vec<Recorded>>;

    /// Leases up to `limit` due asset work items until `now_ms + lease_ms`.
    async fn claim_asset_work(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<AssetWork>>;

    /// Stores how reading an asset ended: replaces its claims, queues work for every SKU whose claim changed,
    /// updates its status, and finishes (or, if a newer hint came, re-queues) its work item. Fails with
    /// [`StoreError::LeaseLost`], writing nothing, when the claim's lease is no longer the current one.
    async fn complete_asset(
        &self,
        work: &AssetWork,
        outcome: AssetOutcome,
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut results = self
            .complete_assets(vec![(work.clone(), outcome)], now_ms)
            .await?;
        results.pop().unwrap_or(Err(StoreError::LeaseLost))
    }

    /// [`Store::complete_asset`] for many items in one transaction (group commit): one result per item, in
    /// order. An item whose lease was lost writes nothing and fails alone; any other error fails them all.
    async fn complete_assets(
        &self,
        items: Vec<(AssetWork, AssetOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>>;

    /// Leases up to `limit` due SKUs until `now_ms + lease_ms`.
    async fn claim_sku_work(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<SkuWork>>;

    /// Loads the desired and applied state of one SKU.
    async fn sku_state(&self, sku: &Sku) -> StoreResult<SkuState>;

    /// Stores how the work on one SKU ended and updates the status of the assets that waited on it. Fails with
    /// [`StoreError::LeaseLost`], writing nothing, when the claim's lease is no longer the current one.
    async fn complete_sku(
        &self,
        work: &SkuWork,
        outcome: SkuOutcome,
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut results = self
            .complete_skus(vec![(work.clone(), outcome)], now_ms)
            .await?;
        results.pop().unwrap_or(Err(StoreError::LeaseLost))
    }

    /// [`Store::complete_sku`] for many items in one transaction (group commit): one result per item, in
    /// order. An item whose lease was lost writes nothing and fails alone; any other error fails them all.
    async fn complete_skus(
        &self,
        items: Vec<(SkuWork, SkuOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>>;

    /// Adds a product to the built-in catalog (idempotent); queues its gallery when assets claim it, whether
    /// the product is new or known (an operator's or the platform's word that it exists now). Returns `true`
    /// when the product is new.
    async fn upsert_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool>;

    /// Adds many products in one transaction (the demo's generator, imports). Returns the new ones.
    async fn upsert_products(&self, skus: &[Sku], now_ms: i64) -> StoreResult<Vec<Sku>>;

    /// Adds links to the claims without touching the assets' other claims (a custom matcher's
    /// product-to-asset reply): queues each SKU and keeps each asset waiting until its SKU is written.
    async fn add_links(&self, links: &[DesiredLink], now_ms: i64) -> StoreResult<()>;

    /// Removes a product from the catalog (a deleted product); queues its gallery so its links are dropped.
    /// Returns `true` when the product was known.
    async fn remove_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool>;

    /// The status of one asset, `None` when never seen.
    async fn asset_status(&self, asset_id: &AssetId) -> StoreResult<Option<AssetStatus>>;

    /// Every known product with its applied gallery (products with no entries included), for the read cache.
    async fn all_galleries(&self) -> StoreResult<Vec<(Sku, Vec<AppliedEntry>)>>;

    /// One product's applied gallery; `None` when the product is unknown and has no entries.
    async fn gallery(&self, sku: &Sku) -> StoreResult<Option<Vec<AppliedEntry>>>;

    /// Extends held leases to `until_ms`, in one transaction, each fenced on the lease value it holds: one
    /// result per item, in order, `true` when renewed, `false` when the lease was lost (another worker took
    /// the item, or it is finished).
    async fn renew_leases(&self, held: &[HeldLease], until_ms: i64) -> StoreResult<Vec<bool>>;

    /// Adds products (one transaction) and, with `product_call`, queues the product-to-asset call of each new
    /// one with that `eventData`. Returns the new ones.
    async fn add_products(
        &self,
        skus: &[Sku],
        product_call: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> StoreResult<Vec<Sku>>;

    /// Records a commerce product event and its effect in one transaction (a duplicate changes nothing): a
    /// saved product is added (its waiting claims queued, and with `product_call` its product-to-asset call),
    /// a deleted one removed.
    async fn record_product_event(
        &self,
        event: &NewEvent,
        change: &ProductChange,
        product_call: Option<&serde_json::Value>,
    ) -> StoreResult<ProductEventRecorded>;

    /// Saves a configuration change and the work it starts in one transaction. Returns the full sync's id
    /// when one was requested (the waiting one when one waits already).
    async fn save_config_with_follow_ups(
        &self,
        config: &IntegrationConfig,
        changes: &[FieldChange],
        follow_ups: &ConfigFollowUps,
        now_ms: i64,
    ) -> StoreResult<Option<i64>>;

    /// Leases up to `limit` due product-to-asset calls until `now_ms + lease_ms`.
    async fn claim_product_calls(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<ProductCall>>;

    /// Stores how a product-to-asset call ended (its links with it). Fails with [`StoreError::LeaseLost`],
    /// writing nothing, when the claim's lease is no longer the current one.
    async fn complete_product_call(
        &self,
        call: &ProductCall,
        outcome: ProductCallOutcome,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// The sync status of one product; `None` when assetsync knows nothing of it.
    async fn product_status(&self, sku: &Sku) -> StoreResult<Option<ProductStatus>>;

    /// Releases every lease (the embedded single-process mode calls this at start-up).
    async fn release_all_leases(&self) -> StoreResult<()>;

    /// Queue depths and counters.
    async fn backlog(&self) -> StoreResult<Backlog>;

    /// The configuration saved through the API, `None` before the first save.
    async fn integration_config(&self) -> StoreResult<Option<IntegrationConfig>>;

    /// Saves the configuration and, when something changed, one history record.
    async fn save_integration_config(
        &self,
        config: &IntegrationConfig,
        changes: &[FieldChange],
        now_ms: i64,
    ) -> StoreResult<()>;

    /// The newest `limit` configuration changes, newest first.
    async fn config_history(&self, limit: i64) -> StoreResult<Vec<ConfigChange>>;

    /// Asks for a full sync: returns the waiting one if there is one, else queues a new one (at most one runs
    /// and one more waits).
    async fn request_full_sync(&self, reason: &str, now_ms: i64) -> StoreResult<i64>;

    /// The running full sync (to resume it), else the waiting one, now marked running.
    async fn begin_full_sync(&self, now_ms: i64) -> StoreResult<Option<FullSync>>;

    /// One full sync, `None` when unknown.
    async fn full_sync(&self, id: i64) -> StoreResult<Option<FullSync>>;

    /// Stores one page of a full sync's assets through the bulk path (one transaction; their SKU work yields
    /// to live work) and moves its cursor.
    async fn store_full_sync_page(
        &self,
        id: i64,
        assets: &[BulkAsset],
        next_cursor: Option<&str>,
        total: i64,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// Ends the asset phase: assets with links that the DAM no longer listed are queued for a re-read (a
    /// confirmed 404 unlinks them). Returns how many.
    async fn finish_full_sync_assets(&self, id: i64, now_ms: i64) -> StoreResult<u64>;

    /// Records one page of the commerce side's products (with `product_call`, queuing each new one's
    /// product-to-asset call) and moves the cursor, in one transaction. Returns the new products.
    async fn store_full_sync_products(
        &self,
        id: i64,
        skus: &[Sku],
        next_cursor: Option<&str>,
        product_call: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> StoreResult<Vec<Sku>>;

    /// Moves a full sync to its next phase.
    async fn set_full_sync_phase(&self, id: i64, phase: &str) -> StoreResult<()>;

    /// Ends a full sync: `done`, or `failed` with the error.
    async fn complete_full_sync(
        &self,
        id: i64,
        error: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// The prior state of the product's hand-made entries that assetsync changed.
    async fn handmade_records(&self, sku: &Sku) -> StoreResult<Vec<HandmadeRecord>>;

    /// Remembers a hand-made entry's prior state (the first record is kept).
    async fn remember_handmade(&self, sku: &Sku, record: &HandmadeRecord) -> StoreResult<()>;

    /// Forgets a hand-made entry's prior state (restored, or gone).
    async fn forget_handmade(&self, sku: &Sku, entry_id: &str) -> StoreResult<()>;

    /// Queues every product with a gallery, claims or hand-made records (bulk priority): an owner change is
    /// applied from stored state. Returns how many.
    async fn requeue_galleries(&self, now_ms: i64) -> StoreResult<u64>;

    /// Work that was given up, oldest first.
    async fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>>;

    /// Queues dead letters again (one by id, or all with `None`): their SKU work restarts from attempt 1 and
    /// the assets that failed with it wait for it again. Returns how many.
    async fn replay_dead_letters(&self, id: Option<i64>, now_ms: i64) -> StoreResult<u64>;

    /// Deletes what is older than `before_ms` and no longer needed: delivered events (deduplication needs
    /// them only while I/O Events may redeliver), finished full syncs, and the statuses of assets that left
    /// every product. Returns how many rows went.
    async fn prune(&self, before_ms: i64) -> StoreResult<u64>;

    /// The database's size in bytes.
    async fn database_bytes(&self) -> StoreResult<i64>;

    /// Every stored claim (desired link), for verification.
    async fn all_claims(&self) -> StoreResult<Vec<DesiredLink>>;

    /// The stored claims of one asset, by SKU.
    async fn asset_claims(&self, asset_id: &AssetId) -> StoreResult<Vec<DesiredLink>>;

    /// Forgets that an entry is applied (it was found missing or changed on the commerce side) and queues its
    /// SKU, so the next write creates or adopts it again.
    async fn forget_applied(&self, sku: &Sku, asset_id: &AssetId, now_ms: i64) -> StoreResult<()>;

    /// The journal position up to which events are stored, `None` before the first read.
    async fn journal_position(&self) -> StoreResult<Option<String>>;

    /// Moves the journal position (only after the events before it are stored).
    async fn set_journal_position(&self, position: &str) -> StoreResult<()>;

    /// Queues a re-read of the `limit` assets read longest ago (the anti-entropy slice). Returns how many.
    async fn requeue_stalest_assets(&self, limit: i64, now_ms: i64) -> StoreResult<u64>;

    /// Event→applied latencies of the assets' last syncs, in ms.
    async fn sync_latencies(&self) -> StoreResult<Vec<i64>>;
}

/// Opens the store named by a database URL (`sqlite://PATH`; a missing file is created) and migrates it.
/// Secrets are sealed with the key file beside the database.
pub async fn open(url: &str) -> StoreResult<SqliteStore> {
    open_with_secret_key(url, None).await
}

/// [`open`], with secrets sealed by `key` (the value of [`secrets::SECRET_KEY_ENV`]) instead of the key file
/// beside the database.
pub async fn open_with_secret_key(
    url: &str,
    key: Option<secrets::SecretKey>,
) -> StoreResult<SqliteStore> {
    if url.starts_with("sqlite:") {
        SqliteStore::open_with_key(url, key).await
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
