//! The I/O Events webhooks: `POST /events/aem` (the DAM's asset events) and `POST /events/commerce` (the
//! commerce platform's product events), verified, checked and stored durably before the 2xx.

use crate::extract::{body_too_large, read_body};
use crate::{ApiError, AppState, MAX_EVENT_BODY};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use connectors::ioevents::DeliverySignatures;
use domain::events::{EventKind, parse_io_event};
use serde_json::json;
use store::{NewEvent, ProductChange};

/// The outcome of an event whose `source` names another AEM program or environment than the configured one.
const OTHER_ENVIRONMENT: &str = "other_environment";

/// Where a delivery came in: the DAM's webhook or the commerce platform's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Aem,
    Commerce,
}

/// `POST /events/aem`: the DAM's asset events.
pub(crate) async fn receive_aem_event(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    receive_counted(state, request, Source::Aem).await
}

/// `POST /events/commerce`: the commerce platform's product events, verified like the DAM's.
pub(crate) async fn receive_commerce_event(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    receive_counted(state, request, Source::Commerce).await
}

/// Receives a delivery and counts it by source, kind and outcome (a refusal counts under its error code).
async fn receive_counted(
    state: AppState,
    request: Request,
    source: Source,
) -> Result<Response, ApiError> {
    let engine = state.engine.clone();
    let label = match source {
        Source::Aem => "webhook",
        Source::Commerce => "commerce",
    };
    match receive_event(state, request, source).await {
        Ok((response, kind, outcome)) => {
            engine
                .event_counters()
                .count((label, kind.as_str(), outcome));
            Ok(response)
        }
        Err(error) => {
            engine
                .event_counters()
                .count((label, "unknown", error.code));
            Err(error)
        }
    }
}

/// One I/O Events delivery: size, signature, shape, recipient; then stored durably before the 2xx. An event
/// of a type the endpoint does not act on is acknowledged and counted.
async fn receive_event(
    state: AppState,
    request: Request,
    source: Source,
) -> Result<(Response, EventKind, &'static str), ApiError> {
    let started = std::time::Instant::now();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_EVENT_BODY) {
        return Err(body_too_large(MAX_EVENT_BODY));
    }
    let (parts, body) = request.into_parts();
    let body = read_body(body, MAX_EVENT_BODY).await?;
    verify_signature(&state, &parts.headers, &body).await?;
    let event = parse_io_event(&body)
        .map_err(|e| ApiError::bad_request("malformed_event", e.to_string()))?;
    if event.recipient_client_id.as_deref() != Some(state.recipient_client_id.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_recipient",
            "the event's recipient_client_id is not this integration's client id",
        ));
    }
    // One registration may carry the events of several AEM environments: another's are acknowledged (so that
    // I/O Events does not retry them), counted and left alone.
    let config = state.engine.config();
    if source == Source::Aem
        && event.is_from_other_environment(&config.program_id, &config.environment_id)
    {
        tracing::debug!(event_id = %event.id, "event of another AEM environment ignored");
        return Ok((
            Json(json!({ "status": OTHER_ENVIRONMENT, "event_id": event.id })).into_response(),
            event.kind,
            OTHER_ENVIRONMENT,
        ));
    }
    let kind = match (source, event.kind) {
        (Source::Aem, EventKind::AssetChanged | EventKind::AssetDeleted) => event.kind,
        (Source::Commerce, EventKind::ProductSaved | EventKind::ProductDeleted) => event.kind,
        _ => EventKind::Unused,
    };
    let new_event = NewEvent {
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        kind,
        asset_id: event.asset_id.clone(),
        received_ms: state.engine.now_ms(),
        occurred_ms: event.time_ms,
    };
    let product_change = match (kind, &event.sku) {
        (EventKind::ProductSaved, Some(sku)) => Some(ProductChange::Saved(sku.clone())),
        (EventKind::ProductDeleted, Some(sku)) => Some(ProductChange::Deleted(sku.clone())),
        _ => None,
    };
    let recorded = match product_change {
        // The product's change is committed with the event's deduplication record: a failure answered 503
        // and the redelivery cannot lose it.
        Some(change) => {
            // The event's payload, for a custom matcher's product-to-asset call.
            let event_data = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|event| event.get("data").cloned())
                .unwrap_or_default();
            state
                .engine
                .ingest_product_event(new_event, change, &event_data)
                .await
        }
        None => state.engine.ingest(new_event).await,
    }
    .map_err(|e| ApiError::internal(&e))?;
    let ack_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    state.engine.sla().record_ack(state.engine.now_ms(), ack_ms);
    let status = engine::telemetry::recorded_outcome(recorded, kind);
    Ok((
        Json(json!({ "status": status, "event_id": event.id })).into_response(),
        kind,
        status,
    ))
}

async fn verify_signature(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let delivery = DeliverySignatures {
        signatures: [
            header("x-adobe-digital-signature-1"),
            header("x-adobe-digital-signature-2"),
        ],
        key_paths: [
            header("x-adobe-public-key1-path"),
            header("x-adobe-public-key2-path"),
        ],
    };
    if delivery.signatures.iter().all(Option::is_none) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_signature",
            "the delivery carries no x-adobe-digital-signature header",
        ));
    }
    if !state.verifier.verify(body, &delivery).await {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "no signature verifies against a pinned public key or the key its path names on the key host",
        ));
    }
    Ok(())
}
