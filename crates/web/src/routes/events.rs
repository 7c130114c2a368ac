//! The I/O Events webhooks: `POST /events/aem` (the DAM's asset events) and `POST /events/commerce` (the
//! commerce platform's product events), verified, checked and stored durably before the 2xx; and the
//! registration handshake (`GET` with `?challenge=`) on both.

use crate::extract::{body_too_large, read_body};
use crate::{ApiError, AppState, MAX_EVENT_BODY};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use connectors::ioevents::DeliverySignatures;
use domain::events::parse_io_event;
use engine::edge::{DeliveryOutcome, EventSource};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(challenge_aem, receive_aem_event))
        .routes(routes!(challenge_commerce, receive_commerce_event))
        // The webhooks read their bodies under their own limit (`MAX_EVENT_BODY`).
        .layer(DefaultBodyLimit::disable())
}

/// The registration handshake's query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChallengeQuery {
    /// The UUID I/O Events sends to check the endpoint; echoed as plain text (400 `missing_challenge`
    /// without it, `invalid_challenge` when it is not a UUID).
    #[param(value_type = String, required = true, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    challenge: Option<String>,
}

/// A delivery acknowledged.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct EventAccepted {
    /// `stored`, `duplicate` (this event id was seen before), `ignored` (a type this webhook does not act
    /// on) or `other_environment` (another AEM program or environment's event).
    status: String,
    event_id: String,
}

/// The signature headers of a delivery (Adobe I/O Events signs each delivery with two keys).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // read from the raw headers; declared for the document
struct SignatureHeaders {
    /// Base64 RSA-SHA256 signature of the body with the first key (at least one signature is required).
    #[param(rename = "x-adobe-digital-signature-1", required = false)]
    signature_1: String,
    /// Base64 RSA-SHA256 signature of the body with the second key.
    #[param(rename = "x-adobe-digital-signature-2", required = false)]
    signature_2: String,
    /// Path of the first public key on Adobe's key host.
    #[param(rename = "x-adobe-public-key1-path", required = false)]
    key_1_path: String,
    /// Path of the second public key on Adobe's key host.
    #[param(rename = "x-adobe-public-key2-path", required = false)]
    key_2_path: String,
}

/// `GET /events/aem?challenge=<uuid>`: the I/O Events registration handshake.
///
/// Echoes `challenge`. I/O Events sends a UUID (`8ec8d794-e0ab-42df-9017-e3dada8e84f7` in Adobe's
/// "Introduction to Adobe I/O Events Webhooks"); nothing else is echoed, so the endpoint cannot be used to
/// reflect content. Plain text, never sniffed.
#[utoipa::path(get, path = "/events/aem", tag = "events", params(ChallengeQuery),
    responses(
        (status = 200, description = "The challenge, echoed", body = String, content_type = "text/plain"),
        (status = 400, description = "`missing_challenge`, `invalid_challenge` (not a UUID)", body = crate::error::Body),
    ))]
async fn challenge_aem(query: Query<ChallengeQuery>) -> Result<Response, ApiError> {
    challenge(query)
}

/// `GET /events/commerce?challenge=<uuid>`: the I/O Events registration handshake.
///
/// Echoes `challenge` (a UUID only), as `GET /events/aem` does.
#[utoipa::path(get, path = "/events/commerce", tag = "events", params(ChallengeQuery),
    responses(
        (status = 200, description = "The challenge, echoed", body = String, content_type = "text/plain"),
        (status = 400, description = "`missing_challenge`, `invalid_challenge` (not a UUID)", body = crate::error::Body),
    ))]
async fn challenge_commerce(query: Query<ChallengeQuery>) -> Result<Response, ApiError> {
    challenge(query)
}

fn challenge(Query(query): Query<ChallengeQuery>) -> Result<Response, ApiError> {
    let challenge = query.challenge.ok_or_else(|| {
        ApiError::bad_request(
            "missing_challenge",
            "GET /events/aem expects ?challenge=<value>",
        )
    })?;
    if !is_uuid(&challenge) {
        return Err(ApiError::bad_request(
            "invalid_challenge",
            "the challenge must be a UUID, as I/O Events sends it",
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        challenge,
    )
        .into_response())
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `POST /events/aem`: the DAM's asset events.
///
/// A signed Adobe I/O Events delivery (a CloudEvent). Verified (signature, shape, recipient) and stored
/// durably before the 2xx.
#[utoipa::path(post, path = "/events/aem", tag = "events", params(SignatureHeaders),
    request_body(content = Object, description = "An I/O Events delivery (CloudEvent JSON)", content_type = "application/json"),
    responses(
        (status = 200, description = "Accepted (stored, duplicate, ignored or another environment's)", body = EventAccepted),
        (status = 400, description = "`malformed_event` (not an I/O Events delivery), `unreadable_body`", body = crate::error::Body),
        (status = 401, description = "`missing_signature`, `invalid_signature`", body = crate::error::Body),
        (status = 403, description = "`wrong_recipient`: addressed to another client id", body = crate::error::Body),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = crate::error::Body),
        (status = 413, description = "`body_too_large`: larger than 2 MiB", body = crate::error::Body),
        (status = 503, description = "`unavailable`: not stored; I/O Events retries", body = crate::error::Body),
    ))]
async fn receive_aem_event(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    receive_counted(state, request, EventSource::Aem).await
}

/// `POST /events/commerce`: the commerce platform's product events, verified like the DAM's.
#[utoipa::path(post, path = "/events/commerce", tag = "events", params(SignatureHeaders),
    request_body(content = Object, description = "An I/O Events delivery (CloudEvent JSON)", content_type = "application/json"),
    responses(
        (status = 200, description = "Accepted (stored, duplicate or ignored)", body = EventAccepted),
        (status = 400, description = "`malformed_event` (not an I/O Events delivery, or a product event without a valid SKU), `unreadable_body`", body = crate::error::Body),
        (status = 401, description = "`missing_signature`, `invalid_signature`", body = crate::error::Body),
        (status = 403, description = "`wrong_recipient`: addressed to another client id", body = crate::error::Body),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = crate::error::Body),
        (status = 413, description = "`body_too_large`: larger than 2 MiB", body = crate::error::Body),
        (status = 503, description = "`unavailable`: not stored; I/O Events retries", body = crate::error::Body),
    ))]
async fn receive_commerce_event(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    receive_counted(state, request, EventSource::Commerce).await
}

/// Receives a delivery and counts it by source, kind and outcome (a refusal counts under its error code).
async fn receive_counted(
    state: AppState,
    request: Request,
    source: EventSource,
) -> Result<Response, ApiError> {
    let engine = state.engine.clone();
    let label = match source {
        EventSource::Aem => "webhook",
        EventSource::Commerce => "commerce",
    };
    match receive_event(state, request, source).await {
        Ok((event_id, outcome)) => {
            engine
                .event_counters()
                .count((label, outcome.kind.as_str(), outcome.outcome));
            Ok(Json(EventAccepted {
                status: outcome.outcome.to_owned(),
                event_id,
            })
            .into_response())
        }
        Err(error) => {
            engine
                .event_counters()
                .count((label, "unknown", error.code));
            Err(error)
        }
    }
}

/// One I/O Events delivery: size, signature, shape, recipient; then recorded by the engine (stored durably
/// before the 2xx). Answers the event's id and what recording it did.
async fn receive_event(
    state: AppState,
    request: Request,
    source: EventSource,
) -> Result<(String, DeliveryOutcome), ApiError> {
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
    // Whatever failed, the delivery is answered 503 so that I/O Events delivers it again.
    let outcome = state
        .engine
        .record_delivery(&event, source, &body, started)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok((event.id, outcome))
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
