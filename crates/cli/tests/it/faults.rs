//! Faults: the DAM failing and the store down. Nothing is unlinked because of a failure, events keep being
//! accepted durably, and everything converges once the faults stop.

use crate::harness::TestApp;
use sandbox::commerce::Fault;
use serde_json::json;

#[tokio::test]
async fn dam_errors_and_an_expired_token_never_unlink_and_converge() {
    let app = TestApp::spawn().await;
    app.put_products(&["DF-1", "DF-2"]).await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["DF-1"] }));
    app.settle().await;
    assert_eq!(app.gallery("DF-1").await.len(), 1);

    app.emulator.fail_metadata_reads(500, 2);
    app.emulator.fail_metadata_reads(401, 1);
    app.update(&asset, json!({ "commerce:skus": ["DF-1", "DF-2"] }));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while app.gallery("DF-2").await.is_empty() {
        assert_eq!(
            app.gallery("DF-1").await.len(),
            1,
            "a failure never unlinks"
        );
        assert!(std::time::Instant::now() < deadline, "never converged");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.settle().await;
    assert_eq!(app.asset_status(&asset).await.1["status"], "Success");
}

#[tokio::test]
async fn events_pile_up_durably_while_the_store_is_down_then_converge() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    let skus: Vec<String> = (0..20).map(|i| format!("DN-{i:02}")).collect();
    for sku in &skus {
        app.store().create_product(sku);
    }
    app.store().inject(Fault::Status {
        status: 503,
        retry_after_secs: Some(1),
        count: 3,
    });
    app.store().set_credentials_valid(false);
    let mut assets = Vec::new();
    for sku in &skus {
        assets.push(app.approved_asset(json!({ "commerce:skus": [sku] })));
    }
    // Every delivery is acknowledged although nothing can be written.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while app.emulator.deliveries().in_flight() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries were not acknowledged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        app.emulator.deliveries().failed_attempts,
        0,
        "no delivery was refused while the store was down"
    );
    assert!(
        app.sync_health().await["events"]["stored"]
            .as_i64()
            .unwrap()
            >= 40
    );

    app.store().set_credentials_valid(true);
    app.settle().await;
    for sku in &skus {
        assert_eq!(app.store().entries(sku).unwrap().len(), 1, "{sku}");
    }
    assert_eq!(
        app.store().stats().throttled,
        3,
        "the 503s were answered, then the work went through"
    );
}

#[tokio::test]
async fn repeated_kills_in_the_middle_of_commerce_writes_lose_and_duplicate_nothing() {
    let mut app = TestApp::spawn_magento("oauth1", false).await;
    let skus: Vec<String> = (0..30).map(|i| format!("KL-{i:02}")).collect();
    for sku in &skus {
        app.store().create_product(sku);
    }
    let mut expected: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    let mut rejected = Vec::new();
    for i in 0..1_000 {
        let sku = &skus[i % skus.len()];
        let id =
            app.approved_asset(json!({ "commerce:skus": [sku], "commerce:positions": [i % 7] }));
        if i % 10 == 3 {
            rejected.push(id);
        } else {
            expected.entry(sku.clone()).or_default().push(id);
        }
    }
    for id in &rejected {
        app.emulator.reject(id).unwrap();
    }
    // Three kills at random moments once commerce writes have begun (the seed is printed to replay a failure).
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    eprintln!("kill schedule seed {seed}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while app.store().stats().posts == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no commerce write began"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let entries: usize = expected.values().map(Vec::len).sum();
    let posts_at_first_kill = app.store().stats().posts;
    assert!(
        posts_at_first_kill < entries as u64,
        "the first kill lands in the middle of the writes"
    );
    for _ in 0..3 {
        app.crash_and_restart();
        tokio::time::sleep(std::time::Duration::from_millis(rng.u64(100..600))).await;
    }
    app.settle().await;
    for (sku, want) in &expected {
        let mut got: Vec<String> = app
            .store_gallery(sku)
            .into_iter()
            .map(|(owner, ..)| owner)
            .collect();
        got.sort();
        let mut want = want.clone();
        want.sort();
        assert_eq!(
            got, want,
            "{sku}: exact gallery, no duplicate, no rejected asset left"
        );
    }
}

#[tokio::test]
async fn anti_entropy_repairs_missed_events_and_finds_products_created_without_one() {
    let app =
        TestApp::spawn_magento_with_sync("anti_entropy_seconds = 1\nmax_skus_per_asset = 2").await;
    app.store().create_product("AE-1");
    app.store().create_product("AE-2");
    let asset = app.approved_asset(json!({ "commerce:skus": ["AE-1"] }));
    app.settle().await;
    assert_eq!(app.store().entries("AE-1").unwrap().len(), 1);

    // A DAM change whose event is lost, and a product imported by CSV (no event), claimed by an asset.
    app.emulator.lose_events(true);
    app.update(&asset, json!({ "commerce:skus": ["AE-2"] }));
    app.emulator.lose_events(false);
    let waiting =
        app.approved_asset(json!({ "commerce:skus": ["AE-CSV", "AE-X", "AE-Y", "AE-Z"] }));
    app.settle().await;
    let (_, status) = app.asset_status(&waiting).await;
    assert!(
        status["warnings"].to_string().contains("only the first 2"),
        "the SKU list is capped: {status}"
    );
    app.store().create_product("AE-CSV");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let repaired = app.store().entries("AE-1").unwrap().is_empty()
            && app.store().entries("AE-2").unwrap().len() == 1
            && app.store().entries("AE-CSV").unwrap().len() == 1;
        if repaired {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "anti-entropy never repaired the drift"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn time_outs_and_a_flaky_store_converge_once_they_stop() {
    let app = TestApp::spawn_magento_with("", "timeout_seconds = 1").await;
    let skus: Vec<String> = (0..10).map(|i| format!("TO-{i}")).collect();
    for sku in &skus {
        app.store().create_product(sku);
    }
    app.store().set_conditions(1_500, 0.0);
    for sku in &skus {
        app.approved_asset(json!({ "commerce:skus": [sku] }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert!(
        skus.iter()
            .all(|s| app.store().entries(s).unwrap().is_empty()),
        "every call timed out"
    );

    // Now fast but failing a third of the time, then healthy.
    app.store().set_conditions(0, 0.33);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    app.store().set_conditions(0, 0.0);
    app.settle().await;
    for sku in &skus {
        assert_eq!(
            app.store().entries(sku).unwrap().len(),
            1,
            "{sku}: converged, no duplicate"
        );
    }
}

#[tokio::test]
async fn an_asset_the_dam_keeps_failing_is_given_up_visibly_then_read_again() {
    let app = TestApp::spawn_magento_with_sync("max_attempts = 2").await;
    app.store().create_product("GU-1");
    app.emulator.lose_events(true);
    let asset = app.approved_asset(json!({ "commerce:skus": ["GU-1"] }));
    app.emulator.lose_events(false);
    app.emulator.fail_metadata_reads(503, 2);
    app.update(&asset, json!({ "dc:title": "one event, two failed reads" }));
    app.settle().await;
    let (_, status) = app.asset_status(&asset).await;
    assert_eq!(status["status"], "Failed", "{status}");
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{status}"
    );
    assert!(app.store().entries("GU-1").unwrap().is_empty());

    app.update(&asset, json!({ "dc:title": "read me again" }));
    app.settle().await;
    assert_eq!(app.asset_status(&asset).await.1["status"], "Success");
    assert_eq!(app.store().entries("GU-1").unwrap().len(), 1);
}
