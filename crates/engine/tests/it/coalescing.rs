//! Coalescing: many hints for one asset make one DAM read, and many assets of one product make few writes.

use crate::fake_sink::Ended;
use crate::harness::{Harness, row, sku};
use serde_json::json;
use store::SyncStatus;
use store::prelude::*;

const ASSETS: u32 = 12;
const EVENTS_PER_ASSET: usize = 5;

/// Before the workers run, 12 assets of one product each get 5 events. Each asset is read from the DAM
/// once. The product's first write is held in the sink until every asset was read: the SKU's work, bumped
/// by each asset meanwhile, then runs once more at most, so at most two writes reach the sink, and the
/// last one holds every asset at its position. Later, 5 more events for one asset, queued while the
/// workers cannot take them yet (the engine's clock has not reached them), make one more read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_events_make_one_read_per_asset_and_few_writes() {
    let mut h = Harness::new().await;
    let product = sku("C-1");
    let assets: Vec<_> = (1..=ASSETS)
        .map(|position| {
            h.approved_asset(json!({
                "commerce:skus": ["C-1"],
                "commerce:positions": [position],
            }))
        })
        .collect();
    // The backlog a restart finds: the product, and every event, committed before the engine starts.
    h.store
        .add_products(std::slice::from_ref(&product), None, h.now())
        .await
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..EVENTS_PER_ASSET {
        events.extend(assets.iter().map(|asset| h.event(asset)));
    }
    h.store.record_events(&events).await.unwrap();
    h.sink.hold(&product);
    h.start().await;

    h.wait_until("the first write to reach the sink", || async {
        h.sink.is_held(0)
    })
    .await;
    h.wait_until("every asset to be read", || async {
        h.engine().backlog().await.unwrap().asset_work == 0
    })
    .await;
    h.sink.stop_holding(&product);
    let expected: Vec<_> = assets
        .iter()
        .zip(1..)
        .map(|(asset, position)| row(asset, position, &[]))
        .collect();
    h.wait_for_gallery(&product, &expected).await;

    for asset in &assets {
        assert_eq!(
            h.dam.metadata_reads(asset.as_str()),
            1,
            "{EVENTS_PER_ASSET} events for {asset} before the workers ran"
        );
        assert_eq!(h.asset_status(asset).await, Some(SyncStatus::Success));
    }
    let calls = h.sink.calls_of(&product);
    assert!(calls.iter().all(|c| c.ended == Ended::Applied), "{calls:?}");
    let writes = h.sink.writes_of(&product);
    assert!(
        (1..=2).contains(&writes),
        "{writes} writes for {ASSETS} assets: {calls:?}"
    );
    assert_eq!(h.sink.most_writes_at_once(), 1);

    // Events the workers cannot take yet (received a moment ahead of the engine's clock) coalesce too.
    let moved = &assets[0];
    h.update(moved, json!({ "commerce:positions": [ASSETS + 1] }));
    let ahead = h.now() + 1;
    for _ in 0..EVENTS_PER_ASSET {
        let mut event = h.event(moved);
        event.received_ms = ahead;
        h.engine().ingest(event).await.unwrap();
    }
    h.worker_passes(5).await;
    assert_eq!(h.dam.metadata_reads(moved.as_str()), 1, "read before due");
    h.clock.set(ahead);
    let mut expected = expected[1..].to_vec();
    expected.push(row(moved, ASSETS + 1, &[]));
    h.wait_for_gallery(&product, &expected).await;
    assert_eq!(h.dam.metadata_reads(moved.as_str()), 2);
    assert!(h.sink.writes_of(&product) <= writes + 1);
}
