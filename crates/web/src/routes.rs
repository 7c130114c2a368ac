//! Routes and handlers.

use crate::{ApiError, AppState, MAX_EVENT_BODY};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use connectors::sink::SinkState;
use domain::events::{EventKind, parse_io_event};
use domain::time::format_rfc3339_ms;
use domain::{AssetId, Sku};
use serde::Deserialize;
use serde_json::json;
use store::{NewEvent, Recorded};

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/events/aem",
            get(challenge)
                .post(receive_event)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/assets/{asset_id}", get(asset_status))
        .route("/api/v1/products/{sku}", put(put_product))
        .route("/api/v1/products/{sku}/media", get(product_media))
        .route("/healthz", get(health))
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .with_state(state)
}

#[derive(Deserialize)]
struct ChallengeQuery {
    challenge: Option<String>,
}

/// The I/O Events registration handshake: echo `challenge`.
async fn challenge(Query(query): Query<ChallengeQuery>) -> Result<Response, ApiError> {
    let challenge = query.challenge.ok_or_else(|| {
        ApiError::bad_request(
            "missing_challenge",
            "GET /events/aem expects ?challenge=<value>",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], challenge).into_response())
}

/// One I/O Events delivery: size, signature, shape, recipient; then stored durably before the 2xx.
async fn receive_event(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("deliveries larger than {MAX_EVENT_BODY} bytes are refused"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_EVENT_BODY) {
        return Err(too_large());
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_EVENT_BODY)
        .await
        .map_err(|_| too_large())?;
    verify_signature(&state, &parts.headers, &body)?;
    let event = parse_io_event(&body)
        .map_err(|e| ApiError::bad_request("malformed_event", e.to_string()))?;
    if event.recipient_client_id.as_deref() != Some(state.recipient_client_id.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_recipient",
            "the event's recipient_client_id is not this integration's client id",
        ));
    }
    let recorded = state
        .engine
        .ingest(NewEvent {
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            kind: event.kind,
            asset_id: event.asset_id.clone(),
            received_ms: engine::now_ms(),
        })
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let status = match (recorded, event.kind) {
        (Recorded::Duplicate, _) => "duplicate",
        (Recorded::Stored, EventKind::Unused) => "ignored",
        (Recorded::Stored, _) => "stored",
    };
    Ok(Json(json!({ "status": status, "event_id": event.id })).into_response())
}

fn verify_signature(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<(), ApiError> {
    let signatures: Vec<&str> = ["x-adobe-digital-signature-1", "x-adobe-digital-signature-2"]
        .iter()
        .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
        .collect();
    if signatures.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_signature",
            "the delivery carries no x-adobe-digital-signature header",
        ));
    }
    if !state.verifier.verify(body, &signatures) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "no signature verifies against a configured public key",
        ));
    }
    Ok(())
}

fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(presented.as_bytes(), state.admin_token.as_bytes())
        && !state.admin_token.is_empty()
    {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /api/v1/assets/{assetId}`: the asset's sync status (reference §9.2).
async fn asset_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
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
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let sku = Sku::parse(&raw).map_err(|e| ApiError::bad_request("invalid_sku", e.to_string()))?;
    let created = state
        .engine
        .add_product(&sku)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "sku": sku, "created": created }))).into_response())
}

/// `GET /api/v1/products/{sku}/media`: the public read API, served from memory.
async fn product_media(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let sku = Sku::parse(&raw).map_err(|e| ApiError::bad_request("invalid_sku", e.to_string()))?;
    let bytes = state.engine.cache().get(&sku).ok_or_else(|| {
        ApiError::not_found("product_not_found", format!("no product {sku} is known"))
    })?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(bytes),
    )
        .into_response())
}

/// `GET /healthz`: 200 once events are accepted, with the backlog; `degraded` while the sink is paused (events
/// are still accepted and kept).
async fn health(State(state): State<AppState>) -> Result<Response, ApiError> {
    let backlog = state
        .engine
        .backlog()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let (status, sink_state, reason) = match state.engine.sink_state() {
        SinkState::Ready => ("ok", "ready", None),
        SinkState::Paused(reason) => ("degraded", "paused", Some(reason)),
    };
    Ok(Json(json!({
        "status": status,
        "sink": { "kind": state.engine.sink_kind(), "state": sink_state, "reason": reason },
        "backlog": {
            "asset_work": backlog.asset_work,
            "sku_work": backlog.sku_work,
            "waiting_assets": backlog.waiting_assets,
            "failed_assets": backlog.failed_assets,
        },
        "events": { "stored": backlog.events, "unused_types": backlog.unused_events },
    }))
    .into_response())
}
