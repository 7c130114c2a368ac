//! The storage traits, one per role the engine and the API need; [`Store`] is their sum. Every method is one
//! transaction: nothing is half-written. Times are Unix milliseconds supplied by the caller.

use crate::listing::{AssetEvent, AssetListQuery, AssetPage};
use crate::model::*;
use crate::{Duty, Leadership, StoreError, StoreResult, WakeUp};
use async_trait::async_trait;
use domain::accounts::Username;
use domain::config::{FieldChange, IntegrationConfig};
use domain::gallery::HandmadeRecord;
use domain::{AppliedEntry, AssetId, DesiredLink, ManualLink, Sku};

/// The names of every storage method, by trait (the conformance suite checks it calls each one).
pub const METHODS: &[(&str, &[&str])] = &[
    (
        "EventLog",
        &[
            "record_events",
            "record_product_event",
            "journal_position",
            "set_journal_position",
        ],
    ),
    (
        "AssetQueue",
        &[
            "claim_asset_work",
            "complete_asset",
            "complete_assets",
            "requeue_stalest_assets",
            "asset_status",
            "asset_claims",
            "all_claims",
            "list_assets",
            "asset_history",
        ],
    ),
    (
        "GalleryQueue",
        &[
            "claim_sku_work",
            "sku_state",
            "complete_sku",
            "complete_skus",
            "forget_applied",
            "requeue_galleries",
        ],
    ),
    ("LeaseKeeper", &["renew_leases", "release_all_leases"]),
    (
        "Catalog",
        &[
            "upsert_product",
            "upsert_products",
            "add_products",
            "remove_product",
            "add_links",
            "all_galleries",
            "gallery",
            "product_status",
            "products_page",
        ],
    ),
    (
        "ProductCalls",
        &["claim_product_calls", "complete_product_call"],
    ),
    (
        "Configuration",
        &[
            "integration_config",
            "save_integration_config",
            "save_config_with_follow_ups",
            "config_history",
        ],
    ),
    (
        "FullSyncs",
        &[
            "request_full_sync",
            "begin_full_sync",
            "full_sync",
            "store_full_sync_page",
            "finish_full_sync_assets",
            "store_full_sync_products",
            "set_full_sync_phase",
            "bulk_sku_work",
            "complete_full_sync",
        ],
    ),
    (
        "HandmadeEntries",
        &["handmade_records", "remember_handmade", "forget_handmade"],
    ),
    (
        "ManualLinks",
        &[
            "put_manual_link",
            "remove_manual_link",
            "manual_links",
            "manual_links_of_asset",
        ],
    ),
    ("DeadLetters", &["dead_letters", "replay_dead_letters"]),
    (
        "Maintenance",
        &["prune", "database_bytes", "backlog", "sync_latencies"],
    ),
    ("Coordination", &["exclusive", "try_lead", "wake_ups"]),
    (
        "Accounts",
        &[
            "add_user",
            "users",
            "user",
            "remove_user",
            "create_session",
            "session",
            "delete_session",
            "note_failed_sign_in",
            "failed_sign_ins",
            "clear_failed_sign_ins",
        ],
    ),
    (
        "Cluster",
        &[
            "gallery_feed_position",
            "galleries_changed_since",
            "config_version",
            "publish_process_report",
            "process_reports",
        ],
    ),
];

/// Verified deliveries: deduplicated by event id and recorded with their effect; the journal position.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Records verified events in one transaction (group commit): deduplicates by event id, queues asset work
    /// for asset events, counts unused types. Returns one outcome per event, in order.
    async fn record_events(&self, events: &[NewEvent]) -> StoreResult<Vec<Recorded>>;

    /// Records a commerce product event and its effect in one transaction (a duplicate changes nothing): a
    /// saved product is added (its waiting claims queued, and with `product_call` its product-to-asset call),
    /// a deleted one removed.
    async fn record_product_event(
        &self,
        event: &NewEvent,
        change: &ProductChange,
        product_call: Option<&serde_json::Value>,
    ) -> StoreResult<ProductEventRecorded>;

    /// The journal position up to which events are stored, `None` before the first read.
    async fn journal_position(&self) -> StoreResult<Option<String>>;

    /// Moves the journal position (only after the events before it are stored).
    async fn set_journal_position(&self, position: &str) -> StoreResult<()>;
}

/// Assets to re-read from the DAM, their desired links and their sync status.
#[async_trait]
pub trait AssetQueue: Send + Sync {
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

    /// [`AssetQueue::complete_asset`] for many items in one transaction (group commit): one result per item, in
    /// order. An item whose lease was lost writes nothing and fails alone; any other error fails them all.
    async fn complete_assets(
        &self,
        items: Vec<(AssetWork, AssetOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>>;

    /// Queues a re-read of the `limit` assets read longest ago (the anti-entropy slice). Returns how many.
    async fn requeue_stalest_assets(&self, limit: i64, now_ms: i64) -> StoreResult<u64>;

    /// The status of one asset, `None` when never seen.
    async fn asset_status(&self, asset_id: &AssetId) -> StoreResult<Option<AssetStatus>>;

    /// The stored claims of one asset, by SKU.
    async fn asset_claims(&self, asset_id: &AssetId) -> StoreResult<Vec<DesiredLink>>;

    /// Every stored claim (desired link), for verification.
    async fn all_claims(&self) -> StoreResult<Vec<DesiredLink>>;

    /// One page of the Sync Status listing (filters, order, keyset cursor): each page is one index range,
    /// never an `OFFSET`, so it costs the same wherever it is and however many assets there are.
    async fn list_assets(&self, query: &AssetListQuery) -> StoreResult<AssetPage>;

    /// The newest `limit` events received for an asset (still kept: events are pruned after the retention),
    /// newest first.
    async fn asset_history(&self, asset_id: &AssetId, limit: i64) -> StoreResult<Vec<AssetEvent>>;
}

/// Products whose gallery must be brought to the desired state, and what is applied.
#[async_trait]
pub trait GalleryQueue: Send + Sync {
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

    /// [`GalleryQueue::complete_sku`] for many items in one transaction (group commit): one result per item, in
    /// order. An item whose lease was lost writes nothing and fails alone; any other error fails them all.
    async fn complete_skus(
        &self,
        items: Vec<(SkuWork, SkuOutcome)>,
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<()>>>;

    /// Forgets that an entry is applied (it was found missing or changed on the commerce side) and queues its
    /// SKU, so the next write creates or adopts it again.
    async fn forget_applied(&self, sku: &Sku, asset_id: &AssetId, now_ms: i64) -> StoreResult<()>;

    /// Queues every product with a gallery, claims or hand-made records (bulk priority): an owner change is
    /// applied from stored state. Returns how many.
    async fn requeue_galleries(&self, now_ms: i64) -> StoreResult<u64>;
}

/// The leases held on claimed work.
#[async_trait]
pub trait LeaseKeeper: Send + Sync {
    /// Extends held leases to `until_ms`, in one transaction, each fenced on the lease value it holds: one
    /// result per item, in order, `true` when renewed, `false` when the lease was lost (another worker took
    /// the item, or it is finished).
    async fn renew_leases(&self, held: &[HeldLease], until_ms: i64) -> StoreResult<Vec<bool>>;

    /// Releases every lease (the embedded single-process mode calls this at start-up).
    async fn release_all_leases(&self) -> StoreResult<()>;
}

/// The built-in catalog: products, the links a custom matcher adds, applied galleries for the read API.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Adds a product to the built-in catalog (idempotent); queues its gallery when assets claim it, whether
    /// the product is new or known (an operator's or the platform's word that it exists now). Returns `true`
    /// when the product is new.
    async fn upsert_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool>;

    /// Adds many products in one transaction (the demo's generator, imports). Returns the new ones.
    async fn upsert_products(&self, skus: &[Sku], now_ms: i64) -> StoreResult<Vec<Sku>>;

    /// Adds products (one transaction) and, with `product_call`, queues the product-to-asset call of each new
    /// one with that `eventData`. Returns the new ones.
    async fn add_products(
        &self,
        skus: &[Sku],
        product_call: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> StoreResult<Vec<Sku>>;

    /// Removes a product from the catalog (a deleted product); queues its gallery so its links are dropped.
    /// Returns `true` when the product was known.
    async fn remove_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool>;

    /// Adds links to the claims without touching the assets' other claims (a custom matcher's
    /// product-to-asset reply): queues each SKU and keeps each asset waiting until its SKU is written.
    async fn add_links(&self, links: &[DesiredLink], now_ms: i64) -> StoreResult<()>;

    /// Every known product with its applied gallery (products with no entries included), for the read cache.
    async fn all_galleries(&self) -> StoreResult<Vec<(Sku, Vec<AppliedEntry>)>>;

    /// One product's applied gallery; `None` when the product is unknown and has no entries.
    async fn gallery(&self, sku: &Sku) -> StoreResult<Option<Vec<AppliedEntry>>>;

    /// The sync status of one product; `None` when assetsync knows nothing of it.
    async fn product_status(&self, sku: &Sku) -> StoreResult<Option<ProductStatus>>;

    /// At most `limit` catalog products whose SKU starts with `prefix`, after `after` (keyset paging), in SKU
    /// order (an index range: as fast with a million products as with ten).
    async fn products_page(
        &self,
        prefix: &str,
        after: Option<&Sku>,
        limit: i64,
    ) -> StoreResult<Vec<Sku>>;
}

/// A custom matcher's product-to-asset calls for new products, as durable work.
#[async_trait]
pub trait ProductCalls: Send + Sync {
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
}

/// The integration configuration saved through the API, and its history.
#[async_trait]
pub trait Configuration: Send + Sync {
    /// The configuration saved through the API, `None` before the first save.
    async fn integration_config(&self) -> StoreResult<Option<IntegrationConfig>>;

    /// Saves the configuration and, when something changed, one history record.
    async fn save_integration_config(
        &self,
        config: &IntegrationConfig,
        changes: &[FieldChange],
        now_ms: i64,
    ) -> StoreResult<()>;

    /// Saves a configuration change and the work it starts in one transaction. Returns the full sync's id
    /// when one was requested (the waiting one when one waits already).
    async fn save_config_with_follow_ups(
        &self,
        config: &IntegrationConfig,
        changes: &[FieldChange],
        follow_ups: &ConfigFollowUps,
        now_ms: i64,
    ) -> StoreResult<Option<i64>>;

    /// The newest `limit` configuration changes, newest first.
    async fn config_history(&self, limit: i64) -> StoreResult<Vec<ConfigChange>>;
}

/// Full syncs: at most one runs and one waits; the running one resumes from its checkpoint.
#[async_trait]
pub trait FullSyncs: Send + Sync {
    /// Asks for a full sync: returns the waiting one if there is one, else queues a new one (at most one runs
    /// and one more waits).
    async fn request_full_sync(&self, reason: &str, now_ms: i64) -> StoreResult<i64>;

    /// The running full sync (to resume it), else the waiting one, now marked running.
    async fn begin_full_sync(&self, now_ms: i64) -> StoreResult<Option<FullSync>>;

    /// One full sync, `None` when unknown.
    async fn full_sync(&self, id: i64) -> StoreResult<Option<FullSync>>;

    /// Stores one page of a full sync's assets through the bulk path (one transaction; their SKU work yields
    /// to live work) and moves its cursor. `read_ms` is when the page's reading began: an asset whose outcome
    /// was stored since (`processing_ms >= read_ms`, by live work that may have read newer metadata) keeps
    /// what it has and is queued to be read again, so that a page read before a change never overwrites it.
    async fn store_full_sync_page(
        &self,
        id: i64,
        assets: &[BulkAsset],
        next_cursor: Option<&str>,
        total: i64,
        read_ms: i64,
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
    async fn set_full_sync_phase(&self, id: i64, phase: FullSyncPhase) -> StoreResult<()>;

    /// How many SKUs queued by full syncs still wait (what the applying phase waits for): read from a
    /// counter, since it is asked ten times a second while hundreds of thousands may be queued.
    async fn bulk_sku_work(&self) -> StoreResult<i64>;

    /// Ends a full sync: `done`, or `failed` with the error.
    async fn complete_full_sync(
        &self,
        id: i64,
        error: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<()>;
}

/// The prior state of hand-made entries assetsync hid for the visualization owner.
#[async_trait]
pub trait HandmadeEntries: Send + Sync {
    /// The prior state of the product's hand-made entries that assetsync changed.
    async fn handmade_records(&self, sku: &Sku) -> StoreResult<Vec<HandmadeRecord>>;

    /// Remembers a hand-made entry's prior state (the first record is kept).
    async fn remember_handmade(&self, sku: &Sku, record: &HandmadeRecord) -> StoreResult<()>;

    /// Forgets a hand-made entry's prior state (restored, or gone).
    async fn forget_handmade(&self, sku: &Sku, entry_id: &str) -> StoreResult<()>;
}

/// Assets a person linked to a product by hand (source `manual`). Only these methods change them: no sync,
/// full sync, repair or owner switch does.
#[async_trait]
pub trait ManualLinks: Send + Sync {
    /// Adds the link, or replaces the one of the same (SKU, asset), and queues the SKU's gallery, in one
    /// transaction. Returns `true` when the link is new.
    async fn put_manual_link(&self, link: &ManualLink, now_ms: i64) -> StoreResult<bool>;

    /// Removes the link of `asset_id` on `sku` and queues the SKU's gallery. Returns `false` (and changes
    /// nothing) when there is none.
    async fn remove_manual_link(
        &self,
        sku: &Sku,
        asset_id: &AssetId,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// The product's manual links, by asset id.
    async fn manual_links(&self, sku: &Sku) -> StoreResult<Vec<ManualLink>>;

    /// The manual links of one asset, by SKU.
    async fn manual_links_of_asset(&self, asset_id: &AssetId) -> StoreResult<Vec<ManualLink>>;
}

/// Work given up, waiting for an operator.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Work that was given up, oldest first.
    async fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>>;

    /// Queues dead letters again (one by id, or all with `None`): their SKU work restarts from attempt 1 and
    /// the assets that failed with it wait for it again. Returns how many.
    async fn replay_dead_letters(&self, id: Option<i64>, now_ms: i64) -> StoreResult<u64>;
}

/// Retention, size and the queue depths that health and progress report.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Deletes what is older than `before_ms` and no longer needed: delivered events (deduplication needs
    /// them only while I/O Events may redeliver), finished full syncs, and the statuses of assets that left
    /// every product. Returns how many rows went.
    async fn prune(&self, before_ms: i64) -> StoreResult<u64>;

    /// The database's size in bytes.
    async fn database_bytes(&self) -> StoreResult<i64>;

    /// Queue depths and counters.
    async fn backlog(&self) -> StoreResult<Backlog>;

    /// Event→applied latencies of the assets' last syncs, in ms.
    async fn sync_latencies(&self) -> StoreResult<Vec<i64>>;
}

/// What processes sharing one database need from it: whether it is this process's alone, one process at a time
/// per [`Duty`], and wake-ups when another process queues work.
#[async_trait]
pub trait Coordination: Send + Sync {
    /// Whether this database belongs to this process alone (SQLite's lock file): leases found at start-up
    /// were left by an earlier run of this process and may be released.
    async fn exclusive(&self) -> bool;
    /// Tries to become the one process that performs `duty`; `None` while another holds it (or this process
    /// holds it already). The duty is held until the [`Leadership`] is dropped or reports it lost.
    async fn try_lead(&self, duty: Duty) -> StoreResult<Option<Leadership>>;
    /// Wake-ups sent when any process commits work others may claim; `None` where processes cannot share the
    /// database (they wake each other in memory). The channel ends when the store is gone.
    async fn wake_ups(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<WakeUp>>>;
}

/// What one process changes and the others sharing the database must see: the gallery change feed (for each
/// process's read cache), the configuration's version, and each process's report of itself (for the cluster's
/// SLA and health reports).
#[async_trait]
pub trait Cluster: Send + Sync {
    /// The gallery change feed's position now: a poll from it returns the changes committed after this call
    /// (and possibly a few committed just before: a change may be returned more than once, never missed).
    async fn gallery_feed_position(&self) -> StoreResult<FeedCursor>;

    /// Every product whose served gallery changed since `cursor` (its gallery written, found missing, added
    /// to or removed from the catalog), with what the read API serves for it now, and the cursor of the next
    /// poll. Never misses a change, whatever order concurrent transactions commit in; may return one again.
    async fn galleries_changed_since(&self, cursor: &FeedCursor) -> StoreResult<GalleryChanges>;

    /// A number that changes whenever the integration configuration is saved (0 before the first save).
    async fn config_version(&self) -> StoreResult<i64>;

    /// Stores (replaces) one process's report of itself, and forgets the reports not renewed since
    /// `forget_before_ms` (processes gone).
    async fn publish_process_report(
        &self,
        report: &ProcessReport,
        forget_before_ms: i64,
    ) -> StoreResult<()>;

    /// The reports renewed at or after `since_ms`, by process id.
    async fn process_reports(&self, since_ms: i64) -> StoreResult<Vec<ProcessReport>>;
}

/// The admin console's local users, their sessions and the failed sign-ins that throttle them: stored, so
/// every process sharing the database agrees.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Adds a user; `false` (nothing written) when the name is taken.
    async fn add_user(&self, user: &UserRecord) -> StoreResult<bool>;

    /// Every user, by name.
    async fn users(&self) -> StoreResult<Vec<UserRecord>>;

    /// One user, `None` when unknown.
    async fn user(&self, username: &Username) -> StoreResult<Option<UserRecord>>;

    /// Removes a user and their sessions. Returns whether the user existed.
    async fn remove_user(&self, username: &Username) -> StoreResult<bool>;

    /// Stores a new session of a known user.
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;

    /// The live session whose id hashes to `id_hash`, touched (`last_seen_ms = now_ms`). `None` when unknown,
    /// past its absolute expiry, or idle since before `now_ms - idle_ms` (an expired one is deleted).
    async fn session(
        &self,
        id_hash: &str,
        now_ms: i64,
        idle_ms: i64,
    ) -> StoreResult<Option<SessionRecord>>;

    /// Deletes a session (sign-out). Returns whether it existed.
    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool>;

    /// Notes one failed sign-in under each throttling key (user name, client address); forgets the ones of
    /// these keys older than a day.
    async fn note_failed_sign_in(&self, keys: &[String], now_ms: i64) -> StoreResult<()>;

    /// The most failed sign-ins noted at or after `since_ms` under any one of `keys`.
    async fn failed_sign_ins(&self, keys: &[String], since_ms: i64) -> StoreResult<i64>;

    /// Forgets the failed sign-ins of one key (after a successful sign-in).
    async fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()>;
}

/// Everything the engine and the API need from storage: the sum of the role traits. Implemented by every
/// type that implements them all.
pub trait Store:
    EventLog
    + AssetQueue
    + GalleryQueue
    + LeaseKeeper
    + Catalog
    + ProductCalls
    + Configuration
    + FullSyncs
    + HandmadeEntries
    + ManualLinks
    + DeadLetters
    + Maintenance
    + Coordination
    + Cluster
    + Accounts
    + 'static
{
}

impl<T> Store for T where
    T: EventLog
        + AssetQueue
        + GalleryQueue
        + LeaseKeeper
        + Catalog
        + ProductCalls
        + Configuration
        + FullSyncs
        + HandmadeEntries
        + ManualLinks
        + DeadLetters
        + Maintenance
        + Coordination
        + Cluster
        + Accounts
        + 'static
{
}
