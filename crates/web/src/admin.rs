//! The admin API (bearer token): configuration, preview, full syncs, dead letters, sync health, verify, SLA,
//! asset status and products. [`Admin`] is the first extractor of every handler, so nothing of a request
//! (path, query, body) is read before the token is checked.

use crate::extract::{Admin, BodyBytes};
use crate::routes::Pauses;
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use domain::time::format_rfc3339_ms;
use domain::{AssetId, Sku};
use engine::EngineError;
use serde::Deserialize;
use serde_json::json;
use store::FullSyncState;

/// The admin routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/config", get(get_config).put(put_config))
        .route("/api/v1/config/history", get(config_history))
        .route("/api/v1/config/workspace", post(upload_workspace))
        .route("/api/v1/match/preview", post(match_preview))
        .route("/api/v1/sync", post(start_full_sync))
        .route("/api/v1/sync/{id}", get(full_sync_status))
        .route("/api/v1/dead-letters", get(dead_letters))
        .route("/api/v1/dead-letters/replay", post(replay_all_dead_letters))
        .route("/api/v1/dead-letters/{id}/replay", post(replay_dead_letter))
        .route("/api/v1/health/sync", get(sync_health))
        .route("/api/v1/verify", post(verify))
        .route("/api/v1/sla", get(sla))
        .route("/api/v1/assets/{asset_id}", get(asset_status))
        .route(
            "/api/v1/products/{sku}",
            put(put_product).get(crate::products::product_status),
        )
}

/// `GET /api/v1/assets/{assetId}`: the asset's sync status (reference §9.2).
async fn asset_status(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let asset_id = AssetId::parse(&raw)
        .map_err(|e| ApiError::bad_request("invalid_asset_id", e.to_string()))?;
    let status = state
        .engine
        .store()
        .asset_status(&asset_id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| {
            ApiError::not_found(
                "asset_not_found",
                format!("assetsync has never seen {asset_id}"),
            )
        })?;
    let time = |ms: Option<i64>| ms.map(format_rfc3339_ms);
    Ok(Json(json!({
        "asset_id": status.asset_id,
        "status": status.status,
        "processing": time(status.processing_ms),
        "dispatched": time(status.dispatched_ms),
        "eligible": status.eligible,
        "linked_skus": status.linked_skus,
        "waiting_for_products": status.waiting_for_products,
        "warnings": status.warnings,
        "error": status.last_error,
        "latency_ms": status.last_latency_ms,
    }))
    .into_response())
}

/// `PUT /api/v1/products/{sku}`: adds a product to the built-in catalog.
async fn put_product(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let sku = Sku::parse(&raw).map_err(|e| ApiError::bad_request("invalid_sku", e.to_string()))?;
    let created = state
        .engine
        .add_product(&sku, &json!({ "productSku": sku, "source": "api" }))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "sku": sku, "created": created }))).into_response())
}

#[derive(Deserialize)]
struct ScopeQuery {
    scope: Option<String>,
    scope_id: Option<String>,
}

/// Only the global (default) scope exists: any other scope is refused, and nothing is stored.
fn require_global_scope(query: &ScopeQuery) -> Result<(), ApiError> {
    let scope_ok = query
        .scope
        .as_deref()
        .is_none_or(|s| matches!(s, "default" | "global"));
    let id_ok = query.scope_id.as_deref().is_none_or(|id| id == "0");
    if scope_ok && id_ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "scope_not_supported",
            "only the global (default) scope exists; the global value applies to every website and store view",
        ))
    }
}

/// `GET /api/v1/config`: the integration's configuration (global scope).
async fn get_config(
    State(state): State<AppState>,
    _: Admin,
    Query(scope): Query<ScopeQuery>,
) -> Result<Response, ApiError> {
    require_global_scope(&scope)?;
    Ok(Json(state.engine.config().as_fields()).into_response())
}

/// `PUT /api/v1/config`: fields left out keep their value, `null` returns a field to its default.
async fn put_config(
    State(state): State<AppState>,
    _: Admin,
    Query(scope): Query<ScopeQuery>,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    require_global_scope(&scope)?;
    let change = json_body(&body)?;
    save_config(&state, &change).await
}

fn json_body(body: &Bytes) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}")))
}

/// Saves a change and answers the new configuration (secrets only as `<field>_set`).
async fn save_config(state: &AppState, change: &serde_json::Value) -> Result<Response, ApiError> {
    match state.engine.update_config(change).await {
        Ok(update) => Ok(Json(json!({
            "config": update.config.as_fields(),
            "changed": update.changes.iter().map(|c| &c.field).collect::<Vec<_>>(),
            "full_sync": update.full_sync,
        }))
        .into_response()),
        Err(EngineError::InvalidConfig(fields)) => Err(invalid_fields(
            "invalid_config",
            format!("{} field(s) are invalid; nothing was saved", fields.len()),
            &fields,
        )),
        Err(other) => Err(ApiError::internal(&other)),
    }
}

fn invalid_fields(
    code: &'static str,
    message: String,
    fields: &domain::config::FieldErrors,
) -> ApiError {
    let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
    error.fields = Some(json!(fields));
    error
}

/// `POST /api/v1/config/workspace`: an App Builder `workspace.json`; its org id, OAuth server-to-server
/// client id, first client secret and scopes become the custom matcher's credentials (the secret write-only).
async fn upload_workspace(
    State(state): State<AppState>,
    _: Admin,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let workspace = json_body(&body)?;
    let change =
        domain::config::IntegrationConfig::workspace_change(&workspace).map_err(|fields| {
            invalid_fields(
                "invalid_workspace",
                format!(
                    "workspace.json lacks {} field(s) the custom matcher needs; nothing was saved",
                    fields.len()
                ),
                &fields,
            )
        })?;
    save_config(&state, &change).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    asset_id: Option<String>,
    file_name: Option<String>,
}

/// `POST /api/v1/match/preview`: `{"asset_id"}` → the links the rule in force gives the asset and the
/// gallery operations that would follow; `{"file_name"}` (filename rules) → what the rules read from the
/// name. Writes nothing.
async fn match_preview(
    State(state): State<AppState>,
    _: Admin,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let request: PreviewRequest = serde_json::from_value(json_body(&body)?).map_err(|e| {
        ApiError::bad_request(
            "invalid_preview",
            format!("expected {{\"asset_id\"}} or {{\"file_name\"}}: {e}"),
        )
    })?;
    let failure = |error: EngineError| match error {
        EngineError::NotFound(message) => ApiError::not_found("asset_not_found", message),
        EngineError::WrongRule(message) => ApiError::bad_request("invalid_preview", message),
        EngineError::Remote(message) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "remote_unavailable", message)
        }
        other => ApiError::internal(&other),
    };
    match (request.asset_id, request.file_name) {
        (Some(raw), None) => {
            let asset_id = AssetId::parse(&raw)
                .map_err(|e| ApiError::bad_request("invalid_asset_id", e.to_string()))?;
            let preview = state
                .engine
                .preview_asset(&asset_id)
                .await
                .map_err(failure)?;
            Ok(Json(preview).into_response())
        }
        (None, Some(name)) => {
            let preview = state.engine.preview_file_name(&name).map_err(failure)?;
            Ok(Json(preview).into_response())
        }
        _ => Err(ApiError::bad_request(
            "invalid_preview",
            "give exactly one of asset_id and file_name",
        )),
    }
}

/// `GET /api/v1/config/history`: every saved change, newest first.
async fn config_history(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let history = state
        .engine
        .config_history(1000)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let changes: Vec<serde_json::Value> = history
        .iter()
        .map(|change| json!({ "at": format_rfc3339_ms(change.at_ms), "fields": change.changes }))
        .collect();
    Ok(Json(json!({ "changes": changes })).into_response())
}

/// `POST /api/v1/sync`: starts a full sync (or joins the waiting one) and answers its id.
async fn start_full_sync(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let id = state
        .engine
        .request_full_sync("requested through the API")
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response())
}

/// `GET /api/v1/sync/{id}`: a full sync's state, phase, progress and ETA.
async fn full_sync_status(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let sync = state
        .engine
        .full_sync(id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found("sync_not_found", format!("no full sync {id}")))?;
    let now = state.engine.now_ms();
    let eta_seconds = match (sync.state, sync.started_ms) {
        (FullSyncState::Running, Some(started)) if sync.done > 0 && sync.total > sync.done => {
            let per_item = (now - started) as f64 / sync.done as f64;
            Some(((sync.total - sync.done) as f64 * per_item / 1000.0).ceil() as i64)
        }
        (FullSyncState::Running, _) => None,
        _ => Some(0),
    };
    Ok(Json(json!({
        "id": sync.id,
        "state": sync.state,
        "reason": sync.reason,
        "phase": sync.phase,
        "done": sync.done,
        "total": sync.total,
        "errors": sync.errors,
        "eta_seconds": eta_seconds,
        "created": format_rfc3339_ms(sync.created_ms),
        "started": sync.started_ms.map(format_rfc3339_ms),
        "finished": sync.finished_ms.map(format_rfc3339_ms),
        "error": sync.last_error,
    }))
    .into_response())
}

/// `GET /api/v1/dead-letters`: work given up, with its error history.
async fn dead_letters(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let letters = state
        .engine
        .dead_letters()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let letters: Vec<serde_json::Value> = letters
        .iter()
        .map(|letter| {
            json!({
                "id": letter.id,
                "sku": letter.sku,
                "attempts": letter.attempts,
                "errors": letter.errors.iter().map(|e| json!({
                    "at": e["at_ms"].as_i64().map(format_rfc3339_ms),
                    "error": e["error"],
                })).collect::<Vec<_>>(),
                "created": format_rfc3339_ms(letter.created_ms),
            })
        })
        .collect();
    Ok(Json(json!({ "dead_letters": letters })).into_response())
}

/// `POST /api/v1/dead-letters/{id}/replay`: queues one dead letter again.
async fn replay_dead_letter(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    match state
        .engine
        .replay_dead_letters(Some(id))
        .await
        .map_err(|e| ApiError::internal(&e))?
    {
        0 => Err(ApiError::not_found(
            "dead_letter_not_found",
            format!("no dead letter {id}"),
        )),
        replayed => Ok(Json(json!({ "replayed": replayed })).into_response()),
    }
}

/// `POST /api/v1/dead-letters/replay`: queues every dead letter again.
async fn replay_all_dead_letters(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Response, ApiError> {
    let replayed = state
        .engine
        .replay_dead_letters(None)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(json!({ "replayed": replayed })).into_response())
}

/// `GET /api/v1/health/sync`: queue depths, oldest pending ages, dead letters, events stored (all time), a
/// paused sink or DAM with why (paused in any process of the cluster), and the processes sharing the database
/// with their work in flight (`processes`, `in_flight` summed, `cluster` one entry each, this one first).
async fn sync_health(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let backlog = state
        .engine
        .backlog()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let cluster = state
        .engine
        .cluster_health()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let now = state.engine.now_ms();
    let age = |since: Option<i64>| since.map(|t| (now - t).max(0));
    let mut pauses = Pauses::now(&state);
    // A part paused in another process is paused for the cluster: shown when it works here.
    for member in cluster.members.iter().filter(|m| !m.this_process) {
        if member.sink.paused() && pauses.sink["state"] == "ready" {
            pauses.sink["state"] = json!(member.sink.state);
            pauses.sink["reason"] = json!(member.sink.reason);
            pauses.sink["process"] = json!(member.process);
        }
        if member.dam.paused() && pauses.dam["state"] == "ready" {
            pauses.dam = json!({ "state": member.dam.state, "reason": member.dam.reason, "process": member.process });
        }
    }
    Ok(Json(json!({
        "sync_enabled": state.engine.config().sync_enabled,
        "sink": pauses.sink,
        "dam": pauses.dam,
        "processes": cluster.processes,
        "in_flight": cluster.in_flight,
        "cluster": cluster.members,
        "queues": {
            "asset_work": backlog.asset_work,
            "sku_work": backlog.sku_work,
            "bulk_sku_work": backlog.bulk_sku_work,
            "oldest_sku_work_age_ms": age(backlog.oldest_sku_work_ms),
        },
        "assets": {
            "waiting": backlog.waiting_assets,
            "failed": backlog.failed_assets,
            "oldest_waiting_age_ms": age(backlog.oldest_waiting_ms),
        },
        "dead_letters": backlog.dead_letters,
        "events": { "stored": backlog.events, "unused_types": backlog.unused_events },
        "database_bytes": state.engine.database_bytes().await.map_err(|e| ApiError::internal(&e))?,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct VerifyQuery {
    #[serde(default)]
    repair: bool,
}

/// `POST /api/v1/verify[?repair=true]`: every difference between the DAM, assetsync's state and the commerce
/// galleries; with `repair`, the fixes are queued.
async fn verify(
    State(state): State<AppState>,
    _: Admin,
    Query(query): Query<VerifyQuery>,
) -> Result<Response, ApiError> {
    let report = state
        .engine
        .verify(query.repair)
        .await
        .map_err(|e| match e {
            EngineError::Remote(message) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "remote_unavailable", message)
            }
            other => ApiError::internal(&other),
        })?;
    Ok(Json(report).into_response())
}

/// `GET /api/v1/sla`: event → applied and webhook acknowledgement latencies for the last hour, the last day
/// and since start, with the shares within the reference's 5- and 30-minute SLA, over every process that
/// reported within the last 10 s (`processes`: how many).
async fn sla(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let report = state
        .engine
        .cluster_sla()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(report).into_response())
}
