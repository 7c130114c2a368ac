//! Products: found by the catalog scan they are served at once; their product-to-asset calls are durable work
//! shown on the product's status; a read with rendition parameters keeps the cached gallery's shape.

use crate::harness::*;
use reqwest::StatusCode;
use sandbox::matcher::{MatcherEmulator, MatcherSettings, PRODUCT_TO_ASSET_PATH};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Waits until the product's status satisfies `check`; returns it.
async fn wait_for_product(app: &TestApp, sku: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, status) = app.admin_get(&format!("/api/v1/products/{sku}")).await;
        if check(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "status never matched: {status}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A service under custom_match against a fresh reference matcher, with extra `[sync]` lines.
async fn custom_app(extra_sync: &str) -> (TestApp, MatcherEmulator) {
    let matcher = MatcherEmulator::start(MatcherSettings::default(), 0)
        .await
        .unwrap();
    let app = TestApp::spawn_with_sync(&format!(
        "allow_insecure_matcher_urls = true\nmatcher_timeout_seconds = 1\n{extra_sync}"
    ))
    .await;
    let (status, body) = app
        .put_config(
            "",
            json!({
                "matching_rule": "custom_match",
                "asset_to_product_url": matcher.asset_to_product_url(),
                "product_to_asset_url": matcher.product_to_asset_url(),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.settle().await;
    (app, matcher)
}

#[tokio::test]
async fn a_product_found_by_the_catalog_scan_is_served_at_once() {
    let app = TestApp::spawn_magento_with_sync("anti_entropy_seconds = 1").await;
    // Created in the store without an event (a CSV import): the scan finds it.
    app.store().create_product("SCAN-1");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = app.media("SCAN-1").await;
        if status == StatusCode::OK {
            assert_eq!(body["entries"], json!([]), "{body}");
            break;
        }
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(Instant::now() < deadline, "never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, status) = app.admin_get("/api/v1/products/SCAN-1").await;
    assert_eq!(status["known"], true, "{status}");
}

#[tokio::test]
async fn a_read_with_rendition_parameters_keeps_the_cached_shape() {
    let app = TestApp::spawn().await;
    app.put_products(&["REN-1"]).await;
    app.approved_asset(json!({ "commerce:skus": ["REN-1"], "commerce:roles": ["image"] }));
    app.settle().await;
    let url = format!("{}/api/v1/products/REN-1/media", app.url);
    let plain = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let shaped = app
        .http
        .get(format!("{url}?width=200&quality=80"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let plain_value: Value = serde_json::from_str(&plain).unwrap();
    let from = plain_value["entries"][0]["rendition_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let shaped_value: Value = serde_json::from_str(&shaped).unwrap();
    let to = shaped_value["entries"][0]["rendition_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(to.contains("width=200") && to != from, "{to}");
    assert_eq!(
        shaped,
        plain.replace(&from, &to),
        "the same bytes but for the rendition URLs"
    );
}

#[tokio::test]
async fn a_product_to_asset_call_survives_a_crash_and_its_failure_is_on_the_product_status() {
    let (mut app, matcher) = custom_app("").await;
    let asset = app.approved_asset(json!({}));
    app.settle().await;
    matcher.set_product_assets(
        "DUR-P",
        vec![
            json!({ "asset_id": asset, "asset_roles": ["image"], "asset_position": 1, "asset_format": "image" }),
        ],
    );
    matcher.fail_next(503, 1_000);
    app.put_products(&["DUR-P"]).await;
    let status = wait_for_product(&app, "DUR-P", |s| {
        s["product_to_asset"]["error"].is_string()
    })
    .await;
    assert_eq!(status["product_to_asset"]["state"], "queued", "{status}");
    assert!(
        status["product_to_asset"]["error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{status}"
    );

    // Killed meanwhile: the queued call is still there after the restart, and goes once the matcher answers.
    app.crash_and_restart();
    matcher.fail_next(503, 0);
    app.wait_for_gallery("DUR-P", |g| g.len() == 1).await;
    let status = wait_for_product(&app, "DUR-P", |s| s["product_to_asset"].is_null()).await;
    assert_eq!(status["known"], true);
}

#[tokio::test]
async fn a_product_to_asset_call_given_up_is_shown_failed_and_holds_no_slot() {
    let (app, matcher) = custom_app("max_attempts = 2").await;
    let asset = app.approved_asset(json!({}));
    app.settle().await;
    let matches = vec![
        json!({ "asset_id": asset, "asset_roles": ["image"], "asset_position": 1, "asset_format": "image" }),
    ];
    matcher.set_product_assets("GONE-P", matches.clone());
    matcher.fail_next(500, 2);
    app.put_products(&["GONE-P"]).await;
    let status = wait_for_product(&app, "GONE-P", |s| {
        s["product_to_asset"]["state"] == "failed"
    })
    .await;
    assert_eq!(status["product_to_asset"]["attempt"], 2, "{status}");
    assert!(app.gallery("GONE-P").await.is_empty());
    // Others go on.
    matcher.set_product_assets("NEXT-P", matches);
    app.put_products(&["NEXT-P"]).await;
    app.wait_for_gallery("NEXT-P", |g| g.len() == 1).await;
    assert!(matcher.call_count(PRODUCT_TO_ASSET_PATH) >= 3);
}
