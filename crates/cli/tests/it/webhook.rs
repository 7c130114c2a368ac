//! The I/O Events webhook: handshake, verification, refusals, deduplication.

use crate::harness::{CLIENT_ID, KeyForm, TestApp, event_body};
use reqwest::StatusCode;
use serde_json::Value;

const ASSET: &str = "urn:aaid:aem:0b9e7c1e-1111-4a2b-8c3d-000000000001";

async fn stored_events(app: &TestApp) -> i64 {
    app.sync_health().await["events"]["stored"]
        .as_i64()
        .unwrap()
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
}

#[tokio::test]
async fn the_registration_challenge_is_echoed_only_in_its_uuid_form() {
    let app = TestApp::spawn().await;
    let challenge = "8ec8d794-e0ab-42df-9017-e3dada8e84f7";
    for path in ["/events/aem", "/events/commerce"] {
        let reply = app
            .http
            .get(format!("{}{path}?challenge={challenge}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(reply.headers()["x-content-type-options"], "nosniff");
        assert!(
            reply.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(reply.text().await.unwrap(), challenge);
    }
    for refused in [
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "abc-123",
        "8ec8d794-e0ab-42df-9017-e3dada8e84f7x",
        "8ec8d794e0ab42df9017e3dada8e84f7",
        "",
    ] {
        let reply = app
            .http
            .get(format!("{}/events/aem?challenge={refused}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST, "{refused}");
        assert_error(&reply.json().await.unwrap(), "invalid_challenge");
    }
}

#[tokio::test]
async fn events_of_another_aem_environment_are_acknowledged_counted_and_ignored() {
    let app = TestApp::spawn().await;
    let before = stored_events(&app).await;
    let other = |id: &str| {
        let mut event: Value = serde_json::from_slice(&event_body(
            id,
            "aem.assets.asset.metadata_updated",
            ASSET,
            CLIENT_ID,
        ))
        .unwrap();
        event["source"] = "acct:aem-p142461-e999999@adobe.com".into();
        event.to_string().into_bytes()
    };
    let (status, reply) = app.deliver_signed(&other("evt-other-env")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["status"], "other_environment");
    assert_eq!(stored_events(&app).await, before, "nothing is stored");
    assert_eq!(
        app.sync_health().await["queues"]["asset_work"],
        0,
        "no work"
    );
    let (status, _) = app.asset_status(ASSET).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the asset is not this environment's"
    );
    let metrics = app
        .http
        .get(&app.metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("outcome=\"other_environment\"") && l.ends_with(" 1")),
        "{metrics}"
    );

    // Once the integration is pointed at that environment, its events are this integration's.
    let (status, reply) = app
        .put_config("", serde_json::json!({ "environment_id": "999999" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, reply) = app.deliver_signed(&other("evt-other-env-2")).await;
    assert_eq!(
        (status, reply["status"].as_str()),
        (StatusCode::OK, Some("stored"))
    );
    let (_, reply) = app
        .deliver_signed(&event_body(
            "evt-first-env",
            "aem.assets.asset.metadata_updated",
            ASSET,
            CLIENT_ID,
        ))
        .await;
    assert_eq!(
        reply["status"], "other_environment",
        "and the first environment's are not"
    );
}

#[tokio::test]
async fn refused_deliveries_get_stable_errors_and_store_nothing() {
    let app = TestApp::spawn().await;
    let before = stored_events(&app).await;
    let body = event_body(
        "evt-refused",
        "aem.assets.asset.metadata_updated",
        ASSET,
        CLIENT_ID,
    );

    let (status, reply) = app.deliver(&body, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&reply, "missing_signature");

    let other_body = event_body(
        "evt-other",
        "aem.assets.asset.metadata_updated",
        ASSET,
        CLIENT_ID,
    );
    let [forged, _] = app.emulator.keys().sign(&other_body).unwrap();
    let (status, reply) = app
        .deliver(&body, &[("x-adobe-digital-signature-1", forged)])
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a signature of another body must not verify"
    );
    assert_error(&reply, "invalid_signature");

    let (status, reply) = app
        .deliver(
            &body,
            &[("x-adobe-digital-signature-1", "not base64 !".into())],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&reply, "invalid_signature");

    let (status, reply) = app.deliver_signed(b"{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&reply, "malformed_event");

    let (status, reply) = app
        .deliver_signed(br#"{"type":"aem.assets.asset.metadata_updated"}"#)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an event without an id is malformed"
    );
    assert_error(&reply, "malformed_event");

    let no_asset = br#"{"id":"evt-x","type":"aem.assets.asset.metadata_updated","recipient_client_id":"test-client","data":{}}"#;
    let (status, reply) = app.deliver_signed(no_asset).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an asset event without an asset id is malformed"
    );
    assert_error(&reply, "malformed_event");

    let misaddressed = event_body(
        "evt-misaddressed",
        "aem.assets.asset.metadata_updated",
        ASSET,
        "someone-else",
    );
    let (status, reply) = app.deliver_signed(&misaddressed).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&reply, "wrong_recipient");

    let mut huge = event_body(
        "evt-huge",
        "aem.assets.asset.metadata_updated",
        ASSET,
        CLIENT_ID,
    );
    huge.truncate(huge.len() - 1);
    huge.extend_from_slice(
        format!(",\"padding\":\"{}\"}}", "x".repeat(2 * 1024 * 1024)).as_bytes(),
    );
    let (status, reply) = announce_without_body(&app, &huge).await;
    assert_eq!(
        status, 413,
        "refused on its Content-Length, before a byte of the body is read"
    );
    assert_error(&reply, "body_too_large");

    assert_eq!(
        stored_events(&app).await,
        before,
        "nothing of a refused delivery is stored"
    );
    let (status, _) = app.asset_status(ASSET).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no refused delivery may create asset state"
    );
}

#[tokio::test]
async fn either_signature_verifies() {
    // The service is configured with the second key only; signature 1 is garbage.
    let app = TestApp::spawn_with(KeyForm::SpkiSecondKey, true).await;
    let body = event_body(
        "evt-sig2",
        "aem.assets.asset.metadata_updated",
        ASSET,
        CLIENT_ID,
    );
    let [_, two] = app.emulator.keys().sign(&body).unwrap();
    let (status, reply) = app
        .deliver(
            &body,
            &[
                ("x-adobe-digital-signature-1", "AAAA".into()),
                ("x-adobe-digital-signature-2", two),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["status"], "stored");
}

#[tokio::test]
async fn a_pkcs1_public_key_is_accepted() {
    let app = TestApp::spawn_with(KeyForm::Pkcs1FirstKey, true).await;
    let body = event_body(
        "evt-pkcs1",
        "aem.assets.asset.metadata_updated",
        ASSET,
        CLIENT_ID,
    );
    let [one, _] = app.emulator.keys().sign(&body).unwrap();
    let (status, reply) = app
        .deliver(&body, &[("x-adobe-digital-signature-1", one)])
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[tokio::test]
async fn a_repeated_event_is_acknowledged_and_ignored() {
    let app = TestApp::spawn().await;
    let before = stored_events(&app).await;
    let body = event_body(
        "evt-dup",
        "aem.assets.asset.metadata_updated",
        ASSET,
        CLIENT_ID,
    );
    let (status, first) = app.deliver_signed(&body).await;
    assert_eq!(
        (status, first["status"].as_str()),
        (StatusCode::OK, Some("stored"))
    );
    let (status, second) = app.deliver_signed(&body).await;
    assert_eq!(
        (status, second["status"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    assert_eq!(stored_events(&app).await, before + 1);
}

#[tokio::test]
async fn events_of_unused_types_are_acknowledged_and_counted() {
    let app = TestApp::spawn().await;
    let body = br#"{"id":"evt-unused","type":"aem.sites.page.published","recipient_client_id":"test-client","data":{}}"#;
    let (status, reply) = app.deliver_signed(body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["status"], "ignored");
    assert_eq!(app.health().await["events_since_start"]["ignored"], 1);
    assert_eq!(
        app.sync_health().await["queues"]["asset_work"],
        0,
        "an unused type queues no work"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_400_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let before = stored_events(&app).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let invalid_utf8: &[u8] = b"{\"id\":\"e\xff\xfe\",\"type\":\"aem.assets.asset.deleted\"}";
    let wrong_types = br#"{"id": 42, "type": ["aem.assets.asset.deleted"], "recipient_client_id": "test-client"}"#;
    let bad_asset = event_body(
        "evt-bad-asset",
        "aem.assets.asset.deleted",
        "urn:aaid:aem:../../etc/passwd",
        CLIENT_ID,
    );
    for body in [
        deep.as_bytes(),
        invalid_utf8,
        wrong_types.as_slice(),
        bad_asset.as_slice(),
        b"",
        b"null",
    ] {
        let (status, reply) = app.deliver_signed(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert_error(&reply, "malformed_event");
    }
    assert_eq!(
        stored_events(&app).await,
        before,
        "nothing of a malformed delivery is stored"
    );
    assert_eq!(
        app.health().await["status"],
        "ok",
        "the service is unharmed"
    );
}

/// Sends the head of a signed delivery of `body` (its `Content-Length` included) and none of the body, and
/// reads the answer: a service that refuses on the announced length answers at once. (Sending the body too
/// races with that answer: the service closes the connection, and the client's write may fail with a broken
/// pipe before it reads the 413.)
async fn announce_without_body(app: &TestApp, body: &[u8]) -> (u16, serde_json::Value) {
    let [one, two] = app.emulator.keys().sign(body).unwrap();
    let head = format!(
        "POST /events/aem HTTP/1.1\r\nHost: test\r\ncontent-type: application/cloudevents+json\r\n\
         x-adobe-digital-signature-1: {one}\r\nx-adobe-digital-signature-2: {two}\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    crate::raw_http::raw_exchange(app, &head)
        .await
        .expect("no answer to an oversized delivery")
}
