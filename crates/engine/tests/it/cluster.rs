//! Two engines on one PostgreSQL schema, as two processes sharing a database: a gallery one applies is served
//! by the other's read cache within a second, a configuration change saved by one is in force in the other
//! within a second, and the SLA and health reports of either cover both.

use crate::fake_sink::FakeSink;
use connectors::aem::AuthorClient;
use connectors::ims::TokenProvider;
use domain::config::{IntegrationConfig, VisualizationOwner};
use domain::{AssetId, Sku};
use engine::{Engine, EngineSettings};
use sandbox::aem::{AemEmulator, AemSettings, NewAsset};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::testing::TestSchema;
use tokio::sync::watch;

const TOKEN: &str = "cluster-test-token";
const KEY: &str = "dGVzdC1rZXktb2YtdGhlLXBvc3RncmVzLWhhcm5lc3M=";
/// How long a change may take to reach the other process.
const WITHIN: Duration = Duration::from_secs(1);

struct Process {
    engine: Arc<Engine>,
    _shutdown: watch::Sender<bool>,
}

async fn start(url: &str, dam: &AemEmulator, sink: &Arc<FakeSink>) -> Process {
    let store = store::PostgresStore::open_with_key(
        url,
        Some(store::secrets::SecretKey::from_base64(KEY).unwrap()),
    )
    .await
    .unwrap();
    let author = AuthorClient::new(
        dam.url(),
        TokenProvider::static_token(TOKEN),
        Duration::from_secs(10),
    )
    .unwrap();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let settings = EngineSettings {
        delivery_origin: dam.url().to_owned(),
        poll: Duration::from_millis(20),
        ..EngineSettings::default()
    };
    let (engine, _handles) = Engine::start(
        Arc::new(store),
        author,
        sink.clone(),
        settings,
        IntegrationConfig::defaults("1", "2"),
        None,
        shutdown_rx,
    )
    .await
    .unwrap();
    Process {
        engine,
        _shutdown: shutdown,
    }
}

/// Polls `check` every 10 ms until it holds; fails after `limit`. Returns how long it took.
async fn within(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let begun = Instant::now();
    loop {
        if check().await {
            return begun.elapsed();
        }
        assert!(begun.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn served(engine: &Engine, sku: &Sku) -> Option<Value> {
    let bytes = engine.cache().get(sku)?;
    Some(serde_json::from_slice(&bytes).unwrap())
}

fn entry_count(engine: &Engine, sku: &Sku) -> usize {
    served(engine, sku).map_or(0, |v| v["entries"].as_array().map_or(0, Vec::len))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_database_stay_current() {
    let schema = TestSchema::create().await.unwrap();
    let dam = AemEmulator::start(
        AemSettings {
            program_id: "1".into(),
            environment_id: "2".into(),
            access_token: TOKEN.into(),
            recipient_client_id: "cluster-tests".into(),
        },
        0,
    )
    .await
    .unwrap();
    // One commerce platform, written by whichever process takes the work.
    let sink = Arc::new(FakeSink::default());
    // Both start before any work exists: each start releases every lease (one process per database so far).
    let a = start(&schema.url(), &dam, &sink).await;
    let b = start(&schema.url(), &dam, &sink).await;

    // Each sees the other in its reports (published every second).
    for process in [&a, &b] {
        within(
            Duration::from_secs(5),
            "both processes reported",
            async || process.engine.cluster_health().await.unwrap().processes == 2,
        )
        .await;
    }

    // A product added through A is served by B.
    let sku = Sku::parse("CLUSTER-1").unwrap();
    a.engine
        .add_product(&sku, &json!({ "source": "test" }))
        .await
        .unwrap();
    assert!(served(&a.engine, &sku).is_some());
    within(WITHIN, "B serves the product A added", async || {
        served(&b.engine, &sku).is_some()
    })
    .await;

    // A gallery applied by one process (whichever took the work) is served by the other within a second.
    let asset = dam
        .create_asset(NewAsset {
            metadata: serde_json::Map::from_iter([
                ("commerce:isCommerce".to_owned(), json!("Yes")),
                ("dam:status".to_owned(), json!("approved")),
                ("commerce:skus".to_owned(), json!(["CLUSTER-1"])),
                ("commerce:roles".to_owned(), json!(["image"])),
            ]),
            ..NewAsset::default()
        })
        .unwrap();
    let asset = AssetId::parse(&asset).unwrap();
    a.engine
        .ingest(store::NewEvent {
            event_id: "cluster-evt-1".into(),
            event_type: "aem.assets.asset.metadata_updated".into(),
            kind: domain::events::EventKind::AssetChanged,
            asset_id: Some(asset.clone()),
            received_ms: a.engine.now_ms(),
            occurred_ms: None,
        })
        .await
        .unwrap();
    within(
        Duration::from_secs(20),
        "a process applies the gallery",
        async || entry_count(&a.engine, &sku) == 1 || entry_count(&b.engine, &sku) == 1,
    )
    .await;
    within(
        WITHIN,
        "both processes serve the applied gallery",
        async || entry_count(&a.engine, &sku) == 1 && entry_count(&b.engine, &sku) == 1,
    )
    .await;
    assert_eq!(sink.writes_of(&sku), 1, "one process wrote it, once");
    // Either process's SLA report counts that write, whichever process made it (one process's own report
    // counts it in one of them only).
    let local = a
        .engine
        .sla()
        .report(a.engine.now_ms())
        .since_start
        .event_to_applied
        .count
        + b.engine
            .sla()
            .report(b.engine.now_ms())
            .since_start
            .event_to_applied
            .count;
    assert_eq!(local, 1);
    for process in [&a, &b] {
        within(
            Duration::from_secs(3),
            "the SLA covers both processes",
            async || {
                let sla = process.engine.cluster_sla().await.unwrap();
                sla.processes == 2 && sla.since_start.event_to_applied.count == 1
            },
        )
        .await;
    }

    // A configuration change saved through A is in force in B: B's cache is rebuilt under the new owner.
    a.engine
        .update_config(&json!({ "visualization_owner": "commerce" }))
        .await
        .unwrap();
    within(WITHIN, "B follows A's configuration change", async || {
        b.engine.config().visualization_owner == VisualizationOwner::Commerce
            && served(&b.engine, &sku).is_some_and(|v| v["entries"][0]["hidden"] == json!(true))
    })
    .await;

    // A removed product leaves both caches.
    b.engine.remove_product(&sku).await.unwrap();
    within(
        WITHIN,
        "A stops serving the product B removed",
        async || served(&a.engine, &sku).is_none(),
    )
    .await;

    // Either process's health report covers both, this one first.
    for process in [&a, &b] {
        assert_eq!(process.engine.cluster_sla().await.unwrap().processes, 2);
        let health = process.engine.cluster_health().await.unwrap();
        assert_eq!(health.processes, 2);
        assert_eq!(health.members.len(), 2);
        assert!(health.members[0].this_process);
        assert_eq!(health.members[0].process, process.engine.process_id());
        assert_ne!(health.members[1].process, process.engine.process_id());
    }
    drop(schema);
}
