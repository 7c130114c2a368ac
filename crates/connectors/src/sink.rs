//! Commerce sinks: where galleries are written. The built-in catalog keeps them in assetsync itself; the
//! Adobe Commerce sink writes them to a Magento store ([`crate::magento`]).

use async_trait::async_trait;
use domain::gallery::HandmadeRecord;
use domain::gallery::{RefusedEntry, apply_operations};
use domain::{AppliedEntry, AssetId, Operation, Sku};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Counters keyed by a tuple of labels (bounded sets), for the metrics endpoint.
#[derive(Debug)]
pub struct LabeledCounts<L> {
    counts: Mutex<BTreeMap<L, u64>>,
}

impl<L> Default for LabeledCounts<L> {
    fn default() -> Self {
        Self {
            counts: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<L: Ord + Copy> LabeledCounts<L> {
    /// Counts one occurrence of `labels`.
    pub fn count(&self, labels: L) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(labels)
            .or_default() += 1;
    }

    /// Every counter now, sorted by labels.
    pub fn snapshot(&self) -> Vec<(L, u64)> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(labels, count)| (*labels, *count))
            .collect()
    }
}

/// Calls made to the commerce platform, by operation and HTTP status (0: no reply came).
pub type CallCounts = LabeledCounts<(&'static str, u16)>;

/// How applying one SKU's operations ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkOutcome {
    /// The gallery now holds these entries (assetsync's own entries).
    Applied(Vec<AppliedEntry>),
    /// Not every operation was applied: what the platform holds now, and why the others were not.
    Partial(PartialApply),
    /// The product does not exist: skip it and remember the SKU.
    ProductMissing,
}

/// The outcome of an apply that did not write every operation. `entries` is exactly what the platform holds
/// now (the operations that succeeded are in, the others are as they were), so that it can be stored and the
/// next run starts from the truth rather than from a state the platform no longer has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialApply {
    pub entries: Vec<AppliedEntry>,
    /// Entries the platform refused (HTTP 400): each fails its asset alone, with the platform's message.
    pub refused: Vec<RefusedEntry>,
    /// Assets whose binary the DAM no longer delivers (404): they are read again; their operation waits.
    pub reread: Vec<AssetId>,
    /// The failure that stopped the remaining operations, if one did: they are retried as usual.
    pub stopped: Option<SinkError>,
}

impl PartialApply {
    /// Every operation applied: `entries` and nothing else.
    pub fn all(entries: Vec<AppliedEntry>) -> Self {
        Self {
            entries,
            refused: Vec::new(),
            reread: Vec::new(),
            stopped: None,
        }
    }
}

/// A failure to write to the commerce platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The platform refused the credentials: the sink pauses; work is kept.
    #[error("commerce refused the credentials (HTTP {0}); the sink is paused")]
    Unauthorized(u16),
    /// Transient: retried with backoff, or at `retry_after_ms` when the platform asked for it.
    #[error("commerce is unavailable: {message}")]
    Unavailable {
        message: String,
        retry_after_ms: Option<u64>,
    },
    /// The platform refused this change (a 400): this item fails, with the platform's message.
    #[error("commerce rejected the change: {0}")]
    Rejected(String),
    /// The platform answered in a way that says the sink is misconfigured (a 404 that is not Magento's
    /// product-not-found: a wrong base URL, a proxy's page): the sink pauses with the reason; nothing is wiped.
    #[error("the commerce sink is paused: {0}")]
    Paused(String),
    /// The DAM's binary for an asset (a video's poster image) cannot be uploaded (larger than
    /// `max_binary_bytes`, or not an image):
    /// this item fails like a `Rejected` one, with the reason, until the asset changes.
    #[error("the DAM's binary cannot be uploaded: {0}")]
    BinaryRefused(String),
    /// Nothing was sent: the host asked to wait (`Retry-After`) and the wait has not run out. The work goes
    /// again at `retry_after_ms` without counting an attempt.
    #[error("{host} asked to wait (Retry-After); not sent")]
    HostGated { host: String, retry_after_ms: u64 },
    /// The worker lost the work's lease (another worker may hold it now): it stopped before its next write.
    #[error("the work's lease was lost; stopped before the next write")]
    LeaseLost,
}

/// Whether a worker still holds the lease on the work it applies. The engine renews the lease while the work
/// runs and revokes the token when a renewal finds it taken; a sink checks [`LeaseToken::held`] before each
/// remote write and stops ([`SinkError::LeaseLost`]) once it is not, so one product never has two writers.
#[derive(Debug, Clone)]
pub struct LeaseToken(Arc<LeaseState>);

/// Where a [`LeaseToken`] reads the time (Unix ms): the engine's clock, so that a lease runs out on the same
/// time the store's leases are written in.
pub type NowMs = Arc<dyn Fn() -> i64 + Send + Sync>;

struct LeaseState {
    /// The lease's end (Unix ms) as last stored.
    until_ms: AtomicI64,
    /// How long before `until_ms` the token already counts as lost (a renewal is late).
    margin_ms: i64,
    lost: AtomicBool,
    /// The time source; the system clock when `None`.
    now: Option<NowMs>,
}

impl std::fmt::Debug for LeaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseState")
            .field("until_ms", &self.until_ms)
            .field("margin_ms", &self.margin_ms)
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl LeaseToken {
    /// A token for a lease that runs until `until_ms`, counted as lost `margin_ms` before it ends.
    pub fn new(until_ms: i64, margin_ms: i64) -> Self {
        Self::build(until_ms, margin_ms, None)
    }

    /// Like [`LeaseToken::new`], reading the time from `now` (the engine's clock) instead of the system clock.
    pub fn with_clock(until_ms: i64, margin_ms: i64, now: NowMs) -> Self {
        Self::build(until_ms, margin_ms, Some(now))
    }

    fn build(until_ms: i64, margin_ms: i64, now: Option<NowMs>) -> Self {
        Self(Arc::new(LeaseState {
            until_ms: AtomicI64::new(until_ms),
            margin_ms: margin_ms.max(0),
            lost: AtomicBool::new(false),
            now,
        }))
    }

    /// A token that never expires (work that is not leased, tests of a sink alone).
    pub fn unleased() -> Self {
        Self::new(i64::MAX, 0)
    }

    /// True while the lease is held: not revoked, and not about to run out.
    pub fn held(&self) -> bool {
        if self.0.lost.load(Ordering::Acquire) {
            return false;
        }
        let now = match &self.0.now {
            Some(now) => now(),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        };
        now < self
            .0
            .until_ms
            .load(Ordering::Acquire)
            .saturating_sub(self.0.margin_ms)
    }

    /// `Err(LeaseLost)` once the lease is not held.
    pub fn check(&self) -> Result<(), SinkError> {
        if self.held() {
            Ok(())
        } else {
            Err(SinkError::LeaseLost)
        }
    }

    /// The lease's end as last stored.
    pub fn until_ms(&self) -> i64 {
        self.0.until_ms.load(Ordering::Acquire)
    }

    /// Records a renewed lease.
    pub fn renewed(&self, until_ms: i64) {
        self.0.until_ms.store(until_ms, Ordering::Release);
    }

    /// Marks the lease lost (another worker took the work).
    pub fn revoke(&self) {
        self.0.lost.store(true, Ordering::Release);
    }

    /// Whether both are the same token (clones of one).
    pub fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Whether the lease was revoked.
    pub fn revoked(&self) -> bool {
        self.0.lost.load(Ordering::Acquire)
    }
}

/// One gallery entry as the commerce platform holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntryView {
    pub id: String,
    pub file: Option<String>,
    pub label: Option<String>,
    pub position: Option<i64>,
    pub disabled: bool,
    pub roles: Vec<String>,
    /// `image` or `external-video` (Magento's media types).
    pub media_type: String,
    /// A video's player URL (`extension_attributes.video_content.video_url`).
    pub video_url: Option<String>,
}

/// One page of the commerce platform's products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    pub skus: Vec<Sku>,
    /// The platform's `total_count`: paging stops on it.
    pub total: u64,
}

/// Whether a sink accepts writes now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkState {
    Ready,
    /// Paused after a 401/403 (or a foreign 404), with the reason; a probe resumes it.
    Paused(String),
}

/// Where a sink keeps the prior state of entries made by hand, durably, before it changes them.
#[async_trait]
pub trait HandmadeLedger: Send + Sync {
    /// What is remembered for the product.
    async fn recorded(&self, sku: &Sku) -> Result<Vec<HandmadeRecord>, SinkError>;
    /// Remembers an entry's prior state (kept when one is already remembered).
    async fn remember(&self, sku: &Sku, record: &HandmadeRecord) -> Result<(), SinkError>;
    /// Forgets an entry once it is restored (or gone).
    async fn forget(&self, sku: &Sku, entry_id: &str) -> Result<(), SinkError>;
}

/// What a sink needs to know beside the operations.
pub struct ApplyContext<'a> {
    /// Whether assetsync's catalog holds the product (the built-in sink's notion of existence).
    pub product_known: bool,
    /// The visualization owner is the DAM: entries made by hand are hidden on products with a visible DAM
    /// entry. When false they are restored as they were.
    pub dam_owns_gallery: bool,
    pub ledger: &'a dyn HandmadeLedger,
    /// The work's lease: checked before each remote write.
    pub lease: &'a LeaseToken,
    /// An earlier attempt at this work was claimed and did not complete (its process may have died between a
    /// write and its commit): the platform's gallery is read even when there is nothing to change, so that
    /// what that attempt wrote is found.
    pub retried: bool,
}

/// A commerce platform that holds product galleries.
#[async_trait]
pub trait CommerceSink: Send + Sync + 'static {
    /// Short name for logs and health (`builtin`, `adobe-commerce`).
    fn kind(&self) -> &'static str;

    /// Whether the platform compares SKUs without case (`ABC` and `abc` name one product): the engine then
    /// keys products, claims and galleries by [`domain::Sku::case_folded`].
    fn sku_case_insensitive(&self) -> bool {
        false
    }

    /// Applies `ops` (from `applied` toward the desired gallery) to the product `sku`.
    async fn apply(
        &self,
        sku: &Sku,
        context: &ApplyContext<'_>,
        applied: &[AppliedEntry],
        ops: &[Operation],
    ) -> Result<SinkOutcome, SinkError>;

    /// Whether the sink accepts writes now.
    fn state(&self) -> SinkState {
        SinkState::Ready
    }

    /// One page (1-based) of the platform's products, for a full sync: the SKUs and the total; `None` when the
    /// platform has no catalog of its own to page through (the built-in catalog).
    async fn list_products(
        &self,
        _page: u32,
        _page_size: u32,
    ) -> Result<Option<ProductPage>, SinkError> {
        Ok(None)
    }

    /// The product's gallery as the platform holds it, for verification; `None` when assetsync itself holds
    /// the galleries (the built-in catalog) or the product does not exist.
    async fn remote_gallery(&self, _sku: &Sku) -> Result<Option<Vec<RemoteEntryView>>, SinkError> {
        Ok(None)
    }

    /// The product's gallery as store view `store` reads it, for verification; `None` as for
    /// [`Self::remote_gallery`], or when the platform has no such store view.
    async fn remote_gallery_in(
        &self,
        _sku: &Sku,
        _store: &domain::StoreView,
    ) -> Result<Option<Vec<RemoteEntryView>>, SinkError> {
        Ok(None)
    }

    /// Checks a paused sink's credentials with a harmless read; resumes it when they work again.
    async fn probe(&self) -> SinkState {
        self.state()
    }

    /// The calls made to the platform so far, by operation and status (none for the built-in catalog).
    fn calls(&self) -> Vec<((&'static str, u16), u64)> {
        Vec::new()
    }
}

/// The built-in catalog: assetsync holds the galleries; a product exists when it was added to the catalog.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinCatalog;

#[async_trait]
impl CommerceSink for BuiltinCatalog {
    fn kind(&self) -> &'static str {
        "builtin"
    }

    async fn apply(
        &self,
        _sku: &Sku,
        context: &ApplyContext<'_>,
        applied: &[AppliedEntry],
        ops: &[Operation],
    ) -> Result<SinkOutcome, SinkError> {
        context.lease.check()?;
        if !context.product_known {
            return Ok(SinkOutcome::ProductMissing);
        }
        Ok(SinkOutcome::Applied(apply_operations(applied, ops)))
    }
}
