//! The Adobe Commerce sink when part of a push fails: a push that stops half-way is recorded as far as it
//! went, a binary the DAM no longer has sends the asset to be read again, an entry the store refuses fails
//! its asset alone, a 404 that is not Magento's product-not-found pauses the sink and wipes nothing, and a
//! product put again is written again.

use crate::harness::TestApp;
use crate::magento::{roles, wait_for};
use sandbox::commerce::Fault;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Waits until every event is delivered and every asset read (SKU work may wait).
async fn wait_until_read(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let health = app.sync_health().await;
        if app.emulator.deliveries().in_flight() == 0 && health["queues"]["asset_work"] == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "assets never read: {health}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn dead_letters(app: &TestApp) -> Value {
    app.admin_get("/api/v1/dead-letters").await.1["dead_letters"].clone()
}

/// An asset whose binary Magento refuses (a TIFF: 400 "The image content must be valid base64 encoded data.").
fn tiff_asset(app: &TestApp, sku: &str, position: u32) -> String {
    let id = app
        .emulator
        .create_asset(sandbox::aem::NewAsset {
            format: Some("image/tiff".into()),
            metadata: crate::harness::object(json!({
                "commerce:isCommerce": "yes",
                "commerce:skus": [sku],
                "commerce:positions": [position],
            })),
            ..sandbox::aem::NewAsset::default()
        })
        .unwrap();
    app.emulator.approve(&id).unwrap();
    id
}

/// The cause of `bench events --sink adobe-commerce` ending with wrong galleries, at small scale: a push
/// applied an update, then met an asset deleted meanwhile (its binary 404). Nothing of the push was recorded,
/// so the stored gallery still said the old position; when the asset moved back to that position, reconcile
/// saw no difference and the store kept the position of the half-done push.
#[tokio::test]
async fn a_push_that_stops_half_way_is_recorded_and_a_vanished_binary_rereads_the_asset() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("PA-1");
    app.put_products(&["PA-1"]).await;
    let a = app.approved_asset(json!({
        "commerce:skus": ["PA-1"],
        "commerce:roles": ["image"],
        "commerce:positions": [1],
    }));
    let b = app.approved_asset(json!({ "commerce:skus": ["PA-1"], "commerce:positions": [2] }));
    app.settle().await;

    // One push will hold both: A's update first (position 5), then C's creation (position 9).
    app.put_config("", json!({ "sync_enabled": false })).await;
    app.update(&a, json!({ "commerce:positions": [5] }));
    let c = app.approved_asset(json!({ "commerce:skus": ["PA-1"], "commerce:positions": [9] }));
    wait_until_read(&app).await;
    // C is deleted without an event reaching assetsync yet: its claim stays, its binary is gone (404).
    app.emulator.quiet(true);
    app.emulator.delete_asset(&c).unwrap();
    app.emulator.quiet(false);
    app.put_config("", json!({ "sync_enabled": true })).await;
    wait_for("A's update to reach the store", || {
        app.store_gallery("PA-1")
            .iter()
            .any(|e| e.0 == a && e.1 == 5)
    })
    .await;

    // A goes back to the position the stored gallery had before the push.
    app.update(&a, json!({ "commerce:positions": [1] }));
    app.settle().await;
    let expected = vec![
        (a.clone(), 1, roles(&["image"]), None),
        (b.clone(), 2, Vec::new(), None),
    ];
    assert_eq!(
        app.store_gallery("PA-1"),
        expected,
        "the store holds what the DAM calls for"
    );
    assert_eq!(
        app.gallery("PA-1").await,
        vec![(a, 1, roles(&["image"])), (b, 2, Vec::new())],
        "served and store agree"
    );
    assert_eq!(dead_letters(&app).await, json!([]), "nothing was given up");
    let (_, status) = app.asset_status(&c).await;
    assert_ne!(
        status["status"], "Failed",
        "the vanished asset was read again and unlinked, not failed as a store outage: {status}"
    );
    assert_eq!(app.health().await["sink"]["state"], "ready");
}

#[tokio::test]
async fn a_refused_asset_fails_alone_and_is_tried_again_only_when_it_changes() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("RF-1");
    let good = app.approved_asset(json!({
        "commerce:skus": ["RF-1"],
        "commerce:roles": ["image"],
        "commerce:positions": [1],
    }));
    let tiff = tiff_asset(&app, "RF-1", 2);
    app.settle().await;

    let refused = |status: &Value| {
        status["status"] == "Failed"
            && status["error"]
                .as_str()
                .is_some_and(|e| e.contains("The image content must be valid base64 encoded data."))
    };
    let (_, status) = app.asset_status(&tiff).await;
    assert!(
        refused(&status),
        "the store's message is on the asset: {status}"
    );
    assert_eq!(app.asset_status(&good).await.1["status"], "Success");
    assert_eq!(
        app.store_gallery("RF-1"),
        vec![(good.clone(), 1, roles(&["image"]), None)]
    );
    assert_eq!(
        dead_letters(&app).await,
        json!([]),
        "the product's work is not given up"
    );
    let posts = app.store().stats().posts;

    // Another asset of the product changes: it is applied, and the refused one is not sent again.
    app.update(&good, json!({ "commerce:positions": [3] }));
    app.settle().await;
    assert_eq!(
        app.store_gallery("RF-1"),
        vec![(good.clone(), 3, roles(&["image"]), None)]
    );
    assert_eq!(
        app.store().stats().posts,
        posts,
        "the refused asset is not retried"
    );
    assert!(refused(&app.asset_status(&tiff).await.1));

    // The refused asset changes: it is tried again (and refused again).
    app.update(&tiff, json!({ "commerce:positions": [4] }));
    app.settle().await;
    assert_eq!(app.store().stats().posts, posts + 1, "tried once more");
    assert!(refused(&app.asset_status(&tiff).await.1));
    assert_eq!(dead_letters(&app).await, json!([]));
    assert_eq!(app.asset_status(&good).await.1["status"], "Success");

    // An operator's replay of everything sends it once more.
    let (status, _) = app.admin_post("/api/v1/dead-letters/replay").await;
    assert!(status.is_success(), "{status}");
    app.settle().await;
    assert_eq!(app.store().stats().posts, posts + 2, "replayed");
    assert!(refused(&app.asset_status(&tiff).await.1));
}

#[tokio::test]
async fn a_404_that_is_not_product_not_found_pauses_the_sink_and_wipes_nothing() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("NF-1");
    app.put_products(&["NF-1"]).await;
    let asset = app.approved_asset(json!({
        "commerce:skus": ["NF-1"],
        "commerce:roles": ["image"],
        "commerce:positions": [1],
    }));
    app.settle().await;

    // A proxy answers its own 404 page for a while (as a wrong base URL would).
    app.store().inject(Fault::Status {
        status: 404,
        retry_after_secs: None,
        count: 3,
    });
    app.update(&asset, json!({ "commerce:positions": [2] }));
    let deadline = Instant::now() + Duration::from_secs(120);
    let sink = loop {
        let (_, health) = app.admin_get("/api/v1/health/sync").await;
        if health["sink"]["state"] == "paused" {
            break health["sink"].clone();
        }
        assert!(Instant::now() < deadline, "the sink never paused: {health}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(
        sink["reason"].as_str().is_some_and(|r| r.contains("404")),
        "the reason names the 404: {sink}"
    );
    assert_eq!(
        app.gallery("NF-1").await,
        vec![(asset.clone(), 1, roles(&["image"]))],
        "the served gallery is kept while paused"
    );
    assert_eq!(
        app.asset_status(&asset).await.1["waiting_for_products"],
        json!([]),
        "the product is not taken for missing"
    );

    app.settle().await;
    assert_eq!(
        app.store_gallery("NF-1"),
        vec![(asset.clone(), 2, roles(&["image"]), None)],
        "written once the store answers again"
    );
    assert_eq!(app.health().await["sink"]["state"], "ready");
}

#[tokio::test]
async fn putting_a_known_product_queues_its_gallery_again() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    // Known to assetsync, but not in the store yet: Magento answers product-not-found.
    app.put_products(&["kn-1"]).await;
    let asset =
        app.approved_asset(json!({ "commerce:skus": ["kn-1"], "commerce:roles": ["image"] }));
    app.settle().await;
    assert_eq!(
        app.asset_status(&asset).await.1["waiting_for_products"],
        json!(["kn-1"])
    );

    app.store().create_product("kn-1");
    let (status, body) = app.put_product("kn-1").await;
    assert_eq!((status.as_u16(), &body["created"]), (200, &json!(false)));
    app.settle().await;
    assert_eq!(app.store_gallery("kn-1").len(), 1, "the gallery is written");
    assert_eq!(
        app.asset_status(&asset).await.1["waiting_for_products"],
        json!([])
    );
}
