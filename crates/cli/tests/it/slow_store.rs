//! A slow or throttling commerce store: leases are renewed while a long push runs (one writer per product),
//! and waiting behind a host's `Retry-After` counts no attempt.

use crate::harness::TestApp;
use sandbox::commerce::Fault;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_push_longer_than_the_lease_keeps_one_writer_per_product() {
    let app = TestApp::spawn_magento_with_sync("lease_seconds = 1").await;
    app.store().create_product("SLOW-1");
    // Every store request takes longer than the whole lease.
    app.store().set_conditions(1_200, 0.0);
    let assets: Vec<String> = (0..5)
        .map(|i| {
            app.approved_asset(
                json!({ "commerce:skus": ["SLOW-1"], "commerce:positions": [i + 1] }),
            )
        })
        .collect();
    app.settle().await;
    let gallery = app.store_gallery("SLOW-1");
    assert_eq!(gallery.len(), assets.len(), "{gallery:?}");
    assert_eq!(
        app.store().stats().max_concurrent_writes_per_sku,
        1,
        "never two writers on one product"
    );
}

#[tokio::test]
async fn waiting_behind_retry_after_counts_no_attempt() {
    // Three attempts at most: a product that counted each wait behind the gate as a failure would be given
    // up (dead letter) long before the store answers again.
    let app = TestApp::spawn_magento_with_sync("max_attempts = 3").await;
    let skus = ["RA-1", "RA-2", "RA-3", "RA-4", "RA-5", "RA-6"];
    for sku in skus {
        app.store().create_product(sku);
    }
    app.store().inject(Fault::Status {
        status: 429,
        retry_after_secs: Some(2),
        count: 2,
    });
    let mut assets = vec![app.approved_asset(json!({ "commerce:skus": ["RA-1"] }))];
    wait_for("the first 429", || app.store().stats().throttled == 1).await;
    // The other products' work arrives while the store's Retry-After runs: it waits for the gate.
    for sku in &skus[1..] {
        assets.push(app.approved_asset(json!({ "commerce:skus": [sku] })));
    }
    app.settle().await;
    for sku in skus {
        assert_eq!(app.store_gallery(sku).len(), 1, "{sku} is complete");
    }
    for asset in &assets {
        assert_eq!(app.asset_status(asset).await.1["status"], "Success");
    }
    let health = app.admin_get("/api/v1/health/sync").await.1;
    assert_eq!(health["dead_letters"], 0, "{health}");
    assert_eq!(app.store().stats().throttled, 2);
}

async fn wait_for(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
