//! What the admin console's pages ask of the engine: the Sync Status listing filtered by status and SKU, an
//! asset's history, an operator's retry, the sync health report and the SLA over time.

use crate::harness::{Harness, sku};
use engine::console::{AssetListQuery, AssetSort, RETRY_EVENT_TYPE, SlaSpan, SyncStatus};
use engine::sla::SlaRecorder;
use serde_json::json;

fn listing(status: Option<SyncStatus>, sku_: Option<&str>) -> AssetListQuery {
    AssetListQuery {
        status,
        sku: sku_.map(sku),
        sort: AssetSort::ProcessingDesc,
        limit: 50,
        ..AssetListQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_assets_are_listed_apart_and_a_retry_reads_them_again() {
    let h = Harness::started().await;
    h.add_product(&sku("C-1")).await;
    let good = h.approved_asset(json!({ "commerce:skus": ["C-1"], "commerce:roles": ["image"] }));
    // A SKU list that is an object breaks the contract: the asset fails.
    let bad = h.approved_asset(json!({ "commerce:skus": { "not": "a list" } }));
    h.hint(&good).await;
    h.hint(&bad).await;
    h.wait_until("both assets to settle", || async {
        h.asset_status(&good).await == Some(SyncStatus::Success)
            && h.asset_status(&bad).await == Some(SyncStatus::Failed)
    })
    .await;

    let engine = h.engine();
    let failed = engine
        .list_assets(&listing(Some(SyncStatus::Failed), None))
        .await
        .unwrap();
    assert_eq!(failed.rows.len(), 1, "{failed:?}");
    assert_eq!(failed.rows[0].asset_id, bad);
    assert!(failed.rows[0].last_error.is_some(), "{failed:?}");
    let on_sku = engine
        .list_assets(&listing(None, Some("C-1")))
        .await
        .unwrap();
    assert_eq!(on_sku.rows.len(), 1);
    assert_eq!(on_sku.rows[0].asset_id, good);
    assert_eq!(on_sku.rows[0].linked_skus, vec![sku("C-1")]);
    assert_eq!(
        engine
            .list_assets(&listing(None, None))
            .await
            .unwrap()
            .rows
            .len(),
        2
    );

    // The failed asset's history: its status and the event that brought it.
    let history = engine.asset_history(&bad).await.unwrap();
    assert_eq!(history.status.unwrap().status, SyncStatus::Failed);
    assert_eq!(history.events.len(), 1);
    assert!(history.claims.is_empty());

    // Fixed in the DAM; an operator's retry reads it again (no event from the DAM needed).
    h.update(&bad, json!({ "commerce:skus": ["C-1"] }));
    assert!(engine.retry_asset(&bad).await.unwrap());
    h.wait_until("the retried asset to succeed", || async {
        h.asset_status(&bad).await == Some(SyncStatus::Success)
    })
    .await;
    let history = engine.asset_history(&bad).await.unwrap();
    assert_eq!(history.events.len(), 2);
    assert_eq!(history.events[0].event_type, RETRY_EVENT_TYPE);
    assert_eq!(history.claims.len(), 1);
    assert!(
        engine
            .list_assets(&listing(Some(SyncStatus::Failed), None))
            .await
            .unwrap()
            .rows
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_report_says_what_is_paused_and_why() {
    let h = Harness::started().await;
    let report = h.engine().sync_health().await.unwrap();
    assert!(!report.degraded(), "{report:?}");
    assert_eq!(report.sink.state.state, "ready");
    assert_eq!(report.processes, 1);
    h.sink.pause();
    let report = h.engine().sync_health().await.unwrap();
    assert!(report.degraded());
    assert!(report.sink.state.paused());
    assert!(report.sink.state.reason.is_some(), "{report:?}");
    assert_eq!(report.dam.state.state, "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sla_over_time_has_one_bucket_per_minute_of_the_last_hour() {
    let h = Harness::started().await;
    h.add_product(&sku("S-1")).await;
    let asset = h.approved_asset(json!({ "commerce:skus": ["S-1"] }));
    h.hint(&asset).await;
    h.wait_until("the asset to succeed", || async {
        h.asset_status(&asset).await == Some(SyncStatus::Success)
    })
    .await;
    let sla = h.engine().sla_over_time(SlaSpan::LastHour).await.unwrap();
    assert_eq!(sla.points.len(), 60);
    assert_eq!(sla.points.last().unwrap().window.event_to_applied.count, 1);
    let total: u64 = sla
        .points
        .iter()
        .map(|p| p.window.event_to_applied.count)
        .sum();
    assert_eq!(total, sla.report.last_hour.event_to_applied.count);
    let day = h.engine().sla_over_time(SlaSpan::LastDay).await.unwrap();
    assert_eq!(day.points.len(), 24);
    assert!(day.points.iter().all(|p| p.minutes == 60));
}

#[test]
fn the_sla_series_puts_each_sample_in_its_minute_and_forgets_older_than_the_span() {
    const MINUTE: i64 = 60_000;
    let now = 1_000 * MINUTE + 30_000;
    let sla = SlaRecorder::default();
    sla.record_applied(now - 10 * MINUTE, 50_000);
    sla.record_applied(now - 2 * MINUTE, 1_000);
    sla.record_applied(now - 2 * MINUTE, 400_000);
    sla.record_applied(now, 2_000);
    sla.record_ack(now, 12);

    let points = sla.series(now, 1, 5);
    let counts: Vec<u64> = points
        .iter()
        .map(|p| p.window.event_to_applied.count)
        .collect();
    assert_eq!(
        counts,
        vec![0, 0, 2, 0, 1],
        "the sample 10 minutes ago is outside"
    );
    assert_eq!(points[4].start_ms, 1_000 * MINUTE);
    assert_eq!(points[0].start_ms, 996 * MINUTE);
    let two = &points[2].window.event_to_applied;
    assert_eq!(two.max_ms, 400_000);
    assert!((two.within_5_min - 0.5).abs() < 1e-9, "{two:?}");
    assert_eq!(points[4].window.webhook_ack.count, 1);

    // Buckets of five minutes: the last one ends with the current minute.
    let wide = sla.series(now, 5, 3);
    let counts: Vec<u64> = wide
        .iter()
        .map(|p| p.window.event_to_applied.count)
        .collect();
    assert_eq!(counts, vec![1, 0, 3]);
    assert_eq!(wide[2].start_ms, 996 * MINUTE);
}
