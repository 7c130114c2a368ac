//! Videos on Adobe Commerce (an `external-video` entry playing the DAM's player, its poster image as content)
//! and store views the store does not have, reported on the asset's status.

use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A video asset (`dc:format` `video/mp4`) with these metadata, approved.
fn approved_video(app: &TestApp, metadata: Value) -> String {
    let Value::Object(mut metadata) = metadata else {
        panic!("metadata must be an object")
    };
    metadata.insert("commerce:isCommerce".into(), json!("Yes"));
    let id = app
        .emulator
        .create_asset(sandbox::aem::NewAsset {
            format: Some("video/mp4".into()),
            metadata,
            ..sandbox::aem::NewAsset::default()
        })
        .unwrap();
    app.emulator.approve(&id).unwrap();
    id
}

/// The store's entry of `asset` on `sku` (found by its file name), if there is one.
fn entry_of(app: &TestApp, sku: &str, asset: &str) -> Option<Value> {
    let uuid = asset.trim_start_matches("urn:aaid:aem:");
    app.store()
        .entries(sku)
        .unwrap_or_default()
        .into_iter()
        .find(|e| e["file"].as_str().unwrap_or_default().contains(uuid))
}

#[tokio::test]
async fn a_video_is_an_external_video_playing_the_dam_player_approved_moved_and_rejected() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().set_store_views(&["fr_fr"]);
    for sku in ["MV01", "MV02"] {
        app.store().create_product(sku);
        app.put_product(sku).await;
    }
    let image = app.approved_asset(
        json!({ "commerce:skus": ["MV01"], "commerce:roles": ["image"],
                                           "commerce:positions": [1] }),
    );
    let video = approved_video(
        &app,
        json!({
            "dc:title": "Trailer",
            "dc:description": "The hoodie in motion",
            "commerce:skus": ["MV01"],
            "commerce:roles": ["thumbnail"],
            "commerce:positions": [2],
            "commerce:altTextStoreViews": ["fr_FR"],
            "commerce:altTextValues": ["Bande-annonce"],
        }),
    );
    app.settle().await;

    let entry = entry_of(&app, "MV01", &video).expect("the video's entry");
    assert_eq!(entry["media_type"], "external-video", "{entry}");
    assert_eq!(
        entry["extension_attributes"]["video_content"],
        json!({
            "media_type": "external-video",
            "video_provider": "",
            "video_url": format!("{}/adobe/assets/{video}/play", app.emulator.url()),
            "video_title": "Trailer",
            "video_description": "The hoodie in motion",
            "video_metadata": "",
        })
    );
    assert!(
        entry["file"].as_str().unwrap().ends_with(".png"),
        "the poster image is the entry's content: {entry}"
    );
    assert_eq!(entry["position"], 2);
    assert_eq!(entry["types"], json!(["thumbnail"]));
    assert_eq!(entry["label"], "Trailer");
    let uuid = video.trim_start_matches("urn:aaid:aem:");
    let in_fr = app.store().entries_in("MV01", "fr_fr").unwrap();
    let in_fr = in_fr
        .iter()
        .find(|e| e["file"].as_str().unwrap_or_default().contains(uuid))
        .unwrap();
    assert_eq!(
        (&in_fr["label"], &in_fr["media_type"]),
        (&json!("Bande-annonce"), &json!("external-video")),
        "the store-scoped write of a video carries its content: {in_fr}"
    );
    assert_eq!(
        entry_of(&app, "MV01", &image).unwrap()["media_type"],
        "image"
    );
    assert_eq!(
        app.emulator.original_reads(&video),
        0,
        "the video's binary is never downloaded"
    );
    assert_eq!(app.asset_status(&video).await.1["status"], "Success");
    let (clean, output) = app.run_cli(&["verify"]).await;
    assert!(clean, "a video checks out:\n{output}");

    // The custom domain set: the player URL follows, without a DAM re-read.
    let (status, body) = app
        .put_config("", json!({ "asset_custom_domain": "cdn.example.com" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.settle().await;
    let entry = entry_of(&app, "MV01", &video).unwrap();
    assert_eq!(
        entry["extension_attributes"]["video_content"]["video_url"],
        format!("https://cdn.example.com/adobe/assets/{video}/play"),
        "{entry}"
    );
    let (clean, output) = app.run_cli(&["verify"]).await;
    assert!(clean, "the custom domain checks out:\n{output}");

    // Moved to another product and position.
    app.update(
        &video,
        json!({ "commerce:skus": ["MV02"], "commerce:positions": [5], "dc:title": "Teaser" }),
    );
    app.settle().await;
    assert!(entry_of(&app, "MV01", &video).is_none(), "left MV01");
    assert!(entry_of(&app, "MV01", &image).is_some());
    let moved = entry_of(&app, "MV02", &video).expect("on MV02");
    assert_eq!(moved["media_type"], "external-video");
    assert_eq!(moved["position"], 5);
    assert_eq!(
        moved["extension_attributes"]["video_content"]["video_title"],
        "Teaser"
    );

    // Rejected: its entry goes.
    app.emulator.reject(&video).unwrap();
    app.settle().await;
    assert_eq!(app.store().entries("MV02").unwrap(), Vec::<Value>::new());
    assert_eq!(app.emulator.original_reads(&video), 0);
}

#[tokio::test]
async fn verify_finds_a_video_whose_player_was_changed_in_the_store() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("MV03");
    app.put_product("MV03").await;
    let video = approved_video(&app, json!({ "commerce:skus": ["MV03"] }));
    app.settle().await;
    let id = entry_of(&app, "MV03", &video).unwrap()["id"]
        .as_u64()
        .unwrap();
    app.store()
        .set_video_url_by_hand("MV03", id, "https://videos.example.com/elsewhere")
        .unwrap();
    let (clean, output) = app.run_cli(&["verify"]).await;
    assert!(!clean, "a changed player is a difference:\n{output}");
    assert!(output.contains("videos.example.com/elsewhere"), "{output}");
}

#[tokio::test]
async fn store_views_the_store_lacks_and_unusable_rows_are_on_the_assets_status() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().set_store_views(&["fr_fr"]);
    app.store().create_product("SV01");
    app.put_product("SV01").await;
    let asset = app.approved_asset(json!({
        "commerce:skus": ["SV01"],
        "commerce:altTextStoreViews": ["default", "fr_FR", "it_IT", "fr-BE"],
        "commerce:altTextValues": ["Jacket", "Veste", "Giacca", "Veste belge"],
        "commerce:hiddenStoreViews": ["es_ES"],
    }));
    app.settle().await;

    let (status, body) = app.asset_status(&asset).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "Success", "{body}");
    let warnings: Vec<&str> = body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    // The Magento sink keys products by their case-folded SKU (Magento compares SKUs without case).
    assert!(
        warnings.contains(
            &"sv01: the store has no store view es_es, it_it; the values for it were not sent"
        ),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("altTextStoreViews[3]") && w.contains("fr-be")),
        "the unusable row is dropped with a warning: {warnings:?}"
    );
    let sent_to = |code: &str| {
        app.store()
            .requests()
            .iter()
            .any(|(_, path)| path.contains(&format!("/rest/{code}/")))
    };
    assert!(sent_to("fr_fr"));
    assert!(
        !sent_to("it_it") && !sent_to("es_es"),
        "nothing is sent for them"
    );

    // The unknown views taken off the asset: the warning goes.
    app.update(
        &asset,
        json!({
            "commerce:altTextStoreViews": ["default", "fr_FR"],
            "commerce:altTextValues": ["Jacket", "Veste"],
            "commerce:hiddenStoreViews": [],
        }),
    );
    app.settle().await;
    let (_, body) = app.asset_status(&asset).await;
    assert_eq!(body["warnings"], json!([]), "{body}");
}
