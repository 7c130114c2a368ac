//! `GET /api/v1/assets/{asset_id}`: one asset's sync status (reference §9.2).

use crate::extract::Admin;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use domain::AssetId;
use domain::time::format_rfc3339_ms;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(asset_status))
}

/// An asset's sync status.
#[derive(Serialize, ToSchema)]
pub(crate) struct AssetStatus {
    asset_id: String,
    /// `Success`, `Failed` or `Waiting`.
    status: &'static str,
    /// When it was last read (RFC 3339).
    processing: Option<String>,
    /// When its galleries were last written (RFC 3339).
    dispatched: Option<String>,
    eligible: bool,
    /// SKUs whose galleries hold it now.
    linked_skus: Vec<String>,
    /// SKUs it asks for that are not in the catalog yet.
    waiting_for_products: Vec<String>,
    warnings: Vec<String>,
    error: Option<String>,
    /// Its last event → applied latency.
    latency_ms: Option<i64>,
}

/// `GET /api/v1/assets/{asset_id}`: the asset's sync status (reference §9.2).
#[utoipa::path(get, path = "/api/v1/assets/{asset_id}", tag = "assets", security(("admin_token" = [])),
    params(("asset_id" = String, Path, description = "The asset's id, `urn:aaid:aem:<uuid>`", pattern = "^urn:aaid:aem:[0-9A-Za-z-]{1,64}$")),
    responses(
        (status = 200, description = "Its status", body = AssetStatus),
        (status = 400, description = "`invalid_asset_id`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 404, description = "`asset_not_found`: assetsync has never seen it", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn asset_status(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<Json<AssetStatus>, ApiError> {
    let asset_id = AssetId::parse(&raw)?;
    let status = state.engine.asset_status(&asset_id).await?.ok_or_else(|| {
        ApiError::not_found(
            "asset_not_found",
            format!("assetsync has never seen {asset_id}"),
        )
    })?;
    let time = |ms: Option<i64>| ms.map(format_rfc3339_ms);
    let strings = |skus: Vec<domain::Sku>| skus.iter().map(ToString::to_string).collect();
    Ok(Json(AssetStatus {
        asset_id: status.asset_id.to_string(),
        status: status.status.as_str(),
        processing: time(status.processing_ms),
        dispatched: time(status.dispatched_ms),
        eligible: status.eligible,
        linked_skus: strings(status.linked_skus),
        waiting_for_products: strings(status.waiting_for_products),
        warnings: status.warnings,
        error: status.last_error,
        latency_ms: status.last_latency_ms,
    }))
}
