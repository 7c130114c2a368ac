//! The pipeline: verified events are group-committed to the inbox ([`ingest`]), asset workers re-read each
//! asset from the DAM and store its desired links, SKU workers bring each product's gallery to the desired
//! state through the commerce sink ([`workers`]), and the read cache serves galleries from memory
//! ([`cache`]). Knows nothing of HTTP routing.
//!
//! Entry point: [`Engine::start`].

pub mod cache;
pub mod ingest;
pub mod workers;

use cache::GalleryCache;
use connectors::aem::AuthorClient;
use connectors::sink::{CommerceSink, SinkState};
use domain::{MatchSettings, Sku};
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::{Backlog, Store, StoreError};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub matching: MatchSettings,
    /// Where published URLs point (the delivery origin, or later the custom domain).
    pub public_delivery_origin: String,
    /// Concurrent DAM metadata reads.
    pub asset_concurrency: usize,
    /// Concurrent SKU writes (one at a time per SKU).
    pub sku_concurrency: usize,
    /// How long a claimed work item stays leased.
    pub lease: Duration,
    /// Fallback polling interval when no wake-up arrives.
    pub poll: Duration,
    /// Delay before re-reading an asset that answered 404 once.
    pub confirm_missing_after: Duration,
    /// When false, events are stored and assets evaluated, but nothing is written to commerce.
    pub sync_enabled: bool,
    /// How often a paused sink is probed to see whether its credentials work again.
    pub pause_probe: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            matching: MatchSettings::default(),
            public_delivery_origin: String::new(),
            asset_concurrency: 32,
            sku_concurrency: 64,
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(250),
            confirm_missing_after: Duration::from_millis(500),
            sync_enabled: true,
            pause_probe: Duration::from_secs(2),
        }
    }
}

/// The running pipeline, shared by the web layer and the workers.
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) dam: AuthorClient,
    pub(crate) sink: Arc<dyn CommerceSink>,
    pub(crate) settings: EngineSettings,
    pub(crate) cache: GalleryCache,
    pub(crate) assets_ready: Notify,
    pub(crate) skus_ready: Notify,
    /// When the paused sink was last probed (Unix ms).
    pub(crate) last_probe_ms: AtomicI64,
    ingest: ingest::IngestHandle,
}

/// Errors the engine reports to its callers.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the engine is shutting down")]
    ShuttingDown,
}

impl Engine {
    /// Loads the read cache, releases stale leases (embedded single-process mode), and starts the ingest
    /// writer and the workers. They stop when `shutdown` turns true.
    pub async fn start(
        store: Arc<dyn Store>,
        dam: AuthorClient,
        sink: Arc<dyn CommerceSink>,
        settings: EngineSettings,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(Arc<Self>, Vec<JoinHandle<()>>), EngineError> {
        store.release_all_leases().await?;
        let cache = GalleryCache::new(settings.public_delivery_origin.clone());
        for (sku, entries) in store.all_galleries().await? {
            cache.put(&sku, &entries);
        }
        let (ingest, ingest_rx) = ingest::channel();
        let engine = Arc::new(Self {
            store,
            dam,
            sink,
            settings,
            cache,
            assets_ready: Notify::new(),
            skus_ready: Notify::new(),
            last_probe_ms: AtomicI64::new(0),
            ingest,
        });
        let mut handles = vec![
            tokio::spawn(ingest::run_writer(
                engine.clone(),
                ingest_rx,
                shutdown.clone(),
            )),
            tokio::spawn(workers::run_asset_workers(engine.clone(), shutdown.clone())),
        ];
        if engine.settings.sync_enabled {
            handles.push(tokio::spawn(workers::run_sku_workers(
                engine.clone(),
                shutdown,
            )));
        } else {
            tracing::warn!(
                "synchronization is disabled: events are stored, nothing is written to commerce"
            );
        }
        Ok((engine, handles))
    }

    /// Stores a verified event durably (group commit) and returns once it is committed.
    pub async fn ingest(&self, event: store::NewEvent) -> Result<store::Recorded, EngineError> {
        self.ingest.submit(event).await
    }

    /// Adds a product to the built-in catalog; its waiting assets are attached right away.
    pub async fn add_product(&self, sku: &Sku) -> Result<bool, EngineError> {
        let created = self.store.upsert_product(sku, now_ms()).await?;
        self.cache.ensure(sku);
        self.skus_ready.notify_one();
        Ok(created)
    }

    /// Adds many products in one transaction.
    pub async fn add_products(&self, skus: &[Sku]) -> Result<u64, EngineError> {
        let created = self.store.upsert_products(skus, now_ms()).await?;
        for sku in skus {
            self.cache.ensure(sku);
        }
        self.skus_ready.notify_one();
        Ok(created)
    }

    /// The store, for read-only API queries.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The in-memory read cache.
    pub fn cache(&self) -> &GalleryCache {
        &self.cache
    }

    /// Queue depths and counters.
    pub async fn backlog(&self) -> Result<Backlog, EngineError> {
        Ok(self.store.backlog().await?)
    }

    /// The sink's kind (`builtin`, `adobe-commerce`).
    pub fn sink_kind(&self) -> &'static str {
        self.sink.kind()
    }

    /// Whether the sink accepts writes now (paused after a 401/403).
    pub fn sink_state(&self) -> SinkState {
        self.sink.state()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
