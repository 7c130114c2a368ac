//! `assetsync verify [--repair]`: differences between the DAM, assetsync's state and the store's galleries.

use crate::harness::TestApp;
use serde_json::json;

#[tokio::test]
async fn verify_finds_a_planted_difference_and_repair_fixes_it() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("VF-1");
    app.store().create_product("VF-2");
    let asset =
        app.approved_asset(json!({ "commerce:skus": ["VF-1"], "commerce:roles": ["image"] }));
    app.settle().await;
    let (code, output) = app.run_cli_code(&["verify"]).await;
    assert_eq!(
        code,
        Some(0),
        "no difference after a sync exits 0:\n{output}"
    );
    assert!(output.contains("0 difference(s)"), "{output}");

    // By hand in the store: the entry goes.
    let id = app.store().entries("VF-1").unwrap()[0]["id"]
        .as_u64()
        .unwrap();
    app.store().delete_entry_by_hand("VF-1", id).unwrap();
    // In the DAM, while its events are lost: the asset moves to another product.
    app.emulator.lose_events(true);
    app.update(&asset, json!({ "commerce:skus": ["VF-2"] }));
    app.emulator.lose_events(false);

    let (code, output) = app.run_cli_code(&["verify"]).await;
    assert_eq!(code, Some(1), "differences exit 1:\n{output}");
    assert!(
        output.contains("applied_vs_commerce") && output.contains("missing in the store"),
        "{output}"
    );
    assert!(output.contains("dam_vs_state"), "{output}");

    let (ok, output) = app.run_cli(&["verify", "--repair"]).await;
    assert!(ok, "{output}");
    assert!(output.contains("full sync"), "{output}");
    app.settle().await;
    let wait = std::time::Instant::now();
    loop {
        let (clean, output) = app.run_cli(&["verify"]).await;
        if clean {
            break;
        }
        assert!(
            wait.elapsed() < std::time::Duration::from_secs(120),
            "never repaired:\n{output}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        app.store().entries("VF-1").unwrap().is_empty(),
        "the asset left VF-1"
    );
    assert_eq!(app.store().entries("VF-2").unwrap().len(), 1);
}

#[tokio::test]
async fn repair_after_a_lost_database_restores_the_galleries_without_duplicates() {
    let mut app = TestApp::spawn_magento("oauth1", false).await;
    for sku in ["LD-1", "LD-2", "LD-3"] {
        app.store().create_product(sku);
    }
    for i in 0..9 {
        let sku = ["LD-1", "LD-2", "LD-3"][i % 3];
        app.approved_asset(json!({ "commerce:skus": [sku], "commerce:positions": [i] }));
    }
    app.settle().await;
    let before: Vec<_> = ["LD-1", "LD-2", "LD-3"]
        .iter()
        .map(|s| app.store().entries(s).unwrap())
        .collect();
    let posts = app.store().stats().posts;

    app.lose_the_database();
    let (ok, output) = app.run_cli(&["verify", "--repair"]).await;
    assert!(ok, "{output}");
    let wait = std::time::Instant::now();
    while app.gallery("LD-1").await.len() < 3 || app.gallery("LD-3").await.len() < 3 {
        assert!(
            wait.elapsed() < std::time::Duration::from_secs(120),
            "galleries never restored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.settle().await;
    let after: Vec<_> = ["LD-1", "LD-2", "LD-3"]
        .iter()
        .map(|s| app.store().entries(s).unwrap())
        .collect();
    assert_eq!(
        after, before,
        "the store's galleries are as they were: no duplicate, nothing lost"
    );
    assert_eq!(
        app.store().stats().posts,
        posts,
        "every entry was adopted, none posted again"
    );
    let (clean, output) = app.run_cli(&["verify"]).await;
    assert!(clean, "{output}");
}
