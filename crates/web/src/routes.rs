//! Routes and handlers.

use crate::{ApiError, AppState, MAX_EVENT_BODY};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use connectors::ioevents::DeliverySignatures;
use connectors::sink::SinkState;
use domain::events::{EventKind, parse_io_event};
use domain::time::format_rfc3339_ms;
use domain::urls::Rendition;
use domain::{AssetId, Sku};
use engine::EngineError;
use serde::Deserialize;
use serde_json::json;
use store::{NewEvent, ProductChange};

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/events/aem",
            get(challenge)
                .post(receive_aem_event)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/events/commerce",
            get(challenge)
                .post(receive_commerce_event)
                .layer(DefaultBodyLimit::disable()),
        )
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

/// Where a delivery came in: the DAM's webhook or the commerce platform's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Aem,
    Commerce,
}

/// `POST /events/aem`: the DAM's asset events.
async fn receive_aem_event(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    receive_counted(state, request, Source::Aem).await
}

/// `POST /events/commerce`: the commerce platform's product events, verified like the DAM's.
async fn receive_commerce_event(
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
        received_ms: engine::now_ms(),
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
    state.engine.sla().record_ack(engine::now_ms(), ack_ms);
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

pub(crate) fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
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

/// `GET /api/v1/products/{sku}/media`: the public read API, served from memory. Rendition parameters
/// (`width`, `height`, `quality`, `format`, ...) shape every entry's `rendition_url`.
async fn product_media(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let sku = Sku::parse(&raw).map_err(|e| ApiError::bad_request("invalid_sku", e.to_string()))?;
    let unknown = || ApiError::not_found("product_not_found", format!("no product {sku} is known"));
    let bytes = state.engine.cache().get(&sku).ok_or_else(unknown)?;
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok((
            [(header::CONTENT_TYPE, "application/json")],
            Body::from(bytes),
        )
            .into_response());
    };
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect();
    let rendition = Rendition::from_query(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .map_err(|message| ApiError::bad_request("invalid_rendition", message))?;
    let shaped = state
        .engine
        .cache()
        .get_with_rendition(&sku, &rendition)
        .ok_or_else(unknown)?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(shaped),
    )
        .into_response())
}

/// Decodes `%XX` escapes and `+` (a space) of a query component.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| raw.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (other, None) => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    headers: HeaderMap,
    Query(scope): Query<ScopeQuery>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    require_global_scope(&scope)?;
    Ok(Json(state.engine.config().as_fields()).into_response())
}

/// `PUT /api/v1/config`: fields left out keep their value, `null` returns a field to its default.
async fn put_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(scope): Query<ScopeQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
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
async fn config_history(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
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
async fn start_full_sync(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
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
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let sync = state
        .engine
        .full_sync(id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found("sync_not_found", format!("no full sync {id}")))?;
    let now = engine::now_ms();
    let eta_seconds = match (sync.state.as_str(), sync.started_ms) {
        ("running", Some(started)) if sync.done > 0 && sync.total > sync.done => {
            let per_item = (now - started) as f64 / sync.done as f64;
            Some(((sync.total - sync.done) as f64 * per_item / 1000.0).ceil() as i64)
        }
        ("running", _) => None,
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
async fn dead_letters(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
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
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
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
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let replayed = state
        .engine
        .replay_dead_letters(None)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(json!({ "replayed": replayed })).into_response())
}

/// The sink's and the DAM's states for the health reports: `{"state": "ready"|"paused", "reason"}`.
struct Pauses {
    sink: serde_json::Value,
    dam: serde_json::Value,
    any: bool,
}

impl Pauses {
    fn now(state: &AppState) -> Self {
        let sink_reason = match state.engine.sink_state() {
            SinkState::Ready => None,
            SinkState::Paused(reason) => Some(reason),
        };
        let dam_reason = state.engine.dam_paused();
        let state_of = |reason: &Option<String>| if reason.is_some() { "paused" } else { "ready" };
        Self {
            any: sink_reason.is_some() || dam_reason.is_some(),
            sink: json!({ "kind": state.engine.sink_kind(), "state": state_of(&sink_reason), "reason": sink_reason }),
            dam: json!({ "state": state_of(&dam_reason), "reason": dam_reason }),
        }
    }
}

/// `GET /api/v1/health/sync`: queue depths, oldest pending ages, dead letters, and a paused sink or DAM with why.
async fn sync_health(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let backlog = state
        .engine
        .backlog()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let now = engine::now_ms();
    let age = |since: Option<i64>| since.map(|t| (now - t).max(0));
    let pauses = Pauses::now(&state);
    Ok(Json(json!({
        "sync_enabled": state.engine.config().sync_enabled,
        "sink": pauses.sink,
        "dam": pauses.dam,
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
    headers: HeaderMap,
    Query(query): Query<VerifyQuery>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
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
/// and since start, with the shares within the reference's 5- and 30-minute SLA.
async fn sla(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    Ok(Json(state.engine.sla().report(engine::now_ms())).into_response())
}

/// `GET /healthz`: 200 once events are accepted, with the backlog; `degraded` while the sink or DAM reads are
/// paused (credentials refused; events are still accepted and kept).
async fn health(State(state): State<AppState>) -> Result<Response, ApiError> {
    let backlog = state
        .engine
        .backlog()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let pauses = Pauses::now(&state);
    Ok(Json(json!({
        "status": if pauses.any { "degraded" } else { "ok" },
        "sink": pauses.sink,
        "dam": pauses.dam,
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
