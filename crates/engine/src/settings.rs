//! How the engine runs: [`EngineSettings`].

use crate::{clock, dam_guard};
use domain::config::UrlPolicy;
use std::sync::Arc;
use std::time::Duration;

/// SKUs in flight while a full sync drains into the built-in catalog ([`EngineSettings::drain_concurrency`]):
/// enough to keep the database's writer busy while each waits for its claim, its read and its commit.
pub const BUILTIN_DRAIN_CONCURRENCY: usize = 256;

/// The part of `sku_concurrency` that writes into the built-in catalog while a full sync stores its pages
/// ([`EngineSettings::storing_concurrency`]): a quarter.
pub fn builtin_storing_concurrency(sku_concurrency: usize) -> usize {
    (sku_concurrency / 4).max(1)
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The delivery origin: where published URLs point unless a custom domain is configured.
    pub delivery_origin: String,
    /// Concurrent DAM metadata reads.
    pub asset_concurrency: usize,
    /// Concurrent SKU writes (one at a time per SKU).
    pub sku_concurrency: usize,
    /// Concurrent SKU writes while a full sync stores its pages: fewer lets its SKU work coalesce and leaves
    /// the database's writer to the pages (the built-in catalog, whose writes are that writer's); a
    /// platform's sink keeps `sku_concurrency`. See `workers/width.rs`.
    pub storing_concurrency: usize,
    /// Concurrent SKU writes while a full sync's applying phase drains the work its pages queued (no page is
    /// left to coalesce with it): the built-in catalog, which has no platform to spare, takes as many as the
    /// database's writer keeps up with; a platform's sink keeps `sku_concurrency`.
    pub drain_concurrency: usize,
    /// How long a claimed work item stays leased (renewed every third of it while the work runs).
    pub lease: Duration,
    /// The longest `Retry-After` honoured as given; longer ones are cut to it.
    pub max_retry_after: Duration,
    /// Fallback polling interval when no wake-up arrives.
    pub poll: Duration,
    /// Delay before re-reading an asset that answered 404 once.
    pub confirm_missing_after: Duration,
    /// How often a paused sink is probed to see whether its credentials work again.
    pub pause_probe: Duration,
    /// Attempts at a SKU's work before it goes to the dead letters.
    pub max_attempts: u32,
    /// SKUs linked per asset at most (absurd metadata is capped, with a warning).
    pub max_skus_per_asset: usize,
    /// How long events, finished syncs and statuses of unlinked assets are kept.
    pub retention: Duration,
    /// How often the anti-entropy pass runs.
    pub anti_entropy: Duration,
    /// Time-out of one custom matcher call.
    pub matcher_timeout: Duration,
    /// Whether matcher and token URLs may be plain http (`allow_insecure_matcher_urls`).
    pub matcher_urls: UrlPolicy,
    /// How many different assets may answer 404/403 within how long before DAM reads pause.
    pub missing_limit: dam_guard::MissingLimit,
    /// Where the engine reads the time (every timestamp it stores or compares); the system clock by default.
    pub clock: Arc<dyn clock::Clock>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            delivery_origin: String::new(),
            asset_concurrency: 64,
            sku_concurrency: 64,
            storing_concurrency: 64,
            drain_concurrency: 64,
            lease: Duration::from_secs(60),
            max_retry_after: Duration::from_millis(domain::retry::MAX_RETRY_AFTER_MS),
            poll: Duration::from_millis(250),
            confirm_missing_after: Duration::from_millis(500),
            pause_probe: Duration::from_secs(2),
            max_attempts: domain::retry::DEFAULT_MAX_ATTEMPTS,
            max_skus_per_asset: 1_000,
            retention: Duration::from_secs(8 * 24 * 3600),
            anti_entropy: Duration::from_secs(600),
            matcher_timeout: Duration::from_secs(10),
            matcher_urls: UrlPolicy::HttpsOnly,
            missing_limit: dam_guard::MissingLimit::default(),
            clock: clock::system(),
        }
    }
}
