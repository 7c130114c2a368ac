//! The console's product pages in a real browser (headless Chromium, [`crate::browser`]) against the real
//! binary: the search, a gallery showing an entry the visualization owner hides, and a manual link added
//! through the picker that survives a full sync and `verify --repair`. Screenshots of both pages are saved under
//! `target/screenshots/` (`products-search.png`, `product-page.png`).

use crate::browser::Session;
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// The served entry of `asset` on `sku`, if any.
async fn served(app: &TestApp, sku: &str, asset: &str) -> Option<serde_json::Value> {
    let (_, body) = app.media(sku).await;
    body["entries"]
        .as_array()?
        .iter()
        .find(|e| e["asset_id"] == asset)
        .cloned()
}

#[tokio::test]
async fn a_gallery_shows_hidden_entries_and_a_picked_asset_survives_full_sync_and_repair() {
    let app = TestApp::spawn().await;
    let (code, output) = app.add_user("ada", "admin", PASSWORD).await;
    assert_eq!(code, Some(0), "{output}");
    app.put_products(&["BR-1", "BR-2", "ZZ-9"]).await;
    let matched = app.approved_asset(json!({
        "commerce:skus": ["BR-1"], "commerce:roles": ["image"], "commerce:positions": [1],
        "dc:title": "Walnut desk, front",
    }));
    // Approved, but naming no product: only a person links it.
    let picked = app.create_asset(json!({ "dc:title": "Walnut desk, side view" }));
    app.emulator.approve(&picked).unwrap();
    // The owner `commerce` hides the DAM's entries (greyed, labelled "hidden").
    let (status, body) = app
        .put_config("", json!({ "visualization_owner": "commerce" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.settle().await;

    let mut browser = Session::start("admin-products").await;
    browser.goto(&format!("{}/admin/login", app.url)).await;
    browser.fill("#username", "ada").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;

    // The search: by SKU prefix.
    browser
        .goto(&format!("{}/admin/products?sku=BR", app.url))
        .await;
    let listed = browser.text("#products").await;
    assert!(
        listed.contains("BR-1") && listed.contains("BR-2"),
        "{listed}"
    );
    assert!(!listed.contains("ZZ-9"), "{listed}");
    browser.screenshot("products-search").await;
    browser.click("#products a").await;
    assert!(browser.url().await.ends_with("/admin/products/BR-1"));

    // The hidden entry, with its source and the why.
    let hidden = browser
        .text(&format!("tr.hidden-entry[data-asset=\"{matched}\"]"))
        .await;
    assert!(
        hidden.contains("hidden") && hidden.contains("DAM"),
        "{hidden}"
    );
    let why = browser.text("#why").await;
    assert!(why.contains("match by SKU"), "{why}");

    // The picker: search, choose roles and a position, add.
    browser.fill("#q", "walnut").await;
    browser.click("#pick-search").await;
    let result = format!("form.result[data-asset=\"{picked}\"]");
    assert!(browser.text("#results").await.contains("side view"));
    browser
        .fill(&format!("{result} input[name=roles]"), "thumbnail")
        .await;
    browser
        .fill(&format!("{result} input[name=position]"), "0")
        .await;
    browser.click(&format!("{result} button")).await;
    assert!(
        browser.url().await.ends_with("/admin/products/BR-1"),
        "back on the product page after the add"
    );
    app.settle().await;
    let entry = served(&app, "BR-1", &picked).await.expect("linked");
    assert_eq!(
        (
            entry["source"].clone(),
            entry["hidden"].clone(),
            entry["position"].clone()
        ),
        (json!("manual"), json!(false), json!(0))
    );

    // A full sync and `verify --repair` leave it as it is.
    let (status, body) = app.admin_post("/api/v1/sync").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.wait_for_full_sync(body["id"].as_i64().unwrap()).await;
    app.settle().await;
    let (ok, output) = app.run_cli(&["verify", "--repair"]).await;
    assert!(ok, "{output}");
    app.settle().await;
    let entry = served(&app, "BR-1", &picked).await.expect("still linked");
    assert_eq!(
        (entry["source"].clone(), entry["roles"].clone()),
        (json!("manual"), json!(["thumbnail"]))
    );

    browser
        .goto(&format!("{}/admin/products/BR-1", app.url))
        .await;
    let manual_row = browser.text(&format!("tr[data-asset=\"{picked}\"]")).await;
    assert!(
        manual_row.contains("manual") && !manual_row.contains("hidden"),
        "{manual_row}"
    );
    assert!(
        browser.exists("tr.hidden-entry").await,
        "the DAM entry stays hidden"
    );
    assert!(browser.text("#roles").await.contains("manual link"));
    browser.screenshot("product-page").await;

    // Removed by hand through the page.
    browser
        .click(&format!("button[data-remove=\"{picked}\"]"))
        .await;
    app.settle().await;
    assert!(served(&app, "BR-1", &picked).await.is_none());
}
