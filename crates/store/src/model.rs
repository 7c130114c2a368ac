//! The values the storage traits take and return. Times are Unix milliseconds supplied by the caller.

use domain::config::FieldChange;
use domain::events::EventKind;
use domain::gallery::RefusedEntry;
use domain::{AppliedEntry, AssetId, DesiredLink, Sku};

/// Declares a closed set of states stored as text: the enum, its stored name, and parsing of a stored name.
macro_rules! stored_names {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// The name as stored and shown.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses a stored name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_names! {
    /// The sync status of an asset (reference §9.2).
    SyncStatus {
        /// Every product it asks for holds it as asked.
        Success = "Success",
        /// It failed; `last_error` says why.
        Failed = "Failed",
        /// Read, or hinted, and not applied everywhere yet.
        Waiting = "Waiting",
    }
}

stored_names! {
    /// Where a full sync is in its life.
    FullSyncState {
        Waiting = "waiting",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

stored_names! {
    /// The phase a full sync runs (or resumes) in.
    FullSyncPhase {
        /// Reading every asset from the DAM.
        Assets = "assets",
        /// Listing the commerce side's products.
        Products = "products",
        /// Waiting for the queued galleries to be written.
        Applying = "applying",
        Done = "done",
    }
}

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
    pub status: SyncStatus,
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
    pub state: FullSyncState,
    pub reason: String,
    pub phase: FullSyncPhase,
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

/// A position in the gallery change feed ([`crate::Cluster::galleries_changed_since`]). Opaque: it comes from
/// [`crate::Cluster::gallery_feed_position`] or a previous poll; `FeedCursor::default()` is the beginning (every
/// change ever recorded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCursor(pub(crate) i64);

/// What one poll of the gallery change feed found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GalleryChanges {
    /// Each product whose served gallery changed, with what the read API serves for it now: its applied
    /// gallery (in gallery order), or `None` when it answers 404 (removed, or found missing). A product may
    /// come again in a later poll (the same state: applying it twice changes nothing).
    pub changes: Vec<(Sku, Option<Vec<AppliedEntry>>)>,
    /// Where the next poll continues.
    pub next: FeedCursor,
}

/// What one running process last reported of itself (see [`crate::Cluster::publish_process_report`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessReport {
    /// The process's random id, chosen at start.
    pub process_id: String,
    /// When it reported (Unix ms, its clock).
    pub updated_ms: i64,
    /// What it reported (the engine's shape; the store keeps it as JSON).
    pub report: serde_json::Value,
}

/// A local user of the admin console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub username: domain::accounts::Username,
    pub role: domain::accounts::AccountRole,
    /// The argon2id hash in PHC string format.
    pub password_hash: String,
    pub created_ms: i64,
}

/// A session to store: only the hash of its id is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id_hash: String,
    pub username: domain::accounts::Username,
    pub created_ms: i64,
    /// The absolute expiry, whatever the activity.
    pub expires_ms: i64,
}

/// A live session, with its user's role now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub username: domain::accounts::Username,
    pub role: domain::accounts::AccountRole,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub expires_ms: i64,
}
