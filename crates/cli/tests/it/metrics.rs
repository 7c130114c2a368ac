//! `/metrics`: Prometheus text on its own listener, counting what the service did.

use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;

/// The value of the sample whose name and labels are exactly `series`, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let reply = app.http.get(&app.metrics_url).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(
        reply.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    reply.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_events_queues_latency_and_database_on_their_own_listener() {
    let app = TestApp::spawn().await;
    assert_ne!(
        app.metrics_url.trim_end_matches("/metrics"),
        app.url,
        "a listener of its own"
    );
    app.put_products(&["M1"]).await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["M1"], "commerce:roles": ["image"] }));
    app.settle().await;
    assert_eq!(app.gallery("M1").await.len(), 1, "{asset} linked");
    let (status, _) = app.deliver(b"{}", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let text = scrape(&app).await;
    let stored = sample(
        &text,
        r#"assetsync_events_total{source="webhook",kind="asset_changed",outcome="stored"}"#,
    )
    .unwrap();
    assert!(stored >= 2.0, "created and approved: {stored}");
    assert_eq!(
        sample(
            &text,
            r#"assetsync_events_total{source="webhook",kind="unknown",outcome="missing_signature"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"assetsync_queue_depth{queue="sku"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, r#"assetsync_queue_depth{queue="asset"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"assetsync_queue_oldest_pending_seconds{queue="sku"}"#
        ),
        Some(0.0)
    );
    let applied = sample(&text, "assetsync_event_to_applied_seconds_count").unwrap();
    assert!(applied >= 1.0);
    assert_eq!(
        sample(
            &text,
            r#"assetsync_event_to_applied_seconds_bucket{le="+Inf"}"#
        ),
        Some(applied)
    );
    assert!(
        sample(
            &text,
            r#"assetsync_event_to_applied_seconds_bucket{le="1800"}"#
        )
        .unwrap()
            >= applied - 0.5,
        "every write within 30 minutes"
    );
    assert!(sample(&text, "assetsync_webhook_ack_seconds_count").unwrap() >= stored);
    assert!(sample(&text, "assetsync_database_bytes").unwrap() > 0.0);
    assert_eq!(sample(&text, "assetsync_sink_paused"), Some(0.0));
    assert!(
        !text.contains(crate::harness::ADMIN_TOKEN) && !text.contains(crate::harness::ACCESS_TOKEN)
    );

    let reply = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.status(),
        StatusCode::NOT_FOUND,
        "not on the public listener"
    );
}

#[tokio::test]
async fn metrics_count_commerce_calls_and_full_sync_progress() {
    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("MC1");
    app.put_products(&["MC1"]).await;
    app.approved_asset(json!({ "commerce:skus": ["MC1"], "commerce:roles": ["image"] }));
    app.settle().await;
    let (status, body) = app.admin_post("/api/v1/sync").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_i64().unwrap();
    app.wait_for_full_sync(id).await;

    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"assetsync_commerce_calls_total{operation="create_entry",status="200"}"#
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            r#"assetsync_commerce_calls_total{operation="list_media",status="200"}"#
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        sample(
            &text,
            r#"assetsync_commerce_calls_total{operation="download_rendition",status="200"}"#
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(sample(&text, "assetsync_full_sync_running"), Some(0.0));
    assert!(sample(&text, "assetsync_full_sync_done").unwrap() >= 1.0);
}

#[tokio::test]
async fn every_reply_carries_a_request_id_and_a_callers_token_is_kept() {
    let app = TestApp::spawn().await;
    let reply = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    let generated = reply.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!generated.is_empty());
    let again = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), generated);
    let kept = app
        .http
        .get(format!("{}/healthz", app.url))
        .header("x-request-id", "trace-42.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-42.a_b");
    let forged = app
        .http
        .get(format!("{}/healthz", app.url))
        .header("x-request-id", "a b\"c")
        .send()
        .await
        .unwrap();
    assert_ne!(forged.headers()["x-request-id"], "a b\"c");
}
