//! Misconfiguration and refused reads never unlink in bulk: many assets not found at once pause DAM reads, a
//! refused asset fails alone, and a `deleted` event is confirmed by a read.

use crate::harness::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Waits until the admin health report satisfies `check`; returns it.
async fn wait_for_sync_health(app: &TestApp, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = app.admin_get("/api/v1/health/sync").await.1;
        if check(&health) {
            return health;
        }
        assert!(Instant::now() < deadline, "health never matched: {health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn many_assets_not_found_at_once_pause_dam_reads_instead_of_unlinking() {
    let app = TestApp::spawn_with_sync("dam_missing_pause_assets = 3").await;
    let skus = ["MIS-1", "MIS-2", "MIS-3", "MIS-4", "MIS-5"];
    app.put_products(&skus).await;
    let assets: Vec<String> = skus
        .iter()
        .map(|sku| app.approved_asset(json!({ "commerce:skus": [sku] })))
        .collect();
    app.settle().await;

    // The Author API now answers for an environment that holds none of these assets.
    app.emulator.hide_all_assets(true);
    for asset in &assets {
        app.update(asset, json!({ "dc:title": "retitled" }));
    }
    let health = wait_for_sync_health(&app, |h| h["dam"]["state"] == "paused").await;
    let reason = health["dam"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("404") && reason.contains("author_url"),
        "{reason}"
    );
    // Several probes later, still nothing is unlinked.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for sku in skus {
        assert_eq!(app.gallery(sku).await.len(), 1, "{sku} kept its entry");
    }
    assert_eq!(
        app.admin_get("/api/v1/health/sync").await.1["dam"]["state"],
        "paused"
    );

    // Fixed: the next read that finds an asset resumes reads, and everything converges with nothing lost.
    app.emulator.hide_all_assets(false);
    wait_for_sync_health(&app, |h| h["dam"]["state"] == "ready").await;
    app.settle().await;
    for sku in skus {
        assert_eq!(app.gallery(sku).await.len(), 1, "{sku}");
    }
    for asset in &assets {
        assert_eq!(app.asset_status(asset).await.1["status"], "Success");
    }
}

#[tokio::test]
async fn an_asset_refused_by_its_permissions_fails_alone() {
    let app = TestApp::spawn().await;
    app.put_products(&["ACL-1", "ACL-2"]).await;
    let locked = app.approved_asset(json!({ "commerce:skus": ["ACL-1"] }));
    let open = app.approved_asset(json!({ "commerce:skus": ["ACL-2"] }));
    app.settle().await;

    app.emulator.set_asset_read_status(&locked, Some(403));
    app.update(&locked, json!({ "commerce:positions": [3] }));
    app.update(&open, json!({ "commerce:positions": [4] }));
    app.wait_for_gallery("ACL-2", |g| g.len() == 1 && g[0].1 == 4)
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let (_, status) = app.asset_status(&locked).await;
        if status["status"] == "Failed" {
            break status;
        }
        assert!(Instant::now() < deadline, "never failed: {status}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let error = status["error"].as_str().unwrap();
    assert!(
        error.contains("403") && !error.contains("paused"),
        "{error}"
    );
    assert_eq!(
        app.admin_get("/api/v1/health/sync").await.1["dam"]["state"],
        "ready",
        "one refused asset does not pause every read"
    );
    assert_eq!(app.gallery("ACL-1").await.len(), 1, "nothing unlinked");
}

#[tokio::test]
async fn a_deleted_event_is_confirmed_by_a_read_before_anything_is_unlinked() {
    let app = TestApp::spawn().await;
    app.put_products(&["HINT-1"]).await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["HINT-1"] }));
    app.settle().await;

    // A deletion event for an asset the DAM still has: a hint, and the read says otherwise.
    let body = event_body(
        "evt-deleted-hint",
        "aem.assets.asset.deleted",
        &asset,
        CLIENT_ID,
    );
    assert_eq!(app.deliver_signed(&body).await.1["status"], "stored");
    app.settle().await;
    assert_eq!(app.gallery("HINT-1").await.len(), 1, "not unlinked");
    assert_eq!(app.asset_status(&asset).await.1["status"], "Success");

    // A real deletion: the event and the read agree, and the asset leaves at once.
    app.emulator.delete_asset(&asset).unwrap();
    app.wait_for_gallery("HINT-1", <[_]>::is_empty).await;
}
