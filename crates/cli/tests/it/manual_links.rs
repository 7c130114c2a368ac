//! Manual links end to end, on the built-in catalog and on the Adobe Commerce emulator: a link added through
//! the API is served with source `manual` and survives a live event for another asset of the product, a
//! full sync, `verify --repair` and a visualization owner switch; removed by hand it disappears; an
//! unapproved asset, an unknown product and a bad position are refused with stable codes.

use crate::harness::{ADMIN_TOKEN, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post_link(app: &TestApp, sku: &str, body: Value) -> (StatusCode, Value) {
    let reply = app
        .http
        .post(format!("{}/api/v1/products/{sku}/manual-links", app.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (reply.status(), reply.json().await.unwrap_or(Value::Null))
}

async fn delete_link(app: &TestApp, sku: &str, asset: &str) -> StatusCode {
    app.http
        .delete(format!(
            "{}/api/v1/products/{sku}/manual-links/{asset}",
            app.url
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .status()
}

/// The served entry of `asset` on `sku`, if any.
async fn served(app: &TestApp, sku: &str, asset: &str) -> Option<Value> {
    let (status, body) = app.media(sku).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["asset_id"] == asset)
        .cloned()
}

/// Asserts the manual entry is served exactly as linked (and, on Adobe Commerce, enabled in the store).
async fn assert_manual_entry(app: &TestApp, sku: &str, asset: &str, when: &str) {
    let entry = served(app, sku, asset)
        .await
        .unwrap_or_else(|| panic!("the manual entry is gone after {when}"));
    assert_eq!(entry["source"], "manual", "{when}: {entry}");
    assert_eq!(entry["roles"], json!(["thumbnail"]), "{when}: {entry}");
    assert_eq!(entry["position"], 0, "{when}: {entry}");
    assert_eq!(entry["hidden"], false, "{when}: {entry}");
    if app.store.is_some() {
        let in_store = app
            .store_gallery(sku)
            .into_iter()
            .find(|(owner, ..)| owner == asset)
            .unwrap_or_else(|| panic!("{when}: the store lost the manual entry"));
        assert_eq!(
            (in_store.1, in_store.2),
            (0, vec!["thumbnail".to_owned()]),
            "{when}"
        );
    }
}

async fn a_manual_link_survives_every_sync_and_goes_only_by_hand(app: TestApp) {
    let sku = "ML-1";
    let matched = app.approved_asset(json!({
        "commerce:skus": [sku], "commerce:roles": ["image;thumbnail"], "commerce:positions": [1],
    }));
    // Approved, but not for commerce and naming no SKU: only a person links it.
    let picked = app.create_asset(json!({ "dc:title": "Linen shirt, back view" }));
    app.emulator.approve(&picked).unwrap();
    let draft = app.create_asset(json!({ "dc:title": "Linen shirt, draft" }));
    app.settle().await;

    // The picker's search: approved assets only, by title.
    let (status, found) = app.admin_get("/api/v1/dam/assets?q=linen&limit=5").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let ids: Vec<&str> = found["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [picked.as_str()], "{found}");
    let thumbnail = found["assets"][0]["thumbnail_url"].as_str().unwrap();
    assert!(
        thumbnail.contains(&format!("/adobe/assets/{picked}/as/")),
        "{thumbnail}"
    );

    // Refusals, with stable codes.
    let (status, body) = post_link(&app, sku, json!({ "asset_id": draft, "roles": [] })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("asset_not_linkable")),
        "{body}"
    );
    let (status, body) = post_link(&app, "NO-SUCH", json!({ "asset_id": picked })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("product_not_found")),
        "{body}"
    );
    let (status, body) = post_link(&app, sku, json!({ "asset_id": picked, "position": -1 })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_position")),
        "{body}"
    );
    let (status, body) = post_link(&app, sku, json!({ "asset_id": "nope" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_asset_id")),
        "{body}"
    );

    // Linked: served with source manual, taking `thumbnail` from the matched asset.
    let (status, body) = post_link(
        &app,
        sku,
        json!({ "asset_id": picked, "roles": ["thumbnail"], "position": 0 }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["source"], "manual");
    app.settle().await;
    assert_manual_entry(&app, sku, &picked, "the link").await;
    let dam = served(&app, sku, &matched).await.unwrap();
    assert_eq!(
        (dam["source"].as_str(), dam["roles"].clone()),
        (Some("aem_assets"), json!(["image"]))
    );

    // A live event for another asset of the product.
    app.update(&matched, json!({ "commerce:positions": [3] }));
    app.settle().await;
    app.wait_for_gallery(sku, |g| g.iter().any(|(a, p, _)| *a == matched && *p == 3))
        .await;
    assert_manual_entry(&app, sku, &picked, "a live event").await;

    // A full sync.
    let (status, body) = app.admin_post("/api/v1/sync").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.wait_for_full_sync(body["id"].as_i64().unwrap()).await;
    app.settle().await;
    assert_manual_entry(&app, sku, &picked, "a full sync").await;

    // verify sees no difference; `verify --repair` changes nothing of it.
    let (code, output) = app.run_cli_code(&["verify"]).await;
    assert_eq!(code, Some(0), "a manual link is no difference:\n{output}");
    let (ok, output) = app.run_cli(&["verify", "--repair"]).await;
    assert!(ok, "{output}");
    app.settle().await;
    assert_manual_entry(&app, sku, &picked, "verify --repair").await;

    // The owner switch hides the DAM's entries, never the manual one.
    let (status, body) = app
        .put_config("", json!({ "visualization_owner": "commerce" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.settle().await;
    assert_manual_entry(&app, sku, &picked, "the owner switch to commerce").await;
    assert_eq!(served(&app, sku, &matched).await.unwrap()["hidden"], true);
    let (status, body) = app
        .put_config("", json!({ "visualization_owner": "aem_assets" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.settle().await;
    assert_manual_entry(&app, sku, &picked, "the owner switch back").await;

    // Removed by hand: gone, and the matched asset has its role back.
    let (status, listed) = app
        .admin_get(&format!("/api/v1/products/{sku}/manual-links"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["links"][0]["asset_id"], picked.as_str(), "{listed}");
    assert_eq!(
        delete_link(&app, sku, &picked).await,
        StatusCode::NO_CONTENT
    );
    app.settle().await;
    assert!(served(&app, sku, &picked).await.is_none());
    let dam = served(&app, sku, &matched).await.unwrap();
    assert_eq!(dam["roles"], json!(["image", "thumbnail"]));
    if app.store.is_some() {
        assert!(
            app.store_gallery(sku)
                .iter()
                .all(|(owner, ..)| *owner != picked)
        );
    }
    assert_eq!(delete_link(&app, sku, &picked).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn on_the_builtin_catalog() {
    let app = TestApp::spawn().await;
    app.put_products(&["ML-1"]).await;
    a_manual_link_survives_every_sync_and_goes_only_by_hand(app).await;
}

#[tokio::test]
async fn on_adobe_commerce() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("ML-1");
    a_manual_link_survives_every_sync_and_goes_only_by_hand(app).await;
}
