//! Assets approved in the DAM reach their products' galleries, through signed deliveries.

use crate::harness::{TestApp, roles};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_approved_asset_reaches_every_product_it_names() {
    let app = TestApp::spawn().await;
    app.put_products(&["MH01", "MH02"]).await;
    let asset = app.approved_asset(json!({
        "dc:title": "Hoodie front",
        "commerce:skus": ["MH01", " MH02 "],
        "commerce:roles": ["Thumbnail; image", "swatch_image"],
        "commerce:positions": [3, -1],
        "commerce:altTextStoreViews": ["en_us", "default"],
        "commerce:altTextValues": ["US alt", "Default alt"],
    }));
    app.settle().await;

    let (status, body) = app.media("MH01").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sku"], "MH01");
    let entry = &body["entries"][0];
    assert_eq!(entry["asset_id"], asset.as_str());
    assert_eq!(entry["roles"], json!(["image", "thumbnail"]));
    assert_eq!(entry["position"], 3);
    assert_eq!(entry["label"], "Default alt");
    assert_eq!(entry["media_type"], "image");
    assert_eq!(entry["hidden"], false);
    assert_eq!(entry["source"], "aem_assets");
    assert_eq!(
        entry["url"],
        format!("{}/adobe/assets/{asset}", app.emulator.url())
    );
    assert_eq!(
        entry["rendition_url"],
        format!(
            "{}/adobe/assets/{asset}/as/MH01.webp?quality=80",
            app.emulator.url()
        )
    );
    assert_eq!(
        app.gallery("MH02").await,
        vec![(asset.clone(), 1, roles(&["swatch_image"]))]
    );

    let (status, status_body) = app.asset_status(&asset).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_body["status"], "Success");
    assert_eq!(status_body["linked_skus"], json!(["MH01", "MH02"]));
    assert!(status_body["processing"].is_string() && status_body["dispatched"].is_string());
    assert_eq!(status_body["error"], serde_json::Value::Null);
}

#[tokio::test]
async fn unapproved_rejected_and_deleted_assets_leave_every_product() {
    let app = TestApp::spawn().await;
    app.put_products(&["P1", "P2"]).await;
    let draft = app.create_asset(json!({ "commerce:isCommerce": "yes", "commerce:skus": ["P1"] }));
    let rejected = app.approved_asset(json!({ "commerce:skus": ["P1", "P2"] }));
    let deleted = app.approved_asset(json!({ "commerce:skus": ["P2"] }));
    app.settle().await;
    assert_eq!(
        app.gallery("P1").await.len(),
        1,
        "only the approved asset is on P1"
    );
    assert_eq!(app.gallery("P2").await.len(), 2);
    let (_, draft_status) = app.asset_status(&draft).await;
    assert_eq!(draft_status["linked_skus"], json!([]));
    assert!(
        draft_status["warnings"]
            .to_string()
            .contains("not approved"),
        "{draft_status}"
    );

    app.emulator.reject(&rejected).unwrap();
    app.emulator.delete_asset(&deleted).unwrap();
    app.settle().await;
    assert!(
        app.gallery("P1").await.is_empty(),
        "a rejected asset leaves every product"
    );
    assert!(
        app.gallery("P2").await.is_empty(),
        "rejected and deleted assets leave every product"
    );
    let (_, deleted_status) = app.asset_status(&deleted).await;
    assert_eq!(deleted_status["status"], "Success");
    assert_eq!(deleted_status["linked_skus"], json!([]));
}

#[tokio::test]
async fn skus_no_longer_listed_are_unlinked_and_invalid_ones_are_refused() {
    let app = TestApp::spawn().await;
    app.put_products(&["A-1", "B-2", "C-3"]).await;
    let asset = app.approved_asset(
        json!({ "commerce:skus": ["A-1", "B-2"], "commerce:roles": ["image", "not a role"] }),
    );
    app.settle().await;
    assert_eq!(app.gallery("B-2").await.len(), 1);
    let (_, status) = app.asset_status(&asset).await;
    assert!(
        status["warnings"].to_string().contains("not a role"),
        "{status}"
    );

    app.update(
        &asset,
        json!({ "commerce:skus": ["A-1", "C-3", "BAD\u{0}SKU", "x".repeat(65)] }),
    );
    app.settle().await;
    assert!(
        app.gallery("B-2").await.is_empty(),
        "a SKU no longer listed is unlinked"
    );
    assert_eq!(app.gallery("C-3").await.len(), 1);
    assert_eq!(app.gallery("A-1").await.len(), 1);
    let (_, status) = app.asset_status(&asset).await;
    assert_eq!(status["linked_skus"], json!(["A-1", "C-3"]));
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains("control character") && warnings.contains("longer than 64"),
        "{status}"
    );
}

#[tokio::test]
async fn malformed_metadata_fails_the_asset_and_keeps_its_links() {
    let app = TestApp::spawn().await;
    app.put_product("K-1").await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["K-1"] }));
    app.settle().await;
    assert_eq!(app.gallery("K-1").await.len(), 1);

    app.update(&asset, json!({ "commerce:skus": { "not": "a list" } }));
    app.settle().await;
    let (_, status) = app.asset_status(&asset).await;
    assert_eq!(status["status"], "Failed");
    assert!(
        status["error"].as_str().unwrap().contains("commerce:skus"),
        "{status}"
    );
    assert_eq!(app.gallery("K-1").await.len(), 1, "a failure never unlinks");

    app.update(&asset, json!({ "commerce:skus": ["K-1"] }));
    app.settle().await;
    assert_eq!(app.asset_status(&asset).await.1["status"], "Success");
}

#[tokio::test]
async fn a_contested_role_goes_to_the_newest_asset_and_back() {
    let app = TestApp::spawn().await;
    app.put_product("R-1").await;
    let older = app.approved_asset(json!({ "commerce:skus": ["R-1"], "commerce:roles": ["image;thumbnail"], "commerce:positions": [1] }));
    app.settle().await;
    let newer = app.approved_asset(
        json!({ "commerce:skus": ["R-1"], "commerce:roles": ["image"], "commerce:positions": [2] }),
    );
    app.settle().await;
    assert_eq!(
        app.gallery("R-1").await,
        vec![
            (older.clone(), 1, roles(&["thumbnail"])),
            (newer.clone(), 2, roles(&["image"]))
        ]
    );

    app.emulator.reject(&newer).unwrap();
    app.settle().await;
    assert_eq!(
        app.gallery("R-1").await,
        vec![(older, 1, roles(&["image", "thumbnail"]))]
    );
}

#[tokio::test]
async fn a_product_that_appears_later_gets_its_waiting_assets() {
    let app = TestApp::spawn().await;
    let asset =
        app.approved_asset(json!({ "commerce:skus": ["LATE-1"], "commerce:roles": ["image"] }));
    app.settle().await;
    let (status, _) = app.media("LATE-1").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the product is not in the catalog yet"
    );
    let (_, asset_status) = app.asset_status(&asset).await;
    assert_eq!(asset_status["waiting_for_products"], json!(["LATE-1"]));

    let (status, body) = app.put_product("LATE-1").await;
    assert_eq!(
        (status, body["created"].as_bool()),
        (StatusCode::CREATED, Some(true))
    );
    app.wait_for_gallery("LATE-1", |g| g.len() == 1).await;
    assert_eq!(
        app.gallery("LATE-1").await,
        vec![(asset.clone(), 1, roles(&["image"]))]
    );
    let (status, body) = app.put_product("LATE-1").await;
    assert_eq!(
        (status, body["created"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    app.settle().await;
    assert_eq!(
        app.asset_status(&asset).await.1["waiting_for_products"],
        json!([])
    );
}

#[tokio::test]
async fn the_admin_api_needs_the_token_and_answers_clear_errors() {
    let app = TestApp::spawn().await;
    let asset = "urn:aaid:aem:00000000-0000-4000-8000-000000000000";
    let reply = app
        .http
        .get(format!("{}/api/v1/assets/{asset}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json::<serde_json::Value>().await.unwrap()["code"],
        "unauthorized"
    );
    let reply = app
        .http
        .get(format!("{}/api/v1/assets/{asset}", app.url))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = app.asset_status(asset).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("asset_not_found"))
    );
    let (status, body) = app.asset_status("not-an-asset-id").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_asset_id"))
    );
    let reply = app
        .http
        .put(format!("{}/api/v1/products/X", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.status(),
        StatusCode::UNAUTHORIZED,
        "adding products needs the token"
    );
    let (status, body) = app.media("NOPE").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("product_not_found"))
    );
}

#[tokio::test]
async fn with_sync_disabled_events_are_kept_and_applied_once_enabled() {
    let mut app = TestApp::spawn_with(crate::harness::KeyForm::SpkiSecondKey, false).await;
    app.put_product("OFF-1").await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["OFF-1"] }));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        app.gallery("OFF-1").await.is_empty(),
        "nothing is written while sync is disabled"
    );
    assert!(
        app.sync_health().await["events"]["stored"]
            .as_i64()
            .unwrap()
            >= 2,
        "events are stored meanwhile"
    );

    app.restart_with_sync(true);
    app.wait_for_gallery("OFF-1", |g| g.len() == 1).await;
    assert_eq!(app.gallery("OFF-1").await[0].0, asset);
}

#[tokio::test]
async fn a_crash_in_the_middle_of_a_sync_loses_and_duplicates_nothing() {
    let mut app = TestApp::spawn().await;
    let products: Vec<String> = (0..40).map(|i| format!("CR-{i:02}")).collect();
    for sku in &products {
        app.put_product(sku).await;
    }
    let mut assets = Vec::new();
    for i in 0..400 {
        let skus = vec![products[i % 40].clone(), products[(i * 7 + 3) % 40].clone()];
        assets.push(
            app.approved_asset(json!({ "commerce:skus": skus, "commerce:positions": [i % 9, -1] })),
        );
    }
    // Kill as soon as some, but not all, of the work is done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let health = app.sync_health().await;
        if health["events"]["stored"].as_i64().unwrap() > 100 {
            let backlog = health["queues"]["asset_work"].as_i64().unwrap()
                + health["queues"]["sku_work"].as_i64().unwrap();
            assert!(
                backlog > 0,
                "the sync finished before the crash; the test needs more work"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no events arrived");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    app.crash_and_restart();
    app.settle().await;

    let mut expected: std::collections::BTreeMap<&str, Vec<&str>> =
        std::collections::BTreeMap::new();
    for (i, asset) in assets.iter().enumerate() {
        for sku in [&products[i % 40], &products[(i * 7 + 3) % 40]] {
            let list = expected.entry(sku.as_str()).or_default();
            if !list.contains(&asset.as_str()) {
                list.push(asset.as_str());
            }
        }
    }
    for (sku, want) in expected {
        let mut want = want;
        want.sort_unstable();
        let ids = |gallery: &[(String, u64, Vec<String>)]| {
            let mut ids: Vec<String> = gallery.iter().map(|(id, _, _)| id.clone()).collect();
            ids.sort_unstable();
            ids
        };
        // The read cache follows a commit within moments (the queue depths can be read in between).
        app.wait_for_gallery(sku, |gallery| ids(gallery) == want)
            .await;
        assert_eq!(
            ids(&app.gallery(sku).await),
            want,
            "gallery of {sku} after the crash"
        );
    }
    for asset in &assets {
        assert_eq!(
            app.asset_status(asset).await.1["status"],
            "Success",
            "{asset}"
        );
    }
}

#[tokio::test]
async fn the_sla_report_counts_every_write_and_acknowledgement() {
    let app = TestApp::spawn().await;
    let reply = app
        .http
        .get(format!("{}/api/v1/sla", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    app.put_products(&["SLA-1", "SLA-2"]).await;
    app.approved_asset(json!({ "commerce:skus": ["SLA-1", "SLA-2"] }));
    app.settle().await;
    let (status, report) = app.admin_get("/api/v1/sla").await;
    assert_eq!(status, StatusCode::OK);
    for window in ["last_hour", "last_day", "since_start"] {
        let applied = &report[window]["event_to_applied"];
        assert_eq!(applied["count"], 2, "one write per product: {report}");
        assert!(applied["p99_ms"].as_u64().unwrap() <= applied["max_ms"].as_u64().unwrap());
        assert_eq!(applied["within_5_min"], 1.0);
        let acks = &report[window]["webhook_ack"];
        assert!(
            acks["count"].as_u64().unwrap() >= 2,
            "created and approved: {report}"
        );
    }
}
