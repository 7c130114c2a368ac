//! What the Adobe Commerce sink is handed, checked before it reaches the store: file names that tell every
//! version apart, originals too large or not images, and SKUs that are dot segments or differ only in case.

use crate::harness::{TestApp, object};
use sandbox::aem::NewAsset;
use serde_json::json;

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
