//! Full syncs (start one, follow one) and verification (`POST /api/v1/verify`).

use crate::extract::Admin;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::time::format_rfc3339_ms;
use engine::verify::VerifyReport;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_full_sync))
        .routes(routes!(full_sync_status))
        .routes(routes!(verify))
}

/// A full sync started (or joined).
#[derive(Serialize, ToSchema)]
pub(crate) struct SyncStarted {
    /// Follow it at `GET /api/v1/sync/{id}`.
    id: i64,
}

/// A full sync's state and progress.
#[derive(Serialize, ToSchema)]
pub(crate) struct FullSyncStatus {
    id: i64,
    /// `waiting`, `running`, `done` or `failed`.
    state: &'static str,
    reason: String,
    /// `assets`, `products`, `applying` or `done`.
    phase: &'static str,
    done: i64,
    total: i64,
    errors: i64,
    /// Seconds left at the pace so far (`null` while it cannot tell; 0 once it no longer runs).
    eta_seconds: Option<i64>,
    /// RFC 3339.
    created: String,
    started: Option<String>,
    finished: Option<String>,
    /// Its last error.
    error: Option<String>,
}

/// `POST /api/v1/sync`: starts a full sync (or joins the waiting one) and answers its id.
#[utoipa::path(post, path = "/api/v1/sync", tag = "sync", security(("admin_token" = [])),
    responses(
        (status = 202, description = "Started or joined", body = SyncStarted),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn start_full_sync(
    State(state): State<AppState>,
    _: Admin,
) -> Result<(StatusCode, Json<SyncStarted>), ApiError> {
    let id = state
        .engine
        .request_full_sync("requested through the API")
        .await?;
    Ok((StatusCode::ACCEPTED, Json(SyncStarted { id })))
}

/// `GET /api/v1/sync/{id}`: a full sync's state, phase, progress and ETA.
#[utoipa::path(get, path = "/api/v1/sync/{id}", tag = "sync", security(("admin_token" = [])),
    params(("id" = i64, Path, description = "The full sync's id")),
    responses(
        (status = 200, description = "Its state", body = FullSyncStatus),
        (status = 400, description = "`bad_request`: the id is not a number", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 404, description = "`sync_not_found`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn full_sync_status(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
) -> Result<Json<FullSyncStatus>, ApiError> {
    let sync = state
        .engine
        .full_sync(id)
        .await?
        .ok_or_else(|| ApiError::not_found("sync_not_found", format!("no full sync {id}")))?;
    Ok(Json(FullSyncStatus {
        id: sync.id,
        state: sync.state.as_str(),
        eta_seconds: state.engine.full_sync_eta_seconds(&sync),
        phase: sync.phase.as_str(),
        done: sync.done,
        total: sync.total,
        errors: sync.errors,
        created: format_rfc3339_ms(sync.created_ms),
        started: sync.started_ms.map(format_rfc3339_ms),
        finished: sync.finished_ms.map(format_rfc3339_ms),
        error: sync.last_error,
        reason: sync.reason,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VerifyQuery {
    /// Queue the fixes too.
    #[serde(default)]
    repair: bool,
}

/// `POST /api/v1/verify[?repair=true]`: every difference between the DAM, the state and the galleries.
///
/// Every difference between the DAM, assetsync's state and the commerce galleries; with `repair`, the fixes
/// are queued.
#[utoipa::path(post, path = "/api/v1/verify", tag = "sync", security(("admin_token" = [])), params(VerifyQuery),
    responses(
        (status = 200, description = "What was found (and queued)", body = VerifyReport),
        (status = 400, description = "`bad_request`: `repair` is not `true` or `false`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 502, description = "`remote_unavailable`: the DAM or the commerce platform failed", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn verify(
    State(state): State<AppState>,
    _: Admin,
    Query(query): Query<VerifyQuery>,
) -> Result<Json<VerifyReport>, ApiError> {
    Ok(Json(state.engine.verify(query.repair).await?))
}
