//! `GET /api/v1/openapi.json` (public): the OpenAPI 3.1 document of this surface.

use crate::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::OnceLock;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// `GET /api/v1/openapi.json` (public): this document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
async fn openapi_json() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let document = DOCUMENT.get_or_init(crate::openapi::document_json).clone();
    ([(header::CONTENT_TYPE, "application/json")], document)
}
