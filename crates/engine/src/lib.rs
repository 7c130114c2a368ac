//! The pipeline: verified events are group-committed to the inbox ([`ingest`]), asset workers re-read each
//! asset from the DAM and store its desired links, SKU workers bring each product's gallery to the desired
//! state through the commerce sink ([`workers`]), and the read cache serves galleries from memory
//! ([`cache`]). Knows nothing of HTTP routing.
//!
//! Entry point: [`Engine::start`].

pub mod accounts;
mod antientropy;
pub mod cache;
pub mod clock;
pub mod cluster;
mod completions;
pub mod console;
pub mod dam_guard;
mod desired;
mod duties;
pub mod edge;
mod fullsync;
mod group_commit;
mod ingest;
mod journal;
mod leases;
pub mod manual;
pub mod matching;
pub mod product_view;
mod settings;
pub mod sla;
pub mod telemetry;
pub mod verify;
pub mod workers;

use cache::{CacheView, GalleryCache};
use connectors::aem::AuthorClient;
use connectors::sink::{CommerceSink, SinkState};
use domain::Sku;
use domain::config::{FieldChange, FieldErrors, IntegrationConfig, VisualizationOwner};
use serde_json::Value;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use store::{Backlog, Duty, Store, StoreError};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use settings::{BUILTIN_DRAIN_CONCURRENCY, EngineSettings, builtin_storing_concurrency};

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
    /// Why the DAM source is paused (credentials refused, or many assets not found), `None` while it works.
    pub(crate) dam_paused: RwLock<Option<dam_guard::DamPause>>,
    /// The different assets that answered 404/403 lately.
    pub(crate) dam_missing: dam_guard::MissingWindow,
    /// Wakes the product-to-asset call workers.
    pub(crate) product_calls_ready: Notify,
    /// When the paused DAM was last probed (Unix ms).
    pub(crate) last_dam_probe_ms: AtomicI64,
    /// The integration's configuration now (read by every work item when it is applied).
    config: RwLock<Arc<IntegrationConfig>>,
    /// The values fields return to when set to `null` (the TOML file's).
    config_defaults: IntegrationConfig,
    /// Serialises configuration changes.
    config_changes: tokio::sync::Mutex<()>,
    /// Wakes the full-sync runner.
    pub(crate) full_sync_requested: Notify,
    /// Latency histograms for `/api/v1/sla`.
    sla: sla::SlaRecorder,
    /// Events counted for `/metrics` and `/healthz`.
    event_counters: telemetry::EventCounters,
    /// Work items being processed now (for `/healthz`).
    pub(crate) in_flight: telemetry::InFlight,
    /// The id of the full sync that began last in this process (0: none yet).
    pub(crate) latest_full_sync: AtomicI64,
    /// Where a running full sync is, for the SKU workers' width.
    pub(crate) bulk_stage: workers::StageCell,
    ingest: group_commit::Submitter<store::NewEvent, store::Recorded>,
    /// Asset work outcomes, group-committed.
    pub(crate) asset_completions: group_commit::Submitter<
        (
            store::AssetWork,
            store::AssetOutcome,
            connectors::sink::LeaseToken,
        ),
        (),
    >,
    /// SKU work outcomes, group-committed.
    pub(crate) sku_completions: group_commit::Submitter<
        (
            store::SkuWork,
            store::SkuOutcome,
            connectors::sink::LeaseToken,
        ),
        (),
    >,
    /// The custom matcher's client and the queue of new products for it.
    matching: matching::Matching,
    /// The leases this process's workers hold, renewed while their work runs.
    pub(crate) leases: leases::Leases,
    /// This process among the others sharing the database (their gallery and configuration changes, reports).
    pub(crate) cluster: cluster::ClusterState,
}

/// Errors the engine reports to its callers.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the engine is shutting down")]
    ShuttingDown,
    #[error("invalid configuration")]
    InvalidConfig(FieldErrors),
    #[error("{0}")]
    Remote(String),
    #[error("{0}")]
    NotFound(String),
    /// The request does not fit the matching rule in force (or its input does not parse under it).
    #[error("{0}")]
    WrongRule(String),
    /// The product is not in the catalog.
    #[error("{0}")]
    ProductNotFound(String),
    /// The asset cannot be linked by hand: the DAM does not have it, it is not approved, or its metadata or
    /// the link's position breaks the contract.
    #[error("{0}")]
    NotLinkable(String),
    /// The product has no manual link to the asset.
    #[error("{0}")]
    ManualLinkNotFound(String),
    /// A search cursor the DAM refused (not one a page gave, or expired).
    #[error("{0}")]
    InvalidCursor(String),
}

/// What a saved configuration change did.
#[derive(Debug, Clone)]
pub struct ConfigUpdate {
    pub config: Arc<IntegrationConfig>,
    pub changes: Vec<FieldChange>,
    /// The full sync a change of what matches started (or joined, when one was waiting).
    pub full_sync: Option<i64>,
}

impl Engine {
    /// Loads the read cache, releases stale leases (when the database is this process's alone), and starts
    /// the ingest writer, the workers, and the duties one process of a cluster performs at a time (see
    /// [`duties`]). They stop when `shutdown` turns true.
    pub async fn start(
        store: Arc<dyn Store>,
        dam: AuthorClient,
        sink: Arc<dyn CommerceSink>,
        settings: EngineSettings,
        initial_config: IntegrationConfig,
        journal: Option<connectors::journal::JournalClient>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(Arc<Self>, Vec<JoinHandle<()>>), EngineError> {
        // Leases found in a database of one process were left by its earlier run; in a shared database
        // they may be another process's, and expire if it is gone.
        if store.exclusive().await {
            store.release_all_leases().await?;
        }
        // Before the configuration and the galleries are loaded: what changes after is followed.
        let cluster = cluster::ClusterState::begin(&store).await?;
        let config = store
            .integration_config()
            .await?
            .unwrap_or_else(|| initial_config.clone());
        let cache = GalleryCache::new(
            view_of(&config, &settings.delivery_origin),
            sink.sku_case_insensitive(),
        );
        for (sku, entries) in store.all_galleries().await? {
            cache.put(&sku, &entries);
        }
        let (ingest, ingest_rx) = group_commit::channel();
        let (asset_completions, completions_rx) = group_commit::channel();
        let (sku_completions, sku_completions_rx) = group_commit::channel();
        let matching = matching::Matching::default();
        let settings_clock = settings.clock.clone();
        let engine = Arc::new(Self {
            store,
            dam,
            sink,
            settings,
            cache,
            assets_ready: Notify::new(),
            skus_ready: Notify::new(),
            last_probe_ms: AtomicI64::new(0),
            dam_paused: RwLock::new(None),
            dam_missing: dam_guard::MissingWindow::default(),
            product_calls_ready: Notify::new(),
            last_dam_probe_ms: AtomicI64::new(0),
            config: RwLock::new(Arc::new(config)),
            config_defaults: initial_config,
            config_changes: tokio::sync::Mutex::new(()),
            full_sync_requested: Notify::new(),
            sla: sla::SlaRecorder::default(),
            event_counters: telemetry::EventCounters::default(),
            in_flight: telemetry::InFlight::default(),
            latest_full_sync: AtomicI64::new(0),
            bulk_stage: workers::StageCell::default(),
            ingest,
            asset_completions,
            sku_completions,
            matching,
            leases: leases::Leases::new(settings_clock),
            cluster,
        });
        let mut handles = vec![
            tokio::spawn(ingest::run_writer(
                engine.clone(),
                ingest_rx,
                shutdown.clone(),
            )),
            tokio::spawn(completions::run_asset_completions(
                engine.clone(),
                completions_rx,
                shutdown.clone(),
            )),
            tokio::spawn(completions::run_sku_completions(
                engine.clone(),
                sku_completions_rx,
                shutdown.clone(),
            )),
            tokio::spawn(leases::run_renewals(engine.clone(), shutdown.clone())),
            tokio::spawn(workers::run_asset_workers(engine.clone(), shutdown.clone())),
            tokio::spawn(workers::run_sku_workers(engine.clone(), shutdown.clone())),
            tokio::spawn(duties::lead(
                engine.clone(),
                Duty::FullSync,
                shutdown.clone(),
                fullsync::run_full_syncs,
            )),
            tokio::spawn(duties::lead(
                engine.clone(),
                Duty::Pruner,
                shutdown.clone(),
                run_pruner,
            )),
            tokio::spawn(duties::lead(
                engine.clone(),
                Duty::AntiEntropy,
                shutdown.clone(),
                antientropy::run_anti_entropy,
            )),
            tokio::spawn(duties::forward_wake_ups(engine.clone(), shutdown.clone())),
            tokio::spawn(matching::run_product_calls(
                engine.clone(),
                shutdown.clone(),
            )),
            tokio::spawn(cluster::run(engine.clone(), shutdown.clone())),
        ];
        if let Some(journal) = journal {
            handles.push(tokio::spawn(duties::lead(
                engine.clone(),
                Duty::Journal,
                shutdown,
                move |engine, stop| journal::run_journal(engine, journal.clone(), stop),
            )));
        }
        if !engine.config().sync_enabled {
            tracing::warn!(
                "synchronization is disabled: events are stored, nothing is written to commerce"
            );
        }
        Ok((engine, handles))
    }

    /// The admin console's accounts, on this engine's store and clock.
    pub fn users(&self, policy: accounts::SessionPolicy) -> accounts::Users {
        let store: Arc<dyn store::Accounts> = self.store.clone();
        accounts::Users::new(store, self.settings.clock.clone(), policy)
    }

    /// The engine's time now (Unix ms), from [`EngineSettings::clock`].
    pub fn now_ms(&self) -> i64 {
        self.settings.clock.now_ms()
    }

    /// The configuration now.
    pub fn config(&self) -> Arc<IntegrationConfig> {
        self.config
            .read()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |c| c.clone())
    }

    /// Validates and saves a configuration change, then applies it: switching sync on wakes the writers, an
    /// owner or domain change rebuilds the read cache from stored state, a change of what matches re-reads
    /// every known asset.
    pub async fn update_config(
        &self,
        change: &serde_json::Value,
    ) -> Result<ConfigUpdate, EngineError> {
        let _serial = self.config_changes.lock().await;
        // Change what is saved: another process may have saved a change this one has not followed yet.
        self.follow_config_locked().await?;
        let current = self.config();
        let (next, changes) = current
            .apply_change(change, &self.config_defaults, self.settings.matcher_urls)
            .map_err(EngineError::InvalidConfig)?;
        // The change and the work it starts are committed together: a crash cannot keep one without the other.
        let follow_ups = store::ConfigFollowUps {
            full_sync: next
                .matching_differs(&current)
                .then(|| "configuration: what matches changed".to_owned()),
            // Applied from stored state: no DAM re-read. A custom domain is in each video's player URL.
            requeue_galleries: next.visualization_owner != current.visualization_owner
                || next.asset_custom_domain != current.asset_custom_domain,
        };
        let full_sync = self
            .store
            .save_config_with_follow_ups(&next, &changes, &follow_ups, self.now_ms())
            .await?;
        let next = Arc::new(next);
        if full_sync.is_some() {
            self.full_sync_requested.notify_one();
        }
        self.config_applied(&current, next.clone()).await?;
        Ok(ConfigUpdate {
            config: next,
            changes,
            full_sync,
        })
    }

    /// Puts a saved configuration in force in this process (saved here, or by another process): every work
    /// item applied from now reads it, an owner or domain change rebuilds the read cache from stored state, and
    /// sync switched on wakes the writers.
    pub(crate) async fn config_applied(
        &self,
        previous: &IntegrationConfig,
        next: Arc<IntegrationConfig>,
    ) -> Result<(), EngineError> {
        if let Ok(mut slot) = self.config.write() {
            *slot = next.clone();
        }
        if next.visualization_owner != previous.visualization_owner
            || next.asset_custom_domain != previous.asset_custom_domain
        {
            self.cache
                .set_view(view_of(&next, &self.settings.delivery_origin));
            for (sku, entries) in self.store.all_galleries().await? {
                self.cache.put(&sku, &entries);
            }
        }
        if next.sync_enabled {
            self.skus_ready.notify_one();
        }
        Ok(())
    }

    /// Asks for a full sync; returns its id (the waiting one when one waits already).
    pub async fn request_full_sync(&self, reason: &str) -> Result<i64, EngineError> {
        let id = self.store.request_full_sync(reason, self.now_ms()).await?;
        self.full_sync_requested.notify_one();
        Ok(id)
    }

    /// A `Retry-After` (ms) cut to the configured longest one.
    pub(crate) fn cap_retry_after(&self, retry_after_ms: u64) -> u64 {
        retry_after_ms
            .min(u64::try_from(self.settings.max_retry_after.as_millis()).unwrap_or(u64::MAX))
    }

    /// The SLA recorder (event → applied, webhook acknowledgements).
    pub fn sla(&self) -> &sla::SlaRecorder {
        &self.sla
    }

    /// The calls made to the commerce platform, by operation and status.
    pub fn sink_calls(&self) -> Vec<((&'static str, u16), u64)> {
        self.sink.calls()
    }

    /// The full sync that began last in this process, if any.
    pub async fn latest_full_sync(&self) -> Result<Option<store::FullSync>, EngineError> {
        match self
            .latest_full_sync
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => Ok(None),
            id => self.full_sync(id).await,
        }
    }

    /// Events by source, kind and outcome.
    pub fn event_counters(&self) -> &telemetry::EventCounters {
        &self.event_counters
    }

    /// Work items this process's workers are processing now (memory only).
    pub fn in_flight(&self) -> &telemetry::InFlight {
        &self.in_flight
    }

    /// The database's size in bytes.
    pub async fn database_bytes(&self) -> Result<i64, EngineError> {
        Ok(self.store.database_bytes().await?)
    }

    /// Work that was given up, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<store::DeadLetter>, EngineError> {
        Ok(self.store.dead_letters().await?)
    }

    /// Queues dead letters again (one, or all with `None`). Returns how many.
    pub async fn replay_dead_letters(&self, id: Option<i64>) -> Result<u64, EngineError> {
        let replayed = self.store.replay_dead_letters(id, self.now_ms()).await?;
        self.skus_ready.notify_one();
        Ok(replayed)
    }

    /// One full sync's state and progress.
    pub async fn full_sync(&self, id: i64) -> Result<Option<store::FullSync>, EngineError> {
        Ok(self.store.full_sync(id).await?)
    }

    /// The newest configuration changes, newest first.
    pub async fn config_history(
        &self,
        limit: i64,
    ) -> Result<Vec<store::ConfigChange>, EngineError> {
        Ok(self.store.config_history(limit).await?)
    }

    /// Stores a verified event durably (group commit) and returns once it is committed.
    pub async fn ingest(&self, event: store::NewEvent) -> Result<store::Recorded, EngineError> {
        self.ingest
            .submit(event)
            .await?
            .map_err(|message| EngineError::Store(StoreError::Corrupt(message)))
    }

    /// Adds a product to the built-in catalog; its waiting assets are attached right away (and, under
    /// custom_match, a new product's product-to-asset call is queued with `event_data`, in the same transaction).
    pub async fn add_product(&self, sku: &Sku, event_data: &Value) -> Result<bool, EngineError> {
        let created = !self
            .add_products_from(std::slice::from_ref(sku), event_data)
            .await?
            .is_empty();
        if !created {
            // Known already: the caller says it exists now (it may have been missing on the platform), so
            // a claimed product's gallery is written again.
            self.store
                .upsert_product(&self.product_key(sku), self.now_ms())
                .await?;
            self.skus_ready.notify_one();
        }
        Ok(created)
    }

    /// A product was deleted on the commerce side: it leaves the catalog and its links are dropped.
    pub async fn remove_product(&self, sku: &Sku) -> Result<bool, EngineError> {
        let sku = &self.product_key(sku);
        let removed = self.store.remove_product(sku, self.now_ms()).await?;
        self.cache.remove(sku);
        self.skus_ready.notify_one();
        Ok(removed)
    }

    /// Adds many products in one transaction. Returns how many were new.
    pub async fn add_products(&self, skus: &[Sku]) -> Result<usize, EngineError> {
        let created = self
            .add_products_from(skus, &serde_json::json!({ "source": "import" }))
            .await?;
        Ok(created.len())
    }

    /// Adds products (and queues their product-to-asset calls) in one transaction, then serves them.
    pub(crate) async fn add_products_from(
        &self,
        skus: &[Sku],
        event_data: &Value,
    ) -> Result<Vec<Sku>, EngineError> {
        let skus = &self.product_keys(skus.to_vec());
        let call = self.product_call_data(event_data);
        let created = self
            .store
            .add_products(skus, call.as_ref(), self.now_ms())
            .await?;
        self.products_added(skus, &created);
        Ok(created)
    }

    /// After products were committed: each is served (an empty gallery until it has entries), and the
    /// workers are woken.
    pub(crate) fn products_added(&self, skus: &[Sku], created: &[Sku]) {
        for sku in skus {
            self.cache.ensure(sku);
        }
        self.skus_ready.notify_one();
        if !created.is_empty() {
            self.product_calls_ready.notify_one();
        }
    }

    /// Records a commerce product event and its effect in one transaction (so a failure answered 503 and the
    /// redelivery cannot lose it), then serves the change.
    pub async fn ingest_product_event(
        &self,
        event: store::NewEvent,
        change: store::ProductChange,
        event_data: &Value,
    ) -> Result<store::Recorded, EngineError> {
        let change = match change {
            store::ProductChange::Saved(sku) => store::ProductChange::Saved(self.product_key(&sku)),
            store::ProductChange::Deleted(sku) => {
                store::ProductChange::Deleted(self.product_key(&sku))
            }
        };
        let call = match &change {
            store::ProductChange::Saved(_) => self.product_call_data(event_data),
            store::ProductChange::Deleted(_) => None,
        };
        let recorded = self
            .store
            .record_product_event(&event, &change, call.as_ref())
            .await?;
        match (&change, recorded) {
            (_, store::ProductEventRecorded::Duplicate) => return Ok(store::Recorded::Duplicate),
            (store::ProductChange::Saved(sku), store::ProductEventRecorded::Saved { created }) => {
                let created: &[Sku] = if created {
                    std::slice::from_ref(sku)
                } else {
                    &[]
                };
                self.products_added(std::slice::from_ref(sku), created);
            }
            (store::ProductChange::Deleted(sku), _) => {
                self.cache.remove(sku);
                self.skus_ready.notify_one();
            }
            _ => {}
        }
        Ok(store::Recorded::Stored)
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

    /// The key assetsync keeps a product under: the SKU itself, or its case-folded form when the sink
    /// compares SKUs without case (Magento), so that `ABC` and `abc` are one product with one gallery.
    pub fn product_key(&self, sku: &Sku) -> Sku {
        if self.sink.sku_case_insensitive() {
            sku.case_folded()
        } else {
            sku.clone()
        }
    }

    /// [`Self::product_key`] of each SKU, without repeats.
    pub(crate) fn product_keys(&self, skus: Vec<Sku>) -> Vec<Sku> {
        if !self.sink.sku_case_insensitive() {
            return skus;
        }
        let mut seen = std::collections::HashSet::with_capacity(skus.len());
        skus.iter()
            .map(Sku::case_folded)
            .filter(|key| seen.insert(key.clone()))
            .collect()
    }

    /// The sink's kind (`builtin`, `adobe-commerce`).
    pub fn sink_kind(&self) -> &'static str {
        self.sink.kind()
    }

    /// Whether the sink accepts writes now (paused after a 401/403).
    pub fn sink_state(&self) -> SinkState {
        self.sink.state()
    }

    /// Why DAM reads are paused (AEM or IMS refused the credentials, even after a token refresh, or AEM
    /// answered "not found" for many different assets at once); `None` while they work. Work waits without
    /// counting attempts, and one read probes every `pause_probe`.
    pub fn dam_paused(&self) -> Option<String> {
        self.dam_pause().map(|pause| pause.reason().to_owned())
    }

    pub(crate) fn dam_pause(&self) -> Option<dam_guard::DamPause> {
        self.dam_paused
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_dam_paused(&self, pause: Option<dam_guard::DamPause>) {
        if pause.is_none() && self.dam_pause().is_none() {
            return;
        }
        let mut paused = self
            .dam_paused
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (&*paused, &pause) {
            (None, Some(pause)) => tracing::error!(reason = pause.reason(), "DAM reads paused"),
            (Some(_), None) => tracing::info!("DAM reads resumed"),
            _ => {}
        }
        *paused = pause;
    }
}

/// Prunes what the retention allows, at start-up and then every hour.
async fn run_pruner(engine: Arc<Engine>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let retention = i64::try_from(engine.settings.retention.as_millis()).unwrap_or(i64::MAX);
        match engine
            .store
            .prune(engine.now_ms().saturating_sub(retention))
            .await
        {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "pruned rows past the retention"),
            Err(error) => tracing::warn!(%error, "pruning failed; will retry"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// How the read cache presents entries under a configuration.
fn view_of(config: &IntegrationConfig, delivery_origin: &str) -> CacheView {
    CacheView {
        origin: config
            .asset_custom_domain
            .clone()
            .unwrap_or_else(|| delivery_origin.to_owned()),
        hidden: config.visualization_owner == VisualizationOwner::Commerce,
    }
}

/// Milliseconds since the Unix epoch, from the system clock, for callers without an engine. The engine itself
/// reads [`Engine::now_ms`] (its [`EngineSettings::clock`]).
pub fn now_ms() -> i64 {
    clock::Clock::now_ms(&clock::SystemClock)
}
