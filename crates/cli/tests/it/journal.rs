//! Missed events are caught up through the I/O Events journal, deduplicated by id, from a durable position.

use crate::harness::TestApp;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn events_whose_delivery_was_lost_come_from_the_journal() {
    let mut app = TestApp::spawn_with_journal().await;
    app.put_products(&["JR-1", "JR-2"]).await;
    let delivered = app.approved_asset(json!({ "commerce:skus": ["JR-1"] }));
    app.emulator.lose_events(true);
    let missed = app.approved_asset(json!({ "commerce:skus": ["JR-2"] }));
    app.emulator.lose_events(false);

    app.wait_for_gallery("JR-2", |g| g.len() == 1).await;
    app.settle().await;
    assert_eq!(app.gallery("JR-2").await[0].0, missed);
    assert_eq!(app.gallery("JR-1").await[0].0, delivered);
    let stored = app.sync_health().await["events"]["stored"]
        .as_i64()
        .unwrap();
    assert_eq!(
        stored, 4,
        "two events per asset, each stored once although the journal repeats the delivered ones"
    );

    // The position is durable: after a restart nothing is read twice, and new events keep coming.
    app.crash_and_restart();
    app.emulator.lose_events(true);
    let later = app.approved_asset(json!({ "commerce:skus": ["JR-1"] }));
    app.emulator.lose_events(false);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !app
        .gallery("JR-1")
        .await
        .iter()
        .any(|(id, _, _)| *id == later)
    {
        assert!(
            Instant::now() < deadline,
            "the journal never caught up after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.sync_health().await["events"]["stored"]
            .as_i64()
            .unwrap(),
        6
    );
}
