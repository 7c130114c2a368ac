//! The Adobe Commerce sink against the emulated store: galleries as the metadata implies, hand-made entries
//! untouched, binaries replaced, adoption after a crash, products that appear later, entries deleted by hand,
//! `Retry-After` per host, pausing on 401 and resuming, and no write for a repeated event.

use crate::harness::{CLIENT_ID, TestApp, event_body};
use sandbox::commerce::Fault;
use serde_json::json;
use std::time::{Duration, Instant};

pub(crate) fn roles(list: &[&str]) -> Vec<String> {
    let mut roles: Vec<String> = list.iter().map(|r| (*r).to_owned()).collect();
    roles.sort();
    roles
}

pub(crate) async fn wait_for(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn galleries_follow_the_metadata_and_hand_made_entries_stay() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("MH01");
    app.put_product("MH01").await;
    let by_hand = app
        .store()
        .add_handmade_entry("MH01", "Made by hand", 7, &["small_image"], false)
        .unwrap();
    let older = app.approved_asset(json!({
        "dc:title": "Front",
        "commerce:skus": ["MH01"],
        "commerce:roles": ["image;thumbnail"],
        "commerce:positions": [1],
    }));
    app.settle().await;
    let newer = app.approved_asset(json!({
        "commerce:skus": ["MH01"],
        "commerce:roles": ["image"],
        "commerce:positions": [2],
        "commerce:altTextStoreViews": ["default"],
        "commerce:altTextValues": ["Back view"],
    }));
    app.settle().await;

    assert_eq!(
        app.store_gallery("MH01"),
        vec![
            (
                older.clone(),
                1,
                roles(&["thumbnail"]),
                Some("Front".into())
            ),
            (
                newer.clone(),
                2,
                roles(&["image"]),
                Some("Back view".into())
            ),
            (
                "handmade".into(),
                7,
                roles(&["small_image"]),
                Some("Made by hand".into())
            ),
        ],
        "the role moved to the newer asset; the hand-made entry kept its label, position and role"
    );
    // assetsync's own view is the same, without the hand-made entry.
    assert_eq!(app.gallery("MH01").await.len(), 2);

    app.emulator.reject(&newer).unwrap();
    app.emulator.delete_asset(&older).unwrap();
    app.settle().await;
    let left = app.store_gallery("MH01");
    assert_eq!(
        left,
        vec![(
            "handmade".into(),
            7,
            roles(&["small_image"]),
            Some("Made by hand".into())
        )]
    );
    assert!(
        app.store()
            .entries("MH01")
            .unwrap()
            .iter()
            .any(|e| e["id"] == by_hand)
    );
}

#[tokio::test]
async fn a_new_binary_replaces_the_entry_and_leaves_one() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("V-1");
    let asset =
        app.approved_asset(json!({ "commerce:skus": ["V-1"], "commerce:roles": ["image"] }));
    app.settle().await;
    let before = app.store().entries("V-1").unwrap();
    assert_eq!(before.len(), 1);

    app.emulator.new_version(&asset).unwrap();
    app.settle().await;
    let after = app.store().entries("V-1").unwrap();
    assert_eq!(after.len(), 1, "still one entry");
    assert_ne!(
        after[0]["id"], before[0]["id"],
        "the binary was replaced by a new entry"
    );
    assert_ne!(
        after[0]["file"], before[0]["file"],
        "the file name carries the new content identity"
    );
    assert_eq!(after[0]["types"], json!(["image"]));
}

#[tokio::test]
async fn a_crash_between_the_post_and_its_bookkeeping_is_adopted_not_duplicated() {
    let mut app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("K-1");
    app.store().inject(Fault::DelayAfterCommit {
        millis: 5_000,
        count: 1,
    });
    let asset =
        app.approved_asset(json!({ "commerce:skus": ["K-1"], "commerce:roles": ["image"] }));
    wait_for("the POST to reach the store", || {
        app.store().stats().posts == 1
    })
    .await;
    app.crash_and_restart();
    app.settle().await;

    let entries = app.store().entries("K-1").unwrap();
    assert_eq!(entries.len(), 1, "no duplicate: {entries:?}");
    assert_eq!(
        app.store().stats().posts,
        1,
        "the entry was adopted, not posted again"
    );
    assert_eq!(app.gallery("K-1").await[0].0, asset);
    assert_eq!(app.asset_status(&asset).await.1["status"], "Success");
}

#[tokio::test]
async fn a_product_created_later_is_filled_and_an_entry_deleted_by_hand_comes_back() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["LATE-1"], "commerce:roles": ["image"], "commerce:positions": [1] }));
    app.settle().await;
    // Keyed by the lower-cased SKU: Magento compares SKUs without case.
    assert_eq!(
        app.asset_status(&asset).await.1["waiting_for_products"],
        json!(["late-1"])
    );

    app.store().create_product("LATE-1");
    app.put_product("LATE-1").await;
    app.settle().await;
    let entries = app.store().entries("LATE-1").unwrap();
    assert_eq!(entries.len(), 1);

    let id = entries[0]["id"].as_u64().unwrap();
    app.store().delete_entry_by_hand("LATE-1", id).unwrap();
    app.update(&asset, json!({ "commerce:positions": [4] }));
    app.settle().await;
    assert_eq!(
        app.store_gallery("LATE-1"),
        vec![(asset, 4, roles(&["image"]), None)],
        "re-created with the new position"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_per_host() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    for sku in ["T-1", "T-2", "T-3"] {
        app.store().create_product(sku);
    }
    app.store().inject(Fault::Status {
        status: 429,
        retry_after_secs: Some(2),
        count: 2,
    });
    app.approved_asset(json!({ "commerce:skus": ["T-1"] }));
    wait_for("the first 429", || app.store().stats().throttled == 1).await;
    // Work for other products arrives while the store's Retry-After runs: it must wait too.
    let throttled_at = Instant::now();
    for sku in ["T-2", "T-3"] {
        app.approved_asset(json!({ "commerce:skus": [sku] }));
    }
    app.settle().await;
    assert!(
        throttled_at.elapsed() >= Duration::from_millis(1500),
        "the writes waited for Retry-After"
    );
    let stats = app.store().stats();
    assert_eq!(
        stats.throttled, 2,
        "the second 429 came after the first delay, and was honoured too"
    );
    assert_eq!(
        stats.requests_during_retry_after, 0,
        "no request of any kind while Retry-After runs"
    );
    for sku in ["T-1", "T-2", "T-3"] {
        assert_eq!(app.store().entries(sku).unwrap().len(), 1, "{sku}");
    }
}

#[tokio::test]
async fn revoked_credentials_pause_the_sink_and_keep_the_work() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("A-1");
    app.store().set_credentials_valid(false);
    let asset = app.approved_asset(json!({ "commerce:skus": ["A-1"] }));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let health = app.health().await;
        if health["sink"]["state"] == "paused" {
            assert_eq!(health["status"], "degraded");
            break;
        }
        assert!(Instant::now() < deadline, "the sink never paused: {health}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, status) = app.asset_status(&asset).await;
    assert_ne!(
        status["status"], "Failed",
        "a paused sink fails no item: {status}"
    );
    assert!(app.store().entries("A-1").unwrap().is_empty());

    app.store().set_credentials_valid(true);
    app.settle().await;
    assert_eq!(app.store().entries("A-1").unwrap().len(), 1);
    assert_eq!(app.health().await["sink"]["state"], "ready");
    assert_eq!(app.asset_status(&asset).await.1["status"], "Success");
}

#[tokio::test]
async fn a_repeated_or_empty_event_writes_nothing() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("R-1");
    let asset =
        app.approved_asset(json!({ "commerce:skus": ["R-1"], "commerce:roles": ["image"] }));
    app.settle().await;
    let before = app.store().stats();

    let body = event_body(
        "evt-again",
        "aem.assets.asset.metadata_updated",
        &asset,
        CLIENT_ID,
    );
    assert_eq!(app.deliver_signed(&body).await.1["status"], "stored");
    assert_eq!(app.deliver_signed(&body).await.1["status"], "duplicate");
    app.settle().await;
    let after = app.store().stats();
    assert_eq!(
        (after.posts, after.puts, after.deletes, after.gets),
        (before.posts, before.puts, before.deletes, before.gets),
        "re-syncing an unchanged asset sends nothing to the store"
    );
}

#[tokio::test]
async fn bearer_tokens_work_only_where_the_store_allows_them() {
    let allowed = TestApp::spawn_magento("bearer", true).await;
    allowed.store().create_product("B-1");
    allowed.approved_asset(json!({ "commerce:skus": ["B-1"] }));
    allowed.settle().await;
    assert_eq!(allowed.store().entries("B-1").unwrap().len(), 1);

    let refused = TestApp::spawn_magento("bearer", false).await;
    refused.store().create_product("B-2");
    refused.approved_asset(json!({ "commerce:skus": ["B-2"] }));
    let deadline = Instant::now() + Duration::from_secs(120);
    while refused.health().await["sink"]["state"] != "paused" {
        assert!(
            Instant::now() < deadline,
            "a refused bearer token must pause the sink"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(refused.store().entries("B-2").unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_upload_fails_that_item_only_with_the_store_message() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("OK-1");
    app.store().create_product("BAD-1");
    let good = app.approved_asset(json!({ "commerce:skus": ["OK-1"] }));
    let tiff = app.emulator.create_asset(sandbox::aem::NewAsset {
        format: Some("image/tiff".into()),
        metadata: crate::harness::object(
            json!({ "commerce:isCommerce": "yes", "commerce:skus": ["BAD-1"] }),
        ),
        ..sandbox::aem::NewAsset::default()
    });
    let tiff = tiff.unwrap();
    app.emulator.approve(&tiff).unwrap();
    app.settle().await;

    let (_, status) = app.asset_status(&tiff).await;
    assert_eq!(status["status"], "Failed");
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .contains("The image content must be valid base64 encoded data."),
        "the store's own message is on the asset: {status}"
    );
    assert!(app.store().entries("BAD-1").unwrap().is_empty());
    assert_eq!(
        app.store().entries("OK-1").unwrap().len(),
        1,
        "other items are unaffected"
    );
    assert_eq!(app.asset_status(&good).await.1["status"], "Success");
}

#[tokio::test]
async fn the_visualization_owner_hides_and_restores_without_deleting() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("OW-1");
    app.put_product("OW-1").await;
    let by_hand = app
        .store()
        .add_handmade_entry("OW-1", "By hand", 9, &["small_image"], false)
        .unwrap();
    let asset = app.approved_asset(json!({ "commerce:skus": ["OW-1"], "commerce:roles": ["image"], "commerce:positions": [1] }));
    app.settle().await;
    let entries = app.store().entries("OW-1").unwrap();
    let handmade = entries.iter().find(|e| e["id"] == by_hand).unwrap();
    assert_eq!(
        handmade["disabled"], true,
        "under aem_assets a hand-made entry is hidden beside a visible DAM entry"
    );
    assert_eq!(handmade["types"], json!(["small_image"]));
    let snapshot = entries;

    app.put_config("", json!({ "visualization_owner": "commerce" }))
        .await;
    app.settle().await;
    let entries = app.store().entries("OW-1").unwrap();
    assert_eq!(entries.len(), 2, "nothing deleted");
    let dam = entries.iter().find(|e| e["id"] != by_hand).unwrap();
    let handmade = entries.iter().find(|e| e["id"] == by_hand).unwrap();
    assert_eq!(
        (dam["disabled"].as_bool(), handmade["disabled"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        handmade["types"],
        json!(["small_image"]),
        "restored exactly"
    );
    assert_eq!(
        (handmade["label"].as_str(), handmade["position"].as_i64()),
        (Some("By hand"), Some(9))
    );
    assert_eq!(app.media("OW-1").await.1["entries"][0]["hidden"], true);

    for owner in ["aem_assets", "commerce", "aem_assets"] {
        app.put_config("", json!({ "visualization_owner": owner }))
            .await;
        app.settle().await;
    }
    assert_eq!(
        app.store().entries("OW-1").unwrap(),
        snapshot,
        "four switches leave the store's gallery as it was"
    );
    assert_eq!(app.gallery("OW-1").await[0].0, asset);
}

#[tokio::test]
async fn work_that_exhausts_its_attempts_is_dead_lettered_and_replayed() {
    let app = TestApp::spawn_magento_with_sync("max_attempts = 2").await;
    app.store().create_product("DL-1");
    app.store().inject(Fault::Status {
        status: 500,
        retry_after_secs: None,
        count: 2,
    });
    let asset = app.approved_asset(json!({ "commerce:skus": ["DL-1"] }));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, health) = app.admin_get("/api/v1/health/sync").await;
        if health["dead_letters"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "never dead-lettered: {health}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, letters) = app.admin_get("/api/v1/dead-letters").await;
    let letter = &letters["dead_letters"][0];
    assert_eq!(
        letter["sku"], "dl-1",
        "the lower-cased SKU (Magento compares SKUs without case)"
    );
    assert_eq!(letter["attempts"], 2);
    assert_eq!(
        letter["errors"].as_array().unwrap().len(),
        2,
        "the error history: {letter}"
    );
    assert!(
        letter["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("500")
    );
    assert_eq!(app.asset_status(&asset).await.1["status"], "Failed");
    assert!(app.store().entries("DL-1").unwrap().is_empty());

    let id = letter["id"].as_i64().unwrap();
    let reply = app
        .http
        .post(format!("{}/api/v1/dead-letters/{id}/replay", app.url))
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), reqwest::StatusCode::OK);
    app.settle().await;
    assert_eq!(app.store().entries("DL-1").unwrap().len(), 1);
    assert_eq!(app.asset_status(&asset).await.1["status"], "Success");
    assert_eq!(
        app.admin_get("/api/v1/dead-letters").await.1["dead_letters"],
        json!([])
    );
    let reply = app
        .http
        .post(format!("{}/api/v1/dead-letters/{id}/replay", app.url))
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ten_queued_changes_to_one_sku_give_one_set_of_gallery_calls() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("CO-1");
    app.put_products(&["CO-1"]).await;
    let asset = app.approved_asset(json!({
        "commerce:skus": ["CO-1"],
        "commerce:roles": ["image"],
        "commerce:positions": [1],
    }));
    app.settle().await;
    assert_eq!(app.store_gallery("CO-1").len(), 1);

    // Ten changes arrive while the SKU's write is held back: each bumps the one queued item of the SKU.
    app.put_config("", json!({ "sync_enabled": false })).await;
    for position in 2..=11 {
        app.update(&asset, json!({ "commerce:positions": [position] }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = app.sync_health().await;
        if app.emulator.deliveries().in_flight() == 0 && health["queues"]["asset_work"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{health}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let before = app.store().stats();
    app.put_config("", json!({ "sync_enabled": true })).await;
    app.settle().await;
    let after = app.store().stats();
    assert_eq!(after.puts - before.puts, 1, "one PUT for ten changes");
    assert_eq!(after.posts, before.posts);
    assert_eq!(after.deletes, before.deletes);
    assert_eq!(app.store_gallery("CO-1")[0].1, 11, "the last change wins");
}
