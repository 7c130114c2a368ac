//! Alt texts and visibility per store view on the built-in catalog's read API (`?store=`).

use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn media_in(app: &TestApp, sku: &str, query: &str) -> (StatusCode, Value) {
    let reply = app
        .http
        .get(format!("{}/api/v1/products/{sku}/media?{query}", app.url))
        .send()
        .await
        .unwrap();
    (reply.status(), reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_store_view_reads_its_own_alt_text_and_visibility() {
    let app = TestApp::spawn().await;
    app.put_products(&["MH01"]).await;
    let asset = app.approved_asset(json!({
        "dc:title": "Hoodie",
        "commerce:skus": ["MH01"],
        "commerce:altTextStoreViews": ["default", "en_US", "fr_FR", "de_DE"],
        "commerce:altTextValues": ["Hoodie, front", "US hoodie", "Sweat à capuche", "Kapuzenpullover"],
        "commerce:hiddenStoreViews": ["de_DE"],
    }));
    app.settle().await;

    let (status, body) = app.media("MH01").await;
    assert_eq!(status, StatusCode::OK);
    let entry = &body["entries"][0];
    assert_eq!(entry["asset_id"], asset.as_str());
    assert_eq!(entry["label"], "Hoodie, front");
    assert_eq!(entry["hidden"], false);
    assert_eq!(
        entry["labels"],
        json!({
            "default": "Hoodie, front",
            "en_us": "US hoodie",
            "fr_fr": "Sweat à capuche",
            "de_de": "Kapuzenpullover",
        })
    );

    let (_, fr) = media_in(&app, "MH01", "store=FR_fr").await;
    assert_eq!(fr["entries"][0]["label"], "Sweat à capuche");
    assert_eq!(fr["entries"][0]["hidden"], false);
    let (_, de) = media_in(&app, "MH01", "store=de_de&width=200").await;
    assert_eq!(de["entries"][0]["label"], "Kapuzenpullover");
    assert_eq!(de["entries"][0]["hidden"], true, "{de}");
    assert!(
        de["entries"][0]["rendition_url"]
            .as_str()
            .unwrap()
            .contains("width=200"),
        "{de}"
    );
    // A store view with no text of its own inherits the label of all store views.
    let (_, it) = media_in(&app, "MH01", "store=it_it").await;
    assert_eq!(it["entries"][0]["label"], "Hoodie, front");
    assert_eq!(it["entries"][0]["hidden"], false);

    // The French text removed and German un-hidden: the views inherit again.
    app.update(
        &asset,
        json!({
            "commerce:altTextStoreViews": ["default", "en_US"],
            "commerce:altTextValues": ["Hoodie, front", "US hoodie"],
            "commerce:hiddenStoreViews": [],
        }),
    );
    app.settle().await;
    let (_, fr) = media_in(&app, "MH01", "store=fr_fr").await;
    assert_eq!(fr["entries"][0]["label"], "Hoodie, front", "{fr}");
    let (_, de) = media_in(&app, "MH01", "store=de_de").await;
    assert_eq!(de["entries"][0]["hidden"], false, "{de}");
    assert_eq!(
        de["entries"][0]["labels"],
        json!({ "default": "Hoodie, front", "en_us": "US hoodie" })
    );
}

#[tokio::test]
async fn a_store_code_that_is_not_one_is_refused() {
    let app = TestApp::spawn().await;
    app.put_products(&["MH01"]).await;
    let (status, body) = media_in(&app, "MH01", "store=fr-FR").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_store_view", "{body}");
    let (status, _) = media_in(&app, "MH01", "store=fr_fr").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_video_is_served_with_its_poster_image_and_its_player() {
    let app = TestApp::spawn().await;
    app.put_products(&["MH01"]).await;
    let mut metadata = serde_json::Map::new();
    metadata.insert("commerce:isCommerce".into(), json!("Yes"));
    metadata.insert("commerce:skus".into(), json!(["MH01"]));
    metadata.insert("commerce:positions".into(), json!([2]));
    let video = app
        .emulator
        .create_asset(sandbox::aem::NewAsset {
            format: Some("video/mp4".into()),
            metadata,
            ..sandbox::aem::NewAsset::default()
        })
        .unwrap();
    app.emulator.approve(&video).unwrap();
    let image = app.approved_asset(json!({ "commerce:skus": ["MH01"], "commerce:positions": [1] }));
    app.settle().await;

    let (_, body) = app.media("MH01").await;
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{body}");
    assert_eq!(entries[0]["asset_id"], image.as_str());
    assert_eq!(entries[0]["media_type"], "image");
    assert!(entries[0].get("play_url").is_none(), "{body}");
    let base = format!("{}/adobe/assets/{video}", app.emulator.url());
    assert_eq!(entries[1]["asset_id"], video.as_str());
    assert_eq!(entries[1]["media_type"], "video");
    assert_eq!(entries[1]["play_url"], format!("{base}/play"));
    assert_eq!(
        entries[1]["rendition_url"],
        format!("{base}/as/MH01.webp?quality=80"),
        "the poster image is the video's image rendition"
    );
}

/// The store's entry of `asset` as store view `store` reads it: (label, disabled).
fn in_view(app: &TestApp, sku: &str, store: &str, asset: &str) -> (Value, Value) {
    let uuid = asset.trim_start_matches("urn:aaid:aem:");
    let entries = app.store().entries_in(sku, store).unwrap();
    let entry = entries
        .iter()
        .find(|e| e["file"].as_str().unwrap_or_default().contains(uuid))
        .unwrap_or_else(|| panic!("no entry of {asset} in {entries:?}"));
    (entry["label"].clone(), entry["disabled"].clone())
}

#[tokio::test]
async fn magento_gets_each_store_views_text_and_visibility_and_views_inherit_again() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().set_store_views(&["en_us", "fr_fr", "de_de"]);
    app.store().create_product("MH01");
    app.put_product("MH01").await;
    let asset = app.approved_asset(json!({
        "dc:title": "Hoodie",
        "commerce:skus": ["MH01"],
        "commerce:roles": ["image"],
        "commerce:altTextStoreViews": ["default", "en_US", "fr_FR", "it_IT"],
        "commerce:altTextValues": ["Hoodie, front", "US hoodie", "Sweat à capuche", "Felpa"],
        "commerce:hiddenStoreViews": ["de_DE"],
    }));
    app.settle().await;

    let text = |s: &str| (json!(s), json!(false));
    assert_eq!(in_view(&app, "MH01", "all", &asset), text("Hoodie, front"));
    assert_eq!(
        in_view(&app, "MH01", "default", &asset),
        text("Hoodie, front")
    );
    assert_eq!(in_view(&app, "MH01", "en_us", &asset), text("US hoodie"));
    assert_eq!(
        in_view(&app, "MH01", "fr_fr", &asset),
        text("Sweat à capuche")
    );
    assert_eq!(
        in_view(&app, "MH01", "de_de", &asset),
        (json!("Hoodie, front"), json!(true)),
        "hidden in de_de only"
    );
    // it_it is not a store view of this store: nothing was sent for it.
    assert!(
        !app.store()
            .requests()
            .iter()
            .any(|(_, path)| path.contains("/rest/it_it/")),
        "a write for a store view the store does not have"
    );

    // The French text removed, German un-hidden, the default text changed: every view follows.
    app.update(
        &asset,
        json!({
            "commerce:altTextStoreViews": ["default", "en_US"],
            "commerce:altTextValues": ["Hoodie", "US hoodie"],
            "commerce:hiddenStoreViews": null,
        }),
    );
    app.settle().await;
    assert_eq!(in_view(&app, "MH01", "all", &asset), text("Hoodie"));
    assert_eq!(in_view(&app, "MH01", "en_us", &asset), text("US hoodie"));
    assert_eq!(
        in_view(&app, "MH01", "fr_fr", &asset),
        text("Hoodie"),
        "fr_fr inherits again"
    );
    assert_eq!(
        in_view(&app, "MH01", "de_de", &asset),
        text("Hoodie"),
        "de_de visible again"
    );
}

#[tokio::test]
async fn verify_compares_each_store_views_values() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().set_store_views(&["fr_fr", "de_de"]);
    app.store().create_product("VF-1");
    app.put_product("VF-1").await;
    app.approved_asset(json!({
        "commerce:skus": ["VF-1"],
        "commerce:altTextStoreViews": ["default", "fr_FR"],
        "commerce:altTextValues": ["Jacket", "Veste"],
        "commerce:hiddenStoreViews": ["de_de"],
    }));
    app.settle().await;
    let (clean, output) = app.run_cli(&["verify"]).await;
    assert!(clean, "no difference after a sync:\n{output}");

    // By hand in the store: the French text changed, the German entry shown.
    let id = app.store().entries("VF-1").unwrap()[0]["id"]
        .as_u64()
        .unwrap();
    app.store()
        .edit_in_store_view_by_hand("VF-1", id, "fr_fr", Some("Blouson"), false)
        .unwrap();
    let (clean, output) = app.run_cli(&["verify"]).await;
    assert!(!clean, "a difference in a store view:\n{output}");
    assert!(output.contains("store view fr_fr"), "{output}");
    assert!(!output.contains("store view de_de"), "{output}");
    app.store()
        .edit_in_store_view_by_hand("VF-1", id, "de_de", Some("Jacket"), false)
        .unwrap();
    let (_, output) = app.run_cli(&["verify"]).await;
    assert!(output.contains("store view de_de"), "{output}");
}

#[tokio::test]
async fn the_hidden_store_views_property_is_configurable() {
    let app = TestApp::spawn().await;
    app.put_products(&["MH01"]).await;
    let (status, body) = app
        .put_config(
            "",
            json!({ "hidden_store_views_property": "custom:hiddenIn" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["full_sync"].is_i64(),
        "a change of it starts a full sync: {body}"
    );
    app.approved_asset(json!({
        "commerce:skus": ["MH01"],
        "custom:hiddenIn": ["fr_FR"],
        "commerce:hiddenStoreViews": ["de_DE"],
    }));
    app.settle().await;
    let (_, fr) = media_in(&app, "MH01", "store=fr_fr").await;
    let (_, de) = media_in(&app, "MH01", "store=de_de").await;
    assert_eq!(fr["entries"][0]["hidden"], true, "{fr}");
    assert_eq!(
        de["entries"][0]["hidden"], false,
        "the default property is not read: {de}"
    );
}
