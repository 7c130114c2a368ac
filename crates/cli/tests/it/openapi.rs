//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, public, listing every route the service answers.

use crate::harness::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every route of the service (the HTTP contract).
const ROUTES: [(&str, &str); 27] = [
    ("get", "/events/aem"),
    ("post", "/events/aem"),
    ("get", "/events/commerce"),
    ("post", "/events/commerce"),
    ("get", "/healthz"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/products/{sku}/media"),
    ("get", "/api/v1/products/{sku}"),
    ("put", "/api/v1/products/{sku}"),
    ("get", "/api/v1/config"),
    ("put", "/api/v1/config"),
    ("get", "/api/v1/config/history"),
    ("post", "/api/v1/config/workspace"),
    ("post", "/api/v1/match/preview"),
    ("post", "/api/v1/sync"),
    ("get", "/api/v1/sync/{id}"),
    ("get", "/api/v1/dead-letters"),
    ("post", "/api/v1/dead-letters/replay"),
    ("post", "/api/v1/dead-letters/{id}/replay"),
    ("get", "/api/v1/health/sync"),
    ("post", "/api/v1/verify"),
    ("get", "/api/v1/sla"),
    ("get", "/api/v1/assets/{asset_id}"),
    ("post", "/api/v1/products/{sku}/manual-links"),
    ("get", "/api/v1/products/{sku}/manual-links"),
    ("delete", "/api/v1/products/{sku}/manual-links/{asset_id}"),
    ("get", "/api/v1/dam/assets"),
];

#[tokio::test]
async fn openapi_document_is_public_3_1_and_lists_every_route_the_service_answers() {
    let app = TestApp::spawn().await;
    let reply = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK, "public: no token needed");
    let document: Value = reply.json().await.unwrap();
    let version = document["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "openapi {version}");

    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, expected);

    // Every documented operation is one the service routes: none falls through to "no such route" or
    // "method not allowed" (admin routes answer 401 without a token, public ones their own reply).
    for (method, path) in &documented {
        let concrete = path.replace("{sku}", "OA-1").replace("{id}", "1").replace(
            "{asset_id}",
            "urn:aaid:aem:0b9e7c1e-1111-4a2b-8c3d-0000000000ab",
        );
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let reply = app
            .http
            .request(method.clone(), format!("{}{concrete}", app.url))
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(body["code"], "not_found", "{method} {path}: {body}");
        if document["paths"][path][method.as_str().to_lowercase()]["security"].is_array() {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
    }
}
