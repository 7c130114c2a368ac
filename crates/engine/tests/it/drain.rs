//! The width of the SKU workers: `sku_concurrency` at once, `storing_concurrency` while a full sync stores
//! its pages, and `drain_concurrency` while its applying phase drains what they queued.

use crate::harness::{Harness, sku};
use domain::Sku;
use serde_json::json;
use std::time::Duration;
use store::prelude::*;
use store::{FullSyncPhase, FullSyncState};

const NORMAL: usize = 2;
const STORING: usize = 1;
const DRAIN: usize = 6;
const PRODUCTS: usize = 12;

/// Twelve products with an asset each, every apply held in the sink. A full sync's page queues all twelve;
/// once the sync waits for them (applying), six applies are held at once. After the sync, live work goes
/// two at a time again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_syncs_queued_work_drains_wider_than_live_work() {
    let mut h = Harness::new().await;
    h.settings.sku_concurrency = NORMAL;
    h.settings.storing_concurrency = STORING;
    h.settings.drain_concurrency = DRAIN;
    let products: Vec<Sku> = (0..PRODUCTS).map(|n| sku(&format!("D-{n}"))).collect();
    let assets: Vec<_> = products
        .iter()
        .map(|product| h.approved_asset(json!({ "commerce:skus": [product.as_str()] })))
        .collect();
    h.store
        .add_products(&products, None, h.now())
        .await
        .unwrap();
    for product in &products {
        h.sink.hold(product);
    }
    h.start().await;

    let id = h.engine().request_full_sync("drain test").await.unwrap();
    h.wait_until("the sync to wait for its queued work", || async {
        let sync = h.engine().full_sync(id).await.unwrap().unwrap();
        sync.phase == FullSyncPhase::Applying
    })
    .await;
    held_steadily(&h, DRAIN, "the drain's width").await;

    for product in &products {
        h.sink.stop_holding(product);
    }
    h.wait_until("the sync to end", || async {
        h.engine().full_sync(id).await.unwrap().unwrap().state == FullSyncState::Done
    })
    .await;
    for product in &products {
        assert_eq!(h.gallery(product).await.len(), 1, "{product}");
    }

    // Live work after the sync: two at a time again.
    for product in &products {
        h.sink.hold(product);
    }
    for (n, asset) in assets.iter().enumerate() {
        h.update(asset, json!({ "commerce:positions": [n + 2] }));
        h.hint(asset).await;
    }
    held_steadily(&h, NORMAL, "live work's normal width").await;
    for product in &products {
        h.sink.stop_holding(product);
    }
}

/// Waits until `width` applies are held in the sink, then checks that no more come: the pool claims as soon
/// as a slot is free, so a moment more would show one over its width.
async fn held_steadily(h: &Harness, width: usize, what: &str) {
    h.wait_until(what, || async { held(h) == width }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(held(h), width, "no more than {what} at once");
}

/// Apply calls waiting in the sink now.
fn held(h: &Harness) -> usize {
    (0..h.sink.calls().len())
        .filter(|&index| h.sink.is_held(index))
        .count()
}
