//! The integration's configuration API and what its fields do.

use crate::harness::{CLIENT_ID, TestApp};
use crate::raw_http::raw_exchange;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_configuration_is_read_changed_field_by_field_and_its_history_kept() {
    let app = TestApp::spawn().await;
    let reply = app
        .http
        .get(format!("{}/api/v1/config", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    let (status, config) = app.admin_get("/api/v1/config").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["program_id"], "142461");
    assert_eq!(config["sku_attribute"], "commerce:skus");
    assert_eq!(config["visualization_owner"], "aem_assets");
    assert_eq!(config["sync_enabled"], true);

    let (status, reply) = app
        .put_config("", json!({ "author_url": "https://author-p777-e888.adobeaemcloud.com/", "resync_on_metadata_change": false }))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["config"]["program_id"], "777");
    assert_eq!(reply["config"]["environment_id"], "888");
    assert!(
        reply["config"].get("author_url").is_none(),
        "author_url is write-only"
    );
    let (_, config) = app.admin_get("/api/v1/config").await;
    assert_eq!(config["resync_on_metadata_change"], false);
    assert_eq!(
        config["sku_attribute"], "commerce:skus",
        "fields left out keep their value"
    );

    let (status, _) = app
        .put_config("", json!({ "program_id": null, "environment_id": null }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, config) = app.admin_get("/api/v1/config").await;
    assert_eq!(
        (
            config["program_id"].as_str(),
            config["environment_id"].as_str()
        ),
        (Some("142461"), Some("1463137")),
        "null = the system value"
    );

    let (_, history) = app.admin_get("/api/v1/config/history").await;
    let changes = history["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2);
    let first = &changes[1]["fields"];
    assert!(
        first
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "program_id" && c["old"] == "142461" && c["new"] == "777"),
        "{first}"
    );
    assert!(changes[0]["at"].is_string());
}

#[tokio::test]
async fn invalid_changes_and_other_scopes_are_refused_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (_, before) = app.admin_get("/api/v1/config").await;
    let (status, reply) = app
        .put_config("", json!({ "author_url": "https://example.com/", "visualization_owner": "nobody", "sku_attribute": "has space", "sync_enabled": false }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply["code"], "invalid_config");
    for field in ["author_url", "visualization_owner", "sku_attribute"] {
        assert!(
            reply["fields"][field].is_string(),
            "one message per field: {reply}"
        );
    }
    assert!(reply["fields"].get("sync_enabled").is_none());

    let (status, reply) = app
        .put_config(
            "?scope=websites&scope_id=1",
            json!({ "sync_enabled": false }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["code"], "scope_not_supported");
    assert!(reply["message"].as_str().unwrap().contains("global"));
    let (status, _) = app
        .admin_get("/api/v1/config?scope=stores&scope_id=2")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, after) = app.admin_get("/api/v1/config").await;
    assert_eq!(before, after, "nothing was stored");
    assert_eq!(
        app.admin_get("/api/v1/config/history").await.1["changes"],
        json!([])
    );
}

#[tokio::test]
async fn sync_switched_off_and_on_through_the_api_keeps_then_applies_the_work() {
    let app = TestApp::spawn().await;
    app.put_product("SW-1").await;
    app.put_config("", json!({ "sync_enabled": false })).await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["SW-1"] }));
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert!(
        app.gallery("SW-1").await.is_empty(),
        "nothing is written while sync is off"
    );
    assert_eq!(app.asset_status(&asset).await.1["status"], "Waiting");

    app.put_config("", json!({ "sync_enabled": true })).await;
    app.wait_for_gallery("SW-1", |g| g.len() == 1).await;
}

#[tokio::test]
async fn the_custom_domain_and_the_owner_shape_what_the_read_api_publishes() {
    let app = TestApp::spawn().await;
    app.put_product("CD-1").await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["CD-1"] }));
    app.settle().await;

    let (status, _) = app.put_config("", json!({ "asset_custom_domain": "assets.example.com", "visualization_owner": "commerce" })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app.media("CD-1").await;
    assert_eq!(
        body["entries"][0]["url"],
        format!("https://assets.example.com/adobe/assets/{asset}")
    );
    assert_eq!(
        body["entries"][0]["rendition_url"],
        format!("https://assets.example.com/adobe/assets/{asset}/as/CD-1.webp?quality=80")
    );
    assert_eq!(
        body["entries"][0]["hidden"], true,
        "owner commerce hides DAM entries"
    );

    for owner in ["aem_assets", "commerce", "aem_assets"] {
        app.put_config("", json!({ "visualization_owner": owner }))
            .await;
    }
    app.put_config("", json!({ "asset_custom_domain": null }))
        .await;
    let (_, body) = app.media("CD-1").await;
    assert_eq!(body["entries"][0]["hidden"], false);
    assert_eq!(
        body["entries"][0]["url"],
        format!("{}/adobe/assets/{asset}", app.emulator.url())
    );
    assert_eq!(
        app.gallery("CD-1").await.len(),
        1,
        "an owner switch deletes nothing"
    );

    let reply = app
        .http
        .get(format!(
            "{}/api/v1/products/CD-1/media?width=300&format=png&quality=60",
            app.url
        ))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(
        body["entries"][0]["rendition_url"],
        format!(
            "{}/adobe/assets/{asset}/as/CD-1.png?width=300&quality=60",
            app.emulator.url()
        )
    );
    let reply = app
        .http
        .get(format!(
            "{}/api/v1/products/CD-1/media?format=tiff",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json::<serde_json::Value>().await.unwrap()["code"],
        "invalid_rendition"
    );
    let reply = app
        .http
        .get(format!(
            "{}/api/v1/products/CD-1/media?smartcrop=x",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_new_sku_attribute_starts_a_full_sync_that_links_by_it() {
    let app = TestApp::spawn().await;
    app.put_product("SA-1").await;
    let asset = app.approved_asset(json!({ "custom:productSkus": ["SA-1"] }));
    app.settle().await;
    assert!(app.gallery("SA-1").await.is_empty());

    let (_, reply) = app
        .put_config("", json!({ "sku_attribute": "custom:productSkus" }))
        .await;
    assert!(
        reply["full_sync"].as_i64().is_some(),
        "a change of what matches starts a full sync: {reply}"
    );
    app.wait_for_gallery("SA-1", |g| g.len() == 1).await;
    assert_eq!(app.gallery("SA-1").await[0].0, asset);
}

#[tokio::test]
async fn commerce_product_events_attach_and_drop_links() {
    let app = TestApp::spawn().await;
    let asset =
        app.approved_asset(json!({ "commerce:skus": ["PE-1"], "commerce:roles": ["image"] }));
    app.settle().await;
    assert_eq!(app.media("PE-1").await.0, StatusCode::NOT_FOUND);

    let saved = json!({
        "id": "commerce-evt-1", "type": "com.adobe.commerce.observer.catalog_product_save_after",
        "recipient_client_id": CLIENT_ID, "data": { "value": { "sku": "PE-1", "_isNew": true } }
    });
    let (status, reply) = app
        .deliver_commerce_event(saved.to_string().as_bytes())
        .await;
    assert_eq!(
        (status, reply["status"].as_str()),
        (StatusCode::OK, Some("stored")),
        "{reply}"
    );
    app.wait_for_gallery("PE-1", |g| g.len() == 1).await;
    assert_eq!(app.gallery("PE-1").await[0].0, asset);
    let (_, again) = app
        .deliver_commerce_event(saved.to_string().as_bytes())
        .await;
    assert_eq!(again["status"], "duplicate");

    let other = json!({ "id": "commerce-evt-2", "type": "com.adobe.commerce.observer.catalog_category_save_after", "recipient_client_id": CLIENT_ID, "data": {} });
    assert_eq!(
        app.deliver_commerce_event(other.to_string().as_bytes())
            .await
            .1["status"],
        "ignored"
    );

    let deleted = json!({
        "id": "commerce-evt-3", "type": "com.adobe.commerce.observer.catalog_product_delete_after",
        "recipient_client_id": CLIENT_ID, "data": { "value": { "sku": "PE-1" } }
    });
    assert_eq!(
        app.deliver_commerce_event(deleted.to_string().as_bytes())
            .await
            .0,
        StatusCode::OK
    );
    app.settle().await;
    assert_eq!(
        app.media("PE-1").await.0,
        StatusCode::NOT_FOUND,
        "a deleted product drops its links"
    );
    assert_eq!(app.asset_status(&asset).await.1["linked_skus"], json!([]));

    let (status, _) = app
        .deliver_to("/events/commerce", saved.to_string().as_bytes(), &[])
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "commerce events are verified like the DAM's"
    );
}

#[tokio::test]
async fn strict_parity_syncs_only_status_changes_and_deletions() {
    let app = TestApp::spawn().await;
    app.put_products(&["SP-1", "SP-2"]).await;
    app.put_config("", json!({ "resync_on_metadata_change": false }))
        .await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["SP-1"] }));
    app.settle().await;
    assert_eq!(app.gallery("SP-1").await.len(), 1, "an approval acts");

    app.update(&asset, json!({ "commerce:skus": ["SP-2"] }));
    app.settle().await;
    assert_eq!(
        app.gallery("SP-1").await.len(),
        1,
        "a metadata-only change does not act"
    );
    assert!(app.gallery("SP-2").await.is_empty());
    let (_, status) = app.asset_status(&asset).await;
    assert!(
        status["warnings"]
            .to_string()
            .contains("resync_on_metadata_change"),
        "{status}"
    );

    app.emulator.reject(&asset).unwrap();
    app.settle().await;
    assert!(app.gallery("SP-1").await.is_empty(), "a status change acts");
    app.emulator.approve(&asset).unwrap();
    app.settle().await;
    assert_eq!(
        app.gallery("SP-2").await.len(),
        1,
        "re-approval applies the metadata as it is now"
    );
}

#[tokio::test]
async fn admin_routes_refuse_a_missing_token_before_reading_the_body() {
    let app = TestApp::spawn_with_http("body_timeout_seconds = 600").await;
    for path in [
        "/api/v1/config",
        "/api/v1/config/workspace",
        "/api/v1/match/preview",
    ] {
        let method = if path == "/api/v1/config" {
            "PUT"
        } else {
            "POST"
        };
        // The body is announced and never sent: only a check made before reading it can answer.
        let answer = raw_exchange(
            &app,
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                 Content-Length: 1000\r\n\r\n{{"
            ),
        )
        .await;
        let (status, body) =
            answer.unwrap_or_else(|| panic!("{method} {path} waited for the body"));
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(body["code"], "unauthorized");
    }
}

#[tokio::test]
async fn every_rejection_has_a_code_and_a_message() {
    let app = TestApp::spawn().await;
    let send = |request: reqwest::RequestBuilder| async move {
        let reply = request.send().await.unwrap();
        let status = reply.status();
        let content_type = reply
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body: serde_json::Value = reply.json().await.unwrap_or(serde_json::Value::Null);
        assert!(
            content_type.starts_with("application/json"),
            "{status}: {content_type}"
        );
        assert!(
            body["code"].as_str().is_some_and(|c| !c.is_empty())
                && body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{status}: {body}"
        );
        (status, body["code"].as_str().unwrap().to_owned())
    };
    let url = |path: &str| format!("{}{path}", app.url);
    let token = crate::harness::ADMIN_TOKEN;
    let cases = [
        (
            app.http.get(url("/no/such/route")),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            app.http.delete(url("/api/v1/config")).bearer_auth(token),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            app.http.delete(url("/healthz")),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            app.http
                .get(url("/api/v1/sync/not-a-number"))
                .bearer_auth(token),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            app.http
                .post(url("/api/v1/verify?repair=maybe"))
                .bearer_auth(token),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            app.http
                .put(url("/api/v1/config"))
                .bearer_auth(token)
                .body("{not json"),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            app.http.get(url("/api/v1/config")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
    ];
    for (request, status, code) in cases {
        assert_eq!(send(request).await, (status, code.to_owned()));
    }
    // A body announced larger than 2 MiB is refused before it is sent.
    let (status, body) = raw_exchange(
        &app,
        &format!(
            "PUT /api/v1/config HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 3145728\r\n\r\n"
        ),
    )
    .await
    .expect("no answer to an oversized body");
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("body_too_large")),
        "{body}"
    );
}

#[tokio::test]
async fn a_new_matcher_url_needs_the_secret_again_and_a_secret_change_is_recorded_without_its_value()
 {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .put_config(
            "",
            json!({
                "matching_rule": "custom_match",
                "asset_to_product_url": "https://127.0.0.1:9/a2p",
                "matcher_client_id": "matcher-client",
                "matcher_client_secret": "first-secret-value",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, before) = app.admin_get("/api/v1/config").await;

    for field in [
        "asset_to_product_url",
        "product_to_asset_url",
        "matcher_token_url",
    ] {
        let (status, body) = app
            .put_config("", json!({ field: "https://127.0.0.2:9/elsewhere" }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["code"], "invalid_config");
        assert!(
            body["fields"][field]
                .as_str()
                .unwrap()
                .contains("matcher_client_secret"),
            "{body}"
        );
    }
    let (_, after) = app.admin_get("/api/v1/config").await;
    assert_eq!(before, after, "nothing was saved");

    let (status, body) = app
        .put_config(
            "",
            json!({ "asset_to_product_url": "https://127.0.0.2:9/a2p", "matcher_client_secret": "second-secret-value" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .put_config("", json!({ "matcher_client_secret": "third-secret-value" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], json!(["matcher_client_secret"]), "{body}");

    let (_, history) = app.admin_get("/api/v1/config/history").await;
    let newest = &history["changes"][0]["fields"];
    assert_eq!(
        newest,
        &json!([{ "field": "matcher_client_secret", "old": "set", "new": "changed" }]),
        "{history}"
    );
    let shown = history.to_string();
    for secret in [
        "first-secret-value",
        "second-secret-value",
        "third-secret-value",
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
}
