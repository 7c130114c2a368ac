//! `GET /api/v1/products/{sku}`: one product's sync status — whether assetsync knows it, its applied entries
//! and claims, its gallery's queued work (attempt, due time, last error), and its custom matcher's
//! product-to-asset call while it waits or after it was given up.

use crate::extract::Admin;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use domain::Sku;
use domain::time::format_rfc3339_ms;
use serde_json::json;
use store::{ProductCallState, QueuedWork};

pub(crate) async fn product_status(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let sku = Sku::parse(&raw).map_err(|e| ApiError::bad_request("invalid_sku", e.to_string()))?;
    let status = state
        .engine
        .store()
        .product_status(&sku)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| {
            ApiError::not_found(
                "product_not_found",
                format!("assetsync knows nothing of {sku}"),
            )
        })?;
    let work = |w: &QueuedWork| {
        json!({
            "attempt": w.attempt,
            "due": format_rfc3339_ms(w.run_at_ms),
            "error": w.last_error,
        })
    };
    let call = status.product_call.as_ref().map(|(call_state, w)| {
        let mut value = work(w);
        value["state"] = json!(match call_state {
            ProductCallState::Queued => "queued",
            ProductCallState::Failed => "failed",
        });
        value
    });
    Ok(Json(json!({
        "sku": status.sku,
        "known": status.known,
        "missing_in_commerce": status.missing,
        "entries": status.entries,
        "claims": status.claims,
        "gallery_work": status.gallery_work.as_ref().map(work),
        "product_to_asset": call,
    }))
    .into_response())
}
