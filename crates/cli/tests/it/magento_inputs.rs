//! What the Adobe Commerce sink is handed, checked before it reaches the store: file names that tell every
//! version apart, originals too large or not images, and SKUs that are dot segments or differ only in case.

use crate::harness::{TestApp, object, roles};
use sandbox::aem::NewAsset;
use sandbox::originals::OriginalBody;
use serde_json::{Value, json};

#[tokio::test]
async fn a_new_version_without_sha1_is_uploaded_not_adopted() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("NV-1");
    let asset = app
        .emulator
        .create_asset(NewAsset {
            without_sha1: true,
            metadata: object(json!({
                "commerce:isCommerce": "Yes",
                "commerce:skus": ["NV-1"],
                "commerce:roles": ["image"],
            })),
            ..NewAsset::default()
        })
        .unwrap();
    app.emulator.approve(&asset).unwrap();
    app.settle().await;
    let before = app.store().entries("NV-1").unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(app.store().stats().posts, 1);

    // Versions 3 to 19 go unseen (no event); version 20 is delivered. Its content identity
    // "oak:1.0::ci:20" begins with the same 8 alphanumerics as the uploaded "oak:1.0::ci:2".
    app.emulator.quiet(true);
    for _ in 3..20 {
        app.emulator.new_version(&asset).unwrap();
    }
    app.emulator.quiet(false);
    app.emulator.new_version(&asset).unwrap();
    app.settle().await;
    let repository = &app.emulator.metadata(&asset).unwrap()["repositoryMetadata"];
    assert_eq!(repository["repo:version"], "oak:1.0::ci:20");
    assert!(
        repository.get("dam:sha1").is_none(),
        "no dam:sha1: {repository}"
    );

    let after = app.store().entries("NV-1").unwrap();
    assert_eq!(after.len(), 1, "still one entry: {after:?}");
    assert_eq!(
        app.store().stats().posts,
        2,
        "the new version was uploaded, not adopted"
    );
    assert_ne!(after[0]["id"], before[0]["id"]);
    assert_ne!(after[0]["file"], before[0]["file"]);
    assert_eq!(app.asset_status(&asset).await.1["status"], "Success");
}

#[tokio::test]
async fn dot_segment_skus_are_refused_and_never_address_another_endpoint() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("dot-1");
    let asset = app.approved_asset(json!({
        "commerce:skus": ["..", ".", "dot-1"],
        "commerce:roles": ["image", "image", "image"],
    }));
    let only_dots = app.approved_asset(json!({ "commerce:skus": [".."] }));
    app.settle().await;

    let requests = app.store().requests();
    assert!(
        requests
            .iter()
            .any(|(method, path)| method == "POST" && path == "/rest/all/V1/products/dot-1/media"),
        "the valid SKU was written: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .all(|(_, path)| path == "/rest/all/V1/products"
                || path.starts_with("/rest/all/V1/products/dot-1/media")),
        "only the product list and the product's media were asked for: {requests:?}"
    );
    let (_, status) = app.asset_status(&asset).await;
    assert_eq!(status["status"], "Success", "{status}");
    assert_eq!(status["linked_skus"], json!(["dot-1"]));
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains("dot segment"),
        "the asset says why: {status}"
    );
    let (_, status) = app.asset_status(&only_dots).await;
    assert_eq!(status["linked_skus"], json!([]), "{status}");
}

/// Whether every entry of the store's product is enabled (not hidden).
fn all_enabled(entries: &[Value]) -> bool {
    entries.iter().all(|e| e["disabled"] == false)
}

#[tokio::test]
async fn skus_that_differ_only_in_case_are_one_magento_gallery() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("ABC");
    let upper = app.approved_asset(json!({
        "commerce:skus": ["ABC"],
        "commerce:roles": ["image"],
        "commerce:positions": [1],
    }));
    app.settle().await;
    let lower = app.approved_asset(json!({
        "commerce:skus": ["abc"],
        "commerce:roles": ["thumbnail"],
        "commerce:positions": [2],
    }));
    app.settle().await;
    let gallery = |round: usize| {
        vec![
            (
                upper.clone(),
                1,
                roles(&["image"]),
                Some(format!("Upper {round}")),
            ),
            (
                lower.clone(),
                2,
                roles(&["thumbnail"]),
                Some(format!("Lower {round}")),
            ),
        ]
    };

    // Repeated syncs: each asset changes in turn, and a full sync pages the store's products ("ABC").
    for round in 0..3 {
        app.update(&upper, json!({ "dc:title": format!("Upper {round}") }));
        app.settle().await;
        app.update(&lower, json!({ "dc:title": format!("Lower {round}") }));
        app.settle().await;
        assert_eq!(app.store_gallery("ABC"), gallery(round), "round {round}");
        let entries = app.store().entries("abc").unwrap();
        assert!(
            all_enabled(&entries),
            "neither hides the other: {entries:?}"
        );
    }
    let (status, body) = app.admin_post("/api/v1/sync").await;
    assert!(status.is_success(), "{body}");
    app.wait_for_full_sync(body["id"].as_i64().unwrap()).await;
    app.settle().await;
    assert_eq!(app.store_gallery("ABC"), gallery(2));
    assert!(all_enabled(&app.store().entries("ABC").unwrap()));
    assert_eq!(
        app.store().stats().posts,
        2,
        "two entries, each posted once"
    );

    // The read API serves the one gallery under either spelling.
    let served = app.gallery("ABC").await;
    assert_eq!(served.len(), 2, "{served:?}");
    assert_eq!(app.gallery("abc").await, served);
    assert_eq!(app.asset_status(&upper).await.1["status"], "Success");
    assert_eq!(app.asset_status(&lower).await.1["status"], "Success");
}

const MIB: u64 = 1024 * 1024;

/// An approved asset for commerce on `sku` whose original is `body`, created with one event (its original
/// is set before it exists).
fn asset_with_original(app: &TestApp, sku: &str, body: OriginalBody) -> String {
    let asset = format!("urn:aaid:aem:{}", sandbox::aem::random_uuid());
    app.emulator.serve_original(&asset, body);
    app.emulator
        .create_asset(NewAsset {
            asset_id: Some(asset.clone()),
            metadata: object(json!({
                "dam:status": "approved",
                "commerce:isCommerce": "Yes",
                "commerce:skus": [sku],
                "commerce:roles": ["image"],
            })),
            ..NewAsset::default()
        })
        .unwrap()
}

#[tokio::test]
async fn an_original_over_the_limit_fails_its_asset_and_is_never_read_whole() {
    let app = TestApp::spawn_magento_with("", "max_binary_bytes = 1048576").await;
    for sku in ["BIG-1", "BIG-2", "FITS-1"] {
        app.store().create_product(sku);
    }
    // 128 MiB declared by Content-Length, 128 MiB chunked (no length), and just under 1 MiB.
    let declared = asset_with_original(
        &app,
        "BIG-1",
        OriginalBody::Png {
            bytes: 128 * MIB,
            declared_length: true,
        },
    );
    let chunked = asset_with_original(
        &app,
        "BIG-2",
        OriginalBody::Png {
            bytes: 128 * MIB,
            declared_length: false,
        },
    );
    let fits = asset_with_original(
        &app,
        "FITS-1",
        OriginalBody::Png {
            bytes: MIB - 1,
            declared_length: false,
        },
    );
    app.settle().await;

    for (asset, size) in [
        (&declared, "134217728 bytes"),
        (&chunked, "more than 1048576 bytes"),
    ] {
        let (_, status) = app.asset_status(asset).await;
        assert_eq!(status["status"], "Failed", "{status}");
        let error = status["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(size) && error.contains("max_binary_bytes (1048576)"),
            "the asset says why: {status}"
        );
    }
    assert!(app.store().entries("BIG-1").unwrap().is_empty());
    assert!(app.store().entries("BIG-2").unwrap().is_empty());
    assert_eq!(app.asset_status(&fits).await.1["status"], "Success");
    assert_eq!(app.store().entries("FITS-1").unwrap().len(), 1);
    // The 256 MiB of large bodies were not taken: the declared one not at all, the chunked one up to the
    // limit (what the sockets buffered besides).
    let sent = app.emulator.original_bytes_sent();
    assert!(sent < 64 * MIB, "{sent} bytes of the originals were sent");
}

#[tokio::test]
async fn an_original_that_is_not_an_image_fails_its_asset_without_being_read() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("PAGE-1");
    let asset = asset_with_original(
        &app,
        "PAGE-1",
        OriginalBody::Typed {
            content_type: "text/html; charset=utf-8".into(),
            bytes: 128 * MIB,
        },
    );
    app.settle().await;

    let (_, status) = app.asset_status(&asset).await;
    assert_eq!(status["status"], "Failed", "{status}");
    let error = status["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("text/html") && error.contains("not an image"),
        "the asset says why: {status}"
    );
    assert!(app.store().entries("PAGE-1").unwrap().is_empty());
    assert_eq!(app.store().stats().posts, 0);
    let sent = app.emulator.original_bytes_sent();
    assert!(sent < 32 * MIB, "{sent} bytes of the page were sent");
}
