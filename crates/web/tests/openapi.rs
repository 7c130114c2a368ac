//! The OpenAPI document is checked in (`crates/web/openapi.json`): it changes only together with the code
//! that generates it, and a change shows in review.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

const REGENERATE: &str = "UPDATE_OPENAPI=1 cargo test -p assetsync-web --test openapi";

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

#[test]
fn openapi_document_matches_the_checked_in_one() {
    let generated = format!("{}\n", assetsync_web::openapi::document_json());
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(checked_in(), &generated).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(checked_in()).unwrap_or_default();
    assert!(
        stored == generated,
        "crates/web/openapi.json differs from the document the code generates; if the change is intended, \
         regenerate it with `{REGENERATE}` and review the diff"
    );
}

#[test]
fn openapi_document_is_3_1_with_the_admin_bearer_scheme_and_error_schema() {
    let document: serde_json::Value =
        serde_json::from_str(&assetsync_web::openapi::document_json()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."));
    assert_eq!(
        document["components"]["securitySchemes"]["admin_token"]["scheme"],
        "bearer"
    );
    let error = &document["components"]["schemas"]["Error"];
    assert_eq!(error["required"], serde_json::json!(["code", "message"]));
    // Every admin route needs the token; the public ones do not.
    let public = [
        "/events/aem",
        "/events/commerce",
        "/healthz",
        "/api/v1/products/{sku}/media",
        "/api/v1/openapi.json",
    ];
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let secured = operation.get("security").is_some();
            assert_eq!(
                secured,
                !public.contains(&path.as_str()),
                "{method} {path}: security {secured}"
            );
            let statuses = operation["responses"].as_object().unwrap();
            if secured {
                assert!(
                    statuses.contains_key("401"),
                    "{method} {path} lacks its 401"
                );
            }
        }
    }
}
