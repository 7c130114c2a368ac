//! One engine in this process: a temporary SQLite store, the sandbox's AEM emulator as the DAM, a
//! [`FakeSink`] and a [`ManualClock`]. Waits are bounded polls on observable state, never bare sleeps.

use crate::fake_sink::FakeSink;
use connectors::aem::AuthorClient;
use connectors::ims::TokenProvider;
use domain::config::IntegrationConfig;
use domain::events::EventKind;
use domain::{AppliedEntry, AssetId, Sku};
use engine::clock::ManualClock;
use engine::{Engine, EngineSettings};
use sandbox::aem::{AemEmulator, AemSettings, NewAsset};
use serde_json::{Map, Value, json};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store::prelude::*;
use store::{NewEvent, ProductStatus, QueuedWork, SyncStatus};
use tempfile::TempDir;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const ACCESS_TOKEN: &str = "engine-test-token";
/// The manual clock starts here (2026-01-01T00:00:00Z).
pub const START_MS: i64 = 1_767_225_600_000;
/// How long a bounded wait polls before it fails.
const WAIT: Duration = Duration::from_secs(20);

pub struct Harness {
    _dir: TempDir,
    pub store: Arc<store::SqliteStore>,
    pub dam: AemEmulator,
    pub sink: Arc<FakeSink>,
    pub clock: ManualClock,
    pub settings: EngineSettings,
    events: AtomicU64,
    running: Option<Running>,
}

struct Running {
    engine: Arc<Engine>,
    shutdown: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Harness {
    /// Everything but the engine, which [`Self::start`] starts.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("x.db").display());
        let store = Arc::new(store::SqliteStore::open(&url).await.unwrap());
        let dam = AemEmulator::start(
            AemSettings {
                program_id: "1".into(),
                environment_id: "2".into(),
                access_token: ACCESS_TOKEN.into(),
                recipient_client_id: "engine-tests".into(),
            },
            0,
        )
        .await
        .unwrap();
        let clock = ManualClock::new(START_MS);
        let settings = EngineSettings {
            delivery_origin: dam.url().to_owned(),
            // Quick passes: every wait below observes state, so a pass missed costs only time.
            poll: Duration::from_millis(10),
            clock: Arc::new(clock.clone()),
            ..EngineSettings::default()
        };
        Self {
            _dir: dir,
            store,
            dam,
            sink: Arc::new(FakeSink::default()),
            clock,
            settings,
            events: AtomicU64::new(0),
            running: None,
        }
    }

    /// A harness whose engine runs.
    pub async fn started() -> Self {
        let mut harness = Self::new().await;
        harness.start().await;
        harness
    }

    pub async fn start(&mut self) {
        let author = AuthorClient::new(
            self.dam.url(),
            TokenProvider::static_token(ACCESS_TOKEN),
            Duration::from_secs(10),
        )
        .unwrap();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (engine, handles) = Engine::start(
            self.store.clone(),
            author,
            self.sink.clone(),
            self.settings.clone(),
            IntegrationConfig::defaults("1", "2"),
            None,
            shutdown_rx,
        )
        .await
        .unwrap();
        self.running = Some(Running {
            engine,
            shutdown,
            handles,
        });
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self
            .running
            .as_ref()
            .expect("the engine is not started")
            .engine
    }

    pub fn now(&self) -> i64 {
        engine::clock::Clock::now_ms(&self.clock)
    }

    /// An approved commerce asset in the DAM with these extra metadata fields.
    pub fn approved_asset(&self, metadata: Value) -> AssetId {
        let Value::Object(mut metadata) = metadata else {
            panic!("metadata must be an object")
        };
        metadata.insert("commerce:isCommerce".into(), json!("Yes"));
        metadata.insert("dam:status".into(), json!("approved"));
        let id = self
            .dam
            .create_asset(NewAsset {
                metadata,
                ..NewAsset::default()
            })
            .unwrap();
        AssetId::parse(&id).unwrap()
    }

    /// Changes an asset's metadata in the DAM (no event reaches the engine: see [`Self::hint`]).
    pub fn update(&self, asset: &AssetId, fields: Value) {
        let Value::Object(fields) = fields else {
            panic!("fields must be an object")
        };
        self.dam
            .update_metadata(asset.as_str(), Map::from_iter(fields))
            .unwrap();
    }

    /// An event saying `asset` changed, received now (by the manual clock).
    pub fn event(&self, asset: &AssetId) -> NewEvent {
        let n = self.events.fetch_add(1, Ordering::SeqCst);
        NewEvent {
            event_id: format!("evt-{n}"),
            event_type: "aem.assets.asset.metadata_updated".into(),
            kind: EventKind::AssetChanged,
            asset_id: Some(asset.clone()),
            received_ms: self.now(),
            occurred_ms: None,
        }
    }

    /// Delivers an event for `asset` through the engine's ingest (as the webhook does).
    pub async fn hint(&self, asset: &AssetId) {
        self.engine().ingest(self.event(asset)).await.unwrap();
    }

    /// Adds a product to the catalog through the engine.
    pub async fn add_product(&self, sku: &Sku) {
        self.engine()
            .add_product(sku, &json!({ "source": "test" }))
            .await
            .unwrap();
    }

    pub async fn product_status(&self, sku: &Sku) -> ProductStatus {
        self.store.product_status(sku).await.unwrap().unwrap()
    }

    /// The SKU's queued gallery work, `None` when none is queued.
    pub async fn gallery_work(&self, sku: &Sku) -> Option<QueuedWork> {
        self.product_status(sku).await.gallery_work
    }

    /// The stored gallery as (asset, position, roles), in position order.
    pub async fn gallery(&self, sku: &Sku) -> Vec<(AssetId, u32, Vec<String>)> {
        let entries = self.store.gallery(sku).await.unwrap().unwrap_or_default();
        summary(&entries)
    }

    pub async fn asset_status(&self, asset: &AssetId) -> Option<SyncStatus> {
        self.store
            .asset_status(asset)
            .await
            .unwrap()
            .map(|s| s.status)
    }

    /// Waits until the SKU workers made `passes` more passes (each reads the sink's state before it claims).
    pub async fn worker_passes(&self, passes: u64) {
        let target = self.sink.state_reads() + passes;
        self.wait_until("SKU worker passes", || async {
            self.sink.state_reads() >= target
        })
        .await;
    }

    /// Polls `ready` until it holds; fails the test after a bounded wait.
    pub async fn wait_until<F, Fut>(&self, what: &str, mut ready: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + WAIT;
        while !ready().await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The gallery the engine serves from its read cache, as (asset, position, roles) in position order.
    pub fn served(&self, sku: &Sku) -> Vec<(AssetId, u32, Vec<String>)> {
        let Some(bytes) = self.engine().cache().get(sku) else {
            return Vec::new();
        };
        let media: Value = serde_json::from_slice(&bytes).unwrap();
        let mut rows: Vec<_> = media["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    AssetId::parse(e["asset_id"].as_str().unwrap()).unwrap(),
                    u32::try_from(e["position"].as_u64().unwrap()).unwrap(),
                    e["roles"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect(),
                )
            })
            .collect();
        rows.sort_by_key(|(_, position, _)| *position);
        rows
    }

    /// Waits until the SKU's gallery is stored exactly as `expected` and no gallery work is queued; then
    /// checks that the engine serves it and the sink holds it.
    pub async fn wait_for_gallery(&self, sku: &Sku, expected: &[(AssetId, u32, Vec<String>)]) {
        let deadline = Instant::now() + WAIT;
        while self.gallery(sku).await != expected || self.gallery_work(sku).await.is_some() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the gallery {expected:?}: stored {:?}, work {:?}, sink calls {:?}, now {}",
                self.gallery(sku).await,
                self.gallery_work(sku).await,
                self.sink.calls(),
                self.now(),
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.wait_until("the served gallery", || async {
            self.served(sku) == expected
        })
        .await;
        assert_eq!(
            summary(&self.sink.gallery(sku)),
            expected,
            "the sink's gallery"
        );
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown.send(true);
            for handle in running.handles {
                handle.abort();
            }
        }
    }
}

/// Entries as (asset, position, roles), in position order.
pub fn summary(entries: &[AppliedEntry]) -> Vec<(AssetId, u32, Vec<String>)> {
    let mut rows: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.entry.asset_id.clone(),
                e.entry.position,
                e.entry
                    .roles
                    .iter()
                    .map(|r| r.as_str().to_owned())
                    .collect(),
            )
        })
        .collect();
    rows.sort_by_key(|(_, position, _)| *position);
    rows
}

pub fn sku(raw: &str) -> Sku {
    Sku::parse(raw).unwrap()
}

/// The expected row of one entry.
pub fn row(asset: &AssetId, position: u32, roles: &[&str]) -> (AssetId, u32, Vec<String>) {
    (
        asset.clone(),
        position,
        roles.iter().map(|r| (*r).to_owned()).collect(),
    )
}
