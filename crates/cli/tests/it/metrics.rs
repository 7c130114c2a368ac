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
    let items = sample(&text, "assetsync_full_sync_phase_items").unwrap();
    assert!(
        items >= 1.0,
        "renamed from assetsync_full_sync_total: {items}"
    );
    assert_eq!(sample(&text, "assetsync_full_sync_total"), None);
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

#[tokio::test]
async fn requests_are_counted_by_route_pattern_and_status_never_by_raw_path() {
    let app = TestApp::spawn().await;
    app.put_products(&["HTTP1"]).await;
    for _ in 0..2 {
        let (status, _) = app.media("HTTP1").await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = app.media("NO-SUCH-SKU").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.health().await;
    let reply = app
        .http
        .get(format!("{}/no/such/route-raw-path", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);

    let text = scrape(&app).await;
    let media = r#"method="GET",route="/api/v1/products/{sku}/media""#;
    assert_eq!(
        sample(
            &text,
            &format!(r#"assetsync_http_requests_total{{{media},status="200"}}"#)
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"assetsync_http_requests_total{{{media},status="404"}}"#)
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"assetsync_http_request_duration_seconds_count{{{media}}}"#)
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"assetsync_http_request_duration_seconds_bucket{{{media},le="+Inf"}}"#)
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"assetsync_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            r#"assetsync_http_requests_total{method="GET",route="/healthz",status="200"}"#
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        !text.contains("route-raw-path") && !text.contains("HTTP1") && !text.contains("NO-SUCH"),
        "no raw path in a label"
    );
    assert!(
        !text.contains(r#"route="/metrics""#),
        "the metrics listener is not the main one"
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                r#"assetsync_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0)
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn process_metrics_describe_the_service_process() {
    let app = TestApp::spawn().await;
    let text = scrape(&app).await;
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = sample(&text, "process_start_time_seconds").unwrap();
    assert!(
        started <= now_s + 1.0 && started > now_s - 600.0,
        "spawned by this test: {started} vs {now_s}"
    );
    let resident = sample(&text, "process_resident_memory_bytes").unwrap();
    assert!(resident > 1e6, "{resident}");
    assert!(sample(&text, "process_virtual_memory_bytes").unwrap() >= resident);
    assert!(sample(&text, "process_cpu_seconds_total").unwrap() >= 0.0);
    let open = sample(&text, "process_open_fds").unwrap();
    assert!(open >= 3.0, "{open}");
    assert!(sample(&text, "process_max_fds").unwrap() >= open);
}

/// `promtool check metrics` (Prometheus's own linter and parser) reports nothing on a live exposition with
/// every family populated. CI installs promtool; without it on PATH the test says so and checks nothing.
#[tokio::test]
async fn the_exposition_passes_promtool_check_metrics() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let Ok(promtool) = Command::new("promtool").arg("--version").output() else {
        eprintln!("promtool is not on PATH: skipped (CI installs the prometheus package)");
        return;
    };
    assert!(promtool.status.success());

    let app = TestApp::spawn_magento("oauth1", false).await;
    app.store().create_product("PT1");
    app.put_products(&["PT1"]).await;
    app.approved_asset(json!({ "commerce:skus": ["PT1"], "commerce:roles": ["image"] }));
    app.settle().await;
    let (status, _) = app.deliver(b"{}", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.media("PT1").await;
    app.http
        .get(format!("{}/nowhere", app.url))
        .send()
        .await
        .unwrap();
    let text = scrape(&app).await;
    for family in [
        "assetsync_events_total{",
        "assetsync_commerce_calls_total{",
        "assetsync_http_requests_total{",
        "assetsync_http_request_duration_seconds_bucket{",
        "assetsync_event_to_applied_seconds_bucket{",
        "assetsync_build_info{",
    ] {
        assert!(text.contains(family), "{family} in {text}");
    }

    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {:?}\n{report}\n{text}",
        out.status
    );
}
