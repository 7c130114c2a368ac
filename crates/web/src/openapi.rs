//! The OpenAPI 3.1 document of the HTTP surface, generated from the handlers' `#[utoipa::path]` operations
//! and the request and reply types (see [`crate::routes`]); served at `GET /api/v1/openapi.json` and checked
//! in as `crates/web/openapi.json` (a test fails when they differ).

use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The name of the admin bearer security scheme in the document.
pub(crate) const ADMIN_SCHEME: &str = "admin_token";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "assetsync",
        description = "Keeps commerce product galleries in sync with AEM Assets. Every error reply is \
            `{\"code\", \"message\"}` (422s add `fields`); codes are stable once published. Admin routes \
            need `Authorization: Bearer <admin token>`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&AdminBearer),
    tags(
        (name = "events", description = "The Adobe I/O Events webhooks"),
        (name = "products", description = "The public read API and the product admin routes"),
        (name = "manual-links", description = "Assets linked to products by hand, and the DAM search to pick them"),
        (name = "config", description = "The integration's configuration"),
        (name = "matching", description = "What the matching rule in force does"),
        (name = "sync", description = "Full syncs and verification"),
        (name = "dead-letters", description = "Work given up"),
        (name = "assets", description = "Asset sync status"),
        (name = "health", description = "Health and latency reports"),
        (name = "meta", description = "This document"),
    )
)]
struct Base;

/// Declares the admin bearer token scheme.
struct AdminBearer;

impl utoipa::Modify for AdminBearer {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ADMIN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The `admin_token` of the configuration file"))
                    .build(),
            ),
        );
    }
}

/// The document's head: info, tags, the security scheme (the routes add their operations).
pub(crate) fn base() -> OpenApi {
    <Base as utoipa::OpenApi>::openapi()
}

/// The whole document.
pub fn document() -> OpenApi {
    let (_, document) = crate::routes::documented().split_for_parts();
    document
}

/// The whole document as pretty JSON (what `crates/web/openapi.json` holds).
pub fn document_json() -> String {
    document()
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
}
